"""Multi-label losses on raw scores: every loss of the ZLPR paper, and ASL.

Each loss comes as a function (for example :func:`zlpr_loss`) and as a
:class:`torch.nn.Module` (:class:`ZLPRLoss`). :func:`get_loss` returns a module
by name; the names, which ``ZLPRClassifier(loss=...)`` also accepts, are listed
in :data:`LOSSES`.

Conventions
-----------
* ``input`` holds raw scores ``s`` of shape ``(n_samples, n_labels)``; no loss
  applies a sigmoid to its input unless its formula says so (the BR losses are
  written in terms of ``p = sigmoid(s)``, computed stably inside).
* ``target`` has the same shape, 1 for a relevant label and 0 otherwise.
  ``soft_zlpr``, ``bce``, ``focal``, ``asl``, ``dice1`` and ``dice2`` also accept
  soft targets in [0, 1] (their class attribute ``accepts_soft_targets`` is
  True); the ranking losses (``rank_hinge``, ``warp``, ``bpmll``, ``lsep``,
  ``lsep_sampled``) and ``zlpr``/``tlpr`` use hard targets ``target > 0.5``.
* Call order follows :mod:`torch.nn`: ``loss(input, target)``.
* ``reduction`` is one of ``"mean"`` (average of the per-sample values over the
  batch), ``"sum"`` or ``"none"`` (the per-sample values, shape ``(n_samples,)``).
  The per-sample value is the paper's formula summed over labels. ``dice2`` is a
  batch-level loss: ``"mean"`` and ``"sum"`` both return the batch value and
  ``"none"`` raises.
* Every loss computes in at least float32 (safe under fp16/bf16 autocast) and is
  finite, with finite gradients, for scores of any magnitude.
* No loss builds an ``(n_samples, n_labels, n_labels)`` tensor. The log-sum-exp
  losses (ZLPR, TLPR, soft-ZLPR, LSEP, BP-MLL) are O(L) per row through an exact
  factorisation; the hinge losses (``rank_hinge``, ``warp``) are O(L log K) for K
  positives through sorting the positives and binary search; ``lsep_sampled``
  builds ``(n_samples, n_pairs)``.
* Each loss module declares its capabilities as class attributes, which a
  classifier reads without building the loss (user modules without them get
  the defaults, in parentheses):

  - ``decision_threshold`` (0.0): predict ``s > threshold``; ``None`` for the
    pure ranking losses, which have no natural threshold. ``proba_scale`` (1.0)
    and ``proba_offset`` (0.0): ``predict_proba = sigmoid(proba_scale * (s -
    proba_offset))``; TLPR's depend on ``s0``. See :func:`prediction_rule`.
  - ``accepts_soft_targets`` (False): the loss takes targets in [0, 1]; label
    smoothing needs it.
  - ``supports_label_weight`` (False): the loss takes per-label weights, as the
    constructor argument ``label_weight`` (``ZLPRLoss(label_weight=w)``),
    stored as a float32 buffer that follows ``.to(device)``.
  - ``batch_level`` (False): the loss has no per-sample value (``dice2``), so
    no ``reduction="none"`` and no sample weights.
* The log-sum-exp core is compiled with :func:`torch.compile` for 512 labels
  and more in float32 (``SKLEARN_ZLPR_COMPILE=0`` turns this off); where the
  compiler fails it runs eagerly, with a warning.

Equation numbers refer to Su et al., "ZLPR: A Novel Loss for Multi-label
Classification" (arXiv:2208.02955).
"""

import copy
import os
import warnings

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "LOSSES",
    "ASLLoss",
    "BCELoss",
    "BPMLLLoss",
    "Dice1Loss",
    "Dice2Loss",
    "FocalLoss",
    "LSEPLoss",
    "LSEPSampledLoss",
    "RankHingeLoss",
    "SoftZLPRLoss",
    "TLPRLoss",
    "WARPLoss",
    "ZLPRLoss",
    "asl_loss",
    "bce_loss",
    "bpmll_loss",
    "dice1_loss",
    "dice2_loss",
    "focal_loss",
    "get_loss",
    "lsep_loss",
    "lsep_sampled_loss",
    "prediction_rule",
    "rank_hinge_loss",
    "rdrop_divergence",
    "soft_zlpr_loss",
    "tlpr_loss",
    "warp_loss",
    "zlpr_loss",
]

_REDUCTIONS = ("mean", "sum", "none")


# --------------------------------------------------------------------------
# Shared checks and reduction
def _check_inputs(input, target, reduction, soft=False):
    s = _check_shapes(input, target, reduction)
    # Compute in float32 at least: half precision loses these losses.
    if soft:
        return s, target.to(s.dtype)
    return s, (target > 0.5).to(s.dtype)


def _reduce(per_sample, reduction):
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "sum":
        return per_sample.sum()
    return per_sample


# --------------------------------------------------------------------------
# Log-sum-exp core: O(L) per row, analytic gradient, optionally compiled
def _lse_core_eager(s, target, one, hard, s0, weight=None):
    """Sum of both sides' log-sum-exp, and its gradient.

    With ``y = target > 0.5`` (``hard``) or ``y = target``, returns per row

        t = log(one + sum_l y_l e^{-(s_l - s0)}) + log(one + sum_l (1 - y_l) e^{s_l - s0})

    for ``one`` in {0, 1}, and ``g = dt/ds`` = (softmax of the negative side) -
    (softmax of the positive side), each side including the ``one`` term.
    Each side is shifted by its own maximum over its support (and 0 when
    ``one``), so nothing overflows; an empty side without the one gives
    ``t = -inf`` and zero weights. Every user of the core (ZLPR, TLPR,
    soft-ZLPR, LSEP, BP-MLL) is a function of ``t`` alone, so one gradient
    tensor is enough.
    """
    if s0 != 0.0:
        s = s - s0
    y = (target > 0.5).to(s.dtype) if hard else target.to(s.dtype)
    w_neg = 1.0 - y
    if weight is not None:  # label weights multiply each label's exponential
        y = y * weight
        w_neg = w_neg * weight
    very_negative = torch.finfo(s.dtype).min
    z_pos = torch.where(y > 0, -s, very_negative)
    z_neg = torch.where(w_neg > 0, s, very_negative)
    m_pos = z_pos.amax(1, keepdim=True)
    m_neg = z_neg.amax(1, keepdim=True)
    if one:
        m_pos = m_pos.clamp_min(0)
        m_neg = m_neg.clamp_min(0)
    e_pos = y * torch.exp(z_pos - m_pos)
    e_neg = w_neg * torch.exp(z_neg - m_neg)
    sum_pos = e_pos.sum(1, keepdim=True)
    sum_neg = e_neg.sum(1, keepdim=True)
    if one:
        sum_pos = sum_pos + torch.exp(-m_pos)
        sum_neg = sum_neg + torch.exp(-m_neg)
    tiny = torch.finfo(s.dtype).tiny
    t = torch.log(sum_pos) + m_pos + torch.log(sum_neg) + m_neg
    g = e_neg / sum_neg.clamp_min(tiny) - e_pos / sum_pos.clamp_min(tiny)
    return t.squeeze(1), g


#: Label count from which the compiled core is used (below it, compiling
#: gains nothing and its start-up cost dominates).
_COMPILE_MIN_LABELS = 512


def _compiled_lse_core(s, target, one, hard, s0, weight):
    """Run :func:`_lse_core_eager` compiled (see :mod:`sklearn_zlpr._compiled`).

    The compiled function is a constant of a private module imported here, on
    first use, because importing the compiler costs seconds; no state of ours
    changes at run time.
    """
    from ._compiled import LSE_CORE

    return LSE_CORE(s, target, one, hard, s0, weight)


def _lse_core_forward(s, target, one, hard, s0, weight=None):
    if (
        s.shape[1] >= _COMPILE_MIN_LABELS
        and s.dtype == torch.float32
        and os.environ.get("SKLEARN_ZLPR_COMPILE", "1") != "0"
        and not torch.compiler.is_compiling()
    ):
        try:
            return _compiled_lse_core(s, target, one, hard, s0, weight)
        except Exception as exc:  # noqa: BLE001 - no compiler, device, ...
            warnings.warn(
                f"torch.compile is not usable here ({type(exc).__name__}: {exc}); "
                "sklearn_zlpr losses fall back to eager PyTorch. Set "
                "SKLEARN_ZLPR_COMPILE=0 to skip the attempt.",
                RuntimeWarning,
                stacklevel=3,
            )
    return _lse_core_eager(s, target, one, hard, s0, weight)


