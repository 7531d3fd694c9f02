"""Iterative stratification: cross-validation splits that keep every label's share.

Sechidis, Tsoumakas and Vlahavas, "On the stratification of multi-label data"
(ECML PKDD 2011), Algorithm 1, with one addition: every fold has a fixed
capacity (its size, as ``KFold`` makes them: they differ by at most one row),
so that fold sizes never drift.

The algorithm, as implemented in :func:`iterative_stratification`:

1. Each fold ``f`` of capacity ``c_f`` (``sum_f c_f = n``) wants
   ``D_l * c_f / n`` rows of each label ``l`` (``D_l``: the label's positive
   rows).
2. Repeatedly take the label with the fewest rows not yet assigned (ties: the
   lowest label index). Give each of its unassigned rows, in processing order,
   to the fold that still wants that label most, among the folds with room
   left; ties go to the fold with the most room left, then to the first fold
   in the row's tie order (the fold order, or a random one per row with a
   ``random_state``). A row's assignment lowers every one of its labels' wants
   in that fold.
3. Rows without any label go to the folds with the most room left.

Rare labels are placed first, while every fold still has room and no row of
theirs is placed yet, so a label with at least ``n_splits`` rows reaches every
fold unless all its rows were already placed through rarer labels.

The loop is over rows in Python (one pass, each row placed once); everything
that can be is precomputed with numpy. 100,000 rows x 100 labels (about 3 per
row) take about half a second (``benchmarks/bench_model_selection.py``).
"""

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import check_random_state
from sklearn.utils.validation import _num_samples

__all__ = [
    "MultilabelStratifiedKFold",
    "MultilabelStratifiedShuffleSplit",
    "iterative_stratification",
]


def _check_indicator(y, name="y"):
    """A CSR int8 copy of a 2-D binary indicator matrix, or a clear error."""
    if y is None:
        raise ValueError(
            f"{name} is required: multi-label stratification splits by the labels. "
            "Pass the label indicator matrix (n_samples, n_labels) as y."
        )
    if sp.issparse(y):
        Y = sp.csr_matrix(y)
    else:
        try:
            arr = np.asarray(y)
        except ValueError as exc:  # ragged lists
            raise ValueError(
                f"{name} must be a label indicator matrix of shape "
                "(n_samples, n_labels); got a ragged sequence. Use "
                "sklearn.preprocessing.MultiLabelBinarizer on lists of labels."
            ) from exc
        if arr.ndim != 2:
            raise ValueError(
                f"{name} must be a 2-D label indicator matrix of shape "
                f"(n_samples, n_labels); got an array of shape {arr.shape}. For "
                "single-label targets use sklearn.model_selection.StratifiedKFold; "
                "for lists of labels, MultiLabelBinarizer first."
            )
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"{name} must hold 0/1 numbers; got dtype {arr.dtype}. Use "
                "sklearn.preprocessing.MultiLabelBinarizer on label names."
            )
        Y = sp.csr_matrix(arr)
    if Y.ndim != 2 or Y.shape[1] == 0:
        raise ValueError(f"{name} must have at least one label column; got {Y.shape}.")
    Y.eliminate_zeros()
    if Y.nnz and not np.all(Y.data == 1):
        bad = Y.data[Y.data != 1][0]
        raise ValueError(
            f"{name} must be a binary (0/1) indicator matrix; found the value "
            f"{bad!r}. Threshold or binarize it first."
        )
    Y = Y.astype(np.int8)
    Y.sort_indices()
    return Y


