"""The documentation covers the public API and stays in step with the code.

The site itself is built (with warnings as errors, running every example) by the
README's documentation command, which CI runs; these tests check what can be
checked without Sphinx: every public name is in the API reference, the API
page's own example runs, and the pages link only to documents that exist.
"""

import ast
import doctest
import inspect
import re
from pathlib import Path

import pytest

import sklearn_zlpr
from tests.test_docstrings import IGNORED_CHECKS, SUBMODULES

DOCS = Path(__file__).resolve().parents[1] / "docs"
API = DOCS / "api.rst"


def _public_names():
    """Yield ``(module, name)`` for every name in the public ``__all__`` lists."""
    for name in sklearn_zlpr.__all__:
        if not inspect.ismodule(getattr(sklearn_zlpr, name)):
            yield "sklearn_zlpr", name
    for module in (getattr(sklearn_zlpr, name) for name in SUBMODULES):
        for name in module.__all__:
            yield module.__name__, name


def _api_entries():
    """The names listed in api.rst, with the module in effect for each."""
    entries = set()
    module, in_autosummary = None, False
    for line in API.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith(" "):
            in_autosummary = line.startswith(".. autosummary::")
        match = re.match(r"\.\. currentmodule:: (\S+)", line)
        if match:
            module = match.group(1)
            continue
        match = re.match(r"\.\. (?:autodata|py:data):: (\S+)", line)
        if match:
            entries.add((module, match.group(1)))
            continue
        match = re.match(r"   ([A-Za-z_][A-Za-z0-9_]*)$", line)
        if in_autosummary and match:
            entries.add((module, match.group(1)))
    return entries


@pytest.mark.parametrize("module, name", sorted(_public_names()))
def test_every_public_name_is_in_the_api_reference(module, name):
    assert (module, name) in _api_entries(), (
        f"{module}.{name} is public but missing from docs/api.rst"
    )


def test_api_reference_lists_only_public_names():
    public = set(_public_names())
    extra = {entry for entry in _api_entries() if entry not in public}
    assert not extra, f"docs/api.rst lists names that are not public: {extra}"


def test_api_page_examples_run():
    result = doctest.testfile(
        str(API), module_relative=False, optionflags=doctest.ELLIPSIS
    )
    assert result.attempted > 0
    assert result.failed == 0


def test_sphinx_validation_checks_match_the_docstring_test():
    # conf.py ignores the same numpydoc checks as tests/test_docstrings.py.
    conf = (DOCS / "conf.py").read_text(encoding="utf-8")
    match = re.search(r"numpydoc_validation_checks = (\{.*\})", conf)
    assert match, "docs/conf.py must set numpydoc_validation_checks"
    assert ast.literal_eval(match.group(1)) == {"all"} | set(IGNORED_CHECKS)


def _toctree_docs(page):
    text = page.read_text(encoding="utf-8")
    docs = []
    for block in re.findall(r"```\{toctree\}\n(.*?)```", text, flags=re.DOTALL):
        for line in block.splitlines():
            line = line.strip()
            if line and not line.startswith(":"):
                docs.append(line)
    return docs


def test_every_page_is_reachable_from_the_index():
    reachable, todo = set(), ["index"]
    while todo:
        doc = todo.pop()
        if doc in reachable:
            continue
        reachable.add(doc)
        page = DOCS / f"{doc}.md"
        if page.exists():
            todo.extend(_toctree_docs(page))
    pages = {
        str(p.relative_to(DOCS).with_suffix(""))
        for p in DOCS.rglob("*.md")
        if "_build" not in p.parts
    }
    assert pages <= reachable, f"pages outside every toctree: {pages - reachable}"


@pytest.mark.parametrize(
    "page",
    sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts),
    ids=lambda p: str(p.relative_to(DOCS)),
)
def test_relative_links_point_to_existing_files(page):
    text = page.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = target.split("#")[0]
        if path.startswith("auto_examples/"):
            example = path.removeprefix("auto_examples/")
            assert (
                example == "index"
                or (DOCS.parent / "examples" / f"{example}.py").exists()
            ), f"{page.name}: {target}"
            continue
        assert (page.parent / path).exists(), f"{page.name} links to {target}"


def test_module_map_names_every_module():
    """docs/contributing.md maps every module of the package, and only those."""
    page = (DOCS / "contributing.md").read_text(encoding="utf-8")
    mapped = set(re.findall(r"^\| `(sklearn_zlpr/\w+\.py)` \|", page, re.MULTILINE))
    package = Path(sklearn_zlpr.__file__).parent
    modules = {f"sklearn_zlpr/{p.name}" for p in package.glob("*.py")}
    assert mapped == modules
