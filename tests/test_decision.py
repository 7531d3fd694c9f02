"""The one decision rule: against naive loops, and used the same way everywhere."""

import numpy as np
import pytest

from sklearn_zlpr import ZLPRClassifier
from sklearn_zlpr._decision import DecisionRule
from sklearn_zlpr.metrics import (
    example_f1_score,
    hamming_loss,
    macro_f1_score,
    micro_f1_score,
)

from .conftest import validation_rows


def _naive_decide(scores, threshold=None, top_k=None, min_labels=0, max_labels=None):
    """Row by row, label by label, straight from the rule's definition."""
    out = np.zeros(scores.shape, dtype=np.int64)
    for i, row in enumerate(scores):
        order = sorted(range(len(row)), key=lambda j: -row[j])
        if top_k is not None:
            chosen = set(order[:top_k])
        else:
            t = np.broadcast_to(threshold, row.shape)
            chosen = {j for j in range(len(row)) if row[j] > t[j]}
        for j in order:
            if len(chosen) >= min_labels:
                break
            chosen.add(j)
        if max_labels is not None and len(chosen) > max_labels:
            chosen = set([j for j in order if j in chosen][:max_labels])
        out[i, sorted(chosen)] = 1
    return out


@pytest.fixture
def scores():
    # Distinct scores: the top-k of a row is then unambiguous.
    rng = np.random.default_rng(0)
    return rng.permutation(40 * 7).reshape(40, 7) / 50.0 - 2.5


@pytest.mark.parametrize(
    "rule",
    [
        {"threshold": 0.0},
        {"threshold": 0.7},
        {"threshold": np.linspace(-1, 1, 7)},
        {"top_k": 3},
        {"top_k": 9},
        {"threshold": 1.5, "min_labels": 2},
        {"threshold": -1.0, "max_labels": 2},
        {"threshold": 0.3, "min_labels": 1, "max_labels": 3},
        {"top_k": 4, "max_labels": 2},
    ],
)
def test_decide_matches_the_naive_rule(scores, rule):
    got = DecisionRule(
        rule.get("threshold"),
        rule.get("top_k"),
        rule.get("min_labels", 0),
        rule.get("max_labels"),
    ).decide(scores)
    np.testing.assert_array_equal(got, _naive_decide(scores, **rule))


@pytest.mark.parametrize(
    "metric, fn, sign",
    [
        ("example_f1", example_f1_score, 1),
        ("micro_f1", micro_f1_score, 1),
        ("macro_f1", macro_f1_score, 1),
        ("hamming_loss", hamming_loss, -1),
        ("neg_hamming_loss", hamming_loss, -1),
    ],
)
def test_tuned_threshold_is_the_best_candidate(scores, metric, fn, sign):
    rng = np.random.default_rng(1)
    y = (scores + rng.normal(0, 1.5, scores.shape) > 0.5).astype(int)
    rule = DecisionRule(0.0, tune="auto", metric=metric, max_labels=4).tuned(scores, y)
    assert rule.tune is None and rule.max_labels == 4
    # Brute force over every distinct cut of the scores (and 0): none beats it.
    cuts = np.concatenate([np.unique(scores), [0.0]])
    best = max(
        sign * fn(y, _naive_decide(scores, threshold=t, max_labels=4)) for t in cuts
    )
    got = sign * fn(y, _naive_decide(scores, threshold=rule.threshold, max_labels=4))
    assert got == pytest.approx(best, abs=1e-12)


def test_per_label_thresholds_maximise_each_labels_f1(scores):
    rng = np.random.default_rng(2)
    y = (scores + rng.normal(0, 1.0, scores.shape) > 0.8).astype(int)
    y[:, 3] = 0  # a label without a positive keeps the global threshold
    rule = DecisionRule(0.0, tune="auto_per_label").tuned(scores, y)
    glob = DecisionRule(0.0, tune="auto").tuned(scores, y).threshold
    assert rule.threshold[3] == glob
    for j in (0, 1, 2, 4, 5, 6):
        col, truth = scores[:, j], y[:, j]

        def f1(t, col=col, truth=truth):
            pred = col > t
            tp = (pred & (truth == 1)).sum()
            return 2 * tp / (pred.sum() + truth.sum())

        best = max(f1(t) for t in np.concatenate([np.unique(col), [col.min() - 1]]))
        assert f1(rule.threshold[j]) == pytest.approx(best)


# ------------------------------------------------------------------------------
# Early stopping judges an epoch by the decision that predict makes.
FAST = {"max_epochs": 6, "random_state": 0, "device": "cpu", "lr": 0.01}


@pytest.mark.parametrize(
    "params",
    [
        {"top_k": 3},
        {"threshold": 0.7},
        {"threshold": 0.0, "min_labels": 1, "max_labels": 2},
        {"threshold": "auto"},
        {"threshold": "auto", "threshold_metric": "micro_f1"},
        {"loss": "lsep"},  # a ranking loss: top-k of the label cardinality
    ],
    ids=["top_k", "threshold", "bounds", "auto", "auto_micro", "ranking"],
)
def test_early_stopping_metric_scores_what_predict_returns(multilabel_data, params):
    X, Y = multilabel_data
    clf = ZLPRClassifier(
        early_stopping_metric="example_f1", n_iter_no_change=2, **FAST, **params
    ).fit(X, Y)
    history = clf.net_.history
    recorded = np.array(history[:, "valid_example_f1"])
    best = int(np.argmax(recorded))
    valid = validation_rows(clf, X.shape[0])
    # The restored epoch's recorded value is the example F1 of predict on the
    # validation rows, with the final (restored, tuned) decision rule.
    got = example_f1_score(Y[valid], clf.predict(X[valid]))
    assert got == pytest.approx(recorded[best], abs=1e-9)
    # And the predicted cardinality recorded is predict's.
    card = clf.predict(X[valid]).sum(1).mean()
    assert history[best, "valid_card_pred"] == pytest.approx(card)


def test_the_recorded_metric_differs_from_the_loss_rule(multilabel_data):
    """With top_k=3 the recorded F1 is not the zero threshold's (the old bug)."""
    X, Y = multilabel_data
    clf = ZLPRClassifier(top_k=3, early_stopping_metric="example_f1", **FAST)
    clf.fit(X, Y)
    valid = validation_rows(clf, X.shape[0])
    at_zero = example_f1_score(Y[valid], clf.decision_function(X[valid]) > 0)
    at_top3 = example_f1_score(Y[valid], clf.predict(X[valid]))
    assert at_zero != pytest.approx(at_top3, abs=1e-6)
    last = clf.net_.history[-1, "valid_example_f1"]
    best = max(clf.net_.history[:, "valid_example_f1"])
    assert best == pytest.approx(at_top3, abs=1e-9) or last == pytest.approx(at_top3)


def test_scorer_names_are_accepted_for_metrics(multilabel_data):
    X, Y = multilabel_data
    clf = ZLPRClassifier(
        early_stopping_metric="neg_ranking_loss",
        threshold="auto",
        threshold_metric="neg_hamming_loss",
        **FAST,
    ).fit(X, Y)
    # Recorded under the metric's own name; lower is better for the stopping.
    assert "valid_ranking_loss" in clf.net_.history[-1]
    assert not dict(clf.net_.callbacks_)["early_stopping"].lower_is_better is False
    with pytest.raises(ValueError, match="early_stopping_metric"):
        ZLPRClassifier(early_stopping_metric="neg_example_f1").fit(X, Y)
