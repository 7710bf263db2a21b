"""Autoencoders as scikit-learn transformers, trained with torch through skorch."""

from ._autoencoder import AutoEncoder
from ._convolutional import ConvAutoEncoder
from ._denoising import DenoisingAutoEncoder
from ._imputer import AutoEncoderImputer
from ._io.save_load import load, save
from ._io.trusted_types import skops_trusted_types
from ._onnx.export import to_onnx
from ._sparse import SparseAutoEncoder
from ._umap import UMAPAutoEncoder
from ._variational import VariationalAutoEncoder

__all__ = ["AutoEncoder", "DenoisingAutoEncoder", "SparseAutoEncoder"]
__all__ += ["load", "save"]
__all__ += ["VariationalAutoEncoder"]
__all__ += ["ConvAutoEncoder"]
__all__ += ["to_onnx"]
__all__ += ["AutoEncoderImputer"]
__all__ += ["UMAPAutoEncoder"]
__all__ += ["skops_trusted_types"]
__version__ = "0.1.0"
