"""Every flag of every example means the same with ``--explore``: the explorer's runs are built
from the flags exactly like a run without it (``vq_curriculum --explore`` once ignored
``--relaxation``, ``--learn``, ``--gradient`` and ``--refresh-every``).

No web page and no training: the example's ``main`` runs up to the trainer it built, in each
mode, and the two trainers are compared by what they are made of (model, optimizer, schedule,
handlers, data, criteria). Each flag must also change that, so a flag the fingerprint cannot
see fails here instead of passing unseen.
"""

from __future__ import annotations

import argparse
import inspect
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from examples import categorical_vq, color_curriculum, vq_curriculum
from mini.training import Trainer

SCHEDULES = Path(__file__).resolve().parent.parent / "schedules"

# Flags that shape the run, with a value other than their default. Every flag of an example
# is here or in NOT_THE_TRAINER (test_every_flag_is_accounted_for).
COMMON = {
    "--seed": ["3"],
    "--steps": ["40"],
    "--checkpoint-every": ["7"],
    "--watch": [],
}
CHANGES: dict[str, dict[str, list[str]]] = {
    "color_curriculum": {
        **COMMON,
        "--schedule": [str(SCHEDULES / "color-curriculum-gated.csv")],
    },
    "vq_curriculum": {
        **COMMON,
        "--schedule": [str(SCHEDULES / "vq-curriculum-gated.csv")],
        "--levels": ["3"],
        "--codes": ["8"],
        "--latent-dim": ["4"],
        "--batch-size": ["64"],
        "--health-every": ["9"],
        "--no-refresh": [],
        "--refresh-every": ["5"],
        "--relaxation": ["gumbel"],
        "--learn": ["loss"],
        "--gradient": ["rotation"],
        "--targets": [],
        "--test-split": [],
    },
    "categorical_vq": {
        **COMMON,
        "--schedule": ["{tmp}/categorical-edited.csv"],  # written by build()
        "--steps": ["60"],
        "--mode": ["static"],
        "--data": ["wine"],
        "--features": ["f00,f01,f02,f03,f04,f05,f06,f07,f08,f09,f10,f11"],
        "--exclude": ["f05"],
        "--max-categories": ["2"],
        "--latent-dim": ["2"],
        "--levels": ["2"],
        "--codes": ["8"],
        "--batch-size": ["64"],
        "--eval-every": ["9"],
        "--weight-decay": ["0.5"],
        "--frames": ["7"],
    },
}
# Flags that do not shape the trainer, and why they still work in both modes.
SEARCH = "search mode: each trial runs the example without it, with the other flags"
NOT_THE_TRAINER = {
    "--help": "prints the flags",
    "--explore": "the mode itself",
    "--host": "where the --explore page listens",
    "--port": "where the --explore page listens",
    "--out": "the run folder; --explore runs go to its run-<k>/",
    "--overwrite": "setup(), before the mode is chosen",
    "--threads": "setup(), before the mode is chosen",
    "--onednn": "setup(), before the mode is chosen",
    "--resume": "refused with --explore (test_explore_refuses_resume)",
    "--no-video": "the video of a run; the explorer renders none",
    "--frames": "the video of a run; the explorer renders none",
    **dict.fromkeys(
        ["--search", "--trials", "--objective", "--backend", "--workers", "--sampler",
         "--search-seed", "--prune", "--prune-every"], SEARCH,
    ),
}  # fmt: skip
EXAMPLES: dict[str, ModuleType] = {
    "color_curriculum": color_curriculum,
    "vq_curriculum": vq_curriculum,
    "categorical_vq": categorical_vq,
}


class Built(Exception):
    """Raised with the trainer an example built, instead of training it."""

    def __init__(self, trainer: Trainer):
        super().__init__("built")
        self.trainer = trainer


def build(
    name: str, flags: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, explore: bool
) -> Trainer:
    """The trainer ``main`` builds from ``flags``: with ``--explore``, the first run's."""
    example = EXAMPLES[name]

    def fit(trainer: Trainer, resume: Path | None) -> None:
        raise Built(trainer)

    def serve(run: Any, make_trainer: Any, panels: Any, **kwargs: Any) -> None:
        assert kwargs["host"] == "127.0.0.1"
        raise Built(make_trainer(run.out / "run-1"))

    monkeypatch.setattr(example, "fit", fit)
    monkeypatch.setattr(example, "serve", serve)
    edited = (SCHEDULES / "categorical-vq.csv").read_text().replace("1000,,,2e-4", "900,,,1e-4")
    (tmp_path / "categorical-edited.csv").write_text(edited)
    flags = [f.format(tmp=tmp_path) for f in flags]
    mode = "explore" if explore else "run"
    out = tmp_path / f"{mode}-{len(list(tmp_path.iterdir()))}"
    argv = [*flags, "--no-video", "--out", str(out), *(["--explore"] if explore else [])]
    with torch.random.fork_rng(devices=[]), pytest.raises(Built) as built:
        example.main(argv)
    return built.value.trainer


# -- what a trainer is made of -----------------------------------------------------------------
SCALARS = (bool, int, float, str, type(None))


