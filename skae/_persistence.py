"""Saving and loading estimators without pickle.

:func:`save` writes one ``.safetensors`` file: the tensors (module weights and
buffers, optimiser state, generator states) are safetensors' raw arrays, and
everything else (the class name, ``get_params()``, fitted attributes such as
``n_features_in_`` or ``loss_curve_``, the epoch-level training history) is
one JSON document kept in the file's safetensors header. :func:`load` reads
that JSON and the arrays and rebuilds the estimator through its own
constructor and ``_initialize_net``: no pickle, no ``torch.load``, no import of
a name taken from the file, so a file cannot run code when loaded.

Persisting a fitted Pipeline
----------------------------
:func:`save` stores one estimator. For a fitted
:class:`~sklearn.pipeline.Pipeline` containing an autoencoder, save the
autoencoder with :func:`save`, and the rest of the pipeline, with the
autoencoder's step set to ``"passthrough"``, with joblib or skops; loading
puts the two back together with ``set_params``::

    import joblib
    import skae
    from sklearn.pipeline import Pipeline

    # pipe = make_pipeline(MinMaxScaler(), AutoEncoder(), LogisticRegression())
    skae.save(pipe.named_steps["autoencoder"], "autoencoder.safetensors")
    # A new steps list, so that ``pipe`` itself keeps its autoencoder.
    rest = Pipeline(list(pipe.steps)).set_params(autoencoder="passthrough")
    joblib.dump(rest, "pipeline.joblib")

    pipe = joblib.load("pipeline.joblib")
    pipe.set_params(autoencoder=skae.load("autoencoder.safetensors"))

With `skops <https://skops.readthedocs.io>`_ (not a dependency of skae),
which refuses unknown types instead of running their code, the rest is
stored with ``skops.io.dump(rest, "pipeline.skops")`` and read back with
``skops.io.load("pipeline.skops", trusted=[...])`` after reviewing
``skops.io.get_untrusted_types(file="pipeline.skops")``. Together with
:func:`load` the whole pipeline then loads without executing code from the
files. Dumping the full pipeline with joblib also works (the estimators pickle
too, small and device-independent), but unpickling runs code from the file:
only do it with files you trust.
"""

import json
import os
import tempfile
from numbers import Integral

import numpy as np
import sklearn
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from ._base import BaseAutoEncoder
from ._runtime import resolve_device
from ._warnings import warn

#: Written into every file; :func:`load` refuses any other value.
FORMAT_NAME = "skae"
#: Bumped whenever a change would make older readers misread newer files.
FORMAT_VERSION = 1
_HEADER_KEY = "skae"

_MODULE, _CRITERION, _OPTIMIZER, _GENERATOR = (
    "module.",
    "criterion.",
    "optimizer.",
    "generator.",
)


