"""sklearn_zlpr.save / load: no pickle, allow-listed types, identical predictions."""

import io
import json
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import make_multilabel_classification
from sklearn.feature_extraction.text import (
    HashingVectorizer,
    TfidfTransformer,
    TfidfVectorizer,
)
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, MultiLabelBinarizer, StandardScaler

import sklearn_zlpr._persistence as P
from sklearn_zlpr import UntrustedTypeError, ZLPRClassifier, load, save
from sklearn_zlpr.datasets import load_goemotions_sample


@pytest.fixture(scope="module")
def texts():
    data = load_goemotions_sample("train")
    return data.data[:400], data.target[:400].toarray()


@pytest.fixture(scope="module")
def numeric():
    X, Y = make_multilabel_classification(n_samples=120, n_classes=5, random_state=0)
    return X.astype(np.float64), Y


def _same_predictions(a, b, X):
    np.testing.assert_array_equal(a.decision_function(X), b.decision_function(X))
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


@pytest.mark.parametrize(
    "params, sparse",
    [
        ({}, False),
        ({}, True),
        ({"max_epochs": 2, "random_state": 0}, False),
        ({"max_epochs": 2, "random_state": 0}, True),
        ({"max_epochs": 2, "hidden_layer_sizes": (), "loss": "bce"}, True),
        ({"solver": "newton-cg", "top_k": 2}, False),
    ],
    ids=["linear-dense", "linear-sparse", "net-dense", "net-sparse", "bce", "topk"],
)
def test_classifier_round_trip_is_bit_identical(numeric, tmp_path, params, sparse):
    X, Y = numeric
    X = sp.csr_matrix(X) if sparse else X
    clf = ZLPRClassifier(**params).fit(X, Y)
    path = save(clf, tmp_path / "m.zlpr")
    again = load(path)
    assert type(again) is ZLPRClassifier
    assert again.get_params() == clf.get_params()
    for name in ("classes_", "n_features_in_", "solver_", "threshold_", "top_k_"):
        assert np.array_equal(getattr(again, name), getattr(clf, name))
    _same_predictions(clf, again, X)
    # Only a manifest and .npy arrays, each readable without pickle.
    names = _members(path)
    assert "manifest.json" in names
    with zipfile.ZipFile(path) as zf:
        for name in names:
            if name != "manifest.json":
                assert name.startswith("arrays/") and name.endswith(".npy")
                np.load(io.BytesIO(zf.read(name)), allow_pickle=False)


def test_path_parameters_round_trip(numeric, tmp_path):
    X, Y = numeric
    clf = ZLPRClassifier(max_epochs=1, random_state=0, checkpoint_dir=tmp_path / "c")
    clf.fit(X, Y)
    again = load(save(clf, tmp_path / "m.zlpr"))
    assert again.checkpoint_dir == tmp_path / "c"
    _same_predictions(clf, again, X)


def test_one_d_targets_round_trip(numeric, tmp_path):
    X, Y = numeric
    y = np.array(["a", "b", "c"])[Y[:, :3].argmax(1)]
    clf = ZLPRClassifier(max_epochs=2, random_state=0).fit(X, y)
    again = load(save(clf, tmp_path / "m.zlpr"))
    assert list(again.classes_) == ["a", "b", "c"]
    _same_predictions(clf, again, X)


def test_pipelines_and_grid_search_best_estimator(texts, tmp_path):
    docs, Y = texts
    for pipe in [
        make_pipeline(TfidfVectorizer(sublinear_tf=True, min_df=2), ZLPRClassifier()),
        make_pipeline(
            HashingVectorizer(n_features=2**12, alternate_sign=False, norm=None),
            TfidfTransformer(sublinear_tf=True),
            ZLPRClassifier(max_epochs=2, random_state=0),
        ),
    ]:
        pipe.fit(docs[:300], Y[:300])
        again = load(save(pipe, tmp_path / "p.zlpr"))
        _same_predictions(pipe, again, docs[300:])
    search = GridSearchCV(
        make_pipeline(TfidfVectorizer(), ZLPRClassifier()),
        {"zlprclassifier__C": [0.5, 2.0]},
        cv=2,
    ).fit(docs[:300], Y[:300])
    with pytest.raises(TypeError, match="best_estimator_"):
        save(search, tmp_path / "s.zlpr")
    again = load(save(search.best_estimator_, tmp_path / "best.zlpr"))
    _same_predictions(search.best_estimator_, again, docs[300:])
    # A MultiLabelBinarizer next to the model, in a plain dict.
    mlb = MultiLabelBinarizer().fit([["joy", "anger"], ["fear"]])
    scaler = StandardScaler().fit(np.arange(12.0).reshape(6, 2))
    saved = load(save({"mlb": mlb, "scaler": scaler}, tmp_path / "d.zlpr"))
    assert list(saved["mlb"].classes_) == ["anger", "fear", "joy"]
    np.testing.assert_array_equal(
        saved["mlb"].transform([["fear", "joy"]]), mlb.transform([["fear", "joy"]])
    )
    np.testing.assert_array_equal(saved["scaler"].scale_, scaler.scale_)


