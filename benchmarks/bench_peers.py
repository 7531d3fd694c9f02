"""Default ZLPRClassifier against the peers people use for the same job.

On every data set found in ../shared/datasets (a missing one is skipped with a
note), fitted on the train split and scored on the test split, side by side in
one run:

* text sets (goemotions, reuters21578_modapte, hoc, xed, mams_acsa,
  stackexchange_cooking): ``TfidfVectorizer(sublinear_tf=True, min_df=2)`` fitted
  on the train texts, the same features for every method but fastText
  (``--tfidf plain``: ``TfidfVectorizer()``, LibMultiLabel's default);
* feature-vector sets (ohsumed_meka, emotions, birds, cal500): their given X
  (CSR float32) and Y (int8, cast to int64).

Methods:

* ``ZLPRClassifier(random_state=seed)`` with every default (the package as
  installed);
* LibMultiLabel linear one-vs-rest: ``linear.Preprocessor()`` for the labels,
  ``linear.train_1vsrest(y, x, options="")`` (LIBLINEAR, L2-loss SVM, C=1),
  decided by ``predict_values(...) > 0``. If LibMultiLabel cannot be imported,
  ``OneVsRestClassifier(LinearSVC(C=1))`` stands in, labelled
  "LIBLINEAR OvR (sklearn)", and the run says so;
* ``OneVsRestClassifier(LogisticRegression(max_iter=1000))``;
* fastText supervised, ``loss='ova'``, other parameters at their defaults
  ("fastText ova"), and with ``epoch=25, lr=0.5, wordNgrams=2`` ("fastText
  tuned", issue 15's second configuration), text sets only, on the raw texts (line breaks turned into spaces); labels are the
  per-label probabilities >= 0.5 and the probabilities are the ranking scores.
  Skipped with a note when no fastText binding imports;
* MLkNN (k=10, scikit-multilearn), feature-vector sets only; scores are its
  ``predict_proba``. scikit-multilearn 0.2.0 builds ``NearestNeighbors(k)``
  positionally, which current scikit-learn refuses: the benchmark patches that
  call for the duration of ``fit`` (``_MLkNN`` below), the package is untouched.

Metrics (``sklearn_zlpr.metrics``): subset accuracy, example F1, micro F1, macro
F1, LRAP (``avg_precision_score``), ranking loss; and the wall time of the
training call alone (features, label binarisation and temp files excluded).

Pass conditions (issue 15), against the best peer on each metric and set:

1. ZLPR matches or beats the best peer on at least 4 of the 6 metrics on every
   set; "matches" is within 0.005 (ranking loss: within 3 %);
2. ZLPR's macro F1 is within 0.02 of the best peer's on every set;
3. the geometric mean over the sets of ZLPR fit time / LibMultiLabel
   one-vs-rest fit time is at most 2.

The run prints one table per set (the best value of each metric marked ``*``,
means over ``--seeds`` seeds), then a summary, and exits 1 naming each condition
missed and where. A peer whose training raises a RuntimeError (fastText's
defaults can diverge: "Encountered NaN.") is left out of that set with a note.
With ``--out``, results.csv (per seed), results.json and tables.txt (Markdown)
are rewritten after each set, so an interrupted run keeps what it measured.

Timings are noisy: the published numbers (docs/benchmarks/peers.md) come from
one run, one seed, on an otherwise idle 2-core machine. Run it alone: another
job on the cores slows torch's threads far more than LIBLINEAR.

Usage::

    pip install -c .ci/constraints.txt ".[bench]"
    python benchmarks/bench_peers.py [--datasets DIR] [--only NAME ...]
        [--seeds N] [--out DIR]
"""

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from importlib import metadata
from pathlib import Path
from unittest import mock

import numpy as np
import scipy.sparse as sp
from _metrics import paper_metrics
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neighbors import NearestNeighbors
from sklearn.svm import LinearSVC

from sklearn_zlpr import ZLPRClassifier
from sklearn_zlpr.datasets import load_jsonl

try:
    from libmultilabel import linear as lml
except ImportError:  # the fallback below stands in
    lml = None
try:
    import fasttext
except ImportError:
    fasttext = None
try:
    from skmultilearn.adapt import mlknn as _mlknn_module
except ImportError:
    _mlknn_module = None

TEXT_SETS = (
    "goemotions",
    "reuters21578_modapte",
    "hoc",
    "xed",
    "mams_acsa",
    "stackexchange_cooking",
)
FEATURE_SETS = ("ohsumed_meka", "emotions", "birds", "cal500")

