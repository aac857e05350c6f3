"""Static mode: feature categories discovered up front from the features' shared structure.

Pairwise correlation misses two kinds of structure real tables have: features driven by shared
factors through different **monotone** non-linearities (and heavy tails, where a few rows
dominate Pearson's figure), and features spanning a shared **low-rank subspace** with
random-sign weights, whose pairwise correlations can be weak although the group as a whole
predicts each of its members well. So discovery

1. ranks every column (Spearman): monotone transforms, units and outliers no longer matter;
2. clusters the features agglomeratively with a **canonical-correlation linkage**: the
   similarity of two clusters is the first canonical correlation between them (how well the
   best combination of one predicts the best combination of the other) — a feature joins a
   subspace group as soon as the group spans it, however weak its pairwise correlations;
3. stops merging when the best similarity no longer exceeds what independent columns would
   show by chance (``null_multiple`` × the largest canonical correlation expected between
   independent sets of those sizes and this many rows) by ``min_excess``; while more than
   ``max_categories`` groups remain it goes on merging;
4. **splits** a group whose intrinsic dimension (principal components of its rank
   correlations needed for ``explained`` of their variance) exceeds what one category's
   latent holds (``latent_dim``), by undoing its last merge, while fewer than
   ``max_categories`` groups exist — on a table where everything correlates (breast-cancer)
   step 3 merges almost everything, and one category could not reconstruct it.

Features that never join a group (singletons: they share structure with nothing, like
distractor columns) join the group they correlate with most on average (``unattached``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Discovery:
    """Categories found by :func:`discover_categories`: ``labels[i]`` is feature ``i``'s
    category (0..k−1, numbered by first appearance), ``merges`` the similarity (first canonical
    correlation) of each merge made, in order, ``unattached`` the features attached after
    clustering and ``split`` how many groups were split for capacity."""

    labels: np.ndarray
    k: int
    merges: list[float] = field(default_factory=list)
    unattached: list[int] = field(default_factory=list)
    split: int = 0


def rank_correlation(x: np.ndarray) -> np.ndarray:
    """Spearman correlations between the columns of ``x`` (ties get their mean rank)."""
    from scipy.stats import rankdata

    r = rankdata(x, axis=0)
    corr = np.corrcoef(r, rowvar=False)
    return np.nan_to_num(np.atleast_2d(corr))


def first_canonical_correlation(
    corr: np.ndarray, a: list[int], b: list[int], ridge: float = 1e-3
) -> float:
    """The largest correlation between a combination of the features ``a`` and one of ``b``,
    from their correlation matrix ``corr`` (``ridge`` keeps near-duplicate features stable)."""
    la = np.linalg.cholesky(corr[np.ix_(a, a)] + ridge * np.eye(len(a)))
    lb = np.linalg.cholesky(corr[np.ix_(b, b)] + ridge * np.eye(len(b)))
    m = np.linalg.solve(la, corr[np.ix_(a, b)])
    m = np.linalg.solve(lb, m.T).T
    return float(np.linalg.svd(m, compute_uv=False)[0])


def chance_canonical_correlation(p: int, q: int, n: int) -> float:
    """The largest canonical correlation independent sets of ``p`` and ``q`` columns reach by
    chance over ``n`` rows (the edge of Wachter's distribution)."""
    p, q = min(p, n - 1), min(q, n - 1)
    return float((np.sqrt(p * (1 - q / n)) + np.sqrt(q * (1 - p / n))) / np.sqrt(n))


def intrinsic_dimension(corr: np.ndarray, members: list[int], explained: float) -> int:
    """Principal components of the members' correlations needed for ``explained`` of their
    variance."""
    w = np.clip(np.linalg.eigvalsh(corr[np.ix_(members, members)])[::-1], 0, None)
    return int(np.searchsorted(np.cumsum(w) / w.sum(), explained) + 1)


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Categories numbered 0..k−1 in order of their first feature."""
    order = {c: i for i, c in enumerate(dict.fromkeys(labels.tolist()))}
    return np.asarray([order[c] for c in labels.tolist()])


@dataclass
class _Tree:
    """The merges made: every cluster id's features and a merged cluster's two children."""

    members: dict[int, list[int]]
    children: dict[int, tuple[int, int]]
    final: list[int]  # the ids of the clusters left when merging stopped
    similarities: list[float]


def _agglomerate(
    corr: np.ndarray, n_rows: int, max_categories: int, min_excess: float, null_multiple: float
) -> _Tree:
    """Greedy canonical-correlation merging (module docstring, steps 2–3)."""
    n = corr.shape[0]
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    alive = set(members)
    children: dict[int, tuple[int, int]] = {}
    sim = {(i, j): abs(float(corr[i, j])) for i in range(n) for j in range(i + 1, n)}
    similarities: list[float] = []

    def excess(key: tuple[int, int]) -> float:
        i, j = key
        chance = chance_canonical_correlation(len(members[i]), len(members[j]), n_rows)
        return sim[key] - null_multiple * chance

    while len(alive) > 1:
        grouped = sum(len(members[c]) >= 2 for c in alive)
        best = max(sim, key=excess)
        if excess(best) < min_excess and 1 <= grouped <= max_categories:
            break
        i, j = best
        new = len(members)
        members[new] = members[i] + members[j]
        children[new] = (i, j)
        similarities.append(sim[best])
        alive -= {i, j}
        sim = {k: v for k, v in sim.items() if i not in k and j not in k}
        for other in alive:
            sim[(other, new)] = first_canonical_correlation(corr, members[other], members[new])
        alive.add(new)
    return _Tree(members, children, sorted(alive), similarities)


def _split_for_capacity(
    corr: np.ndarray, tree: _Tree, groups: list[int], max_categories: int, latent_dim: int,
    explained: float,
) -> tuple[list[int], int]:  # fmt: skip
    """Undo the last merge of the group of highest intrinsic dimension above ``latent_dim``
    while fewer than ``max_categories`` groups exist (module docstring, step 4)."""
    splits = 0
    while len(groups) < max_categories:
        dims = {g: intrinsic_dimension(corr, tree.members[g], explained) for g in groups}
        over = [g for g in groups if dims[g] > latent_dim and g in tree.children]
        if not over:
            break
        g = max(over, key=lambda c: (dims[c], len(tree.members[c])))
        groups = [c for c in groups if c != g] + list(tree.children[g])
        splits += 1
    return groups, splits


def discover_categories(
    x: np.ndarray,
    max_categories: int = 6,
    *,
    latent_dim: int = 3,
    min_excess: float = 0.3,
    null_multiple: float = 1.5,
    explained: float = 0.9,
) -> Discovery:
    """Group the columns of ``x`` (training rows only) into ``K ≤ max_categories`` categories
    (module docstring).

    Args:
        x: ``(rows, features)`` training values (any units: only ranks are used).
        max_categories: the most categories.
        latent_dim: one category's latent size; a group of higher intrinsic dimension is split
            while fewer than ``max_categories`` groups exist.
        min_excess: how far above chance a canonical correlation must be to merge.
        null_multiple: the chance level's safety factor.
        explained: the variance fraction the intrinsic dimension is measured at.
    """
    if max_categories < 2:
        raise ValueError(f"max_categories must be >= 2, got {max_categories}")
    n_rows, n = x.shape
    corr = rank_correlation(x)
    tree = _agglomerate(corr, n_rows, max_categories, min_excess, null_multiple)
    groups = [c for c in tree.final if len(tree.members[c]) >= 2]
    groups, n_split = _split_for_capacity(corr, tree, groups, max_categories, latent_dim, explained)
    labels = np.full(n, -1)
    for g, c in enumerate(groups):
        labels[tree.members[c]] = g
    rest = [i for i in range(n) if labels[i] < 0]
    if not groups:  # nothing shares structure with anything: one category
        labels[:] = 0
    for i in rest if groups else []:
        mean_corr = [np.mean(np.abs(corr[i, tree.members[c]])) for c in groups]
        labels[i] = int(np.argmax(mean_corr))
    labels = _renumber(labels)
    return Discovery(labels, int(labels.max()) + 1, tree.similarities, rest, n_split)
