"""Multi-label classification with the ZLPR loss, for scikit-learn."""

from . import datasets, losses, metrics
from ._classifier import ZLPRClassifier
from ._embedder import TransformerEmbedder

__version__ = "0.1.0"

__all__ = [
    "TransformerEmbedder",
    "ZLPRClassifier",
    "__version__",
    "datasets",
    "losses",
    "metrics",
]
