"""``bake``: a run's schedule — dopesheet, runtime overrides, live edits — as one dopesheet.

"Save as dopesheet" in the explorer: the baked dopesheet realizes to the values the run used, so
running it headless replays the exploration. Per property the run is cut into pieces: stretches
on a dopesheet's curve and stretches under an override. A piece is written with keys where the
format says exactly what happened — the original keys, a minimum-jerk key where an override
started from rest, a step-end hold, the takeover segment, a crossfade onto a flat schedule — and
otherwise *dense*: a key on every step (``tolerance=0``, exact) or, with a tolerance, the fewest
linear keys (in the property's space) that stay within it. Cut segments of the dopesheet (an
override that starts or ends between two keys of a moving curve) are dense too.
"""

from __future__ import annotations

import dataclasses
import math
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mini.temporal.curves import PropCurve, Steps
from mini.temporal.dopesheet import Dopesheet, Row

if TYPE_CHECKING:
    from mini.temporal.overrides import Override
    from mini.temporal.timeline import Timeline

MAX_DENSE_KEYS = 1_000_000


@dataclass(frozen=True, slots=True)
class _Piece:
    """Steps ``[start, stop)`` of one property: on ``curve`` (``override`` None) or under
    ``override`` made on ``curve``."""

    start: int
    stop: int
    curve: PropCurve
    override: Override | None


def bake(
    timeline: Timeline, actions: Iterable[tuple[int, str]] = (), *, tolerance: float = 0.0
) -> Dopesheet:
    r"""A dopesheet that realizes to the values ``timeline`` gives (its overrides and reloads
    included), with its phases and actions plus ``actions`` (``(step, name)`` pairs, e.g. fired
    at runtime) as ACTION cells.

    ``tolerance=0`` reproduces every value exactly (bit for bit); a positive ``tolerance`` allows
    that relative error (of the value for ``:log`` properties, of the largest magnitude in the
    stretch for linear ones) where the run is approximated, for far fewer keys. Steps where a
    property did not exist yet (added by a reload) take its first baked value.

    Args:
        timeline: the run's timeline, steered or not.
        actions: ``(step, name)`` pairs to write as ACTION cells besides the dopesheet's own.
        tolerance: the relative error allowed; 0 reproduces every value bit for bit.

    >>> from mini.temporal import Dopesheet, Timeline, bake
    >>> tl = Timeline(Dopesheet.from_text("STEP,lr:log\n0,1e-3\n100,1e-4\n"))
    >>> _ = tl.set("lr", 5e-3, duration=20)  # a runtime override from step 0
    >>> baked = bake(tl, actions=[(40, "snapshot")])
    >>> same = Timeline(baked)
    >>> all(same[i].props["lr"] == tl[i].props["lr"] for i in range(len(tl)))
    True
    >>> same[40].actions
    ('snapshot',)
    """
    if not (isinstance(tolerance, int | float) and math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"bake: tolerance must be a finite number >= 0, got {tolerance!r}")
    n = len(timeline)
    extra = [(int(s), str(a)) for s, a in actions]
    for step, action in extra:
        if not 0 <= step < n:
            raise ValueError(f"bake: action {action!r} at step {step} is outside 0..{n - 1}")
    specs = timeline.dopesheet.specs
    keys = {name: _PropBaker(timeline, name, tolerance).run() for name in timeline.names}
    rows: dict[int, Row] = {}

    def row(step: int) -> Row:
        return rows.setdefault(step, Row(step))

    for name, ks in keys.items():
        for k, (step, value, interp, arrival) in enumerate(ks):
            r = row(step)
            r.values[name] = value
            if k == 0:  # nothing arrives at the first key: no curve, no jump
                continue
            if interp != specs[name].interpolator:
                r.curves[name] = interp
            if arrival is not None:
                r.arrivals[name] = arrival
    for step, phase in _phase_starts(timeline):
        rows[step] = dataclasses.replace(row(step), phase=phase)
    for step, action in [*_actions(timeline), *extra]:
        if action not in row(step).actions:
            rows[step] = dataclasses.replace(rows[step], actions=(*rows[step].actions, action))
    row(n - 1)
    source = f"{timeline.dopesheet.source} (baked)"
    return Dopesheet(specs, [rows[s] for s in sorted(rows)], source=source)


def _phase_starts(timeline: Timeline) -> list[tuple[int, str]]:
    """Named phase starts as the run had them (a phase that continues across a reload under
    another name starts anew at the reload)."""
    parts = timeline.dopesheets_between(0, len(timeline))
    out: list[tuple[int, str]] = []
    for k, (a, b, ds) in enumerate(parts):
        current = ds.phase_at(a).name
        if current is not None and (k == 0 or current != parts[k - 1][2].phase_at(a - 1).name):
            out.append((a, current))
        out += [(p.start, p.name) for p in ds.phases if a < p.start < b and p.name is not None]
    return out


