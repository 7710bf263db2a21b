"""How realistic are ``sample()``'s digits? A classifier two-sample test.

Real rows are ``load_digits().data / 16``; the same number of samples from
each model, rounded to the data's 1/16 grid (so that off-grid values do not
give them away) and clipped to [0, 1]. A HistGradientBoostingClassifier
(max_iter=100) learns to tell the two apart; its 3-fold cross-validated
accuracy is the C2ST score: 0.5 means indistinguishable, 1.0 trivially
distinguishable. The folds are shuffled: a mixture's ``sample`` returns its
rows grouped by component, and unshuffled folds would then test on
components the classifier never saw, which lowers the accuracy for no good
reason (printed below for the pixel baseline, as "unshuffled").

Each model is also printed with its samples calibrated by one map for all
rows rather than one per mixture component, and without calibration. Also
printed, for each model: the fraction of samples within 1e-3
(Euclidean) of a training row (raw samples, and rounded ones), the time of
``sample(10_000)`` (best of 3, with the spread), the reconstruction's own
C2ST (the best any latent density can do with that decoder) and the fit
time, of which the latent density's share.

Run: ``python benchmarks/bench_sample.py`` (a few minutes on 2 cores);
``--models Conv,Sparse --seeds 0,1,2`` for some models (parts of their
names) trained from several seeds: scores move by a few hundredths from one
trained network to another.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

import skae
from skae._base.quantile_maps import marginal_quantiles

X = load_digits().data / 16
NEAREST = NearestNeighbors(n_neighbors=1).fit(X)
TARGETS = "targets: C2ST <= 0.80; memorised < 1%; sample(10_000) < 1 s"


def on_grid(S):
    return np.clip(np.round(np.asarray(S) * 16) / 16, 0, 1)


def c2st(S, shuffle=True):
    data = np.vstack([X, on_grid(S)])
    labels = np.r_[np.zeros(len(X)), np.ones(len(S))]
    cv = StratifiedKFold(3, shuffle=True, random_state=0) if shuffle else 3
    classifier = HistGradientBoostingClassifier(max_iter=100, random_state=0)
    return cross_val_score(classifier, data, labels, cv=cv).mean()


def memorised(S):
    raw = NEAREST.kneighbors(np.asarray(S))[0][:, 0] < 1e-3
    rounded = NEAREST.kneighbors(on_grid(S))[0][:, 0] < 1e-3
    return raw.mean(), rounded.mean()


def sample_time(model):
    times = []
    for _ in range(3):
        start = time.perf_counter()
        model.sample(10_000, random_state=0)
        times.append(time.perf_counter() - start)
    return min(times), max(times) - min(times)


MODELS = {
    "AutoEncoder(8)": lambda seed: skae.AutoEncoder(8, random_state=seed),
    "AutoEncoder(32)": lambda seed: skae.AutoEncoder(32, random_state=seed),
    "DenoisingAutoEncoder(8)": lambda seed: skae.DenoisingAutoEncoder(
        8, random_state=seed
    ),
    "SparseAutoEncoder()": lambda seed: skae.SparseAutoEncoder(random_state=seed),
    "VariationalAutoEncoder(8)": lambda seed: skae.VariationalAutoEncoder(
        8, random_state=seed
    ),
    "VariationalAutoEncoder(16)": lambda seed: skae.VariationalAutoEncoder(
        16, random_state=seed
    ),
    "ConvAutoEncoder(8)": lambda seed: skae.ConvAutoEncoder(8, random_state=seed),
}


def refit_density(model, **params):
    """``model.sample`` with other sampling parameters, the network unchanged."""
    model.set_params(**params)
    model._latent_density = model._fit_latent_density(X.astype(np.float32))
    return model.sample(len(X), random_state=0)


def one_map_for_all_rows(model):
    """``model.sample`` calibrated by the map of all rows, as skae did before
    each mixture component had its own (the mixture unchanged)."""
    density = model._latent_density
    decoded = model.inverse_transform(model.transform(X))
    model._latent_density = {
        **density,
        "quantiles": marginal_quantiles(decoded, X),
        "component_quantiles": None,
        "quantile_range": None,
        "component_maps": None,
    }
    try:
        return model.sample(len(X), random_state=0)
    finally:
        model._latent_density = density


def main(models, seeds):
    warnings.simplefilter("ignore")
    print(TARGETS)
    header = (
        f"{'model':<46} {'C2ST':>6} {'recon':>6} {'memo%':>6} {'rnd%':>6} "
        f"{'sample 10k':>14} {'fit s':>7} {'density s':>9}"
    )
    print(header)
    print("-" * len(header))
    n = len(X)
    gmm = GaussianMixture(10, random_state=0).fit(X)
    pixels = gmm.sample(n)[0]
    raw, rounded = memorised(pixels)
    print(
        f"{'GaussianMixture(10) on pixels':<46} {c2st(pixels):6.3f} {'':>6} "
        f"{100 * raw:6.2f} {100 * rounded:6.2f}"
    )
    print(f"{'  (unshuffled folds)':<46} {c2st(pixels, shuffle=False):6.3f}")
    runs = [
        (name if seeds == [0] else f"{name} random_state={seed}", make, seed)
        for name, make in MODELS.items()
        if not models or any(part in name for part in models)
        for seed in seeds
    ]
    for name, make, seed in runs:
        model = make(seed)
        start = time.perf_counter()
        model.fit(X)
        fit_time = time.perf_counter() - start
        # The density's share of the fit: refit it alone.
        start = time.perf_counter()
        model._fit_latent_density(X.astype(np.float32))
        density_time = time.perf_counter() - start
        recon = c2st(model.inverse_transform(model.transform(X)))
        rows = [(name, model.sample(n, random_state=0))]
        best, spread = sample_time(model)
        n_components = len(model._latent_density["weights"])
        rows.append(
            (
                f"  one calibration map ({n_components} components)",
                one_map_for_all_rows(model),
            )
        )
        rows.append(
            ("  calibrate_samples=False", refit_density(model, calibrate_samples=False))
        )
        if isinstance(model, skae.VariationalAutoEncoder):
            # A draw from p(x|z) rather than its mean.
            std = np.sqrt(model.noise_variance_)
            noise = std * np.random.default_rng(0).standard_normal((n, X.shape[1]))
            rows.append(
                ("  calibrate_samples=False + gaussian draw", rows[-1][1] + noise)
            )
            rows.append(
                (
                    "  latent_density='prior'",
                    refit_density(
                        model, latent_density="prior", calibrate_samples=True
                    ),
                )
            )
            prior = refit_density(model, calibrate_samples=False)
            rows.append(("  'prior', calibrate_samples=False (format 1)", prior))
            rows.append(("  'prior', calibrate_samples=False + draw", prior + noise))
        for i, (label, samples) in enumerate(rows):
            raw, rounded = memorised(samples)
            timing = f"{best:7.3f}+-{spread:.3f}s" if i == 0 else ""
            extra = (
                f"{recon:6.3f}" if i == 0 else "",
                f"{fit_time:7.1f}" if i == 0 else "",
                f"{density_time:9.2f}" if i == 0 else "",
            )
            print(
                f"{label:<46} {c2st(samples):6.3f} {extra[0]:>6} "
                f"{100 * raw:6.2f} {100 * rounded:6.2f} {timing:>14} "
                f"{extra[1]:>7} {extra[2]:>9}",
                flush=True,
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--models", default="", help="comma-separated parts of model names"
    )
    parser.add_argument(
        "--seeds", default="0", help="comma-separated random_state values"
    )
    args = parser.parse_args()
    models = [part for part in args.models.split(",") if part]
    # One thread for the classifier and numpy: on a shared 2-core machine
    # OpenMP's spinning threads otherwise slow everything by 10x or more.
    with threadpool_limits(1):
        main(models, [int(seed) for seed in args.seeds.split(",")])
