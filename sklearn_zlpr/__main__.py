"""Compare ZLPR, BCE and one-vs-rest logistic regression on real text.

``python -m sklearn_zlpr`` (or the ``sklearn-zlpr`` console script) reads the
GoEmotions sample embedded in the package (no download), builds TF-IDF features,
trains ``ZLPRClassifier(loss="zlpr")``, ``ZLPRClassifier(loss="bce")`` and
``OneVsRestClassifier(LogisticRegression())`` on them and prints a paper-style table
of test-set metrics and timings. The commands ``benchmark``, ``fit``, ``predict``
and ``evaluate`` work on JSON Lines files; ``fit --stream`` reads them in
chunks, for files larger than memory (``docs/streaming.md``). Run-time errors
(a missing file, a bad JSONL line, an unknown label) exit with status 1, usage
errors with 2.
"""

import argparse
import functools
import pickle
import sys
import zipfile

import numpy as np
from sklearn.feature_extraction.text import (
    HashingVectorizer,
    TfidfTransformer,
    TfidfVectorizer,
)
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline

from . import ZLPRClassifier, __version__, _benchmark, load, save
from .datasets import (
    _read_label_names,
    _scan_label_names,
    iter_jsonl_chunks,
    load_goemotions_sample,
    load_jsonl,
)
from .losses import LOSSES
from .metrics import multilabel_report

#: Table rows of the main job, in print order.
METHODS = ("ZLPR", "BCE", "OvR-LR")

#: Rows of the embedded sample used by --quick (train, test).
QUICK_ROWS = (1000, 300)

#: ZLPRClassifier parameters of the --quick run (the main job uses the defaults).
QUICK_MODEL = {"max_epochs": 3, "batch_size": 32}

#: Hashed columns of ``fit --stream`` (as ``--features hashing``).
STREAM_FEATURES = 2**18

#: ZLPRClassifier parameters of ``fit --stream``: the network (``partial_fit``),
#: one hidden layer (the embedding bag: 2**18 x 128 float32 = 128 MiB, 384 MiB
#: with the two moment tables of sparse Adam) and a batch size that does not
#: depend on the first chunk's size (``batch_size="auto"`` would).
STREAM_MODEL = {"solver": "minibatch", "hidden_layer_sizes": (128,), "batch_size": 256}

#: Default ``fit --chunk-size``.
STREAM_CHUNK_SIZE = 10000


