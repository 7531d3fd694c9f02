"""The private skorch net behind ZLPRClassifier."""

import math

import torch
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping
from skorch.dataset import unpack_data
from skorch.utils import TeeGenerator

from ._callbacks import BestEpoch, StateCopy, unwrapped
from ._data import SparseBatch, TextBatch
from .losses import prediction_rule, rdrop_divergence


class NonFiniteTrainingError(ValueError):
    """Training produced a loss, a gradient or a weight that is NaN or infinite.

    Parameters
    ----------
    message : str
        What was not finite, where, and what to do.
    problem : str
        What was not finite ("the training loss is nan", ...).
    where : str
        When: "epoch 3, batch 7" or "the end of epoch 3".
    """

    def __init__(self, message, problem, where):
        super().__init__(message)
        self.problem = problem
        self.where = where


def _all_finite(tensors):
    """Whether every value of ``tensors`` is finite.

    The fast test is their sum (NaN and inf propagate to it, and summing is
    several times faster than ``isfinite`` or a maximum on large tensors); a
    sum that overflowed from finite values is told apart by the exact test.
    """
    if not tensors:
        return True
    total = sum(t.sum(dtype=torch.float32) for t in tensors)
    if bool(torch.isfinite(total)):
        return True
    return all(bool(torch.isfinite(t).all()) for t in tensors)


