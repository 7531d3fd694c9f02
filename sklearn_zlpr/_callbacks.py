"""skorch callbacks of ZLPRClassifier: diagnostics, validation metrics, schedules."""

import os
import tempfile
import weakref

import numpy as np
import torch
from skorch.callbacks import Callback, EarlyStopping

from ._checkpoint import training_state
from ._decision import evaluate
from .metrics import _get_metric


def unwrapped(module):
    """``module`` itself, out of a ``DistributedDataParallel`` wrapper if any
    (its state's keys then match the plain module's)."""
    if isinstance(module, torch.nn.parallel.DistributedDataParallel):
        return module.module
    return module


class EpochDiagnostics(Callback):
    """Record per-epoch diagnostics and, optionally, a validation metric.

    From the batches skorch already runs (no extra forward pass), it records for
    the training and the validation split (``train_*`` / ``valid_*``):

    * ``margin``: mean over rows with a positive and a negative label of
      (lowest positive score - highest negative score); positive means the row
      is perfectly separated;
    * ``card_pred`` and ``card_true``: mean predicted and true labels per row.

    With ``metric``, also ``valid_<metric>`` on the validation split.

    Labels are decided by ``rule``, the classifier's own decision rule. When
    ``metric`` is a set metric and the rule tunes its threshold
    (``threshold="auto"``), the threshold is tuned on each epoch's validation
    scores first, so that every epoch is judged by the labels ``predict`` would
    return if that epoch were kept. That search costs about a second per epoch
    on a few thousand validation rows, so it runs only then: otherwise
    ``card_pred`` of a tuned rule is taken at the loss's own threshold.

    Parameters
    ----------
    rule : DecisionRule
        The decision rule of ``predict``.
    metric : str or None
        A metric (or scorer) name of the metrics registry.
    """

    def __init__(self, rule, metric=None):
        self.rule = rule
        self.metric = metric

    def on_epoch_begin(self, net, **kwargs):
        self._seen = {True: [], False: []}

    def on_batch_end(self, net, batch=None, training=None, y_pred=None, **kwargs):
        target = batch[1][0]
        self._seen[bool(training)].append(
            (y_pred.detach().float().cpu().numpy(), target.cpu().numpy() > 0.5)
        )

    def on_epoch_end(self, net, **kwargs):
        seen = {
            training: (
                np.concatenate([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]),
            )
            for training, parts in self._seen.items()
            if parts
        }
        self._seen = {True: [], False: []}
        rule = self.rule
        if rule.tune is not None:
            judged_by_labels = (
                self.metric is not None
                and _get_metric(self.metric).response == "predict"
            )
            if judged_by_labels and False in seen:
                rule = rule.tuned(*seen[False])
            else:
                rule = rule.with_threshold(rule.threshold)
        for training, prefix in ((True, "train"), (False, "valid")):
            if training not in seen:
                continue
            scores, truth = seen[training]
            for key, value in self._summaries(scores, truth, rule).items():
                net.history.record(f"{prefix}_{key}", value)
            if not training and self.metric is not None:
                value = evaluate(self.metric, truth.astype(np.int8), scores, rule)
                net.history.record(f"valid_{_get_metric(self.metric).name}", value)

    @staticmethod
    def _summaries(scores, truth, rule):
        has_pair = truth.any(1) & ~truth.all(1)
        if has_pair.any():
            low_pos = np.where(truth, scores, np.inf).min(1)
            high_neg = np.where(truth, -np.inf, scores).max(1)
            margin = float(np.mean((low_pos - high_neg)[has_pair]))
        else:
            margin = float("nan")
        pred = rule.decide(scores)
        return {
            "margin": margin,
            "card_pred": float(pred.sum(1).mean()),
            "card_true": float(truth.sum(1).mean()),
        }


class StateCopy:
    """A copy of a module's state kept off the device, to load back later.

    The copy is held on the CPU when it is at most ``memory_limit`` bytes, and
    written to a temporary file otherwise, so that a 1 GiB embedding table (or
    a GPU model) is never held twice in memory. The file is removed by
    :meth:`drop`, or when the copy is garbage collected.

    Parameters
    ----------
    state : dict of str to torch.Tensor
        A module's ``state_dict()``.
    memory_limit : int
        Largest state (bytes) kept in memory.
    prefix : str
        Prefix of the temporary file's name.
    """

    def __init__(self, state, memory_limit, prefix):
        nbytes = sum(t.numel() * t.element_size() for t in state.values())
        self._finalizer = None
        if nbytes > memory_limit:
            fd, path = tempfile.mkstemp(prefix=prefix, suffix=".pt")
            os.close(fd)
            self._finalizer = weakref.finalize(self, _remove_file, path)
            torch.save(state, path)
            self.state = path
        else:
            self.state = {k: v.detach().to("cpu", copy=True) for k, v in state.items()}

    def load(self, device):
        """The state, its tensors on ``device`` (read back from the file if any)."""
        if isinstance(self.state, str):
            return torch.load(self.state, map_location=device, weights_only=True)
        return self.state

    def drop(self):
        """Free the copy (and remove its temporary file)."""
        if self._finalizer is not None:
            self._finalizer()
        self._finalizer = None
        self.state = None


