"""Effect of ZLPRClassifier's training extras, and calibration of predict_proba.

For each data set in ../shared/datasets (goemotions, reuters21578_modapte):
TF-IDF(sublinear_tf=True, min_df=2) features fitted on the train split; every
configuration below is fitted on the train split and scored on the test split
with ``random_state = 0 .. N-1``. Each configuration changes one parameter of
``ZLPRClassifier()`` (all else default):

* ``baseline``: ``ZLPRClassifier()``
* ``label_smoothing=0.1``, ``rdrop_alpha=1.0``
* ``threshold="auto"`` (one threshold tuned on the internal validation split to
  maximise example F1) and ``threshold="auto_per_label"``
* ``min_labels=1``
* ``early_stopping_metric="example_f1"`` and ``"avg_precision"``
* ``lr_scheduler="CosineAnnealingLR", lr_scheduler_params={"T_max": 30}``

Metrics (``sklearn_zlpr.metrics``, on the test split): subset accuracy, example
F1 (zero_division=1), micro F1, macro F1 (on ``predict``), AvgPrec (label ranking
average precision) and RankLoss (on ``decision_function``), plus the fit time.
The tables give mean ± std over the seeds.

Calibration (paper Eq. 35): the expected calibration error (ECE, 15 equal-width
bins over all (sample, label) probabilities of the test split) and a reliability
diagram of

* ``ZLPR sigmoid(2s)``: ``ZLPRClassifier(loss="zlpr").predict_proba``,
* ``ZLPR sigmoid(s)``: the same fits' ``decision_function`` mapped with
  ``1 / (1 + exp(-s))`` (the control), and
* ``BCE sigmoid(s)``: ``ZLPRClassifier(loss="bce").predict_proba``.

The ZLPR fits are the ``baseline`` ones (``loss="zlpr"`` is the default).

Writes ``results.csv`` (one row per data set, configuration and seed),
``results.json`` (per-seed rows, mean/std summary, calibration) and
``calibration.png`` into ``--out``. This benchmark reports; it has no pass/fail
goal and exits 0 unless something crashes.

Usage: python benchmarks/bench_extras.py [--datasets DIR] [--seeds N]
       [--only DATASET ...] [--configs NAME ...] [--no-calibration] [--out DIR]
"""

import argparse
import csv
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from _metrics import paper_metrics
from sklearn.feature_extraction.text import TfidfVectorizer

from sklearn_zlpr import ZLPRClassifier

REPO = Path(__file__).resolve().parents[1]
DATASETS = {
    "goemotions": ("train.jsonl.gz", "test.jsonl.gz"),
    "reuters21578_modapte": ("train.jsonl.gz", "test.jsonl.gz"),
}
CONFIGS = {
    "baseline": {},
    "label_smoothing=0.1": {"label_smoothing": 0.1},
    "rdrop_alpha=1.0": {"rdrop_alpha": 1.0},
    'threshold="auto"': {"threshold": "auto"},
    'threshold="auto_per_label"': {"threshold": "auto_per_label"},
    "min_labels=1": {"min_labels": 1},
    'early_stopping_metric="example_f1"': {"early_stopping_metric": "example_f1"},
    'early_stopping_metric="avg_precision"': {"early_stopping_metric": "avg_precision"},
    "CosineAnnealingLR(T_max=30)": {
        "lr_scheduler": "CosineAnnealingLR",
        "lr_scheduler_params": {"T_max": 30},
    },
}
#: (key, column title, function, input, higher is better), from the registry
METRICS = paper_metrics()
CALIBRATION_MODELS = ("ZLPR sigmoid(2s)", "ZLPR sigmoid(s)", "BCE sigmoid(s)")
N_BINS = 15
BCE_LABEL = 'loss="bce" (calibration)'


# ---------------------------------------------------------------- data
# The data sets are read exactly as the defaults benchmark reads them.
from bench_defaults import load


