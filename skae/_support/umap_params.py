"""What UMAPAutoEncoder checks of its metric and curve before it fits.

scikit-learn's constraints take any metric :class:`~sklearn.neighbors.NearestNeighbors`
knows and any positive ``spread``; some of those cannot build a graph or a
curve here, and the remedy is worth a sentence each. umap-learn's names for
the parameters skae names otherwise get the same treatment.
"""

import functools
import itertools

import numpy as np
from sklearn.neighbors import VALID_METRICS
from sklearn.utils._param_validation import InvalidParameterError

from .umap import find_ab_params

#: Every metric NearestNeighbors takes by name: the ``metric`` constraint.
METRICS = frozenset(itertools.chain(*VALID_METRICS.values()))

#: Metrics that need an argument UMAPAutoEncoder has no parameter for, and
#: what to do instead.
NEEDS_ARGUMENTS = {
    "seuclidean": (
        "needs each feature's variance (scipy's V), which UMAPAutoEncoder has "
        "no parameter for. Standardise X instead (StandardScaler in a "
        "Pipeline) and keep metric='euclidean': the distance is the same."
    ),
    "mahalanobis": (
        "needs the inverse covariance (scipy's VI), which UMAPAutoEncoder has "
        "no parameter for. Whiten X instead (PCA(whiten=True) in a Pipeline) "
        "and keep metric='euclidean': the distance is the same."
    ),
    "pyfunc": (
        "needs a Python function, which UMAPAutoEncoder has no parameter "
        "for. Pass a metric by name."
    ),
    "precomputed": (
        "takes distances instead of features, but the encoder reads the "
        "features. Pass X itself and a metric by name."
    ),
}

#: Metrics on sets: NearestNeighbors turns every non-zero value into True.
BOOLEAN_METRICS = frozenset(
    {"dice", "jaccard", "rogerstanimoto", "russellrao"}
    | {"sokalmichener", "sokalsneath", "yule"}
)

#: umap-learn's names of parameters skae names otherwise: skae's name, and
#: what it means here.
UMAP_LEARN_NAMES = {
    "n_epochs": ("max_iter", "the number of epochs, as umap-learn's n_epochs"),
    "learning_rate": (
        "learning_rate_init",
        "Adam's first learning rate, 1e-2 by default, not umap-learn's SGD "
        "step of 1.0",
    ),
    "n_jobs": ("n_threads", "torch's threads while fitting"),
}


def check_params(estimator):
    """The metric and the curve, at fit: an InvalidParameterError saying why not."""
    metric, spread, min_dist = estimator.metric, estimator.spread, estimator.min_dist
    if metric in NEEDS_ARGUMENTS:
        raise InvalidParameterError(f"metric={metric!r} {NEEDS_ARGUMENTS[metric]}")
    if min_dist > spread:
        raise InvalidParameterError(
            f"min_dist={min_dist!r} must not exceed spread={spread!r}: UMAP's "
            "curve could not fall off before min_dist. Lower min_dist or "
            "raise spread."
        )
    try:
        find_ab_params(float(spread), float(min_dist))
    except ValueError as exc:
        raise InvalidParameterError(str(exc)) from None


def curve_problems(estimator):
    """A fitted estimator's ``a_`` and ``b_``, against its ``spread`` and ``min_dist``.

    They are those parameters' curve, fixed since the cold fit: equal up to
    the rounding of another machine's fit.
    """
    curve = find_ab_params(float(estimator.spread), float(estimator.min_dist))
    if np.allclose([estimator.a_, estimator.b_], curve, rtol=1e-6, atol=0):
        return {}
    return {"a_": f"and b_ must be {curve}, the curve of spread and min_dist"}


def check_metric_data(metric, X):
    """Refuse data on which ``metric`` makes every distance alike."""
    if metric in BOOLEAN_METRICS and not np.isin(X, (0, 1)).all():
        raise ValueError(
            f"metric={metric!r} compares rows of 0s and 1s, but X holds other "
            "values: every non-zero value would count as 1, and the graph "
            "would join rows at random. Binarize X first (Binarizer in a "
            "Pipeline), or pick a metric for numbers such as 'euclidean' or "
            "'cosine'."
        )
    if metric == "hamming" and not (X == np.round(X)).all():
        raise ValueError(
            "metric='hamming' counts the features in which two rows differ, "
            "but X holds non-integer values, in which rows nearly always "
            "differ: every distance would be about 1. Use it on codes of "
            "categories, or pick a metric for numbers such as 'euclidean'."
        )


def umap_learn_names(init):
    """``init``, answering umap-learn's parameter names with skae's.

    Python would reject ``n_epochs=...`` with a bare TypeError before
    ``__init__`` runs; the wrapper keeps ``init``'s signature (scikit-learn
    and Sphinx read it through ``__wrapped__``).
    """

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        for name in sorted(UMAP_LEARN_NAMES.keys() & kwargs.keys()):
            skae_name, meaning = UMAP_LEARN_NAMES[name]
            raise TypeError(
                f"{type(self).__name__} has no parameter {name!r}, umap-learn's "
                f"name: pass {skae_name} instead ({meaning})."
            )
        init(self, *args, **kwargs)

    return __init__
