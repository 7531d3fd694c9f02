"""Export a fitted ZLPRClassifier to ONNX, to serve its scores without torch.

:func:`export_onnx` writes the fitted model as an ONNX graph whose one output,
``"scores"``, is :meth:`ZLPRClassifier.decision_function`; :func:`onnx_inputs`
turns X into that graph's inputs. ``onnx`` (to export) and ``onnxruntime`` (to
run the graph) are optional: ``pip install "sklearn-zlpr[export]"``.

Conventions
-----------
Every numeric model is an affine first layer ``h = x W + b`` followed by the
network's head: the linear model has ``W = coef_.T``, ``b = intercept_`` and no
head; the network's ``W`` is its embedding table (sparse X) or input weight
(dense X), and its head the activations and linear layers after it (dropout
is off at inference). The graph's inputs depend on ``input_format``:

* ``"sparse"``: CSR rows as :class:`torch.nn.EmbeddingBag` reads them.
  ``indices`` (int64, shape ``(nnz,)``): the column of each stored value, row
  after row; ``offsets`` (int64, ``(n_samples,)``): where each row starts in
  ``indices``, the CSR ``indptr[:-1]``; ``weights`` (float32, ``(nnz,)``): the
  stored values. The graph gathers the rows of ``W`` and sums them per sample
  (``ScatterND`` with ``reduction="add"``): X is never densified.
* ``"dense"``: ``X`` (float32, ``(n_samples, n_features)``).
* ``"texts"`` (the transformer encoder): the tokenizer's ``input_ids``,
  ``attention_mask`` and, when it makes them, ``token_type_ids`` (int64,
  ``(n_samples, n_tokens)``).

The output ``scores`` is float32 of shape ``(n_samples, n_labels)``, or
``(n_samples,)`` (``s_1 - s_0``) for a binary 1-D target. The linear model is
evaluated in float64 inside the graph, as ``decision_function`` does, then
cast to float32; the network in float32, as torch does. The graphs use ONNX
opset :data:`OPSET`.
"""

import copy
import io
import json
import os
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import StrOptions, validate_params
from sklearn.utils.validation import check_is_fitted

#: The ONNX opset of the exported graphs (``ScatterND`` with a reduction
#: needs 16; onnxruntime 1.17 and later run 17).
OPSET = 17

#: Keys of the exported model's ``metadata_props``.
_FORMAT, _N_FEATURES, _MAX_LENGTH, _CLASSES = (
    f"sklearn_zlpr.{key}"
    for key in ("input_format", "n_features_in", "max_length", "classes")
)

_INSTALL_HINT = 'Install it with: pip install "sklearn-zlpr[export]".'


def _require_onnx():
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"Exporting to ONNX needs the 'onnx' package. {_INSTALL_HINT}"
        ) from exc
    return onnx


# ---------------------------------------------------------------- the model
def _check_estimator(estimator):
    from ._classifier import ZLPRClassifier

    if isinstance(estimator, Pipeline):
        raise TypeError(
            "export_onnx exports a fitted ZLPRClassifier, not a Pipeline: export "
            "its last step, export_onnx(pipeline[-1], path), and keep the steps "
            "before it in Python: onnx_inputs(session, pipeline[:-1].transform(X))."
        )
    if not isinstance(estimator, ZLPRClassifier):
        raise TypeError(
            "export_onnx exports a fitted ZLPRClassifier; got "
            f"{type(estimator).__name__}."
        )
    check_is_fitted(estimator)


def _binary(estimator):
    """Whether decision_function returns ``s_1 - s_0`` (binary 1-D target)."""
    return not estimator._multilabel and len(estimator.classes_) == 2


def _numpy(tensor):
    return tensor.detach().cpu().numpy().copy()


