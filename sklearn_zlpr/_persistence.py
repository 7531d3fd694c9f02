"""Saving and loading fitted models without pickle.

A model file (``.zlpr`` by convention) is a zip archive with

* ``manifest.json``: the format name and version, the versions of the
  package, torch, scikit-learn, numpy and Python that wrote it, and the
  object as a JSON tree;
* ``arrays/<i>.npy``: every numeric array of the tree, written and read by
  ``numpy.save``/``numpy.load`` with ``allow_pickle=False``.

The JSON tree has plain values (None, bools, numbers, strings, lists, dicts)
and tagged nodes (``{"__tag__": ...}``) for tuples, sets, arrays, sparse
matrices, numpy scalars and types, and estimators. An estimator node names
its class; :func:`load` creates only classes on its allow-list (or named in
``trusted``) and fills them with decoded values, never calling code from the
file: no pickle, no ``eval``, no import of a module that is not on the list.

Estimators on the allow-list: ``ZLPRClassifier`` (its parameters, fitted
attributes and, for the network, the module's weights; the skorch net is
rebuilt from them), ``TransformerEmbedder`` (its parameters: the frozen
pretrained encoder is loaded again by name, so it must be available where the
file is loaded), ``Pipeline`` and the scikit-learn transformers of a text
pipeline (``TfidfVectorizer``, ``CountVectorizer``, ``HashingVectorizer``,
``TfidfTransformer``, ``MultiLabelBinarizer``, ``StandardScaler``,
``MaxAbsScaler``, ``Normalizer``), whose state is their ``__dict__``.
"""

import io
import json
import math
import os
import pathlib
import platform
import tempfile
import warnings
import zipfile
from importlib import import_module

import numpy as np
import scipy.sparse as sp
import sklearn
import torch
from sklearn.utils.validation import check_is_fitted

__all__ = ["UntrustedTypeError", "load", "save"]

FORMAT = "sklearn-zlpr"
FORMAT_VERSION = 1

#: Classes restored from their ``__dict__`` (scikit-learn's own layout).
_SKLEARN_TYPES = frozenset(
    {
        "sklearn.pipeline.Pipeline",
        "sklearn.feature_extraction.text.TfidfVectorizer",
        "sklearn.feature_extraction.text.CountVectorizer",
        "sklearn.feature_extraction.text.HashingVectorizer",
        "sklearn.feature_extraction.text.TfidfTransformer",
        "sklearn.preprocessing._label.MultiLabelBinarizer",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.preprocessing._data.MaxAbsScaler",
        "sklearn.preprocessing._data.Normalizer",
    }
)
_ZLPR_TYPE = "sklearn_zlpr._classifier.ZLPRClassifier"
#: Frozen pretrained encoders: saved as their parameters, reloaded by name.
_EMBEDDER_TYPE = "sklearn_zlpr._embedder.TransformerEmbedder"
#: numpy scalar types (as values, e.g. ``TfidfVectorizer(dtype=np.float32)``).
_NUMPY_TYPES = {
    f"numpy.{name}": getattr(np, name)
    for name in (
        "float16",
        "float32",
        "float64",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "bool_",
    )
}


class UntrustedTypeError(ValueError):
    """A model file names a type that :func:`load` does not create by default.

    Examples
    --------
    >>> from sklearn_zlpr import UntrustedTypeError
    >>> issubclass(UntrustedTypeError, ValueError)
    True
    """


