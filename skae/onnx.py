"""ONNX export: skl2onnx converters for every skae estimator, and :func:`to_onnx`.

Importing this module registers a shape calculator and a converter for each
public skae estimator with skl2onnx, so that ``skl2onnx.to_onnx`` converts
pipelines holding them, as it converts PCA. It needs the ``onnx`` extra
(``pip install "skae[onnx]"``); ``import skae`` alone never imports it.
"""

from ._onnx import converters  # noqa: F401  (registers the converters)
from ._onnx.export import to_onnx

__all__ = ["to_onnx"]
