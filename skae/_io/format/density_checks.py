"""What a stored latent density must look like, for :func:`skae.load`.

The density behind ``sample`` (see :mod:`skae._base.sampling`) is fitted state
made of plain arrays, which a file may carry edited: each check returns
what is wrong with it, or None.
"""

import numpy as np

#: The kinds of fitted density.
KINDS = ("gmm", "prior")


def check_latent_density_kind(value, attributes):
    """The first look at a stored ``_latent_density``, with the other attributes.

    Its arrays are checked by :func:`check_latent_density` once the network
    they must agree with has been checked against the file's arrays.
    """
    if value is None or isinstance(value, dict) and value.get("kind") in KINDS:
        return None
    return "must be None or a dict whose kind is 'gmm' or 'prior'"


def check_latent_density(value, attributes):
    """What is wrong with a stored ``_latent_density``, or None (for skae.load).

    Shapes must agree with ``_n_features_out`` and ``n_features_in_``, every
    number must be finite, the weights a probability vector, every
    covariance symmetric positive definite (its Cholesky factor is what
    sampling uses) or, for diagonal ones, positive (with low-rank factors
    added, which keep it positive definite), and every map
    non-decreasing.
    """
    problem = check_latent_density_kind(value, attributes)
    if value is None or problem is not None:
        return problem
    keys = {
        "kind",
        "quantiles",
        "component_quantiles",
        "quantile_range",
        "component_maps",
    }
    if value["kind"] == "gmm":
        keys |= {"weights", "means", "covariances", "covariance_factors"}
    if value.keys() != keys:
        return f"must hold exactly the keys {sorted(keys)}"
    n_out, n_in = attributes.get("_n_features_out"), attributes.get("n_features_in_")
    quantiles = value["quantiles"]
    if quantiles is not None and not _quantile_maps(quantiles, (2,), n_in):
        return f"quantiles must be None or 2 non-decreasing (n, {n_in}) arrays"
    maps = value["component_quantiles"]
    if maps is not None and (value["kind"] == "prior" or quantiles is not None):
        return "component_quantiles must be None for a prior or beside quantiles"
    if value["kind"] == "prior":
        if value["quantile_range"] is not None or value["component_maps"] is not None:
            return "quantile_range and component_maps must be None for a prior"
        return None
    weights = value["weights"]
    n = _axis_length(weights, axis=0, ndim=1)
    if not (
        _finite_array(weights, (n,), low=0) and n >= 1 and abs(weights.sum() - 1) < 1e-6
    ):
        return "weights must be non-negative numbers summing to 1"
    if not _finite_array(value["means"], (n, n_out)):
        return f"means must have shape ({n}, {n_out}) for _n_features_out={n_out}"
    problem = _covariance_problem(value["covariances"], n, n_out)
    if problem is None:
        problem = _factors_problem(value, n, n_out)
    if problem is not None:
        return problem
    return _maps_problem(value, n, n_in)


def _covariance_problem(covariances, n, n_out):
    if _finite_array(covariances, (n, n_out)):
        if not bool((covariances > 0).all()):
            return "diagonal covariances must be positive"
        return None
    if not _finite_array(covariances, (n, n_out, n_out)) or not np.allclose(
        covariances, covariances.transpose(0, 2, 1)
    ):
        return (
            f"covariances must be {n} symmetric {n_out} x {n_out} matrices, "
            f"or {n} diagonals of {n_out}"
        )
    try:
        np.linalg.cholesky(covariances)
    except np.linalg.LinAlgError:
        return "covariances must be positive definite"
    return None


def _factors_problem(value, n, n_out):
    """Low-rank factors beside diagonal covariances, or None."""
    factors = value["covariance_factors"]
    if factors is None:
        return None
    rank = _axis_length(factors, axis=1, ndim=3)
    if value["covariances"].ndim != 2 or not (
        rank >= 1 and _finite_array(factors, (n, rank, n_out))
    ):
        return (
            "covariance_factors must be None or, beside diagonal covariances, "
            f"{n} finite (rank, {n_out}) arrays"
        )
    return None


def _maps_problem(value, n, n_in):
    """The calibration maps of a mixture: one per component as float arrays
    (format 3), or packed, shared by groups of components."""
    maps, value_range = value["component_quantiles"], value["quantile_range"]
    groups = value["component_maps"]
    if maps is None:
        if value_range is not None or groups is not None:
            return "quantile_range and component_maps must be None without maps"
        return None
    if value_range is None:
        if groups is not None or not _quantile_maps(maps, (n, 2), n_in):
            return (
                f"component_quantiles must be None or {n} maps of 2 "
                f"non-decreasing (n, {n_in}) arrays"
            )
        return None
    n_groups = _axis_length(maps, axis=0, ndim=4)
    # Two sides, the decoder's and the data's; or (format 6) the data's
    # alone, the decoder's being computed from the mixture.
    n_sides = _axis_length(maps, axis=1, ndim=4)
    n_levels = _axis_length(maps, axis=2, ndim=4)
    if not (
        isinstance(maps, np.ndarray)
        and maps.dtype in (np.uint8, np.uint16)
        and n_groups >= 1
        and n_sides in (1, 2)
        and n_levels >= 1
        and maps.shape == (n_groups, n_sides, n_levels, n_in)
        and bool((np.diff(maps.astype(np.int32), axis=2) >= 0).all())
    ):
        return (
            "component_quantiles must be None or packed maps: uint8 or uint16, of "
            f"shape (groups, 1 or 2, levels, {n_in}), non-decreasing over levels"
        )
    if not _finite_array(value_range, (n_sides, 2, n_in)) or not bool(
        (value_range[:, 0] <= value_range[:, 1]).all()
    ):
        return (
            f"quantile_range must be (low, high) pairs of shape ({n_sides}, 2, {n_in})"
        )
    if not (
        isinstance(groups, np.ndarray)
        and groups.dtype.kind in "iu"
        and groups.shape == (n,)
        and bool(((groups >= 0) & (groups < n_groups)).all())
    ):
        return f"component_maps must give each of the {n} components a map"
    if len(np.unique(groups)) != n_groups:
        return "component_quantiles must be None or packed maps each in use"
    return None


def _quantile_maps(value, leading, n_features):
    """Whether ``value`` is finite quantiles of shape ``(*leading, n_levels,
    n_features)``, at least one level, non-decreasing from level to level."""
    n_levels = _axis_length(value, axis=-2, ndim=len(leading) + 2)
    return (
        n_levels >= 1
        and _finite_array(value, (*leading, n_levels, n_features))
        and bool((np.diff(value, axis=-2) >= 0).all())
    )


def _axis_length(value, axis, ndim):
    """The length of ``value`` along ``axis`` if it is an array of ``ndim``
    dimensions (an edited file may hold any shape), else 0."""
    if isinstance(value, np.ndarray) and value.ndim == ndim:
        return value.shape[axis]
    return 0


def _finite_array(value, shape, low=None):
    return (
        isinstance(value, np.ndarray)
        and value.dtype.kind == "f"
        and value.shape == shape
        and bool(np.isfinite(value).all())
        and (low is None or bool((value >= low).all()))
    )
