import copy
import copyreg
import io
import os
import pickle
import subprocess
import sys
import warnings

import joblib
import numpy as np
import pytest
import torch
from estimator_settings import make, n_features, parametrize_estimators
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skae

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def data(cls, n_samples=60, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n_samples, n_features(cls, 5)))


def fitted(cls, **params):
    return make(cls, **params).fit(data(cls))


class NoTorchUnpickler(pickle.Unpickler):
    """Refuses every torch or skorch object: what a device could be bound to."""

    def find_class(self, module, name):
        if module.split(".")[0] in ("torch", "skorch"):
            raise pickle.UnpicklingError(f"the pickle holds {module}.{name}")
        return super().find_class(module, name)


def as_if_pickled_on_a_gpu(obj, monkeypatch):
    """``pickle.dumps(obj)`` as a CUDA machine writes it, on any machine.

    Every tensor storage is tagged ``cuda:0`` and every ``torch.Generator``
    is recreated as a CUDA generator, as torch does for objects that live on
    a GPU. Only deserialisation that maps devices (``torch.load`` with a
    ``map_location``) can read such objects back without CUDA.
    """

    def cuda_generator(generator):
        return torch.Generator, (torch.device("cuda"),), generator.get_state()

    with monkeypatch.context() as patch:
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        patch.setitem(copyreg.dispatch_table, torch.Generator, cuda_generator)
        return pickle.dumps(obj)


# ------------------------------------------------------------- portability


@parametrize_estimators
def test_pickle_holds_no_torch_object(cls):
    X = data(cls)
    estimator = fitted(cls)
    restored = NoTorchUnpickler(io.BytesIO(pickle.dumps(estimator))).load()
    assert restored.device_ == torch.device("cpu")
    assert_array_equal(restored.transform(X), estimator.transform(X))


@parametrize_estimators
def test_model_pickled_on_a_gpu_unpickles_without_cuda(cls, monkeypatch):
    X = data(cls)
    estimator = fitted(cls)
    payload = as_if_pickled_on_a_gpu(estimator, monkeypatch)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        restored = pickle.loads(payload)
    assert restored.device_ == torch.device("cpu")
    assert_array_equal(restored.transform(X), estimator.transform(X))
    if hasattr(estimator, "score_samples"):  # an imputer has none
        assert_array_equal(restored.score_samples(X), estimator.score_samples(X))


@parametrize_estimators
def test_unpickled_model_trains_on_like_the_original(cls):
    X = data(cls)
    estimator = fitted(cls)
    restored = pickle.loads(pickle.dumps(estimator))
    for model in (estimator, restored):
        model.partial_fit(X)
        model.set_params(warm_start=True, max_iter=2).fit(X)
    assert restored.loss_curve_ == estimator.loss_curve_
    assert_array_equal(restored.transform(X), estimator.transform(X))


@parametrize_estimators
def test_joblib_memory_mapped_load_trains_on(cls, tmp_path):
    # Read-only memory maps in place of every array: the rebuilt net must own
    # its memory, since training writes to it.
    X = data(cls)
    estimator = fitted(cls)
    joblib.dump(estimator, tmp_path / "model.joblib")
    restored = joblib.load(tmp_path / "model.joblib", mmap_mode="r")
    assert_array_equal(restored.transform(X), estimator.transform(X))
    for model in (estimator, restored):
        model.partial_fit(X)
    assert_array_equal(restored.transform(X), estimator.transform(X))


def test_unpickling_leaves_a_random_state_instance_as_it_was():
    cls = skae.DenoisingAutoEncoder
    X = data(cls)
    estimator = fitted(cls, random_state=np.random.RandomState(0))
    restored = pickle.loads(pickle.dumps(estimator))
    assert (
        restored.random_state.get_state()[1] == estimator.random_state.get_state()[1]
    ).all()
    for model in (estimator, restored):
        model.set_params(warm_start=True, max_iter=2).fit(X)
    assert_array_equal(restored.transform(X), estimator.transform(X))


@parametrize_estimators
def test_parameters_changed_after_fit_do_not_break_unpickling(cls):
    X = data(cls)
    estimator = fitted(cls)
    estimator.set_params(n_components=3, activation="tanh", alpha=0.5)
    restored = pickle.loads(pickle.dumps(estimator))
    # assert_equal, not ==: an imputer's missing_values=nan equals itself here.
    np.testing.assert_equal(restored.get_params(), estimator.get_params())
    assert_array_equal(restored.transform(X), estimator.transform(X))