def _head_layers(head):
    """The head's layers as ("linear", W, b) and activation names; no dropout."""
    nn = torch.nn
    simple = {nn.ReLU: "Relu", nn.Tanh: "Tanh", nn.Sigmoid: "Sigmoid"}
    layers = []
    for layer in head.layers:
        if isinstance(layer, (nn.Dropout, nn.Identity)):
            continue  # identities at inference
        if isinstance(layer, nn.Linear) and layer.bias is not None:
            layers.append(("linear", _numpy(layer.weight), _numpy(layer.bias)))
        elif type(layer) in simple:
            layers.append(simple[type(layer)])
        elif isinstance(layer, nn.GELU) and layer.approximate == "none":
            layers.append("gelu")
        else:
            raise ValueError(
                f"export_onnx cannot export the layer {layer!r} of the network's "
                "head (ReLU, GELU, Tanh, Sigmoid, Identity, Dropout and Linear "
                "layers are supported)."
            )
    return layers


def _numeric_layers(estimator):
    """``(W, column_index, b, head, dtype)`` of a linear model or numeric MLP.

    ``W`` has a row per feature, or per entry of ``column_index`` (which maps
    each feature to its row) when the embedding table has rows for the
    training columns only.
    """
    from ._modules import DenseMLP, SparseMLP

    if estimator.solver_ != "minibatch":  # the linear model
        W, b = estimator.coef_.T, estimator.intercept_
        return np.asarray(W, np.float64), None, np.asarray(b, np.float64), [], "double"
    module = estimator.net_.module_
    if isinstance(module, SparseMLP):
        bag = module.embedding
        if bag.mode != "sum" or bag.max_norm is not None:
            raise ValueError(
                "export_onnx supports the sum-mode embedding bag of SparseMLP "
                f"only; got mode={bag.mode!r}, max_norm={bag.max_norm!r}."
            )
        W = _numpy(bag.weight)
        if bag.padding_idx is not None:  # the bag skips it: a zero row
            W[bag.padding_idx] = 0.0
        index = module.column_index
        index = None if index is None else _numpy(index).astype(np.int64)
    elif isinstance(module, DenseMLP):
        W, index = _numpy(module.weight), None
    else:
        raise TypeError(
            "export_onnx exports the SparseMLP, DenseMLP and TransformerMLP "
            f"networks of ZLPRClassifier; this one's module is "
            f"{type(module).__name__}."
        )
    return W, index, _numpy(module.bias), _head_layers(module.head), "float"


class _Graph:
    """A small ONNX graph builder: named constants, one output per node."""

    def __init__(self, onnx):
        self.onnx = onnx
        self.nodes, self.initializers, self._count = [], [], 0

    def _name(self, hint):
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value, hint="const"):
        name = self._name(hint)
        array = np.asarray(value)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def op(self, op_type, *inputs, out=None, **attrs):
        out = out or self._name(op_type.lower())
        node = self.onnx.helper.make_node(op_type, list(inputs), [out], **attrs)
        self.nodes.append(node)
        return out


def _first_layer_sparse(g, W, index, b, dtype):
    """``x W + b`` from the inputs ``indices``, ``offsets`` and ``weights``."""
    T = g.onnx.TensorProto
    indices = "indices" if index is None else g.op("Gather", g.const(index), "indices")
    rows = g.op("Gather", g.const(W, "W"), indices)  # (nnz, d)
    weights = "weights" if dtype == "float" else g.op("Cast", "weights", to=T.DOUBLE)
    one = g.const(np.array([1], np.int64))
    terms = g.op("Mul", rows, g.op("Unsqueeze", weights, one))
    # Each row's sum over its stored values: the difference of a cumulative
    # sum at the row's end and start (rows are contiguous runs, in CSR order).
    # Not ScatterND(reduction="add"): onnxruntime's CPU kernel lost updates
    # now and then (a whole row's scores off by 10 %). The cumulative sum is
    # in float64, so its rounding stays far below float32's.
    if dtype == "float":
        terms = g.op("Cast", terms, to=T.DOUBLE)
    cumsum = g.op("CumSum", terms, g.const(np.int64(0)))
    zero_row = g.op(
        "ConstantOfShape",
        g.op(
            "Concat",
            one,
            g.op("Slice", g.op("Shape", terms), one, g.const(np.array([2], np.int64))),
            axis=0,
        ),
        value=g.onnx.numpy_helper.from_array(np.zeros(1, np.float64)),
    )
    cumsum = g.op("Concat", zero_row, cumsum, axis=0)  # (nnz + 1, d)
    nnz = g.op("Shape", "indices")
    ends = g.op(
        "Concat",
        g.op("Slice", "offsets", one, g.const(np.array([2**62], np.int64))),
        nnz,
        axis=0,
    )
    h = g.op(
        "Sub",
        g.op("Gather", cumsum, ends, axis=0),
        g.op("Gather", cumsum, "offsets", axis=0),
    )
    if dtype == "float":
        h = g.op("Cast", h, to=T.FLOAT)
    return g.op("Add", h, g.const(b, "b"))


