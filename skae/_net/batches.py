"""Mini-batches of one tensor, without a DataLoader."""

import math

import torch
from torch.utils.data import Subset

from .._utils.runtime import as_tensor


def dataset_tensor(dataset):
    if isinstance(dataset, Subset):
        return dataset_tensor(dataset.dataset)[torch.as_tensor(dataset.indices)]
    return as_tensor(dataset.X)


class TensorBatches:
    """Mini-batches of a tensor, reshuffled from ``generator`` at every pass.

    Hand-written because torch's ``DataLoader`` builds every batch from a list
    of Python integers; for the small models these estimators are used with,
    that costs about as much as the training step itself. Each batch is a
    gather of one slice of the permutation, so memory stays at one batch.
    With ``targets`` (the clean rows of corrupted inputs ``X``), batches are
    ``(x, target)`` pairs; otherwise ``(x, None)``: x is its own target.
    """

    def __init__(self, X, batch_size, shuffle=False, generator=None, targets=None):
        self.X = X
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.targets = targets

    def __len__(self):
        return math.ceil(len(self.X) / self.batch_size)

    def __iter__(self):
        n_samples = len(self.X)
        order = None
        if self.shuffle:
            order = torch.randperm(n_samples, generator=self.generator)
        for start in range(0, n_samples, self.batch_size):
            rows = slice(start, start + self.batch_size)
            if order is None:
                yield self.X[rows], None if self.targets is None else self.targets[rows]
                continue
            # index_select: the same gather as X[rows], at half the overhead.
            rows = order[rows]
            targets = (
                None if self.targets is None else self.targets.index_select(0, rows)
            )
            yield self.X.index_select(0, rows), targets
