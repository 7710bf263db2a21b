"""SparseAutoEncoder's interpretability settings: sparsity="sae_topk" / "sae_batchtopk".

The module is skae/_nn/dictionary.py; the estimator's side is in skae/_sparse.py
and skae/_support/code_metrics.py.
"""

import pickle
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.utils._param_validation import InvalidParameterError
from superposition import superposition as superposition_rows

import skae
from skae import SparseAutoEncoder
from skae._nn.dictionary import DictionaryAutoEncoder
from skae._nn.losses import AuxKLoss

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SAE_SPARSITIES = ["sae_topk", "sae_batchtopk"]


superposition = partial(superposition_rows, n_rows=1000, n_true=32, k=3)


def sae(sparsity="sae_topk", **params):
    defaults = {
        "n_components": 32,
        "n_active": 3,
        "sparsity": sparsity,
        "batch_size": 64,
        "max_iter": 3,
        "latent_density": None,
        "random_state": 0,
    }
    return SparseAutoEncoder(**{**defaults, **params})


def module_of(estimator):
    return estimator.net_.module_


@pytest.mark.parametrize("sparsity", SAE_SPARSITIES)
def test_atoms_are_unit_vectors_and_reconstruction_adds_them(sparsity):
    X = superposition()
    est = sae(sparsity).fit(X)
    assert_allclose(np.linalg.norm(est.atoms_, axis=1), 1.0, rtol=1e-6)
    codes = est.transform(X)
    offset = est.inverse_transform(np.zeros((1, 32)))
    assert_allclose(
        est.inverse_transform(codes), codes @ est.atoms_ + offset, atol=1e-6
    )


def test_topk_codes_have_at_most_n_active_nonnegative_entries():
    X = superposition()
    codes = sae(n_active=3).fit(X).transform(X)
    assert codes.min() >= 0
    assert np.count_nonzero(codes, axis=1).max() <= 3


def test_start_is_tied_with_unit_atoms_and_the_mean_as_bias():
    X = superposition()
    # A step far too small to move the weights: what fit leaves is the start.
    est = sae(learning_rate_init=1e-12, max_iter=1).fit(X)
    module = module_of(est)
    atoms = module.atoms().detach()
    assert_allclose(module.encoder.weight.detach(), atoms.T, atol=1e-6)
    assert_allclose(module.encoder.bias.detach(), 0.0, atol=1e-6)
    assert_allclose(module.decoder.bias.detach(), X.mean(axis=0), atol=1e-5)


def test_module_start_ties_encoder_to_decoder():
    module = DictionaryAutoEncoder(5, 7, 2)
    mean = torch.arange(5.0)
    module.start(mean)
    assert_allclose(module.decoder.weight.norm(dim=0).detach(), 1.0, rtol=1e-6)
    assert_array_equal(module.encoder.weight.detach(), module.decoder.weight.T.detach())
    assert_array_equal(module.decoder.bias.detach(), mean)


@pytest.mark.parametrize("batch_topk", [False, True])
def test_training_forward_matches_encode_then_decode(batch_topk):
    # forward sums each row's k atoms directly and picks the top k before the
    # ReLU; encode/decode (transform, ONNX) go the dense way.
    module = DictionaryAutoEncoder(6, 40, 3, batch_topk=batch_topk)
    module.start(torch.zeros(6))
    x = torch.randn(32, 6, generator=torch.Generator().manual_seed(0))
    module.eval()
    if batch_topk:
        module.threshold.fill_(0.5)
    reconstruction, code, aux = module(x)
    assert aux is None
    assert_allclose(code.detach(), module.encode(x).detach(), atol=1e-6)
    assert_allclose(
        reconstruction.detach(), module.decode(module.encode(x)).detach(), atol=1e-5
    )


def test_forward_counts_a_latent_as_fired_only_when_positive():
    module = DictionaryAutoEncoder(4, 6, 2).train()
    module.start(torch.zeros(4))
    with torch.no_grad():
        module.encoder.weight.zero_()
        module.encoder.bias.copy_(torch.tensor([1.0, 0.0, -1.0, -2.0, -3.0, -4.0]))
    module.rows_since_fired.fill_(5)
    module(torch.randn(3, 4))
    # Latent 1 is in every row's top 2 but at 0: it did not fire.
    assert module.rows_since_fired.tolist() == [0, 8, 8, 8, 8, 8]


