"""Fully connected autoencoders."""

import torch
from sklearn.utils._param_validation import StrOptions

from ._base.base import BaseAutoEncoder
from ._base.dense import DENSE_CONSTRAINTS, DenseMixin
from ._base.labels import AUTO_RATE_CONSTRAINTS, LABEL_CONSTRAINTS, LabelsMixin
from ._base.sampling import SAMPLING_CONSTRAINTS, SamplingMixin
from ._nn.modules import dense_autoencoder
from ._nn.residual import ResidualAutoEncoderModule
from ._support.pca_start import pca_start


class AutoEncoder(LabelsMixin, SamplingMixin, DenseMixin, BaseAutoEncoder):
    """Fully connected autoencoder, a non-linear drop-in for PCA.

    An encoder network maps each sample to ``n_components`` numbers (the
    code) and a decoder that mirrors it maps the code back; both are trained
    together to minimise the mean squared reconstruction error. ``transform``
    returns the code, ``inverse_transform`` the reconstruction.

    Parameters
    ----------
    n_components : int, default=2
        Size of the code (the bottleneck), i.e. the number of output features
        of :meth:`transform`.

    init : {"pca", "random"}, default="pca"
        How the network starts.

        - ``"pca"``: a linear path plus a non-linear residual,
          ``code = P (x - mean) + f(x - mean)`` and
          ``reconstruction = mean + Q code + g(code)``, with ``P`` and ``Q``
          set to PCA's components (fitted on the training rows) and the last
          layers of the networks ``f`` and ``g`` at zero. Before the first
          step the model *is* PCA: ``transform`` gives PCA's scores (not
          whitened) and ``inverse_transform`` its reconstructions. Training
          starts there, so it only adds what PCA misses; with
          ``early_stopping=True`` the PCA start counts as epoch 0 and is kept
          when no epoch beats it on the validation data.
        - ``"random"``: a plain encoder-decoder network with random weights.

    target_weight : float in [0, 1] or None, default=None
        How much ``y``, when given to ``fit``, shapes the codes: a linear
        head on the code is trained on ``y`` with the loss
        ``(1 - target_weight) * reconstruction + target_weight * label loss``.
        Class labels (ints, strings, booleans) get a softmax head and its
        cross-entropy, a label of -1 marking a row without one, which trains
        the reconstruction only (semi-supervised codes). With class labels
        the network reads the input with gaussian noise (0.3 of each
        feature's spread, 0.5 in ConvAutoEncoder) and is scored against the
        input itself, so that a labelled row's neighbours follow it (an
        estimator with noise of its own keeps that), and the head's loss
        adds 0.003 times the labelled rows' mean squared code, so that the
        codes do not grow to sharpen the softmax. A float target (1-D or
        2-D) gets a linear head on its standardised values and their
        squared error. With class labels, ``early_stopping`` holds no rows out and
        stops on the training loss: the held-out cross-entropy rises once
        the head grows confident, long before the codes stop improving for
        a classifier. A float target keeps the held-out rows, which stop
        its head from overfitting a small table. ``None`` ignores ``y``,
        as PCA does, so that a
        :class:`~sklearn.pipeline.Pipeline` never turns supervised by
        surprise. 0.5 to 0.9 suits codes for a downstream classifier; see
        the user guide's "Supervised and semi-supervised codes".

    hidden_layer_sizes : int or tuple of int, default=(128,)
        Widths of the encoder's hidden layers, from the input towards the
        code; the decoder uses the same widths in reverse. ``()`` gives a
        linear encoder and decoder (with ``init="pca"``, PCA itself at the
        start).

    activation : {"relu", "tanh", "logistic", "elu", "gelu", "identity"}, default="relu"
        Activation of the hidden layers. The code and the output layer are
        linear, so codes can be used as features and reconstructions can take
        any value, whatever scaler comes first.

    dropout : float in [0, 1), default=0.0
        Dropout rate after each hidden layer, during training only.

    alpha : float, default=0.0
        L2 penalty on the weights (not the biases): adds
        ``alpha / 2 * ||W||^2`` to the loss, as Adam's weight decay.

    batch_size : int or "auto", default="auto"
        Mini-batch size; ``"auto"`` is ``min(200, n_samples)`` as in
        :class:`~sklearn.neural_network.MLPRegressor`, and
        ``min(400, n_samples)`` for a fit on class labels (``target_weight``
        with class labels in ``y``), which trains at twice the rate. A size
        larger than the data is clipped to it.

    learning_rate_init : float or "auto", default="auto"
        Adam's learning rate. ``"auto"`` is 2e-3, and for a fit on class
        labels, whose codes move further from the PCA start, 2e-2 in steps
        of 400 rows, in proportion for smaller steps (see the user guide's
        "Supervised and semi-supervised codes").

    max_iter : int, default=200
        Maximum number of epochs (passes over the training data).

    tol : float, default=1e-3
        Relative improvement of the monitored loss below which an epoch does
        not count as progress.

    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the training data, stop when its
        loss stops improving and restore the best weights; the weights
        training starts from (PCA, with ``init="pca"``) count as epoch 0.
        Without it, training stops when the training loss stops improving.
        Unlike :class:`~sklearn.neural_network.MLPRegressor`, on by default:
        on small tables the training loss keeps falling after the error on
        new data has started to rise (see the user guide's "Why not just
        PCA?"). A fit on class labels (``target_weight`` set) holds no
        rows out and watches the training loss: see ``target_weight``.

    validation_fraction : float in (0, 1), default=0.1
        Fraction of the training data held out when ``early_stopping``.

    n_iter_no_change : int, default=10
        Number of epochs without progress (see ``tol``) before stopping.

    shuffle : bool, default=True
        Reshuffle the training data at every epoch.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, dropout and the validation
        split. Fitting never reads or changes torch's or numpy's global random
        state. Pass an int for reproducible results.

    device : {"auto", "cpu", "cuda", "mps"} or str or torch.device, default="auto"
        Where to train. ``"auto"`` picks CUDA, then MPS, then the CPU. Any torch
        device string such as ``"cuda:1"`` works.

    n_threads : int, "auto" or None, default="auto"
        torch intra-op threads while fitting (and while transforming, when an
        int), at most 1024. ``"auto"`` trains small models (under about 16M
        multiply-adds per step) on one thread, which is faster than several
        for them, and leaves torch's setting otherwise; ``None`` always leaves
        it. The previous setting is restored afterwards.

    verbose : int, default=0
        0 is silent. 1 draws a progress bar over the epochs, with the last
        training (and validation) loss, when stderr is a terminal; set the
        environment variable ``SKAE_PROGRESS_BAR`` to ``1`` to draw it
        anyway (a log file, a notebook) or to ``0`` never to. 2 or more
        prints a table of losses per epoch on stdout instead, coloured on a
        terminal only. Where the stream is missing or closed (pythonw, some
        services), nothing is written and the fit goes on.

    warm_start : bool, default=False
        When fitted already, continue training from the current weights instead
        of starting again. Between the two fits (and between ``partial_fit``
        calls) the training settings ``learning_rate_init``, ``batch_size``,
        ``max_iter``, ``tol``, ``n_iter_no_change``, ``shuffle`` and
        ``n_threads`` may be changed and take effect (``verbose`` and
        ``random_state`` only at the next cold fit); changing a parameter
        that shapes the network or its loss (``n_components``,
        ``hidden_layer_sizes``, ``dropout``, ``alpha``, ``early_stopping``
        ...) raises a ``ValueError``: fit with
        ``warm_start=False`` to build a new network. Until the next fit,
        ``transform`` and the other methods use the fitted network, whatever
        ``set_params`` changed.

    latent_density : {"gmm"} or None, default="gmm"
        The density of the codes that :meth:`sample` draws from, fitted at
        the end of every ``fit`` and ``partial_fit`` call on the codes of
        the rows that call trained on (for ``partial_fit``: the last chunk;
        at most 2000 of them, drawn from ``random_state``).
        ``"gmm"``: a :class:`~sklearn.mixture.GaussianMixture` with full
        covariances (stored as 4 leading factors and a diagonal for codes
        of 17 to 32 units; diagonal ones for wider codes) and one component
        per 50 of those rows, at most 40 and as many as 0.45x the weights'
        bytes pay for with their calibration maps (more than BIC would
        choose, because its samples are the more realistic); its seed is
        drawn from ``random_state``. ``None``: no
        density, which saves the time to fit it; ``sample`` then raises.
        Changing it takes effect at the next fit, warm starts included.

    calibrate_samples : bool, default=True
        Map each feature of :meth:`sample`'s output through the monotone
        function that takes its distribution over decoded draws of the
        latent density to its distribution in the training data (quantiles
        fitted with the latent density; the draws' side is not stored but
        computed from the mixture at the first :meth:`sample`). Each mixture
        component has its own map, fitted on its draws and the training rows
        whose codes it holds (one that holds fewer than 20 uses the data of
        all rows); where the maps would
        take more than the density's share of the weights' bytes (a small
        network on wide rows), components share maps, and a model too small
        for even one map of 4 levels has none. Decoded means are
        smoother than real rows; the map gives them the data's range and
        its common values (exact zeros, say). ``False``: ``sample`` returns
        the decoded means, ``inverse_transform`` of the codes drawn.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained network; ``net_.module_`` is the torch module.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    n_iter_ : int
        Number of epochs trained, accumulated across warm starts.

    loss_curve_ : list of float
        Training loss (mean squared error) per epoch.

    validation_scores_ : list of float or None
        Negative validation loss per epoch when ``early_stopping`` held
        rows out (not in a fit on class labels), else None.

    best_validation_score_ : float or None
        Score of the weights kept when ``early_stopping``: the best epoch's,
        or the start's (scored before the first epoch, not in
        ``validation_scores_``; with ``init="pca"``, PCA's) when rows were
        held out, else None.

    reconstruction_error_ : float
        Mean squared reconstruction error on the training data at the end.

    device_ : torch.device
        Device the fitted model lives on: where it was trained, or the CPU
        after unpickling.

    classes_ : ndarray of shape (n_classes,)
        The classes the label head was trained on (sorted; -1 marks no
        class and is not one), when ``target_weight`` is set and ``fit`` got
        class labels.

    target_mean_ : ndarray of shape (n_targets,)
        Mean of each column of a float ``y``, when ``target_weight`` is set
        and ``fit`` got one: the head trains on the standardised target.

    target_scale_ : ndarray of shape (n_targets,)
        Standard deviation of each column of that ``y`` (1 for a constant
        one).

    See Also
    --------
    sklearn.decomposition.PCA : The linear counterpart; faster, and as good
        when the data lie close to a linear subspace.

    Notes
    -----
    Training runs in float32 with Adam. On the CPU, ``transform``,
    ``inverse_transform`` and ``score_samples`` run in float64, so a sample's
    output does not depend on the batch it is computed in; the output dtype is
    float32 for float32 input and float64 otherwise.

    The defaults (a PCA start, one hidden layer of 128, ReLU, Adam at 2e-3,
    early stopping on 10% of the rows) were chosen by measuring test
    reconstruction error against PCA's at equal ``n_components`` on the
    digits, wine, breast cancer and diabetes, each under ``MinMaxScaler`` and
    ``StandardScaler``, and the accuracy of a classifier on the codes; the
    numbers are printed by ``benchmarks/bench_autoencoder.py`` and shown in
    the user guide's "Why not just PCA?".

    Stopping on the training loss (``early_stopping=False``) with
    ``init="pca"`` still starts at PCA, but may end above PCA's error on
    new data when the data are small.

    :meth:`sample` draws codes from the Gaussian mixture fitted on the
    training codes (``latent_density``) and decodes them; see the user
    guide's "Generating samples" and ``benchmarks/bench_sample.py`` for how
    realistic they are.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> from skae import AutoEncoder
    >>> X = MinMaxScaler().fit_transform(load_digits().data)
    >>> ae = AutoEncoder(n_components=8, max_iter=20, random_state=0)
    >>> codes = ae.fit_transform(X)
    >>> codes.shape
    (1797, 8)
    >>> ae.inverse_transform(codes).shape
    (1797, 64)
    >>> ae.sample(5, random_state=0).shape
    (5, 64)
    """

    _parameter_constraints = {
        **BaseAutoEncoder._parameter_constraints,
        **DENSE_CONSTRAINTS,
        "init": [StrOptions({"pca", "random"})],
        **LABEL_CONSTRAINTS,
        **AUTO_RATE_CONSTRAINTS,
        **SAMPLING_CONSTRAINTS,
    }
    _auto_learning_rates = (2e-3, 2e-2)
    _auto_class_batch_size = 400

    def __init__(
        self,
        n_components=2,
        *,
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
        self.n_components = n_components
        self.init = init
        self.target_weight = target_weight
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

    def _build_module(self, n_features):
        if self.init == "pca":
            return ResidualAutoEncoderModule(
                n_features,
                self.n_components,
                self._hidden_sizes(),
                activation=self.activation,
                dropout=self.dropout,
            )
        return dense_autoencoder(
            n_features,
            self.n_components,
            self._hidden_sizes(),
            activation=self.activation,
            dropout=self.dropout,
        )

    def _initialize_from_data(self, module, X):
        if self.init != "pca":
            return
        mean, components, scale = pca_start(
            X,
            self.n_components,
            lambda: int(self._draw_seeds(1)[0]),
            n_workers=torch.get_num_threads(),
        )
        module.start_from_pca(
            torch.from_numpy(mean),
            torch.from_numpy(components),
            torch.from_numpy(scale),
        )
