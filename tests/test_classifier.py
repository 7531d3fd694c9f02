"""ZLPRClassifier: output contract, determinism, persistence, errors, sparsity."""

import gzip
import json
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score, label_ranking_loss, make_scorer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MultiLabelBinarizer
from sklearn.utils import get_tags
from skorch.callbacks import Callback

from sklearn_zlpr import ZLPRClassifier
from sklearn_zlpr.losses import ZLPRLoss, zlpr_loss

from .conftest import DATASETS, validation_rows

FAST = {"max_epochs": 10, "batch_size": 32, "random_state": 0, "device": "cpu"}


def _expit(z):
    return 1.0 / (1.0 + np.exp(-z))


@pytest.fixture(scope="module")
def fitted(multilabel_data):
    X, Y = multilabel_data
    return ZLPRClassifier(**FAST).fit(X[:500], Y[:500])


def test_tags_declare_multilabel_and_sparse_input():
    tags = get_tags(ZLPRClassifier())
    assert tags.classifier_tags.multi_label
    assert tags.input_tags.sparse
    assert tags.estimator_type == "classifier"


# ---------------------------------------------------------------- contract
def test_output_contract(fitted, multilabel_data):
    X, Y = multilabel_data
    Xt = X[500:]
    s = fitted.decision_function(Xt)
    assert s.shape == (100, Y.shape[1]) and s.dtype.kind == "f"
    pred = fitted.predict(Xt)
    assert pred.shape == s.shape and pred.dtype.kind == "i"
    # threshold="cardinality": at most the loss's 0, from the validation split.
    assert fitted.threshold_ <= 0.0
    np.testing.assert_array_equal(pred, (s > fitted.threshold_).astype(int))
    proba = fitted.predict_proba(Xt)
    assert proba.dtype == np.float64
    assert ((proba > 0) & (proba < 1)).all()
    # ZLPR's link is sigmoid(2 s) (paper Eq. 35).
    np.testing.assert_allclose(proba, _expit(2.0 * s.astype(np.float64)), rtol=1e-12)
    np.testing.assert_array_equal(fitted.classes_, np.arange(Y.shape[1]))
    assert fitted.n_features_in_ == X.shape[1]
    assert fitted.device_ == "cpu"
    # It learned something: better than predicting every row's labels empty.
    assert f1_score(Y[500:], pred, average="samples", zero_division=1.0) > f1_score(
        Y[500:], np.zeros_like(pred), average="samples", zero_division=1.0
    )


def test_bce_uses_plain_sigmoid(multilabel_data):
    X, Y = multilabel_data
    clf = ZLPRClassifier(loss="bce", **FAST).fit(X, Y)
    s = clf.decision_function(X[:50]).astype(np.float64)
    np.testing.assert_allclose(clf.predict_proba(X[:50]), _expit(s), rtol=1e-12)


def test_predict_proba_strictly_inside_unit_interval(fitted, multilabel_data):
    X, _ = multilabel_data
    # Scale the input so that the scores become huge: the probabilities must
    # still stay strictly inside (0, 1).
    proba = fitted.predict_proba(X[:20] * 1e4)
    assert np.abs(fitted.decision_function(X[:20] * 1e4)).max() > 100
    assert ((proba > 0) & (proba < 1)).all()


def test_threshold(multilabel_data):
    X, Y = multilabel_data
    clf = ZLPRClassifier(threshold=0.7, **FAST).fit(X, Y)
    s = clf.decision_function(X)
    np.testing.assert_array_equal(clf.predict(X), (s > 0.7).astype(int))


def test_sparse_and_dense_input_give_the_same_model(multilabel_data):
    X, Y = multilabel_data
    X, Y = X[:300], Y[:300]
    # SGD: the same optimizer on both paths (with Adam the sparse path updates
    # its embedding table lazily, see the next test).
    params = {
        "max_epochs": 3,
        "optimizer": "sgd",
        "lr": 0.5,
        "random_state": 0,
        "device": "cpu",
    }
    s_csr = ZLPRClassifier(**params).fit(X, Y).decision_function(X)
    s_dense = (
        ZLPRClassifier(**params).fit(X.toarray(), Y).decision_function(X.toarray())
    )
    s_csc = ZLPRClassifier(**params).fit(X.tocsc(), Y).decision_function(X.tocoo())
    # EmbeddingBag(sum, per_sample_weights) over CSR equals X @ W.
    np.testing.assert_allclose(s_csr, s_dense, atol=1e-4)
    np.testing.assert_array_equal(s_csr, s_csc)


