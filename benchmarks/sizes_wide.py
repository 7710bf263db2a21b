"""Section 6 of bench_sizes.py: every estimator end to end on a wide table.

Kept apart from bench_sizes.py so that each file stays under 400 lines.
For each estimator, fitted briefly (``max_iter``, every other default) on a
gene-expression-like table, prints: the fit time; the bytes of the weights,
of Adam's state (its two moments and step counts) and of the latent density;
the ``skae.save`` file, the pickle and the skops file, each with its ratio to
weights + optimiser state + density (target <= 1.3x); whether ``transform`` is
bit-identical after ``skae.load``, unpickling and ``skops.io.load``; whether
``sample`` works; whether ``skae.to_onnx`` exports, and the largest absolute
difference between onnxruntime's output and ``transform``.

Run alone: ``python benchmarks/sizes_wide.py [--quick]`` (``--quick``: 300 x
3,000 instead of 2,000 x 20,000).
"""

import argparse
import io
import os
import pickle
import sys
import tempfile
import time
import warnings

import numpy as np
import torch

import skae

TARGET = 1.3
#: (rows, genes) of the table, by ``--quick``.
WIDE_TABLE = {True: (300, 3000), False: (2000, 20_000)}


def tensor_bytes(value):
    """Bytes of every tensor or array inside ``value`` (dicts, lists, tuples)."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, dict):
        return sum(tensor_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(tensor_bytes(v) for v in value)
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return tensor_bytes(vars(value))
    return 0


def state_bytes(model):
    """Weights (and buffers), Adam's state, and the latent density, in bytes."""
    module = model.net_.module_
    weights = tensor_bytes(dict(module.state_dict()))
    optimiser = tensor_bytes(model.net_.optimizer_.state_dict()["state"])
    density = tensor_bytes(getattr(model, "_latent_density", None))
    return weights, optimiser, density


def round_trips(model, X, reference):
    """Sizes of the three stored forms, and whether each transforms the same."""
    import skops.io as sio

    out = {}
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.safetensors")
        try:
            skae.save(model, path)
            loaded = skae.load(path)
            out["file"] = (os.path.getsize(path), same(loaded, X, reference))
        except Exception as exc:  # the failure is the result
            out["file"] = (None, f"{type(exc).__name__}: {str(exc)[:80]}")
        try:
            blob = pickle.dumps(model)
            out["pickle"] = (len(blob), same(pickle.loads(blob), X, reference))
        except Exception as exc:
            out["pickle"] = (None, f"{type(exc).__name__}: {str(exc)[:80]}")
        path = os.path.join(folder, "model.skops")
        try:
            sio.dump(model, path)
            loaded = sio.load(path, trusted=skae.skops_trusted_types())
            out["skops"] = (os.path.getsize(path), same(loaded, X, reference))
        except Exception as exc:
            out["skops"] = (None, f"{type(exc).__name__}: {str(exc)[:80]}")
    return out


def same(model, X, reference):
    return "yes" if np.array_equal(model.transform(X), reference) else "NO"


def onnx_check(model, X, reference):
    """'ok' and the largest difference to transform, or what failed."""
    try:
        import onnxruntime as ort

        onx = skae.to_onnx(model, X[:1])
        session = ort.InferenceSession(
            onx.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        got = session.run(None, {"X": X[:200]})[0]
        return f"ok {np.max(np.abs(got - reference[:200])):.1e}"
    except Exception as exc:
        return f"FAILED {type(exc).__name__}: {str(exc)[:80]}"


def sample_check(model):
    if not hasattr(model, "sample"):
        return "-"
    try:
        drawn = model.sample(5, random_state=0)
        return "ok" if np.isfinite(drawn).all() else "NOT FINITE"
    except Exception as exc:
        return f"FAILED {type(exc).__name__}: {str(exc)[:60]}"


def contenders(n_genes, max_iter):
    short = dict(max_iter=max_iter, random_state=0)
    height = next(h for h in range(int(n_genes**0.5), 0, -1) if n_genes % h == 0)
    image = (1, height, n_genes // height)
    return {
        "AutoEncoder": skae.AutoEncoder(**short),
        "DenoisingAutoEncoder": skae.DenoisingAutoEncoder(**short),
        "SparseAutoEncoder": skae.SparseAutoEncoder(**short),
        "VariationalAutoEncoder": skae.VariationalAutoEncoder(**short),
        f"ConvAutoEncoder {image}": skae.ConvAutoEncoder(image_shape=image, **short),
        "AutoEncoderImputer": skae.AutoEncoderImputer(**short),
        "UMAPAutoEncoder": skae.UMAPAutoEncoder(**short),
    }


def ratio(size, stored):
    if size is None:
        return f"{'-':>9} {'':>5}"
    return f"{size / 1e6:8.1f}M {size / stored:4.2f}x"


def section_wide_end_to_end(n_rows, n_genes, max_iter):
    from bench_sizes import gene_table

    print(
        f"\n6. Wide data end to end: every estimator, max_iter={max_iter}, on a "
        f"{n_rows} x {n_genes} gene-expression-like table (the imputer's has "
        "10% of its entries missing)"
    )
    print(
        f"   targets: file, pickle and skops <= {TARGET}x (weights + optimiser "
        "+ density); transform identical after each; sample ok; ONNX ok"
    )
    print(
        f"   {'estimator':<34} {'fit s':>6} {'weights':>8} {'optim':>8} "
        f"{'density':>8} {'file':>15} {'pickle':>15} {'skops':>15} "
        "load/unpickle/skops  sample  onnx (max |diff|)"
    )
    X = gene_table(n_rows, n_genes)
    holes = X.copy()
    holes[np.random.default_rng(0).random(X.shape) < 0.1] = np.nan
    for name, model in contenders(n_genes, max_iter).items():
        data = holes if name == "AutoEncoderImputer" else X
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(data)
        except Exception as exc:
            print(f"   {name:<34} fit FAILED {type(exc).__name__}: {exc}"[:300])
            continue
        fit_s = time.perf_counter() - start
        reference = model.transform(data)
        weights, optimiser, density = state_bytes(model)
        stored = weights + optimiser + density
        trips = round_trips(model, data, reference)
        sizes_ok = all(
            size is not None and size <= TARGET * stored for size, _ in trips.values()
        )
        identical = "/".join(str(result) for _, result in trips.values())
        sampled = sample_check(model)
        exported = onnx_check(model, data, reference)
        all_ok = (
            sizes_ok
            and identical == "yes/yes/yes"
            and sampled in ("ok", "-")
            and exported.startswith("ok")
        )
        print(
            f"   {name:<34} {fit_s:6.1f} {weights / 1e6:7.1f}M "
            f"{optimiser / 1e6:7.1f}M {density / 1e6:7.2f}M "
            f"{ratio(trips['file'][0], stored)} {ratio(trips['pickle'][0], stored)} "
            f"{ratio(trips['skops'][0], stored)} {identical:<20} {sampled:<7} "
            f"{exported}  [{'ok' if all_ok else 'MISSED'}]",
            flush=True,
        )


if __name__ == "__main__":
    sys.stdout = io.TextIOWrapper(sys.stdout.buffer, line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--max-iter", type=int, default=3)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, load average {os.getloadavg()[0]:.1f}")
    section_wide_end_to_end(*WIDE_TABLE[args.quick], max_iter=args.max_iter)
