"""Input checks shared by the estimators: texts, numeric X, devices, weights, splits.

Every function here raises a ``TypeError`` or ``ValueError`` that names the
problem and what to do, so that bad input never reaches torch.
"""

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, validate_data


def is_text(X):
    """Whether X looks like texts (a sequence of str) rather than numbers.

    Parameters
    ----------
    X : object
        Anything passed as X: a list, an ndarray, a pandas object, a sparse
        matrix, a torch tensor, ...

    Returns
    -------
    bool
        True for a str, a list or tuple whose first item is a str, and an
        array or pandas object of str/object dtype whose first item is a str.
    """
    if isinstance(X, str):
        return True
    if isinstance(X, (list, tuple)):
        return len(X) > 0 and isinstance(X[0], str)
    if sp.issparse(X) or isinstance(X, torch.Tensor):
        return False
    kind = getattr(getattr(X, "dtype", None), "kind", None)
    if not isinstance(kind, str) or kind not in "OSU":
        return False
    first = X.iloc[0] if hasattr(X, "iloc") else np.asarray(X).ravel()[:1]
    first = first[0] if isinstance(first, np.ndarray) and first.size else first
    return isinstance(first, str)


def check_texts(X, owner):
    """Return X as a 1-D object array of str, or raise a clear TypeError.

    Parameters
    ----------
    X : list, tuple, ndarray or pandas Series of str
        The texts.
    owner : str
        Name of the estimator, for the messages.

    Returns
    -------
    ndarray of object, shape (n_samples,)
        The texts.
    """
    if isinstance(X, str):
        raise TypeError(
            f"{owner} expects a list of texts, got a single str; wrap it in a list."
        )
    if hasattr(X, "to_numpy"):  # pandas Series / single-column DataFrame
        X = X.to_numpy()
    try:
        arr = np.asarray(X, dtype=object)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{owner} expects a list of texts (str).") from exc
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise TypeError(
            f"{owner} expects a 1-D list of texts (str), got an array of shape "
            f"{arr.shape}."
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{owner} got 0 texts; at least one is required.")
    bad = [i for i, t in enumerate(arr) if not isinstance(t, str)]
    if bad:
        raise TypeError(
            f"{owner} expects every item of X to be a str; item {bad[0]} is "
            f"{type(arr[bad[0]]).__name__} ({len(bad)} non-str items in all)."
        )
    return arr


def check_tensor(X, owner):
    """A torch tensor X as a NumPy array (CPU), other X unchanged.

    scikit-learn's checks read a CPU tensor through ``__array__``; a tensor on
    a GPU, or one that requires grad, cannot be read that way, so it gets a
    clear error instead of torch's.

    Parameters
    ----------
    X : object
        The features.
    owner : str
        Name of the estimator, for the messages.

    Returns
    -------
    object
        ``X`` as an ndarray when it was a tensor, else ``X`` itself.
    """
    if not isinstance(X, torch.Tensor):
        return X
    if X.layout != torch.strided:
        raise TypeError(
            f"{owner} got a sparse torch tensor; pass a scipy.sparse CSR matrix "
            "instead (it is never densified)."
        )
    if X.device.type != "cpu":
        raise TypeError(
            f"{owner} got a torch tensor on {X.device}; move it to the CPU first "
            "(X.cpu()) or pass a NumPy array. The model itself runs on the "
            "estimator's `device`."
        )
    return X.detach().numpy()


def resolve_encoder(encoder, X):
    """The encoder of ``encoder="auto"``: texts, sparse or dense numbers.

    Parameters
    ----------
    encoder : str
        The ``encoder`` parameter.
    X : object
        The training features.

    Returns
    -------
    str
        ``encoder`` itself unless it is ``"auto"``; then ``"transformer"`` for
        texts, ``"embedding_bag"`` for a sparse matrix and ``"dense"`` else.
    """
    if encoder != "auto":
        return encoder
    if is_text(X):
        return "transformer"
    return "embedding_bag" if sp.issparse(X) else "dense"


def validate_features(estimator, X, encoder, *, reset):
    """X checked for ``encoder``: texts, CSR rows or dense float32 rows.

    Parameters
    ----------
    estimator : estimator
        Gets ``n_features_in_`` at ``reset`` (numeric X), as scikit-learn's
        ``validate_data`` does.
    X : object
        The features.
    encoder : {"embedding_bag", "dense", "transformer"}
        The resolved encoder.
    reset : bool
        Whether this is the first fit (else X must match it).

    Returns
    -------
    X : object ndarray of str, scipy.sparse.csr_matrix or ndarray of float32
        The validated features.
    """
    name = type(estimator).__name__
    X = check_tensor(X, name)
    if encoder == "transformer":
        return check_texts(X, name)
    if is_text(X):
        raise TypeError(
            f"{name} was given texts, but its encoder is {encoder!r}, which "
            "needs numeric features. Vectorise the texts first, for example "
            "make_pipeline(TfidfVectorizer(), ZLPRClassifier()), or use "
            "encoder='transformer' (or 'auto' at fit) to fine-tune a "
            "transformer on raw texts."
        )
    X = validate_data(
        estimator,
        X,
        reset=reset,
        accept_sparse="csr",
        dtype=np.float32,
        ensure_all_finite=True,
    )
    if encoder == "embedding_bag" and not sp.issparse(X):
        X = sp.csr_matrix(X)
    elif encoder == "dense" and sp.issparse(X):
        raise ValueError(
            "encoder='dense' takes dense X but got a sparse matrix, which is "
            "never densified; use encoder='embedding_bag' (or 'auto') for "
            "sparse X, or densify it yourself."
        )
    return X


def resolve_device(device):
    """Resolve a ``device`` parameter to a torch device string.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` is CUDA when available, else the CPU. Anything else must be
        a torch device; a CUDA device on a machine without CUDA is a
        ValueError.

    Returns
    -------
    str
        The device, for example ``"cpu"`` or ``"cuda:0"``.
    """
    if isinstance(device, str) and device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise ValueError(
            f"device must be 'auto' or a torch device string such as 'cpu' or "
            f"'cuda:0'; got {device!r}."
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} but CUDA is not available on this machine; "
            "use device='auto' or device='cpu'."
        )
    return str(resolved)


