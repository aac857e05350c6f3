"""``--data`` names resolved to feature tables: the built-in ones or a file.

Kept apart from :mod:`vq.tokenizer.tabular` (reading and checking tables) and :mod:`vq.tokenizer.synthetic` (the
seeded generators, which build :class:`~vq.tokenizer.tabular.FeatureTable` s) so that neither of those
imports the other's caller: the imports run one way, ``table_sources → synthetic → tabular``.
"""

from __future__ import annotations

from collections.abc import Sequence

from vq.tokenizer.synthetic import planted_table, planted_table_names, synthetic_table
from vq.tokenizer.tabular import (
    FeatureTable,
    TableError,
    breast_cancer_table,
    pick_columns,
    read_table,
    wine_table,
)

BUILT_IN = ("synthetic", "breast-cancer", "wine")


def load_table(
    data: str,
    *,
    features: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    seed: int = 0,
) -> FeatureTable:
    """``synthetic`` (seeded planted groups), ``breast-cancer``, ``wine``, ``planted:<name>``
    (a table of the planted-structure suite, seeded by ``seed``) or a path to a table file.

    Args:
        data: the source (see above).
        features: the columns to use (default: all).
        exclude: columns to leave out.
        seed: seeds ``synthetic`` and ``planted:`` tables.
    """
    if data == "synthetic":
        table = synthetic_table(seed=seed)
    elif data == "breast-cancer":
        table = breast_cancer_table()
    elif data == "wine":
        table = wine_table()
    elif data.startswith("planted:"):
        name = data.removeprefix("planted:")
        if name not in planted_table_names():
            raise TableError(
                f"--data {data}: no planted table {name!r} (known: "
                f"{', '.join(planted_table_names())})"
            )
        table = planted_table(name, seed=seed)
    else:
        return read_table(data, features, exclude)
    if features or exclude:
        picked = pick_columns(table.features, features, exclude, data)
        idx = [table.features.index(n) for n in picked]
        groups = None if table.groups is None else table.groups[idx]
        table = FeatureTable(table.name, picked, table.values[:, idx], groups)
    return table
