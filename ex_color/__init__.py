"""The colour curriculum: colour cubes and samplers, ColorMLP, regularisers, handlers, metrics.

>>> from ex_color.experiment import build, summarize
"""

from ex_color.data import (
    ColorCube,
    DynamicWeightedRandomBatchSampler,
    SampledBatches,
    arange_cyclic,
    levels,
    vibrancy,
)
from ex_color.handlers import DataFraction, PhasePlotter, fraction_levels
from ex_color.metrics import HueOrder, anchor_drift, hue_order, recon_mse, ring_norm_error
from ex_color.model import ColorMLP
from ex_color.regularizers import Anchor, Separate, planarity, reconstruction, unitarity

__all__ = [
    "Anchor",
    "ColorCube",
    "ColorMLP",
    "DataFraction",
    "DynamicWeightedRandomBatchSampler",
    "HueOrder",
    "PhasePlotter",
    "SampledBatches",
    "Separate",
    "anchor_drift",
    "arange_cyclic",
    "fraction_levels",
    "hue_order",
    "levels",
    "planarity",
    "recon_mse",
    "reconstruction",
    "ring_norm_error",
    "unitarity",
    "vibrancy",
]
