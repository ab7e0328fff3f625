"""Plumbing shared by the built-in neural detectors (not a plugin itself).

Subclasses declare their full keyword-only ``__init__`` (the registry and the
suite checker read the signature), build their network in :meth:`_network`
and their loss in :meth:`_objective`; :meth:`TorchDetector.fit` trains one
model, :meth:`TorchDetector.fit_cohort` several at once (stacked,
:mod:`anobench.torchstack.cohort`), with the same numbers per member.
"""
from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from anobench.api import Detector, FitCost
from anobench.devices import resolve_device
from anobench.errors import DataError
from anobench.torchstack.networks import describe, keras_init_
from anobench.torchstack.runtime import (
    as_tensor, make_generator, seeds_from, torch_threads,
)
from anobench.torchstack.stopping import TrainResult
from anobench.torchstack.training import LossFn, Objective, TrainConfig, fit_model

#: Rows decoded at once when scoring on CPU (a GPU takes 8 times more).
SCORE_BATCH = 1024

#: Cohort sizes worth stacking, per device type (1: train one by one). The CUDA
#: size is not measured yet (no GPU was available): one small model leaves a
#: GPU mostly idle, so stack more.
COHORT_SIZE = {"cpu": 10, "cuda": 64}

#: On a CPU, stacking pays only for small samples: on the 2-core machine, 10
#: VAEs on 8x8 digits (64 values) trained in 0.35x the time of one by one, while
#: at 28x28 (784) the paper's ae/vae/dsebm took 1.2-1.4x (README, Performance).
CPU_COHORT_MAX_VALUES = 256


