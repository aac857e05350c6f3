"""PyTorch's learning-rate schedules as dopesheets, shipped with the package.

``Dopesheet.preset("one-cycle", total_steps=20_000, max_lr=3e-3)`` reads one (the CSVs beside
this module; ``schedules/presets/README.md`` in the repository says which PyTorch scheduler
each one reproduces), stretched to the run's length and scaled to its peak learning rate.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

from mini.suggest import did_you_mean

if TYPE_CHECKING:
    from mini.temporal.dopesheet import Dopesheet


def preset_names() -> list[str]:
    """The presets' names (``"cosine"``, ``"one-cycle"``, ...)."""
    folder = resources.files(__name__)
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".csv"))


def load_preset(
    cls: type[Dopesheet], name: str, *, total_steps: int | None = None, max_lr: float | None = None
) -> Dopesheet:
    """The preset ``name``; ``total_steps`` stretches it to that many steps
    (:meth:`Dopesheet.scaled`), ``max_lr`` multiplies its ``lr`` keys so the largest is that.

    Args:
        cls: the dopesheet class to build (``Dopesheet.preset`` passes its own; this module
            imports none, so the two modules do not need each other).
        name: a preset's name (see :func:`preset_names`), with or without ``.csv``.
        total_steps: the run's number of optimizer steps.
        max_lr: the peak learning rate (> 0).
    """
    stem = name[:-4] if name.endswith(".csv") else name
    names = preset_names()
    if stem not in names:
        raise ValueError(
            f"no preset {name!r}{did_you_mean(stem, names)}; the presets are: {', '.join(names)}"
        )
    text = resources.files(__name__).joinpath(f"{stem}.csv").read_text(encoding="utf-8")
    ds = cls.from_text(text, source=f"preset {stem!r}")
    if total_steps is not None:
        ds = ds.scaled(int(total_steps))
    if max_lr is not None:
        if not max_lr > 0:
            raise ValueError(f"max_lr must be > 0, got {max_lr}")
        ds = _scaled_lr(ds, float(max_lr))
    return ds


def _scaled_lr(ds: Dopesheet, max_lr: float) -> Dopesheet:
    data = ds.to_dict()
    peak = max(
        v for r in data["rows"] for part in ("values", "arrivals") for k, v in r[part].items()
        if k == "lr"
    )  # fmt: skip
    factor = max_lr / peak
    for r in data["rows"]:
        for part in ("values", "arrivals"):
            if "lr" in r[part]:
                r[part]["lr"] = r[part]["lr"] * factor
    data["source"] = f"{ds.source} (max_lr={max_lr:g})"
    return type(ds).from_dict(data)
