"""
Choosing the loss with a grid search
====================================

``ZLPRClassifier(loss=...)`` takes every loss of the ZLPR paper by name (see
:data:`sklearn_zlpr.losses.LOSSES`), so the loss is a hyper-parameter like any
other: :class:`~sklearn.model_selection.GridSearchCV` can compare them with
cross-validation. This example searches over five losses with several
multi-label scorers from :mod:`sklearn_zlpr.metrics` at once, and refits the
best loss for one of them.
"""

# %%
# Data and pipeline
# -----------------
#
# To keep the example fast we use 1,500 texts of the embedded GoEmotions
# sample, 3-fold cross-validation and at most 10 epochs per fit. The
# vectorizer is part of the pipeline, so each fold fits its own vocabulary on
# its own training part.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline

from sklearn_zlpr import ZLPRClassifier
from sklearn_zlpr.datasets import load_goemotions_sample
from sklearn_zlpr.losses import LOSSES
from sklearn_zlpr.metrics import make_scoring, multilabel_report

train = load_goemotions_sample("train")
test = load_goemotions_sample("test")
n_train = 1500
texts, Y = train.data[:n_train], train.target[:n_train].toarray()
Y_test = test.target.toarray()

pipe = Pipeline(
    [
        ("tfidf", TfidfVectorizer(sublinear_tf=True, min_df=2)),
        ("clf", ZLPRClassifier(max_epochs=10, random_state=0)),
    ]
)
print("available losses:", ", ".join(LOSSES))

# %%
# The search
# ----------
#
# The grid has one parameter, the loss:
#
# * ``"zlpr"``: the paper's loss, predicting the labels with a score above 0;
# * ``"bce"``, ``"focal"`` and ``"asl"`` (asymmetric loss): binary relevance
#   losses, one sigmoid per label, also thresholded at 0;
# * ``"lsep"``: a pure ranking loss, which has no natural threshold and
#   predicts the top-k labels, k being the mean number of labels per training
#   text.
#
# :func:`~sklearn_zlpr.metrics.make_scoring` builds a ``scoring`` dict from
# scorer names (all names are in
# :func:`~sklearn_zlpr.metrics.get_scorer_names`). Set metrics (example F1,
# micro F1) score ``predict``; ranking metrics (label ranking average
# precision, ranking loss) score ``decision_function``. Lower-is-better
# metrics are negated (``neg_ranking_loss``) so that every scorer is
# higher-is-better. ``refit="example_f1"`` picks the loss with the best mean
# example F1 and refits it on all 1,500 texts.
scoring = make_scoring(["example_f1", "micro_f1", "avg_precision", "neg_ranking_loss"])
search = GridSearchCV(
    pipe,
    param_grid={"clf__loss": ["zlpr", "bce", "focal", "asl", "lsep"]},
    scoring=scoring,
    refit="example_f1",
    cv=KFold(n_splits=3, shuffle=True, random_state=0),
)
search.fit(texts, Y)

# %%
# Cross-validation results
# ------------------------
#
# ``cv_results_`` holds, for every candidate, the mean and standard
# deviation of each scorer over the folds, and a rank per scorer (1 is the
# best). We gather them in one table, a cell reading "mean ± std (rank)".
results = pd.DataFrame(search.cv_results_)
table = pd.DataFrame(
    {
        name: [
            f"{m:.3f} ± {s:.3f} ({r})"
            for m, s, r in zip(
                results[f"mean_test_{name}"],
                results[f"std_test_{name}"],
                results[f"rank_test_{name}"],
            )
        ]
        for name in scoring
    },
    index=pd.Index(results["param_clf__loss"], name="loss"),
)
with pd.option_context("display.width", 120, "display.max_columns", 10):
    print(table)
print(f"mean fit time per fold (s): {results['mean_fit_time'].round(2).tolist()}")

# %%
# The best loss for example F1 and its test scores
# ------------------------------------------------
#
# ``best_params_`` and ``best_score_`` refer to the ``refit`` scorer.
# In our run the ranking scorers (``avg_precision``, ``neg_ranking_loss``)
# were close for all losses but ``"bce"``, while the set scorers differed
# widely: the losses rank the labels about equally well, and differ mostly in
# how many labels they predict per text. With 1,000 training texts per fold,
# the zero threshold of ``"zlpr"`` (like the one of ``"bce"`` and
# ``"focal"``) leaves many texts without any predicted label, whereas
# ``"lsep"`` always predicts its top-k labels and ``"asl"``, which
# down-weights the many easy negative labels in its loss, predicted a label
# for most texts. Since every GoEmotions text has at least one label (most
# have exactly one), these two do better on the set metrics here. For ZLPR,
# ``min_labels=1``, which changes ``predict`` only, closed much of that gap
# in our runs (see
# :ref:`sphx_glr_auto_examples_plot_thresholds_label_bounds.py`).
#
# ``best_estimator_`` is the refitted pipeline, evaluated here on the 1,000
# test texts.
print("best parameters:", search.best_params_)
print(f"best mean example F1 over the folds: {search.best_score_:.4f}")
best = search.best_estimator_
print(
    multilabel_report(
        Y_test, best.predict(test.data), best.decision_function(test.data)
    )
)

# %%
# Plot the cross-validated scores
# -------------------------------
#
# One group of bars per scorer, one bar per loss, with the standard
# deviation over the folds as error bars. The ranking loss is shown negated,
# like its scorer, so that higher is better everywhere.
losses = list(results["param_clf__loss"])
names = list(scoring)
width = 0.8 / len(losses)
x = np.arange(len(names))
fig, ax = plt.subplots(figsize=(9, 4.5))
for i, loss in enumerate(losses):
    means = [results[f"mean_test_{n}"][i] for n in names]
    stds = [results[f"std_test_{n}"][i] for n in names]
    ax.bar(x + (i - (len(losses) - 1) / 2) * width, means, width, yerr=stds, label=loss)
ax.axhline(0, color="black", linewidth=0.8)
ax.set_xticks(x)
ax.set_xticklabels(names)
ax.set_xlabel("scorer")
ax.set_ylabel("mean score over 3 folds (higher is better)")
ax.set_title("GridSearchCV over ZLPRClassifier(loss=...) on GoEmotions")
ax.legend(title="loss", loc="center left", bbox_to_anchor=(1.0, 0.5))
fig.tight_layout()
plt.show()