class _LSECore(torch.autograd.Function):
    """Autograd wrapper of the core with its analytic gradient."""

    @staticmethod
    def forward(ctx, s, target, one, hard, s0, weight):
        t, g = _lse_core_forward(s, target, one, hard, s0, weight)
        ctx.save_for_backward(g)
        return t

    @staticmethod
    def backward(ctx, grad_t):
        (g,) = ctx.saved_tensors
        return grad_t[:, None] * g, None, None, None, None, None


def _lse_core(s, target, *, one, hard=True, s0=0.0, weight=None):
    if weight is not None:
        weight = _check_label_weight(weight, s)
    return _LSECore.apply(s, target.detach(), int(one), bool(hard), float(s0), weight)


def _check_label_weight(weight, s):
    weight = torch.as_tensor(weight, dtype=s.dtype, device=s.device).detach()
    if weight.shape != (s.shape[1],):
        raise ValueError(
            f"label_weight must have shape (n_labels,) = ({s.shape[1]},); got "
            f"{tuple(weight.shape)}."
        )
    if not torch.isfinite(weight).all() or (weight <= 0).any():
        raise ValueError("label_weight must be finite and positive.")
    return weight


def _check_shapes(input, target, reduction):
    """Validate without converting the target (the core converts it, fused)."""
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
    return input.to(torch.promote_types(input.dtype, torch.float32))


# --------------------------------------------------------------------------
# Functional forms
def zlpr_loss(input, target, reduction="mean", label_weight=None):
    r"""Zero-bounded log-sum-exp & pairwise rank-based loss, ZLPR (paper Eq. 1).

    The paper's loss: every positive label's score should be above 0 and every
    negative label's score below 0, so the decision threshold is learned too.

    Parameters
    ----------
    input : torch.Tensor of shape (n_samples, n_labels)
        Raw scores ``s``.
    target : torch.Tensor of shape (n_samples, n_labels)
        Binary relevance (``target > 0.5`` is positive).
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.
    label_weight : torch.Tensor of shape (n_labels,), default=None
        Positive per-label weights, each multiplying its label's exponential
        inside the log-sum-exp.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or the per-sample losses of shape ``(n_samples,)`` for
        ``reduction="none"``.

    See Also
    --------
    ZLPRLoss : The module form.
    tlpr_loss : ZLPR with a threshold score ``s0`` in place of 0.
    soft_zlpr_loss : ZLPR for soft targets.

    Notes
    -----
    Paper Eq. 1, with :math:`\Omega_{pos}` and :math:`\Omega_{neg}` the
    positive and negative labels of a row:

    .. math::

        \mathcal{L}_{zlpr} = \log\Big(1 + \sum_{i \in \Omega_{pos}} e^{-s_i}\Big)
                    + \log\Big(1 + \sum_{j \in \Omega_{neg}} e^{s_j}\Big)

    With ``label_weight`` ``w``, each exponential ``e^{-s_i}`` or ``e^{s_j}`` is
    multiplied by its label's weight.

    Each log term is a log-sum-exp with an appended zero score (the "1 +"),
    shifted by its own maximum, so it is finite for any score magnitude and
    correct for rows without positives or negatives (the term is then
    ``log 1 = 0``). The gradient is analytic: ``-softmax`` over the positive
    side and ``+softmax`` over the negative side, each including the zero
    score (paper Eq. 10). O(n_labels) per row; for 512 labels and more the core
    is compiled with :func:`torch.compile` where available.

    Examples
    --------
    >>> import torch
    >>> from sklearn_zlpr.losses import zlpr_loss
    >>> s = torch.tensor([[2.0, -1.0, 0.5]])
    >>> y = torch.tensor([[1.0, 0.0, 0.0]])
    >>> round(zlpr_loss(s, y).item(), 4)
    1.2311
    """
    s = _check_shapes(input, target, reduction)
    return _reduce(_lse_core(s, target, one=1, weight=label_weight), reduction)


def tlpr_loss(input, target, s0=0.0, reduction="mean", label_weight=None):
    r"""Threshold-bounded log-sum-exp & pairwise rank-based loss, TLPR (paper Eq. 6).

    Equal to :func:`zlpr_loss` of ``s - s0``; ``s0 = 0`` gives ZLPR.

    Parameters
    ----------
    input : torch.Tensor of shape (n_samples, n_labels)
        Raw scores ``s``.
    target : torch.Tensor of shape (n_samples, n_labels)
        Binary relevance (``target > 0.5`` is positive).
    s0 : float, default=0.0
        The threshold score; a classifier predicts ``s > s0``.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.
    label_weight : torch.Tensor of shape (n_labels,), default=None
        Positive per-label weights, each multiplying its label's exponential
        inside the log-sum-exp.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or the per-sample losses of shape ``(n_samples,)`` for
        ``reduction="none"``.

    See Also
    --------
    TLPRLoss : The module form.
    zlpr_loss : The case ``s0 = 0``.

    Notes
    -----
    Paper Eq. 6:

    .. math::

        \mathcal{L}_{tlpr} = \log\Big(e^{-s_0} + \sum_{i \in \Omega_{pos}} e^{-s_i}\Big)
                    + \log\Big(e^{s_0} + \sum_{j \in \Omega_{neg}} e^{s_j}\Big)

    Examples
    --------
    >>> import torch
    >>> from sklearn_zlpr.losses import tlpr_loss, zlpr_loss
    >>> s, y = torch.tensor([[2.0, -1.0]]), torch.tensor([[1.0, 0.0]])
    >>> bool(torch.isclose(tlpr_loss(s, y, s0=0.5), zlpr_loss(s - 0.5, y)))
    True
    """
    s = _check_shapes(input, target, reduction)
    return _reduce(_lse_core(s, target, one=1, s0=s0, weight=label_weight), reduction)


def soft_zlpr_loss(input, target, reduction="mean", label_weight=None):
    r"""ZLPR for soft labels, soft-ZLPR (paper Eq. 31).

    Equal to :func:`zlpr_loss` on hard (0/1) targets. Used for label smoothing.

    Parameters
    ----------
    input : torch.Tensor of shape (n_samples, n_labels)
        Raw scores ``s``.
    target : torch.Tensor of shape (n_samples, n_labels)
        Label probabilities ``p`` in [0, 1].
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.
    label_weight : torch.Tensor of shape (n_labels,), default=None
        Positive per-label weights, each multiplying its label's exponential
        inside the log-sum-exp.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or the per-sample losses of shape ``(n_samples,)`` for
        ``reduction="none"``.

    See Also
    --------
    SoftZLPRLoss : The module form.
    zlpr_loss : The hard-target case.

    Notes
    -----
    Paper Eq. 31, with ``p = target``:

    .. math::

        \mathcal{L}_{zlpr}^{soft} = \log\big(1 + \langle p, e^{-s}\rangle\big)
                    + \log\big(1 + \langle 1 - p, e^{s}\rangle\big)

    Its minimum over ``s`` is at ``p = sigmoid(2 s)`` (paper Eq. 35), the
    link that ``ZLPRClassifier.predict_proba`` uses.

    Examples
    --------
    >>> import torch
    >>> from sklearn_zlpr.losses import soft_zlpr_loss
    >>> round(soft_zlpr_loss(torch.zeros(1, 2), torch.tensor([[0.5, 0.5]])).item(), 4)
    1.3863
    """
    s = _check_shapes(input, target, reduction)
    if torch.any((target < 0) | (target > 1)):
        raise ValueError("soft_zlpr_loss needs targets in [0, 1].")
    return _reduce(
        _lse_core(s, target, one=1, hard=False, weight=label_weight), reduction
    )


def lsep_loss(input, target, reduction="mean"):
    r"""Log-sum-exp pairwise loss, LSEP (paper Eq. 12).

    A pure ranking loss over all (positive, negative) label pairs; it has no
    natural decision threshold.

    Parameters
    ----------
    input : torch.Tensor of shape (n_samples, n_labels)
        Raw scores ``s``.
    target : torch.Tensor of shape (n_samples, n_labels)
        Binary relevance (``target > 0.5`` is positive).
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or the per-sample losses of shape ``(n_samples,)`` for
        ``reduction="none"``.

    See Also
    --------
    LSEPLoss : The module form.
    lsep_sampled_loss : LSEP on sampled pairs (paper Eq. 13).

    Notes
    -----
    Paper Eq. 12, computed through its factorisation into two log-sum-exps:

    .. math::

        \mathcal{L}_{lsep} = \log\Big(1 + \sum_{j \in \Omega_{neg}} e^{s_j}
                      \sum_{i \in \Omega_{pos}} e^{-s_i}\Big)
                    = \operatorname{softplus}\big(\mathrm{LSE}_{neg}(s)
                      + \mathrm{LSE}_{pos}(-s)\big)

    Exact and O(n_labels) per row. Rows without a positive or without a
    negative have no pair and contribute 0.

    Examples
    --------
    >>> import math, torch
    >>> from sklearn_zlpr.losses import lsep_loss
    >>> value = lsep_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0]])).item()
    >>> abs(value - math.log(1 + math.exp(-1))) < 1e-6
    True
    """
    s = _check_shapes(input, target, reduction)
    t = _lse_core(s, target, one=0)
    return _reduce(F.softplus(_finite_or_min(t)), reduction)


