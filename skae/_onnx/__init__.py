"""ONNX export (needs the ``onnx`` extra): ``export.py`` holds ``to_onnx``,
which imports ``converters.py`` (skl2onnx registration) on its first call;
``graph.py`` exports a module's batch function.
"""
