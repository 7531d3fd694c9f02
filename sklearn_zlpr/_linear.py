"""The linear ZLPR objective on sparse or dense features: value, gradient, Hessian.

This is the loss side of a converged linear model, kept apart from the solver
that minimises it (:mod:`sklearn_zlpr._solvers`) and from the estimator's
model strategy (:mod:`sklearn_zlpr._linear_model`), as scikit-learn keeps
``_linear_loss.LinearModelLoss`` apart from its solvers.

Conventions
-----------
* ``X``: scipy sparse matrix (held as a torch CSR tensor, never densified) or
  a dense array, of shape ``(n, d)``, in float64; ``Y``: 0/1 indicator matrix
  of shape ``(n, L)`` (dense or sparse); ``sample_weight``: ``(n,)``
  non-negative, or None.
* Parameters are one float64 vector ``w``: ``W.ravel()`` (``W`` of shape
  ``(d, L)``, C order), then the intercept ``b`` of shape ``(L,)`` when
  ``fit_intercept``. Methods take ``w`` as a numpy array or a torch tensor
  and answer in the same kind.
* Scores ``S = X W + b``, shape ``(n, L)``.
* The objective is ``F(w) = C sum_n sw_n ZLPR(S_n, Y_n) + ||W||^2 / 2``, with
  the per-row ZLPR loss of paper Eq. 1 (optionally with per-label weights
  inside its sums); the intercept is not penalised. ``F`` is convex: each
  row's loss is a sum of two log-sum-exp functions of affine maps of ``w``.
* The row loss and its gradient with respect to the scores are computed by
  :func:`zlpr_rows`, in float64, in place: the same quantity as the
  log-sum-exp core of :func:`sklearn_zlpr.losses.zlpr_loss` (tested against
  it and against the paper's formula), with the allocations of the
  mini-batch version removed.
* Everything runs in torch on ``device``: the sparse products use torch's CSR
  kernels (multi-threaded on the CPU, cuSPARSE on a GPU).
"""

import warnings

import numpy as np
import scipy.sparse as sp
import torch


def zlpr_rows(S, Y, label_weight=None):
    """Per-row ZLPR losses of the scores ``S`` and their gradient, in place.

    The same quantity as :func:`sklearn_zlpr.losses._lse_core_eager` for hard
    targets (``one=1``, ``s0=0``), written for the full-batch solver: ``S`` is
    overwritten (it becomes the gradient), and each side is shifted by its
    own maximum (at least 0), so nothing overflows.

    Parameters
    ----------
    S : torch.Tensor of shape (n, L)
        Scores (float64), consumed.
    Y : torch.Tensor of bool, shape (n, L)
        Targets.
    label_weight : torch.Tensor of shape (L,) or None
        Positive weights of each label's exponential.

    Returns
    -------
    t : torch.Tensor of shape (n,)
        ``log(1 + sum_pos w e^{-s}) + log(1 + sum_neg w e^{s})`` per row.
    G : torch.Tensor of shape (n, L)
        ``dt/dS`` (the storage of ``S``).
    """
    # One exponential per entry: a positive enters its row's positive sum as
    # e^{-s}, a negative its negative sum as e^{s}; each side is shifted by
    # its own row maximum (at least 0).
    Z = torch.where(Y, S.neg(), S)
    very_negative = torch.tensor(-torch.inf, dtype=S.dtype, device=S.device)
    m_pos = torch.where(Y, Z, very_negative).amax(1, keepdim=True).clamp_min_(0)
    m_neg = torch.where(Y, very_negative, Z, out=S).amax(1, keepdim=True)
    m_neg.clamp_min_(0)
    E = Z.sub_(torch.where(Y, m_pos, m_neg, out=S)).exp_()
    if label_weight is not None:
        E.mul_(label_weight)
    E_pos = torch.where(Y, E, very_negative.new_zeros(()), out=S)
    sum_pos = E_pos.sum(1, keepdim=True)
    sum_neg = E.sum(1, keepdim=True).sub_(sum_pos)
    sum_pos.add_(m_pos.neg().exp_())
    sum_neg.add_(m_neg.neg().exp_())
    t = sum_pos.log().add_(m_pos).add_(sum_neg.log()).add_(m_neg).squeeze(1)
    # G = e^{s}/sum_neg on the negatives, -e^{-s}/sum_pos on the positives.
    G = E.div_(torch.where(Y, sum_pos.neg(), sum_neg, out=S))
    return t, G


