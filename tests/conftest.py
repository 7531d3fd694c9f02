import os
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_multilabel_classification

# Keep the suite quiet and single-process friendly on small CI machines.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def multilabel_data():
    """A small bag-of-words multi-label problem, as TF-IDF-like CSR rows."""
    X, Y = make_multilabel_classification(
        n_samples=600,
        n_features=200,
        n_classes=8,
        n_labels=2,
        length=40,
        allow_unlabeled=True,
        sparse=True,
        random_state=0,
    )
    X = sp.csr_matrix(X, dtype=np.float64)
    X.data = np.log1p(X.data)
    norms = np.sqrt(np.asarray(X.multiply(X).sum(1))).ravel()
    X = sp.diags(1.0 / np.maximum(norms, 1e-12)) @ X
    return X.tocsr(), np.asarray(Y)
