"""The same search as Ray Tune trials: one trial = one run of the run function, with
resources per trial, on a local Ray (``ray.init()``) or a cluster (``address=``), Tune's
Optuna search and, with pruning, the ASHA scheduler, or Population Based Training
(``scheduler="pbt"``, :mod:`mini.search.pbt`).

Tune's own folder is ``<out>/ray/tune`` (a search run again with the same folder resumes
it with ``Tuner.restore``). The outputs (``best.csv``, ``trials.csv``, ``summary.json``,
plots) are the in-process search's.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
from pathlib import Path
from typing import Any

from mini.search.objectives import Objective
from mini.search.outputs import TrialRow
from mini.search.pbt import PBTSetupError
from mini.search.trial import Pruning, Reporter, RunFn, run_trial
from mini.search.tune_trials import trial_number
from mini.temporal import Dopesheet
from mini.temporal.search_cells import SearchSpace

log = logging.getLogger(__name__)

SEARCH_ALGS = ("optuna", "random")
SCHEDULERS = ("fifo", "asha", "pbt")
PBT_OPTIONS = ("perturbation_interval", "transition", "blend", "quantile_fraction",
               "resample_probability")  # fmt: skip


def param_space(space: SearchSpace) -> dict[str, Any]:
    """Tune's sampling for each search cell (log-uniform in a ``:log`` column)."""
    from ray import tune

    out: dict[str, Any] = {}
    for p in space:
        if p.kind == "choice":
            out[p.name] = tune.choice([int(c) for c in p.choices] if p.is_step else list(p.choices))
        elif p.kind == "int":
            out[p.name] = tune.randint(int(p.low), int(p.high) + 1)  # Tune's high is exclusive
        elif p.log:
            out[p.name] = tune.loguniform(p.low, p.high)
        else:
            out[p.name] = tune.uniform(p.low, p.high)
    return out


def _trainable(
    config: dict[str, Any],
    sheet: Dopesheet,
    run: RunFn,
    objectives: list[Objective],
    pruning: Pruning | None,
) -> None:
    """One Tune trial: report along the way (ASHA reads it), then the objectives."""
    from ray import tune

    assert sheet.search is not None
    values = {name: config[name] for name in sheet.search.params}
    number = trial_number(tune.get_context().get_trial_dir())

    def forward(step: int, metrics: dict[str, float], state: Any = None) -> None:
        if pruning is not None and pruning.metric in metrics and step % pruning.every == 0:
            tune.report(
                {pruning.metric: metrics[pruning.metric], "step": step, "search_state": "running"}
            )

    outcome = run_trial(sheet, values, run, objectives, Reporter(number, values, extra=forward))
    if outcome.state != "complete":
        raise RuntimeError(outcome.reason)  # Tune records the trial as errored; the search goes on
    result = {o.key: v for o, v in zip(objectives, outcome.objectives, strict=True)}
    scalars = {k: float(v) for k, v in outcome.metrics.items() if isinstance(v, int | float)}
    tune.report(
        {**scalars, **result, "search_state": "complete", "search_seconds": outcome.seconds}
    )


def _init_ray(address: str | None, workers: int) -> None:
    import ray

    if ray.is_initialized():
        return
    if address is None:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)


