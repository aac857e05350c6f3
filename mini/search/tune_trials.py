"""What Ray Tune's trial folders say about a trial (shared by the Tune backend and PBT)."""

from __future__ import annotations

import re
from pathlib import Path

_TRIAL_DIR = re.compile(r"_[0-9a-f]{5,}(_\d{5})?_(\d+)(?:_|$)")


def trial_number(trial_dir: str) -> int:
    """Tune's index of a trial from its folder (``<trainable>_<id>_<index>_<config>_<date>``),
    counted from 0. A search algorithm's ids are hex, its indices count from 1; Tune's own
    sampling (PBT's population) writes ids ``<hex>_<5 digits>`` and counts from 0."""
    m = _TRIAL_DIR.search(Path(trial_dir).name)
    if m is None:
        return 0
    return int(m.group(2)) - (0 if m.group(1) else 1)
