"""The linear model kind: a converged, L2-regularised linear ZLPR model.

:class:`LinearStrategy` implements :class:`~sklearn_zlpr._strategy.ModelStrategy`
for ``solver="lbfgs"`` and ``solver="newton-cg"``: scores ``X coef_^T +
intercept_``, with ``coef_`` and ``intercept_`` the minimiser of the convex
objective of :mod:`sklearn_zlpr._linear`,

    C * sum_n sw_n ZLPR(x_n W + b, y_n) + ||W||^2 / 2,

found by a solver of :mod:`sklearn_zlpr._solvers` from zero weights (or from
the previous fit's, with ``warm_start``). Every label is trained jointly: the
ZLPR loss couples them through its two log-sum-exp terms.

Data-driven choices (measured in ``docs/benchmarks/peers.md``):

* **Scaling.** Dense numeric features (a dense array, or a sparse matrix at
  least half full) are standardised column by column before solving, as
  ``StandardScaler`` would, because their units are arbitrary and the L2
  penalty is not scale-invariant; the fitted ``coef_`` and ``intercept_`` are
  mapped back, so they apply to the raw features. Sparse features (TF-IDF
  rows, counts, binary indicators) are used as they are, never densified.
* **Precision.** The parameters, the gradient and every sum over rows are
  float64; the data, the products and the row losses are float32 when
  ``tol >= 1e-5`` (the default 1e-3 included: it halves the memory traffic,
  and float32's relative error is far below the tolerance), else float64.
  They are float64 too when the features are so large that float32 sums
  could overflow (:func:`float32_fits`: ``n max|x|^2 max(sw)`` above 1e30,
  for example sparse features around 1e15 and up), so that such data give the
  same model as scaled ones instead of NaN or zero weights.
* **C="auto"** is ``sum_n nnz(x_n) / sum_n ||x_n||^2`` over the (scaled,
  weighted) training rows, the inverse mean square of the non-zero feature
  values (1 for binary and for standardised features, about the number of
  distinct terms per row for L2-normalised TF-IDF rows), times the square
  root of the mean number of labels per row (at least 1). Measured on the ten
  benchmark sets (docs/defaults.md): the feature part at 1/4, 1/2, 1 and 2
  times its value (one times is never far from the best, and the best fixed
  multiple differs by set), and the label factor as none, the square root and
  the full mean (the square root is the only one that matched the best peer
  on 4 of 6 metrics on every set).
"""

import numpy as np
import scipy.sparse as sp
import torch

from ._linear import LinearZLPRObjective
from ._solvers import SolverInterrupted, minimize_objective
from ._strategy import ModelStrategy
from ._validation import resolve_device

#: From this ``tol`` up, the products and row losses run in float32 (their
#: relative error, about 1e-7, is far below it); below it, in float64.
FLOAT32_MIN_TOL = 1e-5
#: A sparse X at least this full is treated as dense numeric features.
DENSE_FRACTION = 0.5
#: Bound on ``n max|x|^2 max(sw)`` under which float32 products are safe: the
#: largest sums the objective forms (the preconditioner's squared features
#: times curvatures of at most 1/4) stay 1e8 below float32's largest value.
FLOAT32_SAFE = 1e30
#: ``threshold="cardinality"``: the fold models stop when their gradient has
#: halved from the full model's weights (measured on six data sets:
#: thresholds within 0.05 of those at 0.1 on five, 0.09 on the smallest, for
#: a sixth to a quarter more fitting time, against a third to four fifths).
CROSS_FIT_TOL = 0.5
#: Fewer training rows than this: no cross-fitting, the loss's threshold.
CROSS_FIT_MIN_ROWS = 20
#: Held-out scores kept for the threshold, at most (rows x labels).
CROSS_FIT_ENTRIES = 20_000_000