class Unlifted(DictionaryAutoEncoder):
    """The module as it was before the lift in the selection."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_rate=0.0, **kwargs)


def test_no_latent_is_left_dead_on_a_small_set(monkeypatch):
    # Twice as many latents as true features, on 600 rows: without the lift
    # in the selection, latents that lose every top-k never come back (1 in
    # 8 here); with it, each fires on its share of rows.
    X = superposition(n_rows=600)
    params = {"n_components": 64, "max_iter": 20, "learning_rate_init": 1e-2}
    est = sae(**params).fit(X)
    assert est.code_metrics(X)["dead_fraction"] == 0
    assert est.dead_fraction_ == 0
    monkeypatch.setattr(skae._sparse, "DictionaryAutoEncoder", Unlifted)
    assert sae(**params).fit(X).code_metrics(X)["dead_fraction"] > 0.05


def losing_latent_module(**params):
    """Identity atoms, top-1, and latent 3's activation (1e-4) losing the
    top-1 to every row's largest entry."""
    module = DictionaryAutoEncoder(8, 8, 1, **params).train()
    with torch.no_grad():
        module.decoder.weight.copy_(torch.eye(8))
    module.start(torch.zeros(8))
    with torch.no_grad():
        module.encoder.weight[3] = 0.0
        module.encoder.bias[3] = 1e-4
    return module


def test_lift_lets_a_losing_latent_fire_then_lets_it_go():
    module = losing_latent_module(dead_after=10**6)
    x = torch.rand(64, 8, generator=torch.Generator().manual_seed(0)) + 0.1
    fired_at = None
    for step in range(500):
        module(x)
        # (forward gives no dense code in training: the count says it fired.)
        if int(module.rows_since_fired[3]) == 0:
            fired_at = step
            break
    assert fired_at is not None and float(module.selection_bias[3]) > 0
    # Once its rate is up the bias shrinks; transform selects with it too.
    module.eval()
    assert module.encode(x)[:, 3].any()
    module.train()
    module.firing_rate.fill_(1.0)
    before = float(module.selection_bias[3])
    module(x)
    assert float(module.selection_bias[3]) < before


def test_modules_saved_before_the_lift_load_without_it():
    module = DictionaryAutoEncoder(5, 7, 2)
    module.start(torch.zeros(5))
    state = {
        key: value
        for key, value in module.state_dict().items()
        if key not in ("selection_bias", "firing_rate")
    }
    copy = DictionaryAutoEncoder(5, 7, 2)
    copy.load_state_dict(state, strict=True)
    assert_array_equal(copy.selection_bias, torch.zeros(7))
    assert_allclose(copy.firing_rate, 2 / 7)
    # A module pickled before the lift: no buffers, no settings.
    old = pickle.loads(pickle.dumps(module))
    for name in ("selection_bias", "firing_rate"):
        del old._buffers[name]
    for name in ("min_rate", "lift_step", "rate_momentum"):
        delattr(old, name)
    revived = pickle.loads(pickle.dumps(old))
    assert_array_equal(revived.selection_bias, torch.zeros(7))
    x = torch.randn(4, 5)
    assert_array_equal(revived.encode(x).detach(), module.encode(x).detach())


def kill_latent(est, j):
    """A latent whose activation is tiny and constant: it never wins a top-k.

    Its Adam moments go too: left as they were, the momentum would move it
    on, and the second moments of its active past would shrink the steps
    the AuxK term gives it.
    """
    module = module_of(est)
    state = est.net_.optimizer_.state
    with torch.no_grad():
        module.encoder.weight[j] = 0.0
        module.encoder.bias[j] = 1e-4
        for param in (module.encoder.weight, module.encoder.bias):
            if param in state:
                state[param]["exp_avg"][j] = 0.0
                state[param]["exp_avg_sq"][j] = 0.0


def test_auxk_revives_a_killed_latent():
    # 16 orthogonal features, 16 latents: each is needed, and the feature of
    # the latent killed is left to the residual.
    rng = np.random.default_rng(0)
    on = rng.random((2000, 16)).argsort(axis=1) < 3
    X = (on * rng.uniform(0.5, 1.5, (2000, 16))).astype(np.float32)
    est = sae(
        n_components=16,
        n_active=2,
        n_aux=4,
        dead_after=200,
        max_iter=10,
        learning_rate_init=1e-2,
    ).fit(X)
    j = int(np.argmax(est.atoms_[:, 5]))
    kill_latent(est, j)
    assert np.count_nonzero(est.transform(X)[:, j]) < 50
    for _ in range(3):
        est.partial_fit(X)
    # Feature 5 is on in about 375 rows.
    assert np.count_nonzero(est.transform(X)[:, j]) > 100
    assert int(module_of(est).rows_since_fired[j]) < 200
    assert est.dead_fraction_ == 0