def test_pickling_leaves_the_estimator_untouched():
    estimator = fitted(skae.AutoEncoder)
    net = estimator.net_
    pickle.dumps(estimator)
    copy.deepcopy(estimator)
    assert estimator.net_ is net


def test_unfitted_and_set_output_state_survive_pickling():
    estimator = make(skae.AutoEncoder).set_output(transform="pandas")
    restored = pickle.loads(pickle.dumps(estimator))
    assert not hasattr(restored, "net_")
    assert vars(restored) == vars(estimator)


# ---------------------------------------------------------------- size


def test_pickle_stores_the_weights_once():
    # The default AutoEncoder on digits, through all of its max_iter epochs:
    # the longest history it keeps. Few rows, so that an epoch is one step.
    X = load_digits().data[:100] / 16.0
    estimator = skae.AutoEncoder(random_state=0, n_iter_no_change=200).fit(X)
    assert estimator.n_iter_ == estimator.max_iter
    weights = sum(p.nbytes for p in estimator.net_.module_.state_dict().values())
    adam = sum(
        torch.as_tensor(value).nbytes
        for state in estimator.net_.optimizer_.state_dict()["state"].values()
        for value in state.values()
    )
    for size in (len(pickle.dumps(estimator)), len(joblib_bytes(estimator))):
        # Plus the latent density behind sample(): arrays, stored once too.
        density = sum(
            value.nbytes
            for value in estimator._latent_density.values()
            if isinstance(value, np.ndarray)
        )
        assert size <= 1.3 * (weights + adam) + density, (size, weights, adam)


def joblib_bytes(estimator):
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- skops


@parametrize_estimators
def test_skops_round_trips_a_pipeline(cls):
    sio = pytest.importorskip("skops.io")
    X = data(cls, n_samples=80)
    y = (X[:, 0] > 0.5).astype(int)
    pipe = make_pipeline(StandardScaler(), make(cls), LogisticRegression()).fit(X, y)

    payload = sio.dumps(pipe)
    untrusted = sio.get_untrusted_types(data=payload)
    assert untrusted == [f"{cls.__module__}.{cls.__name__}"]
    loaded = sio.loads(payload, trusted=untrusted)

    assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))
    assert_array_equal(loaded[:-1].transform(X), pipe[:-1].transform(X))
    assert loaded[1].device_ == torch.device("cpu")


# ------------------------------------------------------------------ GPU

LOAD_ON_CPU = """
import pickle, sys
import numpy as np
import skae, torch
assert not torch.cuda.is_available()
model = pickle.load(open(sys.argv[1], "rb"))
saved = skae.load(sys.argv[2])
X = np.load(sys.argv[3])
np.save(sys.argv[4], np.stack([model.transform(X), saved.transform(X)]))
"""


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@parametrize_estimators
def test_gpu_trained_model_loads_in_a_process_without_cuda(cls, tmp_path):
    X = data(cls)
    estimator = fitted(cls, device="cuda")
    with open(tmp_path / "model.pkl", "wb") as file:
        pickle.dump(estimator, file)
    skae.save(estimator, tmp_path / "model.safetensors")
    np.save(tmp_path / "X.npy", X)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    paths = [tmp_path / name for name in ("model.pkl", "model.safetensors")]
    paths += [tmp_path / "X.npy", tmp_path / "codes.npy"]
    subprocess.run(
        [sys.executable, "-c", LOAD_ON_CPU, *map(str, paths)], env=env, check=True
    )
    from_pickle, from_file = np.load(tmp_path / "codes.npy")
    # Both land on the CPU, which computes in float64: they agree exactly with
    # each other and, to float32 rounding, with the GPU.
    assert_array_equal(from_pickle, from_file)
    np.testing.assert_allclose(
        from_pickle, estimator.transform(X), rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("cls", [skae.AutoEncoder, skae.VariationalAutoEncoder])
def test_a_pickle_from_before_sampling_loads_with_the_sampling_it_had(cls):
    X = np.random.default_rng(0).random((40, 5))
    estimator = cls(n_components=2, hidden_layer_sizes=(4,), max_iter=2).fit(X)
    state = estimator.__getstate__()
    for key in ("latent_density", "calibrate_samples", "_latent_density"):
        del state[key]
    old = cls.__new__(cls)
    old.__setstate__(state)
    assert_allclose(old.transform(X), estimator.transform(X))
    params = old.get_params()
    if cls is skae.VariationalAutoEncoder:
        assert params["latent_density"] == "prior"
        assert params["calibrate_samples"] is False
        assert old.sample(3, random_state=0).shape == (3, 5)
    else:
        assert params["latent_density"] is None
        with pytest.raises(NotFittedError, match="latent_density=None"):
            old.sample(3)
