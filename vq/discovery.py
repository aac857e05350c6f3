"""Static mode: feature categories discovered up front from feature correlations.

Features are clustered hierarchically (scipy, average linkage) on the distance ``1 − |corr|``
of their training values, and the number of categories ``K`` is the one in
``2..max_categories`` with the best mean silhouette (scikit-learn, on the same distances).

Features that correlate with nothing (``max |corr|`` to every other feature below
``min_correlation``) carry no grouping signal: left in, each would be a singleton or glued to a
random cluster, and the silhouette would vote on noise. They are clustered out, and afterwards
join the category they correlate with most on average (reported as ``unattached``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Discovery:
    """Categories found by :func:`discover_categories`: ``labels[i]`` is feature ``i``'s
    category (0..k−1, numbered by first appearance), ``silhouettes`` the score of each
    candidate ``K``, ``unattached`` the features attached after clustering."""

    labels: np.ndarray
    k: int
    silhouettes: dict[int, float] = field(default_factory=dict)
    unattached: list[int] = field(default_factory=list)


def feature_distances(x: np.ndarray) -> np.ndarray:
    """``1 − |Pearson correlation|`` between the columns of ``x`` (zero diagonal)."""
    corr = np.corrcoef(x, rowvar=False)
    d = 1.0 - np.abs(np.nan_to_num(corr))
    np.fill_diagonal(d, 0.0)
    return np.clip((d + d.T) / 2, 0.0, 2.0)


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Categories numbered 0..k−1 in order of their first feature."""
    order = {c: i for i, c in enumerate(dict.fromkeys(labels.tolist()))}
    return np.asarray([order[c] for c in labels.tolist()])


def discover_categories(
    x: np.ndarray, max_categories: int = 6, min_correlation: float = 0.3
) -> Discovery:
    """Cluster the columns of ``x`` (training rows only) into ``K ≤ max_categories``
    categories by average-linkage clustering of ``1 − |corr|``, ``K`` by silhouette."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform
    from sklearn.metrics import silhouette_score

    n = x.shape[1]
    if max_categories < 2:
        raise ValueError(f"max_categories must be >= 2, got {max_categories}")
    dist = feature_distances(x)
    strongest = (1.0 - dist + np.eye(n) * -2).max(1)  # best |corr| with another feature
    core = np.nonzero(strongest >= min_correlation)[0]
    if len(core) < 3:  # nothing correlates: fall back to clustering everything
        core = np.arange(n)
    sub = dist[np.ix_(core, core)]
    tree = linkage(squareform(sub, checks=False), method="average")
    scores: dict[int, float] = {}
    best: tuple[float, np.ndarray] | None = None
    for k in range(2, min(max_categories, len(core) - 1) + 1):
        labels = fcluster(tree, k, criterion="maxclust")
        if len(set(labels.tolist())) < 2:
            continue
        s = float(silhouette_score(sub, labels, metric="precomputed"))
        scores[len(set(labels.tolist()))] = s
        if best is None or s > best[0] + 1e-12:
            best = (s, labels)
    core_labels = best[1] if best is not None else np.ones(len(core), dtype=int)
    labels = np.full(n, -1)
    labels[core] = core_labels
    rest = [i for i in range(n) if labels[i] < 0]
    for i in rest:
        clusters = sorted(set(core_labels.tolist()))
        mean_corr = [np.mean(1.0 - dist[i, core[core_labels == c]]) for c in clusters]
        labels[i] = clusters[int(np.argmax(mean_corr))]
    labels = _renumber(labels)
    return Discovery(labels, int(labels.max()) + 1, scores, rest)
