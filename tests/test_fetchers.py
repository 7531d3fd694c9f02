"""The dataset fetchers, against a local HTTP server serving fixture files.

Nothing here touches the internet: an autouse fixture points every official URL
at a closed local port, and the downloads come from a ThreadingHTTPServer on
127.0.0.1 serving a temporary folder.
"""

import csv
import functools
import gzip
import hashlib
import io
import json
import os
import socket
import sys
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_zlpr import _fetchers
from sklearn_zlpr.datasets import (
    clear_data_home,
    fetch_goemotions,
    fetch_reuters21578,
    get_data_home,
    load_jsonl,
)

from .conftest import DATASETS

# -- a local server -----------------------------------------------------------------


class _Handler(SimpleHTTPRequestHandler):
    """Serves a folder, counts requests, and can cut chosen files short."""

    def do_GET(self):
        self.server.requests.append(self.path)
        name = self.path.lstrip("/")
        if name in self.server.truncated:
            data = (self.server.folder / name).read_bytes()
            self.send_response(200)
            if self.server.truncated[name] == "with-length":
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, format, *args):  # keep the test output clean
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    # Never send the local requests through a proxy from the environment.
    monkeypatch.setenv("no_proxy", "*")
    folder = tmp_path / "served"
    folder.mkdir()
    httpd = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Handler, directory=str(folder))
    )
    httpd.requests, httpd.truncated, httpd.folder = [], {}, folder
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield SimpleNamespace(
            url=f"http://127.0.0.1:{httpd.server_address[1]}",
            folder=folder,
            requests=httpd.requests,
            truncated=httpd.truncated,
        )
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """Official URLs point at a closed local port; the data home is temporary."""
    dead = f"http://127.0.0.1:{_closed_port()}"
    remote = {
        name: {
            key: spec._replace(url=f"{dead}/{spec.filename}")
            for key, spec in files.items()
        }
        for name, files in _fetchers._REMOTE.items()
    }
    monkeypatch.setattr(_fetchers, "_REMOTE", remote)
    monkeypatch.setenv("SKLEARN_ZLPR_DATA", str(tmp_path / "env_home"))
    return dead


def _serve(server, monkeypatch, dataset, key, filename, content):
    """Put a fixture file on the server and make its spec the expected one."""
    (server.folder / filename).write_bytes(content)
    spec = _fetchers._RemoteFile(
        filename,
        f"{server.url}/{filename}",
        len(content),
        hashlib.sha256(content).hexdigest(),
    )
    monkeypatch.setitem(_fetchers._REMOTE[dataset], key, spec)
    return spec


