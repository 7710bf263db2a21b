"""Real sizes: wide tables, wide codes and MNIST-sized data, measured in one run.

Prints, with each target of issue 25 beside the number:

1. **Width** (64, 784 and 20,000 features; ``--quick``: 64, 784, 5,000): a
   default ``AutoEncoder()`` fitted on digits and on 2,000 MNIST-like rows,
   and (at most 20 epochs) on a 2,000-row gene-expression-like table.
   For each: the
   fit time, the latent density's share of it (timed inside the fit), the
   density's stored size against the weights', the ``.safetensors`` file's
   JSON header and whole size, the pickle's size, and whether ``transform``
   is bit-identical after ``skae.load``.
2. **A wide code**: ``SparseAutoEncoder(n_components=4096, n_active=16)``
   on 200 x 64 rows with ``max_iter=1`` and 20, and its density's share of
   the fit.
3. **Sampling**: ``sample(10_000)`` at 784 features, the extra memory of
   ``sample(n)`` beyond the array it returns (tracemalloc), and what a
   request whose output cannot fit in memory gets.
4. **MNIST-sized training** (60,000 x 784; ``--quick``: 6,000): a 10-epoch
   ``AutoEncoder(n_components=32, early_stopping=False)`` fit (``init="pca"``
   and ``"random"``, every other default) against a hand-written torch loop
   of the same network (randperm, fused Adam, batch 200) at 1 and 2
   threads: the default's residual network (a linear path beside the
   784-128-32-128-784 layers) and ``init="random"``'s plain MLP. The
   contenders take turns, best of ``--repeats``; then the PCA start's own
   time, and which thread count ``n_threads="auto"`` chose.
4b. **A default fit at MNIST size** (early stopping on): its time, and its
   test MSE on 10,000 other rows against ``PCA(32)``'s.
5. **Peak memory of a default fit**, measured in a fresh subprocess
   (``VmHWM``), against data + weights + optimiser state: for a first
   fit, and after a warm-up fit that loads torch's and skorch's lazily
   imported code.
6. **Every estimator end to end on a wide table** (``sizes_wide.py``):
   fit, save / load, pickle, skops, ``sample`` and ONNX at 2,000 x 20,000.
7. **UMAPAutoEncoder at MNIST size** (``sizes_umap.py``): its default fit
   against umap-learn's ``UMAP().fit`` on 60,000 x 784 (``--quick``:
   6,000), both warmed up, taking turns; the held-out 5-NN accuracy of
   their 2-D codes.

The data are generated, nothing is downloaded:

- a gene-expression-like table: counts drawn from a negative binomial whose
  means have a low-rank, non-negative structure (cell types x gene
  programmes), then ``log1p``;
- MNIST-like images: ``load_digits`` upsampled from 8 x 8 to 24 x 24, padded
  to 28 x 28, shifted by up to 2 pixels each way and given a little noise.

Timings on a machine shared with other jobs are noisy: the load average is
printed at the start, and ratios are measured side by side.

Run: ``python benchmarks/bench_sizes.py [--quick] [--repeats 2]
[--sections 1,1b,2,3,4,4b,5,6,7]`` (1b: the density's stored size for every
estimator with ``sample``).
"""

import argparse
import io
import os
import pickle
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from functools import partial

import numpy as np
import torch
from hand_loop import randperm_loop
from scipy.ndimage import shift as nd_shift
from scipy.ndimage import zoom
from sizes_umap import section_umap
from sizes_wide import WIDE_TABLE, section_wide_end_to_end, tensor_bytes
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

import skae
from skae._support.pca_start import pca_start
from skae._utils.runtime import threads_for

BATCH = 200


# ------------------------------------------------------------------ data


def gene_table(n_rows, n_genes, rank=10, seed=0):
    """log1p of negative-binomial counts with a low-rank mean, float32."""
    rng = np.random.default_rng(seed)
    cells = rng.gamma(0.5, 1.0, size=(n_rows, rank))
    programmes = rng.gamma(0.3, 1.0, size=(rank, n_genes))
    depth = rng.lognormal(0.0, 0.3, size=(n_rows, 1))
    mean = 0.5 * depth * (cells @ programmes) + 1e-3
    dispersion = 2.0
    counts = rng.negative_binomial(dispersion, dispersion / (dispersion + mean))
    return np.log1p(counts).astype(np.float32)


def mnist_like(n_rows, seed=0):
    """28 x 28 digits from load_digits: upsampled, shifted, noisy, in [0, 1]."""
    return mnist_like_labelled(n_rows, seed)[0]