def test_lazy_adam_equals_adam_when_every_feature_is_in_every_batch(multilabel_data):
    X, Y = multilabel_data
    # No zero entries and one batch per epoch: every embedding row is updated
    # at every step, where lazy Adam (SparseAdam) and Adam coincide.
    Xfull = sp.csr_matrix(X[:200].toarray() + 0.01)
    # (SparseAdam adds eps before the bias correction, Adam after it: a tiny
    # eps makes that difference vanish.)
    params = {
        "max_epochs": 5,
        "batch_size": 200,
        "early_stopping": False,
        "dropout": 0.0,
        "random_state": 0,
        "device": "cpu",
        "net_params": {"optimizer__eps": 1e-15},
    }
    sparse_clf = ZLPRClassifier(**params).fit(Xfull, Y[:200])
    assert isinstance(sparse_clf.net_.optimizer_sparse_, torch.optim.SparseAdam)
    assert sparse_clf.net_.module_.embedding.sparse
    dense_clf = ZLPRClassifier(**params).fit(Xfull.toarray(), Y[:200])
    np.testing.assert_allclose(
        sparse_clf.decision_function(Xfull),
        dense_clf.decision_function(Xfull.toarray()),
        atol=1e-4,
    )
    # Rows of features absent from every batch are never touched.
    X_gap = X[:200].tolil()
    X_gap[:, 5] = 0
    X_gap = X_gap.tocsr()
    X_gap.eliminate_zeros()
    # (warm_start keeps a table row for every column, seen or not.)
    clf = ZLPRClassifier(
        max_epochs=2, early_stopping=False, warm_start=True, random_state=0
    )
    clf.fit(X_gap, Y[:200])
    untouched = clf.net_.module_.embedding.weight[5].detach()
    touched = clf.net_.module_.embedding.weight[6].detach()
    ref = ZLPRClassifier(early_stopping=False, warm_start=True, random_state=0)
    ref.set_params(net_params={"max_epochs": 0}).fit(X_gap, Y[:200])  # initial weights
    assert not torch.equal(touched, ref.net_.module_.embedding.weight[6].detach())
    torch.testing.assert_close(untouched, ref.net_.module_.embedding.weight[5].detach())


def test_sparse_target_equals_dense_target(multilabel_data):
    X, Y = multilabel_data
    a = ZLPRClassifier(**FAST).fit(X, Y).decision_function(X)
    b = ZLPRClassifier(**FAST).fit(X, sp.csr_matrix(Y)).decision_function(X)
    np.testing.assert_array_equal(a, b)


def test_rows_without_labels(multilabel_data):
    X, Y = multilabel_data
    Y = Y.copy()
    Y[: int(0.8 * len(Y))] = 0  # most rows have no positive label
    clf = ZLPRClassifier(**FAST).fit(X, Y)
    pred = clf.predict(X)
    assert (pred.sum(1) == 0).mean() > 0.5


def test_multiclass_1d_targets(multilabel_data):
    X, Y = multilabel_data
    names = np.array(["ant", "bee", "cat"])
    y = names[np.argmax(Y[:, :3] + 0.1 * np.arange(3), axis=1)]
    clf = ZLPRClassifier(**FAST).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, names)
    pred = clf.predict(X)
    assert pred.shape == (X.shape[0],) and set(pred) <= set(names)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    s = clf.decision_function(X)
    np.testing.assert_array_equal(names[s.argmax(1)], pred)
    np.testing.assert_array_equal(names[proba.argmax(1)], pred)


