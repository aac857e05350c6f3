""" "Did you mean …?": the closest known name to a mistyped one, for every error message that
names something the user spelt (properties, events, phases, actions, presets, columns)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: str, choices: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The known name most like ``name``, ignoring case, or ``None`` when none is close.

    Args:
        name: what the user wrote.
        choices: the names that exist.
        cutoff: how alike (0–1, difflib's ratio) a choice must be to be suggested.

    >>> closest("lerning-rate", ["learning-rate", "loss"])
    'learning-rate'
    >>> closest("Main", ["main", "warm-up"])
    'main'
    >>> closest("zzz", ["main"]) is None
    True
    """
    by_lower: dict[str, str] = {}
    for choice in choices:
        if choice:
            by_lower.setdefault(str(choice).lower(), str(choice))
    close = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1, cutoff=cutoff)
    return by_lower[close[0]] if close else None


def did_you_mean(name: str, choices: Iterable[str], *, cutoff: float = 0.6) -> str:
    """``" (did you mean 'x'?)"`` for the closest choice, or ``""`` — to append to a message.

    >>> "no phase 'Mian'" + did_you_mean("Mian", ["Main", "Warm-up"])
    "no phase 'Mian' (did you mean 'Main'?)"
    """
    match = closest(name, choices, cutoff=cutoff)
    return f" (did you mean {match!r}?)" if match else ""
