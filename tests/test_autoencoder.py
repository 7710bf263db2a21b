import io
import pickle
import re
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

import skae._base.inference
from skae import AutoEncoder
from skae._support.pca_start import pca_start

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def labelled_digits():
    X, y = load_digits(return_X_y=True)
    return MinMaxScaler().fit_transform(X)[:600], y[:600]


def small(**params):
    """A quick-to-train AutoEncoder; ``params`` override the defaults."""
    return AutoEncoder(
        **{
            "n_components": 4,
            "hidden_layer_sizes": (32,),
            "max_iter": 15,
            "random_state": 0,
            **params,
        }
    )


# ----------------------------------------------------------------- behaviour


def test_beats_pca_reconstruction_at_two_components(labelled_digits):
    X, _ = labelled_digits
    ae = AutoEncoder(n_components=2, max_iter=100, random_state=0).fit(X)
    pca = PCA(n_components=2).fit(X)
    ae_mse = np.mean((ae.inverse_transform(ae.transform(X)) - X) ** 2)
    pca_mse = np.mean((pca.inverse_transform(pca.transform(X)) - X) ** 2)
    assert ae_mse < 0.85 * pca_mse
    assert_allclose(ae.reconstruction_error_, ae_mse, rtol=1e-5)


def test_drop_in_for_pca_in_pipeline_and_grid_search(labelled_digits):
    X, y = labelled_digits
    pipe = Pipeline(
        [
            ("scale", MinMaxScaler()),
            ("reduce", small()),
            ("clf", LogisticRegression(max_iter=500)),
        ]
    )
    search = GridSearchCV(pipe, {"reduce": [PCA(4), small()]}, cv=2).fit(X, y)
    assert set(search.cv_results_["param_reduce"].astype(str)) == {
        str(PCA(4)),
        str(small()),
    }
    assert search.score(X, y) > 0.5


def test_grid_search_without_scorer_uses_reconstruction_score(labelled_digits):
    X, _ = labelled_digits
    search = GridSearchCV(small(), {"n_components": [1, 8]}, cv=2).fit(X)
    assert search.best_params_ == {"n_components": 8}
    scores = search.cv_results_["mean_test_score"]
    assert np.all(scores < 0)  # negative mean squared error


def test_score_is_negative_mean_squared_error(labelled_digits):
    X, _ = labelled_digits
    ae = small().fit(X)
    reconstruction = ae.inverse_transform(ae.transform(X))
    assert_allclose(ae.score_samples(X), -np.mean((reconstruction - X) ** 2, axis=1))
    assert ae.score(X) == pytest.approx(-ae.reconstruction_error_, rel=1e-6)


def test_loss_decreases_and_attributes_are_set(labelled_digits):
    X, _ = labelled_digits
    # From random weights; the PCA start is tested in test_nn_residual.py.
    ae = small(
        init="random", early_stopping=False, max_iter=20, n_iter_no_change=20
    ).fit(X)
    assert ae.n_iter_ == 20
    assert len(ae.loss_curve_) == 20
    assert ae.loss_curve_[-1] < 0.5 * ae.loss_curve_[0]
    assert ae.validation_scores_ is None
    assert ae.n_features_in_ == 64
    assert ae.device_ == torch.device("cpu")
    assert isinstance(ae.net_.module_, torch.nn.Module)


def test_stops_when_training_loss_stalls_and_warns_otherwise(labelled_digits):
    X, _ = labelled_digits
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        stalled = small(max_iter=500, tol=0.5, n_iter_no_change=2).fit(X)
    assert stalled.n_iter_ < 10
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        small(max_iter=3).fit(X)


def test_early_stopping_holds_out_data_and_restores_best(labelled_digits):
    X, _ = labelled_digits
    ae = small(max_iter=60, early_stopping=True, n_iter_no_change=3, tol=0.05)
    ae.fit(X)
    assert ae.n_iter_ < 60
    assert len(ae.validation_scores_) == ae.n_iter_
    # The kept weights are those of the last epoch that improved by tol
    # (or the start): no later epoch beat them by that much.
    assert max(ae.validation_scores_) <= ae.best_validation_score_ * (1 - 0.05)
    assert all(score < 0 for score in ae.validation_scores_)


