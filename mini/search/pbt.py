"""Population Based Training over a dopesheet's values, run by our search on Ray Tune's
``PopulationBasedTraining`` scheduler.

PBT changes *held* values: each searched cell keys a property that has that one key, so the
property holds the value until PBT changes it. A trial's *lineage* is where its values
changed: ``[(0, values), (step, values), ...]``. When a trial exploits another, it continues
from the other's state (saved with a report) at the step after that report, with perturbed
values, and its lineage is the other's plus the new entry. The run gets the lineage as a plain
dopesheet (:func:`lineage_sheet`): the sheet with each searched property keyed at every step
its value changed, ``hold`` (a step-end jump, as Tune replays a policy) or ``smooth`` (a
minimum-jerk move over ``blend`` steps). Tune's own record of it, ``pbt_policy_<trial>.txt``,
is read with :mod:`mini.temporal.pbt_policy`, and the winner's lineage is ``best.csv``.
"""

from __future__ import annotations

import json
import logging
import math
import pickle
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from mini.search.objectives import Objective
from mini.search.trial import Reporter, RunFn, run_trial
from mini.search.tune_trials import trial_number
from mini.temporal import Dopesheet
from mini.temporal.pbt_policy import Policy, Transition, policy_dopesheet, read_policy
from mini.temporal.search_cells import SearchParam

log = logging.getLogger(__name__)

TRANSITIONS = ("hold", "smooth")
STATE_FILE = "state.pkl"
LINEAGE_FILE = "lineage.json"
Lineage = list[tuple[int, dict[str, float]]]


class PBTSetupError(ValueError):
    """Options or a sheet that PBT cannot search: the message says what and how to fix it."""


@dataclass(frozen=True)
class PBT:
    """How Population Based Training runs.

    Args:
        interval: steps between perturbations of a trial (Tune's ``perturbation_interval``,
            counted in the steps the run reports).
        transition: ``hold`` (a value changes at the exploit step) or ``smooth`` (it moves
            there with minimum jerk over ``blend`` steps).
        blend: steps of a smooth move (default ``interval``; at most ``interval``, so a move
            ends before the next change).
        quantile_fraction: the share of the population that exploits the top as much
            (Tune's, above 0 and at most 0.5).
        resample_probability: the chance a perturbed value is drawn afresh from its cell
            instead of multiplied by 0.8 or 1.2 (a set's value moves to a neighbour).
    """

    interval: int
    transition: str = "hold"
    blend: int | None = None
    quantile_fraction: float = 0.25
    resample_probability: float = 0.25

    def __post_init__(self) -> None:
        if isinstance(self.interval, bool) or not isinstance(self.interval, int):
            raise PBTSetupError(
                f"perturbation_interval must be a whole number of steps, not {self.interval!r}"
            )
        if self.interval < 1:
            raise PBTSetupError(f"perturbation_interval must be >= 1 step (got {self.interval})")
        if self.transition not in TRANSITIONS:
            raise PBTSetupError(
                f"unknown transition {self.transition!r} (fix: use one of {', '.join(TRANSITIONS)})"
            )
        if self.blend is not None:
            if self.transition != "smooth":
                raise PBTSetupError("blend is for transition='smooth' (fix: drop blend)")
            if not 1 <= self.blend <= self.interval:
                raise PBTSetupError(
                    f"blend must be between 1 and perturbation_interval ({self.interval}) steps, "
                    f"so a move ends before the next change (got {self.blend})"
                )
        if not 0 < self.quantile_fraction <= 0.5:
            raise PBTSetupError(
                f"quantile_fraction must be above 0 and at most 0.5 (got {self.quantile_fraction})"
            )
        if not 0 <= self.resample_probability <= 1:
            raise PBTSetupError(
                f"resample_probability must be between 0 and 1 (got {self.resample_probability})"
            )

    @property
    def blend_steps(self) -> int:
        return self.interval if self.blend is None else self.blend


def pbt_cells(sheet: Dopesheet) -> list[SearchParam]:
    """The search cells PBT changes, after checking each keys a held value: not a STEP cell,
    and the only key of its property. Raises :class:`PBTSetupError` naming the cell."""
    assert sheet.search is not None
    if sheet.gates:
        g = sheet.gates[0]
        raise PBTSetupError(
            f"{sheet.search.source}:{g.line}:{g.column}: PBT keys values at training steps, and "
            "a gate moves the schedule's clock away from them (fix: drop the GATE column for a "
            "PBT search)"
        )
    out = []
    for p in sheet.search:
        where = f"{sheet.search.source}:{p.line}:{p.column}"
        if p.is_step:
            raise PBTSetupError(
                f"{where}: PBT changes values while trials train, not where rows are; {p.name} "
                "searches a STEP (fix: write the step, or search it without scheduler='pbt')"
            )
        keys = len(sheet.keyframes(p.prop))
        if keys != 1:
            raise PBTSetupError(
                f"{where}: PBT changes held values, but {p.prop} has {keys} keys, so {p.name} "
                f"is one point of a curve (fix: key {p.prop} once in a PBT search, or search "
                "it without scheduler='pbt')"
            )
        out.append(p)
    return out


