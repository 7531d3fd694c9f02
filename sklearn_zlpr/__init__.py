"""Multi-label classification with the ZLPR loss, for scikit-learn.

The estimators are :class:`ZLPRClassifier` and :class:`TransformerEmbedder`;
the losses, metrics, data sets and model-selection tools (stratified splits,
tuned thresholds) are in the submodules ``losses``, ``metrics``, ``datasets``
and ``model_selection``. :func:`save` and :func:`load` keep fitted models
without pickle. :func:`export_onnx` writes a fitted classifier's scores as an
ONNX model and :func:`onnx_inputs` builds its inputs from X. ``__version__`` is
the installed version, a string such as ``"0.1.0"``.
"""

from . import datasets, losses, metrics, model_selection
from ._classifier import ZLPRClassifier
from ._embedder import TransformerEmbedder
from ._onnx import export_onnx, onnx_inputs
from ._persistence import UntrustedTypeError, load, save

__version__ = "0.1.0"

__all__ = [
    "TransformerEmbedder",
    "UntrustedTypeError",
    "ZLPRClassifier",
    "__version__",
    "datasets",
    "export_onnx",
    "load",
    "losses",
    "metrics",
    "model_selection",
    "onnx_inputs",
    "save",
]
