"""What one estimator needs beyond the base and is not a torch module:
UMAP's neighbour graph, the VAE's likelihood scores and row-keyed noise, the
imputer's hidden base methods.
"""
