"""A 3x3 grid search on GoEmotions: serial against a 2-worker Dask LocalCluster.

``GridSearchCV`` over ``ZLPRClassifier``'s ``C`` (three values around
``C="auto"``'s) and ``tol`` (1e-2, 1e-3, 1e-4), 3 stratified folds, TF-IDF
features computed once, four scorers; run with ``n_jobs=1`` and then through
joblib's Dask backend on ``LocalCluster(n_workers=2, threads_per_worker=1)``
(loopback only), side by side in one run. Prints the wall times and exits
non-zero unless the two ``cv_results_`` (every split score) and
``best_params_`` are identical.

Both run each fit on one torch thread (the workers because Dask starts them
with OMP_NUM_THREADS=1, the serial run by torch.set_num_threads(1)), so that
their float32 sums are added in the same order: with another number of
threads torch splits some reductions differently, and a score can differ in
its last digits. On 2 cores the cluster can at best halve the time.

Usage: python benchmarks/bench_scaling.py [--datasets DIR] [--rows N]
"""

import argparse
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import torch
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import GridSearchCV

from sklearn_zlpr import ZLPRClassifier
from sklearn_zlpr.datasets import load_jsonl
from sklearn_zlpr.metrics import make_scoring
from sklearn_zlpr.model_selection import MultilabelStratifiedKFold

DEFAULT_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--rows", type=int, default=None, help="use the first N rows")
    args = parser.parse_args(argv)
    try:
        import distributed
    except ImportError:
        print(
            'skipped: dask.distributed is not installed (pip install ".[distributed]")'
        )
        return 0
    folder = args.datasets / "goemotions"
    if not folder.is_dir():
        print(f"skipped: {folder} not found")
        return 0
    data = load_jsonl(folder / "train.jsonl.gz", labels=folder / "labels.txt")
    texts, Y = data.data, data.target
    if args.rows:
        texts, Y = texts[: args.rows], Y[: args.rows]
    X = TfidfVectorizer(sublinear_tf=True, min_df=2).fit_transform(texts)
    c_auto = ZLPRClassifier(max_iter=1, tol=1.0).fit(X[:2000], Y[:2000]).C_
    search = GridSearchCV(
        ZLPRClassifier(),
        {"C": [c_auto / 3, c_auto, 3 * c_auto], "tol": [1e-2, 1e-3, 1e-4]},
        cv=MultilabelStratifiedKFold(3, shuffle=True, random_state=0),
        scoring=make_scoring(["example_f1", "macro_f1", "precision_at_1", "ndcg_at_3"]),
        refit="example_f1",
    )
    print(f"goemotions: {X.shape[0]} rows, {X.shape[1]} features, {Y.shape[1]} labels")
    print("grid: 3 C x 3 tol, 3 folds = 27 fits (+1 refit)")
    # Each worker runs a fit on one torch thread (Dask starts them with
    # OMP_NUM_THREADS=1); the serial run gets the same, so that float32 sums
    # are added in the same order and the results compare bit for bit.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        t0 = time.perf_counter()
        serial = clone(search).set_params(n_jobs=1).fit(X, Y)
        serial_s = time.perf_counter() - t0
    finally:
        torch.set_num_threads(threads)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster, timeout="60s"),
    ):
        t0 = time.perf_counter()
        with joblib.parallel_backend("dask"):
            parallel = clone(search).fit(X, Y)
        dask_s = time.perf_counter() - t0
    print(f"{'run':36s} {'wall s':>8s}")
    print(f"{'GridSearchCV(n_jobs=1), 1 thread':36s} {serial_s:8.1f}")
    print(f"{'Dask LocalCluster, 2 workers x 1':36s} {dask_s:8.1f}")
    print(f"speed-up {serial_s / dask_s:.2f}x; best {serial.best_params_}")
    same = serial.best_params_ == parallel.best_params_ and all(
        np.array_equal(np.asarray(serial.cv_results_[k]), np.asarray(v))
        for k, v in parallel.cv_results_.items()
        if k.startswith(("split", "mean_test", "rank_test"))
    )
    if not same:
        print("FAILED: the cluster's cv_results_ differ from the serial run's")
        return 1
    print("OK: identical cv_results_ and best_params_")
    return 0


if __name__ == "__main__":
    sys.exit(main())