def test_binary_1d_targets(multilabel_data):
    X, Y = multilabel_data
    y = Y[:, 0]
    clf = ZLPRClassifier(**FAST).fit(X, y)
    d = clf.decision_function(X)
    assert d.shape == (X.shape[0],)
    np.testing.assert_array_equal(clf.predict(X), (d > 0).astype(int))
    # Probability of the positive class grows with the decision value.
    p1 = clf.predict_proba(X)[:, 1]
    order = np.argsort(d)
    assert (np.diff(p1[order]) >= 0).all()


def test_identity_activation_gives_a_linear_model(multilabel_data):
    X, Y = multilabel_data
    clf = ZLPRClassifier(activation="identity", dropout=0.0, **FAST).fit(X, Y)
    a, b = X[:5], X[5:10]
    lhs = clf.decision_function(0.3 * a + 0.7 * b)
    rhs = 0.3 * clf.decision_function(a) + 0.7 * clf.decision_function(b)
    np.testing.assert_allclose(lhs, rhs, atol=1e-5)


def test_hidden_layer_sizes_accepts_an_int(multilabel_data):
    X, Y = multilabel_data
    clf = ZLPRClassifier(hidden_layer_sizes=5, max_epochs=1).fit(X, Y)
    widths = [
        m.out_features
        for m in clf.net_.module_.modules()
        if isinstance(m, torch.nn.Linear)
    ]
    # The embedding bag is the hidden layer of width 5; one Linear maps it to
    # the labels, as MLPClassifier(hidden_layer_sizes=5) has one hidden layer.
    assert widths == [Y.shape[1]]
    assert clf.net_.module_.embedding.embedding_dim == 5


def test_hidden_layers_build_the_requested_network(multilabel_data):
    X, Y = multilabel_data
    clf = ZLPRClassifier(hidden_layer_sizes=(16, 12, 7), activation="tanh", **FAST).fit(
        X, Y
    )
    linears = [m for m in clf.net_.module_.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (16, 12),
        (12, 7),
        (7, Y.shape[1]),
    ]
    assert clf.net_.module_.embedding.embedding_dim == 16
    assert any(isinstance(m, torch.nn.Tanh) for m in clf.net_.module_.modules())
    assert isinstance(clf.net_.module_.embedding, torch.nn.EmbeddingBag)


@pytest.mark.parametrize(
    "optimizer, cls",
    [
        ("sgd", torch.optim.SGD),
        ("adamw", torch.optim.AdamW),
        (torch.optim.RMSprop, torch.optim.RMSprop),
    ],
)
def test_optimizers(multilabel_data, optimizer, cls):
    X, Y = multilabel_data
    clf = ZLPRClassifier(optimizer=optimizer, lr=0.01, weight_decay=1e-4, **FAST)
    clf.fit(X, Y)
    assert isinstance(clf.net_.optimizer_, cls)
    assert clf.net_.optimizer_.param_groups[0]["weight_decay"] == 1e-4
    assert clf.net_.optimizer_.param_groups[0]["lr"] == 0.01


