"""The paper's loss comparison on any JSONL data set (``python -m sklearn_zlpr benchmark``)."""

import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import (
    HashingVectorizer,
    TfidfTransformer,
    TfidfVectorizer,
)
from sklearn.pipeline import make_pipeline

from . import ZLPRClassifier
from .datasets import load_jsonl
from .metrics import (
    avg_precision_score,
    example_f1_score,
    macro_f1_score,
    micro_f1_score,
    ranking_loss,
    subset_accuracy_score,
)

#: The losses of the paper's Table 1 (section 4.2), ZLPR first.
PAPER_LOSSES = (
    "zlpr",
    "bce",
    "focal",
    "dice1",
    "dice2",
    "rank_hinge",
    "warp",
    "bpmll",
    "lsep",
)
#: Table columns: (name, function, uses scores, higher is better).
METRICS = (
    ("SubACC", subset_accuracy_score, False, True),
    ("MLC-F1", example_f1_score, False, True),
    ("Micro-F1", micro_f1_score, False, True),
    ("Macro-F1", macro_f1_score, False, True),
    ("AvgPrec", avg_precision_score, True, True),
    ("RankLoss", ranking_loss, True, False),
)


#: ``--features`` choices: text -> features, or "finetune" (raw texts in).
FEATURES = ("tfidf", "hashing", "transformer", "finetune")


def make_features(kind, device="auto", transformer_model=None):
    """The text vectoriser of ``--features`` (None for ``"finetune"``).

    ``"transformer"``: frozen sentence embeddings (:class:`TransformerEmbedder`,
    default all-MiniLM-L6-v2), computed once and shared by every loss and seed;
    ``"finetune"``: no vectoriser, each classifier fine-tunes the encoder.
    """
    if kind == "transformer":
        from ._embedder import TransformerEmbedder

        return TransformerEmbedder(model=transformer_model, device=device)
    if kind == "finetune":
        return None
    if kind == "tfidf":
        return TfidfVectorizer(sublinear_tf=True, min_df=2)
    if kind == "hashing":
        return make_pipeline(
            HashingVectorizer(n_features=2**18, alternate_sign=False, norm=None),
            TfidfTransformer(sublinear_tf=True),
        )
    raise ValueError(f"--features {kind!r} is not one of {', '.join(FEATURES)}.")


def classifier_params(kind, transformer_model=None):
    """Extra ``ZLPRClassifier`` parameters of ``--features``: fine-tuning reads texts."""
    if kind == "finetune":
        return {"encoder": "transformer", "transformer_model": transformer_model}
    return {}


