"""``python -m sklearn_zlpr benchmark`` on a tiny JSONL fixture."""

import contextlib
import csv
import io
import json
import pickle
import zipfile

import matplotlib
import matplotlib.image
import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import make_multilabel_classification
from sklearn.feature_extraction.text import TfidfVectorizer

from sklearn_zlpr import ZLPRClassifier, load
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


def _bench_args(f):
    """``benchmark --train ... --test ...`` on the fixture files in ``f``."""
    return [
        "benchmark",
        "--train",
        str(f / "train.jsonl"),
        "--test",
        str(f / "test.jsonl"),
    ]


def _run(args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def test_benchmark_writes_results_and_marks_the_best(fixture_files, tmp_path):
    f = fixture_files
    code, out, err = _run(
        [
            *_bench_args(f),
            "--labels",
            str(f / "labels.txt"),
            "--losses",
            "zlpr",
            "bce",
            "lsep",
            "--seeds",
            "2",
            "--seed",
            "5",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0, err
    assert "[6/6] fitting lsep, seed 6" in err
    with open(tmp_path / "out" / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    # --seed 5 --seeds 2: seeds 5 and 6, recorded in the rows and the meta.
    assert [(r["method"], r["seed"]) for r in rows] == [
        (loss, str(seed)) for loss in ("zlpr", "bce", "lsep") for seed in (5, 6)
    ]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["meta"]["seeds"] == [5, 6]
    assert [r["seed"] for r in results["rows"]] == [5, 6] * 3
    summary = results["summary"]
    zlpr_f1 = [float(r["MLC-F1"]) for r in rows if r["method"] == "zlpr"]
    assert summary["zlpr"]["MLC-F1"][0] == pytest.approx(np.mean(zlpr_f1))
    # The sample standard deviation (ddof=1), printed after the mean.
    assert summary["zlpr"]["MLC-F1"][1] == pytest.approx(np.std(zlpr_f1, ddof=1))
    mean, std = summary["zlpr"]["MLC-F1"]
    table = [
        line for line in out.splitlines() if line.startswith(("zlpr", "bce", "lsep"))
    ]
    assert len(table) == 3
    assert table[0].split()[2].rstrip("*") == f"{mean:.4f}±{std:.4f}"
    # The best mean of each metric column carries the mark.
    best_subacc = max(summary, key=lambda loss: summary[loss]["SubACC"][0])
    line = next(line for line in table if line.startswith(best_subacc))
    assert line.split()[1].endswith("*")
    best_rankloss = min(summary, key=lambda loss: summary[loss]["RankLoss"][0])
    line = next(line for line in table if line.startswith(best_rankloss))
    assert line.split()[6].endswith("*")
    assert "the lowest for RankLoss" in out and "ddof=1" in out
    # matplotlib is in the test extra: the figure is always written.
    png = tmp_path / "out" / "results.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_benchmark_values_match_an_independent_computation(fixture_files, tmp_path):
    f = fixture_files
    code, out, _ = _run(
        [
            *_bench_args(f),
            "--labels",
            str(f / "labels.txt"),
            "--losses",
            "zlpr",
            "--seeds",
            "1",
            "--seed",
            "4",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 0
    with open(tmp_path / "o" / "results.csv") as fh:
        row = next(csv.DictReader(fh))
    assert row["seed"] == "4"
    # One seed: the mean alone, no "±0.0000"; no std in the summary either.
    line = next(line for line in out.splitlines() if line.startswith("zlpr"))
    assert "±" not in out
    assert line.split()[1].rstrip("*") == f"{float(row['SubACC']):.4f}"
    summary = json.loads((tmp_path / "o" / "results.json").read_text())["summary"]
    assert summary["zlpr"]["SubACC"][1] is None
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
    clf = ZLPRClassifier(random_state=4).fit(
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
    """Run-time errors exit with 1 and a one-line message (2 is argparse's)."""
    f = fixture_files
    code, out, err = _run(
        ["benchmark", "--train", str(tmp_path / "nope.jsonl"), "--test", "x.jsonl"]
    )
    assert code == 1 and err.startswith("error: ") and "nope.jsonl" in err
    assert err.count("\n") == 1 and out == ""
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "labels": ["ant"]}\n{"text": 1}\n')
    code, _, err = _run(
        ["benchmark", "--train", str(bad), "--test", str(f / "test.jsonl")]
    )
    assert code == 1 and "line 2" in err
    code, _, err = _run(
        [
            *_bench_args(f),
            "--labels",
            str(tmp_path / "few.txt"),
        ]
    )
    assert code == 1 and "few.txt" in err
    (tmp_path / "few.txt").write_text("ant\nbee\n")
    code, _, err = _run(
        [
            *_bench_args(f),
            "--labels",
            str(tmp_path / "few.txt"),
            "--losses",
            "zlpr",
            "--seeds",
            "1",
        ]
    )
    assert code == 1 and "not in the label list" in err and "unknown_labels" in err
    code, _, _ = _run(
        [
            *_bench_args(f),
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


@pytest.mark.parametrize(
    "args",
    [["--seed", "3", "fit"], ["fit", "--seed", "3"]],
    ids=["seed-before-command", "seed-after-command"],
)
def test_fit_seed_before_or_after_the_command(fixture_files, tmp_path, args):
    f = fixture_files
    model = tmp_path / "model.zlpr"
    code, _, err = _run(
        [*args, "--train", str(f / "train.jsonl"), "--model", str(model)]
    )
    assert code == 0, err
    clf = load(model)["pipeline"][-1]
    assert isinstance(clf, ZLPRClassifier) and clf.random_state == 3


@pytest.mark.parametrize(
    "args",
    [
        ["benchmark", "--train", "a.jsonl", "--test", "b.jsonl", "--seeds", "0"],
        ["benchmark", "--test", "b.jsonl"],
        ["fit", "--train", "a.jsonl", "--model", "m.pkl", "--seed", "x"],
    ],
    ids=["seeds-0", "no-train", "bad-seed"],
)
def test_usage_errors_exit_with_2(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert "usage: sklearn-zlpr" in capsys.readouterr().err


def test_figure_leaves_the_matplotlib_backend_alone(fixture_files, tmp_path):
    """The figure is drawn without pyplot: the process's backend stays as it was."""
    f = fixture_files
    before = matplotlib.get_backend()
    matplotlib.use("pdf")  # any backend but Agg, which the figure would need
    try:
        code, out, err = _run(
            [
                *_bench_args(f),
                "--losses",
                "zlpr",
                "--seeds",
                "1",
                "--out",
                str(tmp_path / "fig"),
            ]
        )
        assert code == 0, err
        assert matplotlib.get_backend() == "pdf"
    finally:
        matplotlib.use(before)
    assert "results.png" in out
    image = matplotlib.image.imread(tmp_path / "fig" / "results.png")
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


def test_fit_predict_evaluate(fixture_files, tmp_path, monkeypatch):
    f = fixture_files
    model = tmp_path / "model.zlpr"
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
    assert zipfile.is_zipfile(model)  # the safe format, not a pickle
    saved = load(model)
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
    assert code == 1 and "not a model file" in err
    # A pickle of an older sklearn-zlpr: refused unless the user trusts it.
    legacy = tmp_path / "legacy.pkl"
    legacy.write_bytes(pickle.dumps(saved))
    code, _, err = _run(["predict", "--model", str(legacy), "--input", str(inputs)])
    assert code == 1 and "--trust-pickle" in err
    code, out, _ = _run(
        ["predict", "--model", str(legacy), "--input", str(inputs), "--trust-pickle"]
    )
    assert code == 0 and out.splitlines() == lines


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
    meta = json.loads((tmp_path / "d" / "results.json").read_text())["meta"]
    assert meta["dev"] == str(dev)

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
            *_bench_args(f),
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
    meta = json.loads((tmp_path / features / "results.json").read_text())["meta"]
    assert meta["features"] == features
    with open(tmp_path / features / "results.csv") as fh:
        row = next(csv.DictReader(fh))
    assert 0.0 <= float(row["AvgPrec"]) <= 1.0 and float(row["fit_s"]) > 0