def test_warm_start_and_partial_fit_continue_training(labelled_digits):
    X, _ = labelled_digits
    ae = small(max_iter=5, n_iter_no_change=5, warm_start=True).fit(X)
    first_loss = ae.loss_curve_[-1]
    ae.fit(X)
    assert ae.n_iter_ == 10
    assert ae.loss_curve_[-1] < first_loss

    incremental = small()
    for expected_epochs in (1, 2, 3):
        incremental.partial_fit(X)
        assert incremental.n_iter_ == expected_epochs
    assert incremental.loss_curve_[-1] < incremental.loss_curve_[0]


def test_refit_without_warm_start_starts_over(labelled_digits):
    X, _ = labelled_digits
    ae = small(max_iter=5, n_iter_no_change=5)
    codes = ae.fit(X).transform(X)
    assert_array_equal(ae.fit(X).transform(X), codes)
    assert ae.n_iter_ == 5


@pytest.mark.parametrize(
    "params",
    [{"hidden_layer_sizes": (5,)}, {"n_components": 3}, {"dropout": 0.2}],
    ids=lambda p: next(iter(p)),
)
@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_warm_start_refuses_a_changed_network(labelled_digits, params, how):
    X, _ = labelled_digits
    ae = small(max_iter=2).fit(X)
    codes = ae.transform(X)
    name, value = next(iter(params.items()))
    ae.set_params(**params)
    match = re.escape(f"{name} was changed from") + f".* to {re.escape(repr(value))}"
    with pytest.raises(ValueError, match=match):
        if how == "partial_fit":
            ae.partial_fit(X)
        else:
            ae.set_params(warm_start=True).fit(X)
    assert_array_equal(ae.transform(X), codes)
    # A cold fit builds the network the parameters now describe.
    ae.set_params(warm_start=False).fit(X)
    assert ae.transform(X).shape[1] == ae.n_components


def test_warm_start_applies_changed_training_settings(labelled_digits):
    X, _ = labelled_digits
    ae = small(max_iter=3, early_stopping=False).fit(X)
    adam_state = len(ae.net_.optimizer_.state)
    ae.set_params(
        warm_start=True, learning_rate_init=0.01, tol=10.0, n_iter_no_change=1
    )
    ae.set_params(max_iter=20).fit(X)
    assert [g["lr"] for g in ae.net_.optimizer_.param_groups] == [0.01]
    assert len(ae.net_.optimizer_.state) == adam_state > 0
    # tol=10 counts no epoch as progress: stops after n_iter_no_change + 1.
    assert ae.n_iter_ == 3 + 2


def test_inference_follows_the_fitted_model_until_the_next_fit(labelled_digits):
    X, _ = labelled_digits
    ae = small(n_components=2, max_iter=2).fit(X)
    codes = ae.transform(X)
    ae.set_params(n_components=3)
    assert_array_equal(ae.transform(X), codes)
    assert ae.inverse_transform(codes).shape == X.shape
    assert ae.get_feature_names_out().tolist() == ["autoencoder0", "autoencoder1"]


def test_float32_inference_refuses_values_beyond_its_range(
    labelled_digits, monkeypatch
):
    # Accelerators infer in float32; fake that path on the CPU.
    X, _ = labelled_digits
    ae = small(max_iter=2).fit(X)
    module = ae.net_.module_

    def float32_inference():
        return module.float().eval(), torch.float32, torch.device("cpu")

    monkeypatch.setattr(ae, "_inference_module", float32_inference)
    big = X[:2].copy()
    big[0, 0] = 1e39
    for method in (ae.transform, ae.score_samples):
        with pytest.raises(ValueError, match="computes on cpu in float32.*1e\\+39"):
            method(big)
    assert np.isfinite(ae.transform(X[:2])).all()


def test_dropout_only_during_training(labelled_digits):
    X, _ = labelled_digits
    ae = small(dropout=0.5).fit(X)
    assert_array_equal(ae.transform(X), ae.transform(X))
    modules = ae.net_.module_.modules()
    assert any(isinstance(m, skae._nn.modules.Dropout) for m in modules)


def test_alpha_shrinks_the_weights(labelled_digits):
    X, _ = labelled_digits

    def weight_norm(alpha):
        ae = small(init="random", alpha=alpha, max_iter=10, n_iter_no_change=10).fit(X)
        return sum(
            float(p.detach().pow(2).sum())
            for name, p in ae.net_.module_.named_parameters()
            if name.endswith("weight")
        )

    assert weight_norm(0.1) < 0.8 * weight_norm(0.0)


