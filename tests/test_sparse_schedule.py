"""SparseAutoEncoder's learning-rate schedule: decayed with the "sae_" settings only."""

import pytest
from numpy.testing import assert_allclose
from superposition import superposition

from skae import SparseAutoEncoder

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def sae(**params):
    defaults = {
        "n_components": 32,
        "n_active": 4,
        "hidden_layer_sizes": (),
        "batch_size": 64,
        "learning_rate_init": 0.01,
        "max_iter": 4,
        "tol": 0.0,
        "latent_density": None,
        "random_state": 0,
    }
    return SparseAutoEncoder(**{**defaults, **params})


@pytest.mark.parametrize("sparsity", ["sae_topk", "sae_batchtopk", "topk"])
def test_linear_schedule_holds_the_rate_then_lowers_it(sparsity, rates_seen):
    X = superposition(n_rows=200, n_true=24, k=3)
    model = sae(sparsity=sparsity, learning_rate="linear").fit(X)
    # The first half of the epochs at the rate, then a linear fall.
    assert_allclose(rates_seen, [0.01, 0.01, 0.01, 0.005])
    assert model.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.01)
    rates_seen.clear()
    model.partial_fit(X)
    assert_allclose(rates_seen, [0.01])


@pytest.mark.parametrize("sparsity", ["sae_topk", "topk", "l1"])
def test_default_schedule_is_constant(sparsity, rates_seen):
    X = superposition(n_rows=200, n_true=24, k=3)
    model = sae(sparsity=sparsity).fit(X)
    assert rates_seen == []
    assert "decay" not in dict(model.net_.callbacks_)
    assert model.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.01)


def test_schedule_cannot_change_on_a_warm_start():
    # The schedule is a callback of the net built at the first fit.
    X = superposition(n_rows=200, n_true=24, k=3)
    model = sae(sparsity="sae_topk", max_iter=1).fit(X)
    model.set_params(warm_start=True, learning_rate="linear")
    with pytest.raises(ValueError, match="learning_rate was changed"):
        model.fit(X)


def test_files_and_pickles_without_the_schedule_read_as_constant():
    from skae._io.format.upgrade import add_later_params, upgrade_pickled_state

    for sparsity in ("topk", "sae_topk"):
        params = {"__dict__": {"sparsity": sparsity}}
        header = add_later_params({"class": "SparseAutoEncoder", "params": params})
        assert header["params"]["__dict__"]["learning_rate"] == "constant"
        state = upgrade_pickled_state(
            "SparseAutoEncoder", {"sparsity": sparsity}, fitted=False
        )
        assert state["learning_rate"] == "constant"
