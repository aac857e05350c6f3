"""``--search SHEET --trials N [--objective KEY:max|min ...] [--backend optuna|ray]
[--workers W]`` for any example whose ``main(argv)`` trains on ``--schedule`` and returns its
summary: each trial runs ``main`` with the trial's filled sheet as ``--schedule``.

An example adds two lines: ``add_search_arguments(parser)`` and, at the top of ``main``,
``if args.search: return run_search(main, argv, args, "recon_quality:max")``. Because a trial
is exactly ``main(... --schedule trial.csv ...)``, running the example again with
``--schedule <out>/search/best.csv`` and the same flags reproduces the best trial.

``--prune METRIC[:max|min]`` stops unpromising trials from a value the example's trainer
computes at its steps (a loss, or what a handler records): every ``Trainer`` that fits during
a trial reports it to the search every ``--prune-every`` steps (:func:`steps_reported`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from mini.search.api import BACKENDS, search
from mini.search.objectives import parse_objective
from mini.search.trial import Pruning, Reporter
from mini.temporal import Dopesheet, DopesheetError
from mini.temporal.cli import positive_int

SEARCH_FLAGS = {"--search": 1, "--trials": 1, "--objective": 1, "--backend": 1, "--workers": 1,
                "--sampler": 1, "--search-seed": 1, "--prune": 1, "--prune-every": 1}  # fmt: skip
"""The flags of a search (with how many values each takes), left out of each trial's argv."""

console = Console(stderr=True, soft_wrap=True)  # a message's file:line:column stays on one line
log = logging.getLogger(__name__)


