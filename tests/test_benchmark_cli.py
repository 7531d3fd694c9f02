"""``python -m sklearn_zlpr benchmark`` on a tiny JSONL fixture."""

import contextlib
import csv
import io
import json

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import make_multilabel_classification
from sklearn.feature_extraction.text import TfidfVectorizer

from sklearn_zlpr import ZLPRClassifier
from sklearn_zlpr.__main__ import main

NAMES = ["ant", "bee", "cat", "dog"]


@pytest.fixture(scope="module")
def fixture_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jsonl")
    X, Y = make_multilabel_classification(
        n_samples=260, n_features=40, n_classes=4, n_labels=2, length=25, random_state=0
    )
    for name, rows in (("train", slice(0, 200)), ("test", slice(200, 260))):
        with open(folder / f"{name}.jsonl", "w") as f:
            for x, y in zip(X[rows], Y[rows]):
                text = " ".join(
                    f"w{j}" for j in np.repeat(np.arange(40), x.astype(int))
                )
                labels = [NAMES[j] for j in np.flatnonzero(y)]
                f.write(json.dumps({"text": text, "labels": labels}) + "\n")
    (folder / "labels.txt").write_text("\n".join(NAMES) + "\n")
    return folder


def _run(args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def test_benchmark_writes_results_and_marks_the_best(fixture_files, tmp_path):
    f = fixture_files
    code, out, err = _run(
        [
            "benchmark",
            "--train",
            str(f / "train.jsonl"),
            "--test",
            str(f / "test.jsonl"),
            "--labels",
            str(f / "labels.txt"),
            "--losses",
            "zlpr",
            "bce",
            "lsep",
            "--seeds",
            "2",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0, err
    assert "[6/6] lsep seed 1" in err
    with open(tmp_path / "out" / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["loss"], r["seed"]) for r in rows] == [
        (loss, str(seed)) for loss in ("zlpr", "bce", "lsep") for seed in (0, 1)
    ]
    summary = json.loads((tmp_path / "out" / "results.json").read_text())["summary"]
    zlpr_f1 = [float(r["MLC-F1"]) for r in rows if r["loss"] == "zlpr"]
    assert summary["zlpr"]["MLC-F1"][0] == pytest.approx(np.mean(zlpr_f1))
    # The best mean of each metric column carries the mark.
    table = [
        line for line in out.splitlines() if line.startswith(("zlpr", "bce", "lsep"))
    ]
    assert len(table) == 3
    best_subacc = max(summary, key=lambda loss: summary[loss]["SubACC"][0])
    line = next(line for line in table if line.startswith(best_subacc))
    assert line.split()[1].endswith("*")
    png = tmp_path / "out" / "results.png"
    assert not png.exists() or png.read_bytes()[:4] == b"\x89PNG"


def test_benchmark_values_match_an_independent_computation(fixture_files, tmp_path):
    f = fixture_files
    code, _, _ = _run(
        [
            "benchmark",
            "--train",
            str(f / "train.jsonl"),
            "--test",
            str(f / "test.jsonl"),
            "--labels",
            str(f / "labels.txt"),
            "--losses",
            "zlpr",
            "--seeds",
            "1",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 0
    with open(tmp_path / "o" / "results.csv") as fh:
        row = next(csv.DictReader(fh))
    texts, labels = {}, {}
    for split in ("train", "test"):
        lines = [
            json.loads(line) for line in (f / f"{split}.jsonl").read_text().splitlines()
        ]
        texts[split] = [r["text"] for r in lines]
        labels[split] = np.array(
            [[int(n in r["labels"]) for n in NAMES] for r in lines]
        )
    vec = TfidfVectorizer(sublinear_tf=True, min_df=2)
    clf = ZLPRClassifier(random_state=0).fit(
        vec.fit_transform(texts["train"]), labels["train"]
    )
    Xt = vec.transform(texts["test"])
    pred, scores = clf.predict(Xt), clf.decision_function(Xt)
    yt = labels["test"]
    assert float(row["SubACC"]) == pytest.approx(skm.accuracy_score(yt, pred))
    assert float(row["MLC-F1"]) == pytest.approx(
        skm.f1_score(yt, pred, average="samples", zero_division=1.0)
    )
    assert float(row["RankLoss"]) == pytest.approx(skm.label_ranking_loss(yt, scores))
    assert float(row["AvgPrec"]) == pytest.approx(
        skm.label_ranking_average_precision_score(yt, scores)
    )


def test_benchmark_errors_are_clear(fixture_files, tmp_path):
    f = fixture_files
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "labels": ["ant"]}\n{"text": 1}\n')
    code, _, err = _run(
        ["benchmark", "--train", str(bad), "--test", str(f / "test.jsonl")]
    )
    assert code == 2 and "line 2" in err
    code, _, err = _run(
        [
            "benchmark",
            "--train",
            str(f / "train.jsonl"),
            "--test",
            str(f / "test.jsonl"),
            "--labels",
            str(tmp_path / "few.txt"),
        ]
    )
    assert code == 2 and "few.txt" in err
    (tmp_path / "few.txt").write_text("ant\nbee\n")
    code, _, err = _run(
        [
            "benchmark",
            "--train",
            str(f / "train.jsonl"),
            "--test",
            str(f / "test.jsonl"),
            "--labels",
            str(tmp_path / "few.txt"),
            "--losses",
            "zlpr",
            "--seeds",
            "1",
        ]
    )
    assert code == 2 and "not in the label list" in err and "unknown_labels" in err
    code, _, _ = _run(
        [
            "benchmark",
            "--train",
            str(f / "train.jsonl"),
            "--test",
            str(f / "test.jsonl"),
            "--labels",
            str(tmp_path / "few.txt"),
            "--unknown-labels",
            "ignore",
            "--losses",
            "zlpr",
            "--seeds",
            "1",
            "--out",
            str(tmp_path / "ig"),
        ]
    )
    assert code == 0


def test_fit_predict_evaluate(fixture_files, tmp_path, monkeypatch):
    f = fixture_files
    model = tmp_path / "model.pkl"
    code, out, _ = _run(
        [
            "fit",
            "--train",
            str(f / "train.jsonl"),
            "--labels",
            str(f / "labels.txt"),
            "--model",
            str(model),
        ]
    )
    assert code == 0 and model.exists() and "saved" in out
    test_rows = [
        json.loads(line) for line in (f / "test.jsonl").read_text().splitlines()
    ]
    texts = [r["text"] for r in test_rows]
    inputs = tmp_path / "texts.txt"
    inputs.write_text("\n".join(texts[:5]) + "\n")
    code, out, _ = _run(["predict", "--model", str(model), "--input", str(inputs)])
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 5
    # Same labels as the pipeline saved by 'fit' predicts for these texts.
    import pickle

    saved = pickle.loads(model.read_bytes())
    pred = saved["pipeline"].predict(texts[:5])
    for line, row in zip(lines, pred):
        assert line == ", ".join(NAMES[j] for j in np.flatnonzero(row))
    monkeypatch.setattr("sys.stdin", io.StringIO(texts[0] + "\n"))
    code, out, _ = _run(["predict", "--model", str(model), "--proba"])
    assert code == 0 and out.splitlines()[0].count("(") == pred[0].sum()
    code, out, _ = _run(
        ["evaluate", "--model", str(model), "--test", str(f / "test.jsonl")]
    )
    assert code == 0
    Y = np.array([[int(n in r["labels"]) for n in NAMES] for r in test_rows])
    full = saved["pipeline"].predict(texts)
    assert f"{skm.f1_score(Y, full, average='samples', zero_division=1.0):.4f}" in out
    code, _, err = _run(
        ["predict", "--model", str(f / "test.jsonl"), "--input", str(inputs)]
    )
    assert code == 2 and "not a model file" in err


def test_benchmark_dev_file_is_the_validation_set(fixture_files, tmp_path):
    f = fixture_files
    # The dev file: the first 40 test rows (any JSONL file in the format).
    dev = tmp_path / "dev.jsonl"
    dev.write_text("\n".join((f / "test.jsonl").read_text().splitlines()[:40]) + "\n")
    args = ["--train", str(f / "train.jsonl"), "--test", str(f / "test.jsonl")]
    args += ["--labels", str(f / "labels.txt"), "--losses", "zlpr", "--seeds", "1"]
    code, _, _ = _run(
        ["benchmark", *args, "--dev", str(dev), "--out", str(tmp_path / "d")]
    )
    assert code == 0
    with open(tmp_path / "d" / "results.csv") as fh:
        row = next(csv.DictReader(fh))
    meta = json.loads((tmp_path / "d" / "results.json").read_text())
    assert json.dumps(meta).count("dev.jsonl") >= 1

    # Independent recomputation: all 200 training rows train, the dev rows validate.
    def read(path):
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        Y = np.array([[int(n in r["labels"]) for n in NAMES] for r in lines])
        return [r["text"] for r in lines], Y

    (tr, Ytr), (te, Yte), (dv, Ydv) = (
        read(f / "train.jsonl"),
        read(f / "test.jsonl"),
        read(dev),
    )
    vec = TfidfVectorizer(sublinear_tf=True, min_df=2).fit(tr)
    clf = ZLPRClassifier(random_state=0)
    clf.fit(vec.transform(tr), Ytr, X_val=vec.transform(dv), y_val=Ydv)
    pred = clf.predict(vec.transform(te))
    assert float(row["SubACC"]) == pytest.approx(skm.accuracy_score(Yte, pred))


@pytest.mark.parametrize("features", ["transformer", "finetune"])
def test_benchmark_transformer_features(
    fixture_files, tmp_path, tiny_bert_dir, features
):
    f = fixture_files
    code, _, err = _run(
        [
            "benchmark",
            "--train",
            str(f / "train.jsonl"),
            "--test",
            str(f / "test.jsonl"),
            "--losses",
            "zlpr",
            "--seeds",
            "1",
            "--features",
            features,
            "--transformer-model",
            str(tiny_bert_dir),
            "--device",
            "cpu",
            "--out",
            str(tmp_path / features),
        ]
    )
    assert code == 0, err
    meta = json.loads((tmp_path / features / "results.json").read_text())
    assert features in json.dumps(meta)
    with open(tmp_path / features / "results.csv") as fh:
        row = next(csv.DictReader(fh))
    assert 0.0 <= float(row["AvgPrec"]) <= 1.0 and float(row["fit_s"]) > 0
