"""Interpolators: how a property moves between two keys, and the registry that names them.

An :class:`Interpolator` maps normalised time ``τ ∈ [0, 1]`` to progress ``s(τ)`` with ``s(0) = 0``
and ``s(1) = 1``; a segment's value is ``x0 + (x1 − x0)·s(τ)``. The derivatives ``s'`` and ``s''``
let a runtime transition start from a moving state without a kink (C2 continuity).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mini.temporal.records import Record, _set

Shape = Callable[[np.ndarray], np.ndarray]


class Interpolator(Record):
    """A named interpolator (the word dopesheet headers use: ``prop:space:interpolator``).

    ``jumps`` marks interpolators that hold the first value and change only at the next key
    (``step-end``); the timeline treats such segments as discontinuous by design.
    ``velocity``/``acceleration`` are ``s'`` and ``s''``; when omitted they are estimated by
    central differences, which is accurate enough for starting a smooth runtime transition.
    ``shape`` must work elementwise on float64 arrays (it may not depend on the array's length),
    so that every way of reading a timeline gives the same value.

    Attributes:
        name: the word in headers and cells.
        shape: ``s(τ)`` on [0, 1].
        velocity: ``s'(τ)`` (default: central differences).
        acceleration: ``s''(τ)`` (default: central differences).
        jumps: holds the first value until the next key (``step-end``).
    """

    _fields = ("name", "shape", "velocity", "acceleration", "jumps")  # no __slots__: a __dict__
    name: str
    shape: Shape
    velocity: Shape | None
    acceleration: Shape | None
    jumps: bool

    def __init__(
        self,
        name: str,
        shape: Shape,
        velocity: Shape | None = None,
        acceleration: Shape | None = None,
        jumps: bool = False,
    ) -> None:
        _set(self, "name", name)
        _set(self, "shape", shape)
        _set(self, "velocity", velocity)
        _set(self, "acceleration", acceleration)
        _set(self, "jumps", jumps)

    def derivatives(self, tau: float) -> tuple[float, float, float]:
        """``(s, s', s'')`` at one ``τ`` (for the state a runtime transition starts from).

        Args:
            tau: positions in [0, 1].
        """
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


def _cosine(t: np.ndarray) -> np.ndarray:
    # (1 − cos πτ)/2: half a cosine period, as PyTorch's cosine schedules anneal.
    p = np.cos(np.pi * t)
    np.subtract(1.0, p, out=p)
    p *= 0.5
    return p


def _cosine_velocity(t: np.ndarray) -> np.ndarray:
    return 0.5 * np.pi * np.sin(np.pi * t)


def _cosine_acceleration(t: np.ndarray) -> np.ndarray:
    return 0.5 * np.pi * np.pi * np.cos(np.pi * t)


MINJERK = Interpolator("minjerk", _minjerk, _minjerk_velocity, _minjerk_acceleration)
LINEAR = Interpolator("linear", _linear, np.ones_like, np.zeros_like)
STEP_END = Interpolator("step-end", _step_end, np.zeros_like, np.zeros_like, jumps=True)
COSINE = Interpolator("cosine", _cosine, _cosine_velocity, _cosine_acceleration)

_REGISTRY: dict[str, Interpolator] = {}


def register_interpolator(
    interpolator: Interpolator, *aliases: str, replace: bool = False
) -> Interpolator:
    r"""Make ``interpolator`` usable in dopesheet headers as ``prop:space:<name>`` (and aliases).

    Args:
        interpolator: the curve, with a name that has no ``:``, ``,``, ``|`` or spaces.
        *aliases: further names for it in headers and cells.
        replace: allow replacing an interpolator registered under one of the names.

    Returns:
        ``interpolator``, so that it can be used as a decorator-style one-liner.

    >>> import numpy as np
    >>> from mini.temporal import Dopesheet, Interpolator, Timeline, register_interpolator
    >>> _ = register_interpolator(Interpolator("ease-in", lambda t: t * t), replace=True)
    >>> tl = Timeline(Dopesheet.from_text("STEP,x::ease-in\n0,0\n10,1\n"))
    >>> [round(tl[i].props["x"], 2) for i in (0, 5, 10)]
    [0.0, 0.25, 1.0]
    """
    for name in (interpolator.name, *aliases):
        if not name or any(c in name for c in ":,| \t"):
            raise ValueError(
                f"interpolator name {name!r} must be non-empty without ':', ',', '|' or spaces"
            )
        if name in _REGISTRY and not replace and _REGISTRY[name] is not interpolator:
            raise ValueError(f"interpolator {name!r} is already registered (pass replace=True)")
        _REGISTRY[name] = interpolator
    return interpolator


def get_interpolator(name: str) -> Interpolator:
    """The interpolator registered as ``name`` (a ``KeyError`` listing the known ones if none).

    >>> get_interpolator("step") is get_interpolator("step-end")
    True

    Args:
        name: the interpolator's name (``minjerk``, ``linear``, ``step-end``, ...).
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown interpolator {name!r}; known: {', '.join(interpolator_names())}"
        ) from None


def interpolator_names() -> list[str]:
    """Every name a header may use, sorted (aliases included).

    >>> [n for n in interpolator_names() if n in ("cosine", "linear", "minjerk", "step-end")]
    ['cosine', 'linear', 'minjerk', 'step-end']
    """
    return sorted(_REGISTRY)


register_interpolator(MINJERK)
register_interpolator(LINEAR)
register_interpolator(STEP_END, "step")
register_interpolator(COSINE)
