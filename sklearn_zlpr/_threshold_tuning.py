"""Tuned decision thresholds for any multi-label classifier.

The multi-label counterpart of scikit-learn's ``TunedThresholdClassifierCV``
(binary only): out-of-fold scores from a cross-validation, one threshold (or
one per label) chosen on them, then the estimator refitted on all the data.
The search itself is :class:`~sklearn_zlpr._decision.DecisionRule`'s, the one
``ZLPRClassifier(threshold="auto")`` uses on its validation split.
"""

import numbers

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _num_samples, check_is_fitted

from ._decision import DecisionRule, _per_label_cuts
from ._split import MultilabelStratifiedKFold, _check_indicator
from .metrics import _get_metric, _scores_of

__all__ = ["TunedMultilabelThresholds"]


def _fold_scores(estimator, X, Y, train, test):
    """Fit on ``train``; the scores and the estimator's own predictions on ``test``."""
    fitted = clone(estimator).fit(_take(X, train), Y[train])
    X_test = _take(X, test)
    pred = fitted.predict(X_test)
    pred = pred.toarray() if sp.issparse(pred) else np.asarray(pred)
    return test, _scores_of(fitted, X_test), pred


def _take(X, rows):
    if hasattr(X, "iloc"):  # a DataFrame
        return X.iloc[rows]
    if sp.issparse(X) or isinstance(X, np.ndarray):
        return X[rows]
    return [X[i] for i in rows]  # e.g. a list of texts


def _estimator_has(name):
    def check(self):
        est = self.estimator_ if hasattr(self, "estimator_") else self.estimator
        return hasattr(est, name)

    return check


