"""``sklearn-zlpr fit --stream`` and :func:`sklearn_zlpr.datasets.iter_jsonl_chunks`.

The streamed CLI fit must equal a model trained by hand with ``partial_fit`` on
the same chunks (read here with plain ``json``), and write a model file that
``predict`` and ``evaluate`` read as usual.
"""

import gzip
import json
import random

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_zlpr import ZLPRClassifier, load
from sklearn_zlpr.__main__ import STREAM_MODEL, main, make_stream_features
from sklearn_zlpr.datasets import iter_jsonl_chunks, load_jsonl

LABELS = ["sports", "politics", "science", "music"]
WORDS = {
    "sports": "goal match team referee",
    "politics": "vote election senate policy",
    "science": "atom experiment theory cell",
    "music": "guitar melody concert album",
}
FILLER = ["the", "a", "of", "and", "to", "in", "it", "is", "was", "for", "on", "with"]


def _rows(n, seed):
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        labels = rng.sample(LABELS, rng.randint(1, 2))
        words = [rng.choice(FILLER) for _ in range(rng.randint(5, 15))]
        for label in labels:
            words += rng.sample(WORDS[label].split(), 2)
        rng.shuffle(words)
        rows.append({"text": " ".join(words), "labels": labels})
    return rows


def _write(path, rows):
    text = "".join(json.dumps(row) + "\n" for row in rows)
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def data(tmp_path):
    train = _write(tmp_path / "train.jsonl.gz", _rows(230, seed=0))
    test = _write(tmp_path / "test.jsonl", _rows(40, seed=1))
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(LABELS) + "\n", encoding="utf-8")
    return train, test, labels


