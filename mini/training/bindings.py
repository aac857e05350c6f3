"""Which dopesheet property drives which optimizer param group's learning rate.

Shared by the trainer and the framework adapters so that the names mean the same everywhere:
a param group with ``"name": g`` follows ``lr-<g>`` when the dopesheet has that column, else
``lr``; a group with neither is left alone.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import torch


def lr_property(group: dict[str, Any], props: Collection[str]) -> str | None:
    """The property that sets ``group``'s learning rate, or ``None``."""
    name = group.get("name")
    if name is not None and f"lr-{name}" in props:
        return f"lr-{name}"
    return "lr" if "lr" in props else None


def lr_targets(
    optimizer: torch.optim.Optimizer, props: Collection[str]
) -> list[tuple[dict[str, Any], str]]:
    """``[(param_group, property), ...]`` for every group some property drives."""
    out = []
    for group in optimizer.param_groups:
        prop = lr_property(group, props)
        if prop is not None:
            out.append((group, prop))
    return out
