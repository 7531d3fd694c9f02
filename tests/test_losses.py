"""Losses against brute-force float64 references written from the paper's formulas.

The references loop over samples, labels and (positive, negative) pairs in plain
Python; they exist only here.
"""

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_zlpr import losses as L
from sklearn_zlpr.losses import LOSSES, get_loss, prediction_rule


def _sig(v):
    return 1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v))


def _lse1(values):
    """log(1 + sum(exp(values))), exact for moderate values."""
    return math.log1p(sum(math.exp(v) for v in values))


def _split(row, labels):
    pos = [v for v, t in zip(row, labels) if t > 0.5]
    neg = [v for v, t in zip(row, labels) if t <= 0.5]
    return pos, neg


def ref_zlpr(row, labels):
    pos, neg = _split(row, labels)
    return _lse1([-v for v in pos]) + _lse1(neg)


def ref_tlpr(row, labels, s0):
    pos, neg = _split(row, labels)
    return math.log(math.exp(-s0) + sum(math.exp(-v) for v in pos)) + math.log(
        math.exp(s0) + sum(math.exp(v) for v in neg)
    )


def ref_soft_zlpr(row, p):
    return math.log1p(sum(pi * math.exp(-v) for v, pi in zip(row, p))) + math.log1p(
        sum((1 - pi) * math.exp(v) for v, pi in zip(row, p))
    )


def ref_bce(row, y):
    return sum(
        -(t * math.log(_sig(v)) + (1 - t) * math.log(1 - _sig(v)))
        for v, t in zip(row, y)
    )


def ref_focal(row, y, gamma=2.0):
    return sum(
        -(t * (1 - _sig(v)) ** gamma * math.log(_sig(v)))
        - (1 - t) * _sig(v) ** gamma * math.log(1 - _sig(v))
        for v, t in zip(row, y)
    )


def ref_dice1(row, y, gamma=1.0):
    total = 0.0
    for v, t in zip(row, y):
        p = _sig(v)
        total += t * (1 - (2 * p + gamma) / (p * p + 1 + gamma))
        total += (1 - t) * (1 - gamma / (p * p + gamma))
    return total


def ref_dice2(s, y, gamma=1.0):
    total = 0.0
    for col in range(s.shape[1]):
        p = [_sig(v) for v in s[:, col]]
        t = y[:, col]
        numer = 2 * sum(pi * ti for pi, ti in zip(p, t)) + gamma
        denom = sum(pi * pi for pi in p) + sum(t) + gamma
        total += 1 - numer / denom
    return total


def ref_rank_hinge(row, labels, margin=1.0):
    pos, neg = _split(row, labels)
    return sum(max(0.0, margin + sj - si) for si in pos for sj in neg)


def ref_warp(row, labels, margin=1.0):
    pos, neg = _split(row, labels)
    total = 0.0
    for si in pos:
        rank = 1 + sum(1 for sj in neg if margin + sj - si > 0)
        total += rank * sum(max(0.0, margin + sj - si) for sj in neg)
    return total


def ref_bpmll(row, labels):
    pos, neg = _split(row, labels)
    if not pos or not neg:
        return 0.0
    return math.log(sum(math.exp(sj - si) for si in pos for sj in neg))


def ref_lsep(row, labels):
    pos, neg = _split(row, labels)
    return math.log1p(sum(math.exp(sj - si) for si in pos for sj in neg))


def ref_asl(row, y, gamma_neg=4.0, gamma_pos=1.0, clip=0.05):
    total = 0.0
    for v, t in zip(row, y):
        p = _sig(v)
        pm = max(p - clip, 0.0)
        total -= t * (1 - p) ** gamma_pos * math.log(p)
        total -= (1 - t) * pm**gamma_neg * math.log(1 - pm)
    return total


ROW_REFERENCES = {
    "zlpr": ref_zlpr,
    "tlpr": lambda r, y: ref_tlpr(r, y, 0.0),
    "soft_zlpr": ref_soft_zlpr,
    "bce": ref_bce,
    "focal": ref_focal,
    "dice1": ref_dice1,
    "rank_hinge": ref_rank_hinge,
    "warp": ref_warp,
    "bpmll": ref_bpmll,
    "lsep": ref_lsep,
    "asl": ref_asl,
}
FUNCTIONS = {
    "zlpr": L.zlpr_loss,
    "tlpr": L.tlpr_loss,
    "soft_zlpr": L.soft_zlpr_loss,
    "bce": L.bce_loss,
    "focal": L.focal_loss,
    "dice1": L.dice1_loss,
    "rank_hinge": L.rank_hinge_loss,
    "warp": L.warp_loss,
    "bpmll": L.bpmll_loss,
    "lsep": L.lsep_loss,
    "asl": L.asl_loss,
}


