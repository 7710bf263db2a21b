"""UMAPAutoEncoder at tens of thousands of rows: capped epochs, approximate search."""

import sys
import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

import skae._support.umap as graph_module
import skae._umap as umap_module
from skae import UMAPAutoEncoder
from skae._net.batches import TensorBatches


@pytest.fixture(scope="module")
def X():
    return StandardScaler().fit_transform(load_digits().data[:400]).astype(np.float32)


def steps_taken(model):
    """Adam's count of the optimiser steps the model's net has taken."""
    state = model.net_.optimizer_.state
    return int(next(iter(state.values()))["step"])


def test_a_pass_with_most_draws_that_many_rows_afresh_each_time():
    X = torch.arange(100.0)[:, None]
    batches = TensorBatches(X, 16, True, torch.Generator().manual_seed(0), most=40)
    passes = [torch.cat([x for x, _ in batches])[:, 0] for _ in range(2)]
    assert len(batches) == 3
    assert [len(p) for p in passes] == [40, 40]
    assert all(len(set(p.tolist())) == 40 for p in passes)
    assert set(passes[0].tolist()) != set(passes[1].tolist())


def test_a_pass_with_most_above_the_rows_is_the_plain_pass():
    X = torch.arange(50.0)[:, None]
    plain = TensorBatches(X, 16, True, torch.Generator().manual_seed(3))
    capped = TensorBatches(X, 16, True, torch.Generator().manual_seed(3), most=500)
    for (a, _), (b, _) in zip(plain, capped, strict=True):
        assert torch.equal(a, b)


def test_an_epoch_trains_on_at_most_edges_per_epoch(X, monkeypatch):
    monkeypatch.setattr(umap_module, "EDGES_PER_EPOCH", 100)
    umap = UMAPAutoEncoder(batch_size=32, max_iter=2, latent_density=None)
    umap.fit(X)
    # 400 rows give thousands of edges; an epoch takes 100 of them.
    assert steps_taken(umap) == 2 * 4


def test_the_docs_state_the_cap():
    assert f"{umap_module.EDGES_PER_EPOCH:,} of the sampled edges" in " ".join(
        UMAPAutoEncoder.__doc__.split()
    )


def test_small_graphs_train_on_every_edge(X, monkeypatch):
    params = dict(batch_size=64, max_iter=2, latent_density=None, random_state=0)
    capped = UMAPAutoEncoder(**params).fit(X)
    monkeypatch.setattr(umap_module, "EDGES_PER_EPOCH", 10**9)
    uncapped = UMAPAutoEncoder(**params).fit(X)
    assert steps_taken(capped) == steps_taken(uncapped) > 2 * 100 / 64
    assert_array_equal(capped.transform(X), uncapped.transform(X))


def test_the_exact_search_warns_when_it_will_take_long(X, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynndescent", None)  # not installed
    monkeypatch.setattr(graph_module, "APPROXIMATE_FROM", 100)
    monkeypatch.setattr(graph_module, "SLOW_EXACT_TERMS", 1e6)
    with pytest.warns(UserWarning, match=r"exactly.*pip install 'skae\[umap\]'"):
        indices, _ = graph_module.nearest_neighbors(X, 5, "euclidean", seed=0)
    assert indices.shape == (400, 5)


def test_the_exact_search_of_a_small_table_is_silent(X, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynndescent", None)
    monkeypatch.setattr(graph_module, "APPROXIMATE_FROM", 100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        graph_module.nearest_neighbors(X, 5, "euclidean", seed=0)


def test_approximate_neighbours_match_the_exact_ones_and_repeat(X, monkeypatch):
    pytest.importorskip("pynndescent")
    exact, exact_distances = graph_module.nearest_neighbors(X, 10, "euclidean")
    monkeypatch.setattr(graph_module, "APPROXIMATE_FROM", 100)
    first, distances = graph_module.nearest_neighbors(X, 10, "euclidean", seed=1)
    again, _ = graph_module.nearest_neighbors(X, 10, "euclidean", seed=1)
    assert_array_equal(first, again)
    # On 400 rows NN-descent finds (nearly) every true neighbour.
    found = np.mean(
        [len(set(a) & set(b)) / 10 for a, b in zip(first, exact, strict=True)]
    )
    assert found > 0.98
    assert first.dtype == np.int64 and distances.dtype == np.float64
    assert np.allclose(np.sort(distances, 1)[:, -1], exact_distances[:, -1], rtol=0.1)


def test_a_metric_pynndescent_lacks_stays_exact(X, monkeypatch):
    monkeypatch.setattr(graph_module, "APPROXIMATE_FROM", 100)
    monkeypatch.setitem(sys.modules, "pynndescent", None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        indices, _ = graph_module.nearest_neighbors(X, 5, "braycurtis", seed=0)
    assert indices.shape == (400, 5)


def test_the_approximate_search_leaves_torchs_thread_count_alone(X, monkeypatch):
    # pynndescent's numba code sets OpenMP's count, which torch reads, to
    # numba's: the epochs after it ran on 2 threads after set_num_threads(1).
    pytest.importorskip("pynndescent")
    monkeypatch.setattr(graph_module, "APPROXIMATE_FROM", 100)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        UMAPAutoEncoder(max_iter=1, random_state=0).fit(X)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize(
    "random_state, n_threads, n_jobs",
    [(0, "auto", 1), (0, 2, 1), (None, "auto", -1), (None, None, -1), (None, 1, 1)],
)
def test_the_search_uses_every_thread_only_without_a_random_state(
    X, monkeypatch, random_state, n_threads, n_jobs
):
    # With a seed, one thread (NN-descent's threads interleave differently
    # from run to run); without one, as many as the user allows.
    pytest.importorskip("pynndescent")
    monkeypatch.setattr(graph_module, "APPROXIMATE_FROM", 100)
    asked = []
    search = graph_module.approximate_neighbors

    def recorded(*args):
        asked.append(args[-1])
        return search(*args)

    monkeypatch.setattr(graph_module, "approximate_neighbors", recorded)
    UMAPAutoEncoder(
        max_iter=1, latent_density=None, random_state=random_state, n_threads=n_threads
    ).fit(X)
    assert asked == [n_jobs]
