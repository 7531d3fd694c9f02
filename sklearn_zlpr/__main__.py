"""Compare ZLPR, BCE and one-vs-rest logistic regression on real text.

``python -m sklearn_zlpr`` (or the ``sklearn-zlpr`` console script) reads the
GoEmotions sample embedded in the package (no download), builds TF-IDF features,
trains
``ZLPRClassifier(loss="zlpr")``, ``ZLPRClassifier(loss="bce")`` and
``OneVsRestClassifier(LogisticRegression())`` on them and prints a paper-style table
of test-set metrics and timings.
"""

import argparse
import pickle
import sys
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline

from . import ZLPRClassifier, __version__, _benchmark
from .datasets import load_goemotions_sample, load_jsonl
from .losses import LOSSES
from .metrics import (
    multilabel_report,
)

#: Table columns, in print order.
COLUMNS = (
    "SubACC",
    "MLC-F1",
    "Micro-F1",
    "Macro-F1",
    "AvgPrec",
    "RankLoss",
    "fit s",
    "predict s",
)

#: Table rows, in print order.
METHODS = ("ZLPR", "BCE", "OvR-LR")

#: Rows of the embedded sample used by --quick (train, test).
QUICK_ROWS = (1000, 300)

#: ZLPRClassifier parameters of the --quick run (the main job uses the defaults).
QUICK_MODEL = {"max_epochs": 3, "batch_size": 32}


def make_problem(seed=0, quick=False):
    """TF-IDF features of the embedded GoEmotions sample.

    :func:`sklearn_zlpr.datasets.load_goemotions_sample`: 3,000 training and
    1,000 test comments, 28 labels, turned into
    ``TfidfVectorizer(sublinear_tf=True, min_df=2)`` features fitted on the
    training part.

    Parameters
    ----------
    seed : int, default=0
        Unused by the data (the sample is fixed); kept for a uniform signature.
    quick : bool, default=False
        Use the first :data:`QUICK_ROWS` rows only, for tests.

    Returns
    -------
    X_train, X_test : scipy.sparse.csr_matrix
        TF-IDF features.
    Y_train, Y_test : ndarray of int64
        Label indicator matrices.
    """
    train, test = load_goemotions_sample("train"), load_goemotions_sample("test")
    n_train, n_test = QUICK_ROWS if quick else (len(train.data), len(test.data))
    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=2)
    X_train = vectorizer.fit_transform(train.data[:n_train])
    X_test = vectorizer.transform(test.data[:n_test])
    # int64, never int8: scikit-learn mishandles int8 indicator matrices.
    Y_train = train.target[:n_train].toarray().astype(np.int64)
    Y_test = test.target[:n_test].toarray().astype(np.int64)
    return X_train, X_test, Y_train, Y_test


def make_models(seed=0, quick=False):
    """Return the compared estimators, keyed by the names in :data:`METHODS`.

    Parameters
    ----------
    seed : int, default=0
        ``random_state`` of the ZLPRClassifier models.
    quick : bool, default=False
        Use :data:`QUICK_MODEL` (a few epochs) for the ZLPRClassifier models.

    Returns
    -------
    models : dict of str to estimator
        Unfitted estimators.
    """
    extra = QUICK_MODEL if quick else {}
    return {
        "ZLPR": ZLPRClassifier(loss="zlpr", random_state=seed, **extra),
        "BCE": ZLPRClassifier(loss="bce", random_state=seed, **extra),
        "OvR-LR": OneVsRestClassifier(LogisticRegression()),
    }


def evaluate(model, X_train, Y_train, X_test, Y_test):
    """Fit ``model``, predict the test set and score it.

    Parameters
    ----------
    model : estimator
        A multi-label classifier with ``decision_function``.
    X_train, X_test : {array-like, sparse matrix}
        Features.
    Y_train, Y_test : ndarray of int64
        Label indicator matrices.

    Returns
    -------
    scores : dict of str to float
        One value per name in :data:`COLUMNS`.
    """
    t0 = time.perf_counter()
    model.fit(X_train, Y_train)
    fit_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    pred = model.predict(X_test)
    predict_s = time.perf_counter() - t0
    scores = model.decision_function(X_test)

    # OneVsRestClassifier returns sparse predictions for sparse y.
    pred = pred.toarray() if hasattr(pred, "toarray") else np.asarray(pred)
    pred = pred.astype(np.int64)
    row = {
        name: fn(Y_test, scores if uses_scores else pred)
        for name, fn, uses_scores, _ in _benchmark.METRICS
    }
    return {**row, "fit s": fit_s, "predict s": predict_s}