class BestEpoch(EarlyStopping):
    """Early stopping that restores the best epoch without doubling memory.

    Differences from skorch's ``EarlyStopping(load_best=True)``, which deep-copies
    the module's state at every improvement and keeps the copy for good:

    * the best weights are kept as a CPU copy when the module's state is at
      most ``memory_limit`` bytes, and written to a temporary file otherwise
      (see :class:`StateCopy`), so that a 1 GiB embedding table (or a GPU
      model) is never held twice;
    * the copy is restored and then dropped at the end of training, so that a
      fitted (and pickled) net does not carry a second set of weights;
    * epochs without the monitored value (``partial_fit`` trains without a
      validation split) are skipped instead of failing;
    * its state, the best weights included, goes into training checkpoints
      (:meth:`checkpoint_state`).

    Parameters
    ----------
    monitor : str, default="valid_loss"
        History key to watch.
    patience : int, default=5
        Epochs without improvement before training stops.
    lower_is_better : bool, default=True
        Whether a lower monitored value is an improvement.
    sink : callable, default=print
        Where the stopping and restoring messages go (when the net is verbose).
    memory_limit : int, default=256 * 2**20
        Largest state (bytes) kept in memory; a larger one goes to a temporary
        file, removed when training ends.
    """

    def __init__(
        self,
        monitor="valid_loss",
        patience=5,
        lower_is_better=True,
        sink=print,
        memory_limit=256 * 2**20,
    ):
        super().__init__(
            monitor=monitor,
            patience=patience,
            lower_is_better=lower_is_better,
            load_best=False,  # done here, see on_epoch_end
            sink=sink,
        )
        self.memory_limit = memory_limit

    def on_train_begin(self, net, **kwargs):
        super().on_train_begin(net, **kwargs)
        self._drop_best()

    def on_epoch_end(self, net, **kwargs):
        if self.monitor not in net.history[-1]:
            return
        # super() sets best_epoch_ on an improvement, and raises
        # KeyboardInterrupt to stop only after an epoch without one.
        super().on_epoch_end(net, **kwargs)
        if self.best_epoch_ == net.history[-1, "epoch"]:
            self._keep(unwrapped(net.module_).state_dict())

    def on_train_end(self, net, **kwargs):
        if self.restores(net):
            unwrapped(net.module_).load_state_dict(self._best.load(net.device))
            self._sink(
                f"Restoring best model from epoch {self.best_epoch_}.",
                verbose=net.verbose,
            )
        self._drop_best()

    def restores(self, net):
        """Whether ``on_train_end`` loads the best epoch's weights into ``net``."""
        best = getattr(self, "_best", None)
        return best is not None and self.best_epoch_ != net.history[-1, "epoch"]

    def _keep(self, state):
        self._drop_best()
        self._best = StateCopy(state, self.memory_limit, "sklearn_zlpr_best_")

    def _drop_best(self):
        best = getattr(self, "_best", None)
        if best is not None:
            best.drop()  # removes the temporary file
        self._best = None

    def checkpoint_state(self, net):
        """The state to resume from: counters and the best weights (or None)."""
        best = getattr(self, "_best", None)
        return {
            "misses": int(self.misses_),
            "dynamic_threshold": float(self.dynamic_threshold_),
            "best_epoch": int(self.best_epoch_),
            "best": None if best is None else best.load("cpu"),
        }

    def load_checkpoint_state(self, net, state):
        """Resume from :meth:`checkpoint_state` (after ``on_train_begin``)."""
        self.misses_ = state["misses"]
        self.dynamic_threshold_ = state["dynamic_threshold"]
        self.best_epoch_ = state["best_epoch"]
        self._drop_best()
        if state["best"] is not None:
            self._keep(state["best"])

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_best", None)
        return state