def _files(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- GoEmotions fixtures --------------------------------------------------------------

# Verbatim lines of the official dev.tsv, among them the two quoted fields of
# the first 200 rows, and what Python's csv module makes of them.
OFFICIAL_DEV_LINES = (
    "Kawhi and Siakam chemistry\t27\tedlscae\n"
    '"""I didn\'t learn anything from the last short clip video on twitter that '
    'cut in mid way through an confrontation"" Oh look a new one!"\t10\teepmnfn\n'
    '"color me embarrassed"" I wonder what colour he\'d be if she showed that text '
    'exchange to his missus. "\t12,26\tedp5a2y\n'
    "If you are reading this have a nice day!\\xEF\\xBB\\xBF\t5\ted8dv0o\n"
)
OFFICIAL_DEV_ROWS = [
    ("Kawhi and Siakam chemistry", [27], "edlscae"),
    (
        (
            "\"I didn't learn anything from the last short clip video on twitter that "
            'cut in mid way through an confrontation" Oh look a new one!'
        ),
        [10],
        "eepmnfn",
    ),
    (
        (
            "color me embarrassed\" I wonder what colour he'd be if she showed that text "
            "exchange to his missus. "
        ),
        [12, 26],
        "edp5a2y",
    ),
    ("If you are reading this have a nice day!\\xEF\\xBB\\xBF", [5], "ed8dv0o"),
]
TRAIN_ROWS = [
    ("I love this so much!", [18], "t1"),
    ("Thanks, [NAME], that's great", [0, 15], "t2"),
    ('She said "no"\tand left', [9, 25, 27], "t3"),
    ("line one\nline two", [27], "t4"),
]
TEST_ROWS = [
    ("What?! Why would you do that", [6, 7], "s1"),
    ("ok", [27], "s2"),
]


def _tsv(rows):
    """The official TSV layout, written the way the official files are (csv)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    for text, label_ids, comment_id in rows:
        writer.writerow([text, ",".join(map(str, label_ids)), comment_id])
    return out.getvalue().encode("utf-8")


@pytest.fixture
def goemotions(server, monkeypatch):
    contents = {
        "train": _tsv(TRAIN_ROWS),
        "dev": OFFICIAL_DEV_LINES.encode("utf-8"),
        "test": _tsv(TEST_ROWS),
    }
    for split, content in contents.items():
        _serve(server, monkeypatch, "goemotions", split, f"{split}.tsv", content)
    return server


def _indicator(label_ids, n_labels):
    out = np.zeros((len(label_ids), n_labels), dtype=np.int64)
    for i, ids in enumerate(label_ids):
        out[i, ids] = 1
    return out


# -- data home ------------------------------------------------------------------------


def test_data_home_argument_env_var_and_default(tmp_path, monkeypatch):
    home = get_data_home(tmp_path / "a" / "b")
    assert home == str(tmp_path / "a" / "b") and os.path.isdir(home)
    assert get_data_home() == str(tmp_path / "env_home")  # SKLEARN_ZLPR_DATA
    monkeypatch.delenv("SKLEARN_ZLPR_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert get_data_home() == str(tmp_path / "user" / "sklearn_zlpr_data")
    assert os.path.isdir(tmp_path / "user" / "sklearn_zlpr_data")
    (tmp_path / "a" / "b" / "f.txt").write_text("x")
    clear_data_home(tmp_path / "a" / "b")
    assert not (tmp_path / "a" / "b").exists()


def test_fetchers_use_the_env_var_data_home(goemotions, tmp_path):
    bunch = fetch_goemotions(subset="test", base_url=goemotions.url, progress=False)
    assert bunch.filenames == [str(tmp_path / "env_home" / "goemotions" / "test.tsv")]
    assert _files(tmp_path / "env_home" / "goemotions") == ["test.tsv"]


# -- GoEmotions -----------------------------------------------------------------------


def test_fetch_goemotions_downloads_and_parses(goemotions, tmp_path):
    home = tmp_path / "home"
    bunch = fetch_goemotions(subset="train", data_home=home, progress=False)
    assert set(bunch) == {"data", "target", "target_names", "ids", "filenames", "DESCR"}
    assert bunch.data == [text for text, _, _ in TRAIN_ROWS]
    assert sp.issparse(bunch.target) and bunch.target.format == "csr"
    assert bunch.target.dtype == np.int64
    np.testing.assert_array_equal(
        bunch.target.toarray(), _indicator([ids for _, ids, _ in TRAIN_ROWS], 28)
    )
    assert list(bunch.target_names) == list(_fetchers._GOEMOTIONS_LABELS)
    assert bunch.target_names[0] == "admiration" and bunch.target_names[27] == "neutral"
    assert list(bunch.ids) == ["t1", "t2", "t3", "t4"]
    assert bunch.filenames == [str(home / "goemotions" / "train.tsv")]
    assert "Demszky" in bunch.DESCR and "Apache" in bunch.DESCR
    # Only the requested split was downloaded, and no temporary file is left.
    assert _files(home / "goemotions") == ["train.tsv"]
    assert goemotions.requests == ["/train.tsv"]


def test_goemotions_reads_the_official_quoting(goemotions, tmp_path):
    bunch = fetch_goemotions(subset="dev", data_home=tmp_path, progress=False)
    assert bunch.data == [text for text, _, _ in OFFICIAL_DEV_ROWS]
    assert list(bunch.ids) == [i for _, _, i in OFFICIAL_DEV_ROWS]
    np.testing.assert_array_equal(
        bunch.target.toarray(), _indicator([ids for _, ids, _ in OFFICIAL_DEV_ROWS], 28)
    )


@pytest.mark.skipif(not (DATASETS / "goemotions").is_dir(), reason="shared data absent")
def test_goemotions_parse_matches_the_shared_conversion(server, monkeypatch, tmp_path):
    labels = (DATASETS / "goemotions" / "labels.txt").read_text().split()
    assert labels == list(_fetchers._GOEMOTIONS_LABELS)
    column = {name: j for j, name in enumerate(labels)}
    expected = {}
    for split in ("train", "dev", "test"):
        path = DATASETS / "goemotions" / f"{split}.jsonl.gz"
        with gzip.open(path, "rt", encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
        # The first rows, plus every row with a quote, tab or line break.
        picked = (
            rows[:40]
            + [r for r in rows[40:] if any(c in r["text"] for c in '"\t\n')][:40]
        )
        tsv = _tsv(
            [
                (r["text"], [column[n] for n in r["labels"]], f"{split}{i}")
                for i, r in enumerate(picked)
            ]
        )
        _serve(server, monkeypatch, "goemotions", split, f"{split}.tsv", tsv)
        expected[split] = picked
    bunch = fetch_goemotions(subset="all", data_home=tmp_path, base_url=server.url)
    rows = expected["train"] + expected["dev"] + expected["test"]
    assert any('"' in r["text"] for r in rows)
    assert bunch.data == [r["text"] for r in rows]
    shared_path = tmp_path / "shared.jsonl"
    shared_path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    shared = load_jsonl(shared_path, labels=labels)
    assert (bunch.target != shared.target).nnz == 0


def test_goemotions_all_is_the_concatenation(goemotions, tmp_path):
    parts = [
        fetch_goemotions(subset=s, data_home=tmp_path, progress=False)
        for s in ("train", "dev", "test")
    ]
    full = fetch_goemotions(subset="all", data_home=tmp_path, progress=False)
    assert full.data == parts[0].data + parts[1].data + parts[2].data
    assert list(full.ids) == [i for p in parts for i in p.ids]
    assert (full.target != sp.vstack([p.target for p in parts])).nnz == 0
    assert full.target.shape == (len(TRAIN_ROWS) + 4 + len(TEST_ROWS), 28)


def test_goemotions_malformed_rows(server, monkeypatch, tmp_path):
    for i, (content, message) in enumerate(
        [
            (b"text only\t27\n", r"line 1: expected 3 tab-separated fields"),
            (b"ok\t27\ta\nbad\tx,1\tb\n", r"line 2: the label ids must be"),
            (b"bad\t28\tb\n", r"line 1: label ids must lie in \[0, 27\]"),
        ]
    ):
        _serve(server, monkeypatch, "goemotions", "train", "train.tsv", content)
        with pytest.raises(ValueError, match=message):
            fetch_goemotions(data_home=tmp_path / str(i), progress=False)


def test_invalid_parameters():
    with pytest.raises(ValueError, match="subset"):
        fetch_goemotions(subset="validation")
    with pytest.raises(ValueError, match="subset"):
        fetch_reuters21578(subset="dev")
    with pytest.raises(TypeError, match="download_if_missing"):
        fetch_goemotions(download_if_missing="no")


# -- download machinery -----------------------------------------------------------------


def test_second_fetch_makes_no_request(goemotions, tmp_path):
    first = fetch_goemotions(subset="dev", data_home=tmp_path, progress=False)
    assert goemotions.requests == ["/dev.tsv"]
    second = fetch_goemotions(subset="dev", data_home=tmp_path, progress=False)
    assert goemotions.requests == ["/dev.tsv"]
    assert second.data == first.data
    # A cached file is enough even when the server is gone.
    fetch_goemotions(subset="dev", data_home=tmp_path, download_if_missing=False)


def test_base_url_overrides_the_spec_url(goemotions, monkeypatch, tmp_path, offline):
    spec = _fetchers._REMOTE["goemotions"]["test"]
    monkeypatch.setitem(
        _fetchers._REMOTE["goemotions"], "test", spec._replace(url=f"{offline}/x")
    )
    fetch_goemotions(subset="test", data_home=tmp_path, base_url=goemotions.url + "/")
    assert goemotions.requests == ["/test.tsv"]


def test_corrupted_cache_is_downloaded_again(goemotions, tmp_path):
    fetch_goemotions(subset="test", data_home=tmp_path, progress=False)
    cached = tmp_path / "goemotions" / "test.tsv"
    cached.write_bytes(b"corrupted\t0\tx\n")
    with pytest.raises(OSError, match="does not match the expected file"):
        fetch_goemotions(subset="test", data_home=tmp_path, download_if_missing=False)
    assert cached.read_bytes() == b"corrupted\t0\tx\n"
    with pytest.warns(UserWarning, match="downloading it again"):
        bunch = fetch_goemotions(subset="test", data_home=tmp_path, progress=False)
    assert bunch.data == [text for text, _, _ in TEST_ROWS]
    assert goemotions.requests == ["/test.tsv", "/test.tsv"]


def test_checksum_mismatch_leaves_nothing_behind(goemotions, monkeypatch, tmp_path):
    spec = _fetchers._REMOTE["goemotions"]["train"]
    wrong = spec._replace(sha256="0" * 64)
    monkeypatch.setitem(_fetchers._REMOTE["goemotions"], "train", wrong)
    with pytest.raises(OSError, match="Checksum mismatch") as info:
        fetch_goemotions(data_home=tmp_path, progress=False)
    message = str(info.value)
    assert spec.url in message and "0" * 64 in message and spec.sha256 in message
    assert _files(tmp_path / "goemotions") == []


@pytest.mark.parametrize(
    "mode, error, message",
    [
        ("with-length", ConnectionError, "broke off after"),
        ("without-length", OSError, "Checksum mismatch"),
    ],
)
def test_truncated_download_does_not_land(goemotions, tmp_path, mode, error, message):
    goemotions.truncated["train.tsv"] = mode
    with pytest.raises(error, match=message):
        fetch_goemotions(data_home=tmp_path, progress=False)
    assert _files(tmp_path / "goemotions") == []


def test_server_down_gives_a_clear_error(tmp_path, offline):
    with pytest.raises(ConnectionError) as info:
        fetch_goemotions(data_home=tmp_path, progress=False)
    message = str(info.value)
    assert f"Could not download {offline}/train.tsv" in message
    assert "Check your internet connection" in message
    assert str(tmp_path / "goemotions" / "train.tsv") in message
    assert _files(tmp_path / "goemotions") == []
    with pytest.raises(ConnectionError, match="Could not download"):
        fetch_reuters21578(data_home=tmp_path, base_url=offline, progress=False)


def test_http_error_status(server, tmp_path):
    with pytest.raises(OSError, match="HTTP 404") as info:
        fetch_goemotions(data_home=tmp_path, base_url=server.url, progress=False)
    assert not isinstance(info.value, ConnectionError)
    assert _files(tmp_path / "goemotions") == []


def test_download_if_missing_false(goemotions, tmp_path):
    with pytest.raises(
        OSError, match="Data not found and download_if_missing is False"
    ):
        fetch_goemotions(data_home=tmp_path, download_if_missing=False)
    with pytest.raises(
        OSError, match="Data not found and download_if_missing is False"
    ):
        fetch_reuters21578(data_home=tmp_path, download_if_missing=False)
    assert goemotions.requests == []


def test_progress_on_stderr_with_tqdm(goemotions, tmp_path, capsys):
    pytest.importorskip("tqdm")
    fetch_goemotions(subset="dev", data_home=tmp_path, progress=True)
    err = capsys.readouterr().err
    assert f"Downloading {goemotions.url}/dev.tsv" in err and "dev.tsv" in err


def test_progress_on_stderr_without_tqdm(goemotions, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm -> ImportError
    fetch_goemotions(subset="dev", data_home=tmp_path, progress=True)
    err = capsys.readouterr().err
    assert "dev.tsv: 100%" in err and err.endswith("\n")


def test_no_progress_output_when_disabled(goemotions, tmp_path, capsys):
    fetch_goemotions(subset="dev", data_home=tmp_path, progress=False)
    assert capsys.readouterr().err == ""


# -- Reuters-21578 ----------------------------------------------------------------------


def _story(newid, split, topics, text, *, has_topics="YES"):
    d = "".join(f"<D>{t}</D>" for t in topics)
    return (
        f'<REUTERS TOPICS="{has_topics}" LEWISSPLIT="{split}" '
        f'CGISPLIT="TRAINING-SET" OLDID="{5000 + newid}" NEWID="{newid}">\n'
        f"<DATE>26-FEB-1987 15:01:01.79</DATE>\n<TOPICS>{d}</TOPICS>\n"
        "<PLACES><D>usa</D></PLACES>\n<PEOPLE></PEOPLE>\n<ORGS></ORGS>\n"
        "<EXCHANGES></EXCHANGES>\n<COMPANIES></COMPANIES>\n"
        "<UNKNOWN> \n&#5;&#5;&#5;C T\n&#22;&#22;&#1;f0704&#31;reute\n</UNKNOWN>\n"
        f"{text}\n</REUTERS>\n"
    )


def _norm(title, body):
    body_part = "" if body is None else f"<BODY>{body}</BODY>"
    return (
        f"<TEXT>&#2;\n<TITLE>{title}</TITLE>\n<AUTHOR>    by A. Writer</AUTHOR>\n"
        f"<DATELINE>    NEW YORK, Feb 26 - </DATELINE>{body_part}</TEXT>"
    )


SGM_000 = '<!DOCTYPE lewis SYSTEM "lewis.dtd">\n' + "".join(
    [
        _story(
            1,
            "TRAIN",
            ["cocoa"],
            _norm(
                "BAHIA &lt;BAH> COCOA &amp; SUGAR REVIEW",
                "Showers continued in\nthe Bahia zone.\n    Prices rose &amp; fell.\n"
                " Reuter\n&#3;",
            ),
        ),
        # TOPICS="NO": ignored, also for the category counts (else onlytrain
        # would be in the test split and kept).
        _story(2, "TEST", ["onlytrain"], _norm("IGNORED", "x"), has_topics="NO"),
        _story(3, "TRAIN", ["earn", "onlytrain"], _norm("EARN &quot;Q1&quot;", "Up.")),
        # Only a category that never occurs in the test split: dropped.
        _story(4, "TRAIN", ["onlytrain"], _norm("DROPPED", "x")),
        # No BODY: the TITLE alone.
        _story(
            5,
            "TEST",
            ["earn", "cocoa"],
            '<TEXT TYPE="BRIEF">&#2;\n******<TITLE>BRIEF TITLE ONLY</TITLE>\n'
            "<DATELINE>    CHICAGO, Feb 26 - </DATELINE></TEXT>",
        ),
        # UNPROC: the raw TEXT content without its tags.
        _story(
            6,
            "TEST",
            ["earn"],
            '<TEXT TYPE="UNPROC">&#2;\nUNPROCESSED &lt;TABLE>\n'
            "  A  1.0   B 2.0\n Reuter\n&#3;</TEXT>",
        ),
        _story(7, "NOT-USED", ["cocoa"], _norm("NOT USED", "x")),
        _story(8, "TRAIN", [], _norm("NO TOPICS", "x")),
    ]
)
SGM_001 = '<!DOCTYPE lewis SYSTEM "lewis.dtd">\n' + _story(
    9,
    "TEST",
    ["cocoa", "cocoa"],
    _norm(
        "Z\xdcRICH COCOA",
        "Bell&#127;s &#22;rang &#38; M&#252;ller said.\n Reuter\n&#3;",
    ),
)
REUTERS_TRAIN = [
    (
        (
            "BAHIA <BAH> COCOA & SUGAR REVIEW\nShowers continued in\nthe Bahia zone.\n"
            "    Prices rose & fell.\n Reuter"
        ),
        ["cocoa"],
        "1",
    ),
    ('EARN "Q1"\nUp.', ["earn"], "3"),
]
REUTERS_TEST = [
    ("BRIEF TITLE ONLY", ["cocoa", "earn"], "5"),
    ("UNPROCESSED <TABLE>\n  A  1.0   B 2.0\n Reuter", ["earn"], "6"),
    ("Z\xdcRICH COCOA\nBells rang & M\xfcller said.\n Reuter", ["cocoa"], "9"),
]


def _tar_gz(files):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


@pytest.fixture
def reuters(server, monkeypatch):
    archive = _tar_gz(
        {
            # Given out of order: the files are read in name order.
            "reut2-001.sgm": SGM_001.encode("latin-1"),
            "reut2-000.sgm": SGM_000.encode("latin-1"),
            "README.txt": b"Reuters-21578 text categorization test collection\n",
            "lewis.dtd": b"<!ELEMENT LEWIS - - (REUTERS+)>\n",
        }
    )
    _serve(
        server, monkeypatch, "reuters21578", "archive", "reuters21578.tar.gz", archive
    )
    return server


def _check_reuters(bunch, rows):
    assert bunch.data == [text for text, _, _ in rows]
    assert list(bunch.ids) == [newid for _, _, newid in rows]
    assert list(bunch.target_names) == ["cocoa", "earn"]
    column = {"cocoa": 0, "earn": 1}
    assert bunch.target.format == "csr" and bunch.target.dtype == np.int64
    np.testing.assert_array_equal(
        bunch.target.toarray(),
        _indicator([[column[n] for n in names] for _, names, _ in rows], 2),
    )


def test_fetch_reuters21578_parses_the_modapte_split(reuters, tmp_path):
    train = fetch_reuters21578(subset="train", data_home=tmp_path, progress=False)
    _check_reuters(train, REUTERS_TRAIN)
    assert train.filenames == [str(tmp_path / "reuters21578" / "reuters21578.tar.gz")]
    assert "ModApte" in train.DESCR and "research purposes only" in train.DESCR
    test = fetch_reuters21578(subset="test", data_home=tmp_path, progress=False)
    _check_reuters(test, REUTERS_TEST)
    full = fetch_reuters21578(subset="all", data_home=tmp_path, progress=False)
    _check_reuters(full, REUTERS_TRAIN + REUTERS_TEST)
    # One download, then the cached archive.
    assert reuters.requests == ["/reuters21578.tar.gz"]
    assert _files(tmp_path / "reuters21578") == ["reuters21578.tar.gz"]


def test_reuters_archive_without_sgml_files(server, monkeypatch, tmp_path):
    archive = _tar_gz({"README.txt": b"nothing here\n"})
    _serve(
        server, monkeypatch, "reuters21578", "archive", "reuters21578.tar.gz", archive
    )
    with pytest.raises(ValueError, match="no reut2-"):
        fetch_reuters21578(data_home=tmp_path, progress=False)


@pytest.mark.skipif(
    not (DATASETS / "reuters21578_modapte").is_dir(), reason="shared data absent"
)
def test_reuters_category_order_is_sorted():
    # The shared copy lists the 90 categories in the order of
    # all-topics-strings.lc.txt; the fetcher sorts them: the same order.
    path = DATASETS / "reuters21578_modapte" / "labels.txt"
    names = path.read_text().split()
    assert len(names) == 90 and names == sorted(names)
