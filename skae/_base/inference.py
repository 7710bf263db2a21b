"""Batched, reproducible inference: how every output of a fitted model is computed.

``transform``, ``inverse_transform``, ``score_samples`` and ``sample`` all run
the trained module over the rows a batch at a time, so the extra memory stays
at one batch whatever the number of rows.
"""

import contextlib
import copy
from numbers import Integral

import numpy as np
import torch

from .._utils.runtime import as_tensor, torch_threads
from .._utils.warnings import warn
from .input import as_float32

#: Rows per inference batch: bounds the extra memory of transform & co. to a
#: few MB per layer whatever the number of rows. Read at call time.
INFERENCE_BATCH_SIZE = 4096

#: Most values in one inference batch's input or output rows: wide tables
#: get fewer rows per batch (209 at 20,000 features), so that a batch of
#: float64 rows stays at 32 MB.
INFERENCE_BATCH_VALUES = 2**22


class BatchedInference:
    """The fitted module's forward passes over a whole array, for the base class."""

    def _inference_module(self):
        """The trained module in eval mode, and the dtype to run it in.

        On the CPU inference runs in float64: float32 matrix products change
        in the last bits with the number of rows in a batch, and a sample's
        code should not depend on which other samples it is encoded with.
        Accelerators keep float32 (MPS has no float64).
        """
        module = self.net_.module_
        device = next(module.parameters()).device
        if device.type == "cpu":
            return copy.deepcopy(module).double().eval(), torch.float64, device
        return module.eval(), torch.float32, device

    @contextlib.contextmanager
    def _fit_summary_module(self):
        """The trained module in eval mode and float32, without a copy.

        For what ``fit`` computes once from its own training rows
        (``reconstruction_error_``, the latent density): those need no
        batch-size-independent codes, and the float64 copy of
        :meth:`_inference_module` cost as much as a third of an epoch at
        784 features. The module's training flags are restored after.
        """
        module = self.net_.module_
        modes = [(layer, layer.training) for layer in module.modules()]
        device = next(module.parameters()).device
        module.eval()
        try:
            yield module, torch.float32, device
        finally:
            for layer, training in modes:
                layer.training = training

    def _forward_batches(self, fn, X, n_outputs, rows=None, inference=None):
        """``fn(module, batch)`` over ``X``, ``rows`` at a time, as one array.

        ``rows`` defaults to ``INFERENCE_BATCH_SIZE``, read at call time,
        or fewer for rows wider than ``INFERENCE_BATCH_VALUES`` allows.
        ``inference`` is ``_inference_module()``'s result, for a caller that
        runs many small arrays through the same module (``sample``'s
        batches): building it copies the module.
        """
        if rows is None:
            widest = max(int(np.prod(X.shape[1:])), n_outputs or 1)
            rows = max(1, min(INFERENCE_BATCH_SIZE, INFERENCE_BATCH_VALUES // widest))
        module, dtype, device = inference or self._inference_module()
        self._check_inference_range(X, dtype, device)
        out_dtype = np.float32 if X.dtype == np.float32 else np.float64
        n_samples = X.shape[0]
        shape = (n_samples,) if n_outputs is None else (n_samples, n_outputs)
        out = np.empty(shape, dtype=out_dtype)
        n_threads = self.n_threads if isinstance(self.n_threads, Integral) else None
        with torch.no_grad(), torch_threads(n_threads):
            for start in range(0, n_samples, rows):
                stop = start + rows
                batch = as_tensor(X[start:stop]).to(device=device, dtype=dtype)
                out[start:stop] = fn(module, batch).cpu().numpy()
        self._warn_if_not_finite(X, out)
        return out

    def _warn_if_not_finite(self, X, out):
        # Values far beyond the training data's scale (1e308, say) overflow
        # the network's arithmetic; the NaN or inf they give would otherwise
        # surface far from their cause.
        bad = ~np.isfinite(out.reshape(len(out), -1)).all(axis=1)
        if bad.any():
            warn(
                f"{type(self).__name__} computed non-finite values for "
                f"{bad.sum()} of {len(out)} rows, whose inputs reach "
                f"{np.abs(X[bad]).max():.3g}: beyond what the network's "
                "arithmetic holds. Scale X as the training data was (the same "
                "StandardScaler or MinMaxScaler, in a Pipeline).",
                RuntimeWarning,
            )

    def _check_inference_range(self, X, dtype, device):
        # Accelerators infer in float32 (see _inference_module), where values
        # beyond its range would come out as NaN codes without a word.
        if dtype == torch.float32:
            as_float32(X, f"{type(self).__name__} computes on {device} in float32")