def save(estimator, path):
    """Save an autoencoder to a ``.safetensors`` file, without pickle.

    The file holds the weights as safetensors arrays and the parameters and
    fitted state as JSON (in the safetensors header). It can be loaded on
    any machine, with or without the device the model was trained on, by
    :func:`load`. Unfitted estimators are saved with their parameters only.

    Parameters
    ----------
    estimator : AutoEncoder or another estimator exported by skae
        The estimator to save.
    path : str or os.PathLike
        Destination file, conventionally ending in ``.safetensors``. It is
        written to a temporary file first and renamed, so an interrupted save
        never leaves a truncated file in its place.

    See Also
    --------
    load : Read the file back.

    Notes
    -----
    What is kept: ``get_params()``, every fitted attribute, the module's
    weights and buffers, the optimiser state, the epoch-level training
    history and the states of the random generators, so that
    ``partial_fit`` or ``fit`` with ``warm_start=True`` continue after loading
    as they would have before saving (on the same kind of device).

    A ``random_state`` given as a ``RandomState`` instance cannot be stored;
    it is saved as ``None``, with a warning. Use an int to reproduce fits.

    To persist a fitted :class:`~sklearn.pipeline.Pipeline`, save its
    autoencoder with this function and the other steps with joblib or skops;
    see the pattern in the :mod:`skae._persistence` module documentation::

        skae.save(pipe.named_steps["autoencoder"], "autoencoder.safetensors")
        rest = Pipeline(list(pipe.steps)).set_params(autoencoder="passthrough")
        joblib.dump(rest, "pipeline.joblib")  # or skops.io.dump
        ...
        pipe = joblib.load("pipeline.joblib")
        pipe.set_params(autoencoder=skae.load("autoencoder.safetensors"))

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import skae
    >>> X = np.random.default_rng(0).random((100, 6))
    >>> ae = skae.AutoEncoder(n_components=2, max_iter=5, random_state=0).fit(X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "ae.safetensors")
    ...     skae.save(ae, path)
    ...     restored = skae.load(path)
    >>> bool(np.array_equal(restored.transform(X), ae.transform(X)))
    True
    """
    name = _public_name(type(estimator))
    if name is None:
        raise TypeError(
            f"skae.save stores the estimators exported by skae, got "
            f"{type(estimator).__module__}.{type(estimator).__qualname__}. "
            "Persist other objects with joblib or skops."
        )
    if hasattr(estimator, "net_"):
        estimator._check_built_with(
            "skae.save would store parameters that do not describe the network"
        )
    params = _params(estimator)
    # Everything else in the instance: fitted attributes, and state such as
    # set_output's configuration that an unfitted estimator can carry too.
    attributes = {
        key: value
        for key, value in vars(estimator).items()
        if key != "net_" and key not in params
    }
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "class": name,
        "versions": _versions(),
        "params": _encode(params, "parameter"),
        "attributes": _encode(attributes, "attribute"),
        "fitted": hasattr(estimator, "net_"),
    }
    tensors = {}
    if header["fitted"]:
        header["net"], tensors = _net_state(estimator.net_)

    metadata = {_HEADER_KEY: json.dumps(header)}
    folder = os.path.dirname(os.path.abspath(path))
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=".skae-", suffix=".tmp")
    os.close(handle)
    try:
        save_file(tensors, tmp, metadata=metadata)
        # mkstemp makes the file private (0600); give it the permissions any
        # new file gets, so that e.g. a model server's account can read it.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load(path, device=None):
    """Load an estimator saved by :func:`save`, executing no code from the file.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save`.
    device : str, torch.device or None, default=None
        Where to put the model. ``None`` means the CPU, whatever device the
        model was trained on; the estimator's ``device`` parameter keeps its
        saved value and ``device_`` tells where the model is.

    Returns
    -------
    estimator : AutoEncoder or another estimator exported by skae
        The estimator, fitted if it was when saved. ``transform`` gives
        bit-identical output to the saved estimator's on the same device.

    Raises
    ------
    ValueError
        If the file is not a skae file, was written in another format version,
        names a class that skae does not export, or does not match the
        architecture its parameters describe.

    See Also
    --------
    save : Write such a file.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import skae
    >>> X = np.random.default_rng(0).random((100, 6))
    >>> ae = skae.AutoEncoder(n_components=2, max_iter=5, random_state=0).fit(X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "ae.safetensors")
    ...     skae.save(ae, path)
    ...     restored = skae.load(path, device="cpu")
    >>> restored.device_
    device(type='cpu')
    """
    header = _read_header(path)
    cls = _estimator_class(header.get("class"))
    params = _decode(header.get("params", {}))
    try:
        estimator = cls(**params)
    except TypeError as exc:
        raise ValueError(
            f"{os.fspath(path)!r} holds parameters that {cls.__name__} does "
            f"not take ({exc}); it was probably written by another version "
            "of skae."
        ) from exc
    for key, value in _decode(header.get("attributes", {})).items():
        if not _is_attribute_name(cls, key, params):
            raise ValueError(
                f"{os.fspath(path)!r} sets {key!r}, which is not a fitted "
                f"attribute of {cls.__name__}; refusing to load it."
            )
        setattr(estimator, key, value)
    if not header.get("fitted"):
        return estimator

    device = torch.device("cpu") if device is None else resolve_device(device)
    tensors = load_file(os.fspath(path), device=str(device))
    estimator.net_ = _rebuild_net(estimator, header["net"], tensors, device, path)
    return estimator


