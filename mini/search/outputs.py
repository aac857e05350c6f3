"""What a search leaves in its folder: ``trials.csv``, ``summary.json``, ``best.csv`` (and
``front/`` for several objectives), from the study's trials.

Every file is written atomically, so a search killed while writing leaves the previous
version, and the study itself (``study.journal``) is the record the files are rebuilt from.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mini.atomic import atomic_write
from mini.search.objectives import Objective
from mini.temporal import Dopesheet


@dataclass
class TrialRow:
    """One trial as the outputs see it (whatever the backend)."""

    number: int
    state: str  # complete | pruned | failed | interrupted | running
    values: dict[str, float]
    objectives: list[float] | None
    seconds: float | None
    reason: str = ""
    metrics: dict[str, float] = field(default_factory=dict)


def rows_from_study(study: Any) -> list[TrialRow]:
    """The trials of an Optuna study as :class:`TrialRow` values."""
    from optuna.trial import TrialState

    names = {
        TrialState.COMPLETE: "complete",
        TrialState.PRUNED: "pruned",
        TrialState.FAIL: "failed",
        TrialState.RUNNING: "running",
        TrialState.WAITING: "waiting",
    }
    out = []
    for t in study.get_trials(deepcopy=False):
        state = names[t.state]
        if state == "failed" and t.user_attrs.get("interrupted"):
            state = "interrupted"
        if state == "waiting":
            continue
        result = t.user_attrs.get("result", {})
        objectives = list(t.values) if t.values else None
        out.append(
            TrialRow(
                t.number,
                state,
                dict(t.params),
                objectives,
                result.get("seconds"),
                result.get("reason", ""),
                dict(result.get("metrics", {})),
            )
        )
    return out


def trials_frame(
    rows: list[TrialRow], names: list[str], objectives: list[Objective]
) -> pd.DataFrame:
    """One row per trial: number, state, each search value, each objective, wall seconds and
    the reason a trial failed or was pruned."""
    data: dict[str, list[Any]] = {"trial": [], "state": []}
    for n in names:
        data[n] = []
    for o in objectives:
        data[o.key] = []
    data["seconds"], data["reason"] = [], []
    for r in rows:
        data["trial"].append(r.number)
        data["state"].append(r.state)
        for n in names:
            data[n].append(r.values.get(n, math.nan))
        for i, o in enumerate(objectives):
            data[o.key].append(r.objectives[i] if r.objectives else math.nan)
        data["seconds"].append(r.seconds if r.seconds is not None else math.nan)
        data["reason"].append(r.reason)
    return pd.DataFrame(data)


def pareto_front(rows: list[TrialRow], objectives: list[Objective]) -> list[TrialRow]:
    """The complete trials no other complete trial beats on every objective, best first by
    the first objective."""
    done = [r for r in rows if r.state == "complete" and r.objectives]

    def dominates(a: TrialRow, b: TrialRow) -> bool:
        assert a.objectives and b.objectives
        pairs = list(zip(a.objectives, b.objectives, strict=True))
        no_worse = all(
            x == y or o.better(x, y) for (x, y), o in zip(pairs, objectives, strict=True)
        )
        return no_worse and any(o.better(x, y) for (x, y), o in zip(pairs, objectives, strict=True))

    front = [r for r in done if not any(dominates(o, r) for o in done if o is not r)]
    sign = -1.0 if objectives[0].direction == "max" else 1.0
    return sorted(front, key=lambda r: (sign * r.objectives[0], r.number))  # type: ignore[index]


def ranked(rows: list[TrialRow], objectives: list[Objective]) -> list[TrialRow]:
    """Complete trials, best first by the first objective (ties: the earlier trial)."""
    sign = -1.0 if objectives[0].direction == "max" else 1.0
    done = [r for r in rows if r.state == "complete" and r.objectives]
    return sorted(done, key=lambda r: (sign * r.objectives[0], r.number))  # type: ignore[index]


def write_outputs(
    folder: Path,
    sheet: Dopesheet,
    rows: list[TrialRow],
    objectives: list[Objective],
    *,
    extra: dict[str, Any] | None = None,
    best_sheet: Dopesheet | None = None,
) -> dict[str, Any]:
    """Write ``trials.csv``, ``summary.json`` and ``best.csv`` (plus ``front/trial-N.csv``
    with several objectives) into ``folder``. Returns the summary. ``best_sheet``, when given,
    is written as ``best.csv`` instead of the best values filled in (a PBT lineage)."""
    assert sheet.search is not None
    folder.mkdir(parents=True, exist_ok=True)
    names = list(sheet.search.params)
    frame = trials_frame(rows, names, objectives)
    with atomic_write(folder / "trials.csv", "w") as f:
        frame.to_csv(f, index=False)
    count = {s: sum(r.state == s for r in rows) for s in ("complete", "pruned", "failed")}
    best = ranked(rows, objectives)
    front = pareto_front(rows, objectives) if len(objectives) > 1 else best[:1]
    single = len(objectives) == 1
    summary: dict[str, Any] = {
        "objective": str(objectives[0]) if single else [str(o) for o in objectives],
        "best_value": None,
        "best_trial": None,
        "best_values": None,
        "trials": count["complete"] + count["pruned"] + count["failed"],
        "complete": count["complete"],
        "pruned": count["pruned"],
        "failed": count["failed"],
        "interrupted": sum(r.state == "interrupted" for r in rows),
        "sheet": sheet.source,
        "search_cells": {p.name: p.text for p in sheet.search},
        **(extra or {}),
    }
    if front:
        top = front[0]
        assert top.objectives is not None
        summary["best_value"] = top.objectives[0] if single else top.objectives
        summary["best_trial"] = top.number
        summary["best_values"] = top.values
        chosen = best_sheet if best_sheet is not None else sheet.with_values(top.values)
        chosen.to_csv(folder / "best.csv")
    if not single:
        summary["front"] = [
            {"trial": r.number, "objectives": r.objectives, "values": r.values} for r in front
        ]
        (folder / "front").mkdir(exist_ok=True)
        for r in front:
            sheet.with_values(r.values).to_csv(folder / "front" / f"trial-{r.number}.csv")
    with atomic_write(folder / "summary.json", "w") as f:
        json.dump(summary, f, indent=2, default=_plain)
        f.write("\n")
    return summary


def _plain(v: Any) -> Any:
    if hasattr(v, "item"):
        return v.item()
    return str(v)
