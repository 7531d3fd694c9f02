"""Solvers for the package's smooth convex objectives.

A solver takes an objective with ``value_and_gradient(w)`` (and, for the
Newton method, ``hessian_product(w) -> (v -> H v)``), a starting point, a
tolerance and an iteration budget, and returns ``(w, n_iter)``. It owns the
iterations and the convergence check; the objective owns the mathematics
(:mod:`sklearn_zlpr._linear`), as in scikit-learn's ``_logistic.py``.

``"lbfgs"`` is limited-memory BFGS on float64 torch tensors, run on the
objective's device (a GPU included); ``"newton-cg"`` is scipy's trust-region
Newton-CG (``scipy.optimize.minimize(method="trust-ncg")``, LIBLINEAR's kind of
method) with exact Hessian-vector products, on the CPU.

The tolerance is relative, as LIBLINEAR's: the solvers stop when the
gradient's norm has shrunk to ``tol`` times its norm at zero weights (also when
warm-started elsewhere), so one ``tol`` means the same whatever ``C``, the
number of rows or the scale of the features.

Failure modes are loud: an objective that is not finite at the starting point
is a ``ValueError``; L-BFGS treats a trial point with a non-finite value or
gradient as too long a step (it backtracks), so its iterates stay finite; a
``KeyboardInterrupt`` (Ctrl-C) during the iterations becomes a
:class:`SolverInterrupted` that carries the last iterate.
"""

import math
import warnings
from collections import deque

import numpy as np
import torch
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning

SOLVERS = ("lbfgs", "newton-cg")

#: Correction pairs L-BFGS keeps (each costs two passes over ``w`` per
#: iteration; scipy's default is 10, LIBLINEAR's Newton method keeps none).
_HISTORY = 5
#: Iterations after which the diagonal preconditioner is recomputed at the
#: current point (each costs about one function evaluation).
_REFRESH = frozenset({2, 5, 10, 20, 40, 80, 160, 320, 640})


class SolverInterrupted(KeyboardInterrupt):
    """A ``KeyboardInterrupt`` during the iterations, with the last iterate.

    Parameters
    ----------
    w : ndarray or torch.Tensor of float64
        The last iterate (the starting point if none was accepted), the kind
        of ``w0``.
    n_iter : int
        Iterations completed.
    """

    def __init__(self, w, n_iter):
        super().__init__(f"interrupted after {n_iter} iterations")
        self.w = w
        self.n_iter = n_iter


def _finite(value, gradient):
    """Whether ``value`` and the float64 ``gradient`` are finite (NaN and inf
    propagate to the gradient's sum, a pass cheaper than ``isfinite``)."""
    return math.isfinite(value) and math.isfinite(torch.as_tensor(gradient).sum())


