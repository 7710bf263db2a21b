"""skl2onnx converters for every skae estimator, and the body of ``to_onnx``.

Importing this module registers a shape calculator and a converter for each
public skae estimator with skl2onnx. It needs the ``onnx`` extra; it is
imported by :mod:`skae.onnx` and by the first call of :func:`skae.to_onnx`,
never by ``import skae``.
"""

import json

import numpy as np
import onnx
from skl2onnx import convert_sklearn, update_registered_converter
from skl2onnx.common.data_types import (
    DoubleTensorType,
    FloatTensorType,
)
from skl2onnx.common.exceptions import MissingShapeCalculator
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.model_selection._search import BaseSearchCV
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.utils.validation import check_is_fitted

import skae

from .._base.base import BaseAutoEncoder
from .._imputer import AutoEncoderImputer
from .graph import BATCH_FUNCTIONS, MIN_OPSET, export_method, splice
from .imputer import imputer_transform

#: The estimators whose ``transform`` runs their module's ``_encode_batch``
#: (and ``inverse_transform`` its ``_decode_batch``), which is what is
#: exported. A new public estimator gets a converter that refuses it, with
#: a message, until it is checked and listed here (tests/test_onnx.py runs
#: every public estimator).
EXPORTED = frozenset(
    {
        "AutoEncoder",
        "DenoisingAutoEncoder",
        "SparseAutoEncoder",
        "VariationalAutoEncoder",
        "ConvAutoEncoder",
        "UMAPAutoEncoder",
        "AutoEncoderImputer",
    }
)


def _check_exportable(estimator):
    name = type(estimator).__name__
    if name not in EXPORTED:
        raise TypeError(
            f"ONNX export of {name} is not implemented: skae exports "
            f"{', '.join(sorted(EXPORTED))}. Leave the {name} out of the "
            "exported model."
        )
    check_is_fitted(
        estimator,
        msg=(
            f"This {name} is not fitted yet, and only a fitted model has "
            "weights to export. Call fit before converting it to ONNX."
        ),
    )


def _shape_calculator(operator):
    estimator = operator.raw_operator
    _check_exportable(estimator)
    (source,) = operator.inputs
    if not isinstance(source.type, (FloatTensorType, DoubleTensorType)):
        raise TypeError(
            f"{type(estimator).__name__} converts float or double tensors, got "
            f"{type(source.type).__name__} input. Cast the data to float32."
        )
    n_rows = source.type.shape[0] if source.type.shape else None
    # transform's width: the codes, or an imputer's kept and indicator columns.
    n_out = len(estimator.get_feature_names_out())
    operator.outputs[0].type = type(source.type)([n_rows, n_out])


def _converter(scope, operator, container):
    estimator = operator.raw_operator
    opset = container.target_opset
    if opset < MIN_OPSET:
        raise ValueError(
            f"{type(estimator).__name__} is exported by torch's ONNX exporter, "
            f"which writes opset {MIN_OPSET} or later, but target_opset={opset}. "
            f"Pass target_opset={MIN_OPSET} or more (or None)."
        )
    fn = None
    if isinstance(estimator, AutoEncoderImputer):
        fn = imputer_transform(estimator)
    graph = export_method(estimator, "transform", estimator.n_features_in_, opset, fn)
    source, result = operator.inputs[0], operator.outputs[0]
    name, output = source.full_name, result.full_name
    double = isinstance(source.type, DoubleTensorType)
    if double:
        # The weights stay float32, the precision they were trained in: the
        # module computes in float32 between two casts, and the graph keeps
        # scikit-learn's contract of float64 out for float64 in.
        name = scope.get_unique_variable_name("skae_float_input")
        container.add_node(
            "Cast",
            source.full_name,
            name,
            to=onnx.TensorProto.FLOAT,
            name=scope.get_unique_operator_name("SkaeCast"),
        )
        output = scope.get_unique_variable_name("skae_float_output")
    prefix = scope.get_unique_operator_name(type(estimator).__name__) + "_"
    splice(graph, container, name, output, prefix)
    if double:
        container.add_node(
            "Cast",
            output,
            result.full_name,
            to=onnx.TensorProto.DOUBLE,
            name=scope.get_unique_operator_name("SkaeCast"),
        )


