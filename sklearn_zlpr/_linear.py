"""The linear ZLPR objective on sparse features: value, gradient, Hessian products.

This is the loss side of a converged linear model, kept apart from the solver
that minimises it (:mod:`sklearn_zlpr._solvers`), as scikit-learn keeps
``_linear_loss.LinearModelLoss`` apart from its solvers.

Conventions
-----------
* ``X``: scipy CSR matrix of shape ``(n, d)``, read as float64 and never
  densified; ``Y``: 0/1 indicator matrix of shape ``(n, L)`` (dense or sparse);
  ``sample_weight``: ``(n,)`` non-negative, or None.
* Parameters are one float64 vector ``w``: ``W.ravel()`` (``W`` of shape
  ``(d, L)``, C order), then the intercept ``b`` of shape ``(L,)`` when
  ``fit_intercept``.
* Scores ``S = X W + b``, shape ``(n, L)``.
* The objective is ``F(w) = C sum_n sw_n ZLPR(S_n, Y_n) + ||W||^2 / 2``, with
  the per-row ZLPR loss of paper Eq. 1 (optionally with per-label weights
  inside its sums); the intercept is not penalised. ``F`` is convex: each
  row's loss is a sum of two log-sum-exp functions of affine maps of ``w``.
* The row loss and its gradient with respect to the scores come from the same
  log-sum-exp core as :func:`sklearn_zlpr.losses.zlpr_loss`, in float64.
"""

import numpy as np
import scipy.sparse as sp
import torch

from .losses import _lse_core_eager


class LinearZLPRObjective:
    """``C`` times the weighted ZLPR loss of ``X W + b`` plus ``||W||^2 / 2``.

    Nothing is cached between calls: every method is a function of ``w``.

    Parameters
    ----------
    X : scipy.sparse matrix of shape (n_samples, n_features)
        Features (converted to CSR float64 once, never densified).
    Y : {ndarray, sparse matrix} of shape (n_samples, n_labels)
        Binary targets.
    C : float, default=1.0
        Weight of the data term against the L2 penalty.
    sample_weight : ndarray of shape (n_samples,) or None, default=None
        Per-row weights of the loss.
    label_weight : ndarray of shape (n_labels,) or None, default=None
        Positive per-label weights inside the log-sum-exp sums (as
        ``ZLPRLoss(label_weight=...)``).
    fit_intercept : bool, default=True
        Whether ``w`` ends with an (unpenalised) intercept per label.
    """

    def __init__(
        self,
        X,
        Y,
        C=1.0,
        sample_weight=None,
        label_weight=None,
        fit_intercept=True,
    ):
        self.X = sp.csr_matrix(X, dtype=np.float64)
        Y = Y.toarray() if sp.issparse(Y) else np.asarray(Y)
        self.Y = torch.from_numpy(np.ascontiguousarray(Y > 0.5, dtype=np.float64))
        self.C = float(C)
        self.sample_weight = (
            None if sample_weight is None else np.asarray(sample_weight, np.float64)
        )
        self.label_weight = (
            None
            if label_weight is None
            else torch.as_tensor(np.asarray(label_weight, np.float64))
        )
        self.fit_intercept = fit_intercept
        self.n_features = self.X.shape[1]
        self.n_labels = Y.shape[1]

    @property
    def n_params(self):
        """Length of ``w``."""
        return (self.n_features + self.fit_intercept) * self.n_labels

    def unpack(self, w):
        """``(W, b)`` views of ``w``; ``b`` is zeros without an intercept."""
        d, L = self.n_features, self.n_labels
        W = w[: d * L].reshape(d, L)
        b = w[d * L :] if self.fit_intercept else np.zeros(L)
        return W, b

    def _row_terms(self, w):
        """Per-row losses, the gradient G = dloss/dS and the targets."""
        W, b = self.unpack(w)
        S = torch.from_numpy(np.asarray(self.X @ W) + b)
        t, G = _lse_core_eager(S, self.Y, 1, False, 0.0, self.label_weight)
        return t.numpy(), G.numpy()

    def _weighted(self, rows):
        sw = self.sample_weight
        return rows if sw is None else rows * (sw[:, None] if rows.ndim == 2 else sw)

    def _pack(self, dW, db):
        return np.concatenate([dW.ravel(), db]) if self.fit_intercept else dW.ravel()

    def value(self, w):
        """``F(w)``."""
        t, _ = self._row_terms(w)
        W, _ = self.unpack(w)
        return self.C * float(self._weighted(t).sum()) + 0.5 * float(
            W.ravel() @ W.ravel()
        )

    def value_and_gradient(self, w):
        """``(F(w), grad F(w))``, the gradient packed like ``w``."""
        t, G = self._row_terms(w)
        W, _ = self.unpack(w)
        G = self._weighted(G)
        value = self.C * float(self._weighted(t).sum()) + 0.5 * float(
            W.ravel() @ W.ravel()
        )
        dW = self.C * np.asarray(self.X.T @ G) + W
        return value, self._pack(dW, self.C * G.sum(0))

    def hessian_product(self, w):
        """A function ``v -> H(w) v``, the Hessian of ``F`` at ``w`` times ``v``.

        For each row, the Hessian of ``log(1 + sum_i e^{z_i})`` is
        ``diag(p) - p p^T`` with ``p`` the softmax weights of the gradient; the
        negative side has ``p = G`` on the negatives and the positive side
        ``q = -G`` on the positives, so ``H_row u = p u - p (p.u) + q u - q
        (q.u)``. The returned function holds those weights for this ``w``:
        build it once per Newton step, call it once per conjugate-gradient step.
        """
        _, G = self._row_terms(w)
        Y = self.Y.numpy()
        P, Q = G * (1.0 - Y), -G * Y
        weights = (
            np.ones(G.shape[0]) if self.sample_weight is None else self.sample_weight
        )

        def product(v):
            V, vb = self.unpack(v)
            U = np.asarray(self.X @ V) + vb
            HU = (
                P * U
                - P * (P * U).sum(1, keepdims=True)
                + Q * U
                - Q * (Q * U).sum(1, keepdims=True)
            )
            HU *= (self.C * weights)[:, None]
            return self._pack(np.asarray(self.X.T @ HU) + V, HU.sum(0))

        return product
