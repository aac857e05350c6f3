"""The as-run dopesheet of a gated run: the schedule with its gates resolved at the steps they
opened, with no GATE column, realizing to the run's values bit for bit.

Where the schedule ran (the schedule step advancing with the training step, no blend) a segment
of the original lying wholly in that stretch is copied, shifted, with its own keys, interpolator
and jump: ``(s − s0)/(s1 − s0)`` is the same number after shifting both, so every value is the
same. A hold is two equal keys (a segment between equal values holds exactly). Everything else,
the parts of segments a hold or a jump cut and the blends, is written one key per step (no
step lies between consecutive keys, so nothing is interpolated).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mini.temporal.dopesheet import Dopesheet
from mini.temporal.spec import Row

if TYPE_CHECKING:
    from mini.temporal.gated import GatedTimeline

MAX_DENSE_KEYS = 1_000_000


def as_run_dopesheet(tl: GatedTimeline) -> Dopesheet:
    """See the module docstring; ``tl`` is read from step 0 to its current step."""
    ds = tl.dopesheet
    end = tl.state.step
    pieces = [(t0, s0, rate) for t0, s0, rate in tl._pieces if t0 <= end]
    spans = [
        (t0, (pieces[k + 1][0] - 1 if k + 1 < len(pieces) else end), s0, rate)
        for k, (t0, s0, rate) in enumerate(pieces)
    ]
    blended = [(g, g + b) for g, b, _ in tl._blends]
    keys: dict[str, dict[int, tuple[str | None, float | None]]] = {n: {} for n in ds.specs}
    dense = 0
    for name in ds.specs:
        frames = ds.keyframes(name)
        steps = [s for s, _ in frames]
        interps = ds.key_interpolators(name)
        arrivals = ds.key_arrivals(name)
        # (a, b, k): the segment arriving at key k, or a flat stretch (k None): before the first
        # key, after the last, and between equal keys (a constant is two equal keys anywhere)
        stretches: list[tuple[float, float, int | None]] = [(-math.inf, steps[0], None)]
        for k in range(1, len(steps)):
            flat = frames[k][1] == frames[k - 1][1] and arrivals[k] in (None, frames[k][1])
            stretches.append((steps[k - 1], steps[k], None if flat else k))
        stretches.append((steps[-1], math.inf, None))
        out = keys[name]
        for t0, t1, s0, rate in spans:
            if rate == 0:
                out.setdefault(t0, (None, None))
                out.setdefault(t1, (None, None))
                continue
            s1 = s0 + (t1 - t0)
            shift = t0 - s0
            covered: set[int] = set()
            for a, b, k in stretches:
                lo, hi = max(a, s0), min(b, s1)
                if hi <= lo or any(g < hi and lo < h for g, h in blended):
                    continue
                if k is None:  # constant: its two ends within the piece
                    lo, hi = int(lo), int(hi)
                    out.setdefault(lo + shift, (None, None))
                    out.setdefault(hi + shift, (None, None))
                elif s0 <= a and b <= s1:  # a whole segment: its own keys, shifted
                    lo, hi = int(a), int(b)
                    out.setdefault(lo + shift, (None, None))
                    out[hi + shift] = (interps[k], arrivals[k])
                else:
                    continue
                covered.update(range(lo + shift + 1, hi + shift))
            for t in range(t0, t1 + 1):
                if t not in covered and t not in out:
                    out[t] = (None, None)
                    dense += 1
        if dense > MAX_DENSE_KEYS:
            raise ValueError(
                f"the as-run sheet would need more than {MAX_DENSE_KEYS:,} per-step keys"
            )
    states = {}
    for t in sorted({t for k in keys.values() for t in k} | {0, end}):
        states[t] = tl[t]
    for t0, _, _, _ in spans:
        if t0 not in states:
            states[t0] = tl[t0]
    extra = {}
    for t in range(end + 1):  # phase starts and actions (cheap: reads phases, not values)
        sigma = tl.sigma_at(t)
        prev = tl.sigma_at(t - 1) if t > 0 else -1
        starts = t == 0 or ds.phase_at(prev).start != ds.phase_at(sigma).start
        acts = ds.actions_at(sigma) if sigma != prev else ()
        if starts or acts:
            extra[t] = (ds.phase_at(sigma).name if starts else None, acts)
    rows = []
    for t in sorted(set(states) | set(extra)):
        phase, acts = extra.get(t, (None, ()))
        values, curves, arrivals = {}, {}, {}
        st = states.get(t) or tl[t]
        for name in ds.specs:
            if t in keys[name]:
                interp, arrival = keys[name][t]
                values[name] = st.props[name]
                if interp is not None and interp != ds.specs[name].interpolator:
                    curves[name] = interp
                if arrival is not None:
                    arrivals[name] = arrival
        rows.append(Row(t, phase, tuple(acts), values, (), curves, arrivals))
    return Dopesheet(ds.specs, rows, source=f"{ds.source} (as run)")
