"""skae.skops_trusted_types: what skops (and mlflow through it) asks to trust."""

import numpy as np
import pytest
from estimator_settings import make, n_features, parametrize_estimators
from numpy.testing import assert_array_equal
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

import skae

sio = pytest.importorskip("skops.io")
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_lists_every_public_estimator_under_its_module_path():
    types = skae.skops_trusted_types()
    assert "skae._autoencoder.AutoEncoder" in types
    assert types == sorted(types)
    classes = [getattr(skae, n) for n in skae.__all__]
    assert len(types) == sum(isinstance(c, type) for c in classes)


@parametrize_estimators
def test_a_pipeline_holding_any_estimator_loads_with_that_list(cls, tmp_path):
    X = np.random.default_rng(0).random((40, n_features(cls, 5)))
    pipe = make_pipeline(MinMaxScaler(), make(cls)).fit(X)
    path = tmp_path / "pipeline.skops"
    sio.dump(pipe, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert set(untrusted) <= set(skae.skops_trusted_types())
    loaded = sio.load(path, trusted=skae.skops_trusted_types())
    assert_array_equal(loaded.transform(X), pipe.transform(X))
