"""``search(sheet, run=fn, objective=..., trials=N)``: search a dopesheet's search cells and
hand back the best schedule as a dopesheet."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mini.search.objectives import Objective, objectives_of
from mini.search.outputs import TrialRow, ranked, rows_from_study, trials_frame, write_outputs
from mini.search.trial import Outcome, Pruning, RunFn
from mini.temporal import Dopesheet

log = logging.getLogger(__name__)

BACKENDS = ("optuna", "ray")


@dataclass
class SearchResult:
    """What a search found.

    Attributes:
        folder: the search folder (``best.csv``, ``trials.csv``, ``summary.json``, plots).
        best: the best trial's plain dopesheet (``None`` when no trial completed).
        summary: the contents of ``summary.json``.
        trials: the contents of ``trials.csv``, one row per trial.
        interrupted: true when Ctrl-C stopped the search (run it again to resume).
    """

    folder: Path
    best: Dopesheet | None
    summary: dict[str, Any]
    trials: pd.DataFrame
    interrupted: bool = False

    @property
    def best_value(self) -> float | list[float] | None:
        return self.summary["best_value"]

    @property
    def best_trial(self) -> int | None:
        return self.summary["best_trial"]


def _sheet(sheet: Dopesheet | str | os.PathLike[str]) -> Dopesheet:
    ds = sheet if isinstance(sheet, Dopesheet) else Dopesheet.from_csv(sheet)
    if not ds.search:
        raise ValueError(
            f"{ds.source} has no search cells, so there is nothing to search (fix: write the "
            "values to search as ?lo..hi or ?{a b c}; see docs/format.md, 'Search cells')"
        )
    return ds


def search(
    sheet: Dopesheet | str | os.PathLike[str],
    run: RunFn,
    objective: str | Objective | Iterable[str | Objective] = "loss:min",
    trials: int = 20,
    *,
    out: str | os.PathLike[str] = "out/search",
    seed: int | None = 0,
    sampler: str = "tpe",
    pruning: Pruning | None = None,
    backend: str = "optuna",
    workers: int = 1,
    progress: bool = True,
    plots: bool = True,
    **ray_options: Any,
) -> SearchResult:
    """Search the search cells of ``sheet`` for the values that make ``run`` score best.

    Args:
        sheet: a dopesheet with search cells (``?lo..hi``, ``?{a b c}``), or its path.
        run: ``run(dopesheet, reporter) -> metrics``: trains on a plain dopesheet and returns a
            dict holding each objective's key. It may call ``reporter.report(step, metrics)``
            along the way (pruning reads those values). A crash or a non-finite objective is a
            failed trial; the search goes on. For Population Based Training it also starts at
            ``reporter.start_step`` from ``reporter.state`` and reports with ``state=...``
            (see :mod:`mini.search.pbt`).
        objective: ``"key:max"``/``"key:min"``, or several (a Pareto front).
        trials: how many trials should have finished in ``out`` (a resumed search runs only the
            rest).
        out: the search folder: the study (``study.journal``), ``best.csv``, ``trials.csv``,
            ``summary.json`` and the plots. Run again with the same folder to resume.
        seed: the sampler's seed (``None``: not reproducible).
        sampler: ``tpe`` (default) or ``random``.
        pruning: stop unpromising trials from a reported metric (:class:`Pruning`).
        backend: ``optuna`` (in this process, default) or ``ray`` (Ray Tune trials).
        workers: trials run at once (Optuna: processes sharing the study; the run function
            must then be a module-level function).
        progress: show a progress bar with the best value so far.
        plots: draw ``history.png``, ``values.png`` and ``schedules.png``.
        **ray_options: for ``backend="ray"``: ``resources``, ``address``, ``search_alg``,
            ``scheduler`` (``"pbt"`` with ``perturbation_interval``, ``transition``, ...; see
            :func:`mini.search.ray_backend.tune_search`).
    """
    ds = _sheet(sheet)
    objectives = objectives_of(objective)
    folder = Path(out)
    if trials < 1 or workers < 1:
        raise ValueError(
            f"trials and workers must be >= 1 (got trials={trials}, workers={workers})"
        )
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r} (fix: use one of {', '.join(BACKENDS)})")
    t0 = time.perf_counter()
    if backend == "ray":
        from mini.search.ray_backend import tune_search

        rows, interrupted, extra, sheets = tune_search(
            folder, ds, run, objectives, trials, seed=seed, pruning=pruning, workers=workers,
            progress=progress, **ray_options,
        )  # fmt: skip
    else:
        if ray_options:
            raise ValueError(
                f"{', '.join(ray_options)}: option(s) of the ray backend (fix: add "
                "backend='ray', or drop them)"
            )
        rows, interrupted = _optuna(
            folder, ds, run, objectives, trials, seed, sampler, pruning, workers, progress
        )
        extra, sheets = {"backend": "optuna", "sampler": sampler}, None
    extra |= {"seconds": time.perf_counter() - t0}
    return finish(folder, ds, rows, objectives, interrupted, extra, plots, sheets)


def finish(
    folder: Path,
    ds: Dopesheet,
    rows: list[TrialRow],
    objectives: list[Objective],
    interrupted: bool,
    extra: dict[str, Any],
    plots: bool,
    sheets: dict[int, Dopesheet] | None = None,
) -> SearchResult:
    """Write the outputs and build the result (both backends). ``sheets`` are the sheets the
    trials ran, by number, where they are not their values filled in (PBT: the lineages)."""
    best_rows = ranked(rows, objectives)
    best_sheet = sheets.get(best_rows[0].number) if sheets and best_rows else None
    summary = write_outputs(folder, ds, rows, objectives, extra=extra, best_sheet=best_sheet)
    if plots:
        from mini.search.plots import save_plots

        save_plots(folder, rows, ds, objectives, sheets)
    assert ds.search is not None
    frame = trials_frame(rows, list(ds.search.params), objectives)
    best = None
    if summary["best_trial"] is not None:
        best = best_sheet if best_sheet is not None else ds.with_values(best_rows[0].values)
    if interrupted:
        log.warning("search interrupted: run it again with the same folder (%s) to resume", folder)
    return SearchResult(folder, best, summary, frame, interrupted)


def _optuna(folder, ds, run, objectives, trials, seed, sampler, pruning, workers, progress):  # type: ignore[no-untyped-def]
    from mini.search.optuna_backend import finished_count, optimize
    from mini.search.progress import SearchProgress

    with SearchProgress(trials, objectives[0], enabled=progress) as bar:

        def on_trial(number: int, outcome: Outcome, study: Any) -> None:
            rows = rows_from_study(study)
            bar.update(rows)

        study, interrupted = optimize(
            folder, ds, run, objectives, trials, sampler=sampler, seed=seed, pruning=pruning,
            workers=workers, on_trial=on_trial if progress else None,
        )  # fmt: skip
        rows = rows_from_study(study)
        bar.update(rows)
    log.debug("finished %d trials", finished_count(study))
    return rows, interrupted