def to_tensor(X, device, dtype=torch.float64):
    """A scipy sparse matrix as a torch CSR tensor, or an array as a dense one."""
    if sp.issparse(X):
        X = sp.csr_matrix(X)
        return _csr_tensor(
            torch.from_numpy(X.indptr.astype(np.int64)),
            torch.from_numpy(X.indices.astype(np.int64)),
            torch.from_numpy(X.data.astype(np.float64, copy=False)),
            X.shape,
            device=device,
            dtype=dtype,
        )
    return torch.as_tensor(np.asarray(X), dtype=dtype, device=device)


def _csr_tensor(crow, col, values, size, **kwargs):
    # The arrays come from a valid scipy CSR matrix: torch's invariant checks
    # are skipped on purpose, and its "support is in beta" warning is not the
    # user's concern.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            crow, col, values, size=size, check_invariants=False, **kwargs
        )


class LinearZLPRObjective:
    """``C`` times the weighted ZLPR loss of ``X W + b`` plus ``||W||^2 / 2``.

    Every method is a function of ``w``; only ``X^T`` with squared entries
    (for the preconditioner) is built once, on first use.

    Parameters
    ----------
    X : {sparse matrix, ndarray} of shape (n_samples, n_features)
        Features (converted to float64 once; sparse X is never densified).
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
    device : str or torch.device, default="cpu"
        Where the data live and the products run.
    dtype : torch.dtype, default=torch.float64
        The precision of the data, the products and the row losses (``w``, the
        gradient and every sum over rows stay float64). float32 halves the
        memory traffic; its relative error (about 1e-7) is far below the
        tolerances the estimator uses by default.
    """

    def __init__(
        self,
        X,
        Y,
        C=1.0,
        sample_weight=None,
        label_weight=None,
        fit_intercept=True,
        device="cpu",
        dtype=torch.float64,
    ):
        self.device = torch.device(device)
        self.dtype = dtype
        self.X = to_tensor(X, self.device, dtype)
        # X^T as its own CSR matrix: the gradient's product X^T G is then a
        # row-parallel CSR product too.
        self.XT = to_tensor(
            X.T.tocsr() if sp.issparse(X) else np.asarray(X).T, self.device, dtype
        )
        Y = Y.toarray() if sp.issparse(Y) else np.asarray(Y)
        self.Y = torch.as_tensor(Y > 0.5, device=self.device)
        self.C = float(C)
        self.sample_weight = (
            None
            if sample_weight is None
            else torch.as_tensor(
                np.asarray(sample_weight, np.float64), dtype=dtype, device=self.device
            )
        )
        self.label_weight = (
            None
            if label_weight is None
            else torch.as_tensor(
                np.asarray(label_weight, np.float64), dtype=dtype, device=self.device
            )
        )
        self.fit_intercept = fit_intercept
        self.n_features = X.shape[1]
        self.n_labels = Y.shape[1]

    @property
    def n_params(self):
        """Length of ``w``."""
        return (self.n_features + self.fit_intercept) * self.n_labels

    def inverse_diagonal(self, w):
        """1 / the diagonal of the Hessian at ``w``: a diagonal preconditioner.

        The diagonal is ``1 + C sum_n sw_n x_nj^2 h_nl`` for weight ``(j, l)``
        and ``C sum_n sw_n h_nl`` for intercept ``l``, where ``h_nl = |g_nl|
        (1 - |g_nl|)`` is the row loss's curvature in score ``s_nl`` (the
        diagonal of ``diag(p) - p p^T`` on each side). One product with the
        squared features.
        """
        _, G = zlpr_rows(self.scores(w), self.Y, self.label_weight)
        H = G.abs_()
        H.mul_(1.0 - H)
        if self.sample_weight is not None:
            H.mul_(self.sample_weight[:, None])
        inverse = torch.empty(self.n_params, dtype=torch.float64, device=self.device)
        W, b = self.unpack(inverse)
        W.copy_(self._squared_XT() @ H).mul_(self.C).add_(1.0).reciprocal_()
        if b is not None:
            b.copy_(H.sum(0, dtype=torch.float64)).mul_(self.C)
            b.clamp_min_(1.0).reciprocal_()
        return inverse if isinstance(w, torch.Tensor) else inverse.cpu().numpy()

    def _squared_XT(self):
        """``X^T`` with squared entries (same sparsity), built on first use."""
        if not hasattr(self, "_XT_squared"):
            XT = self.XT
            self._XT_squared = (
                _csr_tensor(
                    XT.crow_indices(), XT.col_indices(), XT.values().square(), XT.shape
                )
                if XT.layout == torch.sparse_csr
                else XT.square()
            )
        return self._XT_squared

    def _tensor(self, w):
        return torch.as_tensor(w, dtype=torch.float64, device=self.device)

    def unpack(self, w):
        """``(W, b)`` views of the tensor ``w``; ``b`` is None without an intercept."""
        d, L = self.n_features, self.n_labels
        return w[: d * L].view(d, L), (w[d * L :] if self.fit_intercept else None)

    def scores(self, w):
        """``X W + b``, shape ``(n, L)``, in the compute ``dtype``."""
        W, b = self.unpack(self._tensor(w))
        S = self.X @ W.to(self.dtype)
        return S if b is None else S.add_(b)

    def _row_terms(self, w):
        """Per-row losses and the gradient G = dloss/dS, sample-weighted."""
        t, G = zlpr_rows(self.scores(w), self.Y, self.label_weight)
        if self.sample_weight is not None:
            t = t * self.sample_weight
            G = G.mul_(self.sample_weight[:, None])
        return t, G

    def _penalty(self, W):
        W = W.reshape(-1)
        return 0.5 * float(W @ W)

    @staticmethod
    def _like(w, out):
        return out.cpu().numpy() if isinstance(w, np.ndarray) else out

    def value(self, w):
        """``F(w)``."""
        t, _ = self._row_terms(w)
        W, _ = self.unpack(self._tensor(w))
        return self.C * float(t.sum(dtype=torch.float64)) + self._penalty(W)

    def value_and_gradient(self, w):
        """``(F(w), grad F(w))``, the gradient packed like ``w``."""
        wt = self._tensor(w)
        W, _ = self.unpack(wt)
        t, G = self._row_terms(wt)
        grad = torch.empty_like(wt)
        dW, db = self.unpack(grad)
        dW.copy_(self.XT @ G).mul_(self.C).add_(W)
        if db is not None:
            db.copy_(G.sum(0, dtype=torch.float64)).mul_(self.C)
        value = self.C * float(t.sum(dtype=torch.float64)) + self._penalty(W)
        return value, self._like(w, grad)

    def hessian_product(self, w):
        """A function ``v -> H(w) v``, the Hessian of ``F`` at ``w`` times ``v``.

        For each row, the Hessian of ``log(1 + sum_i e^{z_i})`` is
        ``diag(p) - p p^T`` with ``p`` the softmax weights of the gradient; the
        negative side has ``p = G`` on the negatives and the positive side
        ``q = -G`` on the positives, so ``H_row u = p u - p (p.u) + q u - q
        (q.u)``. The returned function holds those weights for this ``w``:
        build it once per Newton step, call it once per conjugate-gradient step.
        """
        _, G = zlpr_rows(self.scores(w), self.Y, self.label_weight)
        P, Q = G * ~self.Y, -G * self.Y
        weights = self.C * (
            torch.ones(G.shape[0], dtype=self.dtype, device=G.device)
            if self.sample_weight is None
            else self.sample_weight
        )

        def product(v):
            vt = self._tensor(v)
            V, vb = self.unpack(vt)
            U = self.X @ V.to(self.dtype)
            if vb is not None:
                U = U + vb.to(self.dtype)
            HU = (
                P * U
                - P * (P * U).sum(1, keepdim=True)
                + Q * U
                - Q * (Q * U).sum(1, keepdim=True)
            )
            HU *= weights[:, None]
            out = torch.empty_like(vt)
            dV, db = self.unpack(out)
            dV.copy_(self.XT @ HU).add_(V)
            if db is not None:
                db.copy_(HU.sum(0, dtype=torch.float64))
            return self._like(v, out)

        return product