def iterative_stratification(y, capacities, *, random_state=None):
    """Assign rows to folds of given sizes so that each label keeps its share.

    Parameters
    ----------
    y : {array-like, sparse matrix} of shape (n_samples, n_labels)
        Binary label indicator matrix.
    capacities : sequence of int
        The number of rows of each fold; they must sum to ``n_samples``.
    random_state : int, RandomState instance or None, default=None
        None: rows are processed in index order and ties go to the lowest
        fold index (no randomness). Otherwise the rows are processed in a
        random order and ties are broken at random, reproducibly.

    Returns
    -------
    folds : ndarray of shape (n_samples,), dtype int
        The fold of each row; fold ``f`` holds exactly ``capacities[f]`` rows.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_zlpr.model_selection import iterative_stratification
    >>> y = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 1], [1, 1]])
    >>> iterative_stratification(y, [3, 3])
    array([0, 1, 0, 1, 0, 1])
    """
    Y = _check_indicator(y)
    n, n_labels = Y.shape
    capacities = np.asarray(capacities, dtype=np.int64)
    if capacities.ndim != 1 or capacities.size == 0 or np.any(capacities < 0):
        raise ValueError(
            f"capacities must be a non-empty list of non-negative fold sizes; "
            f"got {capacities.tolist()!r}."
        )
    if capacities.sum() != n:
        raise ValueError(
            f"capacities must sum to the number of rows ({n}); they sum to "
            f"{int(capacities.sum())}."
        )
    k = capacities.size
    rng = None if random_state is None else check_random_state(random_state)
    # Processing order of the rows, and each row's fold order for ties.
    order = np.arange(n) if rng is None else rng.permutation(n)
    if rng is None:
        tie_orders = None
    else:
        tie_orders = np.argsort(rng.random_sample((n, k)), axis=1).tolist()
    # Rows of each label in processing order; labels of each row.
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    Yc = Y[order].tocsc()
    rows_of = [
        order[Yc.indices[Yc.indptr[j] : Yc.indptr[j + 1]]].tolist()
        for j in range(n_labels)
    ]
    indptr, indices = Y.indptr.tolist(), Y.indices.tolist()
    counts = np.diff(Yc.indptr).astype(np.int64)
    # Wants per label and fold (python lists: the loop reads them one by one).
    wants = (counts[:, None] * (capacities[None, :] / max(n, 1))).tolist()
    room = capacities.tolist()
    unplaced = counts.copy()  # rows of each label not placed yet
    fold_of = [-1] * n
    default_order = list(range(k))

    while True:
        open_labels = np.flatnonzero(unplaced > 0)
        if not open_labels.size:
            break
        label = int(open_labels[np.argmin(unplaced[open_labels])])
        want = wants[label]
        for row in rows_of[label]:
            if fold_of[row] >= 0:
                continue
            best = -1
            best_want = best_room = 0
            for f in default_order if tie_orders is None else tie_orders[row]:
                r = room[f]
                if r <= 0:
                    continue
                w = want[f]
                if best < 0 or w > best_want or (w == best_want and r > best_room):
                    best, best_want, best_room = f, w, r
            fold_of[row] = best
            room[best] -= 1
            for j in indices[indptr[row] : indptr[row + 1]]:
                wants[j][best] -= 1.0
                unplaced[j] -= 1
    # Rows without labels: to the folds with the most room left.
    folds = np.asarray(fold_of, dtype=np.int64)
    empty = order[folds[order] < 0]
    if empty.size:  # they fill exactly the room left, round-robin over the folds
        fill = np.repeat(np.arange(k), room)
        slot = np.concatenate([np.arange(r) for r in room])
        folds[empty] = fill[np.lexsort((fill, slot))]
    return folds


def _validate_n_splits(n_splits):
    if not isinstance(n_splits, numbers.Integral) or isinstance(n_splits, bool):
        raise TypeError(
            f"n_splits must be an integer, got {n_splits!r} "
            f"({type(n_splits).__name__})."
        )
    if n_splits < 2:
        raise ValueError(
            f"n_splits must be at least 2 (one train/test split needs two "
            f"folds); got n_splits={n_splits}."
        )


def _size(value, n, name):
    """A train/test size as a number of rows (None stays None)."""
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if not 0 < value < n:
            raise ValueError(
                f"{name}={value} must be between 1 and n_samples - 1 = {n - 1} "
                "as a number of rows, or a float in (0, 1)."
            )
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if not 0.0 < value < 1.0:
            raise ValueError(
                f"{name}={value} must be in (0, 1) as a share of the rows, or an "
                "integer number of rows."
            )
        return value
    raise TypeError(f"{name} must be a float, an int or None; got {value!r}.")


