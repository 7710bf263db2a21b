"""UMAP's fuzzy neighbour graph and the edges training samples from it.

No torch here: NumPy, SciPy and scikit-learn only. The maths follows
umap-learn (McInnes, Healy & Melville, 2018): ``smooth_knn_dist``,
``compute_membership_strengths``, the fuzzy union of ``fuzzy_simplicial_set``,
``find_ab_params`` and the supervised graph of class labels, vectorised over
rows instead of compiled with numba.
"""

from functools import lru_cache

import numpy as np
from scipy import sparse
from scipy.optimize import curve_fit
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import normalize
from sklearn.utils import check_consistent_length, check_random_state, column_or_1d
from sklearn.utils.multiclass import type_of_target

from .._utils.warnings import warn

# umap-learn's constants: the binary search for each row's bandwidth stops
# within SMOOTH_K_TOLERANCE of its target, and a bandwidth is never below
# MIN_K_DIST_SCALE times the row's mean neighbour distance.
SMOOTH_K_TOLERANCE = 1e-5
MIN_K_DIST_SCALE = 1e-3
N_ITER = 64

#: From this many rows on, the neighbour search is approximate (pynndescent's
#: NN-descent) when pynndescent is installed, as in umap-learn.
APPROXIMATE_FROM = 4096
#: The metrics pynndescent computes as NearestNeighbors does, by the name
#: pynndescent gives them.
APPROXIMATE_METRICS = {
    "euclidean": "euclidean",
    "l2": "euclidean",
    "manhattan": "manhattan",
    "cityblock": "manhattan",
    "l1": "manhattan",
    "chebyshev": "chebyshev",
    "infinity": "chebyshev",
    "cosine": "cosine",
    "correlation": "correlation",
}
#: Above this many distance terms (rows^2 x features), the exact search
#: takes minutes on a laptop: fit warns, unless pynndescent takes over.
SLOW_EXACT_TERMS = 1e11


@lru_cache(maxsize=32)
def find_ab_params(spread, min_dist):
    """``a, b`` of the curve ``1 / (1 + a d^(2b))`` closest to UMAP's target.

    The target is 1 up to ``min_dist`` and ``exp(-(d - min_dist) / spread)``
    beyond, on 300 points in ``[0, 3 spread]``, fitted by least squares as in
    umap-learn. Cached: the fit is deterministic and the estimator rebuilds
    its loss from the parameters (when loading, say).

    The target's shape depends on ``min_dist / spread`` alone: the fit runs
    at ``spread=1``, where it converges for every ratio in [0, 1], and ``a``
    is rescaled by ``spread^(-2b)``. (Fitted directly, as umap-learn does, a
    tiny or huge ``spread`` gives a curve rising with distance, ``b < 0``.)
    For ``spread=1`` this is umap-learn's fit, number for number. Raises
    ValueError when the rescaled ``a`` leaves float64's range.
    """

    def curve(x, a, b):
        return 1.0 / (1.0 + a * x ** (2 * b))

    ratio = min_dist / spread
    xv = np.linspace(0, 3.0, 300)
    yv = np.where(xv < ratio, 1.0, np.exp(-(xv - ratio)))
    (a, b), _ = curve_fit(curve, xv, yv)
    with np.errstate(over="ignore", divide="ignore"):
        a = a * spread ** (-2 * b)
    if not (np.isfinite(a) and a > 0 and b > 0):
        raise ValueError(
            f"spread={spread!r} and min_dist={min_dist!r} give UMAP's curve "
            f"1 / (1 + a d^(2b)) a={a:.3g}, b={b:.3g}, outside float64's "
            "range. Scale spread and min_dist towards 1 (the codes' scale "
            "follows them)."
        )
    return float(a), float(b)


