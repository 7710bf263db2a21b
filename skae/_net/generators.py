"""The private generators a net draws from: they belong to its state."""

import torch


def net_generators(net):
    """The net's private ``torch.Generator`` objects, by role."""
    generators = {}
    if isinstance(getattr(net, "shuffle_generator", None), torch.Generator):
        generators["shuffle"] = net.shuffle_generator
    for submodule in net.module_.modules():
        generator = getattr(submodule, "generator", None)
        if isinstance(generator, torch.Generator):
            # attach_generator gives every random submodule the same one.
            generators["module"] = generator
            break
    return generators
