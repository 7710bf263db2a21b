"""skae.save and skae.load refuse bad paths and edited files with clear errors."""

import json
import os
import re
import stat
import tempfile

import numpy as np
import pytest
from estimator_settings import make, n_features, parametrize_estimators
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from saved_files import read, rewrite

import skae
import skae._io.save_load

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def data(cls):
    return np.random.default_rng(0).random((30, n_features(cls, 5)))


@pytest.fixture
def saved(tmp_path):
    """A fitted AutoEncoder on 5 features, its file, its header and tensors."""
    estimator = make(skae.AutoEncoder).fit(data(skae.AutoEncoder))
    path = tmp_path / "model.safetensors"
    skae.save(estimator, path)
    header, tensors = read(path)
    return estimator, path, header, tensors


# ------------------------------------------------------------------ paths


def test_save_refuses_to_replace_a_read_only_file(saved):
    estimator, path, _, _ = saved
    before = path.read_bytes()
    path.chmod(stat.S_IRUSR | stat.S_IRGRP)
    try:
        with pytest.raises(PermissionError, match="read-only.*model.safetensors"):
            skae.save(estimator.set_params(verbose=0), path)
        assert path.read_bytes() == before
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)


@pytest.mark.parametrize("function", ["save", "load"])
@pytest.mark.parametrize(
    "path, error, message",
    [
        ("", ValueError, "got an empty path. Pass a file name"),
        (
            b"model.safetensors",
            TypeError,
            "takes a path.*got bytes b'model.safetensors'. Decode",
        ),
        (3, TypeError, "takes a path as a str or pathlib.Path, got int"),
    ],
)
def test_bad_paths_are_refused_by_name(function, path, error, message):
    estimator = make(skae.AutoEncoder)
    args = (estimator, path) if function == "save" else (path,)
    with pytest.raises(error, match=f"skae.{function} {message}"):
        getattr(skae, function)(*args)


