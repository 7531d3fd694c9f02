"""ONNX export: every exported path checked under onnxruntime against
``decision_function`` on held-out rows, and the errors.

Tolerance: ``atol=1e-5`` as the issue asks, and ``rtol=1e-6`` (about eight
float32 ulps): the linear model is evaluated in float64 in both places and
rounded to float32 once, so the two agree to an ulp or so of scores up to ~30
in magnitude; the network is float32 in both, with the sums in another order.
"""

import json
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_multilabel_classification
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sklearn_zlpr import ZLPRClassifier, export_onnx, onnx_inputs
from sklearn_zlpr.datasets import load_goemotions_sample

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

TOLERANCE = {"atol": 1e-5, "rtol": 1e-6}
N_TRAIN = 400


def session_of(model):
    """An onnxruntime session of an exported model (ModelProto or path)."""
    if not isinstance(model, str):
        model = model.SerializeToString()
    return ort.InferenceSession(model, providers=["CPUExecutionProvider"])


def onnx_scores(session, X, **kwargs):
    return session.run(["scores"], onnx_inputs(session, X, **kwargs))[0]


def assert_same_scores(clf, X, X_ref=None, **export_kwargs):
    """Export ``clf``, run it on ``X``; compare with decision_function(X_ref)."""
    session = session_of(export_onnx(clf, **export_kwargs))
    scores = onnx_scores(session, X)
    expected = clf.decision_function(X if X_ref is None else X_ref)
    assert scores.dtype == np.float32
    assert scores.shape == expected.shape
    np.testing.assert_allclose(scores, expected, **TOLERANCE)
    return session


@pytest.fixture(scope="module")
def tfidf(multilabel_data):
    """TF-IDF-like CSR rows, the held-out ones with an empty first and last row."""
    X, Y = multilabel_data
    X_test = X[N_TRAIN:].tolil()
    X_test[0], X_test[-1] = 0, 0
    return X[:N_TRAIN], Y[:N_TRAIN], sp.csr_matrix(X_test)


@pytest.fixture(scope="module")
def counts():
    """Dense count features, shifted away from zero (a large mean per column)."""
    X, Y = make_multilabel_classification(
        500, n_features=30, n_classes=5, random_state=0
    )
    X = X + np.arange(30) * 10.0
    return X[:N_TRAIN], Y[:N_TRAIN], X[N_TRAIN:]


# ------------------------------------------------------------ linear model
def test_linear_model_on_sparse_tfidf_rows(tfidf, tmp_path, forbid_densifying):
    X, Y, X_test = tfidf
    clf = ZLPRClassifier().fit(X, Y)
    assert clf.solver_ == "lbfgs" and not clf.feature_scaled_
    path = tmp_path / "linear.onnx"
    model = export_onnx(clf, path)
    session = session_of(str(path))
    assert [i.name for i in session.get_inputs()] == ["indices", "offsets", "weights"]
    assert [i.type for i in session.get_inputs()] == [
        "tensor(int64)",
        "tensor(int64)",
        "tensor(float)",
    ]
    forbid_densifying(X.shape[1])
    inputs = onnx_inputs(session, X_test)
    np.testing.assert_array_equal(inputs["offsets"], X_test.indptr[:-1])
    scores = session.run(["scores"], inputs)[0]
    np.testing.assert_allclose(scores, clf.decision_function(X_test), **TOLERANCE)
    # The empty rows score the intercepts.
    np.testing.assert_allclose(scores[[0, -1]], [clf.intercept_] * 2, atol=1e-6)
    # The file is the returned model; the metadata say how to feed it.
    assert onnx.load(str(path)) == model
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["sklearn_zlpr.input_format"] == "sparse"
    assert json.loads(meta["sklearn_zlpr.classes"]) == clf.classes_.tolist()


def test_linear_model_on_standardised_dense_features(counts):
    X, Y, X_test = counts
    clf = ZLPRClassifier().fit(X, Y)
    assert clf.solver_ == "lbfgs" and clf.feature_scaled_
    # The intercepts cancel large products: the graph computes in float64 (a
    # float32 graph was off by 4e-5 here).
    assert np.abs(clf.intercept_).max() > 100
    session = assert_same_scores(clf, X_test)
    assert [i.name for i in session.get_inputs()] == ["X"]
    assert session.get_inputs()[0].shape == ["n_samples", 30]


def test_either_input_format_for_either_kind_of_rows(tfidf, counts):
    X, Y, X_test = tfidf
    clf = ZLPRClassifier().fit(X, Y)
    assert_same_scores(clf, X_test.toarray(), X_test, input_format="dense")
    X, Y, X_test = counts
    clf = ZLPRClassifier().fit(X, Y)
    assert_same_scores(clf, sp.csr_matrix(X_test), X_test, input_format="sparse")


def test_linear_model_behind_a_tfidf_vectorizer():
    data = load_goemotions_sample()
    texts, Y = list(data.data[:500]), data.target[:500]
    pipe = make_pipeline(TfidfVectorizer(min_df=2), ZLPRClassifier()).fit(texts, Y)
    with pytest.raises(TypeError, match=r"export its last step"):
        export_onnx(pipe)
    session = session_of(export_onnx(pipe[-1]))
    held_out = list(load_goemotions_sample("test").data[:200])
    scores = onnx_scores(session, pipe[:-1].transform(held_out))
    np.testing.assert_allclose(scores, pipe.decision_function(held_out), **TOLERANCE)


