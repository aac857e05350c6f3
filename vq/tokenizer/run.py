"""The categorical tokenizer's training run, wired in one place so the example stays short.

:func:`build` loads and checks the table, splits and normalises it, discovers categories
(static mode) and builds the model; :meth:`CategoricalRun.trainer` wires it into a
:class:`~mini.training.Trainer`: criteria named like the dopesheet's columns, the assignment in
its own optimizer param group (``lr-assign``, ``grad-clip-assign``), ``assign-temperature``
and ``assign-noise`` bound to the model, ``harden``/``refresh`` actions, held-out metrics every
``eval_every`` steps (``metrics.jsonl`` extras, the progress bar, and ``val_score`` for the
best checkpoint) and the tokenizer's description (feature names, normalisation, shape) kept in
every checkpoint so that tokens can be produced from a checkpoint alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from mini.temporal import Dopesheet, Timeline
from mini.training import PhaseData, Trainer
from mini.training.events import Event
from mini.training.progress import TrainingProgress
from vq.tokenizer.discovery import Discovery, discover_categories
from vq.tokenizer.metrics import ASSIGN_CRITERIA, CRITERIA, validation_report
from vq.tokenizer.model import CategoricalConfig, CategoricalVQ
from vq.tokenizer.tabular import FeatureTable, SplitTable, check_table, split_table
from vq.train.data import Batches

log = logging.getLogger(__name__)

# What the progress bar shows besides lr and losses: (recorded extra, format).
PROGRESS_EXTRAS = (
    ("mode", "{}"),
    ("assign_temperature", "T {:.3g}"),
    ("assign_near_hard", "near-hard {:.2f}"),
    ("assign_overlap", "overlap {:.3f}"),
    ("assign_imbalance", "imbalance {:.3f}"),
    ("utilization", "util {:.2f}"),
    ("recon_quality", "quality {:.3f}"),
)

Mode = Literal["static", "learnable"]
ASSIGN_PROPS = (
    "assign-temperature", "assign-noise", "lr-assign", "grad-clip-assign", *ASSIGN_CRITERIA,
)  # fmt: skip


class TokenizerSpec:
    """What turns a checkpoint back into a tokenizer without the training data: feature
    names, normalisation statistics, the model's shape and how the run was made. Tracked by
    the trainer, so every checkpoint (``best.pt`` included) holds it."""

    def __init__(
        self, features: list[str], mean: np.ndarray, std: np.ndarray, config: CategoricalConfig,
        mode: str, data: str, seed: int,
    ):  # fmt: skip
        self.features, self.config, self.mode, self.data, self.seed = (
            list(features), config, mode, data, seed,
        )  # fmt: skip
        self.mean = torch.as_tensor(mean, dtype=torch.float64)
        self.std = torch.as_tensor(std, dtype=torch.float64)

    def state_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features), "mean": self.mean, "std": self.std,
            "config": self.config.as_dict(), "mode": self.mode, "data": self.data,
            "seed": self.seed,
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.features = [str(f) for f in state["features"]]
        self.mean, self.std = state["mean"], state["std"]
        self.config = CategoricalConfig(**state["config"])
        self.mode, self.data, self.seed = str(state["mode"]), str(state["data"]), int(state["seed"])

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TokenizerSpec:
        spec = cls.__new__(cls)
        spec.load_state_dict(state)
        return spec


@dataclass
class Evaluator:
    """Held-out metrics every ``every`` steps: recorded into ``metrics.jsonl`` extras (and so
    shown by the progress bar), kept in ``history`` for the plots and the video.

    ``val_score`` — the composite the best checkpoint is chosen by — is
    ``(recon_quality + topographic_correlation) / 2 − validation loss`` (reconstruction MSE
    plus commitment, unweighted), recorded only once the assignment is hard: a state with a
    soft assignment is not yet the tokenizer that will be exported."""

    model: CategoricalVQ
    x_val: torch.Tensor
    groups: np.ndarray | None
    mode: str
    every: int = 100
    seed: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)

    def attach(self, trainer: Trainer) -> None:
        trainer.on("step-metrics", self._maybe_evaluate)

    def _maybe_evaluate(self, event: Event) -> None:
        if event.step % self.every == 0 or event.step + 1 == len(event.trainer.timeline):
            self.evaluate(event)

    def report(self) -> dict[str, Any]:
        return validation_report(self.model, self.x_val, self.groups, seed=self.seed)

    def evaluate(self, event: Event) -> None:
        r = self.report()
        loss = r["val_loss"]
        a = self.model.assignment
        values = {
            "mode": self.mode,
            "assign_temperature": a.temperature,
            "assign_near_hard": r["near_hard_fraction"],
            "assign_overlap": r["assign_overlap"],
            "assign_imbalance": r["assign_imbalance"],
            "categories": r["k"],
            "recon_quality": r["recon_quality"],
            "utilization": r["utilization"],
            "utilization_levels": r["utilization_levels"],
            "orthogonality": r["orthogonality"],
            "topographic_correlation": r["topographic_correlation"],
            "val_loss": loss,
        }
        if r["ari"] is not None:
            values["ari"] = r["ari"]
        if a.hard:
            values["val_score"] = (r["recon_quality"] + r["topographic_correlation"]) / 2 - loss
        event.trainer.record(**values)
        self.history.append({"step": event.step, **values})

    def state_dict(self) -> dict[str, Any]:
        return {"history": [dict(h) for h in self.history]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = [dict(h) for h in state["history"]]


class AssignmentFrames:
    """The soft assignment matrix every ``every`` steps (for the video), kept in checkpoints."""

    def __init__(self, model: CategoricalVQ, every: int):
        self.model, self.every = model, every
        self.steps: list[int] = []
        self.frames: list[torch.Tensor] = []

    def attach(self, trainer: Trainer) -> None:
        trainer.on("step-metrics", self.capture, every=self.every)

    def capture(self, event: Event) -> None:
        self.steps.append(event.step)
        self.frames.append(self.model.assignment.soft().detach().clone())

    def state_dict(self) -> dict[str, Any]:
        return {"steps": list(self.steps), "frames": list(self.frames)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps = [int(s) for s in state["steps"]]
        self.frames = list(state["frames"])


@dataclass(eq=False)
class CategoricalRun:
    """A built run: data, model, its tokenizer description and the handlers."""

    mode: Mode
    split: SplitTable
    model: CategoricalVQ
    spec: TokenizerSpec
    batches: Batches
    evaluator: Evaluator
    frames: AssignmentFrames
    discovery: Discovery | None = None
    weight_decay: float = 0.0

    @property
    def x_val(self) -> torch.Tensor:
        return self.evaluator.x_val

    def schedule(self, timeline: Timeline) -> Timeline:
        """Static mode has no assignment to drive: the ``assign-*`` columns are dropped."""
        if self.mode == "learnable":
            return timeline
        return Timeline(without_props(timeline.dopesheet, ASSIGN_PROPS))

    def trainer(self, timeline: Timeline, **kw: Any) -> Trainer:
        timeline = self.schedule(timeline)
        criteria = {
            k: fn
            for k, fn in CRITERIA.items()
            if self.mode == "learnable" or k not in ASSIGN_CRITERIA
        }
        val = self.x_val
        if kw.get("progress", True) is True:  # the bar also shows the tokenizer's figures
            kw["progress"] = TrainingProgress(max_terms=2, extras=PROGRESS_EXTRAS)
        trainer = Trainer(
            self.model, make_optimizer(self.model, self.weight_decay), timeline,
            PhaseData(self.batches, val), criteria,
            **{"keep_best": "val_score", "best_mode": "max", **kw},
        )  # fmt: skip
        model = self.model
        if self.mode == "learnable":
            trainer.bind(
                "assign-temperature", lambda v: setattr(model.assignment, "temperature", v)
            )
            trainer.bind("assign-noise", lambda v: setattr(model, "leak_noise", v))
        trainer.on(
            "action:harden", lambda e: setattr(model.assignment, "hard", True), optional=True
        )
        trainer.on("action:refresh", lambda e: refresh_codes(model), optional=True)
        trainer.track("tokenizer", self.spec)
        trainer.add(self.evaluator, key="evaluator")
        trainer.add(self.frames, key="assignment-frames")
        return trainer


def refresh_codes(model: CategoricalVQ) -> None:
    """Re-seed each category's dead codes from its recent latents."""
    for rvq in model.quantizers:
        rvq.refresh()


