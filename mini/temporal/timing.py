"""Timing functions: how a property moves between two keys, and the registry that names them.

An :class:`Easing` maps normalised time ``τ ∈ [0, 1]`` to progress ``s(τ)`` with ``s(0) = 0`` and
``s(1) = 1``; a segment's value is ``x0 + (x1 − x0)·s(τ)``. The derivatives ``s'`` and ``s''`` let a
runtime transition start from a moving state without a kink (C2 continuity).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Shape = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Easing:
    """A named timing function.

    ``jumps`` marks functions that hold the first value and change only at the next key
    (``step-end``); the timeline treats such properties as discontinuous by design.
    ``velocity``/``acceleration`` are ``s'`` and ``s''``; when omitted they are estimated by
    central differences, which is accurate enough for starting a smooth runtime transition.
    """

    name: str
    shape: Shape
    velocity: Shape | None = None
    acceleration: Shape | None = None
    jumps: bool = False

    def derivatives(self, tau: float) -> tuple[float, float, float]:
        """``(s, s', s'')`` at one ``τ`` (for the state a runtime transition starts from)."""
        t = np.array([tau], dtype=np.float64)
        s = float(self.shape(t)[0])
        if self.jumps:
            return s, 0.0, 0.0
        if self.velocity is not None and self.acceleration is not None:
            return s, float(self.velocity(t)[0]), float(self.acceleration(t)[0])
        h = 1e-4
        lo, hi = max(tau - h, 0.0), min(tau + h, 1.0)
        mid = 0.5 * (lo + hi)
        f = self.shape(np.array([lo, mid, hi], dtype=np.float64))
        width = hi - lo
        return s, float((f[2] - f[0]) / width), float(4.0 * (f[2] - 2 * f[1] + f[0]) / width**2)


def _minjerk(t: np.ndarray) -> np.ndarray:
    # 10τ³ − 15τ⁴ + 6τ⁵ in Horner form: τ³·(10 + τ·(−15 + 6τ)).
    p = t * 6.0
    p -= 15.0
    p *= t
    p += 10.0
    p *= t
    p *= t
    p *= t
    return p


def _minjerk_velocity(t: np.ndarray) -> np.ndarray:
    return 30.0 * t * t * (1.0 - t) * (1.0 - t)


def _minjerk_acceleration(t: np.ndarray) -> np.ndarray:
    return 60.0 * t * (1.0 - t) * (1.0 - 2.0 * t)


def _linear(t: np.ndarray) -> np.ndarray:
    return t.copy()


def _step_end(t: np.ndarray) -> np.ndarray:
    return (t >= 1.0).astype(np.float64)


MINJERK = Easing("minjerk", _minjerk, _minjerk_velocity, _minjerk_acceleration)
LINEAR = Easing("linear", _linear, np.ones_like, np.zeros_like)
STEP_END = Easing("step-end", _step_end, np.zeros_like, np.zeros_like, jumps=True)

_REGISTRY: dict[str, Easing] = {}


def register_interpolator(easing: Easing, *aliases: str, replace: bool = False) -> Easing:
    """Make ``easing`` usable in dopesheet headers as ``prop:space:<name>`` (and its aliases)."""
    for name in (easing.name, *aliases):
        if not name or ":" in name or "," in name:
            raise ValueError(f"interpolator name {name!r} must be non-empty without ':' or ','")
        if name in _REGISTRY and not replace and _REGISTRY[name] is not easing:
            raise ValueError(f"interpolator {name!r} is already registered (pass replace=True)")
        _REGISTRY[name] = easing
    return easing


def get_interpolator(name: str) -> Easing:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown interpolator {name!r}; known: {', '.join(interpolator_names())}"
        ) from None


def interpolator_names() -> list[str]:
    return sorted(_REGISTRY)


register_interpolator(MINJERK)
register_interpolator(LINEAR)
register_interpolator(STEP_END, "step")


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

    def _coefficients(self) -> tuple[float, float, float, float, float]:
        d = self.duration
        vel = self.v0 * d  # dx/dτ at τ = 0
        acc = self.a0 * d * d  # d²x/dτ² at τ = 0
        h = self.x1 - self.x0 - vel - 0.5 * acc
        b = -(vel + acc)
        c = -acc
        k3 = 10.0 * h - 4.0 * b + 0.5 * c
        k4 = -15.0 * h + 7.0 * b - c
        k5 = 6.0 * h - 3.0 * b + 0.5 * c
        return vel, acc, k3, k4, k5

    def values(self, u: np.ndarray) -> np.ndarray:
        """Value ``u`` steps after the start (``0 ≤ u ≤ duration``)."""
        vel, acc, k3, k4, k5 = self._coefficients()
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
        p += self.x0
        return p

    def kinematics(self, u: float) -> tuple[float, float, float]:
        """``(x, dx/dstep, d²x/dstep²)`` at ``u`` steps after the start."""
        vel, acc, k3, k4, k5 = self._coefficients()
        d = self.duration
        t = u / d
        x = self.x0 + t * (vel + t * (0.5 * acc + t * (k3 + t * (k4 + t * k5))))
        v = vel + t * (acc + t * (3 * k3 + t * (4 * k4 + t * 5 * k5)))
        a = acc + t * (6 * k3 + t * (12 * k4 + t * 20 * k5))
        return x, v / d, a / (d * d)