# ---------------------------------------------------------------- the net


def _net_state(net):
    """JSON-able description and tensors of a fitted net."""
    tensors = {}
    tensors.update(_prefixed(_MODULE, net.module_.state_dict()))
    tensors.update(_prefixed(_CRITERION, net.criterion_.state_dict()))
    for index, state in net.optimizer_.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"{_OPTIMIZER}{index}.{key}"] = torch.as_tensor(value)
    generators = {}
    for name, generator in _generators(net).items():
        tensors[_GENERATOR + name] = generator.get_state()
        generators[name] = generator.device.type
    description = {
        "device_type": torch.device(net.device).type,
        "batch_size": int(net.batch_size),
        "generators": generators,
        "history": _encode([dict(row) for row in net.history], "history entry"),
    }
    # safetensors stores each array once, contiguous and on the CPU.
    tensors = {
        key: tensor.detach().to("cpu").contiguous().clone()
        for key, tensor in tensors.items()
    }
    return description, tensors


def _rebuild_net(estimator, description, tensors, device, path):
    """A net of the estimator's architecture on ``device``, with the saved state."""
    saved_device = estimator.device
    # _initialize_net builds on the estimator's ``device`` parameter; the
    # loaded model goes where the caller asked, the parameter keeps its value.
    estimator.device = device
    try:
        net = estimator._initialize_net(
            estimator.n_features_in_, description["batch_size"]
        )
    finally:
        estimator.device = saved_device

    try:
        net.module_.load_state_dict(_unprefixed(_MODULE, tensors), strict=True)
        net.criterion_.load_state_dict(_unprefixed(_CRITERION, tensors), strict=True)
        optimizer = net.optimizer_.state_dict()
        state = {}
        for key, tensor in _unprefixed(_OPTIMIZER, tensors).items():
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
    for name, generator in _generators(net).items():
        key = _GENERATOR + name
        if description["generators"].get(name) == generator.device.type:
            if key in tensors:
                generator.set_state(tensors[key].to("cpu"))
    net.history.extend(_decode(description["history"]))
    return net


def _generators(net):
    generators = {}
    if isinstance(net.shuffle_generator, torch.Generator):
        generators["shuffle"] = net.shuffle_generator
    for submodule in net.module_.modules():
        generator = getattr(submodule, "generator", None)
        if isinstance(generator, torch.Generator):
            # attach_generator gives every random submodule the same one.
            generators["module"] = generator
            break
    return generators


def _prefixed(prefix, state_dict):
    return {prefix + key: value for key, value in state_dict.items()}


def _unprefixed(prefix, tensors):
    return {
        key[len(prefix) :]: value
        for key, value in tensors.items()
        if key.startswith(prefix)
    }


# ------------------------------------------------------------ header, JSON


def _public_name(cls):
    """``cls``'s name if skae exports exactly this class, else None."""
    import skae

    name = cls.__name__
    if name in skae.__all__ and getattr(skae, name, None) is cls:
        return name
    return None


def _estimator_class(name):
    import skae

    cls = getattr(skae, name, None) if isinstance(name, str) else None
    if (
        name not in skae.__all__
        or not isinstance(cls, type)
        or not issubclass(cls, BaseAutoEncoder)
    ):
        raise ValueError(
            f"The file names the class {name!r}, which is not an estimator "
            f"exported by skae ({', '.join(skae.__all__)}); refusing to load "
            "it. skae.load only rebuilds skae's own estimators."
        )
    return cls


