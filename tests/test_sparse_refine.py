"""SparseAutoEncoder's refined codes: refine_sweeps with sparsity="sae_topk".

The refinement is DictionaryAutoEncoder.refine (skae/_nn/dictionary.py);
files and pickles written before it are upgraded in skae/_io/format/upgrade.py.
"""

import json
import pickle
from functools import partial

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from safetensors import safe_open
from safetensors.numpy import load_file, save_file
from superposition import superposition as superposition_rows

import skae
from skae import SparseAutoEncoder
from skae._nn.dictionary import DictionaryAutoEncoder

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


superposition = partial(superposition_rows, n_rows=400, n_true=48, k=4)


def sae(**params):
    defaults = {
        "n_components": 48,
        "n_active": 4,
        "sparsity": "sae_topk",
        "batch_size": 64,
        "max_iter": 3,
        "latent_density": None,
        "random_state": 0,
    }
    return SparseAutoEncoder(**{**defaults, **params})


def row_errors(est, X, codes):
    return ((X - est.inverse_transform(codes)) ** 2).sum(axis=1)


def test_refinement_keeps_the_support_and_lowers_every_rows_error():
    X = superposition()
    plain = sae(refine_sweeps=0).fit(X)
    refined = sae(refine_sweeps=3).fit(X)
    # Training is the same: the refinement runs outside it.
    assert_array_equal(plain.loss_curve_, refined.loss_curve_)
    assert_array_equal(plain.atoms_, refined.atoms_)
    before, after = plain.transform(X), refined.transform(X)
    assert np.all((after != 0) <= (before != 0))
    assert after.min() >= 0
    gain = row_errors(plain, X, before) - row_errors(refined, X, after)
    assert gain.min() >= -1e-9
    assert gain.sum() > 0.1 * row_errors(plain, X, before).sum()
    assert refined.reconstruction_error_ < plain.reconstruction_error_
    assert refined.score(X) > plain.score(X)


def test_converged_refinement_is_the_non_negative_least_squares_solution():
    X = superposition(n_rows=200)
    est = sae(refine_sweeps=100).fit(X)
    codes = est.transform(X)
    residual = X - est.inverse_transform(codes)
    # Each kept latent's gradient: 0 where its value is positive; where it
    # dropped to 0, its atom would not lower the error by growing.
    gradient = residual @ est.atoms_.T
    chosen = sae(refine_sweeps=0).fit(X).transform(X) != 0
    assert_allclose(gradient[codes > 0], 0.0, atol=1e-6)
    assert gradient[chosen & (codes == 0)].max(initial=-1.0) <= 1e-6


def test_module_refines_only_outside_training_and_with_top_k():
    torch.manual_seed(0)
    module = DictionaryAutoEncoder(6, 10, 3, refine_sweeps=2)
    module.start(torch.zeros(6))
    x = torch.randn(5, 6)
    module.train()
    # Training reads no dense code (the loss takes the reconstructions).
    assert module(x)[1] is None
    trained = module.encode(x)
    module.refine_sweeps = 0
    assert_array_equal(trained.detach(), module.encode(x).detach())
    batch = DictionaryAutoEncoder(6, 10, 3, batch_topk=True, refine_sweeps=2).eval()
    unrefined = DictionaryAutoEncoder(6, 10, 3, batch_topk=True).eval()
    unrefined.load_state_dict(batch.state_dict())
    assert_array_equal(batch.encode(x).detach(), unrefined.encode(x).detach())


def test_modules_pickled_before_the_refinement_encode_as_they_did():
    module = DictionaryAutoEncoder(5, 7, 2, refine_sweeps=0).eval()
    module.start(torch.zeros(5))
    old = pickle.loads(pickle.dumps(module))
    del old.refine_sweeps
    revived = pickle.loads(pickle.dumps(old))
    assert revived.refine_sweeps == 0
    x = torch.randn(4, 5)
    assert_array_equal(revived.encode(x).detach(), module.encode(x).detach())


def test_negative_sweeps_are_refused():
    with pytest.raises(ValueError, match="refine_sweeps"):
        sae(refine_sweeps=-1).fit(superposition(n_rows=50))


def without_refine_sweeps(path):
    """The file at ``path`` as written before refine_sweeps existed."""
    with safe_open(path, "np") as file:
        header = json.loads(file.metadata()["skae"])
    del header["params"]["__dict__"]["refine_sweeps"]
    del header["attributes"]["__dict__"]["_built_with"]["__dict__"]["refine_sweeps"]
    save_file(load_file(path), path, metadata={"skae": json.dumps(header)})


@pytest.mark.parametrize(
    "sparsity, expected", [("sae_topk", 0), ("sae_batchtopk", 0), ("topk", 3)]
)
def test_files_from_before_refine_sweeps_encode_as_they_did(
    sparsity, expected, tmp_path
):
    X = superposition(n_rows=100)
    params = {"n_components": 8, "n_active": 2, "max_iter": 1}
    # What the estimator did before: the encoder's own values.
    est = sae(sparsity=sparsity, refine_sweeps=0, **params).fit(X)
    path = tmp_path / "old.safetensors"
    skae.save(est, path)
    without_refine_sweeps(path)
    loaded = skae.load(path)
    assert loaded.refine_sweeps == expected
    assert loaded._built_with["refine_sweeps"] == expected
    assert_array_equal(loaded.transform(X), est.transform(X))


def test_onnx_graph_runs_the_refinement():
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    pytest.importorskip("skl2onnx")
    X = superposition(n_rows=200)
    est = sae(refine_sweeps=2).fit(X)
    onx = skae.to_onnx(est, X[:1])
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (codes,) = session.run(None, {"X": X})
    assert_allclose(codes, est.transform(X), rtol=1e-4, atol=1e-5)
    unrefined = sae(refine_sweeps=0).fit(X).transform(X)
    assert np.abs(codes - unrefined).max() > 1e-3
