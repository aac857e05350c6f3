"""Per-property curves: the dopesheet's keys compiled for fast evaluation.

A curve is evaluated at sorted whole steps (:class:`Steps`: a contiguous range, or any samples)
with numpy, one key-to-key segment at a time, and every element is computed from its own step
only, so stepping, random access, ``realize`` and sampled plots agree to the last bit whatever
window they read. Values are interpolated in the property's space (``log`` → in log(value)) and
reported in linear space; at a key step the reported value is the key value itself, exactly.

Each segment has its own interpolator (the one named at the key it arrives at) and may arrive at
a value other than its key's (a *jump key*: the curve reaches the arrival value and the key's
value applies from the key step on, as warm restarts need).
"""

from __future__ import annotations

import math
import sys
from bisect import bisect_right
from collections.abc import Sequence

import numpy as np

from mini.temporal.dopesheet import Dopesheet, PropSpec
from mini.temporal.interpolators import Interpolator, Shape, get_interpolator

_BIG = 1e300  # beyond this, x1 − x0 may overflow: interpolate as x0·(1−s) + x1·s instead
_MAX = sys.float_info.max
_RAMP = np.arange(1 << 16, dtype=np.float64)


class Steps:
    """Sorted whole steps as float64 (exact below 2**53): a contiguous range, whose positions are
    found by arithmetic, or arbitrary samples, found by binary search (read-only by convention).

    Args:
        t: the steps.
        contiguous: whether they are ``t[0], t[0] + 1, ...``.
    """

    __slots__ = ("contiguous", "t")

    def __init__(self, t: np.ndarray, contiguous: bool) -> None:
        self.t = t
        self.contiguous = contiguous

    def __repr__(self) -> str:
        return f"Steps(t={self.t!r}, contiguous={self.contiguous!r})"

    @classmethod
    def range(cls, lo: int, hi: int) -> Steps:
        if hi <= len(_RAMP):  # the common short windows: no allocation
            return cls(_RAMP[lo:hi], True)
        return cls(np.arange(lo, max(lo, hi), dtype=np.float64), True)

    @classmethod
    def of(cls, steps: np.ndarray) -> Steps:
        return cls(np.asarray(steps, dtype=np.float64), False)

    def __len__(self) -> int:
        return len(self.t)

    def index(self, step: int) -> int:
        """How many of these steps come before ``step``."""
        n = len(self.t)
        if self.contiguous:
            return 0 if n == 0 else min(n, max(0, int(step - self.t[0])))
        return int(np.searchsorted(self.t, step))

    def slice(self, i: int, j: int) -> Steps:
        return Steps(self.t[i:j], self.contiguous)


def mix(x0: float, x1: float, s: np.ndarray, out: np.ndarray) -> None:
    """``out = x0 + (x1 − x0)·s`` without overflow for keys near ±1.8e308 (then computed as
    ``x0·(1 − s) + x1·s`` and kept finite; ``s = 0`` still gives ``x0`` and ``s = 1`` ``x1``)."""
    if abs(x0) <= _BIG and abs(x1) <= _BIG:
        np.multiply(s, x1 - x0, out=out)
        out += x0
        return
    rest = np.subtract(1.0, s)
    rest *= x0
    np.multiply(s, x1, out=out)
    out += rest
    np.clip(out, -_MAX, _MAX, out=out)


def mix_arrays(a: np.ndarray, b: np.ndarray, u: np.ndarray, out: np.ndarray) -> None:
    """Elementwise ``a + (b − a)·u`` (``out`` may be ``a``), overflow-safe like :func:`mix`; the
    formula for each element depends on that element only."""
    big = np.abs(a) > _BIG
    big |= np.abs(b) > _BIG
    if not big.any():
        d = np.subtract(b, a)
        d *= u
        np.add(a, d, out=out)
        return
    with np.errstate(over="ignore", invalid="ignore"):
        d = np.subtract(b, a)
        d *= u
    safe = a[big] * (1.0 - u[big]) + b[big] * u[big]
    np.add(a, d, out=out, where=~big)
    out[big] = np.clip(safe, -_MAX, _MAX)


def ease(
    t: np.ndarray, t0: int, length: int, x0: float, x1: float, shape: Shape, out: np.ndarray
) -> None:
    """Values at steps ``t`` of a segment that leaves ``x0`` at ``t0`` and reaches ``x1`` after
    ``length`` steps along ``shape`` (interpolation space)."""
    n = len(t)
    offset = int(t[0] - t0) if n else 0
    if n and t[n - 1] - t[0] == n - 1 and offset >= 0 and offset + n <= len(_RAMP):
        np.divide(_RAMP[offset : offset + n], length, out=out)  # the same τ, in one pass
    else:
        np.subtract(t, t0, out=out)
        out /= length
    s = shape(out)
    if s is out or np.shares_memory(s, out):  # a user shape that works in place
        s = s.copy()
    mix(x0, x1, s, out)