def _type_name(obj):
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _versions():
    from . import __version__

    return {
        "sklearn-zlpr": __version__,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


# --------------------------------------------------------------------------
# Encoding
class _Writer:
    """Turns an object into a JSON tree, collecting its arrays."""

    def __init__(self):
        self.arrays = []

    def array(self, a):
        a = np.asarray(a)
        if a.dtype.kind in "OV":
            values = a.ravel().tolist()
            if all(isinstance(v, str) for v in values):
                return {"__strarray__": values, "shape": list(a.shape)}
            if all(isinstance(v, (int, float, bool)) for v in values):
                return {"__objarray__": values, "shape": list(a.shape)}
            raise TypeError(
                "Cannot save an object array holding "
                f"{sorted({type(v).__name__ for v in values})}: only numbers and "
                "strings are stored (no pickle)."
            )
        if a.dtype.kind == "U":
            return {"__strarray__": a.ravel().tolist(), "shape": list(a.shape)}
        self.arrays.append(np.ascontiguousarray(a))
        return {"__ndarray__": f"arrays/{len(self.arrays) - 1}.npy"}

    def encode(self, obj, where="the object"):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int) and not isinstance(obj, np.integer):
            return obj
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"__float__": repr(obj)}
        if isinstance(obj, np.generic):
            return {"__npscalar__": obj.dtype.str, "value": self.encode(obj.item())}
        if isinstance(obj, type) and f"numpy.{obj.__name__}" in _NUMPY_TYPES:
            return {"__type__": f"numpy.{obj.__name__}"}
        if isinstance(obj, np.dtype):
            return {"__dtype__": obj.str}
        if isinstance(obj, pathlib.PurePath):
            return {"__path__": str(obj)}
        if isinstance(obj, tuple):
            return {"__tuple__": [self.encode(v, where) for v in obj]}
        if isinstance(obj, list):
            return [self.encode(v, where) for v in obj]
        if isinstance(obj, (set, frozenset)):
            tag = "__set__" if isinstance(obj, set) else "__frozenset__"
            return {tag: [self.encode(v, where) for v in sorted(obj, key=repr)]}
        if isinstance(obj, dict):
            return {
                "__dict__": [
                    [self.encode(k, where), self.encode(v, f"{where}[{k!r}]")]
                    for k, v in obj.items()
                ]
            }
        if isinstance(obj, np.ndarray):
            return self.array(obj)
        if sp.issparse(obj):
            m = obj.tocsr() if obj.format not in ("csr", "csc") else obj
            return {
                "__sparse__": m.format,
                "shape": list(m.shape),
                "data": self.array(m.data),
                "indices": self.array(m.indices),
                "indptr": self.array(m.indptr),
            }
        if isinstance(obj, torch.Tensor):
            return self.tensor(obj)
        name = _type_name(obj)
        if name == _ZLPR_TYPE:
            return {"__estimator__": name, "state": _encode_zlpr(obj, self)}
        if name == _EMBEDDER_TYPE:
            check_is_fitted(obj)
            params = self.encode(obj.get_params(deep=False), "TransformerEmbedder")
            return {"__estimator__": name, "state": {"params": params}}
        if name in _SKLEARN_TYPES:
            state = {
                k: self.encode(v, f"{type(obj).__name__}.{k}")
                for k, v in vars(obj).items()
            }
            return {"__estimator__": name, "state": state}
        if callable(obj):
            raise TypeError(
                f"Cannot save {where}: it is a function or callable object "
                f"({name}), and this format stores no code. Use a named, "
                "built-in option instead (for example TfidfVectorizer's own "
                "tokenizer), or keep this step outside the saved model."
            )
        raise TypeError(
            f"Cannot save {where}: objects of type {name} are not supported by "
            "sklearn_zlpr.save (no pickle). Supported: ZLPRClassifier, Pipeline "
            f"and the transformers {sorted(t.rsplit('.', 1)[1] for t in _SKLEARN_TYPES)}."
        )

    def tensor(self, t):
        t = t.detach().cpu()
        if t.dtype == torch.bfloat16:  # numpy has no bfloat16: keep the bits
            return {"__bfloat16__": self.array(t.view(torch.int16).numpy())}
        return {"__tensor__": self.array(t.numpy())}


