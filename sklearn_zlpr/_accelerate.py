"""Data-parallel training of the network: torch DDP through Hugging Face Accelerate.

``ZLPRClassifier(data_parallel=True)`` trains its network across the processes
that a launcher started (``accelerate launch``, ``torchrun``): every process
runs the same script on the same data, each computes the gradient of its share
of every batch, and DDP averages the gradients, so that all processes hold the
same weights after every step. skorch's :class:`~skorch.hf.AccelerateMixin`
does the wrapping; :class:`AcceleratedZLPRNet` adapts it to
:class:`~sklearn_zlpr._net.ZLPRNet`:

* ``batch_size`` is the global batch: Accelerate splits each batch of the
  single-process order among the processes (``split_batches=True``), so two
  processes see the same batches, in the same order, as one process;
* the validation set is not split: every process scores all of it with the
  same weights, so early stopping stops every process at the same epoch (the
  processes must agree, or the next gradient exchange would wait forever);
* a non-finite training loss in any process stops every process;
* after training the net is turned back into a plain ``ZLPRNet``
  (:meth:`AcceleratedZLPRNet.to_local`): the fitted estimator pickles, saves
  and predicts in one process like any other.

Batches are moved to the device by the net, as without Accelerate (its
``device_placement`` is off); on a GPU machine each process uses the GPU of
its local rank. Sparse embedding gradients are off under DDP (NCCL cannot
average sparse tensors), so the embedding table gets a dense Adam update.
"""

import hashlib

import numpy as np
import scipy.sparse as sp
import torch
from skorch.callbacks import PrintLog
from skorch.hf import AccelerateMixin

from ._net import ZLPRNet


def make_accelerator(device, *, unused_parameters=False):
    """An :class:`accelerate.Accelerator` for ``ZLPRClassifier(data_parallel=True)``.

    Parameters
    ----------
    device : str
        The classifier's ``device``: ``"cpu"`` keeps every process on the
        CPU; ``"auto"`` or ``"cuda"`` lets Accelerate give each process the GPU
        of its local rank (the CPU where there is none).
    unused_parameters : bool, default=False
        Whether the module may have parameters that the loss does not reach
        (a Hugging Face encoder's pooler, for one): DDP then looks for them
        after every backward pass (``find_unused_parameters``) instead of
        waiting for their gradients forever.

    Returns
    -------
    accelerate.Accelerator
    """
    try:
        from accelerate import Accelerator
        from accelerate.utils import (
            DataLoaderConfiguration,
            DistributedDataParallelKwargs,
        )
    except ImportError as error:
        raise ImportError(
            "data_parallel=True trains through Hugging Face Accelerate, which is "
            "not installed: pip install 'sklearn-zlpr[distributed]'."
        ) from error
    device = str(device)
    if device not in ("auto", "cpu") and device != "cuda":
        raise ValueError(
            "With data_parallel=True each process uses the GPU of its local rank "
            "(or the CPU): set device='auto', 'cuda' or 'cpu', not "
            f"{device!r}; choose the GPUs with CUDA_VISIBLE_DEVICES or the "
            "launcher's --gpu_ids."
        )
    return Accelerator(
        # (Accelerate starts several CPU processes' group only when told cpu)
        cpu=device == "cpu" or not torch.cuda.is_available(),
        device_placement=False,
        dataloader_config=DataLoaderConfiguration(split_batches=True),
        kwargs_handlers=[
            DistributedDataParallelKwargs(find_unused_parameters=unused_parameters)
        ],
    )


def data_parallel_params(params):
    """``params`` with what DDP needs: dense embedding gradients; checked.

    Raises
    ------
    ValueError
        For parameters that data-parallel training cannot honour.
    """
    if params["sparse_gradients"] is True:
        raise ValueError(
            "sparse_gradients=True cannot be used with data_parallel=True: DDP "
            "averages dense gradients only (NCCL has no sparse all-reduce). Use "
            "sparse_gradients='auto' (dense under data_parallel) or False."
        )
    if params["checkpoint_dir"] is not None:
        raise ValueError(
            "checkpoint_dir cannot be used with data_parallel=True: every process "
            "would write the same file. Save the fitted model from the main "
            "process instead (sklearn_zlpr.save)."
        )
    return {**params, "sparse_gradients": False}