def _chunks_by_hand(path, chunk_size):
    """The chunks of a JSONL file, read with plain json (not the package's reader)."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    for start in range(0, len(rows), chunk_size):
        part = rows[start : start + chunk_size]
        Y = np.array([[int(n in r["labels"]) for n in LABELS] for r in part])
        yield [r["text"] for r in part], Y


def test_streamed_fit_equals_partial_fit_on_the_same_chunks(data, tmp_path, capsys):
    train, test, labels = data
    model = tmp_path / "model.zlpr"
    argv = ["fit", "--train", str(train), "--labels", str(labels), "--stream"]
    argv += ["--chunk-size", "50", "--epochs", "2", "--device", "cpu"]
    argv += ["--seed", "3", "--model", str(model)]
    assert main(argv) == 0

    features = make_stream_features()
    clf = ZLPRClassifier(random_state=3, device="cpu", **STREAM_MODEL)
    for _ in range(2):
        for texts, Y in _chunks_by_hand(train, 50):
            X = features.fit(texts).transform(texts)  # stateless: refit is harmless
            clf.partial_fit(X, Y)
    assert clf.n_iter_ == 2 * 5  # 230 rows: 4 chunks of 50 and one of 30, twice

    saved = load(model)
    assert saved["target_names"] == LABELS
    held_out = [row["text"] for row in _rows(25, seed=2)]
    np.testing.assert_allclose(
        saved["pipeline"].decision_function(held_out),
        clf.decision_function(features.transform(held_out)),
        rtol=0,
        atol=1e-6,
    )

    capsys.readouterr()
    inputs = tmp_path / "texts.txt"
    inputs.write_text("\n".join(held_out[:3]) + "\n", encoding="utf-8")
    assert main(["predict", "--model", str(model), "--input", str(inputs)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert main(["evaluate", "--model", str(model), "--test", str(test)]) == 0
    assert "Micro-F1" in capsys.readouterr().out


def test_streamed_fit_without_labels_reads_them_first(data, tmp_path, capsys):
    train, _, _ = data
    with_file, without = tmp_path / "a.zlpr", tmp_path / "b.zlpr"
    common = ["fit", "--train", str(train), "--stream", "--chunk-size", "100"]
    common += ["--device", "cpu"]
    assert main([*common, "--model", str(without)]) == 0
    assert "first pass" in capsys.readouterr().err
    # The label-only pass gives load_jsonl's label set: the sorted names.
    assert load(without)["target_names"] == sorted(LABELS)
    sorted_labels = tmp_path / "sorted.txt"
    sorted_labels.write_text("\n".join(sorted(LABELS)), encoding="utf-8")
    assert (
        main([*common, "--labels", str(sorted_labels), "--model", str(with_file)]) == 0
    )
    texts = [row["text"] for row in _rows(10, seed=4)]
    np.testing.assert_array_equal(
        load(with_file)["pipeline"].decision_function(texts),
        load(without)["pipeline"].decision_function(texts),
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--stream", "--features", "tfidf"], "--stream needs --features hashing"),
        (["--stream", "--features", "transformer"], "--stream needs --features"),
        (["--chunk-size", "10"], "--chunk-size applies only with --stream"),
        (["--epochs", "2"], "--epochs applies only with --stream"),
        (["--stream", "--chunk-size", "0"], "must be at least 1"),
    ],
)
def test_usage_errors(data, tmp_path, capsys, extra, message):
    train, _, labels = data
    model = tmp_path / "model.zlpr"
    argv = ["fit", "--train", str(train), "--labels", str(labels)]
    with pytest.raises(SystemExit) as exc:
        main([*argv, *extra, "--model", str(model)])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not model.exists()


def test_failed_streamed_fit_leaves_no_model(data, tmp_path, capsys):
    _, _, labels = data
    rows = _rows(120, seed=5)
    bad = tmp_path / "bad.jsonl"
    text = "".join(json.dumps(row) + "\n" for row in rows)
    bad.write_text(text + "{not json\n", encoding="utf-8")
    unknown = _write(
        tmp_path / "unknown.jsonl", [*rows, {"text": "x", "labels": ["art"]}]
    )
    for path, message in [
        (bad, f"{bad}, line 121: not valid JSON"),
        (unknown, f"{unknown}, line 121: label 'art' is not in the label list"),
    ]:
        model = tmp_path / "model.zlpr"
        argv = ["fit", "--train", str(path), "--labels", str(labels), "--stream"]
        argv += ["--chunk-size", "50", "--device", "cpu", "--model", str(model)]
        assert main(argv) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith(f"error: {message}")
        assert not model.exists()
        assert not list(tmp_path.glob("model.zlpr*"))


def test_iter_jsonl_chunks_matches_load_jsonl(data):
    train, _, labels = data
    whole = load_jsonl(train, labels=labels)
    chunks = list(iter_jsonl_chunks([train], labels=labels, chunk_size=64))
    assert [len(texts) for texts, _ in chunks] == [64, 64, 64, 38]
    assert [t for texts, _ in chunks for t in texts] == whole.data
    Y = sp.vstack([Y for _, Y in chunks])
    assert Y.dtype == np.int64 and sp.isspmatrix_csr(chunks[0][1])
    assert (Y != whole.target).nnz == 0


def test_iter_jsonl_chunks_spans_files_and_drops_unknown_labels(tmp_path):
    a = _write(tmp_path / "a.jsonl", [{"text": "one", "labels": ["x", "z"]}] * 3)
    b = _write(tmp_path / "b.jsonl", [{"text": "two", "labels": ["z"]}] * 2)
    with pytest.warns(UserWarning, match="Dropped 5 label occurrence"):
        chunks = list(
            iter_jsonl_chunks(
                [a, b], labels=["x"], chunk_size=4, unknown_labels="ignore"
            )
        )
    assert [texts for texts, _ in chunks] == [["one"] * 3 + ["two"], ["two"]]
    assert chunks[0][1].toarray().ravel().tolist() == [1, 1, 1, 0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chunk_size": 0}, "chunk_size must be an int of at least 1; got 0"),
        ({"chunk_size": 2.5}, "chunk_size must be an int of at least 1; got 2.5"),
        ({"unknown_labels": "drop"}, "unknown_labels must be 'error' or 'ignore'"),
    ],
)
def test_iter_jsonl_chunks_bad_arguments(data, kwargs, message):
    train, _, labels = data
    with pytest.raises(ValueError, match=message):
        next(iter_jsonl_chunks(train, labels=labels, **kwargs))


def test_iter_jsonl_chunks_empty_file(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match="No rows found"):
        list(iter_jsonl_chunks(empty, labels=["x"]))
