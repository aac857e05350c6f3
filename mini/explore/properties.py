"""Slider ranges for dopesheet properties: from the column's keys, with headroom.

A ``:log`` column gets a log-scaled slider (the slider moves log10 of the value) spanning its
keys plus a decade either side; a linear column its keys' range plus a quarter of it either
side, never below 0 when every key is ≥ 0 (weights, fractions). A ``step-end`` column is
discrete: it moves at once instead of smoothly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mini.temporal import Dopesheet, get_interpolator


@dataclass(frozen=True)
class PropertyInfo:
    """One property's slider: ``lo``/``hi`` in the property's units; ``log`` sliders move
    log10 of the value."""

    name: str
    log: bool
    discrete: bool
    lo: float
    hi: float

    def to_slider(self, value: float) -> float:
        if self.log:
            return math.log10(value) if value > 0 else math.log10(self.lo)
        return value

    def from_slider(self, position: float) -> float:
        return 10.0**position if self.log else position

    @property
    def slider_range(self) -> tuple[float, float]:
        return self.to_slider(self.lo), self.to_slider(self.hi)

    @property
    def slider_step(self) -> float:
        lo, hi = self.slider_range
        return (hi - lo) / 200


def property_info(dopesheet: Dopesheet, name: str) -> PropertyInfo:
    spec = dopesheet.props[name]
    values = [v for _, v in dopesheet.keyframes(name)]
    lo, hi = min(values), max(values)
    discrete = get_interpolator(spec.interpolator).jumps
    if spec.space == "log":
        return PropertyInfo(name, True, discrete, lo / 10.0, hi * 10.0)
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    low, high = lo - 0.25 * span, hi + 0.25 * span
    if lo >= 0:
        low = max(low, 0.0)
    return PropertyInfo(name, False, discrete, low, high)


def property_infos(dopesheet: Dopesheet) -> dict[str, PropertyInfo]:
    """Every property of ``dopesheet``, in column order."""
    return {name: property_info(dopesheet, name) for name in dopesheet.props}