def _first_layer_dense(g, W, index, b, dtype):
    """``X W + b`` from the input ``X``."""
    X = "X" if dtype == "float" else g.op("Cast", "X", to=g.onnx.TensorProto.DOUBLE)
    if index is not None:  # a row of the table per feature
        W = W[index]
    return g.op("Gemm", X, g.const(W, "W"), g.const(b, "b"))


def _numeric_model(estimator, input_format, onnx):
    W, index, b, head, dtype = _numeric_layers(estimator)
    float_type = np.float64 if dtype == "double" else np.float32
    W, b = W.astype(float_type), b.astype(float_type)
    T = onnx.TensorProto
    g = _Graph(onnx)
    n_features = estimator.n_features_in_
    if input_format == "sparse":
        inputs = [
            onnx.helper.make_tensor_value_info("indices", T.INT64, ["nnz"]),
            onnx.helper.make_tensor_value_info("offsets", T.INT64, ["n_samples"]),
            onnx.helper.make_tensor_value_info("weights", T.FLOAT, ["nnz"]),
        ]
        h = _first_layer_sparse(g, W, index, b, dtype)
    else:
        inputs = [
            onnx.helper.make_tensor_value_info("X", T.FLOAT, ["n_samples", n_features])
        ]
        h = _first_layer_dense(g, W, index, b, dtype)
    for layer in head:
        if layer == "gelu":  # exact GELU: x (1 + erf(x / sqrt(2))) / 2
            erf = g.op("Erf", g.op("Div", h, g.const(np.float32(np.sqrt(2.0)))))
            half_x = g.op("Mul", h, g.const(np.float32(0.5)))
            h = g.op("Mul", half_x, g.op("Add", erf, g.const(np.float32(1.0))))
        elif isinstance(layer, str):
            h = g.op(layer, h)
        else:
            _, weight, bias = layer
            h = g.op("Gemm", h, g.const(weight, "W"), g.const(bias, "b"), transB=1)
    if dtype == "double":  # decision_function's float32 scores
        h = g.op("Cast", h, to=T.FLOAT)
    n_labels = W.shape[1] if not head else head[-1][1].shape[0]
    shape = ["n_samples", n_labels]
    if _binary(estimator):  # s_1 - s_0, in float32 as decision_function
        positive = g.op("Gather", h, g.const(np.int64(1)), axis=1)
        negative = g.op("Gather", h, g.const(np.int64(0)), axis=1)
        h, shape = g.op("Sub", positive, negative), ["n_samples"]
    g.op("Identity", h, out="scores")
    output = onnx.helper.make_tensor_value_info("scores", T.FLOAT, shape)
    graph = onnx.helper.make_graph(
        g.nodes, "zlpr_scores", inputs, [output], g.initializers
    )
    return onnx.helper.make_model(
        graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)]
    ), {_N_FEATURES: str(n_features)}


class _Scores(torch.nn.Module):
    """``decision_function`` of a module called with keyword tensors."""

    def __init__(self, module, names, binary):
        super().__init__()
        self.module, self.names, self.binary = module, names, binary

    def forward(self, *inputs):
        s = self.module(**dict(zip(self.names, inputs))).float()
        return s[:, 1] - s[:, 0] if self.binary else s


