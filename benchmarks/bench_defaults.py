"""Default ZLPRClassifier against OneVsRest(LogisticRegression) on real text.

For each data set in ../shared/datasets (goemotions, reuters21578_modapte):
TF-IDF(sublinear_tf=True, min_df=2) features, then

* ``ZLPRClassifier(random_state=0)`` with its defaults, and
* ``OneVsRestClassifier(LogisticRegression())``,

fitted on the train split and scored on the test split, side by side in one run.
Prints a table and exits non-zero unless, on every data set, ZLPR beats OvR-LR on
subset accuracy, example F1 and ranking loss with a fit time at most 2x OvR-LR's.

Usage: python benchmarks/bench_defaults.py [--datasets DIR] [--set key=value ...]
(``--set`` overrides a ZLPRClassifier parameter, for exploring defaults.)
"""

import argparse
import ast
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, label_ranking_loss
from sklearn.multiclass import OneVsRestClassifier

from sklearn_zlpr import ZLPRClassifier
from sklearn_zlpr.datasets import load_jsonl

DATASETS = {
    "goemotions": ("train.jsonl.gz", "test.jsonl.gz"),
    "reuters21578_modapte": ("train.jsonl.gz", "test.jsonl.gz"),
}
MAX_FIT_RATIO = 2.0


def load(folder, train, test):
    """Train/test texts and int64 CSR indicators in labels.txt's column order."""
    tr, te = (
        load_jsonl(folder / split, labels=folder / "labels.txt")
        for split in (train, test)
    )
    # int64 (load_jsonl's dtype), not int8: scikit-learn mishandles int8 indicators.
    return tr.data, tr.target, te.data, te.target


def evaluate(model, Xtr, Ytr, Xte, Yte):
    t0 = time.perf_counter()
    model.fit(Xtr, Ytr)
    fit_s = time.perf_counter() - t0
    pred = model.predict(Xte)
    pred = pred.toarray() if hasattr(pred, "toarray") else np.asarray(pred)
    score = model.decision_function(Xte)
    Ytrue = Yte.toarray()
    return {
        "SubACC": float((pred == Ytrue).all(1).mean()),
        "ExF1": f1_score(Ytrue, pred, average="samples", zero_division=1.0),
        "MiF1": f1_score(Ytrue, pred, average="micro", zero_division=0.0),
        "MaF1": f1_score(Ytrue, pred, average="macro", zero_division=0.0),
        "RankLoss": label_ranking_loss(Ytrue, score),
        "fit_s": fit_s,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        type=Path,
        default=Path(__file__).resolve().parents[1].parent / "shared" / "datasets",
    )
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--only", nargs="*", default=list(DATASETS))
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.set:
        key, value = item.split("=", 1)
        try:
            overrides[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[key] = value

    failures = []
    header = f"{'dataset':22s} {'model':8s} {'SubACC':>7s} {'ExF1':>7s} {'MiF1':>7s} {'MaF1':>7s} {'RankLoss':>9s} {'fit s':>7s}"
    print(header)
    print("-" * len(header))
    for name in args.only:
        train, test = DATASETS[name]
        folder = args.datasets / name
        if not folder.is_dir():
            print(f"{name}: {folder} not found, skipped", file=sys.stderr)
            failures.append(f"{name}: data not found")
            continue
        tr_x, Ytr, te_x, Yte = load(folder, train, test)
        vec = TfidfVectorizer(sublinear_tf=True, min_df=2)
        Xtr, Xte = vec.fit_transform(tr_x), vec.transform(te_x)
        rows = {
            "ZLPR": evaluate(
                ZLPRClassifier(**{"random_state": 0, **overrides}), Xtr, Ytr, Xte, Yte
            ),
            "OvR-LR": evaluate(
                OneVsRestClassifier(LogisticRegression()), Xtr, Ytr, Xte, Yte
            ),
        }
        for model, r in rows.items():
            print(
                f"{name:22s} {model:8s} {r['SubACC']:7.4f} {r['ExF1']:7.4f} "
                f"{r['MiF1']:7.4f} {r['MaF1']:7.4f} {r['RankLoss']:9.4f} {r['fit_s']:7.1f}",
                flush=True,
            )
        z, b = rows["ZLPR"], rows["OvR-LR"]
        ratio = z["fit_s"] / b["fit_s"]
        print(
            f"{name:22s} fit-time ratio ZLPR/OvR-LR = {ratio:.2f} (must be <= {MAX_FIT_RATIO})"
        )
        if not z["SubACC"] > b["SubACC"]:
            failures.append(f"{name}: SubACC")
        if not z["ExF1"] > b["ExF1"]:
            failures.append(f"{name}: example F1")
        if not z["RankLoss"] < b["RankLoss"]:
            failures.append(f"{name}: ranking loss")
        if ratio > MAX_FIT_RATIO:
            failures.append(f"{name}: fit time ratio {ratio:.2f}")
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    print(
        "OK: ZLPR beats OvR-LR on SubACC, example F1 and ranking loss within 2x fit time."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
