"""The one decision rule: raw scores to a label indicator matrix.

``ZLPRClassifier.predict``, the per-epoch diagnostics, early stopping on a set
metric and threshold tuning all decide labels through :class:`DecisionRule`,
so that an epoch is chosen, and a threshold tuned, by the very decision that
``predict`` makes.

Conventions
-----------
* ``scores``: raw scores ``s`` of shape ``(n_samples, n_labels)``, higher is
  more relevant; decisions are int64 indicator matrices of the same shape.
* The rule, in order: the top-k labels of each row when ``top_k`` is set,
  else ``s > threshold`` (a float, or one per label); then at least
  ``min_labels`` (the best-scored are added) and at most ``max_labels`` (the
  best-scored of the predicted are kept) per row.
"""

import numpy as np
import scipy.sparse as sp

from .metrics import _get_metric

#: Threshold candidates of the global tuning: quantiles of the scores.
_N_QUANTILES = 257


class DecisionRule:
    """Threshold or top-k, then label-count bounds; optionally tuned on data.

    Parameters
    ----------
    threshold : float, ndarray of shape (n_labels,) or None, default=0.0
        Predict ``s > threshold``. With ``tune``, the starting point (the
        loss's own threshold): ties among equally good thresholds go to the
        one closest to it.
    top_k : int or None, default=None
        Predict the ``top_k`` best-scored labels of each row instead.
    min_labels : int, default=0
        At least this many labels per row.
    max_labels : int or None, default=None
        At most this many labels per row.
    tune : {None, "auto", "auto_per_label", "cardinality"}, default=None
        Whether :meth:`tuned` fits the threshold on held-out data: one
        threshold maximising ``metric``, one per label maximising that
        label's F1 (labels without a positive keep the global one), or
        (``"cardinality"``) the one under which the held-out rows get as many
        labels as they have (:func:`cardinality_threshold`), at most the
        starting threshold.
    metric : str, default="example_f1"
        The set metric ``tune="auto"`` maximises (a name of the metrics
        registry, or its scorer name; lower-is-better metrics are minimised).
    """

    def __init__(
        self,
        threshold=0.0,
        top_k=None,
        min_labels=0,
        max_labels=None,
        tune=None,
        metric="example_f1",
    ):
        self.threshold = threshold
        self.top_k = top_k
        self.min_labels = min_labels
        self.max_labels = max_labels
        self.tune = None if top_k is not None else tune
        self.metric = metric

    def __repr__(self):
        return (
            f"DecisionRule(threshold={self.threshold!r}, top_k={self.top_k!r}, "
            f"min_labels={self.min_labels!r}, max_labels={self.max_labels!r}, "
            f"tune={self.tune!r}, metric={self.metric!r})"
        )

    def decide(self, scores):
        """The indicator matrix (int64) of ``scores`` under this rule."""
        scores = np.asarray(scores)
        if self.top_k is not None:
            pred = _top_k(scores, self.top_k)
        else:
            pred = (scores > self.threshold).astype(np.int64)
        return _bound_label_counts(pred, scores, self.min_labels, self.max_labels)

    def tuned(self, scores, y_true, sample_weight=None):
        """The rule with its threshold fitted on ``(scores, y_true)``.

        Parameters
        ----------
        scores : ndarray of shape (n_samples, n_labels)
            Held-out scores (of a validation split, or out-of-fold).
        y_true : {ndarray, sparse matrix} of shape (n_samples, n_labels)
            Their targets (``> 0.5`` is positive).
        sample_weight : ndarray of shape (n_samples,) or None, default=None
            Row weights (``tune="cardinality"`` only).

        Returns
        -------
        DecisionRule
            A fixed rule (``tune=None``); ``self`` when nothing is tuned.
        """
        if self.tune is None:
            return self
        scores = np.asarray(scores, dtype=np.float64)
        truth = sp.csr_matrix(y_true > 0.5, dtype=np.int8)
        if self.tune == "cardinality":
            base = np.inf if self.threshold is None else float(self.threshold)
            fitted = cardinality_threshold(scores, truth, sample_weight)
            return self.with_threshold(min(fitted, base))
        metric = _get_metric(self.metric, response="predict", param="threshold_metric")
        sign = metric.sign
        base = 0.0 if self.threshold is None else float(np.mean(self.threshold))
        candidates = np.unique(
            np.concatenate(
                [np.quantile(scores, np.linspace(0, 1, _N_QUANTILES)), [base]]
            )
        )
        values = [
            sign * metric.function(truth, self.with_threshold(t).decide(scores))
            for t in candidates
        ]
        best = max(values)
        # Among equally good thresholds, the one closest to the loss's own.
        ties = candidates[np.isclose(values, best, rtol=0, atol=1e-12)]
        global_t = float(ties[np.argmin(np.abs(ties - base))])
        if self.tune == "auto":
            return self.with_threshold(global_t)
        return self.with_threshold(_per_label_cuts(scores, truth, global_t))

    def with_threshold(self, threshold):
        """A fixed rule (``tune=None``) with ``threshold`` and these bounds.

        With the top-k rule, the top-k rule itself.
        """
        if self.top_k is not None:
            return self
        return DecisionRule(threshold, None, self.min_labels, self.max_labels)


