"""Denoising autoencoder: an AutoEncoder trained on corrupted inputs."""

from ._autoencoder import AutoEncoder
from ._base.noise import NOISE_CONSTRAINTS, DenoisingMixin
from ._utils.docs import inherit_docs


@inherit_docs(AutoEncoder)
class DenoisingAutoEncoder(DenoisingMixin, AutoEncoder):
    """Autoencoder trained to reconstruct clean samples from corrupted ones.

    During training each mini-batch is corrupted before it enters the encoder
    (fresh noise at every step) and the loss compares the reconstruction with
    the *clean* batch. The network cannot simply copy its input, so it learns
    codes that capture the structure of the data and a decoder that projects
    noisy samples back onto it. The corruption is off in ``transform``,
    ``inverse_transform``, ``score`` and :meth:`denoise`.

    Parameters
    ----------
    noise : {"gaussian", "masking", "salt_and_pepper"}, default="gaussian"
        Corruption applied to the training input.

        - ``"gaussian"`` adds independent N(0, ``noise_level ** 2``) noise to
          every entry.
        - ``"masking"`` sets each entry to 0 with probability ``noise_level``
          and scales the others by ``1 / (1 - noise_level)``: this is exactly
          dropout applied right after the input layer, the other form of
          denoising autoencoder.
        - ``"salt_and_pepper"`` sets each entry with probability
          ``noise_level`` to its feature's minimum or maximum over the
          training data (half each), as for binary images.

    noise_level : float, default=0.1
        Standard deviation of the gaussian noise, in the units of the (scaled)
        data; for ``"masking"`` a probability in [0, 1), for
        ``"salt_and_pepper"`` a probability in [0, 1].

    {inherit Parameters}

    Attributes
    ----------
    {inherit Attributes}

    See Also
    --------
    AutoEncoder : The same network trained on clean inputs.
    sklearn.decomposition.PCA : Projecting onto the first principal
        components is the linear way to denoise.

    Notes
    -----
    The noise is drawn from a generator seeded by ``random_state``, so two
    fits with the same integer ``random_state`` give bit-identical models,
    and torch's global random state is never used. ``loss_curve_`` holds the
    training loss on corrupted inputs, while ``reconstruction_error_`` and
    ``score`` measure the reconstruction of clean ones. With
    ``early_stopping=True``, the held-out rows are scored as a denoiser is
    used: corrupted (with noise from a fixed seed), against the clean rows.

    With ``n_components`` at least the number of features, the PCA start is
    the identity, which removes no noise: early stopping keeps it only if no
    epoch denoises better, but ``init="random"`` is usually the better start
    for such a wide code.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> from skae import DenoisingAutoEncoder
    >>> X = MinMaxScaler().fit_transform(load_digits().data)
    >>> dae = DenoisingAutoEncoder(
    ...     n_components=16, noise="masking", noise_level=0.3, max_iter=10,
    ...     random_state=0,
    ... ).fit(X)
    >>> noisy = X + np.random.default_rng(0).normal(0, 0.3, X.shape)
    >>> dae.denoise(noisy).shape
    (1797, 64)
    """

    _parameter_constraints = {
        **AutoEncoder._parameter_constraints,
        **NOISE_CONSTRAINTS,
    }

    def __init__(
        self,
        n_components=2,
        *,
        noise="gaussian",
        noise_level=0.1,
        init="pca",
        target_weight=None,
        hidden_layer_sizes=(128,),
        activation="relu",
        dropout=0.0,
        alpha=0.0,
        batch_size="auto",
        learning_rate_init="auto",
        max_iter=200,
        tol=1e-3,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        shuffle=True,
        random_state=None,
        device="auto",
        n_threads="auto",
        verbose=0,
        warm_start=False,
        latent_density="gmm",
        calibrate_samples=True,
    ):
        super().__init__(
            n_components,
            init=init,
            target_weight=target_weight,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            dropout=dropout,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate_init=learning_rate_init,
            max_iter=max_iter,
            tol=tol,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            shuffle=shuffle,
            random_state=random_state,
            device=device,
            n_threads=n_threads,
            verbose=verbose,
            warm_start=warm_start,
            latent_density=latent_density,
            calibrate_samples=calibrate_samples,
        )
        self.noise = noise
        self.noise_level = noise_level

    def _build_module(self, n_features):
        module = super()._build_module(n_features)
        corruption = self._build_corruption()
        if corruption is not None:
            module.corruption = corruption
        return module
