"""Quickstart: TF-IDF + ZLPRClassifier on multi-label texts.

Trains ``Pipeline(TfidfVectorizer, ZLPRClassifier)`` and prints predicted label
names with their probabilities. Uses the GoEmotions files in
``../shared/datasets/goemotions`` when present (a 5,000-comment slice), and a tiny
built-in corpus otherwise, so it runs anywhere without a download.
"""

import gzip
import json
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MultiLabelBinarizer

from sklearn_zlpr import ZLPRClassifier

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "goemotions"

TINY = [
    ("the match was a thrilling win for our team", ["sports", "joy"]),
    ("stocks fell sharply as markets panicked", ["finance", "fear"]),
    ("the striker scored twice in the final", ["sports"]),
    ("investors cheered record profits", ["finance", "joy"]),
    ("fans were scared by the stadium fire", ["sports", "fear"]),
    ("the central bank raised interest rates", ["finance"]),
] * 20


def load_texts(limit=5000):
    if not DATA.is_dir():
        texts, labels = zip(*TINY)
        return list(texts), list(labels)
    texts, labels = [], []
    with gzip.open(DATA / "train.jsonl.gz", "rt", encoding="utf-8") as f:
        for line, _ in zip(f, range(limit)):
            row = json.loads(line)
            texts.append(row["text"])
            labels.append(row["labels"])
    return texts, labels


def main():
    texts, labels = load_texts()
    mlb = MultiLabelBinarizer()
    Y = mlb.fit_transform(labels)
    n_train = int(0.8 * len(texts))
    pipe = Pipeline(
        [
            ("tfidf", TfidfVectorizer(sublinear_tf=True, min_df=2)),
            ("clf", ZLPRClassifier(random_state=0)),
        ]
    )
    pipe.fit(texts[:n_train], Y[:n_train])
    pred = pipe.predict(texts[n_train:])
    proba = pipe.predict_proba(texts[n_train:])  # sigmoid(2 s), paper Eq. 35
    f1 = f1_score(Y[n_train:], pred, average="samples", zero_division=1.0)
    print(f"example F1 on {len(pred)} held-out texts: {f1:.3f}")
    for text, row, p in list(zip(texts[n_train:], pred, proba))[:5]:
        names = [f"{mlb.classes_[j]} ({p[j]:.2f})" for j in row.nonzero()[0]]
        print(f"{text[:60]!r:64s} -> {', '.join(names) or '(no label)'}")
    return f1


if __name__ == "__main__":
    main()
