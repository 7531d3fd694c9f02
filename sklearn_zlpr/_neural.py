"""The neural model kinds: a skorch network over sparse rows, dense rows or texts.

:class:`NeuralStrategy` implements :class:`~sklearn_zlpr._strategy.ModelStrategy`
with :class:`~sklearn_zlpr._net.ZLPRNet`: an MLP whose first layer is a
sum-mode embedding bag over CSR rows or a linear layer over dense rows.
:class:`TransformerStrategy` swaps in a Hugging Face encoder over raw texts,
followed by an MLP head; the rest (settings, callbacks, training loop, warm
start) is shared. Every ``"auto"`` parameter whose
value depends on the encoder is resolved here, in :func:`resolve_settings`,
from one table of per-encoder defaults.
"""

import copy
import os
import warnings
from numbers import Integral

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import GradientNormClipping, ProgressBar
from skorch.helper import predefined_split

from ._accelerate import (
    AcceleratedZLPRNet,
    check_same_data,
    data_parallel_params,
    global_batch_size,
    make_accelerator,
)
from ._callbacks import (
    BestEpoch,
    EpochCheckpoint,
    EpochDiagnostics,
    LRSchedulers,
    WarmupLinear,
)
from ._checkpoint import Checkpoint, fit_key, resume
from ._data import BatchDataset, identity_collate
from ._hf import load_tokenizer, resolve_model
from ._modules import DenseMLP, SparseMLP, TransformerMLP
from ._net import NonFiniteTrainingError, ZLPRNet, unwrapped
from ._strategy import ModelStrategy
from ._validation import resolve_device
from .metrics import _get_metric

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}

_MLP_DEFAULTS = {
    "hidden_layer_sizes": (256,),
    "batch_size": None,
    "valid_batch_size": 1024,
    "lr_scheduler": None,
    "max_grad_norm": None,
    "mixed_precision": False,
}
#: Encoder-specific values of the "auto" parameters. ``batch_size`` None is
#: ``min(256, max(32, n_train // 100))``; ``mixed_precision`` True means
#: bfloat16 where the device supports it.
ENCODER_DEFAULTS = {
    "embedding_bag": _MLP_DEFAULTS,
    "dense": _MLP_DEFAULTS,
    "transformer": {
        "hidden_layer_sizes": (),
        "batch_size": 32,
        "valid_batch_size": 128,
        "lr_scheduler": "warmup_linear",
        "max_grad_norm": 1.0,
        "mixed_precision": True,
    },
}


