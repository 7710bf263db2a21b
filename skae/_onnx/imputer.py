"""AutoEncoderImputer's ``transform`` as a torch function, for the exporter.

``transform`` works on numpy arrays around the module (the missing mask, the
packing, dropped and indicator columns); the graph needs all of it in one
function of the raw rows, which this builds from the fitted estimator. The
tests hold its graph to ``transform``'s output.
"""

import numpy as np
import torch

from .._support.imputer import is_nan


def imputer_transform(estimator):
    """``fn(module, x)``: the imputer's ``transform`` of raw rows ``x``, in torch."""
    nan = is_nan(estimator.missing_values)
    marker = None if nan else float(estimator.missing_values)
    empty = torch.as_tensor(estimator._empty_features, dtype=torch.long)
    kept = np.setdiff1d(np.arange(estimator.n_features_in_), estimator._empty_features)
    kept = torch.as_tensor(kept, dtype=torch.long)
    indicator = torch.as_tensor(estimator._indicator_features, dtype=torch.long)
    keep_empty = estimator.keep_empty_features
    add_indicator = estimator.add_indicator

    def transform(module, x):
        missing = torch.isnan(x) if nan else x == marker
        zeros = torch.zeros_like(x)
        packed = torch.cat([torch.where(missing, zeros, x), (~missing).to(x.dtype)], 1)
        out = torch.where(missing, module.reconstruct(packed), x)
        if keep_empty and len(empty):
            # A feature with no value in fit: its missing entries read 0.
            out = out.index_copy(
                1, empty, torch.where(missing[:, empty], zeros[:, empty], out[:, empty])
            )
        elif not keep_empty:
            out = out[:, kept]
        if add_indicator:
            out = torch.cat([out, missing[:, indicator].to(x.dtype)], 1)
        return out

    return transform
