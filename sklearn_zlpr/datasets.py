"""Multi-label text data sets: a JSONL loader, an embedded GoEmotions sample, fetchers.

The documented format is JSON Lines, plain or gzip-compressed: one object per
line, ``{"text": str, "labels": [str, ...]}``. Only the ``fetch_*`` functions
download anything, and only when called (see ``docs/datasets.md``); importing
this module does not touch the network.
"""

import gzip
import json
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.utils import Bunch

from ._fetchers import (
    clear_data_home,
    fetch_goemotions,
    fetch_reuters21578,
    get_data_home,
)

__all__ = [
    "clear_data_home",
    "fetch_goemotions",
    "fetch_reuters21578",
    "get_data_home",
    "iter_jsonl_chunks",
    "load_goemotions_sample",
    "load_jsonl",
]


def _open_text(path):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No such data file: {path}")
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    if gzipped:
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _lines(path, f):
    """The numbered lines of an open text file, with clear decoding errors."""
    number = 0
    while True:
        number += 1
        try:
            line = f.readline()
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"{path}, line {number}: not valid UTF-8 ({exc.reason} at byte "
                f"{exc.start} of the line's chunk). Save the file as UTF-8."
            ) from None
        except (OSError, EOFError) as exc:  # a damaged gzip file
            raise ValueError(
                f"{path}, line {number}: the file is damaged or truncated "
                f"({type(exc).__name__}: {exc})."
            ) from None
        if not line:
            return
        yield number, line


def _read_rows(path):
    """Yield (line number, text, labels) with a clear error for a bad line."""
    with _open_text(path) as f:
        for number, line in _lines(path, f):
            if not line.strip():
                continue
            where = f"{path}, line {number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: not valid JSON ({exc.msg}).") from None
            except RecursionError:
                raise ValueError(f"{where}: JSON nested too deeply.") from None
            if not isinstance(row, dict):
                raise ValueError(  # noqa: TRY004 - bad file content, not a bad argument
                    f"{where}: expected a JSON object "
                    '{"text": ..., "labels": [...]}, got ' + type(row).__name__ + "."
                )
            if "text" not in row or not isinstance(row["text"], str):
                raise ValueError(f'{where}: "text" must be a string.')
            labels = row.get("labels")
            if not isinstance(labels, list) or not all(
                isinstance(v, str) for v in labels
            ):
                raise ValueError(f'{where}: "labels" must be a list of strings.')
            yield number, row["text"], labels


def _read_label_names(labels):
    if isinstance(labels, (str, Path)):
        try:
            content = Path(labels).read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"{labels}: the label file is not valid UTF-8 ({exc.reason} at "
                f"byte {exc.start}). Save it as UTF-8, one label per line."
            ) from None
        names = [n.strip() for n in content.splitlines()]
        names = [n for n in names if n]
    else:
        names = [str(n) for n in labels]
    if len(set(names)) != len(names):
        raise ValueError("The label list contains duplicates.")
    return names