def tune_search(
    folder: Path,
    sheet: Dopesheet,
    run: RunFn,
    objectives: list[Objective],
    trials: int,
    *,
    seed: int | None = 0,
    pruning: Pruning | None = None,
    workers: int = 1,
    progress: bool = True,
    resources: dict[str, float] | None = None,
    address: str | None = None,
    search_alg: str | None = None,
    scheduler: str | None = None,
    **pbt_options: Any,
) -> tuple[list[TrialRow], bool, dict[str, Any], dict[int, Dopesheet] | None]:
    """Run ``trials`` Tune trials (``workers`` at once). Returns the trial rows, whether the
    search was interrupted, what ``summary.json`` should add, and, for PBT, the sheet each
    trial ran (its lineage, by trial number).

    Args:
        resources: per trial, e.g. ``{"cpu": 1, "gpu": 0.5}`` (default one CPU).
        address: a Ray cluster to join (default: start a local Ray with ``workers`` CPUs).
        search_alg: ``optuna`` (Tune's OptunaSearch, TPE, seeded; the default) or ``random``
            (PBT: its population starts random, seeded).
        scheduler: ``fifo`` (every trial runs to the end), ``asha`` (stops trials from the
            values they report; the default with ``pruning``) or ``pbt`` (Population Based
            Training, :mod:`mini.search.pbt`; its initial population is random).
        **pbt_options: with ``scheduler="pbt"``: ``perturbation_interval`` (steps, required),
            ``transition`` (``hold``/``smooth``), ``blend``, ``quantile_fraction``,
            ``resample_probability`` (see :class:`mini.search.pbt.PBT`).
    """
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    if len(objectives) > 1:
        raise ValueError(
            "the ray backend searches one objective (fix: use the optuna backend for a Pareto front)"
        )
    assert sheet.search is not None
    objective = objectives[0]
    pbt = check_scheduler(sheet, scheduler, pruning, trials, pbt_options)
    if pbt is not None and search_alg not in (None, "random"):
        raise PBTSetupError(
            f"PBT starts from a random population, so search_alg={search_alg!r} has no part in "
            "it (fix: drop search_alg)"
        )
    search_alg = search_alg or ("random" if pbt else "optuna")
    if search_alg not in SEARCH_ALGS:
        raise ValueError(
            f"unknown search_alg {search_alg!r} (fix: use one of {', '.join(SEARCH_ALGS)})"
        )
    _init_ray(address, workers)
    if pbt is not None:
        from mini.search.pbt import pbt_trainable

        function = tune.with_parameters(
            pbt_trainable, sheet=sheet, run=run, objectives=objectives, options=pbt
        )
    else:
        function = tune.with_parameters(
            _trainable, sheet=sheet, run=run, objectives=objectives, pruning=pruning
        )
    trainable = tune.with_resources(function, resources or {"cpu": 1})
    storage = (folder / "ray").resolve()
    path = storage / "tune"
    if tune.Tuner.can_restore(str(path)):
        log.info("resuming the Tune search in %s", path)
        tuner = tune.Tuner.restore(
            str(path), trainable=trainable, resume_unfinished=True, resume_errored=False
        )
    else:
        searcher: Any = None
        if pbt is not None:
            from ray.tune.search import BasicVariantGenerator

            from mini.search.pbt import pbt_cells
            from mini.search.pbt import scheduler as pbt_scheduler

            searcher = BasicVariantGenerator(random_state=seed)
            chosen: Any = pbt_scheduler(pbt_cells(sheet), pbt, objective)
        elif search_alg == "optuna":
            from ray.tune.search import ConcurrencyLimiter
            from ray.tune.search.optuna import OptunaSearch

            searcher = ConcurrencyLimiter(
                OptunaSearch(metric=objective.key, mode=objective.direction, seed=seed),
                max_concurrent=workers,
            )
        if pbt is not None:
            pass
        elif pruning is not None and scheduler != "fifo":
            direction = pruning.direction or objective.direction
            chosen = ASHAScheduler(
                metric=pruning.metric, mode=direction, time_attr="training_iteration",
                grace_period=max(1, pruning.warmup), max_t=10**9,
            )  # fmt: skip
        else:
            chosen = FIFOScheduler()
        tuner = tune.Tuner(
            trainable,
            param_space=param_space(sheet.search),
            tune_config=tune.TuneConfig(
                num_samples=trials,
                search_alg=searcher,
                scheduler=chosen,
                max_concurrent_trials=None if pbt else workers,  # PBT: the whole population
                reuse_actors=pbt is not None,
            ),
            run_config=tune.RunConfig(
                name="tune",
                storage_path=str(storage),
                verbose=1 if progress else 0,
                failure_config=tune.FailureConfig(max_failures=0),
            ),
        )
    interrupted = False
    sigint = signal.getsignal(signal.SIGINT)  # Tune installs its own; the caller's comes back
    try:
        grid = tuner.fit()
    except KeyboardInterrupt:
        interrupted = True
        grid = tune.Tuner.restore(str(path), trainable=trainable).get_results()
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, sigint)
    rows = rows_from_grid(grid, sheet.search, objectives)
    extra: dict[str, Any] = {
        "backend": "ray", "search_alg": search_alg, "tune_folder": str(path),
        "scheduler": "pbt" if pbt else ("asha" if pruning and scheduler != "fifo" else "fifo"),
    }  # fmt: skip
    if pbt is None:
        return rows, interrupted, extra, None
    from mini.search.outputs import ranked
    from mini.search.pbt import export

    lineages = export(grid, folder, path, sheet, pbt)
    top = ranked(rows, objectives)
    extra |= lineages.summary(top[0].number if top else None)
    return rows, interrupted, extra, lineages.sheets


