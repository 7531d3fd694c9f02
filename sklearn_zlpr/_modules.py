"""Torch modules that map features to raw label scores of shape (n, n_labels)."""

import math

import numpy as np
import torch
from torch import nn

from ._hf import load_encoder, pool

ACTIVATIONS = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "identity": nn.Identity,
}


class _Head(nn.Module):
    """The layers after the first: (activation,) dropout, linear, for each width.

    ``widths`` are the output widths of the linear layers, the last one the
    number of labels; no width gives the identity (the first layer's output
    is the score). ``input_activation=False`` skips the activation before the
    first of these layers (a transformer's pooled vector needs none).
    """

    def __init__(self, in_dim, widths, activation, dropout, input_activation=True):
        super().__init__()
        layers = []
        for i, width in enumerate(widths):
            if i > 0 or input_activation:
                layers.append(ACTIVATIONS[activation]())
            layers += [nn.Dropout(dropout), nn.Linear(in_dim, width)]
            in_dim = width
        self.layers = nn.Sequential(*layers)

    def forward(self, h):
        return self.layers(h)


def _init_projection(weight, bias, n_features):
    # One init for both input layers, so that the sparse (EmbeddingBag) and the
    # dense (Linear) model are the same function of the same seed. This is
    # torch's Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    bound = 1.0 / math.sqrt(max(n_features, 1))
    nn.init.uniform_(weight, -bound, bound)
    nn.init.uniform_(bias, -bound, bound)


class SparseMLP(nn.Module):
    """An MLP over sparse rows whose first layer is a sum-mode embedding bag.

    ``EmbeddingBag(mode="sum")`` with the matrix values as per-sample weights is
    exactly ``X @ W`` for a CSR matrix ``X``, computed from its non-zeros only.
    The bag is the first hidden layer (width ``hidden_layer_sizes[0]``); with no
    hidden layer it maps straight to the label scores (a linear model).

    Parameters
    ----------
    n_features : int
        Number of columns of X.
    n_labels : int
    hidden_layer_sizes : tuple of int
        Widths of the hidden layers, the embedding bag's first.
    activation : str
    dropout : float
    sparse : bool, default=False
        Sparse gradients for the embedding table: a backward pass then costs
        O(batch non-zeros x width) instead of O(table rows x width).
    columns : array-like of int or None, default=None
        The columns of X that get a row of the embedding table (sorted). None
        gives every column a row. With a subset (the columns seen in training)
        the table has ``len(columns)`` rows plus one zero padding row, which
        every other column maps to, so that it contributes nothing: a
        ``2**20``-column hashed matrix then costs one row per column that
        occurs, not per possible column.
    """

    def __init__(
        self,
        n_features,
        n_labels,
        hidden_layer_sizes,
        activation,
        dropout,
        sparse=False,
        columns=None,
    ):
        super().__init__()
        widths = (*hidden_layer_sizes, n_labels)
        embedding_dim = widths[0]
        if columns is None:
            n_rows, padding_idx = n_features, None
            self.column_index = None
        else:
            columns = torch.as_tensor(np.asarray(columns), dtype=torch.int64)
            n_rows = padding_idx = len(columns)
            index = torch.full((n_features,), padding_idx, dtype=torch.int64)
            index[columns] = torch.arange(len(columns))
            self.register_buffer("column_index", index)
        # _weight skips EmbeddingBag's own N(0, 1) init (and its random draws).
        self.embedding = nn.EmbeddingBag(
            n_rows + (padding_idx is not None),
            embedding_dim,
            mode="sum",
            sparse=sparse,
            padding_idx=padding_idx,
            _weight=torch.empty(n_rows + (padding_idx is not None), embedding_dim),
        )
        self.bias = nn.Parameter(torch.empty(embedding_dim))
        _init_projection(self.embedding.weight, self.bias, n_rows)
        if padding_idx is not None:
            with torch.no_grad():
                self.embedding.weight[padding_idx].zero_()
        self.head = _Head(embedding_dim, widths[1:], activation, dropout)

    def sparse_parameter_names(self):
        """Names of the parameters that receive sparse gradients."""
        return ["embedding.weight"] if self.embedding.sparse else []

    def forward(self, indices, offsets, weights):
        if self.column_index is not None:
            indices = self.column_index[indices]
        h = self.embedding(indices, offsets, per_sample_weights=weights) + self.bias
        return self.head(h)


class DenseMLP(nn.Module):
    """The same MLP as :class:`SparseMLP` over dense rows (a linear first layer).

    Parameters
    ----------
    n_features : int
    n_labels : int
    hidden_layer_sizes : tuple of int
        Widths of the hidden layers; none gives a linear model.
    activation : str
    dropout : float
    """

    def __init__(
        self,
        n_features,
        n_labels,
        hidden_layer_sizes,
        activation,
        dropout,
    ):
        super().__init__()
        widths = (*hidden_layer_sizes, n_labels)
        self.weight = nn.Parameter(torch.empty(n_features, widths[0]))
        self.bias = nn.Parameter(torch.empty(widths[0]))
        _init_projection(self.weight, self.bias, n_features)
        self.head = _Head(widths[0], widths[1:], activation, dropout)

    def forward(self, X):
        return self.head(torch.addmm(self.bias, X, self.weight))


class TransformerMLP(nn.Module):
    """A Hugging Face encoder, pooled to one vector per text, then an MLP head.

    The pooled vector (mean of the token vectors, or the first token's) goes
    through dropout, optional hidden layers and a linear layer with one raw
    score per label; no activation is applied to the pooled vector itself.

    Parameters
    ----------
    model_name_or_path : str
        A local model directory or hub name for ``AutoModel.from_pretrained``.
    n_labels : int
    hidden_layer_sizes : tuple of int
        Widths of the head's hidden layers after the pooled vector.
    activation : str
    dropout : float
    pooling : {"mean", "cls"}
    freeze_encoder : bool, default=False
        Keep the encoder's weights fixed (no gradients, dropout off): only the
        head trains.
    """

    def __init__(
        self,
        model_name_or_path,
        n_labels,
        hidden_layer_sizes,
        activation,
        dropout,
        pooling="mean",
        freeze_encoder=False,
    ):
        super().__init__()
        self.encoder = load_encoder(model_name_or_path)
        self.pooling = pooling
        self.freeze_encoder = freeze_encoder
        if freeze_encoder:
            self.encoder.requires_grad_(False)
        self.head = _Head(
            self.encoder.config.hidden_size,
            (*hidden_layer_sizes, n_labels),
            activation,
            dropout,
            input_activation=False,
        )

    def train(self, mode=True):
        super().train(mode)
        if self.freeze_encoder:
            self.encoder.eval()  # no dropout in a frozen encoder
        return self

    def forward(self, input_ids, attention_mask, **encoding):
        with torch.set_grad_enabled(
            torch.is_grad_enabled() and not self.freeze_encoder
        ):
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, **encoding
            ).last_hidden_state
            pooled = pool(hidden, attention_mask, self.pooling)
        return self.head(pooled.float())
