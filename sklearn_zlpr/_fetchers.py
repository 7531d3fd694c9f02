"""Data set fetchers: GoEmotions and Reuters-21578 (ModApte), downloaded on demand.

Conventions
-----------
* Nothing is downloaded at import. A ``fetch_*`` call downloads the official
  files once into ``get_data_home()/<data set>/`` and reads them from there on
  later calls. The parsed result is not cached: parsing takes a second or two.
* Every remote file is described by an entry of ``_REMOTE``: file name, URL,
  size in bytes and SHA-256, taken from TensorFlow Datasets
  (``url_checksums/goemotions.txt``) and Hugging Face datasets
  (``reuters21578/dataset_infos.json``). Tests replace the entries with those of
  their fixture files.
* A download streams into a temporary file in the target folder. Its size and
  SHA-256 are checked before an atomic :func:`os.replace` moves it into place,
  so a partial or corrupt download never lands; on any failure the temporary
  file is removed.
* A cached file is checked against its entry on every call (hashing a few MB
  takes milliseconds). A file that no longer matches is downloaded again, with
  a warning; with ``download_if_missing=False`` it raises ``OSError`` instead.
* Errors are ``OSError`` subclasses. ``ConnectionError``: the server cannot be
  reached, or the transfer broke off. ``OSError``: an HTTP error status, a
  checksum mismatch, or missing data with ``download_if_missing=False``.
* The bunches follow :func:`sklearn_zlpr.datasets.load_jsonl`: ``data`` (list
  of str), ``target`` (scipy CSR int64 indicator matrix, one column per label),
  ``target_names`` (object ndarray); plus ``ids``, ``filenames`` and ``DESCR``.
"""

import csv
import hashlib
import html
import os
import posixpath
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import warnings
from http.client import HTTPException
from pathlib import Path
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.utils import Bunch
from sklearn.utils._param_validation import StrOptions, validate_params

__all__ = [
    "clear_data_home",
    "fetch_goemotions",
    "fetch_reuters21578",
    "get_data_home",
]

_DATA_HOME_ENV = "SKLEARN_ZLPR_DATA"
_CHUNK_SIZE = 1 << 16
_TIMEOUT = 60  # seconds the server may stay silent before the download fails


class _RemoteFile(NamedTuple):
    """One file to download: where it lands, where it comes from, what it is."""

    filename: str
    url: str
    size: int
    sha256: str


_GOEMOTIONS_URL = (
    "https://github.com/google-research/google-research/raw/master/goemotions/data/"
)

# Sizes and SHA-256: TensorFlow Datasets, url_checksums/goemotions.txt (GoEmotions);
# Hugging Face datasets, reuters21578/dataset_infos.json (Reuters-21578).
_REMOTE = {
    "goemotions": {
        "train": _RemoteFile(
            "train.tsv",
            _GOEMOTIONS_URL + "train.tsv",
            3519053,
            "1c254a142be5c00e80d819b9ae1bbd36d94b2eeb8f4b1271846508d57e57d9c5",
        ),
        "dev": _RemoteFile(
            "dev.tsv",
            _GOEMOTIONS_URL + "dev.tsv",
            439059,
            "575489c079c9de1097062a01738f998590d6b7ead66dd1c9fd1d2ba01fd8bc62",
        ),
        "test": _RemoteFile(
            "test.tsv",
            _GOEMOTIONS_URL + "test.tsv",
            436706,
            "0587b2dd8b27b97352adbfc3fb083d46005c8946657fdc2b1ca8b1cc7f1f8be4",
        ),
    },
    "reuters21578": {
        "archive": _RemoteFile(
            "reuters21578.tar.gz",
            "https://kdd.ics.uci.edu/databases/reuters21578/reuters21578.tar.gz",
            8150596,
            "3bae43c9b14e387f76a61b6d82bf98a4fb5d3ef99ef7e7075ff2ccbcf59f9d30",
        ),
    },
}

