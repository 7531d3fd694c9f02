"""Training checkpoints of the network: what is saved, where, and how it is read.

A checkpoint is one file, ``<checkpoint_dir>/zlpr-<key>.pt``, written after
every epoch by :class:`~sklearn_zlpr._callbacks.EpochCheckpoint` and removed
when the fit ends. ``key`` is a digest of everything that determines the fit
(:func:`fit_key`: the parameters, the seed, the data, the starting weights),
so only the same fit resumes from a checkpoint, and different fits sharing a
directory never clash.

Conventions
-----------
* Format: a :func:`torch.save` archive holding only tensors, containers,
  strings and plain numbers, read back with ``torch.load(weights_only=True)``
  (no arbitrary unpickling). The history, which may hold NumPy numbers, is a
  JSON string inside it. Keys:

  - ``"format"``: :data:`FORMAT`;
  - ``"meta"``: JSON of ``{"epochs": epochs of this fit done, "history": the
    skorch history}``;
  - ``"module"``: the module's ``state_dict()``;
  - ``"optimizers"``: the optimizers' ``state_dict()`` (one, or two with the
    sparse embedding table's own);
  - ``"rng"``: torch's CPU generator state (dropout, initialisation, sampled
    losses), the CUDA generators' states on a GPU, and the state of the data
    loader's generator (the batch order);
  - ``"callbacks"``: ``{name: state}`` of the callbacks with a
    ``checkpoint_state`` method (early stopping, learning-rate schedules).

* Atomicity: the archive is written to a temporary file in the same
  directory, flushed to disk, then renamed over the previous checkpoint with
  :func:`os.replace`, which is atomic: a process killed at any moment leaves
  the previous complete checkpoint or the new one, never a torn file.
"""

import glob
import hashlib
import json
import os

import numpy as np
import scipy.sparse as sp
import torch
from skorch.history import History

#: Version of the checkpoint layout (part of the key: a new layout never
#: reads an old file).
FORMAT = 1


def fit_key(*parts):
    """A digest of ``parts``: parameters, arrays, sparse matrices, tensors.

    Parameters
    ----------
    *parts : object
        Anything :func:`_feed` describes: None, numbers, str, bytes, lists,
        tuples, dicts, NumPy arrays (str arrays included), scipy sparse
        matrices, tensors, classes and functions (by name), estimators (by
        class and ``get_params``), torch modules (by class, public settings
        and ``state_dict``), other objects (by class and public settings).

    Returns
    -------
    str
        24 hexadecimal digits.
    """
    h = hashlib.blake2b(digest_size=12)
    _feed(h, (FORMAT, *parts))
    return h.hexdigest()


def _feed(h, value):
    """Add a stable description of ``value`` to the hash ``h``."""
    if value is None or isinstance(value, (bool, int, float, str, np.generic)):
        h.update(f"{type(value).__name__}:{value!r};".encode())
    elif isinstance(value, bytes):
        h.update(b"bytes:%d;" % len(value) + value)
    elif isinstance(value, (list, tuple)):
        h.update(f"{type(value).__name__}[{len(value)}](".encode())
        for item in value:
            _feed(h, item)
        h.update(b")")
    elif isinstance(value, dict):
        h.update(f"dict[{len(value)}](".encode())
        for key in sorted(value, key=str):
            _feed(h, str(key))
            _feed(h, value[key])
        h.update(b")")
    elif sp.issparse(value):
        X = sp.csr_matrix(value)
        _feed(h, ("csr", X.shape, X.data, X.indices, X.indptr))
    elif isinstance(value, np.ndarray):
        h.update(f"ndarray:{value.dtype.str}:{value.shape};".encode())
        if value.dtype.kind == "O":
            for item in value.ravel():
                _feed(h, item)
        else:
            h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, torch.Tensor):
        _feed(h, value.detach().cpu().numpy())
    elif isinstance(value, type) or (
        callable(value) and hasattr(value, "__qualname__")
    ):
        h.update(f"{value.__module__}.{value.__qualname__};".encode())
    else:
        name = f"{type(value).__module__}.{type(value).__qualname__}"
        if hasattr(value, "get_params"):
            settings = value.get_params(deep=False)
        else:
            settings = {
                k: v
                for k, v in getattr(value, "__dict__", {}).items()
                if not k.startswith("_")
                and (v is None or isinstance(v, (bool, int, float, str)))
            }
        _feed(h, (name, settings))
        if isinstance(value, torch.nn.Module):
            _feed(h, dict(value.state_dict()))


