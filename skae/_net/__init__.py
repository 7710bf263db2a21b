"""The one place that imports skorch.

The estimators keep flat, scikit-learn style parameters and call
:func:`build_net` to get a skorch ``NeuralNet`` (:class:`AutoEncoderNet`)
that trains their torch module:

- ``net.py``: the net and the skorch hooks it overrides;
- ``batches.py``: mini-batches of one tensor, without a DataLoader;
- ``early_stopping.py``: early stopping that scores the start as epoch 0;
- ``callbacks.py``: divergence check, progress bar, history trimming,
  learning-rate decay, weight averaging;
- ``optim.py``: Adam's fused update without ``Adam.step``'s bookkeeping;
- ``generators.py``: the private generators that are part of a net's state;
- ``build.py``: :func:`build_net`.
"""

from .build import build_net
from .callbacks import (
    DivergenceCheck,
    EpochProgressBar,
    LinearDecay,
    TrimBatchHistory,
    WeightAveraging,
)
from .early_stopping import RelativeEarlyStopping
from .generators import net_generators
from .net import VALIDATION_NOISE_SEED, AutoEncoderNet

__all__ = [
    "VALIDATION_NOISE_SEED",
    "AutoEncoderNet",
    "DivergenceCheck",
    "EpochProgressBar",
    "LinearDecay",
    "RelativeEarlyStopping",
    "TrimBatchHistory",
    "WeightAveraging",
    "build_net",
    "net_generators",
]