class PropCurve:
    """One property's schedule: key steps and values, its space and per-segment interpolators.

    ``interpolators[k]`` names the interpolator of the segment arriving at key ``k`` (the first
    entry is unused); ``arrivals[k]`` is the value that segment arrives at, ``None`` for the key's
    own value (a jump key has another one). Both default to the column's for every key.
    """

    def __init__(
        self,
        spec: PropSpec,
        keys: Sequence[tuple[int, float]],
        interpolators: Sequence[str] | None = None,
        arrivals: Sequence[float | None] | None = None,
    ):
        self.spec = spec
        self.name = spec.name
        self.log = spec.space == "log"
        self.steps = [int(k) for k, _ in keys]
        self.values = [float(v) for _, v in keys]
        self.ivalues = [self.to_interp(v) for v in self.values]
        names = [spec.interpolator] * len(keys) if interpolators is None else list(interpolators)
        arrive = [None] * len(keys) if arrivals is None else list(arrivals)
        if not len(names) == len(arrive) == len(keys):
            raise ValueError(
                f"{self.name!r}: {len(keys)} keys but {len(names)} interpolators and "
                f"{len(arrive)} arrival values"
            )
        self.interpolator_names = names
        self.arrivals = arrive
        self.interps: list[Interpolator] = [get_interpolator(n) for n in names]
        self.arrive = [
            iv if a is None else self.to_interp(a)
            for iv, a in zip(self.ivalues, arrive, strict=True)
        ]

    @classmethod
    def from_dopesheet(cls, dopesheet: Dopesheet) -> dict[str, PropCurve]:
        """Every property's curve, compiled once per (immutable) dopesheet."""
        cached = getattr(dopesheet, "_compiled_curves", None)
        if cached is None:
            cached = {}
            for name, spec in dopesheet.specs.items():
                interps, arrivals = key_curves(dopesheet, name)
                cached[name] = cls(spec, dopesheet.keyframes(name), interps, arrivals)
            dopesheet._compiled_curves = cached
        return dict(cached)

    def same_schedule(self, other: PropCurve) -> bool:
        return (
            self.spec == other.spec
            and self.steps == other.steps
            and self.values == other.values
            and self.interpolator_names == other.interpolator_names
            and self.arrivals == other.arrivals
        )

    def to_interp(self, value: float) -> float:
        if self.log:
            if not value > 0:
                raise ValueError(f"{self.name!r} is in log space: value must be > 0, got {value!r}")
            return math.log(value)
        return float(value)

    def is_flat(self, k: int) -> bool:
        """Whether segment ``k`` (key ``k`` → ``k + 1``) holds one value until its end."""
        return self.interps[k + 1].jumps or self.ivalues[k] == self.arrive[k + 1]

    # -- evaluation ---------------------------------------------------------------------------------
    def evaluate(self, steps: Steps, out: np.ndarray, *, interp_space: bool = False) -> None:
        """Fill ``out`` with the schedule at ``steps`` (reported values, or interpolation space)."""
        n = len(steps)
        if n == 0:
            return
        ks = self.steps
        last = len(ks) - 1
        held = self.ivalues if interp_space else self.values
        k = bisect_right(ks, steps.t[0]) - 1
        i = 0
        while i < n:
            if k >= last:  # after the last key: hold its value
                out[i:] = held[last]
                return
            j = steps.index(ks[k + 1])
            if j > i:
                if k < 0:  # before the first key: hold its value
                    out[i:j] = held[0]
                else:
                    self._segment(k, steps.t[i:j], out[i:j], interp_space)
            i = j
            k += 1

    def _segment(self, k: int, t: np.ndarray, out: np.ndarray, interp_space: bool) -> None:
        interp = self.interps[k + 1]
        exact = self.ivalues[k] if interp_space else self.values[k]
        if interp.jumps or self.ivalues[k] == self.arrive[k + 1]:  # holds the key value exactly
            out[:] = exact
            return
        ks = self.steps
        ease(t, ks[k], ks[k + 1] - ks[k], self.ivalues[k], self.arrive[k + 1], interp.shape, out)
        if self.log and not interp_space:
            np.exp(out, out=out)
        if t[0] == ks[k]:
            out[0] = exact

    def ease_segment(self, k: int, t: np.ndarray, out: np.ndarray, x0: float) -> None:
        """Segment ``k`` (interpolation space) as if it left ``x0`` (a runtime takeover)."""
        ks = self.steps
        ease(t, ks[k], ks[k + 1] - ks[k], x0, self.arrive[k + 1], self.interps[k + 1].shape, out)

    # -- kinematics (for starting a smooth transition) --------------------------------------------
    def kinematics(self, step: int) -> tuple[float, float, float]:
        """``(x, dx/dstep, d²x/dstep²)`` of the schedule at ``step``, in interpolation space."""
        ks, iv = self.steps, self.ivalues
        k = bisect_right(ks, step) - 1
        if k < 0:
            return iv[0], 0.0, 0.0
        if k >= len(ks) - 1:
            return iv[-1], 0.0, 0.0
        return self.segment_kinematics(k, step, iv[k])

    def segment_kinematics(self, k: int, step: int, x0: float) -> tuple[float, float, float]:
        """Kinematics at ``step`` of segment ``k`` leaving ``x0``."""
        interp = self.interps[k + 1]
        if interp.jumps:
            return x0, 0.0, 0.0
        length = self.steps[k + 1] - self.steps[k]
        s, ds, dds = interp.derivatives((step - self.steps[k]) / length)
        x1 = self.arrive[k + 1]
        if abs(x0) <= _BIG and abs(x1) <= _BIG:
            d = x1 - x0
            return x0 + d * s, d * ds / length, d * dds / (length * length)
        x = min(max(x0 * (1.0 - s) + x1 * s, -_MAX), _MAX)
        return x, (x1 * ds - x0 * ds) / length, (x1 * dds - x0 * dds) / (length * length)


def key_curves(dopesheet: Dopesheet, name: str) -> tuple[list[str], list[float | None]]:
    """Per key of ``name`` in step order: the interpolator of the segment arriving at it and the
    value that segment arrives at (``None``: the key's own value), as the dopesheet's cells give
    them (``3e-3 linear``, ``1e-5|1e-3``); cells that name no interpolator use the column's."""
    return dopesheet.key_interpolators(name), dopesheet.key_arrivals(name)
