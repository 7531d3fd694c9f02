"""The linear ZLPR objective and its solvers, against independent references."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.exceptions import ConvergenceWarning

from sklearn_zlpr._linear import LinearZLPRObjective
from sklearn_zlpr._solvers import minimize_objective


def _problem(n=40, d=9, n_labels=5, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=0.35, random_state=seed, format="csr") * 3
    Y = (rng.random((n, n_labels)) < 0.3).astype(np.int64)
    Y[0] = 0  # a row without labels
    Y[1] = 1  # a row with every label
    return X, Y, rng


def _naive_zlpr(s, y):
    """Paper Eq. 1 for one row, straight from the formula, in float64."""
    neg = np.log1p(sum(np.exp(s[i]) for i in range(len(s)) if not y[i]))
    pos = np.log1p(sum(np.exp(-s[j]) for j in range(len(s)) if y[j]))
    return neg + pos


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_value_is_the_penalised_weighted_zlpr_sum(fit_intercept, weighted):
    X, Y, rng = _problem()
    sw = rng.random(X.shape[0]) + 0.5 if weighted else None
    obj = LinearZLPRObjective(
        X, Y, C=2.5, sample_weight=sw, fit_intercept=fit_intercept
    )
    w = rng.normal(size=obj.n_params)
    W = w[: 9 * 5].reshape(9, 5)
    b = w[9 * 5 :] if fit_intercept else np.zeros(5)
    S = X.toarray() @ W + b
    rows = np.array([_naive_zlpr(s, y) for s, y in zip(S, Y)])
    expected = 2.5 * (rows * (1.0 if sw is None else sw)).sum() + 0.5 * (W**2).sum()
    assert obj.value(w) == pytest.approx(expected, rel=1e-12)
    assert obj.value_and_gradient(w)[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_gradient_against_finite_differences_and_autograd(fit_intercept):
    X, Y, rng = _problem(seed=1)
    lw = rng.random(5) + 0.5
    sw = rng.random(X.shape[0]) + 0.5
    obj = LinearZLPRObjective(
        X, Y, C=3.0, sample_weight=sw, label_weight=lw, fit_intercept=fit_intercept
    )
    w = rng.normal(size=obj.n_params)
    eye, eps = np.eye(w.size), 1e-6
    central = [
        (obj.value(w + eps * e) - obj.value(w - eps * e)) / (2 * eps) for e in eye
    ]
    np.testing.assert_allclose(
        obj.value_and_gradient(w)[1], central, rtol=1e-6, atol=1e-6
    )
    # Autograd through the package's functional loss on the dense scores.
    from sklearn_zlpr.losses import zlpr_loss

    wt = torch.tensor(w, requires_grad=True)
    W = wt[: 9 * 5].reshape(9, 5)
    b = wt[9 * 5 :] if fit_intercept else torch.zeros(5, dtype=torch.float64)
    S = torch.tensor(X.toarray()) @ W + b
    per_row = zlpr_loss(
        S,
        torch.tensor(Y, dtype=torch.float64),
        reduction="none",
        label_weight=torch.tensor(lw),
    )
    F = 3.0 * (per_row * torch.tensor(sw)).sum() + 0.5 * (W**2).sum()
    F.backward()
    np.testing.assert_allclose(
        obj.value_and_gradient(w)[1], wt.grad.numpy(), atol=1e-10
    )


def test_hessian_product_against_differences_of_the_gradient():
    X, Y, rng = _problem(seed=2)
    obj = LinearZLPRObjective(X, Y, C=1.5, sample_weight=rng.random(X.shape[0]))
    w = rng.normal(size=obj.n_params)
    product = obj.hessian_product(w)
    for _ in range(3):
        v = rng.normal(size=obj.n_params)
        eps = 1e-6
        diff = (
            obj.value_and_gradient(w + eps * v)[1]
            - obj.value_and_gradient(w - eps * v)[1]
        ) / (2 * eps)
        np.testing.assert_allclose(product(v), diff, atol=1e-6)
        # Convex: v^T H v >= 0, and at least the penalty's ||V||^2.
        V = v[: 9 * 5]
        assert v @ product(v) >= V @ V - 1e-9


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
def test_solvers_reach_the_optimum(solver):
    X, Y, _ = _problem(n=120, d=15, seed=3)
    obj = LinearZLPRObjective(X, Y, C=4.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        w, n_iter = minimize_objective(
            obj, np.zeros(obj.n_params), solver=solver, tol=1e-6, max_iter=2000
        )
    assert 0 < n_iter < 2000
    # Optimality: the gradient vanishes, and no nearby point is lower.
    assert np.abs(obj.value_and_gradient(w)[1]).max() < 1e-4
    rng = np.random.default_rng(0)
    for _ in range(5):
        assert obj.value(w + 1e-3 * rng.normal(size=w.size)) > obj.value(w)


def test_both_solvers_agree():
    X, Y, _ = _problem(n=120, d=15, seed=4)
    obj = LinearZLPRObjective(X, Y, C=4.0)
    w1, _ = minimize_objective(obj, np.zeros(obj.n_params), solver="lbfgs", tol=1e-6)
    w2, _ = minimize_objective(
        obj, np.zeros(obj.n_params), solver="newton-cg", tol=1e-6
    )
    np.testing.assert_allclose(w1, w2, atol=1e-3)
    assert obj.value(w1) == pytest.approx(obj.value(w2), rel=1e-9)


def test_weight_two_equals_a_repeated_row():
    """Full-batch and convex: weighting a row by 2 is the same as repeating it."""
    X, Y, _ = _problem(n=50, d=8, seed=5)
    sw = np.ones(50)
    sw[:10] = 2
    weighted = LinearZLPRObjective(X, Y, C=2.0, sample_weight=sw)
    repeated = LinearZLPRObjective(
        sp.vstack([X, X[:10]]), np.vstack([Y, Y[:10]]), C=2.0
    )
    w = np.random.default_rng(0).normal(size=weighted.n_params)
    assert weighted.value(w) == pytest.approx(repeated.value(w), rel=1e-12)
    np.testing.assert_allclose(
        weighted.value_and_gradient(w)[1], repeated.value_and_gradient(w)[1], atol=1e-10
    )


def test_the_solution_is_deterministic_and_sparse_x_is_never_densified(
    forbid_densifying,
):
    X, Y, _ = _problem(n=80, d=12, seed=6)
    forbid_densifying(X.shape[1])
    runs = [
        minimize_objective(
            LinearZLPRObjective(X, Y, C=2.0), np.zeros(12 * 5 + 5), tol=1e-6
        )[0]
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0], runs[1])


def test_running_out_of_iterations_warns():
    X, Y, _ = _problem(n=120, d=15, seed=7)
    obj = LinearZLPRObjective(X, Y, C=50.0)
    with pytest.warns(ConvergenceWarning, match="did not converge in 2 iterations"):
        _, n_iter = minimize_objective(obj, np.zeros(obj.n_params), max_iter=2)
    assert n_iter == 2
    with pytest.raises(ValueError, match="solver must be one of"):
        minimize_objective(obj, np.zeros(obj.n_params), solver="sag")


def test_the_preconditioner_is_the_inverse_hessian_diagonal():
    X, Y, rng = _problem(seed=8)
    sw = rng.random(X.shape[0]) + 0.5
    obj = LinearZLPRObjective(X, Y, C=2.0, sample_weight=sw)
    w = rng.normal(size=obj.n_params)
    product = obj.hessian_product(w)
    exact = np.array([product(e)[i] for i, e in enumerate(np.eye(obj.n_params))])
    d_inv = obj.inverse_diagonal(w)
    # The weights' diagonal exactly; the intercepts' floored at 1.
    n_w = X.shape[1] * Y.shape[1]
    np.testing.assert_allclose(1.0 / d_inv[:n_w], exact[:n_w], rtol=1e-10)
    np.testing.assert_allclose(
        1.0 / d_inv[n_w:], np.maximum(exact[n_w:], 1.0), rtol=1e-10
    )


def test_row_terms_match_the_minibatch_core_and_do_not_overflow():
    from sklearn_zlpr._linear import zlpr_rows
    from sklearn_zlpr.losses import _lse_core_eager

    rng = np.random.default_rng(9)
    S = torch.tensor(rng.normal(scale=400.0, size=(30, 6)))  # e^400 overflows
    Y = torch.tensor(rng.random((30, 6)) < 0.4)
    Y[0] = False
    Y[1] = True
    lw = torch.tensor(rng.random(6) + 0.5)
    t_ref, g_ref = _lse_core_eager(S, Y.double(), 1, True, 0.0, lw)
    t, G = zlpr_rows(S.clone(), Y, lw)
    assert torch.isfinite(t).all() and torch.isfinite(G).all()
    torch.testing.assert_close(t, t_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(G, g_ref, rtol=1e-12, atol=1e-12)


def test_float32_products_give_the_float64_gradient_to_float32_precision():
    X, Y, rng = _problem(seed=10)
    w = rng.normal(size=(9 + 1) * 5)
    f64 = LinearZLPRObjective(X, Y, C=2.0)
    f32 = LinearZLPRObjective(X, Y, C=2.0, dtype=torch.float32)
    v64, g64 = f64.value_and_gradient(w)
    v32, g32 = f32.value_and_gradient(w)
    assert g32.dtype == np.float64
    assert v32 == pytest.approx(v64, rel=1e-6)
    np.testing.assert_allclose(g32, g64, rtol=1e-5, atol=1e-5 * np.abs(g64).max())