def format_table(results):
    """Format results as a plain-text table, one row per method.

    Parameters
    ----------
    results : dict of str to dict
        Method name to the scores returned by :func:`evaluate`.

    Returns
    -------
    table : str
        Header, rule and one line per method. Metrics have four decimals,
        timings two.
    """
    width = max(len(name) for name in results)
    header = f"{'Method':<{width}}" + "".join(f"  {c:>9}" for c in COLUMNS)
    lines = [header, "-" * len(header)]
    for name, row in results.items():
        cells = (
            f"{row[c]:9.2f}" if c.endswith(" s") else f"{row[c]:9.4f}" for c in COLUMNS
        )
        lines.append(f"{name:<{width}}" + "".join(f"  {cell}" for cell in cells))
    return "\n".join(lines)


def _fit(args):
    data = load_jsonl(args.train, labels=args.labels)
    vectorizer = _benchmark.make_features(
        args.features, args.device, args.transformer_model
    )
    extra = _benchmark.classifier_params(args.features, args.transformer_model)
    clf = ZLPRClassifier(
        loss=args.loss, random_state=args.seed, device=args.device, **extra
    )
    pipeline = make_pipeline(*[v for v in (vectorizer, clf) if v is not None])
    print(
        f"fitting on {len(data.data)} texts, {len(data.target_names)} labels ...",
        file=sys.stderr,
        flush=True,
    )
    pipeline.fit(data.data, data.target)
    with open(args.model, "wb") as f:
        pickle.dump(
            {
                "pipeline": pipeline,
                "target_names": list(data.target_names),
                "version": __version__,
            },
            f,
        )
    print(f"saved the fitted pipeline to {args.model}")
    return 0


def _load_model(path):
    with open(path, "rb") as f:
        try:
            saved = pickle.load(f)  # a model file the user wrote with 'fit'
        except (pickle.UnpicklingError, EOFError, AttributeError) as exc:
            raise ValueError(
                f"{path} is not a model file written by 'sklearn-zlpr fit' ({exc})."
            ) from None
    if not isinstance(saved, dict) or "pipeline" not in saved:
        raise ValueError(f"{path} is not a model file written by 'sklearn-zlpr fit'.")
    return saved["pipeline"], saved["target_names"]


def _predict(args):
    pipeline, names = _load_model(args.model)
    if args.input == "-":
        texts = [line.rstrip("\n") for line in sys.stdin]
    else:
        with open(args.input, encoding="utf-8") as f:
            texts = [line.rstrip("\n") for line in f]
    if not texts:
        raise ValueError("no input text (one text per line).")
    pred = pipeline.predict(texts)
    proba = pipeline.predict_proba(texts) if args.proba else None
    for i, row in enumerate(pred):
        picked = np.flatnonzero(row)
        if proba is None:
            print(", ".join(names[j] for j in picked))
        else:
            print(", ".join(f"{names[j]} ({proba[i, j]:.2f})" for j in picked))
    return 0


def _evaluate(args):
    pipeline, names = _load_model(args.model)
    data = load_jsonl(args.test, labels=names, unknown_labels=args.unknown_labels)
    print(
        multilabel_report(
            data.target,
            pipeline.predict(data.data),
            pipeline.decision_function(data.data),
        ),
        end="",
    )
    return 0


def _run_benchmark(args):
    if args.seeds < 1:
        print("--seeds must be at least 1", file=sys.stderr)
        return 2
    rows = _benchmark.run(
        args.train,
        args.test,
        labels=args.labels,
        losses=args.losses,
        features=args.features,
        seeds=args.seeds,
        device=args.device,
        unknown_labels=args.unknown_labels,
        dev=args.dev,
        transformer_model=args.transformer_model,
    )
    summary = _benchmark.summarise(rows)
    print(_benchmark.format_table(summary))
    meta = {
        key: getattr(args, key)
        for key in (
            "train",
            "test",
            "dev",
            "labels",
            "losses",
            "features",
            "transformer_model",
            "seeds",
            "device",
        )
    }
    figure = _benchmark.write(rows, summary, args.out, meta)
    written = "results.csv, results.json" + (", results.png" if figure else "")
    print(f"wrote {written} to {args.out}")
    return 0


