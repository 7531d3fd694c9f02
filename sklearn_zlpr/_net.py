"""The private skorch net behind ZLPRClassifier."""

import torch
from skorch import NeuralNet

from ._data import SparseBatch


class ZLPRNet(NeuralNet):
    """skorch ``NeuralNet`` for raw multi-label scores.

    Differences from :class:`skorch.NeuralNet`:

    * a batch ``X`` is a :class:`~sklearn_zlpr._data.SparseBatch` (fed to the
      module as ``indices, offsets, weights``) or a dense tensor;
    * a batch ``y`` is ``(target, sample_weight or None)``; the criterion returns
      per-sample losses (``reduction="none"``) and this net takes the weighted
      mean, or the criterion returns a scalar and no weights are used.
    """

    def infer(self, x, **fit_params):
        x = x.to(self.device)
        if isinstance(x, SparseBatch):
            return self.module_(x.indices, x.offsets, x.weights, **fit_params)
        return self.module_(x, **fit_params)

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