def bpmll_loss(input, target, reduction="mean"):
    r"""BP-MLL loss in log form (the log of paper Eq. 24).

    A pure ranking loss over all (positive, negative) label pairs; it has no
    natural decision threshold. The value can be negative (a log of a sum of
    small exponentials), as in the paper's log form.

    Parameters
    ----------
    input : torch.Tensor of shape (n_samples, n_labels)
        Raw scores ``s``.
    target : torch.Tensor of shape (n_samples, n_labels)
        Binary relevance (``target > 0.5`` is positive).
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or the per-sample losses of shape ``(n_samples,)`` for
        ``reduction="none"``.

    See Also
    --------
    BPMLLLoss : The module form.
    lsep_loss : The same pairs inside ``log(1 + ...)``.

    Notes
    -----
    The logarithm of paper Eq. 24, as the paper uses it in its experiments:

    .. math::

        \mathcal{L} = \log \mathcal{L}_{bp\text{-}mll}
                    = \log \sum_{i \in \Omega_{pos}} \sum_{j \in \Omega_{neg}}
                      e^{s_j - s_i} = \mathrm{LSE}_{neg}(s) + \mathrm{LSE}_{pos}(-s)

    Exact and O(n_labels) per row. Rows without a positive/negative pair
    contribute 0.

    Examples
    --------
    >>> import torch
    >>> from sklearn_zlpr.losses import bpmll_loss
    >>> bpmll_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0]])).item()
    -1.0
    """
    s = _check_shapes(input, target, reduction)
    t = _lse_core(s, target, one=0)
    # t = -inf exactly when a side is empty: no pair, contribution 0.
    return _reduce(torch.where(torch.isfinite(t), t, 0.0), reduction)


def _finite_or_min(x):
    # -inf (an empty side) -> the most negative float: softplus gives 0 and
    # the gradient stays finite (the side's softmax weights are all zero).
    return x.clamp_min(torch.finfo(x.dtype).min)


def bce_loss(input, target, reduction="mean", label_weight=None):
    r"""Binary cross-entropy on raw scores, summed over labels, BCE (paper Eq. 14).

    Parameters
    ----------
    input : torch.Tensor of shape (n_samples, n_labels)
        Raw scores ``s`` (logits).
    target : torch.Tensor of shape (n_samples, n_labels)
        Targets in [0, 1] (soft targets weight the two terms).
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.
    label_weight : torch.Tensor of shape (n_labels,), default=None
        Positive per-label weights, each multiplying its label's cross-entropy
        term.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or the per-sample losses of shape ``(n_samples,)`` for
        ``reduction="none"``.

    See Also
    --------
    BCELoss : The module form.
    focal_loss : BCE with focusing weights.

    Notes
    -----
    Paper Eq. 14:

    .. math::

        \mathcal{L}_{bce} = \sum_{i \in \Omega_{pos}} \log(1 + e^{-s_i})
                    + \sum_{j \in \Omega_{neg}} \log(1 + e^{s_j})

    Examples
    --------
    >>> import torch
    >>> from sklearn_zlpr.losses import bce_loss
    >>> round(bce_loss(torch.zeros(1, 2), torch.tensor([[1.0, 0.0]])).item(), 4)
    1.3863
    """
    s, y = _check_inputs(input, target, reduction, soft=True)
    per_label = F.binary_cross_entropy_with_logits(s, y, reduction="none")
    if label_weight is not None:
        per_label = per_label * _check_label_weight(label_weight, s)
    return _reduce(per_label.sum(1), reduction)


def focal_loss(input, target, gamma=2.0, reduction="mean"):
    r"""Focal loss, FL (paper Eq. 19), summed over labels.

    Parameters
    ----------
    input : torch.Tensor of shape (n_samples, n_labels)
        Raw scores ``s``.
    target : torch.Tensor of shape (n_samples, n_labels)
        Targets in [0, 1] (soft targets weight the two terms).
    gamma : float, default=2.0
        Focusing parameter :math:`\gamma`.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or the per-sample losses of shape ``(n_samples,)`` for
        ``reduction="none"``.

    See Also
    --------
    FocalLoss : The module form.
    bce_loss : The case ``gamma = 0``.
    asl_loss : Asymmetric focusing.

    Notes
    -----
    Paper Eq. 19, with :math:`p = \mathrm{sigmoid}(s)`:

    .. math::

        \mathcal{L}_{fl} = -\sum_{i \in \Omega_{pos}} (1 - p_i)^{\gamma} \log p_i
                      - \sum_{j \in \Omega_{neg}} p_j^{\gamma} \log(1 - p_j)

    ``log p`` and ``log(1 - p)`` are computed as ``logsigmoid(s)`` and
    ``logsigmoid(-s)``, so the loss is finite for any score.

    Examples
    --------
    >>> import torch
    >>> from sklearn_zlpr.losses import focal_loss
    >>> round(focal_loss(torch.zeros(1, 1), torch.ones(1, 1)).item(), 4)
    0.1733
    """
    s, y = _check_inputs(input, target, reduction, soft=True)
    pos_term = torch.sigmoid(-s).pow(gamma) * F.logsigmoid(s)
    neg_term = torch.sigmoid(s).pow(gamma) * F.logsigmoid(-s)
    per_sample = -(y * pos_term + (1.0 - y) * neg_term).sum(1)
    return _reduce(per_sample, reduction)


def dice1_loss(input, target, gamma=1.0, reduction="mean"):
    r"""Dice loss, first version, DL1 (paper Eq. 20), summed over labels.

    Parameters
    ----------
    input : torch.Tensor of shape (n_samples, n_labels)
        Raw scores ``s``.
    target : torch.Tensor of shape (n_samples, n_labels)
        Targets in [0, 1] (soft targets weight the two terms).
    gamma : float, default=1.0
        Smoothing term :math:`\gamma`.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or the per-sample losses of shape ``(n_samples,)`` for
        ``reduction="none"``.

    See Also
    --------
    Dice1Loss : The module form.
    dice2_loss : The batch-level version (paper Eq. 21).

    Notes
    -----
    Paper Eq. 20, with :math:`p = \mathrm{sigmoid}(s)`:

    .. math::

        \mathcal{L}_{dl1} = \sum_{i \in \Omega_{pos}} \Big(1 - \frac{2 p_i + \gamma}
                      {p_i^2 + 1 + \gamma}\Big)
                    + \sum_{j \in \Omega_{neg}} \Big(1 - \frac{\gamma}
                      {p_j^2 + \gamma}\Big)

    Examples
    --------
    >>> import torch
    >>> from sklearn_zlpr.losses import dice1_loss
    >>> round(dice1_loss(torch.zeros(1, 1), torch.zeros(1, 1)).item(), 4)
    0.2
    """
    s, y = _check_inputs(input, target, reduction, soft=True)
    p = torch.sigmoid(s)
    p2 = p * p
    pos_term = 1.0 - (2.0 * p + gamma) / (p2 + 1.0 + gamma)
    neg_term = 1.0 - gamma / (p2 + gamma)
    per_sample = (y * pos_term + (1.0 - y) * neg_term).sum(1)
    return _reduce(per_sample, reduction)


