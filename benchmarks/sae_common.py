"""What bench_sae.py and bench_sae_levers.py share: the data, the reference
top-k loop and the field's metrics (see bench_sae.py's docstring)."""

import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import MinMaxScaler

BATCH_SIZE = 256
LEARNING_RATE = 3e-3


#: How the magnitude of an active feature is drawn (superposition's ``magnitudes``).
MAGNITUDES = {
    "uniform": lambda rng, shape: rng.random(shape),
    "exponential": lambda rng, shape: rng.exponential(size=shape),
}


def superposition(d, n_features, k, n_rows, seed, noise=0.01, magnitudes="exponential"):
    """Rows ``s @ D + noise`` with ``D`` (n_features, d) of unit rows.

    Each feature is on with probability ``k / n_features``, at a magnitude
    from U(0, 1) (``"uniform"``) or Exp(1) (``"exponential"``): see
    bench_sae.py's docstring for why both.
    """
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_features, d))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    on = rng.random((n_rows, n_features)) < k / n_features
    s = on * MAGNITUDES[magnitudes](rng, (n_rows, n_features))
    X = s @ D + noise * rng.standard_normal((n_rows, d))
    return X.astype(np.float32), D


def digits_activations(seed):
    """The hidden layer of an MLP trained on the digits: (train, test) rows."""
    X, y = load_digits(return_X_y=True)
    X = MinMaxScaler().fit_transform(X)
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier((32,), max_iter=300, random_state=seed).fit(
            X_train, y_train
        )

    def hidden(rows):
        return np.maximum(rows @ mlp.coefs_[0] + mlp.intercepts_[0], 0)

    return hidden(X_train).astype(np.float32), hidden(X_test).astype(np.float32)


# ------------------------------------------------------------- the reference


def reference_topk_sae(X, n_latents, k, epochs, seed):
    """A top-k SAE as Gao et al. (2024) train one; returns encode, decode, atoms."""
    g = torch.Generator().manual_seed(seed)
    X = torch.as_tensor(X)
    d = X.shape[1]
    W_dec = torch.randn(n_latents, d, generator=g)
    W_dec = torch.nn.Parameter(W_dec / W_dec.norm(dim=1, keepdim=True))
    W_enc = torch.nn.Parameter(W_dec.detach().T.clone())  # tied start
    b_enc = torch.nn.Parameter(torch.zeros(n_latents))
    b_dec = torch.nn.Parameter(X.mean(0))  # the pre-encoder bias
    optimizer = torch.optim.Adam([W_enc, b_enc, W_dec, b_dec], lr=LEARNING_RATE)

    def encode(x):
        pre = (x - b_dec) @ W_enc + b_enc
        values, indices = pre.topk(k, dim=1)
        return torch.zeros_like(pre).scatter(1, indices, values.relu())

    def decode(z):
        return z @ W_dec + b_dec

    for _ in range(epochs):
        order = torch.randperm(len(X), generator=g)
        for start in range(0, len(X), BATCH_SIZE):
            x = X[order[start : start + BATCH_SIZE]]
            loss = (decode(encode(x)) - x).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            with torch.no_grad():
                # Only the directions move: drop the gradient along each row.
                W_dec.grad -= (W_dec.grad * W_dec).sum(1, keepdim=True) * W_dec
                optimizer.step()
                W_dec /= W_dec.norm(dim=1, keepdim=True)

    def run(fn):
        def apply(rows):
            with torch.no_grad():
                return fn(torch.as_tensor(rows, dtype=torch.float32)).numpy()

        return apply

    return run(encode), run(decode), W_dec.detach().numpy().copy()


# --------------------------------------------------------------- metrics


def firing_rates(encode, X, chunk=4096):
    """The share of the rows ``X`` on which each latent fires, in chunks."""
    counts = None
    for start in range(0, len(X), chunk):
        fired = (np.asarray(encode(X[start : start + chunk])) != 0).sum(axis=0)
        counts = fired if counts is None else counts + fired
    return counts / len(X)


def silent_by_chance(rates, n_rows):
    """The share of latents expected to fire on none of ``n_rows`` new rows.

    A latent firing on a share ``p`` of the rows, independently from row to
    row, is silent on all ``n_rows`` with probability ``(1 - p) ** n_rows``:
    the held-out "dead" share that rare but living latents alone explain.
    """
    return float(np.mean((1.0 - rates) ** n_rows))


def metrics(encode, decode, atoms, X_test, D=None):
    codes = np.asarray(encode(X_test))
    reconstruction = np.asarray(decode(codes))
    centred = X_test - X_test.mean(axis=0)
    fvu = float(((X_test - reconstruction) ** 2).sum() / (centred**2).sum())
    active = codes != 0
    result = {
        "FVU": fvu,
        "L0": float(active.sum(axis=1).mean()),
        "dead": float(np.mean(~active.any(axis=0))),
        "MMCS": float("nan"),
    }
    if D is not None:
        learned = atoms / np.maximum(
            np.linalg.norm(atoms, axis=1, keepdims=True), 1e-12
        )
        result["MMCS"] = float((D @ learned.T).max(axis=1).mean())
    return result
