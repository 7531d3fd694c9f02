"""Batches for the torch module: CSR rows as (indices, offsets, weights).

A sparse matrix is never densified: each batch is cut from the CSR arrays and fed
to :class:`torch.nn.EmbeddingBag` as flat column indices, row offsets and the
matrix values as per-sample weights.
"""

import numpy as np
import scipy.sparse as sp
import torch
from torch.utils.data import Dataset

from ._hf import tokenize


class SparseBatch:
    """A batch of CSR rows in :class:`torch.nn.EmbeddingBag` form.

    Parameters
    ----------
    indices : torch.Tensor of int64, shape (nnz,)
        Column indices of the non-zero values, row after row.
    offsets : torch.Tensor of int64, shape (n_rows,)
        Start of each row in ``indices``.
    weights : torch.Tensor of float32, shape (nnz,)
        The non-zero values.
    """

    __slots__ = ("indices", "offsets", "weights")

    def __init__(self, indices, offsets, weights):
        self.indices = indices
        self.offsets = offsets
        self.weights = weights

    def __len__(self):
        # skorch counts samples per batch with len(batch[0]).
        return len(self.offsets)

    def to(self, device):
        """Return the batch on ``device``."""
        return SparseBatch(
            self.indices.to(device, non_blocking=True),
            self.offsets.to(device, non_blocking=True),
            self.weights.to(device, non_blocking=True),
        )


class TextBatch:
    """A batch of tokenised texts, padded to its longest text.

    Parameters
    ----------
    encoding : dict of str to torch.Tensor
        ``input_ids``, ``attention_mask`` and possibly ``token_type_ids``, each
        of shape (n_rows, tokens), as returned by a Hugging Face tokenizer.
    """

    __slots__ = ("encoding",)

    def __init__(self, encoding):
        self.encoding = encoding

    def __len__(self):
        return len(self.encoding["input_ids"])

    def to(self, device):
        """Return the batch on ``device``."""
        return TextBatch(
            {k: v.to(device, non_blocking=True) for k, v in self.encoding.items()}
        )


def csr_to_batch(X):
    """Turn a CSR matrix into a :class:`SparseBatch` without densifying it."""
    X = sp.csr_matrix(X) if not sp.issparse(X) or X.format != "csr" else X
    return SparseBatch(
        torch.from_numpy(X.indices.astype(np.int64, copy=False)),
        torch.from_numpy(X.indptr[:-1].astype(np.int64, copy=False)),
        torch.from_numpy(np.asarray(X.data, dtype=np.float32)),
    )


class BatchDataset(Dataset):
    """Rows of X (CSR, dense or texts), with optional targets and sample weights.

    The data loader hands a whole list of row indices to ``__getitems__``, so a
    batch is cut with one vectorised slice instead of one call per row. Use it
    with :func:`identity_collate`. Texts are tokenised per batch and padded to
    the batch's longest text (dynamic padding).

    Parameters
    ----------
    X : scipy.sparse.csr_matrix, ndarray of float32 or 1-D object ndarray of str
        Shape (n_samples, n_features), or (n_samples,) for texts.
    y : scipy.sparse.csr_matrix or ndarray, shape (n_samples, n_labels), default=None
        Binary (or soft) targets; cast to float32 per batch.
    sample_weight : ndarray of shape (n_samples,), default=None
    tokenizer : callable, default=None
        A Hugging Face tokenizer; needed when X holds texts.
    max_length : int, default=None
        Longest token sequence per text; longer texts are truncated.
    """

    def __init__(self, X, y=None, sample_weight=None, tokenizer=None, max_length=None):
        self.X = X
        self.y = y
        self.sample_weight = sample_weight
        self.tokenizer = tokenizer
        self.max_length = max_length

    def __len__(self):
        return self.X.shape[0]

    def __getitem__(self, i):
        return self.__getitems__([i])

    def __getitems__(self, idx):
        idx = np.asarray(idx, dtype=np.intp)
        if sp.issparse(self.X):
            xb = csr_to_batch(self.X[idx])
        elif self.tokenizer is not None:
            xb = TextBatch(tokenize(self.tokenizer, self.X[idx], self.max_length))
        else:
            xb = torch.from_numpy(np.ascontiguousarray(self.X[idx]))
        if self.y is None:
            return xb, None
        yb = self.y[idx]
        yb = yb.toarray() if sp.issparse(yb) else yb
        yb = torch.from_numpy(np.asarray(yb, dtype=np.float32))
        wb = None
        if self.sample_weight is not None:
            wb = torch.from_numpy(self.sample_weight[idx].astype(np.float32))
        return xb, (yb, wb)

    def subset(self, idx):
        """Return the dataset restricted to the rows ``idx``."""
        return BatchDataset(
            self.X[idx],
            None if self.y is None else self.y[idx],
            None if self.sample_weight is None else self.sample_weight[idx],
            self.tokenizer,
            self.max_length,
        )


def identity_collate(batch):
    """Collate function for :class:`BatchDataset`: the batch is already built."""
    return batch