# ------------------------------------------------------------ network
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_network_over_sparse_rows(tfidf, activation):
    X, Y, X_test = tfidf
    clf = ZLPRClassifier(
        hidden_layer_sizes=(16, 8), activation=activation, max_epochs=2, random_state=0
    ).fit(X, Y)
    assert type(clf.net_.module_).__name__ == "SparseMLP"
    assert_same_scores(clf, X_test)
    assert_same_scores(clf, X_test.toarray(), X_test, input_format="dense")


def test_network_table_of_the_training_columns_only(tfidf):
    # Columns never seen in training have no row of the embedding table.
    X, Y, X_test = tfidf
    X = X.tolil()
    X[:, 150:] = 0
    clf = ZLPRClassifier(max_epochs=2, random_state=0).fit(X.tocsr(), Y)
    assert clf.net_.module_.column_index is not None
    assert_same_scores(clf, X_test)
    assert_same_scores(clf, X_test.toarray(), X_test, input_format="dense")


def test_sparse_export_is_stable_across_runs(tfidf):
    # Per-row sums by a cumulative sum, not ScatterND(reduction="add"), whose
    # onnxruntime kernel lost an update now and then: repeated runs agree.
    X, Y, X_test = tfidf
    clf = ZLPRClassifier(max_epochs=2, random_state=0).fit(X, Y)
    session = session_of(export_onnx(clf))
    first = onnx_scores(session, X_test)
    for _ in range(20):
        np.testing.assert_array_equal(onnx_scores(session, X_test), first)


@pytest.mark.parametrize("activation", ["tanh", "logistic", "identity"])
def test_network_over_dense_rows(counts, activation):
    X, Y, X_test = counts
    X, X_test = X / 100, X_test / 100
    clf = ZLPRClassifier(
        hidden_layer_sizes=(16,), activation=activation, max_epochs=2, random_state=0
    ).fit(X, Y)
    assert type(clf.net_.module_).__name__ == "DenseMLP"
    session = assert_same_scores(clf, X_test)
    assert [i.name for i in session.get_inputs()] == ["X"]
    assert_same_scores(clf, sp.csr_matrix(X_test), X_test, input_format="sparse")


@pytest.mark.parametrize("solver", ["lbfgs", "minibatch"])
def test_binary_and_multiclass_targets(counts, solver):
    X, Y, X_test = counts
    X, X_test = X / 100, X_test / 100
    params = {"solver": solver, "max_epochs": 2} if solver == "minibatch" else {}
    for y in (Y[:, 0], Y.argmax(1)):
        clf = ZLPRClassifier(random_state=0, **params).fit(X, y)
        assert_same_scores(clf, X_test)  # binary: s_1 - s_0, shape (n,)
    assert clf.decision_function(X_test).shape == (len(X_test), len(clf.classes_))


# ------------------------------------------------------------ transformer
def test_transformer_network_over_token_ids(tiny_bert_dir, tiny_texts):
    texts, Y = tiny_texts
    clf = ZLPRClassifier(
        transformer_model=str(tiny_bert_dir),
        hidden_layer_sizes=(8,),
        max_epochs=1,
        random_state=0,
    ).fit(texts[:100], Y[:100])
    session = session_of(export_onnx(clf))
    assert {i.name for i in session.get_inputs()} >= {"input_ids", "attention_mask"}
    # Padded batches and a single text (no padding) alike.
    for batch in (texts[100:], texts[100:101]):
        scores = onnx_scores(session, batch, tokenizer=clf.tokenizer_)
        np.testing.assert_allclose(scores, clf.decision_function(batch), **TOLERANCE)
    with pytest.raises(ValueError, match="tokenizer="):
        onnx_inputs(session, texts[:2])
    with pytest.raises(ValueError, match="token ids"):
        export_onnx(clf, input_format="dense")


# ------------------------------------------------------------ errors
def test_errors_are_clear(tfidf, counts, monkeypatch):
    X, Y, X_test = tfidf
    with pytest.raises(NotFittedError):
        export_onnx(ZLPRClassifier())
    with pytest.raises(TypeError, match="got LogisticRegression"):
        export_onnx(LogisticRegression().fit(X, Y[:, 0]))
    clf = ZLPRClassifier().fit(X, Y)
    with pytest.raises(ValueError, match="input_format"):
        export_onnx(clf, input_format="csr")
    sparse_session = session_of(export_onnx(clf))
    with pytest.raises(ValueError, match="has 199 features.*fitted with 200"):
        onnx_inputs(sparse_session, X_test[:, :199])
    with pytest.raises(ValueError, match="holds texts"):
        onnx_inputs(sparse_session, ["a text"])
    dense_session = session_of(export_onnx(clf, input_format="dense"))
    with pytest.raises(ValueError, match="never densified"):
        onnx_inputs(dense_session, X_test)
    foreign = onnx.helper.make_model(onnx.helper.make_graph([], "g", [], []))
    with pytest.raises(ValueError, match="not written by sklearn_zlpr"):
        onnx_inputs(foreign, X_test)
    with pytest.raises(TypeError, match="InferenceSession"):
        onnx_inputs(object(), X_test)
    monkeypatch.setitem(sys.modules, "onnx", None)  # onnx not installed
    with pytest.raises(ImportError, match=r"sklearn-zlpr\[export\]"):
        export_onnx(clf)