# The official emotions.txt, in id order (0 = admiration ... 27 = neutral).
_GOEMOTIONS_LABELS = (
    "admiration",
    "amusement",
    "anger",
    "annoyance",
    "approval",
    "caring",
    "confusion",
    "curiosity",
    "desire",
    "disappointment",
    "disapproval",
    "disgust",
    "embarrassment",
    "excitement",
    "fear",
    "gratitude",
    "grief",
    "joy",
    "love",
    "nervousness",
    "optimism",
    "pride",
    "realization",
    "relief",
    "remorse",
    "sadness",
    "surprise",
    "neutral",
)

_GOEMOTIONS_DESCR = """\
GoEmotions (simplified), multi-label emotion classification
-----------------------------------------------------------

58k Reddit comments labelled with one or more of 27 emotions or "neutral"
(28 labels). Simplified version: train 43,410, dev 5,426, test 5,427
comments. Names and religions are masked as [NAME] and [RELIGION].

Source: the official files of google-research/google-research,
goemotions/data/{train,dev,test}.tsv and emotions.txt. Each TSV row is
"text <tab> comma-separated label ids <tab> comment id", read with Python's
csv module (tab delimiter, default quoting, which undoes the quote doubling).
Sizes and SHA-256 checksums as published by TensorFlow Datasets.

Paper: Dorottya Demszky, Dana Movshovitz-Attias, Jeongwoo Ko, Alan Cowen,
Gaurav Nemade and Sujith Ravi. "GoEmotions: A Dataset of Fine-Grained
Emotions". ACL 2020.

License: the google-research/google-research repository is released under
the Apache License 2.0; the GoEmotions README states no separate data
license. The texts are Reddit comments.
"""

_REUTERS_DESCR = """\
Reuters-21578, ModApte split, 90 categories (multi-label)
---------------------------------------------------------

Reuters newswire stories from 1987, each labelled with one or more TOPICS
categories. Train: LEWISSPLIT="TRAIN" and TOPICS="YES"; test:
LEWISSPLIT="TEST" and TOPICS="YES". The labels are the 90 categories that
occur in at least one training and one test document; documents with none of
them are dropped, leaving 7,770 train and 3,019 test documents (NLTK's copy
has 7,769 train documents).

Text: TITLE + "\\n" + BODY (only the TITLE when there is no BODY; the raw
TEXT content without tags for TYPE="UNPROC" stories), with control-character
references (&#N; with N < 32, and DEL) removed, HTML entities unescaped and
surrounding whitespace stripped. Files read as latin-1.

Source: "Reuters-21578, Distribution 1.0", the archive reuters21578.tar.gz of
the UCI KDD Archive (https://kdd.ics.uci.edu/databases/reuters21578/). Size
and SHA-256 checksum as published by Hugging Face datasets.

License: "The copyright for the text of newswire articles and Reuters
annotations in the Reuters-21578 collection resides with Reuters Ltd. Reuters
Ltd. and Carnegie Group, Inc. have agreed to allow the free distribution of
this data *for research purposes only*. If you publish results based on this
data set, please acknowledge its use, refer to the data set by the name
'Reuters-21578, Distribution 1.0', and inform your readers of the current
location of the data set." (the distribution's README.txt)
"""


# -- data home ------------------------------------------------------------------


@validate_params(
    {"data_home": [str, os.PathLike, None]}, prefer_skip_nested_validation=True
)
def get_data_home(data_home=None):
    """Return the folder where the fetchers keep downloaded files.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use. None uses the environment variable
        ``SKLEARN_ZLPR_DATA`` if it is set, else ``~/sklearn_zlpr_data``.
        ``~`` is expanded. The folder is created if it does not exist.

    Returns
    -------
    data_home : str
        The path of the folder.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_zlpr.datasets import get_data_home
    >>> home = get_data_home(os.path.join(tempfile.mkdtemp(), "zlpr_data"))
    >>> os.path.isdir(home)
    True
    """
    if data_home is None:
        data_home = os.environ.get(_DATA_HOME_ENV) or os.path.join(
            "~", "sklearn_zlpr_data"
        )
    data_home = os.path.expanduser(os.fspath(data_home))
    os.makedirs(data_home, exist_ok=True)
    return data_home


