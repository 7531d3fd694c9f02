"""
Text classification with TF-IDF and ZLPR
========================================

This example trains the basic text pipeline of the package,
``Pipeline([TfidfVectorizer, ZLPRClassifier])``, on the GoEmotions sample that
ships with :mod:`sklearn_zlpr` (3,000 training and 1,000 test Reddit comments,
28 labels: 27 emotions and ``neutral``; no download). It shows the three outputs
of a fitted :class:`~sklearn_zlpr.ZLPRClassifier`:

* ``predict``: a label indicator matrix, a label being predicted when its score
  is above 0 (the zero bound learned by the ZLPR loss, no threshold to tune);
* ``predict_proba``: per-label probabilities ``sigmoid(2 s)`` (paper Eq. 35);
* ``decision_function``: the raw scores ``s``, used by the ranking metrics.
"""

# %%
# Load the embedded sample
# ------------------------
#
# :func:`~sklearn_zlpr.datasets.load_goemotions_sample` returns a
# :class:`~sklearn.utils.Bunch` with the texts in ``data``, a sparse indicator
# matrix in ``target`` (one column per label) and the label names in
# ``target_names``. We turn the targets into dense ``int64`` indicator
# matrices, which every scikit-learn multi-label tool accepts.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import classification_report, f1_score
from sklearn.pipeline import Pipeline

from sklearn_zlpr import ZLPRClassifier
from sklearn_zlpr.datasets import load_goemotions_sample
from sklearn_zlpr.metrics import multilabel_report

train = load_goemotions_sample("train")
test = load_goemotions_sample("test")
label_names = train.target_names
Y_train = train.target.toarray()
Y_test = test.target.toarray()

print(f"{len(train.data)} training texts, {len(test.data)} test texts")
print(f"{len(label_names)} labels: {', '.join(label_names[:6])}, ...")
print(f"mean number of labels per training text: {Y_train.sum(1).mean():.2f}")

# %%
# Fit the pipeline
# ----------------
#
# ``TfidfVectorizer`` produces sparse rows; the classifier consumes them
# through an embedding bag without ever densifying them. ``random_state``
# makes the fit (weight initialisation, dropout, batch order and the
# validation split used for early stopping) reproducible.
model = Pipeline(
    [
        ("tfidf", TfidfVectorizer(sublinear_tf=True, min_df=2)),
        ("clf", ZLPRClassifier(random_state=0)),
    ]
)
model.fit(train.data, Y_train)
print(f"epochs run (early stopping): {model['clf'].n_iter_}")

# %%
# Predict labels, probabilities and scores
# ----------------------------------------
#
# ``predict`` returns an indicator matrix with a variable number of labels
# per row, possibly none. ``predict_proba`` is ``sigmoid(2 s)``, so a label
# is predicted exactly when its probability is above 0.5.
Y_pred = model.predict(test.data)
proba = model.predict_proba(test.data)
scores = model.decision_function(test.data)

print("shapes:", Y_pred.shape, proba.shape, scores.shape)
print(
    "predicted labels = probability above 0.5:",
    bool(np.array_equal(Y_pred == 1, proba > 0.5)),
)
counts = np.bincount(Y_pred.sum(1), minlength=4)
print("test rows with 0, 1, 2, 3 predicted labels:", counts[:4].tolist())
true_counts = np.bincount(Y_test.sum(1), minlength=4)
print("test rows with 0, 1, 2, 3 true labels:     ", true_counts[:4].tolist())

# %%
# Every test text has at least one true label, but the zero bound leaves a
# share of them with no predicted label at all: none of their scores is
# above 0. When every sample is known to have a label,
# ``ZLPRClassifier(min_labels=1)`` adds the best-scored one; see
# :ref:`sphx_glr_auto_examples_plot_thresholds_label_bounds.py`.

# %%
# A few predictions
# -----------------
#
# Each predicted label name with its probability, next to the true labels.
for i in range(6):
    predicted = [
        f"{label_names[j]} ({proba[i, j]:.2f})" for j in np.flatnonzero(Y_pred[i])
    ]
    true = [label_names[j] for j in np.flatnonzero(Y_test[i])]
    print(f"text: {test.data[i][:70]!r}")
    print(f"  predicted: {', '.join(predicted) or '(no label)'}")
    print(f"  true:      {', '.join(true)}")

# %%
# Per-label report
# ----------------
#
# :func:`sklearn.metrics.classification_report` accepts the indicator
# matrices as they are and gives precision, recall and F1 per label, with the
# micro, macro, weighted and sample (example-based) averages at the bottom.
# Rare labels have little training data and are often never predicted, hence
# ``zero_division=0``.
print(
    classification_report(
        Y_test, Y_pred, target_names=label_names, zero_division=0, digits=3
    )
)

# %%
# Multi-label metrics
# -------------------
#
# :func:`sklearn_zlpr.metrics.multilabel_report` gives the paper's set
# metrics on ``predict`` and, when given the scores, the ranking metrics on
# ``decision_function`` (label ranking average precision, ranking loss,
# coverage, one-error). "better" says in which direction each one improves.
print(multilabel_report(Y_test, Y_pred, scores))

# %%
# Per-label F1 against label frequency
# ------------------------------------
#
# The labels are sorted by their number of training texts. F1 follows label
# frequency only roughly: the rarest labels get an F1 of 0 on this small
# sample, but some frequent labels are hard to recognise from their words too,
# while a few labels with distinctive wording score well.
f1_per_label = f1_score(Y_test, Y_pred, average=None, zero_division=0)
n_train_per_label = Y_train.sum(0)
order = np.argsort(n_train_per_label)

fig, ax = plt.subplots(figsize=(7, 7))
ax.barh(np.arange(len(order)), f1_per_label[order], color="tab:blue")
ax.set_yticks(np.arange(len(order)))
ax.set_yticklabels(
    [f"{label_names[j]} ({n_train_per_label[j]})" for j in order], fontsize=8
)
ax.set_xlabel("F1 on the test texts")
ax.set_ylabel("label (number of training texts)")
ax.set_xlim(0, 1)
ax.set_ylim(-0.5, len(order) - 0.5)
ax.set_title("TF-IDF + ZLPRClassifier: per-label F1 on GoEmotions")
fig.tight_layout()
plt.show()
