"""load_jsonl and the embedded GoEmotions sample."""

import gzip
import json

import numpy as np
import pytest

from sklearn_zlpr.datasets import load_goemotions_sample, load_jsonl

from .conftest import DATASETS

ROWS = [
    {"text": "stocks fell", "labels": ["finance"]},
    {"text": "the striker scored", "labels": ["sports", "joy"]},
    {"text": "a quiet day", "labels": []},
]


def _write(path, rows, gz=False, raw=None):
    content = raw if raw is not None else "\n".join(json.dumps(r) for r in rows) + "\n"
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_load_plain_and_gzip(tmp_path, gz):
    path = _write(tmp_path / ("d.jsonl.gz" if gz else "d.jsonl"), ROWS, gz=gz)
    bunch = load_jsonl(path)
    assert bunch.data == [r["text"] for r in ROWS]
    assert list(bunch.target_names) == ["finance", "joy", "sports"]
    expected = [[1, 0, 0], [0, 1, 1], [0, 0, 0]]
    np.testing.assert_array_equal(bunch.target.toarray(), expected)
    assert bunch.target.dtype == np.int64


def test_label_order_from_a_file_and_several_files(tmp_path):
    a = _write(tmp_path / "a.jsonl", ROWS[:2])
    b = _write(tmp_path / "b.jsonl.gz", ROWS[2:], gz=True)
    labels = tmp_path / "labels.txt"
    labels.write_text("sports\nfinance\njoy\nunused\n")
    bunch = load_jsonl([a, b], labels=labels)
    assert list(bunch.target_names) == ["sports", "finance", "joy", "unused"]
    np.testing.assert_array_equal(
        bunch.target.toarray(), [[0, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    )
    assert bunch.filenames == [str(a), str(b)]


def test_labels_missing_from_the_label_list(tmp_path):
    path = _write(tmp_path / "test.jsonl", ROWS)
    with pytest.raises(ValueError, match=r"'joy' \(.*test.jsonl, line 2\)"):
        load_jsonl(path, labels=["finance", "sports"])
    with pytest.warns(UserWarning, match="Dropped 1 label occurrence"):
        bunch = load_jsonl(path, labels=["finance", "sports"], unknown_labels="ignore")
    np.testing.assert_array_equal(bunch.target.toarray(), [[1, 0], [0, 1], [0, 0]])


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "line 2: not valid JSON"),
        ("[1, 2]", "line 2: expected a JSON object"),
        ('{"labels": []}', 'line 2: "text" must be a string'),
        ('{"text": 3, "labels": []}', 'line 2: "text" must be a string'),
        ('{"text": "x"}', 'line 2: "labels" must be a list of strings'),
        ('{"text": "x", "labels": "a"}', 'line 2: "labels" must be a list of strings'),
        ('{"text": "x", "labels": [1]}', 'line 2: "labels" must be a list of strings'),
    ],
)
def test_malformed_lines_name_the_line(tmp_path, line, message):
    raw = json.dumps(ROWS[0]) + "\n" + line + "\n"
    path = _write(tmp_path / "bad.jsonl", None, raw=raw)
    with pytest.raises(ValueError, match=message):
        load_jsonl(path)


def test_other_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such data file"):
        load_jsonl(tmp_path / "missing.jsonl")
    empty = _write(tmp_path / "empty.jsonl", None, raw="\n\n")
    with pytest.raises(ValueError, match="No rows"):
        load_jsonl(empty)
    with pytest.raises(ValueError, match="unknown_labels"):
        load_jsonl(empty, unknown_labels="drop")
    with pytest.raises(ValueError, match="duplicates"):
        load_jsonl(_write(tmp_path / "d.jsonl", ROWS), labels=["joy", "joy"])


def test_embedded_goemotions_sample():
    train, test = load_goemotions_sample("train"), load_goemotions_sample("test")
    assert len(train.data) == 3000 and len(test.data) == 1000
    assert train.target.shape == (3000, 28) and test.target.shape == (1000, 28)
    assert train.target_names[0] == "admiration" and train.target_names[-1] == "neutral"
    # Every GoEmotions comment has at least one label (neutral is a label).
    assert (np.diff(train.target.indptr) >= 1).all()
    assert len(load_goemotions_sample("all").data) == 4000
    with pytest.raises(ValueError, match="subset"):
        load_goemotions_sample("dev")


@pytest.mark.skipif(not (DATASETS / "goemotions").is_dir(), reason="shared data absent")
def test_embedded_sample_rows_come_from_the_official_splits():
    full = load_jsonl(
        DATASETS / "goemotions" / "train.jsonl.gz",
        labels=DATASETS / "goemotions" / "labels.txt",
    )
    sample = load_goemotions_sample("train")
    # Walk the split in order: every sampled row is found after the previous one
    # (the sample keeps the original order; some texts occur twice in the split).
    rows, start = [], 0
    for text in sample.data:
        start = full.data.index(text, start)
        rows.append(start)
        start += 1
    np.testing.assert_array_equal(sample.target.toarray(), full.target[rows].toarray())