def main(argv=None):
    """Run the main job: train the three methods and print the table.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        The exit code, 0 on success.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {
        "benchmark": _run_benchmark,
        "fit": _fit,
        "predict": _predict,
        "evaluate": _evaluate,
    }
    if args.command in handlers:
        try:
            return handlers[args.command](args)
        except (OSError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    X_train, X_test, Y_train, Y_test = make_problem(args.seed, args.quick)
    print(
        f"Embedded GoEmotions sample: {X_train.shape[0]} train / "
        f"{X_test.shape[0]} test comments, {X_train.shape[1]} TF-IDF features, "
        f"{Y_train.shape[1]} labels (seed {args.seed}"
        f"{', quick' if args.quick else ''})."
    )
    results = {}
    models = make_models(args.seed, args.quick)
    for i, (name, model) in enumerate(models.items(), 1):
        print(f"[{i}/{len(models)}] fitting {name} ...", file=sys.stderr, flush=True)
        results[name] = evaluate(model, X_train, Y_train, X_test, Y_test)
    print(format_table(results))
    return 0


def build_parser():
    """Build the command-line parser (also read by the docs' CLI page)."""
    parser = argparse.ArgumentParser(
        prog="sklearn-zlpr", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the data and models (default 0)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"small problem and {QUICK_MODEL['max_epochs']} epochs, for tests",
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command")
    bench = commands.add_parser(
        "benchmark",
        help="the paper's loss comparison on JSONL data sets",
        description="Fit every requested loss on --train for each seed, score it on "
        "--test, print a table (mean ± std, best marked) and write results.csv, "
        "results.json and results.png to --out.",
    )
    bench.add_argument("--train", required=True, help="training JSONL file")
    bench.add_argument("--test", required=True, help="test JSONL file")
    bench.add_argument(
        "--labels", help="label file (one name per line) fixing the label set"
    )
    bench.add_argument(
        "--losses",
        nargs="+",
        default=list(_benchmark.PAPER_LOSSES),
        choices=list(LOSSES),
        help="losses to compare (default: the paper's)",
    )
    bench.add_argument(
        "--unknown-labels",
        default="error",
        choices=["error", "ignore"],
        help="labels outside the label set (e.g. only in --test): error or drop",
    )
    bench.add_argument(
        "--dev",
        help="validation JSONL file for early stopping (default: 10%% of train)",
    )
    bench.add_argument(
        "--features",
        default="tfidf",
        choices=list(_benchmark.FEATURES),
        help="tfidf, hashing, transformer (frozen embeddings) or finetune "
        "(fine-tune the transformer per loss; GPU advised)",
    )
    bench.add_argument(
        "--transformer-model",
        help="local model directory or hub name for transformer/finetune features "
        "(default: the packaged all-MiniLM-L6-v2)",
    )
    bench.add_argument(
        "--seeds", type=int, default=3, help="seeds per loss (default 3)"
    )
    bench.add_argument("--device", default="auto", help="torch device (default auto)")
    bench.add_argument("--out", default="zlpr-benchmark", help="output folder")
    fit = commands.add_parser(
        "fit", help="fit a text pipeline on a JSONL file and save it"
    )
    fit.add_argument("--train", required=True, nargs="+", help="training JSONL file(s)")
    fit.add_argument("--labels", help="label file fixing the label set and order")
    fit.add_argument("--loss", default="zlpr", choices=list(LOSSES))
    fit.add_argument("--features", default="tfidf", choices=list(_benchmark.FEATURES))
    fit.add_argument("--transformer-model", help="model for transformer features")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--device", default="auto")
    fit.add_argument("--model", required=True, help="where to save the fitted pipeline")
    pred = commands.add_parser("predict", help="label names for new texts")
    pred.add_argument("--model", required=True, help="a file written by 'fit'")
    pred.add_argument(
        "--input",
        default="-",
        help="text file, one text per line ('-': standard input)",
    )
    pred.add_argument("--proba", action="store_true", help="print label probabilities")
    ev = commands.add_parser(
        "evaluate", help="metrics of a saved pipeline on a JSONL file"
    )
    ev.add_argument("--model", required=True, help="a file written by 'fit'")
    ev.add_argument("--test", required=True, nargs="+", help="JSONL file(s) to score")
    ev.add_argument("--unknown-labels", default="error", choices=["error", "ignore"])
    return parser


if __name__ == "__main__":
    sys.exit(main())
