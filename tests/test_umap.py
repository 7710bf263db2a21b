"""UMAPAutoEncoder: neighbour-keeping codes, an inverse, and the family's contract."""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import trustworthiness
from sklearn.metrics import silhouette_score
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skae import UMAPAutoEncoder

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def scaled_digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X[:400]), y[:400]


def small(**params):
    defaults = {
        "hidden_layer_sizes": (32,),
        "learning_rate_init": 1e-2,
        "max_iter": 4,
        "random_state": 0,
    }
    return UMAPAutoEncoder(**{**defaults, **params})


@pytest.fixture(scope="module")
def fitted(scaled_digits):
    return small(max_iter=8).fit(scaled_digits[0])


def test_keeps_neighbours_better_than_pca(scaled_digits, fitted):
    X = scaled_digits[0]
    ours = trustworthiness(X, fitted.transform(X), n_neighbors=5)
    pca = trustworthiness(X, PCA(2).fit_transform(X), n_neighbors=5)
    assert ours > pca + 0.05


def test_same_seed_same_codes(scaled_digits):
    X = scaled_digits[0][:150]
    first = small(max_iter=2).fit(X).transform(X)
    assert_array_equal(small(max_iter=2).fit(X).transform(X), first)
    other = small(max_iter=2, random_state=1).fit(X).transform(X)
    assert not np.array_equal(other, first)


def test_inverse_transform_reconstructs_better_than_the_mean(scaled_digits, fitted):
    X = scaled_digits[0]
    reconstruction = fitted.inverse_transform(fitted.transform(X))
    assert reconstruction.shape == X.shape
    error = np.mean((reconstruction - X) ** 2)
    assert error < np.mean((X - X.mean(axis=0)) ** 2)
    assert fitted.reconstruction_error_ == pytest.approx(error, rel=1e-5)
    assert_allclose(fitted.score_samples(X), -np.mean((reconstruction - X) ** 2, 1))