class Checkpoint:
    """The checkpoint file of one fit (see the module notes).

    Parameters
    ----------
    directory : str or os.PathLike
        The ``checkpoint_dir``; created if missing.
    key : str
        The fit's :func:`fit_key`.
    """

    def __init__(self, directory, key):
        os.makedirs(directory, exist_ok=True)
        self.directory = os.fspath(directory)
        self.path = os.path.join(self.directory, f"zlpr-{key}.pt")

    def save(self, state):
        """Write ``state`` atomically over the previous checkpoint."""
        tmp = f"{self.path}.{os.getpid()}.tmp"
        try:
            with open(tmp, "wb") as f:
                torch.save(state, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            _remove(tmp)
            raise
        _sync_directory(self.directory)

    def load(self):
        """The saved state (tensors on the CPU), or None when there is none."""
        # Temporary files of a process killed while saving are garbage.
        for stale in glob.glob(glob.escape(self.path) + ".*.tmp"):
            _remove(stale)
        if not os.path.exists(self.path):
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a damaged file, or one that is not ours
            raise ValueError(
                f"The checkpoint {self.path} cannot be read ({type(exc).__name__}"
                f": {str(exc)[:200]}). Remove it to start this fit afresh."
            ) from exc
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise ValueError(
                f"{self.path} is not a checkpoint of this version of "
                "sklearn_zlpr; remove it to start this fit afresh."
            )
        return state

    def remove(self):
        """Remove the checkpoint (the fit it belongs to has ended)."""
        _remove(self.path)


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _sync_directory(directory):
    """Flush the rename to disk where the platform allows it (POSIX)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows cannot open a directory
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse
        pass
    finally:
        os.close(fd)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _batch_order(net):
    """The data loader's generator of the training batches, if it has one."""
    generator = getattr(net, "iterator_train__generator", None)
    return generator if isinstance(generator, torch.Generator) else None


def training_state(net, epochs):
    """Everything a fit needs to continue from the current epoch (see the notes).

    Parameters
    ----------
    net : ZLPRNet
        The net, after an epoch.
    epochs : int
        Epochs of this fit done.

    Returns
    -------
    dict
        The checkpoint's content.
    """
    cuda = str(net.device).startswith("cuda") and torch.cuda.is_available()
    generator = _batch_order(net)
    meta = {"epochs": int(epochs), "history": list(net.history)}
    return {
        "format": FORMAT,
        "meta": json.dumps(meta, default=_json_default),
        "module": net.module_.state_dict(),
        "optimizers": [opt.state_dict() for opt in net.optimizers()],
        "rng": {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if cuda else [],
            "batch_order": None if generator is None else generator.get_state(),
        },
        "callbacks": {
            name: cb.checkpoint_state(net)
            for name, cb in net.callbacks_
            if hasattr(cb, "checkpoint_state")
        },
    }


def resume(net, state, checkpoint_callback):
    """Set the initialised ``net`` to a saved :func:`training_state`.

    The module, the optimizers, the history and the random generators are set
    at once; the callbacks' states are handed to ``checkpoint_callback``,
    which sets them after the callbacks' own ``on_train_begin`` (which resets
    them).

    Parameters
    ----------
    net : ZLPRNet
        The initialised net of the same fit.
    state : dict
        A :func:`training_state`, as :meth:`Checkpoint.load` returns it.
    checkpoint_callback : EpochCheckpoint
        The net's checkpoint callback.

    Returns
    -------
    int
        Epochs of this fit done.
    """
    meta = json.loads(state["meta"])
    net.module_.load_state_dict(state["module"])
    for optimizer, saved in zip(net.optimizers(), state["optimizers"], strict=True):
        optimizer.load_state_dict(saved)
    net.history = History(meta["history"])
    rng = state["rng"]
    torch.set_rng_state(rng["torch"])
    if rng["cuda"]:
        torch.cuda.set_rng_state_all(rng["cuda"])
    generator = _batch_order(net)
    if generator is not None and rng["batch_order"] is not None:
        generator.set_state(rng["batch_order"])
    checkpoint_callback.resume_ = state["callbacks"]
    return meta["epochs"]
