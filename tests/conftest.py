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


def validation_rows(clf, n_samples):
    """The rows ``clf.fit`` holds out for validation (from its random_state)."""
    from sklearn_zlpr._validation import training_seed, validation_split

    seed = training_seed(clf.random_state)
    return validation_split(n_samples, clf.validation_fraction, seed)[1]


TINY_WORDS = (
    "the",
    "a",
    "and",
    "of",
    "to",
    "in",
    "is",
    "it",
    "was",
    "not",
    "good",
    "bad",
    "happy",
    "sad",
    "angry",
    "love",
    "hate",
    "great",
    "day",
    "night",
    "stocks",
    "fell",
    "rose",
    "rates",
    "team",
    "won",
    "cup",
    "final",
    "game",
    "play",
    "money",
    "market",
    "i",
    "you",
    "we",
    "they",
    "this",
    "that",
    "what",
    "so",
    "very",
    "really",
    "thanks",
    "sorry",
    "wow",
)


def save_tiny_bert(path, words=TINY_WORDS, **config):
    """Save a tiny randomly initialised BERT (seed 0) and its tokenizer to ``path``.

    A WordPiece tokenizer over ``words``; ``config`` overrides the
    ``BertConfig`` (2 layers, width 32). Built offline, in a second.
    """
    transformers = pytest.importorskip("transformers")
    import torch

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    # from_pretrained on a folder with vocab.txt works across transformers 4 and 5.
    tokenizer = transformers.BertTokenizerFast.from_pretrained(path)
    tokenizer.save_pretrained(path)
    settings = {
        "vocab_size": len(vocab),
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 64,
        **config,
    }
    torch.manual_seed(0)
    transformers.BertModel(transformers.BertConfig(**settings)).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory):
    """A tiny randomly initialised BERT (2 layers, width 32) saved as a local model,
    so that the transformer paths can be tested in seconds."""
    return save_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="session")
def tiny_texts():
    """Short texts and a 3-label indicator matrix that the words determine."""
    rng = np.random.RandomState(0)
    words = TINY_WORDS
    texts, Y = [], []
    for _ in range(120):
        picked = list(rng.choice(words, size=rng.randint(3, 9)))
        texts.append(" ".join(picked))
        Y.append(
            [
                int(bool({"happy", "love", "great", "good"} & set(picked))),
                int(bool({"sad", "angry", "hate", "bad"} & set(picked))),
                int(bool({"stocks", "rates", "money", "market"} & set(picked))),
            ]
        )
    return texts, np.array(Y)


@pytest.fixture
def forbid_densifying(monkeypatch):
    """Return ``forbid(n_features)``: make toarray/todense raise on such matrices.

    Any scipy sparse matrix or array with ``n_features`` columns then fails
    with ``AssertionError("X was densified")`` when turned into a dense one.
    """

    def guard(original, n_features):
        def wrapper(self, *args, **kwargs):
            if self.shape[-1] == n_features:
                raise AssertionError("X was densified")
            return original(self, *args, **kwargs)

        return wrapper

    def forbid(n_features):
        for cls in (
            sp._base._spbase,
            sp.csr_matrix,
            sp.csr_array,
            sp.coo_matrix,
            sp.csc_matrix,
        ):
            for name in ("toarray", "todense"):
                monkeypatch.setattr(cls, name, guard(getattr(cls, name), n_features))

    return forbid
