"""One generic trainer for the neural detectors.

:func:`fit_model` trains any :class:`torch.nn.Module` against a *per-sample*
loss function with Adam, mini-batches drawn by index from one tensor held on
the device (no ``DataLoader``: DESIGN §5), early stopping on the validation
loss with patience (Keras' rule: stop after ``patience`` epochs without a
strict improvement) and, by default, the best weights restored at the end.
Everything random comes from one seeded :class:`torch.Generator`.

Bad input never turns into NaN scores: NaN/inf in the data raises
:class:`NonFiniteDataError`, a loss that becomes NaN/inf raises
:class:`DivergenceError`; the runner records either as the cell's error.

Progress goes to the ``anobench.training`` logger, at most one line every
``log_every`` seconds, plus a final line for fits that logged progress.
"""
from __future__ import annotations

import contextlib
import copy
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from anobench.errors import CellError, DataError

log = logging.getLogger("anobench.training")

#: ``loss_fn(model, x_batch, train, generator) -> per-sample loss (B,)``.
LossFn = Callable[[nn.Module, torch.Tensor, bool, torch.Generator], torch.Tensor]


def no_noise(x: torch.Tensor, train: bool, generator: torch.Generator | None) -> None:
    """The noise of a deterministic loss: none."""
    return None


@dataclass(frozen=True)
class Objective:
    """A per-sample loss whose randomness is drawn apart from the network.

    ``noise(x, train, generator)`` draws whatever random tensor the loss
    needs for the batch ``x`` (or ``None``); ``loss(model, x, noise, train,
    **hparams)`` is then a deterministic function of its arguments, returning
    one value per sample. Split this way, a loss can be evaluated for a
    stacked cohort of models under :func:`torch.vmap` with each member's
    noise drawn from its own generator (:mod:`anobench.cohort`). Called as
    ``objective(model, x, train, generator)`` it is a plain :data:`LossFn`.

    ``hparams`` are the float hyperparameters of the loss that may differ
    between the members of a cohort (e.g. a VAE's ``beta``).
    """

    loss: Callable[..., torch.Tensor]
    noise: Callable[[torch.Tensor, bool, torch.Generator | None], torch.Tensor | None] = no_noise
    hparams: dict[str, float] = field(default_factory=dict)

    def __call__(self, model: nn.Module, x: torch.Tensor, train: bool,
                 generator: torch.Generator | None) -> torch.Tensor:
        return self.loss(model, x, self.noise(x, train, generator), train, **self.hparams)


class NonFiniteDataError(DataError):
    """The data given to a detector contains NaN or infinite values."""


class DivergenceError(CellError):
    """Training produced a NaN or infinite loss."""


def resolve_device(device: str | None) -> str:
    """``"auto"``/``None`` → ``"cuda"`` when available, else ``"cpu"``."""
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Let torch use ``n`` CPU threads inside the block (0: leave the setting alone).

    Small networks gain nothing from intra-op threads, and on a machine whose
    cores are busy two threads can be several times slower than one.
    """
    if n <= 0:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def check_finite(X: np.ndarray, what: str) -> np.ndarray:
    """Return ``X`` as float32; raise :class:`NonFiniteDataError` on NaN/inf."""
    arr = np.asarray(X, dtype=np.float32)
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = int(bad.reshape(len(arr), -1).any(axis=1).sum()) if arr.ndim else 1
        raise NonFiniteDataError(
            f"{what} contains {int(bad.sum())} NaN/inf value(s) in {rows} sample(s)")
    return arr


def as_tensor(X: np.ndarray, device: str, what: str = "data") -> torch.Tensor:
    """Checked float32 tensor of ``X`` on ``device`` (one copy, index batches later)."""
    return torch.from_numpy(np.ascontiguousarray(check_finite(X, what))).to(device)


def seeds_from(random_state: int | None, n: int = 2) -> list[int]:
    """``n`` independent 63-bit seeds derived from ``random_state``."""
    ss = np.random.SeedSequence(random_state)
    return [int(s.generate_state(2, np.uint64)[0] >> np.uint64(1)) for s in ss.spawn(n)]


def make_generator(seed: int, device: str = "cpu") -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser and stopping schedule; defaults are the paper's."""

    lr: float = 1e-4
    batch_size: int = 128
    max_epochs: int = 1000
    patience: int = 20
    restore_best: bool = True
    seed: int = 0
    device: str = "cpu"
    name: str = "model"
    log_every: float = 10.0

    def __post_init__(self) -> None:
        for key in ("batch_size", "max_epochs", "patience"):
            if int(getattr(self, key)) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")


