"""Small constructor settings for every public estimator, in one place.

The persistence, fault and input-contract tests run on every estimator class
that ``skae.__all__`` exports. A class added to skae without an entry in
:data:`SETTINGS` makes those tests fail (see :func:`make`), rather than be
skipped without anyone noticing.
"""

import pytest

import skae
from skae import (
    AutoEncoder,
    AutoEncoderImputer,
    ConvAutoEncoder,
    DenoisingAutoEncoder,
    SparseAutoEncoder,
    UMAPAutoEncoder,
    VariationalAutoEncoder,
)
from skae._base.base import BaseAutoEncoder

#: Constructor parameters giving a tiny, quick network for each class, on
#: input of any number of features (unless listed in N_FEATURES).
SETTINGS = {
    "AutoEncoder": {"n_components": 2, "hidden_layer_sizes": (8,)},
    "DenoisingAutoEncoder": {
        "n_components": 2,
        "hidden_layer_sizes": (8,),
        "noise": "gaussian",
        "noise_level": 0.1,
    },
    "SparseAutoEncoder": {"n_components": 4, "n_active": 2, "hidden_layer_sizes": (8,)},
    "VariationalAutoEncoder": {"n_components": 2, "hidden_layer_sizes": (8,)},
    "ConvAutoEncoder": {"n_components": 2, "channels": (2,), "kernel_size": 3},
    "AutoEncoderImputer": {"n_components": 2, "hidden_layer_sizes": (8,)},
    "UMAPAutoEncoder": {
        "n_components": 2,
        "n_neighbors": 4,
        "hidden_layer_sizes": (8,),
        "batch_size": 16,
    },
}

#: Imputers return completed data, not codes, and take NaN: the encoder
#: contract of tests/test_input.py does not apply to them (their own
#: is in their test file); persistence and fault tests still run on them.
IMPUTERS = {"AutoEncoderImputer"}

#: Classes that only accept one number of input features (e.g. images of a
#: given shape) map to that number; the others take any.
N_FEATURES = {
    # image_shape="auto": 4 x 4 grey images.
    "ConvAutoEncoder": 16,
}

ESTIMATOR_CLASSES = [
    getattr(skae, name)
    for name in skae.__all__
    if isinstance(getattr(skae, name), type)
    and issubclass(getattr(skae, name), BaseAutoEncoder)
]

#: ``@parametrize_estimators`` runs a test once per public estimator class.
parametrize_estimators = pytest.mark.parametrize(
    "cls", ESTIMATOR_CLASSES, ids=[cls.__name__ for cls in ESTIMATOR_CLASSES]
)


#: The estimators whose transform returns codes (every one but the imputers).
ENCODER_CLASSES = [cls for cls in ESTIMATOR_CLASSES if cls.__name__ not in IMPUTERS]
parametrize_encoders = pytest.mark.parametrize(
    "cls", ENCODER_CLASSES, ids=[cls.__name__ for cls in ENCODER_CLASSES]
)


def make(cls, **params):
    """A small instance of ``cls``: its SETTINGS, 3 epochs, seed 0, no
    validation split (which a 1-row input could not afford), ``params``."""
    if cls.__name__ not in SETTINGS:
        pytest.fail(
            f"{cls.__name__} is exported by skae but has no entry in SETTINGS "
            "in tests/estimator_settings.py; add small constructor settings "
            "for it so that the shared tests cover it."
        )
    defaults = {"max_iter": 3, "random_state": 0, "early_stopping": False}
    return cls(**{**defaults, **SETTINGS[cls.__name__], **params})


def n_features(cls, default):
    """The number of input features to test ``cls`` with."""
    return N_FEATURES.get(cls.__name__, default)


#: One small instance per configuration worth checking, for scikit-learn's
#: estimator checks (test_common.py) and the search tests (test_scaling.py).
ESTIMATORS = [
    AutoEncoder(n_components=2, hidden_layer_sizes=(8,), max_iter=20),
    DenoisingAutoEncoder(n_components=2, hidden_layer_sizes=(8,), max_iter=20),
    SparseAutoEncoder(n_components=4, n_active=2, hidden_layer_sizes=(8,), max_iter=20),
    SparseAutoEncoder(
        n_components=4, sparsity="l1", hidden_layer_sizes=(8,), max_iter=20
    ),
    # The interpretability settings: a linear dictionary with AuxK.
    SparseAutoEncoder(n_components=4, n_active=2, sparsity="sae_topk", max_iter=20),
    SparseAutoEncoder(
        n_components=4,
        n_active=2,
        sparsity="sae_batchtopk",
        learning_rate="linear",
        max_iter=20,
    ),
    VariationalAutoEncoder(n_components=2, hidden_layer_sizes=(8,), max_iter=20),
    ConvAutoEncoder(n_components=2, channels=(2,), max_iter=20),
    AutoEncoderImputer(n_components=2, hidden_layer_sizes=(8,), max_iter=20),
    UMAPAutoEncoder(n_neighbors=5, hidden_layer_sizes=(8,), batch_size=32, max_iter=5),
    # Supervised: the checks pass y (class labels, or floats), which the
    # label head trains on.
    AutoEncoder(
        n_components=2, hidden_layer_sizes=(8,), max_iter=20, target_weight=0.5
    ),
    DenoisingAutoEncoder(
        n_components=2, hidden_layer_sizes=(8,), max_iter=20, target_weight=0.5
    ),
    ConvAutoEncoder(n_components=2, channels=(2,), max_iter=20, target_weight=0.5),
    # Supervised: the checks pass y, which then shapes the graph and the head.
    UMAPAutoEncoder(
        n_neighbors=5,
        hidden_layer_sizes=(8,),
        batch_size=32,
        max_iter=5,
        target_weight=0.5,
    ),
]
