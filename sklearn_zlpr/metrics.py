"""Multi-label metrics and scorers.

Conventions
-----------
* ``y_true``: a binary indicator matrix of shape ``(n_samples, n_labels)``, dense
  or scipy sparse. 1-D input is refused (these are multi-label metrics).
* Set metrics take ``y_pred``, an indicator matrix of the same shape (dense or
  sparse); ranking metrics take ``y_score``, a dense float matrix where higher
  means more relevant (``decision_function`` or ``predict_proba``).
* ``*_score``: higher is better. ``*_loss`` / ``*_error``: lower is better; their
  scorers are named ``neg_*`` and return the negated value, so that every scorer
  is higher-is-better, as scikit-learn expects.
* ``sample_weight`` weights rows; every metric is a weighted mean over rows
  except ``micro_f1_score`` and ``macro_f1_score``, which weight the counts.
* Ties in scores are handled as scikit-learn does: a label's rank is the number
  of labels scored at least as high.
* Every metric is declared once, in the private registry ``_REGISTRY`` (name,
  column title, function, response, direction). The report, the scorers,
  ``ZLPRClassifier``'s ``early_stopping_metric`` and ``threshold_metric``, and
  the benchmark and command-line columns all derive from it; a metric's scorer
  name (``neg_ranking_loss``) is accepted wherever its name is.

Equation numbers refer to Su et al., "ZLPR: A Novel Loss for Multi-label
Classification" (section 4.3). All functions are vectorised (no Python loop over
samples) and agree with scikit-learn's implementations where those exist.
"""

import numbers
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

__all__ = [
    "MultilabelScorer",
    "avg_precision_score",
    "coverage_error",
    "example_f1_score",
    "get_scorer",
    "get_scorer_names",
    "hamming_loss",
    "label_propensities",
    "macro_f1_score",
    "make_psp_scorer",
    "make_scoring",
    "micro_f1_score",
    "multilabel_report",
    "ndcg_at_k_score",
    "one_error",
    "precision_at_k_score",
    "psp_at_k_score",
    "ranking_loss",
    "recall_at_k_score",
    "subset_accuracy_score",
]


# --------------------------------------------------------------------------
# Validation
def _check_indicator(y, name):
    """Return ``y`` as a CSR matrix of 0/1 int8 values, with clear errors."""
    if sp.issparse(y):
        Y = sp.csr_matrix(y)
        if Y.ndim != 2:
            raise ValueError(f"{name} must be 2-D (n_samples, n_labels).")
        data = Y.data
    else:
        Y = np.asarray(y)
        if Y.dtype == object:
            raise ValueError(
                f"{name} must be a binary indicator matrix; got an object array "
                "(lists of labels?). Use sklearn.preprocessing.MultiLabelBinarizer."
            )
        if Y.ndim != 2:
            raise ValueError(
                f"{name} must be a 2-D binary indicator matrix of shape "
                f"(n_samples, n_labels); got an array of shape {Y.shape}. These are "
                "multi-label metrics; for 1-D labels use sklearn.metrics."
            )
        data = Y.ravel()
    if data.dtype.kind == "f" and not np.isfinite(data).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    not_binary = ValueError(
        f"{name} must contain only 0 and 1 (a binary indicator matrix)."
    )
    if sp.issparse(Y):
        if data.size and not np.all(data[data != 0] == 1):
            raise not_binary
        Y = sp.csr_matrix(Y, dtype=np.int8)
        Y.eliminate_zeros()
        Y.sort_indices()
        return Y
    # Dense: the non-zero entries must all be 1; build the CSR structure from them.
    flat = Y.ravel()
    idx = np.flatnonzero(flat != 0)  # much faster than np.nonzero on 2-D input
    if idx.size and not np.all(flat[idx] == 1):
        raise not_binary
    n_labels = max(Y.shape[1], 1)
    rows, cols = idx // n_labels, idx % n_labels
    indptr = np.zeros(Y.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=Y.shape[0]), out=indptr[1:])
    return sp.csr_matrix(
        (np.ones(rows.size, dtype=np.int8), cols, indptr), shape=Y.shape
    )


def _check_score(y_score, shape, name="y_score"):
    if sp.issparse(y_score):
        raise TypeError(f"{name} must be a dense array of scores, not a sparse matrix.")
    S = np.asarray(y_score, dtype=np.float64)
    if S.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_labels); got shape "
            f"{S.shape}."
        )
    if S.shape != shape:
        raise ValueError(
            f"y_true and {name} have different shapes: {shape} and {S.shape}."
        )
    if not np.isfinite(S).all():
        raise ValueError(
            f"{name} contains NaN or infinity; scores must be finite real numbers."
        )
    return S


def _check_weights(sample_weight, n):
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},); got {w.shape}.")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("sample_weight must be finite and non-negative.")
    return w


def _pair(y_true, y_pred, sample_weight):
    T = _check_indicator(y_true, "y_true")
    P = _check_indicator(y_pred, "y_pred")
    if T.shape != P.shape:
        raise ValueError(
            f"y_true and y_pred have different shapes: {T.shape} and {P.shape}."
        )
    return T, P, _check_weights(sample_weight, T.shape[0])


def _average(values, w):
    if values.size == 0:
        raise ValueError("Found 0 samples; the metric is undefined on empty input.")
    return float(np.average(values, weights=w))


def _row_counts(T, P):
    """Per row: |Y|, |Y_hat|, |Y and Y_hat|."""
    inter = np.asarray(T.multiply(P).sum(1)).ravel()
    return np.diff(T.indptr), np.diff(P.indptr), inter


# --------------------------------------------------------------------------
# Set metrics (use predict)
def subset_accuracy_score(y_true, y_pred, *, sample_weight=None):
    r"""Subset accuracy, SubACC (paper Eq. 25): the share of exactly right rows.

    Parameters
    ----------
    y_true : {array-like, sparse matrix} of shape (n_samples, n_labels)
        True indicator matrix.
    y_pred : {array-like, sparse matrix} of shape (n_samples, n_labels)
        Predicted indicator matrix.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights.

    Returns
    -------
    score : float
        In [0, 1], higher is better.

    Notes
    -----
    Paper Eq. 25, for :math:`N` rows with true label sets :math:`y_n`,
    predicted label sets :math:`\hat{y}_n` and the indicator function
    :math:`I`:

    .. math::

        \mathrm{SubACC} = \frac{1}{N} \sum_{n=1}^{N} I(\hat{y}_n = y_n)

    With ``sample_weight``, the mean is weighted.

    Examples
    --------
    >>> from sklearn_zlpr.metrics import subset_accuracy_score
    >>> subset_accuracy_score([[1, 0], [0, 1]], [[1, 0], [1, 1]])
    0.5
    """
    T, P, w = _pair(y_true, y_pred, sample_weight)
    n_true, n_pred, inter = _row_counts(T, P)
    return _average(((inter == n_true) & (inter == n_pred)).astype(float), w)


