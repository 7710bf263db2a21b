"""UMAPAutoEncoder: parametric UMAP with a decoder (Sainburg et al., 2021)."""

import contextlib
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ._autoencoder import AutoEncoder
from ._base.base import BaseAutoEncoder
from ._base.dense import DENSE_CONSTRAINTS, DenseMixin
from ._base.labels import LABEL_CONSTRAINTS, LabelsMixin
from ._base.sampling import SAMPLING_CONSTRAINTS, SamplingMixin
from ._net import LinearDecay
from ._nn.losses import UMAPLoss
from ._nn.modules import dense_autoencoder
from ._nn.residual import ResidualAutoEncoderModule
from ._nn.umap import EdgeAutoEncoderModule
from ._support import umap_params
from ._support.pca_start import pca_start
from ._support.umap import call_edges, find_ab_params, search_jobs
from ._utils.docs import inherit_docs
from ._utils.runtime import torch_threads_kept

#: Standard deviation of each code unit at the PCA start: UMAP's curve
#: (min_dist=0.1) separates neighbours from non-neighbours at distances of
#: about 1, so clusters start a few units apart.
PCA_START_SCALE = 3.0
#: The most graph edges an epoch trains on (see max_iter).
EDGES_PER_EPOCH = 2**15


@inherit_docs(AutoEncoder, exclude=("early_stopping", "target_mean_", "target_scale_"))
class UMAPAutoEncoder(LabelsMixin, SamplingMixin, DenseMixin, BaseAutoEncoder):
    """Parametric UMAP with a decoder: neighbour-keeping codes that invert.

    ``fit`` builds UMAP's fuzzy graph of the ``n_neighbors`` nearest
    neighbours of each training row, then trains an encoder and a decoder
    together on UMAP's cross-entropy over sampled edges of the graph, with
    negative sampling, plus ``reconstruction_weight`` times the mean squared
    reconstruction error (parametric UMAP with a reconstruction loss,
    Sainburg, McInnes & Gentner, 2021). ``transform`` runs the encoder only,
    so that new rows are embedded without a neighbour search;
    ``inverse_transform`` runs the decoder.

    Parameters
    ----------
    n_components : int, default=2
        Size of the code (the embedding).

    n_neighbors : int, default=15
        Number of nearest neighbours (the row itself included, as in
        umap-learn) that define each row's neighbourhood: small values keep
        local structure, large ones more of the global structure. When
        larger than the number of rows, all rows are used, with a warning.

    min_dist : float, default=0.1
        Smallest distance between codes in UMAP's target similarity curve:
        small values pack neighbours tightly, larger ones spread them out.
        At most ``spread``.

    spread : float, default=1.0
        Scale of the embedded points; with ``min_dist``, sets the curve
        ``1 / (1 + a d^(2b))`` the codes' similarities follow (``a_``, ``b_``).

    metric : str, default="euclidean"
        Distance between rows for the neighbour graph; any metric of
        :class:`~sklearn.neighbors.NearestNeighbors` that needs nothing
        but the rows (not ``"seuclidean"``, ``"mahalanobis"``, ``"pyfunc"``
        or ``"precomputed"``). The metrics on sets (``"jaccard"``,
        ``"dice"`` ...) take X of 0s and 1s, ``"hamming"`` integer codes.
        From 4,096 rows on, with pynndescent installed (the ``umap`` extra),
        the search is umap-learn's approximate NN-descent for
        ``"euclidean"``, ``"manhattan"``, ``"chebyshev"``, ``"cosine"`` and
        ``"correlation"``; otherwise exact, which takes minutes at tens of
        thousands of rows of hundreds of features (fit warns).

    negative_sample_rate : int, default=5
        Weight of the push of each edge's head away from non-neighbours, in
        UMAP's unit: as many negative samples per edge. Each head is pushed
        away from all the other rows of its batch (up to 256 edges), their
        mean counting as ``negative_sample_rate`` samples, which gives the
        same objective as sampling them, with less noise.

    target_weight : float in [0, 1] or None, default=None
        How much the class labels passed to ``fit`` as ``y`` shape the
        codes, in two ways. The graph, as in umap-learn's supervised UMAP:
        an edge between rows of different classes is weakened by
        ``exp(-2.5 / (1 - target_weight))`` (cut at 1), so that classes form
        clusters of their own; an edge with an unlabelled end (-1) keeps
        its strength (umap-learn weakens it by ``exp(-1)``). And a softmax
        head on the code, as in the other estimators: the loss is
        ``(1 - target_weight)`` times UMAP's cross-entropy plus
        ``target_weight`` times the head's over the labelled rows of each
        batch, plus the reconstruction term at its own weight. A
        label of -1 marks a row without a class. ``None`` ignores ``y``, as
        PCA does. umap-learn uses ``y``
        whenever it is given, as it is in a
        :class:`~sklearn.pipeline.Pipeline`, with a weight of 0.5: set 0.5
        for the same. Changing it refuses a warm start (the head is part of
        the network).

    reconstruction_weight : float, default=0.1
        Weight of the mean squared reconstruction error in the loss, with
        or without labels; 0 trains the decoder without letting it shape
        the codes (it still learns, as nothing else moves its weights).
        Larger weights keep more of what tells the rows of a cluster apart,
        and spread the clusters wider.

    init : {"pca", "random"}, default="pca"
        ``"pca"``: the network starts as PCA (see
        :class:`~skae.AutoEncoder`), its codes scaled to a standard deviation
        of a few units, so that UMAP starts from PCA's global layout.
        ``"random"``: random weights.

    hidden_layer_sizes : int or tuple of int, default=(128, 128)
        Widths of the encoder's hidden layers, from the input towards the
        code; the decoder uses the same widths in reverse.

    batch_size : int or "auto", default=256
        Number of graph edges per mini-batch (each edge is two rows);
        ``"auto"`` is ``min(200, n_samples)``.

    learning_rate_init : float, default=1e-2
        Adam's learning rate at the first epoch of each ``fit``; it falls
        linearly over the ``max_iter`` epochs (to ``1 / max_iter`` of it at
        the last), as umap-learn's step size, so that the last epochs settle
        the codes. ``partial_fit`` trains at this rate.

    max_iter : int, default=20
        Number of epochs; an epoch samples each edge of the graph in
        proportion to its weight, about once for the strongest ones, and
        trains on at most 32,768 of the sampled edges (a fresh random subset
        at every epoch), so that a fit's cost stays bounded from about
        5,000 rows on. As
        umap-learn's ``n_epochs``, a budget: the loss, estimated from
        negative samples, keeps drifting down for hundreds of epochs, so
        reaching ``max_iter`` raises no ConvergenceWarning. Training stops
        sooner when the loss stops improving by ``tol``.

    tol : float, default=1e-3
        Relative improvement of the training loss below which an epoch does
        not count as progress.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the sampled edges, stop when the
        loss on them stops improving, and restore the best weights. The
        held-out edges join training rows, so this guards against training
        too long rather than measuring the error on new rows.

    {inherit Parameters}

    Attributes
    ----------
    a_, b_ : float
        The curve ``1 / (1 + a d^(2b))`` fitted to ``min_dist`` and
        ``spread``, as umap-learn's ``a`` and ``b``.

    n_neighbors_ : int
        Number of neighbours the last graph was built with.

    loss_curve_ : list of float
        Training loss per epoch: UMAP's cross-entropy per pair plus
        ``reconstruction_weight`` times the mean squared error.

    {inherit Attributes}

    See Also
    --------
    AutoEncoder : Codes that only aim at reconstruction.
    sklearn.manifold.TSNE : Neighbour-keeping embedding without a transform.

    Notes
    -----
    Memory and time stay bounded by the graph's size: the graph holds at
    most ``2 n (n_neighbors - 1)`` edges, an epoch draws at most one
    sample per edge and trains on at most 32,768 of them; the edges index
    the training rows, which are stored once; a batch compares each head
    with at most 255 other codes.
    ``transform``, ``inverse_transform`` and ``score_samples`` never search
    for neighbours. ``partial_fit`` builds the graph of the chunk it
    is given. The measured codes, speed and reconstructions against
    umap-learn's UMAP are in the user guide, printed by
    ``benchmarks/bench_embedding.py``.

    From 4,096 rows on, with pynndescent installed (the ``umap`` extra), the
    neighbour search is approximate. With ``random_state=None`` it runs on
    ``n_threads`` threads (every core for ``"auto"`` and ``None``), and its
    graph can differ between runs; with a ``random_state`` it runs on one,
    so that the same seed gives the same codes. umap-learn does the same.

    Scale the data first (``StandardScaler``, say): the neighbour graph and
    the reconstruction error weigh every feature in its own units.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skae import UMAPAutoEncoder
    >>> X = StandardScaler().fit_transform(load_digits().data[:300])
    >>> umap = UMAPAutoEncoder(max_iter=3, random_state=0)
    >>> codes = umap.fit_transform(X)
    >>> codes.shape
    (300, 2)
    >>> umap.inverse_transform(codes).shape
    (300, 64)
    >>> umap.sample(5, random_state=0).shape
    (5, 64)
    """

    _parameter_constraints = {
        **BaseAutoEncoder._parameter_constraints,
        **DENSE_CONSTRAINTS,
        "n_neighbors": [Interval(Integral, 2, None, closed="left")],
        "min_dist": [Interval(Real, 0, None, closed="left")],
        "spread": [Interval(Real, 0, None, closed="neither")],
        "metric": [StrOptions(set(umap_params.METRICS))],
        "negative_sample_rate": [Interval(Integral, 0, None, closed="left")],
        **LABEL_CONSTRAINTS,
        "reconstruction_weight": [Interval(Real, 0, None, closed="left")],
        "init": [StrOptions({"pca", "random"})],
        **SAMPLING_CONSTRAINTS,
    }

    _max_iter_is_a_budget = True
    # Batches are graph edges; the supervised graph needs class labels.
    _batches_index_rows = True
    _needs_classes = True
    # UMAP's loss sets the codes' scale (its curve of a and b): a penalty on
    # it bends the layout, and cost held-out accuracy in the trials.
    _class_code_penalty = 0.0

    # The graph is rebuilt from the data at every fit or partial_fit call.
    _warm_start_params = frozenset({"n_neighbors", "metric"})

    @umap_params.umap_learn_names
    def __init__(
        self,
        n_components=2,
        *,
        n_neighbors=15,
        min_dist=0.1,
        spread=1.0,
        metric="euclidean",
        negative_sample_rate=5,
        target_weight=None,
        reconstruction_weight=0.1,
        init="pca",
        hidden_layer_sizes=(128, 128),
        activation="relu",
        dropout=0.0,
        alpha=0.0,
        batch_size=256,
        learning_rate_init=1e-2,
        max_iter=20,
        tol=1e-3,
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
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.spread = spread
        self.metric = metric
        self.negative_sample_rate = negative_sample_rate
        self.target_weight = target_weight
        self.reconstruction_weight = reconstruction_weight
        self.init = init
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

    # ------------------------------------------------------- the base's hooks

    def _check_params(self):
        super()._check_params()
        umap_params.check_params(self)

    def _prepare(self, X, resume):
        umap_params.check_metric_data(self.metric, X)
        super()._prepare(X, resume)
        if not resume:
            self.a_, self.b_ = find_ab_params(float(self.spread), float(self.min_dist))
        # Built here rather than in _training_data, so that its warning points
        # at the user's call; handed over (and dropped) by _training_data.
        with torch_threads_kept():
            self._fit_edges = self._edges(X)

    def _stored_value_problems(self):
        return {**super()._stored_value_problems(), **umap_params.curve_problems(self)}

    def _build_module(self, n_features):
        build = ResidualAutoEncoderModule if self.init == "pca" else dense_autoencoder
        return EdgeAutoEncoderModule(
            build(
                n_features,
                self.n_components,
                self._hidden_sizes(),
                activation=self.activation,
                dropout=self.dropout,
            )
        )

    def _training_callbacks(self):
        # Clusters tighten only as the steps shrink, as in umap-learn's SGD.
        return [("decay", LinearDecay())]

    def _build_criterion(self):
        a, b = find_ab_params(float(self.spread), float(self.min_dist))
        return UMAPLoss(
            a,
            b,
            negative_sample_rate=self.negative_sample_rate,
            reconstruction_weight=self.reconstruction_weight,
        )

    def _initialize_from_data(self, module, X):
        if self.init != "pca":
            return
        # AutoEncoder's start, with codes of PCA_START_SCALE's spread.
        mean, components, scale = pca_start(
            X,
            self.n_components,
            lambda: int(self._draw_seeds(1)[0]),
            n_workers=torch.get_num_threads(),
        )
        scale = scale / PCA_START_SCALE
        module.start_from_pca(
            torch.from_numpy(mean),
            torch.from_numpy(components),
            torch.from_numpy(scale),
        )

    def _training_rows_per_epoch(self):
        return EDGES_PER_EPOCH

    def _training_data(self, module, X):
        return self._labelled(module, self._edge_data(module, X))

    @contextlib.contextmanager
    def _edge_data(self, module, X):
        edges = vars(self).pop("_fit_edges")
        device = next(module.parameters()).device
        module.lend_rows(torch.from_numpy(np.ascontiguousarray(X)).to(device))
        try:
            yield edges
        finally:
            module.lend_rows(None)

    # ---------------------------------------------------------------- graph

    def _edges(self, X):
        """The edges of ``X``'s fuzzy graph that the epochs of this call train on."""
        y = getattr(self, "_fit_labels", None)  # dropped by LabelsMixin
        edges, self.n_neighbors_ = call_edges(
            X,
            self.n_neighbors,
            self.metric,
            # A fifth seed: the first four build the net (see _initialize_net).
            self._draw_seeds(5)[-1],
            None if self.target_weight is None else y,
            self.target_weight,
            n_jobs=search_jobs(self.random_state, self.n_threads),
        )
        return edges
