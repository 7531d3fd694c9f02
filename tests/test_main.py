"""Tests of the command line, ``python -m sklearn_zlpr``."""

import contextlib
import io
import subprocess
import sys

import numpy as np
import pytest

from sklearn_zlpr import ZLPRClassifier
from sklearn_zlpr.__main__ import METHODS, QUICK_MODEL, main, make_problem
from sklearn_zlpr._benchmark import COLUMNS
from sklearn_zlpr.metrics import _PAPER_METRICS, _get_metric

TIMINGS = ("fit s", "predict s")


def parse_table(out):
    """Return {method: {column: value}} from the table printed by ``main``.

    One seed: every cell is a plain number, a metric's best one marked ``*``.
    """
    rows = {}
    for line in out.splitlines():
        for method in METHODS:
            if line.startswith(method + " "):
                cells = line[len(method) :].split()
                assert "±" not in line, line  # one seed: no standard deviation
                values = [float(c.rstrip("*")) for c in cells]
                assert len(values) == len(COLUMNS), line
                rows[method] = dict(zip(COLUMNS, values))
    return rows


@pytest.fixture(scope="module")
def quick_run():
    """Exit code, stdout and stderr of ``main(["--quick"])``, run once."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--quick"])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def quick_problem():
    return make_problem(quick=True)


def test_columns_come_from_the_metric_registry():
    titles = [_get_metric(name).title for name in _PAPER_METRICS]
    assert list(COLUMNS) == titles + list(TIMINGS)


def test_quick_run_prints_the_table(quick_run):
    code, out, err = quick_run
    assert code == 0
    header = next(line for line in out.splitlines() if line.startswith("method"))
    assert " ".join(header.split()) == " ".join(["method", *COLUMNS])
    assert set(parse_table(out)) == set(METHODS)
    # The footnote says which way is better, from the registry.
    assert "the lowest for RankLoss" in out
    # One progress line per model, on stderr only.
    for i, method in enumerate(METHODS, 1):
        assert f"[{i}/{len(METHODS)}] fitting {method}, seed 0 ..." in err
    assert "fitting" not in out


def test_printed_values_are_in_range(quick_run):
    rows = parse_table(quick_run[1])
    for method, row in rows.items():
        for column, value in row.items():
            if column in TIMINGS:
                assert value >= 0, (method, column)
            else:
                assert 0.0 <= value <= 1.0, (method, column, value)


def test_zlpr_beats_predicting_nothing(quick_run, quick_problem):
    _, _, _, Y_test = quick_problem
    predict_nothing_subacc = np.mean(Y_test.sum(axis=1) == 0)
    zlpr = parse_table(quick_run[1])["ZLPR"]
    assert zlpr["SubACC"] > predict_nothing_subacc
    # Predicting nothing has micro-F1 0: ZLPR predicts some labels right.
    assert zlpr["Micro-F1"] > 0


def test_printed_zlpr_metrics_match_a_recomputation(quick_run, quick_problem):
    """Refit the quick ZLPR model and recompute its metrics with plain numpy."""
    X_train, X_test, Y_train, Y_test = quick_problem
    clf = ZLPRClassifier(loss="zlpr", random_state=0, **QUICK_MODEL)
    pred = clf.fit(X_train, Y_train).predict(X_test)

    tp = (pred * Y_test).sum(axis=1)
    sizes = pred.sum(axis=1) + Y_test.sum(axis=1)
    # Example-based F1; a row with no true and no predicted label scores 1.
    example_f1 = np.where(sizes == 0, 1.0, 2 * tp / np.maximum(sizes, 1))
    expected = {
        "SubACC": np.mean((pred == Y_test).all(axis=1)),
        "MLC-F1": example_f1.mean(),
        "Micro-F1": 2 * tp.sum() / sizes.sum(),
    }
    printed = parse_table(quick_run[1])["ZLPR"]
    for column, value in expected.items():
        assert printed[column] == pytest.approx(value, abs=5e-5), column


def test_python_dash_m_runs():
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_zlpr", "--quick", "--seed", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert set(parse_table(result.stdout)) == set(METHODS)
    assert (
        "(seed 1, quick)" in result.stdout and "fitting ZLPR, seed 1" in result.stderr
    )


def test_bad_option_exits_with_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--no-such-option"])
    assert exc.value.code == 2
    assert "usage: sklearn-zlpr" in capsys.readouterr().err