def describe(obj: Any, depth: int = 2) -> Any:
    """A comparable summary of ``obj``: scalars as they are, tensors by shape and sum, paths by
    name (the two modes write to different folders), objects by their public attributes."""
    if isinstance(obj, SCALARS):
        return obj
    if isinstance(obj, Path):
        return obj.name
    if isinstance(obj, torch.Tensor):
        return (tuple(obj.shape), str(obj.dtype), round(float(obj.double().sum()), 6))
    if isinstance(obj, list | tuple):
        return [describe(x, depth - 1) for x in obj[:20]] if depth > 0 else len(obj)
    if isinstance(obj, dict):
        return {str(k): describe(v, depth - 1) for k, v in obj.items()} if depth > 0 else len(obj)
    if callable(obj) and not hasattr(obj, "__dict__"):
        return getattr(obj, "__qualname__", type(obj).__name__)
    if depth > 0 and hasattr(obj, "__dict__") and not isinstance(obj, torch.nn.Module | Trainer):
        attrs = {k: describe(v, depth - 1) for k, v in vars(obj).items() if not k.startswith("_")}
        return {"type": type(obj).__name__, **attrs}
    return type(obj).__name__


def owner(handler: Any) -> Any:
    """The object behind a handler: a bound method's object, a callable object itself, or
    ``None`` for a plain function."""
    if inspect.isfunction(handler):
        return None
    return getattr(handler, "__self__", handler)


def fingerprint(trainer: Trainer) -> dict[str, Any]:
    model = trainer.model
    subscribed = [(s, owner(s.handler)) for s in trainer.bus.subscriptions()]
    skip = ("TrainingProgress",)  # the explorer's runs show no progress bar
    return {
        "timeline": (type(trainer.timeline).__name__, describe(trainer.timeline.dopesheet.to_dict(), 6)),
        "weights": {k: describe(v) for k, v in model.state_dict().items()},
        "modules": {
            name: {k: v for k, v in vars(m).items() if not k.startswith("_") and isinstance(v, SCALARS)}
            for name, m in model.named_modules()
        },
        "optimizer": [
            {**{k: describe(v) for k, v in g.items() if k != "params"}, "params": len(g["params"])}
            for g in trainer.optimizer.param_groups
        ],
        "trainer": {
            k: v for k, v in vars(trainer).items()
            if not k.startswith("_") and isinstance(v, SCALARS)
            and k not in ("current_step", "run", "progress")  # run: claimed later, the bar
        },
        "handlers": sorted(  # objects subscribed to events (plain functions: outputs)
            repr((s.event, s.every, describe(o))) for s, o in subscribed
            if o is not None and o is not trainer and type(o).__name__ not in skip
        ),
        "stateful": sorted(k for k in trainer.engine.stateful if "Progress" not in k),
        "bindings": sorted(trainer.engine.bindings),
        "criteria": {k: describe(v, 1) for k, v in trainer.criteria.items()},
        "data": {str(k): describe(v, 3) for k, v in trainer.data.items()},
    }  # fmt: skip


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two fingerprints differ, key by key."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            d
            for k in sorted(set(a) | set(b), key=str)
            for d in differences(a.get(k, "<none>"), b.get(k, "<none>"), f"{path}.{k}")
        ]
    return [] if a == b else [f"{path.lstrip('.')}: {a!r:.200} != {b!r:.200}"]


# -- the tests ---------------------------------------------------------------------------------
def options(name: str, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Every ``--flag`` of the example's parser."""
    parsers: list[argparse.ArgumentParser] = []
    parse = argparse.ArgumentParser.parse_args

    def spy(self: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> Any:
        parsers.append(self)
        return parse(self, *args, **kwargs)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", spy)
    EXAMPLES[name].arguments([])
    return {s for a in parsers[0]._actions for s in a.option_strings if s.startswith("--")}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_flag_is_accounted_for(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new flag must be added to CHANGES (and so be checked below) or say why not."""
    flags = options(name, monkeypatch)
    unknown = flags - set(CHANGES[name]) - set(NOT_THE_TRAINER)
    assert not unknown, f"{name}: add {sorted(unknown)} to CHANGES or NOT_THE_TRAINER"
    assert set(CHANGES[name]) <= flags, sorted(set(CHANGES[name]) - flags)


DEFAULTS: dict[str, dict[str, Any]] = {}  # each example's fingerprint without flags
FLAGS = [(name, flag) for name in sorted(CHANGES) for flag in CHANGES[name]]


@pytest.mark.parametrize(("name", "flag"), FLAGS, ids=[f"{n}{f}" for n, f in FLAGS])
def test_each_flag_changes_the_run(
    name: str, flag: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So that the comparison below sees every flag (one it cannot see would pass unseen)."""
    if name not in DEFAULTS:
        DEFAULTS[name] = fingerprint(build(name, [], tmp_path, monkeypatch, explore=False))
    run = fingerprint(build(name, [flag, *CHANGES[name][flag]], tmp_path, monkeypatch, False))
    assert differences(run, DEFAULTS[name]), f"{flag} changes nothing the fingerprint sees"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_flag_builds_the_same_run_with_and_without_explore(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All of an example's flags at once, through ``--explore`` and without it."""
    flags = [x for flag, values in CHANGES[name].items() for x in (flag, *values)]
    if name == "categorical_vq":  # wine's columns, not the synthetic table's
        flags = [*flags, "--features", "alcohol,ash,hue,proline,magnesium", "--exclude", "hue"]
    run = fingerprint(build(name, flags, tmp_path, monkeypatch, explore=False))
    explored = fingerprint(build(name, flags, tmp_path, monkeypatch, explore=True))
    assert not differences(run, explored), f"{name} --explore: " + "; ".join(
        differences(run, explored)
    )


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_explore_refuses_resume(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        EXAMPLES[name].main(["--explore", "--resume", str(tmp_path), "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    assert "drop --resume" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # refused before anything was written
