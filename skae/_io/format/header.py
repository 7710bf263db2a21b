"""What :func:`skae.load` checks before it allocates anything.

A skae file is data from anywhere: its JSON header may have been edited by
hand or by an attacker. Before a tensor is built, the stored parameters go
through the estimator's own ``_parameter_constraints``, every known fitted
attribute is checked for type, range and agreement with the others, and the
network those describe is built on torch's ``meta`` device (shapes, no
memory) and compared with the shapes of the arrays in the file. A file
whose header describes a network of 320 TB is refused in microseconds.

Every error is a ValueError naming the file and the offending key. The
paths given to :func:`skae.save` and :func:`skae.load` are checked here too,
so that their errors name the path the user gave, not a temporary file.
"""

import errno
import json
import math
import os
from numbers import Integral, Real

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from sklearn.utils._param_validation import InvalidParameterError

from .density_checks import check_latent_density_kind
from .upgrade import add_later_params, upgrade_header

#: Written into every file; :func:`load` refuses any other value.
FORMAT_NAME = "skae"
#: Bumped whenever a change would make older readers misread newer files.
#: 2: the latent density behind ``sample`` (``latent_density``).
#: 3: a calibration map per mixture component (``component_quantiles``).
#: 4: the fitted attributes' numeric arrays in the tensor section, the header
#: naming them (``{"__tensor__": name}``); the density's maps shared by groups
#: of components and packed to 16 bits (``quantile_range``,
#: ``component_maps``), diagonal covariances for wide codes; ``target_weight``
#: (a label head on the code).
#: 5: the density's maps packed to 8 bits, its means and covariances in
#: float32, the covariances of codes of 17 to 32 units as low-rank factors
#: and a diagonal (``covariance_factors``).
#: 6: the density's maps may hold the data's side alone (the decoder's is
#: computed from the mixture when ``sample`` needs it).
FORMAT_VERSION = 6
#: Older versions :func:`load` still reads (see upgrade.py).
OLDER_FORMAT_VERSIONS = (1, 2, 3, 4, 5)
HEADER_KEY = "skae"


def invalid(path, key, message):
    """The ValueError for a bad entry ``key`` of the file at ``path``."""
    return ValueError(f"Cannot load {os.fspath(path)!r}: {key} {message}")