def check_scheduler(
    sheet: Dopesheet,
    scheduler: str | None,
    pruning: Pruning | None,
    trials: int,
    pbt_options: dict[str, Any],
) -> Any:
    """Check the scheduler and its options before Ray starts; the PBT options when it is
    ``pbt`` (:class:`mini.search.pbt.PBT`), else ``None``."""
    from mini.search.pbt import PBT, pbt_cells

    if scheduler is not None and scheduler not in SCHEDULERS:
        raise PBTSetupError(
            f"unknown scheduler {scheduler!r} (fix: use one of {', '.join(SCHEDULERS)})"
        )
    unknown = [k for k in pbt_options if k not in PBT_OPTIONS]
    if unknown:
        raise TypeError(f"unknown option(s) of the ray backend: {', '.join(unknown)}")
    if scheduler != "pbt":
        if pbt_options:
            raise PBTSetupError(
                f"{', '.join(pbt_options)}: options of Population Based Training "
                "(fix: add scheduler='pbt', or drop them)"
            )
        if scheduler == "asha" and pruning is None:
            raise PBTSetupError(
                "the asha scheduler stops trials from a reported metric (fix: pass "
                "pruning=Pruning('metric'))"
            )
        return None
    if pruning is not None:
        raise PBTSetupError(
            "PBT replaces bad trials by good ones instead of stopping them (fix: drop pruning "
            "with scheduler='pbt')"
        )
    if "perturbation_interval" not in pbt_options:
        raise PBTSetupError(
            "scheduler='pbt' needs perturbation_interval: the steps between perturbations "
            "(fix: e.g. perturbation_interval=100)"
        )
    if trials < 2:
        raise PBTSetupError(f"PBT needs a population of at least 2 trials (got trials={trials})")
    options = dict(pbt_options)
    options["interval"] = options.pop("perturbation_interval")
    pbt = PBT(**options)
    pbt_cells(sheet)
    return pbt


def rows_from_grid(grid: Any, space: SearchSpace, objectives: list[Objective]) -> list[TrialRow]:
    """Tune's results as trial rows, numbered by Tune's trial index."""
    rows = []
    for r in grid:
        metrics = r.metrics or {}
        config = r.config or {}
        values = {n: config[n] for n in space.params if n in config}
        number = trial_number(r.path) if r.path else len(rows)
        if r.error is not None:
            state, reason = "failed", _reason(r.error)
        elif metrics.get("search_state") == "complete":
            state, reason = "complete", ""
        else:
            state, reason = (
                "pruned",
                f"stopped by the scheduler at report {metrics.get('training_iteration')}",
            )
        objs = [float(metrics[o.key]) for o in objectives] if state == "complete" else None
        seconds = metrics.get("time_total_s")
        scalars = {
            k: float(v)
            for k, v in metrics.items()
            if isinstance(v, int | float) and math.isfinite(float(v))
        }
        rows.append(TrialRow(number, state, values, objs, seconds, reason, scalars))
    return sorted(rows, key=lambda r: r.number)


def _reason(error: BaseException) -> str:
    text = str(error)
    lines = [line for line in text.splitlines() if line.strip()]
    for line in reversed(lines):  # Tune wraps the trial's exception: keep its last line
        if "RuntimeError:" in line:
            return line.split("RuntimeError:", 1)[1].strip()
    return lines[-1] if lines else type(error).__name__
