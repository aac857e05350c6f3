"""A seeded feature table with planted groups, so that category recovery is measured honestly.

Each group ``g`` has two hidden factors ``(u, v)``; each of its features is
``s·(u + b·v) + c·tanh(u·v) + noise`` with a random sign and scale ``s``, a random mix ``b`` and a
small shared non-linearity, so the features of a group are strongly (but not perfectly)
correlated with each other and independent of every other group. Distractor features are pure
noise and belong to no group (``groups == -1``). Columns are shuffled, so the grouping cannot be
read off the column order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from vq.tabular import FeatureTable

DEFAULT_GROUP_SIZES = (10, 8, 6, 5)
DEFAULT_DISTRACTORS = 3


def synthetic_table(
    n_samples: int = 4000,
    group_sizes: Sequence[int] = DEFAULT_GROUP_SIZES,
    distractors: int = DEFAULT_DISTRACTORS,
    noise: float = 0.15,
    seed: int = 0,
    name: str = "synthetic",
) -> FeatureTable:
    """``sum(group_sizes) + distractors`` features (32 by default: groups of 10, 8, 6 and 5
    plus 3 distractors) for ``n_samples`` rows; ``groups`` holds the planted group of each
    feature (``-1`` for a distractor)."""
    if any(s < 2 for s in group_sizes) or distractors < 0 or n_samples < 2:
        raise ValueError("each group needs >= 2 features; distractors >= 0; n_samples >= 2")
    rng = np.random.default_rng(seed)
    columns: list[np.ndarray] = []
    groups: list[int] = []
    for g, size in enumerate(group_sizes):
        u, v = rng.standard_normal((2, n_samples))
        shared = np.tanh(u * v)
        for _ in range(size):
            scale = rng.uniform(0.5, 2.0) * rng.choice([-1.0, 1.0])
            mix = rng.uniform(-0.6, 0.6)
            x = scale * (u + mix * v + 0.3 * shared + noise * rng.standard_normal(n_samples))
            columns.append(x + rng.uniform(-3, 3))
            groups.append(g)
    for _ in range(distractors):
        columns.append(rng.standard_normal(n_samples) * rng.uniform(0.5, 2.0))
        groups.append(-1)
    order = rng.permutation(len(columns))
    values = np.stack([columns[i] for i in order], axis=1)
    planted = np.asarray([groups[i] for i in order])
    names = [f"f{i:02d}" for i in range(len(order))]
    return FeatureTable(name, names, values, planted)


def write_csv(table: FeatureTable, path: str | Path) -> Path:
    """The table as a CSV (one named column per feature), e.g. to feed ``--data``."""
    from mini.atomic import write_text

    df = pd.DataFrame(table.values, columns=table.features)
    return write_text(path, df.to_csv(index=False))
