"""K-means seeding of a codebook from encoder outputs (scikit-learn's k-means++ / Lloyd)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def kmeans_centroids(
    samples: Tensor, k: int, iters: int = 20, generator: torch.Generator | None = None
) -> Tensor:
    """``k`` centroids of ``samples`` ``(N, D)``, on the samples' device and dtype.

    With fewer distinct samples than ``k``, the extra centroids are copies of random samples
    jittered by 1% of the data's spread, so no two codes start identical. The seed comes from
    ``generator`` (or torch's global RNG), so runs are reproducible under ``torch.manual_seed``.
    """
    if samples.ndim != 2 or samples.shape[0] == 0:
        raise ValueError(f"samples must be a non-empty (N, D) tensor, got {tuple(samples.shape)}")
    from sklearn.cluster import KMeans  # lazy: `from vq import VectorQuantizer` stays light

    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    x = samples.detach().to("cpu", torch.float64).numpy()
    distinct = np.unique(x, axis=0)
    if len(distinct) >= k:
        km = KMeans(n_clusters=k, n_init=1, max_iter=iters, random_state=seed)
        centroids = km.fit(x).cluster_centers_
    else:
        rng = np.random.default_rng(seed)
        spread = float(x.std()) or 1.0
        extra = distinct[rng.integers(0, len(distinct), k - len(distinct))]
        extra = extra + rng.normal(0.0, 0.01 * spread, extra.shape)
        centroids = np.concatenate([distinct, extra])
    return torch.as_tensor(centroids, dtype=samples.dtype, device=samples.device)