def _remove_file(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


class LRSchedulers(Callback):
    """Any torch LR scheduler, stepped per epoch or per batch, for every optimizer.

    skorch's ``LRScheduler`` schedules ``optimizer_`` only; the sparse
    embedding table of ``ZLPRClassifier`` has an optimizer of its own, so this
    callback builds one scheduler per optimizer of the net.

    Parameters
    ----------
    policy : type
        A ``torch.optim.lr_scheduler`` class.
    params : dict
        Its keyword arguments.
    monitor : str
        History key passed to ``ReduceLROnPlateau``-like schedulers.
    step_every : {"epoch", "batch"}, default="epoch"
        Step after every epoch, or after every training batch.
    """

    def __init__(self, policy, params=None, monitor="valid_loss", step_every="epoch"):
        self.policy = policy
        self.params = params
        self.monitor = monitor
        self.step_every = step_every

    def on_train_begin(self, net, **kwargs):
        self.schedulers_ = [
            self.policy(optimizer, **(self.params or {}))
            for optimizer in net.optimizers()
        ]

    def on_batch_end(self, net, training=False, **kwargs):
        if training and self.step_every == "batch":
            for scheduler in self.schedulers_:
                scheduler.step()

    def on_epoch_end(self, net, **kwargs):
        if self.step_every == "epoch":
            plateau = isinstance(
                self.schedulers_[0], torch.optim.lr_scheduler.ReduceLROnPlateau
            )
            for scheduler in self.schedulers_:
                if plateau:
                    key = (
                        self.monitor
                        if self.monitor in net.history[-1]
                        else "train_loss"
                    )
                    scheduler.step(net.history[-1, key])
                else:
                    scheduler.step()
        net.history.record("lr", net.optimizer_.param_groups[-1]["lr"])

    def checkpoint_state(self, net):
        """The schedulers' states, to resume from."""
        return {"schedulers": [s.state_dict() for s in self.schedulers_]}

    def load_checkpoint_state(self, net, state):
        """Resume from :meth:`checkpoint_state` (after ``on_train_begin``).

        Building a scheduler sets its optimizer's learning rate to the initial
        one, so the rates are set back to where the saved schedule was.
        """
        for scheduler, saved in zip(self.schedulers_, state["schedulers"]):
            scheduler.load_state_dict(saved)
            rates = saved.get("_last_lr")
            if rates is not None:
                for group, lr in zip(scheduler.optimizer.param_groups, rates):
                    group["lr"] = lr

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("schedulers_", None)  # rebuilt at the next training start
        return state


class WarmupLinear:
    """Learning-rate factor: linear warm-up from 0, then linear decay to 0.

    For :class:`torch.optim.lr_scheduler.LambdaLR`, stepped once per batch: the
    factor rises from 0 to 1 over the first ``warmup_steps`` steps and falls
    linearly to 0 at ``total_steps`` (the schedule of BERT fine-tuning).

    Parameters
    ----------
    warmup_steps : int
    total_steps : int
    """

    def __init__(self, warmup_steps, total_steps):
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps

    def __call__(self, step):
        if step < self.warmup_steps:
            return (step + 1) / (self.warmup_steps + 1)
        remaining = self.total_steps - step
        return max(0.0, remaining / max(1, self.total_steps - self.warmup_steps))


class EpochCheckpoint(Callback):
    """Save the training state after every epoch, to resume a killed fit.

    Placed after the built-in callbacks, so that the saved state includes
    their updates of the epoch (the best epoch, the learning-rate schedule).
    The stopping epoch of early stopping is not saved (the stop is raised
    before this callback runs): a fit resumed from the epoch before repeats
    it exactly, and stops there again.

    While ``checkpoint`` is None (the default, and outside ``fit``) it does
    nothing. The state is gathered by
    :func:`sklearn_zlpr._checkpoint.training_state`.

    Parameters
    ----------
    checkpoint : sklearn_zlpr._checkpoint.Checkpoint or None, default=None
        Where to save.
    start_epoch : int, default=0
        Epochs in the history before this fit (a warm start's).
    """

    def __init__(self, checkpoint=None, start_epoch=0):
        self.checkpoint = checkpoint
        self.start_epoch = start_epoch

    def on_train_begin(self, net, **kwargs):
        # The other callbacks have just reset their state: set it back.
        resume, self.resume_ = getattr(self, "resume_", None), None
        if resume:
            callbacks = dict(net.callbacks_)
            for name, state in resume.items():
                callbacks[name].load_checkpoint_state(net, state)

    def on_epoch_end(self, net, **kwargs):
        if self.checkpoint is not None:
            epochs = len(net.history) - self.start_epoch
            self.checkpoint.save(training_state(net, epochs))
