"""target_weight: the label head, its targets, and what it leaves alone."""

import pickle

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import skae
from skae import AutoEncoder, ConvAutoEncoder, DenoisingAutoEncoder, UMAPAutoEncoder
from skae._base.labels import CLASS_CODE_PENALTY, CLASS_HEAD_NOISE
from skae._nn.labels import LabelledModule
from skae._nn.losses import class_cross_entropy, labelled_code_size

SUPERVISED = [AutoEncoder, DenoisingAutoEncoder, ConvAutoEncoder, UMAPAutoEncoder]
SMALL = {
    "AutoEncoder": {"hidden_layer_sizes": (16,)},
    "DenoisingAutoEncoder": {"hidden_layer_sizes": (16,), "noise_level": 0.3},
    "ConvAutoEncoder": {"channels": (4,), "image_shape": (8, 8)},
    "UMAPAutoEncoder": {"hidden_layer_sizes": (16,), "n_neighbors": 5},
}
parametrize_supervised = pytest.mark.parametrize(
    "cls", SUPERVISED, ids=[cls.__name__ for cls in SUPERVISED]
)


def small(cls, **params):
    defaults = {"max_iter": 3, "random_state": 0, "early_stopping": False}
    return cls(**{**defaults, **SMALL[cls.__name__], **params})


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X[:300]).astype(np.float32), y[:300]


# ------------------------------------------------------------ the default


@parametrize_supervised
def test_without_target_weight_y_changes_nothing(digits, cls):
    X, y = digits
    with_y = small(cls).fit(X, y)
    without = small(cls).fit(X)
    assert_array_equal(with_y.transform(X), without.transform(X))
    assert with_y.loss_curve_ == without.loss_curve_
    assert not hasattr(with_y, "classes_")
    assert not isinstance(with_y.net_.module_, LabelledModule)


@parametrize_supervised
def test_target_weight_without_y_trains_without_a_head(digits, cls):
    X, _ = digits
    model = small(cls, target_weight=0.5).fit(X)
    plain = small(cls).fit(X)
    assert_array_equal(model.transform(X), plain.transform(X))
    assert not hasattr(model, "classes_")


# ------------------------------------------------------------ what it learns


# UMAPAutoEncoder's held-out codes of 200 rows gain nothing measurable from
# labels (its graph's clusters overfit, as supervised UMAP's do); its head
# is measured on all the digits by benchmarks/bench_supervised.py.
@pytest.mark.parametrize(
    "cls",
    [AutoEncoder, DenoisingAutoEncoder, ConvAutoEncoder],
    ids=lambda cls: cls.__name__,
)
def test_labels_shape_held_out_codes(digits, cls):
    X, y = digits
    train, test = slice(0, 200), slice(200, None)

    def held_out_accuracy(model):
        model.fit(X[train], y[train])
        classifier = LogisticRegression(max_iter=2000)
        classifier.fit(model.transform(X[train]), y[train])
        return classifier.score(model.transform(X[test]), y[test])

    params = {"max_iter": 30, "batch_size": 32, "learning_rate_init": 0.01}
    supervised = held_out_accuracy(small(cls, target_weight=0.9, **params))
    unsupervised = held_out_accuracy(small(cls, **params))
    assert supervised > unsupervised + 0.1


@pytest.mark.parametrize(
    "labels, classes",
    [
        (lambda y: y, list(range(10))),
        (lambda y: np.array(["even", "odd"])[y % 2], ["even", "odd"]),
        (lambda y: y > 4, [False, True]),
        (lambda y: np.where(y < 5, -1, y), [5, 6, 7, 8, 9]),
    ],
    ids=["ints", "strings", "booleans", "some-unlabelled"],
)
def test_classes_are_stored_without_the_unlabelled_mark(digits, labels, classes):
    X, y = digits
    model = small(AutoEncoder, target_weight=0.5).fit(X, labels(y))
    assert model.classes_.tolist() == classes
    assert model.net_.module_.head.out_features == len(classes)