def check_sample_weight(sample_weight, X, Y, multilabel, owner):
    """Validated sample weights (non-negative, a positive sum).

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,)
        Non-negative weights with a positive sum.
    X : {ndarray, sparse matrix, object ndarray}
        The features (for the length).
    Y : scipy.sparse.csr_matrix of shape (n_samples, n_labels)
        The encoded targets.
    multilabel : bool
        False for 1-D class labels, which need two weighted classes.
    owner : str
        Name of the estimator, for the messages.

    Returns
    -------
    ndarray of float64, shape (n_samples,)
        The weights as given: the network divides them by their mean (its
        learning rate should not depend on their scale), while for the
        converged linear model a weight of 2 must be a repeated row.
    """
    sample_weight = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    if sample_weight.sum() <= 0:
        raise ValueError("sample_weight must have a positive sum; got all zeros.")
    if not multilabel:
        weighted_classes = np.unique(Y[sample_weight > 0].indices)
        if len(weighted_classes) < 2:
            raise ValueError(
                "Only one class has a non-zero sample_weight; "
                f"{owner} needs at least 2 classes for 1-D targets."
            )
    return sample_weight


def validation_split(n_samples, fraction, seed):
    """Indices of a random train / validation split.

    Parameters
    ----------
    n_samples : int
        Rows to split.
    fraction : float
        Share held out for validation, rounded up to whole rows.
    seed : int
        Seed of the permutation.

    Returns
    -------
    train_idx, valid_idx : ndarray of int
        Sorted row indices.
    """
    n_valid = int(np.ceil(fraction * n_samples))
    if n_valid < 1 or n_samples - n_valid < 1:
        raise ValueError(
            f"early_stopping=True holds out validation_fraction={fraction} of the "
            f"{n_samples} training samples, which leaves no training or no "
            "validation sample. Use more data, change validation_fraction, or set "
            "early_stopping=False."
        )
    perm = np.random.RandomState(seed).permutation(n_samples)
    return np.sort(perm[n_valid:]), np.sort(perm[:n_valid])


def training_seed(random_state):
    """The int that seeds a fit: the validation split, torch and batch order.

    Parameters
    ----------
    random_state : int, RandomState instance or None
        The estimator's ``random_state``.

    Returns
    -------
    int
        In ``[0, 2**31 - 1)``.
    """
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
