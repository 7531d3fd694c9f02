"""Sparse features at scale: table compaction, unseen columns, lazy Adam, best epoch.

The references here do not come from the code under test: the seen columns from
``np.unique(X.indices)``, the scores from a numpy forward pass over a full-width
weight matrix, the best epoch's weights from a callback that copies them at
every epoch, and the temporary files from the folder they are written to.
"""

import copy
import io
import pickle
import tempfile

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.metrics import f1_score
from skorch.callbacks import Callback

from sklearn_zlpr import ZLPRClassifier
from sklearn_zlpr.datasets import load_goemotions_sample

WIDE = 2**20


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Run this module's fits on one torch thread, then restore the setting.

    The models here are small; on a busy 2-core machine two threads wait on
    each other at every operation, which made this file ten times slower.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _hashed(texts, n_features=WIDE):
    vec = HashingVectorizer(n_features=n_features, alternate_sign=False)
    return vec.transform(texts).tocsr()


@pytest.fixture(scope="module")
def goemotions_wide():
    """400 GoEmotions comments as a 2**20-column hashed matrix, 28 labels."""
    bunch = load_goemotions_sample()
    X = _hashed(bunch.data[:400])
    return X[:300], bunch.target[:300], X[300:], bunch.target[300:]


@pytest.fixture(scope="module")
def word_labels():
    """Texts whose labels are determined by trigger words: easy to learn well."""
    rng = np.random.RandomState(0)
    filler = [f"w{i}" for i in range(200)]
    triggers = [[f"t{label}x{j}" for j in range(3)] for label in range(4)]
    texts, Y = [], np.zeros((600, 4), dtype=np.int64)
    for i in range(600):
        words = list(rng.choice(filler, size=4))
        for label in np.flatnonzero(rng.rand(4) < 0.3):
            Y[i, label] = 1
            words.append(rng.choice(triggers[label]))
        rng.shuffle(words)
        texts.append(" ".join(words))
    X = _hashed(texts)
    return X[:400], Y[:400], X[400:], Y[400:]


# ---------------------------------------------------------------- compaction
def test_wide_hashed_matrix_gets_one_table_row_per_seen_column(
    goemotions_wide, forbid_densifying
):
    Xtr, Ytr, Xte, _ = goemotions_wide
    forbid_densifying(WIDE)
    with pytest.raises(AssertionError, match="densified"):
        Xtr.toarray()  # the guard works
    clf = ZLPRClassifier(max_epochs=2, random_state=0, device="cpu").fit(Xtr, Ytr)
    assert clf.predict(Xte).shape == (Xte.shape[0], Ytr.shape[1])
    clf.predict_proba(sp.csr_array(Xte))

    seen = np.unique(Xtr.indices)  # the columns of X given to fit
    assert 0 < len(seen) < 10_000  # a few thousand of the 2**20 columns
    module = clf.net_.module_
    assert clf.n_features_in_ == WIDE
    assert tuple(module.embedding.weight.shape) == (len(seen) + 1, 256)
    index = module.column_index.cpu().numpy()
    assert index.shape == (WIDE,)
    # Each seen column has its own row; every other column the padding row.
    np.testing.assert_array_equal(np.sort(index[seen]), np.arange(len(seen)))
    unseen = np.setdiff1d(np.arange(WIDE), seen)
    assert (index[unseen] == len(seen)).all()
    pad = module.embedding.weight[len(seen)].detach()
    assert torch.count_nonzero(pad) == 0  # still zero after training


def test_unseen_columns_are_ignored_at_predict(goemotions_wide):
    Xtr, Ytr, Xte, _ = goemotions_wide
    clf = ZLPRClassifier(
        hidden_layer_sizes=(32,), max_epochs=2, random_state=0, device="cpu"
    )
    clf.fit(Xtr, Ytr)
    unseen = np.setdiff1d(np.arange(WIDE - 1), np.unique(Xtr.indices))
    assert WIDE - 1 not in Xtr.indices
    # Each test row gets two unseen columns: a random one and the last one.
    rng = np.random.RandomState(0)
    n = Xte.shape[0]
    rows = np.repeat(np.arange(n), 2)
    cols = np.column_stack([rng.choice(unseen, size=n), np.full(n, WIDE - 1)])
    values = rng.uniform(0.5, 5.0, size=2 * n)
    extra = sp.csr_matrix((values, (rows, cols.ravel())), shape=Xte.shape)
    X_plus = (Xte + extra).tocsr()
    assert X_plus.nnz == Xte.nnz + 2 * n
    np.testing.assert_array_equal(
        clf.decision_function(X_plus), clf.decision_function(Xte)
    )
    # Rows with unseen columns only score like empty rows.
    empty = sp.csr_matrix((2, WIDE))
    np.testing.assert_array_equal(
        clf.decision_function(extra[:2]), clf.decision_function(empty)
    )