def _transformer_model(estimator, onnx):
    from ._hf import tokenize

    module = copy.deepcopy(estimator.net_.module_).to("cpu").eval()
    # An example with padding, so that the trace keeps the attention mask.
    example = tokenize(estimator.tokenizer_, ["a b c d", "a"], estimator.max_length)
    names = list(example)
    wrapper = _Scores(module, names, _binary(estimator))
    axes = {name: {0: "n_samples", 1: "n_tokens"} for name in names}
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            # The TorchScript exporter's deprecation notice and its notes.
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", "Exporting aten::index", UserWarning)
            torch.onnx.export(
                wrapper,
                tuple(example[name] for name in names),
                buffer,
                dynamo=False,
                input_names=names,
                output_names=["scores"],
                dynamic_axes={**axes, "scores": {0: "n_samples"}},
                opset_version=OPSET,
            )
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            "torch could not export this transformer to ONNX with its "
            "TorchScript-based exporter (torch.onnx.export(dynamo=False)); "
            f"export the numeric models only. ({type(exc).__name__}: {exc})"
        ) from exc
    return onnx.load_from_string(buffer.getvalue()), {
        _MAX_LENGTH: str(estimator.max_length)
    }


@validate_params(
    {
        "estimator": "no_validation",
        "path": [str, os.PathLike, None],
        "input_format": [StrOptions({"auto", "sparse", "dense"})],
    },
    prefer_skip_nested_validation=True,
)
def export_onnx(estimator, path=None, *, input_format="auto"):
    """Export a fitted ZLPRClassifier's ``decision_function`` as an ONNX model.

    The graph reproduces the fitted model at inference (dropout off): the
    linear model (``coef_``, ``intercept_``), the network over sparse or dense
    rows (``net_.module_``), or the transformer network over token ids. Its
    one output, ``"scores"``, is ``decision_function(X)``: float32 of shape
    ``(n_samples, n_labels)``, or ``(n_samples,)`` for a binary 1-D target.
    The decision rule (``threshold_``, ``top_k_``, ``min_labels_``) and the
    probability link stay in Python: apply them to the scores.

    Parameters
    ----------
    estimator : ZLPRClassifier
        A fitted classifier. For a :class:`~sklearn.pipeline.Pipeline`,
        export its last step and keep the steps before it (the vectorizer)
        in Python.
    path : str or path-like, default=None
        Where to write the model (a ``.onnx`` file); None writes nothing.
    input_format : {"auto", "sparse", "dense"}, default="auto"
        The graph's inputs, for the linear model and the networks over
        numeric rows. ``"sparse"``: CSR rows as ``indices`` (int64,
        ``(nnz,)``), ``offsets`` (int64, ``(n_samples,)``, the CSR
        ``indptr[:-1]``) and ``weights`` (float32, ``(nnz,)``), never
        densified. ``"dense"``: ``X`` (float32, ``(n_samples, n_features)``).
        ``"auto"``: as the model was fitted, ``"sparse"`` for
        ``encoder_="embedding_bag"`` (sparse X) and ``"dense"`` otherwise.
        The transformer network (``encoder_="transformer"``) takes the
        tokenizer's ``input_ids``, ``attention_mask`` and, if it makes them,
        ``token_type_ids`` (int64, ``(n_samples, n_tokens)``): only
        ``"auto"`` applies.

    Returns
    -------
    model : onnx.ModelProto
        The exported model (opset 17), also written to ``path`` if given. Its
        ``metadata_props`` record the input format, the number of features
        or the tokenizer's ``max_length``, and ``classes_`` (as JSON), which
        :func:`onnx_inputs` reads.

    Raises
    ------
    TypeError
        If ``estimator`` is not a ZLPRClassifier (a Pipeline, for example),
        or its network is not one of the package's modules.
    ValueError
        If it is not fitted, if ``input_format`` does not apply to its model,
        or if torch cannot export its transformer.
    ImportError
        If the ``onnx`` package is not installed.

    See Also
    --------
    onnx_inputs : The graph's inputs from X.
    ZLPRClassifier.decision_function : The scores the graph computes.

    Notes
    -----
    Needs the optional ``onnx`` package (``pip install
    "sklearn-zlpr[export]"``, which also installs onnxruntime to run the
    model). The numeric models are built node by node with ``onnx.helper``;
    the transformer is traced by torch's TorchScript-based exporter
    (``torch.onnx.export(dynamo=False)``), with the tokenizer left out: tokenize
    in Python (:func:`onnx_inputs` does it given the tokenizer). The network
    is exported in float32: a model that predicts under bfloat16 mixed
    precision (``mixed_precision``) gets float32 scores from the graph,
    within bfloat16's rounding of its own.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from sklearn_zlpr import ZLPRClassifier, export_onnx, onnx_inputs
    >>> X, Y = make_multilabel_classification(100, n_classes=4, random_state=0)
    >>> clf = ZLPRClassifier().fit(X, Y)
    >>> model = export_onnx(clf)  # export_onnx(clf, "model.onnx") writes a file
    >>> session = onnxruntime.InferenceSession(
    ...     model.SerializeToString(), providers=["CPUExecutionProvider"]
    ... )
    >>> [i.name for i in session.get_inputs()]
    ['X']
    >>> scores = session.run(["scores"], onnx_inputs(session, X[:5]))[0]
    >>> scores.shape, bool(np.allclose(scores, clf.decision_function(X[:5])))
    ((5, 4), True)
    """
    _check_estimator(estimator)
    onnx = _require_onnx()
    from . import __version__

    encoder = estimator.encoder_
    if encoder == "transformer":
        if input_format != "auto":
            raise ValueError(
                "The transformer network takes token ids (input_format='auto'); "
                f"input_format={input_format!r} is for the models over numeric "
                "features."
            )
        input_format = "texts"
        model, meta = _transformer_model(estimator, onnx)
    else:
        if input_format == "auto":
            input_format = "sparse" if encoder == "embedding_bag" else "dense"
        model, meta = _numeric_model(estimator, input_format, onnx)
    meta[_FORMAT] = input_format
    meta[_CLASSES] = json.dumps(np.asarray(estimator.classes_).tolist(), default=str)
    onnx.helper.set_model_props(model, meta)
    model.producer_name, model.producer_version = "sklearn-zlpr", __version__
    model.doc_string = (
        f"decision_function of a fitted ZLPRClassifier (input_format={input_format})"
    )
    onnx.checker.check_model(model)
    if path is not None:
        onnx.save(model, os.fspath(path))
    return model