# The paper's six metrics from the package's metric registry, under the column
# names of issue 15: (key, column title, function, input, higher is better).
METRICS = tuple(
    (title, title, fn, kind, higher)
    for _, title, fn, kind, higher in paper_metrics({"avg_precision": "LRAP"})
)
MATCH_ABS = 0.005  # "matches": within this, higher-is-better metrics
MATCH_REL = 0.03  # "matches": ranking loss within 3 %
MIN_WINS = 4  # of the 6 metrics
MAX_MAF1_GAP = 0.02
MAX_FIT_RATIO = 2.0  # geometric mean of ZLPR / LibMultiLabel fit time

ZLPR = "ZLPR (defaults)"
LML = "LibMultiLabel 1-vs-rest" if lml is not None else "LIBLINEAR OvR (sklearn)"
OVR_LR = "OvR-LR"
FASTTEXT = "fastText ova"
FASTTEXT_TUNED = "fastText tuned"
#: Issue 15's second fastText configuration (its "tuned" row).
FASTTEXT_TUNED_PARAMS = {"epoch": 25, "lr": 0.5, "wordNgrams": 2}
MLKNN = "MLkNN k=10"


# --------------------------------------------------------------------------
# Data
def load_text(folder):
    """Train/test texts and int64 CSR indicators in labels.txt's column order."""
    train, test = (
        load_jsonl(folder / f"{split}.jsonl.gz", labels=folder / "labels.txt")
        for split in ("train", "test")
    )
    return train.data, train.target, test.data, test.target


def load_features(folder):
    """Given X (CSR float32) and Y (CSR int8 cast to int64)."""

    def npz(name):
        return sp.load_npz(folder / name).tocsr()

    return (
        npz("X_train.npz").astype(np.float32),
        npz("Y_train.npz").astype(np.int64),
        npz("X_test.npz").astype(np.float32),
        npz("Y_test.npz").astype(np.int64),
    )


# --------------------------------------------------------------------------
# Methods: each fits on train and returns (fit seconds, predicted indicator,
# dense scores) on test. Only the training call is timed.
def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def run_sklearn_api(model, Xtr, Ytr, Xte):
    _, fit_s = _timed(model.fit, Xtr, Ytr)
    pred = model.predict(Xte)
    score = model.decision_function(Xte)
    return fit_s, pred, np.asarray(score, dtype=np.float64)


def run_zlpr(Xtr, Ytr, Xte, seed):
    return run_sklearn_api(ZLPRClassifier(random_state=seed), Xtr, Ytr, Xte)


def run_ovr_lr(Xtr, Ytr, Xte, seed):
    with warnings.catch_warnings():  # labels without a positive in train
        warnings.simplefilter("ignore", UserWarning)
        return run_sklearn_api(
            OneVsRestClassifier(LogisticRegression(max_iter=1000)), Xtr, Ytr, Xte
        )


def _label_lists(Y):
    Y = Y.tocsr()
    return [
        Y.indices[Y.indptr[i] : Y.indptr[i + 1]].tolist() for i in range(Y.shape[0])
    ]


def run_libmultilabel(Xtr, Ytr, Xte, seed):
    if lml is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return run_sklearn_api(OneVsRestClassifier(LinearSVC(C=1)), Xtr, Ytr, Xte)
    # The features are ours (TF-IDF or given); the Preprocessor binarises the
    # labels (data_format other than txt/dataframe: x passes through).
    n_labels = Ytr.shape[1]
    data = {
        "data_format": "svm",
        "classes": list(range(n_labels)),
        "train": {"x": sp.csr_matrix(Xtr, dtype=np.float64), "y": _label_lists(Ytr)},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        train = lml.Preprocessor().fit_transform(data)["train"]
    model, fit_s = _timed(
        lml.train_1vsrest, train["y"], train["x"], options="", verbose=False
    )
    score = np.asarray(
        lml.predict_values(model, sp.csr_matrix(Xte, dtype=np.float64)),
        dtype=np.float64,
    )
    return fit_s, (score > 0).astype(np.int64), score


def _fasttext_line(text, labels):
    words = " ".join(text.split())  # one line per example
    return " ".join(f"__label__{j}" for j in labels) + " " + words + "\n"


def run_fasttext(texts_tr, Ytr, texts_te, n_labels, seed, **params):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "train.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(
                _fasttext_line(text, labels)
                for text, labels in zip(texts_tr, _label_lists(Ytr))
            )
        model, fit_s = _timed(
            fasttext.train_supervised,
            input=path,
            loss="ova",
            seed=seed,
            verbose=0,
            **params,
        )
    # predict() on a list calls multilinePredict, which works with numpy 2
    # (the single-string path of fasttext 0.9.3 does not).
    lines = [" ".join(t.split()) for t in texts_te]
    all_labels, all_probs = model.predict(lines, k=-1, threshold=0.0)
    score = np.zeros((len(lines), n_labels))
    for i, (labels, probs) in enumerate(zip(all_labels, all_probs)):
        cols = [int(lab[len("__label__") :]) for lab in labels]
        score[i, cols] = probs
    return fit_s, (score >= 0.5).astype(np.int64), score