@pytest.mark.parametrize(
    "params",
    [
        {"activation": "identity", "dropout": 0.0},  # a (low-rank) linear model
        {"activation": "relu", "dropout": 0.5},
    ],
)
def test_compacted_table_equals_the_full_width_model(goemotions_wide, params):
    Xtr, Ytr, Xte, _ = goemotions_wide
    clf = ZLPRClassifier(
        hidden_layer_sizes=(8,), max_epochs=3, random_state=0, device="cpu", **params
    ).fit(Xtr, Ytr)
    module = clf.net_.module_
    # The full-width input matrix (one row per column of X): the compact
    # table's rows looked up through column_index.
    table = module.embedding.weight.detach().double().numpy()
    W_full = table[module.column_index.cpu().numpy()]
    assert W_full.shape == (WIDE, 8)
    b_in = module.bias.detach().double().numpy()
    (out,) = [m for m in module.head.modules() if isinstance(m, torch.nn.Linear)]
    W_out = out.weight.detach().double().numpy()
    b_out = out.bias.detach().double().numpy()
    X = sp.vstack([Xtr[:50], Xte]).tocsr().astype(np.float64)
    h = X @ W_full + b_in
    if params["activation"] == "relu":
        h = np.maximum(h, 0.0)  # dropout is off at inference
    expected = h @ W_out.T + b_out
    np.testing.assert_allclose(clf.decision_function(X), expected, atol=1e-5)


# -------------------------------------------------- full width when continued
def test_partial_fit_keeps_a_row_for_every_column():
    bunch = load_goemotions_sample()
    X = _hashed(bunch.data[:400], n_features=2**16)
    Y = bunch.target[:400]
    clf = ZLPRClassifier(hidden_layer_sizes=(16,), random_state=0, device="cpu")
    clf.partial_fit(X[:200], Y[:200])
    module = clf.net_.module_
    assert module.column_index is None
    assert tuple(module.embedding.weight.shape) == (2**16, 16)
    # Columns that only the second batch has were given rows, and they learn.
    only_second = np.setdiff1d(np.unique(X[200:].indices), np.unique(X[:200].indices))
    assert len(only_second) > 100
    before = module.embedding.weight[only_second].detach().clone()
    clf.partial_fit(X[200:], Y[200:])
    after = clf.net_.module_.embedding.weight[only_second].detach()
    assert not torch.equal(before, after)
    assert clf.net_.module_.column_index is None


def test_warm_start_keeps_a_row_for_every_column():
    bunch = load_goemotions_sample()
    X = _hashed(bunch.data[:400], n_features=2**16)
    Y = bunch.target[:400]
    clf = ZLPRClassifier(
        hidden_layer_sizes=(16,),
        max_epochs=2,
        warm_start=True,
        random_state=0,
        device="cpu",
    ).fit(X[:200], Y[:200])
    assert clf.net_.module_.column_index is None
    assert tuple(clf.net_.module_.embedding.weight.shape) == (2**16, 16)
    only_second = np.setdiff1d(np.unique(X[200:].indices), np.unique(X[:200].indices))
    before = clf.net_.module_.embedding.weight[only_second].detach().clone()
    clf.fit(X[200:], Y[200:])
    assert tuple(clf.net_.module_.embedding.weight.shape) == (2**16, 16)
    assert not torch.equal(before, clf.net_.module_.embedding.weight[only_second])


# ---------------------------------------------------------------- lazy Adam
@pytest.mark.parametrize("sparse_gradients", [True, False])
def test_lazy_adam_leaves_rows_of_absent_features_alone(sparse_gradients):
    # Two data sets on disjoint columns: training on the second one moves the
    # first one's rows under dense Adam (its momentum) but not under lazy Adam.
    rng = np.random.RandomState(0)
    A = sp.random(200, 500, density=0.05, random_state=rng, format="csr")
    B = sp.random(200, 500, density=0.05, random_state=rng, format="csr")
    X = sp.vstack(
        [
            sp.hstack([A, sp.csr_matrix((200, 500))]),
            sp.hstack([sp.csr_matrix((200, 500)), B]),
        ]
    ).tocsr()
    Y = (rng.rand(400, 3) < 0.3).astype(np.int64)
    clf = ZLPRClassifier(
        hidden_layer_sizes=(8,),
        batch_size=20,
        sparse_gradients=sparse_gradients,
        random_state=0,
        device="cpu",
    )
    clf.partial_fit(X[:200], Y[:200])
    first_rows = np.unique(X[:200].indices)
    before = clf.net_.module_.embedding.weight[first_rows].detach().clone()
    clf.partial_fit(X[200:], Y[200:])
    after = clf.net_.module_.embedding.weight[first_rows].detach()
    assert torch.equal(before, after) == sparse_gradients


