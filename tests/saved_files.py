"""Reading and rewriting files written by ``skae.save``, for tests that edit them."""

import json

from safetensors import safe_open
from safetensors.torch import load_file, save_file


def read(path):
    """The JSON header and the tensors of a saved file."""
    with safe_open(path, framework="pt") as file:
        header = json.loads(file.metadata()["skae"])
    return header, load_file(path)


def rewrite(path, header, tensors):
    """Write ``header`` and ``tensors`` to ``path`` as ``skae.save`` lays them out."""
    save_file(tensors, path, metadata={"skae": json.dumps(header)})
