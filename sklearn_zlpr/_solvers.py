"""Solvers for the package's smooth convex objectives, over scipy.optimize.

A solver takes an objective with ``value_and_gradient(w)`` (and, for the
Newton method, ``hessian_product(w) -> (v -> H v)``), a starting point, a
tolerance and an iteration budget, and returns ``(w, n_iter)``. It owns the
iterations and the convergence check; the objective owns the mathematics
(:mod:`sklearn_zlpr._linear`), as in scikit-learn's ``_logistic.py``.
"""

import warnings

import numpy as np
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning

SOLVERS = ("lbfgs", "newton-cg")


def minimize_objective(objective, w0, *, solver="lbfgs", tol=1e-4, max_iter=500):
    """Minimise ``objective`` from ``w0``; return ``(w, n_iter)``.

    Parameters
    ----------
    objective : object
        With ``value_and_gradient(w) -> (float, ndarray)`` and, for
        ``"newton-cg"``, ``hessian_product(w) -> callable``.
    w0 : ndarray of float64
        Starting point (warm start).
    solver : {"lbfgs", "newton-cg"}, default="lbfgs"
        ``"lbfgs"``: scipy's L-BFGS-B, stopping when the largest gradient
        component is below ``tol`` (as scikit-learn's ``LogisticRegression``);
        ``"newton-cg"``: scipy's trust-region Newton-CG with exact
        Hessian-vector products (LIBLINEAR's method), stopping when the
        gradient norm is below ``tol``.
    tol : float, default=1e-4
        Gradient tolerance.
    max_iter : int, default=500
        Iterations at most; a ``ConvergenceWarning`` says when they ran out.

    Returns
    -------
    w : ndarray of float64
        The minimiser found.
    n_iter : int
        Iterations run.
    """
    w0 = np.asarray(w0, dtype=np.float64)
    if solver == "lbfgs":
        result = minimize(
            objective.value_and_gradient,
            w0,
            jac=True,
            method="L-BFGS-B",
            options={
                "maxiter": max_iter,
                "maxls": 50,
                "gtol": tol,
                "ftol": 64 * np.finfo(float).eps,
            },
        )
    elif solver == "newton-cg":
        result = minimize(
            objective.value_and_gradient,
            w0,
            jac=True,
            hessp=_hessian_products(objective),
            method="trust-ncg",
            options={"maxiter": max_iter, "gtol": tol},
        )
    else:
        raise ValueError(f"solver must be one of {SOLVERS}; got {solver!r}.")
    # scipy may also stop when float64 cannot improve the objective further;
    # that is convergence as far as the gradient is concerned.
    gradient = np.max(np.abs(result.jac)) if result.jac.size else 0.0
    if result.nit >= max_iter or (not result.success and gradient > tol):
        warnings.warn(
            f"The {solver} solver did not converge in {result.nit} iterations "
            f"(max_iter={max_iter}; largest gradient component {gradient:.3g}, "
            f"tol={tol}): {result.message}. Increase max_iter, or scale the "
            "features.",
            ConvergenceWarning,
            stacklevel=2,
        )
    return result.x, int(result.nit)


def _hessian_products(objective):
    """``hessp(w, v)`` for scipy, building H(w) once per distinct ``w``."""
    last = {"w": None, "product": None}

    def hessp(w, v):
        if last["w"] is None or not np.array_equal(last["w"], w):
            last["w"], last["product"] = w.copy(), objective.hessian_product(w)
        return last["product"](v)

    return hessp