@pytest.mark.parametrize("hidden", [(), 16, (16, 8)])
def test_hidden_layer_sizes_shapes(labelled_digits, hidden):
    X, _ = labelled_digits
    ae = small(init="random", hidden_layer_sizes=hidden, max_iter=2).fit(X)
    linears = [
        m for m in ae.net_.module_.encoder.modules() if isinstance(m, torch.nn.Linear)
    ]
    widths = (hidden,) if isinstance(hidden, int) else hidden
    assert [m.out_features for m in linears] == [*widths, 4]


def test_works_with_standard_scaled_input(labelled_digits):
    X, _ = labelled_digits
    X = StandardScaler().fit_transform(X)
    ae = AutoEncoder(n_components=8, max_iter=60, random_state=0).fit(X)
    pca = PCA(n_components=8).fit(X)
    pca_mse = np.mean((pca.inverse_transform(pca.transform(X)) - X) ** 2)
    assert ae.reconstruction_error_ < pca_mse


def test_verbose_prints_a_table_and_default_is_silent(labelled_digits, capsys):
    X, _ = labelled_digits
    small(max_iter=2).fit(X)
    assert capsys.readouterr().out == ""
    small(max_iter=2, verbose=2).fit(X)
    out = capsys.readouterr().out
    assert "train_loss" in out and "epoch" in out


# ----------------------------------------------------------- reproducibility


def test_same_random_state_gives_bit_identical_codes(labelled_digits):
    X, _ = labelled_digits
    assert_array_equal(small().fit_transform(X), small().fit_transform(X))
    assert not np.array_equal(
        small(random_state=1).fit_transform(X), small().fit_transform(X)
    )


@pytest.mark.parametrize("random_state", [0, None])
def test_fit_leaves_global_random_state_alone(labelled_digits, random_state):
    X, _ = labelled_digits
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002 (global on purpose)
    small(random_state=random_state, dropout=0.2, early_stopping=True).fit(X)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert_array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002


def test_n_threads_is_restored_after_fit(labelled_digits):
    X, _ = labelled_digits
    before = torch.get_num_threads()
    small(n_threads=1).fit(X)
    small(n_threads="auto").fit(X)
    assert torch.get_num_threads() == before


# ------------------------------------------------------- inference & dtypes


def test_inference_is_batched_and_batch_invariant(labelled_digits, monkeypatch):
    # Inference runs in float64 on the CPU, so a sample's output depends on
    # the other rows of its batch only in the last bits (float32 products
    # differ by ~1e-7 relative, which breaks check_methods_subset_invariance).
    X, _ = labelled_digits
    ae = small().fit(X)
    full = ae.transform(X), ae.inverse_transform(ae.transform(X)), ae.score_samples(X)
    monkeypatch.setattr(skae._base.inference, "INFERENCE_BATCH_SIZE", 7)
    batched = ae.transform(X), ae.inverse_transform(full[0]), ae.score_samples(X)
    for a, b in zip(full, batched, strict=True):
        assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert_allclose(ae.transform(X[:5]), full[0][:5], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "dtype, expected",
    [
        (np.float32, np.float32),
        (np.float64, np.float64),
        (np.int64, np.float64),
    ],
)
def test_output_dtype_follows_input(labelled_digits, dtype, expected):
    X, _ = labelled_digits
    X = (X * 16).astype(dtype)
    ae = small(max_iter=2).fit(X)
    assert ae.transform(X).dtype == expected
    assert ae.inverse_transform(ae.transform(X)).dtype == expected
    assert ae.score_samples(X).dtype == expected


def test_float32_and_float64_inputs_train_the_same_model(labelled_digits):
    X, _ = labelled_digits
    codes64 = small().fit_transform(X)
    codes32 = small().fit_transform(X.astype(np.float32))
    assert_allclose(codes32, codes64, rtol=1e-4, atol=1e-5)