def make_optimizer(model: CategoricalVQ, weight_decay: float = 0.0) -> torch.optim.AdamW:
    """AdamW with the assignment logits in their own ``assign`` group (``lr-assign``,
    ``grad-clip-assign``, no weight decay); the trainer sets every group's lr each step."""
    assign = [p for n, p in model.named_parameters() if n.startswith("assignment.")]
    rest = [p for n, p in model.named_parameters() if not n.startswith("assignment.")]
    groups: list[dict[str, Any]] = [{"params": rest, "name": "model", "weight_decay": weight_decay}]
    if assign:
        groups.append({"params": assign, "name": "assign", "weight_decay": 0.0})
    return torch.optim.AdamW(groups, lr=1e-3)


def without_props(dopesheet: Dopesheet, names: tuple[str, ...]) -> Dopesheet:
    """The dopesheet without the property columns ``names`` (phases and actions stay)."""
    d = dopesheet.to_dict()
    drop = set(names)
    d["specs"] = {k: v for k, v in d["specs"].items() if k not in drop}
    for row in d["rows"]:
        row["values"] = {k: v for k, v in row["values"].items() if k not in drop}
    return Dopesheet.from_dict(d)


def build(
    table: FeatureTable,
    mode: Mode = "learnable",
    *,
    data: str = "synthetic",
    max_categories: int = 6,
    latent_dim: int = 3,
    levels: int = 3,
    codes: int = 16,
    hidden: int = 32,
    batch_size: int = 256,
    val_fraction: float = 0.2,
    eval_every: int = 100,
    frame_every: int = 20,
    weight_decay: float = 0.1,
    discover_init: bool = True,
    seed: int = 0,
) -> CategoricalRun:
    """Check and split ``table`` and build the run (raises :class:`~vq.tokenizer.tabular.TableError`
    for a table that cannot be tokenized, before anything trains). Static mode fixes the
    categories :func:`~vq.tokenizer.discovery.discover_categories` finds on the training rows; learnable
    mode starts its assignment there (``discover_init``; ``False``: near-uniform logits)."""
    if mode not in ("static", "learnable"):
        raise ValueError(f"mode must be 'static' or 'learnable', got {mode!r}")
    min_rows = max(2 * max_categories, int(np.ceil(max_categories / val_fraction)))
    check_table(table, min_rows)
    split = split_table(table, val_fraction, seed)
    discovery = discover_categories(split.train, max_categories, latent_dim=latent_dim)
    found = torch.as_tensor(discovery.labels)
    fixed = initial = None
    k = max_categories
    if mode == "static":
        k, fixed = discovery.k, found
    elif discover_init:  # learnable: start from the discovered categories, free to move
        k, initial = discovery.k, found
    config = CategoricalConfig(len(table.features), k, latent_dim, levels, codes, hidden)
    model = CategoricalVQ(config, fixed, initial=initial, seed=seed)
    x_train = torch.as_tensor(split.train)
    x_val = torch.as_tensor(split.val)
    spec = TokenizerSpec(
        table.features, split.normalizer.mean, split.normalizer.std, config, mode, data, seed
    )
    batches = Batches(x_train, torch.zeros(len(x_train)), min(batch_size, len(x_train)), seed)
    evaluator = Evaluator(model, x_val, table.groups, mode, eval_every, seed)
    return CategoricalRun(
        mode, split, model, spec, batches, evaluator, AssignmentFrames(model, frame_every),
        discovery, weight_decay,
    )  # fmt: skip