def test_sparse_gradients_true_with_sgd_is_an_error(word_labels):
    Xtr, Ytr, _, _ = word_labels
    with pytest.raises(ValueError, match="sparse_gradients=True.*optimizer='sgd'"):
        ZLPRClassifier(sparse_gradients=True, optimizer="sgd").fit(Xtr, Ytr)


@pytest.mark.parametrize(
    "sparse_gradients, optimizer, expect_sparse",
    [
        ("auto", "adam", True),
        (True, "adamw", True),
        (False, "adam", False),
        ("auto", "sgd", False),
    ],
)
def test_sparse_and_dense_gradients_both_learn(
    word_labels, sparse_gradients, optimizer, expect_sparse
):
    Xtr, Ytr, Xte, Yte = word_labels
    clf = ZLPRClassifier(
        sparse_gradients=sparse_gradients,
        optimizer=optimizer,
        lr=0.01 if optimizer != "sgd" else 1.0,
        max_epochs=8 if optimizer != "sgd" else 2,
        random_state=0,
        device="cpu",
    ).fit(Xtr, Ytr)
    net = clf.net_
    assert net.module_.embedding.sparse is expect_sparse
    assert hasattr(net, "optimizer_sparse_") is expect_sparse
    table = net.module_.embedding.weight
    dense_params = [p for g in net.optimizer_.param_groups for p in g["params"]]
    if expect_sparse:
        assert isinstance(net.optimizer_sparse_, torch.optim.SparseAdam)
        assert all(p is not table for p in dense_params)
    else:
        assert net._optimizers == ["optimizer"]
        assert any(p is table for p in dense_params)
    if optimizer != "sgd":  # (plain SGD needs far more epochs on this problem)
        assert f1_score(Yte, clf.predict(Xte), average="micro") > 0.9


# ---------------------------------------------------------------- best epoch
class _RecordStates(Callback):
    """Keep a copy of the module's state and of the best-weights files per epoch."""

    def __init__(self, folder):
        self.folder = folder

    def initialize(self):
        self.states, self.files = [], []
        return self

    def on_epoch_end(self, net, **kwargs):
        self.states.append(copy.deepcopy(net.module_.state_dict()))
        self.files.append(sorted(p.name for p in self.folder.glob("sklearn_zlpr_*")))


@pytest.mark.parametrize("memory_limit", [0, None])
def test_best_epoch_is_restored_from_file_or_memory(
    goemotions_wide, tmp_path, monkeypatch, memory_limit
):
    Xtr, Ytr, _, _ = goemotions_wide
    # Every temporary file goes to tmp_path, where the test can see it.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    net_params = {}
    if memory_limit is not None:  # None: the default limit (256 MiB)
        net_params["callbacks__early_stopping__memory_limit"] = memory_limit
    clf = ZLPRClassifier(
        lr=0.03,
        max_epochs=15,
        n_iter_no_change=2,
        random_state=0,
        device="cpu",
        callbacks=[("record", _RecordStates(tmp_path))],
        net_params=net_params,
    ).fit(Xtr, Ytr)
    callbacks = dict(clf.net_.callbacks_)
    if memory_limit is not None:
        assert callbacks["early_stopping"].memory_limit == memory_limit
    record = callbacks["record"]
    valid = np.array(clf.net_.history[:, "valid_loss"])
    best = int(np.argmin(valid))
    assert best < len(valid) - 1 < 14  # stopped early, after the best epoch
    # The stopping epoch raises before later callbacks run: it is not recorded.
    assert len(record.states) >= best + 1

    # During training the best weights were in one temporary file, or in none.
    n_files = {len(names) for names in record.files}
    assert n_files == ({1} if memory_limit == 0 else {0})
    assert list(tmp_path.glob("sklearn_zlpr_*")) == []  # removed at train end

    state = clf.net_.module_.state_dict()
    assert state.keys() == record.states[best].keys()
    for key, value in state.items():
        assert torch.equal(value, record.states[best][key]), key
    # (and the weights did move after the best epoch: a real restore)
    later = record.states[best + 1]["embedding.weight"]
    assert not torch.equal(state["embedding.weight"], later)
    assert callbacks["early_stopping"]._best is None

    # The pickle holds one set of weights: the module's and the optimizers'
    # state, plus small change, not a second copy of the module's state.
    record.states = []
    buffer = io.BytesIO()
    torch.save(clf.net_.module_.state_dict(), buffer)
    module_bytes = buffer.tell()
    buffer = io.BytesIO()
    optimizers = [getattr(clf.net_, name + "_") for name in clf.net_._optimizers]
    torch.save([opt.state_dict() for opt in optimizers], buffer)
    optimizer_bytes = buffer.tell()
    pickled = len(pickle.dumps(clf))
    assert pickled <= 1.05 * (module_bytes + optimizer_bytes) + 2**18
    assert pickled < module_bytes + optimizer_bytes + 0.5 * module_bytes
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(
        restored.decision_function(Xtr[:20]), clf.decision_function(Xtr[:20])
    )
