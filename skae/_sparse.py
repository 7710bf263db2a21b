"""Sparse autoencoder: non-negative codes in which only a few units fire."""

from numbers import Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._autoencoder import AutoEncoder
from ._base.base import BaseAutoEncoder
from ._base.constraints import Count
from ._base.dense import DENSE_CONSTRAINTS, DenseMixin
from ._base.sampling import SAMPLING_CONSTRAINTS, SamplingMixin
from ._net import LinearDecay
from ._nn.dictionary import DictionaryAutoEncoder
from ._nn.losses import AuxKLoss, L1CodeLoss
from ._nn.modules import dense_autoencoder
from ._nn.sparse import Standardize, TopK, keep_top_k
from ._support.code_metrics import code_metrics
from ._utils.docs import inherit_docs

#: The settings that build the interpretability field's linear top-k SAE.
SAE_SPARSITIES = ("sae_topk", "sae_batchtopk")


@inherit_docs(
    AutoEncoder,
    exclude=("init", "target_weight", "classes_", "target_mean_", "target_scale_"),
)
class SparseAutoEncoder(SamplingMixin, DenseMixin, BaseAutoEncoder):
    """Autoencoder whose non-negative code has few active units per sample.

    Each code unit can be read as a "part" of the data: the decoder adds
    ``atoms_[j]`` (roughly) to the reconstruction in proportion to unit
    ``j``'s activation, and only a few units are active for any one sample,
    as in dictionary learning. The code is usually wider than a dense
    autoencoder's (even wider than the input: an overcomplete dictionary).

    Parameters
    ----------
    n_components : int, default=32
        Number of code units, i.e. of output features of :meth:`transform`.
        Unlike a dense autoencoder's, it may exceed the number of input
        features.

    sparsity : {"topk", "l1", "sae_topk", "sae_batchtopk"}, default="topk"
        How the code is made sparse. ``"topk"`` and ``"l1"`` suit
        dimensionality reduction with the hidden layers; the ``"sae_"``
        settings are the sparse autoencoder of the interpretability field,
        whose atoms are directions in the input space (see Notes).

        - ``"topk"``: the k-sparse autoencoder. The encoder's outputs are
          standardised per unit (with batch statistics in training and
          running ones afterwards, as batch normalisation does) so that every
          unit gets its turn; then for each sample only the ``n_active``
          largest are kept, through a softplus so that they are positive, and
          the others are set to 0. Every code has exactly ``n_active``
          non-zeros, in training and in ``transform``, with no penalty to
          tune.
        - ``"l1"``: the code goes through a ReLU and the loss adds
          ``alpha_code * mean(|code|)`` to the reconstruction error, which
          drives units to exactly 0. The number of active units varies from
          sample to sample and grows as ``alpha_code`` shrinks.
        - ``"sae_topk"``: the top-k sparse autoencoder as Gao et al. (2024)
          build it: linear (``hidden_layer_sizes``, ``activation`` and
          ``dropout`` are ignored), ``code = topk(relu(W (x - b) + c))``,
          ``x_hat = code @ atoms_ + b`` with unit-norm atoms, the encoder
          started as the decoder's transpose and ``b`` as the mean row. A
          latent firing on fewer than half its share of rows gets a bias in
          the top-k choice (never in the code) until it fires that often;
          dead ones get the AuxK term (``n_aux``, ``alpha_aux``,
          ``dead_after``); ``refine_sweeps`` refits the kept values.
        - ``"sae_batchtopk"``: the same, but training keeps the
          ``n_active * batch`` largest activations of each batch (BatchTopK,
          Bussmann et al., 2024), so that rows may use more or fewer latents;
          ``transform`` keeps every activation above a threshold learned in
          training (``threshold_``): about ``n_active`` per row.

    n_active : int, default=4
        Number of non-zero code entries per sample with ``sparsity="topk"``
        (at most, with ``"sae_topk"``; on average, with ``"sae_batchtopk"``).
        When it is not smaller than ``n_components`` no unit is dropped.
        Ignored with ``"l1"``.

    n_aux : int or "auto", default="auto"
        With the ``"sae_"`` settings, the number of dead latents (the most
        active of them for each row) that the AuxK term asks to reconstruct
        what the live ones missed. ``"auto"`` is half the number of input
        features; 0 turns the term off. Ignored otherwise.

    alpha_aux : float, default=1/32
        Weight of the AuxK term in the loss, with the ``"sae_"`` settings
        (Gao et al.'s value). Ignored otherwise.

    dead_after : int, default=10_000
        With the ``"sae_"`` settings, a latent counts as dead once it has not
        fired on this many training rows in a row; the count goes on across
        ``partial_fit`` calls. Ignored otherwise.

    refine_sweeps : int, default=3
        With ``"sae_topk"``, ``transform`` keeps the encoder's choice of
        latents but refits their values to the row: non-negative least
        squares over the chosen atoms, by this many sweeps of coordinate
        descent (0: the encoder's values). Training is unchanged.

    alpha_code : float, default=0.01
        Weight of the L1 penalty on the code with ``sparsity="l1"``. Ignored
        with ``"topk"``.

    learning_rate : {"constant", "linear"}, default="constant"
        ``"linear"`` holds ``learning_rate_init`` over the first half of each
        ``fit``'s epochs, then lowers it linearly towards 0 (``partial_fit``
        keeps it). The user guide's SAE section says where it helped.

    hidden_layer_sizes : int or tuple of int, default=(256,)
        Widths of the encoder's hidden layers, from the input towards the
        code; the decoder uses the same widths in reverse. ``()`` gives a
        linear encoder and decoder, whose atoms then add up exactly. Wider
        than :class:`AutoEncoder`'s default (see Notes).

    activation : {"relu", "tanh", "logistic", "elu", "gelu", "identity"}, default="relu"
        Activation of the hidden layers. The output layer is linear; the
        code goes through the sparsifying step chosen by ``sparsity``.

    dropout : float in [0, 1), default=0.1
        Dropout rate after each hidden layer, during training only. A wide
        code overfits small data sets without it (see Notes).

    batch_size : int or "auto", default=128
        Mini-batch size; ``"auto"`` is ``min(200, n_samples)`` as in
        :class:`~sklearn.neural_network.MLPRegressor`. A size larger than the
        data is clipped to it.

    learning_rate_init : float, default=3e-3
        Adam's learning rate.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data, stop when its
        loss stops improving and restore the best weights (the weights
        training starts from count as epoch 0). Without it, training stops
        when the training loss stops improving.

    tol : float, default=1e-4
        Relative improvement of the monitored loss below which an epoch does
        not count as progress.

    {inherit Parameters}

    Attributes
    ----------
    atoms_ : ndarray of shape (n_components, n_features)
        What each code unit adds to the reconstruction at activation 1:
        ``inverse_transform(e_j) - inverse_transform(0)`` for the unit vector
        ``e_j``. With a linear decoder (``hidden_layer_sizes=()``) the
        reconstruction is exactly ``inverse_transform(0) + code @ atoms_``,
        as ``code @ components_`` is for
        :class:`~sklearn.decomposition.DictionaryLearning`. With the
        ``"sae_"`` settings, the rows are unit vectors.

    dead_fraction_ : float or None
        With the ``"sae_"`` settings, the share of latents that fired on none
        of the last ``dead_after`` training rows (or on none of the training
        rows, when fewer were seen), counted across ``partial_fit`` calls.
        None otherwise; :meth:`code_metrics` counts dead latents on any rows.

    threshold_ : float or None
        With ``"sae_batchtopk"``, the activation above which ``transform``
        keeps a latent: the running average of the smallest activation
        BatchTopK kept in each training batch. None otherwise.

    {inherit Attributes}

    See Also
    --------
    AutoEncoder : Dense codes of a few units.
    sklearn.decomposition.MiniBatchDictionaryLearning : Sparse codes with a
        linear decoder, computed by an optimisation for every sample.

    Notes
    -----
    ``loss_curve_`` includes the L1 penalty with ``sparsity="l1"``;
    ``reconstruction_error_`` and ``score`` measure the reconstruction only.

    The defaults of ``hidden_layer_sizes``, ``dropout``, ``batch_size`` and
    ``learning_rate_init`` differ from :class:`AutoEncoder`'s: on the digits
    (3 seeds; 16/3, 32/4, 64/5 units/active), the validation error over
    that of :class:`~sklearn.decomposition.MiniBatchDictionaryLearning` with
    OMP codes went from 0.94, 1.04, 1.30 to 0.84, 0.96, 1.17
    (``benchmarks/bench_variants.py``).

    For interpretability, use ``sparsity="sae_topk"`` with ``n_components``
    several times the number of features and ``latent_density=None``: the
    user guide's "Sparse autoencoders for interpretability" says why, and
    what the lift (Wang et al., 2024) and ``refine_sweeps`` are for.

    :meth:`sample` respects the code: the codes drawn from the Gaussian
    mixture (``latent_density``) are set to 0 where negative and, with
    ``sparsity="topk"``, all but their ``n_active`` largest entries are set
    to 0 before they are decoded.

    References
    ----------
    A. Makhzani and B. Frey, "k-Sparse Autoencoders", ICLR 2014.

    L. Gao et al., "Scaling and evaluating sparse autoencoders", 2024,
    arXiv:2406.04093.

    B. Bussmann, P. Leask and N. Nanda, "BatchTopK Sparse Autoencoders",
    2024, arXiv:2412.06410. L. Wang et al., "Auxiliary-Loss-Free Load
    Balancing Strategy for Mixture-of-Experts", 2024, arXiv:2408.15664.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> from skae import SparseAutoEncoder
    >>> X = MinMaxScaler().fit_transform(load_digits().data)
    >>> sae = SparseAutoEncoder(32, n_active=4, max_iter=5, random_state=0).fit(X)
    >>> codes = sae.transform(X)
    >>> codes.shape
    (1797, 32)
    >>> np.count_nonzero(codes, axis=1).max()
    np.int64(4)
    >>> sae.atoms_.shape
    (32, 64)

    The interpretability setting: a linear top-k SAE with unit-norm atoms.

    >>> sae = SparseAutoEncoder(128, n_active=4, sparsity="sae_topk",
    ...     latent_density=None, max_iter=5, random_state=0).fit(X)
    >>> np.allclose(np.linalg.norm(sae.atoms_, axis=1), 1.0)
    True
    >>> sorted(sae.code_metrics(X))
    ['dead_fraction', 'fvu', 'l0']
    """

    _parameter_constraints = {
        **BaseAutoEncoder._parameter_constraints,
        **DENSE_CONSTRAINTS,
        "sparsity": [StrOptions({"topk", "l1", *SAE_SPARSITIES})],
        "n_active": [Count(1)],
        "alpha_code": [Interval(Real, 0, None, closed="left")],
        "n_aux": [Count(0), StrOptions({"auto"})],
        "alpha_aux": [Interval(Real, 0, None, closed="left")],
        "dead_after": [Count(1)],
        "refine_sweeps": [Count(0)],
        "learning_rate": [StrOptions({"constant", "linear"})],
        **SAMPLING_CONSTRAINTS,
    }

    def __init__(
        self,
        n_components=32,
        *,
        sparsity="topk",
        n_active=4,
        alpha_code=0.01,
        n_aux="auto",
        alpha_aux=1 / 32,
        dead_after=10_000,
        refine_sweeps=3,
        hidden_layer_sizes=(256,),
        activation="relu",
        dropout=0.1,
        alpha=0.0,
        batch_size=128,
        learning_rate_init=3e-3,
        learning_rate="constant",
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
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate
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
        self.sparsity = sparsity
        self.n_active = n_active
        self.alpha_code = alpha_code
        self.n_aux = n_aux
        self.alpha_aux = alpha_aux
        self.dead_after = dead_after
        self.refine_sweeps = refine_sweeps
        self.latent_density = latent_density
        self.calibrate_samples = calibrate_samples

    def _build_module(self, n_features):
        if self.sparsity in SAE_SPARSITIES:
            n_aux = max(1, n_features // 2) if self.n_aux == "auto" else self.n_aux
            sizes = n_features, self.n_components, self.n_active
            return DictionaryAutoEncoder(
                *sizes,
                batch_topk=self.sparsity == "sae_batchtopk",
                n_aux=min(n_aux, self.n_components),
                dead_after=self.dead_after,
                refine_sweeps=self.refine_sweeps,
            )
        # No PCA start here: the code goes through a top-k selection or a
        # ReLU, which a linear path could not pass through unchanged.
        module = dense_autoencoder(
            n_features,
            self.n_components,
            self._hidden_sizes(),
            activation=self.activation,
            dropout=self.dropout,
        )
        if self.sparsity == "topk":
            module.encoder.extend([Standardize(self.n_components), TopK(self.n_active)])
        else:
            module.encoder.append(nn.ReLU())
        return module

    def _initialize_from_data(self, module, X):
        if isinstance(module, DictionaryAutoEncoder):
            module.start(torch.as_tensor(X.mean(axis=0)))

    def _set_fitted_attributes(self, X, incremental):
        super()._set_fitted_attributes(X, incremental)
        sae = isinstance(module := self.net_.module_, DictionaryAutoEncoder)
        self.dead_fraction_ = module.dead_fraction() if sae else None
        self.threshold_ = float(module.threshold) if sae and module.batch_topk else None

    def _training_callbacks(self):
        linear = self.learning_rate == "linear"
        return [("decay", LinearDecay(hold=0.5))] if linear else []

    def _build_criterion(self):
        if self.sparsity in SAE_SPARSITIES:
            return AuxKLoss(self.alpha_aux)
        if self.sparsity == "l1":
            return L1CodeLoss(self.alpha_code)
        return super()._build_criterion()

    def _project_codes(self, Z):
        # Mixture draws are dense and signed; the decoder saw non-negative
        # codes with (top-k) n_active units on, with the built settings.
        n_active, sparsity = (self._built_with[k] for k in ("n_active", "sparsity"))
        Z = np.maximum(Z, 0.0)
        if sparsity == "sae_batchtopk":
            # Called by the sampling mixin before threshold_ is set.
            return np.where(Z > float(self.net_.module_.threshold), Z, 0.0)
        if sparsity in ("topk", "sae_topk") and n_active < Z.shape[1]:
            return keep_top_k(torch.from_numpy(Z), n_active).numpy()
        return Z

    @property
    def atoms_(self):
        check_is_fitted(self)
        n_units = self._n_features_out
        codes = np.vstack([np.zeros(n_units), np.eye(n_units)])
        decoded = self.inverse_transform(codes)
        return decoded[1:] - decoded[:1]

    def code_metrics(self, X):
        """The sparse-autoencoder field's numbers on the rows ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to encode, held out from training for an honest FVU.

        Returns
        -------
        metrics : dict
            ``"fvu"``: the fraction of variance unexplained,
            ``sum((X - X_hat) ** 2) / sum((X - X.mean(axis=0)) ** 2)``, with
            ``X_hat = inverse_transform(transform(X))``; ``"l0"``: the mean
            number of non-zero code entries per row; ``"dead_fraction"``:
            the share of code units that are 0 on every row of ``X``.
        """
        check_is_fitted(self)
        return code_metrics(self, self._validate_input(X, reset=False))
