"""The in-process search: Optuna's ask/tell loop over a sheet's search cells.

The study lives in ``<out>/study.journal`` (Optuna's journal storage, append-only and safe
for several processes), so a search that is killed resumes where it stopped: finished trials
stay, and a trial that was running when the search died (or was interrupted with Ctrl-C) is
recorded as ``interrupted`` and its values are queued to run again. With ``workers > 1`` the
extra workers are processes (forked where the system can, else spawned) that share the study;
where they are spawned, the run function and the sheet must be picklable (a module-level
function).
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing as mp
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mini.search.objectives import Objective
from mini.search.trial import Outcome, Pruning, Reporter, RunFn, run_trial
from mini.temporal import Dopesheet
from mini.temporal.search_cells import SearchSpace

log = logging.getLogger(__name__)

STUDY_FILE = "study.journal"
STUDY_NAME = "search"
SAMPLERS = ("tpe", "random")
START_METHOD = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
"""How worker processes start: ``fork`` where the system has it (a worker starts at once, with
everything already imported), else ``spawn`` (a worker imports the run function's module)."""


class SearchSetupError(ValueError):
    """The search cannot start (a study in the folder that searched something else, options
    that do not go together): the message says what and how to fix it."""


def distributions(space: SearchSpace) -> dict[str, Any]:
    """Optuna's distribution for each search cell: log-uniform floats in a ``:log`` column,
    uniform otherwise, whole steps in STEP, a categorical for a set."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out: dict[str, Any] = {}
    for p in space:
        if p.kind == "choice":
            choices = [int(c) for c in p.choices] if p.is_step else list(p.choices)
            out[p.name] = CategoricalDistribution(choices)
        elif p.kind == "int":
            out[p.name] = IntDistribution(int(p.low), int(p.high))
        else:
            out[p.name] = FloatDistribution(p.low, p.high, log=p.log)
    return out


def signature(space: SearchSpace, objectives: list[Objective]) -> str:
    """What a study searched, to refuse resuming it with another sheet or objective."""
    cells = {p.name: [p.kind, p.low, p.high, list(p.choices), p.log] for p in space}
    cells = {
        k: [None if isinstance(x, float) and math.isnan(x) else x for x in v]
        for k, v in cells.items()
    }
    return json.dumps({"cells": cells, "objectives": [str(o) for o in objectives]}, sort_keys=True)


def _storage(folder: Path) -> Any:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    class ProcessSafeJournal(JournalFileBackend):
        """Optuna's journal file, appended under its lock but without an ``fsync`` per record
        (about ten per trial, 10 ms each on a busy disk): a killed process loses nothing the
        operating system has, and only a machine crash can lose the last records (a torn
        last line is skipped when the journal is read)."""

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            text = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)
            with get_lock_file(self._lock), open(self._file_path, "ab") as f:
                f.write(text.encode("utf-8"))

    from optuna.storages.journal._file import get_lock_file

    path = str(folder / STUDY_FILE)
    return JournalStorage(ProcessSafeJournal(path, lock_obj=JournalFileOpenLock(path)))


def _sampler(name: str, seed: int | None, multi: bool) -> Any:
    import optuna

    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)  # Optuna's defaults, as a bare study has


def _pruner(pruning: Pruning | None) -> Any:
    import optuna

    if pruning is None:
        return optuna.pruners.NopPruner()
    if pruning.pruner == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=max(1, pruning.warmup))
    if pruning.pruner != "median":
        raise SearchSetupError(f"unknown pruner {pruning.pruner!r} (fix: use median or asha)")
    return optuna.pruners.MedianPruner(
        n_startup_trials=pruning.startup, n_warmup_steps=pruning.warmup * pruning.every
    )


def open_study(
    folder: Path,
    space: SearchSpace,
    objectives: list[Objective],
    *,
    sampler: str = "tpe",
    seed: int | None = 0,
    pruning: Pruning | None = None,
) -> Any:
    """The study in ``folder``, created or resumed (refused if it searched another space)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if sampler not in SAMPLERS:
        raise SearchSetupError(
            f"unknown sampler {sampler!r} (fix: use one of {', '.join(SAMPLERS)})"
        )
    if pruning is not None and len(objectives) > 1:
        raise SearchSetupError(
            "pruning needs a single objective (Optuna cannot prune a multi-objective study) "
            "(fix: drop the pruning, or search one objective)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    storage = _storage(folder)
    study = optuna.create_study(
        storage=storage,
        study_name=STUDY_NAME,
        directions=[o.optuna_direction for o in objectives],
        pruner=_pruner(pruning),
        load_if_exists=True,
    )
    sig = signature(space, objectives)
    stored = study.user_attrs.get("signature")
    if stored is None:
        study.set_user_attr("signature", sig)
    elif stored != sig:
        raise SearchSetupError(
            f"{folder / STUDY_FILE} holds a search of other cells or objectives (fix: search "
            "into another folder (--out), or delete that folder to start over)"
        )
    # seeded by the trials so far, so a resumed search does not replay the first proposals
    n = len(study.get_trials(deepcopy=False))
    study.sampler = _sampler(
        sampler, None if seed is None else seed + 7919 * n, len(objectives) > 1
    )
    return study


def is_finished(trial: Any) -> bool:
    """Complete, pruned, or failed by itself (not interrupted)."""
    from optuna.trial import TrialState

    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and not trial.user_attrs.get("interrupted")


def recover_interrupted(study: Any) -> int:
    """Mark trials left running by a killed search as interrupted and queue their values to
    run again. Returns how many."""
    from optuna.trial import TrialState

    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for t in stale:
        _interrupt(study, t._trial_id, dict(t.params))
    return len(stale)


def _interrupt(study: Any, trial_id: int, params: dict[str, Any]) -> None:
    from optuna.trial import TrialState

    study._storage.set_trial_user_attr(trial_id, "interrupted", True)
    study._storage.set_trial_state_values(trial_id, TrialState.FAIL)
    study.enqueue_trial(params, skip_if_exists=False)


def run_one(
    study: Any, sheet: Dopesheet, run: RunFn, objectives: list[Objective], pruning: Pruning | None
) -> tuple[int, Outcome]:
    """Ask for one trial, run it and tell the study how it went. On Ctrl-C the trial is
    recorded as interrupted (its values queued again) and ``KeyboardInterrupt`` propagates."""
    from optuna.trial import TrialState

    assert sheet.search is not None
    trial = study.ask(distributions(sheet.search))
    values = dict(trial.params)
    sign = 1.0
    if pruning is not None and pruning.direction is not None:
        sign = 1.0 if pruning.direction == objectives[0].direction else -1.0

    def sink(step: int, value: float) -> bool:
        trial.report(sign * value, step)
        return bool(trial.should_prune())

    reporter = Reporter(trial.number, values, pruning, sink)
    try:
        outcome = run_trial(sheet, values, run, objectives, reporter)
    except KeyboardInterrupt:
        _interrupt(study, trial._trial_id, values)
        raise
    scalars = {k: float(v) for k, v in outcome.metrics.items() if isinstance(v, int | float)}
    trial.set_user_attr(  # one record: each attribute is a write to the journal
        "result", {"seconds": outcome.seconds, "reason": outcome.reason[:2000], "metrics": scalars}
    )
    if outcome.state == "complete":
        study.tell(trial, outcome.objectives)
    elif outcome.state == "pruned":
        study.tell(trial, state=TrialState.PRUNED)
    else:
        study.tell(trial, state=TrialState.FAIL)
    return trial.number, outcome


def finished_count(study: Any) -> int:
    return sum(is_finished(t) for t in study.get_trials(deepcopy=False))


def optimize(
    folder: Path,
    sheet: Dopesheet,
    run: RunFn,
    objectives: list[Objective],
    trials: int,
    *,
    sampler: str = "tpe",
    seed: int | None = 0,
    pruning: Pruning | None = None,
    workers: int = 1,
    on_trial: Callable[[int, Outcome, Any], None] | None = None,
) -> tuple[Any, bool]:
    """Run trials until ``trials`` have finished in the study. Returns ``(study,
    interrupted)``; Ctrl-C stops cleanly (the running trials are queued again)."""
    assert sheet.search is not None
    study = open_study(
        folder, sheet.search, objectives, sampler=sampler, seed=seed, pruning=pruning
    )
    recovered = recover_interrupted(study)
    if recovered:
        log.info("resuming: %d interrupted trial(s) queued to run again", recovered)
    remaining = trials - finished_count(study)
    if remaining <= 0:
        return study, False
    ctx = mp.get_context(START_METHOD)
    claimed = ctx.Value("i", 0)
    procs = [
        ctx.Process(
            target=_worker,
            args=(folder, sheet, run, objectives, pruning, sampler, seed, k, claimed, remaining),
            daemon=True,
        )
        for k in range(1, min(workers, remaining))
    ]
    for p in procs:
        p.start()
    interrupted = False
    try:
        while _claim(claimed, remaining):
            number, outcome = run_one(study, sheet, run, objectives, pruning)
            if on_trial is not None:
                on_trial(number, outcome, study)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        for p in procs:
            try:
                p.join()
            except KeyboardInterrupt:
                interrupted = True
                p.join()
    if any(p.exitcode not in (0, None) for p in procs):
        log.warning("a search worker stopped early; its trial is queued to run again")
        recover_interrupted(study)
    return study, interrupted


def _claim(claimed: Any, remaining: int) -> bool:
    with claimed.get_lock():
        if claimed.value >= remaining:
            return False
        claimed.value += 1
        return True


def _worker(
    folder: Path,
    sheet: Dopesheet,
    run: RunFn,
    objectives: list[Objective],
    pruning: Pruning | None,
    sampler: str,
    seed: int | None,
    index: int,
    claimed: Any,
    remaining: int,
) -> None:
    """An extra worker process: its own sampler (seeded apart), the shared study."""
    # a forked worker must not take a lock the parent's threads (a progress bar) held at fork
    logging.basicConfig(force=True, format="%(message)s", level=logging.WARNING)
    try:  # one thread per worker: W workers share W cores
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    wseed = None if seed is None else seed + 104729 * index
    study = open_study(
        folder, sheet.search, objectives, sampler=sampler, seed=wseed, pruning=pruning
    )  # type: ignore[arg-type]
    try:
        while _claim(claimed, remaining):
            run_one(study, sheet, run, objectives, pruning)
    except KeyboardInterrupt:
        pass