def load_jsonl(path_or_paths, *, labels=None, unknown_labels="error"):
    """Load a multi-label text data set in JSON Lines format.

    Parameters
    ----------
    path_or_paths : str, Path or list of them
        One or more ``.jsonl`` files, plain or gzip-compressed (detected from the
        content), each line ``{"text": str, "labels": [str, ...]}``. Several
        files are concatenated in order. Blank lines are skipped.
    labels : list of str, str or Path, default=None
        The label set and its column order: a list of names, or the path of a
        file with one name per line. None uses the sorted names found in the
        files.
    unknown_labels : {"error", "ignore"}, default="error"
        What to do with a label that is not in ``labels`` (for example a label
        that appears only in a test file): raise a ``ValueError`` naming it, or
        drop it with a warning that counts the dropped entries.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``data`` (list of str, the texts), ``target`` (scipy CSR int64 indicator
        matrix of shape (n_samples, n_labels)), ``target_names`` (ndarray of str)
        and ``filenames``.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "d.jsonl"
    >>> rows = [{"text": "a b", "labels": ["x"]}, {"text": "c", "labels": []}]
    >>> _ = path.write_text("\\n".join(json.dumps(r) for r in rows))
    >>> bunch = load_jsonl(path)
    >>> bunch.target.toarray().tolist(), list(bunch.target_names)
    ([[1], [0]], ['x'])
    """
    if unknown_labels not in ("error", "ignore"):
        raise ValueError(
            f"unknown_labels must be 'error' or 'ignore'; got {unknown_labels!r}."
        )
    paths = _as_paths(path_or_paths)
    texts, label_lists, first_seen = [], [], {}
    for path in paths:
        for number, text, row_labels in _read_rows(path):
            texts.append(text)
            label_lists.append(row_labels)
            for name in row_labels:
                first_seen.setdefault(name, f"{path}, line {number}")
    if not texts:
        raise ValueError(f"No rows found in {', '.join(map(str, paths))}.")
    names = sorted(first_seen) if labels is None else _read_label_names(labels)
    column = {name: j for j, name in enumerate(names)}
    unknown = sorted(set(first_seen) - set(column))
    if unknown and unknown_labels == "error":
        shown = ", ".join(f"{u!r} ({first_seen[u]})" for u in unknown[:5])
        raise ValueError(
            f"{len(unknown)} label(s) are not in the label list: {shown}"
            f"{' ...' if len(unknown) > 5 else ''}. Add them to the label list, or "
            "pass unknown_labels='ignore' to drop them."
        )
    rows, cols, dropped = [], [], 0
    for i, row_labels in enumerate(label_lists):
        for name in set(row_labels):
            j = column.get(name)
            if j is None:
                dropped += 1
                continue
            rows.append(i)
            cols.append(j)
    if dropped:
        warnings.warn(
            f"Dropped {dropped} label occurrence(s) of {len(unknown)} label(s) not in "
            f"the label list: {unknown[:5]}.",
            UserWarning,
            stacklevel=2,
        )
    target = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.int64), (rows, cols)),
        shape=(len(texts), len(names)),
    )
    return Bunch(
        data=texts,
        target=target,
        target_names=np.array(names, dtype=object),
        filenames=[str(p) for p in paths],
    )


def _as_paths(path_or_paths):
    paths = (
        [path_or_paths]
        if isinstance(path_or_paths, (str, Path))
        else list(path_or_paths)
    )
    if not paths:
        raise ValueError("No file given.")
    return paths


def _scan_label_names(path_or_paths):
    """The sorted label names of JSONL files, read without keeping any text.

    One pass that holds only the set of names (the label set of
    ``load_jsonl(..., labels=None)``), for streamed fits without a label file.
    """
    paths = _as_paths(path_or_paths)
    names, rows = set(), 0
    for path in paths:
        for _, _, row_labels in _read_rows(path):
            names.update(row_labels)
            rows += 1
    if not rows:
        raise ValueError(f"No rows found in {', '.join(map(str, paths))}.")
    return sorted(names)