def test_save_into_a_missing_folder_names_the_folder(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        skae.save(make(skae.AutoEncoder), missing / "model.safetensors")


def test_save_onto_a_directory_names_it(tmp_path):
    with pytest.raises(IsADirectoryError, match=re.escape(str(tmp_path))):
        skae.save(make(skae.AutoEncoder), tmp_path)


def test_save_writes_its_temporary_file_next_to_the_destination(tmp_path, monkeypatch):
    written = []
    original = skae._io.save_load.save_file

    def spy(tensors, filename, metadata=None):
        written.append(os.path.dirname(filename))
        return original(tensors, filename, metadata=metadata)

    monkeypatch.setattr(skae._io.save_load, "save_file", spy)
    monkeypatch.chdir(tmp_path)
    os.mkdir("sub")
    skae.save(make(skae.AutoEncoder), "sub/model.safetensors")
    assert written == [str(tmp_path / "sub")]


@pytest.mark.parametrize(
    "make_path, error",
    [
        (lambda d: d / "missing.safetensors", FileNotFoundError),
        (lambda d: d, IsADirectoryError),
    ],
)
def test_load_reports_missing_files_and_directories_by_name(tmp_path, make_path, error):
    path = make_path(tmp_path)
    with pytest.raises(error, match=re.escape(str(path))):
        skae.load(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_load_reports_an_unreadable_file_as_unreadable(saved):
    _, path, _, _ = saved
    path.chmod(0)
    try:
        with pytest.raises(PermissionError, match=re.escape(str(path))):
            skae.load(path)
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_load_refuses_the_meta_device(saved):
    _, path, _, _ = saved
    with pytest.raises(ValueError, match="device='meta' holds.*no data"):
        skae.load(path, device="meta")


# ---------------------------------------------------------- edited headers


def _params(header):
    return header["params"]["__dict__"]


def _attributes(header):
    return header["attributes"]["__dict__"]


def _set_widths(header, widths):
    _params(header)["hidden_layer_sizes"] = {"__tuple__": widths}
    _attributes(header)["_built_with"]["__dict__"]["hidden_layer_sizes"] = {
        "__tuple__": widths
    }


EDITS = {
    "huge_n_features_in": (
        lambda h: _attributes(h).update(n_features_in_=10**13),
        r"module\.\S+ has shape \([\d, ]+\) in the file.*10000000000000",
    ),
    "huge_hidden_layer": (
        lambda h: _set_widths(h, [10**13]),
        r"module\.\S+ has shape \([\d, ]+\) in the file.*1000000000000\d",
    ),
    "negative_n_components": (
        lambda h: _params(h).update(n_components=-5),
        r"params hold an invalid value: The 'n_components' parameter",
    ),
    "unknown_activation": (
        lambda h: _params(h).update(activation="foo"),
        r"params hold an invalid value: The 'activation' parameter",
    ),
    "negative_learning_rate": (
        lambda h: _params(h).update(learning_rate_init=-1),
        r"params hold an invalid value: The 'learning_rate_init' parameter",
    ),
    "wrong_n_features_out": (
        lambda h: _attributes(h).update(_n_features_out=7),
        r"attributes._n_features_out is 7 but n_components is 2",
    ),
    "array_shape_without_its_data": (
        lambda h: _attributes(h).update(
            feature_names_in_={"__ndarray__": ["a"], "dtype": "|O", "shape": [5]}
        ),
        r"attributes.feature_names_in_ claims an array of shape \(5,\) but holds 1",
    ),
    "structured_dtype": (
        lambda h: _attributes(h).update(
            noise_variance_={"__ndarray__": [], "dtype": "(1000,1000)f8", "shape": [0]}
        ),
        r"attributes.noise_variance_: refusing to load an array of dtype",
    ),
    "missing_net": (lambda h: h.pop("net"), r"net is missing"),
    "missing_params": (lambda h: h.pop("params"), r"params is missing"),
    "missing_fitted": (lambda h: h.pop("fitted"), r"fitted is missing"),
    "missing_n_features_in": (
        lambda h: _attributes(h).pop("n_features_in_"),
        r"attributes.n_features_in_ is missing",
    ),
    "missing_batch_size": (
        lambda h: h["net"].pop("batch_size"),
        r"net.batch_size is missing",
    ),
    "string_n_iter": (
        lambda h: _attributes(h).update(n_iter_="3"),
        r"attributes.n_iter_ must be an integer >= 0",
    ),
    "history_of_other_length": (
        lambda h: h["net"]["history"].pop(),
        r"net.history has 2 epochs for n_iter_=3",
    ),
    "not_a_device": (
        lambda h: _params(h).update(device={"__device__": "warp drive"}),
        r"params.device is not a device",
    ),
    # transform would ask torch for them: an overflow error, or at 2**31 an
    # aborted process (libgomp).
    "threads_torch_cannot_start": (
        lambda h: _params(h).update(n_threads=2**50),
        r"params hold an invalid value: The 'n_threads' parameter",
    ),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_edited_header_is_refused_naming_file_and_key(saved, edit):
    _, path, header, tensors = saved
    change, message = EDITS[edit]
    change(header)
    rewrite(path, header, tensors)
    with pytest.raises(ValueError, match=f"Cannot load '{re.escape(str(path))}'.*"):
        try:
            skae.load(path)
        except ValueError as exc:
            assert re.search(message, str(exc)), str(exc)
            raise


def test_arrays_missing_from_the_file_are_named(saved):
    _, path, header, tensors = saved
    name = sorted(key for key in tensors if key.startswith("module.decoder"))[-1]
    del tensors[name]
    rewrite(path, header, tensors)
    with pytest.raises(ValueError, match=f"{re.escape(name)} is missing"):
        skae.load(path)


# --------------------------------------------------------------- property

_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=4),
    st.lists(st.integers(-3, 2**40), max_size=3),
    st.sampled_from([{"__tuple__": [10**13]}, {"__dict__": {}}, {"__tuple__": 3}]),
)


def _leaves(value, path=()):
    """Every key path into a JSON document, outermost first."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))


def _edit(document, path, value):
    *parents, last = path
    for key in parents:
        document = document[key]
    if value is _DELETE:
        del document[last]
    else:
        document[last] = value


_DELETE = object()


@parametrize_estimators
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_single_edit_is_refused_clearly_or_harmless(cls, data):
    X = _fitted_cache(cls)[1]
    original, header, tensors = _fitted_cache(cls)[0], *_fitted_cache(cls)[2:]
    header = json.loads(json.dumps(header))
    paths = [p for p in _leaves(header) if p]
    where = data.draw(st.sampled_from(paths), label="key")
    value = data.draw(st.one_of(st.just(_DELETE), _LEAF), label="value")
    _edit(header, where, value)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.safetensors")
        rewrite(path, header, tensors)
        try:
            loaded = skae.load(path)
        except ValueError as exc:
            assert path in str(exc), str(exc)
            return
    if hasattr(loaded, "net_"):
        assert_array_equal(loaded.transform(X), original.transform(X))


_CACHE = {}


def _fitted_cache(cls):
    """One fitted estimator per class, its data and its saved header and tensors."""
    if cls not in _CACHE:
        X = data(cls)
        estimator = make(cls).fit(X)
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "model.safetensors")
            skae.save(estimator, path)
            header, tensors = read(path)
        _CACHE[cls] = (estimator, X, header, tensors)
    return _CACHE[cls]


@pytest.mark.parametrize(
    "key, value",
    [
        ("_empty_features", 5),
        ("_indicator_features", {"__ndarray__": [99], "dtype": "<i8", "shape": [1]}),
        ("statistics_", None),
    ],
)
def test_imputer_attributes_are_checked(key, value):
    _, _, header, tensors = _fitted_cache(skae.AutoEncoderImputer)
    header = json.loads(json.dumps(header))
    header["attributes"]["__dict__"][key] = value
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.safetensors")
        rewrite(path, header, tensors)
        with pytest.raises(ValueError, match=rf"{key}"):
            skae.load(path)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.floats(width=32, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=20,
    )
)
def test_float32_arrays_are_written_short_and_read_back_bit_for_bit(numbers):
    from skae._io.format.encoding import from_json, to_json

    array = np.asarray(numbers, dtype=np.float32)
    written = json.loads(json.dumps(to_json(array, "attribute")))
    back = from_json(written, "attribute")
    assert back.dtype == np.float32
    assert_array_equal(back.view(np.uint32), array.view(np.uint32))
    # Never longer than float64's text but by a character a number: float32's
    # shortest digits of 99999997952.0 are 1e+11, which JSON spells
    # 100000000000.0 (hypothesis found it).
    short = len(json.dumps(written["__ndarray__"]))
    assert short <= len(json.dumps(array.tolist())) + len(numbers)