def test_transform_never_searches_neighbours(scaled_digits, fitted, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("transform searched for neighbours")

    monkeypatch.setattr(NearestNeighbors, "kneighbors", refuse)
    monkeypatch.setattr(NearestNeighbors, "fit", refuse)
    X = scaled_digits[0]
    fitted.transform(X)
    fitted.score_samples(X)


def test_training_rows_are_not_kept_with_the_model(scaled_digits, fitted):
    module = fitted.net_.module_
    assert module.rows is None
    n_rows = len(scaled_digits[0])
    assert not any(v.shape[0] == n_rows for v in module.state_dict().values())
    assert len(pickle.dumps(fitted)) < scaled_digits[0].nbytes


def test_curve_parameters_are_umaps(fitted):
    assert fitted.a_ == pytest.approx(1.577, abs=1e-3)
    assert fitted.b_ == pytest.approx(0.895, abs=1e-3)


def test_more_neighbours_than_rows_warns_and_uses_all_rows(scaled_digits):
    X = scaled_digits[0][:8]
    expected = r"n_neighbors=15 is more than the n_samples=8"
    with pytest.warns(UserWarning, match=expected):
        model = small(n_neighbors=15, max_iter=1).fit(X)
    assert model.n_neighbors_ == 8
    assert np.isfinite(model.transform(X)).all()


def test_one_row_trains_on_reconstruction_alone():
    X = np.arange(5.0)[None]
    with pytest.warns(UserWarning, match="n_samples=1"):
        model = small(max_iter=2).fit(X)
    assert np.isfinite(model.inverse_transform(model.transform(X))).all()


def test_min_dist_beyond_spread_is_refused(scaled_digits):
    with pytest.raises(InvalidParameterError, match="min_dist=2.0 must not exceed"):
        small(min_dist=2.0, spread=1.0).fit(scaled_digits[0])


@pytest.mark.parametrize("init", ["pca", "random"])
def test_inits_and_early_stopping_train(scaled_digits, init):
    X = scaled_digits[0][:200]
    model = small(init=init, early_stopping=True, max_iter=3).fit(X)
    assert model.n_iter_ >= 1
    assert len(model.validation_scores_) == model.n_iter_
    assert np.isfinite(model.transform(scaled_digits[0])).all()


def test_partial_fit_builds_the_graph_of_each_chunk(scaled_digits):
    X = scaled_digits[0]
    model = small()
    for chunk in np.array_split(X, 3):
        model.partial_fit(chunk)
    assert model.n_iter_ == 3
    assert np.isfinite(model.transform(X)).all()


def test_works_in_a_grid_search(scaled_digits):
    X, y = scaled_digits
    pipe = make_pipeline(small(max_iter=2), LogisticRegression(max_iter=200))
    grid = GridSearchCV(pipe, {"umapautoencoder__n_neighbors": [5, 10]}, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X[:200], y[:200])
    assert grid.best_params_["umapautoencoder__n_neighbors"] in (5, 10)


def test_class_labels_with_target_weight_separate_the_classes(scaled_digits):
    X, y = scaled_digits
    # An epoch on labels draws as many edges as one without: both fits
    # train as many steps.
    unsupervised = small(max_iter=12).fit(X, y).transform(X)
    supervised = small(max_iter=12, target_weight=0.5).fit(X, y).transform(X)
    assert silhouette_score(supervised, y) > silhouette_score(unsupervised, y) + 0.1


def test_labels_are_ignored_without_target_weight(scaled_digits, fitted):
    X, y = scaled_digits
    assert_array_equal(small(max_iter=8).fit(X, y).transform(X), fitted.transform(X))
    # With target_weight but no y, the graph is the unsupervised one too.
    no_y = small(max_iter=8, target_weight=0.5).fit(X)
    assert_array_equal(no_y.transform(X), fitted.transform(X))


def test_unlabelled_rows_still_train(scaled_digits):
    X, y = scaled_digits
    partly = np.where(np.arange(len(y)) % 2 == 0, y, -1)
    model = small(max_iter=2, target_weight=0.5).fit(X, partly)
    assert np.isfinite(model.transform(X)).all()


def test_supervised_pipeline_passes_the_labels(scaled_digits):
    X, y = scaled_digits
    pipe = make_pipeline(
        small(max_iter=8, target_weight=0.5), LogisticRegression(max_iter=500)
    )
    unsupervised = make_pipeline(small(max_iter=8), LogisticRegression(max_iter=500))
    assert pipe.fit(X, y).score(X, y) > unsupervised.fit(X, y).score(X, y)


def test_a_continuous_target_is_refused_and_changes_nothing(scaled_digits, fitted):
    X = scaled_digits[0]
    model = pickle.loads(pickle.dumps(fitted))
    before = model.transform(X)
    model.set_params(target_weight=0.5)
    with pytest.raises(ValueError, match="got a continuous target"):
        model.fit(X, np.linspace(0, 1, len(X)))
    assert_array_equal(model.transform(X), before)
    assert not hasattr(model, "_fit_labels")


def test_max_iter_is_a_budget_and_raises_no_convergence_warning():
    X = np.random.default_rng(0).random((80, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = UMAPAutoEncoder(max_iter=2, random_state=0).fit(X)
    assert model.n_iter_ == 2


def _direct_loss(heads, tails, a, b, negative_sample_rate, block):
    """UMAPLoss's cross-entropy, pair by pair: the definition the loss vectorises."""

    def similarity(u, v):
        squared = np.sum((u - v) ** 2) + 1e-3
        return 1 / (1 + a * squared**b)

    n = len(heads)
    total = sum(-np.log(similarity(h, t)) for h, t in zip(heads, tails, strict=True))
    for start in range(0, n, block):
        stop = min(start + block, n)
        for i in range(start, stop):
            others = [j for j in range(start, stop) if j != i]
            push = [-np.log(1 - similarity(heads[i], tails[j])) for j in others]
            total += negative_sample_rate * np.mean(push)
    return total / (n * (1 + negative_sample_rate))


@pytest.mark.parametrize("block", [256, 4])
def test_loss_pushes_each_head_from_the_other_tails_of_its_block(monkeypatch, block):
    import torch

    from skae._nn import losses as _losses
    from skae._nn.umap import EdgeOutput

    monkeypatch.setattr(_losses, "NEGATIVE_BLOCK", block)
    rng = np.random.default_rng(0)
    heads, tails = rng.normal(size=(2, 10, 2))
    code = torch.from_numpy(np.concatenate([heads, tails]))
    output = EdgeOutput(None, code, None)
    loss = _losses.UMAPLoss(1.577, 0.895, negative_sample_rate=5)
    loss.reconstruction_weight = 0
    expected = _direct_loss(heads, tails, 1.577, 0.895, 5, block)
    assert loss(output, None).item() == pytest.approx(expected, rel=1e-9)


def test_module_decodes_the_heads_only():
    import torch

    from skae._nn.residual import ResidualAutoEncoderModule
    from skae._nn.umap import EdgeAutoEncoderModule

    module = EdgeAutoEncoderModule(ResidualAutoEncoderModule(6, 2, (4,)))
    rows = torch.randn(10, 6)
    module.lend_rows(rows)
    edges = torch.tensor([[0, 1], [2, 3], [4, 5]])
    output = module(edges)
    assert output.code.shape == (6, 2)
    assert output.reconstruction.shape == (3, 6)
    torch.testing.assert_close(output.x, rows[[0, 2, 4]])
    torch.testing.assert_close(output.reconstruction, module.decode(output.code[:3]))


def test_learning_rate_falls_linearly_over_each_fit(scaled_digits, rates_seen):
    seen = rates_seen
    X = scaled_digits[0][:100]
    model = small(learning_rate_init=0.02, max_iter=4).fit(X)
    assert_allclose(seen, [0.02, 0.015, 0.01, 0.005])
    # Left at the fit's rate, not the last epoch's.
    assert model.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.02)

    seen.clear()
    model.set_params(warm_start=True, learning_rate_init=0.01, max_iter=2).fit(X)
    assert_allclose(seen, [0.01, 0.005])
    seen.clear()
    model.partial_fit(X)
    assert_allclose(seen, [0.01])


@pytest.mark.parametrize(
    "metric, message",
    [
        ("seuclidean", "variance.*StandardScaler.*'euclidean'"),
        ("mahalanobis", "inverse covariance.*PCA\\(whiten=True\\)"),
        ("pyfunc", "needs a Python function"),
        ("precomputed", "takes distances instead of features"),
    ],
)
def test_metric_needing_an_argument_is_refused_with_the_remedy(metric, message):
    # Before: scipy's bare TypeError, or a request for V or VI that no
    # parameter can pass.
    X = np.random.default_rng(0).normal(size=(30, 4))
    with pytest.raises(InvalidParameterError, match=f"metric='{metric}' .*{message}"):
        small(n_neighbors=5, metric=metric).fit(X)


@pytest.mark.parametrize("metric", ["jaccard", "dice", "hamming"])
def test_metric_for_sets_or_codes_refuses_real_valued_data(metric):
    X = np.random.default_rng(0).normal(size=(30, 4))
    with pytest.raises(ValueError, match=f"metric='{metric}'.*X holds"):
        small(n_neighbors=5, metric=metric).fit(X)
    # Its own kind of data trains.
    binary = (X > 0).astype(float)
    small(n_neighbors=5, metric=metric, max_iter=1).fit(binary)


@pytest.mark.parametrize("spread, min_dist", [(1e-3, 0.0), (50.0, 49.0)])
def test_extreme_spread_fits_a_falling_curve_without_scipy_warnings(spread, min_dist):
    X = np.random.default_rng(0).normal(size=(30, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        umap = small(n_neighbors=5, spread=spread, min_dist=min_dist, max_iter=1)
        umap.fit(X)
    assert umap.a_ > 0 and umap.b_ > 0


def test_spread_beyond_float64_is_refused_at_fit():
    X = np.random.default_rng(0).normal(size=(30, 4))
    with pytest.raises(InvalidParameterError, match="outside float64's range"):
        small(n_neighbors=5, spread=1e-300, min_dist=0.0).fit(X)


@pytest.mark.parametrize(
    "name, skae_name",
    [
        ("n_epochs", "max_iter"),
        ("learning_rate", "learning_rate_init"),
        ("n_jobs", "n_threads"),
    ],
)
def test_umap_learn_parameter_names_get_skaes_name(name, skae_name):
    with pytest.raises(
        TypeError, match=f"no parameter '{name}', umap-learn's name: pass {skae_name}"
    ):
        UMAPAutoEncoder(**{name: 1})


def test_wrapped_init_keeps_the_signature_scikit_learn_reads():
    import inspect

    assert "n_neighbors" in UMAPAutoEncoder._get_param_names()
    assert "kwargs" not in inspect.signature(UMAPAutoEncoder).parameters