def float32_fits(X, sample_weight=None):
    """Whether the objective's float32 sums stay far from overflow on ``X``.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        The features the solver sees.
    sample_weight : ndarray of shape (n_samples,) or None, default=None
        The sample weights.

    Returns
    -------
    bool
        ``n max|x|^2 max(sw) < FLOAT32_SAFE``.
    """
    data = X.data if sp.issparse(X) else np.asarray(X)
    if data.size == 0:
        return True
    largest = max(abs(float(data.max())), abs(float(data.min())))
    weight = 1.0 if sample_weight is None else float(np.max(sample_weight))
    return X.shape[0] * largest * largest * weight < FLOAT32_SAFE


def _dense_like(X):
    if not sp.issparse(X):
        return True
    n, d = X.shape
    return n * d > 0 and X.nnz >= DENSE_FRACTION * n * d


def auto_C(X, Y, weights=None):
    """``C="auto"``: the inverse mean square of X's non-zero values, times the
    square root of the mean number of labels per row (at least 1).

    ``sum_n w_n nnz(x_n) / sum_n w_n ||x_n||^2``: 1 for binary features and
    for standardised ones, about the number of distinct terms of a row for
    L2-normalised TF-IDF rows (long texts spread a row's unit norm over many
    small values, whose weights must grow larger to score the same).

    ``sqrt(max(1, sum_n w_n |y_n| / sum_n w_n))``: the ZLPR loss of a row pulls
    its k positive labels up with a softmax whose weights sum to at most 1, so
    each label of a many-label row gets a fraction of the pull a per-label
    loss would give it; the factor gives some of it back (docs/defaults.md
    has the measurements of 1, the square root and the full mean).
    """
    if weights is not None:  # (averages do not depend on the weights' scale)
        weights = weights / np.max(weights)
    if sp.issparse(X):  # (in float64: squares of float32 data may overflow)
        X = sp.csr_matrix(X, dtype=np.float64)
        sq = np.asarray(X.multiply(X).sum(1)).ravel()
        nnz = np.diff(X.indptr)
    else:
        sq, nnz = (X * X).sum(1), (X != 0).sum(1)
    if not len(sq) or not np.any(sq):
        return 1.0
    labels = np.asarray((Y > 0.5).sum(1)).ravel()
    cardinality = max(1.0, float(np.average(labels, weights=weights)))
    return float(
        np.sqrt(cardinality)
        * np.average(nnz, weights=weights)
        / np.average(sq, weights=weights)
    )


def linear_incompatibilities(params, encoder):
    """The parameters that rule out the linear solvers, as readable reasons."""
    reasons = []
    if not (isinstance(params["loss"], str) and params["loss"] == "zlpr"):
        reasons.append(f"loss={params['loss']!r} (only 'zlpr')")
    hidden = params["hidden_layer_sizes"]
    if not (
        (isinstance(hidden, str) and hidden == "auto")
        or (not isinstance(hidden, str) and np.size(hidden) == 0)
    ):
        reasons.append(f"hidden_layer_sizes={hidden!r} (only () or 'auto')")
    if encoder == "transformer":
        reasons.append("encoder='transformer' (raw texts)")
    for name in ("label_smoothing", "rdrop_alpha"):
        if params[name]:
            reasons.append(f"{name}={params[name]!r} (only 0)")
    if params["callbacks"]:
        reasons.append("callbacks (skorch callbacks need solver='minibatch')")
    if params.get("checkpoint_dir") is not None:
        reasons.append(
            "checkpoint_dir (it saves the network's training state after each "
            "epoch; a linear solver has no epochs)"
        )
    if params.get("data_parallel"):
        reasons.append(
            "data_parallel=True (it shares the network's mini-batches among "
            "processes; the linear solvers use all the data at once)"
        )
    return reasons


