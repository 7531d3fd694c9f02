"""The command line's fit-and-score loop and the paper's loss comparison.

:func:`compare` fits each method for each seed on given features, times ``fit``
and ``predict`` and scores the test set with the metrics of the paper's tables
(taken from the registry of :mod:`sklearn_zlpr.metrics`); :func:`summarise` and
:func:`format_table` turn its rows into the printed table. Both the main job
(``python -m sklearn_zlpr``) and :func:`run` (``python -m sklearn_zlpr
benchmark``: every loss on JSONL files) use them.
"""

import csv
import functools
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
from .metrics import _PAPER_METRICS, _get_metric, _scores_of

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

#: The metric columns: the registry entries of the paper's tables, in order.
METRICS = tuple(_get_metric(name) for name in _PAPER_METRICS)

#: The timing columns: (row key, column title), seconds.
TIMINGS = (("fit_s", "fit s"), ("predict_s", "predict s"))

#: Titles of the table's columns after the method name, in print order.
COLUMNS = tuple(m.title for m in METRICS) + tuple(title for _, title in TIMINGS)

#: ``--features`` choices: text -> features, or "finetune" (raw texts in).
FEATURES = ("tfidf", "hashing", "transformer", "finetune")


def make_features(kind, device="auto", transformer_model=None):
    """Return the text vectoriser of ``--features``.

    Parameters
    ----------
    kind : {"tfidf", "hashing", "transformer", "finetune"}
        ``"tfidf"``: ``TfidfVectorizer(sublinear_tf=True, min_df=2)``;
        ``"hashing"``: hashed TF-IDF, 2**18 columns; ``"transformer"``: frozen
        sentence embeddings (:class:`TransformerEmbedder`, default
        all-MiniLM-L6-v2), computed once and shared by every loss and seed;
        ``"finetune"``: no vectoriser, each classifier fine-tunes the encoder.
    device : str, default="auto"
        Torch device of the transformer.
    transformer_model : str or Path, default=None
        Model of the transformer features (None: packaged all-MiniLM-L6-v2).

    Returns
    -------
    vectorizer : transformer or None
        Unfitted; None for ``"finetune"``.

    Examples
    --------
    >>> make_features("tfidf")
    TfidfVectorizer(min_df=2, sublinear_tf=True)
    >>> make_features("finetune") is None
    True
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
    """Return the extra ``ZLPRClassifier`` parameters of ``--features``.

    Parameters
    ----------
    kind : {"tfidf", "hashing", "transformer", "finetune"}
        The ``--features`` choice.
    transformer_model : str or Path, default=None
        Model to fine-tune (None: packaged all-MiniLM-L6-v2).

    Returns
    -------
    params : dict
        Empty, except for ``"finetune"``: the classifier reads texts.

    Examples
    --------
    >>> classifier_params("tfidf")
    {}
    >>> classifier_params("finetune")
    {'encoder': 'transformer', 'transformer_model': None}
    """
    if kind == "finetune":
        return {"encoder": "transformer", "transformer_model": transformer_model}
    return {}


def make_classifier(seed, **params):
    """Return ``ZLPRClassifier(random_state=seed, **params)``, for :func:`compare`.

    Bind the parameters with ``functools.partial(make_classifier, loss=...)``
    to get a factory ``factory(seed)``.

    Parameters
    ----------
    seed : int
        The ``random_state``.
    **params : dict
        Other ``ZLPRClassifier`` parameters.

    Returns
    -------
    clf : ZLPRClassifier
        Unfitted.

    Examples
    --------
    >>> import functools
    >>> factory = functools.partial(make_classifier, loss="bce")
    >>> clf = factory(3)
    >>> clf.loss, clf.random_state
    ('bce', 3)
    """
    return ZLPRClassifier(random_state=seed, **params)


def compare(
    methods,
    X_train,
    X_test,
    Y_train,
    Y_test,
    *,
    seeds=(0,),
    fit_params=None,
    progress=True,
):
    """Fit each method for each seed, time it and score it on the test set.

    Parameters
    ----------
    methods : dict of str to callable
        Method name to a factory: ``factory(seed)`` returns an unfitted
        multi-label estimator with ``predict`` and ``decision_function`` (or
        ``predict_proba``).
    X_train, X_test : {array-like, sparse matrix} or list of str
        Features (or texts), in whatever form the estimators take.
    Y_train, Y_test : {array-like, sparse matrix} of shape (n_samples, n_labels)
        Label indicator matrices.
    seeds : sequence of int, default=(0,)
        The seeds passed to each factory.
    fit_params : dict, default=None
        Extra ``fit`` arguments for every method (e.g. ``X_val``, ``y_val``).
    progress : bool, default=True
        Print a line per fit to standard error.

    Returns
    -------
    rows : list of dict
        One per (method, seed), methods outer: ``method``, ``seed``, one value
        per metric title of :data:`METRICS`, ``fit_s`` and ``predict_s``
        (seconds of ``fit`` and ``predict``) and ``epochs`` (the estimator's
        ``n_iter_``, None without one).

    Examples
    --------
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> X, Y = make_multilabel_classification(n_samples=80, random_state=0)
    >>> rows = compare(
    ...     {"kNN": lambda seed: KNeighborsClassifier()},
    ...     X[:60], X[60:], Y[:60], Y[60:], seeds=[0, 1], progress=False,
    ... )
    >>> [(r["method"], r["seed"]) for r in rows]
    [('kNN', 0), ('kNN', 1)]
    >>> 0 <= rows[0]["MLC-F1"] <= 1
    True
    """
    fit_params = {} if fit_params is None else fit_params
    seeds = list(seeds)
    total = len(methods) * len(seeds)
    runs = ((name, seed) for name in methods for seed in seeds)
    rows = []
    for i, (name, seed) in enumerate(runs, 1):
        if progress:
            print(
                f"[{i}/{total}] fitting {name}, seed {seed} ...",
                file=sys.stderr,
                flush=True,
            )
        model = methods[name](seed)
        t0 = time.perf_counter()
        model.fit(X_train, Y_train, **fit_params)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pred = model.predict(X_test)
        predict_s = time.perf_counter() - t0
        scores = _scores_of(model, X_test)
        row = {"method": name, "seed": seed}
        for m in METRICS:
            out = pred if m.response == "predict" else scores
            row[m.title] = float(m.function(Y_test, out))
        row["fit_s"], row["predict_s"] = fit_s, predict_s
        row["epochs"] = getattr(model, "n_iter_", None)
        rows.append(row)
    return rows


def run(
    train,
    test,
    *,
    labels=None,
    losses=PAPER_LOSSES,
    features="tfidf",
    seeds=(0, 1, 2),
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
    losses : sequence of str, default=PAPER_LOSSES
        Loss names of :data:`sklearn_zlpr.losses.LOSSES`.
    features : {"tfidf", "hashing", "transformer", "finetune"}, default="tfidf"
        Text features: TF-IDF, hashed TF-IDF (2**18 columns), frozen
        transformer embeddings, or fine-tuning the transformer with each loss.
    seeds : sequence of int, default=(0, 1, 2)
        The ``random_state`` values of the classifier.
    device : str, default="auto"
        Torch device.
    unknown_labels : {"error", "ignore"}, default="error"
        Test (or training) labels outside the label set: an error naming them,
        or dropped with a warning.
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
        The rows of :func:`compare`, one per (loss, seed); ``method`` is the
        loss name.

    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> lines = [json.dumps({"text": f"w{i % 3} w{i % 5}", "labels": [f"a{i % 3}"]})
    ...          for i in range(60)]
    >>> _ = (folder / "train.jsonl").write_text("\\n".join(lines[:40]))
    >>> _ = (folder / "test.jsonl").write_text("\\n".join(lines[40:]))
    >>> rows = run(folder / "train.jsonl", folder / "test.jsonl", losses=["zlpr"],
    ...            seeds=[7], device="cpu", progress=False)
    >>> [(r["method"], r["seed"]) for r in rows], 0 <= rows[0]["AvgPrec"] <= 1
    ([('zlpr', 7)], True)
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
    params = {"device": device, **classifier_params(features, transformer_model)}
    methods = {
        loss: functools.partial(make_classifier, loss=loss, **params) for loss in losses
    }
    return compare(
        methods,
        X_train,
        X_test,
        train_data.target,
        test_data.target,
        seeds=seeds,
        fit_params=val,
        progress=progress,
    )


def summarise(rows):
    """Mean and sample standard deviation of each column, per method.

    Parameters
    ----------
    rows : list of dict
        Rows of :func:`compare`.

    Returns
    -------
    summary : dict
        ``{method: {column: (mean, std)}}`` for the metric titles of
        :data:`METRICS`, ``fit_s`` and ``predict_s``, methods in the order of
        ``rows``. ``std`` is the sample standard deviation over the method's
        rows (``ddof=1``), None for a single row.

    Examples
    --------
    >>> rows = [{"method": "a", "SubACC": v, "MLC-F1": 0.5, "Micro-F1": 0.5,
    ...          "Macro-F1": 0.5, "AvgPrec": 0.5, "RankLoss": 0.5,
    ...          "fit_s": 1.0, "predict_s": 0.1} for v in (0.2, 0.4)]
    >>> mean, std = summarise(rows)["a"]["SubACC"]
    >>> round(mean, 6), round(std, 6)
    (0.3, 0.141421)
    >>> summarise(rows[:1])["a"]["SubACC"]
    (0.2, None)
    """
    keys = [m.title for m in METRICS] + [key for key, _ in TIMINGS]
    summary = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        summary[method] = {key: _mean_std([r[key] for r in mine]) for key in keys}
    return summary


def _mean_std(values):
    std = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return float(np.mean(values)), std


def format_table(summary):
    """Text table of a summary, the best value of each metric marked with ``*``.

    Parameters
    ----------
    summary : dict
        The output of :func:`summarise`.

    Returns
    -------
    table : str
        A header, a rule, one line per method and a footnote. Metric cells
        read ``mean±std`` (four decimals), or the mean alone where std is None
        (a single seed); timings are mean seconds with two decimals.

    Examples
    --------
    >>> rows = [{"method": m, "SubACC": v, "MLC-F1": v, "Micro-F1": v,
    ...          "Macro-F1": v, "AvgPrec": v, "RankLoss": v,
    ...          "fit_s": 1.0, "predict_s": 0.1} for m, v in (("a", 0.2), ("b", 0.4))]
    >>> print(format_table(summarise(rows)))  # doctest: +NORMALIZE_WHITESPACE
    method  SubACC   MLC-F1   Micro-F1   Macro-F1   AvgPrec   RankLoss   fit s  predict s
    -------------------------------------------------------------------------------------
    a       0.2000   0.2000   0.2000     0.2000     0.2000    0.2000*     1.00       0.10
    b       0.4000*  0.4000*  0.4000*    0.4000*    0.4000*   0.4000      1.00       0.10
    * best value of each metric column: the highest, or the lowest for RankLoss
    """
    best = {}
    for m in METRICS:
        means = [s[m.title][0] for s in summary.values()]
        best[m.title] = max(means) if m.greater_is_better else min(means)
    several = False
    lines = []
    for method, s in summary.items():
        cells = [method]
        for m in METRICS:
            mean, std = s[m.title]
            several |= std is not None
            mark = "*" if np.isclose(mean, best[m.title], rtol=0, atol=1e-12) else " "
            text = f"{mean:.4f}" if std is None else f"{mean:.4f}±{std:.4f}"
            cells.append(text + mark)
        cells += [f"{s[key][0]:.2f}" for key, _ in TIMINGS]
        lines.append(cells)
    # Metric headers get a trailing blank over the mark, to align with the digits.
    header = ["method", *(m.title + " " for m in METRICS), *COLUMNS[len(METRICS) :]]
    widths = [max(len(row[j]) for row in [header, *lines]) for j in range(len(header))]

    def join(cells):
        first = cells[0].ljust(widths[0])
        return first + "".join(f"  {c:>{w}}" for c, w in zip(cells[1:], widths[1:]))

    text = [join(header).rstrip()]
    text.append("-" * len(text[0]))
    text += [join(cells).rstrip() for cells in lines]
    lower = [m.title for m in METRICS if not m.greater_is_better]
    statistic = "mean" if several else "value"
    note = f"* best {statistic} of each metric column: the highest"
    text.append(note + (f", or the lowest for {', '.join(lower)}" if lower else ""))
    if several:
        text.append("mean±std: sample standard deviation (ddof=1) over the seeds")
    return "\n".join(text)


def plot(summary, path):
    """Draw one panel per metric, a bar per method with the std as error bar.

    Drawn on a :class:`matplotlib.figure.Figure` without pyplot, so the
    process's matplotlib backend is left alone.

    Parameters
    ----------
    summary : dict
        The output of :func:`summarise`; no error bars where std is None.
    path : str or Path
        The image file; its suffix sets the format.

    Returns
    -------
    path : str, Path or None
        ``path``, or None without matplotlib (nothing is drawn).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> rows = [{"method": "zlpr", "SubACC": 0.3, "MLC-F1": 0.4, "Micro-F1": 0.5,
    ...          "Macro-F1": 0.2, "AvgPrec": 0.6, "RankLoss": 0.1,
    ...          "fit_s": 1.0, "predict_s": 0.1}]
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "results.png"
    >>> plot(summarise(rows), path).read_bytes()[:4]
    b'\\x89PNG'
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    methods = list(summary)
    fig = Figure(figsize=(3.2 * len(METRICS), 3.6), layout="tight")
    axes = fig.subplots(1, len(METRICS), squeeze=False)[0]
    for ax, m in zip(axes, METRICS):
        means = [summary[method][m.title][0] for method in methods]
        stds = [summary[method][m.title][1] for method in methods]
        colors = ["tab:red" if x.lower() == "zlpr" else "tab:gray" for x in methods]
        yerr = None if None in stds else stds
        ax.bar(range(len(methods)), means, yerr=yerr, color=colors, capsize=2)
        ax.set_xticks(range(len(methods)))
        ax.set_xticklabels(methods, rotation=60, ha="right", fontsize=8)
        better = "" if m.greater_is_better else " (lower is better)"
        ax.set_title(m.title + better, fontsize=9)
    fig.savefig(path, dpi=120)
    return path


