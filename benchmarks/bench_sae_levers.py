"""One ``sae_topk`` fit on a bench_sae.py table, with the levers one may pull.

Prints one JSON line: the held-out FVU, L0, dead share and MMCS of the
codes refined with each number of sweeps asked for (``r0`` is the
encoder's own), the fit time, the share of latents dead at the end of
training, and ``train_fvu``: the last epoch's mean training loss over the
training rows' variance (the encoder's codes, in training). This is how the
levers the user guide's "Sparse autoencoders for interpretability" lists
for the d=128 table were measured, one run each.

Run, e.g.: ``python benchmarks/bench_sae_levers.py --epochs 10 --hold 0.5``
(the large table with ``learning_rate="linear"``); ``--hold 0`` decays from
the first epoch; no ``--hold``: a constant rate. ``--d 64 --features 512
--k 5 --rows 40000 --data-seed 0 --epochs 20`` is the small table.
``--magnitudes uniform`` draws the active features' magnitudes from
U(0, 1) rather than Exp(1) (bench_sae.py's default before 2026-12-03);
``--sparsity sae_batchtopk`` fits BatchTopK.
"""

import argparse
import json
import time
import warnings

import torch
from sae_common import metrics, superposition
from sklearn.exceptions import ConvergenceWarning

from skae import SparseAutoEncoder
from skae._net import LinearDecay


class HeldDecay(SparseAutoEncoder):
    """sae_topk with LinearDecay(hold) for any hold (``"linear"``: 0.5)."""

    hold = None

    def _training_callbacks(self):
        return [] if self.hold is None else [("decay", LinearDecay(self.hold))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument("--features", type=int, default=4096)
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--data-seed", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--hold", type=float, default=None)
    parser.add_argument("--alpha-aux", type=float, default=1 / 32)
    parser.add_argument("--sweeps", default="0,3")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--sparsity", default="sae_topk", choices=["sae_topk", "sae_batchtopk"]
    )
    parser.add_argument(
        "--magnitudes", default="exponential", choices=["uniform", "exponential"]
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X, D = superposition(
        args.d,
        args.features,
        args.k,
        args.rows + 10_000,
        seed=args.data_seed,
        magnitudes=args.magnitudes,
    )
    X_train, X_test = X[: args.rows], X[args.rows :]
    sae = HeldDecay(
        n_components=args.features,
        n_active=args.k,
        sparsity=args.sparsity,
        batch_size=args.batch_size,
        learning_rate_init=args.learning_rate,
        alpha_aux=args.alpha_aux,
        max_iter=args.epochs,
        tol=0.0,
        n_iter_no_change=args.epochs,
        random_state=0,
        n_threads=args.threads,
        latent_density=None,
    )
    sae.hold = args.hold
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sae.fit(X_train)
    result = {**vars(args), "fit_s": round(time.perf_counter() - start, 1)}
    variance = float(((X_train - X_train.mean(axis=0)) ** 2).mean())
    result["train_fvu"] = round(sae.loss_curve_[-1] / variance, 4)
    result["dead_fraction_"] = sae.dead_fraction_
    for sweeps in map(int, args.sweeps.split(",")):
        sae.net_.module_.refine_sweeps = sweeps
        scores = metrics(sae.transform, sae.inverse_transform, sae.atoms_, X_test, D)
        result[f"r{sweeps}"] = {key: round(v, 4) for key, v in scores.items()}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
