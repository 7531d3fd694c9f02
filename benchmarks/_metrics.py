"""The paper's six metrics for the benchmark tables, from the package's registry.

Functions, inputs and directions come from ``sklearn_zlpr.metrics``' registry;
only the short column titles of the benchmark pages are chosen here.
"""

from sklearn_zlpr import metrics

#: Column titles of the benchmark pages, by registry name.
TITLES = {
    "subset_accuracy": "SubACC",
    "example_f1": "ExF1",
    "micro_f1": "MiF1",
    "macro_f1": "MaF1",
    "avg_precision": "AvgPrec",
    "ranking_loss": "RankLoss",
}


def paper_metrics(titles=None):
    """``(key, column title, function, input, higher is better)`` per metric.

    ``key`` is the registry name, ``input`` ``"pred"`` (labels) or ``"score"``.
    ``titles`` overrides some of :data:`TITLES`.
    """
    titles = {**TITLES, **(titles or {})}
    return tuple(
        (
            m.name,
            titles[m.name],
            m.function,
            "pred" if m.response == "predict" else "score",
            m.greater_is_better,
        )
        for m in (metrics._BY_NAME[name] for name in metrics._PAPER_METRICS)
    )
