"""Autoencoders as scikit-learn transformers, trained with torch through skorch."""

from ._autoencoder import AutoEncoder

__all__ = ["AutoEncoder"]
__version__ = "0.1.0"