@pytest.mark.parametrize("shape", [(300,), (300, 1), (300, 3)])
def test_a_float_target_trains_a_linear_head_on_its_standardised_values(digits, shape):
    X, y = digits
    target = np.random.default_rng(0).normal(5.0, 2.0, shape)
    model = small(AutoEncoder, target_weight=0.5).fit(X, target)
    n_targets = 1 if len(shape) == 1 else shape[1]
    assert model.target_mean_.shape == model.target_scale_.shape == (n_targets,)
    assert_allclose(model.target_mean_, target.reshape(300, -1).mean(axis=0))
    assert_allclose(model.target_scale_, target.reshape(300, -1).std(axis=0))
    assert model.net_.module_.head.out_features == n_targets
    assert not hasattr(model, "classes_")


def test_a_regression_head_predicts_the_target_from_held_out_codes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 10)).astype(np.float32)
    # A direction of little variance: PCA's first code ignores it.
    X[:, 9] *= 0.1
    target = X[:, 9] * 10.0
    train, test = slice(0, 300), slice(300, None)

    def r2(model):
        model.fit(X[train], target[train])
        codes = model.transform(X)
        fit = np.polyfit(codes[train, 0], target[train], 1)
        residual = target[test] - np.polyval(fit, codes[test, 0])
        return 1 - residual.var() / target[test].var()

    params = {
        "n_components": 1,
        "hidden_layer_sizes": (),
        "max_iter": 40,
        "batch_size": 32,
        "learning_rate_init": 0.01,
    }
    assert r2(small(AutoEncoder, target_weight=0.5, **params)) > 0.9
    assert r2(small(AutoEncoder, **params)) < 0.5


def test_unlabelled_rows_train_the_reconstruction_only(digits):
    X, y = digits
    partly = np.where(np.arange(len(y)) % 10 == 0, y, -1)
    model = small(AutoEncoder, target_weight=1.0, max_iter=5).fit(X, partly)
    # Weight 1: the decoder learns nothing, and rows without a class pull
    # nothing either; every rows' code still comes out.
    assert model.classes_.tolist() == list(range(10))
    assert np.isfinite(model.transform(X)).all()


# ---------------------------------------------------------------- bad y

BAD_Y = {
    "wrong-length": (lambda y: y[:-1], "has 299 rows but X has 300"),
    "nan": (lambda y: np.where(y == 3, np.nan, y.astype(float)), "NaN"),
    "single-class": (lambda y: np.zeros_like(y), "one class"),
    "all-unlabelled": (lambda y: np.full_like(y, -1), "Every label in y is -1"),
    "2-d-labels": (lambda y: np.c_[y, y], "1-D y"),
    "mixed-types": (lambda y: np.array([1, "a"] * 150, dtype=object), "one type"),
}


@pytest.mark.parametrize("bad", list(BAD_Y), ids=list(BAD_Y))
@pytest.mark.parametrize(
    "cls", [AutoEncoder, UMAPAutoEncoder], ids=lambda c: c.__name__
)
def test_bad_y_is_refused_and_changes_nothing(digits, cls, bad):
    X, y = digits
    make, message = BAD_Y[bad]
    model = small(cls, target_weight=0.5).fit(X, y)
    before = model.transform(X), dict(vars(model))
    with pytest.raises(ValueError, match=message):
        model.fit(X, make(y))
    assert_array_equal(model.transform(X), before[0])
    assert vars(model).keys() == before[1].keys()
    assert_array_equal(model.classes_, before[1]["classes_"])
    assert not hasattr(model, "_fit_labels")


def test_umap_refuses_a_continuous_target(digits):
    X, y = digits
    with pytest.raises(ValueError, match="got a continuous target"):
        small(UMAPAutoEncoder, target_weight=0.5).fit(X, y + 0.5)
    # Whole floats are class labels to it, as they were to its graph.
    model = small(UMAPAutoEncoder, target_weight=0.5).fit(X, y.astype(float))
    assert model.classes_.tolist() == list(range(10))