def mnist_like_labelled(n_rows, seed=0):
    """:func:`mnist_like`'s rows, and the digit each shows."""
    rng = np.random.default_rng(seed)
    digits = load_digits().images / 16.0
    big = np.stack([zoom(image, 3, order=1) for image in digits])  # 24 x 24
    big = np.pad(big, ((0, 0), (2, 2), (2, 2)))
    out = np.empty((n_rows, 28, 28), dtype=np.float32)
    picks = rng.integers(len(big), size=n_rows)
    moves = rng.integers(-2, 3, size=(n_rows, 2))
    for i, (pick, move) in enumerate(zip(picks, moves, strict=True)):
        out[i] = nd_shift(big[pick], move, order=0)
    out += rng.normal(0, 0.05, size=out.shape).astype(np.float32)
    return np.clip(out, 0, 1).reshape(n_rows, 784), load_digits().target[picks]


# ------------------------------------------------------------- measures


def weight_bytes(model):
    return sum(p.numel() * p.element_size() for p in model.net_.module_.parameters())


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def fit_timing_density(model, X):
    """``model.fit(X)``'s time and the part of it its latent density took.

    Timed inside the fit: there the density takes the codes of the training
    rows from ``reconstruction_error_``'s pass, which a refit alone encodes
    again.
    """
    spent = []
    fit_density = model._fit_latent_density

    def timed_density(*args):
        seconds, density = timed(fit_density, *args)
        spent.append(seconds)
        return density

    model._fit_latent_density = timed_density
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit_s, _ = timed(model.fit, X)
    finally:
        del model._fit_latent_density
    return fit_s, sum(spent)


