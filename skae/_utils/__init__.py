"""Runtime (devices, threads, oneDNN, private generators), warnings that
point at user code, docstring sharing. Imports nothing else from skae.
"""
