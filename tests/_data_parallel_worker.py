"""Fit ZLPRClassifier(data_parallel=True) in each process of a launcher.

Run by tests/test_data_parallel.py under ``torchrun`` (``python -m
torch.distributed.run --nproc_per_node 2``); not a test module itself.
Arguments: an output directory and a tiny BERT's folder (without dropout).
For sparse features, dense features and raw texts (the transformer), each
process writes its network's weights to ``<kind>/weights_<rank>.npz``, and the
main process pickles the fitted estimator to ``<kind>/model.pkl``. Then every
process calls fit with data that differ between the processes and writes the
error it gets to ``mismatch_<rank>.txt``. The main process writes
``info.json``.
"""

import json
import pickle
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from accelerate import PartialState
from sklearn.datasets import make_multilabel_classification

from sklearn_zlpr import ZLPRClassifier

PARAMS = {
    "solver": "minibatch",
    "hidden_layer_sizes": (16,),
    "dropout": 0.0,
    "batch_size": 32,
    "max_epochs": 4,
    "lr": 1e-2,
    "random_state": 0,
    "sparse_gradients": False,
}
#: Training rows: 7 global batches of 32, so that every batch splits evenly
#: (Accelerate completes a last short batch with rows from the epoch's start).
N_TRAIN = 224


#: Words of the texts for the transformer (in the tiny BERT's vocabulary).
WORDS = ("good", "bad", "money", "market", "happy", "sad", "rates", "love")


def data(kind):
    """``X, Y, X_val, Y_val``: 224 training rows and 32 validation rows."""
    if kind == "transformer":
        rng = np.random.RandomState(0)
        X = [" ".join(rng.choice(WORDS, size=rng.randint(2, 7))) for _ in range(256)]
        Y = np.array([[w in t.split() for w in WORDS[:4]] for t in X], dtype=int)
    else:
        X, Y = make_multilabel_classification(
            N_TRAIN + 32, n_features=40, n_classes=5, random_state=0
        )
        X = X.astype(np.float32)
        X = sp.csr_matrix(X) if kind == "sparse" else X
    return X[:N_TRAIN], Y[:N_TRAIN], X[N_TRAIN:], Y[N_TRAIN:]


def params(kind, model_dir):
    """The classifier's parameters for ``kind`` (all but data_parallel)."""
    if kind != "transformer":
        return PARAMS
    return {
        **PARAMS,
        "encoder": "transformer",
        "transformer_model": str(model_dir),
        "hidden_layer_sizes": (),
        "lr": 1e-3,
        "max_epochs": 2,
    }


def main(out, model_dir):
    info = {}
    for kind in ("sparse", "dense", "transformer"):
        X, Y, X_val, Y_val = data(kind)
        clf = ZLPRClassifier(data_parallel=True, **params(kind, model_dir))
        clf.fit(X, Y, X_val=X_val, y_val=Y_val)
        state = PartialState()  # (the one the fit started)
        folder = out / kind
        folder.mkdir(exist_ok=True)
        weights = {k: v.numpy() for k, v in clf.net_.module_.state_dict().items()}
        np.savez(folder / f"weights_{state.process_index}.npz", **weights)
        if state.is_main_process:
            (folder / "model.pkl").write_bytes(pickle.dumps(clf))
            info[kind] = {
                "n_processes": state.num_processes,
                "net_class": type(clf.net_).__name__,
                "n_iter": clf.n_iter_,
                "n_epochs": params(kind, model_dir)["max_epochs"],
                "batch_size": clf.batch_size_,
            }
    X, Y, _, _ = data("sparse")
    if state.process_index == 1:  # another row in one process
        X, Y = X[1:], Y[1:]
    try:
        ZLPRClassifier(data_parallel=True, **PARAMS).fit(X, Y)
        message = "no error"
    except ValueError as error:
        message = str(error)
    (out / f"mismatch_{state.process_index}.txt").write_text(message)
    if state.is_main_process:
        (out / "info.json").write_text(json.dumps(info))
    state.wait_for_everyone()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