def lineage_sheet(
    sheet: Dopesheet, lineage: Lineage, transition: str = "hold", blend: int = 1
) -> Dopesheet:
    """The plain dopesheet a lineage trains on: ``sheet`` with each searched property keyed at
    the steps its value changed (changes past the sheet's last step never ran and are left out).

    Args:
        sheet: the search sheet (checked by :func:`pbt_cells`).
        lineage: ``[(0, values), (step, values), ...]``, values by search-cell name.
        transition: ``hold`` or ``smooth``.
        blend: steps of a smooth move.
    """
    cells = pbt_cells(sheet)
    base = sheet.with_values(lineage[0][1])
    last = base.last_step

    def props(values: dict[str, float]) -> dict[str, float]:
        return {p.prop: float(values[p.name]) for p in cells}

    changes = [(step, props(v)) for step, v in lineage[1:] if step <= last]
    # the values as they stand at the last step bound a smooth move that would run past it
    held = changes[-1][1] if changes else props(lineage[0][1])
    policy = Policy(props(lineage[0][1]), [*changes, (last, held)])
    logs = tuple(p.prop for p in cells if base.specs[p.prop].space == "log")
    moves = policy_dopesheet(
        policy, transition=cast(Transition, transition), blend=blend, log=logs, source=base.source
    ).as_df()
    frame = base.as_df()
    searched = [base.specs[p.prop].header for p in cells]
    new_cols = [c for c in moves.columns if c not in ("STEP", "PHASE", "ACTION")]
    merged = frame.drop(columns=searched).merge(moves[["STEP", *new_cols]], on="STEP", how="outer")
    merged = merged.sort_values("STEP", kind="stable").reset_index(drop=True)
    for col in merged.columns:
        if merged[col].dtype == object:
            merged[col] = merged[col].fillna("")
    return Dopesheet.from_df(merged, source=f"{sheet.source} (PBT lineage)")


@dataclass(frozen=True)
class ClipToCells:
    """Tune's ``custom_explore_fn``: a perturbed value multiplied past its cell's range is
    brought back to the nearest end, so every value is one the sheet allows."""

    bounds: dict[str, tuple[float, float]]

    def __call__(self, config: dict[str, Any]) -> dict[str, Any]:
        for name, (lo, hi) in self.bounds.items():
            if name in config:
                config[name] = min(hi, max(lo, float(config[name])))
        return config


def scheduler(cells: Sequence[SearchParam], options: PBT, objective: Objective) -> Any:
    """Tune's ``PopulationBasedTraining`` over the cells (time: the step the run reports)."""
    from ray import tune
    from ray.tune.schedulers import PopulationBasedTraining

    mutations: dict[str, Any] = {}
    for p in cells:
        if p.kind == "choice":
            mutations[p.name] = sorted(p.choices)
        elif p.log:
            mutations[p.name] = tune.loguniform(p.low, p.high)
        else:
            mutations[p.name] = tune.uniform(p.low, p.high)
    bounds = {p.name: (p.low, p.high) for p in cells if p.kind != "choice"}
    return PopulationBasedTraining(
        time_attr="step", metric=objective.key, mode=objective.direction,
        perturbation_interval=options.interval, hyperparam_mutations=mutations,
        quantile_fraction=options.quantile_fraction,
        resample_probability=options.resample_probability,
        custom_explore_fn=ClipToCells(bounds),
    )  # fmt: skip


def _load(checkpoint: Any) -> tuple[dict[str, Any], Any]:
    with checkpoint.as_directory() as d:
        saved = json.loads((Path(d) / LINEAGE_FILE).read_text(encoding="utf-8"))
        with open(Path(d) / STATE_FILE, "rb") as f:
            state = pickle.load(f)  # written by this search's own trials (save below)
    return saved, state


def _save(next_step: int, lineage: Lineage, trial_id: str, state: Any, folder: Path) -> None:
    saved = {"next_step": next_step, "lineage": lineage, "trial_id": trial_id}
    (folder / LINEAGE_FILE).write_text(json.dumps(saved), encoding="utf-8")
    with open(folder / STATE_FILE, "wb") as f:
        pickle.dump(state, f)