def test_warm_starts_refuse_the_other_kind_of_target(digits):
    X, y = digits
    classes = small(AutoEncoder, target_weight=0.5, warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="now holds a float target"):
        classes.fit(X, y + 0.5)
    with pytest.raises(ValueError, match=r"classes \[10\] that the first fit"):
        classes.partial_fit(X, np.where(y == 0, 10, y))
    # A chunk without labels trains the reconstruction.
    classes.partial_fit(X)
    continuous = small(AutoEncoder, target_weight=0.5, warm_start=True)
    continuous.fit(X, y + 0.5)
    with pytest.raises(ValueError, match="now holds class labels"):
        continuous.fit(X, y)
    with pytest.raises(ValueError, match="pass the chunk's y"):
        continuous.partial_fit(X)
    unsupervised = small(AutoEncoder, target_weight=0.5, warm_start=True).fit(X)
    with pytest.raises(ValueError, match="fitted without y"):
        unsupervised.fit(X, y)


def test_a_warm_start_refuses_a_changed_target_weight(digits):
    X, y = digits
    model = small(AutoEncoder, target_weight=0.5, warm_start=True).fit(X, y)
    model.set_params(target_weight=0.9)
    with pytest.raises(ValueError, match="target_weight was changed"):
        model.fit(X, y)


# ------------------------------------------------ training and the PCA start


@pytest.mark.parametrize("cls", [AutoEncoder, DenoisingAutoEncoder, ConvAutoEncoder])
def test_the_auto_learning_rate_is_larger_for_class_labels_only(digits, cls):
    X, y = digits
    plain, classes = cls._auto_learning_rates
    assert classes > plain
    # The class rate is for steps of the "auto" batch; a smaller step (the
    # 300 rows here, or a batch given) takes it in proportion.
    steps = cls._auto_class_batch_size or 200
    full = classes * min(1.0, len(X) / steps)

    def rate(model):
        return model.net_.optimizer_.param_groups[0]["lr"]

    assert rate(small(cls, target_weight=0.5).fit(X, y)) == pytest.approx(full)
    semi = np.where(np.arange(len(y)) % 10 == 0, y, -1)
    model = small(cls, target_weight=0.5, warm_start=True).fit(X, semi)
    assert rate(model) == pytest.approx(full)
    # A warm start, with or without the chunk's labels, keeps it.
    assert rate(model.fit(X)) == pytest.approx(full)
    for fitted in (small(cls, target_weight=0.5).fit(X), small(cls).fit(X, y)):
        assert rate(fitted) == plain
    assert rate(small(cls, target_weight=0.5).fit(X, y + 0.5)) == plain
    given = small(cls, target_weight=0.5, batch_size=50).fit(X, y)
    assert rate(given) == pytest.approx(classes * 50 / steps)
    # A number is used as given.
    assert (
        rate(small(cls, target_weight=0.5, learning_rate_init=1e-3).fit(X, y)) == 1e-3
    )


@pytest.mark.parametrize("cls", [AutoEncoder, DenoisingAutoEncoder, ConvAutoEncoder])
def test_the_auto_batch_is_larger_for_class_labels_where_the_estimator_says(
    digits, cls
):
    X, y = digits
    plain = small(cls, batch_size="auto").fit(X, y).net_.batch_size
    assert plain == 200
    labelled = small(cls, batch_size="auto", target_weight=0.5)
    expected = cls._auto_class_batch_size or 200
    assert labelled.fit(X, y).net_.batch_size == min(expected, len(X))
    # Clipped to the data, kept by a warm start without the chunk's labels.
    assert labelled.fit(X[:250], y[:250]).net_.batch_size == min(expected, 250)
    labelled.set_params(warm_start=True).fit(X)
    assert labelled.net_.batch_size == min(expected, 300)
    assert small(cls, target_weight=0.5).fit(X, y + 0.5).net_.batch_size == 200
    assert small(cls, batch_size=64, target_weight=0.5).fit(X, y).net_.batch_size == 64


