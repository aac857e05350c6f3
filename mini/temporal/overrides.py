"""Runtime overrides: smooth departures from the schedule, and the way back onto it.

An :class:`Override` moves a property along a quintic from its state when ``set()`` was called
(value, velocity, acceleration) to a target, then holds it. It ends in one of two ways:

* ``hold=None`` (until the next key): the dopesheet takes over at the first key at or after
  the transition's end — continuously (the segment leaving that key starts from the held
  value) or, for a key reached by a ``step-end`` segment, with the key's jump;
* a *release* ``(r, d)`` (``set(..., hold=N)`` plans one at the end of the hold, ``follow()``
  adds one now): from step ``r`` the override crossfades onto the schedule,
  ``x = own + (schedule − own)·s((t − r)/d)`` with the minimum-jerk ``s``, whose ``s'`` and
  ``s''`` vanish at both ends, so the path is C2 on entering and leaving the blend and equals the
  schedule exactly from ``r + d`` on. Later releases nest (``u ← u + (1 − u)·s``).

Everything is computed in the property's interpolation space (log for ``:log`` columns).
"""

from __future__ import annotations

import math
import sys
from bisect import bisect_left
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mini.temporal.curves import PropCurve, Steps, ease, mix_arrays
from mini.temporal.interpolators import MINJERK

_BIG = 1e300
_MAX = sys.float_info.max


@dataclass(frozen=True, slots=True)
class Override:
    """A runtime change of one property, in effect from ``start`` until a later override starts
    or the schedule is back in charge (see the module docstring).

    ``x0``, ``v0``, ``a0`` (state at ``start``, per step) and ``target`` are in interpolation
    space; ``start_value`` is the value already in effect at ``start`` (reported there, bit for
    bit) and ``target_value`` the value asked for. ``hold`` is ``None`` (hold until the next key)
    or the planned number of held steps; ``releases`` are the ``(step, duration)`` crossfades back.
    """

    start: int
    end: int
    x0: float
    v0: float
    a0: float
    target: float
    target_value: float
    start_value: float
    hold: int | None = None
    releases: tuple[tuple[int, int], ...] = ()

    @property
    def from_rest(self) -> bool:
        """Started with zero velocity and acceleration (a plain minimum-jerk move)."""
        return self.v0 == 0.0 and self.a0 == 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["releases"] = [list(r) for r in self.releases]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Override:
        d = dict(d)
        d["releases"] = tuple((int(r), int(n)) for r, n in d.get("releases", ()))
        return cls(**d)


