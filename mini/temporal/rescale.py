"""Stretching or compressing a dopesheet to another length (:meth:`Dopesheet.scaled
<mini.temporal.dopesheet.Dopesheet.scaled>`, a script's ``--steps N`` for quick runs).

Works on resolved steps: every row and gate moves to the same share of the run, rows that
land on one step are merged, and rows that would collide are reported with the length that
keeps them apart. Loads with the first ``scaled()``, like the parser it reports through.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

from mini.temporal.errors import DopesheetError, ProblemCollector
from mini.temporal.resolve import merge_rows
from mini.temporal.search_cells import refuse_search_space

if TYPE_CHECKING:
    from mini.temporal.dopesheet import Dopesheet


def scaled(ds: Dopesheet, n_steps: int) -> Dopesheet:
    """``ds`` stretched or compressed to ``n_steps`` steps.

    Args:
        ds: the dopesheet (without search cells).
        n_steps: the new length.
    """
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    refuse_search_space(ds)
    if ds.last_step == 0:
        raise ValueError("a one-step dopesheet cannot be scaled")
    factor = (n_steps - 1) / ds.last_step

    def place(step: int) -> int:
        return math.floor(step * factor + 0.5)

    moved = [dataclasses.replace(r, step=place(r.step)) for r in ds.rows]
    problems = ProblemCollector(ds.source)
    rows = merge_rows(moved, problems)
    if problems.total:
        gaps = [b.step - a.step for a, b in zip(ds.rows, ds.rows[1:], strict=False)]
        need = math.ceil(ds.last_step / max(1, min(gaps))) + 1
        fix = f"scale to at least {need} steps so distinct rows stay apart"
        raise DopesheetError(
            [dataclasses.replace(p, fix=fix) for p in problems.problems], problems.total
        )
    gates = [dataclasses.replace(g, step=place(g.step)) for g in ds.gates]
    return type(ds)(ds.specs, rows, source=f"{ds.source} (scaled to {n_steps} steps)", gates=gates)
