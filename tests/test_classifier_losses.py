"""ZLPRClassifier with every loss: prediction rules and model selection over losses."""

import numpy as np
import pytest
from sklearn.datasets import make_multilabel_classification
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sklearn_zlpr import ZLPRClassifier
from sklearn_zlpr.losses import LOSSES, TLPRLoss

# min_labels=0: every row of these data has a label, and these tests check
# each loss's own decision rule, not the "at least one label" bound.
FAST = {
    "max_epochs": 6,
    "batch_size": 32,
    "random_state": 0,
    "device": "cpu",
    "min_labels": 0,
}


def _expit(z):
    return 1.0 / (1.0 + np.exp(-z))


@pytest.fixture(scope="module")
def texts_and_labels():
    """Texts made of word tokens drawn from a multi-label topic model."""
    X, Y = make_multilabel_classification(
        n_samples=300,
        n_features=60,
        n_classes=5,
        n_labels=2,
        length=30,
        allow_unlabeled=False,
        random_state=0,
    )
    texts = [
        " ".join(f"w{j}" for j in np.repeat(np.arange(60), row.astype(int)))
        for row in X
    ]
    return texts, Y


def test_grid_search_over_every_loss(texts_and_labels):
    texts, Y = texts_and_labels
    pipe = make_pipeline(TfidfVectorizer(), ZLPRClassifier(**FAST))
    grid = GridSearchCV(
        pipe, {"zlprclassifier__loss": list(LOSSES)}, cv=2, scoring="f1_samples"
    )
    grid.fit(texts, Y)
    scores = grid.cv_results_["mean_test_score"]
    assert len(scores) == len(LOSSES)
    assert np.isfinite(scores).all()
    # Every loss learned something: every row has labels, so predicting the
    # empty set scores 0. (DL1 learns slowly in 6 epochs, as in the paper.)
    assert (scores > 0).all(), dict(zip(LOSSES, scores.round(3)))
    assert scores[list(LOSSES).index("zlpr")] > 0.4
    assert grid.best_params_["zlprclassifier__loss"] in LOSSES
    assert grid.predict(texts[:3]).shape == (3, Y.shape[1])


@pytest.mark.parametrize(
    "loss", ["rank_hinge", "warp", "bpmll", "lsep", "lsep_sampled"]
)
def test_ranking_losses_predict_top_k_of_the_mean_cardinality(texts_and_labels, loss):
    texts, Y = texts_and_labels
    X = TfidfVectorizer().fit_transform(texts)
    clf = ZLPRClassifier(loss=loss, **FAST).fit(X, Y)
    k = round(Y.sum(1).mean())
    assert clf.threshold_ is None and clf.top_k_ == k
    pred = clf.predict(X)
    s = clf.decision_function(X)
    expected = np.zeros_like(pred)
    np.put_along_axis(expected, np.argsort(-s, axis=1)[:, :k], 1, axis=1)
    np.testing.assert_array_equal(pred, expected)
    # An explicit threshold switches them to the threshold rule.
    clf.set_params(threshold=0.3).fit(X, Y)
    assert clf.top_k_ is None
    np.testing.assert_array_equal(
        clf.predict(X), (clf.decision_function(X) > 0.3).astype(int)
    )


def test_top_k_overrides_the_threshold_rule(texts_and_labels):
    texts, Y = texts_and_labels
    X = TfidfVectorizer().fit_transform(texts)
    clf = ZLPRClassifier(top_k=3, **FAST).fit(X, Y)
    assert (clf.predict(X).sum(1) == 3).all()
    assert clf.top_k_ == 3


def test_tlpr_predicts_above_s0_with_its_link(texts_and_labels):
    texts, Y = texts_and_labels
    X = TfidfVectorizer().fit_transform(texts)
    # threshold=None: the loss's own (the default may lower it, see
    # test_cardinality_threshold.py).
    clf = ZLPRClassifier(loss=TLPRLoss(s0=0.5), threshold=None, **FAST).fit(X, Y)
    assert clf.threshold_ == 0.5
    s = clf.decision_function(X).astype(np.float64)
    np.testing.assert_array_equal(clf.predict(X), (s > 0.5).astype(int))
    np.testing.assert_allclose(clf.predict_proba(X), _expit(2 * (s - 0.5)), rtol=1e-12)


@pytest.mark.parametrize("loss", ["bce", "focal", "dice1", "dice2", "asl"])
def test_sigmoid_losses_use_zero_and_sigmoid(texts_and_labels, loss):
    texts, Y = texts_and_labels
    X = TfidfVectorizer().fit_transform(texts)
    clf = ZLPRClassifier(loss=loss, threshold=None, **FAST).fit(X, Y)
    s = clf.decision_function(X).astype(np.float64)
    assert clf.threshold_ == 0.0
    np.testing.assert_array_equal(clf.predict(X), (s > 0).astype(int))
    np.testing.assert_allclose(clf.predict_proba(X), _expit(s), rtol=1e-12)


def test_batch_level_loss_refuses_sample_weight(texts_and_labels):
    texts, Y = texts_and_labels
    X = TfidfVectorizer().fit_transform(texts)
    with pytest.raises(TypeError, match="batch-level loss"):
        ZLPRClassifier(loss="dice2", **FAST).fit(X, Y, sample_weight=np.ones(len(Y)))
    # Per-sample losses accept it.
    ZLPRClassifier(loss="warp", **FAST).fit(X, Y, sample_weight=np.ones(len(Y)))
