"""Model selection on a real Dask cluster (LocalCluster on 127.0.0.1), as serial.

The searches run through joblib's Dask backend on a cluster of two worker
processes started and closed by the test; their results must equal the
serial run's exactly.
"""

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

import joblib
import torch
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import (
    GridSearchCV,
    RandomizedSearchCV,
    cross_validate,
)
from sklearn.pipeline import make_pipeline

from sklearn_zlpr import ZLPRClassifier
from sklearn_zlpr.datasets import load_goemotions_sample
from sklearn_zlpr.metrics import make_scoring
from sklearn_zlpr.model_selection import MultilabelStratifiedKFold

TIMEOUT = "60s"


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        worker_dashboard_address=None,
    )
    try:
        with distributed.Client(cluster, timeout=TIMEOUT) as client:
            client.wait_for_workers(2, timeout=60)
            yield client
    finally:
        cluster.close(timeout=60)


@pytest.fixture(scope="module")
def texts():
    data = load_goemotions_sample("train")
    return data.data[:600], data.target[:600].toarray()


@pytest.fixture
def one_thread():
    """The serial runs use one torch thread, as each Dask worker does.

    With the same number of threads, float32 sums are added in the same order;
    with another, torch splits some reductions differently and a score may
    differ in its last digits (docs/scaling.md).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _scores(cv_results):
    return {
        k: np.asarray(v)
        for k, v in cv_results.items()
        if k.startswith(("split", "mean_test", "std_test", "rank_test"))
    }


def _assert_same(serial, parallel):
    a, b = _scores(serial), _scores(parallel)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_grid_search_on_the_cluster_equals_serial(client, texts, one_thread):
    X, Y = texts
    search = GridSearchCV(
        make_pipeline(TfidfVectorizer(min_df=2), ZLPRClassifier(random_state=0)),
        {
            "zlprclassifier__C": [0.5, 2.0],
            # the default: the linear model; 2 epochs: the network
            "zlprclassifier__max_epochs": [ZLPRClassifier().max_epochs, 2],
        },
        cv=MultilabelStratifiedKFold(3, shuffle=True, random_state=0),
        scoring=make_scoring(["example_f1", "macro_f1", "precision_at_1"]),
        refit="example_f1",
    )
    serial = clone(search).set_params(n_jobs=1).fit(X, Y)
    with distributed.get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
        parallel = clone(search).fit(X, Y)
    # The fits ran on both workers.
    assert len({t["worker"] for t in tasks.data}) == 2
    _assert_same(serial.cv_results_, parallel.cv_results_)
    assert serial.best_params_ == parallel.best_params_
    np.testing.assert_array_equal(
        serial.decision_function(X[:50]), parallel.decision_function(X[:50])
    )


def test_randomized_search_and_cross_validate_on_the_cluster(client, texts, one_thread):
    X, Y = texts
    pipe = make_pipeline(TfidfVectorizer(min_df=2), ZLPRClassifier())
    cv = MultilabelStratifiedKFold(3, shuffle=True, random_state=1)
    scoring = make_scoring(["micro_f1", "neg_ranking_loss"])
    search = RandomizedSearchCV(
        pipe,
        {"zlprclassifier__C": np.logspace(-1, 1, 10)},
        n_iter=3,
        cv=cv,
        scoring=scoring,
        refit="micro_f1",
        random_state=0,
    )
    serial = clone(search).fit(X, Y)
    serial_cv = cross_validate(pipe, X, Y, cv=cv, scoring=scoring)
    with joblib.parallel_backend("dask"):
        parallel = clone(search).fit(X, Y)
        parallel_cv = cross_validate(pipe, X, Y, cv=cv, scoring=scoring)
    _assert_same(serial.cv_results_, parallel.cv_results_)
    for key in ("test_micro_f1", "test_neg_ranking_loss"):
        np.testing.assert_array_equal(serial_cv[key], parallel_cv[key])


def test_workers_use_one_torch_thread_per_task(client):
    # Dask's nanny starts workers with OMP_NUM_THREADS=1, which torch follows:
    # a worker's tasks do not oversubscribe its cores.
    threads = client.run(torch.get_num_threads)
    assert len(threads) == 2 and set(threads.values()) == {1}