def dice2_loss(input, target, gamma=1.0, reduction="mean"):
    r"""Dice loss, second version, DL2 (paper Eq. 21): a batch-level loss.

    Its sums run over the samples of the batch, so there is no per-sample
    value: ``"mean"`` and ``"sum"`` both return the batch value and ``"none"``
    raises a ``ValueError``.

    Parameters
    ----------
    input : torch.Tensor of shape (n_samples, n_labels)
        Raw scores ``s``.
    target : torch.Tensor of shape (n_samples, n_labels)
        Targets in [0, 1].
    gamma : float, default=1.0
        Smoothing term :math:`\gamma`.
    reduction : {"mean", "sum"}, default="mean"
        Both return the batch value.

    Returns
    -------
    loss : torch.Tensor
        A scalar, the loss of the batch.

    See Also
    --------
    Dice2Loss : The module form.
    dice1_loss : The per-sample version (paper Eq. 20).

    Notes
    -----
    Paper Eq. 21, for a batch of :math:`B` samples with
    :math:`p = \mathrm{sigmoid}(s)`:

    .. math::

        \mathcal{L}_{dl2} = \sum_{l=1}^{L} \Big(1 - \frac{2 \sum_{k=1}^{B}
                      p_{k,l} y_{k,l} + \gamma}{\sum_{k=1}^{B} p_{k,l}^2
                      + \sum_{k=1}^{B} y_{k,l} + \gamma}\Big)

    Examples
    --------
    >>> import torch
    >>> from sklearn_zlpr.losses import dice2_loss
    >>> round(dice2_loss(torch.zeros(2, 1), torch.zeros(2, 1)).item(), 4)
    0.3333
    """
    if reduction == "none":
        raise ValueError(
            "dice2 is a batch-level loss (paper Eq. 21 sums over the batch): it has "
            "no per-sample value, so reduction='none' is not available. Use "
            "reduction='mean' or 'sum' (both give the batch value)."
        )
    s, y = _check_inputs(input, target, reduction, soft=True)
    p = torch.sigmoid(s)
    numer = 2.0 * (p * y).sum(0) + gamma
    denom = (p * p).sum(0) + y.sum(0) + gamma
    return (1.0 - numer / denom).sum()


def _hinge_parts(s, y, margin):
    """Per sorted positive: violation count and hinge sum over the negatives.

    For each row the positive scores are sorted ascending (padded with +inf);
    a negative ``j`` violates the ``c_j`` smallest positives, where
    ``c_j = #{i in pos : s_i < s_j + margin}`` comes from a binary search.
    Histograms of ``c_j`` (counts and score sums) and a reverse cumulative sum
    give, for the positive at sorted position ``t``,
    ``count_t = #{j in neg : margin + s_j - s_t > 0}`` and
    ``hinge_t = sum_j max(0, margin + s_j - s_t) = count_t (margin - s_t) + sum_t``.
    Cost O(L log K) per row for K positives; no (L, L) tensor.
    """
    pos = y > 0.5
    k = int(pos.sum(1).max().item()) if s.shape[0] else 0
    if k == 0:
        zeros = s.new_zeros(s.shape[0], 0)
        return zeros, zeros, zeros.bool()
    inf = torch.tensor(float("inf"), dtype=s.dtype, device=s.device)
    pos_sorted, _ = torch.topk(
        torch.where(pos, s, inf), k, dim=1, largest=False, sorted=True
    )
    valid = torch.isfinite(pos_sorted)
    search_keys = pos_sorted.detach().contiguous()
    c = torch.searchsorted(search_keys, (s.detach() + margin).contiguous(), side="left")
    c = torch.where(pos, 0, c)  # positives are not negatives
    counts = torch.zeros(s.shape[0], k + 1, dtype=s.dtype, device=s.device)
    counts.scatter_add_(1, c, (~pos).to(s.dtype))
    sums = torch.zeros(s.shape[0], k + 1, dtype=s.dtype, device=s.device)
    sums = sums.scatter_add(1, c, torch.where(pos, 0.0, s))
    # Negatives with c_j > t violate the positive at sorted position t.
    count_t = counts.flip(1).cumsum(1).flip(1)[:, 1:]
    sum_t = sums.flip(1).cumsum(1).flip(1)[:, 1:]
    safe_pos = torch.where(valid, pos_sorted, 0.0)
    hinge_t = torch.where(valid, count_t * (margin - safe_pos) + sum_t, 0.0)
    return hinge_t, count_t, valid


def rank_hinge_loss(input, target, margin=1.0, reduction="mean"):
    r"""Pairwise ranking (hinge) loss, RL (paper Eq. 22).

    A pure ranking loss over all (positive, negative) label pairs; it has no
    natural decision threshold.

    Parameters
    ----------
    input : torch.Tensor of shape (n_samples, n_labels)
        Raw scores ``s``.
    target : torch.Tensor of shape (n_samples, n_labels)
        Binary relevance (``target > 0.5`` is positive).
    margin : float, default=1.0
        The margin :math:`\alpha`.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or the per-sample losses of shape ``(n_samples,)`` for
        ``reduction="none"``.

    See Also
    --------
    RankHingeLoss : The module form.
    warp_loss : The same hinge terms weighted by rank.

    Notes
    -----
    Paper Eq. 22:

    .. math::

        \mathcal{L}_{rl} = \sum_{i \in \Omega_{pos}} \sum_{j \in \Omega_{neg}}
                      \max(0, \alpha + s_j - s_i)

    Computed exactly in O(L log K) per row (K positives) by sorting the
    positives and binary-searching each negative among them.

    Examples
    --------
    >>> import torch
    >>> from sklearn_zlpr.losses import rank_hinge_loss
    >>> s = torch.tensor([[0.5, 0.0, 2.0]])
    >>> y = torch.tensor([[1.0, 0.0, 0.0]])
    >>> rank_hinge_loss(s, y).item()
    3.0
    """
    s, y = _check_inputs(input, target, reduction)
    hinge_t, _, _ = _hinge_parts(s, y, margin)
    return _reduce(hinge_t.sum(1), reduction)


def warp_loss(input, target, margin=1.0, reduction="mean"):
    r"""Weighted approximate-rank pairwise loss, WARP (paper Eq. 23).

    A pure ranking loss: the hinge terms of :func:`rank_hinge_loss`, each
    positive's weighted by its rank. It has no natural decision threshold.

    Parameters
    ----------
    input : torch.Tensor of shape (n_samples, n_labels)
        Raw scores ``s``.
    target : torch.Tensor of shape (n_samples, n_labels)
        Binary relevance (``target > 0.5`` is positive).
    margin : float, default=1.0
        The margin :math:`\alpha`.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or the per-sample losses of shape ``(n_samples,)`` for
        ``reduction="none"``.

    See Also
    --------
    WARPLoss : The module form.
    rank_hinge_loss : The unweighted version, ``w(r) = 1``.

    Notes
    -----
    Paper Eq. 23 with the paper's weight :math:`w(r) = r`:

    .. math::

        \mathcal{L}_{warp} = \sum_{i \in \Omega_{pos}} \sum_{j \in \Omega_{neg}}
                      w(r_i) \max(0, \alpha + s_j - s_i)

    with :math:`r_i = 1 + |\{j \in \Omega_{neg} : \alpha + s_j - s_i > 0\}|`,
    the positive's rank among the negatives that violate the margin, treated
    as a constant in the backward pass. O(L log K) per row, as
    :func:`rank_hinge_loss`.

    Examples
    --------
    >>> import torch
    >>> from sklearn_zlpr.losses import warp_loss
    >>> s = torch.tensor([[0.5, 0.0, 2.0]])
    >>> y = torch.tensor([[1.0, 0.0, 0.0]])
    >>> warp_loss(s, y).item()
    9.0
    """
    s, y = _check_inputs(input, target, reduction)
    hinge_t, count_t, valid = _hinge_parts(s, y, margin)
    rank = torch.where(valid, 1.0 + count_t, 0.0).detach()
    return _reduce((rank * hinge_t).sum(1), reduction)


def lsep_sampled_loss(input, target, n_pairs=100, generator=None, reduction="mean"):
    r"""LSEP on sampled pairs (paper Eq. 13).

    For each row, ``n_pairs`` (positive, negative) pairs are drawn uniformly
    from the Cartesian product (with replacement; a row with fewer pairs than
    ``n_pairs`` uses all of them, each once). Rows without a pair contribute 0.
    Builds an ``(n_samples, n_pairs)`` tensor, never ``(n, L, L)``.

    Parameters
    ----------
    input : torch.Tensor of shape (n_samples, n_labels)
        Raw scores ``s``.
    target : torch.Tensor of shape (n_samples, n_labels)
        Binary relevance (``target > 0.5`` is positive).
    n_pairs : int, default=100
        Pairs per row, at most.
    generator : torch.Generator, default=None
        Random source of the sampling (torch's global one when None).
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or the per-sample losses of shape ``(n_samples,)`` for
        ``reduction="none"``.

    See Also
    --------
    LSEPSampledLoss : The module form.
    lsep_loss : LSEP on all pairs, exact and as fast.

    Notes
    -----
    Paper Eq. 13, with :math:`\phi(y, t)` the sampled (positive, negative)
    pairs of the row:

    .. math::

        \mathcal{L}_{lsep}^{sampled} = \log\Big(1 + \sum_{(i, j) \in \phi(y, t)}
                      e^{s_j - s_i}\Big)

    Examples
    --------
    >>> import math, torch
    >>> from sklearn_zlpr.losses import lsep_sampled_loss
    >>> s, y = torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0]])
    >>> value = lsep_sampled_loss(s, y).item()
    >>> abs(value - math.log(1 + math.exp(-1))) < 1e-6
    True
    """
    s, y = _check_inputs(input, target, reduction)
    pos_idx, neg_idx, weight = sample_pairs(y, n_pairs, generator)
    diff = s.gather(1, neg_idx) - s.gather(1, pos_idx)
    diff = torch.where(weight > 0, diff, torch.finfo(s.dtype).min)
    zero = torch.zeros_like(diff[:, :1])
    per_sample = torch.logsumexp(torch.cat([zero, diff], 1), 1)
    return _reduce(per_sample, reduction)


