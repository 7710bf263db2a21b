"""Which parameters a warm start may change, and the check that refuses the rest.

A warm start (``warm_start=True``, ``partial_fit``) goes on training the
network that exists. Parameters that steer how training goes on, or that are
read at call time, may change in between; every other parameter describes the
network or its loss, which must stay as it was built.
"""

from .constraints import same_param

#: Parameters every estimator may change between a fit and a warm start. A
#: variant adds its own in its ``_warm_start_params`` class attribute.
WARM_START_PARAMS = frozenset(
    {
        "batch_size",
        "learning_rate_init",
        "max_iter",
        "n_iter_no_change",
        "n_threads",
        "random_state",
        "shuffle",
        "tol",
        "verbose",
        "warm_start",
    }
)


def architecture_params(estimator):
    """The estimator's parameters that a warm start must not change."""
    free = WARM_START_PARAMS | estimator._warm_start_params
    return {
        name: value
        for name, value in estimator.get_params(deep=False).items()
        if name not in free
    }


def check_built_with(estimator, action):
    """Refuse to go on when a parameter the network was built with has changed.

    ``action`` says what would go wrong, e.g. "partial_fit continues
    training it".
    """
    built = getattr(estimator, "_built_with", None)
    if built is None:
        return
    name_of = type(estimator).__name__
    for name, value in architecture_params(estimator).items():
        if name in built and not same_param(name, value, built[name]):
            raise ValueError(
                f"{name_of}'s {name} was changed from {built[name]!r} to "
                f"{value!r} after the network was built, and {action}. Set "
                f"{name} back to {built[name]!r}, or fit with warm_start=False "
                "to build a new network."
            )