def _nearest_neighbors(n_neighbors):
    return NearestNeighbors(n_neighbors=n_neighbors)


if _mlknn_module is not None:

    class _MLkNN(_mlknn_module.MLkNN):
        """MLkNN whose fit builds NearestNeighbors with a keyword argument.

        scikit-multilearn 0.2.0 calls ``NearestNeighbors(self.k)``; scikit-learn
        >= 1.0 makes ``n_neighbors`` keyword-only. The module's name is patched
        for the duration of ``fit`` only.
        """

        def fit(self, X, y):
            with mock.patch.object(
                _mlknn_module, "NearestNeighbors", _nearest_neighbors
            ):
                return super().fit(X, y)


def run_mlknn(Xtr, Ytr, Xte, seed):
    model = _MLkNN(k=10)
    _, fit_s = _timed(model.fit, Xtr, Ytr)
    pred = model.predict(Xte).toarray().astype(np.int64)
    score = model.predict_proba(Xte).toarray()
    return fit_s, pred, score


# --------------------------------------------------------------------------
# Scoring and the check
def score_all(Yte, pred, score):
    pred = sp.csr_matrix(pred) if not sp.issparse(pred) else pred.tocsr()
    out = {}
    for key, _, fn, kind, _ in METRICS:
        out[key] = float(fn(Yte, pred if kind == "pred" else score))
    return out


def best_of(rows, key, higher):
    values = {m: r[key] for m, r in rows.items()}
    pick = max if higher else min
    return pick(values.values())


def matches(z, best, key, higher):
    if key == "RankLoss":
        return z <= best * (1 + MATCH_REL) + 1e-12
    return z >= best - MATCH_ABS if higher else z <= best + MATCH_ABS


def check_set(rows):
    """Per-set verdict: which metrics ZLPR matches, the macro-F1 gap, ratio."""
    z = rows[ZLPR]
    peers = {m: r for m, r in rows.items() if m != ZLPR}
    per_metric = {}
    for key, _, _, _, higher in METRICS:
        best = best_of(peers, key, higher)
        best_peer = next(m for m, r in peers.items() if r[key] == best)
        per_metric[key] = {
            "zlpr": z[key],
            "best_peer": best_peer,
            "best_peer_value": best,
            "gap": z[key] - best,
            "matched": bool(matches(z[key], best, key, higher)),
        }
    ratio = z["fit_s"] / rows[LML]["fit_s"] if LML in rows else float("nan")
    return {
        "metrics": per_metric,
        "n_matched": sum(v["matched"] for v in per_metric.values()),
        "maf1_gap": per_metric["MaF1"]["best_peer_value"] - z["MaF1"],
        "fit_ratio": ratio,
    }


# --------------------------------------------------------------------------
# Output
COLS = [m[0] for m in METRICS] + ["fit_s"]
HIGHER = {m[0]: m[4] for m in METRICS} | {"fit_s": False}


def _fmt(key, value):
    return f"{value:.2f}" if key == "fit_s" else f"{value:.4f}"


def _best_marks(rows):
    marks = {}
    for key in COLS:
        best = best_of(rows, key, HIGHER[key])
        marks[key] = {
            m for m, r in rows.items() if _fmt(key, r[key]) == _fmt(key, best)
        }
    return marks


def print_table(name, rows):
    marks = _best_marks(rows)
    width = max(len(m) for m in rows) + 2
    head = f"{name:{width}s}" + "".join(
        f"{c if c != 'fit_s' else 'fit s':>10s}" for c in COLS
    )
    print(head)
    print("-" * len(head))
    for method, r in rows.items():
        cells = "".join(
            f"{_fmt(c, r[c]) + ('*' if method in marks[c] else ' '):>10s}" for c in COLS
        )
        print(f"{method:{width}s}{cells}")
    print()