@st.composite
def scores_and_targets(draw, max_labels=8):
    n = draw(st.integers(1, 6))
    n_labels = draw(st.integers(1, max_labels))
    # Small integers create ties, including pairs exactly at the margin.
    values = st.one_of(st.integers(-4, 4).map(float), st.floats(-6, 6))
    flat = draw(st.lists(values, min_size=n * n_labels, max_size=n * n_labels))
    s = np.array(flat).reshape(n, n_labels)
    bits = draw(
        st.lists(st.integers(0, 1), min_size=n * n_labels, max_size=n * n_labels)
    )
    y = np.array(bits, dtype=float).reshape(n, n_labels)
    extra = draw(st.sampled_from(["none", "no_pos", "no_neg", "both"]))
    if extra in ("no_pos", "both"):
        y[0] = 0
    if extra in ("no_neg", "both"):
        y[-1] = 1
    return s, y


def _per_sample_reference(name, s, y):
    return np.array([ROW_REFERENCES[name](list(r), list(t)) for r, t in zip(s, y)])


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@settings(max_examples=40, deadline=None)
@given(data=scores_and_targets())
def test_loss_matches_brute_force_reference(name, data):
    s, y = data
    got = FUNCTIONS[name](torch.tensor(s), torch.tensor(y), reduction="none").numpy()
    np.testing.assert_allclose(
        got, _per_sample_reference(name, s, y), rtol=1e-6, atol=1e-9
    )


@settings(max_examples=40, deadline=None)
@given(data=scores_and_targets(), s0=st.floats(-2, 2))
def test_tlpr_threshold_matches_reference(data, s0):
    s, y = data
    got = L.tlpr_loss(torch.tensor(s), torch.tensor(y), s0=s0, reduction="none").numpy()
    ref = np.array([ref_tlpr(list(r), list(t), s0) for r, t in zip(s, y)])
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    data=scores_and_targets(), soft=st.lists(st.floats(0, 1), min_size=48, max_size=48)
)
def test_soft_targets_match_reference(data, soft):
    s, _ = data
    p = np.array(soft[: s.size]).reshape(s.shape)
    for name in ("soft_zlpr", "bce", "focal", "dice1", "asl"):
        got = FUNCTIONS[name](
            torch.tensor(s), torch.tensor(p), reduction="none"
        ).numpy()
        np.testing.assert_allclose(
            got, _per_sample_reference(name, s, p), rtol=1e-6, atol=1e-9, err_msg=name
        )


@settings(max_examples=40, deadline=None)
@given(data=scores_and_targets())
def test_dice2_matches_reference(data):
    s, y = data
    got = L.dice2_loss(torch.tensor(s), torch.tensor(y)).item()
    assert got == pytest.approx(ref_dice2(s, y), rel=1e-6, abs=1e-9)
    assert L.dice2_loss(torch.tensor(s), torch.tensor(y), reduction="sum").item() == (
        pytest.approx(got)
    )


@settings(max_examples=40, deadline=None)
@given(data=scores_and_targets(), n_pairs=st.integers(1, 12), seed=st.integers(0, 100))
def test_lsep_sampled_matches_reference_on_its_pairs(data, n_pairs, seed):
    s, y = data
    yt = torch.tensor(y)
    pos_idx, neg_idx, weight = L.sample_pairs(
        yt, n_pairs, torch.Generator().manual_seed(seed)
    )
    assert pos_idx.shape[1] <= n_pairs
    ref = []
    for b in range(len(s)):
        pairs = [
            (int(i), int(j))
            for i, j, w in zip(pos_idx[b], neg_idx[b], weight[b])
            if w > 0
        ]
        for i, j in pairs:  # every sampled pair is a (positive, negative) pair
            assert y[b, i] == 1 and y[b, j] == 0
        n_all = int(y[b].sum() * (1 - y[b]).sum())
        if n_all <= n_pairs:  # few pairs: all of them, each once
            assert len(pairs) == n_all and len(set(pairs)) == n_all
        ref.append(math.log1p(sum(math.exp(s[b, j] - s[b, i]) for i, j in pairs)))
    got = L.lsep_sampled_loss(
        torch.tensor(s),
        yt,
        n_pairs=n_pairs,
        generator=torch.Generator().manual_seed(seed),
        reduction="none",
    )
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-6, atol=1e-9)


def test_lsep_sampled_equals_lsep_when_every_pair_fits():
    g = torch.Generator().manual_seed(0)
    s = torch.randn(5, 6, dtype=torch.float64, generator=g)
    y = (torch.rand(5, 6, generator=g) > 0.5).double()
    torch.testing.assert_close(
        L.lsep_sampled_loss(s, y, n_pairs=36, reduction="none"),
        L.lsep_loss(s, y, reduction="none"),
    )


# ---------------------------------------------------------------- properties
def _module_call(name, s, y, reduction):
    params = {"seed": 0} if name == "lsep_sampled" else {}
    return get_loss(name, reduction=reduction, **params)(s, y)