def entry(mapping, key, kind, path, where=""):
    """``mapping[key]``, refusing a missing key or a value not of type ``kind``."""
    name = f"{where}{key}"
    if not isinstance(mapping, dict) or key not in mapping:
        raise invalid(path, name, "is missing; the file is truncated or was edited.")
    value = mapping[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise invalid(path, name, f"must be a {_kind_name(kind)}, got {value!r:.80}.")
    return value


def check_params(estimator, path):
    """The stored parameters, through the estimator's own constraints."""
    try:
        estimator._validate_params()
    except InvalidParameterError as exc:
        raise invalid(path, "params", f"hold an invalid value: {exc}") from exc


# ------------------------------------------------------- fitted attributes


def _count(minimum):
    def check(value, attributes):
        if isinstance(value, Integral) and not isinstance(value, bool):
            if value >= minimum:
                return None
        return f"must be an integer >= {minimum}"

    return check


def _real(value, attributes):
    if isinstance(value, Real) and not isinstance(value, bool):
        return None
    return "must be a number"


def _reals(value, attributes):
    if isinstance(value, list) and all(_real(v, attributes) is None for v in value):
        return None
    return "must be a list of numbers"


def _optional(check):
    def optional(value, attributes):
        return None if value is None else check(value, attributes)

    return optional


def _per_feature(value, attributes, kinds="f"):
    n = attributes.get("n_features_in_")
    if not (isinstance(value, np.ndarray) and value.dtype.kind in kinds):
        return "must be an array"
    if value.shape != (n,):
        return f"must have shape ({n},) for n_features_in_={n}, got {value.shape}"
    return None


def _feature_names(value, attributes):
    return _per_feature(value, attributes, kinds="O")


def _noise_range(value, attributes):
    if not (isinstance(value, tuple) and len(value) == 2):
        return "must be a (low, high) pair of arrays"
    return _per_feature(value[0], attributes) or _per_feature(value[1], attributes)


def _image_shape(value, attributes):
    n = attributes.get("n_features_in_")
    if not (
        isinstance(value, tuple)
        and len(value) == 3
        and all(_count(1)(v, attributes) is None for v in value)
    ):
        return "must be a (channels, height, width) tuple of positive integers"
    if math.prod(value) != n:
        return f"must hold n_features_in_={n} values, got {value}"
    return None


def _feature_indices(value, attributes):
    n = attributes.get("n_features_in_")
    if not (isinstance(value, np.ndarray) and value.dtype.kind in "iu"):
        return "must be an array of feature indices"
    if value.ndim != 1 or not np.all((value >= 0) & (value < n)):
        return f"must be indices of features, in [0, {n})"
    if np.any(np.diff(value) <= 0):
        return "must be increasing, without repeats"
    return None


def _built_with(value, attributes):
    return None if isinstance(value, dict) else "must be a dict"


#: The fitted attributes skae's estimators set, and how each is checked.
ATTRIBUTE_CHECKS = {
    "n_features_in_": _count(1),
    "_n_features_out": _count(1),
    "n_iter_": _count(0),
    "loss_curve_": _reals,
    "validation_scores_": _optional(_reals),
    "best_validation_score_": _optional(_real),
    "reconstruction_error_": _real,
    "feature_names_in_": _feature_names,
    "image_shape_": _image_shape,
    "noise_variance_": _optional(_per_feature),
    "_noise_range": _noise_range,
    "statistics_": _per_feature,
    "_empty_features": _feature_indices,
    "_indicator_features": _feature_indices,
    "_score_seed": _count(0),
    "_built_with": _built_with,
    "a_": _real,
    "b_": _real,
    "n_neighbors_": _count(1),
    "_latent_density": check_latent_density_kind,
}

#: Attributes every fitted estimator has; the key is a parameter whose
#: presence makes the attribute required too (None: always).
REQUIRED = {
    "n_features_in_": None,
    "_n_features_out": None,
    "n_iter_": None,
    "loss_curve_": None,
    "reconstruction_error_": None,
    "image_shape_": "image_shape",
    "_score_seed": "likelihood",
    "_noise_range": "noise",
    "statistics_": "missing_values",
    "_empty_features": "missing_values",
    "_indicator_features": "missing_values",
    "a_": "min_dist",
    "b_": "min_dist",
    "n_neighbors_": "n_neighbors",
    "_latent_density": "latent_density",
}


def check_attributes(estimator, attributes, fitted, path):
    """Type, range and mutual agreement of the stored fitted attributes."""
    params = estimator.get_params(deep=False)
    if fitted:
        for name, parameter in REQUIRED.items():
            if name not in attributes and (parameter is None or parameter in params):
                raise invalid(
                    path,
                    f"attributes.{name}",
                    "is missing; the file is truncated or was edited.",
                )
    for name, value in attributes.items():
        check = ATTRIBUTE_CHECKS.get(name)
        problem = None if check is None else check(value, attributes)
        if problem is not None:
            raise invalid(path, f"attributes.{name}", f"{problem}, got {value!r:.80}.")
    if fitted and attributes["_n_features_out"] != params["n_components"]:
        raise invalid(
            path,
            "attributes._n_features_out",
            f"is {attributes['_n_features_out']} but n_components is "
            f"{params['n_components']}; they must agree.",
        )
    if fitted and len(attributes["loss_curve_"]) != attributes["n_iter_"]:
        raise invalid(
            path,
            "attributes.loss_curve_",
            f"has {len(attributes['loss_curve_'])} entries for n_iter_="
            f"{attributes['n_iter_']} epochs.",
        )


def check_stored_values(estimator, path):
    """The estimator's own check of its fitted values (see BaseAutoEncoder)."""
    try:
        problems = estimator._stored_value_problems()
    except (ValueError, TypeError) as exc:
        message = f"do not describe a model skae fits: {exc}"
        raise invalid(path, "params", message) from exc
    for name, problem in problems.items():
        raise invalid(path, f"attributes.{name}", f"{problem}; the file was edited.")


# ----------------------------------------------------------- the network


def check_shapes(estimator, shapes, path, prefixes):
    """Compare the network the header describes with the arrays in the file.

    ``shapes`` maps each array name in the file to its shape. The network
    is built on the ``meta`` device: its parameter count costs no memory.
    """
    try:
        with torch.device("meta"), torch.random.fork_rng(devices=[]):
            parts = {
                prefixes["module"]: estimator._network_module(estimator.n_features_in_),
                prefixes["criterion"]: estimator._network_criterion(),
            }
    except (InvalidParameterError, ValueError, TypeError, RuntimeError) as exc:
        raise invalid(
            path, "params", f"do not describe a network skae can build: {exc}"
        ) from exc
    for prefix, part in parts.items():
        expected = {prefix + k: tuple(v.shape) for k, v in part.state_dict().items()}
        stored = {k: v for k, v in shapes.items() if k.startswith(prefix)}
        # The network's own order: the first layer that disagrees is named.
        for key in [*expected, *sorted(stored.keys() - expected.keys())]:
            if key not in stored:
                raise invalid(path, key, "is missing from the arrays in the file.")
            if key not in expected:
                raise invalid(
                    path, key, "is not part of the network its header describes."
                )
            if tuple(stored[key]) != expected[key]:
                raise invalid(
                    path,
                    key,
                    f"has shape {tuple(stored[key])} in the file, but the "
                    f"parameters and fitted attributes describe {expected[key]}.",
                )


def check_net_description(description, attributes, path):
    """The ``net`` entry of a fitted file's header."""
    entry(description, "batch_size", Integral, path, "net.")
    if description["batch_size"] < 1:
        raise invalid(path, "net.batch_size", "must be >= 1.")
    generators = entry(description, "generators", dict, path, "net.")
    if not all(isinstance(v, str) for v in generators.values()):
        raise invalid(path, "net.generators", "must map names to device types.")
    history = entry(description, "history", list, path, "net.")
    if len(history) != attributes["n_iter_"]:
        raise invalid(
            path,
            "net.history",
            f"has {len(history)} epochs for n_iter_={attributes['n_iter_']}.",
        )


def _kind_name(kind):
    names = {dict: "JSON object", list: "list", str: "string", bool: "boolean"}
    return names.get(kind, getattr(kind, "__name__", str(kind)).lower())


# ---------------------------------------------------------------- files


def file_path(path, caller):
    """``path`` as a non-empty str, or a TypeError / ValueError saying why not."""
    if not isinstance(path, (bytes, bytearray)):
        try:
            path = os.fspath(path)
        except TypeError:
            raise TypeError(
                f"{caller} takes a path as a str or pathlib.Path, got "
                f"{type(path).__name__} {path!r:.80}."
            ) from None
    if isinstance(path, (bytes, bytearray)):
        raise TypeError(
            f"{caller} takes a path as a str or pathlib.Path, got bytes "
            f"{bytes(path)!r:.80}. Decode it first, e.g. path.decode()."
        )
    if not path:
        raise ValueError(
            f"{caller} got an empty path. Pass a file name such as 'model.safetensors'."
        )
    return path


def destination_folder(path):
    """The folder ``path`` goes in, refusing what ``os.replace`` would overwrite
    or fail on with the temporary file's name in the message."""
    if os.path.isdir(path):
        raise IsADirectoryError(
            errno.EISDIR, "skae.save needs a file name, got a directory", path
        )
    # os.replace only needs the folder to be writable: a read-only file would
    # be replaced without a word. (As root, os.access says every file is
    # writable: the mode bits tell.)
    if os.path.exists(path) and (
        not os.access(path, os.W_OK) or not os.stat(path).st_mode & 0o222
    ):
        raise PermissionError(
            errno.EACCES,
            "skae.save does not replace a read-only file; make it writable "
            "or save elsewhere",
            path,
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            errno.ENOENT, "skae.save writes into an existing folder", folder
        )
    return folder


def read_header(path):
    try:
        with safe_open(os.fspath(path), framework="pt", device="cpu") as file:
            metadata = file.metadata() or {}
    except SafetensorError as exc:
        raise ValueError(
            f"{os.fspath(path)!r} is not a safetensors file written by "
            f"skae.save ({exc})."
        ) from exc
    try:
        header = json.loads(metadata[HEADER_KEY])
    except (KeyError, ValueError) as exc:
        raise ValueError(
            f"{os.fspath(path)!r} is a safetensors file but not one written by "
            "skae.save: its header has no skae metadata."
        ) from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise ValueError(f"{os.fspath(path)!r} was not written by skae.save.")
    version = header.get("format_version")
    if version in OLDER_FORMAT_VERSIONS and not isinstance(version, bool):
        return upgrade_header(header, version)
    if version != FORMAT_VERSION or isinstance(version, bool):
        readable = ", ".join(map(str, (*OLDER_FORMAT_VERSIONS, FORMAT_VERSION)))
        raise ValueError(
            f"{os.fspath(path)!r} is in skae file format version {version!r} "
            f"(written by skae {header.get('versions', {}).get('skae', '?')}); "
            f"this skae reads format versions {readable}. Load it with a "
            "matching version of skae."
        )
    return add_later_params(header)
