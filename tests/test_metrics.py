"""Metrics against scikit-learn and the paper's formulas written as loops."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm
from sklearn.datasets import make_multilabel_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score, cross_validate
from sklearn.multiclass import OneVsRestClassifier
from sklearn.multioutput import MultiOutputClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.tree import DecisionTreeClassifier

from sklearn_zlpr import ZLPRClassifier
from sklearn_zlpr import metrics as M


@st.composite
def multilabel_case(draw):
    n = draw(st.integers(1, 12))
    n_labels = draw(st.integers(2, 7))
    bits = st.lists(st.integers(0, 1), min_size=n * n_labels, max_size=n * n_labels)
    T = np.array(draw(bits)).reshape(n, n_labels)
    P = np.array(draw(bits)).reshape(n, n_labels)
    # Integer scores: many ties.
    scores = st.lists(st.integers(-3, 3), min_size=n * n_labels, max_size=n * n_labels)
    S = np.array(draw(scores), dtype=float).reshape(n, n_labels)
    edge = draw(st.sampled_from(["none", "empty", "full", "both"]))
    if edge in ("empty", "both"):
        T[0] = 0
        P[0] = 0
    if edge in ("full", "both"):
        T[-1] = 1
    w = None
    if draw(st.booleans()):
        w = np.array(draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)), float)
        if w.sum() == 0:
            w[0] = 1.0
    return T, P, S, w


# ------------------------------------------------------------ vs scikit-learn
@settings(max_examples=80, deadline=None)
@given(multilabel_case(), st.booleans())
def test_set_metrics_match_sklearn(case, sparse_input):
    T, P, _, w = case
    t, p = (sp.csr_matrix(T), sp.csr_matrix(P)) if sparse_input else (T, P)
    assert M.subset_accuracy_score(t, p, sample_weight=w) == pytest.approx(
        skm.accuracy_score(T, P, sample_weight=w)
    )
    for z in (0.0, 1.0):
        assert M.example_f1_score(
            t, p, sample_weight=w, zero_division=z
        ) == pytest.approx(
            skm.f1_score(T, P, average="samples", sample_weight=w, zero_division=z)
        )
        assert M.micro_f1_score(
            t, p, sample_weight=w, zero_division=z
        ) == pytest.approx(
            skm.f1_score(T, P, average="micro", sample_weight=w, zero_division=z)
        )
        assert M.macro_f1_score(
            t, p, sample_weight=w, zero_division=z
        ) == pytest.approx(
            skm.f1_score(T, P, average="macro", sample_weight=w, zero_division=z)
        )
    assert M.hamming_loss(t, p, sample_weight=w) == pytest.approx(
        skm.hamming_loss(T, P, sample_weight=w)
    )


@settings(max_examples=80, deadline=None)
@given(multilabel_case(), st.booleans())
def test_ranking_metrics_match_sklearn(case, sparse_input):
    T, _, S, w = case
    t = sp.csr_matrix(T) if sparse_input else T
    assert M.avg_precision_score(t, S, sample_weight=w) == pytest.approx(
        skm.label_ranking_average_precision_score(T, S, sample_weight=w)
    )
    assert M.ranking_loss(t, S, sample_weight=w) == pytest.approx(
        skm.label_ranking_loss(T, S, sample_weight=w)
    )
    assert M.coverage_error(t, S, sample_weight=w) == pytest.approx(
        skm.coverage_error(T, S, sample_weight=w)
    )


def test_dense_truth_takes_the_sorting_path_and_still_matches():
    rng = np.random.RandomState(0)
    T = (rng.rand(60, 300) < 0.5).astype(int)  # many relevant labels per row
    S = rng.randint(-5, 5, size=T.shape).astype(float)
    T[0], T[1] = 0, 1
    assert T.sum() > 60 * 9  # above the threshold of the comparison path
    assert M.avg_precision_score(T, S) == pytest.approx(
        skm.label_ranking_average_precision_score(T, S)
    )
    assert M.ranking_loss(T, S) == pytest.approx(skm.label_ranking_loss(T, S))


# -------------------------------------------------- vs the paper's formulas
def loop_example_f1(T, P, zero_division=1.0):  # Eq. 26
    out = []
    for t, p in zip(T, P):
        yt, yp = set(np.flatnonzero(t)), set(np.flatnonzero(p))
        out.append(
            zero_division
            if not yt and not yp
            else 2 * len(yt & yp) / (len(yt) + len(yp))
        )
    return np.mean(out)


def loop_avg_precision(T, S):  # Eq. 29
    out = []
    for t, s in zip(T, S):
        rel = np.flatnonzero(t)
        if len(rel) in (0, len(t)):
            out.append(1.0)
            continue
        vals = []
        for i in rel:
            above = [j for j in range(len(t)) if s[j] >= s[i]]
            vals.append(sum(1 for j in above if t[j]) / len(above))
        out.append(np.mean(vals))
    return np.mean(out)


def loop_ranking_loss(T, S):  # Eq. 30
    out = []
    for t, s in zip(T, S):
        pos, neg = np.flatnonzero(t), np.flatnonzero(t == 0)
        if len(pos) == 0 or len(neg) == 0:
            out.append(0.0)
            continue
        bad = sum(1 for i in pos for j in neg if s[i] <= s[j])
        out.append(bad / (len(pos) * len(neg)))
    return np.mean(out)


def loop_one_error(T, S):
    errs = [
        float(not t[np.argmax(s == s.max())] and not (t & (s == s.max())).any())
        for t, s in zip(T, S)
        if t.any()
    ]
    return np.mean(errs) if errs else 0.0


@settings(max_examples=80, deadline=None)
@given(multilabel_case())
def test_metrics_match_the_papers_formulas(case):
    T, P, S, _ = case
    assert M.subset_accuracy_score(T, P) == pytest.approx(
        np.mean((T == P).all(1))
    )  # Eq. 25
    assert M.example_f1_score(T, P) == pytest.approx(loop_example_f1(T, P))
    assert M.avg_precision_score(T, S) == pytest.approx(loop_avg_precision(T, S))
    assert M.ranking_loss(T, S) == pytest.approx(loop_ranking_loss(T, S))
    assert M.one_error(T, S) == pytest.approx(loop_one_error(T, S))


# ------------------------------------------------------------ invariances
@settings(max_examples=50, deadline=None)
@given(multilabel_case(), st.randoms(use_true_random=False))
def test_invariance_to_row_order_label_order_and_format(case, rnd):
    T, P, S, w = case
    rows = list(range(T.shape[0]))
    cols = list(range(T.shape[1]))
    rnd.shuffle(rows)
    rnd.shuffle(cols)
    wr = None if w is None else w[rows]
    for fn, second in [
        (M.subset_accuracy_score, P),
        (M.example_f1_score, P),
        (M.micro_f1_score, P),
        (M.macro_f1_score, P),
        (M.hamming_loss, P),
        (M.avg_precision_score, S),
        (M.ranking_loss, S),
        (M.coverage_error, S),
        (M.one_error, S),
    ]:
        base = fn(T, second, sample_weight=w)
        assert fn(T[rows], second[rows], sample_weight=wr) == pytest.approx(base)
        assert fn(T[:, cols], second[:, cols], sample_weight=w) == pytest.approx(base)
        sparse_second = sp.csr_matrix(second) if second is P else second
        assert fn(sp.csr_matrix(T), sparse_second, sample_weight=w) == pytest.approx(
            base
        )
        if w is None:  # unit weights equal no weights
            assert fn(T, second, sample_weight=np.ones(len(T))) == pytest.approx(base)


def test_sparse_truth_coverage_error_where_sklearn_refuses_it():
    rng = np.random.RandomState(1)
    T = sp.random(50, 400, density=0.01, random_state=rng, format="csr")
    T.data[:] = 1
    S = rng.randn(50, 400)
    with pytest.raises((TypeError, ValueError)):
        skm.coverage_error(T, S)
    assert M.coverage_error(T, S) == pytest.approx(skm.coverage_error(T.toarray(), S))


# ------------------------------------------------------------------ errors
def test_clear_errors():
    T = np.array([[1, 0], [0, 1]])
    with pytest.raises(ValueError, match="different shapes"):
        M.example_f1_score(T, np.ones((2, 3)))
    with pytest.raises(ValueError, match="different shapes"):
        M.ranking_loss(T, np.ones((3, 2)))
    with pytest.raises(ValueError, match="only 0 and 1"):
        M.subset_accuracy_score(np.array([[2, 0], [0, 1]]), T)
    with pytest.raises(ValueError, match="NaN or infinity"):
        M.avg_precision_score(T, np.array([[np.nan, 0.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="2-D"):
        M.example_f1_score([1, 0, 1], [1, 1, 1])
    with pytest.raises(ValueError, match="2-D"):
        M.coverage_error(T, np.ones(2))
    with pytest.raises(ValueError, match="MultiLabelBinarizer"):
        M.hamming_loss(np.array([["a"], ["b", "c"]], dtype=object), T)
    with pytest.raises(TypeError, match="dense"):
        M.ranking_loss(T, sp.csr_matrix(T))
    with pytest.raises(ValueError, match="sample_weight"):
        M.ranking_loss(T, T, sample_weight=[1.0])
    with pytest.raises(ValueError, match="0 samples"):
        M.example_f1_score(np.zeros((0, 2)), np.zeros((0, 2)))
    with pytest.raises(ValueError, match="Unknown scorer"):
        M.get_scorer("f1")


def test_report():
    rng = np.random.RandomState(2)
    T = (rng.rand(30, 5) < 0.3).astype(int)
    P = (rng.rand(30, 5) < 0.3).astype(int)
    S = rng.randn(30, 5)
    d = M.multilabel_report(T, P, S, output_dict=True)
    assert d["example_f1"] == M.example_f1_score(T, P)
    assert d["ranking_loss"] == M.ranking_loss(T, S)
    assert len(d) == 15
    assert d["precision_at_3"] == M.precision_at_k_score(T, S, k=3)
    text = M.multilabel_report(T, P, S)
    for title in (
        "SubACC",
        "MLC-F1",
        "Micro-F1",
        "Macro-F1",
        "AvgPrec",
        "RankLoss",
        "Coverage",
        "OneError",
        "Hamming",
        "P@1",
        "P@3",
        "P@5",
        "R@5",
        "nDCG@3",
        "nDCG@5",
    ):
        assert title in text
    assert f"{M.ranking_loss(T, S):.4f}" in text
    assert "AvgPrec" not in M.multilabel_report(T, P)  # no scores, no ranking metrics


# --------------------------------------------------------------- scorers
@pytest.fixture(scope="module")
def data():
    X, Y = make_multilabel_classification(
        n_samples=120, n_features=20, n_classes=4, random_state=0
    )
    Y[:, 3] = 0  # a label that is never positive: (n, 1) predict_proba blocks
    return X, Y


ESTIMATORS = {
    "zlpr": ZLPRClassifier(max_epochs=5, batch_size=32, random_state=0),
    "ovr_lr": OneVsRestClassifier(LogisticRegression(max_iter=500)),
    "mlp": MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0),
    "knn": KNeighborsClassifier(n_neighbors=5),
    "forest": RandomForestClassifier(n_estimators=10, random_state=0),
    "multioutput": MultiOutputClassifier(DecisionTreeClassifier(random_state=0)),
}


def _reference_scores(est, X):
    if hasattr(est, "decision_function") and not isinstance(est, MLPClassifier):
        return est.decision_function(X)
    proba = est.predict_proba(X)
    if isinstance(proba, list):
        cols = []
        for p, classes in zip(proba, est.classes_):
            cols.append(
                p[:, list(classes).index(1)] if 1 in classes else np.zeros(len(X))
            )
        return np.column_stack(cols)
    return proba


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_every_scorer_in_cross_validate_and_grid_search(data, name):
    X, Y = data
    scoring = M.make_scoring()
    assert sorted(scoring) == sorted(M.get_scorer_names())
    res = cross_validate(ESTIMATORS[name], X, Y, cv=3, scoring=scoring)
    for key in scoring:
        assert np.isfinite(res[f"test_{key}"]).all(), key
    # The scorer's value equals the metric on the right response method.
    est = ESTIMATORS[name].fit(X, Y)
    pred, scores = est.predict(X), _reference_scores(est, X)
    pred = pred.toarray() if sp.issparse(pred) else pred
    assert M.get_scorer("example_f1")(est, X, Y) == pytest.approx(
        M.example_f1_score(Y, pred)
    )
    assert M.get_scorer("neg_ranking_loss")(est, X, Y) == pytest.approx(
        -skm.label_ranking_loss(Y, scores)
    )
    assert M.get_scorer("avg_precision")(est, X, Y) == pytest.approx(
        skm.label_ranking_average_precision_score(Y, scores)
    )
    cv_scores = cross_val_score(
        ESTIMATORS[name], X, Y, cv=3, scoring=M.get_scorer("neg_coverage_error")
    )
    assert (cv_scores <= 0).all()


def test_grid_search_with_refit_on_a_named_scorer(data):
    X, Y = data
    grid = GridSearchCV(
        ZLPRClassifier(max_epochs=5, batch_size=32, random_state=0),
        {"lr": [1e-7, 1e-2]},
        scoring=M.make_scoring(["example_f1", "neg_ranking_loss", "subset_accuracy"]),
        refit="neg_ranking_loss",
        cv=3,
    ).fit(X, Y)
    assert grid.best_params_ == {"lr": 1e-2}
    for key in ("example_f1", "neg_ranking_loss", "subset_accuracy"):
        assert np.isfinite(grid.cv_results_[f"mean_test_{key}"]).all()
