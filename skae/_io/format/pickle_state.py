"""The state pickle, joblib, ``copy.deepcopy`` and skops see: no torch object.

A fitted net holds objects bound to the device it trained on: CUDA tensors,
which unpickle only where CUDA is, and CUDA generators, which a CPU-only
torch cannot even create. skorch maps the tensors of its ``module_`` to the
CPU when unpickling, but not the same module passed as its ``module``
parameter, nor the generators inside it, and it stores the weights twice.

So the estimator's state replaces ``net_`` by what :func:`skae.save` writes:
the weights, optimiser state and generator states as numpy arrays, and the
rest (batch size, generator kinds, the epoch-level history) as the same JSON
document, compressed into one ``bytes`` value: skops would store every
number of a history as an object of its own, and the keys repeated in every
history row would make up most of a pickle's growth with epochs. Unpickling
rebuilds the net on the CPU from it, as :func:`skae.load` does. Each weight
is stored once, nothing in the state needs torch to be read back, and skops
can store it: it holds only numpy arrays and builtins.
"""

import copy
import json
import zlib

import numpy as np
import torch

from .upgrade import upgrade_pickled_state

# The key under which the state holds the net; a state without it (an
# unfitted estimator, or one pickled by a skae that stored net_ itself) is
# restored as it is.
NET_STATE = "_net_state"


class PortableState:
    """``__getstate__`` / ``__setstate__`` for estimators with a fitted ``net_``.

    The net is unpickled on the CPU; ``device_`` says so, and the ``device``
    parameter keeps its value, so that a later ``fit`` trains where it did.
    """

    def __getstate__(self):
        # A copy: object.__getstate__ returns the instance's own __dict__.
        state = dict(super().__getstate__())
        net = state.pop("net_", None)
        if net is not None:
            from .net_state import net_state as _net_state

            description, tensors = _net_state(net)
            state[NET_STATE] = {
                "net": zlib.compress(json.dumps(description).encode()),
                "arrays": {key: tensor.numpy() for key, tensor in tensors.items()},
            }
        return state

    def __setstate__(self, state):
        state = dict(state)
        saved = state.pop(NET_STATE, None)
        fitted = saved is not None or "net_" in state
        state = upgrade_pickled_state(type(self).__name__, state, fitted)
        super().__setstate__(state)
        if saved is not None:
            self.net_ = _rebuild(self, saved)


def _rebuild(estimator, saved):
    from .net_state import rebuild_net as _rebuild_net

    # Copies, so that the net never shares memory with the arrays it was read
    # from (joblib may hand over read-only memory maps) and 0-d arrays (Adam's
    # step counts) keep their shape.
    tensors = {key: torch.from_numpy(np.array(a)) for key, a in saved["arrays"].items()}
    # The net is built from the parameters it was fitted with: set_params
    # after fit changes what the next fit builds, not the fitted model.
    # Building also draws seeds from random_state, whose draws the saved
    # state then replaces; a RandomState instance must come out of unpickling
    # as it went in, not advanced by that draw.
    building = {
        **getattr(estimator, "_built_with", {}),
        "random_state": copy.deepcopy(estimator.random_state),
    }
    current = {name: getattr(estimator, name) for name in building}
    vars(estimator).update(building)
    try:
        return _rebuild_net(
            estimator,
            json.loads(zlib.decompress(saved["net"])),
            tensors,
            torch.device("cpu"),
            "the pickled estimator",
        )
    finally:
        vars(estimator).update(current)