def _read_header(path):
    try:
        with safe_open(os.fspath(path), framework="pt", device="cpu") as file:
            metadata = file.metadata() or {}
    except SafetensorError as exc:
        raise ValueError(
            f"{os.fspath(path)!r} is not a safetensors file written by "
            f"skae.save ({exc})."
        ) from exc
    try:
        header = json.loads(metadata[_HEADER_KEY])
    except (KeyError, ValueError) as exc:
        raise ValueError(
            f"{os.fspath(path)!r} is a safetensors file but not one written by "
            "skae.save: its header has no skae metadata."
        ) from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise ValueError(f"{os.fspath(path)!r} was not written by skae.save.")
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{os.fspath(path)!r} is in skae file format version {version!r} "
            f"(written by skae {header.get('versions', {}).get('skae', '?')}); "
            f"this skae reads format version {FORMAT_VERSION}. Load it with a "
            "matching version of skae."
        )
    return header


def _versions():
    import safetensors

    import skae

    return {
        "skae": skae.__version__,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "safetensors": safetensors.__version__,
    }


def _params(estimator):
    params = estimator.get_params(deep=False)
    random_state = params.get("random_state")
    if random_state is not None and not isinstance(random_state, Integral):
        warn(
            f"random_state={random_state!r} cannot be saved; it is stored as "
            "None, so further training after loading is not reproducible. "
            "Pass an int random_state to reproduce fits.",
            UserWarning,
        )
        params["random_state"] = None
    return params


def _is_attribute_name(cls, name, params):
    # Only plain data attributes: never a name the class defines (a method
    # or property), a parameter, a dunder, or net_, which only the weights
    # in the file may rebuild.
    return (
        name.isidentifier()
        and name != "net_"
        and not name.startswith("__")
        and name not in params
        and not hasattr(cls, name)
    )


# JSON has no tuples, arrays or devices: they are written as one-key objects
# tagged with a name JSON data cannot otherwise produce here, since plain dicts
# are tagged too.
_ALLOWED_KINDS = "biuf"


def _encode(value, what, name=""):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, what, name) for v in value]}
    if isinstance(value, list):
        return [_encode(v, what, name) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: _encode(v, what, k) for k, v in value.items()}}
    if isinstance(value, torch.device):
        return {"__device__": str(value)}
    if isinstance(value, np.ndarray):
        if value.dtype.kind in _ALLOWED_KINDS:
            data = value.tolist()
        elif value.dtype == object and all(isinstance(v, str) for v in value.flat):
            data = value.tolist()
        else:
            data = None
        if data is not None:
            return {
                "__ndarray__": data,
                "dtype": value.dtype.str,
                "shape": list(value.shape),
            }
    raise TypeError(
        f"skae.save cannot store the {what} {name!r} of type "
        f"{type(value).__module__}.{type(value).__qualname__}: only numbers, "
        "strings, None, lists, tuples, str-keyed dicts, torch devices and "
        "numeric or string numpy arrays are stored."
    )


def _decode(value):
    if isinstance(value, float) and value != value:
        # NaN back as numpy's one NaN object, the default of missing_values:
        # NaN != NaN, and parameter dicts compare equal only through identity.
        return np.nan
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: _decode(v) for k, v in value["__dict__"].items()}
    if "__device__" in value:
        return torch.device(value["__device__"])
    if "__ndarray__" in value:
        dtype = np.dtype(value["dtype"])
        data = value["__ndarray__"]
        strings = dtype.kind == "O" and all(isinstance(v, str) for v in data)
        if dtype.kind not in _ALLOWED_KINDS and not strings:
            raise ValueError(f"Refusing to load an array of dtype {dtype}.")
        return np.array(data, dtype=dtype).reshape(value["shape"])
    raise ValueError(f"Unknown entry in a skae file: {sorted(value)}.")