def cross_fitted_scores(objective, w, Xs, Y, sample_weight, params):
    """Out-of-fold scores of the training rows, for ``threshold="cardinality"``.

    Two folds of a fixed shuffled split (seed 0: the linear model has nothing
    random, so neither has its threshold). Each fold's model minimises the
    same objective (same ``C``) on the other fold's rows, warm-started at
    the full model's weights ``w`` and stopped when the gradient has shrunk by
    the factor :data:`CROSS_FIT_TOL` from there: the threshold needs the fold
    models' held-out score distribution, not their last digits. At most
    :data:`CROSS_FIT_ENTRIES` scores are kept (rows of the held-out folds
    drawn at random).

    Returns
    -------
    tuple or None
        ``(scores, Y, sample_weight)`` of the held-out rows, or None with
        fewer than :data:`CROSS_FIT_MIN_ROWS` rows (the loss's threshold then
        stays).
    """
    n, n_labels = Y.shape
    if n < CROSS_FIT_MIN_ROWS:
        return None
    order = np.random.RandomState(0).permutation(n)
    halves = order[: n // 2], order[n // 2 :]
    keep = max(1, CROSS_FIT_ENTRIES // max(n_labels, 1)) // 2
    scores, rows = [], []
    for fold, train in (halves, halves[::-1]):
        part = LinearZLPRObjective(
            Xs[train],
            Y[train],
            C=objective.C,
            sample_weight=None if sample_weight is None else sample_weight[train],
            label_weight=params["label_weights"],
            device=objective.device,
            dtype=objective.dtype,
        )
        w_fold, _ = minimize_objective(
            part,
            torch.as_tensor(w, dtype=torch.float64, device=objective.device).clone(),
            solver=params["solver"],
            tol=CROSS_FIT_TOL,
            max_iter=params["max_iter"],
            from_start=True,
        )
        held = fold[:keep]
        W, b = part.unpack(torch.as_tensor(w_fold, device="cpu"))
        S = Xs[held] @ W.numpy() + b.numpy()
        scores.append(np.asarray(S, dtype=np.float64))
        rows.append(held)
    rows = np.concatenate(rows)
    weights = None if sample_weight is None else sample_weight[rows]
    return np.vstack(scores), Y[rows], weights


class LinearStrategy(ModelStrategy):
    """A linear ZLPR model fitted to convergence (see the module notes).

    Fitted attributes: ``coef_`` of shape ``(n_labels, n_features)``,
    ``intercept_`` of shape ``(n_labels,)`` (float64, on the raw features),
    ``C_`` (resolves ``C="auto"``), ``device_``, ``feature_scaled_``
    (whether the features were standardised for the solver) and
    ``interrupted_`` (None, or a message when a ``KeyboardInterrupt`` stopped
    the solver: the model then keeps its last iterate).
    """

    def check_params(self, X, Y, *, n_train):
        p = self.params
        reasons = linear_incompatibilities(p, self.encoder)
        if reasons:
            raise ValueError(
                f"solver={p['solver']!r} fits a linear ZLPR model, which does not "
                f"support {'; '.join(reasons)}. Use solver='minibatch' (the "
                "neural network) for those, or the default solver='auto'."
            )
        self.device_ = resolve_device(p["device"])

    def fit(
        self, X, Y, sample_weight, *, criterion, validation, rule, seed, previous=None
    ):
        p = self.params
        self.feature_scaled_ = _dense_like(X)
        # Statistics weighted like the loss, so that a weight of 2 is the same
        # as a repeated row (scikit-learn's sample-weight equivalence).
        weights = sample_weight  # validated: non-negative, a positive sum
        if weights is not None:  # (averages do not depend on the weights' scale)
            weights = weights / np.max(weights)
        if self.feature_scaled_:
            X = X.toarray() if sp.issparse(X) else np.asarray(X)
            X = np.asarray(X, dtype=np.float64)
            mean = np.average(X, axis=0, weights=weights)
            scale = np.sqrt(np.average((X - mean) ** 2, axis=0, weights=weights))
            scale[scale <= 1e-12 * np.maximum(1.0, np.abs(mean))] = 1.0
            Xs = (X - mean) / scale
        else:
            mean = scale = None
            Xs = X
        C = p["C"]
        if isinstance(C, str):  # "auto"
            C = auto_C(Xs, Y, weights)
        self.C_ = float(C)
        single = p["tol"] >= FLOAT32_MIN_TOL and float32_fits(Xs, sample_weight)
        objective = LinearZLPRObjective(
            Xs,
            Y,
            C=self.C_,
            sample_weight=sample_weight,
            label_weight=p["label_weights"],
            device=self.device_,
            dtype=torch.float32 if single else torch.float64,
        )
        w0 = torch.zeros(objective.n_params, dtype=torch.float64, device=self.device_)
        if previous is not None:
            w0 = self._previous_weights(previous, mean, scale)
        self.interrupted_ = None
        try:
            w, n_iter = minimize_objective(
                objective, w0, solver=p["solver"], tol=p["tol"], max_iter=p["max_iter"]
            )
        except SolverInterrupted as stop:  # Ctrl-C: keep the last iterate
            w, n_iter = stop.w, stop.n_iter
            self.interrupted_ = (
                f"The {p['solver']} solver was interrupted (KeyboardInterrupt) "
                f"after {n_iter} iterations, before it converged; the model is "
                "usable and keeps its last iterate."
            )
        W, b = objective.unpack(torch.as_tensor(w, device="cpu"))
        W, b = W.numpy(), b.numpy()
        if self.feature_scaled_:  # scores on standardised = scores on raw X
            W = W / scale[:, None]
            b = b - mean @ W
        if not (np.isfinite(W).all() and np.isfinite(b).all()):
            raise ValueError(
                "The linear model's weights overflow on the raw features: "
                "their scale (up to "
                f"{max(abs(float(np.max(X))), abs(float(np.min(X)))):.3g}) is too "
                "large. Scale the features (for example with StandardScaler)."
            )
        self.coef_ = np.ascontiguousarray(W.T)
        self.intercept_ = b.copy()
        self.n_iter_ = n_iter + (0 if previous is None else previous.n_iter_)
        self._held_out = None
        if p["threshold"] == "cardinality" and p["top_k"] is None:
            self._held_out = cross_fitted_scores(objective, w, Xs, Y, sample_weight, p)
        return self.n_iter_

    def held_out_scores(self):
        """The cross-fitted ``(scores, Y, sample_weight)`` of the last fit, once.

        Computed by :func:`cross_fitted_scores` for ``threshold="cardinality"``
        (None otherwise); dropped after this call, so that the fitted model
        does not keep (or pickle) them.
        """
        held_out, self._held_out = getattr(self, "_held_out", None), None
        return held_out

    def _previous_weights(self, previous, mean, scale):
        # Same features and labels: the classifier checked both (n_features_in_,
        # classes_) before this fit.
        W, b = previous.coef_.T, previous.intercept_
        if mean is not None:  # back to the standardised features
            b = b + mean @ W
            W = W * scale[:, None]
        w0 = np.concatenate([W.ravel(), b])
        return torch.as_tensor(w0, dtype=torch.float64, device=self.device_)

    def partial_fit(self, X, Y, sample_weight, *, criterion, rule, seed):
        raise ValueError(
            f"partial_fit trains on a stream of mini-batches; solver="
            f"{self.params['solver']!r} fits a linear model to convergence on "
            "all the data at once. Use solver='minibatch' (or 'auto') with "
            "partial_fit."
        )

    def raw_scores(self, X):
        S = X @ self.coef_.T
        S = np.asarray(S) + self.intercept_
        with np.errstate(over="ignore"):  # the classifier rejects inf scores
            return S.astype(np.float32)

    def fitted_attributes(self):
        return {
            "coef_": self.coef_,
            "intercept_": self.intercept_,
            "C_": self.C_,
            "device_": self.device_,
            "feature_scaled_": self.feature_scaled_,
            "interrupted_": getattr(self, "interrupted_", None),
        }
