"""Losses against brute-force float64 references written from the paper."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_zlpr.losses import LOSSES, BCELoss, ZLPRLoss, bce_loss, get_loss, zlpr_loss


def zlpr_reference(s, y):
    """Paper Eq. 1, one sample at a time, with Python floats."""
    out = []
    for row, labels in zip(s.tolist(), y.tolist()):
        pos = sum(math.exp(-v) for v, t in zip(row, labels) if t == 1)
        neg = sum(math.exp(v) for v, t in zip(row, labels) if t == 0)
        out.append(math.log1p(pos) + math.log1p(neg))
    return np.array(out)


def bce_reference(s, y):
    """Paper Eq. 14 with p = 1 / (1 + exp(-s)), summed over labels."""
    p = 1.0 / (1.0 + np.exp(-s))
    return -(y * np.log(p) + (1 - y) * np.log(1 - p)).sum(1)


@st.composite
def scores_and_targets(draw):
    n = draw(st.integers(1, 6))
    L = draw(st.integers(1, 8))
    # Small integer-valued scores create ties; the range keeps exp() exact.
    values = st.one_of(st.integers(-5, 5).map(float), st.floats(-8, 8))
    s = np.array(draw(st.lists(values, min_size=n * L, max_size=n * L))).reshape(n, L)
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=n * L, max_size=n * L)))
    y = y.reshape(n, L)
    # Always include a row without positives and one without negatives.
    extra = draw(st.sampled_from(["none", "no_pos", "no_neg", "both"]))
    if extra in ("no_pos", "both"):
        y[0] = 0
    if extra in ("no_neg", "both") and n > 1:
        y[-1] = 1
    return s, y


@settings(max_examples=60, deadline=None)
@given(scores_and_targets())
def test_zlpr_matches_reference(data):
    s, y = data
    got = zlpr_loss(torch.tensor(s), torch.tensor(y), reduction="none").numpy()
    np.testing.assert_allclose(got, zlpr_reference(s, y), rtol=1e-6, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(scores_and_targets())
def test_bce_matches_reference(data):
    s, y = data
    got = bce_loss(
        torch.tensor(s), torch.tensor(y, dtype=torch.float64), reduction="none"
    )
    np.testing.assert_allclose(got.numpy(), bce_reference(s, y), rtol=1e-6, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(scores_and_targets())
def test_reductions_and_properties(data):
    s, y = data
    s_t, y_t = torch.tensor(s), torch.tensor(y)
    for fn in (zlpr_loss, bce_loss):
        per_sample = fn(s_t, y_t, reduction="none")
        assert per_sample.shape == (s.shape[0],)
        assert (per_sample >= 0).all()
        torch.testing.assert_close(fn(s_t, y_t, reduction="sum"), per_sample.sum())
        torch.testing.assert_close(fn(s_t, y_t), per_sample.mean())
        # Label permutation equivariance.
        perm = torch.randperm(s.shape[1], generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(
            fn(s_t[:, perm], y_t[:, perm], reduction="none"), per_sample
        )


def test_zlpr_special_rows():
    s = torch.tensor([[1.0, -2.0, 3.0], [0.5, 0.5, -1.0]], dtype=torch.float64)
    # No positives: only the negative term log(1 + sum e^{s_j}).
    y = torch.zeros_like(s)
    expected = torch.log1p(torch.exp(s).sum(1))
    torch.testing.assert_close(zlpr_loss(s, y, reduction="none"), expected)
    # No negatives: only the positive term log(1 + sum e^{-s_i}).
    y = torch.ones_like(s)
    expected = torch.log1p(torch.exp(-s).sum(1))
    torch.testing.assert_close(zlpr_loss(s, y, reduction="none"), expected)


@pytest.mark.parametrize("fn", [zlpr_loss, bce_loss])
def test_stable_at_huge_scores_float32(fn):
    s = torch.tensor(
        [[1e4, -1e4, 1e4, -1e4], [-1e4, 1e4, 0.0, 3.0]], requires_grad=True
    )
    y = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    loss = fn(s, y)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(s.grad).all()
    # A confidently wrong score costs about its magnitude.
    assert 1e4 <= fn(s.detach()[:1], y[:1]).item() <= 2.0001e4 + 1


@pytest.mark.parametrize("fn", [zlpr_loss, bce_loss])
def test_gradcheck_float64(fn):
    g = torch.Generator().manual_seed(0)
    s = torch.randn(4, 5, dtype=torch.float64, generator=g, requires_grad=True)
    y = (torch.rand(4, 5, generator=g) > 0.5).double()
    y[0] = 0
    y[1] = 1
    assert torch.autograd.gradcheck(lambda inp: fn(inp, y, reduction="none"), (s,))


def test_zlpr_gradient_matches_softmax_formula():
    # d/ds_i of log(1 + sum_pos e^{-s}) is -e^{-s_i} / (1 + sum_pos e^{-s}).
    s = torch.tensor([[0.3, -1.2, 2.0, 0.1]], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([[1.0, 1.0, 0.0, 0.0]], dtype=torch.float64)
    zlpr_loss(s, y).backward()
    v = s.detach()[0].numpy()
    pos, neg = np.exp(-v[:2]), np.exp(v[2:])
    expected = np.concatenate([-pos / (1 + pos.sum()), neg / (1 + neg.sum())])
    np.testing.assert_allclose(s.grad[0].numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs_are_computed_in_float32(dtype):
    s = torch.tensor([[30.0, -30.0, 5.0]], dtype=dtype)
    y = torch.tensor([[0.0, 1.0, 1.0]], dtype=dtype)
    got = zlpr_loss(s, y)
    assert got.dtype == torch.float32
    expected = zlpr_reference(s.double().numpy(), y.double().numpy())
    np.testing.assert_allclose(got.item(), expected[0], rtol=1e-5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = ZLPRLoss()(s.float(), y.float())
    assert torch.isfinite(out)


def test_modules_and_registry():
    assert set(LOSSES) >= {"zlpr", "bce"}
    assert isinstance(get_loss("zlpr"), ZLPRLoss)
    assert isinstance(get_loss("bce", reduction="sum"), BCELoss)
    assert get_loss("bce", reduction="sum").reduction == "sum"
    assert ZLPRLoss.proba_scale == 2.0 and BCELoss.proba_scale == 1.0
    s, y = torch.randn(3, 4), (torch.rand(3, 4) > 0.5).float()
    torch.testing.assert_close(
        ZLPRLoss(reduction="none")(s, y), zlpr_loss(s, y, "none")
    )


def test_bad_arguments():
    with pytest.raises(ValueError, match="Unknown loss 'nope'"):
        get_loss("nope")
    with pytest.raises(ValueError, match="reduction must be one of"):
        ZLPRLoss(reduction="avg")
    with pytest.raises(ValueError, match="reduction must be one of"):
        zlpr_loss(torch.zeros(1, 2), torch.zeros(1, 2), reduction="avg")
    with pytest.raises(ValueError, match="same shape|shape"):
        zlpr_loss(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="shape"):
        zlpr_loss(torch.zeros(3), torch.zeros(3))
    with pytest.raises(TypeError, match="torch tensors"):
        zlpr_loss(np.zeros((1, 2)), torch.zeros(1, 2))
