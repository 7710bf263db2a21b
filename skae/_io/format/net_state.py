"""The tensor half of a skae file: a fitted net's weights, optimiser and generators,
and the numeric arrays of the fitted attributes.

:func:`net_state` splits a fitted skorch net into a JSON-able description
and named tensors; :func:`rebuild_net` builds the estimator's network anew
through ``_initialize_net`` and loads them into it.
"""

import os

import torch
from safetensors import SafetensorError, safe_open

from ..._net import net_generators
from .encoding import from_json, to_json
from .header import invalid

MODULE, CRITERION, OPTIMIZER, GENERATOR = (
    "module.",
    "criterion.",
    "optimizer.",
    "generator.",
)
#: The prefix of the names of the fitted attributes' arrays in the file.
ATTRIBUTES = "attributes."


def net_state(net):
    """JSON-able description and tensors of a fitted net."""
    tensors = {}
    tensors.update(_prefixed(MODULE, net.module_.state_dict()))
    tensors.update(_prefixed(CRITERION, net.criterion_.state_dict()))
    for index, state in net.optimizer_.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"{OPTIMIZER}{index}.{key}"] = torch.as_tensor(value)
    generators = {}
    for name, generator in net_generators(net).items():
        tensors[GENERATOR + name] = generator.get_state()
        generators[name] = generator.device.type
    description = {
        "device_type": torch.device(net.device).type,
        "batch_size": int(net.batch_size),
        "generators": generators,
        "history": to_json([dict(row) for row in net.history], "history entry"),
    }
    # safetensors stores each array once, contiguous and on the CPU.
    tensors = {
        key: tensor.detach().to("cpu").contiguous().clone()
        for key, tensor in tensors.items()
    }
    return description, tensors


def rebuild_net(estimator, description, tensors, device, path):
    """A net of the estimator's architecture on ``device``, with the saved state."""
    # The loaded model goes where the caller asked; the estimator's ``device``
    # parameter keeps its saved value.
    net = estimator._initialize_net(
        estimator.n_features_in_, description["batch_size"], device
    )

    try:
        net.module_.load_state_dict(_unprefixed(MODULE, tensors), strict=True)
        net.criterion_.load_state_dict(_unprefixed(CRITERION, tensors), strict=True)
        optimizer = net.optimizer_.state_dict()
        state = {}
        for key, tensor in _unprefixed(OPTIMIZER, tensors).items():
            index, name = key.split(".", 1)
            state.setdefault(int(index), {})[name] = tensor
        net.optimizer_.load_state_dict(
            {"state": state, "param_groups": optimizer["param_groups"]}
        )
    except (RuntimeError, ValueError, KeyError) as exc:
        raise ValueError(
            f"The weights in {os.fspath(path)!r} do not fit the network that "
            f"its parameters describe: {exc}"
        ) from exc

    # A generator's state only means something to a generator of the same
    # kind; on another device type the freshly seeded one is kept.
    for name, generator in net_generators(net).items():
        key = GENERATOR + name
        if description["generators"].get(name) == generator.device.type:
            if key in tensors:
                try:
                    generator.set_state(tensors[key].to("cpu"))
                except (RuntimeError, TypeError) as exc:
                    message = f"is not a generator state ({exc})."
                    raise invalid(path, key, message) from exc
    try:
        history = from_json(description["history"], "net.history")
    except ValueError as exc:
        raise ValueError(f"Cannot load {path!r}: {exc}") from exc
    if not all(isinstance(row, dict) for row in history):
        raise invalid(path, "net.history", "must be a list of one dict per epoch.")
    net.history.extend(history)
    return net


def attribute_arrays(path):
    """The numeric arrays of the fitted attributes, by name, as numpy arrays.

    Read before anything is built: the checks of the attributes need their
    values. They take no more memory than the file's own bytes.
    """
    arrays = {}
    try:
        with safe_open(path, framework="numpy") as file:
            for key in file.keys():
                if key.startswith(ATTRIBUTES):
                    arrays[key] = file.get_tensor(key)
    except (SafetensorError, TypeError, ValueError) as exc:
        raise invalid(path, "attributes", f"hold an unreadable array ({exc}).") from exc
    for key, array in arrays.items():
        if array.dtype.kind not in "biuf":
            raise invalid(path, key, f"has dtype {array.dtype}; skae writes numbers.")
    return arrays


def _prefixed(prefix, state_dict):
    return {prefix + key: value for key, value in state_dict.items()}


def _unprefixed(prefix, tensors):
    return {
        key[len(prefix) :]: value
        for key, value in tensors.items()
        if key.startswith(prefix)
    }