def _encode_zlpr(clf, writer):
    """A fitted ZLPRClassifier: parameters, fitted attributes, weights."""
    check_is_fitted(clf)
    params = clf.get_params(deep=False)
    if not isinstance(params["loss"], str):
        raise TypeError(
            "Cannot save a ZLPRClassifier whose loss is a torch module "
            f"({type(params['loss']).__name__}): modules are code. Use a loss "
            "name (sklearn_zlpr.losses.LOSSES)."
        )
    if params["callbacks"]:
        raise TypeError(
            "Cannot save a ZLPRClassifier with callbacks (they are code); set "
            "callbacks=None on the fitted estimator before saving "
            "(clf.set_params(callbacks=None))."
        )
    fitted = {
        k: getattr(clf, k)
        for k in (
            "classes_",
            "n_features_in_",
            "feature_names_in_",
            "encoder_",
            "solver_",
            "n_iter_",
            "threshold_",
            "top_k_",
            "min_labels_",
            "device_",
            "interrupted_",
            "_multilabel",
            "_link",
            "_seed",
        )
        if hasattr(clf, k)
    }
    state = {
        "params": writer.encode(params, "ZLPRClassifier's parameters"),
        "fitted": writer.encode(fitted),
        "criterion_reduction": getattr(clf._criterion, "reduction", "mean"),
    }
    if clf.solver_ == "minibatch":
        model = clf._model
        settings = {
            k: v for k, v in model.settings_.items() if k not in ("lr_scheduler",)
        }
        settings["amp_dtype"] = None if settings["amp_dtype"] is None else "bfloat16"
        history = json.loads(json.dumps(list(clf.net_.history), default=_jsonable))
        steps = history[-1].get("train_batch_count", 1) if history else 1
        state["network"] = {
            "settings": writer.encode(settings),
            "columns": writer.encode(model.columns_),
            "batch_size": clf.batch_size_,
            "steps_per_epoch": steps,
            "history": history,
            "weights": writer.encode(
                {k: v for k, v in clf.net_.module_.state_dict().items()}
            ),
            # What continued training (partial_fit, warm_start) reads: the
            # optimizers' moments and the batch order's generator.
            "optimizers": writer.encode(
                {
                    name: getattr(clf.net_, name).state_dict()
                    for name in ("optimizer_", "optimizer_sparse_")
                    if hasattr(clf.net_, name)
                }
            ),
            "batch_order": writer.encode(
                clf.net_.iterator_train__generator.get_state()
            ),
        }
    else:
        state["linear"] = writer.encode(
            {
                k: getattr(clf, k)
                for k in ("coef_", "intercept_", "C_", "feature_scaled_")
            }
        )
    return state


def _jsonable(value):
    """json.dumps' fallback for history values: numpy scalars, else their repr."""
    return value.item() if isinstance(value, np.generic) else repr(value)


