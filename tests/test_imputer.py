import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.impute import KNNImputer, SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils._param_validation import InvalidParameterError

import skae
from skae import AutoEncoderImputer
from skae._nn.imputer import masked_autoencoder
from skae._nn.losses import ObservedReconstructionLoss, masked_squared_error

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def low_rank(n_samples=120, n_features=6, seed=0):
    """Rows on a 2-D plane: each feature is predictable from the others."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 2)) @ rng.normal(size=(2, n_features))
    return MinMaxScaler().fit_transform(X)


def with_holes(X, rate=0.2, seed=1, value=np.nan):
    rng = np.random.default_rng(seed)
    missing = rng.random(X.shape) < rate
    X = X.copy()
    X[missing] = value
    return X, missing


def small(**params):
    defaults = {
        "n_components": 2,
        "hidden_layer_sizes": (16,),
        "max_iter": 5,
        "random_state": 0,
    }
    return AutoEncoderImputer(**{**defaults, **params})


# ------------------------------------------------------------ imputation


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_observed_entries_come_back_bit_for_bit(dtype):
    X, missing = with_holes(low_rank().astype(dtype))
    X[0, 0] = np.float32(0.1) + np.finfo(np.float32).eps  # no round value
    X_imputed = small().fit_transform(X)
    assert X_imputed.dtype == dtype
    assert_array_equal(X_imputed[~missing], X[~missing])
    assert np.isfinite(X_imputed).all()


def test_imputes_better_than_the_column_means():
    X = low_rank(n_samples=300)
    X_holes, missing = with_holes(X, rate=0.2)
    imputer = AutoEncoderImputer(
        hidden_layer_sizes=(32,), batch_size=32, max_iter=60, random_state=0
    )
    ae_error = np.abs(imputer.fit_transform(X_holes) - X)[missing].mean()
    mean_error = np.abs(SimpleImputer().fit_transform(X_holes) - X)[missing].mean()
    assert ae_error < 0.6 * mean_error


def test_new_rows_and_fully_missing_rows_at_transform():
    X, _ = with_holes(low_rank())
    imputer = small().fit(X)
    new = low_rank(n_samples=5, seed=3)
    new[1] = np.nan
    new[2, :3] = np.nan
    out = imputer.transform(new)
    assert np.isfinite(out).all()
    assert_array_equal(out[[0, 3, 4]], new[[0, 3, 4]])
    assert_array_equal(out[2, 3:], new[2, 3:])


def test_statistics_are_the_observed_column_means():
    X, _ = with_holes(low_rank())
    imputer = small().fit(X)
    assert_allclose(imputer.statistics_, np.nanmean(X, axis=0), rtol=1e-6)
    fill = imputer.net_.module_.fill.numpy()
    assert_allclose(fill, np.nanmean(X, axis=0), rtol=1e-6)


def test_missing_values_other_than_nan():
    X = low_rank()
    X_nan, missing = with_holes(X)
    X_minus, _ = with_holes(X, value=-1.0)
    out_nan = small().fit_transform(X_nan)
    out_minus = small(missing_values=-1.0).fit_transform(X_minus)
    assert_array_equal(out_minus, out_nan)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        small(missing_values=-1.0).fit(X_nan)


# ------------------------------------------------- empty features, indicator


@pytest.mark.filterwarnings("ignore:Skipping features without any observed")
@pytest.mark.filterwarnings("ignore:Dropping the features with no observed")
@pytest.mark.parametrize("keep", [False, True])
def test_empty_features_as_in_sklearn(keep):
    X, _ = with_holes(low_rank())
    X[:, 2] = np.nan
    imputer = small(keep_empty_features=keep).fit(X)
    # SimpleImputer's names: KNNImputer (sklearn 1.9) drops the kept empty
    # feature's name while keeping its column.
    simple = SimpleImputer(keep_empty_features=keep).fit(X)
    out = imputer.transform(X)
    assert out.shape == simple.transform(X).shape
    names = imputer.get_feature_names_out()
    assert_array_equal(names, simple.get_feature_names_out())
    assert len(names) == out.shape[1]
    assert np.isfinite(out).all()
    if keep:
        assert_array_equal(out[:, 2], 0.0)
    assert np.isnan(imputer.statistics_[2])


def test_partial_fit_warns_when_a_chunk_drops_a_feature_for_good():
    # Before: the column was dropped silently, though later chunks held it.
    X, _ = with_holes(low_rank())
    X[:60, 2] = np.nan
    imputer = small()
    with pytest.warns(UserWarning, match="no observed value.*: x2\\. .*for good"):
        imputer.partial_fit(X[:60])
    imputer.partial_fit(X[60:])
    assert imputer.transform(X).shape == (len(X), X.shape[1] - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small(keep_empty_features=True).partial_fit(X[:60])


def test_pd_na_marks_missing_values_as_nan_does():
    # Before: accepted, then fit refused the frame's NaN.
    X, _ = with_holes(low_rank())
    frame = pd.DataFrame(X).astype("Float64")
    assert frame.isna().any().any()
    imputed = small(missing_values=pd.NA).fit(frame).transform(frame)
    assert_array_equal(imputed, small().fit(frame).transform(frame))
    assert small(missing_values=pd.NA).__sklearn_tags__().input_tags.allow_nan


def test_add_indicator_as_in_sklearn():
    X, missing = with_holes(low_rank(), rate=0.1)
    X[:, 4] = low_rank()[:, 4]  # never missing: no indicator column
    imputer = small(add_indicator=True).fit(X)
    knn = KNNImputer(add_indicator=True).fit(X)
    out = imputer.transform(X)
    assert out.shape == knn.transform(X).shape
    assert_array_equal(out[:, 6:], knn.transform(X)[:, 6:])
    assert_array_equal(imputer.get_feature_names_out(), knn.get_feature_names_out())


def test_pandas_in_and_out():
    X, _ = with_holes(low_rank())
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    imputer = small(add_indicator=True).set_output(transform="pandas")
    out = imputer.fit_transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(imputer.get_feature_names_out())
    assert out.columns[0] == "f0" and out.columns[-1].startswith("missingindicator_f")
    assert not out.isna().any().any()
    nullable = frame.astype("Float64")  # pd.NA becomes NaN
    assert_array_equal(small().fit_transform(nullable), small().fit_transform(frame))


# ------------------------------------------------------------- contract


def test_same_seed_same_result_and_global_rng_untouched():
    X, _ = with_holes(low_rank())
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002 (global on purpose)
    first = small(mask_rate=0.3, dropout=0.1).fit_transform(X)
    second = small(mask_rate=0.3, dropout=0.1).fit_transform(X)
    assert_array_equal(first, second)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert_array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002
    assert not np.array_equal(small(random_state=1).fit_transform(X), first)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"mask_rate": 1.0}, "mask_rate"),
        ({"weight_averaging": 1.0}, "weight_averaging"),
        ({"weight_averaging": -0.1}, "weight_averaging"),
        ({"max_iter": "many"}, "max_iter"),
        ({"max_iter": 0}, "max_iter"),
        ({"missing_values": "?"}, "missing_values"),
        ({"add_indicator": "yes"}, "add_indicator"),
    ],
)
def test_invalid_parameters(params, match):
    X, _ = with_holes(low_rank())
    with pytest.raises(InvalidParameterError, match=match):
        small(**params).fit(X)


@pytest.mark.parametrize(
    "X, match",
    [
        (np.full((5, 3), "a"), "needs numeric input"),
        (np.array([[1.0, np.inf, 0.0]] * 5), "Input X contains infinity"),
    ],
)
def test_bad_input_gets_a_clear_error(X, match):
    with pytest.raises(ValueError, match=match):
        small().fit(X)
    fitted = small().fit(with_holes(low_rank(n_features=3))[0])
    with pytest.raises(ValueError, match=match):
        fitted.transform(X)


def test_wrong_number_of_features_and_not_fitted():
    X, _ = with_holes(low_rank())
    with pytest.raises(NotFittedError):
        small().transform(X)
    imputer = small().fit(X)
    with pytest.raises(ValueError, match="has 7 features"):
        imputer.transform(np.hstack([X, X[:, :1]]))


def test_no_codes_or_reconstructions():
    imputer = small().fit(with_holes(low_rank())[0])
    for name in ("inverse_transform", "score_samples", "score"):
        assert not hasattr(imputer, name)
        assert not hasattr(AutoEncoderImputer, name)
    with pytest.raises(AttributeError, match="no inverse_transform.*completed data"):
        imputer.inverse_transform(np.zeros((2, 2)))
    assert imputer.__sklearn_tags__().input_tags.allow_nan
    assert not small(missing_values=0).__sklearn_tags__().input_tags.allow_nan


def test_pipeline_and_grid_search():
    X = low_rank(n_samples=100)
    y = X @ np.arange(X.shape[1])
    X_holes, _ = with_holes(X)
    pipe = make_pipeline(small(), Ridge())
    search = GridSearchCV(pipe, {"autoencoderimputer__mask_rate": [0.1, 0.3]}, cv=2)
    search.fit(X_holes, y)
    assert search.best_params_["autoencoderimputer__mask_rate"] in (0.1, 0.3)
    assert np.isfinite(search.predict(X_holes)).all()


def test_save_load_pickle_and_warm_start(tmp_path):
    X, _ = with_holes(low_rank())
    imputer = small(missing_values=np.nan).fit(X)
    path = tmp_path / "imputer.safetensors"
    skae.save(imputer, path)
    for restored in (skae.load(path), pickle.loads(pickle.dumps(imputer))):
        assert_array_equal(restored.transform(X), imputer.transform(X))
        assert np.isnan(restored.missing_values)
        restored.set_params(warm_start=True, max_iter=2).fit(X)
        assert restored.n_iter_ == 7
    # NaN equals NaN for the warm start's check of changed parameters.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        imputer.set_params(warm_start=True, missing_values=np.float64("nan")).fit(X)
    with pytest.raises(ValueError, match="missing_values was changed"):
        imputer.set_params(missing_values=-1).fit(X)


# ---------------------------------------------------------- step budget


@pytest.mark.parametrize(
    "params, n_epochs",
    [
        ({}, 4),  # 120 rows in batches of 48: 3 steps an epoch, 12 steps
        ({"batch_size": 60}, 6),  # 2 steps an epoch
        # 90 training rows (30 held out): 2 steps an epoch
        ({"early_stopping": True, "validation_fraction": 0.25}, 6),
    ],
)
def test_max_iter_auto_is_a_budget_of_steps(monkeypatch, params, n_epochs):
    monkeypatch.setattr(skae._imputer, "AUTO_STEPS", 12)
    X, _ = with_holes(low_rank(n_samples=120))
    imputer = small(max_iter="auto", n_iter_no_change=100, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        imputer.fit(X)  # a budget spent is no failure to converge
    assert imputer.n_iter_ == n_epochs
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        small(max_iter=2, n_iter_no_change=100, **params).fit(X)


# ------------------------------------------------------- weight averaging


def test_imputer_weight_averaging_changes_the_weights_not_the_contract():
    X, missing = with_holes(low_rank())
    averaged = small(max_iter=3).fit(X)
    last = small(max_iter=3, weight_averaging=0.0).fit(X)
    assert dict(averaged.net_.callbacks_)["averaging"].decay == 0.99
    assert "averaging" not in dict(last.net_.callbacks_)
    assert averaged.n_iter_ == last.n_iter_ == 3
    # Same seed, same steps: only the weights kept at the end differ.
    assert_array_equal(averaged.loss_curve_, last.loss_curve_)
    filled, plain = averaged.transform(X), last.transform(X)
    assert not np.array_equal(filled[missing], plain[missing])
    assert_array_equal(filled[~missing], X[~missing])


def test_early_stopping_restores_its_best_weights_over_the_average():
    # The validation scores describe the weights of an epoch, not their
    # average: when early stopping restores the best epoch, that is what stays.
    X, _ = with_holes(low_rank(n_samples=200))
    imputer = small(early_stopping=True, max_iter=30, n_iter_no_change=2, tol=0.5)
    net = imputer.fit(X).net_
    stopping = dict(net.callbacks_)["stopping"]
    assert net.stopped_early() and stopping.best_epoch_ < imputer.n_iter_
    names = [name for name, _ in net.callbacks_]
    assert names.index("averaging") < names.index("stopping")
    for name, value in net.module_.state_dict().items():
        assert torch.equal(value, stopping.best_model_weights_[name]), name


# ---------------------------------------------------------- module, loss


def test_loss_counts_observed_entries_only():
    module = masked_autoencoder(3, 2, (4,), fill=torch.zeros(3), mask_rate=0.5)
    module.generator = torch.Generator().manual_seed(0)
    x = torch.tensor([[1.0, 0.0, 3.0], [0.5, 2.0, 0.0]])
    observed = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    batch = torch.cat([x, observed], dim=1)
    with torch.no_grad():
        output = module(batch)
    assert torch.all(output.hidden <= output.observed)
    loss = ObservedReconstructionLoss()(output, batch)
    per_row = masked_squared_error(output.reconstruction, x, observed)
    weights = observed.sum(dim=1)
    assert loss.item() == pytest.approx(
        ((per_row * weights).sum() / weights.sum()).item(), rel=1e-6
    )
    # Whatever the network outputs at missing entries leaves the loss as it is.
    changed = output._replace(reconstruction=output.reconstruction + (1 - observed))
    assert ObservedReconstructionLoss()(changed, batch).item() == pytest.approx(
        loss.item()
    )


def test_impute_keeps_observed_entries_and_fills_missing_ones():
    module = masked_autoencoder(3, 2, (4,), fill=torch.tensor([7.0, 8.0, 9.0]))
    x = torch.tensor([[1.0, 0.0, 3.0], [0.0, 0.0, 0.0]])
    observed = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    out = module.impute(torch.cat([x, observed], dim=1))
    assert out[0, 0] == 1.0 and out[0, 2] == 3.0
    assert torch.isfinite(out).all()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_imputer_on_cuda_fills_like_on_the_cpu():
    X = np.random.default_rng(0).random((80, 6))
    X[np.random.default_rng(1).random(X.shape) < 0.2] = np.nan
    params = dict(n_components=2, hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    on_gpu = AutoEncoderImputer(device="cuda", **params).fit(X)
    on_cpu = AutoEncoderImputer(device="cpu", **params).fit(X)
    filled = on_gpu.transform(X)
    observed = ~np.isnan(X)
    assert_array_equal(filled[observed], X[observed])
    assert np.isfinite(filled).all()
    assert_allclose(filled, on_cpu.transform(X), rtol=1e-2, atol=1e-2)


def test_verbose_documentation_matches_the_bar_it_draws():
    # Before: "Print a table of losses per epoch when positive", while
    # verbose=1 draws AutoEncoder's progress bar.
    doc = " ".join(AutoEncoderImputer.__doc__.split())
    assert "1 draws a progress bar, 2 a table" in doc
