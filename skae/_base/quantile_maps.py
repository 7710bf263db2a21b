"""The calibration maps behind ``sample``: per-feature quantiles, packed to
8 bits, and the piecewise-linear map between two sets of them.

Plain numpy on plain arrays, as :mod:`skae._base.density`, which decides
how many maps there are; :mod:`skae._base.sampling` builds and applies them.
"""

import numpy as np

#: Map levels are stored as 8-bit fractions of each feature's range: on the
#: digits, samples were as realistic as with 16 bits (C2ST within 0.002).
LEVELS_DTYPE = np.uint8


def column_quantiles(values, levels):
    """``np.quantile(values, levels, axis=0)`` (linear interpolation), in float64.

    Written out because numpy partitions each column once per level along
    the strided axis: on a 2,000 x 20,000 table that took 3 times as long as
    one sort of the columns, and most of the density's fit time.
    """
    values = np.sort(np.asarray(values), axis=0)
    position = np.asarray(levels, dtype=np.float64) * (len(values) - 1)
    below = np.floor(position).astype(np.intp)
    above = np.minimum(below + 1, len(values) - 1)
    weight = (position - below)[:, None]
    low = values[below].astype(np.float64)
    high = values[above].astype(np.float64)
    # numpy's form of the interpolation, which is exact at weight 0 and 1.
    return low + (high - low) * weight


def marginal_quantiles(decoded, X, n_levels=None):
    """Quantiles of each feature of the reconstructions and of the data.

    Shape (2, n, n_features): the decoder's quantiles, then the data's, at
    ``n`` evenly spaced levels: ``n_levels``, or by default
    ``min(100, n_samples)``.
    """
    if n_levels is None:
        n_levels = min(100, len(X))
    levels = np.linspace(0, 1, n_levels)
    return np.stack(
        [
            column_quantiles(decoded, levels),
            column_quantiles(X, levels),
        ]
    )


def pack_maps(maps):
    """Maps of shape (n, sides, levels, n_features) as 8-bit fractions of
    each feature's range: ``(levels, range)``, range of shape (sides, 2,
    n_features) holding each side's low and high values. Rounding keeps
    each map non-decreasing."""
    maps = np.asarray(maps, dtype=np.float64)
    low = maps.min(axis=(0, 2)).astype(np.float32).astype(np.float64)
    high = maps.max(axis=(0, 2)).astype(np.float32).astype(np.float64)
    span = np.where(high > low, high - low, 1.0)
    top = np.iinfo(LEVELS_DTYPE).max
    levels = np.empty(maps.shape, dtype=LEVELS_DTYPE)
    # A map at a time: at 20,000 features the float64 temporaries of all
    # of them at once took 150 MB.
    for index, one in enumerate(maps):
        fractions = (one - low[:, None, :]) / span[:, None, :]
        levels[index] = np.rint(np.clip(fractions, 0, 1) * top)
    # float32 ends: the range costs half as much, and its rounding is far
    # below a level's step.
    return levels, np.stack([low, high], axis=1).astype(np.float32)


def unpack_map(levels, value_range):
    """One packed map, shape (sides, n_levels, n_features), back as float64
    (8-bit levels, or the 16-bit ones of files from before them)."""
    value_range = np.asarray(value_range, dtype=np.float64)
    low, high = value_range[:, 0], value_range[:, 1]
    fractions = levels.astype(np.float64) / np.iinfo(levels.dtype).max
    return low[:, None, :] + fractions * (high - low)[:, None, :]


def calibrate(X, quantiles):
    """Map each feature of ``X`` from the decoder's quantiles to the data's.

    The piecewise-linear, non-decreasing map of QuantileTransformer followed
    by its inverse, written out because the quantiles are stored as plain
    arrays (see the module docstring). Interpolating both ways and averaging
    spreads a run of equal quantiles (a pixel the decoder always leaves
    blank) evenly, as QuantileTransformer does. Where a feature's decoded
    quantiles have no such run, both ways give the same map (to rounding):
    only the features with one are interpolated twice.
    """
    decoded, data = np.asarray(quantiles[0], np.float64), np.asarray(quantiles[1])
    mapped = _interp_columns(X, decoded, data)
    tied = np.flatnonzero((np.diff(decoded, axis=0) == 0).any(axis=0))
    if len(tied):
        down = -_interp_columns(-X[:, tied], -decoded[::-1, tied], -data[::-1, tied])
        mapped[:, tied] = 0.5 * (mapped[:, tied] + down)
    return mapped


def calibrate_groups(X, groups, maps, value_range, decoded=None):
    """Calibrate each row of ``X``, in place, with its group's map.

    ``groups`` holds each row's group; ``maps[g]`` is group g's map, packed
    (see :func:`pack_maps`, with ``value_range``) or not (``value_range``
    None); ``decoded[g]``, where given, its decoder's side, for maps that
    store the data's side only. Returns ``X``.
    """
    for group in np.unique(groups):
        rows = groups == group
        quantiles = maps[group]
        if value_range is not None:
            quantiles = unpack_map(quantiles, value_range)
        if decoded is not None:
            quantiles = np.concatenate([decoded[group][None], quantiles])
        X[rows] = calibrate(X[rows], quantiles)
    return X


def _interp_columns(X, xp, fp):
    """``np.interp(X[:, j], xp[:, j], fp[:, j])`` for every column j, in one call.

    np.interp takes one column at a time, and a sample of digits from 40
    components would call it thousands of times. So each column is shifted
    into a band of its own, the bands one apart and in column order: the
    concatenated ``xp`` is then sorted, and one interpolation over it is
    every column's. Values outside a column's ``xp`` take its end values,
    as np.interp gives them.

    The points go in column by column: np.interp starts each search from
    where the previous point's ended, and a search that stays in one
    column's band stays in cache. Row by row took 1.7 times as long (the
    same values), most of ``sample`` at 784 features.
    """
    low, high = xp[0], xp[-1]
    shift = np.arange(xp.shape[1]) * ((high - low).max() + 1.0) - low
    points = np.clip(X, low, high) + shift
    values = np.interp(points.T.ravel(), (xp + shift).T.ravel(), fp.T.ravel())
    values = values.reshape(X.shape[::-1]).T
    values = np.where(X < low, fp[0], values)
    return np.where(X > high, fp[-1], values)