def run(
    train,
    test,
    labels=None,
    losses=PAPER_LOSSES,
    features="tfidf",
    seeds=3,
    device="auto",
    unknown_labels="error",
    progress=True,
    dev=None,
    transformer_model=None,
):
    """Fit every loss on ``train`` for each seed and score it on ``test``.

    Parameters
    ----------
    train, test : str or Path
        JSONL files (see :func:`sklearn_zlpr.datasets.load_jsonl`).
    labels : str or Path, default=None
        Label file fixing the label set and order; else the training labels.
    unknown_labels : {"error", "ignore"}, default="error"
        Test (or training) labels outside the label set: an error naming them,
        or dropped with a warning.
    losses : sequence of str, default=PAPER_LOSSES
        Loss names of :data:`sklearn_zlpr.losses.LOSSES`.
    features : {"tfidf", "hashing", "transformer", "finetune"}, default="tfidf"
        Text features: TF-IDF, hashed TF-IDF (2**18 columns), frozen
        transformer embeddings, or fine-tuning the transformer with each loss.
    seeds : int, default=3
        Seeds 0..seeds-1 (``random_state`` of the classifier).
    device : str, default="auto"
        Torch device.
    progress : bool, default=True
        Print a progress line per fit to standard error.
    dev : str or Path, default=None
        A JSONL validation file for early stopping (``X_val``/``y_val`` of
        ``fit``); else 10% of ``train`` is held out.
    transformer_model : str or Path, default=None
        Model of the transformer features (None: packaged all-MiniLM-L6-v2).

    Returns
    -------
    rows : list of dict
        One per (loss, seed): the metrics, ``fit_s`` and ``epochs``.
    """
    train_data = load_jsonl(train, labels=labels, unknown_labels=unknown_labels)
    names = list(train_data.target_names)
    test_data = load_jsonl(test, labels=names, unknown_labels=unknown_labels)
    dev_data = (
        None
        if dev is None
        else load_jsonl(dev, labels=names, unknown_labels=unknown_labels)
    )
    vectorizer = make_features(features, device, transformer_model)
    if vectorizer is None:  # fine-tuning: raw texts in
        X_train, X_test = train_data.data, test_data.data
        X_dev = None if dev_data is None else dev_data.data
    else:
        if progress:
            print(f"computing {features} features ...", file=sys.stderr, flush=True)
        X_train = vectorizer.fit_transform(train_data.data)
        X_test = vectorizer.transform(test_data.data)
        X_dev = None if dev_data is None else vectorizer.transform(dev_data.data)
    val = {} if dev_data is None else {"X_val": X_dev, "y_val": dev_data.target}
    extra = classifier_params(features, transformer_model)
    Y_train, Y_test = train_data.target, test_data.target
    rows = []
    total = len(losses) * seeds
    for i, (loss, seed) in enumerate(((l, s) for l in losses for s in range(seeds)), 1):
        if progress:
            print(f"[{i}/{total}] {loss} seed {seed} ...", file=sys.stderr, flush=True)
        clf = ZLPRClassifier(loss=loss, random_state=seed, device=device, **extra)
        t0 = time.perf_counter()
        clf.fit(X_train, Y_train, **val)
        fit_s = time.perf_counter() - t0
        pred, scores = clf.predict(X_test), clf.decision_function(X_test)
        row = {"loss": loss, "seed": seed, "fit_s": fit_s, "epochs": clf.n_iter_}
        for name, fn, uses_scores, _ in METRICS:
            row[name] = float(fn(Y_test, scores if uses_scores else pred))
        rows.append(row)
    return rows


def summarise(rows):
    """Mean and standard deviation per loss: ``{loss: {column: (mean, std)}}``."""
    out = {}
    for loss in dict.fromkeys(r["loss"] for r in rows):
        mine = [r for r in rows if r["loss"] == loss]
        out[loss] = {
            col: (
                float(np.mean([r[col] for r in mine])),
                float(np.std([r[col] for r in mine])),
            )
            for col in [m[0] for m in METRICS] + ["fit_s"]
        }
    return out


def format_table(summary):
    """Text table, mean ± std, the best value of each metric marked with ``*``."""
    names = [m[0] for m in METRICS]
    best = {}
    for name, _, _, higher in METRICS:
        values = {loss: s[name][0] for loss, s in summary.items()}
        best[name] = (max if higher else min)(values.values())
    width = max(len(loss) for loss in summary) + 1
    header = (
        f"{'loss':<{width}}" + "".join(f"{n:>17}" for n in names) + f"{'fit s':>12}"
    )
    lines = [header, "-" * len(header)]
    for loss, s in summary.items():
        cells = []
        for name in names:
            mean, std = s[name]
            mark = "*" if np.isclose(mean, best[name], rtol=0, atol=1e-12) else " "
            cells.append(f"{mean:.4f}±{std:.4f}{mark}".rjust(17))
        lines.append(f"{loss:<{width}}" + "".join(cells) + f"{s['fit_s'][0]:>12.1f}")
    lines.append("* best mean of the column (RankLoss: lowest)")
    return "\n".join(lines)


def plot(summary, path):
    """One panel per metric, a bar per loss with the std as error bar."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    names = [m[0] for m in METRICS]
    losses = list(summary)
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.6))
    for ax, name in zip(axes, names):
        means = [summary[loss][name][0] for loss in losses]
        stds = [summary[loss][name][1] for loss in losses]
        colors = ["tab:red" if loss == "zlpr" else "tab:gray" for loss in losses]
        ax.bar(range(len(losses)), means, yerr=stds, color=colors, capsize=2)
        ax.set_xticks(range(len(losses)))
        ax.set_xticklabels(losses, rotation=60, ha="right", fontsize=8)
        ax.set_title(
            name + (" (lower is better)" if name == "RankLoss" else ""), fontsize=9
        )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write(rows, summary, out, meta):
    """results.csv (one row per loss and seed), results.json and results.png in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    payload = {"meta": meta, "rows": rows, "summary": summary}
    (out / "results.json").write_text(json.dumps(payload, indent=2))
    return plot(summary, out / "results.png")