def _register():
    for public in skae.__all__:
        cls = getattr(skae, public)
        if isinstance(cls, type) and issubclass(cls, BaseAutoEncoder):
            update_registered_converter(
                cls, f"Skae{cls.__name__}", _shape_calculator, _converter
            )


def _estimators(model):
    """``model`` and every fitted estimator in it: what skl2onnx converts.

    A Pipeline and a FeatureUnion hold their fitted steps; a
    ColumnTransformer fits clones (``transformers_``), a search its
    ``best_estimator_``, other meta-estimators attributes ending in ``_``.
    ``get_params`` would give the unfitted templates instead.
    """
    yield model
    if isinstance(model, Pipeline):
        parts = [step for _, step in model.steps]
    elif isinstance(model, FeatureUnion):
        parts = [part for _, part in model.transformer_list]
    elif isinstance(model, BaseAutoEncoder):
        parts = []
    else:
        try:
            check_is_fitted(model)
            items = [v for k, v in vars(model).items() if _fitted_name(k)]
        except NotFittedError:
            # Its templates, whose skae parts then say they are not fitted.
            items = list(model.get_params(deep=False).values())
        parts = []
        for value in items:
            for item in value if isinstance(value, (list, tuple)) else [value]:
                # ColumnTransformer's (name, transformer, columns) triples.
                parts += item if isinstance(item, tuple) else [item]
    for part in parts:
        if isinstance(part, BaseEstimator):
            yield from _estimators(part)


def _fitted_name(name):
    return name.endswith("_") and not name.startswith("_")


def _unwrapped(model):
    """A fitted search's ``best_estimator_`` (skl2onnx converts it), else ``model``."""
    if isinstance(model, BaseSearchCV):
        check_is_fitted(model)
        if not hasattr(model, "best_estimator_"):
            raise TypeError(
                f"This {type(model).__name__} was fitted with refit=False: it "
                "holds no fitted estimator to export. Fit it with refit=True, "
                "or export a model fitted with its best_params_."
            )
        return model.best_estimator_
    return model


def _convert(model, X_sample, *, method="transform", target_opset=None):
    """The body of :func:`skae.to_onnx`, once onnx is importable."""
    onx = _convert_graph(model, X_sample, method, target_opset)
    if isinstance(model, BaseAutoEncoder):
        _store_head(model, onx)
    return onx


#: Fitted attributes describing a label head (``target_weight``), which a
#: graph of transform does not compute but a user of the graph may need.
HEAD_ATTRIBUTES = ("classes_", "target_mean_", "target_scale_")


def _store_head(estimator, onx):
    """Write what the label head learnt into the graph's metadata, as JSON
    lists under ``skae.<attribute>``."""
    for name in HEAD_ATTRIBUTES:
        value = getattr(estimator, name, None)
        if value is not None:
            entry = onx.metadata_props.add()
            entry.key, entry.value = f"skae.{name}", json.dumps(value.tolist())


