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
    """Images flattened to 64 floats in [0, 1], with their digit labels; ``test`` (optional,
    :func:`with_test_split`) is held out from training, validation and any search.

    Attributes:
        train: training images.
        train_labels: their labels.
        val: validation images.
        val_labels: their labels.
        test: held-out test images (optional).
        test_labels: their labels.
    """

    train: Tensor
    train_labels: Tensor
    val: Tensor
    val_labels: Tensor
    test: Tensor | None = None
    test_labels: Tensor | None = None

    @property
    def dim(self) -> int:
        return self.train.shape[1]


def load_digits_split(val_fraction: float = 0.2, seed: int = 0) -> Digits:
    """The 1,797 digits, split stratified by label into train and validation sets.

    Args:
        val_fraction: the share of each digit held out for validation.
        seed: seeds the split.
    """
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


def with_test_split(data: Digits, seed: int = 0) -> Digits:
    """``data`` with half of its validation digits (stratified by label, seeded) moved to a
    test split. The training digits stay the same, so a run trains exactly as before; what it
    (or a search) validates on no longer includes the test digits."""
    x_va, x_te, y_va, y_te = train_test_split(
        data.val.numpy(), data.val_labels.numpy(), test_size=0.5, random_state=seed,
        stratify=data.val_labels.numpy(),
    )  # fmt: skip
    return Digits(
        data.train, data.train_labels, torch.as_tensor(x_va), torch.as_tensor(y_va),
        torch.as_tensor(x_te), torch.as_tensor(y_te),
    )  # fmt: skip


def test_as_validation(data: Digits) -> Digits:
    """The test split in the validation slot, to measure it with the validation code."""
    if data.test is None or data.test_labels is None:
        raise ValueError("these digits have no test split (see with_test_split)")
    return Digits(data.train, data.train_labels, data.test, data.test_labels)


class Batches:
    """An endless, seeded stream of shuffled ``(images, labels)`` minibatches that is its own
    cursor, so a trainer checkpoint can save and restore the position exactly.

    Pass ``e`` is the permutation seeded by ``(seed, e)``; the last partial batch of a pass is
    dropped so every step sees ``batch_size`` rows. ``iter()`` continues from the current
    position (``state_dict()``/``load_state_dict()`` save and restore it; ``rewind()`` restarts).

    Args:
        x: the images.
        y: their labels.
        batch_size: rows per batch.
        seed: seeds each pass's permutation.
    """

    def __init__(self, x: Tensor, y: Tensor, batch_size: int = 256, seed: int = 0):
        if len(x) != len(y):
            raise ValueError(f"{len(x)} inputs but {len(y)} labels")
        if not 0 < batch_size <= len(x):
            raise ValueError(f"batch_size must be in 1..{len(x)}, got {batch_size}")
        self.x, self.y, self.batch_size, self.seed = x, y, batch_size, seed
        self.epoch = 0
        self.index = 0  # first row of the next batch in this pass's permutation

    def _order(self) -> Tensor:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return torch.randperm(len(self.x), generator=gen)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        n, b = len(self.x), self.batch_size
        while True:
            order = self._order()
            while self.index + b <= n:
                idx = order[self.index : self.index + b]
                self.index += b
                yield self.x[idx], self.y[idx]
            self.epoch += 1
            self.index = 0

    def rewind(self) -> None:
        self.epoch, self.index = 0, 0

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "index": self.index}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.index = int(state["epoch"]), int(state["index"])
