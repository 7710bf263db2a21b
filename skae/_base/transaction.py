"""A failed fit changes nothing.

``fit`` and ``partial_fit`` run inside :func:`fit_transaction`: the
estimator's fitted state (every attribute that is not a parameter) and, for a
call that trains the existing network further, that network's weights,
optimiser state, random generators and history are set aside first. If the
call raises, for whatever reason and at whatever step, they are put back, so
the estimator transforms, scores and saves exactly as it did before.

Set aside rather than trained on a copy because a fresh fit builds a new
network anyway, and a warm start then costs one copy of the weights and
optimiser state, which skorch's training already needs room for.

The one exception that keeps the call's work is :class:`FitInterrupted`: a
Ctrl-C after at least one completed epoch, raised once those epochs are kept.
No scikit-learn here, and no skorch: the net is reached through its
attributes only.
"""

import copy
from contextlib import contextmanager

import torch

from .._net import net_generators


class FitInterrupted(KeyboardInterrupt):
    """Ctrl-C during training, raised after the completed epochs were kept.

    A ``KeyboardInterrupt``, so that a loop of fits or a grid search stops;
    the estimator is fitted with the weights of its last completed epoch.
    """


@contextmanager
def fit_transaction(estimator, *, continuing):
    """Run the block; if it raises (but :class:`FitInterrupted`), undo its changes.

    ``continuing`` says whether the block trains ``estimator.net_`` in place
    (a warm start, ``partial_fit``); only then is the network's state saved.
    """
    params = set(estimator.get_params(deep=False))
    attributes = {k: v for k, v in vars(estimator).items() if k not in params}
    net = attributes.get("net_") if continuing else None
    net_state = None if net is None else _net_state(net)
    try:
        yield
    except FitInterrupted:
        raise
    except BaseException:
        for key in [k for k in vars(estimator) if k not in params]:
            delattr(estimator, key)
        vars(estimator).update(attributes)
        if net is not None:
            _restore_net(net, net_state)
        raise


# Net attributes a training call may reassign (warm-start settings, skorch's
# per-call bookkeeping).
_NET_ATTRIBUTES = ("batch_size", "shuffle", "max_epochs", "train_split")


def _net_state(net):
    return {
        "module": _clone(net.module_.state_dict()),
        "criterion": _clone(net.criterion_.state_dict()),
        # Also holds the learning rate of each parameter group.
        "optimizer": copy.deepcopy(net.optimizer_.state_dict()),
        "generators": {k: g.get_state() for k, g in net_generators(net).items()},
        "history": copy.deepcopy(list(net.history)),
        "attributes": {
            k: getattr(net, k)
            for k in (*_NET_ATTRIBUTES, "interrupted_")
            if hasattr(net, k)
        },
        # Callback settings changed by warm starts (patience, threshold,
        # monitor) and their per-call state: plain attribute values.
        "callbacks": {name: dict(vars(cb)) for name, cb in net.callbacks_},
    }


def _restore_net(net, state):
    with torch.no_grad():
        net.module_.load_state_dict(state["module"])
        net.criterion_.load_state_dict(state["criterion"])
    net.optimizer_.load_state_dict(state["optimizer"])
    for name, generator in net_generators(net).items():
        generator.set_state(state["generators"][name])
    net.history[:] = state["history"]
    for key, value in state["attributes"].items():
        setattr(net, key, value)
    for name, callback in net.callbacks_:
        saved = state["callbacks"].get(name)
        if saved is not None:
            vars(callback).clear()
            vars(callback).update(saved)


def _clone(state_dict):
    return {name: tensor.detach().clone() for name, tensor in state_dict.items()}