def test_labels_keep_the_pca_start(digits):
    X, y = digits
    params = {"early_stopping": True, "learning_rate_init": 1e-9, "max_iter": 5}
    supervised = small(AutoEncoder, target_weight=0.5, **params).fit(X, y)
    plain = small(AutoEncoder, **params).fit(X)
    # Training starts from PCA's codes, and no step moves them far.
    assert_allclose(supervised.transform(X), plain.transform(X), atol=1e-5)


@pytest.mark.parametrize("cls", [AutoEncoder, DenoisingAutoEncoder])
def test_early_stopping_with_labels_watches_the_training_loss(digits, cls):
    X, y = digits
    model = small(cls, target_weight=0.5, early_stopping=True, max_iter=4)
    model.fit(X, y)
    # No rows held out: every epoch trains on all of them, and there is no
    # held-out score.
    assert all("valid_loss" not in row for row in model.net_.history)
    # The same epochs as without early stopping, on the same rows.
    unheld = small(cls, target_weight=0.5, early_stopping=False, max_iter=4)
    assert model.loss_curve_ == unheld.fit(X, y).loss_curve_
    assert model.validation_scores_ is None
    assert model.best_validation_score_ is None
    # The net still holds rows out when it trains without labels.
    assert dict(model.net_.callbacks_)["stopping"].monitor == "valid_loss"


def test_early_stopping_without_classes_still_holds_rows_out(digits):
    X, y = digits
    params = {"early_stopping": True, "max_iter": 4}
    for model in (
        small(AutoEncoder, target_weight=0.5, **params).fit(X),
        small(AutoEncoder, **params).fit(X, y),
        # A float target: its held-out squared error is what keeps a head
        # on a small table from overfitting.
        small(AutoEncoder, target_weight=0.5, **params).fit(X, y + 0.5),
    ):
        assert len(model.validation_scores_) == 4
        assert "valid_loss" in model.net_.history[-1]
    # target_weight=None with early stopping: y changes nothing.
    with_y = small(AutoEncoder, **params).fit(X, y)
    without = small(AutoEncoder, **params).fit(X)
    assert_array_equal(with_y.transform(X), without.transform(X))
    assert with_y.validation_scores_ == without.validation_scores_


def test_a_warm_start_without_y_holds_rows_out_again(digits):
    X, y = digits
    model = small(AutoEncoder, target_weight=0.5, early_stopping=True, max_iter=2)
    model.fit(X, y)
    model.set_params(warm_start=True).fit(X)
    assert "valid_loss" in model.net_.history[-1]
    assert model.validation_scores_


# ------------------------------------------------------------ round trips


@pytest.mark.parametrize("target", ["classes", "strings", "float"])
def test_save_load_pickle_and_skops_keep_the_head(tmp_path, digits, target):
    X, y = digits
    target = {"classes": y, "strings": np.array(list("ab"))[y % 2], "float": y + 0.5}[
        target
    ]
    model = small(AutoEncoder, target_weight=0.5).fit(X, target)
    path = tmp_path / "model.safetensors"
    skae.save(model, path)
    copies = [skae.load(path), pickle.loads(pickle.dumps(model))]
    sio = pytest.importorskip("skops.io")
    dumped = sio.dumps(model)
    copies.append(sio.loads(dumped, trusted=sio.get_untrusted_types(data=dumped)))
    for copy in copies:
        assert_array_equal(copy.transform(X), model.transform(X))
        for name in ("classes_", "target_mean_", "target_scale_"):
            if hasattr(model, name):
                assert_array_equal(getattr(copy, name), getattr(model, name))
        assert copy.net_.module_.head.out_features == (
            model.net_.module_.head.out_features
        )
        # Training goes on with the head.
        copy.partial_fit(X, target)