@pytest.mark.parametrize("name", [n for n in LOSSES if n != "dice2"])
def test_reductions_and_permutation_equivariance(name):
    g = torch.Generator().manual_seed(1)
    s = torch.randn(7, 9, dtype=torch.float64, generator=g) * 3
    y = (torch.rand(7, 9, generator=g) > 0.6).double()
    y[0], y[1] = 0, 1
    per_sample = _module_call(name, s, y, "none")
    assert per_sample.shape == (7,)
    torch.testing.assert_close(_module_call(name, s, y, "sum"), per_sample.sum())
    torch.testing.assert_close(_module_call(name, s, y, "mean"), per_sample.mean())
    if name != "bpmll":  # the log form of BP-MLL can be negative
        assert (per_sample >= 0).all()
    if name != "lsep_sampled":  # sampling is not label-permutation equivariant
        perm = torch.randperm(9, generator=g)
        torch.testing.assert_close(
            _module_call(name, s[:, perm], y[:, perm], "none"), per_sample
        )


def test_zlpr_family_identities():
    g = torch.Generator().manual_seed(2)
    s = torch.randn(6, 5, dtype=torch.float64, generator=g)
    y = (torch.rand(6, 5, generator=g) > 0.5).double()
    zl = L.zlpr_loss(s, y, reduction="none")
    torch.testing.assert_close(L.soft_zlpr_loss(s, y, reduction="none"), zl)
    torch.testing.assert_close(L.tlpr_loss(s, y, s0=0.0, reduction="none"), zl)
    torch.testing.assert_close(
        L.tlpr_loss(s, y, s0=0.7, reduction="none"),
        L.zlpr_loss(s - 0.7, y, reduction="none"),
    )
    # The paper's Eq. 5 form of TLPR equals its simplified Eq. 6 form.
    for row, t in zip(s.tolist(), y.tolist()):
        pos, neg = _split(row, t)
        eq5 = math.log(
            1
            + sum(math.exp(v) for v in neg) * sum(math.exp(-v) for v in pos)
            + sum(math.exp(v - 0.7) for v in neg)
            + sum(math.exp(0.7 - v) for v in pos)
        )
        assert eq5 == pytest.approx(ref_tlpr(row, t, 0.7), rel=1e-12)