def make_rule(
    threshold,
    top_k,
    min_labels,
    max_labels,
    threshold_metric,
    *,
    loss_threshold,
    cardinality,
    every_row_labelled=False,
):
    """The rule of ``ZLPRClassifier``'s parameters (tuned later if "auto").

    Parameters
    ----------
    threshold : float, "auto", "auto_per_label" or None
        The classifier's ``threshold``.
    top_k : int or None
        The classifier's ``top_k``; it wins over ``threshold``.
    min_labels, max_labels : int or "auto", int or None
        The label-count bounds; ``min_labels="auto"`` is 1 when every
        training row has a label (``every_row_labelled``), else 0.
    threshold_metric : str
        What ``"auto"`` maximises.
    loss_threshold : float or None
        The loss's own threshold (None for a pure ranking loss).
    cardinality : float
        The training set's mean number of labels per row.
    every_row_labelled : bool, default=False
        Whether every training row has at least one positive label.

    Returns
    -------
    DecisionRule
        With ``threshold=None``, the loss's own threshold, or for a ranking
        loss without one the top-k rule with ``k`` the rounded cardinality (at
        least 1); with ``"auto"``, a rule to tune, starting from the loss's
        threshold (0 for a ranking loss).
    """
    if isinstance(min_labels, str):  # "auto"
        min_labels = int(every_row_labelled)
    bounds = {"min_labels": min_labels, "max_labels": max_labels}
    if top_k is not None:
        return DecisionRule(None, top_k, **bounds)
    if isinstance(threshold, str) and threshold == "cardinality":
        if loss_threshold is not None:
            return DecisionRule(loss_threshold, tune="cardinality", **bounds)
        threshold = None  # a ranking loss: its top-k rule, as with None
    if isinstance(threshold, str):  # "auto" or "auto_per_label"
        base = 0.0 if loss_threshold is None else loss_threshold
        return DecisionRule(base, tune=threshold, metric=threshold_metric, **bounds)
    if threshold is not None:
        return DecisionRule(float(threshold), **bounds)
    if loss_threshold is None:
        return DecisionRule(None, max(1, round(cardinality)), **bounds)
    return DecisionRule(loss_threshold, **bounds)


def cardinality_threshold(scores, y_true, sample_weight=None):
    """The global threshold under which held-out rows get their own label count.

    The threshold ``t`` such that the (weighted) mean number of scores above
    ``t`` per row equals the (weighted) mean number of positive labels per row
    of ``y_true``: the midpoint between the ``m``-th and ``m+1``-th largest
    scores, ``m`` that count. A model fitted with a penalty scores unseen rows
    less confidently than its training rows, so that the loss's own threshold
    predicts too few labels on them; this threshold, fitted on scores of rows
    the model did not train on, gives back the number the data have.

    Parameters
    ----------
    scores : ndarray of shape (n_samples, n_labels)
        Held-out scores.
    y_true : {ndarray, sparse matrix} of shape (n_samples, n_labels)
        Their targets (``> 0.5`` is positive).
    sample_weight : ndarray of shape (n_samples,) or None, default=None
        Row weights.

    Returns
    -------
    float
        The threshold; ``inf`` when ``y_true`` has no positive (predict none),
        and below the smallest score when every entry is positive.

    Examples
    --------
    >>> import numpy as np
    >>> scores = np.array([[2.0, -1.0, -3.0], [0.5, -0.2, -4.0]])
    >>> y = np.array([[1, 1, 0], [1, 0, 0]])  # 1.5 labels per row
    >>> cardinality_threshold(scores, y)  # 3 of the 6 scores above it
    -0.6
    """
    scores = np.asarray(scores, dtype=np.float64)
    truth = sp.csr_matrix(y_true > 0.5)
    n = scores.shape[0]
    weight = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    positives = float(weight @ np.asarray(truth.sum(axis=1)).ravel())
    if n == 0 or positives <= 0:
        return np.inf
    flat = scores.ravel()
    order = np.argsort(-flat, kind="stable")
    cum = np.cumsum(np.repeat(weight, scores.shape[1])[order])
    # The first score whose cumulative weight reaches the positives' weight.
    m = int(np.searchsorted(cum, positives * (1 - 1e-12)))
    if m + 1 >= flat.size:
        return float(flat[order[-1]]) - 1.0
    return float(0.5 * (flat[order[m]] + flat[order[m + 1]]))


def _top_k(scores, k):
    k = min(k, scores.shape[1])
    pred = np.zeros(scores.shape, dtype=np.int64)
    np.put_along_axis(pred, np.argpartition(-scores, k - 1, axis=1)[:, :k], 1, axis=1)
    return pred


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


def _per_label_cuts(scores, truth, default):
    """Per label: the cut of the sorted scores with the best F1 of that label."""
    Yv = truth.toarray().astype(bool)
    thresholds = np.full(scores.shape[1], default)
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


def evaluate(metric, y_true, scores, rule):
    """A registry metric of ``scores``, deciding labels by ``rule`` if needed.

    Parameters
    ----------
    metric : str
        A metric or scorer name of the registry.
    y_true : {ndarray, sparse matrix} of shape (n_samples, n_labels)
        Binary targets.
    scores : ndarray of shape (n_samples, n_labels)
        Raw scores.
    rule : DecisionRule
        The (fixed) rule of the set metrics.

    Returns
    -------
    float
        The metric's value (not negated).
    """
    m = _get_metric(metric)
    out = rule.decide(scores) if m.response == "predict" else scores
    return float(m.function(y_true, out))
