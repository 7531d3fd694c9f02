"""Multi-label losses on raw scores.

Conventions
-----------
* ``input`` holds raw scores ``s`` of shape ``(n_samples, n_labels)``; no sigmoid
  is applied before a loss, and no loss applies one to its input by surprise.
* ``target`` has the same shape, with 1 for a relevant label and 0 otherwise.
* Call order follows :mod:`torch.nn`: ``loss(input, target)``.
* ``reduction`` is one of ``"mean"`` (average of the per-sample values over the
  batch), ``"sum"`` or ``"none"`` (the per-sample values, shape ``(n_samples,)``).
  The per-sample value is the paper's formula summed over labels.
* Every loss computes in at least float32, so it is safe under fp16/bf16
  autocast, and every loss is stable for scores of any magnitude.
* Each loss module declares how a classifier turns its scores into decisions and
  probabilities: ``decision_threshold`` (predict ``s > threshold``) and
  ``proba_scale`` (``predict_proba = sigmoid(proba_scale * s)``).

Equation numbers refer to Su et al., "ZLPR: A Novel Loss for Multi-label
Classification".
"""

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "LOSSES",
    "BCELoss",
    "ZLPRLoss",
    "bce_loss",
    "get_loss",
    "zlpr_loss",
]

_REDUCTIONS = ("mean", "sum", "none")


def _check_inputs(input, target, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}; got {reduction!r}.")
    if not isinstance(input, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise TypeError(
            "input and target must be torch tensors; got "
            f"{type(input).__name__} and {type(target).__name__}."
        )
    if input.ndim != 2 or input.shape != target.shape:
        raise ValueError(
            "input and target must both have shape (n_samples, n_labels); got "
            f"{tuple(input.shape)} and {tuple(target.shape)}."
        )
    # Compute in float32 at least: half precision log-sum-exp loses the loss.
    dtype = torch.promote_types(input.dtype, torch.float32)
    return input.to(dtype), target.to(dtype)


def _reduce(per_sample, reduction):
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "sum":
        return per_sample.sum()
    return per_sample


def zlpr_loss(input, target, reduction="mean"):
    r"""Zero-bounded log-sum-exp & pairwise rank-based loss (paper Eq. 1).

    .. math::

        \mathcal{L} = \log\Big(1 + \sum_{i \in \Omega_{pos}} e^{-s_i}\Big)
                    + \log\Big(1 + \sum_{j \in \Omega_{neg}} e^{s_j}\Big)

    Parameters
    ----------
    input : torch.Tensor of shape (n_samples, n_labels)
        Raw scores ``s``.
    target : torch.Tensor of shape (n_samples, n_labels)
        Binary relevance, 1 for a positive label, 0 for a negative one.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or the per-sample losses of shape ``(n_samples,)`` for
        ``reduction="none"``.

    Notes
    -----
    Each log term is a log-sum-exp with an appended zero score (the "1 +"),
    computed with :func:`torch.logsumexp`, so it stays finite for any score
    magnitude and is correct for rows without positives or negatives (the term
    is then ``log 1 = 0``). Cost and memory are O(n_samples x n_labels).

    Examples
    --------
    >>> import torch
    >>> from sklearn_zlpr.losses import zlpr_loss
    >>> s = torch.tensor([[2.0, -1.0, 0.5]])
    >>> y = torch.tensor([[1.0, 0.0, 0.0]])
    >>> round(zlpr_loss(s, y).item(), 4)
    1.2311
    """
    s, y = _check_inputs(input, target, reduction)
    positive = y > 0.5
    neg_inf = torch.tensor(float("-inf"), dtype=s.dtype, device=s.device)
    zero = torch.zeros_like(s[:, :1])
    pos_term = torch.logsumexp(
        torch.cat([zero, torch.where(positive, -s, neg_inf)], 1), 1
    )
    neg_term = torch.logsumexp(
        torch.cat([zero, torch.where(positive, neg_inf, s)], 1), 1
    )
    return _reduce(pos_term + neg_term, reduction)


def bce_loss(input, target, reduction="mean"):
    r"""Binary cross-entropy on raw scores, summed over labels (paper Eq. 14).

    .. math::

        \mathcal{L} = -\sum_l \big[y_l \log \sigma(s_l)
                      + (1 - y_l) \log (1 - \sigma(s_l))\big]

    Parameters
    ----------
    input : torch.Tensor of shape (n_samples, n_labels)
        Raw scores ``s`` (logits).
    target : torch.Tensor of shape (n_samples, n_labels)
        Targets in [0, 1].
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or the per-sample losses for ``reduction="none"``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_zlpr.losses import bce_loss
    >>> round(bce_loss(torch.zeros(1, 2), torch.tensor([[1.0, 0.0]])).item(), 4)
    1.3863
    """
    s, y = _check_inputs(input, target, reduction)
    per_sample = F.binary_cross_entropy_with_logits(s, y, reduction="none").sum(1)
    return _reduce(per_sample, reduction)


class _Loss(nn.Module):
    """Base class: stores ``reduction`` and calls a functional loss."""

    #: predict ``s > decision_threshold`` by default.
    decision_threshold = 0.0
    #: predict_proba is ``sigmoid(proba_scale * s)``.
    proba_scale = 1.0

    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f"reduction must be one of {_REDUCTIONS}; got {reduction!r}."
            )
        self.reduction = reduction

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class ZLPRLoss(_Loss):
    """Module form of :func:`zlpr_loss` (paper Eq. 1).

    Predictions use the paper's zero bound ``s > 0`` and probabilities
    ``sigmoid(2 s)`` (paper appendix, Eq. 35).

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.

    Examples
    --------
    >>> import torch
    >>> from sklearn_zlpr.losses import ZLPRLoss
    >>> loss = ZLPRLoss()
    >>> loss(torch.zeros(2, 3), torch.tensor([[1.0, 0, 0], [0, 0, 0]])).item() > 0
    True
    """

    proba_scale = 2.0

    def forward(self, input, target):
        return zlpr_loss(input, target, reduction=self.reduction)


class BCELoss(_Loss):
    """Module form of :func:`bce_loss` (paper Eq. 14).

    Predictions use ``s > 0`` and probabilities ``sigmoid(s)``.

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.

    Examples
    --------
    >>> import torch
    >>> from sklearn_zlpr.losses import BCELoss
    >>> BCELoss(reduction="none")(torch.zeros(2, 3), torch.zeros(2, 3)).shape
    torch.Size([2])
    """

    def forward(self, input, target):
        return bce_loss(input, target, reduction=self.reduction)


_REGISTRY = {"zlpr": ZLPRLoss, "bce": BCELoss}

#: Names accepted by :func:`get_loss` and ``ZLPRClassifier(loss=...)``.
LOSSES = tuple(_REGISTRY)


def get_loss(name, **params):
    """Return a loss module by name.

    Parameters
    ----------
    name : str
        One of :data:`LOSSES`.
    **params
        Passed to the loss module, e.g. ``reduction="sum"``.

    Returns
    -------
    loss : torch.nn.Module
        The loss, called as ``loss(input, target)``.

    Examples
    --------
    >>> from sklearn_zlpr.losses import get_loss
    >>> get_loss("zlpr")
    ZLPRLoss(reduction='mean')
    """
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"Unknown loss {name!r}; expected one of {LOSSES}.")
    return _REGISTRY[name](**params)