def example_f1_score(y_true, y_pred, *, sample_weight=None, zero_division=1.0):
    r"""Example-based F1, MLC-F1 (paper Eq. 26).

    The F1 score of each row's predicted label set, averaged over rows.
    scikit-learn's ``f1_score(average="samples", zero_division=z)`` equals this.

    Parameters
    ----------
    y_true : {array-like, sparse matrix} of shape (n_samples, n_labels)
        True indicator matrix.
    y_pred : {array-like, sparse matrix} of shape (n_samples, n_labels)
        Predicted indicator matrix.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights.
    zero_division : float, default=1.0
        Score of a row whose true and predicted sets are both empty.

    Returns
    -------
    score : float
        In [0, 1], higher is better.

    Notes
    -----
    Paper Eq. 26, for :math:`N` rows with true label sets :math:`y_n` and
    predicted label sets :math:`\hat{y}_n`:

    .. math::

        \text{MLC-F1} = \frac{1}{N} \sum_{n=1}^{N}
                        \frac{2 |\hat{y}_n \cap y_n|}{|\hat{y}_n| + |y_n|}

    A row where both sets are empty scores ``zero_division`` (1 by default:
    predicting "no label" for a row without labels is right; this is the
    convention under which the paper's Toxic numbers make sense). With
    ``sample_weight``, the mean is weighted.

    Examples
    --------
    >>> from sklearn_zlpr.metrics import example_f1_score
    >>> example_f1_score([[1, 1], [0, 0]], [[1, 0], [0, 0]])
    0.8333333333333333
    """
    T, P, w = _pair(y_true, y_pred, sample_weight)
    n_true, n_pred, inter = _row_counts(T, P)
    denom = n_true + n_pred
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(
            denom > 0, 2.0 * inter / np.maximum(denom, 1), float(zero_division)
        )
    return _average(f1, w)


def _label_counts(T, P, w):
    """Per label, weighted: true positives, false positives, false negatives."""
    if w is None:
        Tw, Pw = T, P
    else:
        D = sp.diags(w)
        Tw, Pw = D @ T, D @ P
    tp = np.asarray(Tw.multiply(P).sum(0), dtype=np.float64).ravel()
    fp = np.asarray(Pw.sum(0), dtype=np.float64).ravel() - tp
    fn = np.asarray(Tw.sum(0), dtype=np.float64).ravel() - tp
    return tp, fp, fn


def micro_f1_score(y_true, y_pred, *, sample_weight=None, zero_division=0.0):
    r"""Micro-averaged F1 (paper Eq. 28): F1 of the counts pooled over all labels.

    Equals ``sklearn.metrics.f1_score(average="micro")``.

    Parameters
    ----------
    y_true : {array-like, sparse matrix} of shape (n_samples, n_labels)
        True indicator matrix.
    y_pred : {array-like, sparse matrix} of shape (n_samples, n_labels)
        Predicted indicator matrix.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights (weighting the counts).
    zero_division : float, default=0.0
        Value when there is no true and no predicted label at all.

    Returns
    -------
    score : float
        In [0, 1], higher is better.

    Notes
    -----
    Paper Eq. 28, with :math:`TP_l`, :math:`FP_l` and :math:`FN_l` the true
    positives, false positives and false negatives of label :math:`l`:

    .. math::

        \text{Micro-F1} = \frac{2 \sum_{l=1}^{L} TP_l}{2 \sum_{l=1}^{L} TP_l
                          + \sum_{l=1}^{L} FP_l + \sum_{l=1}^{L} FN_l}

    With ``sample_weight``, each row adds its weight to the counts.

    Examples
    --------
    >>> from sklearn_zlpr.metrics import micro_f1_score
    >>> micro_f1_score([[1, 1], [0, 1]], [[1, 0], [0, 1]])
    0.8
    """
    T, P, w = _pair(y_true, y_pred, sample_weight)
    _check_nonempty(T)
    tp, fp, fn = _label_counts(T, P, w)
    denom = 2 * tp.sum() + fp.sum() + fn.sum()
    return float(2 * tp.sum() / denom) if denom > 0 else float(zero_division)


def macro_f1_score(y_true, y_pred, *, sample_weight=None, zero_division=0.0):
    r"""Macro-averaged F1 (paper Eq. 27): the mean of the per-label F1 scores.

    Every label counts the same, however frequent. Equals
    ``sklearn.metrics.f1_score(average="macro", zero_division=...)``.

    Parameters
    ----------
    y_true : {array-like, sparse matrix} of shape (n_samples, n_labels)
        True indicator matrix.
    y_pred : {array-like, sparse matrix} of shape (n_samples, n_labels)
        Predicted indicator matrix.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights (weighting the counts).
    zero_division : float, default=0.0
        Score of a label with no true and no predicted positive.

    Returns
    -------
    score : float
        In [0, 1], higher is better.

    Notes
    -----
    Paper Eq. 27, with :math:`TP_l`, :math:`FP_l` and :math:`FN_l` the true
    positives, false positives and false negatives of label :math:`l`:

    .. math::

        \text{Macro-F1} = \frac{1}{L} \sum_{l=1}^{L}
                          \frac{2 TP_l}{2 TP_l + FP_l + FN_l}

    A label with no true and no predicted positive (a zero denominator) scores
    ``zero_division``. With ``sample_weight``, each row adds its weight to the
    counts.

    Examples
    --------
    >>> from sklearn_zlpr.metrics import macro_f1_score
    >>> round(macro_f1_score([[1, 1], [0, 1]], [[1, 0], [0, 1]]), 4)
    0.8333
    """
    T, P, w = _pair(y_true, y_pred, sample_weight)
    _check_nonempty(T)
    tp, fp, fn = _label_counts(T, P, w)
    denom = 2 * tp + fp + fn
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(
            denom > 0, 2 * tp / np.where(denom > 0, denom, 1), float(zero_division)
        )
    return float(f1.mean())


def hamming_loss(y_true, y_pred, *, sample_weight=None):
    r"""Hamming loss: the share of wrong label assignments.

    Equals ``sklearn.metrics.hamming_loss``.

    Parameters
    ----------
    y_true : {array-like, sparse matrix} of shape (n_samples, n_labels)
        True indicator matrix.
    y_pred : {array-like, sparse matrix} of shape (n_samples, n_labels)
        Predicted indicator matrix.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights.

    Returns
    -------
    loss : float
        In [0, 1], lower is better.

    Notes
    -----
    Not one of the paper's metrics. For :math:`N` rows, :math:`L` labels,
    true label sets :math:`y_n` and predicted label sets :math:`\hat{y}_n`:

    .. math::

        \mathrm{Hamming} = \frac{1}{N L} \sum_{n=1}^{N}
                           |y_n \,\triangle\, \hat{y}_n|

    where :math:`\triangle` is the symmetric difference.

    Examples
    --------
    >>> from sklearn_zlpr.metrics import hamming_loss
    >>> hamming_loss([[1, 0], [0, 1]], [[1, 1], [0, 1]])
    0.25
    """
    T, P, w = _pair(y_true, y_pred, sample_weight)
    n_true, n_pred, inter = _row_counts(T, P)
    wrong = n_true + n_pred - 2 * inter
    return _average(wrong / max(T.shape[1], 1), w)


