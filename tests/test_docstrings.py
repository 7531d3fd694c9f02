"""Every public name has a valid numpydoc docstring with a runnable example.

The public API is enumerated from the ``__all__`` lists, so a new public
function, class or method fails here until it is documented. The examples
themselves run as doctests (``--doctest-modules`` over ``sklearn_zlpr``).
"""

import doctest
import importlib
import inspect
import re
import types

import pytest
from numpydoc.docscrape import NumpyDocString
from numpydoc.validate import validate

import sklearn_zlpr

#: numpydoc checks that are not enforced: ES01 (no extended summary) and SA01
#: (no See Also) are optional sections; RT02 wants a bare type in Returns, but
#: returned values are named, as in scikit-learn.
IGNORED_CHECKS = {"ES01", "SA01", "RT02"}

#: The public submodules (``datasets``, ``losses``, ``metrics``).
SUBMODULES = tuple(
    name
    for name in sklearn_zlpr.__all__
    if isinstance(getattr(sklearn_zlpr, name), types.ModuleType)
)

#: Dunder methods that are part of a public class's interface.
PUBLIC_DUNDERS = {"__call__"}


def _methods(cls):
    """Public methods of ``cls`` that this package defines.

    Those of ``cls`` itself and of its (private) base classes in this package;
    not what it inherits from torch.nn.Module or scikit-learn, nor the
    ``set_*_request`` methods scikit-learn generates.
    """
    seen = set()
    for klass in cls.__mro__:  # the first definition of a name is the one used
        for name, attr in vars(klass).items():
            if name in seen:
                continue
            seen.add(name)
            if not klass.__module__.startswith("sklearn_zlpr."):
                continue
            if name.startswith("_") and name not in PUBLIC_DUNDERS:
                continue
            if isinstance(attr, (staticmethod, classmethod)):
                attr = attr.__func__
            if inspect.isfunction(attr):
                yield name


def _public_callables():
    """Qualified names of every public function, class and method."""
    names = []
    modules = [("sklearn_zlpr", sklearn_zlpr)] + [
        (f"sklearn_zlpr.{m}", importlib.import_module(f"sklearn_zlpr.{m}"))
        for m in SUBMODULES
    ]
    for prefix, module in modules:
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, types.ModuleType) or not callable(obj):
                continue
            names.append(f"{prefix}.{name}")
            if inspect.isclass(obj):
                names.extend(f"{prefix}.{name}.{m}" for m in _methods(obj))
    return names


PUBLIC_CALLABLES = _public_callables()


def _resolve(qualname):
    parts = qualname.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for part in parts[i:]:
            obj = getattr(obj, part)
        return obj
    raise ImportError(qualname)


def test_public_api_is_enumerated():
    # The enumeration itself works: classes, their methods and functions of
    # every submodule are there (guards against an empty parametrization).
    assert "sklearn_zlpr.ZLPRClassifier.fit" in PUBLIC_CALLABLES
    assert "sklearn_zlpr.TransformerEmbedder.transform" in PUBLIC_CALLABLES
    assert "sklearn_zlpr.losses.ZLPRLoss.forward" in PUBLIC_CALLABLES
    assert "sklearn_zlpr.metrics.MultilabelScorer.__call__" in PUBLIC_CALLABLES
    assert "sklearn_zlpr.datasets.load_jsonl" in PUBLIC_CALLABLES
    # Inherited and generated methods are not ours to document.
    assert "sklearn_zlpr.ZLPRClassifier.set_params" not in PUBLIC_CALLABLES
    assert "sklearn_zlpr.ZLPRClassifier.set_fit_request" not in PUBLIC_CALLABLES
    assert "sklearn_zlpr.losses.ZLPRLoss.to" not in PUBLIC_CALLABLES
    # Methods of the package's private base classes are public through their
    # subclasses.
    assert "sklearn_zlpr.losses.ZLPRLoss.extra_repr" in PUBLIC_CALLABLES


def test_submodules_have_all():
    assert SUBMODULES
    for name in SUBMODULES:
        module = getattr(sklearn_zlpr, name)
        assert isinstance(getattr(module, "__all__", None), list), name


@pytest.mark.parametrize("name", PUBLIC_CALLABLES)
def test_numpydoc_valid(name):
    result = validate(name)
    errors = [
        f"{code}: {message}"
        for code, message in result["errors"]
        if code not in IGNORED_CHECKS
    ]
    assert not errors, f"{name}:\n" + "\n".join(errors)


@pytest.mark.parametrize("name", PUBLIC_CALLABLES)
def test_has_runnable_example(name):
    # An Examples section with at least one example that the doctest run
    # executes (not skipped) and that checks an output or an exception.
    doc = inspect.getdoc(_resolve(name)) or ""
    examples = "\n".join(NumpyDocString(doc)["Examples"])
    assert ">>>" in examples, f"{name} has no Examples section with a '>>>' line."
    checked = [
        example
        for example in doctest.DocTestParser().get_examples(examples)
        if not example.options.get(doctest.SKIP) and (example.want or example.exc_msg)
    ]
    assert checked, (
        f"{name}: every example is skipped or shows no output; add one that runs "
        "and checks a result."
    )


@pytest.mark.parametrize(
    "module", ["sklearn_zlpr"] + [f"sklearn_zlpr.{m}" for m in SUBMODULES]
)
def test_module_docstring(module):
    # Every public module has a docstring, and it documents the module's public
    # names that cannot carry a docstring of their own (``__version__``,
    # ``LOSSES``): each is named in it.
    mod = importlib.import_module(module)
    doc = mod.__doc__ or ""
    assert doc.strip(), f"{module} has no module docstring."
    for name in mod.__all__:
        obj = getattr(mod, name)
        if isinstance(obj, types.ModuleType):
            assert (obj.__doc__ or "").strip(), f"{obj.__name__} has no docstring."
        elif not callable(obj):
            assert re.search(rf"(?<!\w){re.escape(name)}(?!\w)", doc), (
                f"{module}.{name} is public but not documented in the docstring "
                f"of {module}."
            )