def test_onnx_export_of_a_supervised_model_is_its_transform(digits):
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort

    X, y = digits
    model = small(AutoEncoder, target_weight=0.5).fit(X, y)
    onx = skae.to_onnx(model, X[:1])
    session = ort.InferenceSession(onx.SerializeToString())
    assert_allclose(session.run(None, {"X": X})[0], model.transform(X), atol=1e-4)
    stored = {prop.key: prop.value for prop in onx.metadata_props}
    assert stored["skae.classes_"] == "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"


@pytest.mark.parametrize("target", ["classes", "float"])
def test_class_labels_train_the_head_on_noisy_inputs_reproducibly(digits, target):
    X, y = digits
    y = y if target == "classes" else y.astype(float)
    state = torch.get_rng_state()
    first = small(AutoEncoder, target_weight=0.5).fit(X, y)
    # Drawn from the fit's private generator, not torch's global one.
    assert torch.equal(torch.get_rng_state(), state)
    noise = CLASS_HEAD_NOISE if target == "classes" else 0.0
    assert first.net_.module_.noise == noise
    conv = small(ConvAutoEncoder, target_weight=0.5).fit(X, y)
    assert conv.net_.module_.noise == (0.5 if target == "classes" else 0.0)
    again = small(AutoEncoder, target_weight=0.5).fit(X, y)
    assert_array_equal(first.transform(X), again.transform(X))


@pytest.mark.parametrize("target", ["classes", "semi", "float"])
def test_class_labels_keep_the_labelled_codes_small(digits, monkeypatch, target):
    X, y = digits
    y = {
        "classes": y,
        "semi": np.where(np.arange(len(y)) % 10 == 0, y, -1),
        "float": y.astype(float),
    }[target]
    params = {"target_weight": 0.9, "max_iter": 10}
    model = small(AutoEncoder, **params).fit(X, y)
    penalty = model.net_.criterion_.code_penalty
    assert penalty == (0.0 if target == "float" else CLASS_CODE_PENALTY)
    # UMAP's own loss sets its codes' scale.
    umap = small(UMAPAutoEncoder, target_weight=0.5, max_iter=1)
    if target != "float":
        assert umap.fit(X, y).net_.criterion_.code_penalty == 0.0
    monkeypatch.setattr(AutoEncoder, "_class_code_penalty", 0.0)
    unpenalised = small(AutoEncoder, **params).fit(X, y)
    if target == "float":
        assert_array_equal(model.transform(X), unpenalised.transform(X))
        return
    # The head's weights, not the codes' spread, carry the logits' scale.
    labelled = y >= 0
    size, unpenalised_size = (
        np.mean(fitted.transform(X[labelled]) ** 2) for fitted in (model, unpenalised)
    )
    assert size < 0.97 * unpenalised_size


# -------------------------------------------------------- the torch pieces


def test_cross_entropy_ignores_unlabelled_rows_and_empty_batches():
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [5.0, -5.0]])
    target = torch.tensor([[0.0], [-1.0], [1.0]])
    expected = torch.nn.functional.cross_entropy(logits[[0, 2]], torch.tensor([0, 1]))
    assert class_cross_entropy(logits, target) == pytest.approx(expected.item())
    assert class_cross_entropy(logits, torch.full((3, 1), -1.0)).item() == 0.0


def test_code_size_counts_the_labelled_rows_only():
    code = torch.tensor([[1.0, 3.0], [10.0, 10.0], [2.0, 0.0]])
    target = torch.tensor([[0.0], [-1.0], [1.0]])
    # (1 + 9) / 2 and (4 + 0) / 2, over the two labelled rows.
    assert labelled_code_size(code, target).item() == pytest.approx(3.5)
    assert labelled_code_size(code, torch.full((3, 1), -1.0)).item() == 0.0
