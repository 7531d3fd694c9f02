"""Training that fails loudly and can resume (issue 17, section 2).

* A NaN or infinite loss, gradient or weight stops training with an error
  naming the epoch and the batch, or, with ``on_nonfinite="restore"``, ends it
  on the last finite weights; NaN or inf never reaches ``decision_function``.
* ``KeyboardInterrupt`` (Ctrl-C) during ``fit`` leaves a usable estimator and
  says so.
* ``checkpoint_dir`` saves the training state after every epoch, atomically;
  a fit killed in a subprocess resumes to the weights of an uninterrupted fit.
* Concurrent ``predict`` calls from several threads agree with serial ones.
"""

import json
import os
import pickle
import re
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import Callback

from sklearn_zlpr import ZLPRClassifier, _callbacks, _checkpoint
from sklearn_zlpr._linear import LinearZLPRObjective
from sklearn_zlpr._net import NonFiniteTrainingError, ZLPRNet
from sklearn_zlpr._solvers import SolverInterrupted, minimize_objective
from sklearn_zlpr.losses import zlpr_loss

REPO = Path(__file__).resolve().parents[1]
NET = {"random_state": 0, "device": "cpu", "max_epochs": 6, "batch_size": 32}


@pytest.fixture(scope="module")
def data():
    X, Y = make_multilabel_classification(
        300, n_features=20, n_classes=5, random_state=0
    )
    return X.astype(np.float32), Y


def _states_equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _state(clf):
    return {k: v.clone() for k, v in clf.net_.module_.state_dict().items()}


class _Shared(Callback):
    """A callback the estimator uses itself, not a copy: the test reads it."""

    def __deepcopy__(self, memo):
        return self


class _Record(_Shared):
    """Keep a copy of the weights after every epoch (and the net)."""

    def on_train_begin(self, net, **kwargs):
        self.net, self.states = net, []

    def on_epoch_end(self, net, **kwargs):
        self.states.append(
            {k: v.detach().clone() for k, v in net.module_.state_dict().items()}
        )


class _Poison(Callback):
    """Turn one weight into ``value`` before batch ``batch`` of epoch ``epoch``."""

    def __init__(self, epoch=3, batch=2, value=float("nan")):
        self.epoch, self.batch, self.value = epoch, batch, value

    def on_batch_begin(self, net, training=False, **kwargs):
        rows = net.history[-1, "batches"]
        if training and len(net.history) == self.epoch and len(rows) == self.batch:
            with torch.no_grad():
                next(net.module_.parameters()).view(-1)[0] = self.value


class _Interrupt(Callback):
    """Raise KeyboardInterrupt (or send SIGINT) after a training batch."""

    def __init__(self, epoch=3, batch=2, signal=False):
        self.epoch, self.batch, self.signal = epoch, batch, signal

    def on_batch_end(self, net, training=False, **kwargs):
        rows = net.history[-1, "batches"]
        if training and len(net.history) == self.epoch and len(rows) == self.batch:
            if self.signal:  # the real thing: Python's SIGINT handler raises
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1)  # (the handler runs before this ends)
            else:
                raise KeyboardInterrupt


def _user_warnings(record):
    return [str(w.message) for w in record if issubclass(w.category, UserWarning)]


# ------------------------------------------------------------ non-finite
def test_diverging_learning_rate_raises_naming_epoch_and_batch(data):
    X, Y = data
    clf = ZLPRClassifier(lr=1e20, **NET)
    with pytest.raises(ValueError, match=r"epoch 1, batch \d+") as error:
        clf.fit(X, Y)
    assert isinstance(error.value, NonFiniteTrainingError)
    message = str(error.value)
    assert "Lower the learning rate" in message or "lower the learning rate" in message
    assert "lr=1e+20" in message
    assert "on_nonfinite='restore'" in message
    assert not hasattr(clf, "net_")  # not fitted: nothing to predict NaN with


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_inputs_overflowing_float32_raise_in_training(data, sparse):
    X, Y = data
    X = X * np.float32(1e37) if not sparse else sp.csr_matrix(X) * 1e30
    with pytest.raises(ValueError, match=r"Training diverged: .* at epoch 1, batch"):
        ZLPRClassifier(**NET).fit(X, Y)