def write(rows, summary, out, meta):
    """Write ``results.csv``, ``results.json`` and ``results.png`` to a folder.

    Parameters
    ----------
    rows : list of dict
        Rows of :func:`compare`: ``results.csv`` has one line per row.
    summary : dict
        The output of :func:`summarise`, drawn by :func:`plot`.
    out : str or Path
        The folder, created if missing.
    meta : dict
        The run's settings; ``results.json`` holds ``meta``, ``rows`` and
        ``summary``.

    Returns
    -------
    figure : Path or None
        The path of ``results.png``, or None without matplotlib.

    Examples
    --------
    >>> import json, tempfile
    >>> rows = [{"method": "zlpr", "seed": 0, "SubACC": 0.3, "MLC-F1": 0.4,
    ...          "Micro-F1": 0.5, "Macro-F1": 0.2, "AvgPrec": 0.6,
    ...          "RankLoss": 0.1, "fit_s": 1.0, "predict_s": 0.1, "epochs": 5}]
    >>> out = tempfile.mkdtemp()
    >>> figure = write(rows, summarise(rows), out, {"seeds": [0]})
    >>> figure.name, json.loads((figure.parent / "results.json").read_text())["meta"]
    ('results.png', {'seeds': [0]})
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    payload = {"meta": meta, "rows": rows, "summary": summary}
    (out / "results.json").write_text(json.dumps(payload, indent=2))
    return plot(summary, out / "results.png")