# --------------------------------------------------------------------------
# Decoding
class _Reader:
    def __init__(self, archive, trusted):
        self.archive = archive
        self.trusted = frozenset(trusted or ())

    def array(self, node):
        if "__strarray__" in node or "__objarray__" in node:
            values = node.get("__strarray__", node.get("__objarray__"))
            out = np.empty(len(values), dtype=object)
            out[:] = values
            return out.reshape(node["shape"])
        name = node["__ndarray__"]
        if not isinstance(name, str) or not name.startswith("arrays/"):
            raise ValueError(f"bad array reference {name!r}")
        with self.archive.open(name) as f:
            return np.load(io.BytesIO(f.read()), allow_pickle=False)

    def decode(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict) or len(node) == 0:
            raise ValueError(f"unexpected node {node!r:.80}")
        tag = next(iter(node))
        if tag == "__float__":
            return float(node[tag])
        if tag == "__npscalar__":
            return np.dtype(node[tag]).type(self.decode(node["value"]))
        if tag == "__type__":
            if node[tag] not in _NUMPY_TYPES:
                raise UntrustedTypeError(f"type {node[tag]!r} is not allowed")
            return _NUMPY_TYPES[node[tag]]
        if tag == "__dtype__":
            dtype = np.dtype(node[tag])
            if dtype.kind == "O":
                raise UntrustedTypeError("object dtypes are not allowed")
            return dtype
        if tag == "__path__":
            return pathlib.Path(node[tag])
        if tag == "__tuple__":
            return tuple(self.decode(v) for v in node[tag])
        if tag == "__set__":
            return {self.decode(v) for v in node[tag]}
        if tag == "__frozenset__":
            return frozenset(self.decode(v) for v in node[tag])
        if tag == "__dict__":
            return {self.decode(k): self.decode(v) for k, v in node[tag]}
        if tag in ("__ndarray__", "__strarray__", "__objarray__"):
            return self.array(node)
        if tag == "__sparse__":
            fmt = {"csr": sp.csr_matrix, "csc": sp.csc_matrix}[node[tag]]
            return fmt(
                (
                    self.array(node["data"]),
                    self.array(node["indices"]),
                    self.array(node["indptr"]),
                ),
                shape=tuple(node["shape"]),
            )
        if tag == "__tensor__":
            return torch.from_numpy(np.array(self.array(node[tag])))
        if tag == "__bfloat16__":
            bits = torch.from_numpy(np.array(self.array(node[tag])))
            return bits.view(torch.bfloat16)
        if tag == "__estimator__":
            return self.estimator(node[tag], node["state"])
        raise ValueError(f"unknown tag {tag!r}")

    def _class(self, name):
        allowed = name in _SKLEARN_TYPES or name in (_ZLPR_TYPE, _EMBEDDER_TYPE)
        if not (allowed or name in self.trusted):
            raise UntrustedTypeError(
                f"The model file asks for the type {name!r}, which "
                "sklearn_zlpr.load does not create by default. If you trust the "
                f"file, pass trusted=[{name!r}]; nothing was imported or run."
            )
        module, _, qualname = name.rpartition(".")
        cls = getattr(import_module(module), qualname, None)
        if not isinstance(cls, type):
            raise UntrustedTypeError(f"{name!r} is not a class")
        return cls

    def estimator(self, name, state):
        cls = self._class(name)
        if name == _ZLPR_TYPE:
            return _decode_zlpr(cls, state, self)
        if name == _EMBEDDER_TYPE:
            params = self.decode(state["params"])
            params["device"] = _load_device(params["device"])
            return cls(**params).fit(["(loading the pretrained encoder)"])
        obj = cls.__new__(cls)
        obj.__dict__.update({k: self.decode(v) for k, v in state.items()})
        return obj