def test_nonfinite_gradient_is_caught_at_the_next_step(data):
    X, Y = data

    class NaNGradient(torch.nn.Module):
        """ZLPR plus a term that is 0 but has a NaN gradient."""

        def forward(self, input, target):
            zero = input - input.detach()
            return zlpr_loss(input, target) + torch.sqrt(zero.abs()).sum()

    clf = ZLPRClassifier(loss=NaNGradient(), **NET)
    # The first step's NaN gradient makes the weights NaN, and so the second
    # step's loss, before that step moves the weights again.
    with pytest.raises(
        ValueError,
        match=r"training loss is nan at epoch 1, batch 2 \(the weights already",
    ):
        clf.fit(X, Y)


def test_nonfinite_validation_loss_raises(data):
    X, Y = data
    clf = ZLPRClassifier(**NET)
    X_val = X[:50] * np.float32(3e37)
    with pytest.raises(ValueError, match=r"validation loss is .* end of epoch 1"):
        clf.fit(X[50:], Y[50:], X_val=X_val, y_val=Y[:50])


@pytest.mark.parametrize("early_stopping", [False, True])
def test_restore_keeps_the_last_finite_epoch(data, early_stopping):
    X, Y = data
    record = _Record()
    clf = ZLPRClassifier(
        on_nonfinite="restore",
        early_stopping=early_stopping,
        n_iter_no_change=10,
        callbacks=[("poison", _Poison(epoch=3, batch=2)), ("record", record)],
        **NET,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(X, Y)
    messages = _user_warnings(caught)
    assert len(messages) == 1 and messages[0] == clf.interrupted_
    assert re.search(r"training loss is nan at epoch 3, batch 2", clf.interrupted_)
    assert len(record.states) == 2  # epochs 1 and 2 ended
    if early_stopping:
        best = int(np.argmin(clf.net_.history[:2, "valid_loss"]))
    else:
        best = 1  # the last finite epoch: 2
    assert f"keeps the weights of epoch {best + 1}" in clf.interrupted_
    assert _states_equal(_state(clf), record.states[best])
    scores = clf.decision_function(X)
    assert np.isfinite(scores).all()
    # The optimizer starts anew: training can go on without NaN moments.
    clf.partial_fit(X, Y)
    assert np.isfinite(clf.decision_function(X)).all()


class _Initial(_Shared):
    def on_train_begin(self, net, **kwargs):
        self.state = {k: v.clone() for k, v in net.module_.state_dict().items()}


def test_restore_before_any_finite_epoch_keeps_the_initial_weights(data):
    X, Y = data
    initial = _Initial()
    clf = ZLPRClassifier(
        lr=1e20, on_nonfinite="restore", callbacks=[("initial", initial)], **NET
    )
    with pytest.warns(UserWarning, match="keeps the initial weights"):
        clf.fit(X, Y)
    assert "on_nonfinite='restore'" in clf.interrupted_
    assert _states_equal(_state(clf), initial.state)
    assert np.isfinite(clf.decision_function(X)).all()


# (scikit-learn's finiteness check of X sums it first: 3e38 - 3e38 warns)
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_decision_function_never_returns_nan_or_inf(data):
    X, Y = data
    Xs = sp.csr_matrix(X)
    linear = ZLPRClassifier(device="cpu").fit(Xs, Y)
    net = ZLPRClassifier(**NET).fit(X, Y)
    # Finite float32 features (3e38 is near the largest float32) whose
    # scores are not: signs that add up the weights of label 0.
    assert np.abs(linear.coef_[0]).sum() > 1.2
    X_linear = sp.csr_matrix(np.float32(3e38) * np.sign(linear.coef_[:1]))
    X_net = np.full((2, X.shape[1]), -3e38, dtype=np.float32)
    first = net.net_.module_.weight.detach().sum(0)  # (some sums are < -1.2)
    assert float(first.min()) < -1.2
    for clf, X_big in ((linear, X_linear), (net, X_net)):
        for method in ("decision_function", "predict", "predict_proba"):
            with pytest.raises(ValueError, match="NaN or infinite.*Scale X"):
                getattr(clf, method)(X_big)


def test_linear_model_fits_features_too_large_for_float32(data):
    X, Y = data
    Xs = sp.csr_matrix(X)
    reference = ZLPRClassifier(device="cpu").fit(Xs, Y)
    for scale in (1e18, 1e30):
        clf = ZLPRClassifier(device="cpu").fit(Xs * scale, Y)
        assert np.isfinite(clf.coef_).all() and clf.C_ > 0
        # The same model, on features scaled by `scale`.
        np.testing.assert_array_equal(clf.predict(Xs * scale), reference.predict(Xs))
        np.testing.assert_allclose(clf.coef_ * scale, reference.coef_, rtol=1e-3)


# (the check of sample_weight's sum overflows, harmlessly)
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_linear_model_raises_on_a_nonfinite_objective(data):
    X, Y = data
    with pytest.raises(ValueError, match="not finite at the starting weights"):
        ZLPRClassifier(device="cpu").fit(X, Y, sample_weight=np.full(len(X), 1e308))


def test_lbfgs_backtracks_from_nonfinite_points():
    class Bowl:
        """(w - 3)^2 summed, NaN beyond |w| > 4: the first full step overshoots."""

        def value_and_gradient(self, w):
            w = torch.as_tensor(w, dtype=torch.float64)
            if float(w.abs().max()) > 4:
                return float("nan"), torch.full_like(w, float("nan"))
            return float(((w - 3) ** 2).sum()), 2 * (w - 3)

    w, _ = minimize_objective(Bowl(), torch.full((3,), -4.0, dtype=torch.float64))
    assert torch.isfinite(w).all()
    torch.testing.assert_close(w, torch.full((3,), 3.0, dtype=torch.float64))

    class Broken:
        def value_and_gradient(self, w):
            return float("inf"), torch.zeros_like(torch.as_tensor(w))

    with pytest.raises(ValueError, match="not finite at the starting weights"):
        minimize_objective(Broken(), np.zeros(3))


# ------------------------------------------------------------ Ctrl-C
@pytest.mark.parametrize("send_signal", [False, True], ids=["raise", "SIGINT"])
def test_keyboard_interrupt_leaves_a_usable_estimator(data, send_signal, request):
    if send_signal and not hasattr(signal, "SIGINT"):
        pytest.skip("no SIGINT on this platform")
    if send_signal:  # Python's own Ctrl-C handler, also where the test runner
        # started with SIGINT ignored (a background job of a shell script)
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))
    X, Y = data
    record = _Record()
    clf = ZLPRClassifier(
        n_iter_no_change=10,
        callbacks=[
            ("interrupt", _Interrupt(epoch=3, batch=2, signal=send_signal)),
            ("record", record),
        ],
        **NET,
    )
    with pytest.warns(UserWarning, match="interrupted") as caught:
        clf.fit(X, Y)
    assert clf.interrupted_ == str(caught[0].message)
    assert "epoch 3, after 2 training batches" in clf.interrupted_
    # The best epoch so far (of 1 and 2) is restored, as early stopping would.
    best = int(np.argmin(clf.net_.history[:2, "valid_loss"]))
    assert f"best epoch so far, {best + 1}" in clf.interrupted_
    assert _states_equal(_state(clf), record.states[best])
    assert clf.predict(X).shape == Y.shape
    assert np.isfinite(clf.decision_function(X)).all()


