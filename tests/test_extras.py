"""Training extras: soft labels, R-drop, thresholds, label-count bounds, continued training."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from skorch.callbacks import Callback

from sklearn_zlpr import ZLPRClassifier
from sklearn_zlpr.losses import (
    SoftZLPRLoss,
    bce_loss,
    rdrop_divergence,
    zlpr_loss,
)
from sklearn_zlpr.metrics import example_f1_score

from .conftest import validation_rows

FAST = {"max_epochs": 10, "batch_size": 32, "random_state": 0, "device": "cpu"}


def _one_hot_problem(n_rows=60, n_labels=3):
    """Row i has feature i % n_labels and label i % n_labels: any scores are learnable."""
    idx = np.arange(n_rows) % n_labels
    X = sp.csr_matrix(
        (np.ones(n_rows), (np.arange(n_rows), idx)), shape=(n_rows, n_labels)
    )
    Y = np.eye(n_labels, dtype=int)[idx]
    return X, Y


LINEAR = {
    "activation": "identity",
    "dropout": 0.0,
    "hidden_layer_sizes": (8,),
    "early_stopping": False,
    "lr": 0.05,
    "batch_size": 60,
    "max_epochs": 400,
    "random_state": 0,
    "device": "cpu",
}


# ----------------------------------------------------------- soft labels
def test_label_smoothing_reaches_the_soft_zlpr_optimum():
    # Soft-ZLPR's optimum is s = logit(p) / 2, i.e. sigmoid(2 s) = p (paper
    # Eq. 34-35): with smoothing e the targets are 1 - e/2 and e/2.
    X, Y = _one_hot_problem()
    clf = ZLPRClassifier(label_smoothing=0.2, **LINEAR).fit(X, Y)
    assert isinstance(clf.net_.criterion_, SoftZLPRLoss)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba[Y == 1], 0.9, atol=0.02)
    np.testing.assert_allclose(proba[Y == 0], 0.1, atol=0.02)
    np.testing.assert_array_equal(clf.predict(X), Y)
    # Without smoothing the same model goes to the extremes.
    hard = ZLPRClassifier(**LINEAR).fit(X, Y).predict_proba(X)
    assert hard[Y == 1].min() > 0.97


def test_soft_targets_with_soft_zlpr():
    X, Y = _one_hot_problem()
    P = np.where(Y == 1, 0.7, 0.2)
    clf = ZLPRClassifier(loss="soft_zlpr", **LINEAR).fit(X, P)
    np.testing.assert_allclose(clf.predict_proba(X), P, atol=0.02)
    with pytest.raises(ValueError, match="Unknown label type"):
        ZLPRClassifier(**LINEAR).fit(X, P)  # soft targets need loss="soft_zlpr"
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ZLPRClassifier(loss="soft_zlpr", **LINEAR).fit(X, P + 0.5)


def test_label_smoothing_needs_a_soft_loss(multilabel_data):
    X, Y = multilabel_data
    with pytest.raises(ValueError, match="label_smoothing needs a loss"):
        ZLPRClassifier(loss="lsep", label_smoothing=0.1, **FAST).fit(X, Y)
    clf = ZLPRClassifier(loss="bce", label_smoothing=0.1, **FAST).fit(X, Y)
    assert clf.net_.label_smoothing == 0.1


# ----------------------------------------------------------------- R-drop
def _kl_eq36(s, t):
    """KL(s, s') of paper Eq. 36 from its definition, label by label."""
    total = 0.0
    for a, b in zip(s, t):
        p, q = 1 / (1 + math.exp(-2 * a)), 1 / (1 + math.exp(-2 * b))
        total += p * (math.log(p) - math.log(q)) + (1 - p) * (
            math.log(1 - p) - math.log(1 - q)
        )
    return total


def test_rdrop_divergence_is_the_symmetric_kl_of_eq36():
    g = torch.Generator().manual_seed(0)
    s = torch.randn(5, 7, dtype=torch.float64, generator=g) * 2
    t = torch.randn(5, 7, dtype=torch.float64, generator=g) * 2
    got = rdrop_divergence(s, t, reduction="none").numpy()
    ref = [_kl_eq36(a, b) + _kl_eq36(b, a) for a, b in zip(s.tolist(), t.tolist())]
    np.testing.assert_allclose(got, ref, rtol=1e-10)
    assert rdrop_divergence(s, s).item() == 0.0


class _ForwardCounter(Callback):
    """Count the module's forward passes in training (a forward hook)."""

    def on_train_begin(self, net, **kwargs):
        self.training_calls = 0
        self._hook = net.module_.register_forward_hook(self._count)

    def _count(self, module, args, output):
        self.training_calls += module.training

    def on_train_end(self, net, **kwargs):
        self._hook.remove()


def test_rdrop_runs_two_passes_in_training_and_none_at_inference(multilabel_data):
    X, Y = multilabel_data
    counter = _ForwardCounter()
    clf = ZLPRClassifier(
        rdrop_alpha=1.0,
        max_epochs=1,
        early_stopping=False,
        random_state=0,
        callbacks=[("count", counter)],
    )
    clf.fit(X, Y)
    n_batches = int(np.ceil(X.shape[0] / clf.batch_size_))
    assert dict(clf.net_.callbacks_)["count"].training_calls == 2 * n_batches
    # Inference: dropout off, one deterministic pass.
    np.testing.assert_array_equal(clf.decision_function(X), clf.decision_function(X))
    assert not clf.net_.module_.training


def test_rdrop_makes_dropout_passes_agree(multilabel_data):
    X, Y = multilabel_data

    def disagreement(alpha):
        clf = ZLPRClassifier(rdrop_alpha=alpha, dropout=0.5, **FAST).fit(X, Y)
        net = clf.net_
        ds = __import__("sklearn_zlpr._data", fromlist=["BatchDataset"]).BatchDataset(
            X.astype(np.float32)
        )
        torch.manual_seed(1)
        a = net.forward(ds, training=True)
        b = net.forward(ds, training=True)
        return rdrop_divergence(a, b).item()

    assert disagreement(5.0) < 0.5 * disagreement(0.0)


# -------------------------------------------------------------- thresholds
def _validation_part(clf, X, Y):
    valid_idx = validation_rows(clf, X.shape[0])
    scores = clf.decision_function(X[valid_idx]).astype(np.float64)
    return scores, Y[valid_idx]


def test_threshold_auto_maximises_example_f1_on_the_validation_split(multilabel_data):
    X, Y = multilabel_data
    clf = ZLPRClassifier(threshold="auto", **FAST).fit(X, Y)
    assert isinstance(clf.threshold_, float)
    scores, truth = _validation_part(clf, X, Y)
    ours = example_f1_score(truth, (scores > clf.threshold_).astype(int))
    # Brute force over every distinct cut of the validation scores.
    values = np.unique(scores)
    cuts = np.concatenate(
        [[values[0] - 1], (values[1:] + values[:-1]) / 2, [values[-1] + 1]]
    )
    best = max(example_f1_score(truth, (scores > c).astype(int)) for c in cuts)
    assert ours >= best - 0.01  # 257 quantile candidates: within 0.01 of the best
    assert ours >= example_f1_score(truth, (scores > 0).astype(int))
    np.testing.assert_array_equal(
        clf.predict(X), (clf.decision_function(X) > clf.threshold_).astype(int)
    )


def test_threshold_auto_per_label_maximises_each_labels_f1(multilabel_data):
    X, Y = multilabel_data
    clf = ZLPRClassifier(threshold="auto_per_label", **FAST).fit(X, Y)
    assert clf.threshold_.shape == (Y.shape[1],)
    scores, truth = _validation_part(clf, X, Y)

    def f1(t, p):
        tp = (t & p).sum()
        return 2 * tp / (t.sum() + p.sum()) if t.sum() + p.sum() else 1.0

    for label in range(Y.shape[1]):
        t = truth[:, label].astype(bool)
        if not t.any():
            continue
        s = scores[:, label]
        ours = f1(t, s > clf.threshold_[label])
        best = max(f1(t, s > c) for c in np.concatenate([s - 1e-9, [s.max() + 1]]))
        assert ours == pytest.approx(best), label
    pred = clf.predict(X)
    np.testing.assert_array_equal(
        pred, (clf.decision_function(X) > clf.threshold_).astype(int)
    )


def test_min_and_max_labels(multilabel_data):
    X, Y = multilabel_data
    base = ZLPRClassifier(**FAST).fit(X, Y)
    s = base.decision_function(X)
    clf = ZLPRClassifier(min_labels=2, max_labels=3, **FAST).fit(X, Y)
    rule = (s > clf.threshold_).astype(int)  # (the same network and threshold)
    assert clf.threshold_ == base.threshold_
    pred = clf.predict(X)
    counts = pred.sum(1)
    assert counts.min() >= 2 and counts.max() <= 3
    for row in range(len(pred)):
        order = np.argsort(-s[row], kind="stable")
        if rule[row].sum() < 2:  # the two best-scored labels
            assert set(np.flatnonzero(pred[row])) == set(order[:2])
        elif rule[row].sum() > 3:  # the three best of the predicted ones
            assert set(np.flatnonzero(pred[row])) == set(order[:3])
        else:
            np.testing.assert_array_equal(pred[row], rule[row])


# ------------------------------------------------------- model selection
def test_early_stopping_on_a_validation_metric_restores_its_best_epoch(multilabel_data):
    X, Y = multilabel_data
    clf = ZLPRClassifier(
        early_stopping_metric="example_f1",
        lr=0.05,
        max_epochs=30,
        **{k: v for k, v in FAST.items() if k != "max_epochs"},
    ).fit(X, Y)
    values = np.array(clf.net_.history[:, "valid_example_f1"])
    assert len(values) == clf.n_iter_
    scores, truth = _validation_part(clf, X, Y)
    # Each epoch is judged by the labels predict would return with it: at the
    # threshold tuned on its validation scores (threshold="cardinality").
    restored = example_f1_score(truth, (scores > clf.threshold_).astype(int))
    assert restored == pytest.approx(values.max(), abs=1e-6)


def test_lr_scheduler_steps_every_optimizer(multilabel_data):
    X, Y = multilabel_data
    clf = ZLPRClassifier(
        lr_scheduler="StepLR",
        lr_scheduler_params={"step_size": 1, "gamma": 0.5},
        early_stopping=False,
        max_epochs=3,
        random_state=0,
    ).fit(X, Y)
    lrs = clf.net_.history[:, "lr"]
    np.testing.assert_allclose(lrs, [3e-3 * 0.5, 3e-3 * 0.25, 3e-3 * 0.125])
    assert clf.net_.optimizer_sparse_.param_groups[0]["lr"] == pytest.approx(
        3e-3 * 0.125
    )
    with pytest.raises(ValueError, match="lr_scheduler"):
        ZLPRClassifier(lr_scheduler="NoSuchLR", **FAST).fit(X, Y)


def test_warm_start_continues_training(multilabel_data):
    X, Y = multilabel_data
    clf = ZLPRClassifier(
        warm_start=True, early_stopping=False, max_epochs=3, random_state=0
    )
    clf.fit(X, Y)
    first = np.array(clf.net_.history[:, "train_loss"])
    clf.fit(X, Y)
    losses = np.array(clf.net_.history[:, "train_loss"])
    assert len(losses) == 6 and clf.n_iter_ == 6
    assert losses[3] < first[0]  # continued from trained weights, not from scratch
    with pytest.raises(ValueError, match="label set fixed"):
        clf.fit(X, Y[:, :5])
    cold = ZLPRClassifier(early_stopping=False, max_epochs=3, random_state=0).fit(X, Y)
    cold.fit(X, Y)
    assert len(cold.net_.history) == 3


class _StartState(Callback):
    """Record the weights and the optimizer's learning rate at training start."""

    def on_train_begin(self, net, **kwargs):
        self.weights = {
            k: v.detach().clone() for k, v in net.module_.state_dict().items()
        }
        self.lr = net.optimizer_.param_groups[0]["lr"]
        self.max_epochs = net.max_epochs


def test_warm_start_applies_changed_parameters(multilabel_data):
    """set_params(max_epochs=5, lr=0.1) then a warm fit: 5 epochs at lr 0.1."""
    X, Y = multilabel_data
    clf = ZLPRClassifier(
        warm_start=True,
        early_stopping=False,
        max_epochs=2,
        sparse_gradients=False,
        random_state=0,
        callbacks=[("start", _StartState())],
    ).fit(X, Y)
    end_of_first = {
        k: v.detach().clone() for k, v in clf.net_.module_.state_dict().items()
    }
    clf.set_params(max_epochs=5, lr=0.1).fit(X, Y)
    start = dict(clf.net_.callbacks_)["start"]
    assert start.lr == 0.1 and start.max_epochs == 5
    assert clf.net_.optimizer_.param_groups[0]["lr"] == 0.1
    assert clf.n_iter_ == 2 + 5 == len(clf.net_.history)
    # The second fit started from the first fit's final weights.
    for k, v in end_of_first.items():
        torch.testing.assert_close(start.weights[k], v, rtol=0, atol=0)
    # An architecture change cannot warm-start: a clear error.
    with pytest.raises(ValueError, match="warm_start=True continues"):
        clf.set_params(hidden_layer_sizes=(7,)).fit(X, Y)


def test_warm_start_takes_a_new_loss_and_threshold(multilabel_data):
    X, Y = multilabel_data
    clf = ZLPRClassifier(warm_start=True, max_epochs=2, random_state=0).fit(X, Y)
    assert clf.threshold_ < 0.0  # threshold="cardinality", on the validation split
    clf.set_params(loss="tlpr", threshold=0.25, early_stopping=False).fit(X, Y)
    assert clf.threshold_ == 0.25
    assert type(clf.net_.criterion_).__name__ == "TLPRLoss"
    assert "valid_loss" not in clf.net_.history[-1]  # early stopping now off


def test_partial_fit(multilabel_data):
    X, Y = multilabel_data
    clf = ZLPRClassifier(random_state=0, batch_size=32)
    for _ in range(5):
        clf.partial_fit(X[:300], Y[:300])
    losses = np.array(clf.net_.history[:, "train_loss"])
    assert len(losses) == 5 and losses[-1] < losses[0]
    clf.partial_fit(X[300:], Y[300:])  # new data, same labels
    assert clf.n_iter_ == 6
    with pytest.raises(ValueError, match="label set fixed"):
        clf.partial_fit(X, Y[:, :3])
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :50], Y)
    # 1-D targets: the classes of the first call are fixed.
    y = np.array(["a", "b", "c"])[Y[:, :3].argmax(1)]
    clf1 = ZLPRClassifier(random_state=0).partial_fit(
        X[:50], y[:50], classes=["a", "b", "c", "d"]
    )
    np.testing.assert_array_equal(clf1.classes_, ["a", "b", "c", "d"])
    with pytest.raises(ValueError, match="not in classes"):
        ZLPRClassifier().partial_fit(X[:10], y[:10], classes=["a"])


