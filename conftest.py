"""Session set-up shared by tests/ and the doctests in skae/."""

import importlib.util
import os

# scikit-learn's check_array_api_input skips itself unless SciPy's array API
# support is switched on before SciPy is first imported; switch it on here so
# that the check runs instead of being skipped.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

# skae.onnx needs the optional onnx extra; without it, its doctests are not
# collected (tests/test_onnx.py skips itself). find_spec imports nothing.
if not all(
    importlib.util.find_spec(name)
    for name in ("onnx", "onnxruntime", "onnxscript", "skl2onnx")
):
    collect_ignore = ["skae/onnx.py", "skae/_onnx_graph.py", "skae/_to_onnx.py"]
