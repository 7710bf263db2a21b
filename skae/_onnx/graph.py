"""A trained torch module's ``encode`` or ``decode`` as an ONNX graph.

The module is exported through the estimator's own batch functions
(``_encode_batch`` / ``_decode_batch``, the ones ``transform`` and
``inverse_transform`` run), wrapped in a small ``nn.Module``: whatever the
module's structure, the graph computes what those methods compute. The
graph is then copied node by node into a skl2onnx container, so that it
can sit in a converted Pipeline. Imports torch and onnx, not scikit-learn.
"""

import copy
import logging
import warnings

import onnx
import torch
from onnx import helper, numpy_helper
from torch import nn

#: The lowest ONNX opset torch's exporter (``torch.onnx.export(dynamo=True)``)
#: writes.
MIN_OPSET = 18

#: Estimator methods that have a graph, and the batch function each runs.
BATCH_FUNCTIONS = {
    "transform": "_encode_batch",
    "inverse_transform": "_decode_batch",
}


class _BoundMethod(nn.Module):
    """``fn(module, x)`` as a module's ``forward``, for the exporter."""

    def __init__(self, module, fn):
        super().__init__()
        self.module = module
        self.fn = fn

    def forward(self, x):
        return self.fn(self.module, x)


def export_method(estimator, method, n_inputs, opset, fn=None):
    """The float32 graph of ``estimator.<method>`` on a batch of ``n_inputs`` columns.

    ``fn(module, x)`` computes it, by default the batch function of
    ``method``. Returns an ``onnx.ModelProto`` with one input and one
    output, whose first dimension (the batch) is dynamic.
    """
    fn = fn or getattr(estimator, BATCH_FUNCTIONS[method])
    module = copy.deepcopy(estimator.net_.module_).cpu().float().eval()
    wrapper = _BoundMethod(module, fn).eval()
    # Two rows: the exporter specialises a dimension of size 1 to a constant.
    sample = torch.zeros(2, n_inputs)
    batch = torch.export.Dim("batch")
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    with warnings.catch_warnings(), torch.no_grad():
        # The exporter reports its passes through warnings and logging (and
        # that torchvision's operators are not there); none concerns to_onnx.
        warnings.simplefilter("ignore")
        logger.setLevel(logging.ERROR)
        try:
            program = torch.onnx.export(
                wrapper,
                (sample,),
                input_names=["X"],
                output_names=["Y"],
                dynamic_shapes=({0: batch},),
                opset_version=opset,
                dynamo=True,
                verbose=False,
            )
        except Exception as exc:
            raise RuntimeError(
                f"torch's ONNX exporter could not export "
                f"{type(estimator).__name__}.{method}: {exc}"
            ) from exc
        finally:
            logger.setLevel(level)
    model = program.model_proto
    if model.functions:
        model = onnx.inliner.inline_local_functions(model)
    return model


def splice(model, container, input_name, output_name, prefix):
    """Copy ``model``'s graph into a skl2onnx ``container``.

    The graph's input becomes ``input_name``, its output ``output_name``;
    every other name gets ``prefix`` so that several graphs can coexist.
    """
    graph = model.graph
    rename = {graph.input[0].name: input_name, graph.output[0].name: output_name}

    def new_name(name):
        if not name:
            return name  # an omitted optional input
        return rename.get(name, prefix + name)

    versions = {entry.domain: entry.version for entry in model.opset_import}
    for tensor in graph.initializer:
        array = numpy_helper.to_array(tensor)
        container.add_initializer(
            new_name(tensor.name), tensor.data_type, list(array.shape), array.ravel()
        )
    for node in graph.node:
        attributes = {}
        for attribute in node.attribute:
            if attribute.type in (
                onnx.AttributeProto.GRAPH,
                onnx.AttributeProto.GRAPHS,
            ):
                raise NotImplementedError(
                    f"The exported graph holds a {node.op_type} node with a "
                    "subgraph, which skae cannot yet place in a converted model."
                )
            attributes[attribute.name] = helper.get_attribute_value(attribute)
        container.add_node(
            node.op_type,
            [new_name(name) for name in node.input],
            [new_name(name) for name in node.output],
            op_domain=node.domain,
            op_version=versions.get(node.domain, versions.get("")),
            name=prefix + (node.name or node.op_type),
            **attributes,
        )