def sample_pairs(target, n_pairs, generator=None):
    """Draw (positive, negative) label pairs per row for :func:`lsep_sampled_loss`.

    Parameters
    ----------
    target : torch.Tensor of shape (n_samples, n_labels)
        Binary relevance.
    n_pairs : int
        Pairs per row, at most.
    generator : torch.Generator, default=None
        Random source (on the CPU).

    Returns
    -------
    pos_idx, neg_idx : torch.Tensor of int64, shape (n_samples, m)
        Label indices of each pair.
    weight : torch.Tensor of shape (n_samples, m)
        1 for a real pair, 0 for padding (rows with fewer pairs, or none).
    """
    if not (isinstance(n_pairs, int) and n_pairs >= 1):
        raise ValueError(f"n_pairs must be a positive int; got {n_pairs!r}.")
    pos = (target > 0.5).cpu()
    n, L = pos.shape
    n_pos = pos.sum(1)
    n_neg = L - n_pos
    total = n_pos * n_neg
    max_total = int(total.max()) if n else 0
    m = n_pairs if max_total > n_pairs else max(max_total, 1)
    k = torch.arange(m).expand(n, m)
    # Rows with at most m pairs enumerate them all, exactly once each.
    small = (total <= m)[:, None]
    n_neg_safe = n_neg.clamp_min(1)[:, None]
    pos_rank, neg_rank = k // n_neg_safe, k % n_neg_safe
    weight = torch.where(small, k < total[:, None], (total > 0)[:, None]).float()
    if max_total > n_pairs:
        # The other rows draw m pairs uniformly, with replacement.
        u = torch.rand(n, m, 2, generator=generator)
        pos_rank = torch.where(small, pos_rank, (u[..., 0] * n_pos[:, None]).long())
        neg_rank = torch.where(small, neg_rank, (u[..., 1] * n_neg[:, None]).long())
    # Rank r among a row's positives/negatives -> label index.
    order_pos = torch.argsort((~pos).to(torch.int8), dim=1, stable=True)
    order_neg = torch.argsort(pos.to(torch.int8), dim=1, stable=True)
    pos_rank = pos_rank.clamp(0, L - 1) * (weight > 0)
    neg_rank = neg_rank.clamp(0, L - 1) * (weight > 0)
    pos_idx = order_pos.gather(1, pos_rank.long())
    neg_idx = order_neg.gather(1, neg_rank.long())
    device = target.device
    return pos_idx.to(device), neg_idx.to(device), weight.to(device, target.dtype)


def asl_loss(input, target, gamma_neg=4.0, gamma_pos=1.0, clip=0.05, reduction="mean"):
    r"""Asymmetric loss, ASL (Ridnik et al., ICCV 2021), summed over labels.

    Not in the ZLPR paper: the strongest modern binary-relevance baseline.

    Parameters
    ----------
    input : torch.Tensor of shape (n_samples, n_labels)
        Raw scores ``s``.
    target : torch.Tensor of shape (n_samples, n_labels)
        Targets in [0, 1].
    gamma_neg : float, default=4.0
        Focusing parameter of the negatives.
    gamma_pos : float, default=1.0
        Focusing parameter of the positives.
    clip : float, default=0.05
        Probability margin of the negatives, in [0, 1).
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or the per-sample losses of shape ``(n_samples,)`` for
        ``reduction="none"``.

    See Also
    --------
    ASLLoss : The module form.
    focal_loss : The symmetric case.

    Notes
    -----
    With :math:`p = \mathrm{sigmoid}(s)` and, for the negatives, the shifted
    probability :math:`p_m = \max(p - \mathrm{clip}, 0)`:

    .. math::

        \mathcal{L}_{asl} = -\sum_l \big[y_l (1 - p_l)^{\gamma_+} \log p_l
                      + (1 - y_l)\, p_{m,l}^{\gamma_-} \log(1 - p_{m,l})\big]

    where :math:`\gamma_+` is ``gamma_pos`` and :math:`\gamma_-` is
    ``gamma_neg``. Gradients flow through the focusing weights (no global
    autograd switches).

    References
    ----------
    T. Ridnik, E. Ben-Baruch, N. Zamir, A. Noy, I. Friedman, M. Protter,
    L. Zelnik-Manor. "Asymmetric Loss For Multi-Label Classification".
    ICCV 2021.

    Examples
    --------
    >>> import torch
    >>> from sklearn_zlpr.losses import asl_loss
    >>> round(asl_loss(torch.zeros(1, 1), torch.ones(1, 1)).item(), 4)
    0.3466
    """
    if not 0.0 <= clip < 1.0:
        raise ValueError(f"clip must be in [0, 1); got {clip!r}.")
    s, y = _check_inputs(input, target, reduction, soft=True)
    pos_term = torch.sigmoid(-s).pow(gamma_pos) * F.logsigmoid(s)
    if clip > 0:
        p_m = (torch.sigmoid(s) - clip).clamp_min(0.0)
        # 1 - p_m = min(sigmoid(-s) + clip, 1) >= clip: its log is finite.
        log_not_pm = torch.log((torch.sigmoid(-s) + clip).clamp_max(1.0))
    else:
        p_m = torch.sigmoid(s)
        log_not_pm = F.logsigmoid(-s)
    neg_term = p_m.pow(gamma_neg) * log_not_pm
    per_sample = -(y * pos_term + (1.0 - y) * neg_term).sum(1)
    return _reduce(per_sample, reduction)


def rdrop_divergence(input, other, scale=2.0, reduction="mean"):
    r"""Symmetric divergence of two score matrices (paper appendix B, Eq. 37).

    The closed form of the label-wise Bernoulli KL divergences, used by R-drop
    (``ZLPRClassifier(rdrop_alpha=...)``).

    Parameters
    ----------
    input, other : torch.Tensor of shape (n_samples, n_labels)
        Two score matrices (for R-drop: two dropout passes).
    scale : float, default=2.0
        ``p = sigmoid(scale * s)``.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample divergences are combined.

    Returns
    -------
    divergence : torch.Tensor
        A scalar, or the per-sample divergences of shape ``(n_samples,)`` for
        ``reduction="none"``.

    Notes
    -----
    Paper Eq. 37, the sum of the two KL divergences of Eq. 36, with
    :math:`\hat p = \mathrm{sigmoid}(2 s)`:

    .. math::

        \mathcal{D}(s, s') = \mathcal{KL}(s, s') + \mathcal{KL}(s', s)
                           = \sum_i 2 (\hat p_i - \hat p'_i)(s_i - s'_i)

    ``scale`` is the link's factor: 2 for ZLPR (Eq. 35), 1 for the
    sigmoid-based losses, where the divergence is
    :math:`\sum_i (p_i - p'_i)(s_i - s'_i)` with :math:`p = \mathrm{sigmoid}(s)`.

    Examples
    --------
    >>> import torch
    >>> from sklearn_zlpr.losses import rdrop_divergence
    >>> s = torch.tensor([[1.0, -2.0]])
    >>> rdrop_divergence(s, s).item()
    0.0
    """
    s, t = _check_inputs(input, other, reduction, soft=True)
    z, z2 = scale * s, scale * t
    per_sample = ((torch.sigmoid(z) - torch.sigmoid(z2)) * (z - z2)).sum(1)
    return _reduce(per_sample, reduction)


