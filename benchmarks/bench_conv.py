"""ConvAutoEncoder vs DenoisingAutoEncoder vs PCA as denoisers of image patches.

Prints, in one run, on 16x16 grey patches of the two images of
:func:`sklearn.datasets.load_sample_images` (grey = mean of R, G, B, scaled
to [0, 1]): 5,000 training patches drawn from the left half of each image,
2,000 test patches from the right halves, and gaussian noise of standard
deviation 0.1 added to the test patches. For each model, at
``n_components=32``:

- the denoising error, MSE(denoised test patches, clean test patches), and
  its ratio to PCA's and to the dense denoiser's (targets for the
  convolutional model: <= 0.95x PCA's, <= 1.0x the dense denoiser's);
- the number of trained parameters (target: fewer than the dense model);
- the fit time, the number of epochs and the time per epoch (target: the
  default fit on 5,000 patches in under a minute on 2 CPU cores).

Both autoencoders use their default parameters apart from ``n_components``,
``random_state`` and, for ``ConvAutoEncoder`` (whose noise is off by
default), ``noise="gaussian", noise_level=0.1``: the dense denoiser's
default corruption, and the noise of the test set. PCA denoises by projecting
the noisy patches on its components, fitted on clean patches. A
``ConvAutoEncoder`` trained without noise is shown for reference.

Times are wall-clock seconds of a single fit, on whatever threads the
estimators choose; on a busy machine they are noisy.

Run: ``python benchmarks/bench_conv.py``; ``--conv KEY=VALUE ...`` overrides
ConvAutoEncoder parameters (values are Python literals), to explore.
"""

import argparse
import ast
import time
import warnings

import numpy as np
from sklearn.datasets import load_sample_images
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.image import extract_patches_2d

from skae import ConvAutoEncoder, DenoisingAutoEncoder

PATCH = (16, 16)
SIGMA = 0.1
N_COMPONENTS = 32
N_TRAIN, N_TEST = 5_000, 2_000


def load_patches():
    """Clean training and test patches (rows of 256 pixels in [0, 1])."""
    train, test = [], []
    for i, image in enumerate(load_sample_images().images):
        grey = image.mean(axis=2) / 255.0
        half = grey.shape[1] // 2
        for part, n, store in (
            (grey[:, :half], N_TRAIN, train),
            (grey[:, half:], N_TEST, test),
        ):
            patches = extract_patches_2d(
                part, PATCH, max_patches=n // 2, random_state=i
            )
            store.append(patches.reshape(len(patches), -1))
    return np.concatenate(train), np.concatenate(test)


def mse(a, b):
    return float(np.mean((a - b) ** 2))


def n_parameters(estimator):
    return sum(p.numel() for p in estimator.net_.module_.parameters())


def fit_autoencoder(estimator, X):
    start = time.perf_counter()
    with warnings.catch_warnings():
        # Stopping at max_iter is part of the defaults being measured.
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(X)
    return time.perf_counter() - start


def parse_overrides(pairs):
    overrides = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        overrides[key] = ast.literal_eval(value)
    return overrides


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conv", nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument("--skip-dense", action="store_true")
    args = parser.parse_args()
    overrides = parse_overrides(args.conv)

    X_train, X_test = load_patches()
    noisy = X_test + np.random.default_rng(0).normal(0, SIGMA, X_test.shape)
    noisy_error = mse(noisy, X_test)
    print(
        f"16x16 grey patches of load_sample_images in [0, 1]: {len(X_train)} train "
        f"(left halves), {len(X_test)} test (right halves) + N(0, {SIGMA}^2) noise; "
        f"MSE(noisy, clean) = {noisy_error:.5f}; n_components = {N_COMPONENTS}"
    )
    if overrides:
        print(f"ConvAutoEncoder overrides (not the defaults): {overrides}")

    pca = PCA(n_components=N_COMPONENTS, random_state=0)
    start = time.perf_counter()
    pca.fit(X_train)
    pca_seconds = time.perf_counter() - start
    pca_error = mse(pca.inverse_transform(pca.transform(noisy)), X_test)
    rows = [
        ("PCA", pca_error, pca.components_.size + pca.mean_.size, pca_seconds, None)
    ]

    models = {
        "ConvAutoEncoder(noise=gaussian 0.1)": ConvAutoEncoder(
            N_COMPONENTS,
            noise="gaussian",
            noise_level=SIGMA,
            random_state=0,
            **overrides,
        ),
        "ConvAutoEncoder(noise=None)": ConvAutoEncoder(
            N_COMPONENTS, random_state=0, **overrides
        ),
    }
    if not args.skip_dense:
        models["DenoisingAutoEncoder (defaults)"] = DenoisingAutoEncoder(
            N_COMPONENTS, random_state=0
        )
    for name, estimator in models.items():
        seconds = fit_autoencoder(estimator, X_train)
        error = mse(estimator.inverse_transform(estimator.transform(noisy)), X_test)
        rows.append((name, error, n_parameters(estimator), seconds, estimator.n_iter_))

    dense = dict((r[0], r[1]) for r in rows).get("DenoisingAutoEncoder (defaults)")
    header = (
        f"{'model':<36} {'MSE':>8} {'/noisy':>7} {'/PCA':>6} {'/dense':>7} "
        f"{'params':>7} {'fit s':>6} {'epochs':>6} {'s/epoch':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, error, params, seconds, epochs in rows:
        vs_dense = f"{error / dense:>7.3f}" if dense else f"{'n/a':>7}"
        per_epoch = f"{seconds / epochs:>7.2f}" if epochs else f"{'':>7}"
        print(
            f"{name:<36} {error:>8.5f} {error / noisy_error:>7.3f} "
            f"{error / pca_error:>6.3f} {vs_dense} {params:>7} {seconds:>6.1f} "
            f"{epochs or '':>6} {per_epoch}"
        )
    print(
        "targets for ConvAutoEncoder(noise=gaussian 0.1): /PCA <= 0.95, "
        "/dense <= 1.0, fewer params than the dense model, fit < 60 s on 2 CPU cores"
    )


if __name__ == "__main__":
    main()