def _objective(text: str) -> str:
    try:
        parse_objective(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def add_search_arguments(p: argparse.ArgumentParser) -> None:
    """The search flags (see ``docs/search.md``)."""
    g = p.add_argument_group("search (docs/search.md)")
    g.add_argument(
        "--search", type=Path, default=None, metavar="SHEET",
        help="search the ?lo..hi / ?{a b} cells of SHEET instead of training once; writes "
        "<out>/search/ (best.csv, trials.csv, summary.json, plots); run again to resume",
    )  # fmt: skip
    g.add_argument("--trials", type=positive_int, default=30, help="trials to finish (30)")
    g.add_argument(
        "--objective", type=_objective, action="append", default=None, metavar="KEY:max|min",
        help="a key of the run's summary.json and its direction; repeat for a Pareto front",
    )  # fmt: skip
    g.add_argument("--backend", choices=BACKENDS, default="optuna")
    g.add_argument("--workers", type=positive_int, default=1, help="trials at once (1)")
    g.add_argument("--sampler", choices=("tpe", "random"), default="tpe")
    g.add_argument(
        "--search-seed", type=int, default=None, metavar="S",
        help="the sampler's seed (default: --seed)",
    )  # fmt: skip
    g.add_argument(
        "--prune", type=_prune_metric, default=None, metavar="METRIC[:max|min]",
        help="stop unpromising trials from METRIC, a loss or recorded value of the training "
        "steps (as in metrics.jsonl); min unless it is an objective or :max is given",
    )  # fmt: skip
    g.add_argument(
        "--prune-every", type=positive_int, default=50, metavar="N",
        help="report the --prune metric every N steps (50)",
    )  # fmt: skip


def _prune_metric(text: str) -> str:
    key, sep, direction = text.rpartition(":")
    if sep and direction not in ("max", "min"):
        raise argparse.ArgumentTypeError(
            f"{text!r}: the direction must be max or min, not {direction!r} (e.g. total:min)"
        )
    if not (key if sep else text):
        raise argparse.ArgumentTypeError("name a metric, e.g. --prune total:min")
    return text


def pruning_of(text: str | None, objectives: list[str], every: int) -> Pruning | None:
    """``--prune``/``--prune-every`` as :class:`Pruning`: ``min`` (a loss) unless the flag says
    ``:max`` or the metric is an objective (then the objective's direction)."""
    if text is None:
        return None
    key, sep, direction = text.rpartition(":")
    if not sep:
        key, direction = text, ""
    if not direction:
        goals = {o.key: o.direction for o in map(parse_objective, objectives)}
        direction = goals.get(key, "min")
    return Pruning(key, every=every, direction=direction)


@contextmanager
def steps_reported(reporter: Reporter, metric: str, every: int) -> Iterator[None]:
    """While it is open, every trainer a script trains through
    :func:`mini.training.script.fit` reports ``metric`` (its step's loss, or a value a handler
    recorded that step) to ``reporter`` every ``every`` steps, so the search can prune the trial
    (:class:`~mini.search.trial.TrialPruned` ends the fit). The examples build their trainer
    inside ``main``, so the handlers go in through :func:`mini.training.script.preparing`."""
    from mini.training.script import preparing

    seen: set[str] = set()

    def forward(event: Any) -> None:
        found = {**(event.losses or {}), **(event.extras or {})}
        seen.update(found)
        if metric in found:
            reporter.report(event.step, {metric: float(found[metric])})

    def check(event: Any) -> None:
        if seen and metric not in seen:
            log.warning(
                "--prune %s: the training steps record no %s (they record: %s); nothing was "
                "pruned", metric, metric, ", ".join(sorted(seen)),
            )  # fmt: skip

    def prepare(trainer: Any) -> None:
        trainer.on("step-metrics", forward, every=every)
        trainer.on("train-end", check)

    with preparing(prepare):
        yield


def trial_argv(argv: list[str]) -> list[str]:
    """``argv`` without the search flags (both ``--flag value`` and ``--flag=value``)."""
    out, skip = [], 0
    for arg in argv:
        if skip:
            skip -= 1
            continue
        name = arg.split("=", 1)[0]
        if name in SEARCH_FLAGS:
            skip = 0 if "=" in arg else SEARCH_FLAGS[name]
            continue
        out.append(arg)
    return out


def _without_out(argv: list[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--out":
            skip = True
        elif not arg.startswith("--out="):
            out.append(arg)
    return out


@dataclass
class ExampleRun:
    """A run function that trains one trial as ``main(argv + --schedule trial-N.csv --out
    trial-N/)`` and returns its summary (picklable, for worker processes)."""

    main: Callable[[list[str]], Mapping[str, Any]]
    argv: list[str]
    folder: Path
    prune: Pruning | None = None

    def __call__(self, ds: Dopesheet, reporter: Reporter) -> dict[str, Any]:
        trial = self.folder / "trials" / f"trial-{reporter.number:04d}"
        schedule = trial.with_suffix(".csv")  # beside the run folder: it holds only the run
        schedule.parent.mkdir(parents=True, exist_ok=True)
        ds.to_csv(schedule)
        argv = [*self.argv, "--schedule", str(schedule), "--out", str(trial),
                "--no-video", "--overwrite"]  # fmt: skip
        try:
            if self.prune is None:
                summary = self.main(argv)
            else:
                with steps_reported(reporter, self.prune.metric, self.prune.every):
                    summary = self.main(argv)
        except SystemExit as e:  # the example reported the failure and exited
            raise RuntimeError(f"the run exited with status {e.code} (see {trial})") from None
        return dict(summary)


def run_search(
    main: Callable[[list[str]], Mapping[str, Any]],
    argv: list[str] | None,
    args: argparse.Namespace,
    default_objective: str,
    trial_flags: list[str] | None = None,
) -> dict[str, Any]:
    """Run the search the flags describe; exits 2 on a sheet with problems, 130 on Ctrl-C
    (the search resumes when run again). ``trial_flags`` are added to every trial (the VQ
    example's ``--test-split``, so the search never validates on its test digits)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        sheet = Dopesheet.from_csv(args.search)
    except DopesheetError as e:
        console.print(f"[red]{args.search}: the dopesheet has problems; nothing was searched[/red]")
        for p in e.problems:
            console.print(f"  {p}", markup=False, highlight=False)
        sys.exit(2)
    except OSError as e:
        console.print(f"[red]cannot read {args.search}: {e}[/red]")
        sys.exit(2)
    if not sheet.search:
        console.print(
            f"[red]{args.search} has no search cells[/red] (fix: write the values to search as "
            "?lo..hi or ?{a b c}, see docs/format.md, or train it with --schedule)"
        )
        sys.exit(2)
    folder = Path(args.out) / "search"
    flags = [f for f in trial_flags or [] if f not in argv] + trial_argv(argv)
    objectives = args.objective or [default_objective]
    pruning = pruning_of(getattr(args, "prune", None), objectives, getattr(args, "prune_every", 50))
    run = ExampleRun(main, flags, folder, pruning)
    seed = args.search_seed if args.search_seed is not None else args.seed
    try:
        result = search(
            sheet, run, objectives, args.trials, out=folder, seed=seed, sampler=args.sampler,
            backend=args.backend, workers=args.workers, pruning=pruning,
        )  # fmt: skip
    except ValueError as e:
        console.print(f"[red]error:[/red] {e}", highlight=False)
        sys.exit(2)
    s = result.summary
    console.print(
        f"search: {s['trials']} trials ({s['complete']} complete, {s['pruned']} pruned, "
        f"{s['failed']} failed); best {s['objective']} = {s['best_value']} (trial "
        f"{s['best_trial']}); wrote {folder}/"
    )
    if result.best is not None:
        replay = " ".join(_without_out(flags))
        console.print(
            f"replay the best trial with the same flags: {replay} --schedule {folder}/best.csv "
            f"--out {folder}/replay"
        )
    if result.interrupted:
        console.print("interrupted: run the same command again to resume the search")
        sys.exit(130)
    return s