# --------------------------------------------------------------------------
# Modules
def _label_weight_tensor(label_weight):
    """Validate a ``label_weight`` argument: None, or a float32 tensor (n_labels,)."""
    if label_weight is None:
        return None
    try:
        weight = torch.as_tensor(label_weight, dtype=torch.float32).detach().clone()
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(
            "label_weight must be None or a 1-D array of positive finite numbers "
            f"(one per label); got {label_weight!r}."
        ) from exc
    if weight.ndim != 1 or weight.numel() == 0:
        raise ValueError(
            "label_weight must be a 1-D array of shape (n_labels,), one weight per "
            f"label; got shape {tuple(weight.shape)}."
        )
    if not torch.isfinite(weight).all() or (weight <= 0).any():
        raise ValueError(
            "label_weight must hold finite positive numbers; got "
            f"{_format_weights(weight)}."
        )
    return weight


def _format_weights(weight):
    """``[1, 2.5, 3]``; long vectors elided to their first and last values."""
    n = weight.numel()
    if weight.is_meta:  # no values to show
        return f"[...] ({n} labels)"
    shown = weight.tolist() if n <= 6 else weight[:3].tolist() + weight[-2:].tolist()
    values = [f"{v:.6g}" for v in shown]
    if n > 6:
        values[3:3] = ["..."]
        return f"[{', '.join(values)}] ({n} labels)"
    return f"[{', '.join(values)}]"


class _Loss(nn.Module):
    """Base class: stores ``reduction`` and declares the loss's capabilities.

    The capabilities are class attributes, so that a caller can read them from
    the class without building the loss (``loss_class("bce").batch_level``). A
    user module that lacks them gets the defaults below.
    """

    #: predict ``s > decision_threshold``; None: no natural threshold.
    decision_threshold = 0.0
    #: predict_proba is ``sigmoid(proba_scale * (s - proba_offset))``.
    proba_scale = 1.0
    proba_offset = 0.0
    #: a batch-level loss has no per-sample value (and so no sample weights).
    batch_level = False
    #: the loss takes per-label weights (a ``label_weight`` argument and buffer).
    supports_label_weight = False
    #: the loss accepts soft targets in [0, 1] (label smoothing needs one).
    accepts_soft_targets = False
    #: the name of the loss to train with instead when targets are soft (label
    #: smoothing), for a loss that takes hard targets only; read from the class
    #: that declares it, not inherited by subclasses.
    soft_targets_variant = None

    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f"reduction must be one of {_REDUCTIONS}; got {reduction!r}."
            )
        if reduction == "none" and self.batch_level:
            raise ValueError(
                f"{type(self).__name__} is a batch-level loss: reduction='none' is "
                "not available; use 'mean' or 'sum'."
            )
        self.reduction = reduction

    def extra_repr(self):
        """Return the module's parameters as shown in its ``repr``.

        Returns
        -------
        extra : str
            The constructor arguments, for example ``"reduction='mean'"``.

        Examples
        --------
        >>> from sklearn_zlpr.losses import ZLPRLoss
        >>> ZLPRLoss(reduction="sum").extra_repr()
        "reduction='sum'"
        >>> ZLPRLoss(label_weight=[1.0, 2.5]).extra_repr()
        "reduction='mean', label_weight=[1, 2.5]"
        """
        extra = f"reduction={self.reduction!r}"
        weight = getattr(self, "label_weight", None)
        if weight is not None:
            extra += f", label_weight={_format_weights(weight)}"
        return extra


class _LabelWeightedLoss(_Loss):
    """Base class of the losses that take per-label weights."""

    supports_label_weight = True

    def __init__(self, reduction="mean", label_weight=None):
        super().__init__(reduction)
        # A buffer: it follows the module's device and dtype (``.to``), and
        # ZLPRClassifier(label_weights=...) replaces it on its copy of the loss.
        self.register_buffer("label_weight", _label_weight_tensor(label_weight))


class ZLPRLoss(_LabelWeightedLoss):
    """Module form of :func:`zlpr_loss` (paper Eq. 1).

    Predictions use the paper's zero bound ``s > 0`` and probabilities
    ``sigmoid(2 s)`` (paper appendix, Eq. 35).

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.
    label_weight : array-like of shape (n_labels,), default=None
        Positive finite per-label weights, each multiplying its label's
        exponential inside the log-sum-exp. Stored as the float32 buffer
        ``label_weight``, so it follows ``.to(device)``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_zlpr.losses import ZLPRLoss
    >>> loss = ZLPRLoss()
    >>> loss(torch.zeros(2, 3), torch.tensor([[1.0, 0, 0], [0, 0, 0]])).item() > 0
    True
    >>> ZLPRLoss(label_weight=[1.0, 2.0, 1.0]).label_weight
    tensor([1., 2., 1.])
    """

    proba_scale = 2.0
    soft_targets_variant = "soft_zlpr"  # paper Eq. 31

    def forward(self, input, target):
        return zlpr_loss(
            input, target, reduction=self.reduction, label_weight=self.label_weight
        )


class TLPRLoss(_LabelWeightedLoss):
    """Module form of :func:`tlpr_loss` (paper Eq. 6).

    Predictions use ``s > s0`` and probabilities ``sigmoid(2 (s - s0))``.

    Parameters
    ----------
    s0 : float, default=0.0
        The threshold score.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.
    label_weight : array-like of shape (n_labels,), default=None
        Positive finite per-label weights, each multiplying its label's
        exponential inside the log-sum-exp. Stored as the float32 buffer
        ``label_weight``, so it follows ``.to(device)``.

    Examples
    --------
    >>> from sklearn_zlpr.losses import TLPRLoss
    >>> TLPRLoss(s0=1.0).decision_threshold
    1.0
    """

    proba_scale = 2.0

    def __init__(self, s0=0.0, reduction="mean", label_weight=None):
        super().__init__(reduction, label_weight)
        self.s0 = float(s0)

    @property
    def decision_threshold(self):
        return self.s0

    @property
    def proba_offset(self):
        return self.s0

    def forward(self, input, target):
        return tlpr_loss(
            input,
            target,
            s0=self.s0,
            reduction=self.reduction,
            label_weight=self.label_weight,
        )

    def extra_repr(self):
        """Return the module's parameters as shown in its ``repr``.

        Returns
        -------
        extra : str
            The constructor arguments, for example
            ``"s0=0.5, reduction='mean'"``.

        Examples
        --------
        >>> from sklearn_zlpr.losses import TLPRLoss
        >>> TLPRLoss(s0=0.5).extra_repr()
        "s0=0.5, reduction='mean'"
        """
        return f"s0={self.s0}, {super().extra_repr()}"


class SoftZLPRLoss(_LabelWeightedLoss):
    """Module form of :func:`soft_zlpr_loss` (paper Eq. 31), soft targets.

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.
    label_weight : array-like of shape (n_labels,), default=None
        Positive finite per-label weights, each multiplying its label's
        exponential inside the log-sum-exp. Stored as the float32 buffer
        ``label_weight``, so it follows ``.to(device)``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_zlpr.losses import SoftZLPRLoss
    >>> SoftZLPRLoss()(torch.zeros(1, 2), torch.tensor([[0.9, 0.1]])).item() > 0
    True
    """

    proba_scale = 2.0
    accepts_soft_targets = True

    def forward(self, input, target):
        return soft_zlpr_loss(
            input, target, reduction=self.reduction, label_weight=self.label_weight
        )


class BCELoss(_LabelWeightedLoss):
    """Module form of :func:`bce_loss` (paper Eq. 14).

    Predictions use ``s > 0`` and probabilities ``sigmoid(s)``.

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.
    label_weight : array-like of shape (n_labels,), default=None
        Positive finite per-label weights, each multiplying its label's
        cross-entropy term. Stored as the float32 buffer ``label_weight``, so
        it follows ``.to(device)``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_zlpr.losses import BCELoss
    >>> BCELoss(reduction="none")(torch.zeros(2, 3), torch.zeros(2, 3)).shape
    torch.Size([2])
    """

    accepts_soft_targets = True

    def forward(self, input, target):
        return bce_loss(
            input, target, reduction=self.reduction, label_weight=self.label_weight
        )


class FocalLoss(_Loss):
    """Module form of :func:`focal_loss` (paper Eq. 19).

    Parameters
    ----------
    gamma : float, default=2.0
        Focusing parameter.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.

    Examples
    --------
    >>> from sklearn_zlpr.losses import FocalLoss
    >>> FocalLoss().gamma
    2.0
    """

    accepts_soft_targets = True

    def __init__(self, gamma=2.0, reduction="mean"):
        super().__init__(reduction)
        self.gamma = float(gamma)

    def forward(self, input, target):
        return focal_loss(input, target, gamma=self.gamma, reduction=self.reduction)