def test_feature_names_and_pandas_output(labelled_digits):
    X, _ = labelled_digits
    columns = [f"pixel{i}" for i in range(64)]
    frame = pd.DataFrame(X, columns=columns)
    ae = small().set_output(transform="pandas").fit(frame)
    assert_array_equal(ae.feature_names_in_, columns)
    assert list(ae.get_feature_names_out()) == [f"autoencoder{i}" for i in range(4)]
    codes = ae.transform(frame)
    assert isinstance(codes, pd.DataFrame)
    assert list(codes.columns) == list(ae.get_feature_names_out())
    assert codes.index.equals(frame.index)
    assert isinstance(ae.fit_transform(frame), pd.DataFrame)
    assert ae.inverse_transform(codes).shape == (600, 64)


# ----------------------------------------------------------------- errors


def test_transform_before_fit():
    with pytest.raises(NotFittedError):
        small().transform(np.zeros((2, 3)))
    with pytest.raises(NotFittedError):
        small().inverse_transform(np.zeros((2, 4)))
    with pytest.raises(NotFittedError):
        small().get_feature_names_out()


@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([[0.0, np.nan], [1.0, 2.0]]), "NaN.*imputer"),
        (np.array([[0.0, np.inf], [1.0, 2.0]]), "infinity"),
        (np.array([["a", "b"], ["c", "d"]], dtype=object), "numeric input"),
        (np.empty((0, 3)), "0 sample"),
        (np.arange(5.0), "2D array"),
        (np.array([[1.0 + 1j, 2.0]]), "Complex"),
    ],
)
def test_bad_training_input_is_explained(X, match):
    with pytest.raises(ValueError, match=match):
        small().fit(X)


def test_wrong_number_of_features_at_transform(labelled_digits):
    X, _ = labelled_digits
    ae = small(max_iter=1).fit(X)
    with pytest.raises(ValueError, match="64 features"):
        ae.transform(X[:, :10])
    with pytest.raises(ValueError, match="n_components=4"):
        ae.inverse_transform(np.zeros((3, 5)))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_components": 0}, "n_components"),
        ({"hidden_layer_sizes": (8, 0)}, "hidden_layer_sizes"),
        ({"activation": "swish"}, "activation"),
        ({"dropout": 1.0}, "dropout"),
        ({"batch_size": 0}, "batch_size"),
        ({"learning_rate_init": 0.0}, "learning_rate_init"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"device": "tpu"}, "not a torch device"),
        ({"n_threads": 0}, "n_threads"),
    ],
)
def test_invalid_parameters(labelled_digits, params, match):
    X, _ = labelled_digits
    with pytest.raises(InvalidParameterError, match=match):
        small(**params).fit(X)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_a_missing_gpu_is_an_error(labelled_digits):
    X, _ = labelled_digits
    with pytest.raises(InvalidParameterError, match="cuda.*device='auto'"):
        small(device="cuda").fit(X)


def test_fewer_samples_than_batch_size(labelled_digits):
    X, _ = labelled_digits
    ae = small(batch_size=500).fit(X[:3])
    assert ae.net_.batch_size == 3
    assert np.isfinite(ae.transform(X[:3])).all()
    single = small(max_iter=2, early_stopping=False).fit(X[:1])
    assert single.transform(X[:1]).shape == (1, 4)


def test_early_stopping_needs_two_samples(labelled_digits):
    X, _ = labelled_digits
    with pytest.raises(ValueError, match="at least 2 samples"):
        small(early_stopping=True).fit(X[:1])


def test_early_stopping_split_that_leaves_nothing_to_train_on(labelled_digits):
    X, _ = labelled_digits
    ae = small(early_stopping=True, validation_fraction=0.9)
    with pytest.raises(
        ValueError, match=r"validation_fraction=0.9 of the n_samples=5 samples \(5\)"
    ):
        ae.fit(X[:5])
    ae.set_params(validation_fraction=0.5).fit(X[:2])
    assert len(ae.validation_scores_) == ae.n_iter_


def test_diverging_training_raises_and_keeps_no_nan(labelled_digits):
    X, _ = labelled_digits
    X = X * 1e20
    ae = small(learning_rate_init=1.0, max_iter=5)
    with pytest.raises(ValueError, match="diverged at epoch 1.*learning_rate_init"):
        ae.fit(X)
    assert not hasattr(ae, "net_")

    warm = small(max_iter=2).fit(X / 1e20)
    before = warm.transform(X / 1e20)
    with pytest.raises(ValueError, match="diverged"):
        warm.partial_fit(X)
    assert_array_equal(warm.transform(X / 1e20), before)