def _convert_graph(model, X_sample, method, target_opset):
    if not isinstance(model, BaseEstimator):
        raise TypeError(
            f"to_onnx converts a fitted skae estimator or a scikit-learn "
            f"pipeline holding some, got {type(model).__name__}."
        )
    X_sample = np.asarray(X_sample)
    if X_sample.ndim != 2 or X_sample.dtype not in (np.float32, np.float64):
        raise ValueError(
            "X_sample must be a 2-D float32 or float64 array of a few rows of "
            f"the data (it sets the graph's input type), got a {X_sample.ndim}-D "
            f"{X_sample.dtype} array."
        )
    model = _unwrapped(model)
    for estimator in _estimators(model):
        if isinstance(estimator, BaseAutoEncoder):
            _check_exportable(estimator)
    if target_opset is None:
        target_opset = _default_opset()
    if method != "transform":
        return _convert_method(model, X_sample, method, target_opset)
    n_features = getattr(model, "n_features_in_", X_sample.shape[1])
    if X_sample.shape[1] != n_features:
        raise ValueError(
            f"X_sample has {X_sample.shape[1]} columns, but this "
            f"{type(model).__name__} was fitted on {n_features}. Pass a few rows "
            "of the data it transforms."
        )

    # Probabilities as a plain (n_samples, n_classes) tensor, like
    # predict_proba, rather than skl2onnx's default list of dictionaries.
    options = {
        id(est): {"zipmap": False} for est in _estimators(model) if is_classifier(est)
    }
    tensor_type = DoubleTensorType if X_sample.dtype == np.float64 else FloatTensorType
    try:
        return convert_sklearn(
            model,
            initial_types=[("X", tensor_type([None, X_sample.shape[1]]))],
            target_opset=target_opset,
            options=options or None,
        )
    except (MissingShapeCalculator, RuntimeError, NotImplementedError) as exc:
        # A type with no converter, or a converter refusing its settings
        # (FunctionTransformer's RuntimeError). skl2onnx's first line names
        # the type; the rest is a how-to page.
        reason = str(exc).splitlines()[0]
        raise TypeError(
            f"skl2onnx cannot convert a part of this {type(model).__name__}: "
            f"{reason} Register a converter for it with skl2onnx, or leave it "
            "out of the exported model."
        ) from exc


def _default_opset():
    from skl2onnx import get_latest_tested_opset_version

    return max(MIN_OPSET, get_latest_tested_opset_version())


def _convert_method(model, X_sample, method, target_opset):
    """A graph of ``model.<method>`` for a bare skae estimator."""
    if method not in BATCH_FUNCTIONS:
        raise ValueError(
            f"method must be one of {sorted(BATCH_FUNCTIONS)}, got {method!r}."
        )
    if isinstance(model, BaseAutoEncoder) and not hasattr(model, method):
        raise ValueError(f"{type(model).__name__} has no {method} to export.")
    if not isinstance(model, BaseAutoEncoder):
        raise ValueError(
            f"method={method!r} is available for a skae estimator only, not a "
            f"{type(model).__name__}; pipelines export their transform or "
            "predict outputs with the default method='transform'."
        )
    n_inputs = model._n_features_out
    if X_sample.shape[1] != n_inputs:
        raise ValueError(
            f"{method} takes codes of n_components={n_inputs} columns, but "
            f"X_sample has {X_sample.shape[1]}. Pass a few rows of transform's "
            "output."
        )
    exported = export_method(model, method, n_inputs, target_opset)
    return _standalone(exported, X_sample.dtype)


def _standalone(exported, dtype):
    """``exported`` with skl2onnx's input and output names, taking ``dtype`` input."""
    graph = exported.graph
    elem = onnx.TensorProto.DOUBLE if dtype == np.float64 else onnx.TensorProto.FLOAT
    nodes = list(graph.node)
    source, result = graph.input[0], graph.output[0]
    n_in = source.type.tensor_type.shape.dim[1].dim_value
    n_out = result.type.tensor_type.shape.dim[1].dim_value
    rename = {source.name: "X", result.name: "variable"}
    if elem == onnx.TensorProto.DOUBLE:
        rename = {source.name: "X_float", result.name: "variable_float"}
    for node in nodes:
        node.input[:] = [rename.get(name, name) for name in node.input]
        node.output[:] = [rename.get(name, name) for name in node.output]
    if elem == onnx.TensorProto.DOUBLE:
        float_ = onnx.TensorProto.FLOAT
        nodes.insert(0, onnx.helper.make_node("Cast", ["X"], ["X_float"], to=float_))
        nodes.append(
            onnx.helper.make_node("Cast", ["variable_float"], ["variable"], to=elem)
        )
    new_graph = onnx.helper.make_graph(
        nodes,
        "skae",
        [onnx.helper.make_tensor_value_info("X", elem, [None, n_in])],
        [onnx.helper.make_tensor_value_info("variable", elem, [None, n_out])],
        initializer=list(graph.initializer),
    )
    model = onnx.helper.make_model(new_graph, opset_imports=list(exported.opset_import))
    # The exporter's IR version, which runtimes of the opset can read.
    model.ir_version = exported.ir_version
    return model


_register()