def test_zlpr_gradient_is_the_papers_eq_10():
    s = torch.tensor([[0.3, -1.2, 2.0, 0.1]], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([[1.0, 1.0, 0.0, 0.0]], dtype=torch.float64)
    L.zlpr_loss(s, y).backward()
    v = s.detach()[0].numpy()
    pos, neg = np.exp(-v[:2]), np.exp(v[2:])
    expected = np.concatenate([-pos / (1 + pos.sum()), neg / (1 + neg.sum())])
    np.testing.assert_allclose(s.grad[0].numpy(), expected, rtol=1e-12)


# ------------------------------------------------------------ gradients
@pytest.mark.parametrize("name", LOSSES)
def test_gradcheck_float64(name):
    g = torch.Generator().manual_seed(3)
    s = (torch.randn(4, 6, dtype=torch.float64, generator=g) * 2).requires_grad_()
    y = (torch.rand(4, 6, generator=g) > 0.5).double()
    y[0], y[1] = 0, 1

    def fn(inp):
        # A fresh generator per call: lsep_sampled must see the same pairs.
        params = {"seed": 0} if name == "lsep_sampled" else {}
        reduction = "mean" if name == "dice2" else "none"
        return get_loss(name, reduction=reduction, **params)(inp, y)

    assert torch.autograd.gradcheck(fn, (s,))


# ------------------------------------------------------------- stability
@pytest.mark.parametrize("name", LOSSES)
def test_finite_at_huge_scores_float32(name):
    s = torch.tensor(
        [[1e4, -1e4, 1e4, -1e4], [-1e4, 1e4, 0.0, 3.0], [1e4, 1e4, -1e4, -1e4]],
        requires_grad=True,
    )
    y = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    loss = get_loss(name)(s, y)
    loss.backward()
    assert torch.isfinite(loss), name
    assert torch.isfinite(s.grad).all(), name


def test_zlpr_value_at_huge_scores():
    s = torch.tensor([[1e4, -1e4, 1e4, -1e4]])
    y = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    # log(1 + e^-1e4 + e^1e4) + log(1 + e^1e4 + e^-1e4) = 2e4 up to rounding.
    assert L.zlpr_loss(s, y).item() == pytest.approx(2e4, rel=1e-6)


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_autocast_half_precision(name, dtype):
    g = torch.Generator().manual_seed(4)
    layer = torch.nn.Linear(8, 6)
    x = torch.randn(5, 8, generator=g) * 30
    y = (torch.rand(5, 6, generator=g) > 0.5).float()
    with torch.autocast("cpu", dtype=dtype):
        s = layer(x)
        assert s.dtype == dtype
        loss = get_loss(name)(s, y)
    assert loss.dtype == torch.float32
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(layer.weight.grad).all()


# ----------------------------------------------------------------- scale
@pytest.mark.parametrize("name", LOSSES)
def test_runs_at_30000_labels_without_quadratic_memory(name):
    n, n_labels = 64, 30000
    g = torch.Generator().manual_seed(5)
    s = torch.randn(n, n_labels, generator=g).requires_grad_()
    y = (torch.rand(n, n_labels, generator=g) < 5 / n_labels).float()
    y[0], y[1] = 0, 1  # also a row with 30000 positives
    largest = [0]

    def pack(t):
        largest[0] = max(largest[0], t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = get_loss(name, **({"seed": 0} if name == "lsep_sampled" else {}))(s, y)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(s.grad).all()
    # Nothing saved for backward is larger than a few (n, L) tensors.
    assert largest[0] <= 2 * n * n_labels


def test_rank_hinge_and_warp_at_scale_match_a_pairwise_computation():
    # Pairwise check on a moderately large case (B x K x L is fine here).
    g = torch.Generator().manual_seed(6)
    s = torch.randn(8, 3000, dtype=torch.float64, generator=g)
    y = (torch.rand(8, 3000, generator=g) < 0.002).double()
    y[0, :5] = 1
    pos = y > 0.5
    hinge = (1 + s[:, None, :] - s[:, :, None]).clamp_min(0)  # [b, i, j]
    mask = pos[:, :, None] & ~pos[:, None, :]
    per_pos = (hinge * mask).sum(2)
    rank = 1 + ((hinge > 0) & mask).sum(2)
    torch.testing.assert_close(
        L.rank_hinge_loss(s, y, reduction="none"), per_pos.sum(1)
    )
    torch.testing.assert_close(
        L.warp_loss(s, y, reduction="none"), (rank * per_pos * pos).sum(1)
    )


# ------------------------------------------------------- compiled core
def _core_inputs(n_labels=700, seed=7):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(16, n_labels, generator=g) * 4
    y = (torch.rand(16, n_labels, generator=g) < 0.01).float()
    y[0] = 0
    return s, y


def _loss_and_grad(s, y):
    x = s.clone().requires_grad_()
    loss = L.zlpr_loss(x, y, reduction="none")
    loss.sum().backward()
    return loss.detach(), x.grad


def _double(x):
    return 2 * x


def test_compiled_core_runs_and_matches_eager(monkeypatch):
    dynamo = pytest.importorskip("torch._dynamo")
    from torch._dynamo.utils import counters

    try:  # probe the compiler without torch's fallback to eager
        torch.compile(_double)(torch.ones(3))
    except Exception as exc:  # noqa: BLE001 - whatever stops the compiler
        pytest.skip(
            f"torch.compile cannot compile on this machine: {type(exc).__name__}: {exc}"
        )
    calls = []
    compiled_core = L._compiled_lse_core

    def counting(*args):
        calls.append(args[0].shape)
        return compiled_core(*args)

    monkeypatch.setattr(L, "_compiled_lse_core", counting)
    monkeypatch.setenv("SKLEARN_ZLPR_COMPILE", "1")
    s, y = _core_inputs()
    dynamo.reset()  # an empty compile cache: the call below must compile
    graphs = counters["stats"]["unique_graphs"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        compiled = _loss_and_grad(s, y)
    assert calls == [s.shape]
    # torch compiled the core (it does not fall back to eager silently here).
    assert counters["stats"]["unique_graphs"] > graphs
    monkeypatch.setenv("SKLEARN_ZLPR_COMPILE", "0")
    eager = _loss_and_grad(s, y)
    assert len(calls) == 1  # SKLEARN_ZLPR_COMPILE=0: not even attempted
    torch.testing.assert_close(compiled[0], eager[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(compiled[1], eager[1], rtol=1e-5, atol=1e-6)


def _module_state():
    """The module's global variables that are not functions, classes or modules."""
    return {
        name: repr(value)
        for name, value in vars(L).items()
        if not (callable(value) or isinstance(value, type(L)))
        and not name.startswith("__")
    }


def test_compiler_failure_falls_back_to_eager(monkeypatch):
    def broken(*args):
        raise RuntimeError("no compiler")

    state = _module_state()
    monkeypatch.setattr(L, "_compiled_lse_core", broken)
    monkeypatch.setenv("SKLEARN_ZLPR_COMPILE", "1")
    s, y = _core_inputs(n_labels=600, seed=8)
    with pytest.warns(RuntimeWarning, match="no compiler.*fall back to eager"):
        got = _loss_and_grad(s, y)
    monkeypatch.setenv("SKLEARN_ZLPR_COMPILE", "0")
    eager = _loss_and_grad(s, y)
    torch.testing.assert_close(got[0], eager[0], rtol=0, atol=0)
    torch.testing.assert_close(got[1], eager[1], rtol=0, atol=0)
    # Nothing remembers the failure: the next call tries the compiler again.
    calls = []

    def working(*args):
        calls.append(1)
        return L._lse_core_eager(*args)

    monkeypatch.setattr(L, "_compiled_lse_core", working)
    monkeypatch.setenv("SKLEARN_ZLPR_COMPILE", "1")
    L.zlpr_loss(s, y)
    assert calls == [1]
    assert _module_state() == state


def test_compiler_backend_falls_back_to_the_traced_graph(monkeypatch):
    """Where Inductor fails, the backend warns and returns the graph as it is.

    torch caches what a backend returns, so the compilation is not retried at
    every call; torch's own re-trace signal is passed through untouched.
    """
    compiled = pytest.importorskip("sklearn_zlpr._compiled")
    from torch._dynamo.exc import RestartAnalysis

    gm = torch.fx.symbolic_trace(_Doubler())

    def broken(gm, example_inputs):
        raise RuntimeError("InvalidCxxCompiler: no C++ compiler")

    monkeypatch.setattr(compiled, "compile_fx", broken)
    with pytest.warns(RuntimeWarning, match="InvalidCxxCompiler.*fall back to eager"):
        fn = compiled._inductor_or_eager(gm, [torch.ones(3)])
    torch.testing.assert_close(fn(torch.arange(3.0)), torch.tensor([0.0, 2.0, 4.0]))

    def restart(gm, example_inputs):
        raise RestartAnalysis()

    monkeypatch.setattr(compiled, "compile_fx", restart)
    with pytest.raises(RestartAnalysis):
        compiled._inductor_or_eager(gm, [torch.ones(3)])


class _Doubler(torch.nn.Module):
    def forward(self, x):
        return 2 * x


@pytest.mark.parametrize(
    "n_labels, dtype, env",
    [(511, torch.float32, "1"), (600, torch.float64, "1"), (600, torch.float32, "0")],
)
def test_compiled_core_is_not_used(monkeypatch, n_labels, dtype, env):
    # Below 512 labels, in float64 and with SKLEARN_ZLPR_COMPILE=0 the core runs
    # eagerly, without a try of the compiler.
    def must_not_run(*args):
        raise AssertionError("the compiled core was called")

    monkeypatch.setattr(L, "_compiled_lse_core", must_not_run)
    monkeypatch.setenv("SKLEARN_ZLPR_COMPILE", env)
    s, y = _core_inputs(n_labels=n_labels)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        L.zlpr_loss(s.to(dtype), y.to(dtype))


# ------------------------------------------------------ registry and rules
def test_registry_and_prediction_rules():
    assert LOSSES == (
        "zlpr",
        "tlpr",
        "soft_zlpr",
        "bce",
        "focal",
        "dice1",
        "dice2",
        "rank_hinge",
        "warp",
        "bpmll",
        "lsep",
        "lsep_sampled",
        "asl",
    )
    for name in LOSSES:
        module = get_loss(name)
        assert isinstance(module, torch.nn.Module)
        assert module.reduction == "mean"
    assert prediction_rule("zlpr") == {
        "threshold": 0.0,
        "proba_scale": 2.0,
        "proba_offset": 0.0,
    }
    assert prediction_rule(get_loss("tlpr", s0=0.5)) == {
        "threshold": 0.5,
        "proba_scale": 2.0,
        "proba_offset": 0.5,
    }
    for name in ("bce", "focal", "dice1", "dice2", "asl"):
        assert prediction_rule(name) == {
            "threshold": 0.0,
            "proba_scale": 1.0,
            "proba_offset": 0.0,
        }
    for name in ("rank_hinge", "warp", "bpmll", "lsep", "lsep_sampled"):
        assert prediction_rule(name)["threshold"] is None
    assert prediction_rule(torch.nn.Module())["threshold"] == 0.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="Unknown loss 'nope'"):
        get_loss("nope")
    with pytest.raises(ValueError, match="reduction must be one of"):
        L.ZLPRLoss(reduction="avg")
    with pytest.raises(ValueError, match="reduction must be one of"):
        L.zlpr_loss(torch.zeros(1, 2), torch.zeros(1, 2), reduction="avg")
    with pytest.raises(ValueError, match="shape"):
        L.zlpr_loss(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="shape"):
        L.zlpr_loss(torch.zeros(3), torch.zeros(3))
    with pytest.raises(TypeError, match="torch tensors"):
        L.zlpr_loss(np.zeros((1, 2)), torch.zeros(1, 2))
    with pytest.raises(ValueError, match="batch-level loss"):
        L.dice2_loss(torch.zeros(2, 2), torch.zeros(2, 2), reduction="none")
    with pytest.raises(ValueError, match="batch-level loss"):
        L.Dice2Loss(reduction="none")
    with pytest.raises(ValueError, match="targets in \\[0, 1\\]"):
        L.soft_zlpr_loss(torch.zeros(1, 2), torch.tensor([[1.5, 0.0]]))
    with pytest.raises(ValueError, match="n_pairs"):
        L.LSEPSampledLoss(n_pairs=0)
    with pytest.raises(ValueError, match="clip"):
        L.ASLLoss(clip=1.0)


def test_modules_do_not_keep_tensors():
    s, y = torch.randn(3, 4), (torch.rand(3, 4) > 0.5).float()
    for name in LOSSES:
        module = get_loss(name)
        before = dict(vars(module))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            module(s, y)
        assert dict(vars(module)).keys() == before.keys()
        assert not any(isinstance(v, torch.Tensor) for v in vars(module).values())


# ------------------------------------------------------------ capabilities
SOFT = {"soft_zlpr", "bce", "focal", "dice1", "dice2", "asl"}
WEIGHTED = {"zlpr", "tlpr", "soft_zlpr", "bce"}


def test_capabilities_are_class_attributes():
    for name in LOSSES:
        cls = L.loss_class(name)
        assert cls is type(get_loss(name))
        assert cls.accepts_soft_targets is (name in SOFT), name
        assert cls.supports_label_weight is (name in WEIGHTED), name
        assert cls.batch_level is (name == "dice2"), name
    assert L._Loss.accepts_soft_targets is False
    assert L.loss_class(L.BCELoss) is L.BCELoss
    assert L.loss_class(L.BCELoss()) is L.BCELoss
    with pytest.raises(ValueError, match="Unknown loss 'nope'"):
        L.loss_class("nope")


@pytest.mark.parametrize("name", LOSSES)
def test_accepts_soft_targets_matches_the_loss_behaviour(name):
    # A soft target of 0.3 changes the value of a loss that accepts soft
    # targets; a hard-target loss reads it as 0 (target > 0.5).
    g = torch.Generator().manual_seed(9)
    s = torch.randn(4, 5, dtype=torch.float64, generator=g)
    soft = torch.full((4, 5), 0.3, dtype=torch.float64)
    soft[:, :2] = 1.0  # every row has positives and negatives
    hard = (soft > 0.5).double()
    params = {"seed": 0} if name == "lsep_sampled" else {}
    reduction = "mean" if name == "dice2" else "none"
    loss = get_loss(name, reduction=reduction, **params)
    with_soft = loss(s, soft)
    with_hard = get_loss(name, reduction=reduction, **params)(s, hard)
    if L.loss_class(name).accepts_soft_targets:
        assert not torch.allclose(with_soft, with_hard), name
    else:
        torch.testing.assert_close(with_soft, with_hard, rtol=0, atol=0)


def test_forward_docstrings_follow_the_capabilities():
    for name in LOSSES:
        doc = L.loss_class(name).forward.__doc__
        assert ("soft targets are accepted" in doc) is (name in SOFT), name
        assert ("label_weight" in doc) is (name in WEIGHTED), name


# ------------------------------------------------------------ label_weight
WEIGHTS = [0.5, 1.0, 2.0, 4.0, 1.5]


@pytest.mark.parametrize("name", sorted(WEIGHTED))
def test_label_weight_argument_equals_the_functional_form(name):
    g = torch.Generator().manual_seed(10)
    s = torch.randn(6, 5, dtype=torch.float64, generator=g) * 2
    y = (torch.rand(6, 5, generator=g) > 0.5).double()
    params = {"s0": 0.3} if name == "tlpr" else {}
    module = get_loss(name, reduction="none", label_weight=WEIGHTS, **params)
    assert module.label_weight.dtype == torch.float32
    expected = FUNCTIONS[name](
        s, y, reduction="none", label_weight=torch.tensor(WEIGHTS), **params
    )
    torch.testing.assert_close(module(s, y), expected, rtol=0, atol=0)
    unweighted = get_loss(name, reduction="none", **params)(s, y)
    assert not torch.allclose(module(s, y), unweighted)
    # Weights of 1 change nothing.
    ones = get_loss(name, reduction="none", label_weight=[1.0] * 5, **params)
    torch.testing.assert_close(ones(s, y), unweighted)


def test_label_weight_is_a_copied_buffer_that_follows_to():
    given = torch.tensor([1.0, 2.0])
    loss = L.ZLPRLoss(label_weight=given)
    given[0] = 5.0  # the module keeps its own copy
    assert loss.label_weight.tolist() == [1.0, 2.0]
    assert "label_weight" in dict(loss.named_buffers())
    assert "label_weight" in loss.state_dict()
    assert loss.to(torch.float64).label_weight.dtype == torch.float64
    assert loss.to("meta").label_weight.device.type == "meta"
    assert "label_weight" not in dict(L.ZLPRLoss().named_buffers())
    assert L.ZLPRLoss().label_weight is None
    np_weight = L.BCELoss(label_weight=np.array([1, 3])).label_weight
    assert np_weight.dtype == torch.float32 and np_weight.tolist() == [1.0, 3.0]


def test_label_weight_repr():
    assert repr(get_loss("zlpr", label_weight=[1, 2])) == (
        "ZLPRLoss(reduction='mean', label_weight=[1, 2])"
    )
    assert repr(L.TLPRLoss(s0=0.5, label_weight=[0.25])) == (
        "TLPRLoss(s0=0.5, reduction='mean', label_weight=[0.25])"
    )
    assert repr(L.BCELoss(label_weight=range(1, 101))) == (
        "BCELoss(reduction='mean', label_weight=[1, 2, 3, ..., 99, 100] (100 labels))"
    )
    assert repr(L.SoftZLPRLoss(label_weight=[1, 2]).to("meta")) == (
        "SoftZLPRLoss(reduction='mean', label_weight=[...] (2 labels))"
    )
    assert repr(L.ZLPRLoss()) == "ZLPRLoss(reduction='mean')"


@pytest.mark.parametrize(
    "bad",
    [
        [1.0, float("nan")],
        [1.0, float("inf")],
        [1.0, 0.0],
        [-1.0, 1.0],
        [[1.0, 2.0]],
        2.0,
        [],
        ["a", "b"],
        torch.ones(2, 2),
    ],
)
def test_label_weight_is_validated_at_construction(bad):
    for cls in (L.ZLPRLoss, L.TLPRLoss, L.SoftZLPRLoss, L.BCELoss):
        with pytest.raises(ValueError, match="label_weight"):
            cls(label_weight=bad)


@pytest.mark.parametrize("name", sorted(set(LOSSES) - WEIGHTED))
def test_losses_without_label_weight_do_not_take_it(name):
    with pytest.raises(TypeError, match="label_weight"):
        get_loss(name, label_weight=[1.0, 2.0])


# ---------------------------------------------------------- make_criterion
SOFT_NAMES = "['asl', 'bce', 'dice1', 'dice2', 'focal', 'soft_zlpr', 'zlpr']"


class _Plain(torch.nn.Module):
    """A user loss without ``reduction`` or capability attributes."""

    def forward(self, input, target):
        return (input - target).pow(2).sum(1)


class _WithReduction(_Plain):
    def __init__(self):
        super().__init__()
        self.reduction = "mean"


def test_make_criterion_never_mutates_the_loss():
    loss = L.TLPRLoss(s0=0.5)
    criterion = L.make_criterion(
        loss, n_labels=3, label_weight=[1, 2, 3], sample_weighted=True
    )
    assert criterion is not loss and type(criterion) is L.TLPRLoss
    assert (criterion.reduction, criterion.s0) == ("none", 0.5)
    assert criterion.label_weight.tolist() == [1.0, 2.0, 3.0]
    assert criterion.label_weight.dtype == torch.float32
    assert (loss.reduction, loss.label_weight) == ("mean", None)
    weighted = L.ZLPRLoss(label_weight=[1.0, 2.0])
    criterion = L.make_criterion(weighted, n_labels=2, label_smoothing=0.1)
    assert criterion.label_weight is not weighted.label_weight
    assert type(weighted) is L.ZLPRLoss and weighted.reduction == "mean"
    user = _WithReduction()
    assert L.make_criterion(user, n_labels=2).reduction == "none"
    assert user.reduction == "mean"


@pytest.mark.parametrize("name", LOSSES)
def test_make_criterion_returns_per_sample_losses(name):
    criterion = L.make_criterion(name, n_labels=4)
    assert type(criterion) is L.loss_class(name)
    # dice2 has no per-sample value: it keeps its reduction.
    assert criterion.reduction == ("mean" if name == "dice2" else "none")


def test_make_criterion_label_smoothing():
    soft = L.make_criterion("zlpr", n_labels=2, label_smoothing=0.1)
    assert type(soft) is L.SoftZLPRLoss and soft.reduction == "none"
    soft = L.make_criterion(
        L.ZLPRLoss(label_weight=[1.0, 3.0]), n_labels=2, label_smoothing=0.1
    )
    assert type(soft) is L.SoftZLPRLoss and soft.label_weight.tolist() == [1.0, 3.0]
    soft = L.make_criterion(
        "zlpr", n_labels=2, label_smoothing=0.1, label_weight=[2.0, 1.0]
    )
    assert type(soft) is L.SoftZLPRLoss and soft.label_weight.tolist() == [2.0, 1.0]
    for name in sorted(SOFT):
        criterion = L.make_criterion(name, n_labels=2, label_smoothing=0.1)
        assert type(criterion) is L.loss_class(name)
    # No label smoothing: ZLPR stays ZLPR.
    assert type(L.make_criterion("zlpr", n_labels=2)) is L.ZLPRLoss

    class SoftUserLoss(_WithReduction):
        accepts_soft_targets = True

    assert type(L.make_criterion(SoftUserLoss(), n_labels=2, label_smoothing=0.1)) is (
        SoftUserLoss
    )


class _ZLPRSubclass(L.ZLPRLoss):
    pass


@pytest.mark.parametrize(
    "loss, shown",
    [
        ("lsep", "'lsep'"),
        ("tlpr", "'tlpr'"),
        (L.TLPRLoss(s0=1.0), "TLPRLoss(s0=1.0, reduction='mean')"),
        (_ZLPRSubclass(), "_ZLPRSubclass(reduction='mean')"),  # not exactly ZLPR
        (_Plain(), "_Plain()"),
    ],
)
def test_make_criterion_label_smoothing_needs_soft_targets(loss, shown):
    message = (
        f"label_smoothing needs a loss that accepts soft targets ({SOFT_NAMES}); "
        f"got loss={shown}."
    )
    with pytest.raises(ValueError) as excinfo:
        L.make_criterion(loss, n_labels=2, label_smoothing=0.1)
    assert str(excinfo.value) == message


@pytest.mark.parametrize(
    "weight, shape",
    [
        ([1.0, 2.0], "(2,)"),
        ([[1.0, 2.0, 3.0]], "(1, 3)"),
        ([1.0, 0.0, 1.0], "(3,)"),
        ([1.0, -2.0, 1.0], "(3,)"),
        ([1.0, float("nan"), 1.0], "(3,)"),
        (np.array([1.0, np.inf, 1.0]), "(3,)"),
    ],
)
def test_make_criterion_validates_label_weight(weight, shape):
    message = (
        "label_weights must be 3 positive finite numbers (one per label); got "
        f"shape {shape}."
    )
    with pytest.raises(ValueError) as excinfo:
        L.make_criterion("zlpr", n_labels=3, label_weight=weight)
    assert str(excinfo.value) == message
    with pytest.raises(ValueError, match="label_weights must be 3 positive"):
        L.make_criterion("zlpr", n_labels=3, label_weight=["a", "b", "c"])


@pytest.mark.parametrize("loss", sorted(set(LOSSES) - WEIGHTED) + [_Plain()])
def test_make_criterion_label_weight_needs_support(loss):
    message = (
        f"loss={loss!r} does not support label_weights; use one of 'zlpr', 'tlpr', "
        "'soft_zlpr', 'bce'."
    )
    with pytest.raises(ValueError) as excinfo:
        L.make_criterion(loss, n_labels=2, label_weight=[1.0, 2.0])
    assert str(excinfo.value) == message


def test_make_criterion_label_weight_in_one_place_only():
    weighted = L.BCELoss(label_weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="one place only"):
        L.make_criterion(weighted, n_labels=2, label_weight=[1.0, 2.0])
    # The loss's own weights must have one weight per label.
    with pytest.raises(ValueError, match=r"shape \(2,\); it needs .* \(3,\)"):
        L.make_criterion(weighted, n_labels=3)
    assert L.make_criterion(weighted, n_labels=2).label_weight.tolist() == [1.0, 2.0]


def test_make_criterion_sample_weights():
    message = (
        "loss='dice2' is a batch-level loss (no per-sample value), so it cannot "
        "weight samples: fit without sample_weight or choose another loss."
    )
    with pytest.raises(TypeError) as excinfo:
        L.make_criterion("dice2", n_labels=2, sample_weighted=True)
    assert str(excinfo.value) == message
    message = (
        "sample_weight needs per-sample losses, but the loss module _Plain has no "
        "'reduction' attribute. Give it a `reduction` attribute that accepts "
        "'none', or fit without sample_weight."
    )
    with pytest.raises(TypeError) as excinfo:
        L.make_criterion(_Plain(), n_labels=2, sample_weighted=True)
    assert str(excinfo.value) == message
    # Without sample weights both are fine, as they are.
    plain = _Plain()
    criterion = L.make_criterion(plain, n_labels=2)
    assert type(criterion) is _Plain and criterion is not plain
    assert L.make_criterion("dice2", n_labels=2).reduction == "mean"
    assert L.make_criterion("warp", n_labels=2, sample_weighted=True).reduction == (
        "none"
    )


def test_make_criterion_bad_loss():
    with pytest.raises(ValueError, match="Unknown loss 'nope'"):
        L.make_criterion("nope", n_labels=2)
    with pytest.raises(TypeError, match="loss must be a name of LOSSES"):
        L.make_criterion(lambda s, y: s, n_labels=2)


class _DeclaresItsSoftVariant(L.ZLPRLoss):
    soft_targets_variant = "soft_zlpr"


def test_soft_targets_variant_is_declared_not_inherited():
    # ZLPR declares soft-ZLPR as its variant for soft targets (paper Eq. 31);
    # a subclass must declare it itself to be switched (see above).
    assert L.ZLPRLoss.soft_targets_variant == "soft_zlpr"
    assert all(
        cls.soft_targets_variant is None
        for name, cls in L._REGISTRY.items()
        if name != "zlpr"
    )
    criterion = L.make_criterion(
        _DeclaresItsSoftVariant(label_weight=[1.0, 3.0]),
        n_labels=2,
        label_smoothing=0.1,
    )
    assert type(criterion) is L.SoftZLPRLoss and criterion.reduction == "none"
    torch.testing.assert_close(criterion.label_weight, torch.tensor([1.0, 3.0]))