def minimize_objective(
    objective, w0, *, solver="lbfgs", tol=1e-4, max_iter=500, from_start=False
):
    """Minimise ``objective`` from ``w0``; return ``(w, n_iter)``.

    Parameters
    ----------
    objective : object
        With ``value_and_gradient(w) -> (float, gradient)`` for ``w`` a numpy
        array or a torch tensor (answering in the same kind), and, for
        ``"newton-cg"``, ``hessian_product(w) -> callable``.
    w0 : ndarray or torch.Tensor of float64
        Starting point (warm start).
    solver : {"lbfgs", "newton-cg"}, default="lbfgs"
        See the module notes.
    tol : float, default=1e-4
        Relative gradient tolerance (see the module notes): the solvers stop
        when the gradient's norm is ``tol`` times its norm at zero weights.
    max_iter : int, default=500
        Iterations at most; a ``ConvergenceWarning`` says when they ran out.
    from_start : bool, default=False
        Make ``tol`` relative to the gradient's norm at ``w0`` instead: "shrink
        the gradient ``tol`` times from where it starts", for a warm start
        near another problem's solution (the cross-fitted models of
        ``threshold="cardinality"``, started at the full model), where the
        gradient may already be below ``tol`` times its norm at zero.

    Returns
    -------
    w : ndarray or torch.Tensor of float64
        The minimiser found, the kind of ``w0``.
    n_iter : int
        Iterations run.

    Raises
    ------
    ValueError
        When the objective or its gradient is not finite at ``w0`` (or at zero
        weights), or Newton-CG ends on non-finite weights.
    SolverInterrupted
        On a ``KeyboardInterrupt`` during the iterations; it carries the last
        iterate (a ``KeyboardInterrupt`` before them propagates as it is).
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}; got {solver!r}.")
    as_numpy = isinstance(w0, np.ndarray)
    f0, g0 = objective.value_and_gradient(w0)
    # The tolerance is relative to the gradient at zero weights, also for a
    # warm start (which may begin near the optimum: relative to its own
    # gradient, it would have to shrink that one by ``tol`` again).
    zero = torch.zeros_like(torch.as_tensor(w0))
    warm = bool(torch.as_tensor(w0).any())
    if warm and not from_start:
        f_zero, g_zero = objective.value_and_gradient(zero)
    else:
        f_zero, g_zero = f0, g0
    for f, g, where in ((f0, g0, "starting"), (f_zero, g_zero, "zero")):
        if not _finite(f, g):
            raise ValueError(
                f"The objective of the {solver} solver is not finite at the "
                f"{where} weights (value {f:.3g}, or a NaN or infinite gradient): "
                "the features or the sample weights are too large for its "
                "arithmetic. Scale the features (for example with MaxAbsScaler "
                "or StandardScaler) and keep sample_weight near 1 (divide it by "
                "its mean)."
            )
    reference = g0 if from_start else g_zero
    target = tol * float(torch.linalg.vector_norm(torch.as_tensor(reference)))
    try:
        if solver == "lbfgs":
            w, n_iter, gradient = _lbfgs(objective, w0, f0, g0, target, max_iter)
        else:
            w, n_iter, gradient = _newton_cg(objective, w0, target, max_iter)
    except SolverInterrupted as stop:
        w = stop.w
        if as_numpy and isinstance(w, torch.Tensor):
            w = w.cpu().numpy()
        raise SolverInterrupted(w, stop.n_iter) from None
    if not bool(torch.isfinite(torch.as_tensor(w)).all()):
        raise ValueError(
            f"The {solver} solver ended on NaN or infinite weights after "
            f"{n_iter} iterations. Scale the features (for example with "
            "MaxAbsScaler or StandardScaler), or use solver='lbfgs', which "
            "never steps to a non-finite point."
        )
    # L-BFGS also stops when its line search finds no lower value in float64:
    # that is as converged as the arithmetic allows. Running out of
    # iterations is not.
    if gradient > target and n_iter >= max_iter:
        warnings.warn(
            f"The {solver} solver did not converge in {n_iter} iterations "
            f"(max_iter={max_iter}; gradient {gradient:.3g} > {target:.3g}, "
            f"tol={tol} times its norm at zero weights). Increase max_iter, or scale "
            "the features.",
            ConvergenceWarning,
            stacklevel=2,
        )
    if as_numpy and isinstance(w, torch.Tensor):
        w = w.cpu().numpy()
    return w, n_iter


def _lbfgs(objective, w0, f0, g0, target, max_iter):
    """Limited-memory BFGS, diagonally preconditioned, with Armijo backtracking.

    Written here rather than taken from ``torch.optim.LBFGS`` or scipy's
    L-BFGS-B, because neither takes a preconditioner: the linear ZLPR
    objective's curvature differs by orders of magnitude between frequent and
    rare features, and a diagonal initial inverse Hessian (the objective's
    ``inverse_diagonal()``, when it has one) cuts the iterations to
    convergence several-fold (measured: GoEmotions reaches 1 % of the optimum
    in 50 iterations instead of several hundred). It is the standard algorithm
    (Nocedal & Wright, Algorithm 7.4, with ``H0 = gamma D^-1`` and ``gamma``
    from Eq. 7.20 in the ``D`` metric) on the flat float64 vector, in place.
    The first step minimises the quadratic model along ``-D^-1 g`` (one
    Hessian-vector product).
    """
    w = torch.as_tensor(w0, dtype=torch.float64).clone()
    g = torch.as_tensor(g0, dtype=torch.float64)
    f = f0
    preconditioned = hasattr(objective, "inverse_diagonal")
    d_inv = objective.inverse_diagonal(w) if preconditioned else None
    history = deque(maxlen=_HISTORY)  # (s, y, 1 / s.y)
    n_iter = 0
    try:
        gamma = _first_step(objective, w, g, d_inv)
        while n_iter < max_iter and float(torch.linalg.vector_norm(g)) > target:
            d = _two_loop(g, history, gamma, d_inv).neg_()
            gtd = float(g @ d)
            if gtd >= 0:  # not a descent direction (round-off): restart
                history.clear()
                d = g.neg() * gamma if d_inv is None else g.neg() * d_inv * gamma
                gtd = float(g @ d)
            for _ in range(40):
                w_new = w + d
                f_new, g_new = objective.value_and_gradient(w_new)
                # A non-finite value or gradient is a step too long.
                if f_new <= f + 1e-4 * gtd and _finite(f_new, g_new):
                    break
                d.mul_(0.5)
                gtd *= 0.5
            else:  # no decrease left in float64: converged as far as it goes
                break
            n_iter += 1
            if preconditioned and n_iter in _REFRESH:  # the curvature has moved
                d_inv = objective.inverse_diagonal(w_new)
            s, y = d, g_new - g
            sy = float(s @ y)
            w = w_new
            f, g = f_new, g_new
            if sy > 1e-12 * float(y @ y):  # curvature: keep the pair
                history.append((s, y, 1.0 / sy))
                yDy = float(y @ y) if d_inv is None else float(y @ (d_inv * y))
                gamma = sy / yDy
    except KeyboardInterrupt:
        raise SolverInterrupted(w, n_iter) from None
    return w, n_iter, float(torch.linalg.vector_norm(g))


def _first_step(objective, w, g, d_inv):
    """Step length along ``-D^-1 g`` minimising the quadratic model."""
    p = g if d_inv is None else d_inv * g
    gp = float(g @ p)
    if gp == 0:
        return 1.0
    if hasattr(objective, "hessian_product"):
        pHp = float(p @ objective.hessian_product(w)(p))
        if pHp > 0:
            return gp / pHp
    return 1.0 / float(torch.linalg.vector_norm(p))


def _two_loop(g, history, gamma, d_inv):
    """``H g`` for the L-BFGS inverse-Hessian approximation ``H``."""
    q = g.clone()
    alphas = []
    for s, y, rho in reversed(history):
        a = rho * float(s @ q)
        q.add_(y, alpha=-a)
        alphas.append(a)
    q.mul_(gamma)
    if d_inv is not None:
        q.mul_(d_inv)
    for (s, y, rho), a in zip(history, reversed(alphas)):
        b = rho * float(y @ q)
        q.add_(s, alpha=a - b)
    return q


def _newton_cg(objective, w0, target, max_iter):
    w0 = np.asarray(torch.as_tensor(w0).cpu(), dtype=np.float64)
    if target == 0:
        return w0, 0, 0.0
    last = {"w": w0, "n_iter": 0}  # the last iterate, for an interruption

    def record(w):
        last["w"], last["n_iter"] = np.array(w, copy=True), last["n_iter"] + 1

    try:
        result = minimize(
            objective.value_and_gradient,
            w0,
            jac=True,
            hessp=_hessian_products(objective),
            method="trust-ncg",
            options={"maxiter": max_iter, "gtol": target},
            callback=record,
        )
    except KeyboardInterrupt:
        raise SolverInterrupted(last["w"], last["n_iter"]) from None
    return result.x, int(result.nit), float(np.linalg.norm(result.jac))


def _hessian_products(objective):
    """``hessp(w, v)`` for scipy, building H(w) once per distinct ``w``."""
    last = {"w": None, "product": None}

    def hessp(w, v):
        if last["w"] is None or not np.array_equal(last["w"], w):
            last["w"], last["product"] = w.copy(), objective.hessian_product(w)
        return last["product"](v)

    return hessp