def test_keyboard_interrupt_without_early_stopping_keeps_the_last_step(data):
    X, Y = data
    record = _Record()
    clf = ZLPRClassifier(
        early_stopping=False,
        callbacks=[("interrupt", _Interrupt(3, 2)), ("record", record)],
        **NET,
    )
    with pytest.warns(UserWarning, match="its last training step"):
        clf.fit(X, Y)
    assert clf.n_iter_ == 3  # (the interrupted epoch counts)
    assert len(record.states) == 2
    assert not _states_equal(_state(clf), record.states[-1])  # it moved on
    assert np.isfinite(clf.decision_function(X)).all()


def test_early_stopping_is_not_an_interruption(data):
    X, Y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        clf = ZLPRClassifier(**{**NET, "max_epochs": 100}, n_iter_no_change=1)
        clf.fit(X, Y)
    assert clf.n_iter_ < 100 and clf.interrupted_ is None


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
def test_keyboard_interrupt_in_the_linear_solver(data, monkeypatch, solver):
    X, Y = data
    calls = {"n": 0}
    original = LinearZLPRObjective.value_and_gradient

    def interrupted(self, w):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return original(self, w)

    monkeypatch.setattr(LinearZLPRObjective, "value_and_gradient", interrupted)
    with pytest.warns(UserWarning, match="interrupted.*usable.*last iterate"):
        clf = ZLPRClassifier(solver=solver, device="cpu").fit(X, Y)
    assert clf.interrupted_.startswith(f"The {solver} solver was interrupted")
    assert np.isfinite(clf.coef_).all() and clf.coef_.any()
    assert clf.predict(X).shape == Y.shape
    monkeypatch.setattr(LinearZLPRObjective, "value_and_gradient", original)
    assert ZLPRClassifier(solver=solver, device="cpu").fit(X, Y).interrupted_ is None