def iter_jsonl_chunks(
    path_or_paths, *, labels, chunk_size=10000, unknown_labels="error"
):
    """Read JSON Lines files in chunks, holding one chunk of texts at a time.

    The streaming counterpart of :func:`load_jsonl`, for files larger than
    memory: feed each chunk to a stateless vectoriser (``HashingVectorizer``)
    and an estimator's ``partial_fit``. The label set must be known in advance,
    since it cannot be discovered without reading every line.

    Parameters
    ----------
    path_or_paths : str, Path or list of them
        One or more ``.jsonl`` files, plain or gzip-compressed, in the format of
        :func:`load_jsonl`; several files are read in order, and a chunk may
        span two files. Blank lines are skipped.
    labels : list of str, str or Path
        The label set and its column order: a list of names, or the path of a
        file with one name per line.
    chunk_size : int, default=10000
        Rows per chunk; the last chunk may be smaller.
    unknown_labels : {"error", "ignore"}, default="error"
        What to do with a label that is not in ``labels``: raise a
        ``ValueError`` naming it and its line (chunks before it have already
        been yielded), or drop it; the dropped entries are counted in one
        warning once the files are read.

    Yields
    ------
    texts : list of str
        The texts of the chunk.
    Y : scipy.sparse.csr_matrix of int64, shape (len(texts), n_labels)
        Their label indicator matrix, columns in the order of ``labels``.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> from sklearn_zlpr.datasets import iter_jsonl_chunks
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "d.jsonl"
    >>> rows = [{"text": f"t{i}", "labels": ["x"] if i % 2 else []} for i in range(5)]
    >>> _ = path.write_text("\\n".join(json.dumps(r) for r in rows))
    >>> for texts, Y in iter_jsonl_chunks(path, labels=["x", "y"], chunk_size=2):
    ...     print(texts, Y.toarray().tolist())
    ['t0', 't1'] [[0, 0], [1, 0]]
    ['t2', 't3'] [[0, 0], [1, 0]]
    ['t4'] [[0, 0]]
    """
    if unknown_labels not in ("error", "ignore"):
        raise ValueError(
            f"unknown_labels must be 'error' or 'ignore'; got {unknown_labels!r}."
        )
    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, (int, np.integer))
        or chunk_size < 1
    ):
        raise ValueError(
            f"chunk_size must be an int of at least 1; got {chunk_size!r}."
        )
    paths = _as_paths(path_or_paths)
    names = _read_label_names(labels)
    column = {name: j for j, name in enumerate(names)}
    unknown, dropped, n_rows = set(), 0, 0

    def chunk(texts, rows, cols):
        data = np.ones(len(rows), dtype=np.int64)
        shape = (len(texts), len(names))
        return texts, sp.csr_matrix((data, (rows, cols)), shape=shape)

    texts, rows, cols = [], [], []
    for path in paths:
        for number, text, row_labels in _read_rows(path):
            i = len(texts)
            for name in set(row_labels):
                j = column.get(name)
                if j is not None:
                    rows.append(i)
                    cols.append(j)
                elif unknown_labels == "error":
                    raise ValueError(
                        f"{path}, line {number}: label {name!r} is not in the label "
                        "list. Add it to the label list, or pass "
                        "unknown_labels='ignore' to drop it."
                    )
                else:
                    unknown.add(name)
                    dropped += 1
            texts.append(text)
            n_rows += 1
            if len(texts) == chunk_size:
                yield chunk(texts, rows, cols)
                texts, rows, cols = [], [], []
    if texts:
        yield chunk(texts, rows, cols)
    if not n_rows:
        raise ValueError(f"No rows found in {', '.join(map(str, paths))}.")
    if dropped:
        warnings.warn(
            f"Dropped {dropped} label occurrence(s) of {len(unknown)} label(s) not in "
            f"the label list: {sorted(unknown)[:5]}.",
            UserWarning,
            stacklevel=2,
        )


def load_goemotions_sample(subset="train"):
    """A 4,000-comment sample of GoEmotions shipped with the package.

    3,000 comments drawn at random (seed 0) from the train split and 1,000 from
    the test split of GoEmotions (simplified, 28 labels: 27 emotions and
    ``neutral``; Demszky et al., ACL 2020). Source: the official files of
    ``google-research/google-research`` (``goemotions/data``), Apache-2.0
    license; see ``sklearn_zlpr/data/goemotions_sample/README.md``.

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        Which part to load.

    Returns
    -------
    data : sklearn.utils.Bunch
        As :func:`load_jsonl`, with all 28 labels as ``target_names`` in the
        official order.

    Examples
    --------
    >>> from sklearn_zlpr.datasets import load_goemotions_sample
    >>> train = load_goemotions_sample()
    >>> len(train.data), train.target.shape
    (3000, (3000, 28))
    """
    if subset not in ("train", "test", "all"):
        raise ValueError(f"subset must be 'train', 'test' or 'all'; got {subset!r}.")
    folder = resources.files("sklearn_zlpr") / "data" / "goemotions_sample"
    splits = ["train", "test"] if subset == "all" else [subset]
    with resources.as_file(folder) as base:
        return load_jsonl(
            [base / f"{s}.jsonl.gz" for s in splits], labels=base / "labels.txt"
        )
