"""Mini-batches of one tensor, without a DataLoader."""

import math

import torch
from torch.utils.data import Subset

from .._utils.runtime import as_tensor


def dataset_tensor(dataset):
    X, rows = dataset_rows(dataset)
    return X if rows is None else X[rows]


def dataset_rows(dataset):
    """The tensor under ``dataset``, and the indices of its rows (None: all)."""
    if isinstance(dataset, Subset):
        X, rows = dataset_rows(dataset.dataset)
        indices = torch.as_tensor(dataset.indices)
        return X, indices if rows is None else rows[indices]
    return as_tensor(dataset.X), None


class TensorBatches:
    """Mini-batches of a tensor, reshuffled from ``generator`` at every pass.

    Hand-written because torch's ``DataLoader`` builds every batch from a list
    of Python integers; for the small models these estimators are used with,
    that costs about as much as the training step itself. Each batch is a
    gather of one slice of the permutation, so memory stays at one batch.
    With ``targets`` (the clean rows of corrupted inputs ``X``), batches are
    ``(x, target)`` pairs; otherwise ``(x, None)``: x is its own target.
    With ``rows``, only those rows of ``X`` (a training split) are batched,
    gathered from ``X`` itself: a copy of the split would hold most of the
    data a second time. With ``most``, a pass stops after ``most`` rows: a
    fresh random subset at every pass when shuffled, the first rows if not.
    """

    def __init__(
        self,
        X,
        batch_size,
        shuffle=False,
        generator=None,
        targets=None,
        rows=None,
        most=None,
    ):
        self.X = X
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.targets = targets
        self.rows = rows
        self.most = most

    def __len__(self):
        return math.ceil(self._pass_size() / self.batch_size)

    def _n_samples(self):
        return len(self.X) if self.rows is None else len(self.rows)

    def _pass_size(self):
        n_samples = self._n_samples()
        return n_samples if self.most is None else min(n_samples, self.most)

    def __iter__(self):
        n_samples = self._n_samples()
        order = self.rows
        if self.shuffle:
            order = torch.randperm(n_samples, generator=self.generator)
            if self.rows is not None:
                order = self.rows[order]
        for start in range(0, self._pass_size(), self.batch_size):
            rows = slice(start, min(start + self.batch_size, self._pass_size()))
            if order is None:
                yield self.X[rows], None if self.targets is None else self.targets[rows]
                continue
            # index_select: the same gather as X[rows], at half the overhead.
            rows = order[rows]
            targets = (
                None if self.targets is None else self.targets.index_select(0, rows)
            )
            yield self.X.index_select(0, rows), targets
