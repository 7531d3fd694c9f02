"""Streamed fit (``sklearn-zlpr fit --stream``) against an in-memory fit.

Writes a synthetic JSON Lines file of ``--rows`` rows (default 1,000,000) to a
temporary folder: texts of 20 to 60 words (about 250 characters, the length
of a short review or comment), drawn from a Zipf-distributed vocabulary of
50,000 words, 100 labels, 1 to 3 per row, each label with 20 topic words that
make up about a quarter of its rows' words (so the model has something to
learn). Then, each in its own child process:

- the streamed fit: the CLI, ``fit --stream --chunk-size ... --epochs 1``;
- the in-memory fit of the same pipeline (:func:`make_stream_features` and
  ``ZLPRClassifier(**STREAM_MODEL)``) on the largest prefix of the file that
  fits in 4 GiB: ``load_jsonl``, one ``transform`` of all texts and one
  ``partial_fit`` (one epoch, the same batches of 256) on the whole matrix.

The prefix is found by estimation, not by trial: two in-memory fits on small
prefixes (``--probe`` rows and twice that) give the peak RSS as a fixed cost
plus a cost per row; the prefix is the number of rows that this line puts at
4 GiB, capped at the file's size (so for files that fit, both fits see every
row).

Peak RSS is the child's ``ru_maxrss`` (``os.wait4``), wall time includes the
start of Python, reading, featurising, training and saving the model. Each
fitted model is scored on 20,000 fresh rows of the same task (micro-F1).
Exit status 1 unless the streamed fit's peak RSS is below 1.5 GiB and its
micro-F1 at least 0.95 times the in-memory fit's.

Usage::

    python benchmarks/bench_stream.py                 # 1,000,000 rows
    python benchmarks/bench_stream.py --rows 200000   # quicker
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

GIB = 2**30
#: Memory allowed to the in-memory fit and the limit of the streamed one.
IN_MEMORY_LIMIT, STREAM_LIMIT = 4 * GIB, 1.5 * GIB
N_LABELS, VOCABULARY, TOPIC_WORDS = 100, 50_000, 20
#: The streamed model must score at least this share of the in-memory one's
#: micro-F1 (one epoch each; the streamed one sees the rows chunk by chunk,
#: the in-memory one's prefix may be shorter).
F1_RATIO = 0.95


def write_data(path, rows, seed, part=0):
    """Write ``rows`` synthetic rows to ``path`` (see the module docstring).

    ``seed`` draws the labels' topic words, ``part`` the rows: the training
    and the test file share the topics (one task) and differ in their rows.
    """
    topics = np.random.default_rng(seed).choice(
        VOCABULARY, size=(N_LABELS, TOPIC_WORDS), replace=False
    )
    rng = np.random.default_rng([seed, part])
    names = [f"label{j:03d}" for j in range(N_LABELS)]
    # Zipf-like label frequencies too: a few common labels, a long tail.
    label_p = 1.0 / np.arange(1, N_LABELS + 1) ** 0.8
    label_p /= label_p.sum()
    block = 10_000
    with open(path, "w", encoding="utf-8") as f:
        for start in range(0, rows, block):
            n = min(block, rows - start)
            lengths = rng.integers(20, 61, size=n)
            words = np.minimum(rng.zipf(1.2, size=lengths.sum()), VOCABULARY) - 1
            topical = rng.random(words.size) < 0.25
            n_labels = rng.integers(1, 4, size=n)
            lines = []
            offset = 0
            for i in range(n):
                labels = rng.choice(
                    N_LABELS, size=n_labels[i], replace=False, p=label_p
                )
                end = offset + lengths[i]
                row = words[offset:end].copy()
                mask = topical[offset:end]
                row[mask] = topics[
                    rng.choice(labels, size=mask.sum()),
                    rng.integers(TOPIC_WORDS, size=mask.sum()),
                ]
                offset = end
                text = " ".join(f"w{w}" for w in row)
                lines.append(
                    json.dumps({"text": text, "labels": [names[j] for j in labels]})
                )
            f.write("\n".join(lines) + "\n")
    return names


def _run_child(argv):
    """Run a command; return (wall seconds, peak RSS bytes, stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{argv[:4]} ... exited with {proc.returncode}")
    return wall, usage.ru_maxrss * 1024, out  # ru_maxrss is in KiB on Linux


def _in_memory_child(train, model, seed):
    """The in-memory fit (run in a child process by :func:`in_memory_fit`)."""
    from sklearn.pipeline import make_pipeline

    from sklearn_zlpr import ZLPRClassifier, save
    from sklearn_zlpr.__main__ import STREAM_MODEL, make_stream_features
    from sklearn_zlpr.datasets import load_jsonl

    data = load_jsonl(train)
    features = make_stream_features()
    X = features.fit_transform(data.data)
    clf = ZLPRClassifier(random_state=seed, device="cpu", **STREAM_MODEL)
    clf.partial_fit(X, data.target)
    pipeline = make_pipeline(*features.named_steps.values(), clf)
    save({"pipeline": pipeline, "target_names": list(data.target_names)}, model)


def in_memory_fit(train, model, seed):
    """Wall time and peak RSS of the in-memory fit of ``train``."""
    wall, rss, _ = _run_child(
        [
            sys.executable,
            __file__,
            "--in-memory-child",
            str(train),
            str(model),
            str(seed),
        ]
    )
    return wall, rss


def stream_fit(train, labels, model, chunk_size, seed):
    """Wall time and peak RSS of ``sklearn-zlpr fit --stream`` on ``train``."""
    argv = [sys.executable, "-m", "sklearn_zlpr", "fit", "--train", str(train)]
    argv += ["--labels", str(labels), "--stream", "--chunk-size", str(chunk_size)]
    argv += ["--device", "cpu", "--seed", str(seed), "--model", str(model)]
    wall, rss, _ = _run_child(argv)
    return wall, rss


def _prefix(source, target, rows):
    with open(source, encoding="utf-8") as f, open(target, "w", encoding="utf-8") as g:
        g.writelines(line for _, line in zip(range(rows), f))
    return target


def _micro_f1(model, test):
    from sklearn.metrics import f1_score

    from sklearn_zlpr import load
    from sklearn_zlpr.datasets import load_jsonl

    saved = load(model)
    data = load_jsonl(test, labels=saved["target_names"], unknown_labels="ignore")
    pred = saved["pipeline"].predict(data.data)
    return f1_score(data.target, pred, average="micro")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the file")
    parser.add_argument("--chunk-size", type=int, default=10_000)
    parser.add_argument("--probe", type=int, default=20_000, help="rows of a probe fit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--in-memory-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.in_memory_child:
        train, model, seed = args.in_memory_child
        _in_memory_child(train, model, int(seed))
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        train, test = tmp / "train.jsonl", tmp / "test.jsonl"
        start = time.perf_counter()
        names = write_data(train, args.rows, args.seed)
        write_data(test, 20_000, args.seed, part=1)  # fresh rows, same task
        (tmp / "labels.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
        print(
            f"wrote {args.rows:,} rows ({train.stat().st_size / 2**20:,.0f} MiB) in "
            f"{time.perf_counter() - start:.0f} s",
            flush=True,
        )

        # The largest prefix that fits in 4 GiB, from two probe fits.
        probes = [min(args.probe, args.rows), min(2 * args.probe, args.rows)]
        rss = []
        for n in probes:
            prefix = _prefix(train, tmp / f"probe{n}.jsonl", n)
            rss.append(in_memory_fit(prefix, tmp / "probe.zlpr", args.seed)[1])
            print(f"in-memory probe, {n:,} rows: peak RSS {rss[-1] / GIB:.2f} GiB")
        per_row = max((rss[1] - rss[0]) / max(probes[1] - probes[0], 1), 1.0)
        fixed = rss[0] - per_row * probes[0]
        fits = int((IN_MEMORY_LIMIT - fixed) / per_row)
        n_memory = min(args.rows, fits)
        print(
            f"in-memory cost: {fixed / GIB:.2f} GiB + {per_row / 1024:.1f} KiB per row "
            f"-> {fits:,} rows fit in 4 GiB; prefix used: {n_memory:,} rows",
            flush=True,
        )

        results = {}
        model = tmp / "stream.zlpr"
        wall, peak = stream_fit(
            train, tmp / "labels.txt", model, args.chunk_size, args.seed
        )
        results["streamed"] = (args.rows, wall, peak, _micro_f1(model, test))
        memory_train = (
            train
            if n_memory == args.rows
            else _prefix(train, tmp / "prefix.jsonl", n_memory)
        )
        model = tmp / "memory.zlpr"
        wall, peak = in_memory_fit(memory_train, model, args.seed)
        results["in-memory"] = (n_memory, wall, peak, _micro_f1(model, test))

    print(
        f"\n{'fit':<10} {'rows':>10} {'wall s':>8} {'rows/s':>8} {'peak RSS':>9} {'micro-F1':>8}"
    )
    for name, (n, wall, peak, f1) in results.items():
        print(
            f"{name:<10} {n:>10,} {wall:>8.1f} {n / wall:>8,.0f} "
            f"{peak / GIB:>7.2f} G {f1:>8.3f}"
        )
    peak = results["streamed"][2]
    f1_stream, f1_memory = results["streamed"][3], results["in-memory"][3]
    failed = False
    if peak >= STREAM_LIMIT:
        print(f"FAIL: streamed peak RSS {peak / GIB:.2f} GiB >= 1.5 GiB")
        failed = True
    if f1_stream < F1_RATIO * f1_memory:
        print(
            f"FAIL: streamed micro-F1 {f1_stream:.3f} < {F1_RATIO} x the "
            f"in-memory fit's {f1_memory:.3f}"
        )
        failed = True
    if failed:
        return 1
    print(
        f"OK: streamed peak RSS {peak / GIB:.2f} GiB < 1.5 GiB; micro-F1 "
        f"{f1_stream:.3f} >= {F1_RATIO} x {f1_memory:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
