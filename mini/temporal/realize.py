"""``realize``: the whole schedule as one DataFrame, computed with numpy (no per-step Python)."""

from __future__ import annotations

from numbers import Integral
from typing import TYPE_CHECKING

import numpy as np

from mini.temporal.dopesheet import ACTION, PHASE, STEP, Dopesheet
from mini.temporal.memory_guard import check_allocation
from mini.temporal.timeline import Timeline

if TYPE_CHECKING:
    import pandas as pd


def realize(source: Timeline | Dopesheet, start: int = 0, stop: int | None = None) -> pd.DataFrame:
    """Every step's values on ``[start, stop)``: columns ``STEP``, ``PHASE``, ``ACTION`` and one
    column per property (base name). A :class:`Timeline` includes its runtime overrides, a
    :class:`~mini.temporal.GatedTimeline` the steps run so far; a gated :class:`Dopesheet` gives
    its nominal schedule (no gate holds or moves on), with a warning saying so.

    ``PHASE`` and ``ACTION`` are categorical (``""`` where a step has no phase name or no
    action; several actions on one step are joined with ``;``). ``0 <= start <= stop <= n``;
    a range that cannot fit in memory raises :class:`~mini.temporal.ScheduleTooLargeError`.

    Args:
        source: a timeline or dopesheet.
        start: the first step.
        stop: one past the last (default: the end).
    """
    import pandas as pd  # only here: `import mini.temporal` stays light

    from mini.temporal.gated import GatedTimeline

    if isinstance(source, GatedTimeline):  # a gated run: the steps it ran, as it ran them
        source = source.as_run()
    timeline = source if isinstance(source, Timeline) else Timeline(source)
    ds = timeline.dopesheet
    n = len(timeline)
    for name, value in (("start", start), ("stop", stop)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, Integral)):
            raise TypeError(f"realize: {name} must be a whole step (int), got {value!r}")
    stop = n if stop is None else int(stop)
    start = int(start)
    if not 0 <= start <= stop <= n:
        raise ValueError(
            f"realize(start={start}, stop={stop}): need 0 <= start <= stop <= {n} "
            "(the number of steps; stop=None means the end)"
        )
    count = stop - start
    check_allocation(count, 8 * (len(timeline.names) + 2), "realize")
    steps = np.arange(start, start + count, dtype=np.int64)

    parts = timeline.dopesheets_between(start, stop)
    if len(parts) == 1:
        phase, action = _phase_and_action(ds, start, stop)
    else:  # after reload(): each stretch with the phases and actions it ran
        pieces = [_phase_and_action(d, a, b) for a, b, d in parts]
        phase = pd.api.types.union_categoricals([p for p, _ in pieces])
        action = pd.api.types.union_categoricals([a for _, a in pieces])
    columns: dict[str, object] = {STEP: steps, PHASE: phase, ACTION: action}
    columns.update(timeline.values(start, stop))
    return pd.DataFrame(columns, copy=False)


def _phase_and_action(
    ds: Dopesheet, start: int, stop: int
) -> tuple[pd.Categorical, pd.Categorical]:
    import pandas as pd  # only here: `import mini.temporal` stays light

    phase_dtype, phase_codes, action_dtype, action_codes_at = _categories(ds)
    lengths = np.array(
        [max(0, min(p.end + 1, stop) - max(p.start, start)) for p in ds.phases], dtype=np.int64
    )
    codes = np.repeat(phase_codes, lengths)
    phase = pd.Categorical.from_codes(codes, dtype=phase_dtype, validate=False)
    action_codes = np.zeros(stop - start, dtype=np.int32)
    for step, code in action_codes_at:
        if start <= step < stop:
            action_codes[step - start] = code
    return phase, pd.Categorical.from_codes(action_codes, dtype=action_dtype, validate=False)


def _categories(ds: Dopesheet):
    """Categorical dtypes and codes for PHASE/ACTION, cached on the (immutable) dopesheet."""
    import pandas as pd  # only here: `import mini.temporal` stays light

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
