"""Plumbing shared by the built-in neural detectors (not a plugin itself).

Subclasses declare their full keyword-only ``__init__`` (the registry and the
suite checker read the signature) and call :meth:`TorchDetector._train`.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from anobench.api import Detector
from anobench.errors import DataError
from anobench.nn import describe, keras_init_
from anobench.training import (
    LossFn, TrainConfig, TrainResult, as_tensor, fit_model, make_generator, resolve_device,
    seeds_from, torch_threads,
)

#: Rows decoded at once when scoring.
SCORE_BATCH = 1024


class TorchDetector(Detector):
    """Base for detectors trained with :func:`anobench.training.fit_model`."""

    lr: float
    batch_size: int
    max_epochs: int
    patience: int
    restore_best: bool
    device: str
    random_state: int | None

    def _set_params(self, params: dict[str, Any]) -> None:
        """Store the ``__init__`` arguments unchanged (call with ``locals()``)."""
        for key, value in params.items():
            if key not in ("self", "__class__"):
                setattr(self, key, value)

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> None:
        """Refuse bad parameter values (the suite loader calls this before training)."""
        cls(**params)._check_params()

    def _check_params(self) -> None:
        """Raise ``ValueError`` naming a bad parameter (also called at the start of fit)."""
        for key in ("latent_dim", "filters", "batch_size", "max_epochs", "patience"):
            value = getattr(self, key, 1)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"parameter {key} must be a positive integer, got {value!r}")
        hidden = getattr(self, "hidden", 0)
        if not isinstance(hidden, int) or hidden < 0:
            raise ValueError(f"parameter hidden must be an integer >= 0, got {hidden!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"parameter lr must be > 0, got {self.lr!r}")
        if not (self.device in ("auto", "cpu", "cuda") or str(self.device).startswith("cuda:")):
            raise ValueError(f"parameter device must be auto, cpu or cuda, got {self.device!r}")
        threads = getattr(self, "threads", 0)
        if not isinstance(threads, int) or threads < 0:
            raise ValueError(f"parameter threads must be an integer >= 0, got {threads!r}")

    def _threads(self):
        """Context in which this detector fits and scores (its ``threads`` setting)."""
        return torch_threads(getattr(self, "threads", 0))

    def _setup(self, X: np.ndarray, X_val: np.ndarray | None):
        self._check_params()
        self.device_ = resolve_device(self.device)
        init_seed, train_seed, draw_seed = seeds_from(self.random_state, 3)
        self.draw_seed_ = draw_seed
        Xt = as_tensor(X, self.device_, "training data")
        if Xt.ndim not in (2, 4):
            raise DataError(f"{self.name or type(self).__name__}: samples must be images "
                            f"(n, C, H, W) or feature vectors (n, d), got shape {tuple(X.shape)}")
        Xv = as_tensor(X_val, self.device_, "validation data") if X_val is not None else None
        self.sample_shape_ = tuple(Xt.shape[1:])
        return Xt, Xv, init_seed, train_seed

    def _init(self, model: nn.Module, seed: int) -> nn.Module:
        keras_init_(model, make_generator(seed, "cpu"))
        return model.to(self.device_)

    def _train(self, model: nn.Module, loss_fn: LossFn, Xt: torch.Tensor,
               Xv: torch.Tensor | None, seed: int) -> TrainResult:
        config = TrainConfig(lr=self.lr, batch_size=self.batch_size, max_epochs=self.max_epochs,
                             patience=self.patience, restore_best=self.restore_best, seed=seed,
                             device=self.device_, name=self.name or type(self).__name__)
        with self._threads():
            self.train_result_ = fit_model(model, loss_fn, Xt, Xv, config)
        return self.train_result_

    def _test_tensor(self, X: np.ndarray) -> torch.Tensor:
        Xt = as_tensor(X, self.device_, "test data")
        if tuple(Xt.shape[1:]) != self.sample_shape_:
            raise DataError(f"{self.name or type(self).__name__}: test samples have shape "
                            f"{tuple(Xt.shape[1:])}, the model was fitted on {self.sample_shape_}")
        return Xt

    def fit_info(self) -> dict[str, Any]:
        result = getattr(self, "train_result_", None)
        info = result.info() if result is not None else {}
        info["device"] = getattr(self, "device_", None)
        model = getattr(self, "model_", None)
        if isinstance(model, nn.Module):
            info["network"] = describe(model)
        return info
