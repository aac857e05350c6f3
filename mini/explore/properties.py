"""Slider ranges for dopesheet properties: from the column's keys, with headroom.

A ``:log`` column gets a log-scaled slider (the slider moves log10 of the value) spanning its
keys' decades plus one either side; a linear column its keys' range plus a quarter of it either
side, never below 0 when every key is ≥ 0 (weights, fractions); a constant column 0 … twice
its value. A ``step-end`` column is
discrete: it moves at once instead of smoothly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mini.temporal import Dopesheet, get_interpolator


@dataclass(frozen=True)
class PropertyInfo:
    """One property's slider: ``lo``/``hi`` in the property's units; ``log`` sliders move
    log10 of the value.

    Attributes:
        name: the property.
        log: the slider moves log10 of the value.
        discrete: a ``step-end`` column (values jump).
        lo: the slider's low end, in the property's units.
        hi: its high end.
    """

    name: str
    log: bool
    discrete: bool
    lo: float
    hi: float

    def to_slider(self, value: float) -> float:
        """The slider position of ``value``.

        Args:
            value: in the property's units.
        """
        if self.log:
            return round(math.log10(value), 4) if value > 0 else math.log10(self.lo)
        return value

    def from_slider(self, position: float) -> float:
        """The value at a slider position.

        Args:
            position: the slider's position.
        """
        return 10.0**position if self.log else position

    @property
    def slider_range(self) -> tuple[float, float]:
        return self.to_slider(self.lo), self.to_slider(self.hi)

    @property
    def decimals(self) -> int:
        """Decimals the slider shows (those of its step)."""
        return max(0, -math.floor(math.log10(self.slider_step) + 1e-9))

    @property
    def slider_step(self) -> float:
        lo, hi = self.slider_range
        return 10.0 ** math.floor(
            math.log10((hi - lo) / 100)
        )  # a power of ten: keys stay reachable


def property_info(dopesheet: Dopesheet, name: str) -> PropertyInfo:
    spec = dopesheet.specs[name]
    values = [v for _, v in dopesheet.keyframes(name)]
    lo, hi = min(values), max(values)
    discrete = get_interpolator(spec.interpolator).jumps
    if spec.space == "log":  # whole decades: a decade of headroom either side
        return PropertyInfo(
            name, True, discrete, 10.0 ** (math.floor(math.log10(lo)) - 1),
            10.0 ** (math.ceil(math.log10(hi)) + 1),
        )  # fmt: skip
    if hi == lo:  # a constant column: 0 … twice its value (or ±1 around 0)
        low, high = (min(0.0, 2 * lo), max(0.0, 2 * hi)) if lo != 0 else (0.0, 1.0)
        return PropertyInfo(name, False, discrete, low, high)
    span = hi - lo
    low, high = lo - 0.25 * span, hi + 0.25 * span
    if lo >= 0:
        low = max(low, 0.0)
    unit = 10.0 ** (math.floor(math.log10(span)) - 1)  # tidy ends: two digits of the span
    low, high = math.floor(low / unit) * unit, math.ceil(high / unit) * unit
    return PropertyInfo(name, False, discrete, float(f"{low:.12g}"), float(f"{high:.12g}"))


def property_infos(dopesheet: Dopesheet) -> dict[str, PropertyInfo]:
    """Every property of ``dopesheet``, in column order.

    Args:
        dopesheet: the run's dopesheet.
    """
    return {name: property_info(dopesheet, name) for name in dopesheet.specs}
