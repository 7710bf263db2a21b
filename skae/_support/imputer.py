"""What AutoEncoderImputer needs beyond the base: its missing-value marker,
the check of its stored column means, and the warning for dropped columns."""

import math
from numbers import Real

import numpy as np
from sklearn.utils.validation import _check_feature_names_in

from .._utils.warnings import warn


def is_nan(value):
    """Whether ``missing_values`` marks NaN: ``np.nan``, or pandas' ``pd.NA``,
    which scikit-learn's validation turns into NaN (as SimpleImputer does)."""
    if isinstance(value, Real):
        return math.isnan(value)
    return type(value).__name__ == "NAType" and type(value).__module__.startswith(
        "pandas"
    )


def missing_mask(X, missing_values):
    """Where ``X`` holds ``missing_values``."""
    return np.isnan(X) if is_nan(missing_values) else X == missing_values


def statistics_problems(estimator):
    """``statistics_`` against ``_empty_features``: NaN exactly there, finite
    (and within float32's range, the network's fill value) elsewhere."""
    statistics = estimator.statistics_
    empty = np.zeros(statistics.shape, dtype=bool)
    empty[estimator._empty_features] = True
    if not np.array_equal(np.isnan(statistics), empty):
        return {"statistics_": "must be NaN exactly at the features with no value"}
    observed = statistics[~empty]
    if not (np.abs(observed) <= np.finfo(np.float32).max).all():
        return {"statistics_": "must hold finite float32 means"}
    if not np.isin(estimator._empty_features, estimator._indicator_features).all():
        return {"_indicator_features": "must list every feature with no value"}
    return {}


def warn_dropped(estimator):
    """The warning SimpleImputer gives, for the columns a first fit drops."""
    empty = estimator._empty_features
    if len(empty) == 0 or estimator.keep_empty_features:
        return
    names = _check_feature_names_in(estimator, None)
    listed = ", ".join(str(name) for name in names[empty][:10])
    warn(
        f"Dropping the features with no observed value in the data of this "
        f"first fit or partial_fit call: {listed}{' ...' * (len(empty) > 10)}. "
        "transform leaves them out for good, even after later partial_fit "
        "calls observe them (the column means are the first call's). Pass "
        "keep_empty_features=True to keep them (their missing entries then "
        "read 0), or start from data where they have values.",
        UserWarning,
    )