def global_batch_size(batch_size, n_processes, *, auto):
    """The global batch size: a multiple of ``n_processes``.

    Parameters
    ----------
    batch_size : int
        The resolved batch size.
    n_processes : int
        Processes sharing each batch.
    auto : bool
        Whether ``batch_size`` came from ``"auto"`` (then it is rounded up to
        a multiple); an explicit size that is not a multiple is an error.

    Returns
    -------
    int
    """
    if batch_size % n_processes == 0:
        return batch_size
    if auto:
        return -(-batch_size // n_processes) * n_processes
    raise ValueError(
        f"With data_parallel=True, batch_size is the global batch, shared by the "
        f"{n_processes} processes: it must be a multiple of {n_processes}; got "
        f"batch_size={batch_size}."
    )


def _fingerprint(*arrays):
    """A digest of arrays (sparse ones by their CSR parts)."""
    digest = hashlib.blake2b(digest_size=8)
    for a in arrays:
        if a is None:
            digest.update(b"none")
            continue
        if sp.issparse(a):
            a = sp.csr_matrix(a)
            parts = (a.indptr, a.indices, a.data, np.asarray(a.shape))
        elif isinstance(a, (list, tuple)) or np.asarray(a).dtype.kind in "OUS":
            # raw texts: their characters (an object array's bytes are addresses)
            text = "\x00".join(map(str, np.asarray(a, dtype=object).ravel()))
            parts = (np.frombuffer(text.encode("utf-8", "surrogatepass"), np.uint8),)
        else:
            parts = (np.ascontiguousarray(a),)
        for part in parts:
            digest.update(np.ascontiguousarray(part).tobytes())
    return int.from_bytes(digest.digest(), "little") & (2**62 - 1)


def check_same_data(accelerator, X, Y, sample_weight, validation):
    """Raise unless every process was given the same training data.

    Each process must call ``fit`` with the same X, y and sample weights (it
    takes its share of each batch by position); different data would train
    a model of neither, silently.
    """
    if accelerator.num_processes == 1:
        return
    parts = [X, Y, sample_weight]
    if validation is not None:
        parts += list(validation)
    mine = torch.tensor([_fingerprint(*parts)], dtype=torch.int64)
    every = accelerator.gather(mine.to(accelerator.device)).cpu()
    if bool((every != every[0]).any()):
        raise ValueError(
            "With data_parallel=True every process must call fit with the same "
            "X, y and sample_weight (each trains on its share of every batch), "
            f"but the data differ between the {accelerator.num_processes} "
            "processes. Load the same data in each process (do not shard it "
            "yourself)."
        )


def _silent(*args, **kwargs):
    """A sink that prints nothing."""


class AcceleratedZLPRNet(AccelerateMixin, ZLPRNet):
    """:class:`~sklearn_zlpr._net.ZLPRNet` trained by DDP through Accelerate.

    See the module notes. Pass ``accelerator`` (from :func:`make_accelerator`)
    and ``device`` (the accelerator's device) besides ``ZLPRNet``'s arguments.
    """

    def __init__(self, *args, accelerator, **kwargs):
        # skorch's "auto" sink prints the epoch log whatever ``verbose``:
        # the main process prints it when verbose, as without Accelerate.
        sink = accelerator.print if kwargs.get("verbose") else _silent
        kwargs.setdefault("callbacks__print_log__sink", sink)
        super().__init__(*args, accelerator=accelerator, **kwargs)

    def _initialize_accelerator(self):
        """skorch's preparation, less the losses: DDP refuses a module without
        trainable parameters, and a loss has none to synchronise."""
        if self._wrapped_with_accelerator:
            return self
        prepare = self.accelerator.prepare
        for name in self._criteria:
            criterion = getattr(self, name + "_")
            if isinstance(criterion, torch.nn.Module) and any(
                p.requires_grad for p in criterion.parameters()
            ):
                setattr(self, name + "_", prepare(criterion))
        for names, kind in (
            (self._modules, torch.nn.Module),
            (self._optimizers, torch.optim.Optimizer),
        ):
            for name in names:
                part = getattr(self, name + "_", None)
                if isinstance(part, kind):
                    setattr(self, name + "_", prepare(part))
        self._wrapped_with_accelerator = True
        return self

    def _validate_params(self):
        ZLPRNet._validate_params(self)  # (device is set: no device placement)

    def train_step_single(self, batch, **fit_params):
        """ZLPRNet's step (label smoothing, R-drop, its own autocast), with the
        backward pass through the accelerator; the loss it returns (and the
        history records) is the mean over the processes: the batch's loss."""
        self._batch_loss = None
        step = ZLPRNet.train_step_single(self, batch, **fit_params)
        step["loss"] = self._mean_loss(step["loss"])
        return step

    def backward(self, loss):
        self.accelerator.backward(loss)

    def check_step(self, loss):
        """Every process stops when the loss of any is not finite (NaN and inf
        reach the mean over the processes, which all of them check)."""
        ZLPRNet.check_step(self, self._mean_loss(loss))

    def _mean_loss(self, loss):
        if self._batch_loss is None:  # one exchange of a number per step
            local = loss.detach().float().reshape(1)
            self._batch_loss = self.accelerator.reduce(local, reduction="mean")[0]
        return self._batch_loss

    def get_iterator(self, dataset, training=False):
        """Training batches are shared among the processes; validation is not."""
        iterator = ZLPRNet.get_iterator(self, dataset, training=training)
        return self.accelerator.prepare(iterator) if training else iterator

    def evaluation_step(self, batch, training=False):
        # Each process scores all the validation rows: nothing to gather.
        return ZLPRNet.evaluation_step(self, batch, training=training)

    def on_train_begin(self, net, **kwargs):
        super().on_train_begin(net, **kwargs)
        rank = self.accelerator.process_index
        if rank:  # the same weights everywhere (DDP), other dropout masks
            torch.manual_seed((torch.initial_seed() + 7919 * rank) % 2**63)

    def to_local(self):
        """Turn this net into a plain :class:`ZLPRNet` (in place) and return it.

        The modules are unwrapped (skorch does it at the end of training), the
        optimizers lose Accelerate's wrappers, the log prints with ``print``
        again, and the reference to the accelerator goes: the net pickles and
        trains on in one process like any ``ZLPRNet``.
        """
        self._unwrap_accelerator()
        for name in self._optimizers:
            optimizer = getattr(self, name + "_", None)
            inner = getattr(optimizer, "optimizer", None)
            if isinstance(inner, torch.optim.Optimizer):
                setattr(self, name + "_", inner)
        self.callbacks__print_log__sink = print  # skorch's default
        for _, callback in getattr(self, "callbacks_", []):
            if isinstance(callback, PrintLog):
                callback.sink = print
        for name in ("accelerator", "unwrap_after_train", "_wrapped_with_accelerator"):
            self.__dict__.pop(name, None)
        self.__class__ = ZLPRNet
        return self