def test_solver_interrupted_is_a_keyboard_interrupt():
    assert issubclass(SolverInterrupted, KeyboardInterrupt)


# ------------------------------------------------------------ checkpoints
def _kill_after_epoch(monkeypatch, epoch):
    """Make the fit fail (as a killed process) after ``epoch`` saved epochs."""
    original = _callbacks.EpochCheckpoint.on_epoch_end

    def on_epoch_end(self, net, **kwargs):
        original(self, net, **kwargs)
        if self.checkpoint is not None and len(net.history) == epoch:
            raise RuntimeError("killed")

    monkeypatch.setattr(_callbacks.EpochCheckpoint, "on_epoch_end", on_epoch_end)
    return original


def _count_steps(monkeypatch):
    calls = {"n": 0}
    original = ZLPRNet.train_step

    def train_step(self, batch, **fit_params):
        calls["n"] += 1
        return original(self, batch, **fit_params)

    monkeypatch.setattr(ZLPRNet, "train_step", train_step)
    return calls


@pytest.mark.parametrize(
    "params",
    [
        {"lr_scheduler": "CosineAnnealingLR", "lr_scheduler_params": {"T_max": 8}},
        {"sparse": True, "lr_scheduler": "warmup_linear", "rdrop_alpha": 1.0},
        {"optimizer": "sgd", "lr": 0.3, "n_iter_no_change": 2, "max_epochs": 40},
    ],
    ids=["dense-cosine", "sparse-warmup-rdrop", "early-stopped"],
)
def test_resumed_fit_equals_uninterrupted_fit(data, tmp_path, monkeypatch, params):
    X, Y = data
    params = {**NET, "max_epochs": 8, **params}
    if params.pop("sparse", False):
        X = sp.csr_matrix(X)
    reference = ZLPRClassifier(**params).fit(X, Y)
    original = _kill_after_epoch(monkeypatch, 3)
    with pytest.raises(RuntimeError, match="killed"):
        ZLPRClassifier(checkpoint_dir=tmp_path, **params).fit(X, Y)
    (path,) = tmp_path.glob("zlpr-*.pt")
    monkeypatch.setattr(_callbacks.EpochCheckpoint, "on_epoch_end", original)
    steps = _count_steps(monkeypatch)
    resumed = ZLPRClassifier(checkpoint_dir=tmp_path, **params).fit(X, Y)
    if params["max_epochs"] == 40:  # early stopping ended it, after epoch 3
        assert 3 < reference.n_iter_ < 40
    # Only the epochs after the third were trained again.
    batches = int(np.ceil(X.shape[0] * 0.9 / 32))
    assert steps["n"] == (reference.n_iter_ - 3) * batches
    assert _states_equal(_state(resumed), _state(reference))
    assert resumed.n_iter_ == reference.n_iter_
    assert (
        resumed.net_.history[:, "valid_loss"] == reference.net_.history[:, "valid_loss"]
    )
    np.testing.assert_array_equal(
        resumed.decision_function(X), reference.decision_function(X)
    )
    assert not path.exists()  # removed when the fit ended


