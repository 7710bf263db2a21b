"""Variational autoencoder: a generative model with likelihood scores."""

from numbers import Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._set_output import (
    _wrap_data_with_container,
)
from sklearn.utils.validation import check_is_fitted

from ._autoencoder import AutoEncoder
from ._base.base import BaseAutoEncoder
from ._base.constraints import Count
from ._base.dense import DENSE_CONSTRAINTS, DenseMixin
from ._base.sampling import SAMPLING_CONSTRAINTS, SamplingMixin
from ._nn.losses import ELBOLoss, squared_error
from ._nn.variational import VariationalModule, variational_autoencoder
from ._support.variational_scores import LikelihoodScores, check_bernoulli_range
from ._utils.docs import inherit_docs

#: The smallest fixed ``noise_variance`` accepted.
MIN_NOISE_VARIANCE = 1e-30


@inherit_docs(
    AutoEncoder,
    exclude=("init", "target_weight", "classes_", "target_mean_", "target_scale_"),
)
class VariationalAutoEncoder(
    SamplingMixin, LikelihoodScores, DenseMixin, BaseAutoEncoder
):
    """Variational autoencoder (VAE): codes, likelihood scores and new samples.

    The encoder maps each sample ``x`` to a Normal distribution over codes,
    ``q(z|x) = N(mu(x), diag(std(x)^2))``; the decoder maps a code ``z`` to a
    distribution over samples, ``p(x|z)``, Gaussian or Bernoulli. Both are
    trained together by maximising the evidence lower bound (ELBO)
    ``E_q[log p(x|z)] - beta * KL(q(z|x) || N(0, I))`` with the
    reparameterisation trick. The model is then a density on the data, like
    :class:`~sklearn.decomposition.PCA`'s probabilistic model, with a
    non-linear decoder:

    - :meth:`transform` returns the posterior mean ``mu(x)`` (deterministic);
      ``transform(X, return_std=True)`` also returns the posterior standard
      deviations;
    - :meth:`inverse_transform` returns the mean of ``p(x|z)``;
    - :meth:`sample` draws codes from a density fitted on the training
      codes (or from the prior ``N(0, I)``, see ``latent_density``) and
      decodes them: new data;
    - :meth:`score_samples` returns a lower bound on ``log p(x)`` per sample
      and :meth:`score` its mean, comparable with ``PCA.score`` in a
      :class:`~sklearn.model_selection.GridSearchCV` (see Notes).

    Parameters
    ----------
    n_components : int, default=2
        Dimension of the latent space, i.e. the number of output features of
        :meth:`transform`.

    beta : float, default=1.0
        Weight of the KL term (beta-VAE). 1 gives the ELBO proper; larger
        values give smoother, more disentangled latents at the cost of
        reconstruction, smaller ones the reverse. ``score`` always uses the
        true ELBO (weight 1), whatever ``beta``.

    likelihood : {"gaussian", "bernoulli"}, default="gaussian"
        The decoder's distribution ``p(x|z)``.

        - ``"gaussian"``: ``N(decoder(z), diag(noise_variance))``, for
          real-valued data, best standardised (``StandardScaler``).
        - ``"bernoulli"``: independent Bernoulli with probabilities
          ``sigmoid(decoder(z))``, for data in [0, 1] such as pixel
          intensities scaled with ``MinMaxScaler(clip=True)`` (``fit`` and
          ``score`` reject values outside [0, 1]; without ``clip`` a test
          fold's pixels can exceed the training range). Grey levels in
          between are scored with the binary cross-entropy, the usual
          practice, which is not a normalised density.

    noise_variance : {"shared", "per_feature"} or float, default="shared"
        Variance of the Gaussian ``p(x|z)``. ``"shared"``: one variance for
        all features, learned with the networks (starting at 1), like
        probabilistic PCA (:class:`~sklearn.decomposition.PCA`'s ``score``).
        ``"per_feature"``: one learned variance per feature, like
        :class:`~sklearn.decomposition.FactorAnalysis`; it fits the training
        data more closely but can shrink the variance of nearly constant
        features so far that a test sample with an unusual value there gets
        a very low score (``benchmarks/bench_vae.py`` measures the gap
        between training and test scores of both), hence the default.
        Learned variances are kept within [1e-3, 1e3] by a smooth clamp, so
        that a constant feature cannot drive the likelihood to infinity. A
        float fixes the variance of every feature: the loss is then the
        squared error divided by ``2 * noise_variance``, plus a constant;
        it must be at least 1e-30, as training computes in float32.
        Ignored with ``likelihood="bernoulli"``.

    warmup_epochs : int, default=0
        KL warm-up (annealing): the KL weight rises linearly from
        ``beta / warmup_epochs`` at the first epoch to ``beta`` at epoch
        ``warmup_epochs``, which helps against posterior collapse (latent
        units that the decoder ignores). Epochs are counted across
        ``partial_fit`` calls and warm starts. The loss recorded in
        ``loss_curve_`` and watched by the stopping rule uses the full
        weight throughout, so that epochs stay comparable.

    n_importance_samples : int, default=1
        Number ``K`` of posterior draws per sample in :meth:`score_samples`
        and :meth:`score`. ``K = 1``: the ELBO, its KL term in closed form and
        its reconstruction term from one draw. ``K > 1``: the
        importance-weighted bound of Burda et al.,
        ``log (1/K) sum_k p(x, z_k) / q(z_k|x)``, which is tighter (never
        lower in expectation) and tends to ``log p(x)`` as ``K`` grows, at
        ``K`` times the cost. Only used at scoring time, so it can be changed
        with ``set_params`` after fitting.

    latent_density : {"gmm", "prior"} or None, default="gmm"
        Where :meth:`sample` draws its codes from. ``"gmm"``: a
        :class:`~sklearn.mixture.GaussianMixture` fitted, at the end of every
        ``fit`` and ``partial_fit`` call, on the posterior means of the rows
        that call trained on, as for :class:`AutoEncoder` (full covariances,
        one component per 50 rows, at most 40, within the density's share
        of the weights' bytes). ``"prior"``: ``N(0, I)``, the
        model's prior. The default because its samples are the harder to
        tell from real data: the posterior means of the training data do
        not fill the prior, whose draws then decode to blends (see
        ``benchmarks/bench_sample.py``). ``None``: no density; ``sample``
        then raises.

    calibrate_samples : bool, default=True
        Map each feature of :meth:`sample`'s output through the monotone
        function that takes its distribution over the decoded posterior
        means of the training rows to its distribution in the training
        data; with ``"gmm"``, one map per mixture component, as for
        :class:`AutoEncoder`. ``False``: ``sample`` returns the decoder's means, as
        ``inverse_transform`` of the codes drawn.

    hidden_layer_sizes : int or tuple of int, default=(128,)
        Widths of the encoder's hidden layers, from the input towards the
        latent space; the decoder uses the same widths in reverse. ``()``
        gives a linear encoder and decoder (a linear Gaussian VAE is
        probabilistic PCA when trained to convergence).

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data, stop when its
        loss stops improving and restore the best weights (the weights
        training starts from count as epoch 0). Without it, training stops
        when the training loss stops improving.

    learning_rate_init : float, default=1e-3
        Adam's learning rate.

    tol : float, default=1e-4
        Relative improvement of the monitored loss below which an epoch does
        not count as progress.

    {inherit Parameters}

    Attributes
    ----------
    loss_curve_ : list of float
        Training loss per epoch: the negative ELBO with KL weight ``beta``,
        in nats per sample, averaged over the epoch's mini-batches (one
        posterior draw per sample).

    reconstruction_error_ : float
        Mean squared error, on the training data at the end, of the
        reconstruction from the posterior mean,
        ``inverse_transform(transform(X))``; comparable with
        :class:`AutoEncoder`'s.

    noise_variance_ : ndarray of shape (n_features,) or None
        Variance of each feature under the Gaussian ``p(x|z)`` (all equal
        with ``noise_variance="shared"``); None with
        ``likelihood="bernoulli"``.

    {inherit Attributes}

    See Also
    --------
    AutoEncoder : Deterministic codes, trained on the reconstruction only.
    sklearn.decomposition.PCA : Its ``score`` is the average log-likelihood
        under probabilistic PCA, the linear Gaussian special case.
    sklearn.decomposition.FactorAnalysis : Linear Gaussian model with one
        noise variance per feature, like ``noise_variance="per_feature"``.

    Notes
    -----
    :meth:`score_samples` is in nats, summed over features, so it is on the
    scale of ``PCA.score_samples``; with the Gaussian likelihood it depends
    on the units of the data. Its posterior draws are keyed by the fitted
    model's seed and each row's values, so a sample's score does not depend
    on the rows it is scored with. Log-variances are smoothly clamped, and a
    loss that still becomes NaN or infinite makes ``fit`` raise and keep the
    weights it had. The user guide's "Scores, randomness and stability"
    section has the details.

    References
    ----------
    D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
    Y. Burda, R. Grosse and R. Salakhutdinov, "Importance Weighted
    Autoencoders", ICLR 2016.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skae import VariationalAutoEncoder
    >>> X = StandardScaler().fit_transform(load_digits().data)
    >>> vae = VariationalAutoEncoder(n_components=4, max_iter=5, random_state=0)
    >>> vae.fit(X).transform(X).shape
    (1797, 4)
    >>> mean, std = vae.transform(X[:3], return_std=True)
    >>> std.shape
    (3, 4)
    >>> vae.sample(5, random_state=0).shape
    (5, 64)
    >>> vae.score_samples(X[:3]).shape
    (3,)
    """

    # Read when scoring, not when training.
    _warm_start_params = SamplingMixin._warm_start_params | {"n_importance_samples"}

    _parameter_constraints = {
        **BaseAutoEncoder._parameter_constraints,
        **DENSE_CONSTRAINTS,
        "beta": [Interval(Real, 0, None, closed="left")],
        "likelihood": [StrOptions(set(VariationalModule.LIKELIHOODS))],
        "noise_variance": [
            StrOptions({"per_feature", "shared"}),
            # The loss divides by it in float32: below about 3e-39 the
            # inverse is inf and training "diverges" with a misleading
            # remedy; 1e-30 still holds squared errors up to about 7e8.
            Interval(Real, MIN_NOISE_VARIANCE, None, closed="left"),
        ],
        "warmup_epochs": [Count(0)],
        "n_importance_samples": [Count(1)],
        **SAMPLING_CONSTRAINTS,
        "latent_density": [StrOptions({"gmm", "prior"}), None],
    }

    def __init__(
        self,
        n_components=2,
        *,
        beta=1.0,
        likelihood="gaussian",
        noise_variance="shared",
        warmup_epochs=0,
        n_importance_samples=1,
        hidden_layer_sizes=(128,),
        activation="relu",
        dropout=0.0,
        alpha=0.0,
        batch_size="auto",
        learning_rate_init=1e-3,
        max_iter=200,
        tol=1e-4,
        early_stopping=False,
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
        self.n_components = n_components
        self.beta = beta
        self.likelihood = likelihood
        self.noise_variance = noise_variance
        self.warmup_epochs = warmup_epochs
        self.n_importance_samples = n_importance_samples
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.shuffle = shuffle
        self.random_state = random_state
        self.device = device
        self.n_threads = n_threads
        self.verbose = verbose
        self.warm_start = warm_start
        self.latent_density = latent_density
        self.calibrate_samples = calibrate_samples

    # ------------------------------------------------------------------ hooks

    def _build_module(self, n_features):
        return variational_autoencoder(
            n_features,
            self.n_components,
            self._hidden_sizes(),
            activation=self.activation,
            dropout=self.dropout,
            likelihood=self.likelihood,
            noise_variance=self.noise_variance,
        )

    def _build_criterion(self):
        return ELBOLoss(self.likelihood, self.beta, self.warmup_epochs)

    def _encode_batch(self, module, x):
        return module.encode(x)[0]

    def _prepare(self, X, resume):
        super()._prepare(X, resume)
        check_bernoulli_range(X, self.likelihood)
        if not resume:
            # The key of score_samples' draws: fixed for the fitted model.
            self._score_seed = int(self._draw_seeds(1)[0])

    def _set_fitted_attributes(self, X, incremental):
        super()._set_fitted_attributes(X, incremental)
        logvar = self.net_.module_.noise_logvar()
        if logvar is None:
            self.noise_variance_ = None
        else:
            variance = torch.exp(logvar).detach().cpu().double().numpy()
            self.noise_variance_ = np.broadcast_to(variance, X.shape[1]).copy()

    def _reconstruction_error(self, X):
        def batch_error(module, x):
            return squared_error(module.decode(module.encode(x)[0]), x)

        with self._fit_summary_module() as inference:
            errors = self._forward_batches(batch_error, X, None, inference=inference)
        return float(np.mean(errors, dtype=np.float64))

    # -------------------------------------------------------------- inference

    def transform(self, X, return_std=False):
        """Posterior mean of the code of each sample, and optionally its std.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to encode.
        return_std : bool, default=False
            Also return the posterior standard deviations.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Posterior means ``mu(x)``; float32 for float32 input, float64
            otherwise. A DataFrame under ``set_output(transform="pandas")``.
        X_std : ndarray of shape (n_samples, n_components)
            Only with ``return_std=True``: the posterior standard deviations,
            so that ``q(z|x) = N(X_new, diag(X_std ** 2))``; in the same
            container as ``X_new``.
        """
        check_is_fitted(self)
        X_checked = self._validate_input(X, reset=False)
        k = self._n_features_out
        if not return_std:
            return self._forward_batches(self._encode_batch, X_checked, k)

        def posterior(module, x):
            mu, logvar = module.encode(x)
            return torch.cat([mu, torch.exp(0.5 * logvar)], dim=1)

        both = self._forward_batches(posterior, X_checked, 2 * k)
        # set_output wraps only the first element of a returned tuple.
        return both[:, :k], _wrap_data_with_container("transform", both[:, k:], X, self)
