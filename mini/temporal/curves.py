"""Per-property curves: the dopesheet's keys compiled for fast evaluation, plus runtime overrides.

Everything is evaluated over contiguous step ranges with numpy, one segment at a time, so
stepping, random access and ``realize`` all share one code path and agree to the last bit.
Values are interpolated in the property's space (``log`` → in log(value)) and reported in linear
space; at a key step the reported value is the key value itself, exactly.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import asdict, dataclass

import numpy as np

from mini.temporal.dopesheet import Dopesheet, PropSpec
from mini.temporal.timing import Easing, Quintic, get_interpolator


@dataclass(frozen=True, slots=True)
class Override:
    """A runtime ``set()``: a quintic from the state at ``start`` to ``target`` at ``end``.

    Effective from ``start`` (where it reports ``start_value``, the value already in effect there,
    bit for bit) until a later override starts. After ``end`` the property holds ``target_value`` until
    its next key at or after ``end``; from there the dopesheet takes over again (for continuous
    interpolators the segment leaving that key starts from the held value, so nothing jumps).
    ``x0``, ``v0``, ``a0`` and ``target`` are in the property's interpolation space.
    """

    start: int
    end: int
    x0: float
    v0: float
    a0: float
    target: float
    target_value: float
    start_value: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


_RAMP = np.arange(1 << 16, dtype=np.float64)


def _ramp(lo: int, hi: int) -> np.ndarray:
    """``float64(range(lo, hi))`` without allocating for the common short ranges."""
    global _RAMP
    if hi > len(_RAMP):
        _RAMP = np.arange(max(hi, 2 * len(_RAMP)), dtype=np.float64)
    return _RAMP[lo:hi]


class PropCurve:
    """One property's schedule: key steps and values, its space and its easing."""

    def __init__(self, spec: PropSpec, keys: list[tuple[int, float]]):
        self.spec = spec
        self.name = spec.name
        self.log = spec.space == "log"
        self.easing: Easing = get_interpolator(spec.interpolator)
        self.steps = [k for k, _ in keys]
        self.values = [v for _, v in keys]
        self.ivalues = [math.log(v) for v in self.values] if self.log else list(self.values)

    @classmethod
    def from_dopesheet(cls, dopesheet: Dopesheet) -> dict[str, PropCurve]:
        return {
            name: cls(spec, dopesheet.keyframes(name)) for name, spec in dopesheet.props.items()
        }

    def same_schedule(self, other: PropCurve) -> bool:
        return self.spec == other.spec and self.steps == other.steps and self.values == other.values

    # -- reporting helpers ------------------------------------------------------------------------
    def _ease(
        self, lo: int, hi: int, t0: int, length: int, x0: float, x1: float, exact: float, out
    ) -> None:
        """Write into ``out`` the values on ``[lo, hi)`` of a segment that starts at ``t0`` with
        value ``x0`` (interp space) and reaches ``x1`` after ``length`` steps. ``exact`` is the
        reported start value (log props report it, not ``exp(log(x))``, where progress is 0)."""
        np.divide(_ramp(lo - t0, hi - t0), length, out=out)
        s = self.easing.shape(out)
        if s is out or np.shares_memory(s, out):  # a user easing that works in place
            s = s.copy()
        np.multiply(s, x1 - x0, out=out)
        out += x0
        if self.log:
            np.exp(out, out=out)
            out[s == 0.0] = exact

    # -- evaluation ---------------------------------------------------------------------------------
    def evaluate(self, lo: int, hi: int, out: np.ndarray) -> None:
        """Fill ``out[:hi-lo]`` with the dopesheet schedule on steps ``[lo, hi)``."""
        ks, vs, iv = self.steps, self.values, self.ivalues
        last = len(ks) - 1
        first_seg = max(bisect_right(ks, lo) - 1, -1)
        k = first_seg
        pos = lo
        while pos < hi:
            if k < 0:  # before the first key: hold the first value
                end = min(hi, ks[0])
                out[pos - lo : end - lo] = vs[0]
            elif k >= last:  # after the last key: hold the last value
                end = hi
                out[pos - lo : end - lo] = vs[last]
            else:
                end = min(hi, ks[k + 1])
                if end > pos:
                    if self.easing.jumps:
                        out[pos - lo : end - lo] = vs[k]
                    else:
                        length = ks[k + 1] - ks[k]
                        self._ease(
                            pos,
                            end,
                            ks[k],
                            length,
                            iv[k],
                            iv[k + 1],
                            vs[k],
                            out[pos - lo : end - lo],
                        )
            pos = max(pos, end)
            k += 1

    def apply_override(
        self, ov: Override, until: int | None, lo: int, hi: int, out: np.ndarray
    ) -> None:
        """Overwrite ``out`` on ``[lo, hi)`` where ``ov`` is in effect: steps in
        ``[ov.start, until)`` (``until=None``: no later override)."""
        first = max(lo, ov.start)
        last_excl = hi if until is None else min(hi, until)
        if first >= last_excl:
            return
        if first == ov.start:
            out[first - lo] = ov.start_value
            first += 1
            if first >= last_excl:
                return
        # 1. the transition itself, on (start, end)
        a, b = first, min(last_excl, ov.end)
        if b > a:
            q = Quintic(ov.x0, ov.v0, ov.a0, ov.target, ov.end - ov.start)
            y = q.values(np.arange(a - ov.start, b - ov.start, dtype=np.float64))
            out[a - lo : b - lo] = np.exp(y) if self.log else y
        # 2. hold the target until the dopesheet takes over again
        k, takeover, hold_end = self._takeover(ov)
        a = max(first, ov.end)
        b = last_excl if hold_end is None else min(last_excl, hold_end)
        if b > a:
            out[a - lo : b - lo] = ov.target_value
        if hold_end is None or self.easing.jumps:
            return
        # 3. the segment leaving the takeover key starts from the held value
        a, b = max(first, takeover), min(last_excl, self.steps[k + 1])
        if b > a:
            self._ease(
                a,
                b,
                takeover,
                self.steps[k + 1] - takeover,
                ov.target,
                self.ivalues[k + 1],
                ov.target_value,
                out[a - lo : b - lo],
            )

    def _takeover(self, ov: Override) -> tuple[int, int, int | None]:
        """``(k, step of key k, end of the hold)`` where key ``k`` is the first at or after the
        transition's end. The hold is endless (``None``) when no key follows or, for continuous
        props, when key ``k`` is the last one (nothing left to rejoin smoothly)."""
        ks = self.steps
        k = bisect_left(ks, ov.end)
        if k >= len(ks) or (not self.easing.jumps and k + 1 >= len(ks)):
            return k, -1, None
        return k, ks[k], ks[k]

    # -- kinematics (for starting a smooth transition) --------------------------------------------
    def kinematics(self, step: int) -> tuple[float, float, float]:
        """``(x, dx/dstep, d²x/dstep²)`` of the schedule at ``step``, in interpolation space."""
        ks, iv = self.steps, self.ivalues
        k = bisect_right(ks, step) - 1
        if k < 0:
            return iv[0], 0.0, 0.0
        if k >= len(ks) - 1:
            return iv[-1], 0.0, 0.0
        return self._segment_kinematics(step, ks[k], ks[k + 1] - ks[k], iv[k], iv[k + 1])

    def _segment_kinematics(
        self, step: int, t0: int, length: int, x0: float, x1: float
    ) -> tuple[float, float, float]:
        if self.easing.jumps:
            return x0, 0.0, 0.0
        s, ds, dds = self.easing.derivatives((step - t0) / length)
        d = x1 - x0
        return x0 + d * s, d * ds / length, d * dds / (length * length)

    def override_kinematics(self, ov: Override, step: int) -> tuple[float, float, float] | None:
        """Kinematics at ``step`` under ``ov``, or ``None`` if the schedule is back in charge."""
        if step < ov.start:
            return None
        if step < ov.end:
            q = Quintic(ov.x0, ov.v0, ov.a0, ov.target, ov.end - ov.start)
            return q.kinematics(step - ov.start)
        k, takeover, hold_end = self._takeover(ov)
        if hold_end is None or step < hold_end:
            return ov.target, 0.0, 0.0
        if self.easing.jumps or step >= self.steps[k + 1]:
            return None
        return self._segment_kinematics(
            step, takeover, self.steps[k + 1] - takeover, ov.target, self.ivalues[k + 1]
        )

    def to_interp(self, value: float) -> float:
        if self.log:
            if not value > 0:
                raise ValueError(f"{self.name!r} is in log space: value must be > 0, got {value!r}")
            return math.log(value)
        return float(value)
