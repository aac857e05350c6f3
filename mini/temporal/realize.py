"""``realize``: the whole schedule as one DataFrame, computed with numpy (no per-step Python)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mini.temporal.dopesheet import ACTION, PHASE, STEP, Dopesheet
from mini.temporal.timeline import Timeline


def realize(source: Timeline | Dopesheet, start: int = 0, stop: int | None = None) -> pd.DataFrame:
    """Every step's values on ``[start, stop)``: columns ``STEP``, ``PHASE``, ``ACTION`` and one
    column per property (base name). A :class:`Timeline` includes its runtime overrides.

    ``PHASE`` and ``ACTION`` are categorical (``""`` where a step has no phase name or no
    action; several actions on one step are joined with ``;``).
    """
    timeline = source if isinstance(source, Timeline) else Timeline(source)
    ds = timeline.dopesheet
    n = len(timeline)
    stop = n if stop is None else min(stop, n)
    start = max(0, start)
    count = max(0, stop - start)
    steps = np.arange(start, start + count, dtype=np.int64)

    phase_dtype, phase_codes, action_dtype, action_codes_at = _categories(ds)
    lengths = np.array([len(p) for p in ds.phases], dtype=np.int64)
    codes = np.repeat(phase_codes, lengths)[start:stop]
    phase = pd.Categorical.from_codes(codes, dtype=phase_dtype, validate=False)
    action_codes = np.zeros(count, dtype=np.int32)
    for step, code in action_codes_at:
        if start <= step < stop:
            action_codes[step - start] = code
    action = pd.Categorical.from_codes(action_codes, dtype=action_dtype, validate=False)

    columns: dict[str, object] = {STEP: steps, PHASE: phase, ACTION: action}
    columns.update(timeline.values(start, stop))
    return pd.DataFrame(columns, copy=False)


def _categories(ds: Dopesheet):
    """Categorical dtypes and codes for PHASE/ACTION, cached on the (immutable) dopesheet."""
    cached = getattr(ds, "_realize_categories", None)
    if cached is None:
        names = [p.name or "" for p in ds.phases]
        phase_cats = list(dict.fromkeys(names))
        phase_codes = np.array([phase_cats.index(n) for n in names], dtype=np.int32)
        actions = [(r.step, ";".join(r.actions)) for r in ds.rows if r.actions]
        action_cats = ["", *dict.fromkeys(a for _, a in actions)]
        action_codes_at = [(step, action_cats.index(text)) for step, text in actions]
        cached = (
            pd.CategoricalDtype(phase_cats),
            phase_codes,
            pd.CategoricalDtype(action_cats),
            action_codes_at,
        )
        ds._realize_categories = cached
    return cached