def nearest_neighbors(X, n_neighbors, metric, seed=None, n_jobs=1):
    """Indices and distances of each row's ``n_neighbors`` nearest rows.

    Each row counts as its own first neighbour, as in umap-learn. From
    ``APPROXIMATE_FROM`` rows on, with pynndescent installed (the ``umap``
    extra) and a metric it computes, the search is NN-descent's, seeded by
    ``seed`` (an int) and run on ``n_jobs`` threads (-1: all); otherwise
    exact, with a warning when that takes long.
    """
    n_samples, n_features = X.shape
    if n_samples >= APPROXIMATE_FROM and metric in APPROXIMATE_METRICS:
        try:
            from pynndescent import NNDescent
        except ImportError:
            terms = float(n_samples) ** 2 * n_features
            if terms > SLOW_EXACT_TERMS:
                warn(
                    f"UMAPAutoEncoder searches the neighbours of {n_samples:,} "
                    f"rows of {n_features:,} features exactly: about "
                    f"{terms:.1e} distance terms, a few minutes per 1e12 on "
                    "a laptop's cores. Install pynndescent (pip install "
                    "'skae[umap]') for umap-learn's approximate search, "
                    "seconds at this size.",
                    UserWarning,
                )
        else:
            return approximate_neighbors(
                NNDescent, X, n_neighbors, APPROXIMATE_METRICS[metric], seed, n_jobs
            )
    nn = NearestNeighbors(n_neighbors=n_neighbors, metric=metric).fit(X)
    distances, indices = nn.kneighbors(X)
    return indices, distances.astype(np.float64)


def search_jobs(random_state, n_threads):
    """The threads of the approximate search (``n_jobs``; -1: every core).

    Without a ``random_state`` the codes differ from run to run anyway, and
    the search takes as many threads as ``n_threads`` allows, as umap-learn's
    does (on one, it took 15% of a default fit at 60,000 x 784). With one,
    a single thread, so that the seed gives the same graph every time.
    """
    if random_state is not None:
        return 1
    return -1 if n_threads is None or isinstance(n_threads, str) else int(n_threads)


def approximate_neighbors(NNDescent, X, n_neighbors, metric, seed, n_jobs=1):
    """pynndescent's neighbour graph, with umap-learn's settings for it.

    On more than one thread (``n_jobs``) NN-descent's result depends on
    how the threads interleave: as umap-learn does, a caller with a
    ``random_state`` asks for one, so that it gives the same codes on every
    run and machine.
    """
    n_samples = X.shape[0]
    index = NNDescent(
        X,
        n_neighbors=n_neighbors,
        metric=metric,
        random_state=seed,
        n_trees=min(64, 5 + int(round(n_samples**0.5 / 20.0))),
        n_iters=max(5, int(round(np.log2(n_samples)))),
        max_candidates=60,
        low_memory=True,
        n_jobs=n_jobs,
    )
    indices, distances = index.neighbor_graph
    return indices.astype(np.int64), distances.astype(np.float64)


def smooth_knn_dist(distances, n_neighbors):
    """Each row's distance to its nearest neighbour (``rho``) and bandwidth (``sigma``).

    ``sigma`` solves ``sum_j exp(-max(0, d_j - rho) / sigma) = log2(k)`` over
    the neighbours but the first (the row itself), by bisection, all rows at
    once; a row stops moving once within tolerance, as umap-learn's loop
    breaks.
    """
    n_samples = distances.shape[0]
    target = np.log2(n_neighbors)
    positive = np.where(distances > 0, distances, np.inf)
    rho = positive.min(axis=1)
    rho[~np.isfinite(rho)] = 0.0
    excess = distances[:, 1:] - rho[:, None]
    lo = np.zeros(n_samples)
    hi = np.full(n_samples, np.inf)
    mid = np.ones(n_samples)
    active = np.ones(n_samples, dtype=bool)
    with np.errstate(divide="ignore", over="ignore"):
        for _ in range(N_ITER):
            terms = np.where(excess > 0, np.exp(-excess / mid[:, None]), 1.0)
            psum = terms.sum(axis=1)
            active &= np.abs(psum - target) >= SMOOTH_K_TOLERANCE
            if not active.any():
                break
            above = active & (psum > target)
            below = active & ~(psum > target)
            hi = np.where(above, mid, hi)
            lo = np.where(below, mid, lo)
            mid = np.where(
                above | (below & np.isfinite(hi)),
                (lo + hi) / 2,
                np.where(below, mid * 2, mid),
            )
    floor = MIN_K_DIST_SCALE * np.where(
        rho > 0, distances.mean(axis=1), distances.mean()
    )
    return rho, np.maximum(mid, floor)


