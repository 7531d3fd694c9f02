"""Top-k ranking metrics against brute-force loops and scikit-learn."""

import math
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_multilabel_classification
from sklearn.metrics import ndcg_score
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from sklearn_zlpr import ZLPRClassifier
from sklearn_zlpr import metrics as M


def _brute_ranks(s):
    """Rank of each label: how many labels score at least as high (ties last)."""
    return [sum(1 for x in s if x >= v) for v in s]


def _brute(y, s, k, what, inv=None):
    values = []
    for yr, sr in zip(np.asarray(y).tolist(), np.asarray(s).tolist()):
        ranks = _brute_ranks(sr)
        hits = [j for j in range(len(yr)) if yr[j] and ranks[j] <= k]
        n_rel = sum(yr)
        if what == "precision":
            values.append(len(hits) / k)
        elif what == "recall":
            values.append(len(hits) / n_rel if n_rel else 0.0)
        elif what == "ndcg":
            dcg = sum(1 / math.log2(1 + ranks[j]) for j in hits)
            ideal = sum(1 / math.log2(1 + r) for r in range(1, min(k, n_rel) + 1))
            values.append(dcg / ideal if ideal else 0.0)
        elif what == "psp":
            values.append(sum(inv[j] for j in hits) / k)
        elif what == "psp_best":
            best = sorted((inv[j] for j in range(len(yr)) if yr[j]), reverse=True)
            values.append(sum(best[:k]) / k)
    return values


@pytest.fixture(scope="module")
def tied():
    rng = np.random.RandomState(0)
    y = (rng.rand(300, 12) < 0.25).astype(int)
    y[:10] = 0  # rows without labels
    s = np.round(rng.rand(300, 12) * 4) / 4  # many ties
    s[10:20] = 0.5  # whole rows tied
    return y, s


@pytest.mark.parametrize("k", [1, 2, 3, 5, 12, 20])
@pytest.mark.parametrize(
    "what, fn",
    [
        ("precision", M.precision_at_k_score),
        ("recall", M.recall_at_k_score),
        ("ndcg", M.ndcg_at_k_score),
    ],
)
def test_exact_against_brute_force_with_ties(tied, k, what, fn):
    y, s = tied
    expected = np.mean(_brute(y, s, k, what))
    assert fn(y, s, k=k) == pytest.approx(expected, abs=1e-12)
    # Sparse truth, and weights (a weight of 2 is a repeated row).
    assert fn(sp.csr_matrix(y), s, k=k) == pytest.approx(expected, abs=1e-12)
    w = np.random.RandomState(1).randint(0, 3, len(y))
    rep = np.repeat(np.arange(len(y)), w)
    assert fn(y, s, k=k, sample_weight=w) == pytest.approx(
        np.mean(_brute(y[rep], s[rep], k, what)), abs=1e-12
    )


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("normalize", [True, False])
def test_psp_against_brute_force(tied, k, normalize):
    y, s = tied
    p = np.random.RandomState(2).uniform(0.05, 1.0, y.shape[1])
    inv = 1 / p
    raw = np.mean(_brute(y, s, k, "psp", inv))
    best = np.mean(_brute(y, s, k, "psp_best", inv))
    expected = raw / best if normalize else raw
    got = M.psp_at_k_score(y, s, k=k, propensities=p, normalize=normalize)
    assert got == pytest.approx(expected, abs=1e-12)
    # Ranking by 1/p among the true labels is the best ranking: exactly 1.
    perfect = y * inv + 1e-9 * np.arange(y.shape[1])[::-1]
    if normalize:
        assert M.psp_at_k_score(y, perfect, k=k, propensities=p) == pytest.approx(1.0)


def test_label_propensities_formula():
    rng = np.random.RandomState(3)
    y = (rng.rand(500, 7) < rng.uniform(0.01, 0.6, 7)).astype(int)
    n, freq = y.shape[0], y.sum(0)
    A, B = 0.55, 1.5
    C = (math.log(n) - 1) * (B + 1) ** A
    expected = [1 / (1 + C * (f + B) ** -A) for f in freq]
    np.testing.assert_allclose(M.label_propensities(y), expected, rtol=1e-12)
    np.testing.assert_allclose(
        M.label_propensities(y, A=0.6, B=2.6),
        [1 / (1 + (math.log(n) - 1) * 3.6**0.6 * (f + 2.6) ** -0.6) for f in freq],
    )
    # y_train= computes the same propensities.
    s = rng.rand(50, 7)
    assert M.psp_at_k_score(y[:50], s, k=3, y_train=y) == M.psp_at_k_score(
        y[:50], s, k=3, propensities=M.label_propensities(y)
    )
    # Rare labels have smaller propensities.
    order = np.argsort(freq)
    assert np.all(np.diff(M.label_propensities(y)[order]) >= 0)


