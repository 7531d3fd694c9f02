"""ZLPRClassifier's linear model (the default solver), against independent references."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.optimize import minimize
from sklearn.datasets import make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from sklearn_zlpr import ZLPRClassifier
from sklearn_zlpr.metrics import example_f1_score


def _naive_objective(w, X, Y, C, sw=None):
    """Paper Eq. 1 summed over rows, times C, plus ||W||^2 / 2 (dense, numpy)."""
    d, L = X.shape[1], Y.shape[1]
    W, b = w[: d * L].reshape(d, L), w[d * L :]
    S = X @ W + b
    neg = np.log1p(np.where(Y == 0, np.exp(S), 0).sum(1))
    pos = np.log1p(np.where(Y == 1, np.exp(-S), 0).sum(1))
    rows = (neg + pos) * (1.0 if sw is None else sw)
    return C * rows.sum() + 0.5 * (W**2).sum()


@pytest.fixture(scope="module")
def small():
    X, Y = make_multilabel_classification(
        n_samples=120, n_features=30, n_classes=4, length=8, random_state=1
    )
    X = sp.csr_matrix(np.log1p(X))
    assert X.nnz < 0.4 * X.shape[0] * X.shape[1]  # used as it is, not scaled
    return X, Y


def test_default_is_the_linear_model_and_scores_are_affine(multilabel_data):
    X, Y = multilabel_data
    clf = ZLPRClassifier(random_state=0).fit(X, Y)
    assert clf.solver_ == "lbfgs"
    assert not hasattr(clf, "net_")
    assert clf.coef_.shape == (Y.shape[1], X.shape[1])
    assert clf.intercept_.shape == (Y.shape[1],)
    expected = X @ clf.coef_.T + clf.intercept_
    np.testing.assert_allclose(clf.decision_function(X), expected, rtol=1e-5, atol=1e-5)
    # It learned something: far better than predicting nothing.
    assert example_f1_score(Y, clf.predict(X)) > 0.6


def test_a_default_fit_and_predict_warn_nothing(multilabel_data):
    # torch's "sparse CSR support is in beta" and "invariant checks are
    # disabled" warnings concern our internals, not the user.
    X, Y = multilabel_data
    assert sp.issparse(X)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = ZLPRClassifier().fit(X, Y)
        clf.predict(X)
        clf.decision_function(X)
    assert [str(w.message) for w in caught] == []


def test_the_fitted_model_is_the_optimum_found_by_scipy(small):
    X, Y = small
    clf = ZLPRClassifier(C=3.0, solver="lbfgs", tol=1e-8, max_iter=2000).fit(X, Y)
    Xd = X.toarray()
    ref = minimize(
        _naive_objective,
        np.zeros((Xd.shape[1] + 1) * Y.shape[1]),
        args=(Xd, Y, 3.0),
        method="L-BFGS-B",
        options={"maxiter": 20000, "gtol": 1e-9, "ftol": 1e-15},
    )
    ours = np.concatenate([clf.coef_.T.ravel(), clf.intercept_])
    assert _naive_objective(ours, Xd, Y, 3.0) <= ref.fun * (1 + 1e-9)
    np.testing.assert_allclose(ours, ref.x, atol=2e-3)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
def test_both_solvers_give_the_same_model(small, solver):
    X, Y = small
    ref = ZLPRClassifier(C=2.0, solver="newton-cg", tol=1e-10).fit(X, Y)
    clf = ZLPRClassifier(C=2.0, solver=solver, tol=1e-8, max_iter=2000).fit(X, Y)
    np.testing.assert_allclose(clf.coef_, ref.coef_, atol=1e-4)
    np.testing.assert_allclose(clf.intercept_, ref.intercept_, atol=1e-4)


def test_auto_C_is_the_inverse_mean_square_of_the_nonzero_values(multilabel_data):
    X, Y = multilabel_data
    Y = np.asarray(Y)
    clf = ZLPRClassifier(max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, Y)
    nnz = np.array([X[i].nnz for i in range(X.shape[0])])
    sq = np.array([(X[i].data ** 2).sum() for i in range(X.shape[0])])
    card = np.array([sum(row) for row in Y.tolist()], dtype=float)
    assert card.mean() > 1.2  # so that the label factor is tested
    # (X reaches the solver as float32, as every numeric X of the estimator.)
    expected = np.sqrt(card.mean()) * nnz.mean() / sq.mean()
    assert clf.C_ == pytest.approx(expected, rel=1e-6)
    assert not clf.feature_scaled_
    # Weighted like the loss.
    sw = np.random.default_rng(0).random(X.shape[0]) + 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, Y, sample_weight=sw)
    expected = (
        np.sqrt((sw * card).sum() / sw.sum()) * (sw * nnz).sum() / (sw * sq).sum()
    )
    assert clf.C_ == pytest.approx(expected, rel=1e-6)
    # Fewer than one label per row on average: no label factor (not below 1).
    sparse_labels = np.zeros_like(Y)
    sparse_labels[::3, 0] = 1
    sparse_labels[1::3, 1] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, sparse_labels)
    assert clf.C_ == pytest.approx(nnz.mean() / sq.mean(), rel=1e-6)
    # An explicit C is used as given.
    assert ZLPRClassifier(C=0.7, max_iter=3).fit(X, Y).C_ == 0.7


def test_dense_features_are_standardised_so_their_units_do_not_matter():
    X, Y = make_multilabel_classification(
        n_samples=200, n_features=10, n_classes=5, random_state=2
    )
    X = X.astype(np.float64)
    units = np.array([1e-3, 1, 1e3, 5, 1e2, 1e-2, 1, 10, 1e4, 0.5])
    a = ZLPRClassifier(tol=1e-8, max_iter=2000).fit(X, Y)
    b = ZLPRClassifier(tol=1e-8, max_iter=2000).fit(X * units + 7.0, Y)
    assert a.feature_scaled_ and b.feature_scaled_
    # Standardised features: C is the label factor alone.
    factor = np.sqrt(max(1.0, Y.sum(1).mean()))
    assert a.C_ == pytest.approx(factor) and b.C_ == pytest.approx(factor)
    np.testing.assert_allclose(
        a.decision_function(X), b.decision_function(X * units + 7.0), atol=1e-3
    )
    # The same model as StandardScaler in front (whose output it leaves as is).
    Xs = StandardScaler().fit_transform(X)
    c = ZLPRClassifier(tol=1e-8, max_iter=2000).fit(Xs, Y)
    np.testing.assert_allclose(
        a.decision_function(X), c.decision_function(Xs), atol=1e-3
    )
    # A sparse matrix that is mostly full is treated the same way.
    d = ZLPRClassifier(tol=1e-8, max_iter=2000).fit(sp.csr_matrix(X + 1.0), Y)
    assert d.feature_scaled_
    np.testing.assert_allclose(
        a.decision_function(X), d.decision_function(sp.csr_matrix(X + 1.0)), atol=1e-3
    )


def test_sparse_features_are_never_densified(multilabel_data, forbid_densifying):
    X, Y = multilabel_data
    forbid_densifying(X.shape[1])
    clf = ZLPRClassifier(random_state=0).fit(X, Y)
    assert clf.predict(X).shape == Y.shape
    assert clf.predict_proba(X).shape == Y.shape


def test_min_labels_auto_follows_the_training_rows(multilabel_data):
    X, Y = multilabel_data
    assert (Y.sum(1) == 0).any()
    assert ZLPRClassifier().fit(X, Y).min_labels_ == 0
    labelled = Y.sum(1) > 0
    clf = ZLPRClassifier().fit(X[labelled], Y[labelled])
    assert clf.min_labels_ == 1
    pred = clf.predict(X)
    assert (pred.sum(1) >= 1).all()
    # Exactly the threshold rule plus the best label of each empty row.
    scores = clf.decision_function(X)
    rule = (scores > clf.threshold_).astype(int)
    empty = rule.sum(1) == 0
    rule[np.flatnonzero(empty), scores[empty].argmax(1)] = 1
    np.testing.assert_array_equal(pred, rule)
    assert ZLPRClassifier(min_labels=0).fit(X[labelled], Y[labelled]).min_labels_ == 0


@pytest.mark.parametrize(
    ("params", "solver"),
    [
        ({}, "lbfgs"),
        ({"C": 2.0, "tol": 1e-3, "label_weights": np.ones(8)}, "lbfgs"),
        ({"max_epochs": 5}, "minibatch"),
        ({"lr": 0.01}, "minibatch"),
        ({"hidden_layer_sizes": (16,)}, "minibatch"),
        ({"hidden_layer_sizes": ()}, "lbfgs"),
        ({"loss": "bce"}, "minibatch"),
        ({"label_smoothing": 0.1}, "minibatch"),
        ({"solver": "minibatch"}, "minibatch"),
        ({"solver": "newton-cg"}, "newton-cg"),
    ],
)
def test_solver_auto_picks_the_network_only_when_asked_for(
    multilabel_data, params, solver
):
    X, Y = multilabel_data
    clf = ZLPRClassifier(max_iter=5, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X[:200], Y[:200])
    assert clf.solver_ == solver
    assert hasattr(clf, "net_") == (solver == "minibatch")
    assert hasattr(clf, "coef_") == (solver != "minibatch")


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"loss": "bce"}, "loss='bce'"),
        ({"hidden_layer_sizes": (8,)}, "hidden_layer_sizes=\\(8,\\)"),
        ({"rdrop_alpha": 0.5}, "rdrop_alpha=0.5"),
    ],
)
def test_a_linear_solver_refuses_what_it_cannot_do(multilabel_data, params, match):
    X, Y = multilabel_data
    with pytest.raises(ValueError, match=match):
        ZLPRClassifier(solver="lbfgs", **params).fit(X, Y)


def test_partial_fit_is_for_the_network_only(multilabel_data):
    X, Y = multilabel_data
    assert not hasattr(ZLPRClassifier(solver="lbfgs"), "partial_fit")
    clf = ZLPRClassifier().fit(X, Y)  # auto -> lbfgs
    with pytest.raises(AttributeError, match="partial_fit") as error:
        clf.partial_fit(X, Y)
    assert "solver='minibatch'" in str(error.value.__cause__)
    # Before any fit, auto streams into the network.
    clf = ZLPRClassifier(random_state=0).partial_fit(X[:100], Y[:100])
    assert clf.solver_ == "minibatch" and hasattr(clf, "net_")


def test_no_rows_are_held_out_unless_a_threshold_is_tuned(multilabel_data):
    X, Y = multilabel_data
    a = ZLPRClassifier(random_state=0).fit(X, Y)  # early_stopping=True default
    b = ZLPRClassifier(random_state=0, early_stopping=False).fit(X, Y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    # threshold="auto" needs validation rows: a different (tuned) model.
    c = ZLPRClassifier(random_state=0, threshold="auto").fit(X, Y)
    assert not np.array_equal(a.coef_, c.coef_)
    assert np.isfinite(c.threshold_)


def test_fits_are_deterministic_and_pickle(multilabel_data):
    X, Y = multilabel_data
    a = ZLPRClassifier(random_state=0).fit(X, Y)
    b = ZLPRClassifier(random_state=1).fit(X, Y)  # nothing random in it
    np.testing.assert_array_equal(a.coef_, b.coef_)
    c = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(c.decision_function(X), a.decision_function(X))
    # The strategy keeps no training data.
    assert len(pickle.dumps(a)) < 4 * (a.coef_.nbytes + X.data.nbytes // 10 + 10_000)


def test_warm_start_continues_from_the_previous_optimum(multilabel_data):
    X, Y = multilabel_data
    clf = ZLPRClassifier(warm_start=True, tol=1e-6, max_iter=1000).fit(X, Y)
    first = clf.n_iter_
    coef = clf.coef_.copy()
    clf.fit(X, Y)  # already optimal: (almost) nothing left to do
    assert clf.n_iter_ - first <= 2
    np.testing.assert_allclose(clf.coef_, coef, atol=1e-4)
    with pytest.raises(ValueError, match="labels"):
        clf.fit(X, Y[:, :5])
    with pytest.raises(ValueError, match="another kind of model"):
        clf.set_params(solver="minibatch").fit(X, Y)


def test_running_out_of_iterations_warns(multilabel_data):
    X, Y = multilabel_data
    with pytest.warns(ConvergenceWarning, match="did not converge in 2 iterations"):
        clf = ZLPRClassifier(max_iter=2, tol=1e-12).fit(X, Y)
    assert clf.n_iter_ == 2


def test_grid_search_over_C(multilabel_data):
    X, Y = multilabel_data
    search = GridSearchCV(
        ZLPRClassifier(), {"C": [0.1, 10.0]}, cv=2, scoring="f1_samples"
    ).fit(X, Y)
    assert search.best_params_["C"] in (0.1, 10.0)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_a_weight_of_two_is_a_repeated_row_at_the_default_tolerance(small):
    X, Y = small
    sw = np.ones(X.shape[0])
    sw[:20] = 2
    weighted = ZLPRClassifier().fit(X, Y, sample_weight=sw)
    repeated = ZLPRClassifier().fit(sp.vstack([X, X[:20]]), np.vstack([Y, Y[:20]]))
    assert weighted.C_ == pytest.approx(repeated.C_, rel=1e-6)
    a, b = weighted.decision_function(X), repeated.decision_function(X)
    np.testing.assert_allclose(a, b, atol=0.02 * np.abs(b).max())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_the_linear_model_on_a_gpu_is_the_cpu_one(multilabel_data):
    X, Y = multilabel_data
    cpu = ZLPRClassifier(device="cpu", tol=1e-6).fit(X, Y)
    gpu = ZLPRClassifier(device="cuda", tol=1e-6).fit(X, Y)
    assert gpu.device_.startswith("cuda")
    np.testing.assert_allclose(gpu.coef_, cpu.coef_, atol=1e-3)
    np.testing.assert_allclose(
        gpu.decision_function(X), cpu.decision_function(X), atol=1e-3
    )