_KILLED_FIT = """
import sys, time
import numpy as np
from sklearn.datasets import make_multilabel_classification
from sklearn_zlpr import ZLPRClassifier
from sklearn_zlpr._net import ZLPRNet

X, Y = make_multilabel_classification(
    300, n_features=20, n_classes=5, random_state=0
)
original = ZLPRNet.train_step

def train_step(self, batch, **fit_params):
    # In the middle of epoch 3 (two epochs saved), wait to be killed.
    if len(self.history) == 3 and len(self.history[-1, "batches"]) == 4:
        print("in epoch 3", flush=True)
        time.sleep(120)
    return original(self, batch, **fit_params)

ZLPRNet.train_step = train_step
ZLPRClassifier(checkpoint_dir=sys.argv[1], **PARAMS).fit(X.astype(np.float32), Y)
print("finished", flush=True)
"""


def test_fit_killed_in_a_subprocess_resumes_to_the_same_weights(data, tmp_path):
    X, Y = data
    params = {**NET, "max_epochs": 6, "n_iter_no_change": 10}
    script = tmp_path / "fit.py"
    script.write_text(textwrap.dedent(_KILLED_FIT).replace("**PARAMS", f"**{params!r}"))
    checkpoints = tmp_path / "ckpt"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, str(script), str(checkpoints)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 60
        line = ""
        while "in epoch 3" not in line and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
        assert "in epoch 3" in line, process.stderr.read()
        process.kill()  # SIGKILL: no cleanup of any kind
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    (path,) = checkpoints.glob("zlpr-*.pt")
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert json.loads(state["meta"])["epochs"] == 2

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the subprocess
    try:
        resumed = ZLPRClassifier(checkpoint_dir=checkpoints, **params).fit(X, Y)
        reference = ZLPRClassifier(**params).fit(X, Y)
    finally:
        torch.set_num_threads(threads)
    assert [row["epoch"] for row in resumed.net_.history] == list(range(1, 7))
    # Exactly the same weights on the CPU (tolerance zero).
    for key, value in reference.net_.module_.state_dict().items():
        torch.testing.assert_close(
            resumed.net_.module_.state_dict()[key], value, rtol=0, atol=0
        )
    assert not path.exists()


