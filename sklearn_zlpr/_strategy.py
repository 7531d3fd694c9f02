"""The private interface between ZLPRClassifier and the kinds of model behind it.

``ZLPRClassifier`` keeps the scikit-learn contract: parameters and their
validation, ``classes_`` and target encoding, the training criterion, the
validation split, the decision rule and the probability link, and the fitted
attributes. A *strategy* turns features and encoded targets into raw scores:
it owns the model, its training loop and everything specific to it. The
skorch network (an embedding bag, a dense MLP or a transformer encoder, see
:mod:`sklearn_zlpr._neural`) is one; the converged linear model
(:mod:`sklearn_zlpr._linear_model`) the other.

The life cycle, as scikit-learn's estimators dispatch to their solvers:

1. ``ZLPRClassifier.fit`` builds a new strategy from its *current* parameters
   at every non-incremental fit (so ``set_params`` always takes effect, warm
   start included) and calls :meth:`ModelStrategy.check_params` before
   anything is built: invalid combinations fail fast, with the parameter
   names in the message.
2. :meth:`ModelStrategy.fit` trains, possibly continuing ``previous`` (warm
   start), and returns the number of iterations run.
3. :meth:`ModelStrategy.partial_fit` trains one more pass.
4. :meth:`ModelStrategy.raw_scores` returns float32 scores of shape
   ``(n_samples, n_labels)``; the classifier maps them to decisions and
   probabilities.

A strategy must pickle, and must not keep training data after ``fit``.
"""


class ModelStrategy:
    """Base class of the model kinds (private interface, see the module notes).

    Parameters
    ----------
    params : dict
        The classifier's parameters (``get_params(deep=False)``), read only.
    encoder : str
        The resolved encoder (``"embedding_bag"``, ``"dense"``,
        ``"transformer"``, ...).
    """

    def __init__(self, params, encoder):
        self.params = params
        self.encoder = encoder

    def check_params(self, X, Y, *, n_train):
        """Resolve the ``"auto"`` parameters and check their combinations.

        Called before anything is built or trained.

        Parameters
        ----------
        X : {ndarray, sparse matrix, object ndarray}
            The validated features passed to ``fit`` (before any validation
            rows are held out).
        Y : scipy.sparse.csr_matrix of shape (n_samples, n_labels)
            The encoded targets.
        n_train : int
            Rows that will actually be trained on (after a validation split).
        """
        raise NotImplementedError

    def fit(
        self, X, Y, sample_weight, *, criterion, validation, rule, seed, previous=None
    ):
        """Train on ``(X, Y)`` and return the number of iterations run.

        Parameters
        ----------
        X : {ndarray, sparse matrix, object ndarray}
            Validated training features (the validation rows removed).
        Y : scipy.sparse.csr_matrix of shape (n_samples, n_labels)
            Encoded targets.
        sample_weight : ndarray of shape (n_samples,) or None
            Per-sample loss weights, as given (validated, not rescaled).
        criterion : torch.nn.Module
            The training loss (per-sample values, ``reduction="none"``, unless
            it is a batch-level loss).
        validation : tuple (X_val, Y_val) or None
            Data for early stopping and the epoch diagnostics.
        rule : DecisionRule
            The classifier's decision rule (for metrics that decide labels).
        seed : int
            Seeds every random draw of the training.
        previous : ModelStrategy or None, default=None
            A fitted strategy of the same kind to continue from (warm start).

        Returns
        -------
        int
            Iterations (epochs) run in all.
        """
        raise NotImplementedError

    def partial_fit(self, X, Y, sample_weight, *, criterion, rule, seed):
        """Train one more pass over ``(X, Y)``; return the iterations so far."""
        raise NotImplementedError

    def raw_scores(self, X):
        """Raw scores of the validated ``X``, float32 of shape (n, n_labels)."""
        raise NotImplementedError

    def fitted_attributes(self):
        """The strategy's fitted attributes to expose on the classifier (dict)."""
        return {}

    def held_out_scores(self):
        """``(scores, Y, sample_weight)`` of rows the last fit held out of its
        own training (for ``threshold="cardinality"``), or None; given once."""
