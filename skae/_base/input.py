"""Input checks shared by every estimator: numbers only, finite, float32-safe.

scikit-learn's ``validate_data`` does most of the work; what is here turns
its generic messages about dtypes into ones that say what to do, and refuses
values that training in float32 would silently turn into inf.
"""

import numpy as np
from sklearn.utils.validation import validate_data

_ENCODE_HINT = (
    "Encode categorical columns first, e.g. with OneHotEncoder in a ColumnTransformer."
)


def validate_input(estimator, X, reset, ensure_all_finite=True):
    """``validate_data`` for an autoencoder, with messages that say what to do."""
    name = type(estimator).__name__
    columns = getattr(X, "columns", None)
    if columns is not None and len(set(columns)) != len(columns):
        duplicated = sorted({str(c) for c in columns if list(columns).count(c) > 1})
        raise ValueError(
            f"{name} needs unique column names, but X has duplicated columns "
            f"{duplicated}. Rename or drop them."
        )
    odd = non_numeric_columns(X)
    if odd:
        raise ValueError(
            f"{name} needs numeric input, but X has non-numeric columns: "
            f"{', '.join(odd)}. {_ENCODE_HINT} Turn dates and durations into "
            "numbers first, or drop these columns."
        )
    try:
        return validate_data(
            estimator,
            X,
            reset=reset,
            dtype=[np.float64, np.float32],
            ensure_all_finite=ensure_all_finite,
        )
    except ValueError as exc:
        raise_if_non_numeric(estimator, exc, _ENCODE_HINT)
        raise


def raise_if_non_numeric(estimator, exc, hint):
    """Re-raise numpy's conversion error ``exc`` as one that names the remedy."""
    if "convert" in str(exc) or "string" in str(exc):
        raise ValueError(
            f"{type(estimator).__name__} needs numeric input, but X holds "
            f"non-numeric values ({exc}). {hint}"
        ) from exc


def non_numeric_columns(X):
    """``"name (dtype)"`` for each column of a DataFrame numpy cannot make floats of.

    Categorical columns of text and datetime or timedelta columns otherwise
    fail inside pandas or numpy with a message about dtype promotion. A
    categorical column of numbers converts to its values, and is kept.
    """
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "items"):
        return []
    odd = []
    for column, dtype in dtypes.items():
        categories = getattr(dtype, "categories", None)
        kind = getattr(getattr(categories, "dtype", dtype), "kind", "O")
        if kind in "mM" or (categories is not None and kind not in "biuf"):
            odd.append(f"{column!r} ({dtype})")
    return odd


def training_float32(X, name):
    """``X`` as the float32 array training runs on, refusing values it cannot hold.

    A float64 value beyond float32's range would silently become inf and
    surface later as a diverged loss with a misleading remedy.
    """
    return as_float32(X, f"{name} trains in float32")


def as_float32(X, what):
    """``X`` in float32, or a ValueError starting with ``what`` if it overflows."""
    X = np.asarray(X)
    if X.dtype == np.float32:
        return X
    with np.errstate(over="ignore"):
        X32 = np.asarray(X, dtype=np.float32)
    if not np.isfinite(X32).all():
        raise ValueError(
            f"{what}, whose largest value is "
            f"{np.finfo(np.float32).max:.3g}, but X holds values up to "
            f"{np.max(np.abs(X)):.3g}. Scale X first (e.g. StandardScaler or "
            "MinMaxScaler in a Pipeline)."
        )
    return X32