@dataclass(frozen=True, slots=True)
class Quintic:
    """The quintic from a moving state ``(x0, v0, a0)`` to rest at ``x1`` after ``duration`` steps.

    This is minimum jerk generalised to a non-zero start velocity/acceleration, so a transition
    that interrupts a moving property keeps value, velocity and acceleration continuous. From rest
    (``v0 = a0 = 0``) it equals ``x0 + (x1 − x0)·(10τ³ − 15τ⁴ + 6τ⁵)``.
    """

    x0: float
    v0: float
    a0: float
    x1: float
    duration: float

    def _scale(self) -> float:
        """A power of two that keeps the arithmetic finite for states near ±1.8e308."""
        d = self.duration
        size = max(abs(self.x0), abs(self.x1), abs(self.v0 * d), abs(self.a0 * d * d))
        return 1.0 if size <= _BIG else 2.0**-64

    def _coefficients(self, scale: float) -> tuple[float, float, float, float, float, float]:
        d = self.duration
        x0, x1 = self.x0 * scale, self.x1 * scale
        vel = self.v0 * scale * d  # dx/dτ at τ = 0
        acc = self.a0 * scale * d * d  # d²x/dτ² at τ = 0
        h = x1 - x0 - vel - 0.5 * acc
        b = -(vel + acc)
        c = -acc
        k3 = 10.0 * h - 4.0 * b + 0.5 * c
        k4 = -15.0 * h + 7.0 * b - c
        k5 = 6.0 * h - 3.0 * b + 0.5 * c
        return x0, vel, acc, k3, k4, k5

    def values(self, u: np.ndarray) -> np.ndarray:
        """Value ``u`` steps after the start (``0 ≤ u ≤ duration``)."""
        scale = self._scale()
        x0, vel, acc, k3, k4, k5 = self._coefficients(scale)
        t = u / self.duration
        p = t * k5
        p += k4
        p *= t
        p += k3
        p *= t
        p += 0.5 * acc
        p *= t
        p += vel
        p *= t
        p += x0
        if scale != 1.0:
            p /= scale
            np.clip(p, -_MAX, _MAX, out=p)
        return p

    def kinematics(self, u: float) -> tuple[float, float, float]:
        """``(x, dx/dstep, d²x/dstep²)`` at ``u`` steps after the start."""
        scale = self._scale()
        x0, vel, acc, k3, k4, k5 = self._coefficients(scale)
        d = self.duration
        t = u / d
        x = x0 + t * (vel + t * (0.5 * acc + t * (k3 + t * (k4 + t * k5))))
        v = vel + t * (acc + t * (3 * k3 + t * (4 * k4 + t * 5 * k5)))
        a = acc + t * (6 * k3 + t * (12 * k4 + t * 20 * k5))
        x = min(max(x / scale, -_MAX), _MAX)
        return x, v / scale / d, a / scale / (d * d)


@dataclass(frozen=True, slots=True)
class _Plan:
    """How an override's own path continues after its transition.

    ``hold_end``: the first step no longer held at the target (``None``: held for good);
    ``resume``: the first step back on the schedule by itself (``None``: never, only a release
    ends it); ``segment``: the schedule segment that takes over from the held value at
    ``hold_end`` (``None``: none)."""

    hold_end: int | None
    resume: int | None
    segment: int | None


def _plan(curve: PropCurve, ov: Override) -> _Plan:
    if ov.hold is not None:
        return _Plan(None, None, None)
    ks = curve.steps
    k = bisect_left(ks, ov.end)  # the first key at or after the transition's end
    if k >= len(ks):
        return _Plan(None, None, None)
    if curve.interps[k].jumps:  # a step-end key applies its value at its step, exactly
        return _Plan(ks[k], ks[k], None)
    if k + 1 >= len(ks):  # nothing left to rejoin smoothly
        return _Plan(None, None, None)
    if curve.interps[k + 1].jumps:
        return _Plan(ks[k + 1], ks[k + 1], None)
    return _Plan(ks[k], ks[k + 1], k)


def influence_end(curve: PropCurve, ov: Override) -> int | None:
    """The first step from which the schedule is back in charge exactly (``None``: never). Never
    before ``start + 1``: the start step keeps the value already in effect there."""
    ends = [r + d for r, d in ov.releases]
    resume = _plan(curve, ov).resume
    if resume is not None:
        ends.append(resume)
    return max(min(ends), ov.start + 1) if ends else None


def _release_progress(releases: tuple[tuple[int, int], ...], t: np.ndarray) -> np.ndarray:
    """How far (0 → 1) the releases have moved each step at ``t`` onto the schedule."""
    u = np.zeros(len(t))
    for r, d in sorted(releases):
        if d == 0:  # an immediate return: the override has ended by step r
            continue
        tau = np.subtract(t, r)
        tau /= d
        np.clip(tau, 0.0, 1.0, out=tau)
        s = MINJERK.shape(tau)
        s *= 1.0 - u
        u += s
    return u