def make_problem(quick=False):
    """TF-IDF features of the embedded GoEmotions sample.

    :func:`sklearn_zlpr.datasets.load_goemotions_sample`: 3,000 training and
    1,000 test comments, 28 labels, turned into
    ``TfidfVectorizer(sublinear_tf=True, min_df=2)`` features fitted on the
    training part.

    Parameters
    ----------
    quick : bool, default=False
        Use the first :data:`QUICK_ROWS` rows only, for tests.

    Returns
    -------
    X_train, X_test : scipy.sparse.csr_matrix
        TF-IDF features.
    Y_train, Y_test : ndarray of int64
        Label indicator matrices.

    Examples
    --------
    >>> X_train, X_test, Y_train, Y_test = make_problem(quick=True)
    >>> X_train.shape[0], X_test.shape[0], Y_train.shape[1]
    (1000, 300, 28)
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


def _one_vs_rest_logistic(seed):
    """OvR-LR; lbfgs is deterministic, so ``seed`` has nothing to seed."""
    return OneVsRestClassifier(LogisticRegression())


def make_methods(quick=False):
    """The compared methods as factories, keyed by the names in :data:`METHODS`.

    Parameters
    ----------
    quick : bool, default=False
        Use :data:`QUICK_MODEL` (a few epochs) for the ZLPRClassifier models.

    Returns
    -------
    methods : dict of str to callable
        ``factory(seed)`` returns an unfitted estimator, ``random_state=seed``
        for the ZLPRClassifier models (as ``_benchmark.compare`` takes them).

    Examples
    --------
    >>> methods = make_methods(quick=True)
    >>> list(methods) == list(METHODS)
    True
    >>> zlpr = methods["ZLPR"](3)
    >>> zlpr.loss, zlpr.random_state, zlpr.max_epochs
    ('zlpr', 3, 3)
    """
    extra = QUICK_MODEL if quick else {}
    zlpr = functools.partial(_benchmark.make_classifier, **extra)
    return {
        "ZLPR": functools.partial(zlpr, loss="zlpr"),
        "BCE": functools.partial(zlpr, loss="bce"),
        "OvR-LR": _one_vs_rest_logistic,
    }


def _main_job(args):
    problem = make_problem(args.quick)
    X_train, X_test, Y_train, _ = problem
    print(
        f"Embedded GoEmotions sample: {X_train.shape[0]} train / "
        f"{X_test.shape[0]} test comments, {X_train.shape[1]} TF-IDF features, "
        f"{Y_train.shape[1]} labels (seed {args.seed}"
        f"{', quick' if args.quick else ''})."
    )
    rows = _benchmark.compare(make_methods(args.quick), *problem, seeds=[args.seed])
    print(_benchmark.format_table(_benchmark.summarise(rows)))
    return 0


def _fit(args):
    if args.stream:
        return _fit_stream(args)
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
    try:
        pipeline.fit(data.data, data.target)
    except ValueError as exc:  # e.g. too few texts for the vectorizer's min_df
        files = ", ".join(map(str, args.train))
        raise ValueError(
            f"fitting on {len(data.data)} texts of {files} failed: {exc}"
        ) from None
    # The safe format (no pickle): sklearn_zlpr.save, atomically written.
    save({"pipeline": pipeline, "target_names": list(data.target_names)}, args.model)
    print(f"saved the fitted pipeline to {args.model}")
    return 0


def make_stream_features():
    """The stateless text features of ``fit --stream``.

    Hashed term counts (:data:`STREAM_FEATURES` columns, no alternating
    sign), then sublinear tf (``1 + log(tf)``) and l2 normalisation: the
    ``--features hashing`` pipeline without its IDF weights, which need a
    pass over the whole file. ``fit`` learns nothing from the data, so
    fitting it on any chunk gives the same transform.

    Returns
    -------
    features : sklearn.pipeline.Pipeline
        Unfitted ``HashingVectorizer`` then ``TfidfTransformer(use_idf=False)``.

    Examples
    --------
    >>> features = make_stream_features().fit(["red fox", "blue"])
    >>> X = features.transform(["red red fox"])
    >>> X.shape, round(float(X.power(2).sum()), 6)
    ((1, 262144), 1.0)
    """
    return make_pipeline(
        HashingVectorizer(n_features=STREAM_FEATURES, alternate_sign=False, norm=None),
        TfidfTransformer(use_idf=False, sublinear_tf=True),
    )


def _fit_stream(args):
    if args.labels is not None:
        names = _read_label_names(args.labels)
        source = args.labels
    else:  # one cheap pass over the labels only: no text is kept
        print("reading the label set (first pass) ...", file=sys.stderr, flush=True)
        names = _scan_label_names(args.train)
        source = "a first pass over the labels"
    if not names:
        raise ValueError(f"The label set from {source} is empty.")
    features = make_stream_features()
    clf = ZLPRClassifier(
        loss=args.loss, random_state=args.seed, device=args.device, **STREAM_MODEL
    )
    print(
        f"streaming {', '.join(args.train)} in chunks of {args.chunk_size} rows, "
        f"{len(names)} labels (from {source}), {args.epochs} epoch(s) ...",
        file=sys.stderr,
        flush=True,
    )
    n_rows = 0
    for epoch in range(args.epochs):
        chunks = iter_jsonl_chunks(args.train, labels=names, chunk_size=args.chunk_size)
        for texts, Y in chunks:
            if n_rows == 0:
                features.fit(texts)  # stateless: checks the input only
            clf.partial_fit(features.transform(texts), Y)
            n_rows += len(texts)
        print(f"epoch {epoch + 1}: {n_rows} rows so far", file=sys.stderr, flush=True)
    pipeline = make_pipeline(*features.named_steps.values(), clf)
    # The same file format as a fit in memory: predict and evaluate read both.
    save({"pipeline": pipeline, "target_names": names}, args.model)
    print(f"saved the fitted pipeline to {args.model}")
    return 0


def _load_model(path, trust_pickle=False):
    if zipfile.is_zipfile(path):
        saved = load(path)
    elif not trust_pickle:
        with open(path, "rb"):  # a missing file: the usual OSError
            pass
        raise ValueError(
            f"{path} is not a model file in the safe format of 'sklearn-zlpr fit' "
            "(sklearn_zlpr.save). If it is a pickle written by an older "
            "sklearn-zlpr and you trust its source, pass --trust-pickle (loading "
            "a pickle can run any code it contains)."
        )
    else:
        with open(path, "rb") as f:
            try:
                saved = pickle.load(f)  # trusted by the user (--trust-pickle)
            except (pickle.UnpicklingError, EOFError, AttributeError) as exc:
                raise ValueError(
                    f"{path} is not a model file written by 'sklearn-zlpr fit' ({exc})."
                ) from None
    if not isinstance(saved, dict) or "pipeline" not in saved:
        raise ValueError(f"{path} is not a model file written by 'sklearn-zlpr fit'.")
    return saved["pipeline"], saved["target_names"]


def _predict(args):
    pipeline, names = _load_model(args.model, args.trust_pickle)
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
    pipeline, names = _load_model(args.model, args.trust_pickle)
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
    seeds = list(range(args.seed, args.seed + args.seeds))
    rows = _benchmark.run(
        args.train,
        args.test,
        labels=args.labels,
        losses=args.losses,
        features=args.features,
        seeds=seeds,
        device=args.device,
        unknown_labels=args.unknown_labels,
        dev=args.dev,
        transformer_model=args.transformer_model,
    )
    summary = _benchmark.summarise(rows)
    print(_benchmark.format_table(summary))
    keys = ("train", "test", "dev", "labels", "losses", "features")
    meta = {key: getattr(args, key) for key in keys}
    meta.update(
        transformer_model=args.transformer_model, seeds=seeds, device=args.device
    )
    figure = _benchmark.write(rows, summary, args.out, meta)
    written = "results.csv, results.json" + (", results.png" if figure else "")
    print(f"wrote {written} to {args.out}")
    return 0


def main(argv=None):
    """Run the main job (three methods, one table) or a command.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        The exit code: 0 on success, 1 after a run-time error (a missing file,
        a bad JSONL line, an unknown label), reported in one line on standard
        error. A usage error exits with 2 (``SystemExit``), as argparse does.

    Examples
    --------
    >>> main(["evaluate", "--model", "no-such-model.pkl", "--test", "t.jsonl"])
    1
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "fit":
        _check_fit_args(parser, args)
    handlers = {
        None: _main_job,
        "benchmark": _run_benchmark,
        "fit": _fit,
        "predict": _predict,
        "evaluate": _evaluate,
    }
    try:
        return handlers[args.command](args)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _check_fit_args(parser, args):
    """Resolve ``fit``'s defaults; a usage error (exit 2) for a bad combination."""
    if not args.stream:
        for option, value in (
            ("--chunk-size", args.chunk_size),
            ("--epochs", args.epochs),
        ):
            if value is not None:
                parser.error(f"fit: {option} applies only with --stream.")
        args.features = args.features or "tfidf"
        return
    if args.features not in (None, "hashing"):
        parser.error(
            f"fit: --stream needs --features hashing (got --features "
            f"{args.features}): {args.features} features must see the whole file "
            "before the first training step, hashed ones are computed chunk by chunk."
        )
    args.features = "hashing"
    args.chunk_size = args.chunk_size or STREAM_CHUNK_SIZE
    args.epochs = args.epochs or 1


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1; got {value}")
    return value


