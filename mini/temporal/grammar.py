"""The cell grammar: what a STEP, property or ACTION cell may contain, read one cell at a time.

Each reader returns the parsed value or raises :class:`CellError` with the message and the fix
that the parser reports at that cell. Step arithmetic is exact (``Fraction``), so a fraction
of an interval, ``1.5ep`` or ``50%`` lands on the step the format promises, never one off
through float rounding.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from mini.suggest import did_you_mean
from mini.temporal.interpolators import get_interpolator, interpolator_names
from mini.temporal.spec import MAX_STEP

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_STEP = re.compile(
    r"(?P<sign>[+-]?)(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(?P<unit>ep|%)?",
    re.IGNORECASE | re.ASCII,
)
_ACTION_SPLIT = re.compile(r"[,;]")

is_number = _NUMBER.fullmatch
"""Whether a stripped cell is spelt as a number (``float()`` then gives it; it may be inf)."""

STEP_FORMS = (
    "write an absolute step (e.g. 3000), an offset (+500, -500), a fraction of the interval "
    "(+0.25, -0.25), epochs (2ep, +1ep) or a share of the run (50%)"
)


class CellError(Exception):
    """A cell that cannot be read: ``message`` says what, ``fix`` how to repair it."""

    def __init__(self, message: str, fix: str):
        super().__init__(message)
        self.message = message
        self.fix = fix


StepKind = Literal["absolute", "offset", "fraction"]


@dataclass(frozen=True, slots=True)
class Units:
    """What ``ep`` and ``%`` mean for one parse: ``steps_per_epoch`` steps make an epoch and
    the run has ``total_steps`` steps (its last step is ``total_steps - 1``)."""

    steps_per_epoch: int | None = None
    total_steps: int | None = None

    def __post_init__(self) -> None:
        for name in ("steps_per_epoch", "total_steps"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(f"{name} must be a positive whole number, got {value!r}")


@dataclass(frozen=True, slots=True)
class StepCell:
    """A parsed STEP cell. ``absolute`` rows are anchors at step ``amount``; an ``offset`` moves
    ``amount`` steps after the previous anchor (``sign`` +1) or before the next (``sign`` -1); a
    ``fraction`` moves ``amount / denominator`` (between 0 and 1, exact) of the interval between
    the two anchors."""

    kind: StepKind
    sign: int
    amount: int
    text: str
    denominator: int = 1

    def share_of(self, span: int) -> int:
        """``round_half_up(amount / denominator * span)``, exactly, in integers."""
        return (2 * self.amount * span + self.denominator) // (2 * self.denominator)


def round_half_up(x: Fraction) -> int:
    """Round to the nearest whole number, halves up (0.5 → 1, 2.5 → 3), exactly."""
    return math.floor(x + Fraction(1, 2))


def read_step(text: str, units: Units) -> StepCell:
    """Parse a STEP cell (see ``docs/format.md``, "STEP")."""
    t = text.strip()
    if not t:
        raise CellError("STEP is empty", STEP_FORMS)
    if t.isascii():  # the common cases, fast: 3000, +500, -500, +0.25, -.25
        if t.isdigit():
            _check_size(t, step := int(t))
            return StepCell("absolute", 0, step, t)
        body = t[1:]
        if t[0] in "+-" and body:
            sign = 1 if t[0] == "+" else -1
            if body.isdigit():
                _check_size(t, step := int(body))
                return StepCell("offset", sign, step, t)
            head, dot, tail = body.partition(".")
            if dot and tail.isdigit() and (not head or head.isdigit()):
                return _fraction(t, int(head + tail), 10 ** len(tail), sign)
    m = _STEP.fullmatch(t)
    if m is None:
        raise CellError(f"cannot read step {t!r}", STEP_FORMS)
    sign = {"+": 1, "-": -1, "": 0}[m["sign"]]
    number = m["number"]
    decimal = Decimal(number)
    if decimal.adjusted() > 12:  # more than MAX_STEP, in any unit
        raise CellError(f"step {t!r} is too large (at most {MAX_STEP:,})", STEP_FORMS)
    if decimal.as_tuple().exponent < -30:  # type: ignore[operator]
        raise CellError(f"step {t!r} has too many decimals", STEP_FORMS)
    value = Fraction(decimal)
    unit = (m["unit"] or "").lower()
    if unit == "ep":
        if units.steps_per_epoch is None:
            raise CellError(
                f"step {t!r} is in epochs, but the number of steps per epoch is not given",
                "pass steps_per_epoch=N (Dopesheet.from_csv) or --steps-per-epoch N "
                "(python -m mini.temporal), or write the step as a number",
            )
        steps = round_half_up(value * units.steps_per_epoch)
        _check_size(t, steps)
        return StepCell("offset" if sign else "absolute", sign, steps, t)
    if unit == "%":
        if sign:
            raise CellError(
                f"a share of the run cannot be relative ({t!r})",
                f"write a position in the run such as {number}% or a fraction of the "
                f"interval between anchors such as {m['sign']}0.25",
            )
        if units.total_steps is None:
            raise CellError(
                f"step {t!r} is a share of the run, but the run's total number of steps is "
                "not given",
                "pass total_steps=N (Dopesheet.from_csv) or --total-steps N "
                "(python -m mini.temporal), or write the step as a number",
            )
        if value > 100:
            raise CellError(f"step {t!r} is past the end of the run", "use a share from 0% to 100%")
        return StepCell("absolute", 0, round_half_up(value / 100 * (units.total_steps - 1)), t)
    if sign == 0:
        if value.denominator != 1:
            raise CellError(f"absolute step {t!r} is not a whole number", STEP_FORMS)
        _check_size(t, int(value))
        return StepCell("absolute", 0, int(value), t)
    if "." in number:
        return _fraction(t, value.numerator, value.denominator, sign)
    if value.denominator != 1:
        raise CellError(f"relative step {t!r} is not a whole number of steps", STEP_FORMS)
    _check_size(t, int(value))
    return StepCell("offset", sign, int(value), t)


def _fraction(text: str, numerator: int, denominator: int, sign: int) -> StepCell:
    if not 0 < numerator < denominator:
        raise CellError(
            f"fraction {text!r} is outside (0, 1)",
            "a signed number with a point is a fraction of the interval between anchors: "
            "use e.g. +0.25, or an offset in whole steps such as +500",
        )
    return StepCell("fraction", sign, numerator, text, denominator)


def _check_size(text: str, steps: int) -> None:
    if steps > MAX_STEP:
        raise CellError(f"step {text!r} is too large (at most {MAX_STEP:,})", STEP_FORMS)


def read_number(text: str) -> float:
    """A finite number as people type it in spreadsheets (``1e-3``, ``.5``, ``-2``)."""
    if _NUMBER.fullmatch(text):
        v = float(text)
        if math.isfinite(v):
            return v
    raise CellError(
        f"{text!r} is not a finite number",
        "write a number such as 0.5 or 1e-3, or leave the cell empty for no key",
    )


KEY_FORMS = (
    "write a number (0.5), a number and the interpolator into this key (0.5 linear), or a jump "
    "key (1e-5|1e-3 or 1e-5|1e-3 linear)"
)
JUMP_FIX = (
    "write the value the curve arrives at, '|', then the value from this step on, e.g. 1e-5|1e-3"
)
LOG_FIX = "use a positive value, or drop ':log' from the header to interpolate linearly"
_AROUND_BAR = re.compile(r"\s*\|\s*")


def not_positive(shown: str) -> CellError:
    """A value of a log-space column that is not > 0 (``shown`` names it)."""
    return CellError(f"{shown} is not > 0, but the column is in log space", LOG_FIX)


def read_value(
    text: str, log: bool = False, interpolator: str = "minjerk"
) -> tuple[float, str | None, float | None]:
    """A property cell (stripped, not empty) of a column in log space or not, whose own
    interpolator is ``interpolator``: ``(value, curve, arrival)``.

    ``value`` or ``value curve`` (the interpolator of the segment arriving at this key), either
    preceded by ``arrival|`` for a *jump key*: the segment arrives at ``arrival`` and ``value``
    applies from this step on. Spaces around ``|`` are allowed.
    """
    if _NUMBER.fullmatch(text):  # the common case, fast
        value = read_number(text)
        if log and value <= 0:
            raise not_positive(repr(text))
        return value, None, None
    parts = _AROUND_BAR.sub("|", text).split()
    if len(parts) > 2:
        raise CellError(f"cannot read {text!r}", KEY_FORMS)
    number, name = (parts[0], None) if len(parts) == 1 else parts
    if name is not None and not _numeric(number) and _numeric(name):
        raise CellError(
            f"cannot read {text!r}",
            f"write the value first, then the interpolator: '{name} {number}'",
        )
    if "|" not in number:
        value, arrival = read_number(number), None
        if log and value <= 0:
            raise not_positive(repr(text))
    else:
        arrival, value = _read_jump(number, log)
    if name is not None:
        names = interpolator_names()
        if name not in names:
            raise CellError(
                f"unknown interpolator {name!r}{did_you_mean(name, names)}",
                f"use one of: {', '.join(names)} (or register one), or write only the value",
            )
    if arrival is not None and get_interpolator(name or interpolator).jumps:
        whose = "its" if name else "the column's"
        arrives, then = number.split("|")
        raise CellError(
            f"the jump key {number!r} has no effect: {whose} interpolator {name or interpolator!r} "
            f"holds the previous key's value up to this key, so nothing arrives at {arrives}",
            f"write only the value ({then}), or name an interpolator that moves into the key "
            f"(e.g. '{number} linear')",
        )
    return value, name, arrival


def _numeric(text: str) -> bool:
    """Whether ``text`` is spelt as a number or a jump of numbers (``1e-5|1e-3``)."""
    return all(_NUMBER.fullmatch(side) for side in text.split("|"))


def _read_jump(text: str, log: bool) -> tuple[float, float]:
    """``arrival|value`` → ``(arrival, value)``, each a finite number (> 0 in log space)."""
    sides = text.split("|")
    if len(sides) > 2:
        raise CellError(f"{text!r} has {len(sides) - 1} '|', but a jump key has one", JUMP_FIX)
    out = []
    for side, what in zip(sides, ("the arrival", "the value"), strict=True):
        where = "before '|'" if what == "the arrival" else "after '|'"
        if not side:
            raise CellError(f"the jump key {text!r} has no value {where}", JUMP_FIX)
        if not _NUMBER.fullmatch(side) or not math.isfinite(number := float(side)):
            raise CellError(f"{what} {side!r} ({where}) is not a finite number", JUMP_FIX)
        if log and number <= 0:
            raise not_positive(f"{what} {side!r} ({where})")
        out.append(number)
    return out[0], out[1]


def split_actions(cell: str) -> tuple[str, ...]:
    """``"a;b"`` or ``"a, b"`` → ``("a", "b")``; blanks dropped."""
    return tuple(a.strip() for a in _ACTION_SPLIT.split(cell) if a.strip())