def file_sizes(model, X):
    """Header bytes, file bytes, and whether load gives the same transform."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.safetensors")
        try:
            skae.save(model, path)
        except Exception as exc:  # the number is what failed
            return None, None, f"save failed: {exc}"
        with open(path, "rb") as file:
            header = int.from_bytes(file.read(8), "little")
        size = os.path.getsize(path)
        same = np.array_equal(skae.load(path).transform(X), model.transform(X))
    return header, size, "identical" if same else "DIFFERENT"


def mark(ok):
    return "ok" if ok else "MISSED"


# -------------------------------------------------------------- sections


def section_width(widths, wide_epochs):
    print(
        "\n1. Width: AutoEncoder() with every default (early stopping on); "
        f"beyond 784 features max_iter={wide_epochs}, which makes the density's "
        "share an upper bound of its share in a default fit"
    )
    print(
        "   targets: density fit <= 10% of fit; density stored <= 0.5x weights;"
        " header bounded"
    )
    head = (
        f"   {'data':<22} {'fit s':>6} {'dens s':>7} {'share':>6} "
        f"{'weights':>9} {'density':>9} {'ratio':>6} {'header':>9} "
        f"{'file':>9} {'pickle':>9}  load"
    )
    print(head)
    digits = load_digits().data.astype(np.float32) / 16
    for width in widths:
        if width == 64:
            name, X = "digits 1797x64", digits
        elif width == 784:
            name, X = "MNIST-like 2000x784", mnist_like(2000)
        else:
            name, X = f"genes 2000x{width}", gene_table(2000, width)
        params = {"max_iter": wide_epochs} if width > 784 else {}
        model = skae.AutoEncoder(random_state=0, **params)
        fit_s, density_s = fit_timing_density(model, X)
        weights = weight_bytes(model)
        density = tensor_bytes(model._latent_density)
        header, size, loaded = file_sizes(model, X)
        pickled = len(pickle.dumps(model))
        share = density_s / fit_s
        print(
            f"   {name:<22} {fit_s:6.1f} {density_s:7.2f} {share:6.0%} "
            f"{weights / 1e3:8.0f}K {density / 1e3:8.0f}K "
            f"{density / weights:6.2f} "
            f"{'-' if header is None else f'{header / 1e3:8.1f}K':>9} "
            f"{'-' if size is None else f'{size / 1e6:8.2f}M':>9} "
            f"{pickled / 1e6:8.2f}M  {loaded}"
            f"  [{mark(share <= 0.10)} {mark(density <= 0.5 * weights)}]",
            flush=True,
        )


def section_density_sizes(widths):
    print(
        "\n1b. The density's stored size, every estimator with sample(), one "
        "epoch on 1,000 rows (the size does not depend on training)"
    )
    print("   target: density stored <= 0.5x weights")
    data = {
        64: load_digits().data.astype(np.float32) / 16,
        784: mnist_like(1000),
    }
    for width in widths:
        X = data[width] if width in data else gene_table(1000, width)
        height = next(h for h in range(int(width**0.5), 0, -1) if width % h == 0)
        image = (1, height, width // height)
        models = {
            "AutoEncoder": skae.AutoEncoder,
            "DenoisingAutoEncoder": skae.DenoisingAutoEncoder,
            "SparseAutoEncoder": skae.SparseAutoEncoder,
            "VariationalAutoEncoder": skae.VariationalAutoEncoder,
            f"ConvAutoEncoder {image}": partial(
                skae.ConvAutoEncoder, image_shape=image
            ),
        }
        for name, make in models.items():
            model = make(max_iter=1, random_state=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X)
            density = model._latent_density
            weights, stored = weight_bytes(model), tensor_bytes(density)
            maps = density["component_quantiles"]
            if maps is None:
                maps = "no maps"
            else:
                maps = f"{len(maps)} maps of {maps.shape[2]} levels"
            print(
                f"   {width:>6} {name:<32} weights {weights / 1e3:8.0f}K density "
                f"{stored / 1e3:7.0f}K = {stored / weights:4.2f}x "
                f"({len(density['weights'])} components, "
                f"{maps})"
                f"  [{mark(stored <= 0.5 * weights)}]",
                flush=True,
            )


def section_wide_code(budgets, repeats):
    print(
        "\n2. A wide code: SparseAutoEncoder(n_components=4096, n_active=16) on "
        "200 x 64 (the issue's example, max_iter=1, is a fit of one epoch); "
        f"median (range) of {repeats} fits"
    )
    X = load_digits().data[:200].astype(np.float32) / 16
    # A warm-up fit first: whatever ran before, torch's and skorch's lazily
    # loaded code is not timed.
    warm_up = skae.SparseAutoEncoder(n_components=64, max_iter=1, random_state=0)
    fit_timing_density(warm_up, X[:50])
    for max_iter in budgets:
        fits, shares = [], []
        # A one-epoch fit takes a tenth of a second: one draw of the
        # machine's noise would decide the share.
        for _ in range(repeats):
            model = skae.SparseAutoEncoder(
                n_components=4096, n_active=16, max_iter=max_iter, random_state=0
            )
            fit_s, density_s = fit_timing_density(model, X)
            fits.append(fit_s)
            shares.append(density_s / fit_s)
        alone_s, _ = timed(model._fit_latent_density, X)
        share = np.median(shares)
        print(
            f"   max_iter={max_iter:<3} fit {np.median(fits):5.2f} s "
            f"({model.n_iter_} epochs), density {share:.0%} of the fit "
            f"({min(shares):.0%}-{max(shares):.0%}; target <= 10%) "
            f"[{mark(share <= 0.1)}] (refitted alone, encoding the rows again: "
            f"{alone_s:.3f} s); density stored "
            f"{tensor_bytes(model._latent_density) / 1e6:.2f} MB, weights "
            f"{weight_bytes(model) / 1e6:.2f} MB"
        )


def section_sampling(model):
    print("\n3. Sampling at 784 features: AutoEncoder(8), 2 epochs on 2000 rows")
    # The first call also computes the decoder's side of the maps.
    times = [timed(model.sample, 10_000, random_state=0)[0] for _ in range(4)]
    first, times = times[0], times[1:]
    print(
        f"   sample(10_000): best {min(times):.2f} s, spread "
        f"{max(times) - min(times):.2f} s (target < 1 s) "
        f"[{mark(min(times) < 1)}]; the first call {first:.2f} s [{mark(first < 1)}]"
    )
    n = 50_000
    tracemalloc.start()
    out = model.sample(n, random_state=0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(
        f"   sample({n}): returned {out.nbytes / 1e6:.0f} MB, peak traced "
        f"{peak / 1e6:.0f} MB, extra {(peak - out.nbytes) / 1e6:.0f} MB "
        f"(numpy allocations; target: one batch)"
    )
    del out
    try:
        model.sample(10**12)
        print("   sample(10**12): no error [MISSED]")
    except (MemoryError, ValueError) as exc:
        print(
            f"   sample(10**12) refused up front: {type(exc).__name__}: "
            f"{str(exc)[:150]}"
        )


def hand_loop(X, n_threads, epochs, network):
    """The loop a user would write: randperm, fused Adam, batch 200."""
    randperm_loop(
        X,
        32,
        n_threads=n_threads,
        epochs=epochs,
        batch_size=BATCH,
        fused=True,
        network=network,
    )


def skae_fit(X, init, epochs):
    model = skae.AutoEncoder(
        n_components=32,
        init=init,
        max_iter=epochs,
        n_iter_no_change=epochs,
        early_stopping=False,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    return model


#: Which hand-written loop trains the network of which skae fit.
SAME_NETWORK = {"pca": "residual", "random": "mlp"}


def section_mnist(n_rows, epochs, repeats):
    print(
        f"\n4. MNIST-sized: {n_rows} x 784, {epochs} epochs, batch 200; "
        f"best of {repeats}, contenders taking turns"
    )
    X = mnist_like(n_rows)
    contenders = {
        ("skae", "pca", None): lambda: skae_fit(X, "pca", epochs),
        ("skae", "random", None): lambda: skae_fit(X, "random", epochs),
    }
    for network in ("residual", "mlp"):
        for threads in (1, 2):
            contenders["loop", network, threads] = partial(
                hand_loop, X, threads, epochs, network
            )
    names = {
        ("skae", "pca", None): "AutoEncoder(32) every default (init='pca')",
        ("skae", "random", None): "AutoEncoder(32) init='random'",
        ("loop", "residual", 1): "loop, the default's residual network, 1 thread",
        ("loop", "residual", 2): "loop, the default's residual network, 2 threads",
        ("loop", "mlp", 1): "loop, the plain MLP (init='random'), 1 thread",
        ("loop", "mlp", 2): "loop, the plain MLP (init='random'), 2 threads",
    }
    times = {key: [] for key in contenders}
    for _ in range(repeats):
        for key, run in contenders.items():
            times[key].append(timed(run)[0])
    for key, values in times.items():
        values = np.asarray(values)
        print(
            f"   {names[key]:<48} {values.min():7.1f} s "
            f"(spread {values.max() - values.min():.1f} s)"
        )
    best = {}
    for network in ("residual", "mlp"):
        one, two = (min(times["loop", network, t]) for t in (1, 2))
        best[network] = (1, one) if one <= two else (2, two)
    default = min(times["skae", "pca", None])
    random_init = min(times["skae", "random", None])
    threads, loop = best["residual"]
    print(
        f"   default fit / the same network's loop at its better thread count "
        f"({threads}) = {default / loop:.2f}x (target <= 1.05x with the PCA "
        f"start) [{mark(default <= 1.05 * loop)}]"
    )
    threads, loop = best["mlp"]
    print(
        f"   init='random' fit / the MLP's loop ({threads} thread(s)) = "
        f"{random_init / loop:.2f}x (target <= 1.0x) [{mark(random_init <= loop)}]"
    )
    best_threads, loop = best["residual"]
    start = timed(pca_start, X, 32, lambda: 0, torch.get_num_threads())[0]
    print(
        f"   the PCA start alone: {start:.2f} s, {start / loop:.1%} of its "
        f"network's loop (allowed: 5%) [{mark(start <= 0.05 * loop)}]"
    )
    network = skae.AutoEncoder(n_components=32)._build_module(784)
    n_weights = sum(p.numel() for p in network.parameters())
    chosen = threads_for("auto", BATCH * n_weights)
    chosen = torch.get_num_threads() if chosen is None else chosen
    print(
        f"   n_threads='auto' chose {chosen} thread(s); the loop was faster "
        f"at {best_threads} [{mark(chosen == best_threads)}]"
    )
    model = skae_fit(X, "pca", 1)
    transform_s = min(timed(model.transform, X)[0] for _ in range(2))
    print(
        f"   transform of {n_rows} rows: {transform_s:.2f} s "
        f"({transform_s * 10_000 / n_rows:.2f} s per 10,000 rows; target < 1 s)"
    )
    return model


def section_default_mnist(n_train, n_test):
    print(
        f"\n4b. A default fit at MNIST size: AutoEncoder(n_components=32) on "
        f"{n_train} x 784, every default (early stopping on); test MSE on "
        f"{n_test} other rows against PCA(32)'s"
    )
    X = mnist_like(n_train + n_test, seed=1)
    train, test = X[:n_train], X[n_train:]
    model = skae.AutoEncoder(n_components=32, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_s, _ = timed(model.fit, train)
    pca = PCA(32, random_state=0).fit(train)
    pca_mse, ae_mse = (
        float(np.mean((fitted.inverse_transform(fitted.transform(test)) - test) ** 2))
        for fitted in (pca, model)
    )
    print(
        f"   fit {fit_s:.0f} s, {model.n_iter_} epochs (target <= 180 s) "
        f"[{mark(fit_s <= 180)}]; test MSE {ae_mse:.5f} against PCA's "
        f"{pca_mse:.5f} = {ae_mse / pca_mse:.2f}x (target <= 0.8x) "
        f"[{mark(ae_mse <= 0.8 * pca_mse)}]"
    )


CHILD = """
import warnings
import numpy as np
import skae
X = np.load({path!r})
warnings.simplefilter("ignore")
settings = dict(n_components=8, max_iter=2, random_state=0)
if {warm!r}:
    # Libraries torch and skorch load on a first fit (about 120 MB of code
    # and tables), once per process whatever the data's size.
    skae.AutoEncoder(**settings).fit(X[:50])
