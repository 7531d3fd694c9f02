"""Sphinx configuration of the sklearn-zlpr documentation.

Build it from the repository root with (see README.md, "Documentation")::

    sphinx-build -W --keep-going -b html docs docs/_build/html

The examples gallery (``examples/plot_*.py``) is executed by sphinx-gallery during
the build, and the API reference is generated from the docstrings, so neither can
drift from the code.
"""

import os
import warnings
from datetime import date

import sklearn_zlpr

project = "sklearn-zlpr"
author = "sklearn-zlpr developers"
copyright = f"{date.today().year}, {author}"
release = sklearn_zlpr.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "sphinx_copybutton",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "benchmarks/*/log.txt", "**.ipynb_checkpoints"]

# -- MyST (the guide pages are Markdown) ------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# -- autodoc / autosummary / numpydoc ----------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": False, "inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
# Validate every documented docstring during the build (with -W a finding fails
# the build). Keep this set equal to IGNORED_CHECKS in tests/test_docstrings.py.
numpydoc_validation_checks = {"all", "ES01", "SA01", "RT02"}
# torch.nn.Module protocol methods inherited by the loss modules are not ours.
numpydoc_validation_exclude = {r"\.__init__$"}

# -- sphinx-gallery ------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "doc_module": ("sklearn_zlpr",),
    "backreferences_dir": "generated/backreferences",
    "remove_config_comments": True,
    "show_memory": False,
    "matplotlib_animations": False,
    "within_subsection_order": "FileNameSortKey",
    "min_reported_time": 1,
    "download_all_examples": False,
}
# Keep the build quiet about third-party deprecations printed by examples.
warnings.filterwarnings("ignore", category=DeprecationWarning, module="skorch")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-zlpr {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {"index": [], "changelog": [], "citing": []}
html_show_sourcelink = True
