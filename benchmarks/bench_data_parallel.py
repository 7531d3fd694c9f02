"""Data-parallel training on GoEmotions: one process against N under torchrun.

The network (``solver="minibatch"``, one hidden layer of 256, dropout 0 so
that the runs can be compared weight for weight) on TF-IDF rows of GoEmotions,
``max_epochs`` epochs of a fixed global batch: once in this process, then with
``data_parallel=True`` in ``--nproc`` processes started by ``python -m
torch.distributed.run`` (gloo on the CPU; NCCL with one GPU per process where
there are GPUs). Prints the wall times of the fits (data loading excluded) and
the largest weight difference, and exits non-zero unless the weights of the
N-process fit are those of the one-process fit to 1e-4 (float32 round-off
over a few hundred steps).

On a CPU machine the processes share its cores (one torch thread each, while
the single process uses them all): a speed-up needs more cores than processes,
or GPUs. Usage: python benchmarks/bench_data_parallel.py [--rows N]
[--nproc N] [--datasets DIR]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from sklearn_zlpr import ZLPRClassifier
from sklearn_zlpr.datasets import load_jsonl

DEFAULT_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
PARAMS = {
    "solver": "minibatch",
    "hidden_layer_sizes": (256,),
    "dropout": 0.0,
    "batch_size": 256,
    "max_epochs": 2,
    "early_stopping": False,
    "random_state": 0,
}
TOLERANCE = 1e-4


def features(folder, rows):
    """TF-IDF rows: a whole number of global batches (none is completed with
    rows from the epoch's start, which would make the runs differ)."""
    data = load_jsonl(folder / "train.jsonl.gz", labels=folder / "labels.txt")
    rows = min(rows, len(data.data)) // PARAMS["batch_size"] * PARAMS["batch_size"]
    texts, Y = data.data[:rows], data.target[:rows]
    X = TfidfVectorizer(sublinear_tf=True, min_df=2).fit_transform(texts)
    return X.astype(np.float32), Y


def weights(clf):
    return {k: v.numpy() for k, v in clf.net_.module_.state_dict().items()}


def worker(args):
    """One process of the torchrun group: fit, time, save the weights."""
    from accelerate import PartialState

    X, Y = features(args.datasets / "goemotions", args.rows)
    clf = ZLPRClassifier(data_parallel=True, **PARAMS)
    start = time.perf_counter()
    clf.fit(X, Y)
    seconds = time.perf_counter() - start
    state = PartialState()
    if state.is_main_process:
        np.savez(args.out / "weights.npz", **weights(clf))
        info = {"seconds": seconds, "n_processes": state.num_processes}
        (args.out / "info.json").write_text(json.dumps(info))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        import accelerate  # noqa: F401
    except ImportError:
        print('skipped: accelerate is not installed (pip install ".[distributed]")')
        return 0
    folder = args.datasets / "goemotions"
    if not folder.is_dir():
        print(f"skipped: {folder} not found")
        return 0
    if "LOCAL_RANK" in os.environ:  # started by torchrun
        return worker(args)

    X, Y = features(folder, args.rows)
    start = time.perf_counter()
    one = ZLPRClassifier(sparse_gradients=False, **PARAMS).fit(X, Y)
    one_seconds = time.perf_counter() - start
    with socket.socket() as s:  # a free port for the process group
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            f"--nproc_per_node={args.nproc}",
            "--master_addr=127.0.0.1",
            f"--master_port={port}",
            __file__,
            f"--datasets={args.datasets}",
            f"--rows={args.rows}",
            f"--out={tmp}",
        ]
        subprocess.run(command, check=True)
        info = json.loads((Path(tmp) / "info.json").read_text())
        many = dict(np.load(Path(tmp) / "weights.npz"))
    gap = max(float(np.abs(many[k] - v).max()) for k, v in weights(one).items())
    print(f"\nGoEmotions, first {X.shape[0]} rows, {X.shape[1]} TF-IDF features,")
    print(f"{PARAMS['max_epochs']} epochs of global batches of {PARAMS['batch_size']}")
    print(f"{'run':<44}{'fit s':>8}")
    print(f"{'one process (sparse_gradients=False)':<44}{one_seconds:>8.2f}")
    label = f"data_parallel=True, {info['n_processes']} processes (torchrun)"
    print(f"{label:<44}{info['seconds']:>8.2f}")
    print(
        f"speed-up {one_seconds / info['seconds']:.2f}x; largest weight gap {gap:.2e}"
    )
    if gap > TOLERANCE:
        print(f"FAILED: the weights differ by more than {TOLERANCE}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