# ---------------------------------------------------------- calibration
def _sigmoid(z):
    """Numerically stable logistic function."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def reliability_bins(y_true, proba, n_bins=N_BINS):
    """Per-bin counts, mean predicted probability and observed frequency.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_labels) or (n,)
        Binary outcomes (0/1); dense.
    proba : array-like of the same shape
        Predicted probabilities in [0, 1].
    n_bins : int, default=15
        Number of equal-width bins on [0, 1]; bin ``b`` holds the
        probabilities in ``[b / n_bins, (b + 1) / n_bins)``, the last bin also
        holds 1.

    Returns
    -------
    counts : ndarray of shape (n_bins,)
        Number of (sample, label) entries in each bin.
    confidence : ndarray of shape (n_bins,)
        Mean predicted probability of each bin (NaN for an empty bin).
    frequency : ndarray of shape (n_bins,)
        Share of positive outcomes in each bin (NaN for an empty bin).
    """
    y = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(proba, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(f"y_true and proba differ in size: {y.size} and {p.size}.")
    idx = np.clip((p * n_bins).astype(np.int64), 0, n_bins - 1)
    counts = np.bincount(idx, minlength=n_bins).astype(np.float64)
    sum_p = np.bincount(idx, weights=p, minlength=n_bins)
    sum_y = np.bincount(idx, weights=y, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.where(counts > 0, sum_p / np.maximum(counts, 1), np.nan)
        frequency = np.where(counts > 0, sum_y / np.maximum(counts, 1), np.nan)
    return counts, confidence, frequency


def expected_calibration_error(y_true, proba, n_bins=N_BINS):
    """Expected calibration error of per-label probabilities.

    Every (sample, label) entry is one binary prediction: its probability
    ``p`` and its outcome ``y`` in {0, 1}. The entries are put into
    ``n_bins`` equal-width bins on [0, 1] by ``p``, and

        ECE = sum_b (n_b / N) * |mean(y in b) - mean(p in b)|

    i.e. the gap between observed frequency and mean confidence of each bin,
    weighted by the share of entries in the bin (empty bins count 0). 0 is
    perfectly calibrated; lower is better.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_labels)
        Binary indicator matrix (dense).
    proba : array-like of shape (n_samples, n_labels)
        Predicted probabilities in [0, 1].
    n_bins : int, default=15
        Number of equal-width bins.

    Returns
    -------
    ece : float
        In [0, 1], lower is better.

    Examples
    --------
    >>> expected_calibration_error([[1, 0], [0, 0]], [[0.9, 0.1], [0.2, 0.1]])
    0.125
    """
    counts, confidence, frequency = reliability_bins(y_true, proba, n_bins)
    n = counts.sum()
    if n == 0:
        raise ValueError("Found 0 probabilities; the ECE is undefined.")
    gap = np.abs(np.nan_to_num(frequency) - np.nan_to_num(confidence))
    return float(np.sum(counts / n * gap))


# ---------------------------------------------------------------- runs
def fit_and_score(params, Xtr, Ytr, Xte, Yte):
    clf = ZLPRClassifier(**params)
    t0 = time.perf_counter()
    clf.fit(Xtr, Ytr)
    fit_s = time.perf_counter() - t0
    pred = np.asarray(clf.predict(Xte))
    score = np.asarray(clf.decision_function(Xte), dtype=np.float64)
    row = {}
    for key, _, fn, kind, _ in METRICS:
        kwargs = {"zero_division": 1.0} if key == "example_f1" else {}
        row[key] = float(fn(Yte, pred if kind == "pred" else score, **kwargs))
    row["fit_s"] = fit_s
    row["n_iter"] = int(clf.n_iter_)
    return clf, row, score


def mean_std(values):
    a = np.asarray(values, dtype=np.float64)
    return float(a.mean()), float(a.std(ddof=0))


def fmt(mean, std, digits=4):
    return f"{mean:.{digits}f}±{std:.{digits}f}"


def print_table(name, summary, configs):
    cols = [title for _, title, *_ in METRICS]
    width = max(len(c) for c in configs) + 1
    head = f"{'config':{width}s}" + "".join(f" {c:>15s}" for c in cols)
    head += f" {'fit s':>10s} {'epochs':>6s}"
    print(f"\n== {name} ==")
    print(head)
    print("-" * len(head))
    for config in configs:
        s = summary[config]
        line = f"{config:{width}s}"
        for key, *_ in METRICS:
            line += f" {fmt(*s[key]):>15s}"
        line += f" {fmt(*s['fit_s'], 1):>10s} {s['n_iter'][0]:6.1f}"
        print(line, flush=True)


def plot_calibration(curves, eces, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(curves)
    fig, axes = plt.subplots(
        2,
        len(names),
        figsize=(5.2 * len(names), 6.6),
        squeeze=False,
        gridspec_kw={"height_ratios": [3, 1]},
        sharex=True,
    )
    colors = {
        "ZLPR sigmoid(2s)": "tab:blue",
        "ZLPR sigmoid(s)": "tab:orange",
        "BCE sigmoid(s)": "tab:green",
    }
    markers = {"ZLPR sigmoid(2s)": "o", "ZLPR sigmoid(s)": "s", "BCE sigmoid(s)": "^"}
    edges = np.linspace(0, 1, N_BINS + 1)
    centers = 0.5 * (edges[:-1] + edges[1:])
    for col, name in enumerate(names):
        ax, hist = axes[0, col], axes[1, col]
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect")
        for k, model in enumerate(CALIBRATION_MODELS):
            counts, conf, freq = curves[name][model]
            keep = counts > 0
            m, _ = eces[name][model]
            ax.plot(
                conf[keep],
                freq[keep],
                marker=markers[model],
                color=colors[model],
                label=f"{model}  ECE {m:.4f}",
            )
            hist.bar(
                centers + (k - 1) * 0.02,
                counts / counts.sum(),
                width=0.02,
                color=colors[model],
                log=True,
            )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal", adjustable="box")
        ax.set_title(name)
        ax.set_ylabel("observed frequency of the label")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
        hist.set_xlabel("predicted probability (bin mean)")
        hist.set_ylabel("share of entries")
        hist.set_ylim(1e-5, 1)
        hist.grid(alpha=0.3)
    fig.suptitle(
        "Reliability of per-label probabilities on the test split\n"
        f"({N_BINS} equal-width bins, seeds pooled; ECE = mean over seeds)",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets", type=Path, default=REPO.parent / "shared" / "datasets"
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--only",
        nargs="*",
        default=list(DATASETS),
        choices=list(DATASETS),
        metavar="DATASET",
        help="data sets to run (default: all)",
    )
    parser.add_argument(
        "--configs",
        nargs="*",
        default=list(CONFIGS),
        choices=list(CONFIGS),
        metavar="CONFIG",
        help="configurations to run (default: all)",
    )
    parser.add_argument("--no-calibration", action="store_true")
    parser.add_argument(
        "--out", type=Path, default=REPO / "docs" / "benchmarks" / "extras"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    seeds = list(range(args.seeds))
    configs = list(args.configs)
    calibrate = not args.no_calibration
    if calibrate and "baseline" not in configs:
        configs.insert(0, "baseline")  # the ZLPR calibration fits

    import torch

    meta = {
        "date": datetime.date.today().isoformat(),
        "command": "python "
        + " ".join(sys.argv if argv is None else [sys.argv[0], *argv]),
        "seeds": seeds,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "n_bins": N_BINS,
    }
    print(
        f"seeds {seeds}, {os.cpu_count()} CPU cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads)"
    )

    rows, summaries, calibration, curves, data_info = [], {}, {}, {}, {}
    ece_per_seed = {}
    for name in args.only:
        train, test = DATASETS[name]
        folder = args.datasets / name
        if not folder.is_dir():
            print(f"{name}: {folder} not found, skipped", file=sys.stderr)
            continue
        tr_x, Ytr, te_x, Yte = load(folder, train, test)
        vec = TfidfVectorizer(sublinear_tf=True, min_df=2)
        Xtr, Xte = vec.fit_transform(tr_x), vec.transform(te_x)
        Yte_dense = Yte.toarray()
        data_info[name] = {
            "n_train": Xtr.shape[0],
            "n_test": Xte.shape[0],
            "n_features": Xtr.shape[1],
            "n_labels": Ytr.shape[1],
            "label_cardinality_test": float(Yte_dense.sum(1).mean()),
        }
        print(
            f"\n{name}: {Xtr.shape[0]} train / {Xte.shape[0]} test, "
            f"{Xtr.shape[1]} features, {Ytr.shape[1]} labels",
            flush=True,
        )
        per_config = {c: [] for c in configs}
        probs = {m: [] for m in CALIBRATION_MODELS}

        for config in configs:
            for seed in seeds:
                params = {**CONFIGS[config], "random_state": seed}
                clf, row, score = fit_and_score(params, Xtr, Ytr, Xte, Yte)
                print(
                    f"  {config:40s} seed {seed}: ExF1 {row['example_f1']:.4f} "
                    f"RankLoss {row['ranking_loss']:.4f} fit {row['fit_s']:.1f}s "
                    f"({row['n_iter']} epochs)",
                    flush=True,
                )
                per_config[config].append(row)
                rows.append({"dataset": name, "config": config, "seed": seed, **row})
                if calibrate and config == "baseline":
                    probs["ZLPR sigmoid(2s)"].append(clf.predict_proba(Xte))
                    probs["ZLPR sigmoid(s)"].append(_sigmoid(score))
        if calibrate:
            for seed in seeds:
                clf, row, _ = fit_and_score(
                    {"loss": "bce", "random_state": seed}, Xtr, Ytr, Xte, Yte
                )
                print(
                    f"  {BCE_LABEL:40s} seed {seed}: "
                    f"ExF1 {row['example_f1']:.4f} fit {row['fit_s']:.1f}s",
                    flush=True,
                )
                rows.append(
                    {"dataset": name, "config": 'loss="bce"', "seed": seed, **row}
                )
                probs["BCE sigmoid(s)"].append(clf.predict_proba(Xte))

        keys = [k for k, *_ in METRICS] + ["fit_s", "n_iter"]
        summaries[name] = {
            c: {k: mean_std([r[k] for r in per_config[c]]) for k in keys}
            for c in configs
        }
        print_table(name, summaries[name], configs)
        if calibrate:
            ece_values = {
                m: [expected_calibration_error(Yte_dense, p) for p in v]
                for m, v in probs.items()
            }
            calibration[name] = {m: mean_std(v) for m, v in ece_values.items()}
            ece_per_seed[name] = ece_values
            curves[name] = {
                m: reliability_bins(np.tile(Yte_dense, (len(seeds), 1)), np.vstack(v))
                for m, v in probs.items()
            }
            print(f"\nECE ({N_BINS} bins, test split, mean±std over seeds) - {name}")
            for m, (mean, std) in calibration[name].items():
                print(f"  {m:18s} {fmt(mean, std)}")

    fields = ["dataset", "config", "seed"] + [k for k, *_ in METRICS]
    fields += ["fit_s", "n_iter"]
    with open(args.out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    result = {
        "meta": meta,
        "datasets": data_info,
        "configs": {c: CONFIGS[c] for c in configs},
        "per_seed": rows,
        "summary": {
            name: {
                c: {k: {"mean": m, "std": s} for k, (m, s) in v.items()}
                for c, v in summary.items()
            }
            for name, summary in summaries.items()
        },
        "calibration_ece": {
            name: {
                m: {"mean": mean, "std": std, "per_seed": ece_per_seed[name][m]}
                for m, (mean, std) in cal.items()
            }
            for name, cal in calibration.items()
        },
    }
    with open(args.out / "results.json", "w") as f:
        json.dump(result, f, indent=1)
    if calibrate and curves:
        plot_calibration(curves, calibration, args.out / "calibration.png")
    print(f"\nwrote {args.out / 'results.csv'}, {args.out / 'results.json'}", end="")
    print(f", {args.out / 'calibration.png'}" if calibrate and curves else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