def resolve_settings(params, encoder, n_train):
    """Every setting of the network, with each ``"auto"`` resolved, checked.

    Parameters
    ----------
    params : dict
        The classifier's parameters.
    encoder : {"embedding_bag", "dense", "transformer"}
        The resolved encoder.
    n_train : int
        Rows trained on (for the batch size and the schedule length).

    Returns
    -------
    dict
        ``device``, ``hidden_layer_sizes``, ``batch_size``,
        ``valid_batch_size``, ``sparse_gradients``, ``max_grad_norm``,
        ``amp_dtype`` and ``lr_scheduler`` (a callback or None).
    """
    defaults = ENCODER_DEFAULTS[encoder]

    def auto(name):
        value = params[name]
        return defaults[name] if isinstance(value, str) and value == "auto" else value

    device = resolve_device(params["device"])
    batch_size = auto("batch_size")
    if batch_size is None:
        batch_size = min(256, max(32, n_train // 100))
    lazy_adam = params["optimizer"] in ("adam", "adamw")
    sparse_gradients = params["sparse_gradients"]
    if encoder != "embedding_bag":
        sparse_gradients = False
    elif sparse_gradients == "auto":
        sparse_gradients = lazy_adam
    elif sparse_gradients and not lazy_adam:
        raise ValueError(
            "sparse_gradients=True needs optimizer='adam' or 'adamw' (lazy Adam "
            f"on the embedding table); got optimizer={params['optimizer']!r}. Use "
            "sparse_gradients='auto' or False with this optimizer."
        )
    max_grad_norm = auto("max_grad_norm")
    if max_grad_norm is not None and sparse_gradients:
        raise ValueError(
            "max_grad_norm clips the gradients' norm, which sparse gradients "
            "of the embedding table do not support; set "
            "sparse_gradients=False to clip, or max_grad_norm=None."
        )
    settings = {
        "device": device,
        "hidden_layer_sizes": _check_hidden_layer_sizes(auto("hidden_layer_sizes")),
        "batch_size": int(batch_size),
        "valid_batch_size": max(int(batch_size), defaults["valid_batch_size"]),
        "sparse_gradients": bool(sparse_gradients),
        "max_grad_norm": max_grad_norm,
        "amp_dtype": _amp_dtype(params["mixed_precision"], auto, device),
    }
    settings["lr_scheduler"] = _lr_scheduler_callback(
        auto("lr_scheduler"),
        params["lr_scheduler_params"],
        steps_per_epoch=int(np.ceil(n_train / settings["batch_size"])),
        max_epochs=params["max_epochs"],
    )
    return settings


def _check_hidden_layer_sizes(sizes):
    original = sizes
    if isinstance(sizes, (int, np.integer)) and not isinstance(sizes, bool):
        sizes = (sizes,)
    try:
        sizes = tuple(sizes)
    except TypeError:
        sizes = None
    if sizes is None or not all(
        isinstance(w, (int, np.integer)) and not isinstance(w, bool) and w > 0
        for w in sizes
    ):
        raise ValueError(
            "hidden_layer_sizes must be 'auto', a positive int or a tuple of "
            f"positive ints; got {original!r}."
        )
    return tuple(int(w) for w in sizes)


def _amp_dtype(mixed_precision, auto, device):
    """bfloat16 when mixed precision is on (and the device has it), else None."""
    cuda = device.startswith("cuda")
    if mixed_precision == "auto":
        on = auto("mixed_precision") and cuda and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if on else None
    if not mixed_precision:
        return None
    if cuda and not torch.cuda.is_bf16_supported():
        raise ValueError(
            "mixed_precision=True uses bfloat16, which this GPU does not "
            "support; set mixed_precision=False."
        )
    return torch.bfloat16


def _lr_scheduler_callback(policy, policy_params, steps_per_epoch, max_epochs):
    """The LR-schedule callback of ``lr_scheduler`` (None for a constant rate)."""
    if policy is None:
        return None
    if isinstance(policy, str) and policy == "warmup_linear":
        params = dict(policy_params or {})
        fraction = params.pop("warmup_fraction", 0.1)
        if params or not (0 <= fraction < 1):
            raise ValueError(
                "lr_scheduler='warmup_linear' takes lr_scheduler_params="
                "{'warmup_fraction': f} with 0 <= f < 1 only; got "
                f"{policy_params!r}."
            )
        total = max_epochs * steps_per_epoch
        schedule = WarmupLinear(round(fraction * total), total)
        return LRSchedulers(
            torch.optim.lr_scheduler.LambdaLR,
            {"lr_lambda": schedule},
            step_every="batch",
        )
    if isinstance(policy, str):
        if not hasattr(torch.optim.lr_scheduler, policy):
            raise ValueError(
                f"lr_scheduler={policy!r} is not a torch.optim.lr_scheduler "
                "class name (for example 'CosineAnnealingLR', 'StepLR'), "
                "'warmup_linear' or 'auto'."
            )
        policy = getattr(torch.optim.lr_scheduler, policy)
    return LRSchedulers(policy, policy_params)


#: A final training loss this many times that of all-zero scores: diverged.
_DIVERGED = 10.0


def _no_print(*args, **kwargs):
    """Sink for skorch's early-stopping message (silent unless verbose)."""


class _seeded_torch:
    """Seed torch's global RNG for a block and restore the caller's state."""

    def __init__(self, seed, device):
        self.seed = seed
        self.cuda = str(device).startswith("cuda")

    def __enter__(self):
        devices = list(range(torch.cuda.device_count())) if self.cuda else []
        self._fork = torch.random.fork_rng(devices=devices)
        self._fork.__enter__()
        torch.manual_seed(self.seed)
        return self

    def __exit__(self, *exc):
        return self._fork.__exit__(*exc)


def _mean_one(sample_weight):
    """Weights over their mean: the loss scale, and so the effective learning
    rate, does not depend on the scale of the weights."""
    # (validated by the classifier: non-negative with a positive sum)
    return None if sample_weight is None else sample_weight / sample_weight.mean()


class NeuralStrategy(ModelStrategy):
    """The skorch MLP over sparse or dense rows (see the module notes).

    Fitted attributes: ``net_`` (the :class:`ZLPRNet`), ``settings_`` (the
    resolved settings) and ``columns_`` (the embedding table's columns, or
    None for a row per column).
    """

    def check_params(self, X, Y, *, n_train):
        params, self._accelerator = self.params, None
        if params.get("data_parallel"):  # torch DDP through Accelerate
            params = data_parallel_params(params)
            self._accelerator = make_accelerator(
                params["device"], unused_parameters=self.encoder == "transformer"
            )
            device = self._accelerator.device  # ("cpu:0" pickles badly)
            device = "cpu" if device.type == "cpu" else str(device)
            size = resolve_settings(params, self.encoder, n_train)["batch_size"]
            auto = isinstance(params["batch_size"], str)
            size = global_batch_size(size, self._accelerator.num_processes, auto=auto)
            params = {**params, "batch_size": size, "device": device}
        self.settings_ = resolve_settings(params, self.encoder, n_train)
        checkpoint_dir = self.params["checkpoint_dir"]
        if checkpoint_dir is not None:
            random_state = self.params["random_state"]
            if not isinstance(random_state, Integral) or isinstance(random_state, bool):
                raise ValueError(
                    "checkpoint_dir resumes a killed fit exactly where it stopped, "
                    "which needs random_state to be an int (the resumed fit must "
                    "repeat the validation split, the batch order and the dropout "
                    f"of the first); got random_state={random_state!r}."
                )
            os.makedirs(checkpoint_dir, exist_ok=True)  # or fail before training
        # The embedding table's layout: one row per column that occurs in the
        # X passed to fit, so that a 2**20-column hashed matrix costs rows for
        # its seen columns only. With warm_start (and partial_fit) a later fit
        # may use other columns: keep a row for every one.
        columns = None
        if sp.issparse(X) and not self.params["warm_start"]:
            columns = np.unique(X.indices)
            columns = columns if len(columns) < X.shape[1] else None
        self.settings_["columns"] = columns
        return self.settings_

    # ------------------------------------------------------------ training
    def fit(
        self, X, Y, sample_weight, *, criterion, validation, rule, seed, previous=None
    ):
        p = self.params
        sample_weight = _mean_one(sample_weight)
        if self._accelerator is not None:
            check_same_data(self._accelerator, X, Y, sample_weight, validation)
        # Continuing the previous network keeps its table layout.
        columns = self.settings_["columns"] if previous is None else previous.columns_
        self._build(X, Y, criterion, rule, seed, columns, p["early_stopping"])
        if validation is not None:
            self.net_.train_split = predefined_split(self._dataset(*validation))
        checkpoint = None
        if p["checkpoint_dir"] is not None:
            key = self._fit_key(X, Y, sample_weight, validation, seed, previous)
            checkpoint = Checkpoint(p["checkpoint_dir"], key)
        self._train(
            self._dataset(X, Y, sample_weight), seed, None, previous, checkpoint
        )
        self._warn_if_diverged(Y, criterion)
        return len(self.net_.history)

    def _warn_if_diverged(self, Y, criterion):
        """Warn when training ended far worse than all-zero scores (lr too high).

        Non-finite losses are ``on_nonfinite``'s; this catches the finite
        explosions of a too-large learning rate (``lr=1e6``: scores of 1e14).
        The reference is the loss of the scores that know nothing, all 0:
        a model whose final training loss is 10 times that has diverged.
        """
        if getattr(self, "interrupted_", None):
            return  # stopped early (Ctrl-C, on_nonfinite="restore"): said so
        losses = [h["train_loss"] for h in self.net_.history if "train_loss" in h]
        if not losses:
            return
        rows = Y[: min(Y.shape[0], 2048)]
        target = torch.as_tensor(rows.toarray(), dtype=torch.float32)
        with torch.no_grad():
            zero = criterion(torch.zeros_like(target), target).float().mean().item()
        final = float(losses[-1])
        if np.isfinite(final) and zero > 0 and final > _DIVERGED * zero:
            warnings.warn(
                f"Training diverged: the final training loss ({final:.3g}) is "
                f"{final / zero:.3g} times the loss of all-zero scores ({zero:.3g}), "
                f"so the scores are meaningless. Lower lr (now {self.params['lr']}), "
                "scale the features, or set max_grad_norm.",
                ConvergenceWarning,
                stacklevel=5,
            )

    def _fit_key(self, X, Y, sample_weight, validation, seed, previous):
        """What determines this fit (see :func:`sklearn_zlpr._checkpoint.fit_key`)."""
        params = {
            k: v
            for k, v in self.params.items()
            if k not in ("checkpoint_dir", "verbose")
        }
        start = None
        if previous is not None:  # warm start: from the previous weights
            start = (previous.net_.module_.state_dict(), len(previous.net_.history))
        settings = {k: v for k, v in self.settings_.items() if k != "lr_scheduler"}
        return fit_key(
            type(self).__name__,
            self.encoder,
            params,
            settings,
            seed,
            X,
            Y,
            sample_weight,
            validation,
            start,
        )

    def partial_fit(self, X, Y, sample_weight, *, criterion, rule, seed):
        sample_weight = _mean_one(sample_weight)
        if not hasattr(self, "net_"):
            self._build(X, Y, criterion, rule, seed, None, early_stopping=False)
        self._train(self._dataset(X, Y, sample_weight), seed, epochs=1)
        self._warn_if_diverged(Y, criterion)
        return len(self.net_.history)

    def _train(self, dataset, seed, epochs, previous=None, checkpoint=None):
        """Initialise the net if needed (from ``previous``' weights), then train.

        Everything random (the initial weights, dropout, R-drop, sampled
        losses) draws from torch's global generator, seeded here by ``seed``
        and the epochs already run, and restored afterwards.

        With a ``checkpoint`` (a :class:`~sklearn_zlpr._checkpoint.Checkpoint`),
        training resumes from it when it exists, saves to it after every
        epoch, and removes it at the end, unless the training was interrupted
        (``KeyboardInterrupt``): a later fit resumes from it then.
        """
        net = self.net_
        if net.initialized_:
            epochs_done = len(net.history)
        else:
            epochs_done = 0 if previous is None else len(previous.net_.history)
        saver = None
        with _seeded_torch(seed + epochs_done, net.device):
            if not net.initialized_:
                net.initialize()
                if previous is not None:
                    self._load_weights(previous)
                    net.history = copy.deepcopy(previous.net_.history)
            if checkpoint is not None:
                saver = dict(net.callbacks_)["checkpoint"]
                saver.start_epoch = len(net.history)
                state = checkpoint.load()
                if state is not None:
                    done = resume(net, state, saver)
                    epochs = max(0, self.params["max_epochs"] - done)
                saver.checkpoint = checkpoint
            try:
                net.partial_fit(dataset, y=None, epochs=epochs)
            except NonFiniteTrainingError:
                if checkpoint is not None:  # it would diverge the same way
                    checkpoint.remove()
                raise
            finally:
                if saver is not None:
                    saver.checkpoint = None
                if isinstance(net, AcceleratedZLPRNet):  # a plain net again
                    net.to_local()
                    self._accelerator = None
        # The split holds the validation rows: drop it so that the fitted
        # estimator (and its pickle) does not carry training data around.
        net.train_split = None
        self.interrupted_ = net.interrupted_
        if checkpoint is None:
            return
        if net.stopped_by_ == "KeyboardInterrupt" and os.path.exists(checkpoint.path):
            self.interrupted_ += (
                f" Its last complete epoch is saved in {checkpoint.path}: a fit "
                "with the same data and parameters resumes from there."
            )
        else:
            checkpoint.remove()

    def _load_weights(self, previous):
        old = previous.net_.module_.state_dict()
        new = unwrapped(self.net_.module_).state_dict()
        changed = [k for k in new if k not in old or old[k].shape != new[k].shape] + [
            k for k in old if k not in new
        ]
        if changed:
            raise ValueError(
                "warm_start=True continues the fitted network, but the current "
                "parameters describe a different one (changed weights: "
                f"{', '.join(sorted(changed)[:3])}). Set warm_start=False to fit "
                "a new network, or restore the architecture parameters "
                "(hidden_layer_sizes, encoder, transformer_model, ...)."
            )
        unwrapped(self.net_.module_).load_state_dict(old)

    def _build(self, X, Y, criterion, rule, seed, columns, early_stopping):
        """Create the skorch net (not yet initialised) from the settings."""
        p, s = self.params, self.settings_
        self.columns_ = columns
        metric = p["early_stopping_metric"]
        callbacks = [("diagnostics", EpochDiagnostics(rule, metric))]
        if early_stopping:
            monitor, lower = "valid_loss", True
            if metric is not None:
                m = _get_metric(metric)
                monitor, lower = f"valid_{m.name}", not m.greater_is_better
            callbacks.append(
                (
                    "early_stopping",
                    BestEpoch(
                        monitor=monitor,
                        lower_is_better=lower,
                        patience=p["n_iter_no_change"],
                        sink=print if p["verbose"] else _no_print,
                    ),
                )
            )
        if s["lr_scheduler"] is not None:
            callbacks.append(("lr_scheduler", copy.deepcopy(s["lr_scheduler"])))
        if s["max_grad_norm"] is not None:
            callbacks.append(
                ("gradient_clipping", GradientNormClipping(float(s["max_grad_norm"])))
            )
        if p["verbose"]:
            callbacks.append(("progress_bar", ProgressBar()))
        if p["checkpoint_dir"] is not None:  # after the callbacks it saves
            callbacks.append(("checkpoint", EpochCheckpoint()))
        callbacks += copy.deepcopy(p["callbacks"] or [])

        optimizer = p["optimizer"]
        if isinstance(optimizer, str):
            optimizer = OPTIMIZERS[optimizer]
        module_kwargs = self._module_kwargs(X, columns)
        batch_order = torch.Generator().manual_seed(seed + 1)
        net_kwargs = dict(
            module__n_labels=Y.shape[1],
            module__hidden_layer_sizes=s["hidden_layer_sizes"],
            module__activation=p["activation"],
            module__dropout=p["dropout"],
            criterion=criterion,
            optimizer=optimizer,
            optimizer__lr=p["lr"],
            optimizer__weight_decay=p["weight_decay"],
            batch_size=s["batch_size"],
            max_epochs=p["max_epochs"],
            train_split=None,
            on_nonfinite=p["on_nonfinite"],
            callbacks=callbacks,
            iterator_train__shuffle=True,
            iterator_train__generator=batch_order,
            iterator_train__collate_fn=identity_collate,
            iterator_valid__collate_fn=identity_collate,
            iterator_valid__batch_size=s["valid_batch_size"],
            device=s["device"],
            verbose=p["verbose"],
            rdrop_alpha=p["rdrop_alpha"],
            label_smoothing=p["label_smoothing"],
            amp_dtype=s["amp_dtype"],
            **module_kwargs,
        )
        net_kwargs.update(p["net_params"] or {})
        if getattr(self, "_accelerator", None) is None:
            self.net_ = ZLPRNet(**net_kwargs)
        else:
            self.net_ = AcceleratedZLPRNet(accelerator=self._accelerator, **net_kwargs)

    def _module_kwargs(self, X, columns):
        """The torch module of the net and its arguments (skorch's routing)."""
        if self.encoder == "embedding_bag":
            kwargs = {
                "module": SparseMLP,
                "module__n_features": X.shape[1],
                "module__sparse": self.settings_["sparse_gradients"],
            }
            if columns is not None:
                kwargs["module__columns"] = columns
            return kwargs
        return {"module": DenseMLP, "module__n_features": X.shape[1]}

    # ------------------------------------------------------------ inference
    def _dataset(self, X, Y=None, sample_weight=None):
        """The torch dataset of X (and targets)."""
        return BatchDataset(X, Y, sample_weight)

    def raw_scores(self, X):
        return self.net_.predict_scores(self._dataset(X)).numpy()

    def fitted_attributes(self):
        return {
            "net_": self.net_,
            "device_": str(self.net_.device),
            "batch_size_": self.settings_["batch_size"],
            "interrupted_": getattr(self, "interrupted_", None),
        }


class TransformerStrategy(NeuralStrategy):
    """A Hugging Face encoder over raw texts with an MLP head, fine-tuned.

    The network, training loop and settings are :class:`NeuralStrategy`'s;
    the module is :class:`~sklearn_zlpr._modules.TransformerMLP`, the
    encoder's weights get their own learning rate (``encoder_lr``), and texts
    are tokenised per batch, padded to the batch's longest text. Fitted
    attributes: those of :class:`NeuralStrategy` and ``tokenizer_``.
    """

    def _module_kwargs(self, X, columns):
        p = self.params
        model = resolve_model(p["transformer_model"])
        self.tokenizer_ = load_tokenizer(model)
        return {
            "module": TransformerMLP,
            "module__model_name_or_path": model,
            "module__pooling": p["pooling"],
            "module__freeze_encoder": p["freeze_encoder"],
            "optimizer__param_groups": [("encoder.*", {"lr": p["encoder_lr"]})],
        }

    def _dataset(self, X, Y=None, sample_weight=None):
        """The torch dataset of the texts (and targets), tokenised per batch."""
        max_length = self.params["max_length"]
        return BatchDataset(X, Y, sample_weight, self.tokenizer_, max_length)

    def fitted_attributes(self):
        return {**super().fitted_attributes(), "tokenizer_": self.tokenizer_}


#: The strategy of each encoder.
STRATEGIES = {
    "embedding_bag": NeuralStrategy,
    "dense": NeuralStrategy,
    "transformer": TransformerStrategy,
}
