"""Train an AutoEncoder on a 2,000,000 x 64 array on disk, one chunk at a time.

The data never sit in memory as a whole: the script writes a synthetic data
set (64 features driven by 8 hidden factors) into a ``.npy`` file in a
temporary directory, chunk by chunk, then trains with
:meth:`~skae.AutoEncoder.partial_fit`, one call per chunk, mapping only the
chunk being trained on. Each call is one pass over its chunk, so an epoch is
one loop over the chunks; the chunk order is reshuffled at every epoch and
the rows inside a chunk are reshuffled by the estimator (``shuffle=True``).

As a yardstick, an :class:`~sklearn.decomposition.IncrementalPCA` with the
same number of components sees the same chunks, and both are scored on rows
held out from training.

Why map one window per chunk rather than slice one ``np.load(...,
mmap_mode="r")``? Both read only what they touch. But the pages of a memory
map stay mapped, and counted in the process's resident memory (RSS), until
the map is closed: slicing a single map through a 512 MB file ends with about
512 MB of RSS. The kernel can drop those pages at will, as they are clean
file cache, so that is harmless; a window per chunk just keeps the number
honest. Chunk sizes that are a multiple of ``batch_size`` keep the batches
the same as ``fit``'s would be.

Run::

    python examples/train_on_memmap.py                # 2,000,000 rows, 1 epoch
    python examples/train_on_memmap.py --rows 200000 --epochs 2
    python examples/train_on_memmap.py --data my_array.npy   # your own (n, d) .npy

The last line printed is a one-line summary (used by
``benchmarks/bench_scale.py``).
"""

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import IncrementalPCA
from sklearn.utils import gen_batches

from skae import AutoEncoder

N_FEATURES, N_FACTORS = 64, 8


def write_synthetic(path, n_rows, chunk_rows=20_000, seed=0):
    """Write ``n_rows`` x 64 float32 rows to a ``.npy`` file, a chunk at a time.

    Each row is a smooth non-linear function of 8 Gaussian factors plus a
    little noise, so 8 components can explain most of it but not linearly.
    """
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((N_FACTORS, 32)) / np.sqrt(N_FACTORS)
    lifting = rng.standard_normal((32, N_FEATURES)) / np.sqrt(32)
    # open_memmap writes the header and sizes the file without touching its
    # pages; the rows are then written through an ordinary file handle.
    header = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.float32, shape=(n_rows, N_FEATURES)
    )
    offset = header.offset
    del header
    with open(path, "r+b") as f:
        f.seek(offset)
        for rows in gen_batches(n_rows, chunk_rows):
            n = rows.stop - rows.start
            factors = rng.standard_normal((n, N_FACTORS))
            X = np.tanh(factors @ mixing) @ lifting
            X += 0.05 * rng.standard_normal(X.shape)
            X.astype(np.float32).tofile(f)


def npy_layout(path):
    """dtype, byte offset of the data and shape of the array in a ``.npy`` file."""
    whole = np.load(path, mmap_mode="r")  # reads the header, maps but touches nothing
    return whole.dtype, whole.offset, whole.shape


def map_rows(path, layout, rows):
    """Rows ``rows`` (a slice) of a 2-d ``.npy`` file, as a memmap of just those rows.

    The map, and the memory its pages count for, goes away with the array.
    """
    dtype, offset, (_, n_features) = layout
    return np.memmap(
        path,
        dtype=dtype,
        mode="r",
        offset=offset + rows.start * dtype.itemsize * n_features,
        shape=(rows.stop - rows.start, n_features),
    )


def peak_rss_mb():
    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--test-rows", type=int, default=20_000)
    parser.add_argument("--data", type=Path, help="train on this .npy instead")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="skae-memmap-") as tmp:
        path = args.data
        if path is None:
            path = Path(tmp) / "X.npy"
            start = time.perf_counter()
            write_synthetic(path, args.rows)
            print(f"wrote {path} in {time.perf_counter() - start:.1f} s")
        layout = npy_layout(path)
        _, _, (n_rows, n_features) = layout
        file_mb = path.stat().st_size / 2**20
        print(f"data: {n_rows:,} x {n_features} on disk, {file_mb:,.0f} MB")

        # The last rows are held out; the rest is cut into chunks.
        n_test = min(args.test_rows, n_rows // 10)
        n_train = n_rows - n_test
        train_chunks = list(gen_batches(n_train, args.chunk_rows))
        test_chunks = [
            slice(n_train + rows.start, n_train + rows.stop)
            for rows in gen_batches(n_test, args.chunk_rows)
        ]

        # batch_size="auto" is 200 rows: with chunks of a multiple of 200,
        # every batch is a full one except the very last.
        ae = AutoEncoder(n_components=N_FACTORS, random_state=0)
        rng = np.random.default_rng(0)

        rss_before = peak_rss_mb()
        train_seconds = 0.0
        for epoch in range(args.epochs):
            for i in rng.permutation(len(train_chunks)):
                chunk = map_rows(path, layout, train_chunks[i])
                start = time.perf_counter()
                ae.partial_fit(chunk)
                train_seconds += time.perf_counter() - start
            print(
                f"epoch {epoch + 1}: reconstruction MSE on the last chunk "
                f"{ae.reconstruction_error_:.4f}"
            )
        rows_per_s = args.epochs * n_train / train_seconds
        rss_training = peak_rss_mb()

        # The yardstick, after the measurements: its SVDs need memory of their own.
        ipca = IncrementalPCA(n_components=N_FACTORS)
        for rows in train_chunks:
            ipca.partial_fit(map_rows(path, layout, rows))

        ae_se = ipca_se = 0.0
        for rows in test_chunks:
            chunk = np.asarray(map_rows(path, layout, rows), dtype=np.float64)
            ae_se -= ae.score_samples(chunk).sum()
            ipca_rec = ipca.inverse_transform(ipca.transform(chunk))
            ipca_se += np.mean((chunk - ipca_rec) ** 2, axis=1).sum()
        print(
            f"held-out MSE on {n_test:,} rows: AutoEncoder {ae_se / n_test:.4f}, "
            f"IncrementalPCA {ipca_se / n_test:.4f} ({N_FACTORS} components each)"
        )
        print(
            f"memmap training: {n_rows:,} rows x {n_features}, "
            f"{args.epochs} epoch(s), chunks of {args.chunk_rows:,}: "
            f"{rows_per_s:,.0f} rows/s, peak RSS {rss_training:,.0f} MB "
            f"(before training {rss_before:,.0f} MB, file {file_mb:,.0f} MB)"
        )


if __name__ == "__main__":
    main()