def test_checkpoint_is_kept_after_ctrl_c_and_resumed(data, tmp_path, monkeypatch):
    X, Y = data
    params = {**NET, "n_iter_no_change": 10}
    reference = ZLPRClassifier(**params).fit(X, Y)
    original = ZLPRNet.train_step
    calls = {"n": 0}

    def train_step(self, batch, **fit_params):
        calls["n"] += 1
        if calls["n"] == 3 * 9 + 2:  # epoch 4, batch 2 (9 batches an epoch)
            raise KeyboardInterrupt
        return original(self, batch, **fit_params)

    monkeypatch.setattr(ZLPRNet, "train_step", train_step)
    with pytest.warns(UserWarning, match=r"saved in .*zlpr-.*\.pt.*resumes"):
        clf = ZLPRClassifier(checkpoint_dir=tmp_path, **params).fit(X, Y)
    assert clf.predict(X).shape == Y.shape  # usable meanwhile
    (path,) = tmp_path.glob("zlpr-*.pt")
    monkeypatch.setattr(ZLPRNet, "train_step", original)
    resumed = ZLPRClassifier(checkpoint_dir=tmp_path, **params).fit(X, Y)
    assert resumed.interrupted_ is None
    assert _states_equal(_state(resumed), _state(reference))
    assert not path.exists()


def test_checkpoints_of_different_fits_do_not_clash(data, tmp_path, monkeypatch):
    X, Y = data
    _kill_after_epoch(monkeypatch, 2)
    for random_state in (0, 1):
        with pytest.raises(RuntimeError, match="killed"):
            ZLPRClassifier(
                checkpoint_dir=tmp_path, **{**NET, "random_state": random_state}
            ).fit(X, Y)
    with pytest.raises(RuntimeError, match="killed"):
        ZLPRClassifier(checkpoint_dir=tmp_path, **NET).fit(X[:200], Y[:200])
    assert len(list(tmp_path.glob("zlpr-*.pt"))) == 3


def test_checkpoint_save_is_atomic(data, tmp_path, monkeypatch):
    X, Y = data
    original_save = torch.save
    saves = {"n": 0}

    def torn_save(obj, f, *args, **kwargs):
        saves["n"] += 1
        if saves["n"] == 3:  # the third epoch's save dies half-way
            f.write(b"half a checkpoint")
            raise OSError("disk died")
        return original_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(_checkpoint.torch, "save", torn_save)
    with pytest.raises(OSError, match="disk died"):
        ZLPRClassifier(checkpoint_dir=tmp_path, **NET).fit(X, Y)
    (path,) = tmp_path.glob("zlpr-*.pt")  # and no temporary file left
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert json.loads(state["meta"])["epochs"] == 2  # the previous one, whole


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_checkpoint_is_loaded_without_arbitrary_unpickling(data, tmp_path, monkeypatch):
    X, Y = data
    monkeypatch.chdir(tmp_path)
    _kill_after_epoch(monkeypatch, 2)
    with pytest.raises(RuntimeError, match="killed"):
        ZLPRClassifier(checkpoint_dir=tmp_path, **NET).fit(X, Y)
    (path,) = tmp_path.glob("zlpr-*.pt")
    torch.save({"format": _checkpoint.FORMAT, "evil": _Evil()}, path)
    with pytest.raises(ValueError, match="cannot be read.*Remove it") as error:
        ZLPRClassifier(checkpoint_dir=tmp_path, **NET).fit(X, Y)
    assert isinstance(error.value.__cause__, pickle.UnpicklingError)
    assert not (tmp_path / "pwned.txt").exists()
    # A torn file (not written by the atomic save) is as clear.
    path.write_bytes(b"PK\x03\x04 torn")
    with pytest.raises(ValueError, match="cannot be read"):
        ZLPRClassifier(checkpoint_dir=tmp_path, **NET).fit(X, Y)


def test_stale_temporary_files_are_removed(data, tmp_path, monkeypatch):
    X, Y = data
    _kill_after_epoch(monkeypatch, 2)
    with pytest.raises(RuntimeError, match="killed"):
        ZLPRClassifier(checkpoint_dir=tmp_path, **NET).fit(X, Y)
    (path,) = tmp_path.glob("zlpr-*.pt")
    stale = Path(f"{path}.12345.tmp")
    stale.write_bytes(b"torn")
    monkeypatch.undo()
    ZLPRClassifier(checkpoint_dir=tmp_path, **NET).fit(X, Y)
    assert list(tmp_path.iterdir()) == []