@validate_params(
    {"data_home": [str, os.PathLike, None]}, prefer_skip_nested_validation=True
)
def clear_data_home(data_home=None):
    """Delete the data home folder and everything in it.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to delete, resolved as in :func:`get_data_home`. Everything
        under it is removed, so do not point it at a folder holding other files.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_zlpr.datasets import clear_data_home, get_data_home
    >>> home = get_data_home(os.path.join(tempfile.mkdtemp(), "zlpr_data"))
    >>> clear_data_home(home)
    >>> os.path.exists(home)
    False
    """
    shutil.rmtree(get_data_home(data_home))


# -- download machinery -----------------------------------------------------------


def _checksum(path):
    """Return (size in bytes, SHA-256 hex digest) of a file."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _fetch_file(remote, folder, *, base_url, download_if_missing, progress):
    """Return the path of a verified local copy of ``remote``, downloading it."""
    path = Path(folder) / remote.filename
    if path.is_file():
        size, sha256 = _checksum(path)
        if (size, sha256) == (remote.size, remote.sha256):
            return path
        problem = (
            f"The cached file {path} does not match the expected file (expected "
            f"{remote.size} bytes with sha256 {remote.sha256}, found {size} bytes "
            f"with sha256 {sha256})"
        )
        if not download_if_missing:
            raise OSError(
                f"{problem}. Delete it, or pass download_if_missing=True to "
                "download it again."
            )
        # stacklevel: _fetch_file < fetch_* < validate_params wrapper < caller.
        warnings.warn(f"{problem}; downloading it again.", UserWarning, stacklevel=4)
    elif not download_if_missing:
        raise OSError(
            f"Data not found and download_if_missing is False: {path} does not "
            "exist. Pass download_if_missing=True to download it, or place the "
            f"file from {remote.url} there."
        )
    url = (
        remote.url if base_url is None else f"{base_url.rstrip('/')}/{remote.filename}"
    )
    _download(remote, url, path, progress=progress)
    return path


def _download(remote, url, path, *, progress):
    """Stream ``url`` to ``path``; verify size and SHA-256 before it lands."""
    path.parent.mkdir(parents=True, exist_ok=True)
    hint = (
        f"Check your internet connection, or download {remote.url} yourself and "
        f"place it at {path} (expected {remote.size} bytes, sha256 {remote.sha256})."
    )
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        digest, size = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as out:
            if progress:
                print(f"Downloading {url} to {path}", file=sys.stderr)
            with (
                _open_url(url, hint) as response,
                _progress_bar(remote.size, path.name, progress) as bar,
            ):
                for chunk in _read_chunks(response, url, hint):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    bar.update(len(chunk))
        sha256 = digest.hexdigest()
        if (size, sha256) != (remote.size, remote.sha256):
            raise OSError(
                f"Checksum mismatch for {url}: expected {remote.size} bytes with "
                f"sha256 {remote.sha256}, got {size} bytes with sha256 {sha256}. "
                "The download was discarded. Try again later; if it keeps failing, "
                "the server sends a different file than the official one."
            )
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except FileNotFoundError:
            pass
        raise


def _open_url(url, hint):
    try:
        return urllib.request.urlopen(url, timeout=_TIMEOUT)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise OSError(
            f"Could not download {url}: the server answered HTTP {exc.code} "
            f"({exc.reason}). {hint}"
        ) from None
    except (OSError, HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ConnectionError(f"Could not download {url} ({reason}). {hint}") from exc


def _read_chunks(response, url, hint):
    """Yield the body of ``response`` in chunks; a broken transfer raises."""
    received = 0
    while True:
        try:
            chunk = response.read(_CHUNK_SIZE)
        except (OSError, HTTPException) as exc:
            raise ConnectionError(
                f"The download of {url} broke off after {received} bytes ({exc}). "
                f"{hint}"
            ) from exc
        if not chunk:
            break
        received += len(chunk)
        yield chunk
    missing = getattr(response, "length", None)
    if missing:
        raise ConnectionError(
            f"The download of {url} broke off after {received} bytes "
            f"({missing} bytes announced by the server are missing). {hint}"
        )


def _progress_bar(total, desc, enabled):
    """A tqdm bar on stderr if tqdm is installed, else a plain stderr line."""
    if not enabled:
        return _NoProgress()
    try:
        from tqdm import tqdm
    except ImportError:
        return _TextProgress(total, desc)
    return tqdm(
        total=total,
        desc=desc,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        file=sys.stderr,
    )


class _NoProgress:
    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def update(self, n):
        pass


class _TextProgress(_NoProgress):
    """One stderr line, rewritten at each new percent: used without tqdm."""

    def __init__(self, total, desc):
        self.total, self.desc, self.done, self._shown = total, desc, 0, None
        self._show()

    def update(self, n):
        self.done += n
        self._show()

    def _show(self):
        percent = min(100, 100 * self.done // self.total) if self.total else 100
        if percent != self._shown:
            self._shown = percent
            sys.stderr.write(
                f"\r{self.desc}: {percent:3d}% "
                f"({self.done / 1e6:.1f} of {self.total / 1e6:.1f} MB)"
            )
            sys.stderr.flush()

    def __exit__(self, *exc_info):
        sys.stderr.write("\n")
        sys.stderr.flush()
        return False


def _indicator(columns, n_labels):
    """CSR int64 indicator matrix from one list of column indices per row."""
    indptr = np.cumsum([0] + [len(c) for c in columns], dtype=np.int64)
    indices = np.fromiter((j for c in columns for j in c), dtype=np.int64)
    data = np.ones(len(indices), dtype=np.int64)
    return sp.csr_matrix((data, indices, indptr), shape=(len(columns), n_labels))


# -- GoEmotions -------------------------------------------------------------------


def _read_goemotions_tsv(path):
    """Texts, label columns (ascending) and comment ids of one official TSV file."""
    texts, columns, ids = [], [], []
    n_labels = len(_GOEMOTIONS_LABELS)
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        for row in reader:
            where = f"{path}, line {reader.line_num}"
            if len(row) != 3:
                raise ValueError(
                    f"{where}: expected 3 tab-separated fields (text, label ids, "
                    f"comment id), got {len(row)}."
                )
            text, label_ids, comment_id = row
            try:
                row_columns = sorted({int(v) for v in label_ids.split(",")})
            except ValueError:
                raise ValueError(
                    f"{where}: the label ids must be comma-separated integers; got "
                    f"{label_ids!r}."
                ) from None
            if row_columns[0] < 0 or row_columns[-1] >= n_labels:
                raise ValueError(
                    f"{where}: label ids must lie in [0, {n_labels - 1}]; got "
                    f"{label_ids!r}."
                )
            texts.append(text)
            columns.append(row_columns)
            ids.append(comment_id)
    return texts, columns, ids


@validate_params(
    {
        "subset": [StrOptions({"train", "dev", "test", "all"})],
        "data_home": [str, os.PathLike, None],
        "download_if_missing": ["boolean"],
        "progress": ["boolean"],
        "base_url": [str, None],
    },
    prefer_skip_nested_validation=True,
)
def fetch_goemotions(
    *,
    subset="train",
    data_home=None,
    download_if_missing=True,
    progress=True,
    base_url=None,
):
    """Load GoEmotions (simplified, 28 labels), downloading it if needed.

    58k Reddit comments, each labelled with one or more of 27 emotions or
    ``neutral`` (Demszky et al., ACL 2020), from the official files of
    ``google-research/google-research`` (``goemotions/data``):

    ================  =======  ==============
    subset            rows     download size
    ================  =======  ==============
    ``"train"``       43,410   3.5 MB
    ``"dev"``         5,426    0.4 MB
    ``"test"``        5,427    0.4 MB
    ================  =======  ==============

    The TSV files are downloaded once into ``<data_home>/goemotions/``, checked
    against the sizes and SHA-256 checksums published by TensorFlow Datasets,
    and read from there on later calls. For a sample that ships with the
    package and needs no download, see
    :func:`~sklearn_zlpr.datasets.load_goemotions_sample`.

    Parameters
    ----------
    subset : {"train", "dev", "test", "all"}, default="train"
        The split to load; ``"all"`` concatenates train, dev and test, in that
        order.
    data_home : str or path-like, default=None
        Where to keep the files; see :func:`get_data_home`.
    download_if_missing : bool, default=True
        If False, raise an ``OSError`` instead of downloading a missing file
        (or re-downloading a cached file whose checksum no longer matches).
    progress : bool, default=True
        Show download progress on stderr (with tqdm when it is installed).
    base_url : str, default=None
        Download ``<base_url>/<split>.tsv`` instead of the official URL, for
        example from a mirror. The files must still match the official
        checksums.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``data`` (list of str, the comments), ``target`` (scipy CSR int64
        indicator matrix of shape (n_samples, 28)), ``target_names`` (ndarray of
        the 28 label names in the official id order), ``ids`` (ndarray of the
        Reddit comment ids), ``filenames`` (the local TSV files read) and
        ``DESCR`` (a description with source, paper and license).

    Raises
    ------
    ConnectionError
        If the server cannot be reached or the download broke off.
    OSError
        If the server answers with an HTTP error, the downloaded file does not
        match its checksum (nothing is saved then), or a file is missing and
        ``download_if_missing`` is False.

    Notes
    -----
    Each TSV row is ``text <tab> comma-separated label ids <tab> comment id``,
    read with Python's :mod:`csv` module (tab delimiter, default quoting): this
    undoes the quote doubling of the files: the field ``"a ""quoted"" word"``
    is read as ``a "quoted" word``. The texts are not otherwise changed.

    License: the ``google-research/google-research`` repository is released
    under the Apache License 2.0; the GoEmotions README states no separate
    data license.

    Examples
    --------
    >>> from sklearn_zlpr.datasets import fetch_goemotions
    >>> train = fetch_goemotions(subset="train")  # doctest: +SKIP
    >>> len(train.data), train.target.shape  # doctest: +SKIP
    (43410, (43410, 28))
    >>> train.target_names[:3].tolist()  # doctest: +SKIP
    ['admiration', 'amusement', 'anger']

    With ``download_if_missing=False`` nothing is downloaded: a file that is not
    in ``data_home`` yet is an error.

    >>> import tempfile
    >>> fetch_goemotions(data_home=tempfile.mkdtemp(), download_if_missing=False)
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    OSError: Data not found and download_if_missing is False: ...
    """
    splits = ["train", "dev", "test"] if subset == "all" else [subset]
    folder = Path(get_data_home(data_home)) / "goemotions"
    paths = []
    for split in splits:
        path = _fetch_file(
            _REMOTE["goemotions"][split],
            folder,
            base_url=base_url,
            download_if_missing=download_if_missing,
            progress=progress,
        )
        paths.append(path)
    texts, columns, ids = [], [], []
    for path in paths:
        split_texts, split_columns, split_ids = _read_goemotions_tsv(path)
        texts += split_texts
        columns += split_columns
        ids += split_ids
    return Bunch(
        data=texts,
        target=_indicator(columns, len(_GOEMOTIONS_LABELS)),
        target_names=np.array(_GOEMOTIONS_LABELS, dtype=object),
        ids=np.array(ids, dtype=object),
        filenames=[str(p) for p in paths],
        DESCR=_GOEMOTIONS_DESCR,
    )


# -- Reuters-21578 ----------------------------------------------------------------

_SGML_FILE = re.compile(r"reut2-\d{3}\.sgm")
_SGML_DOC = re.compile(r"<REUTERS\b([^>]*)>(.*?)</REUTERS>", re.DOTALL)
_SGML_ATTRIBUTE = re.compile(r'([\w-]+)="([^"]*)"')
_SGML_TOPICS = re.compile(r"<TOPICS>(.*?)</TOPICS>", re.DOTALL)
_SGML_D = re.compile(r"<D>(.*?)</D>", re.DOTALL)
_SGML_TEXT = re.compile(r"<TEXT\b([^>]*)>(.*?)</TEXT>", re.DOTALL)
_SGML_TITLE = re.compile(r"<TITLE>(.*?)</TITLE>", re.DOTALL)
_SGML_BODY = re.compile(r"<BODY>(.*?)</BODY>", re.DOTALL)
_SGML_TAG = re.compile(r"<[^>]*>")
_CHARACTER_REF = re.compile(r"&#(\d+);")


def _drop_control_ref(match):
    code = int(match.group(1))
    return "" if code < 32 or code == 127 else match.group(0)


def _reuters_text(doc):
    """TITLE + "\\n" + BODY of one story, cleaned (see the module docstring)."""
    match = _SGML_TEXT.search(doc)
    if match is None:
        return ""
    attributes, content = match.groups()
    parts = []
    if dict(_SGML_ATTRIBUTE.findall(attributes)).get("TYPE") != "UNPROC":
        parts = [
            m.group(1)
            for m in (_SGML_TITLE.search(content), _SGML_BODY.search(content))
            if m is not None
        ]
    text = "\n".join(parts) if parts else _SGML_TAG.sub("", content)
    text = _CHARACTER_REF.sub(_drop_control_ref, text).replace("\x7f", "")
    return html.unescape(text).strip()


def _read_reuters_archive(path):
    """Parse the ModApte split of the archive.

    Returns the 90 category names (sorted) and, for "train" and "test", the
    texts, label columns and NEWIDs, in file order.
    """
    stories = []  # (split, NEWID, topics, text)
    with tarfile.open(path, "r:gz") as archive:
        members = sorted(
            (
                m
                for m in archive.getmembers()
                if m.isfile() and _SGML_FILE.fullmatch(posixpath.basename(m.name))
            ),
            key=lambda m: posixpath.basename(m.name),
        )
        if not members:
            raise ValueError(f"{path}: the archive holds no reut2-*.sgm file.")
        for member in members:
            with archive.extractfile(member) as f:
                sgml = f.read().decode("latin-1")
            for attributes, doc in _SGML_DOC.findall(sgml):
                attributes = dict(_SGML_ATTRIBUTE.findall(attributes))
                split = attributes.get("LEWISSPLIT")
                if attributes.get("TOPICS") != "YES" or split not in ("TRAIN", "TEST"):
                    continue
                topics = _SGML_TOPICS.search(doc)
                names = _SGML_D.findall(topics.group(1)) if topics else []
                stories.append(
                    (
                        split.lower(),
                        attributes.get("NEWID", ""),
                        [n.strip() for n in names],
                        _reuters_text(doc),
                    )
                )
    seen = {"train": set(), "test": set()}
    for split, _, topics, _ in stories:
        seen[split].update(topics)
    categories = sorted(seen["train"] & seen["test"])
    column = {name: j for j, name in enumerate(categories)}
    splits = {"train": ([], [], []), "test": ([], [], [])}
    for split, newid, topics, text in stories:
        columns = sorted({column[t] for t in topics if t in column})
        if not columns:
            continue
        texts, split_columns, ids = splits[split]
        texts.append(text)
        split_columns.append(columns)
        ids.append(newid)
    return categories, splits


@validate_params(
    {
        "subset": [StrOptions({"train", "test", "all"})],
        "data_home": [str, os.PathLike, None],
        "download_if_missing": ["boolean"],
        "progress": ["boolean"],
        "base_url": [str, None],
    },
    prefer_skip_nested_validation=True,
)
def fetch_reuters21578(
    *,
    subset="train",
    data_home=None,
    download_if_missing=True,
    progress=True,
    base_url=None,
):
    """Load Reuters-21578 (ModApte split, 90 categories), downloading it if needed.

    Reuters newswire stories from 1987 with their TOPICS categories, in the
    standard "ModApte, 90 categories" form (as NLTK's ``reuters`` corpus):

    ================  =======
    subset            rows
    ================  =======
    ``"train"``       7,770
    ``"test"``        3,019
    ================  =======

    The official archive ``reuters21578.tar.gz`` of the UCI KDD Archive (8.2 MB)
    is downloaded once into ``<data_home>/reuters21578/``, checked against the
    size and SHA-256 checksum published by Hugging Face datasets, and parsed
    on every call.

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        The split to load; ``"all"`` concatenates train and test, in that order.
    data_home : str or path-like, default=None
        Where to keep the archive; see :func:`get_data_home`.
    download_if_missing : bool, default=True
        If False, raise an ``OSError`` instead of downloading a missing archive
        (or re-downloading a cached one whose checksum no longer matches).
    progress : bool, default=True
        Show download progress on stderr (with tqdm when it is installed).
    base_url : str, default=None
        Download ``<base_url>/reuters21578.tar.gz`` instead of the official URL,
        for example from a mirror. The archive must still match the official
        checksum.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``data`` (list of str, the stories), ``target`` (scipy CSR int64
        indicator matrix of shape (n_samples, 90)), ``target_names`` (ndarray of
        the 90 category names, sorted), ``ids`` (ndarray of the NEWID
        attributes, as str), ``filenames`` (the local archive) and ``DESCR`` (a
        description with source, parsing rules and license).

    Raises
    ------
    ConnectionError
        If the server cannot be reached or the download broke off.
    OSError
        If the server answers with an HTTP error, the downloaded file does not
        match its checksum (nothing is saved then), or the archive is missing
        and ``download_if_missing`` is False.

    Notes
    -----
    The ``reut2-*.sgm`` files are read as latin-1, in file order. A story is
    in the training split if ``LEWISSPLIT="TRAIN"`` and ``TOPICS="YES"``, in
    the test split if ``LEWISSPLIT="TEST"`` and ``TOPICS="YES"``; other stories
    are ignored. The labels are the TOPICS categories found in at least one
    training and one test story (90); stories left with none of them are
    dropped.

    The text is TITLE + ``"\\n"`` + BODY, only the TITLE when there is no BODY,
    and for ``TYPE="UNPROC"`` stories (which have neither) the raw TEXT content
    with its tags removed. Character references to control characters
    (``&#N;`` with N < 32, such as the end-of-text marker ``&#3;``) and DEL are
    removed, HTML entities are unescaped (``&lt;`` becomes ``<``) and leading
    and trailing whitespace is stripped. Line breaks and the trailing
    " Reuter" signature are kept.

    License: Reuters Ltd. and Carnegie Group, Inc. allow the free distribution
    of this data for research purposes only; publications should acknowledge
    "Reuters-21578, Distribution 1.0" (the distribution's README.txt).

    Examples
    --------
    >>> from sklearn_zlpr.datasets import fetch_reuters21578
    >>> train = fetch_reuters21578(subset="train")  # doctest: +SKIP
    >>> len(train.data), train.target.shape  # doctest: +SKIP
    (7770, (7770, 90))
    >>> train.data[0].splitlines()[0]  # doctest: +SKIP
    'BAHIA COCOA REVIEW'

    With ``download_if_missing=False`` nothing is downloaded: a file that is not
    in ``data_home`` yet is an error.

    >>> import tempfile
    >>> fetch_reuters21578(data_home=tempfile.mkdtemp(), download_if_missing=False)
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    OSError: Data not found and download_if_missing is False: ...
    """
    folder = Path(get_data_home(data_home)) / "reuters21578"
    path = _fetch_file(
        _REMOTE["reuters21578"]["archive"],
        folder,
        base_url=base_url,
        download_if_missing=download_if_missing,
        progress=progress,
    )
    categories, splits = _read_reuters_archive(path)
    texts, columns, ids = [], [], []
    for split in ["train", "test"] if subset == "all" else [subset]:
        split_texts, split_columns, split_ids = splits[split]
        texts += split_texts
        columns += split_columns
        ids += split_ids
    return Bunch(
        data=texts,
        target=_indicator(columns, len(categories)),
        target_names=np.array(categories, dtype=object),
        ids=np.array(ids, dtype=object),
        filenames=[str(path)],
        DESCR=_REUTERS_DESCR,
    )
