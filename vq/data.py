"""scikit-learn's bundled 8×8 digits (no download) as tensors, split and batched with a seed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import Tensor


@dataclass(frozen=True)
class Digits:
    """Images flattened to 64 floats in [0, 1], with their digit labels."""

    train: Tensor
    train_labels: Tensor
    val: Tensor
    val_labels: Tensor

    @property
    def dim(self) -> int:
        return self.train.shape[1]


def load_digits_split(val_fraction: float = 0.2, seed: int = 0) -> Digits:
    """The 1,797 digits, split stratified by label into train and validation sets."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(
        x, y, test_size=val_fraction, random_state=seed, stratify=y
    )

    def images(a) -> Tensor:  # type: ignore[no-untyped-def]
        return torch.as_tensor(a, dtype=torch.float32) / 16.0

    def labels(a) -> Tensor:  # type: ignore[no-untyped-def]
        return torch.as_tensor(a, dtype=torch.long)

    return Digits(images(x_tr), labels(y_tr), images(x_va), labels(y_va))


class Batches:
    """An endless, seeded stream of shuffled ``(images, labels)`` minibatches.

    Each pass over the data is a fresh permutation; the last partial batch of a pass is
    dropped so every step sees ``batch_size`` rows. Iterating twice gives the same stream.
    """

    def __init__(self, x: Tensor, y: Tensor, batch_size: int = 256, seed: int = 0):
        if len(x) != len(y):
            raise ValueError(f"{len(x)} inputs but {len(y)} labels")
        if not 0 < batch_size <= len(x):
            raise ValueError(f"batch_size must be in 1..{len(x)}, got {batch_size}")
        self.x, self.y, self.batch_size, self.seed = x, y, batch_size, seed

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        gen = torch.Generator().manual_seed(self.seed)
        n, b = len(self.x), self.batch_size
        while True:
            order = torch.randperm(n, generator=gen)
            for i in range(0, n - b + 1, b):
                idx = order[i : i + b]
                yield self.x[idx], self.y[idx]
