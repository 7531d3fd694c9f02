"""MultilabelStratifiedKFold / ShuffleSplit against a naive reference and KFold."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_multilabel_classification
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    cross_val_score,
    cross_validate,
)

from sklearn_zlpr import ZLPRClassifier
from sklearn_zlpr.datasets import load_goemotions_sample
from sklearn_zlpr.metrics import example_f1_score, get_scorer, make_scoring
from sklearn_zlpr.model_selection import (
    MultilabelStratifiedKFold,
    MultilabelStratifiedShuffleSplit,
    iterative_stratification,
)


def _naive_iterative_stratification(Y, capacities):
    """Sechidis et al. (2011), Algorithm 1, written plainly (no randomness).

    With fold capacities, ties as documented: the fold wanting the label most,
    then the most room left, then the lowest fold index; label ties to the
    lowest label index; unlabelled rows round-robin over the room left.
    """
    Y = np.asarray(Y)
    n, _ = Y.shape
    caps = np.asarray(capacities)
    k = len(caps)
    wants = Y.sum(0)[:, None] * (caps[None, :] / n)
    room = caps.copy()
    fold = np.full(n, -1)
    while True:
        todo = fold < 0
        counts = Y[todo].sum(0)
        if counts.max() == 0:
            break
        label = min(np.flatnonzero(counts > 0), key=lambda j: (counts[j], j))
        for r in np.flatnonzero(todo & (Y[:, label] == 1)):
            best = max(
                (f for f in range(k) if room[f] > 0),
                key=lambda f: (wants[label, f], room[f], -f),
            )
            fold[r] = best
            room[best] -= 1
            wants[Y[r] == 1, best] -= 1.0
    empty = list(np.flatnonzero(fold < 0))
    round_ = 0
    while empty:
        for f in range(k):
            if room[f] > round_ and empty:
                fold[empty.pop(0)] = f
        round_ += 1
    return fold


@pytest.fixture(scope="module")
def generated():
    X, Y = make_multilabel_classification(
        n_samples=600, n_features=20, n_classes=25, n_labels=3, random_state=0
    )
    Y[:40] = 0  # some rows without labels
    Y[40:43, 24] = 1  # a very rare label
    Y[43:, 24] = 0
    return X, Y


@pytest.fixture(scope="module")
def real():
    data = load_goemotions_sample("train")
    Y = data.target.toarray()
    return np.zeros((Y.shape[0], 1)), Y


def _proportion_deviation(Y, splits):
    """Mean over labels of the largest |share in a test fold - overall share|."""
    overall = Y.mean(0)
    worst = np.zeros(Y.shape[1])
    for _, test in splits:
        worst = np.maximum(worst, np.abs(Y[test].mean(0) - overall))
    return float(worst.mean())


def test_same_folds_as_the_naive_algorithm(generated):
    _, Y = generated
    for caps in ([120] * 5, [200, 200, 200], [61, 60, 60, 60, 60, 60, 60, 60, 60, 59]):
        ours = iterative_stratification(Y, caps)
        np.testing.assert_array_equal(ours, _naive_iterative_stratification(Y, caps))
        np.testing.assert_array_equal(np.bincount(ours, minlength=len(caps)), caps)


@pytest.mark.parametrize("data", ["generated", "real"])
@pytest.mark.parametrize("n_splits", [3, 5])
@pytest.mark.parametrize("shuffle", [False, True])
def test_fold_properties(data, n_splits, shuffle, request):
    X, Y = request.getfixturevalue(data)
    n = Y.shape[0]
    cv = MultilabelStratifiedKFold(
        n_splits, shuffle=shuffle, random_state=0 if shuffle else None
    )
    splits = list(cv.split(X, Y))
    assert len(splits) == cv.get_n_splits() == n_splits
    seen = np.zeros(n, dtype=int)
    for train, test in splits:
        seen[test] += 1
        np.testing.assert_array_equal(
            np.sort(np.concatenate([train, test])), np.arange(n)
        )
    assert np.all(seen == 1)  # every row in exactly one test fold
    sizes = [len(test) for _, test in splits]
    assert max(sizes) - min(sizes) <= 1
    counts = Y.sum(0)
    for j in np.flatnonzero(counts >= n_splits):
        assert all(Y[test, j].sum() > 0 for _, test in splits), f"label {j}"
    # The rarest label (placed first) is within 1 of its ideal count per fold.
    rare = np.flatnonzero(counts > 0)[np.argmin(counts[counts > 0])]
    for _, test in splits:
        assert abs(Y[test, rare].sum() - counts[rare] * len(test) / n) < 1
    # Better stratified than KFold, by a wide margin.
    kfold = list(KFold(n_splits, shuffle=True, random_state=0).split(X))
    assert _proportion_deviation(Y, splits) < 0.5 * _proportion_deviation(Y, kfold)


def test_per_label_counts_near_the_ideal(real):
    X, Y = real
    splits = list(MultilabelStratifiedKFold(5).split(X, Y))
    counts = Y.sum(0)
    dev = np.array(
        [
            [Y[t, j].sum() - counts[j] * len(t) / len(Y) for _, t in splits]
            for j in range(Y.shape[1])
        ]
    )
    kfold = list(KFold(5, shuffle=True, random_state=0).split(X))
    dev_k = np.array(
        [
            [Y[t, j].sum() - counts[j] * len(t) / len(Y) for _, t in kfold]
            for j in range(Y.shape[1])
        ]
    )
    # Most labels within one row of the ideal, far fewer with KFold.
    within = (np.abs(dev) < 1).all(1).mean()
    assert within >= 0.8
    assert within > (np.abs(dev_k) < 1).all(1).mean() + 0.3


def test_random_state_reproducible_and_shuffle_changes_folds(generated):
    X, Y = generated

    def folds(cv):
        out = np.empty(len(Y), dtype=int)
        for f, (_, test) in enumerate(cv.split(X, Y)):
            out[test] = f
        return out

    a = folds(MultilabelStratifiedKFold(5, shuffle=True, random_state=3))
    b = folds(MultilabelStratifiedKFold(5, shuffle=True, random_state=3))
    c = folds(MultilabelStratifiedKFold(5, shuffle=True, random_state=4))
    d = folds(MultilabelStratifiedKFold(5))
    np.testing.assert_array_equal(a, b)
    assert (a != c).any() and (a != d).any()
    np.testing.assert_array_equal(d, folds(MultilabelStratifiedKFold(5)))


def test_sparse_and_dense_y_give_the_same_folds(generated):
    X, Y = generated
    cv = MultilabelStratifiedKFold(4, shuffle=True, random_state=1)
    for (tr1, te1), (tr2, te2) in zip(cv.split(X, Y), cv.split(X, sp.csr_matrix(Y))):
        np.testing.assert_array_equal(te1, te2)


@pytest.mark.parametrize(
    "y, match",
    [
        (np.arange(10) % 2, "2-D label indicator"),
        (None, "y is required"),
        (np.full((10, 3), 2), "binary"),
        (np.array([["a", "b"]] * 10), "0/1 numbers"),
    ],
)
def test_bad_y_is_refused_clearly(y, match):
    cv = MultilabelStratifiedKFold(2)
    with pytest.raises((ValueError, TypeError), match=match):
        list(cv.split(np.zeros((10, 1)), y))


def test_bad_parameters_are_refused_clearly(generated):
    X, Y = generated
    with pytest.raises(ValueError, match="random_state has no effect"):
        list(MultilabelStratifiedKFold(3, random_state=0).split(X, Y))
    with pytest.raises(ValueError, match="at least 2"):
        list(MultilabelStratifiedKFold(1).split(X, Y))
    with pytest.raises(ValueError, match="greater than the number of samples"):
        list(MultilabelStratifiedKFold(7).split(X[:5], Y[:5]))
    with pytest.raises(ValueError, match="rows but y has"):
        list(MultilabelStratifiedKFold(3).split(X[:50], Y))
    with pytest.raises(ValueError, match="sum to"):
        iterative_stratification(Y, [10, 10])


def test_shuffle_split_sizes_and_stratification(generated):
    X, Y = generated
    cv = MultilabelStratifiedShuffleSplit(n_splits=4, test_size=0.25, random_state=0)
    splits = list(cv.split(X, Y))
    assert len(splits) == 4
    for train, test in splits:
        assert len(test) == 150 and len(train) == 450
        assert not np.intersect1d(train, test).size
    assert _proportion_deviation(Y, splits) < 0.5 * _proportion_deviation(
        Y,
        [
            (None, t)
            for t in (np.random.RandomState(i).permutation(600)[:150] for i in range(4))
        ],
    )
    assert not np.array_equal(splits[0][1], splits[1][1])
    again = list(cv.split(X, Y))
    for (a, b), (c, d) in zip(splits, again):
        np.testing.assert_array_equal(b, d)
    # A train_size leaving rows out: those rows are in neither part.
    part = list(
        MultilabelStratifiedShuffleSplit(
            1, test_size=100, train_size=300, random_state=0
        ).split(X, Y)
    )
    assert len(part[0][0]) == 300 and len(part[0][1]) == 100
    with pytest.raises(ValueError, match="exceed"):
        list(
            MultilabelStratifiedShuffleSplit(1, test_size=0.6, train_size=0.6).split(
                X, Y
            )
        )


def test_as_cv_in_scikit_learn_model_selection(generated):
    X, Y = generated
    X, Y = X[:300], Y[:300]
    cv = MultilabelStratifiedKFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(
        ZLPRClassifier(), X, Y, cv=cv, scoring=get_scorer("example_f1")
    )
    assert scores.shape == (3,)
    # Each fold beats predicting the training part's most frequent label.
    for score, (train, test) in zip(scores, cv.split(X, Y)):
        constant = np.zeros_like(Y[test])
        constant[:, Y[train].sum(0).argmax()] = 1
        assert example_f1_score(Y[test], constant) + 0.05 < score <= 1
    res = cross_validate(
        ZLPRClassifier(),
        X,
        Y,
        cv=cv,
        scoring=make_scoring(["micro_f1", "precision_at_1"]),
    )
    assert res["test_precision_at_1"].shape == (3,)
    search = GridSearchCV(
        ZLPRClassifier(), {"C": [0.1, 1.0]}, cv=cv, scoring=get_scorer("macro_f1")
    ).fit(X, Y)
    assert search.best_params_["C"] in (0.1, 1.0)
    # The search saw the stratified folds: the same test folds as cv.split.
    expected = [test for _, test in cv.split(X, Y)]
    for f, test in enumerate(expected):
        est = ZLPRClassifier(C=search.best_params_["C"]).fit(
            np.delete(X, test, 0), np.delete(Y, test, 0)
        )
        score = get_scorer("macro_f1")(est, X[test], Y[test])
        assert score == pytest.approx(
            search.cv_results_[f"split{f}_test_score"][search.best_index_]
        )


def test_repr_and_clone_like_scikit_learn():
    cv = MultilabelStratifiedKFold(n_splits=4, shuffle=True, random_state=2)
    assert (
        repr(cv)
        == "MultilabelStratifiedKFold(n_splits=4, random_state=2, shuffle=True)"
    )
