"""Files written by an older skae load, and transform exactly as they did.

``tests/data/main-649e602/`` holds, for every public estimator, a
``skae.save`` file, a pickle and a skops file written at commit 649e602 (the
last commit before the modules moved into folders), with the rows each was
probed with and the output of ``transform`` on them; its README shows the
script that wrote them. Pickles and skops files name the estimators' modules
(``skae._autoencoder.AutoEncoder``), so those paths must stay importable.
"""

import pickle
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from numpy.testing import assert_array_equal

import skae

DATA = Path(__file__).parent / "data" / "main-649e602"
NAMES = [
    name
    for name in skae.__all__
    if isinstance(getattr(skae, name), type) and (DATA / f"{name}.pkl").exists()
]


def _skae_load(path):
    return skae.load(path)


def _unpickle(path):
    with open(path, "rb") as file:
        return pickle.load(file)


def _skops_load(path):
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


def test_every_public_estimator_has_old_files():
    classes = [n for n in skae.__all__ if isinstance(getattr(skae, n), type)]
    assert sorted(NAMES) == sorted(classes)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "suffix, read",
    [(".safetensors", _skae_load), (".pkl", _unpickle), (".skops", _skops_load)],
    ids=["skae.load", "pickle", "skops"],
)
def test_old_file_transforms_as_before(name, suffix, read):
    expected = np.load(DATA / f"{name}_expected.npz")
    estimator = read(str(DATA / f"{name}{suffix}"))
    assert type(estimator) is getattr(skae, name)
    assert_array_equal(estimator.transform(expected["X"]), expected["transform"])


#: Where each estimator class lives. Pickles, skops files and the
#: ``skops_trusted_types`` lists of mlflow users name these paths.
MODULES = {
    "AutoEncoder": "skae._autoencoder",
    "DenoisingAutoEncoder": "skae._denoising",
    "SparseAutoEncoder": "skae._sparse",
    "VariationalAutoEncoder": "skae._variational",
    "ConvAutoEncoder": "skae._convolutional",
    "AutoEncoderImputer": "skae._imputer",
    "UMAPAutoEncoder": "skae._umap",
}


@pytest.mark.parametrize("name", NAMES)
def test_estimator_module_paths_are_unchanged(name):
    untrusted = sio.get_untrusted_types(file=str(DATA / f"{name}.skops"))
    assert untrusted == [f"{MODULES[name]}.{name}"]
    assert getattr(skae, name).__module__ == MODULES[name]
