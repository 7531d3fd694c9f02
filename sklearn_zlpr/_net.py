"""The private skorch net behind ZLPRClassifier."""

import torch
from skorch import NeuralNet
from skorch.dataset import unpack_data
from skorch.utils import TeeGenerator

from ._data import SparseBatch, TextBatch
from .losses import prediction_rule, rdrop_divergence


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
      mean, or the criterion returns a scalar and no weights are used.
    """

    def __init__(
        self,
        module,
        criterion,
        rdrop_alpha=0.0,
        label_smoothing=0.0,
        amp_dtype=None,
        **kwargs,
    ):
        super().__init__(module, criterion, **kwargs)
        self.rdrop_alpha = rdrop_alpha
        self.label_smoothing = label_smoothing
        self.amp_dtype = amp_dtype

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
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

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
        """Raw scores for every row of ``dataset``, as a float32 CPU tensor."""
        with torch.inference_mode():
            return self.forward(dataset, training=False, device="cpu")