def _split_sizes(n, test_size, train_size):
    """(n_train, n_test) as ShuffleSplit computes them: test rounded up."""
    test, train = _size(test_size, n, "test_size"), _size(train_size, n, "train_size")
    if test is None and train is None:
        test = 0.1
    n_test = (
        None
        if test is None
        else (int(np.ceil(test * n)) if isinstance(test, float) else test)
    )
    n_train = (
        None
        if train is None
        else (int(np.floor(train * n)) if isinstance(train, float) else train)
    )
    if n_test is None:
        n_test = n - n_train
    if n_train is None:
        n_train = n - n_test
    if n_train + n_test > n:
        raise ValueError(
            f"train_size and test_size ({n_train} + {n_test} rows) exceed the "
            f"{n} rows; reduce them."
        )
    if n_train < 1 or n_test < 1:
        raise ValueError(
            f"With n_samples={n}, test_size={test_size!r} and "
            f"train_size={train_size!r}, one part would be empty ({n_train} "
            f"train, {n_test} test rows). Adjust the sizes."
        )
    return n_train, n_test


class _MultilabelSplitter(BaseCrossValidator):
    """What the multi-label splitters share: validation and ``get_n_splits``."""

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of splits.

        Parameters
        ----------
        X, y, groups : object
            Ignored; present for API compatibility.

        Returns
        -------
        n_splits : int
            ``n_splits``.

        Examples
        --------
        >>> from sklearn_zlpr.model_selection import MultilabelStratifiedKFold
        >>> MultilabelStratifiedKFold(n_splits=3).get_n_splits()
        3
        """
        return self.n_splits

    def split(self, X, y, groups=None):
        """Generate indices to split data into training and test sets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or list of str
            The samples (only their number is used).
        y : {array-like, sparse matrix} of shape (n_samples, n_labels)
            Binary label indicator matrix; the stratification follows it.
        groups : object
            Ignored; present for API compatibility.

        Yields
        ------
        train : ndarray
            The training row indices of that split.
        test : ndarray
            The test row indices of that split.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_zlpr.model_selection import MultilabelStratifiedKFold
        >>> y = np.array([[1, 0], [1, 1], [0, 1], [1, 0], [0, 1], [1, 1]])
        >>> cv = MultilabelStratifiedKFold(n_splits=3, shuffle=True, random_state=0)
        >>> [len(test) for _, test in cv.split(np.zeros((6, 1)), y)]
        [2, 2, 2]
        """
        self._check_params()
        Y = _check_indicator(y)
        n = _num_samples(X)
        if Y.shape[0] != n:
            raise ValueError(f"X has {n} rows but y has {Y.shape[0]}; they must match.")
        yield from self._iter_splits(Y, n)


class MultilabelStratifiedKFold(_MultilabelSplitter):
    """K-fold cross-validation that keeps every label's share in every fold.

    The multi-label counterpart of :class:`~sklearn.model_selection.StratifiedKFold`:
    iterative stratification (Sechidis et al., 2011) assigns each row to a
    test fold so that each label's positives are spread over the folds in
    proportion to the fold sizes, rare labels first. Fold sizes differ by at
    most one row, as with :class:`~sklearn.model_selection.KFold`.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.
    shuffle : bool, default=False
        Whether to process the rows in a random order and break ties at
        random. Without it the split is a deterministic function of ``y``.
    random_state : int, RandomState instance or None, default=None
        With ``shuffle=True``, seeds the order and the ties (an int gives the
        same folds on every call). Must be None when ``shuffle=False``.

    See Also
    --------
    MultilabelStratifiedShuffleSplit : Random train/test splits, stratified.
    sklearn.model_selection.StratifiedKFold : The single-label version.

    Notes
    -----
    What is guaranteed: every row is in exactly one test fold, and fold sizes
    differ by at most one. What the algorithm aims at (and the tests measure
    on generated and real data): each label's positives per fold within one
    of ``D_l / n_splits`` (exact for the rarest label, which is placed first),
    and every label with at least ``n_splits`` positives present in every test
    fold. Rows without labels are spread over the folds' remaining room.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_zlpr.model_selection import MultilabelStratifiedKFold
    >>> y = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 1], [1, 1]])
    >>> cv = MultilabelStratifiedKFold(n_splits=2)
    >>> for train, test in cv.split(np.zeros((6, 1)), y):
    ...     print(test, y[test].sum(0))
    [0 2 4] [2 2]
    [1 3 5] [2 2]
    """

    def __init__(self, n_splits=5, *, shuffle=False, random_state=None):
        self.n_splits = n_splits
        self.shuffle = shuffle
        self.random_state = random_state

    def _check_params(self):
        _validate_n_splits(self.n_splits)
        if not isinstance(self.shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False; got {self.shuffle!r}.")
        if not self.shuffle and self.random_state is not None:
            raise ValueError(
                "Setting a random_state has no effect since shuffle is False. "
                "Leave random_state at None, or set shuffle=True."
            )

    def _iter_splits(self, Y, n):
        if self.n_splits > n:
            raise ValueError(
                f"Cannot have number of splits n_splits={self.n_splits} greater "
                f"than the number of samples: n_samples={n}."
            )
        k = self.n_splits
        capacities = np.full(k, n // k, dtype=np.int64)
        capacities[: n % k] += 1
        folds = iterative_stratification(
            Y,
            capacities,
            random_state=check_random_state(self.random_state)
            if self.shuffle
            else None,
        )
        indices = np.arange(n)
        for f in range(k):
            test = folds == f
            yield indices[~test], indices[test]


class MultilabelStratifiedShuffleSplit(_MultilabelSplitter):
    """Random train/test splits that keep every label's share.

    The multi-label counterpart of
    :class:`~sklearn.model_selection.StratifiedShuffleSplit`: each of the
    ``n_splits`` splits is an iterative stratification (Sechidis et al., 2011)
    of the rows into a test part and a train part (and, when ``train_size``
    and ``test_size`` leave rows over, an unused part), with a fresh random
    order and tie-breaking per split.

    Parameters
    ----------
    n_splits : int, default=10
        Number of re-shuffling and splitting iterations, at least 1.
    test_size : float or int, default=None
        A float in (0, 1): the share of rows in the test part; an int: their
        number. None: the complement of ``train_size``, or 0.1 when both are
        None.
    train_size : float or int, default=None
        As ``test_size``, for the train part; None: the complement of
        ``test_size``.
    random_state : int, RandomState instance or None, default=None
        Seeds the splits; an int gives the same splits on every call.

    See Also
    --------
    MultilabelStratifiedKFold : Stratified K folds.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_zlpr.model_selection import MultilabelStratifiedShuffleSplit
    >>> y = np.array([[1, 0]] * 4 + [[0, 1]] * 4 + [[1, 1]] * 2)
    >>> cv = MultilabelStratifiedShuffleSplit(n_splits=2, test_size=0.5, random_state=0)
    >>> for train, test in cv.split(np.zeros((10, 1)), y):
    ...     print(len(train), len(test), y[test].sum(0))
    5 5 [3 2]
    5 5 [3 2]
    """

    def __init__(
        self, n_splits=10, *, test_size=None, train_size=None, random_state=None
    ):
        self.n_splits = n_splits
        self.test_size = test_size
        self.train_size = train_size
        self.random_state = random_state

    def _check_params(self):
        if (
            not isinstance(self.n_splits, numbers.Integral)
            or isinstance(self.n_splits, bool)
            or self.n_splits < 1
        ):
            raise ValueError(
                f"n_splits must be a positive integer; got {self.n_splits!r}."
            )

    def _iter_splits(self, Y, n):
        n_train, n_test = _split_sizes(n, self.test_size, self.train_size)
        capacities = [n_test, n_train, n - n_train - n_test]
        rng = check_random_state(self.random_state)
        indices = np.arange(n)
        for _ in range(self.n_splits):
            folds = iterative_stratification(Y, capacities, random_state=rng)
            yield indices[folds == 1], indices[folds == 0]
