"""Interrupted training, diverging training and the size of the kept history."""

import warnings

import numpy as np
import pytest
import torch
from estimator_settings import make, n_features, parametrize_estimators
from numpy.testing import assert_array_equal
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import skae
import skae._net

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def data(cls, n_samples=40, seed=0):
    return np.random.default_rng(seed).random((n_samples, n_features(cls, 5)))


def weights(estimator):
    return {
        k: v.detach().clone() for k, v in estimator.net_.module_.state_dict().items()
    }


def assert_same_weights(actual, expected):
    assert actual.keys() == expected.keys()
    for key in expected:
        assert torch.equal(actual[key], expected[key]), key


def assert_finite_weights(estimator):
    for name, tensor in estimator.net_.module_.state_dict().items():
        if tensor.is_floating_point():
            assert torch.isfinite(tensor).all(), name


@pytest.fixture
def interrupt_at(monkeypatch):
    """Make the n-th training step raise KeyboardInterrupt, as Ctrl-C would.

    Returns a dict whose "weights" entry holds the module's weights at the
    moment of the interrupt.
    """
    original = skae._net.AutoEncoderNet.train_step
    seen = {"steps": 0, "at": None, "weights": None}

    def train_step(self, batch, **fit_params):
        seen["steps"] += 1
        if seen["steps"] == seen["at"]:
            seen["weights"] = {
                k: v.detach().clone() for k, v in self.module_.state_dict().items()
            }
            raise KeyboardInterrupt
        return original(self, batch, **fit_params)

    monkeypatch.setattr(skae._net.AutoEncoderNet, "train_step", train_step)

    def arm(step):
        seen["steps"], seen["at"] = 0, step
        return seen

    return arm


def steps_per_epoch(interrupt_at, cls, X, **params):
    """Training steps in one epoch: 4 for 40 rows in batches of 10, but
    UMAPAutoEncoder's epochs go over the edges of its neighbour graph."""
    seen = interrupt_at(None)
    make(cls, max_iter=1, **params).fit(X)
    return seen["steps"]


# -------------------------------------------------------------- interrupt


@parametrize_estimators
def test_interrupt_keeps_weights_trained_so_far_and_propagates(cls, interrupt_at):
    X = data(cls)
    # The second step of epoch 3 (step 10 at 4 steps an epoch).
    epoch = steps_per_epoch(interrupt_at, cls, X, batch_size=10)
    estimator = make(cls, batch_size=10, max_iter=20, n_iter_no_change=20, tol=0)
    seen = interrupt_at(2 * epoch + 2)
    with pytest.raises(KeyboardInterrupt, match=r"last completed epoch.*partial_fit"):
        estimator.fit(X)
    assert estimator.net_.interrupted_
    assert estimator.n_iter_ == 2
    assert len(estimator.loss_curve_) == 2
    assert all(np.isfinite(estimator.loss_curve_))
    assert_same_weights(weights(estimator), seen["weights"])
    assert np.isfinite(estimator.transform(X)).all()
    if hasattr(estimator, "score_samples"):  # not imputers
        assert np.isfinite(estimator.score_samples(X)).all()


def test_interrupted_vae_describes_its_kept_epochs(interrupt_at):
    # Variant attributes set after the base's (noise_variance_) are there too.
    cls = skae.VariationalAutoEncoder
    X = data(cls)
    estimator = make(cls, batch_size=10, max_iter=20, n_iter_no_change=20, tol=0)
    interrupt_at(10)
    with pytest.raises(KeyboardInterrupt):
        estimator.fit(X)
    variance = torch.exp(estimator.net_.module_.noise_logvar()).detach().numpy()
    assert_array_equal(estimator.noise_variance_, np.broadcast_to(variance, 5))


def test_interrupt_stops_a_loop_of_fits(interrupt_at):
    cls = skae.AutoEncoder
    X = data(cls)
    # 3 epochs of 4 steps each: step 14 is in the second fit.
    interrupt_at(14)
    fitted = []
    with pytest.raises(KeyboardInterrupt):
        for seed in range(3):
            fitted.append(make(cls, batch_size=10, random_state=seed).fit(X))
    assert len(fitted) == 1


@parametrize_estimators
def test_training_continues_after_an_interrupt(cls, interrupt_at):
    X = data(cls)
    epoch = steps_per_epoch(interrupt_at, cls, X, batch_size=10)
    estimator = make(cls, batch_size=10, max_iter=20, n_iter_no_change=20, tol=0)
    interrupt_at(2 * epoch + 2)
    with pytest.raises(KeyboardInterrupt):
        estimator.fit(X)
    interrupted = weights(estimator)
    interrupt_at(None)

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        estimator.partial_fit(X)
    assert not estimator.net_.interrupted_
    assert estimator.n_iter_ == 3
    changed = weights(estimator)
    assert any(not torch.equal(changed[k], interrupted[k]) for k in changed)

    estimator.set_params(warm_start=True, max_iter=2).fit(X)
    assert estimator.n_iter_ == 5
    assert len(estimator.loss_curve_) == 5


@parametrize_estimators
def test_interrupt_before_the_first_epoch_ends_changes_nothing(cls, interrupt_at):
    X = data(cls)
    estimator = make(cls, batch_size=10)
    interrupt_at(1)
    with pytest.raises(KeyboardInterrupt):
        estimator.fit(X)
    assert not hasattr(estimator, "n_iter_")
    with pytest.raises(NotFittedError):
        estimator.transform(X)