class TorchDetector(Detector):
    """Base for detectors trained with :func:`anobench.torchstack.training.fit_model`."""

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

    # -- what a subclass provides ----------------------------------------
    def _network(self) -> nn.Module:
        """The untrained network for samples of shape ``self.sample_shape_``."""
        raise NotImplementedError

    def _objective(self) -> Objective:
        """The training loss (its ``hparams`` are the ones a cohort may vary)."""
        raise NotImplementedError

    def _check_data(self, Xt: torch.Tensor) -> None:
        """Refuse training data the model cannot use (after the generic checks)."""

    # -- fitting ------------------------------------------------------------
    def fit(self, X, X_val=None):
        Xt, Xv, init_seed, train_seed = self._setup(X, X_val)
        self._check_data(Xt)
        self.model_ = self._init(self._network(), init_seed)
        self._train(self.model_, self._objective(), Xt, Xv, train_seed)
        return self

    #: Parameters that may differ between the members of one cohort.
    cohort_params: ClassVar[tuple[str, ...]] = ("random_state",)
    #: How cohorts are trained: ``"vmap"`` (stacked) or ``"loop"`` (one by one).
    cohort_strategy: ClassVar[str] = "vmap"

    @classmethod
    def cohort_size(cls, device: str, sample_shape: tuple[int, ...]) -> int:
        """Members worth training together on ``device`` for samples of ``sample_shape``
        (1: one by one)."""
        kind = str(device).split(":")[0]
        if kind == "cpu" and math.prod(sample_shape) > CPU_COHORT_MAX_VALUES:
            return 1
        return COHORT_SIZE.get(kind, 1)

    @classmethod
    def fit_cohort(cls, members: Sequence[TorchDetector], X: np.ndarray,
                   X_val: np.ndarray | None = None) -> list[TorchDetector | Exception]:
        """Fit ``members`` (unfitted, differing only in :attr:`cohort_params`) together.

        Each member ends as if ``member.fit(X, X_val)`` had run alone (same
        seeds, same calls to its generator); returns the members, or for a
        member that failed (e.g. a diverging loss) the exception.
        """
        from anobench.torchstack.cohort import fit_cohort

        first = members[0]
        Xt, Xv, _, _ = first._setup(X, X_val)
        first._check_data(Xt)
        models, configs, hparams = [], [], []
        for det in members:
            det._check_params()
            det.device_ = first.device_
            det.sample_shape_ = first.sample_shape_
            init_seed, train_seed, det.draw_seed_ = seeds_from(det.random_state, 3)
            models.append(det._init(det._network(), init_seed))
            configs.append(det._config(train_seed))
            hparams.append(det._objective().hparams)
        with first._threads():
            results = fit_cohort(models, first._objective(), hparams, Xt, Xv, configs,
                                 cls.cohort_strategy)
        out: list[TorchDetector | Exception] = []
        for det, model, res in zip(members, models, results):
            if isinstance(res, Exception):
                out.append(res)
                continue
            det.model_, det.train_result_, det.cohort_size_ = model, res, len(members)
            out.append(det)
        return out

    # -- kept models (anobench rescore) ----------------------------------------
    def model_state(self) -> dict[str, np.ndarray]:
        """The fitted network's ``state_dict`` as CPU arrays (``[suite] keep_models``)."""
        return {k: v.detach().cpu().numpy() for k, v in self.model_.state_dict().items()}

    def load_model_state(self, state: dict[str, np.ndarray],
                         sample_shape: tuple[int, ...]) -> TorchDetector:
        """Rebuild the fitted network from :meth:`model_state` (same parameters and seed).

        Sets what ``fit`` sets for scoring: device, sample shape, the draw seed.
        """
        self._check_params()
        self.device_ = resolve_device(self.device)
        self.sample_shape_ = tuple(int(d) for d in sample_shape)
        _, _, self.draw_seed_ = seeds_from(self.random_state, 3)
        model = self._network()
        try:
            model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
        except RuntimeError as exc:
            raise ValueError(f"the stored weights do not fit the network: "
                             f"{str(exc).splitlines()[0]}") from None
        self.model_ = model.to(self.device_)
        return self

    @classmethod
    def model_bytes(cls, params: dict[str, Any], sample_shape: tuple[int, ...]) -> int:
        """Bytes of :meth:`model_state` for these parameters and samples (builds the network)."""
        det = cls(**params)
        det.sample_shape_ = tuple(sample_shape)
        state = det._network().state_dict()
        return int(sum(v.numel() * v.element_size() for v in state.values()))

    #: Training steps timed by :meth:`fit_cost` (after a warm-up fit of one step).
    COST_STEPS = 3

    @classmethod
    def fit_cost(cls, params: dict[str, Any], X: np.ndarray, *, device: str, members: int = 1,
                 n_samples: int | None = None) -> FitCost:
        """Time real training steps, a validation batch and scoring on samples of ``X``.

        Fits of one epoch each (the fit path of a run: :meth:`fit`, or
        :meth:`fit_cohort` for ``members`` > 1): a warm-up of one step, one of
        one step and one of ``1 + COST_STEPS`` steps (both once more when
        their difference is implausibly small, the quicker times kept); a
        step is their difference divided by ``COST_STEPS`` and the rest of the
        one-step fit is the set-up (when the difference drowns in noise, the
        longer fit counts as steps only).
        Then one validation batch (the loss without
        gradients) and scoring of ``SCORE_BATCH`` samples, each timed after a
        warm-up call; for a posterior draw of ``n_samples``, the draw at the
        mean plus ``n_samples`` times what one sample adds to it.
        """
        base = dict(params, device=device)
        probe = cls(**base)
        probe._check_params()
        bs = probe.batch_size
        rows = lambda n: np.ascontiguousarray(X[np.arange(n) % len(X)])  # noqa: E731

        def fit(steps: int) -> tuple[float, TorchDetector]:
            data = rows(bs * steps)
            dets = [cls(**dict(base, max_epochs=1, random_state=i)) for i in range(members)]
            t0 = time.perf_counter()
            out = [dets[0].fit(data, None)] if members == 1 else cls.fit_cohort(dets, data, None)
            seconds = time.perf_counter() - t0
            failed = next((d for d in out if isinstance(d, Exception)), None)
            if failed is not None:
                raise failed
            return seconds, out[0]

        fit(1)
        one, (more, det) = fit(1)[0], fit(1 + cls.COST_STEPS)
        if more - one <= 0.2 * more:  # a stall (a busy machine) spoiled one: once more, keep the min
            one, (again, det) = min(one, fit(1)[0]), fit(1 + cls.COST_STEPS)
            more = min(more, again)
        step = (more - one) / cls.COST_STEPS
        if step <= 0.05 * more / (1 + cls.COST_STEPS):  # too noisy to split: count it all as steps
            step, one = more / (1 + cls.COST_STEPS), 0.0
        xb = torch.from_numpy(rows(bs)).to(det.device_)
        objective, gen = det._objective(), make_generator(0, det.device_)

        def validate() -> None:
            with torch.no_grad(), det._threads():
                objective(det.model_, xb, False, gen).sum().item()

        xs = rows(SCORE_BATCH)
        if n_samples is None:
            scoring = _timed(lambda: det.score(xs[:8]), lambda: det.score(xs))
        else:  # the draw at mu, then L times one sample's share (timed with one)
            def draw(n: int, k: int = SCORE_BATCH) -> None:
                det.posterior_draw(xs[:k], n_samples=n, seed=0)

            at_mu = _timed(lambda: draw(1, 8), lambda: draw(0))
            with_one = _timed(lambda: None, lambda: draw(1)) if n_samples else at_mu
            scoring = at_mu + n_samples * max(with_one - at_mu, 0.0)
        return FitCost(epochs=(min(probe.patience + 1, probe.max_epochs), probe.max_epochs),
                       batch_size=bs, step_seconds=step,
                       eval_seconds=_timed(validate, validate) * members,
                       setup_seconds=max(one - step, 0.0),
                       score_seconds_per_row=scoring / SCORE_BATCH, members=members)

    def _init(self, model: nn.Module, seed: int) -> nn.Module:
        keras_init_(model, make_generator(seed, "cpu"))
        return model.to(self.device_)

    def _config(self, seed: int) -> TrainConfig:
        return TrainConfig(lr=self.lr, batch_size=self.batch_size, max_epochs=self.max_epochs,
                           patience=self.patience, restore_best=self.restore_best, seed=seed,
                           device=self.device_, name=self.name or type(self).__name__)

    def _train(self, model: nn.Module, loss_fn: LossFn, Xt: torch.Tensor,
               Xv: torch.Tensor | None, seed: int) -> TrainResult:
        with self._threads():
            self.train_result_ = fit_model(model, loss_fn, Xt, Xv, self._config(seed))
        self.cohort_size_ = 1
        return self.train_result_

    def _score_batch(self) -> int:
        """Rows scored at once: large batches on a GPU, where a small one leaves it idle."""
        return SCORE_BATCH * (8 if str(getattr(self, "device_", "cpu")).startswith("cuda") else 1)

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
        info["cohort_size"] = getattr(self, "cohort_size_", 1)
        return info


def _timed(warm_up, fn) -> float:
    """Seconds of one call of ``fn`` after a call of ``warm_up`` (first-call costs)."""
    warm_up()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
