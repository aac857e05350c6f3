"""The planted-structure suite, small and fast: the tables are what they say, static discovery
finds their groups, and a short learnable run keeps what it was started from.

The full 24-table evaluation is ``benchmarks/categorical_suite.py``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score

from mini.temporal import Dopesheet, Timeline
from vq.tokenizer.discovery import (
    chance_canonical_correlation,
    discover_categories,
    first_canonical_correlation,
    rank_correlation,
)
from vq.tokenizer.synthetic import PLANTED_FAMILIES, planted_table
from vq.tokenizer.tabular import split_table

from .test_categorical_trainer import SCHEDULE


def ari(table, labels: np.ndarray) -> float:
    grouped = table.groups >= 0
    return float(adjusted_rand_score(table.groups[grouped], labels[grouped]))


@pytest.mark.parametrize("family", list(PLANTED_FAMILIES))
def test_planted_tables_are_seeded_and_within_the_specified_ranges(family: str) -> None:
    a, b = planted_table(family, 3), planted_table(family, 3)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.array_equal(a.values[:, :2], planted_table(family, 4).values[:, :2])
    assert 500 <= len(a.values) <= 5000
    sizes = np.bincount(a.groups[a.groups >= 0])
    assert 2 <= len(sizes) <= 5 and sizes.min() >= 2 and sizes.max() <= 15
    assert 0 <= (a.groups == -1).sum() <= 4
    assert not np.array_equal(a.groups, np.sort(a.groups))  # columns shuffled


def test_wild_units_span_many_orders_of_magnitude() -> None:
    t = planted_table("units", 0)
    spread = np.log10(t.values.std(0))
    assert spread.max() - spread.min() > 6


def test_subspace_groups_have_weak_pairs_that_the_group_still_predicts() -> None:
    """The family pairwise correlation misses: some pairs in a group barely correlate, yet the
    rest of the group predicts each member (a canonical correlation near 1)."""
    t = planted_table("subspace", 1)
    corr = rank_correlation(t.values)
    g = int(np.argmax(np.bincount(t.groups[t.groups >= 0])))
    members = np.nonzero(t.groups == g)[0].tolist()
    pairs = np.abs(corr[np.ix_(members, members)])[np.triu_indices(len(members), 1)]
    assert pairs.min() < 0.2
    best = [first_canonical_correlation(corr, [f], [m for m in members if m != f]) for f in members]
    assert min(best) > 0.85


def test_chance_level_shrinks_with_rows_and_grows_with_set_sizes() -> None:
    assert chance_canonical_correlation(1, 1, 400) == pytest.approx(0.1, rel=0.01)
    assert chance_canonical_correlation(5, 5, 400) > chance_canonical_correlation(1, 1, 400)
    assert chance_canonical_correlation(1, 1, 4000) < chance_canonical_correlation(1, 1, 400)


@pytest.mark.parametrize(("family", "seed"), [(f, 0) for f in PLANTED_FAMILIES] + [("subspace", 1), ("monotone", 0)])  # fmt: skip
def test_static_discovery_finds_the_planted_groups(family: str, seed: int) -> None:
    t = planted_table(family, seed)
    d = discover_categories(split_table(t).train, 6)
    assert ari(t, d.labels) >= 0.9, (d.k, np.bincount(t.groups[t.groups >= 0]))


def test_static_discovery_splits_a_table_where_everything_correlates() -> None:
    """Breast-cancer correlates almost everywhere: merging alone leaves a group too rich for one
    3-D latent; discovery splits it for capacity."""
    from vq.tokenizer.tabular import breast_cancer_table

    d = discover_categories(split_table(breast_cancer_table()).train, 6)
    assert d.split >= 1 and d.k == 6


@pytest.mark.slow
def test_a_short_learnable_run_keeps_the_discovered_groups() -> None:
    from vq.tokenizer.run import build, final_summary

    torch.manual_seed(0)
    t = planted_table("monotone", 0)
    run = build(t, "learnable", seed=0, eval_every=1000)
    trainer = run.trainer(Timeline(Dopesheet.from_csv(SCHEDULE).scaled(300)), progress=False)
    trainer.fit()
    _, s = final_summary(run)
    labels = np.empty(len(t.features), dtype=int)
    for i, fs in enumerate(s["categories"].values()):
        labels[[t.features.index(f) for f in fs]] = i
    assert ari(t, labels) >= 0.9 and s["recon_quality"] > 0.8


def test_the_suite_scores_tables_against_the_planted_groups() -> None:
    from benchmarks.categorical_suite import acceptance, family_table, labels_of

    assert labels_of({"c0": ["b"], "c1": ["a", "c"]}, ["a", "b", "c"]).tolist() == [1, 0, 1]
    base = {"exit": 0, "k": 2, "planted_k": 2, "utilization": 0.9, "orthogonality": 0.1,
            "topographic": 0.9}  # fmt: skip
    rows = [
        {**base, "family": "blocks", "seed": 6, "mode": "static", "ari": 0.5, "quality": 0.95},
        {**base, "family": "blocks", "seed": 6, "mode": "learnable", "ari": 1.0, "quality": 0.8},
        {**base, "family": "units", "seed": 6, "mode": "static", "ari": 1.0, "quality": 0.95},
        {**base, "family": "units", "seed": 6, "mode": "learnable", "ari": 1.0, "quality": 0.95},
    ]
    a = acceptance(rows)
    assert a["tables"] == 2 and a["learnable_better"] == 1 and a["static_better"] == 0
    assert a["learnable_quality_over_0.90"] == "1/2" and a["static_quality_over_0.90"] == "2/2"
    table = family_table(rows)
    assert "| blocks | 1 | learnable | 1.000, 1.000 | 2/2 | 0.800 | 0/1 | 0.900 | 0/1 |" in table