class Dice1Loss(_Loss):
    """Module form of :func:`dice1_loss` (paper Eq. 20).

    Parameters
    ----------
    gamma : float, default=1.0
        Smoothing term.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.

    Examples
    --------
    >>> from sklearn_zlpr.losses import Dice1Loss
    >>> Dice1Loss().gamma
    1.0
    """

    accepts_soft_targets = True

    def __init__(self, gamma=1.0, reduction="mean"):
        super().__init__(reduction)
        self.gamma = float(gamma)

    def forward(self, input, target):
        return dice1_loss(input, target, gamma=self.gamma, reduction=self.reduction)


class Dice2Loss(_Loss):
    """Module form of :func:`dice2_loss` (paper Eq. 21), a batch-level loss.

    Parameters
    ----------
    gamma : float, default=1.0
        Smoothing term.
    reduction : {"mean", "sum"}, default="mean"
        Both return the batch value; ``"none"`` is refused.

    Examples
    --------
    >>> from sklearn_zlpr.losses import Dice2Loss
    >>> Dice2Loss().batch_level
    True
    """

    batch_level = True
    accepts_soft_targets = True

    def __init__(self, gamma=1.0, reduction="mean"):
        super().__init__(reduction)
        self.gamma = float(gamma)

    def forward(self, input, target):
        return dice2_loss(input, target, gamma=self.gamma, reduction=self.reduction)


class RankHingeLoss(_Loss):
    """Module form of :func:`rank_hinge_loss` (paper Eq. 22).

    A pure ranking loss: no natural threshold (``decision_threshold = None``).

    Parameters
    ----------
    margin : float, default=1.0
        The margin.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.

    Examples
    --------
    >>> from sklearn_zlpr.losses import RankHingeLoss
    >>> RankHingeLoss().decision_threshold is None
    True
    """

    decision_threshold = None

    def __init__(self, margin=1.0, reduction="mean"):
        super().__init__(reduction)
        self.margin = float(margin)

    def forward(self, input, target):
        return rank_hinge_loss(
            input, target, margin=self.margin, reduction=self.reduction
        )


class WARPLoss(RankHingeLoss):
    """Module form of :func:`warp_loss` (paper Eq. 23), w(r) = r.

    Parameters
    ----------
    margin : float, default=1.0
        The margin.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.

    Examples
    --------
    >>> from sklearn_zlpr.losses import WARPLoss
    >>> WARPLoss(margin=0.5).margin
    0.5
    """

    def forward(self, input, target):
        return warp_loss(input, target, margin=self.margin, reduction=self.reduction)


class BPMLLLoss(_Loss):
    """Module form of :func:`bpmll_loss` (log of paper Eq. 24).

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.

    Examples
    --------
    >>> from sklearn_zlpr.losses import BPMLLLoss
    >>> BPMLLLoss().decision_threshold is None
    True
    """

    decision_threshold = None

    def forward(self, input, target):
        return bpmll_loss(input, target, reduction=self.reduction)


class LSEPLoss(_Loss):
    """Module form of :func:`lsep_loss` (paper Eq. 12).

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.

    Examples
    --------
    >>> from sklearn_zlpr.losses import LSEPLoss
    >>> LSEPLoss().decision_threshold is None
    True
    """

    decision_threshold = None

    def forward(self, input, target):
        return lsep_loss(input, target, reduction=self.reduction)


class LSEPSampledLoss(_Loss):
    """Module form of :func:`lsep_sampled_loss` (paper Eq. 13).

    Parameters
    ----------
    n_pairs : int, default=100
        Pairs sampled per row, at most.
    seed : int, default=None
        Seeds a private generator for the sampling; None uses torch's global
        generator (which ``ZLPRClassifier(random_state=...)`` seeds).
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.

    Examples
    --------
    >>> from sklearn_zlpr.losses import LSEPSampledLoss
    >>> LSEPSampledLoss(n_pairs=10, seed=0).n_pairs
    10
    """

    decision_threshold = None

    def __init__(self, n_pairs=100, seed=None, reduction="mean"):
        super().__init__(reduction)
        if not (isinstance(n_pairs, int) and n_pairs >= 1):
            raise ValueError(f"n_pairs must be a positive int; got {n_pairs!r}.")
        self.n_pairs = n_pairs
        self.seed = seed
        self.generator = None if seed is None else torch.Generator().manual_seed(seed)

    def forward(self, input, target):
        return lsep_sampled_loss(
            input,
            target,
            n_pairs=self.n_pairs,
            generator=self.generator,
            reduction=self.reduction,
        )

    def extra_repr(self):
        """Return the module's parameters as shown in its ``repr``.

        Returns
        -------
        extra : str
            The constructor arguments, for example
            ``"n_pairs=100, seed=None, reduction='mean'"``.

        Examples
        --------
        >>> from sklearn_zlpr.losses import LSEPSampledLoss
        >>> LSEPSampledLoss(n_pairs=10, seed=0)
        LSEPSampledLoss(n_pairs=10, seed=0, reduction='mean')
        >>> LSEPSampledLoss(n_pairs=10, seed=0).extra_repr()
        "n_pairs=10, seed=0, reduction='mean'"
        """
        return f"n_pairs={self.n_pairs}, seed={self.seed}, reduction={self.reduction!r}"


class ASLLoss(_Loss):
    """Module form of :func:`asl_loss` (Ridnik et al., 2021).

    Parameters
    ----------
    gamma_neg : float, default=4.0
        Focusing parameter of the negatives.
    gamma_pos : float, default=1.0
        Focusing parameter of the positives.
    clip : float, default=0.05
        Probability margin of the negatives.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined.

    Examples
    --------
    >>> from sklearn_zlpr.losses import ASLLoss
    >>> ASLLoss().clip
    0.05
    """

    accepts_soft_targets = True

    def __init__(self, gamma_neg=4.0, gamma_pos=1.0, clip=0.05, reduction="mean"):
        super().__init__(reduction)
        if not 0.0 <= clip < 1.0:
            raise ValueError(f"clip must be in [0, 1); got {clip!r}.")
        self.gamma_neg = float(gamma_neg)
        self.gamma_pos = float(gamma_pos)
        self.clip = float(clip)

    def forward(self, input, target):
        return asl_loss(
            input,
            target,
            gamma_neg=self.gamma_neg,
            gamma_pos=self.gamma_pos,
            clip=self.clip,
            reduction=self.reduction,
        )


_REGISTRY = {
    "zlpr": ZLPRLoss,
    "tlpr": TLPRLoss,
    "soft_zlpr": SoftZLPRLoss,
    "bce": BCELoss,
    "focal": FocalLoss,
    "dice1": Dice1Loss,
    "dice2": Dice2Loss,
    "rank_hinge": RankHingeLoss,
    "warp": WARPLoss,
    "bpmll": BPMLLLoss,
    "lsep": LSEPLoss,
    "lsep_sampled": LSEPSampledLoss,
    "asl": ASLLoss,
}

#: Names accepted by :func:`get_loss` and ``ZLPRClassifier(loss=...)``.
LOSSES = tuple(_REGISTRY)

# The modules' ``forward`` docstrings: one template, filled in per loss (so that
# each ``forward`` has its own numpydoc docstring with a runnable example).
_FORWARD_DOC = """Compute the loss of the scores ``input`` against ``target``.

    Called as ``loss(input, target)``; the same as :func:`{function}` with this
    module's parameters{weight}.

    Parameters
    ----------
    input : torch.Tensor of shape (n_samples, n_labels)
        Raw scores ``s``.
    target : torch.Tensor of shape (n_samples, n_labels)
        {target}

    Returns
    -------
    loss : torch.Tensor
        {returns}

    See Also
    --------
    {function} : The functional form.

    Examples
    --------
    >>> import torch
    >>> from sklearn_zlpr.losses import {module}, {function}
    >>> s = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, -2.0]])
    >>> y = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    >>> value = {module}()(s, y)
    >>> value.shape, bool(torch.isclose(value, {function}(s, y)))
    (torch.Size([]), True)
    """
_HARD = "Binary relevance (``target > 0.5`` is positive)."
_SOFT = "Targets in [0, 1] (soft targets are accepted)."
_PER_SAMPLE = (
    "A scalar, or the per-sample losses of shape ``(n_samples,)`` when\n"
    '        ``reduction="none"``.'
)
_WEIGHT = " and its ``label_weight`` buffer"
for _name, _module in _REGISTRY.items():
    # Each module defines its own forward (KeyError otherwise).
    vars(_module)["forward"].__doc__ = _FORWARD_DOC.format(
        module=_module.__name__,
        function=f"{_name}_loss",
        weight=_WEIGHT if _module.supports_label_weight else "",
        target=_SOFT if _module.accepts_soft_targets else _HARD,
        returns="A scalar, the loss of the batch."
        if _module.batch_level
        else _PER_SAMPLE,
    )