def pbt_trainable(
    config: dict[str, Any],
    sheet: Dopesheet,
    run: RunFn,
    objectives: list[Objective],
    options: PBT,
) -> None:
    """One PBT trial in Tune: resume from the checkpoint Tune hands over (this trial's own,
    or the one it exploits), run on the lineage's sheet, save the state with every report."""
    from ray import tune

    assert sheet.search is not None
    objective = objectives[0]
    values = {name: float(config[name]) for name in sheet.search.params}
    context = tune.get_context()
    trial_id = context.get_trial_id()
    lineage: Lineage = [(0, values)]
    start, state = 0, None
    if (checkpoint := tune.get_checkpoint()) is not None:
        saved, state = _load(checkpoint)
        start = int(saved["next_step"])
        lineage = [(int(s), dict(v)) for s, v in saved["lineage"]]
        if saved["trial_id"] != trial_id or lineage[-1][1] != values:  # an exploit
            lineage.append((start, values))
    ds = lineage_sheet(sheet, lineage, options.transition, options.blend_steps)
    last_step = [start - 1]

    def forward(step: int, metrics: dict[str, float], state: Any = None) -> None:
        if state is None:
            raise ValueError(
                "PBT continues trials from each other's state: pass it with each report "
                "(fix: reporter.report(step, metrics, state=...))"
            )
        if objective.key not in metrics:
            raise ValueError(
                f"PBT compares trials by {objective.key} as they train (fix: report it: "
                f"reporter.report(step, {{{objective.key!r}: ...}}, state=...))"
            )
        last_step[0] = step
        with tempfile.TemporaryDirectory() as d:
            _save(step + 1, lineage, trial_id, state, Path(d))
            tune.report(
                {objective.key: metrics[objective.key], "step": step, "search_state": "running"},
                checkpoint=tune.Checkpoint.from_directory(d),
            )

    number = trial_number(context.get_trial_dir())
    reporter = Reporter(number, values, extra=forward, start_step=start, state=state)
    outcome = run_trial(sheet, values, run, objectives, reporter, filled=ds)
    if outcome.state != "complete":
        raise RuntimeError(outcome.reason)
    result = {o.key: v for o, v in zip(objectives, outcome.objectives, strict=True)}
    scalars = {k: float(v) for k, v in outcome.metrics.items() if isinstance(v, int | float)}
    tune.report({
        **scalars, **result, "step": max(last_step[0], 0), "search_state": "complete",
        "search_seconds": outcome.seconds, "pbt_lineage": json.dumps(lineage),
    })  # fmt: skip


@dataclass
class Lineages:
    """Every finished trial's lineage as a sheet (by trial number) and Tune's policy log of
    it (only for the trials PBT perturbed), as :func:`export` wrote them."""

    sheets: dict[int, Dopesheet]
    policies: dict[int, str]
    options: PBT

    def summary(self, best_trial: int | None) -> dict[str, Any]:
        """What ``summary.json`` adds: the scheduler and the winner's policy log."""
        o = self.options
        return {
            "scheduler": "pbt", "policy": self.policies.get(best_trial) if best_trial is not None
            else None, "transition": o.transition, "perturbation_interval": o.interval,
            "blend": o.blend_steps if o.transition == "smooth" else None,
        }  # fmt: skip


def export(grid: Any, folder: Path, tune_folder: Path, sheet: Dopesheet, options: PBT) -> Lineages:
    """Write every finished trial's lineage as ``lineages/trial-N.csv``, from Tune's policy
    logs (``pbt_policy_<trial id>.txt``) and the exploit steps the trials recorded."""
    (folder / "lineages").mkdir(parents=True, exist_ok=True)
    out = Lineages({}, {}, options)
    for r in grid:
        metrics = r.metrics or {}
        if "pbt_lineage" not in metrics or r.path is None:
            continue
        number = trial_number(r.path)
        recorded = [(int(s), dict(v)) for s, v in json.loads(metrics["pbt_lineage"])]
        path = tune_folder / f"pbt_policy_{metrics['trial_id']}.txt"
        if path.exists():
            out.policies[number] = str(path)
        lineage = _from_policy(path, recorded) if path.exists() else recorded
        ds = lineage_sheet(sheet, lineage, options.transition, options.blend_steps)
        ds.to_csv(folder / "lineages" / f"trial-{number}.csv")
        out.sheets[number] = ds
    return out


def _from_policy(path: Path, recorded: Lineage) -> Lineage:
    """The lineage as Tune's policy log has it: its configs, at the steps the trials recorded
    (Tune logs a count of reports, the trials the step after the report they resumed from)."""
    policy = read_policy(path)
    if len(policy.changes) != len(recorded) - 1:
        log.warning(
            "%s holds %d exploits but the trial recorded %d; using the trial's record",
            path, len(policy.changes), len(recorded) - 1,
        )  # fmt: skip
        return recorded
    names = recorded[0][1].keys()
    configs = [policy.initial] + [c for _, c in policy.changes]
    lineage = [
        (step, {n: float(c[n]) for n in names})
        for (step, _), c in zip(recorded, configs, strict=True)
    ]
    for (step, ran), (_, logged) in zip(recorded, lineage, strict=True):
        if any(not math.isclose(ran[n], logged[n], rel_tol=1e-12) for n in names):
            log.warning("%s: at step %d the trial ran %s, the log says %s", path, step, ran, logged)
    return lineage