# ---------------------------------------------------------------- the inputs
def _model_info(model):
    """``(metadata dict, input names)`` of a session, a ModelProto or a path."""
    if hasattr(model, "get_modelmeta") and hasattr(model, "get_inputs"):
        meta = dict(model.get_modelmeta().custom_metadata_map)
        names = [i.name for i in model.get_inputs()]
    else:
        if isinstance(model, (str, os.PathLike)):
            model = _require_onnx().load(os.fspath(model), load_external_data=False)
        if not hasattr(model, "metadata_props") or not hasattr(model, "graph"):
            raise TypeError(
                "model must be an onnxruntime.InferenceSession, an "
                "onnx.ModelProto or the path of an .onnx file; got "
                f"{type(model).__name__}."
            )
        meta = {prop.key: prop.value for prop in model.metadata_props}
        names = [i.name for i in model.graph.input]
    if _FORMAT not in meta:
        raise ValueError(
            "This ONNX model was not written by sklearn_zlpr.export_onnx (its "
            f"metadata has no {_FORMAT!r}); build its inputs yourself."
        )
    return meta, names


@validate_params(
    {
        "model": "no_validation",
        "X": ["array-like", "sparse matrix"],
        "tokenizer": "no_validation",
    },
    prefer_skip_nested_validation=True,
)
def onnx_inputs(model, X, *, tokenizer=None):
    """The inputs of a model exported by :func:`export_onnx`, from X.

    Feed them to ``session.run(["scores"], inputs)``. Sparse X stays sparse:
    its CSR arrays become ``indices``, ``offsets`` and ``weights``.

    Parameters
    ----------
    model : onnxruntime.InferenceSession, onnx.ModelProto or path
        The exported model, whose metadata gives its input format. A path is
        read at every call: when serving, pass the session.
    X : {array-like, sparse matrix} of shape (n_samples, n_features), or list of str
        Samples, as passed to ``decision_function``: numeric rows (sparse or
        dense) for the sparse format, dense rows for the dense format (a
        sparse matrix is refused, not densified), texts for the transformer.
    tokenizer : Hugging Face tokenizer, default=None
        For the transformer: the fitted classifier's ``tokenizer_`` (or the
        same one loaded with ``AutoTokenizer.from_pretrained``); texts are
        cut at the exported ``max_length`` and padded to the longest one.

    Returns
    -------
    inputs : dict of str to ndarray
        ``{"indices": int64, "offsets": int64, "weights": float32}`` (sparse
        format), ``{"X": float32}`` (dense format), or the tokenizer's int64
        arrays named as the model's inputs (texts).

    Raises
    ------
    ValueError
        If X does not fit the model: its number of features, sparse X for the
        dense format, numbers for texts or texts without a tokenizer.

    See Also
    --------
    export_onnx : Export the fitted classifier.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime
    >>> import scipy.sparse as sp
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from sklearn_zlpr import ZLPRClassifier, export_onnx, onnx_inputs
    >>> X, Y = make_multilabel_classification(100, n_classes=4, random_state=0)
    >>> X = sp.csr_matrix(X)
    >>> clf = ZLPRClassifier().fit(X, Y)  # sparse X: input_format="sparse"
    >>> session = onnxruntime.InferenceSession(
    ...     export_onnx(clf).SerializeToString(), providers=["CPUExecutionProvider"]
    ... )
    >>> inputs = onnx_inputs(session, X[:3])
    >>> sorted(inputs), inputs["offsets"]
    (['indices', 'offsets', 'weights'], array([ 0, 17, 36]))
    >>> scores = session.run(["scores"], inputs)[0]
    >>> bool(np.allclose(scores, clf.decision_function(X[:3])))
    True
    """
    meta, names = _model_info(model)
    input_format = meta[_FORMAT]
    if input_format == "texts":
        from ._hf import tokenize
        from ._validation import check_texts

        if tokenizer is None:
            raise ValueError(
                "This model takes token ids: pass tokenizer= the fitted "
                "classifier's tokenizer_ (or the same tokenizer, loaded with "
                "AutoTokenizer.from_pretrained)."
            )
        texts = check_texts(X, "onnx_inputs")
        encoding = tokenize(tokenizer, texts, int(meta[_MAX_LENGTH]))
        missing = [name for name in names if name not in encoding]
        if missing:
            raise ValueError(
                f"The tokenizer does not make the model's inputs {missing}; pass "
                "the tokenizer of the exported classifier."
            )
        return {name: encoding[name].numpy().astype(np.int64) for name in names}
    if isinstance(X, (list, tuple)) and X and isinstance(X[0], str):
        raise ValueError(
            "This model takes numeric features, but X holds texts: transform them "
            "first with the vectorizer the classifier was trained behind."
        )
    if not sp.issparse(X):
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D; got an array of shape {X.shape}.")
    n_features = int(meta[_N_FEATURES])
    if X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, but the model was fitted with {n_features}."
        )
    if input_format == "dense":
        if sp.issparse(X):
            raise ValueError(
                "This model was exported with input_format='dense' and X is "
                "sparse, which is never densified here: export with "
                "input_format='sparse', or densify X yourself."
            )
        return {"X": np.ascontiguousarray(X)}
    X = sp.csr_matrix(X)
    return {
        "indices": X.indices.astype(np.int64),
        "offsets": X.indptr[:-1].astype(np.int64),
        "weights": X.data.astype(np.float32),
    }