del _name, _module


def get_loss(name, **params):
    """Return a loss module by name.

    Parameters
    ----------
    name : str
        One of :data:`LOSSES`.
    **params
        Passed to the loss module, e.g. ``reduction="sum"``, ``s0=0.5`` or
        ``label_weight=[1.0, 2.0]``.

    Returns
    -------
    loss : torch.nn.Module
        The loss, called as ``loss(input, target)``.

    Examples
    --------
    >>> from sklearn_zlpr.losses import get_loss
    >>> get_loss("zlpr")
    ZLPRLoss(reduction='mean')
    >>> get_loss("tlpr", s0=0.5)
    TLPRLoss(s0=0.5, reduction='mean')
    >>> get_loss("zlpr", label_weight=[1, 2])
    ZLPRLoss(reduction='mean', label_weight=[1, 2])
    """
    return loss_class(name)(**params)


def loss_class(loss):
    """Return the class of a loss given by name, class or module.

    Its capability attributes (``accepts_soft_targets``, ``batch_level``,
    ``supports_label_weight``, ...) can then be read without building the
    loss. Not part of the public API (not in ``__all__``).

    Parameters
    ----------
    loss : str, type or torch.nn.Module
        A name of :data:`LOSSES`, a loss class or a loss module.

    Returns
    -------
    cls : type
        The registered class of the name, the class itself, or the module's
        type.

    Examples
    --------
    >>> from sklearn_zlpr.losses import BCELoss, loss_class
    >>> loss_class("soft_zlpr").accepts_soft_targets
    True
    >>> loss_class(BCELoss()) is BCELoss
    True
    """
    if isinstance(loss, str):
        if loss not in _REGISTRY:
            raise ValueError(f"Unknown loss {loss!r}; expected one of {LOSSES}.")
        return _REGISTRY[loss]
    if isinstance(loss, type):
        return loss
    if isinstance(loss, nn.Module):
        return type(loss)
    raise ValueError(f"Unknown loss {loss!r}; expected one of {LOSSES}.")


def prediction_rule(loss):
    """How a classifier trained with ``loss`` turns scores into outputs.

    Parameters
    ----------
    loss : str or torch.nn.Module
        A loss name or module.

    Returns
    -------
    rule : dict
        ``threshold`` (float, or None for pure ranking losses: no natural
        threshold), ``proba_scale`` and ``proba_offset`` (``predict_proba =
        sigmoid(proba_scale * (s - proba_offset))``). Modules without these
        attributes get threshold 0 and ``sigmoid(s)``.

    Examples
    --------
    >>> from sklearn_zlpr.losses import prediction_rule
    >>> prediction_rule("zlpr")
    {'threshold': 0.0, 'proba_scale': 2.0, 'proba_offset': 0.0}
    >>> prediction_rule("lsep")["threshold"] is None
    True
    """
    if isinstance(loss, str):
        loss = get_loss(loss)
    threshold = getattr(loss, "decision_threshold", 0.0)
    return {
        "threshold": None if threshold is None else float(threshold),
        "proba_scale": float(getattr(loss, "proba_scale", 1.0)),
        "proba_offset": float(getattr(loss, "proba_offset", 0.0)),
    }


def make_criterion(
    loss, *, n_labels, label_smoothing=0.0, label_weight=None, sample_weighted=False
):
    """Return a new loss module for training: the criterion of a classifier.

    The input ``loss`` is never modified: a name builds a new module and a
    module is deep-copied. Not part of the public API (not in ``__all__``);
    ``ZLPRClassifier`` calls it with its own parameters, and the error messages
    name them (``label_weights``, ``sample_weight``).

    Parameters
    ----------
    loss : str or torch.nn.Module
        A name of :data:`LOSSES` or a module called as ``loss(input, target)``.
        Modules without the capability attributes of the package's losses
        (``accepts_soft_targets``, ``supports_label_weight``, ``batch_level``)
        are taken not to have those capabilities.
    n_labels : int
        Number of labels (columns of the targets).
    label_smoothing : float, default=0.0
        If positive, the criterion must accept soft targets: a loss whose class
        declares a ``soft_targets_variant`` (``"zlpr"``, a :class:`ZLPRLoss`)
        becomes that loss (:class:`SoftZLPRLoss`, paper Eq. 31), with the same
        ``reduction`` and ``label_weight``; any other loss whose class does not
        accept soft targets raises a ``ValueError``.
    label_weight : array-like of shape (n_labels,), default=None
        Positive finite per-label weights set on the criterion (its
        ``label_weight`` buffer). The loss must support label weights, and must
        not carry weights of its own already.
    sample_weighted : bool, default=False
        Whether the training weights samples. The criterion returns per-sample
        values (its ``reduction`` becomes ``"none"``), except a batch-level loss,
        which keeps its reduction and cannot weight samples (``TypeError``). A
        module without a ``reduction`` attribute is kept as it is, and cannot
        weight samples either (``TypeError``).

    Returns
    -------
    criterion : torch.nn.Module
        A new loss module.

    Examples
    --------
    >>> from sklearn_zlpr.losses import ZLPRLoss, make_criterion
    >>> loss = ZLPRLoss()
    >>> make_criterion(loss, n_labels=2, label_smoothing=0.1, label_weight=[1, 2])
    SoftZLPRLoss(reduction='none', label_weight=[1, 2])
    >>> loss
    ZLPRLoss(reduction='mean')
    """
    if isinstance(loss, str):
        criterion = get_loss(loss)
    elif isinstance(loss, nn.Module):
        criterion = copy.deepcopy(loss)
    else:
        raise TypeError(
            f"loss must be a name of LOSSES or a torch.nn.Module; got {loss!r}."
        )

    if label_smoothing > 0:
        variant = vars(type(criterion)).get("soft_targets_variant")
        if variant is not None:  # e.g. ZLPR for soft labels (paper Eq. 31)
            criterion = _REGISTRY[variant](
                reduction=criterion.reduction, label_weight=criterion.label_weight
            )
        if not getattr(type(criterion), "accepts_soft_targets", False):
            names = sorted(
                name
                for name, cls in _REGISTRY.items()
                if cls.accepts_soft_targets or cls.soft_targets_variant
            )
            raise ValueError(
                f"label_smoothing needs a loss that accepts soft targets ({names}); "
                f"got loss={loss!r}."
            )

    own_weight = getattr(criterion, "label_weight", None)
    if label_weight is not None:
        weight = _checked_label_weights(label_weight, n_labels)
        if not getattr(criterion, "supports_label_weight", False):
            names = ", ".join(
                repr(name)
                for name, cls in _REGISTRY.items()
                if cls.supports_label_weight
            )
            raise ValueError(
                f"loss={loss!r} does not support label_weights; use one of {names}."
            )
        if own_weight is not None:
            raise ValueError(
                f"label_weights is set, and loss={loss!r} has label weights of its "
                "own (its label_weight): give the weights in one place only."
            )
        criterion.label_weight = weight
    elif isinstance(own_weight, torch.Tensor) and own_weight.shape != (n_labels,):
        raise ValueError(
            f"loss={loss!r} has label_weight of shape {tuple(own_weight.shape)}; "
            f"it needs one weight per label: shape ({n_labels},)."
        )

    if getattr(criterion, "batch_level", False):
        if sample_weighted:
            raise TypeError(
                f"loss={loss!r} is a batch-level loss (no per-sample value), so it "
                "cannot weight samples: fit without sample_weight or choose another "
                "loss."
            )
    elif hasattr(criterion, "reduction"):
        criterion.reduction = "none"
    elif sample_weighted:
        raise TypeError(
            "sample_weight needs per-sample losses, but the loss module "
            f"{type(loss).__name__} has no 'reduction' attribute. Give it a "
            "`reduction` attribute that accepts 'none', or fit without "
            "sample_weight."
        )
    return criterion


def _checked_label_weights(label_weight, n_labels):
    """``label_weight`` as a float32 tensor of n_labels positive finite numbers."""
    message = (
        f"label_weights must be {n_labels} positive finite numbers (one per label)"
    )
    try:
        weight = torch.as_tensor(label_weight, dtype=torch.float64).detach()
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{message}; got {label_weight!r}.") from exc
    if (
        weight.shape != (n_labels,)
        or not torch.isfinite(weight).all()
        or (weight <= 0).any()
    ):
        raise ValueError(f"{message}; got shape {tuple(weight.shape)}.")
    return weight.to(torch.float32)
