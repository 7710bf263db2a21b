"""The sparse-autoencoder field's numbers for a fitted estimator: FVU, L0, dead."""

import numpy as np

#: Rows encoded at a time: the codes of millions of rows never exist at once.
CHUNK_ROWS = 4096


def code_metrics(estimator, X):
    """FVU, L0 and dead share of ``estimator``'s codes on the validated rows ``X``.

    See :meth:`skae.SparseAutoEncoder.code_metrics`.
    """
    n_units = estimator._n_features_out
    fired = np.zeros(n_units, dtype=bool)
    squared_error = n_nonzero = 0.0
    total, total_squares = 0.0, 0.0
    for rows in np.array_split(np.arange(len(X)), max(1, len(X) // CHUNK_ROWS)):
        chunk = np.asarray(X[rows], dtype=np.float64)
        codes = estimator._forward_batches(estimator._encode_batch, chunk, n_units)
        decoded = estimator._forward_batches(
            estimator._decode_batch, codes, chunk.shape[1]
        )
        squared_error += float(((chunk - decoded) ** 2).sum())
        total = total + chunk.sum(axis=0)
        total_squares += float((chunk**2).sum())
        nonzero = codes != 0
        n_nonzero += float(nonzero.sum())
        fired |= nonzero.any(axis=0)
    # sum((x - mean)**2) over every entry, from the sums of the chunks.
    variance = total_squares - float((np.asarray(total) ** 2).sum()) / len(X)
    return {
        "fvu": squared_error / variance if variance > 0 else float("nan"),
        "l0": n_nonzero / len(X),
        "dead_fraction": float(np.mean(~fired)),
    }