def _decode_zlpr(cls, state, reader):
    from ._decision import DecisionRule
    from ._linear_model import LinearStrategy
    from ._neural import STRATEGIES, _seeded_torch, resolve_settings
    from .losses import make_criterion

    params = reader.decode(state["params"])
    fitted = reader.decode(state["fitted"])
    clf = cls(**params)
    clf.__dict__.update(fitted)
    n_labels = len(clf.classes_)  # the network's outputs, 1-D targets included
    criterion = make_criterion(
        clf.loss,
        n_labels=n_labels,
        label_smoothing=clf.label_smoothing,
        label_weight=clf.label_weights,
        sample_weighted=state["criterion_reduction"] == "none",
    )
    model_params = {**params, "solver": clf.solver_}
    if "linear" in state:
        model = LinearStrategy(model_params, clf.encoder_)
        model.__dict__.update(reader.decode(state["linear"]))
        model.device_ = "cpu"
        model.n_iter_ = clf.n_iter_
    else:
        net_state = state["network"]
        saved = reader.decode(net_state["settings"])
        device = _load_device(params["device"])
        # The settings as fit resolved them, on this machine's device: the
        # saved batch size and steps per epoch give the same schedule.
        resolve_params = {**params, "device": device}
        resolve_params["batch_size"] = net_state["batch_size"]
        if saved["amp_dtype"] is not None and not device.startswith("cuda"):
            resolve_params["mixed_precision"] = False  # bfloat16 AMP is CUDA's
        settings = resolve_settings(
            resolve_params,
            clf.encoder_,
            n_train=net_state["steps_per_epoch"] * net_state["batch_size"],
        )
        settings["columns"] = saved["columns"]
        model = STRATEGIES[clf.encoder_]({**params, "device": device}, clf.encoder_)
        model.settings_ = settings
        rule = DecisionRule(clf.threshold_, clf.top_k_, clf.min_labels_, clf.max_labels)
        shape_x = _Shape((0, getattr(clf, "n_features_in_", 0)))  # (texts: none)
        shape_y = _Shape((0, n_labels))
        columns = reader.decode(net_state["columns"])
        model._build(
            shape_x,
            shape_y,
            criterion,
            rule,
            clf._seed,
            columns,
            params["early_stopping"],
        )
        net = model.net_
        with _seeded_torch(clf._seed, device):
            net.initialize()
        weights = reader.decode(net_state["weights"])
        net.module_.load_state_dict({k: v.to(device) for k, v in weights.items()})
        for name, value in reader.decode(net_state["optimizers"]).items():
            getattr(net, name).load_state_dict(value)
        net.iterator_train__generator.set_state(reader.decode(net_state["batch_order"]))
        from skorch.history import History

        net.history = History(net_state["history"])
        net.train_split = None
    clf._model, clf._criterion = model, criterion
    clf.__dict__.update(model.fitted_attributes())
    return clf


class _Shape:
    """Stands in for X or Y where only ``.shape`` is read (rebuilding a net)."""

    def __init__(self, shape):
        self.shape = shape


def _load_device(device):
    """The device to load onto: the saved one, or the CPU where it is missing."""
    from ._validation import resolve_device

    cuda = isinstance(device, str) and device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        warnings.warn(
            f"The model was trained with device={device!r}; no CUDA device "
            "is available here, so it is loaded on the CPU.",
            UserWarning,
            stacklevel=4,
        )
        return "cpu"
    return resolve_device(device)


