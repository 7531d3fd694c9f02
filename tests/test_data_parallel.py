"""Data-parallel training (torch DDP through Hugging Face Accelerate).

The two-process test starts a real ``torchrun`` with 2 CPU processes (gloo on
127.0.0.1) running ``_data_parallel_worker.py``, and compares what they fitted
with a one-process fit of the same global batches.
"""

import os
import pickle
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_zlpr import ZLPRClassifier, load, save
from sklearn_zlpr._accelerate import global_batch_size
from sklearn_zlpr._net import ZLPRNet

from . import _data_parallel_worker as worker
from .conftest import save_tiny_bert

pytest.importorskip("accelerate")  # (installed by the test extra)

#: Weights of 2 processes vs 1 may differ by float32 round-off only: each
#: process sums half a batch's gradient, DDP adds the halves (measured: 6e-8).
WEIGHT_ATOL = 1e-6


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tiny_bert_without_dropout(tmp_path_factory):
    """A tiny BERT with dropout off: one process and two draw no masks."""
    return save_tiny_bert(
        tmp_path_factory.mktemp("tiny_bert_no_dropout"),
        worker.WORDS,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory, tiny_bert_without_dropout):
    """Run the worker under torchrun with 2 processes; return its folder."""
    out = tmp_path_factory.mktemp("ddp")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        str(Path(worker.__file__)),
        str(out),
        str(tiny_bert_without_dropout),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env=env, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def _reference(kind, model_dir):
    """The one-process fit of the same global batches."""
    X, Y, X_val, Y_val = worker.data(kind)
    clf = ZLPRClassifier(**worker.params(kind, model_dir))
    return clf.fit(X, Y, X_val=X_val, y_val=Y_val), X, Y


KINDS = ["sparse", "dense", "transformer"]


@pytest.mark.parametrize("kind", KINDS)
def test_two_processes_train_the_weights_of_one(
    two_process_run, tiny_bert_without_dropout, kind
):
    folder = two_process_run / kind
    ranks = [np.load(folder / f"weights_{r}.npz") for r in (0, 1)]
    ref = _reference(kind, tiny_bert_without_dropout)[0]
    ref_weights = {k: v.numpy() for k, v in ref.net_.module_.state_dict().items()}
    assert set(ranks[0].files) == set(ref_weights)
    for name, expected in ref_weights.items():
        # DDP keeps the processes in step exactly ...
        np.testing.assert_array_equal(ranks[0][name], ranks[1][name])
        # ... and on the single process's weights, to round-off.
        np.testing.assert_allclose(ranks[0][name], expected, rtol=0, atol=WEIGHT_ATOL)
    largest = max(np.abs(w).max() for w in ref_weights.values())
    assert largest > 100 * WEIGHT_ATOL  # (not trivially equal)


@pytest.mark.parametrize("kind", KINDS)
def test_the_result_is_a_plain_estimator_after_the_processes_end(
    two_process_run, tiny_bert_without_dropout, kind, tmp_path
):
    import json

    info = json.loads((two_process_run / "info.json").read_text())[kind]
    assert info["n_processes"] == 2 and info["net_class"] == "ZLPRNet"
    assert info["n_iter"] == info["n_epochs"]
    clf = pickle.loads((two_process_run / kind / "model.pkl").read_bytes())
    ref, X, Y = _reference(kind, tiny_bert_without_dropout)
    assert type(clf.net_) is ZLPRNet and not hasattr(clf.net_, "accelerator")
    # The history is the batches' loss (the mean over the processes).
    np.testing.assert_allclose(
        clf.net_.history[:, "train_loss"], ref.net_.history[:, "train_loss"], rtol=1e-6
    )
    np.testing.assert_allclose(
        clf.decision_function(X), ref.decision_function(X), rtol=0, atol=1e-5
    )
    np.testing.assert_array_equal(clf.predict(X), ref.predict(X))
    # It saves without pickle, goes in a pipeline, and refits in one process.
    save(clf, tmp_path / "model.zlpr")
    loaded = load(tmp_path / "model.zlpr")
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    pipe = make_pipeline(FunctionTransformer(), clone(clf)).fit(X, Y)
    assert pipe.predict(X).shape == Y.shape
    assert type(pipe[-1].net_) is ZLPRNet


def test_processes_given_different_data_refuse_to_train(two_process_run):
    for rank in (0, 1):
        message = (two_process_run / f"mismatch_{rank}.txt").read_text()
        assert "data differ between the 2 processes" in message


# ------------------------------------------------------------ one process
@pytest.mark.parametrize("kind", ["sparse", "dense"])
def test_one_process_without_a_launcher_is_the_plain_fit(kind):
    X, Y, X_val, Y_val = worker.data(kind)
    ref = ZLPRClassifier(**worker.PARAMS).fit(X, Y, X_val=X_val, y_val=Y_val)
    clf = ZLPRClassifier(data_parallel=True, **worker.PARAMS)
    clf.fit(X, Y, X_val=X_val, y_val=Y_val)
    assert type(clf.net_) is ZLPRNet
    np.testing.assert_array_equal(clf.decision_function(X), ref.decision_function(X))
    assert clf.net_.history[:, "train_loss"] == ref.net_.history[:, "train_loss"]
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.decision_function(X), ref.decision_function(X))


def test_data_parallel_trains_the_network_with_dense_embedding_gradients():
    X, Y, _, _ = worker.data("sparse")
    clf = ZLPRClassifier(data_parallel=True, max_epochs=1, random_state=0).fit(X, Y)
    assert clf.solver_ == "minibatch"  # solver="auto" picks the network
    assert not clf.net_.module_.embedding.sparse
    assert clf.net_.callbacks__print_log__sink is print  # nothing of Accelerate


def test_data_parallel_refuses_what_it_cannot_do(tmp_path):
    X, Y, _, _ = worker.data("sparse")
    cases = [
        ({"solver": "lbfgs"}, "data_parallel=True"),
        ({"sparse_gradients": True}, "sparse_gradients=True cannot"),
        ({"checkpoint_dir": tmp_path, "random_state": 0}, "checkpoint_dir cannot"),
        ({"device": "cuda:1"}, "GPU of its local rank"),
    ]
    for params, match in cases:
        with pytest.raises(ValueError, match=match):
            ZLPRClassifier(data_parallel=True, max_epochs=1, **params).fit(X, Y)
    with pytest.raises(ValueError, match="partial_fit trains in one process"):
        ZLPRClassifier(data_parallel=True).partial_fit(X, Y)


def test_global_batch_size_is_a_multiple_of_the_processes():
    assert global_batch_size(32, 2, auto=False) == 32
    assert global_batch_size(37, 2, auto=True) == 38
    assert global_batch_size(37, 4, auto=True) == 40
    with pytest.raises(ValueError, match="multiple of 4; got batch_size=30"):
        global_batch_size(30, 4, auto=False)


def test_without_accelerate_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "accelerate", None)
    X, Y = sp.random(40, 6, density=0.5, format="csr", random_state=0), None
    Y = np.eye(3, dtype=int)[np.arange(40) % 3]
    with pytest.raises(ImportError, match=r"sklearn-zlpr\[distributed\]"):
        ZLPRClassifier(data_parallel=True, max_epochs=1).fit(X, Y)