class ZLPRNet(NeuralNet):
    """skorch ``NeuralNet`` for raw multi-label scores.

    Differences from :class:`skorch.NeuralNet`:

    * a batch ``X`` is a :class:`~sklearn_zlpr._data.SparseBatch` (fed to the
      module as ``indices, offsets, weights``), a
      :class:`~sklearn_zlpr._data.TextBatch` (fed as the tokenizer's keyword
      arguments) or a dense tensor;
    * with ``amp_dtype`` (for example ``torch.bfloat16``) the forward pass runs
      under :func:`torch.autocast` (mixed precision); scores come back as
      float32, so the losses always run in float32;
    * a batch ``y`` is ``(target, sample_weight or None)``; the criterion returns
      per-sample losses (``reduction="none"``) and this net takes the weighted
      mean, or the criterion returns a scalar and no weights are used;
    * with ``on_nonfinite`` (see :meth:`check_step`), a NaN or infinite loss,
      gradient or weight stops training with a
      :class:`NonFiniteTrainingError` naming the epoch and the batch
      (``"raise"``), or ends it on the last finite weights (``"restore"``);
    * a training loop stopped by ``KeyboardInterrupt`` (Ctrl-C), or by
      ``on_nonfinite="restore"``, says so in ``interrupted_`` (a message, None
      after a complete loop) and ``stopped_by_`` (``"KeyboardInterrupt"``,
      ``"on_nonfinite"`` or None). Early stopping, which skorch also signals
      with ``KeyboardInterrupt``, is not an interruption.
    """

    def __init__(
        self,
        module,
        criterion,
        rdrop_alpha=0.0,
        label_smoothing=0.0,
        amp_dtype=None,
        on_nonfinite="raise",
        **kwargs,
    ):
        super().__init__(module, criterion, **kwargs)
        self.rdrop_alpha = rdrop_alpha
        self.label_smoothing = label_smoothing
        self.amp_dtype = amp_dtype
        self.on_nonfinite = on_nonfinite

    def train_step_single(self, batch, **fit_params):
        """One training step, with label smoothing and R-drop when enabled.

        R-drop (paper appendix B): two forward passes with dropout, the mean
        of their task losses plus ``rdrop_alpha`` times the symmetric divergence
        of Eq. 37 between them. Off at inference (one pass, eval mode).
        """
        self._set_training(True)
        Xi, (target, weight) = unpack_data(batch)
        if self.label_smoothing:
            target = target * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, (target, weight), X=Xi, training=True)
        if self.rdrop_alpha:
            y_pred2 = self.infer(Xi, **fit_params)
            loss2 = self.get_loss(y_pred2, (target, weight), X=Xi, training=True)
            scale = prediction_rule(self.criterion_)["proba_scale"]
            div = rdrop_divergence(y_pred, y_pred2, scale=scale, reduction="none")
            if weight is not None:
                div = div * weight.to(div.device)
            loss = 0.5 * (loss + loss2) + self.rdrop_alpha * div.mean()
        self.backward(loss)
        if self.on_nonfinite is not None:
            self.check_step(loss)
        return {"loss": loss, "y_pred": y_pred}

    def backward(self, loss):
        """The backward pass of a training step (a hook for data parallelism)."""
        loss.backward()

    # ------------------------------------------------ non-finite values
    def check_step(self, loss):
        """Raise :class:`NonFiniteTrainingError` unless the training loss is finite.

        Called after the backward pass, before the optimizer step: a NaN or
        infinite loss never moves the weights. A non-finite gradient (or an
        update that overflows) shows at the next step, whose loss it makes
        non-finite, or in the weights checked after the epoch: checking every
        gradient at every step would cost up to a tenth of the training time
        (one pass over a large embedding table's gradient), checking the loss
        costs nothing (skorch synchronises on it anyway to record it).
        """
        if bool(torch.isfinite(loss.detach())):
            return
        note = ""
        if not self._weights_finite():
            note = (
                " (the weights already were NaN or infinite: the previous "
                "step's gradient or update overflowed)"
            )
        raise self._nonfinite(
            f"the training loss is {loss.detach().item()}",
            batch=len(self.history[-1, "batches"]),
            note=note,
        )

    def _nonfinite(self, problem, batch=None, note=""):
        """The error for ``problem`` found in the current epoch (and batch)."""
        epoch = self.history[-1, "epoch"] if len(self.history) else 0
        where = (
            f"epoch {epoch}, batch {batch}" if batch else f"the end of epoch {epoch}"
        )
        return NonFiniteTrainingError(
            f"Training diverged: {problem} at {where}{note}. To fix it, "
            f"{self._remedies()}; or "
            "set on_nonfinite='restore' to end training on the last finite "
            "weights instead of failing.",
            problem=problem,
            where=where,
        )

    def _remedies(self):
        lr = getattr(self, "optimizer__lr", self.lr)
        return (
            f"lower the learning rate (lr={lr:g}), scale the features (for "
            "example with StandardScaler or MaxAbsScaler: very large values "
            "overflow float32), or clip the gradients (max_grad_norm)"
        )

    def _weights_finite(self):
        state = self.module_.state_dict().values()
        return _all_finite([t for t in state if t.is_floating_point()])

    def on_train_begin(self, net, **kwargs):
        super().on_train_begin(net, **kwargs)
        self.interrupted_ = self.stopped_by_ = None
        self._last_finite = None
        if self.on_nonfinite == "restore":
            self._keep_finite()

    def on_epoch_end(self, net, **kwargs):
        """Check the epoch's validation losses and the weights (before callbacks)."""
        super().on_epoch_end(net, **kwargs)
        if self.on_nonfinite is None:
            return
        for batch in self.history[-1, "batches"]:
            value = batch.get("valid_loss", 0.0)
            if not math.isfinite(value):
                raise self._nonfinite(f"the validation loss is {value}")
        if not self._weights_finite():
            raise self._nonfinite("some weights are NaN or infinite")
        if self.on_nonfinite == "restore":
            self._keep_finite()

    def _keep_finite(self):
        """Keep a copy of the (finite) weights, to restore on divergence."""
        if self._last_finite is not None:
            self._last_finite[1].drop()
        epoch = self.history[-1, "epoch"] if len(self.history) else 0
        copy = StateCopy(
            unwrapped(self.module_).state_dict(), 256 * 2**20, "sklearn_zlpr_finite_"
        )
        self._last_finite = (epoch, copy)

    def _restore_last_finite(self):
        """Load the last finite weights; return the epoch the model keeps."""
        epoch, copy = self._last_finite
        unwrapped(self.module_).load_state_dict(copy.load(self.device))
        copy.drop()
        self._last_finite = None
        # The optimizers' moments may hold the non-finite values: start them
        # anew, so that a later partial_fit does not step on them.
        self.initialize_optimizer()
        best = next(
            (cb for _, cb in self.callbacks_ if isinstance(cb, BestEpoch)), None
        )
        # Early stopping then restores its best epoch (at most this one).
        if best is not None and best.restores(self):
            return best.best_epoch_
        return epoch

    # ------------------------------------------------ the training loop
    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        """skorch's loop; records interruptions and restores on divergence.

        On a :class:`NonFiniteTrainingError` with ``on_nonfinite="restore"``,
        the last finite weights are loaded and training ends as skorch ends
        it on ``KeyboardInterrupt`` (the callbacks' ``on_train_end`` runs, so
        early stopping restores its best epoch); ``interrupted_`` says what
        happened. A ``KeyboardInterrupt`` that no early-stopping callback
        raised (Ctrl-C) is recorded in ``interrupted_`` too.
        """
        self.interrupted_ = self.stopped_by_ = None
        try:
            return super().fit_loop(X, y, epochs, **fit_params)
        except NonFiniteTrainingError as error:
            if self.on_nonfinite != "restore":
                raise
            self.stopped_by_ = "on_nonfinite"
            epoch = self._restore_last_finite()
            kept = f"the weights of epoch {epoch}" if epoch else "the initial weights"
            self.interrupted_ = (
                f"Training diverged: {error.problem} at {error.where}. As "
                f"on_nonfinite='restore' asks, training ended there and the "
                f"model keeps {kept}. To train further, {self._remedies()}."
            )
            raise KeyboardInterrupt from error  # skorch's way to end training
        except KeyboardInterrupt:
            if not self._early_stopped():
                self.stopped_by_ = "KeyboardInterrupt"
                self.interrupted_ = self._interruption()
            raise

    def _early_stopped(self):
        return any(
            isinstance(cb, EarlyStopping) and getattr(cb, "misses_", 0) >= cb.patience
            for _, cb in self.callbacks_
        )

    def _interruption(self):
        epoch = self.history[-1, "epoch"] if len(self.history) else 0
        rows = self.history[-1, "batches"] if len(self.history) else []
        batch = sum("train_loss" in row for row in rows)
        best = next(
            (cb for _, cb in self.callbacks_ if isinstance(cb, BestEpoch)), None
        )
        if best is not None and best.restores(self):
            kept = f"the weights of its best epoch so far, {best.best_epoch_}"
        else:
            kept = "the weights of its last training step"
        return (
            f"Training was interrupted (KeyboardInterrupt) in epoch {epoch}, "
            f"after {batch} training batches of it; the model is usable and "
            f"keeps {kept}."
        )

    def initialize_optimizer(self, *args, **kwargs):
        """Create the optimizer; sparse embedding tables get SparseAdam.

        Parameters that receive sparse gradients (the embedding table of a
        sparse-input module built with ``sparse=True``) are updated by
        :class:`torch.optim.SparseAdam` (lazy Adam: only the rows of features
        present in a batch move), registered as ``optimizer_sparse_``; every
        other parameter by ``optimizer`` as usual.
        """
        sparse_names = set(getattr(self.module_, "sparse_parameter_names", list)())
        if not sparse_names:
            return super().initialize_optimizer(*args, **kwargs)
        named = list(self.get_all_learnable_params())
        dense = [(n, p) for n, p in named if n not in sparse_names]
        sparse = [p for n, p in named if n in sparse_names]
        opt_args, opt_kwargs = self.get_params_for_optimizer("optimizer", dense)
        self.optimizer_ = self.optimizer(*opt_args, **opt_kwargs)
        shared = {k: opt_kwargs[k] for k in ("betas", "eps") if k in opt_kwargs}
        self.optimizer_sparse_ = torch.optim.SparseAdam(
            sparse, lr=opt_kwargs.get("lr", self.lr), **shared
        )
        return self

    def optimizers(self):
        """The initialised optimizers: ``optimizer_``, then ``optimizer_sparse_``."""
        names = ("optimizer_", "optimizer_sparse_")
        return [getattr(self, name) for name in names if hasattr(self, name)]

    def train_step(self, batch, **fit_params):
        """One optimisation step on ``batch``, for one optimizer or two.

        With one optimizer this is skorch's step. With the sparse embedding
        table's own optimizer as well, the forward and backward pass runs once
        and each optimizer then steps without a closure: skorch would hand the
        closure to every optimizer, which would run it once per optimizer, the
        second time on parameters the first had already moved.
        """
        optimizers = self.optimizers()
        if len(optimizers) == 1:
            return super().train_step(batch, **fit_params)
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        step = self.train_step_single(batch, **fit_params)
        self.notify(
            "on_grad_computed",
            named_parameters=TeeGenerator(self.get_all_learnable_params()),
            batch=batch,
            training=True,
        )
        for optimizer in optimizers:
            optimizer.step()
        return step

    def infer(self, x, **fit_params):
        x = x.to(self.device)
        with torch.autocast(
            device_type=torch.device(self.device).type,
            dtype=self.amp_dtype,
            enabled=self.amp_dtype is not None,
        ):
            if isinstance(x, SparseBatch):
                out = self.module_(x.indices, x.offsets, x.weights, **fit_params)
            elif isinstance(x, TextBatch):
                out = self.module_(**x.encoding, **fit_params)
            else:
                out = self.module_(x, **fit_params)
        return out.float()

    def get_loss(self, y_pred, y_true, X=None, training=False):
        target, weight = y_true
        loss = self.criterion_(y_pred, target.to(y_pred.device))
        if loss.ndim == 0:
            return loss
        if weight is not None:
            loss = loss * weight.to(loss.device)
        return loss.mean()

    def predict_scores(self, dataset):
        """Raw scores for every row of ``dataset``, as a float32 CPU tensor.

        The caller's global torch generator is left alone (a ``DataLoader``
        draws its base seed from it; scoring must not change what the
        caller's code draws next).
        """
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            return self.forward(dataset, training=False, device="cpu")