# --------------------------------------------------------------------------
# Public API
def save(obj, path):
    """Save a fitted model to a file, without pickle.

    Parameters
    ----------
    obj : ZLPRClassifier or Pipeline
        A fitted :class:`~sklearn_zlpr.ZLPRClassifier`, or a fitted
        ``Pipeline`` of scikit-learn text transformers (``TfidfVectorizer``,
        ``CountVectorizer``, ``HashingVectorizer``, ``TfidfTransformer``,
        ``StandardScaler``, ``MaxAbsScaler``, ``Normalizer``) ending in one;
        ``MultiLabelBinarizer`` and the transformers on their own are accepted
        too. For a ``GridSearchCV``, save its ``best_estimator_``.
    path : str or path-like
        The file to write (``.zlpr`` by convention). It is written to a
        temporary file first and moved into place, so a failed save never
        leaves a partial file.

    Returns
    -------
    path : str
        The path written.

    See Also
    --------
    load : Read it back.

    Notes
    -----
    The file is a zip archive of ``manifest.json`` (the format version, the
    versions of the software that wrote it, the object as a JSON tree) and
    ``.npy`` arrays written with ``allow_pickle=False``. Functions (custom
    tokenizers, callbacks, loss modules) are code and are refused with a
    ``TypeError``.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from sklearn_zlpr import ZLPRClassifier, load, save
    >>> X, Y = make_multilabel_classification(n_samples=60, random_state=0)
    >>> clf = ZLPRClassifier().fit(X, Y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.zlpr")
    >>> _ = save(clf, path)
    >>> bool((load(path).predict(X) == clf.predict(X)).all())
    True
    """
    if _type_name(obj) == "sklearn.model_selection._search.GridSearchCV" or (
        _type_name(obj) == "sklearn.model_selection._search.RandomizedSearchCV"
    ):
        raise TypeError(
            "Save the search's best_estimator_ (save(search.best_estimator_, "
            "path)): a search object holds its results table and cross-"
            "validation objects, which this format does not store."
        )
    writer = _Writer()
    tree = writer.encode(obj)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": _versions(),
        "object": tree,
    }
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".zlpr")
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w") as zf:
            zf.writestr("manifest.json", json.dumps(manifest))
            for i, a in enumerate(writer.arrays):
                buf = io.BytesIO()
                np.save(buf, a, allow_pickle=False)
                zf.writestr(f"arrays/{i}.npy", buf.getvalue())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def load(path, trusted=None):
    """Load a model saved by :func:`save`, creating only allowed types.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.
    trusted : list of str, default=None
        Further class names (``"module.Class"``) to accept, beyond the
        allow-list (``ZLPRClassifier``, ``Pipeline`` and the text
        transformers listed in :func:`save`). Only name classes whose code
        you trust.

    Returns
    -------
    obj : object
        The saved object; its predictions equal the saved object's.

    Raises
    ------
    UntrustedTypeError
        When the file names a type that is neither allowed nor trusted
        (nothing from the file is imported or run).
    ValueError
        When the file is not a model file, is damaged, or comes from a newer
        format version.

    See Also
    --------
    save : Write a model file.

    Notes
    -----
    A model trained on a GPU loads on a machine without one: its weights are
    mapped to the CPU (with a warning) and ``device_`` says so. A file written
    by other versions of the package, torch or scikit-learn loads with a
    ``UserWarning`` naming them.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from sklearn_zlpr import ZLPRClassifier, load, save
    >>> X, Y = make_multilabel_classification(n_samples=60, random_state=0)
    >>> path = save(ZLPRClassifier().fit(X, Y), os.path.join(tempfile.mkdtemp(), "m.zlpr"))
    >>> load(path).classes_.tolist()
    [0, 1, 2, 3, 4]
    """
    path = os.fspath(path)
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ValueError(
            f"{path} is not a model file written by sklearn_zlpr.save ({exc}). "
            "Files from 'sklearn-zlpr fit' before version 0.1 are pickles: see "
            "docs/persistence.md."
        ) from None
    with archive:
        try:
            manifest = json.loads(archive.read("manifest.json").decode("utf-8"))
        except (
            KeyError,
            ValueError,
            RecursionError,
            EOFError,
            zipfile.BadZipFile,
            OSError,
        ) as exc:
            raise ValueError(
                f"{path} is not a model file written by sklearn_zlpr.save: no "
                f"readable manifest.json ({exc})."
            ) from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ValueError(
                f"{path} is not a model file written by sklearn_zlpr.save."
            )
        version = manifest.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ValueError(
                f"{path} has format version {version!r}; this sklearn-zlpr reads "
                f"up to {FORMAT_VERSION}. Upgrade sklearn-zlpr to load it."
            )
        _check_versions(manifest.get("versions", {}), path)
        reader = _Reader(archive, trusted)
        try:
            return reader.decode(manifest["object"])
        except UntrustedTypeError:
            raise
        # Any damage in an untrusted file ends in one clear error, whatever
        # library call it reaches (zip, json, numpy, torch).
        except Exception as exc:  # noqa: BLE001
            raise ValueError(
                f"{path} is damaged or not a model file written by "
                f"sklearn_zlpr.save: {type(exc).__name__}: {exc}"
            ) from None


def _check_versions(saved, path):
    here = _versions()
    differ = [
        f"{name} {saved.get(name)} (here {here[name]})"
        for name in ("sklearn-zlpr", "torch", "scikit-learn")
        if saved.get(name) != here[name]
    ]
    if differ:
        warnings.warn(
            f"{path} was written with other versions: {', '.join(differ)}. It "
            "usually loads and predicts the same; check its predictions.",
            UserWarning,
            stacklevel=3,
        )