def test_identical_predictions_in_a_fresh_process(texts, tmp_path):
    docs, Y = texts
    pipe = make_pipeline(
        TfidfVectorizer(min_df=2), ZLPRClassifier(max_epochs=2, random_state=0)
    ).fit(docs[:300], Y[:300])
    path = save(pipe, tmp_path / "p.zlpr")
    (tmp_path / "texts.json").write_text(json.dumps(list(docs[300:])))
    code = (
        "import json, sys, numpy as np; from sklearn_zlpr import load;"
        "p = load(sys.argv[1]); t = json.load(open(sys.argv[2]));"
        "np.save(sys.argv[3], p.decision_function(t))"
    )
    out = tmp_path / "scores.npy"
    subprocess.run(
        [sys.executable, "-c", code, str(path), str(tmp_path / "texts.json"), str(out)],
        check=True,
        timeout=120,
    )
    ours = pipe.decision_function(docs[300:])
    theirs = np.load(out)
    assert theirs.dtype == ours.dtype and theirs.tobytes() == ours.tobytes()


def _rewrite_manifest(path, edit):
    """Rewrite a model file's manifest through ``edit(manifest)``."""
    with zipfile.ZipFile(path) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    manifest = json.loads(files["manifest.json"])
    edit(manifest)
    files["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)


class _Marker:
    """Unpickling this creates a file: proof that code from a file ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_untrusted_types_are_refused_and_nothing_runs(numeric, tmp_path):
    X, Y = numeric
    path = save(ZLPRClassifier().fit(X, Y), tmp_path / "m.zlpr")
    marker = tmp_path / "ran"

    def swap_type(manifest):
        manifest["object"]["__estimator__"] = "subprocess.Popen"

    _rewrite_manifest(path, swap_type)
    before = set(sys.modules)
    with pytest.raises(UntrustedTypeError, match="subprocess.Popen"):
        load(path)
    assert "subprocess" in before or "subprocess" not in set(sys.modules) - before

    # A pickled payload inside an array file (what np.load(allow_pickle=True)
    # or pickle.load would run) is refused: object arrays are never unpickled.
    evil = tmp_path / "evil.zlpr"
    buf = io.BytesIO()
    np.save(buf, np.array([_Marker(marker)], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(evil, "w") as zf:
        manifest = {
            "format": P.FORMAT,
            "format_version": P.FORMAT_VERSION,
            "versions": P._versions(),
            "object": {"__ndarray__": "arrays/0.npy"},
        }
        zf.writestr("manifest.json", json.dumps(manifest))
        zf.writestr("arrays/0.npy", buf.getvalue())
    with pytest.raises(ValueError, match="damaged"):
        load(evil)
    assert not marker.exists()
    # A plain pickle file is not a model file either, and is never unpickled.
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(pickle.dumps(_Marker(marker)))
    with pytest.raises(ValueError, match="not a model file"):
        load(pkl)
    assert not marker.exists()


def test_trusted_names_a_type_beyond_the_allow_list(tmp_path, monkeypatch):
    scaler = MinMaxScaler().fit(np.arange(8.0).reshape(4, 2))
    name = "sklearn.preprocessing._data.MinMaxScaler"
    with pytest.raises(TypeError, match="not supported"):
        save(scaler, tmp_path / "s.zlpr")
    monkeypatch.setattr(P, "_SKLEARN_TYPES", P._SKLEARN_TYPES | {name})
    path = save(scaler, tmp_path / "s.zlpr")
    monkeypatch.undo()
    with pytest.raises(UntrustedTypeError, match="trusted="):
        load(path)
    again = load(path, trusted=[name])
    np.testing.assert_array_equal(
        again.transform([[1.0, 2.0]]), scaler.transform([[1.0, 2.0]])
    )


def test_versions_are_recorded_and_checked(numeric, tmp_path):
    X, Y = numeric
    clf = ZLPRClassifier().fit(X, Y)
    path = save(clf, tmp_path / "m.zlpr")
    with zipfile.ZipFile(path) as zf:
        versions = json.loads(zf.read("manifest.json"))["versions"]
    assert versions["torch"] == torch.__version__
    assert set(versions) >= {"sklearn-zlpr", "torch", "scikit-learn", "numpy"}

    def old_torch(manifest):
        manifest["versions"]["torch"] = "1.0.0"

    _rewrite_manifest(path, old_torch)
    with pytest.warns(UserWarning, match="torch 1.0.0"):
        again = load(path)
    _same_predictions(clf, again, X)

    def newer(manifest):
        manifest["format_version"] = P.FORMAT_VERSION + 1

    _rewrite_manifest(path, newer)
    with pytest.raises(ValueError, match="Upgrade sklearn-zlpr"):
        load(path)


def test_a_gpu_trained_model_loads_on_the_cpu(numeric, tmp_path, monkeypatch):
    X, Y = numeric
    X = sp.csr_matrix(X)
    clf = ZLPRClassifier(max_epochs=2, random_state=0).fit(X, Y)
    path = save(clf, tmp_path / "m.zlpr")

    def on_cuda(manifest):  # what a CUDA fit writes: its device in the params
        for key, value in manifest["object"]["state"]["params"]["__dict__"]:
            if key == "device":
                break
        pairs = manifest["object"]["state"]["params"]["__dict__"]
        for pair in pairs:
            if pair[0] == "device":
                pair[1] = "cuda:0"
        for pair in manifest["object"]["state"]["fitted"]["__dict__"]:
            if pair[0] == "device_":
                pair[1] = "cuda:0"

    _rewrite_manifest(path, on_cuda)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="loaded on the CPU"):
        again = load(path)
    assert again.device_ == "cpu" and again.device == "cuda:0"
    np.testing.assert_array_equal(again.decision_function(X), clf.decision_function(X))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_model_saved_from_cuda_loads_anywhere(numeric, tmp_path):
    X, Y = numeric
    clf = ZLPRClassifier(max_epochs=2, random_state=0, device="cuda").fit(X, Y)
    again = load(save(clf, tmp_path / "m.zlpr"))
    np.testing.assert_allclose(
        again.decision_function(X), clf.decision_function(X), rtol=0, atol=0
    )


def test_code_is_refused_and_no_partial_file_is_left(texts, tmp_path):
    docs, Y = texts
    pipe = make_pipeline(
        TfidfVectorizer(tokenizer=str.split, token_pattern=None), ZLPRClassifier()
    ).fit(docs[:100], Y[:100])
    target = tmp_path / "p.zlpr"
    with pytest.raises(TypeError, match="stores no code"):
        save(pipe, target)
    assert not target.exists() and os.listdir(tmp_path) == []
    clf = ZLPRClassifier(loss=torch.nn.BCEWithLogitsLoss(), max_epochs=1)
    clf.fit(np.eye(6), np.eye(6, dtype=int)[:, :3])
    with pytest.raises(TypeError, match="loss is a torch module"):
        save(clf, target)
    with pytest.raises(ValueError, match="fitted"):
        save(ZLPRClassifier(), target)
    assert os.listdir(tmp_path) == []


def test_damaged_files_give_one_clear_error(numeric, tmp_path):
    X, Y = numeric
    path = save(ZLPRClassifier().fit(X, Y), tmp_path / "m.zlpr")
    with open(path, "rb") as f:
        data = f.read()
    cut = tmp_path / "cut.zlpr"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a model file"):
        load(cut)
    empty = tmp_path / "empty.zlpr"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="not a model file"):
        load(empty)

    def drop_array(manifest):
        manifest["object"]["state"]["linear"]["__dict__"][0][1] = {
            "__ndarray__": "arrays/99.npy"
        }

    _rewrite_manifest(path, drop_array)
    with pytest.raises(ValueError, match="damaged"):
        load(path)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.zlpr")


def test_continued_training_after_loading(numeric, tmp_path):
    X, Y = numeric
    clf = ZLPRClassifier(max_epochs=2, random_state=0).fit(X, Y)
    again = load(save(clf, tmp_path / "m.zlpr"))
    clf.partial_fit(X, Y)
    again.partial_fit(X, Y)
    assert len(again.net_.history) == 3
    # The optimizer's moments and the batch order were saved: the same epoch.
    np.testing.assert_array_equal(again.decision_function(X), clf.decision_function(X))


def test_a_fine_tuned_transformer_round_trips(tiny_bert_dir, tiny_texts, tmp_path):
    # Raw texts have no n_features_in_: the network is rebuilt without it.
    X, Y = tiny_texts
    clf = ZLPRClassifier(
        encoder="transformer",
        transformer_model=tiny_bert_dir,
        max_epochs=1,
        batch_size=32,
        random_state=0,
        device="cpu",
    ).fit(X, Y)
    assert not hasattr(clf, "n_features_in_")
    again = load(save(clf, tmp_path / "m.zlpr"))
    _same_predictions(clf, again, X)
