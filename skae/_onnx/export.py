"""``skae.to_onnx``, importable without onnx: it imports :mod:`skae.onnx` on call."""


def to_onnx(model, X_sample, *, method="transform", target_opset=None):
    """Convert a fitted skae estimator, or a pipeline holding some, to ONNX.

    The estimator's ``transform`` is exported from its torch module with
    torch's ONNX exporter and placed in the graph skl2onnx builds for the
    rest, so ``model`` may be any scikit-learn Pipeline, ColumnTransformer
    or FeatureUnion whose other steps skl2onnx converts. The first dimension
    (the number of rows) of the graph's input and outputs is dynamic.
    Needs the ``onnx`` extra: ``pip install "skae[onnx]"``.

    Parameters
    ----------
    model : estimator
        A fitted skae estimator, or a fitted scikit-learn meta-estimator
        (``Pipeline``, ``ColumnTransformer``, ``FeatureUnion`` ...)
        holding skae estimators; the fitted parts are exported (a
        ColumnTransformer's ``transformers_``). A fitted search
        (``GridSearchCV`` ...) exports its ``best_estimator_``.

    X_sample : ndarray of shape (n_samples, n_features)
        A few rows of the input; only its dtype and number of columns are
        used. float32 gives a float32 graph. With float64 the graph takes and
        returns doubles, but a skae estimator computes in float32 inside it
        (it was trained in float32): its output then agrees with
        ``transform`` to about 1e-5 relative, not to float64's precision.

    method : {"transform", "inverse_transform"}, default="transform"
        For a skae estimator, which method the graph computes; for
        ``"inverse_transform"``, ``X_sample`` holds codes. A pipeline's graph
        always has the outputs skl2onnx gives it: ``transform``'s for a
        transformer, labels and probabilities for a classifier.

    target_opset : int or None, default=None
        ONNX opset of the graph, at least 18 (the oldest torch's exporter
        writes); None takes the latest opset skl2onnx was tested with.

    Returns
    -------
    onx : onnx.ModelProto
        The graph, with input ``"X"``. A transformer's output is
        ``"variable"``; a classifier's are ``"label"`` and ``"probabilities"``
        (an array of shape (n_samples, n_classes), as ``predict_proba``).
        Save it with ``onnx.save`` or ``onx.SerializeToString()``.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        When ``model``, or a skae estimator in it, is not fitted.
    TypeError
        When a part of ``model`` cannot be converted: a type skl2onnx has no
        converter for, a converter refusing its settings (a
        ``FunctionTransformer`` with a function), a search fitted with
        ``refit=False``.

    See Also
    --------
    skae.save : Save a model to load it back in Python.

    Notes
    -----
    Importing :mod:`skae.onnx` registers the converters, after which
    ``skl2onnx.to_onnx`` converts pipelines holding skae estimators too. A
    :class:`~skae.VariationalAutoEncoder` exports its posterior mean (its
    ``transform``); :class:`~skae.AutoEncoderImputer` its whole
    ``transform`` (the missing mask, the network's values in the holes, the
    dropped and indicator columns), and has no ``"inverse_transform"``.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from skae import AutoEncoder, to_onnx
    >>> X = np.random.default_rng(0).random((100, 8), dtype=np.float32)
    >>> ae = AutoEncoder(n_components=2, max_iter=5, random_state=0).fit(X)
    >>> onx = to_onnx(ae, X[:1])
    >>> session = ort.InferenceSession(onx.SerializeToString())
    >>> codes = session.run(None, {"X": X})[0]
    >>> np.allclose(codes, ae.transform(X), atol=1e-5)
    True
    """
    from .converters import _convert

    return _convert(model, X_sample, method=method, target_opset=target_opset)