def test_keyboard_interrupt_keeps_weights_and_propagates(labelled_digits, monkeypatch):
    X, _ = labelled_digits
    ae = small(max_iter=50, n_iter_no_change=50)
    original = skae._net.AutoEncoderNet.train_step
    calls = {"n": 0}

    def interrupt_at_step_30(self, batch, **fit_params):
        calls["n"] += 1
        if calls["n"] == 30:
            raise KeyboardInterrupt
        return original(self, batch, **fit_params)

    monkeypatch.setattr(skae._net.AutoEncoderNet, "train_step", interrupt_at_step_30)
    with pytest.raises(KeyboardInterrupt, match="interrupted"):
        ae.fit(X)
    assert 0 < ae.n_iter_ < 50
    assert np.isfinite(ae.transform(X)).all()


# -------------------------------------------------------------- persistence


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_pickle_round_trip_gives_identical_transform(labelled_digits, dump):
    X, _ = labelled_digits
    ae = small().fit(X)
    if dump == "pickle":
        restored = pickle.loads(pickle.dumps(ae))
    else:
        buffer = io.BytesIO()
        joblib.dump(ae, buffer)
        buffer.seek(0)
        restored = joblib.load(buffer)
    assert_array_equal(restored.transform(X), ae.transform(X))
    restored.partial_fit(X)  # and it can keep training


def test_pickle_does_not_grow_with_training_length(labelled_digits):
    X, _ = labelled_digits
    short = len(pickle.dumps(small(max_iter=2, n_iter_no_change=2).fit(X)))
    long = len(pickle.dumps(small(max_iter=40, n_iter_no_change=40).fit(X)))
    assert long < 1.1 * short


@pytest.mark.parametrize("early_stopping", [False, True])
def test_epoch_losses_are_skorchs_though_read_once_an_epoch(
    monkeypatch, early_stopping
):
    # AutoEncoderNet.run_single_epoch reads the batch losses at the end of
    # the epoch instead of one .item() per batch; the history must not change.
    from skorch import NeuralNet

    X = load_digits().data[:300] / 16
    params = dict(
        n_components=3, max_iter=4, early_stopping=early_stopping, random_state=0
    )
    ours = AutoEncoder(**params).fit(X)
    monkeypatch.setattr(
        skae._net.AutoEncoderNet, "run_single_epoch", NeuralNet.run_single_epoch
    )
    skorchs = AutoEncoder(**params).fit(X)
    keys = ["train_loss", "train_batch_count"]
    if early_stopping:
        keys += ["valid_loss", "valid_batch_count"]
    for key in keys:
        assert ours.net_.history[:, key] == skorchs.net_.history[:, key]
    assert_array_equal(ours.loss_curve_, skorchs.loss_curve_)


def test_pca_start_does_not_depend_on_the_blas_thread_or_worker_count():
    # A search's loky or dask workers run BLAS on one thread, the main
    # process on several: with a multi-threaded PCA their starts differed in
    # the last bits (here by 1e-14), and the cv_results_ of the two by 1e-5.
    from threadpoolctl import threadpool_limits

    # Nor on how many workers form the covariance, a chunk of rows each.
    X = np.random.default_rng(0).random((50_000, 100))
    starts = []
    for n_threads, n_workers in ((1, 1), (2, 1), (1, 3), (2, 2)):
        with threadpool_limits(limits=n_threads, user_api="blas"):
            starts.append(pca_start(X, 4, lambda: 0, n_workers=n_workers))
    for first, *others in zip(*starts, strict=True):
        for other in others:
            assert_array_equal(first, other)


def test_best_validation_score_can_be_the_starts_as_documented():
    # With a learning rate far too large, every epoch is worse than the PCA
    # start that early stopping keeps: its score is in no epoch's.
    X = np.random.default_rng(0).random((80, 6))
    ae = AutoEncoder(
        n_components=2,
        max_iter=3,
        n_iter_no_change=5,
        early_stopping=True,
        learning_rate_init=1.0,
        random_state=0,
    ).fit(X)
    assert ae.best_validation_score_ not in ae.validation_scores_
    assert ae.best_validation_score_ > max(ae.validation_scores_)
    doc = " ".join(AutoEncoder.__doc__.split())
    assert "or the start's (scored before the first epoch, not in" in doc