def fuzzy_simplicial_set(X, n_neighbors, metric="euclidean", seed=None, n_jobs=1):
    """UMAP's symmetric fuzzy graph of ``X``, a sparse (n, n) matrix.

    Row ``i`` holds ``exp(-(d_ij - rho_i) / sigma_i)`` for its neighbours
    ``j``; the graph is their fuzzy union ``A + A.T - A * A.T``. At most
    ``2 * n * (n_neighbors - 1)`` stored entries, all in (0, 1].

    ``n_neighbors`` counts the row itself and must not exceed ``len(X)``.
    """
    n_samples = X.shape[0]
    indices, distances = nearest_neighbors(X, n_neighbors, metric, seed, n_jobs)
    rho, sigma = smooth_knn_dist(distances, n_neighbors)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        strength = np.exp(-(distances - rho[:, None]) / sigma[:, None])
    strength = np.where(distances - rho[:, None] <= 0, 1.0, strength)
    rows = np.repeat(np.arange(n_samples), indices.shape[1])
    strength[indices == np.arange(n_samples)[:, None]] = 0.0
    A = sparse.csr_matrix(
        (strength.ravel(), (rows, indices.ravel())), shape=(n_samples, n_samples)
    )
    return fuzzy_union(A)


def fuzzy_union(A):
    """The symmetric graph ``A + A.T - A * A.T`` of directed strengths ``A``, as CSR."""
    A.eliminate_zeros()
    graph = (A + A.T - A.multiply(A.T)).tocsr()
    graph.eliminate_zeros()
    return graph


def sample_edges(graph, rng, repeats=1):
    """The (head, tail) pairs an epoch trains on, an (m, 2) int64 array.

    Each stored entry of the graph (both directions of each edge) of weight
    ``w`` appears ``repeats * w`` times, rounded up or down at random: an
    epoch visits an edge ``repeats`` times as often as one of UMAP's epochs
    (``w / max(w)``, with ``max(w) = 1``) in expectation, and
    ``m <= repeats * nnz`` bounds an epoch's memory and time by the graph's
    size.
    """
    coo = graph.tocoo()
    expected = repeats * coo.data
    copies = np.floor(expected).astype(np.int64)
    copies += rng.random(coo.nnz) < expected - copies
    pairs = np.stack([coo.row, coo.col], axis=1).astype(np.int64)
    return np.repeat(pairs, copies, axis=0)


def far_distance(target_weight):
    """How far apart umap-learn puts rows of different classes, for a weight in [0, 1].

    ``2.5 / (1 - target_weight)``, and practically infinite at 1, as
    umap-learn's supervised fit.
    """
    return 2.5 / (1.0 - target_weight) if target_weight < 1 else 1e12


#: How far apart :func:`training_edges` puts a row without a class (label
#: -1) and its neighbours: not at all. umap-learn weakens such an edge by
#: ``exp(-1)`` (its ``unknown_dist=1.0``); with a tenth of the labels that is
#: nearly every edge of a labelled row, which then holds its unlabelled
#: neighbours more loosely, and the head moves it alone. An unlabelled end
#: says nothing about whether the two rows share a class, so the edge keeps
#: the strength the data gave it: over seeds 0, 1 and 2 (the digits at k=2,
#: 10% of the labels, 5 folds, target_weight=0.5) the held-out accuracy of a
#: logistic regression on the labelled rows' codes went from 0.917 to 0.922,
#: on every seed. Fits on fully labelled or unlabelled rows are unchanged.
UNLABELLED_DIST = 0.0


def intersect_with_labels(graph, labels, far_dist, unknown_dist=1.0):
    """The fuzzy graph of rows and their class labels, as umap-learn's supervised fit.

    An edge between rows of different classes is weakened by
    ``exp(-far_dist)``, one with an unlabelled end (label ``-1``) by
    ``exp(-unknown_dist)``; then each row's strengths are scaled to a
    largest of 1, and the result is symmetrised again by the fuzzy union,
    as ``fuzzy_simplicial_set`` does.
    """
    coo = graph.tocoo()
    head, tail = labels[coo.row], labels[coo.col]
    unknown = (head == -1) | (tail == -1)
    factor = np.where(
        unknown, np.exp(-unknown_dist), np.where(head != tail, np.exp(-far_dist), 1.0)
    )
    A = sparse.csr_matrix((coo.data * factor, (coo.row, coo.col)), shape=graph.shape)
    return fuzzy_union(normalize(A, norm="max"))


