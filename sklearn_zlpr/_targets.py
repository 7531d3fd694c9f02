"""Target encoding: any accepted ``y`` to one float32 CSR matrix, as a pure function."""

import numpy as np
import scipy.sparse as sp
from sklearn.utils import assert_all_finite, column_or_1d
from sklearn.utils.multiclass import type_of_target

_EXPECTED_Y = (
    "ZLPRClassifier expects y to be a binary indicator matrix of shape "
    "(n_samples, n_labels) with 0/1 entries (dense or scipy sparse), or 1-D class "
    "labels."
)
_BINARIZER_HINT = (
    " To turn lists of label names into an indicator matrix, use "
    "sklearn.preprocessing.MultiLabelBinarizer: "
    "y = MultiLabelBinarizer().fit_transform(label_lists)."
)
_SOFT_RANGE = "Soft targets must lie in [0, 1]."


def encode_targets(y, classes=None, soft=False):
    """Encode ``y`` as a float32 CSR matrix of shape (n_samples, n_labels).

    Nothing is stored anywhere: the caller decides what to keep.

    Parameters
    ----------
    y : {array-like, sparse matrix} of shape (n_samples, n_labels) or (n_samples,)
        A binary indicator matrix (dense or sparse), soft targets in [0, 1]
        (with ``soft``), or 1-D class labels.
    classes : array-like or None, default=None
        For 1-D ``y``: the fixed set of classes (the labels of an earlier fit);
        a label of ``y`` outside it is an error. None takes the classes of
        ``y``. Ignored for indicator ``y``.
    soft : bool, default=False
        Accept soft targets in [0, 1] (for losses that take them).

    Returns
    -------
    Y : scipy.sparse.csr_matrix of float32, shape (n_samples, n_labels)
        One column per label (or per class, one positive per row).
    classes : ndarray of shape (n_labels,)
        ``arange(n_labels)`` for indicator ``y``, else the sorted classes.
    multilabel : bool
        True for indicator (or soft) ``y``, False for 1-D class labels.
    """
    if sp.issparse(y):
        return _encode_sparse(y, soft)
    y_arr = y
    if not isinstance(y, np.ndarray):
        try:
            y_arr = np.asarray(y)
        except ValueError:  # ragged nested lists
            y_arr = np.asarray(y, dtype=object)
    if y_arr.dtype.kind == "f":
        assert_all_finite(y_arr, input_name="y")
    if y_arr.ndim == 2 and y_arr.shape[1] == 1:
        y_arr = column_or_1d(y_arr, warn=True)
    try:
        y_type = type_of_target(y_arr, input_name="y")
    except ValueError as exc:
        raise ValueError(f"{exc} {_EXPECTED_Y}{_BINARIZER_HINT}") from exc
    if (
        soft
        and y_arr.ndim == 2
        and y_type in ("continuous-multioutput", "multilabel-indicator")
    ):
        values = y_arr.astype(np.float64)
        if ((values < 0) | (values > 1)).any():
            raise ValueError(_SOFT_RANGE)
        return (
            sp.csr_matrix(values.astype(np.float32)),
            np.arange(y_arr.shape[1]),
            True,
        )
    if y_arr.ndim == 2 and y_arr.dtype.kind in "OSU":
        raise ValueError(
            "Unknown label type: y holds label names, not 0/1 indicators. "
            f"{_EXPECTED_Y}{_BINARIZER_HINT}"
        )
    if y_type == "multilabel-indicator":
        values = np.unique(y_arr)
        if not np.isin(values, (0, 1)).all():
            raise ValueError(
                f"Unknown label type: indicator y with values {values.tolist()}. "
                f"{_EXPECTED_Y} Map the values to 0 and 1."
            )
        return (
            sp.csr_matrix(y_arr.astype(np.float32)),
            np.arange(y_arr.shape[1]),
            True,
        )
    if y_type in ("binary", "multiclass"):
        return _encode_classes(y_arr, classes)
    if y_type == "unknown" and y_arr.dtype == object:
        raise ValueError(
            "Unknown label type: y looks like lists of labels. "
            f"{_EXPECTED_Y}{_BINARIZER_HINT}"
        )
    hint = ""
    if y_type.startswith("continuous"):
        hint = " Binarise continuous targets first (e.g. y > 0.5)."
    elif y_type == "multiclass-multioutput":
        hint = (
            " For several multi-class outputs, use "
            "sklearn.multioutput.MultiOutputClassifier."
        )
    raise ValueError(f"Unknown label type: {y_type!r}. {_EXPECTED_Y}{hint}")


def encode_like(y, classes, multilabel, soft=False, labels_of=None):
    """Encode ``y`` with the labels of an earlier fit, or raise a clear error.

    Parameters
    ----------
    y : {array-like, sparse matrix}
        Targets as :func:`encode_targets` takes them.
    classes : ndarray
        ``classes_`` of the earlier fit.
    multilabel : bool
        Whether the earlier fit had indicator targets.
    soft : bool, default=False
        Accept soft targets.
    labels_of : str or None, default=None
        The argument's name (``"y_val"``) for the message; None for a
        continued fit (``warm_start``, ``partial_fit``).

    Returns
    -------
    Y : scipy.sparse.csr_matrix of float32, shape (n_samples, len(classes))
        The encoded targets.
    """
    Y, got, got_multilabel = encode_targets(y, None if multilabel else classes, soft)
    if got_multilabel == multilabel and len(got) == len(classes):
        return Y
    if labels_of is not None:
        raise ValueError(
            f"{labels_of} must have the labels of y ({len(classes)} columns or the "
            f"same classes); got shape {Y.shape}."
        )
    raise ValueError(
        f"The labels differ from those of the first fit (classes_ = {classes!r}): "
        "warm_start and partial_fit keep the label set fixed. Refit from scratch "
        "(warm_start=False) to change it."
    )


def _encode_sparse(y, soft):
    Y = sp.csr_matrix(y, dtype=np.float64)
    if Y.shape[1] < 2:
        raise ValueError(
            f"{_EXPECTED_Y} Got a sparse y of shape {Y.shape}; pass 1-D class "
            "labels as a dense 1-D array."
        )
    assert_all_finite(Y.data, input_name="y")
    if soft and ((Y.data < 0) | (Y.data > 1)).any():
        raise ValueError(_SOFT_RANGE)
    if not soft and not np.isin(Y.data, (0.0, 1.0)).all():
        raise ValueError(
            f"Unknown label type: sparse y with values other than 0 and 1. "
            f"{_EXPECTED_Y}"
        )
    Y.eliminate_zeros()
    return Y.astype(np.float32), np.arange(Y.shape[1]), True


def _encode_classes(y_arr, classes):
    if classes is not None:
        classes = np.unique(np.asarray(classes))
        unseen = np.setdiff1d(np.unique(y_arr), classes)
        if unseen.size:
            raise ValueError(
                f"y contains labels {unseen.tolist()} that are not in classes="
                f"{classes.tolist()}; the label set is fixed at the first fit."
            )
        codes = np.searchsorted(classes, y_arr)
    else:
        classes, codes = np.unique(y_arr, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"y has only one class ({classes[0]!r}); ZLPRClassifier needs at least "
            "2 classes for 1-D targets."
        )
    n = len(codes)
    Y = sp.csr_matrix(
        (np.ones(n, dtype=np.float32), codes, np.arange(n + 1)),
        shape=(n, len(classes)),
    )
    return Y, classes, False