def status(field):
    # In KB. VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the
    # parent process across fork and exec (the benchmark's own peak, from
    # building the data), which made this measurement move between runs.
    with open("/proc/self/status") as lines:
        return next(int(l.split()[1]) for l in lines if l.startswith(field + ":"))
before = status("VmRSS")
model = skae.AutoEncoder(**settings).fit(X)
peak = status("VmHWM")
weights = sum(p.numel() * 4 for p in model.net_.module_.parameters())
print(X.nbytes, weights, before * 1024, peak * 1024)
"""


def section_memory(width):
    print(
        "\n5. Peak memory of a default fit (max_iter=2), in a fresh subprocess "
        "that loads the data from a .npy file (target: <= 3x data + weights + "
        "Adam's two moments); 'first fit' counts the libraries a process loads "
        "on its first fit, 'after a warm-up' starts after a fit on 50 rows"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for name, make in (
        (f"genes 2000x{width}", lambda: gene_table(2000, width)),
        ("MNIST-like 60000x784", lambda: mnist_like(60_000)),
    ):
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "X.npy")
            np.save(path, make())
            for warm in (False, True):
                out = subprocess.run(
                    [sys.executable, "-c", CHILD.format(path=path, warm=warm)],
                    capture_output=True,
                    text=True,
                    check=True,
                    env=env,
                ).stdout.split()
                data_b, weights_b, before, peak = map(int, out)
                budget = data_b + 3 * weights_b
                used = data_b + peak - before  # the data, and fit's growth of the peak
                print(
                    f"   {name:<22} {'after a warm-up' if warm else 'first fit':<16}"
                    f" data {data_b / 1e6:5.0f} MB, weights x3 "
                    f"{3 * weights_b / 1e6:5.0f} MB; data + fit's growth of the "
                    f"peak {used / 1e6:6.0f} MB = {used / budget:.2f}x "
                    f"[{mark(used <= 3 * budget)}]",
                    flush=True,
                )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--sections",
        default="1,1b,2,3,4,4b,5,6,7",
        help="comma-separated sections to run (default: all)",
    )
    args = parser.parse_args()
    run = set(args.sections.split(","))
    print(
        f"torch {torch.__version__}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}; times are noisy on a shared machine"
    )
    wide = 5000 if args.quick else 20_000
    if "1" in run:
        section_width((64, 784, wide), wide_epochs=5 if args.quick else 20)
    if "1b" in run:
        section_density_sizes((64, 784, wide))
    if "2" in run:
        section_wide_code((1,) if args.quick else (1, 20), 1 if args.quick else 5)
    if "3" in run:
        model784 = skae.AutoEncoder(n_components=8, max_iter=2, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model784.fit(mnist_like(2000))
        section_sampling(model784)
    if "5" in run:
        section_memory(wide)
    if "4" in run:
        section_mnist(
            6000 if args.quick else 60_000,
            2 if args.quick else 10,
            1 if args.quick else args.repeats,
        )
    if "4b" in run:
        if args.quick:
            section_default_mnist(6000, 1000)
        else:
            section_default_mnist(60_000, 10_000)
    if "6" in run:
        section_wide_end_to_end(*WIDE_TABLE[args.quick], max_iter=3)
    if "7" in run:
        section_umap(mnist_like_labelled, 6000 if args.quick else 60_000, args.repeats)


if __name__ == "__main__":
    sys.stdout = io.TextIOWrapper(sys.stdout.buffer, line_buffering=True)
    main()
