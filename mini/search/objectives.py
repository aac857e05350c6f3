"""What a search optimises: named metrics of a run, each maximised or minimised."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

Direction = Literal["max", "min"]


@dataclass(frozen=True, slots=True)
class Objective:
    """A metric the run function returns (``key``) and whether larger is better.

    Attributes:
        key: the name of the metric in what the run function returns.
        direction: ``max`` (larger is better) or ``min``.
    """

    key: str
    direction: Direction = "max"

    @property
    def optuna_direction(self) -> str:
        return "maximize" if self.direction == "max" else "minimize"

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` beats ``b``.

        Args:
            a: one value of the metric.
            b: the value to beat.
        """
        return a > b if self.direction == "max" else a < b

    def __str__(self) -> str:
        return f"{self.key}:{self.direction}"


def parse_objective(text: str) -> Objective:
    """``"recon_quality:max"`` or ``"loss:min"`` (``max``/``min`` spelt in full or as
    ``maximize``/``minimize``). Raises ``ValueError`` with the fix.

    Args:
        text: ``KEY:max`` or ``KEY:min``.
    """
    key, sep, direction = text.rpartition(":")
    if not sep or not key:
        raise ValueError(
            f"objective {text!r} has no direction (fix: write KEY:max or KEY:min, e.g. "
            f"{text or 'loss'}:min)"
        )
    d = {"max": "max", "maximize": "max", "min": "min", "minimize": "min"}.get(direction.lower())
    if d is None:
        raise ValueError(f"objective {text!r}: the direction must be max or min, not {direction!r}")
    return Objective(key, d)  # type: ignore[arg-type]


def objectives_of(spec: str | Objective | Iterable[str | Objective]) -> list[Objective]:
    """One or several objectives from text (``"a:max"``) or :class:`Objective` values."""
    items: Sequence[str | Objective] = (
        [spec] if isinstance(spec, str | Objective) else list(spec)  # type: ignore[arg-type]
    )
    out = [o if isinstance(o, Objective) else parse_objective(o) for o in items]
    if not out:
        raise ValueError("a search needs at least one objective (e.g. 'loss:min')")
    keys = [o.key for o in out]
    if len(set(keys)) != len(keys):
        raise ValueError(f"an objective is named twice: {', '.join(keys)}")
    return out
