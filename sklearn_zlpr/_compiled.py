"""The log-sum-exp core of :mod:`sklearn_zlpr.losses`, compiled with torch.compile.

This module is imported on the first call that needs it, not with the package:
importing ``torch._dynamo`` and ``torch._inductor`` costs seconds. ``LSE_CORE``
is a constant; the compiled graphs live in torch's own cache.

Where Inductor cannot compile (no C++ compiler, no Triton), the backend warns
once and hands back the traced graph unchanged, which torch then caches like
any compiled graph: the core runs eagerly from then on, without retrying the
compilation at every call and without touching torch's global configuration.
"""

import warnings

import torch
from torch._dynamo.exc import RestartAnalysis
from torch._inductor.compile_fx import compile_fx

from .losses import _lse_core_eager


def _inductor_or_eager(gm, example_inputs):
    """Compile ``gm`` with Inductor; the graph as it is if Inductor fails."""
    try:
        return compile_fx(gm, example_inputs)
    except RestartAnalysis:
        raise  # torch's own control flow (re-trace), not a failure
    except Exception as exc:  # noqa: BLE001 - no C++ compiler, no Triton, ...
        warnings.warn(
            f"torch.compile is not usable here ({type(exc).__name__}: {exc}); "
            "sklearn_zlpr losses fall back to eager PyTorch. Set "
            "SKLEARN_ZLPR_COMPILE=0 to skip the attempt.",
            RuntimeWarning,
            stacklevel=2,
        )
        return gm.forward


LSE_CORE = torch.compile(_lse_core_eager, dynamic=True, backend=_inductor_or_eager)