def build_parser():
    """Build the command-line parser (also read by the docs' CLI page).

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser of ``sklearn-zlpr`` and its commands.

    Examples
    --------
    >>> parser = build_parser()
    >>> parser.parse_args(["--seed", "3", "benchmark", "--train", "a", "--test", "b"]).seed
    3
    >>> parser.parse_args(["benchmark", "--train", "a", "--test", "b", "--seed", "3"]).seed
    3
    """
    parser = argparse.ArgumentParser(
        prog="sklearn-zlpr", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random_state of the models (default 0); for benchmark, the first "
        "of --seeds consecutive seeds. Also accepted after the command",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"small problem and {QUICK_MODEL['max_epochs']} epochs, for tests",
    )
    parser.add_argument("--version", action="version", version=__version__)
    # --seed after a command: SUPPRESS leaves the top-level value (given before
    # the command, or its default) in place unless the option is given here.
    seeded = argparse.ArgumentParser(add_help=False)
    seeded.add_argument(
        "--seed",
        type=int,
        default=argparse.SUPPRESS,
        help="as --seed before the command (default 0)",
    )
    commands = parser.add_subparsers(dest="command")
    bench = commands.add_parser(
        "benchmark",
        parents=[seeded],
        help="the paper's loss comparison on JSONL data sets",
        description="Fit every requested loss on --train for each seed, score it on "
        "--test, print a table (mean ± sample standard deviation over the seeds, "
        "the mean alone for one seed; the best value of each metric marked) and "
        "write results.csv, results.json and results.png to --out.",
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
        "--seeds",
        type=_positive_int,
        default=3,
        help="number of seeds per loss, --seed, --seed+1, ... (default 3); the "
        "table shows mean ± sample standard deviation (ddof=1) over them, the "
        "mean alone for --seeds 1",
    )
    bench.add_argument("--device", default="auto", help="torch device (default auto)")
    bench.add_argument("--out", default="zlpr-benchmark", help="output folder")
    fit = commands.add_parser(
        "fit",
        parents=[seeded],
        help="fit a text pipeline on a JSONL file and save it",
        description="Fit a text pipeline on JSONL file(s) and save it. With "
        "--stream, the files are read in chunks of --chunk-size rows (never "
        "more in memory), featurised by stateless hashing and fed to the "
        "network's partial_fit, --epochs passes over the files.",
    )
    fit.add_argument("--train", required=True, nargs="+", help="training JSONL file(s)")
    fit.add_argument(
        "--labels",
        help="label file fixing the label set and order (with --stream: "
        "without it, a first pass over the files reads the labels only)",
    )
    fit.add_argument("--loss", default="zlpr", choices=list(LOSSES))
    fit.add_argument(
        "--features",
        choices=list(_benchmark.FEATURES),
        help="default tfidf; hashing (stateless, without IDF) with --stream, "
        "which accepts nothing else",
    )
    fit.add_argument(
        "--stream",
        action="store_true",
        help="train in chunks over files larger than memory (see --chunk-size)",
    )
    fit.add_argument(
        "--chunk-size",
        type=_positive_int,
        help=f"with --stream: rows per chunk (default {STREAM_CHUNK_SIZE})",
    )
    fit.add_argument(
        "--epochs",
        type=_positive_int,
        help="with --stream: passes over the files, one partial_fit epoch per "
        "chunk each (default 1)",
    )
    fit.add_argument("--transformer-model", help="model for transformer features")
    fit.add_argument("--device", default="auto")
    fit.add_argument(
        "--model",
        required=True,
        help="where to save the fitted pipeline (safe format, no pickle; "
        "for example model.zlpr)",
    )
    pred = commands.add_parser("predict", help="label names for new texts")
    pred.add_argument("--model", required=True, help="a file written by 'fit'")
    pred.add_argument(
        "--trust-pickle",
        action="store_true",
        help="also read a pickle model file of an older sklearn-zlpr (can run "
        "any code it contains: only for files you trust)",
    )
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
    ev.add_argument(
        "--trust-pickle",
        action="store_true",
        help="also read a pickle model file of an older sklearn-zlpr (can run "
        "any code it contains: only for files you trust)",
    )
    ev.add_argument("--test", required=True, nargs="+", help="JSONL file(s) to score")
    ev.add_argument("--unknown-labels", default="error", choices=["error", "ignore"])
    return parser


if __name__ == "__main__":
    sys.exit(main())
