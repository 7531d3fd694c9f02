"""TunedMultilabelThresholds against a brute-force search on out-of-fold scores."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import GridSearchCV, KFold, ShuffleSplit
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier

from sklearn_zlpr import ZLPRClassifier
from sklearn_zlpr.metrics import (
    example_f1_score,
    macro_f1_score,
    micro_f1_score,
)
from sklearn_zlpr.model_selection import (
    MultilabelStratifiedKFold,
    TunedMultilabelThresholds,
)


@pytest.fixture(scope="module")
def data():
    X, Y = make_multilabel_classification(
        n_samples=90, n_features=12, n_classes=4, random_state=0
    )
    return X, Y


def _oof(estimator, X, Y, cv):
    scores = np.empty(Y.shape)
    for train, test in cv.split(X, Y):
        fitted = clone(estimator).fit(X[train], Y[train])
        scores[test] = fitted.decision_function(X[test])
    return scores


def _f1(y, p):
    tp = (y & p).sum()
    return 2 * tp / (y.sum() + p.sum()) if y.sum() + p.sum() else 0.0


@pytest.mark.parametrize(
    "scoring, metric",
    [
        ("example_f1", example_f1_score),
        ("micro_f1", micro_f1_score),
        ("macro_f1", macro_f1_score),
    ],
)
def test_global_threshold_is_the_brute_force_best(data, scoring, metric):
    X, Y = data
    est = OneVsRestClassifier(LogisticRegression(max_iter=1000))
    cv = MultilabelStratifiedKFold(3)
    oof = _oof(est, X, Y, cv)
    # Every distinct decision: a threshold below each distinct score, and above all.
    cuts = np.concatenate([np.unique(oof), [oof.max() + 1.0]]) - 1e-9
    best = max(metric(Y, (oof > t).astype(int)) for t in cuts)
    tuned = TunedMultilabelThresholds(est, scoring=scoring, cv=cv, min_labels=0)
    tuned.fit(X, Y)
    assert tuned.best_score_ == pytest.approx(best, abs=1e-12)
    assert metric(Y, (oof > tuned.best_threshold_).astype(int)) == pytest.approx(best)
    # The untuned score is the estimator's own out-of-fold predict (s > 0).
    assert tuned.untuned_score_ == pytest.approx(metric(Y, (oof > 0).astype(int)))
    assert tuned.best_score_ >= tuned.untuned_score_
    # predict uses the threshold on the refitted estimator's scores.
    refit = clone(est).fit(X, Y)
    np.testing.assert_array_equal(
        tuned.predict(X),
        (refit.decision_function(X) > tuned.best_threshold_).astype(int),
    )


def test_per_label_thresholds_are_each_labels_best_f1(data):
    X, Y = data
    est = OneVsRestClassifier(LogisticRegression(max_iter=1000))
    cv = MultilabelStratifiedKFold(3)
    oof = _oof(est, X, Y, cv)
    tuned = TunedMultilabelThresholds(
        est, per_label=True, scoring="macro_f1", cv=cv
    ).fit(X, Y)
    assert tuned.best_threshold_.shape == (Y.shape[1],)
    for j in range(Y.shape[1]):
        cuts = np.concatenate([np.unique(oof[:, j]), [oof[:, j].max() + 1]]) - 1e-9
        best = max(_f1(Y[:, j] == 1, oof[:, j] > t) for t in cuts)
        got = _f1(Y[:, j] == 1, oof[:, j] > tuned.best_threshold_[j])
        assert got == pytest.approx(best, abs=1e-12), j
    # Per-label thresholds maximise macro F1 exactly.
    assert tuned.best_score_ == pytest.approx(
        np.mean(
            [
                max(
                    _f1(Y[:, j] == 1, oof[:, j] > t)
                    for t in np.concatenate(
                        [np.unique(oof[:, j]), [oof[:, j].max() + 1]]
                    )
                    - 1e-9
                )
                for j in range(Y.shape[1])
            ]
        )
    )


def test_min_labels_auto_follows_the_training_rows_and_never_loses_to_zlpr():
    X, Y = make_multilabel_classification(
        n_samples=120, n_classes=6, allow_unlabeled=False, random_state=1
    )
    cv = MultilabelStratifiedKFold(3)
    tuned = TunedMultilabelThresholds(ZLPRClassifier(), cv=cv).fit(X, Y)
    assert tuned.min_labels_ == 1  # every training row has a label
    assert tuned.predict(X).sum(1).min() >= 1
    # ZLPR predicts s > 0 with at least one label: a candidate of the search,
    # so the tuned out-of-fold score is at least its own.
    assert tuned.best_score_ >= tuned.untuned_score_
    oof_pred = np.empty_like(Y)
    for train, test in cv.split(X, Y):
        oof_pred[test] = ZLPRClassifier().fit(X[train], Y[train]).predict(X[test])
    assert tuned.untuned_score_ == pytest.approx(example_f1_score(Y, oof_pred))
    Y0 = Y.copy()
    Y0[:5] = 0
    assert TunedMultilabelThresholds(ZLPRClassifier(), cv=3).fit(X, Y0).min_labels_ == 0
    with pytest.raises(ValueError, match="min_labels"):
        TunedMultilabelThresholds(ZLPRClassifier(), min_labels=-1).fit(X, Y)


def test_explicit_candidate_thresholds(data):
    X, Y = data
    est = OneVsRestClassifier(LogisticRegression(max_iter=1000))
    tuned = TunedMultilabelThresholds(est, thresholds=[-0.5, 0.25], cv=3).fit(X, Y)
    assert tuned.best_threshold_ in (-0.5, 0.25)


@pytest.mark.parametrize(
    "estimator",
    [
        ZLPRClassifier(),
        OneVsRestClassifier(LogisticRegression(max_iter=1000)),
        MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0),
        KNeighborsClassifier(),
    ],
    ids=["zlpr", "ovr-lr", "mlp", "knn"],
)
def test_any_multilabel_classifier(data, estimator):
    X, Y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        tuned = TunedMultilabelThresholds(estimator, cv=3).fit(X, Y)
    pred = tuned.predict(X)
    assert pred.shape == Y.shape and set(np.unique(pred)) <= {0, 1}
    assert 0 < tuned.best_score_ <= 1
    assert tuned.n_labels_ == Y.shape[1]
    # On probabilities the threshold is below 1 (else nothing is predicted).
    if not hasattr(estimator, "decision_function"):
        assert tuned.best_threshold_ < 1
    # It pickles, clones, and predicts the same after a round trip.
    again = pickle.loads(pickle.dumps(tuned))
    np.testing.assert_array_equal(again.predict(X), pred)
    assert clone(tuned).get_params()["cv"] == 3


@pytest.mark.filterwarnings("error:Scoring failed:UserWarning")
def test_in_a_grid_search(data):
    X, Y = data
    search = GridSearchCV(
        TunedMultilabelThresholds(
            OneVsRestClassifier(LogisticRegression(max_iter=1000)), cv=3
        ),
        {"estimator__estimator__C": [0.1, 1.0]},
        cv=KFold(3),
        scoring="f1_samples",
    ).fit(X, Y)
    assert search.best_params_["estimator__estimator__C"] in (0.1, 1.0)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    # The same score as scoring the tuned estimator by hand on the first fold.
    train, test = next(KFold(3).split(X))
    tuned = clone(search.estimator).set_params(estimator__estimator__C=0.1)
    tuned.fit(X[train], Y[train])
    assert search.cv_results_["split0_test_score"][0] == pytest.approx(
        f1_score(Y[test], tuned.predict(X[test]), average="samples")
    )


def test_bad_input_is_refused_clearly(data):
    X, Y = data
    est = OneVsRestClassifier(LogisticRegression())
    with pytest.raises(ValueError, match="scoring='ranking_loss' is not a known"):
        TunedMultilabelThresholds(est, scoring="ranking_loss").fit(X, Y)
    with pytest.raises(TypeError, match="neither decision_function nor predict_proba"):
        TunedMultilabelThresholds(_NoScores()).fit(X, Y)
    with pytest.raises(ValueError, match="exactly one test fold"):
        TunedMultilabelThresholds(
            est, cv=ShuffleSplit(2, test_size=0.3, random_state=0)
        ).fit(X, Y)
    with pytest.raises(ValueError, match="2-D label indicator"):
        TunedMultilabelThresholds(est).fit(X, Y[:, 0])
    with pytest.raises(ValueError, match="thresholds must be at least 1"):
        TunedMultilabelThresholds(est, thresholds=0, cv=3).fit(X, Y)


class _NoScores:
    def fit(self, X, y):
        return self

    def predict(self, X):
        return np.zeros((len(X), 4), dtype=int)

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self