# ----------------------------------------------------------------- weights
def test_label_weights_enter_the_loss_as_in_the_formula():
    g = torch.Generator().manual_seed(0)
    s = torch.randn(4, 5, dtype=torch.float64, generator=g)
    y = (torch.rand(4, 5, generator=g) > 0.5).double()
    w = torch.tensor([0.5, 2.0, 1.0, 3.0, 0.1], dtype=torch.float64)
    ref = []
    for row, t in zip(s.tolist(), y.tolist()):
        pos = sum(wi * math.exp(-v) for v, ti, wi in zip(row, t, w.tolist()) if ti)
        neg = sum(wi * math.exp(v) for v, ti, wi in zip(row, t, w.tolist()) if not ti)
        ref.append(math.log1p(pos) + math.log1p(neg))
    np.testing.assert_allclose(
        zlpr_loss(s, y, "none", label_weight=w).numpy(), ref, rtol=1e-10
    )
    torch.testing.assert_close(
        bce_loss(s, y, "none", label_weight=w),
        torch.nn.functional.binary_cross_entropy_with_logits(
            s, y, weight=w, reduction="none"
        ).sum(1),
    )


def test_label_weights_in_the_classifier(multilabel_data):
    X, Y = multilabel_data
    w = np.ones(Y.shape[1])
    w[0] = 1e-4  # label 0 barely counts: its score is hardly trained
    clf = ZLPRClassifier(label_weights=w, lr=0.02, **FAST).fit(X, Y)
    np.testing.assert_allclose(clf.net_.criterion_.label_weight.numpy(), w, rtol=1e-6)
    spread = clf.decision_function(X).std(0)
    assert spread[0] < 0.5 * np.median(spread[1:])
    with pytest.raises(ValueError, match="label_weights must be"):
        ZLPRClassifier(label_weights=[1.0, 2.0], **FAST).fit(X, Y)
    with pytest.raises(ValueError, match="does not support label_weights"):
        ZLPRClassifier(loss="warp", label_weights=np.ones(Y.shape[1]), **FAST).fit(X, Y)


# ------------------------------------------------------------- diagnostics
def test_epoch_diagnostics_in_history(multilabel_data):
    X, Y = multilabel_data
    clf = ZLPRClassifier(
        lr=0.02, max_epochs=8, n_iter_no_change=8, batch_size=32, random_state=0
    ).fit(X, Y)
    h = clf.net_.history
    for key in (
        "train_margin",
        "valid_margin",
        "train_card_pred",
        "train_card_true",
        "valid_card_pred",
        "valid_card_true",
    ):
        assert all(np.isfinite(h[:, key])), key
    valid_idx = validation_rows(clf, X.shape[0])
    assert h[-1, "valid_card_true"] == pytest.approx(Y[valid_idx].sum(1).mean())
    margins = h[:, "train_margin"]
    assert margins[-1] > margins[0]  # training separates positives from negatives


def test_verbose_shows_a_progress_bar(multilabel_data, capsys):
    X, Y = multilabel_data
    ZLPRClassifier(verbose=1, max_epochs=1, random_state=0).fit(X, Y)
    captured = capsys.readouterr()
    assert "it/s" in captured.err or "batch" in captured.err or "%" in captured.err