class TunedMultilabelThresholds(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Decision thresholds of a multi-label classifier, tuned by cross-validation.

    Fits ``estimator`` on the training part of each split of ``cv``, scores
    the held-out part (``decision_function``, else ``predict_proba``), picks
    the threshold that maximises ``scoring`` on those out-of-fold scores, and
    refits ``estimator`` on all the data. ``predict`` returns
    ``scores > threshold``, plus the best-scored labels of rows left with
    fewer than ``min_labels``.

    Parameters
    ----------
    estimator : estimator object
        A multi-label classifier with ``decision_function`` or
        ``predict_proba``: ``ZLPRClassifier``,
        ``OneVsRestClassifier(LogisticRegression())``, ``MLPClassifier``,
        ``KNeighborsClassifier``, a ``Pipeline`` ending in one, ...
    scoring : str, default="example_f1"
        The set metric to maximise (lower-is-better ones are minimised): a
        name of :func:`sklearn_zlpr.metrics.get_scorer_names` that reads
        ``predict``, e.g. ``"example_f1"``, ``"micro_f1"``, ``"macro_f1"``,
        ``"subset_accuracy"``, ``"neg_hamming_loss"``.
    per_label : bool, default=False
        False: one threshold for all labels, the best for ``scoring``. True:
        one per label, each maximising that label's F1 (which maximises macro
        F1); labels without a positive out-of-fold row keep the global one.
    cv : int, cross-validation generator or iterable, default=5
        An int is the number of folds of a
        :class:`~sklearn_zlpr.model_selection.MultilabelStratifiedKFold`;
        or any scikit-learn splitter or iterable of (train, test) indices.
    thresholds : int or array-like, default=500
        The candidate thresholds: an int is the most candidates to try (every
        distinct out-of-fold score when there are no more, else that many of
        their quantiles), plus one below all scores and the estimator's own
        decision point; an array gives them explicitly.
    min_labels : int or "auto", default="auto"
        At least this many labels per row (the best-scored ones are added),
        both in the search and in ``predict``. ``"auto"``: 1 when every
        training row has a label, else 0 (as ``ZLPRClassifier``'s own
        ``min_labels="auto"``).
    n_jobs : int, default=None
        Folds fitted in parallel (joblib).

    Attributes
    ----------
    estimator_ : estimator object
        ``estimator`` refitted on all the data.
    best_threshold_ : float or ndarray of shape (n_labels,)
        The chosen threshold(s) on ``estimator_``'s scores.
    best_score_ : float
        ``scoring`` of the out-of-fold scores at ``best_threshold_`` (not
        negated).
    untuned_score_ : float
        ``scoring`` of the out-of-fold predictions of ``estimator`` itself
        (its own ``predict``), for comparison.
    min_labels_ : int
        The ``min_labels`` used (resolves ``"auto"``).
    n_labels_ : int
        Number of labels seen in ``fit``.

    See Also
    --------
    sklearn.model_selection.TunedThresholdClassifierCV : The binary version.
    ZLPRClassifier : Its ``threshold="auto"`` tunes on a validation split.

    Notes
    -----
    The scores of the folds come from different fitted models, as in
    ``TunedThresholdClassifierCV``; a threshold found on them applies to the
    refitted model as long as the fits are stable. Ties among equally good
    thresholds go to the one closest to the estimator's own decision point
    (0 for ``decision_function``, 0.5 for probabilities).

    Examples
    --------
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.multiclass import OneVsRestClassifier
    >>> from sklearn_zlpr.model_selection import TunedMultilabelThresholds
    >>> X, Y = make_multilabel_classification(n_samples=200, random_state=0)
    >>> tuned = TunedMultilabelThresholds(
    ...     OneVsRestClassifier(LogisticRegression(max_iter=1000)), cv=3
    ... ).fit(X, Y)
    >>> tuned.predict(X).shape
    (200, 5)
    >>> bool(tuned.best_score_ >= tuned.untuned_score_)
    True
    """

    def __init__(
        self,
        estimator,
        *,
        scoring="example_f1",
        per_label=False,
        cv=5,
        thresholds=500,
        min_labels="auto",
        n_jobs=None,
    ):
        self.estimator = estimator
        self.scoring = scoring
        self.per_label = per_label
        self.cv = cv
        self.thresholds = thresholds
        self.min_labels = min_labels
        self.n_jobs = n_jobs

    def _splits(self, X, Y):
        cv = self.cv
        if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
            cv = MultilabelStratifiedKFold(n_splits=int(cv))
        if hasattr(cv, "split"):
            return list(cv.split(X, Y))
        try:
            return list(cv)
        except TypeError:
            raise TypeError(
                "cv must be an int, a cross-validation splitter or an iterable "
                f"of (train, test) index arrays; got {cv!r}."
            ) from None

    def _candidates(self, oof, base):
        t = self.thresholds
        if isinstance(t, numbers.Integral) and not isinstance(t, bool):
            if t < 1:
                raise ValueError(f"thresholds must be at least 1; got {t}.")
            values = np.unique(oof)
            if values.size > t:
                values = np.unique(np.quantile(oof, np.linspace(0, 1, t)))
            # Also below every score ("predict every label") and the
            # estimator's own decision point (so tuning never loses to it).
            return np.unique(np.concatenate([[values[0] - 1.0, base], values]))
        values = np.asarray(t, dtype=np.float64).ravel()
        if values.size == 0 or not np.all(np.isfinite(values)):
            raise ValueError(
                "thresholds must be a positive int or a non-empty array of "
                "finite numbers."
            )
        return np.unique(values)

    def fit(self, X, y, **fit_params):
        """Tune the threshold(s) by cross-validation, then refit on all the data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), or list of str
            Training samples, in whatever form ``estimator`` takes.
        y : {array-like, sparse matrix} of shape (n_samples, n_labels)
            Binary label indicator matrix.
        **fit_params : dict
            Passed to ``estimator.fit`` for the final refit.

        Returns
        -------
        self : TunedMultilabelThresholds
            The fitted meta-estimator.

        Examples
        --------
        >>> from sklearn.datasets import make_multilabel_classification
        >>> from sklearn_zlpr import ZLPRClassifier
        >>> from sklearn_zlpr.model_selection import TunedMultilabelThresholds
        >>> X, Y = make_multilabel_classification(n_samples=100, random_state=0)
        >>> tuned = TunedMultilabelThresholds(ZLPRClassifier(), cv=3).fit(X, Y)
        >>> isinstance(tuned.best_threshold_, float)
        True
        """
        metric = _get_metric(self.scoring, response="predict", param="scoring")
        if not isinstance(self.per_label, (bool, np.bool_)):
            raise TypeError(f"per_label must be True or False; got {self.per_label!r}.")
        Y = _check_indicator(y)
        n = _num_samples(X)
        if Y.shape[0] != n:
            raise ValueError(f"X has {n} rows but y has {Y.shape[0]}; they must match.")
        if not (
            hasattr(self.estimator, "decision_function")
            or hasattr(self.estimator, "predict_proba")
        ):
            raise TypeError(
                f"{type(self.estimator).__name__} has neither decision_function "
                "nor predict_proba: there are no scores to put a threshold on."
            )
        Yd = Y.toarray()
        splits = self._splits(X, Yd)
        covered = np.zeros(n, dtype=int)
        for _, test in splits:
            covered[test] += 1
        if not np.all(covered == 1):
            raise ValueError(
                "cv must put every row in exactly one test fold (a partition, as "
                "KFold does), so that each row gets one out-of-fold score."
            )
        parts = Parallel(n_jobs=self.n_jobs)(
            delayed(_fold_scores)(self.estimator, X, Yd, train, test)
            for train, test in splits
        )
        oof = np.empty(Yd.shape, dtype=np.float64)
        oof_pred = np.empty(Yd.shape, dtype=np.int64)
        for test, scores, pred in parts:
            if scores.shape != (len(test), Yd.shape[1]):
                raise ValueError(
                    f"The estimator's scores have shape {scores.shape} on "
                    f"{len(test)} rows; expected ({len(test)}, {Yd.shape[1]}), "
                    "one per label. Is it a multi-label classifier?"
                )
            oof[test] = scores
            oof_pred[test] = pred
        base = self._own_threshold()
        self.min_labels_ = self._resolve_min_labels(Y)
        rule = _search(
            oof,
            Y,
            metric,
            base,
            self._candidates(oof, base),
            self.per_label,
            self.min_labels_,
        )
        self.best_threshold_ = rule.threshold
        self.best_score_ = float(metric.function(Y, rule.decide(oof)))
        self.untuned_score_ = float(metric.function(Y, oof_pred))
        self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        self.n_labels_ = Yd.shape[1]
        if hasattr(self.estimator_, "n_features_in_"):
            self.n_features_in_ = self.estimator_.n_features_in_
        return self

    @property
    def classes_(self):
        """The refitted estimator's ``classes_``, else the label indices.

        scikit-learn's string scorers (``scoring="f1_samples"``) read it.
        """
        check_is_fitted(self, "estimator_")
        classes = getattr(self.estimator_, "classes_", None)
        return np.arange(self.n_labels_) if classes is None else classes

    def _resolve_min_labels(self, Y):
        m = self.min_labels
        if isinstance(m, str) and m == "auto":
            return int(np.all(np.diff(Y.indptr) > 0))
        if isinstance(m, numbers.Integral) and not isinstance(m, bool) and m >= 0:
            return int(m)
        raise ValueError(f"min_labels must be a non-negative int or 'auto'; got {m!r}.")

    def _own_threshold(self):
        """The estimator's own decision point on the scores it is tuned on."""
        uses_decision = hasattr(self.estimator, "decision_function")
        return 0.0 if uses_decision else 0.5

    def _scores(self, X):
        check_is_fitted(self)
        return _scores_of(self.estimator_, X)

    def predict(self, X):
        """Predict the labels: the scores above the tuned threshold(s).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), or list of str
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_labels)
            Binary indicator matrix (int64).

        Examples
        --------
        >>> from sklearn.datasets import make_multilabel_classification
        >>> from sklearn.neighbors import KNeighborsClassifier
        >>> from sklearn_zlpr.model_selection import TunedMultilabelThresholds
        >>> X, Y = make_multilabel_classification(n_samples=100, random_state=0)
        >>> tuned = TunedMultilabelThresholds(KNeighborsClassifier(), cv=3).fit(X, Y)
        >>> tuned.predict(X[:2]).shape
        (2, 5)
        """
        scores = self._scores(X)
        rule = DecisionRule(self.best_threshold_, min_labels=self.min_labels_)
        return rule.decide(scores)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """The refitted estimator's ``decision_function``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), or list of str
            Samples.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_labels)
            Scores; ``predict`` compares them with ``best_threshold_``.

        Examples
        --------
        >>> from sklearn.datasets import make_multilabel_classification
        >>> from sklearn_zlpr import ZLPRClassifier
        >>> from sklearn_zlpr.model_selection import TunedMultilabelThresholds
        >>> X, Y = make_multilabel_classification(n_samples=100, random_state=0)
        >>> tuned = TunedMultilabelThresholds(ZLPRClassifier(), cv=3).fit(X, Y)
        >>> tuned.decision_function(X[:2]).shape
        (2, 5)
        """
        check_is_fitted(self)
        return self.estimator_.decision_function(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """The refitted estimator's ``predict_proba``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), or list of str
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_labels), or list of arrays
            Whatever ``estimator_.predict_proba`` returns.

        Examples
        --------
        >>> from sklearn.datasets import make_multilabel_classification
        >>> from sklearn_zlpr import ZLPRClassifier
        >>> from sklearn_zlpr.model_selection import TunedMultilabelThresholds
        >>> X, Y = make_multilabel_classification(n_samples=100, random_state=0)
        >>> tuned = TunedMultilabelThresholds(ZLPRClassifier(), cv=3).fit(X, Y)
        >>> tuned.predict_proba(X[:2]).shape
        (2, 5)
        """
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        try:
            inner = self.estimator.__sklearn_tags__()
            tags.input_tags.sparse = inner.input_tags.sparse
            tags.input_tags.string = inner.input_tags.string
        except AttributeError:
            pass
        return tags


def _search(oof, Y, metric, base, candidates, per_label, min_labels):
    """The best fixed threshold rule on the out-of-fold scores.

    Global: the candidate with the best ``metric`` (ties: the one closest to
    ``base``). Per label: each label's F1-best cut of its sorted scores
    (:func:`~sklearn_zlpr._decision._per_label_cuts`); labels without a
    positive keep the global threshold.
    """
    values = np.array(
        [
            metric.sign
            * metric.function(Y, DecisionRule(t, min_labels=min_labels).decide(oof))
            for t in candidates
        ]
    )
    ties = candidates[np.isclose(values, values.max(), rtol=0, atol=1e-12)]
    global_t = float(ties[np.argmin(np.abs(ties - base))])
    if not per_label:
        return DecisionRule(global_t, min_labels=min_labels)
    cuts = _per_label_cuts(oof, Y, global_t)
    return DecisionRule(cuts, min_labels=min_labels)
