"""Saving and loading estimators without pickle.

:func:`save` writes one ``.safetensors`` file: the tensors (module weights and
buffers, optimiser state, generator states) and every numeric array among the
fitted attributes (the latent density, a scaler's statistics) are
safetensors' raw arrays, and everything else (the class name,
``get_params()``, fitted attributes such as ``n_features_in_`` or
``loss_curve_``, the epoch-level training history, the names of the
attributes' arrays) is one JSON document kept in the file's safetensors
header, whose size does not grow with the number of features. :func:`load` reads
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

import sklearn
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .._base.base import BaseAutoEncoder
from .._base.constraints import same_param
from .._base.warm_start import architecture_params, check_built_with
from .._utils.runtime import resolve_device
from .._utils.warnings import warn
from .format.density_checks import check_latent_density
from .format.encoding import from_json, to_json
from .format.header import (
    FORMAT_NAME,
    FORMAT_VERSION,
    HEADER_KEY,
    check_attributes,
    check_net_description,
    check_params,
    check_shapes,
    check_stored_values,
    destination_folder,
    entry,
    file_path,
    invalid,
    read_header,
)
from .format.net_state import (
    ATTRIBUTES,
    CRITERION,
    MODULE,
    attribute_arrays,
    net_state,
    rebuild_net,
)


def save(estimator, path):
    """Save an autoencoder to a ``.safetensors`` file, without pickle.

    The file holds the weights and the fitted state's arrays as safetensors
    arrays, and the parameters and the rest of the fitted state as JSON (in
    the safetensors header). It can be loaded on
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
    see the pattern in the :mod:`skae._io.save_load` module documentation::

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
    path = file_path(path, "skae.save")
    folder = destination_folder(path)
    name = _public_name(type(estimator))
    if name is None:
        raise TypeError(
            f"skae.save stores the estimators exported by skae, got "
            f"{type(estimator).__module__}.{type(estimator).__qualname__}. "
            "Persist other objects with joblib or skops."
        )
    if hasattr(estimator, "net_"):
        check_built_with(
            estimator,
            "skae.save would store parameters that do not describe the network",
        )
    params = _params(estimator)
    # Everything else in the instance: fitted attributes, and state such as
    # set_output's configuration that an unfitted estimator can carry too.
    attributes = {
        key: value
        for key, value in vars(estimator).items()
        if key != "net_" and key not in params
    }
    arrays = {}
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "class": name,
        "versions": _versions(),
        "params": to_json(params, "parameter"),
        # Numeric arrays (the density, a scaler's statistics) go to the tensor
        # section: the header keeps names and shapes, whatever the width.
        "attributes": to_json(
            attributes, "attribute", arrays=arrays, path=ATTRIBUTES[:-1]
        ),
        "fitted": hasattr(estimator, "net_"),
    }
    tensors = {}
    if header["fitted"]:
        header["net"], tensors = net_state(estimator.net_)
    tensors.update({key: torch.from_numpy(a) for key, a in arrays.items()})

    metadata = {HEADER_KEY: json.dumps(header)}
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
    path = file_path(path, "skae.load")
    # The operating system's own error, naming the path: missing,
    # unreadable, or a directory.
    with open(path, "rb"):
        pass
    header = read_header(path)
    cls = _estimator_class(header.get("class"), path)
    params = _decoded(header, "params", path)
    try:
        estimator = cls(**params)
    except TypeError as exc:
        raise ValueError(
            f"{path!r} holds parameters that {cls.__name__} does "
            f"not take ({exc}); it was probably written by another version "
            "of skae."
        ) from exc
    missing = sorted(set(cls._get_param_names()) - set(params))
    if missing:
        # A default in its place could describe another network.
        raise invalid(path, f"params.{missing[0]}", "is missing; the file was edited.")
    check_params(estimator, path)
    attributes = _decoded(header, "attributes", path, attribute_arrays(path))
    for key in attributes:
        if not _is_attribute_name(cls, key, params):
            raise ValueError(
                f"{path!r} sets {key!r}, which is not a fitted "
                f"attribute of {cls.__name__}; refusing to load it."
            )
    fitted = entry(header, "fitted", bool, path)
    check_attributes(estimator, attributes, fitted, path)
    vars(estimator).update(attributes)
    built = attributes.get("_built_with", {})
    if fitted and built.keys() != architecture_params(estimator).keys():
        raise invalid(
            path,
            "attributes._built_with",
            "must list every parameter the network was built with; the file "
            "was edited.",
        )
    for name, value in built.items():
        if name in params and not same_param(name, params[name], value):
            raise invalid(
                path,
                f"params.{name}",
                f"is {params[name]!r}, but the network in the file was built "
                f"with {value!r}.",
            )
    if not fitted:
        return estimator
    check_stored_values(estimator, path)

    description = entry(header, "net", dict, path)
    check_net_description(description, attributes, path)
    with safe_open(path, framework="pt", device="cpu") as file:
        shapes = {key: file.get_slice(key).get_shape() for key in file.keys()}
    check_shapes(estimator, shapes, path, {"module": MODULE, "criterion": CRITERION})
    problem = check_latent_density(attributes.get("_latent_density"), attributes)
    if problem is not None:
        raise invalid(path, "attributes._latent_density", f"{problem}.")
    device = torch.device("cpu") if device is None else resolve_device(device)
    with safe_open(path, framework="pt", device=str(device)) as file:
        tensors = {
            key: file.get_tensor(key)
            for key in file.keys()
            if not key.startswith(ATTRIBUTES)
        }
    estimator.net_ = rebuild_net(estimator, description, tensors, device, path)
    return estimator


def _decoded(header, key, path, arrays=None):
    try:
        value = from_json(entry(header, key, dict, path), key, arrays)
    except ValueError as exc:
        if os.fspath(path) in str(exc):
            raise
        raise ValueError(f"Cannot load {path!r}: {exc}") from exc
    if not isinstance(value, dict):
        raise invalid(path, key, f"must be a tagged JSON object, got {value!r:.80}.")
    return value


# ------------------------------------------------------------ header, JSON


def _public_name(cls):
    """``cls``'s name if skae exports exactly this class, else None."""
    import skae

    name = cls.__name__
    if name in skae.__all__ and getattr(skae, name, None) is cls:
        return name
    return None


def _estimator_class(name, path):
    import skae

    estimators = [
        n
        for n in skae.__all__
        if isinstance(getattr(skae, n), type)
        and issubclass(getattr(skae, n), BaseAutoEncoder)
    ]
    if not isinstance(name, str) or name not in estimators:
        raise invalid(
            path,
            "class",
            f"is {name!r:.80}, which is not an estimator exported by skae "
            f"({', '.join(estimators)}); refusing to load it. skae.load only "
            "rebuilds skae's own estimators.",
        )
    return getattr(skae, name)


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