@dataclass
class TrainResult:
    """What a fit did; :meth:`info` is what the runner stores per cell."""

    epochs: int
    best_epoch: int
    best_val_loss: float
    last_val_loss: float
    last_train_loss: float
    stopped_early: bool
    monitor: str
    seconds: float
    history: list[tuple[float, float]] = field(default_factory=list)

    def info(self) -> dict:
        out = asdict(self)
        out.pop("history")
        out["seconds"] = round(self.seconds, 3)
        return out


def adam(params, lr: float) -> torch.optim.Adam:
    """Adam with the fused kernel where torch has one (CPU, CUDA): the same update rule,
    computed in one pass over each tensor (3-4x faster than the default loop on CPU,
    measured on the paper's VAE; README, Performance)."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, ValueError):  # a device or dtype without the fused kernel
        return torch.optim.Adam(params, lr=lr)


def batched(fn: Callable[[torch.Tensor], torch.Tensor], X: torch.Tensor,
            batch_size: int) -> torch.Tensor:
    """Apply ``fn`` to consecutive batches of ``X`` and concatenate the results."""
    return torch.cat([fn(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])


def _epoch_loss(model, loss_fn, X, batch_size, generator) -> torch.Tensor:
    """Mean validation loss, left on the device (the caller reads it once per epoch)."""
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=X.device)
    with torch.no_grad():
        for i in range(0, len(X), batch_size):
            total += loss_fn(model, X[i:i + batch_size], False, generator).double().sum()
    return total / len(X)


def fit_model(model: nn.Module, loss_fn: LossFn, X_train: torch.Tensor,
              X_val: torch.Tensor | None, config: TrainConfig) -> TrainResult:
    """Train ``model`` in place on the mean of ``loss_fn`` over mini-batches.

    Parameters
    ----------
    model : nn.Module
        Already on ``config.device``.
    loss_fn : callable
        ``loss_fn(model, x, train, generator)`` returning one loss per sample;
        ``train`` is False for the validation pass (e.g. no input noise).
    X_train, X_val : Tensor
        On ``config.device``. Without ``X_val`` (or with an empty one) the
        training loss is monitored instead.
    config : TrainConfig

    Returns
    -------
    TrainResult

    Raises
    ------
    DivergenceError
        When the training or validation loss becomes NaN or infinite.
    """
    start = time.perf_counter()
    gen = make_generator(config.seed, str(X_train.device))
    optimizer = adam(model.parameters(), config.lr)
    has_val = X_val is not None and len(X_val) > 0
    monitor = "val_loss" if has_val else "train_loss"
    best, best_epoch, best_state, wait = math.inf, 0, None, 0
    history: list[tuple[float, float]] = []
    last_log = start
    logged = False
    n = len(X_train)
    if n == 0:
        raise DataError(f"{config.name}: no training samples")
    epoch = 0
    for epoch in range(1, config.max_epochs + 1):
        model.train()
        total = torch.zeros((), dtype=torch.float64, device=X_train.device)
        order = torch.randperm(n, generator=gen, device=X_train.device)
        for i in range(0, n, config.batch_size):
            xb = X_train[order[i:i + config.batch_size]]
            per_sample = loss_fn(model, xb, True, gen)
            loss = per_sample.mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += per_sample.detach().double().sum()
        train_t = total / n
        val_t = _epoch_loss(model, loss_fn, X_val, config.batch_size, gen) if has_val else train_t
        train_loss, val_loss = torch.stack([train_t, val_t]).tolist()  # the epoch's one sync
        history.append((train_loss, val_loss))
        if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
            raise DivergenceError(
                f"{config.name}: training diverged at epoch {epoch} (train loss {train_loss}, "
                f"{monitor} {val_loss}; lr {config.lr:g})")
        if val_loss < best:
            best, best_epoch, wait = val_loss, epoch, 0
            if config.restore_best:
                best_state = copy.deepcopy(model.state_dict())
        else:
            wait += 1
        now = time.perf_counter()
        if now - last_log >= config.log_every:
            log.info("%s: epoch %d/%d: loss %.5g, %s %.5g (best %.5g at epoch %d, patience %d/%d)",
                     config.name, epoch, config.max_epochs, train_loss, monitor, val_loss, best,
                     best_epoch, wait, config.patience)
            last_log, logged = now, True
        if wait >= config.patience:
            break
    stopped = wait >= config.patience
    if config.restore_best and best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    result = TrainResult(
        epochs=epoch, best_epoch=best_epoch, best_val_loss=best,
        last_val_loss=history[-1][1], last_train_loss=history[-1][0], stopped_early=stopped,
        monitor=monitor, seconds=time.perf_counter() - start, history=history)
    log.log(logging.INFO if logged else logging.DEBUG,
            "%s: %s after %d epochs in %.1fs; best %s %.5g at epoch %d%s", config.name,
            "stopped early" if stopped else "reached max_epochs", epoch, result.seconds, monitor,
            best, best_epoch, " (restored)" if config.restore_best else "")
    return result