@pytest.mark.parametrize("n_aux", [0, 2])
def test_only_auxk_gives_a_dead_latent_a_gradient(n_aux):
    module = losing_latent_module(n_aux=n_aux, dead_after=100)
    # Latent 3 has not fired for long, and loses the top-1 to every row.
    module.rows_since_fired[3] = 1000
    x = torch.rand(16, 8, generator=torch.Generator().manual_seed(0)) + 0.1
    output = module(x)
    assert int(module.rows_since_fired[3]) == 1016  # it did not fire
    AuxKLoss(1 / 32)(output, x).backward()
    encoder_grad = module.encoder.weight.grad[3].abs().sum()
    decoder_grad = module.decoder.weight.grad[:, 3].abs().sum()
    if n_aux:
        assert encoder_grad > 0 and decoder_grad > 0
    else:
        assert encoder_grad == 0 and decoder_grad == 0


def test_batchtopk_transform_keeps_activations_above_the_learned_threshold():
    X = superposition()
    est = sae("sae_batchtopk").fit(X)
    assert est.threshold_ > 0
    assert est.threshold_ == pytest.approx(float(module_of(est).threshold))
    module = module_of(est)
    with torch.no_grad():
        pre = module.double().activations(torch.as_tensor(X, dtype=torch.float64))
    module.float()
    codes = est.transform(X.astype(np.float64))
    assert_array_equal(codes != 0, pre.numpy() > est.threshold_)
    # Rows use different numbers of latents, about n_active on average.
    counts = np.count_nonzero(codes, axis=1)
    assert counts.min() < counts.max()
    assert 1 <= counts.mean() <= 6
    # A row's code does not depend on the rows it is encoded with.
    assert_allclose(est.transform(X[:1]), codes[:1].astype(np.float32), atol=1e-6)


def test_batchtopk_training_keeps_k_times_batch_activations():
    module = DictionaryAutoEncoder(4, 10, 2, batch_topk=True).train()
    code = module.sparsify(torch.rand(8, 10))
    assert int((code > 0).sum()) == 2 * 8


def test_partial_fit_counts_rows_across_chunks():
    X = superposition(n_rows=1500)
    est = sae(n_aux=0, dead_after=10_000)
    for chunk in np.array_split(X, 5):
        est.partial_fit(chunk)
        if int(module_of(est).rows_seen) == len(chunk):
            kill_latent(est, 3)
    module = module_of(est)
    assert int(module.rows_seen) == len(X)
    # Not fired since the first chunk: the count spans the later four.
    assert int(module.rows_since_fired[3]) == len(X) - 300
    # Fewer rows than dead_after were seen: dead means never fired.
    assert est.dead_fraction_ == float(np.mean(module.rows_since_fired.numpy() >= 1500))
    assert est.dead_fraction_ >= 0
    assert est.n_iter_ == 5


def test_code_metrics_match_their_definitions():
    X = superposition()
    X_new = superposition(n_rows=300, seed=1)
    est = sae().fit(X)
    metrics = est.code_metrics(X_new)
    codes = est.transform(X_new.astype(np.float64))
    X_hat = est.inverse_transform(codes)
    X64 = X_new.astype(np.float64)
    fvu = ((X64 - X_hat) ** 2).sum() / ((X64 - X64.mean(axis=0)) ** 2).sum()
    assert metrics["fvu"] == pytest.approx(fvu, rel=1e-9)
    assert metrics["l0"] == pytest.approx(np.count_nonzero(codes, axis=1).mean())
    assert metrics["dead_fraction"] == pytest.approx(np.mean(~codes.any(axis=0)))
    assert metrics["l0"] <= 3


def test_code_metrics_work_for_the_other_settings(digits):
    est = SparseAutoEncoder(n_components=16, n_active=3, max_iter=2, random_state=0)
    metrics = est.fit(digits).code_metrics(digits)
    assert metrics["l0"] == pytest.approx(3.0)
    assert 0 < metrics["fvu"] < 1.5
    assert est.dead_fraction_ is None and est.threshold_ is None