def class_codes(y, n_samples):
    """``y`` as integer class codes for :func:`intersect_with_labels`, -1 unlabelled.

    As in umap-learn (and scikit-learn's semi-supervised estimators), a
    label of ``-1`` marks a row without a class. Raises ValueError for a
    target that is not class labels.
    """
    y = column_or_1d(y, warn=True)
    check_consistent_length(np.empty((n_samples, 0)), y)
    kind = type_of_target(y, input_name="y", raise_unknown=True)
    if kind not in ("binary", "multiclass"):
        raise ValueError(
            f"UMAPAutoEncoder with target_weight set uses y as class labels, "
            f"as umap-learn's supervised UMAP; got a {kind!r} target. Pass "
            "class labels (-1 for a row without one), or target_weight=None "
            "to fit without y."
        )
    unlabelled = (y == -1) if y.dtype.kind in "iuf" else np.zeros(len(y), bool)
    codes = np.unique(y, return_inverse=True)[1].astype(np.int64)
    codes[unlabelled] = -1
    return codes


def training_edges(X, n_neighbors, metric, rng, labels=None, far_dist=None, n_jobs=1):
    """The (head, tail) pairs one fit or partial_fit call trains on.

    The edges of ``X``'s fuzzy graph (with ``labels``, its supervised
    graph), each drawn in proportion to its weight by :func:`sample_edges`,
    as many in all as the unsupervised graph's weights add up to.
    Without neighbours (one row, say), each row is paired with itself: their
    codes coincide, which leaves the reconstruction loss alone.
    """
    n_samples = X.shape[0]
    edges = np.empty((0, 2), dtype=np.int64)
    if n_neighbors >= 2:
        # Drawn only for the approximate search, so that the edges drawn
        # below stay those of the exact graph's fits before it existed.
        seed = int(rng.randint(2**31)) if n_samples >= APPROXIMATE_FROM else None
        graph = fuzzy_simplicial_set(X, n_neighbors, metric, seed, n_jobs)
        repeats = 1.0
        if labels is not None:
            # The supervised graph's weights sum to more than the data's
            # (each row scaled back to a largest of 1, then the fuzzy union
            # again, as umap-learn's): drawn as they are, an epoch on labels
            # trained on more edges and took longer than one without. Drawn
            # to the data's total, labels move an epoch's edges between
            # classes, not its length (docs/user_guide/supervised.rst).
            unsupervised = graph.data.sum()
            graph = intersect_with_labels(graph, labels, far_dist, UNLABELLED_DIST)
            # None left when every edge joins two classes at target_weight=1.
            supervised = graph.data.sum()
            repeats = unsupervised / supervised if supervised > 0 else 1.0
        edges = sample_edges(graph, rng, repeats)
    if len(edges) == 0:
        edges = np.repeat(np.arange(n_samples, dtype=np.int64)[:, None], 2, 1)
    return edges


def call_edges(X, n_neighbors, metric, seed, y=None, target_weight=None, n_jobs=1):
    """The edges one fit or partial_fit call trains on, and its n_neighbors.

    ``n_neighbors`` is clipped to the rows, with a warning. With ``y`` (class
    labels, -1 for none), the edges are those of the supervised graph of
    ``target_weight``. ``seed`` seeds the draws; ``n_jobs`` is the search's
    (see :func:`search_jobs`).
    """
    n_samples = X.shape[0]
    used = min(n_neighbors, n_samples)
    if n_neighbors > n_samples:
        warn(
            f"n_neighbors={n_neighbors} is more than the n_samples="
            f"{n_samples} rows to fit on; the graph links every row to all "
            f"the others (n_neighbors={used}). Pass more rows or a "
            "smaller n_neighbors.",
            UserWarning,
        )
    labels = far_dist = None
    if y is not None:
        labels = class_codes(y, n_samples)
        far_dist = far_distance(target_weight)
    rng = check_random_state(seed)
    return training_edges(X, used, metric, rng, labels, far_dist, n_jobs), used