def markdown_table(name, rows):
    marks = _best_marks(rows)
    head = ["SubACC", "ExF1", "MiF1", "MaF1", "LRAP", "RankLoss", "fit s"]
    lines = [
        f"| {name} | " + " | ".join(head) + " |",
        "|---|" + "--:|" * len(head),
    ]
    for method, r in rows.items():
        cells = []
        for c in COLS:
            text = _fmt(c, r[c])
            cells.append(f"**{text}**" if method in marks[c] else text)
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def versions():
    out = {"python": platform.python_version()}
    for dist in (
        "sklearn-zlpr",
        "torch",
        "skorch",
        "scikit-learn",
        "numpy",
        "scipy",
        "libmultilabel",
        "liblinear-multicore",
        "fasttext",
        "fasttext-wheel",
        "fasttext-numpy2",
        "scikit-multilearn",
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    repo = Path(__file__).resolve().parents[1]

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "sklearn_zlpr")
        out["sklearn_zlpr commit"] = commit + (
            " (+ uncommitted changes)" if dirty else ""
        )
    except (OSError, subprocess.CalledProcessError):
        pass
    return out


def write_results(out, command, info, records, tables, checks, geo=None, failures=None):
    """results.csv (per seed), results.json (all), tables.txt (Markdown).

    Called after each data set with ``geo=None`` (an incomplete run) and once at
    the end with the fit-time ratio and the failures.
    """
    out.mkdir(parents=True, exist_ok=True)
    keys = ["dataset", "method", "seed"] + COLS
    with open(out / "results.csv", "w", encoding="utf-8") as f:
        f.write(",".join(keys) + "\n")
        f.writelines(",".join(str(r[k]) for k in keys) + "\n" for r in records)
    payload = {
        "command": command,
        "complete": geo is not None,
        "versions": info,
        "records": records,
        "means": tables,
        "checks": checks,
        "fit_ratio_geomean": geo,
        "failures": failures,
    }
    (out / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    # .txt, not .md: under docs/ Sphinx would take a .md for a page.
    (out / "tables.txt").write_text(
        "\n".join(markdown_table(n, t) for n, t in tables.items())
    )


# --------------------------------------------------------------------------
#: ``--tfidf`` choices: the README's TF-IDF, or LibMultiLabel's default one.
TFIDF = {
    "sublinear": {"sublinear_tf": True, "min_df": 2},
    "sublinear_min_df1": {"sublinear_tf": True},
    "plain": {},
}


def run_set(name, folder, seeds, tfidf="sublinear"):
    """Fit every method on one set; returns per-seed rows."""
    text = name in TEXT_SETS
    if text:
        tr_texts, Ytr, te_texts, Yte = load_text(folder)
        vec = TfidfVectorizer(**TFIDF[tfidf])
        Xtr = vec.fit_transform(tr_texts)
        Xte = vec.transform(te_texts)
    else:
        Xtr, Ytr, Xte, Yte = load_features(folder)
    print(
        f"{name}: {Xtr.shape[0]} train / {Xte.shape[0]} test rows, "
        f"{Xtr.shape[1]} features, {Ytr.shape[1]} labels",
        flush=True,
    )
    methods = {
        ZLPR: lambda s: run_zlpr(Xtr, Ytr, Xte, s),
        LML: lambda s: run_libmultilabel(Xtr, Ytr, Xte, s),
        OVR_LR: lambda s: run_ovr_lr(Xtr, Ytr, Xte, s),
    }
    if text and fasttext is not None:
        methods[FASTTEXT] = lambda s: run_fasttext(
            tr_texts, Ytr, te_texts, Ytr.shape[1], s
        )
        methods[FASTTEXT_TUNED] = lambda s: run_fasttext(
            tr_texts, Ytr, te_texts, Ytr.shape[1], s, **FASTTEXT_TUNED_PARAMS
        )
    if not text and _mlknn_module is not None:
        methods[MLKNN] = lambda s: run_mlknn(Xtr, Ytr, Xte, s)
    records = []
    for seed in range(seeds):
        for method, fn in methods.items():
            try:
                fit_s, pred, score = fn(seed)
            except RuntimeError as exc:  # e.g. fastText: "Encountered NaN."
                if method == ZLPR:
                    raise
                print(f"  seed {seed} {method:26s} failed ({exc}), left out")
                continue
            r = score_all(Yte, pred, score) | {"fit_s": fit_s}
            records.append({"dataset": name, "method": method, "seed": seed, **r})
            print(f"  seed {seed} {method:26s} fit {fit_s:8.2f} s", flush=True)
    return records


def mean_rows(records):
    rows = {}
    for method in dict.fromkeys(r["method"] for r in records):
        mine = [r for r in records if r["method"] == method]
        rows[method] = {c: float(np.mean([r[c] for r in mine])) for c in COLS}
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        type=Path,
        default=Path(__file__).resolve().parents[1].parent / "shared" / "datasets",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="NAME",
        choices=TEXT_SETS + FEATURE_SETS,
    )
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument(
        "--tfidf",
        choices=list(TFIDF),
        default="sublinear",
        help="text features: TfidfVectorizer(sublinear_tf=True, min_df=2) (the "
        "README's pipeline, default), the same with min_df=1, or "
        "TfidfVectorizer() (LibMultiLabel's default)",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    if lml is None:
        print(
            "note: LibMultiLabel is not importable; 'LIBLINEAR OvR (sklearn)' = "
            "OneVsRestClassifier(LinearSVC(C=1)) stands in for it."
        )
    if fasttext is None:
        print(
            "note: no fastText binding importable (fasttext, fasttext-wheel, "
            "fasttext-numpy2); fastText skipped."
        )
    if _mlknn_module is None:
        print("note: scikit-multilearn not importable; MLkNN skipped.")
    info = versions()
    print("versions: " + ", ".join(f"{k} {v}" for k, v in info.items()), flush=True)

    command = " ".join(["python benchmarks/bench_peers.py", *sys.argv[1:]])
    names = args.only or list(TEXT_SETS + FEATURE_SETS)
    records, tables, checks = [], {}, {}
    for name in names:
        folder = args.datasets / name
        if not folder.is_dir():
            print(f"{name}: {folder} not found, skipped")
            continue
        recs = run_set(name, folder, args.seeds, args.tfidf)
        records += recs
        tables[name] = mean_rows(recs)
        checks[name] = check_set(tables[name])
        print()
        print_table(name, tables[name])
        if args.out is not None:  # partial results survive an interrupted run
            write_results(args.out, command, info, records, tables, checks)
    if not tables:
        print("no data set found; nothing measured.")
        return 0

    # Summary
    print(
        f"Summary: ZLPR against the best peer per metric (mean of {args.seeds} seed(s))"
    )
    head = f"{'dataset':22s}" + "".join(f"{k:>10s}" for k, *_ in METRICS)
    head += f"{'matched':>9s}{'MaF1 gap':>10s}{'fit ratio':>11s}"
    print(head)
    print("-" * len(head))
    failures = []
    for name, c in checks.items():
        cells = "".join(
            f"{('=' if v['matched'] else '') + format(v['gap'], '+.4f'):>10s}"
            for v in c["metrics"].values()
        )
        print(
            f"{name:22s}{cells}{c['n_matched']:>7d}/6{c['maf1_gap']:>10.4f}"
            f"{c['fit_ratio']:>11.2f}"
        )
        if c["n_matched"] < MIN_WINS:
            lost = [
                f"{k} ({v['best_peer']})"
                for k, v in c["metrics"].items()
                if not v["matched"]
            ]
            failures.append(
                f"{name}: matches the best peer on {c['n_matched']}/6 metrics "
                f"(needs {MIN_WINS}); behind on " + ", ".join(lost)
            )
        if c["maf1_gap"] > MAX_MAF1_GAP:
            failures.append(
                f"{name}: macro F1 {c['maf1_gap']:.4f} behind "
                f"{c['metrics']['MaF1']['best_peer']} (allowed {MAX_MAF1_GAP})"
            )
    print(
        "(gap = ZLPR - best peer; '=' marks a match: within 0.005, ranking loss "
        "within 3 %)"
    )
    ratios = [c["fit_ratio"] for c in checks.values() if np.isfinite(c["fit_ratio"])]
    geo = float(math.exp(np.mean(np.log(ratios)))) if ratios else float("nan")
    print(
        f"fit time ZLPR / {LML}: geometric mean {geo:.2f} over {len(ratios)} set(s) "
        f"(must be <= {MAX_FIT_RATIO})"
    )
    if not geo <= MAX_FIT_RATIO:
        failures.append(f"fit-time ratio: geometric mean {geo:.2f} > {MAX_FIT_RATIO}")

    if args.out is not None:
        write_results(args.out, command, info, records, tables, checks, geo, failures)
        print(f"wrote {args.out}/results.csv, results.json, tables.txt")

    if failures:
        print("FAILED:")
        for f in failures:
            print("  - " + f)
        return 1
    print("OK: every condition of issue 15 met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
