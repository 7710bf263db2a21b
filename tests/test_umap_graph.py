"""UMAP's fuzzy neighbour graph, its curve parameters and the sampled edges."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits

from skae._support.umap import (
    UNLABELLED_DIST,
    class_codes,
    far_distance,
    find_ab_params,
    fuzzy_simplicial_set,
    intersect_with_labels,
    sample_edges,
    smooth_knn_dist,
    training_edges,
)


@pytest.fixture(scope="module")
def X():
    return load_digits().data[:300].astype(np.float64)


def test_ab_params_match_umap_learn():
    # umap-learn's values for its defaults, min_dist=0.1 and spread=1.
    a, b = find_ab_params(1.0, 0.1)
    assert_allclose([a, b], [1.577, 0.895], atol=1e-3)


def test_ab_params_follow_min_dist():
    # A larger min_dist flattens the top of the curve: smaller a.
    assert find_ab_params(1.0, 0.5)[0] < find_ab_params(1.0, 0.1)[0]


@pytest.mark.parametrize("n_neighbors", [2, 5, 15])
def test_graph_is_symmetric_sparse_and_bounded(X, n_neighbors):
    graph = fuzzy_simplicial_set(X, n_neighbors)
    n = len(X)
    assert graph.shape == (n, n)
    assert abs(graph - graph.T).max() == 0
    # Each row links to its n_neighbors - 1 others; the union at most doubles.
    assert graph.nnz <= 2 * n * (n_neighbors - 1)
    assert graph.nnz >= n * (n_neighbors - 1)
    assert graph.diagonal().max() == 0
    assert graph.data.min() > 0 and graph.data.max() <= 1


def test_each_row_reaches_its_nearest_neighbour_with_weight_one(X):
    graph = fuzzy_simplicial_set(X, 10).toarray()
    distances = np.linalg.norm(X[:, None] - X[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    nearest = distances.argmin(axis=1)
    assert_allclose(graph[np.arange(len(X)), nearest], 1.0)


def test_bandwidths_solve_umaps_equation():
    rng = np.random.default_rng(0)
    distances = np.sort(rng.random((50, 8)), axis=1)
    distances[:, 0] = 0  # each row is its own first neighbour
    rho, sigma = smooth_knn_dist(distances, 8)
    assert_allclose(rho, distances[:, 1])
    excess = np.maximum(distances[:, 1:] - rho[:, None], 0)
    assert_allclose(np.exp(-excess / sigma[:, None]).sum(1), np.log2(8), atol=1e-4)


def test_identical_rows_give_finite_weights():
    graph = fuzzy_simplicial_set(np.ones((6, 3)), 4)
    assert np.isfinite(graph.data).all()


def test_sampled_edges_follow_the_weights_and_are_bounded(X):
    graph = fuzzy_simplicial_set(X, 10)
    edges = sample_edges(graph, np.random.default_rng(0), repeats=1)
    assert edges.dtype == np.int64 and edges.shape[1] == 2
    assert len(edges) <= graph.nnz
    assert abs(len(edges) - graph.data.sum()) < 4 * np.sqrt(graph.nnz)
    assert (graph[edges[:, 0], edges[:, 1]] > 0).all()
    again = sample_edges(graph, np.random.default_rng(0), repeats=1)
    assert np.array_equal(edges, again)


def test_labels_weaken_the_edges_between_classes(X):
    graph = fuzzy_simplicial_set(X, 10)
    labels = load_digits().target[: len(X)]
    supervised = intersect_with_labels(graph, labels, far_distance(0.5)).tocoo()
    assert abs(supervised - supervised.T).max() == 0
    assert_allclose(supervised.tocsr().max(axis=1).toarray().ravel(), 1.0)
    same = labels[supervised.row] == labels[supervised.col]
    # Weakened by exp(-5), then each row scaled to a largest weight of 1.
    assert supervised.data[~same].mean() < 0.05 * supervised.data[same].mean()
    assert supervised.data[same].mean() > graph.data.mean()
    # At target_weight=1 no edge joins two classes.
    only_classes = intersect_with_labels(graph, labels, far_distance(1.0)).tocoo()
    assert (labels[only_classes.row] == labels[only_classes.col]).all()


def test_labels_move_an_epochs_edges_between_classes_not_its_length(X):
    # The supervised graph's weights sum to more than the data's (each row
    # scaled back to a largest of 1, then the fuzzy union again): drawn as
    # they are, an epoch on labels trained on 1.66 times the edges (all the
    # digits, 15 neighbours; 1.29 times here).
    labels = load_digits().target[: len(X)]
    rng = np.random.RandomState
    plain = training_edges(X, 10, "euclidean", rng(0))
    supervised = training_edges(X, 10, "euclidean", rng(0), labels, far_distance(0.5))
    graph = fuzzy_simplicial_set(X, 10)
    assert intersect_with_labels(graph, labels, 5.0).data.sum() > 1.2 * len(plain)
    assert abs(len(supervised) - len(plain)) < 4 * np.sqrt(graph.nnz)
    same = labels[supervised[:, 0]] == labels[supervised[:, 1]]
    assert same.mean() > 0.99 > (labels[plain[:, 0]] == labels[plain[:, 1]]).mean()


def test_labels_that_cut_every_edge_leave_each_row_with_itself():
    # At target_weight=1 no edge joins two classes: with four rows of four
    # classes none is left, and each row is paired with itself (no
    # division by the empty graph's total weight).
    X = np.array([[0.0], [0.1], [10.0], [10.1]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        edges = training_edges(
            X, 2, "euclidean", np.random.RandomState(0), np.arange(4), far_distance(1)
        )
    assert_array_equal(edges, np.repeat(np.arange(4)[:, None], 2, 1))


def test_supervised_graph_matches_umap_learn(X):
    umap_ = pytest.importorskip("umap.umap_")
    graph = fuzzy_simplicial_set(X, 10)
    labels = load_digits().target[: len(X)].copy()
    labels[::7] = -1
    ours = intersect_with_labels(graph, labels, far_distance(0.3))
    theirs = umap_.discrete_metric_simplicial_set_intersection(
        graph.copy(), labels, far_dist=2.5 / 0.7
    )
    assert_allclose(ours.toarray(), theirs.toarray(), atol=1e-12)


def test_an_unlabelled_end_leaves_the_edge_as_without_labels(X):
    # What training_edges uses: a row without a class (-1) says nothing
    # about whether it shares one with its neighbours (umap-learn's
    # unknown_dist=1.0 weakens those edges instead).
    graph = fuzzy_simplicial_set(X, 10)
    labels = load_digits().target[: len(X)].copy()
    labels[np.arange(len(X)) % 10 != 0] = -1
    unlabelled = np.full(len(X), -1)
    without = intersect_with_labels(graph, unlabelled, 5.0, UNLABELLED_DIST).toarray()
    semi = intersect_with_labels(graph, labels, 5.0, UNLABELLED_DIST).toarray()
    as_umap_learn = intersect_with_labels(graph, labels, 5.0).toarray()
    unknown = (labels[:, None] == -1) | (labels[None, :] == -1)
    assert_allclose(semi[unknown], without[unknown], atol=1e-12)
    assert (as_umap_learn[unknown] < without[unknown] - 1e-3).any()
    # Between two labelled rows of different classes, the edge still weakens.
    different = ~unknown & (labels[:, None] != labels[None, :]) & (without > 0)
    assert different.any()
    assert (semi[different] < 0.05 * without[different]).all()


def test_class_codes_mark_unlabelled_rows_and_accept_strings():
    assert_array_equal(class_codes([3, -1, 7, 3], 4), [1, -1, 2, 1])
    assert_array_equal(class_codes(["b", "a", "b"], 3), [1, 0, 1])


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (np.linspace(0, 1, 5), "got a 'continuous' target"),
        ([1, 2, 3], "inconsistent numbers of samples"),
    ],
)
def test_class_codes_refuse_what_is_not_class_labels(y, match):
    with pytest.raises(ValueError, match=match):
        class_codes(y, 5)


@pytest.mark.parametrize(
    "spread, min_dist",
    [(1e-3, 0.0), (0.05, 0.0), (50.0, 49.0), (1e3, 0.0), (10.0, 9.9)],
)
def test_ab_params_fall_with_distance_at_any_scale(spread, min_dist):
    # umap-learn's direct fit gives b < 0 (a curve rising with distance) or
    # a < 0 here, with scipy's OptimizeWarning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a, b = find_ab_params(spread, min_dist)
    assert a > 0 and b > 0
    # The same shape as at spread 1: the curve at d * spread is the one at d.
    a1, b1 = find_ab_params(1.0, min_dist / spread)
    d = np.linspace(0.1, 3, 7)
    assert_allclose(1 / (1 + a * (d * spread) ** (2 * b)), 1 / (1 + a1 * d ** (2 * b1)))


def test_ab_params_at_spread_one_are_umap_learns_fit_exactly():
    pytest.importorskip("umap")
    from umap.umap_ import find_ab_params as umap_learn_ab

    for min_dist in (0.0, 0.1, 0.5, 1.0):
        assert find_ab_params(1.0, min_dist) == tuple(
            map(float, umap_learn_ab(1.0, min_dist))
        )


def test_ab_params_refuse_a_curve_beyond_float64():
    with pytest.raises(ValueError, match="spread=1e-300 .*outside float64's range"):
        find_ab_params(1e-300, 0.0)
