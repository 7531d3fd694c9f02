"""threshold="cardinality" (the default): held-out rows get their label count."""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import make_multilabel_classification

import sklearn_zlpr._linear_model as linear_model
from sklearn_zlpr import ZLPRClassifier
from sklearn_zlpr._decision import cardinality_threshold
from sklearn_zlpr._linear import LinearZLPRObjective
from sklearn_zlpr._solvers import minimize_objective


def _naive_threshold(scores, Y, weight):
    """The largest midpoint threshold whose weighted label count reaches Y's."""
    target = float(weight @ Y.sum(1))
    values = np.unique(scores)[::-1]  # descending
    for hi, lo in itertools.pairwise(values):
        t = 0.5 * (hi + lo)
        if float(weight @ (scores > t).sum(1)) >= target - 1e-9:
            return t
    return values[-1] - 1.0


@pytest.mark.parametrize("seed", range(5))
def test_cardinality_threshold_matches_a_naive_search(seed):
    rng = np.random.RandomState(seed)
    scores = rng.normal(size=(40, 7))
    Y = (rng.rand(40, 7) < 0.3).astype(int)
    weight = rng.randint(1, 4, size=40).astype(float)
    for w in (np.ones(40), weight):
        t = cardinality_threshold(scores, Y, w)
        assert t == pytest.approx(_naive_threshold(scores, Y, w))
        # The first cut whose weighted label count reaches Y's (exactly, with
        # unit weights; an entry's weight past it at most, with others).
        count, target = w @ (scores > t).sum(1), w @ Y.sum(1)
        assert target <= count < target + w.max()
    assert cardinality_threshold(scores, Y) == cardinality_threshold(
        scores, Y, np.ones(40)
    )
    unit = cardinality_threshold(scores, Y)
    assert (scores > unit).sum() == Y.sum()


def test_cardinality_threshold_weights_are_repeated_rows():
    rng = np.random.RandomState(0)
    scores, Y = rng.normal(size=(30, 5)), (rng.rand(30, 5) < 0.4).astype(int)
    weight = rng.randint(0, 3, size=30)
    repeated = np.repeat(np.arange(30), weight)
    assert cardinality_threshold(scores, Y, weight.astype(float)) == pytest.approx(
        cardinality_threshold(scores[repeated], Y[repeated])
    )


def test_cardinality_threshold_edges():
    scores = np.array([[1.0, -1.0], [0.0, 2.0]])
    assert cardinality_threshold(scores, np.zeros((2, 2))) == np.inf  # predict none
    assert cardinality_threshold(scores, np.ones((2, 2))) < scores.min()
    assert cardinality_threshold(scores, sp.csr_matrix(np.eye(2))) == 0.5


@pytest.fixture(scope="module")
def split():
    X, Y = make_multilabel_classification(
        900, n_features=60, n_classes=12, n_labels=3, random_state=0
    )
    return X[:600], Y[:600], X[600:], Y[600:]


def test_the_default_gives_unseen_rows_their_label_count(split):
    X, Y, X_test, Y_test = split
    raw = ZLPRClassifier(threshold=None).fit(X, Y)
    calibrated = ZLPRClassifier().fit(X, Y)
    assert raw.threshold_ == 0.0
    assert calibrated.threshold_ < 0.0
    np.testing.assert_array_equal(calibrated.coef_, raw.coef_)  # same model
    truth = Y_test.sum(1).mean()
    under = raw.predict(X_test).sum(1).mean()
    fixed = calibrated.predict(X_test).sum(1).mean()
    assert under < 0.9 * truth  # the loss's threshold predicts too few ...
    assert abs(fixed - truth) < 0.5 * abs(under - truth)  # ... calibrated, not


def test_the_cross_fitted_folds_are_those_of_converged_fold_models(split, monkeypatch):
    X, Y = split[:2]
    seen = {}
    original = linear_model.cross_fitted_scores

    def spy(*args):
        seen["held_out"] = original(*args)
        return seen["held_out"]

    monkeypatch.setattr(linear_model, "cross_fitted_scores", spy)
    clf = ZLPRClassifier().fit(X, Y)
    scores, held_Y, _ = seen["held_out"]
    assert clf.threshold_ == pytest.approx(
        min(0.0, cardinality_threshold(scores, held_Y))
    )
    # The documented split: a seed-0 permutation, cut in halves; each half
    # scored by a model of the other half with the same C, here converged.
    order = np.random.RandomState(0).permutation(len(X))
    halves = (order[:300], order[300:])
    reference = []
    for held, train in (halves, halves[::-1]):
        fold = ZLPRClassifier(C=clf.C_, threshold=None, tol=1e-8, max_iter=2000)
        reference.append(fold.fit(X[train], Y[train]).decision_function(X[held]))
    reference = np.vstack(reference)
    np.testing.assert_array_equal(held_Y.toarray(), Y[np.concatenate(halves)])
    # Stopped at half their starting gradient: close, not equal.
    assert np.corrcoef(scores.ravel(), reference.ravel())[0, 1] > 0.95
    converged = cardinality_threshold(reference, held_Y)
    assert abs(clf.threshold_ - converged) < 0.05 * max(1.0, abs(converged))
    # Held out matters: the training rows' own scores would say otherwise.
    in_sample = cardinality_threshold(clf.decision_function(X), Y)
    assert abs(in_sample - converged) > 5 * abs(clf.threshold_ - converged)


def test_the_network_calibrates_on_its_validation_split(split):
    X, Y, X_val, Y_val = split
    clf = ZLPRClassifier(max_epochs=3, random_state=0).fit(
        X, Y, X_val=X_val, y_val=Y_val
    )
    assert clf.solver_ == "minibatch"
    expected = min(0.0, cardinality_threshold(clf.decision_function(X_val), Y_val))
    assert clf.threshold_ == pytest.approx(expected)


def test_without_held_out_rows_the_loss_threshold_stays(split):
    X, Y = split[:2]
    params = {"max_epochs": 2, "random_state": 0}
    assert ZLPRClassifier(early_stopping=False, **params).fit(X, Y).threshold_ == 0
    assert ZLPRClassifier(**params).partial_fit(X, Y).threshold_ == 0
    tiny = ZLPRClassifier().fit(X[:12], Y[:12])  # too few rows to cross-fit
    assert tiny.threshold_ == 0.0
    # A ranking loss keeps its top-k rule, as with threshold=None.
    ranked = ZLPRClassifier(loss="rank_hinge", **params).fit(X, Y)
    assert ranked.threshold_ is None and ranked.top_k_ == round(Y.sum(1).mean())


def test_from_start_shrinks_the_starting_gradient():
    X, Y = make_multilabel_classification(200, n_features=10, random_state=0)
    full = LinearZLPRObjective(X, Y, C=1.0)
    w, _ = minimize_objective(
        full, torch.zeros(full.n_params, dtype=torch.float64), tol=1e-8
    )
    part = LinearZLPRObjective(X[:100], Y[:100], C=1.0)
    g_start = torch.linalg.vector_norm(part.value_and_gradient(w)[1])
    # Relative to the gradient at zero, the full model already passes for
    # the half's: no iteration at all ...
    _, n_iter = minimize_objective(part, w.clone(), tol=0.3)
    assert n_iter == 0
    # ... relative to where it starts, it moves towards the half's optimum.
    w_half, n_iter = minimize_objective(part, w.clone(), tol=0.3, from_start=True)
    g_end = torch.linalg.vector_norm(part.value_and_gradient(w_half)[1])
    assert n_iter > 0 and g_end <= 0.3 * g_start
