"""The JSON half of a skae file: parameters, fitted attributes, history.

JSON has no tuples, arrays or devices: :func:`to_json` writes them, and
dicts, as tagged objects, and :func:`from_json` reads them back, refusing
anything else: no pickle, no import of a name taken from the file, and no
array larger than the data written for it.

Given an ``arrays`` dict, :func:`to_json` puts every numeric array there
instead, under a name made of its path (``attributes._latent_density.means``),
and writes only ``{"__tensor__": name}``: :func:`skae.save` stores those
arrays in the file's binary tensor section, so that the JSON header holds
parameters, names and shapes, and its size does not grow with the number of
features (safetensors refuses headers over 100 MB; decimal text of a density
fitted on 8,000 features was more than that).
"""

from numbers import Integral

import numpy as np
import torch

# Tags are names JSON data cannot otherwise produce here, since plain dicts
# are tagged too.
_ALLOWED_KINDS = "biuf"


def to_json(value, what, name="", arrays=None, path=""):
    """``value`` as JSON data; numeric arrays into ``arrays`` when it is given.

    ``what`` and ``name`` describe the value in errors; ``path`` names the
    arrays put into ``arrays``.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (tuple, list)):
        items = [
            to_json(v, what, name, arrays, f"{path}.{i}") for i, v in enumerate(value)
        ]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {
            "__dict__": {
                k: to_json(v, what, k, arrays, f"{path}.{k}") for k, v in value.items()
            }
        }
    if isinstance(value, torch.device):
        return {"__device__": str(value)}
    if isinstance(value, np.ndarray) and arrays is not None:
        if value.dtype.kind in _ALLOWED_KINDS and value.dtype.fields is None:
            key = path
            while key in arrays:
                key += "_"
            # Native byte order and contiguous, as safetensors stores them.
            native = value.astype(value.dtype.newbyteorder("="), copy=False)
            arrays[key] = np.ascontiguousarray(native)
            return {"__tensor__": key}
    if isinstance(value, np.ndarray):
        if value.dtype == np.float32:
            data = _shortest_float32(value)
        elif value.dtype.kind in _ALLOWED_KINDS:
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


def _shortest_float32(array):
    """``array.tolist()`` with each number written as the shortest decimal
    that reads back as the same float32 ("0.3", not float64's
    "0.30000001192092896"): a third of the header for float32 arrays."""
    shortest = [float(str(number)) for number in array.ravel()]
    return np.asarray(shortest, dtype=np.float64).reshape(array.shape).tolist()


def from_json(value, where, arrays=None):
    """The Python value of a JSON entry; ``where`` names it in errors.

    ``arrays`` holds the arrays that ``{"__tensor__": name}`` entries name.
    Raises ValueError for anything :func:`to_json` does not write.
    """
    if isinstance(value, float) and value != value:
        # NaN back as numpy's one NaN object, the default of missing_values:
        # NaN != NaN, and parameter dicts compare equal only through identity.
        return np.nan
    if isinstance(value, list):
        return [from_json(v, where, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    if (
        len(value) == 1
        and "__tuple__" in value
        and isinstance(value["__tuple__"], list)
    ):
        return tuple(from_json(v, where, arrays) for v in value["__tuple__"])
    if len(value) == 1 and isinstance(value.get("__dict__"), dict):
        return {
            k: from_json(v, f"{where}.{k}", arrays)
            for k, v in value["__dict__"].items()
        }
    if len(value) == 1 and isinstance(value.get("__tensor__"), str):
        name = value["__tensor__"]
        if arrays is None or name not in arrays:
            raise ValueError(
                f"{where} names the array {name!r:.80}, which is not in the file."
            )
        return arrays[name]
    if len(value) == 1 and isinstance(value.get("__device__"), str):
        try:
            return torch.device(value["__device__"])
        except (RuntimeError, ValueError) as exc:
            raise ValueError(f"{where} is not a device ({exc}).") from exc
    if value.keys() == {"__ndarray__", "dtype", "shape"}:
        return _array_from_json(value, where)
    raise ValueError(f"{where} holds an entry skae.save does not write: {value!r:.80}.")


def _array_from_json(value, where):
    try:
        dtype = np.dtype(value["dtype"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where} has an unknown dtype {value['dtype']!r}.") from exc
    data, shape = value["__ndarray__"], value["shape"]
    strings = (
        dtype.kind == "O"
        and isinstance(data, list)
        and all(isinstance(v, str) for v in data)
    )
    # A plain numeric dtype only: a structured or sub-array dtype could make a
    # few bytes of JSON allocate any amount of memory.
    plain = dtype.kind in _ALLOWED_KINDS and dtype.fields is None and not dtype.shape
    if not (plain or strings):
        raise ValueError(f"{where}: refusing to load an array of dtype {dtype}.")
    if not (
        isinstance(shape, list)
        and all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
        )
    ):
        raise ValueError(f"{where} has an invalid array shape {shape!r}.")
    try:
        with np.errstate(all="raise"):
            array = np.array(data, dtype=dtype)
    except (TypeError, ValueError, OverflowError, FloatingPointError) as exc:
        raise ValueError(
            f"{where} holds an array that numpy cannot read ({exc})."
        ) from exc
    if array.size != int(np.prod(shape, dtype=object)):
        raise ValueError(
            f"{where} claims an array of shape {tuple(shape)} but holds "
            f"{array.size} values."
        )
    return array.reshape(shape)