# ------------------------------------------------------------ determinism
def test_random_state_makes_refits_identical(multilabel_data):
    X, Y = multilabel_data
    a = ZLPRClassifier(random_state=3, max_epochs=4).fit(X, Y).decision_function(X)
    b = ZLPRClassifier(random_state=3, max_epochs=4).fit(X, Y).decision_function(X)
    c = ZLPRClassifier(random_state=4, max_epochs=4).fit(X, Y).decision_function(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_fit_leaves_global_torch_rng_alone(multilabel_data):
    X, Y = multilabel_data
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    clf = ZLPRClassifier(max_epochs=1, random_state=0).fit(X, Y)
    clf.predict(X)  # (scoring leaves it alone too)
    torch.testing.assert_close(torch.rand(3), expected)


# ------------------------------------------------------------- training
def test_early_stopping_restores_the_best_epoch(multilabel_data):
    X, Y = multilabel_data
    clf = ZLPRClassifier(
        lr=0.05, max_epochs=40, n_iter_no_change=2, random_state=0, dropout=0.0
    ).fit(X, Y)
    history = clf.net_.history
    valid = np.array(history[:, "valid_loss"])
    assert clf.n_iter_ == len(valid) < 40  # stopped early
    best = int(np.argmin(valid))
    assert best < len(valid) - 1
    # The restored weights are the best epoch's: recompute the validation loss
    # on the held-out rows with the functional loss.
    valid_idx = validation_rows(clf, X.shape[0])
    s = torch.as_tensor(clf.decision_function(X[valid_idx]))
    recomputed = zlpr_loss(s, torch.as_tensor(Y[valid_idx], dtype=torch.float32)).item()
    assert recomputed == pytest.approx(valid.min(), rel=1e-4)
    assert recomputed < valid[-1]


def test_no_early_stopping_runs_max_epochs(multilabel_data):
    X, Y = multilabel_data
    clf = ZLPRClassifier(early_stopping=False, max_epochs=3, random_state=0).fit(X, Y)
    assert clf.n_iter_ == 3
    assert "valid_loss" not in clf.net_.history[-1]


class _EpochCounter(Callback):
    def __init__(self):
        self.epochs = 0

    def on_epoch_end(self, net, **kwargs):
        self.epochs += 1


def test_user_callbacks_run_and_are_not_mutated(multilabel_data):
    X, Y = multilabel_data
    counter = _EpochCounter()
    clf = ZLPRClassifier(
        early_stopping=False,
        max_epochs=3,
        callbacks=[("count", counter)],
        random_state=0,
    ).fit(X, Y)
    assert counter.epochs == 0  # the estimator's parameter is left untouched
    assert dict(clf.net_.callbacks_)["count"].epochs == 3


def test_verbose_prints_the_epoch_table(multilabel_data, capsys):
    X, Y = multilabel_data
    ZLPRClassifier(verbose=1, max_epochs=2, random_state=0).fit(X, Y)
    out = capsys.readouterr().out
    assert "train_loss" in out and "valid_loss" in out


def test_sample_weight(multilabel_data):
    X, Y = multilabel_data
    base = ZLPRClassifier(**FAST).fit(X, Y).decision_function(X)
    scaled = ZLPRClassifier(**FAST).fit(X, Y, sample_weight=np.full(len(Y), 7.0))
    np.testing.assert_allclose(scaled.decision_function(X), base, atol=1e-5)
    # Zero weight on every sample that carries label 0: it is never seen as
    # positive, so it is (almost) never predicted.
    w = (Y[:, 0] == 0).astype(float)
    clf = ZLPRClassifier(**FAST).fit(X, Y, sample_weight=w)
    assert clf.predict(X)[:, 0].mean() < 0.5 * Y[:, 0].mean()
    with pytest.raises(ValueError, match="[Ss]ample weights? .*non-zero"):
        ZLPRClassifier(**FAST).fit(X, Y, sample_weight=np.zeros(len(Y)))
    with pytest.raises(ValueError, match="[Nn]egative"):
        ZLPRClassifier(**FAST).fit(X, Y, sample_weight=-np.ones(len(Y)))


class _ScalarZLPR(torch.nn.Module):
    """A user loss module without a reduction attribute."""

    def forward(self, input, target):
        return zlpr_loss(input, target)


def test_loss_module_instances(multilabel_data):
    X, Y = multilabel_data
    by_name = ZLPRClassifier(**FAST).fit(X, Y).decision_function(X)
    by_module = ZLPRClassifier(loss=ZLPRLoss(), **FAST).fit(X, Y).decision_function(X)
    by_scalar = (
        ZLPRClassifier(loss=_ScalarZLPR(), **FAST).fit(X, Y).decision_function(X)
    )
    np.testing.assert_array_equal(by_name, by_module)
    np.testing.assert_allclose(by_name, by_scalar, atol=1e-5)
    with pytest.raises(TypeError, match="reduction"):
        ZLPRClassifier(loss=_ScalarZLPR(), **FAST).fit(
            X, Y, sample_weight=np.ones(len(Y))
        )


# --------------------------------------------------------------- persistence
def test_pickle_round_trip(fitted, multilabel_data):
    X, _ = multilabel_data
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(
        restored.decision_function(X), fitted.decision_function(X)
    )
    np.testing.assert_array_equal(restored.predict(X), fitted.predict(X))


def test_pickle_does_not_carry_training_data(multilabel_data):
    X, Y = multilabel_data
    small = ZLPRClassifier(max_epochs=1, random_state=0).fit(X, Y)
    big = ZLPRClassifier(max_epochs=1, random_state=0).fit(
        sp.vstack([X] * 10), np.vstack([Y] * 10)
    )
    assert len(pickle.dumps(big)) < 1.05 * len(pickle.dumps(small))


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a CPU-only machine")
def test_model_saved_on_cuda_loads_on_cpu_only_machine(fitted, multilabel_data):
    X, _ = multilabel_data
    clf = pickle.loads(pickle.dumps(fitted))
    clf.net_.device = "cuda"  # as if it had been trained on a GPU
    blob = pickle.dumps(clf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skorch warns that it maps CUDA to CPU
        restored = pickle.loads(blob)
    assert str(restored.net_.device) == "cpu" and restored.device_ == "cpu"
    np.testing.assert_array_equal(
        restored.decision_function(X), fitted.decision_function(X)
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_fit_predict_and_cpu_copy(multilabel_data):
    X, Y = multilabel_data
    clf = ZLPRClassifier(device="cuda", max_epochs=3, random_state=0).fit(X, Y)
    assert next(clf.net_.module_.parameters()).is_cuda
    assert clf.predict(X).shape == Y.shape
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(restored.decision_function(X), clf.decision_function(X))


# ------------------------------------------------------------ sparse stays sparse
def test_csr_input_is_never_densified(multilabel_data, forbid_densifying):
    X, Y = multilabel_data
    n_features = X.shape[1]
    assert n_features != Y.shape[1]
    forbid_densifying(n_features)
    with pytest.raises(AssertionError, match="densified"):
        X.toarray()  # the guard works
    clf = ZLPRClassifier(max_epochs=2, random_state=0).fit(X, sp.csr_matrix(Y))
    assert clf.predict(X).shape == Y.shape
    clf.predict_proba(sp.csr_array(X))


# ------------------------------------------------------------------ errors
def test_errors_on_bad_targets(multilabel_data):
    X, Y = multilabel_data
    clf = ZLPRClassifier(**FAST)
    n = X.shape[0]
    with pytest.raises(
        ValueError, match="Unknown label type: 'continuous'.*binary indicator"
    ):
        clf.fit(X, np.linspace(0, 1, n))
    with pytest.raises(ValueError, match="MultiLabelBinarizer"):
        clf.fit(X[:3], [["a", "b"], ["c"], []])
    with pytest.raises(ValueError, match="MultiLabelBinarizer"):
        clf.fit(X[:3], [["a", "b"], ["c", "d"], ["e", "f"]])
    with pytest.raises(ValueError, match="values \\[1, 2\\]"):
        clf.fit(X, np.where(Y > 0, 2, Y) + (Y == 0))
    with pytest.raises(ValueError, match="MultiOutputClassifier"):
        clf.fit(X, np.random.RandomState(0).randint(0, 3, size=(n, 3)))
    with pytest.raises(ValueError, match="only one class"):
        clf.fit(X, np.ones(n))
    with pytest.raises(ValueError, match="requires y"):
        clf.fit(X, None)
    with pytest.raises(ValueError, match="Input y contains NaN"):
        clf.fit(X, np.full(n, np.nan))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.fit(X, Y[:-1])
    bad = sp.csr_matrix(Y, dtype=float)
    bad.data[:] = 0.5
    with pytest.raises(ValueError, match="sparse y with values other than 0 and 1"):
        clf.fit(X, bad)


def test_errors_on_bad_features(fitted, multilabel_data):
    X, Y = multilabel_data
    clf = ZLPRClassifier(**FAST)
    Xd = X[:50].toarray()
    Xd[3, 4] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clf.fit(Xd, Y[:50])
    Xs = X[:50].copy()
    Xs.data[0] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        clf.fit(Xs, Y[:50])
    with pytest.raises(ValueError, match="0 sample"):
        clf.fit(X[:0], Y[:0])
    with pytest.raises(
        ValueError, match="X has 199 features, but ZLPRClassifier is expecting 200"
    ):
        fitted.predict(X[:, :199])
    with pytest.raises(TypeError, match="TfidfVectorizer.*encoder='transformer'"):
        ZLPRClassifier(encoder="embedding_bag").fit(["some text", "more"], [0, 1])
    with pytest.raises(TypeError, match="was given texts.*'embedding_bag'"):
        fitted.predict(["some text", "more text"])
    with pytest.raises(NotFittedError):
        ZLPRClassifier().predict(X)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"device": "tpu9"}, "device must be 'auto' or a torch device"),
        ({"loss": "hinge"}, "'loss' parameter"),
        (
            {"hidden_layer_sizes": (10, -1)},
            "hidden_layer_sizes must be 'auto', a positive int or a tuple of",
        ),
        ({"lr": 0.0}, "'lr' parameter"),
        ({"dropout": 1.0}, "'dropout' parameter"),
        ({"activation": "swish"}, "'activation' parameter"),
        ({"validation_fraction": 0.0}, "'validation_fraction' parameter"),
    ],
)
def test_errors_on_bad_parameters(multilabel_data, params, match):
    X, Y = multilabel_data
    with pytest.raises(ValueError, match=match):
        ZLPRClassifier(**params).fit(X, Y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_requested_without_cuda(multilabel_data):
    X, Y = multilabel_data
    with pytest.raises(ValueError, match="CUDA is not available"):
        ZLPRClassifier(device="cuda").fit(X, Y)


def test_too_small_for_a_validation_split(multilabel_data):
    X, Y = multilabel_data
    with pytest.raises(ValueError, match="early_stopping=False"):
        ZLPRClassifier(validation_fraction=0.5, solver="minibatch").fit(X[:1], Y[:1])
    # Without early stopping one sample is fine, and the linear model holds
    # nothing out.
    ZLPRClassifier(early_stopping=False, max_epochs=1).fit(X[:1], Y[:1])
    assert ZLPRClassifier().fit(X[:1], Y[:1]).solver_ == "lbfgs"


# ------------------------------------------------------------- model selection
def test_grid_search_over_lr(multilabel_data):
    X, Y = multilabel_data
    grid = GridSearchCV(
        ZLPRClassifier(max_epochs=10, batch_size=32, random_state=0),
        {"lr": [1e-7, 1e-2]},
        scoring=make_scorer(
            label_ranking_loss,
            greater_is_better=False,
            response_method="decision_function",
        ),
        cv=3,
    ).fit(X, Y)
    # 10 epochs at lr=1e-7 leave the random initial network; 1e-2 learns.
    assert grid.best_params_ == {"lr": 1e-2}
    scores = grid.cv_results_["mean_test_score"]
    assert scores[1] > scores[0] + 0.05
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    assert grid.predict(X).shape == Y.shape
    cloned = clone(grid.best_estimator_)
    assert not hasattr(cloned, "net_")


def _read_jsonl(path, limit):
    texts, labels = [], []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i == limit:
                break
            row = json.loads(line)
            texts.append(row["text"])
            labels.append(row["labels"])
    return texts, labels


@pytest.mark.skipif(
    not (DATASETS / "goemotions").is_dir(),
    reason=f"real data sets not found at {DATASETS}",
)
def test_pipeline_on_real_texts():
    folder = DATASETS / "goemotions"
    names = (folder / "labels.txt").read_text().split()
    tr_x, tr_y = _read_jsonl(folder / "train.jsonl.gz", 10000)
    te_x, te_y = _read_jsonl(folder / "test.jsonl.gz", 1000)
    mlb = MultiLabelBinarizer(classes=names)
    Ytr, Yte = mlb.fit_transform(tr_y), mlb.transform(te_y)
    pipe = make_pipeline(
        TfidfVectorizer(sublinear_tf=True, min_df=2), ZLPRClassifier(random_state=0)
    ).fit(tr_x, Ytr)
    pred = pipe.predict(te_x)
    proba = pipe.predict_proba(te_x)
    assert pred.shape == proba.shape == Yte.shape
    # Independent baseline: always predict the most frequent label ("neutral").
    majority = np.zeros_like(Yte)
    majority[:, Ytr.sum(0).argmax()] = 1
    assert f1_score(Yte, pred, average="samples", zero_division=1.0) > f1_score(
        Yte, majority, average="samples", zero_division=1.0
    )
    assert label_ranking_loss(Yte, pipe.decision_function(te_x)) < 0.25


def test_validation_set_replaces_the_hold_out(multilabel_data):
    from sklearn_zlpr.losses import ZLPRLoss

    X, Y = multilabel_data
    Xtr, Ytr, Xv, Yv = X[:450], Y[:450], X[450:], Y[450:]
    clf = ZLPRClassifier(max_epochs=12, n_iter_no_change=2, random_state=0)
    clf.fit(Xtr, Ytr, X_val=Xv, y_val=Yv)
    # Every training row trains (no 10% hold-out): one epoch sees all 450,
    # and the validation batches are the 150 rows of X_val.
    batches = clf.net_.history[0, "batches"]
    assert sum(b["train_batch_size"] for b in batches if "train_batch_size" in b) == 450
    assert sum(b["valid_batch_size"] for b in batches if "valid_batch_size" in b) == 150
    # The recorded validation loss is the loss on (Xv, Yv), independently
    # recomputed for the restored best epoch.
    valid = np.asarray(clf.net_.history[:, "valid_loss"])
    s = torch.from_numpy(clf.decision_function(Xv))
    recomputed = ZLPRLoss()(s, torch.from_numpy(Yv).float()).item()
    assert recomputed == pytest.approx(valid.min(), rel=1e-4)
    with pytest.raises(ValueError, match="X_val and y_val go together"):
        clf.fit(Xtr, Ytr, X_val=Xv)
    with pytest.raises(ValueError, match="y_val must have the labels of y"):
        clf.fit(Xtr, Ytr, X_val=Xv, y_val=Yv[:, :3])
    with pytest.raises(ValueError, match="features"):
        clf.fit(Xtr, Ytr, X_val=Xv[:, :10], y_val=Yv)


# ------------------------------------------------------------ torch input
def test_torch_tensors_are_accepted_as_numpy(multilabel_data):
    _, Y = multilabel_data
    rng = np.random.default_rng(0)
    X = rng.random((40, 3), dtype=np.float32)
    y = Y[:40]
    params = {"max_epochs": 2, "random_state": 0, "device": "cpu"}
    from_numpy = ZLPRClassifier(**params).fit(X, y)
    from_torch = ZLPRClassifier(**params).fit(torch.from_numpy(X), y)
    assert from_torch.encoder_ == "dense" and from_torch.n_features_in_ == 3
    np.testing.assert_array_equal(
        from_torch.decision_function(torch.from_numpy(X).requires_grad_()),
        from_numpy.decision_function(X),
    )
    with pytest.raises(TypeError, match="sparse torch tensor"):
        from_torch.predict(torch.from_numpy(X).to_sparse())


def test_cross_parameter_checks_run_before_anything_is_built(multilabel_data):
    X, Y = multilabel_data
    # A transformer whose model does not exist: the bad schedule is reported
    # first, before any model is loaded.
    clf = ZLPRClassifier(
        encoder="transformer", transformer_model="/no/such/model", lr_scheduler="Nope"
    )
    with pytest.raises(ValueError, match="lr_scheduler='Nope'"):
        clf.fit(["a text", "another text"] * 10, Y[:20])
    assert not hasattr(clf, "net_")
    clf = ZLPRClassifier(optimizer="sgd", sparse_gradients=True)
    with pytest.raises(ValueError, match="sparse_gradients=True needs optimizer"):
        clf.fit(X, Y)
    assert not hasattr(clf, "net_")