def category_names(n: int) -> list[str]:
    return [f"c{i}" for i in range(n)]


def final_summary(run: CategoricalRun) -> tuple[CategoricalVQ, dict[str, Any]]:
    """Prune the trained model (hard assignment, empty categories dropped) and measure it on
    the validation split: the figures of ``summary.json``."""
    model = run.model
    soft = run.evaluator.report()  # before hardening: how near-hard training left it
    model.assignment.hard = True
    pruned, kept = model.pruned()
    r = validation_report(pruned, run.x_val, run.split.table.groups, seed=run.evaluator.seed)
    cats = pruned.assignment.categories().tolist()
    names = category_names(pruned.n_categories)
    features = run.split.features
    summary = {
        "mode": run.mode,
        "k": r["k"],
        "ari": r["ari"],
        "near_hard_fraction": soft["near_hard_fraction"],
        "recon_quality": r["recon_quality"],
        "utilization": r["utilization"],
        "orthogonality": r["orthogonality"],
        "topographic_correlation": r["topographic_correlation"],
        "pruned_categories": [i for i in range(model.n_categories) if i not in kept],
        "categories": {
            n: [f for f, c in zip(features, cats, strict=True) if c == i]
            for i, n in enumerate(names)
        },
        "canonical_correlation": r["canonical_correlation"],
        "utilization_per_category": dict(zip(names, r["utilization_per_category"], strict=True)),
    }
    return pruned, summary