def _actions(timeline: Timeline) -> list[tuple[int, str]]:
    parts = timeline.dopesheets_between(0, len(timeline))
    return [(s, name) for a, b, ds in parts for s, name in ds.actions if a <= s < b]


class _PropBaker:
    """The keys of one property: ``(step, value, interpolator arriving, arrival value)``."""

    def __init__(self, timeline: Timeline, name: str, tolerance: float):
        self.tl, self.name, self.tol = timeline, name, tolerance
        self.n = len(timeline)
        self.final = timeline._now.curves[name]
        self.keys: list[tuple[int, float, str, float | None]] = []
        self.dense_keys = 0

    # -- helpers ------------------------------------------------------------------------------------
    def y(self, step: int) -> float:
        """The run's value at ``step``."""
        return self.run_values(step, step + 1)[0]

    def run_values(self, lo: int, hi: int) -> np.ndarray:
        return self.tl._evaluate([self.name], Steps.range(lo, hi))[self.name]

    def add(self, step: int, value: float, interp: str, arrival: float | None = None) -> None:
        if self.keys and step <= self.keys[-1][0]:
            raise AssertionError(f"bake: key at {step} after {self.keys[-1][0]} ({self.name!r})")
        self.keys.append((step, float(value), interp, arrival))

    def boundary(self, b: int, interp: str, arrival: float | None = None) -> None:
        """The key where the next piece starts (none at the end of the run)."""
        if b < self.n:
            self.add(b, self.y(b), interp, arrival)

    def dense(self, p: int, q: int) -> None:
        """Keys on ``(p, q]`` reproducing the run (a key at ``p`` exists)."""
        if q <= p:
            return
        vals = self.run_values(p, q + 1)
        picks = range(1, len(vals)) if self.tol == 0 else self._fit(vals)
        self.dense_keys += len(picks)
        if self.dense_keys > MAX_DENSE_KEYS:
            raise ValueError(
                f"bake: {self.name!r} would need more than {MAX_DENSE_KEYS:,} keys to reproduce "
                "the run exactly; pass a tolerance (e.g. tolerance=1e-6) for fewer keys"
            )
        for i in picks:
            self.add(p + i, vals[i], "linear")

    def _fit(self, vals: np.ndarray) -> list[int]:
        """Indices of the fewest keys (greedy) whose linear interpolation in the property's space
        stays within the tolerance of ``vals`` (index 0 is the existing key)."""
        x = np.log(vals) if self.final.log else vals
        scale = np.abs(vals) if self.final.log else np.full(len(vals), np.abs(vals).max())
        allowed = self.tol * scale

        def ok(i: int, j: int) -> bool:
            """Keys at i and j reproduce i..j: computed as the curve will (linear ``ease``)."""
            y = np.arange(0, j - i + 1, dtype=np.float64) / (j - i) * (x[j] - x[i]) + x[i]
            if self.final.log:
                y = np.exp(y)
            return bool(np.all(np.abs(y - vals[i : j + 1]) <= allowed[i : j + 1]))

        picks, i, last = [], 0, len(vals) - 1
        while i < last:
            good, step = i + 1, 1
            while good + step <= last and ok(i, good + step):
                good += step
                step *= 2
            lo, hi = good, min(good + step, last + 1)  # ok(i, lo), not ok(i, hi) (or past the end)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if ok(i, mid) else (lo, mid)
            picks.append(lo)
            i = lo
        return picks

    # -- pieces -------------------------------------------------------------------------------------
    def pieces(self) -> list[_Piece]:
        from mini.temporal.overrides import influence_end  # called only where overrides are

        eras = self.tl._eras
        out: list[_Piece] = []
        for k, era in enumerate(eras):
            curve = era.curves.get(self.name)
            if curve is None:
                continue
            end = eras[k + 1].start if k + 1 < len(eras) else self.n
            pos = era.start
            ovs = era.overrides[self.name]
            for j, ov in enumerate(ovs):
                until = ovs[j + 1].start if j + 1 < len(ovs) else end
                stop = influence_end(curve, ov)
                b = min(until, end, self.n if stop is None else stop)
                a = max(ov.start, pos)
                if a >= b:
                    continue
                if a > pos:
                    out.append(_Piece(pos, a, curve, None))
                out.append(_Piece(a, b, curve, ov))
                pos = b
            if pos < end:
                out.append(_Piece(pos, end, curve, None))
        merged: list[_Piece] = []
        for p in out:
            last = merged[-1] if merged else None
            if (
                last is not None
                and last.stop == p.start
                and last.override == p.override
                and last.curve.same_schedule(p.curve)
            ):
                merged[-1] = _Piece(last.start, p.stop, last.curve, last.override)
            else:
                merged.append(p)
        return merged

    def run(self) -> list[tuple[int, float, str, float | None]]:
        for piece in self.pieces():
            if piece.curve.log != self.final.log:  # another space: only values carry over
                if not self.keys:
                    self.add(piece.start, self.y(piece.start), "linear")
                self.dense(piece.start, piece.stop - 1)
                self.boundary_after_dense(piece.stop)
            elif piece.override is None:
                self.schedule(piece, first=not self.keys)
            else:
                if not self.keys:
                    self.add(piece.start, self.y(piece.start), "linear")
                self.override(piece)
        return self.keys

    def boundary_after_dense(self, b: int) -> None:
        if b < self.n and self.keys[-1][0] < b:
            self.boundary(b, "linear")

    def schedule(self, piece: _Piece, first: bool) -> None:
        """Steps on a dopesheet curve: its keys, with cut segments held or dense."""
        c, a, b = piece.curve, piece.start, piece.stop
        ks, vs = c.steps, c.values
        k = bisect_right(ks, a) - 1  # the segment holding step a (-1: before the first key)
        pos = a
        if first:
            if a == 0 and ks[0] < b:  # the run starts on this curve: its first key, as it is
                self.add(ks[0], vs[0], c.interpolator_names[0], c.arrivals[0])
                pos, k = ks[0], 0
            else:
                self.add(a, self.y(a), "linear")
        while True:
            nxt = ks[k + 1] if k + 1 < len(ks) else None
            q = b if nxt is None or nxt >= b else nxt  # this stretch: [pos, q)
            if q >= self.n:  # the end of the run: held after the last key
                return
            if k >= 0 and nxt == q and pos == ks[k]:  # an intact segment: the key as it is
                value = self.y(q) if q == b else vs[k + 1]
                self.add(q, value, c.interpolator_names[k + 1], c.arrivals[k + 1])
            elif k < 0 or nxt is None or c.is_flat(k):  # a hold
                self.add(q, self.y(q) if q == b else vs[k + 1], "step-end")
            else:  # a cut, moving segment
                self.dense(pos, q - 1)
                self.add(q, self.y(q) if q == b else vs[k + 1], "linear")
            if q == b:
                return
            pos, k = q, k + 1

    def override(self, piece: _Piece) -> None:
        """Steps under an override: its minimum-jerk move, hold, takeover or crossfade as keys
        where they are exact, dense otherwise."""
        c, ov, a, b = piece.curve, piece.override, piece.start, piece.stop
        assert ov is not None
        from mini.temporal.overrides import path_plan

        plan = path_plan(c, ov)
        r0 = min((r for r, _ in ov.releases), default=None)
        at_target = max(ov.end, ov.start + 1)  # the first step at the target
        if a != ov.start or at_target >= b or (r0 is not None and r0 < at_target):
            self.dense(a, b - 1)
            self.boundary_after_dense(b)
            return
        if ov.end == ov.start:
            self.add(at_target, ov.target_value, "linear")
        elif ov.from_rest and c.to_interp(ov.start_value) == ov.x0:
            self.add(at_target, ov.target_value, "minjerk")
        else:
            self.dense(a, at_target)
        pos = at_target
        held_to = b if r0 is None else min(b, r0)
        if plan.segment is not None:
            held_to = min(held_to, plan.hold_end)
        if held_to >= b:  # held to the end of the piece
            self.boundary(b, "step-end")
            return
        if held_to > pos:
            self.add(held_to, ov.target_value, "step-end")
            pos = held_to
        if r0 is not None and r0 == pos:
            self.crossfade(piece, plan.hold_end is None or plan.hold_end >= b)
        elif plan.segment is not None and pos == plan.hold_end and (r0 is None or r0 >= b):
            k = plan.segment
            if b == c.steps[k + 1] and b < self.n:  # the takeover segment, whole
                self.add(b, self.y(b), c.interpolator_names[k + 1], c.arrivals[k + 1])
            else:
                self.dense(pos, b - 1)
                self.boundary_after_dense(b)
        else:
            self.dense(pos, b - 1)
            self.boundary_after_dense(b)

    def crossfade(self, piece: _Piece, held: bool) -> None:
        """The blend from the held target: one minimum-jerk key when the schedule is flat there
        and nothing cuts it, dense otherwise."""
        c, ov, b = piece.curve, piece.override, piece.stop
        assert ov is not None
        (r, d), many = ov.releases[0], len(ov.releases) > 1
        k = bisect_right(c.steps, r) - 1
        flat = k == bisect_right(c.steps, b - 1) - 1 and (
            k < 0 or k >= len(c.steps) - 1 or c.is_flat(k)
        )
        if held and not many and flat and d > 0 and b == r + d and b < self.n:
            kc = min(max(k, 0), len(c.steps) - 1)
            level = c.ivalues[kc]
            value = self.y(b)
            self.add(b, value, "minjerk", None if c.to_interp(value) == level else c.values[kc])
            return
        self.dense(r, b - 1)
        self.boundary_after_dense(b)
