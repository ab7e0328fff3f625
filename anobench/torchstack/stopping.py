"""Early stopping: the one state both trainers keep per model, and what a fit did.

:class:`EarlyStopping` follows Keras' rule: after every epoch the monitored
loss (the validation loss, or the training loss without validation data) is
compared with the best so far; a strict improvement resets the wait, anything
else adds one, and training stops once ``patience`` epochs passed without an
improvement. A NaN or infinite loss raises :class:`DivergenceError` (the
runner records it as the cell's error). With ``restore_best`` the best
weights come back at the end.

:func:`~anobench.torchstack.training.fit_model` keeps one state for its model;
:func:`~anobench.torchstack.cohort.fit_cohort` one per member, so a member
stops, diverges and restores exactly as its single fit would.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from anobench.errors import CellError

#: A module's weights by name, as ``state_dict`` holds them.
State = dict[str, torch.Tensor]


class DivergenceError(CellError):
    """Training produced a NaN or infinite loss."""


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

    def info(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("history")
        out["seconds"] = round(self.seconds, 3)
        return out


@dataclass
class EarlyStopping:
    """Best loss, epoch and weights of one model, its patience and its history.

    Parameters
    ----------
    patience : int
        Epochs without a strict improvement after which training stops.
    restore_best : bool
        Whether :meth:`restore` loads the best weights (else the last stay).
    monitor : str
        ``"val_loss"`` or ``"train_loss"``: what the second loss of
        :meth:`update` is (named in messages and in the result).
    name, lr
        Named in the divergence message.
    """

    patience: int
    restore_best: bool = True
    monitor: str = "val_loss"
    name: str = "model"
    lr: float = 0.0
    best: float = math.inf
    best_epoch: int = 0
    wait: int = 0
    best_state: State | None = None
    history: list[tuple[float, float]] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        """Epochs recorded so far."""
        return len(self.history)

    @property
    def stopped(self) -> bool:
        """``patience`` epochs have passed without an improvement."""
        return self.wait >= self.patience

    def update(self, train_loss: float, val_loss: float,
               snapshot: Callable[[], State] | None = None) -> bool:
        """Record one epoch's losses; return whether the monitored one improved.

        On an improvement, with ``restore_best``, ``snapshot()`` (when given)
        becomes :attr:`best_state`. A trainer that keeps the best weights
        elsewhere (a cohort keeps them stacked) passes none and fills
        :attr:`best_state` before :meth:`restore`.

        Raises
        ------
        DivergenceError
            When either loss is NaN or infinite.
        """
        self.history.append((train_loss, val_loss))
        if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
            raise DivergenceError(
                f"{self.name}: training diverged at epoch {self.epochs} (train loss {train_loss}, "
                f"{self.monitor} {val_loss}; lr {self.lr:g})")
        if val_loss < self.best:
            self.best, self.best_epoch, self.wait = val_loss, self.epochs, 0
            if self.restore_best and snapshot is not None:
                self.best_state = snapshot()
            return True
        self.wait += 1
        return False

    def restore(self, model: nn.Module) -> None:
        """Load the best weights into ``model`` (with ``restore_best``; else leave the last)."""
        if self.restore_best and self.best_state is not None:
            model.load_state_dict(self.best_state)

    def result(self, seconds: float) -> TrainResult:
        """The fit as it ended (after at least one :meth:`update`)."""
        last_train, last_val = self.history[-1]
        return TrainResult(
            epochs=self.epochs, best_epoch=self.best_epoch, best_val_loss=self.best,
            last_val_loss=last_val, last_train_loss=last_train, stopped_early=self.stopped,
            monitor=self.monitor, seconds=seconds, history=self.history)