def _release_kinematics(
    releases: tuple[tuple[int, int], ...], step: int
) -> tuple[float, float, float]:
    u = du = ddu = 0.0
    for r, d in sorted(releases):
        if d == 0 or step <= r:
            continue
        s, ds, dds = MINJERK.derivatives(min((step - r) / d, 1.0))
        ds, dds = ds / d, dds / (d * d)
        u, du, ddu = (
            u + (1.0 - u) * s,
            du * (1.0 - s) + (1.0 - u) * ds,
            ddu * (1.0 - s) - 2.0 * du * ds + (1.0 - u) * dds,
        )
    return u, du, ddu


def apply_override(
    curve: PropCurve, ov: Override, until: int | None, steps: Steps, out: np.ndarray
) -> None:
    """Overwrite ``out`` (the schedule at ``steps``) where ``ov`` is in effect: from its start
    until ``until`` (a later override's start; ``None``: none) or the schedule's return."""
    stop = influence_end(curve, ov)
    if until is not None:
        stop = until if stop is None else min(stop, until)
    i = steps.index(ov.start)
    j = len(steps) if stop is None else steps.index(stop)
    if i >= j:
        return
    sub = steps.slice(i, j)
    t, o, n = sub.t, out[i:j], j - i
    plan = _plan(curve, ov)
    a = sub.index(ov.end)  # [0, a): the transition
    b = n if plan.hold_end is None else sub.index(plan.hold_end)  # [a, b): held
    x = np.empty(n)
    if a > 0:
        if ov.from_rest:  # the same arithmetic as a minjerk key-to-key segment
            ease(t[:a], ov.start, ov.end - ov.start, ov.x0, ov.target, MINJERK.shape, x[:a])
        else:
            x[:a] = Quintic(ov.x0, ov.v0, ov.a0, ov.target, ov.end - ov.start).values(
                t[:a] - ov.start
            )
    if plan.segment is None:  # (only the start step can lie past a hold that ends at once)
        b = n
    x[a:b] = ov.target
    if b < n:  # [b, n): the schedule's segment taking over from the held value
        curve.ease_segment(plan.segment, t[b:], x[b:], ov.target)
    m = n if not ov.releases else sub.index(min(r for r, _ in ov.releases) + 1)
    if m < n:  # [m, n): crossfading onto the schedule
        schedule = np.empty(n - m)
        curve.evaluate(sub.slice(m, n), schedule, interp_space=True)
        mix_arrays(x[m:], schedule, _release_progress(ov.releases, t[m:]), x[m:])
    if curve.log:
        np.exp(x, out=o)
    else:
        o[:] = x
    held_to = min(b, m)
    if held_to > a:  # report held steps as the value asked for, not exp(log(value))
        o[a:held_to] = ov.target_value
    if plan.segment is not None and b < m and t[b] == plan.hold_end:
        o[b] = ov.target_value
    if t[0] == ov.start:
        o[0] = ov.start_value


def override_kinematics(
    curve: PropCurve, ov: Override, step: int
) -> tuple[float, float, float] | None:
    """Kinematics at ``step`` under ``ov``, or ``None`` if the schedule is back in charge."""
    end = influence_end(curve, ov)
    if step < ov.start or (end is not None and step >= end):
        return None
    plan = _plan(curve, ov)
    if step < ov.end:
        own = Quintic(ov.x0, ov.v0, ov.a0, ov.target, ov.end - ov.start).kinematics(step - ov.start)
    elif plan.segment is not None and step >= plan.hold_end:
        own = curve.segment_kinematics(plan.segment, step, ov.target)
    else:
        own = (ov.target, 0.0, 0.0)
    u, du, ddu = _release_kinematics(ov.releases, step)
    if u == 0.0 and du == 0.0 and ddu == 0.0:
        return own
    (xa, va, aa), (xb, vb, ab) = own, curve.kinematics(step)
    return (
        xa + (xb - xa) * u,
        va + (vb - va) * u + (xb - xa) * du,
        aa + (ab - aa) * u + 2.0 * (vb - va) * du + (xb - xa) * ddu,
    )


def finite_state(state: tuple[float, float, float]) -> bool:
    return all(math.isfinite(v) for v in state)
