"""Seeded feature tables with planted groups, so that category recovery is measured honestly.

:func:`synthetic_table` is the example's default table; :func:`planted_table` builds the tables
of the planted-structure suite (families of structure we did not tune the tokenizer to, see
:data:`PLANTED_FAMILIES`).

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

from vq.tokenizer.tabular import FeatureTable

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
    feature (``-1`` for a distractor).

    Args:
        n_samples: rows.
        group_sizes: features per planted group.
        distractors: features in no group.
        noise: the noise's standard deviation.
        seed: seeds the table.
        name: the table's name.
    """
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


# -- the planted-structure suite ---------------------------------------------------------------------
PLANTED_FAMILIES: dict[str, str] = {
    "blocks": "one factor per group, features = factor + noise; group factors correlate 0.2",
    "subspace": "rank-2/3 shared subspace per group, random-sign weights (weak pairwise corr)",
    "monotone": "rank-1/2 groups through per-feature tanh, cube, sinh or arctan",
    "heavy-tails": "Student-t (df 3-5) factors and Laplace noise",
    "units": "features in units from 1e-6 to 1e6 with offsets up to 1e6",
    "mixed": "subspaces, monotone transforms, Laplace noise and wild units together",
}
_TRANSFORMS = {
    "tanh": np.tanh,
    "cube": lambda x: x**3,
    "sinh": np.sinh,
    "arctan": np.arctan,
}


def planted_table_names() -> list[str]:
    return list(PLANTED_FAMILIES)


def _factors(rng: np.random.Generator, n: int, k: int, heavy: bool) -> np.ndarray:
    if not heavy:
        return rng.standard_normal((n, k))
    df = rng.uniform(3.0, 5.0)
    t = rng.standard_t(df, (n, k))
    return t / np.sqrt(df / (df - 2))


def planted_table(family: str, seed: int = 0, *, max_groups: int = 5) -> FeatureTable:
    """One seeded table of the planted-structure suite: 2–``max_groups`` groups of 2–15
    features (sizes drawn unequal), 0–4 distractor columns (Gaussian, uniform or exponential
    noise), 500–5,000 rows, columns shuffled; ``family`` (one of :data:`PLANTED_FAMILIES`)
    says how a group's features depend on its hidden factors. ``groups`` holds the planted
    group of each feature (``-1`` for a distractor).

    Args:
        family: the kind of hidden structure.
        seed: everything (sizes, weights, transforms, rows) follows from it.
        max_groups: the most groups drawn (the example's ``--max-categories`` is 6).
    """
    if family not in PLANTED_FAMILIES:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(PLANTED_FAMILIES)}")
    offset = list(PLANTED_FAMILIES).index(family)
    rng = np.random.default_rng([seed, offset, 2023])
    n = int(rng.integers(500, 5001))
    n_groups = int(rng.integers(2, max_groups + 1))
    sizes = rng.integers(2, 16, n_groups)
    distractors = int(rng.integers(0, 5))
    heavy = family == "heavy-tails"  # heavy-tailed factors (and noise)
    laplace = family in ("heavy-tails", "mixed")  # heavy-tailed noise
    monotone = family in ("monotone", "mixed")
    wild_units = family in ("units", "mixed")
    if family in ("subspace", "mixed"):
        ranks = rng.integers(2, 4, n_groups)
    elif family == "monotone":
        ranks = rng.integers(1, 3, n_groups)
    else:
        ranks = np.ones(n_groups, dtype=int)
    columns: list[np.ndarray] = []
    groups: list[int] = []
    common = rng.standard_normal(n) if family == "blocks" else None
    for g, (size, rank) in enumerate(zip(sizes.tolist(), ranks.tolist(), strict=True)):
        u = _factors(rng, n, rank, heavy)
        if common is not None:  # group factors correlated 0.2 with each other
            u = np.sqrt(0.8) * u + np.sqrt(0.2) * common[:, None]
        for _ in range(size):
            w = rng.standard_normal(rank) * rng.choice([-1.0, 1.0], rank)
            w /= np.linalg.norm(w)
            signal = u @ w
            noise_level = rng.uniform(0.1, 0.3)
            noise = (
                rng.laplace(0, noise_level / np.sqrt(2), n)
                if laplace
                else (noise_level * rng.standard_normal(n))
            )
            x = signal + noise
            if monotone:
                name = list(_TRANSFORMS)[int(rng.integers(len(_TRANSFORMS)))]
                x = _TRANSFORMS[name](x * rng.uniform(0.5, 1.5))
            columns.append(x)
            groups.append(g)
    for _ in range(distractors):
        kind = int(rng.integers(3))
        d = (rng.standard_normal(n), rng.uniform(-1, 1, n), rng.exponential(1.0, n))[kind]
        columns.append(d)
        groups.append(-1)
    values = np.stack(columns, axis=1)
    if wild_units:
        scale = 10.0 ** rng.uniform(-6, 6, values.shape[1])
        shift = rng.choice([-1.0, 1.0], values.shape[1]) * 10.0 ** rng.uniform(
            -3, 6, values.shape[1]
        )
    else:
        scale = rng.uniform(0.5, 20.0, values.shape[1])
        shift = rng.uniform(-50, 50, values.shape[1])
    values = values * scale + shift
    order = rng.permutation(values.shape[1])
    names = [f"x{i:02d}" for i in range(len(order))]
    return FeatureTable(f"planted:{family}", names, values[:, order], np.asarray(groups)[order])