def test_ndcg_equals_scikit_learn_without_ties():
    rng = np.random.RandomState(4)
    y = (rng.rand(400, 30) < 0.1).astype(int)
    y[:7] = 0
    s = rng.randn(400, 30)
    for k in (1, 3, 5, 10):
        assert M.ndcg_at_k_score(y, s, k=k) == pytest.approx(
            ndcg_score(y, s, k=k), abs=1e-12
        )


def test_chunked_rows_match_one_block(tied, monkeypatch):
    y, s = tied
    whole = [M.precision_at_k_score(y, s, k=3), M.ndcg_at_k_score(y, s, k=3)]
    monkeypatch.setattr(M, "_TOP_K_CHUNK", 37)  # blocks of 3 rows
    assert [M.precision_at_k_score(y, s, k=3), M.ndcg_at_k_score(y, s, k=3)] == whole


@pytest.mark.parametrize(
    "fn", [M.precision_at_k_score, M.recall_at_k_score, M.ndcg_at_k_score]
)
def test_bad_input_is_refused_clearly(fn):
    y, s = np.array([[1, 0, 1]]), np.array([[0.1, 0.2, 0.3]])
    with pytest.raises(ValueError, match="k must be a positive integer"):
        fn(y, s, k=0)
    with pytest.raises(ValueError, match="different shapes"):
        fn(y, s[:, :2], k=1)
    with pytest.raises(ValueError, match="NaN"):
        fn(y, np.array([[np.nan, 0, 1]]), k=1)


def test_psp_needs_exactly_one_source_of_propensities():
    y, s = np.array([[1, 0, 1]]), np.array([[0.1, 0.2, 0.3]])
    with pytest.raises(ValueError, match="exactly one"):
        M.psp_at_k_score(y, s, k=1)
    with pytest.raises(ValueError, match="exactly one"):
        M.psp_at_k_score(y, s, k=1, propensities=[1, 1, 1], y_train=y)
    with pytest.raises(ValueError, match="one value per label"):
        M.psp_at_k_score(y, s, k=1, propensities=[0.5, 0.5])
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        M.psp_at_k_score(y, s, k=1, propensities=[0.5, 0, 2])


def test_scorers_are_listed_and_work_with_any_estimator():
    names = M.get_scorer_names()
    for name in (
        "precision_at_1",
        "precision_at_3",
        "precision_at_5",
        "recall_at_5",
        "ndcg_at_3",
        "ndcg_at_5",
    ):
        assert name in names
    X, Y = make_multilabel_classification(n_samples=150, n_classes=6, random_state=0)
    knn = KNeighborsClassifier().fit(X[:100], Y[:100])  # predict_proba: a list
    proba = np.column_stack([p[:, 1] for p in knn.predict_proba(X[100:])])
    scorer = M.get_scorer("precision_at_3")
    assert scorer(knn, X[100:], Y[100:]) == M.precision_at_k_score(Y[100:], proba, k=3)
    zlpr = ZLPRClassifier().fit(X[:100], Y[:100])
    assert M.get_scorer("ndcg_at_5")(zlpr, X[100:], Y[100:]) == M.ndcg_at_k_score(
        Y[100:], zlpr.decision_function(X[100:]), k=5
    )
    scores = cross_val_score(
        ZLPRClassifier(), X, Y, cv=3, scoring=M.get_scorer("precision_at_1")
    )
    assert np.all((scores > 0.5) & (scores <= 1))
    # Scorers pickle (GridSearchCV(n_jobs=...) sends them to workers).
    again = pickle.loads(pickle.dumps(scorer))
    assert again(knn, X[100:], Y[100:]) == scorer(knn, X[100:], Y[100:])
    # The report lists them.
    report = M.multilabel_report(
        Y[100:],
        zlpr.predict(X[100:]),
        zlpr.decision_function(X[100:]),
        output_dict=True,
    )
    assert report["precision_at_1"] == M.precision_at_k_score(
        Y[100:], zlpr.decision_function(X[100:]), k=1
    )


def test_psp_scorer_uses_the_training_propensities():
    X, Y = make_multilabel_classification(n_samples=120, n_classes=6, random_state=2)
    knn = KNeighborsClassifier().fit(X[:80], Y[:80])
    proba = np.column_stack([p[:, 1] for p in knn.predict_proba(X[80:])])
    scorer = M.make_psp_scorer(2, y_train=Y[:80])
    expected = M.psp_at_k_score(Y[80:], proba, k=2, y_train=Y[:80])
    assert scorer(knn, X[80:], Y[80:]) == expected
    assert pickle.loads(pickle.dumps(scorer))(knn, X[80:], Y[80:]) == expected
    raw = M.make_psp_scorer(
        2, propensities=M.label_propensities(Y[:80]), normalize=False
    )
    assert raw(knn, X[80:], Y[80:]) == M.psp_at_k_score(
        Y[80:], proba, k=2, y_train=Y[:80], normalize=False
    )
    with pytest.raises(ValueError, match="exactly one"):
        M.make_psp_scorer(2)