@pytest.mark.parametrize("step", [2, 5])
def test_interrupting_partial_fit(interrupt_at, step):
    # Step 2 is inside the only epoch of this call: it is undone. Step 5 is
    # never reached: 4 steps an epoch.
    cls = skae.AutoEncoder
    X = data(cls)
    estimator = make(cls, batch_size=10).fit(X)
    before = weights(estimator)
    interrupt_at(step)
    if step == 2:
        with pytest.raises(KeyboardInterrupt):
            estimator.partial_fit(X)
        assert_same_weights(weights(estimator), before)
        assert estimator.n_iter_ == 3
    else:
        estimator.partial_fit(X)
        assert estimator.n_iter_ == 4


def test_interrupt_under_early_stopping_keeps_the_best_epoch(interrupt_at):
    cls = skae.AutoEncoder
    X = data(cls, n_samples=50)
    estimator = make(
        cls, batch_size=9, max_iter=20, early_stopping=True, n_iter_no_change=20
    )
    interrupt_at(16)
    with pytest.raises(KeyboardInterrupt):
        estimator.fit(X)
    assert estimator.n_iter_ == 3
    assert len(estimator.validation_scores_) == 3
    assert np.isfinite(estimator.transform(X)).all()


@parametrize_estimators
def test_early_stopping_is_not_reported_as_an_interrupt(cls):
    # skorch's EarlyStopping stops by raising KeyboardInterrupt too. A huge
    # tol makes every epoch count as no progress: stop after 2 epochs.
    X = data(cls)
    estimator = make(cls, max_iter=50, tol=1e9, n_iter_no_change=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("error", ConvergenceWarning)
        estimator.fit(X)
    assert not estimator.net_.interrupted_
    assert estimator.n_iter_ == 3


# ------------------------------------------------------------- divergence


@parametrize_estimators
def test_divergence_names_epoch_and_remedies(cls):
    X = data(cls) * 1e20
    estimator = make(cls, learning_rate_init=0.5)
    with pytest.raises(
        ValueError,
        match=r"diverged at epoch 1.*left as it was before this call.*"
        r"learning_rate_init "
        r"\(currently 0.5\).*scale",
    ):
        estimator.fit(X)
    assert not hasattr(estimator, "net_")
    with pytest.raises(NotFittedError):
        estimator.transform(data(cls))


@parametrize_estimators
@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_divergence_keeps_the_previous_finite_model(cls, how):
    X = data(cls)
    estimator = make(cls).fit(X)
    before, codes = weights(estimator), estimator.transform(X)
    state = {k: v for k, v in vars(estimator).items() if k != "net_"}

    with pytest.raises(ValueError, match="diverged at epoch 4"):
        if how == "partial_fit":
            estimator.partial_fit(X * 1e20)
        else:
            estimator.set_params(warm_start=True).fit(X * 1e20)
    assert_same_weights(weights(estimator), before)
    assert_array_equal(estimator.transform(X), codes)
    assert estimator.n_iter_ == state["n_iter_"]
    assert estimator.loss_curve_ == state["loss_curve_"]

    # The diverged epochs left no trace: training on goes on from epoch 3.
    estimator.partial_fit(X)
    assert estimator.n_iter_ == 4
    assert all(np.isfinite(estimator.loss_curve_))
    assert_finite_weights(estimator)


@parametrize_estimators
def test_input_beyond_float32_range_is_refused_before_training(cls):
    X = data(cls)
    X[3, 1] = 1e39
    with pytest.raises(ValueError, match="trains in float32.*up to 1e\\+39.*Scale"):
        make(cls).fit(X)


# ---------------------------------------------------------------- history


@parametrize_estimators
def test_history_is_epoch_level_only(cls):
    X = data(cls, n_samples=60)
    estimator = make(cls, batch_size=5, early_stopping=True)
    estimator.fit(X)
    history = estimator.net_.history
    assert len(history) == estimator.n_iter_ == 3
    assert all(row["batches"] == [] for row in history)
    assert [row["train_loss"] for row in history] == estimator.loss_curve_
    estimator.partial_fit(X)
    assert len(estimator.net_.history) == 4
    assert estimator.net_.history[-1]["batches"] == []


@pytest.mark.parametrize("step", [1, 10])
def test_interrupt_closes_the_progress_bar(interrupt_at, monkeypatch, step):
    # Step 1: no epoch completed, the call is undone; step 10: two are kept.
    monkeypatch.setenv("SKAE_PROGRESS_BAR", "1")
    closed = []
    original = skae._net.EpochProgressBar.on_train_end

    def on_train_end(self, net, **kwargs):
        closed.append(getattr(self, "bar_", None) is not None)
        original(self, net, **kwargs)

    monkeypatch.setattr(skae._net.EpochProgressBar, "on_train_end", on_train_end)
    cls = skae.AutoEncoder
    estimator = make(cls, batch_size=10, max_iter=20, verbose=1)
    interrupt_at(step)
    with pytest.raises(KeyboardInterrupt):
        estimator.fit(data(cls))
    # on_train_begin closes a leftover bar first: the last call closes ours.
    assert closed[-1] is True