def test_checkpoint_dir_parameter_checks(data, tmp_path):
    X, Y = data
    clf = ZLPRClassifier(checkpoint_dir=tmp_path, device="cpu", max_epochs=2)
    with pytest.raises(ValueError, match="checkpoint_dir.*random_state to be an int"):
        clf.fit(X, Y)
    clf = ZLPRClassifier(solver="lbfgs", checkpoint_dir=tmp_path, random_state=0)
    with pytest.raises(ValueError, match="does not support checkpoint_dir"):
        clf.fit(X, Y)
    # solver="auto" trains the network, which has epochs to save.
    clf = ZLPRClassifier(checkpoint_dir=tmp_path / "new", random_state=0, device="cpu")
    assert clf.set_params(max_iter=500).fit(X, Y).solver_ == "minibatch"
    assert (tmp_path / "new").is_dir() and list((tmp_path / "new").iterdir()) == []
    with pytest.raises(ValueError, match="on_nonfinite"):
        ZLPRClassifier(on_nonfinite="ignore").fit(X, Y)


def test_fitted_estimator_with_checkpoints_pickles_and_partial_fit_saves_none(
    data, tmp_path
):
    X, Y = data
    clf = ZLPRClassifier(checkpoint_dir=tmp_path, **NET).fit(X, Y)
    clone = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clone.decision_function(X), clf.decision_function(X))
    clone.partial_fit(X, Y)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------ threads
def _concurrent_equals_serial(clf, X, n_threads=8, n_calls=48, same_rows=False):
    n = X.shape[0]
    serial = {
        "decision_function": clf.decision_function(X),
        "predict": clf.predict(X),
        "predict_proba": clf.predict_proba(X),
    }
    methods = list(serial)

    def call(i):
        start = 0 if same_rows else (i * 37) % (n // 2)
        rows = slice(start, start + (n if same_rows else n // 2))
        method = methods[i % len(methods)]
        return i, method, rows, getattr(clf, method)(X[rows])

    with ThreadPoolExecutor(n_threads) as pool:
        for _, method, rows, result in pool.map(call, range(n_calls)):
            np.testing.assert_array_equal(result, serial[method][rows])


@pytest.mark.parametrize(
    "kind", ["linear-dense", "linear-sparse", "net-dense", "net-sparse"]
)
def test_concurrent_predict_equals_serial(data, kind):
    X, Y = data
    if kind.endswith("sparse"):
        X = sp.csr_matrix(X)
    params = {"device": "cpu"} if kind.startswith("linear") else NET
    clf = ZLPRClassifier(**params).fit(X, Y)
    _concurrent_equals_serial(clf, X)


def test_concurrent_predict_with_the_transformer(tiny_bert_dir, tiny_texts):
    texts, Y = tiny_texts
    clf = ZLPRClassifier(
        encoder="transformer",
        transformer_model=tiny_bert_dir,
        max_epochs=1,
        max_length=16,
        random_state=0,
        device="cpu",
    ).fit(texts, Y)
    # The same rows in every call, so the padding is the same too.
    X = np.asarray(texts, dtype=object)[:64]
    _concurrent_equals_serial(clf, X, n_threads=4, n_calls=12, same_rows=True)


@pytest.mark.parametrize("loss", ["zlpr", "bce"])
def test_a_finite_divergence_warns(loss):
    # lr=1e6 leaves every value finite (scores of 1e12 and more), so
    # on_nonfinite never fires: the final loss against all-zero scores does.
    X, Y = make_multilabel_classification(n_samples=300, n_classes=5, random_state=0)
    with pytest.warns(ConvergenceWarning, match="Training diverged.*Lower lr"):
        ZLPRClassifier(lr=1e6, loss=loss, max_epochs=5, random_state=0).fit(X, Y)
    clf = ZLPRClassifier(max_epochs=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X, Y)  # a normal fit: no warning
        clf.partial_fit(X, Y)