def test_recovers_the_true_directions():
    rng = np.random.default_rng(0)
    D = rng.standard_normal((24, 12))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    s = (rng.random((4000, 24)) < 2 / 24) * rng.random((4000, 24))
    X = (s @ D).astype(np.float32)
    est = sae(n_components=24, n_active=2, max_iter=15, learning_rate_init=3e-3)
    atoms = est.fit(X).atoms_
    mmcs = (D @ atoms.T).max(axis=1).mean()
    assert mmcs > 0.9


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_aux": -1}, "n_aux"),
        ({"n_aux": "many"}, "n_aux"),
        ({"dead_after": 0}, "dead_after"),
        ({"alpha_aux": -0.1}, "alpha_aux"),
        ({"sparsity": "sae"}, "sparsity"),
    ],
)
def test_invalid_parameters(params, match):
    with pytest.raises(InvalidParameterError, match=match):
        sae(**params).fit(superposition(n_rows=50))


@pytest.mark.parametrize("name, value", [("n_aux", 3), ("refine_sweeps", 0)])
def test_warm_start_refuses_a_changed_sae_setting(name, value):
    X = superposition(n_rows=100)
    est = sae(warm_start=True).fit(X)
    est.set_params(**{name: value})
    with pytest.raises(ValueError, match=f"{name} was changed"):
        est.fit(X)


@pytest.mark.parametrize("sparsity", SAE_SPARSITIES)
def test_round_trips_keep_codes_and_counts(sparsity, tmp_path):
    sio = pytest.importorskip("skops.io")
    X = superposition(n_rows=300)
    est = sae(sparsity).fit(X)
    skae.save(est, tmp_path / "sae.safetensors")
    payload = sio.dumps(est)
    copies = [
        skae.load(tmp_path / "sae.safetensors"),
        pickle.loads(pickle.dumps(est)),
        sio.loads(payload, trusted=sio.get_untrusted_types(data=payload)),
    ]
    for copy in copies:
        assert_array_equal(copy.transform(X), est.transform(X))
        assert copy.dead_fraction_ == est.dead_fraction_
        assert copy.threshold_ == est.threshold_
        for name in (
            "rows_since_fired",
            "rows_seen",
            "threshold",
            "selection_bias",
            "firing_rate",
        ):
            assert_array_equal(
                getattr(module_of(copy), name), getattr(module_of(est), name)
            )
        # Training goes on from the counts where they were.
        copy.partial_fit(X)
        assert int(module_of(copy).rows_seen) == int(module_of(est).rows_seen) + 300


@pytest.mark.parametrize("sparsity", SAE_SPARSITIES)
def test_onnx_graph_matches_transform(sparsity):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    pytest.importorskip("skl2onnx")
    X = superposition(n_rows=300)
    est = sae(sparsity).fit(X)
    if sparsity == "sae_topk":
        # The graph chooses with the lift's biases too: make them matter.
        bias = module_of(est).selection_bias
        bias.copy_(torch.linspace(0.0, 1.0, bias.numel()))
    onx = skae.to_onnx(est, X[:1])
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (codes,) = session.run(None, {"X": X})
    assert_allclose(codes, est.transform(X), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("sparsity", SAE_SPARSITIES)
def test_samples_decode_codes_the_model_could_give(sparsity):
    X = superposition(n_rows=300)
    est = sae(sparsity, latent_density="gmm", n_components=8, n_active=2).fit(X)
    assert est.sample(5, random_state=0).shape == (5, X.shape[1])
    projected = est._project_codes(np.random.default_rng(0).normal(size=(20, 8)))
    assert projected.min() >= 0
    if sparsity == "sae_topk":
        assert np.count_nonzero(projected, axis=1).max() <= 2


@pytest.mark.parametrize("suffix", [".safetensors", ".pkl"])
def test_files_from_before_the_sae_settings_get_their_inert_defaults(suffix):
    # Written at 649e602, before n_aux, alpha_aux and dead_after existed.
    path = (
        Path(__file__).parent / "data" / "main-649e602" / f"SparseAutoEncoder{suffix}"
    )
    if suffix == ".pkl":
        with open(path, "rb") as file:
            est = pickle.load(file)
    else:
        est = skae.load(path)
    assert est.sparsity == "topk"
    added = {"n_aux": "auto", "alpha_aux": 1 / 32, "dead_after": 10_000}
    assert {k: est.get_params()[k] for k in added} == added
    assert {k: est._built_with[k] for k in added} == added
    est.partial_fit(np.random.default_rng(0).random((20, est.n_features_in_)))