def _check_nonempty(T):
    if T.shape[0] == 0:
        raise ValueError("Found 0 samples; the metric is undefined on empty input.")


# --------------------------------------------------------------------------
# Ranking metrics (use decision_function or predict_proba)
def _ranks(T, S):
    """Ranks of the relevant entries of each row.

    For every relevant entry (row r, label i), in CSR order:
    ``rank_all = #{j : S[r, j] >= S[r, i]}`` and
    ``rank_rel = #{relevant j : S[r, j] >= S[r, i]}``, plus the row of each
    entry. Ties count as "at least as high", as in scikit-learn.
    """
    n, n_labels = S.shape
    rows = np.repeat(np.arange(n), np.diff(T.indptr))
    cols = T.indices
    s_rel = S[rows, cols]
    n_rel = rows.size

    # Among the relevant labels of the same row: sort by (row, score) and count
    # the entries from the start of each run of equal scores to the row's end.
    order = np.lexsort((s_rel, rows))
    r_sorted, v_sorted = rows[order], s_rel[order]
    new_run = np.ones(n_rel, dtype=bool)
    new_run[1:] = (r_sorted[1:] != r_sorted[:-1]) | (v_sorted[1:] != v_sorted[:-1])
    run_start = np.maximum.accumulate(np.where(new_run, np.arange(n_rel), 0))
    rank_rel = np.empty(n_rel, dtype=np.int64)
    rank_rel[order] = T.indptr[r_sorted + 1] - run_start

    # Among all labels. Rows with few relevant labels (the usual case): compare
    # the row's sorted relevant scores, padded to (rows, k_max), with the whole
    # row at once, in chunks; cost O(L k) per row, no copy of S. Rows with many
    # relevant labels: rank the row once by sorting, O(L log L).
    n_pos = np.diff(T.indptr)
    k_cut = int(max(8, 2 * np.log2(max(n_labels, 2))))
    rank_all = np.empty(n_rel, dtype=np.int64)
    pos_in_row = np.empty(n_rel, dtype=np.int64)
    pos_in_row[order] = np.arange(n_rel) - T.indptr[r_sorted]
    few = n_pos <= k_cut
    if few.any():
        k_max = int(n_pos[few].max())
        padded = np.full((n, k_max), np.inf)  # +inf: counts nothing
        sel = few[rows]
        padded[rows[sel], pos_in_row[sel]] = s_rel[sel]
        counts = np.zeros((n, k_max), dtype=np.int64)
        chunk = max(1, (1 << 22) // max(n_labels, 1))
        for k in range(k_max):
            # The k-th smallest relevant score of every row that has one.
            active = np.flatnonzero(few & (n_pos > k))
            if active.size > n // 2:  # most rows: compare in place, no copy
                for start in range(0, n, chunk):
                    sl = slice(start, start + chunk)
                    counts[sl, k] = np.count_nonzero(
                        S[sl] >= padded[sl, k, None], axis=1
                    )
            else:
                for start in range(0, active.size, chunk):
                    block = active[start : start + chunk]
                    counts[block, k] = np.count_nonzero(
                        S[block] >= padded[block, k, None], axis=1
                    )
        rank_all[sel] = counts[rows[sel], pos_in_row[sel]]
    many_rows = np.flatnonzero(~few)
    if many_rows.size:
        ranks = (
            n_labels - rankdata(S[many_rows], method="min", axis=1).astype(np.int64) + 1
        )
        where = np.full(n, -1)
        where[many_rows] = np.arange(many_rows.size)
        sel = ~few[rows]
        rank_all[sel] = ranks[where[rows[sel]], cols[sel]]
    return rows, rank_all, rank_rel


def _ranking_inputs(y_true, y_score, sample_weight):
    T = _check_indicator(y_true, "y_true")
    S = _check_score(y_score, T.shape)
    w = _check_weights(sample_weight, T.shape[0])
    _check_nonempty(T)
    return T, S, w


def avg_precision_score(y_true, y_score, *, sample_weight=None):
    r"""Label ranking average precision, AvgPrec (paper Eq. 29).

    For each row, the mean over its relevant labels of the share of relevant
    labels among the labels ranked at or above it. Equals
    ``sklearn.metrics.label_ranking_average_precision_score``, ties included.

    Parameters
    ----------
    y_true : {array-like, sparse matrix} of shape (n_samples, n_labels)
        True indicator matrix.
    y_score : array-like of shape (n_samples, n_labels)
        Scores, higher means more relevant.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights.

    Returns
    -------
    score : float
        In (0, 1], higher is better.

    Notes
    -----
    Paper Eq. 29, with :math:`r_n(\lambda)` the rank of label :math:`\lambda`
    in row :math:`n` (the number of labels scored at least as high) and
    :math:`y_n` the row's relevant labels:

    .. math::

        \mathrm{AvgPrec} = \frac{1}{N} \sum_{n=1}^{N} \frac{1}{|y_n|}
            \sum_{\lambda \in y_n}
            \frac{|\{\lambda' \in y_n : r_n(\lambda') \le r_n(\lambda)\}|}
                 {r_n(\lambda)}

    Rows with no relevant label or only relevant labels score 1. With
    ``sample_weight``, the mean over rows is weighted.

    Examples
    --------
    >>> from sklearn_zlpr.metrics import avg_precision_score
    >>> avg_precision_score([[1, 0, 0], [0, 0, 1]], [[0.75, 0.5, 1], [1, 0.2, 0.1]])
    0.41666666666666663
    """
    T, S, w = _ranking_inputs(y_true, y_score, sample_weight)
    n, n_labels = S.shape
    rows, rank_all, rank_rel = _ranks(T, S)
    n_pos = np.diff(T.indptr)
    per_row = np.bincount(rows, weights=rank_rel / rank_all, minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        ap = per_row / np.maximum(n_pos, 1)
    ap[(n_pos == 0) | (n_pos == n_labels)] = 1.0
    return _average(ap, w)


def ranking_loss(y_true, y_score, *, sample_weight=None):
    r"""Ranking loss, RankLoss (paper Eq. 30).

    For each row, the share of (relevant, irrelevant) label pairs ordered
    wrongly, ties counting as wrong. Equals
    ``sklearn.metrics.label_ranking_loss``.

    Parameters
    ----------
    y_true : {array-like, sparse matrix} of shape (n_samples, n_labels)
        True indicator matrix.
    y_score : array-like of shape (n_samples, n_labels)
        Scores, higher means more relevant.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights.

    Returns
    -------
    loss : float
        In [0, 1], lower is better.

    Notes
    -----
    Paper Eq. 30, with :math:`y_n` the relevant labels of row :math:`n`,
    :math:`\bar{y}_n` its irrelevant ones and :math:`s` its scores:

    .. math::

        \mathrm{RL} = \frac{1}{N} \sum_{n=1}^{N} \frac{1}{|y_n| \, |\bar{y}_n|}
            \big|\{(i, j) \in y_n \times \bar{y}_n : s_{n,j} \ge s_{n,i}\}\big|

    The paper writes the normaliser as :math:`|\hat{y}_n| |y_n|`; here, as in
    scikit-learn, it is the number of (relevant, irrelevant) pairs. Rows
    without such pairs score 0. With ``sample_weight``, the mean over rows is weighted.

    Examples
    --------
    >>> from sklearn_zlpr.metrics import ranking_loss
    >>> ranking_loss([[1, 0, 0], [0, 0, 1]], [[0.75, 0.5, 1], [1, 0.2, 0.1]])
    0.75
    """
    T, S, w = _ranking_inputs(y_true, y_score, sample_weight)
    n, n_labels = S.shape
    rows, rank_all, rank_rel = _ranks(T, S)
    n_pos = np.diff(T.indptr)
    # Irrelevant labels scored at least as high as relevant label i.
    wrong = np.bincount(rows, weights=rank_all - rank_rel, minlength=n)
    pairs = n_pos * (n_labels - n_pos)
    loss = np.where(pairs > 0, wrong / np.maximum(pairs, 1), 0.0)
    return _average(loss, w)


def coverage_error(y_true, y_score, *, sample_weight=None):
    r"""Coverage error: how far down the ranking all relevant labels are covered.

    Per row, the rank of the lowest-scored relevant label. Equals
    ``sklearn.metrics.coverage_error``, and also accepts a sparse ``y_true``.

    Parameters
    ----------
    y_true : {array-like, sparse matrix} of shape (n_samples, n_labels)
        True indicator matrix.
    y_score : array-like of shape (n_samples, n_labels)
        Scores, higher means more relevant.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights.

    Returns
    -------
    error : float
        In [0, n_labels], lower is better.

    Notes
    -----
    Not one of the paper's metrics. With :math:`r_n(\lambda)` the rank of
    label :math:`\lambda` in row :math:`n` (the number of labels scored at
    least as high) and :math:`y_n` the row's relevant labels:

    .. math::

        \mathrm{Coverage} = \frac{1}{N} \sum_{n=1}^{N}
                            \max_{\lambda \in y_n} r_n(\lambda)

    A row without relevant labels contributes 0. With ``sample_weight``, the
    mean over rows is weighted.

    Examples
    --------
    >>> from sklearn_zlpr.metrics import coverage_error
    >>> coverage_error([[1, 0, 0], [0, 0, 1]], [[0.75, 0.5, 1], [1, 0.2, 0.1]])
    2.5
    """
    T, S, w = _ranking_inputs(y_true, y_score, sample_weight)
    n = S.shape[0]
    has_rel = np.diff(T.indptr) > 0
    # The lowest relevant score of each row; count the labels at or above it.
    low = np.full(n, np.inf)
    rows = np.repeat(np.arange(n), np.diff(T.indptr))
    np.minimum.at(low, rows, S[rows, T.indices])
    cov = np.zeros(n)
    idx = np.flatnonzero(has_rel)
    chunk = max(1, (1 << 22) // max(S.shape[1], 1))
    for start in range(0, idx.size, chunk):
        sl = idx[start : start + chunk]
        cov[sl] = np.count_nonzero(S[sl] >= low[sl, None], axis=1)
    return _average(cov, w)


def one_error(y_true, y_score, *, sample_weight=None):
    r"""One-error: the share of rows whose top-scored label is not relevant.

    A row counts as right when a relevant label has the highest score (ties
    at the top are resolved in the row's favour).

    Parameters
    ----------
    y_true : {array-like, sparse matrix} of shape (n_samples, n_labels)
        True indicator matrix.
    y_score : array-like of shape (n_samples, n_labels)
        Scores, higher means more relevant.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights.

    Returns
    -------
    error : float
        In [0, 1], lower is better.

    Notes
    -----
    Not one of the paper's metrics. Over the :math:`N'` rows with at least one
    relevant label, with :math:`y_n` the row's relevant labels and
    :math:`s_n` its scores:

    .. math::

        \mathrm{OneError} = \frac{1}{N'} \sum_{n}
            I\big(\max_{\lambda \in y_n} s_{n,\lambda}
                   < \max_{\lambda} s_{n,\lambda}\big)

    Rows without any relevant label (or with zero weight) are left out (the
    measure assumes each row has a label); with no such row at all the error
    is 0. With ``sample_weight``, the mean over rows is weighted.

    Examples
    --------
    >>> from sklearn_zlpr.metrics import one_error
    >>> one_error([[1, 0, 0], [0, 0, 1]], [[0.75, 0.5, 1], [1, 0.2, 0.1]])
    1.0
    """
    T, S, w = _ranking_inputs(y_true, y_score, sample_weight)
    n = S.shape[0]
    n_pos = np.diff(T.indptr)
    rows = np.repeat(np.arange(n), n_pos)
    best_rel = np.full(n, -np.inf)
    np.maximum.at(best_rel, rows, S[rows, T.indices])
    err = (best_rel < S.max(axis=1)).astype(float)
    keep = n_pos > 0
    if w is not None:
        keep &= w > 0
    if not keep.any():  # no row with a label (and a weight): nothing to get wrong
        return 0.0
    return float(np.average(err[keep], weights=None if w is None else w[keep]))


# --------------------------------------------------------------------------
# Top-k ranking metrics (large label spaces)
#
# Ties: as for every ranking metric of this module, a label's rank is the
# number of labels scored at least as high, so a relevant label tied with
# others across the k-th place is ranked after all of them (no credit for a
# tie). Label j of row n is in the top k when S[n, j] is strictly above the
# row's (k+1)-th largest score.
_TOP_K_CHUNK = 1 << 22  # score entries per block of rows (32 MiB of float64)


def _check_k(k):
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer; got k={k!r}.")
    return int(k)


def _top_k_hits(T, S, k):
    """The relevant entries in the top ``k`` of their row, and their ranks.

    Returns ``rows``, ``cols`` and ``rank`` (1..k) of every relevant entry
    (row, label) ranked within the top ``k`` (see the tie rule above).
    """
    n, n_labels = S.shape
    k = min(k, n_labels)  # a larger k: every label is in the top k
    n_pos = np.diff(T.indptr)
    rows_all = np.repeat(np.arange(n), n_pos)
    s_rel = S[rows_all, T.indices]
    # Per row: the (k+1)-th largest score (-inf when k is every label) and the
    # top k scores, by argpartition-style selection on blocks of rows.
    cut = np.full(n, -np.inf)
    top = np.empty((n, k))
    step = max(1, _TOP_K_CHUNK // max(n_labels, 1))
    for start in range(0, n, step):
        block = S[start : start + step]
        if k < n_labels:
            part = np.partition(block, n_labels - k - 1, axis=1)
            cut[start : start + step] = part[:, n_labels - k - 1]
            top[start : start + step] = part[:, n_labels - k :]
        else:
            top[start : start + step] = block
    inside = s_rel > cut[rows_all]
    rows, cols, s_in = rows_all[inside], T.indices[inside], s_rel[inside]
    # Rank among the top k: how many of them score at least as high.
    rank = np.empty(rows.size, dtype=np.int64)
    step = max(1, _TOP_K_CHUNK // k)
    for start in range(0, rows.size, step):
        sl = slice(start, start + step)
        rank[sl] = np.count_nonzero(top[rows[sl]] >= s_in[sl, None], axis=1)
    return rows, cols, rank


def _top_k_inputs(y_true, y_score, k, sample_weight):
    T, S, w = _ranking_inputs(y_true, y_score, sample_weight)
    return T, S, _check_k(k), w


def precision_at_k_score(y_true, y_score, *, k=5, sample_weight=None):
    r"""Precision at k: the share of relevant labels among each row's top k.

    Parameters
    ----------
    y_true : {array-like, sparse matrix} of shape (n_samples, n_labels)
        True indicator matrix.
    y_score : array-like of shape (n_samples, n_labels)
        Scores, higher means more relevant.
    k : int, default=5
        How many of the best-scored labels of each row count (all of them
        when ``k >= n_labels``).
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights.

    Returns
    -------
    precision : float
        In [0, 1], higher is better.

    See Also
    --------
    recall_at_k_score : The share of a row's labels found in its top k.
    ndcg_at_k_score : The top k weighted by position.
    psp_at_k_score : Precision at k with rare labels weighted up.

    Notes
    -----
    With :math:`\mathrm{top}_k(s_n)` the k best-scored labels of row n:

    .. math::

        P@k = \frac{1}{N} \sum_n \frac{|y_n \cap \mathrm{top}_k(s_n)|}{k}

    The denominator is k even for rows with fewer than k relevant labels (the
    usual definition in extreme classification), so a perfect ranking scores
    less than 1 on them. Ties: a relevant label tied with others across the
    k-th place is not counted (a label's rank is the number of labels scored
    at least as high, as for every ranking metric of this module).

    Examples
    --------
    >>> from sklearn_zlpr.metrics import precision_at_k_score
    >>> y_true = [[1, 0, 1, 0], [0, 1, 0, 0]]
    >>> y_score = [[0.9, 0.8, 0.1, 0.0], [0.2, 0.9, 0.5, 0.1]]
    >>> precision_at_k_score(y_true, y_score, k=2)
    0.5
    """
    T, S, k, w = _top_k_inputs(y_true, y_score, k, sample_weight)
    rows, _, _ = _top_k_hits(T, S, k)
    hits = np.bincount(rows, minlength=S.shape[0])
    return _average(hits / k, w)


def recall_at_k_score(y_true, y_score, *, k=5, sample_weight=None):
    r"""Recall at k: the share of each row's relevant labels found in its top k.

    Parameters
    ----------
    y_true : {array-like, sparse matrix} of shape (n_samples, n_labels)
        True indicator matrix.
    y_score : array-like of shape (n_samples, n_labels)
        Scores, higher means more relevant.
    k : int, default=5
        How many of the best-scored labels of each row count (all of them
        when ``k >= n_labels``).
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights.

    Returns
    -------
    recall : float
        In [0, 1], higher is better.

    See Also
    --------
    precision_at_k_score : The share of the top k that is relevant.
    ndcg_at_k_score : The top k weighted by position.

    Notes
    -----
    .. math::

        R@k = \frac{1}{N} \sum_n \frac{|y_n \cap \mathrm{top}_k(s_n)|}{|y_n|}

    A row without any relevant label scores 0 (there is nothing to recall),
    and counts in the mean. Ties as in :func:`precision_at_k_score`.

    Examples
    --------
    >>> from sklearn_zlpr.metrics import recall_at_k_score
    >>> y_true = [[1, 0, 1, 0], [0, 1, 0, 0]]
    >>> y_score = [[0.9, 0.8, 0.1, 0.0], [0.2, 0.9, 0.5, 0.1]]
    >>> recall_at_k_score(y_true, y_score, k=2)
    0.75
    """
    T, S, k, w = _top_k_inputs(y_true, y_score, k, sample_weight)
    rows, _, _ = _top_k_hits(T, S, k)
    hits = np.bincount(rows, minlength=S.shape[0])
    n_pos = np.diff(T.indptr)
    return _average(hits / np.maximum(n_pos, 1), w)


def ndcg_at_k_score(y_true, y_score, *, k=5, sample_weight=None):
    r"""Normalised discounted cumulative gain at k, with binary relevance.

    Parameters
    ----------
    y_true : {array-like, sparse matrix} of shape (n_samples, n_labels)
        True indicator matrix.
    y_score : array-like of shape (n_samples, n_labels)
        Scores, higher means more relevant.
    k : int, default=5
        How many of the best-scored labels of each row count (all of them
        when ``k >= n_labels``).
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights.

    Returns
    -------
    ndcg : float
        In [0, 1], higher is better.

    See Also
    --------
    precision_at_k_score : The share of the top k that is relevant.
    sklearn.metrics.ndcg_score : The same for graded relevance, with ties averaged.

    Notes
    -----
    With :math:`r_n(\lambda)` the rank of label :math:`\lambda` in row n:

    .. math::

        nDCG@k = \frac{1}{N} \sum_n
            \frac{\sum_{\lambda \in y_n,\, r_n(\lambda) \le k}
                  1 / \log_2(1 + r_n(\lambda))}
                 {\sum_{r=1}^{\min(k, |y_n|)} 1 / \log_2(1 + r)}

    A row without any relevant label scores 0 and counts in the mean (as in
    :func:`sklearn.metrics.ndcg_score`). Ties as in
    :func:`precision_at_k_score` (the rank of a tied relevant label is the
    last place of its tie); without ties the value equals
    ``sklearn.metrics.ndcg_score(y_true, y_score, k=k)``.

    Examples
    --------
    >>> from sklearn_zlpr.metrics import ndcg_at_k_score
    >>> y_true = [[1, 0, 1, 0], [0, 1, 0, 0]]
    >>> y_score = [[0.9, 0.8, 0.1, 0.0], [0.2, 0.9, 0.5, 0.1]]
    >>> round(ndcg_at_k_score(y_true, y_score, k=2), 4)
    0.8066
    """
    T, S, k, w = _top_k_inputs(y_true, y_score, k, sample_weight)
    rows, _, rank = _top_k_hits(T, S, k)
    n = S.shape[0]
    dcg = np.bincount(rows, weights=1.0 / np.log2(1.0 + rank), minlength=n)
    discounts = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(2.0 + np.arange(k)))])
    ideal = discounts[np.minimum(np.diff(T.indptr), k)]
    return _average(np.divide(dcg, ideal, out=np.zeros(n), where=ideal > 0), w)


def label_propensities(y_train, *, A=0.55, B=1.5):
    r"""Compute the labels' propensities from their training frequencies.

    Jain, Prabhu and Varma (KDD 2016): the chance that a relevant label is
    observed, lower for rare labels.

    Parameters
    ----------
    y_train : {array-like, sparse matrix} of shape (n_samples, n_labels)
        The training indicator matrix.
    A, B : float, default=0.55, 1.5
        The model's constants (0.55 and 1.5 are the usual values; the paper
        uses 0.5, 0.4 for Wikipedia and 0.6, 2.6 for Amazon).

    Returns
    -------
    propensities : ndarray of shape (n_labels,)
        In (0, 1].

    See Also
    --------
    psp_at_k_score : Precision at k weighted by these propensities.

    Notes
    -----
    With N training rows and :math:`N_\lambda` of them relevant to
    :math:`\lambda`:

    .. math::

        p_\lambda = \frac{1}{1 + C (N_\lambda + B)^{-A}},\qquad
        C = (\log N - 1)(B + 1)^A

    Examples
    --------
    >>> from sklearn_zlpr.metrics import label_propensities
    >>> label_propensities([[1, 0], [1, 0], [1, 1], [1, 0]]).round(3)
    array([0.8  , 0.721])
    """
    T = _check_indicator(y_train, "y_train")
    _check_nonempty(T)
    n = T.shape[0]
    freq = np.bincount(T.indices, minlength=T.shape[1]).astype(np.float64)
    C = (np.log(n) - 1.0) * (B + 1.0) ** A
    return 1.0 / (1.0 + C * (freq + B) ** (-A))


def psp_at_k_score(
    y_true,
    y_score,
    *,
    k=5,
    propensities=None,
    y_train=None,
    A=0.55,
    B=1.5,
    normalize=True,
    sample_weight=None,
):
    r"""Propensity-scored precision at k (Jain, Prabhu and Varma, KDD 2016).

    Precision at k in which a hit on label :math:`\lambda` counts
    :math:`1 / p_\lambda`: finding a rare label is worth more.

    Parameters
    ----------
    y_true : {array-like, sparse matrix} of shape (n_samples, n_labels)
        True indicator matrix.
    y_score : array-like of shape (n_samples, n_labels)
        Scores, higher means more relevant.
    k : int, default=5
        How many of the best-scored labels of each row count (all of them
        when ``k >= n_labels``).
    propensities : array-like of shape (n_labels,), default=None
        The labels' propensities (see :func:`label_propensities`). Give these
        or ``y_train``.
    y_train : {array-like, sparse matrix} of shape (n_train, n_labels), default=None
        The training indicator matrix, to compute the propensities from.
    A, B : float, default=0.55, 1.5
        The propensity model's constants, with ``y_train``.
    normalize : bool, default=True
        Divide by the best value any ranking can reach on ``y_true`` (the
        relevant labels ranked by decreasing :math:`1/p`), as the Extreme
        Classification Repository reports PSP@k; then 1 is perfect. False:
        the paper's raw value.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights.

    Returns
    -------
    psp : float
        Higher is better; in [0, 1] with ``normalize=True``.

    See Also
    --------
    label_propensities : The propensities from the training labels.
    precision_at_k_score : The same without propensities.

    Notes
    -----
    .. math::

        PSP@k = \frac{1}{N} \sum_n \frac{1}{k}
            \sum_{\lambda \in y_n \cap \mathrm{top}_k(s_n)} \frac{1}{p_\lambda}

    and with ``normalize=True`` this divided by the same mean for the best
    ranking (a ratio of means; 0 when ``y_true`` has no relevant label).
    Ties as in :func:`precision_at_k_score`.

    Examples
    --------
    >>> from sklearn_zlpr.metrics import psp_at_k_score
    >>> y_true = [[1, 0, 1], [0, 1, 0]]
    >>> y_score = [[0.9, 0.8, 0.1], [0.2, 0.9, 0.5]]
    >>> psp_at_k_score(y_true, y_score, k=1, propensities=[0.5, 0.5, 0.25])
    0.6666666666666666
    """
    T, S, k, w = _top_k_inputs(y_true, y_score, k, sample_weight)
    n, n_labels = S.shape
    if (propensities is None) == (y_train is None):
        raise ValueError(
            "psp_at_k_score needs the labels' propensities: pass exactly one of "
            "propensities= (see label_propensities) or y_train= (the training "
            "indicator matrix)."
        )
    if y_train is not None:
        p = label_propensities(y_train, A=A, B=B)
    else:
        p = np.asarray(propensities, dtype=np.float64)
    if p.shape != (n_labels,):
        raise ValueError(
            f"The propensities must have one value per label, shape ({n_labels},); "
            f"got {p.shape}."
        )
    if not np.all(np.isfinite(p)) or np.any(p <= 0) or np.any(p > 1):
        raise ValueError("The propensities must be in (0, 1].")
    inv = 1.0 / p
    rows, cols, _ = _top_k_hits(T, S, k)
    gain = np.bincount(rows, weights=inv[cols], minlength=n) / k
    value = _average(gain, w)
    if not normalize:
        return value
    # The best ranking puts each row's relevant labels by decreasing 1/p.
    rows_all = np.repeat(np.arange(n), np.diff(T.indptr))
    inv_rel = inv[T.indices]
    order = np.lexsort((-inv_rel, rows_all))
    place = np.arange(rows_all.size) - T.indptr[rows_all[order]]
    keep = order[place < k]
    best = np.bincount(rows_all[keep], weights=inv_rel[keep], minlength=n) / k
    best_value = _average(best, w)
    return value / best_value if best_value > 0 else 0.0


# --------------------------------------------------------------------------
# The registry: every metric once, with its column title, what it reads and
# which direction is better. The report, the scorers, the classifier's
# early-stopping and threshold metrics and the benchmark columns derive from it.
class _AtK:
    """``function`` at a fixed ``k``, as a registry metric (picklable)."""

    def __init__(self, function, k):
        self.function = function
        self.k = k
        self.__name__ = f"{function.__name__}(k={k})"

    def __call__(self, y_true, y_score, *, sample_weight=None):
        return self.function(y_true, y_score, k=self.k, sample_weight=sample_weight)


class _Metric(NamedTuple):
    """One metric of the registry.

    ``name`` is the function-style name (``"ranking_loss"``), ``title`` the
    column title of tables, ``response`` ``"predict"`` (an indicator matrix) or
    ``"score"`` (ranking scores), and the scorer is named ``name`` when higher
    is better and ``"neg_" + name`` otherwise.
    """

    name: str
    title: str
    function: Callable
    response: str
    greater_is_better: bool

    @property
    def scorer_name(self):
        return self.name if self.greater_is_better else "neg_" + self.name

    @property
    def sign(self):
        return 1 if self.greater_is_better else -1


_REGISTRY = (
    _Metric("subset_accuracy", "SubACC", subset_accuracy_score, "predict", True),
    _Metric("example_f1", "MLC-F1", example_f1_score, "predict", True),
    _Metric("micro_f1", "Micro-F1", micro_f1_score, "predict", True),
    _Metric("macro_f1", "Macro-F1", macro_f1_score, "predict", True),
    _Metric("hamming_loss", "Hamming", hamming_loss, "predict", False),
    _Metric("avg_precision", "AvgPrec", avg_precision_score, "score", True),
    _Metric("ranking_loss", "RankLoss", ranking_loss, "score", False),
    _Metric("coverage_error", "Coverage", coverage_error, "score", False),
    _Metric("one_error", "OneError", one_error, "score", False),
    *(
        _Metric(f"{short}_at_{k}", f"{title}@{k}", _AtK(function, k), "score", True)
        for short, title, function, ks in (
            ("precision", "P", precision_at_k_score, (1, 3, 5)),
            ("recall", "R", recall_at_k_score, (5,)),
            ("ndcg", "nDCG", ndcg_at_k_score, (3, 5)),
        )
        for k in ks
    ),
)
_BY_NAME = {
    **{m.name: m for m in _REGISTRY},
    **{m.scorer_name: m for m in _REGISTRY},
}

#: The metrics of the paper's tables (section 4.3), in its column order.
_PAPER_METRICS = (
    "subset_accuracy",
    "example_f1",
    "micro_f1",
    "macro_f1",
    "avg_precision",
    "ranking_loss",
)


def _get_metric(name, *, response=None, param="metric"):
    """The registry entry of a metric or scorer name, with a clear error.

    Parameters
    ----------
    name : str
        A metric name (``"ranking_loss"``) or its scorer name
        (``"neg_ranking_loss"``).
    response : {"predict", "score"} or None, default=None
        Accept only metrics of this kind.
    param : str, default="metric"
        The parameter name for the error message.
    """
    metric = _BY_NAME.get(name) if isinstance(name, str) else None
    if metric is None or (response is not None and metric.response != response):
        allowed = _metric_names(response)
        raise ValueError(
            f"{param}={name!r} is not a known metric; expected one of {allowed} "
            "(or their scorer names, e.g. 'neg_ranking_loss')."
        )
    return metric


def _metric_names(response=None, *, scorer_names=False):
    """Registry names (or scorer names), optionally of one response kind."""
    return [
        m.scorer_name if scorer_names else m.name
        for m in _REGISTRY
        if response is None or m.response == response
    ]


def multilabel_report(
    y_true, y_pred, y_score=None, *, sample_weight=None, output_dict=False, digits=4
):
    """Compute all multi-label metrics at once, as text or as a dict.

    The text is a table like ``sklearn.metrics.classification_report``'s.

    Parameters
    ----------
    y_true : {array-like, sparse matrix} of shape (n_samples, n_labels)
        True indicator matrix.
    y_pred : {array-like, sparse matrix} of shape (n_samples, n_labels)
        Predicted indicator matrix.
    y_score : array-like of shape (n_samples, n_labels), default=None
        Scores for the ranking metrics; without it they are left out.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights.
    output_dict : bool, default=False
        Return a dict ``{metric name: value}`` instead of text.
    digits : int, default=4
        Digits in the text table.

    Returns
    -------
    report : str or dict
        The table, one metric per line with whether higher or lower is better,
        or the dict.

    Examples
    --------
    >>> from sklearn_zlpr.metrics import multilabel_report
    >>> r = multilabel_report([[1, 0], [0, 1]], [[1, 0], [1, 1]], [[2, -1], [0.5, 1]],
    ...                       output_dict=True)
    >>> r["subset_accuracy"], r["ranking_loss"]
    (0.5, 0.0)
    """
    values = {}
    for m in _REGISTRY:
        if m.response == "score" and y_score is None:
            continue
        arg = y_pred if m.response == "predict" else y_score
        values[m.name] = m.function(y_true, arg, sample_weight=sample_weight)
    if output_dict:
        return values
    width = max(len(m.title) for m in _REGISTRY)
    lines = [f"{'metric':>{width}s}  {'value':>{digits + 6}s}  better", ""]
    for key, value in values.items():
        m = _BY_NAME[key]
        better = "higher" if m.greater_is_better else "lower"
        lines.append(f"{m.title:>{width}s}  {value:>{digits + 6}.{digits}f}  {better}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# Scorers
def _positive_column(proba, classes):
    """Probability of the positive class from one (n, k) predict_proba block."""
    proba = np.asarray(proba)
    if classes is not None:
        classes = list(np.asarray(classes).tolist())
        for positive in (1, True):
            if positive in classes:
                return proba[:, classes.index(positive)]
        return np.zeros(proba.shape[0])  # the label was never positive in training
    return proba[:, -1]


def _scores_of(estimator, X):
    """Ranking scores: decision_function, else predict_proba (any layout)."""
    if hasattr(estimator, "decision_function"):
        try:
            return np.asarray(estimator.decision_function(X), dtype=np.float64)
        except (AttributeError, NotImplementedError):
            pass  # e.g. a pipeline whose last step has no decision_function
    proba = estimator.predict_proba(X)
    if isinstance(proba, list):
        # MultiOutputClassifier, KNeighborsClassifier, RandomForestClassifier:
        # one (n, n_classes_k) block per label.
        classes = getattr(estimator, "classes_", None)
        if not isinstance(classes, list) or len(classes) != len(proba):
            classes = [None] * len(proba)
        return np.column_stack([_positive_column(p, c) for p, c in zip(proba, classes)])
    return np.asarray(proba, dtype=np.float64)


def _to_indicator(y_pred):
    if sp.issparse(y_pred):
        return y_pred
    return np.asarray(y_pred)


class MultilabelScorer:
    """A scorer ``scorer(estimator, X, y_true, sample_weight=None) -> float``.

    Use through :func:`get_scorer` or :func:`make_scoring`; it works wherever
    scikit-learn takes a scoring callable (``GridSearchCV``, ``cross_val_score``,
    ``cross_validate``), with any multi-label estimator.

    Parameters
    ----------
    name : str
        The scorer's name.
    metric : callable
        ``metric(y_true, y_pred_or_score, sample_weight=...)``.
    response_method : {"predict", "decision_function"}
        ``"predict"`` for set metrics; ``"decision_function"`` for ranking
        metrics, falling back to ``predict_proba`` (including the list of
        ``(n, 2)`` arrays some estimators return for multi-label y).
    sign : {1, -1}
        -1 for lower-is-better metrics, so the scorer is higher-is-better.

    See Also
    --------
    get_scorer : A scorer by name.
    make_scoring : A dict of scorers for ``cross_validate`` or ``GridSearchCV``.

    Examples
    --------
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from sklearn_zlpr.metrics import MultilabelScorer, ranking_loss
    >>> X, Y = make_multilabel_classification(n_samples=60, random_state=0)
    >>> knn = KNeighborsClassifier().fit(X, Y)
    >>> scorer = MultilabelScorer(
    ...     "neg_ranking_loss", ranking_loss, "decision_function", sign=-1
    ... )
    >>> score = scorer(knn, X, Y)
    >>> -1 <= score <= 0
    True
    """

    def __init__(self, name, metric, response_method, sign):
        self.name = name
        self.metric = metric
        self.response_method = response_method
        self.sign = sign

    def __call__(self, estimator, X, y_true, sample_weight=None):
        """Score a fitted estimator on X against y_true.

        Parameters
        ----------
        estimator : estimator object
            A fitted multi-label estimator with ``predict`` (set metrics), or
            with ``decision_function`` or ``predict_proba`` (ranking metrics).
        X : {array-like, sparse matrix} of shape (n_samples, n_features) or list of str
            The samples, in whatever form ``estimator`` takes.
        y_true : {array-like, sparse matrix} of shape (n_samples, n_labels)
            True indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.

        Returns
        -------
        score : float
            ``sign`` times the metric: higher is better.

        Examples
        --------
        >>> from sklearn.datasets import make_multilabel_classification
        >>> from sklearn.neighbors import KNeighborsClassifier
        >>> from sklearn_zlpr.metrics import example_f1_score, get_scorer
        >>> X, Y = make_multilabel_classification(n_samples=60, random_state=0)
        >>> knn = KNeighborsClassifier().fit(X, Y)
        >>> scorer = get_scorer("example_f1")
        >>> scorer(knn, X, Y) == example_f1_score(Y, knn.predict(X))
        True
        """
        if self.response_method == "predict":
            out = _to_indicator(estimator.predict(X))
        else:
            out = _scores_of(estimator, X)
        return self.sign * self.metric(y_true, out, sample_weight=sample_weight)

    def __repr__(self):
        return (
            f"MultilabelScorer({self.name!r}, {self.metric.__name__}, "
            f"response_method={self.response_method!r}, sign={self.sign})"
        )


class _PSPAtK:
    """``psp_at_k_score`` with fixed propensities, as a scorer's metric."""

    def __init__(self, k, propensities, normalize):
        self.k = k
        self.propensities = propensities
        self.normalize = normalize
        self.__name__ = f"psp_at_k_score(k={k})"

    def __call__(self, y_true, y_score, *, sample_weight=None):
        return psp_at_k_score(
            y_true,
            y_score,
            k=self.k,
            propensities=self.propensities,
            normalize=self.normalize,
            sample_weight=sample_weight,
        )


def make_psp_scorer(
    k=5, *, propensities=None, y_train=None, A=0.55, B=1.5, normalize=True
):
    """Make a scorer for propensity-scored precision at k.

    PSP@k needs the labels' propensities, which come from the training labels,
    so it has no fixed scorer name; this builds one.

    Parameters
    ----------
    k : int, default=5
        How many of the best-scored labels of each row count.
    propensities : array-like of shape (n_labels,), default=None
        The labels' propensities. Give these or ``y_train``.
    y_train : {array-like, sparse matrix} of shape (n_train, n_labels), default=None
        The training indicator matrix, to compute the propensities from once.
    A, B : float, default=0.55, 1.5
        The propensity model's constants, with ``y_train``.
    normalize : bool, default=True
        As in :func:`psp_at_k_score`.

    Returns
    -------
    scorer : MultilabelScorer
        Named ``"psp_at_<k>"``; reads ``decision_function``, else
        ``predict_proba``; higher is better.

    See Also
    --------
    psp_at_k_score : The metric.

    Examples
    --------
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from sklearn_zlpr.metrics import make_psp_scorer
    >>> X, Y = make_multilabel_classification(n_samples=80, random_state=0)
    >>> scorer = make_psp_scorer(3, y_train=Y[:60])
    >>> knn = KNeighborsClassifier().fit(X[:60], Y[:60])
    >>> 0 <= scorer(knn, X[60:], Y[60:]) <= 1
    True
    """
    k = _check_k(k)
    if (propensities is None) == (y_train is None):
        raise ValueError(
            "make_psp_scorer needs the labels' propensities: pass exactly one of "
            "propensities= or y_train=."
        )
    if y_train is not None:
        propensities = label_propensities(y_train, A=A, B=B)
    metric = _PSPAtK(k, np.asarray(propensities, dtype=np.float64), normalize)
    return MultilabelScorer(f"psp_at_{k}", metric, "decision_function", 1)


def get_scorer_names():
    """Get the names accepted by :func:`get_scorer` and :func:`make_scoring`.

    Returns
    -------
    names : list of str
        The scorer names: the higher-is-better metrics under their own name and
        the lower-is-better ones negated, as ``neg_*``.

    See Also
    --------
    get_scorer : A scorer by name.

    Examples
    --------
    >>> from sklearn_zlpr.metrics import get_scorer_names
    >>> "neg_ranking_loss" in get_scorer_names()
    True
    """
    return _metric_names(scorer_names=True)


def get_scorer(name):
    """Return a scorer by name.

    Parameters
    ----------
    name : str
        One of :func:`get_scorer_names`.

    Returns
    -------
    scorer : MultilabelScorer
        Callable as ``scorer(estimator, X, y_true)``; higher is better.

    See Also
    --------
    get_scorer_names : The accepted names.
    make_scoring : Several scorers at once.

    Examples
    --------
    >>> from sklearn_zlpr.metrics import get_scorer
    >>> get_scorer("example_f1")
    MultilabelScorer('example_f1', example_f1_score, response_method='predict', sign=1)
    """
    if name not in get_scorer_names():
        raise ValueError(
            f"Unknown scorer {name!r}; expected one of {get_scorer_names()}."
        )
    m = _BY_NAME[name]
    method = "predict" if m.response == "predict" else "decision_function"
    return MultilabelScorer(name, m.function, method, m.sign)


def make_scoring(names=None):
    """Return a dict of scorers for ``cross_validate`` or ``GridSearchCV(scoring=...)``.

    Parameters
    ----------
    names : list of str, default=None
        Scorer names; all of :func:`get_scorer_names` when None.

    Returns
    -------
    scoring : dict
        ``{name: scorer}``; use a name as ``GridSearchCV(refit=name)``.

    See Also
    --------
    get_scorer : One scorer by name.

    Examples
    --------
    >>> from sklearn_zlpr.metrics import make_scoring
    >>> sorted(make_scoring(["example_f1", "neg_ranking_loss"]))
    ['example_f1', 'neg_ranking_loss']
    """
    if names is None:
        names = get_scorer_names()
    if isinstance(names, str):
        names = [names]
    return {name: get_scorer(name) for name in names}
