"""Cohort training: several models of one architecture trained as one stacked model.

The members of a cohort share the network architecture, the training and
validation tensors and the schedule (learning rate, batch size, epochs,
patience); each keeps its own initial weights, its own generator (so its own
shuffling and noise: the same calls, in the same order, as
:func:`anobench.training.fit_model` makes), its own loss hyperparameters
(e.g. a VAE's ``beta``) and its own early stopping.

The members' parameters are stacked (``(M, ...)`` tensors) and the
per-sample loss is evaluated for all of them at once with
:func:`torch.func.functional_call` under :func:`torch.vmap`; one Adam steps
the stacked tensors, which equals M Adams stepping together because Adam is
elementwise. A member that stops (patience, ``max_epochs`` or a non-finite
loss) leaves the cohort at the end of that epoch: its weights (best or last)
go back into its own module, and the parameters and Adam moments of the
others are compacted, so a stopped member neither moves nor costs compute.
Per epoch there is one transfer to the host (every member's training and
validation loss, for the stopping check); nothing in an epoch waits for the
device otherwise.

Strategy: ``"vmap"`` as above, ``"loop"`` one member after another with
:func:`~anobench.training.fit_model` (the same numbers, no batching).
Stacking pays where one model leaves the device idle (a GPU); on a small CPU
it does not (see README, Performance), so detectors choose per device.
"""
from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call, vmap

from anobench.errors import DataError
from anobench.training import (
    DivergenceError, Objective, TrainConfig, TrainResult, adam, fit_model, make_generator,
)

log = logging.getLogger("anobench.training")

STRATEGIES = ("vmap", "loop")


class _LossModule(nn.Module):
    """``forward(x, noise, **hparams)`` = the objective's per-sample loss of ``net``."""

    def __init__(self, net: nn.Module, objective: Objective, train: bool) -> None:
        super().__init__()
        self.net = net
        self.objective = objective
        self.train_mode = train

    def forward(self, x, noise, hparams):
        return self.objective.loss(self.net, x, noise, self.train_mode, **hparams)


def _schedule_key(cfg: TrainConfig) -> tuple:
    return (cfg.lr, cfg.batch_size, cfg.max_epochs, cfg.patience, cfg.restore_best, cfg.device)


def fit_cohort(models: Sequence[nn.Module], objective: Objective,
               hparams: Sequence[dict[str, float]], X_train: torch.Tensor,
               X_val: torch.Tensor | None, configs: Sequence[TrainConfig],
               strategy: str = "vmap") -> list[TrainResult | Exception]:
    """Train ``models`` in place, each as :func:`~anobench.training.fit_model` would alone.

    Parameters
    ----------
    models : sequence of nn.Module
        Same architecture, already initialised and on the device.
    objective : Objective
        The loss; member ``i`` uses ``objective`` with ``hparams[i]``.
    hparams : sequence of dict
        Per-member loss hyperparameters (same keys for every member).
    X_train, X_val : Tensor
        Shared by all members, on the device.
    configs : sequence of TrainConfig
        Per member; they may differ only in ``seed`` and ``name``.
    strategy : {"vmap", "loop"}

    Returns
    -------
    list
        Per member, its :class:`~anobench.training.TrainResult`, or the
        exception that ended it (e.g. :class:`~anobench.training.DivergenceError`).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown cohort strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
    if not (len(models) == len(hparams) == len(configs)) or not models:
        raise ValueError("fit_cohort needs one hparams dict and one config per model")
    if len({_schedule_key(c) for c in configs}) != 1:
        raise ValueError("cohort members must share lr, batch_size, max_epochs, patience, "
                         "restore_best and device")
    if strategy == "loop" or len(models) == 1:
        out: list[TrainResult | Exception] = []
        for model, hp, cfg in zip(models, hparams, configs):
            try:
                out.append(fit_model(model, Objective(objective.loss, objective.noise, dict(hp)),
                                     X_train, X_val, cfg))
            except DivergenceError as exc:
                out.append(exc)
        return out
    return _fit_stacked(list(models), objective, list(hparams), X_train, X_val, list(configs))


class _Stack:
    """The stacked parameters of the active members and their optimiser."""

    def __init__(self, models: list[nn.Module], lr: float) -> None:
        self.names = [n for n, _ in models[0].named_parameters()]
        self.params = {f"net.{n}": torch.stack([m.get_parameter(n).detach() for m in models])
                       .requires_grad_(True) for n in self.names}
        self.buffers = {f"net.{n}": torch.stack([m.get_buffer(n).detach() for m in models])
                        for n, _ in models[0].named_buffers()}
        self.lr = lr
        self.optimizer = adam(self.params.values(), lr)

    def member_state(self, j: int, source: dict[str, torch.Tensor] | None = None) -> dict:
        src = self.params if source is None else source
        state = {k[4:]: v[j].detach().clone() for k, v in src.items()}
        state.update({k[4:]: v[j].clone() for k, v in self.buffers.items()})
        return state

    def keep(self, keep: torch.Tensor) -> None:
        """Drop every member not in ``keep`` (indices), parameters and Adam moments alike."""
        old = self.optimizer
        new_params = {k: p.detach()[keep].clone().requires_grad_(True)
                      for k, p in self.params.items()}
        new_opt = adam(new_params.values(), self.lr)
        for k, p in self.params.items():
            st = old.state.get(p)
            if st:
                new_opt.state[new_params[k]] = {
                    key: (val.clone() if key == "step" else val[keep].clone())
                    for key, val in st.items()}
        self.params, self.optimizer = new_params, new_opt
        self.buffers = {k: b[keep] for k, b in self.buffers.items()}


def _fit_stacked(models, objective, hparams, X_train, X_val, configs):
    start = time.perf_counter()
    cfg = configs[0]
    device = X_train.device
    n = len(X_train)
    if n == 0:
        raise DataError(f"{cfg.name}: no training samples")
    has_val = X_val is not None and len(X_val) > 0
    monitor = "val_loss" if has_val else "train_loss"
    M = len(models)
    gens = [make_generator(c.seed, str(device)) for c in configs]
    base = copy.deepcopy(models[0]).to("meta")
    train_fn = _vmapped(_LossModule(base, objective, True), x_batched=True)
    val_fn = _vmapped(_LossModule(base, objective, False), x_batched=False)
    stack = _Stack(models, cfg.lr)
    keys = sorted(hparams[0])
    all_hp = {k: torch.tensor([h[k] for h in hparams], dtype=X_train.dtype, device=device)
              for k in keys}

    active = list(range(M))          # original indices of the stacked members
    results: list[TrainResult | Exception | None] = [None] * M
    history: list[list[tuple[float, float]]] = [[] for _ in range(M)]
    best = [math.inf] * M
    best_epoch = [0] * M
    wait = [0] * M
    best_stack: dict[str, torch.Tensor] | None = None
    if cfg.restore_best:
        best_stack = {k: p.detach().clone() for k, p in stack.params.items()}
    has_best = [False] * M
    B = cfg.batch_size
    last_log = start
    epoch = 0
    for epoch in range(1, cfg.max_epochs + 1):
        A = len(active)
        hp = {k: v[active] for k, v in all_hp.items()} if keys else {}
        total = torch.zeros(A, dtype=torch.float64, device=device)
        perms = torch.stack([torch.randperm(n, generator=gens[m], device=device) for m in active])
        for i in range(0, n, B):
            xb = X_train[perms[:, i:i + B]]
            noise = _noise(objective, xb, True, [gens[m] for m in active], batched=True)
            per_sample = train_fn(stack.params, stack.buffers, xb, noise, hp)
            loss = per_sample.mean(dim=1).sum()
            stack.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            stack.optimizer.step()
            total += per_sample.detach().double().sum(dim=1)
        train_loss = total / n
        if has_val:
            vtotal = torch.zeros(A, dtype=torch.float64, device=device)
            with torch.no_grad():
                for i in range(0, len(X_val), B):
                    xv = X_val[i:i + B]
                    noise = _noise(objective, xv, False, [gens[m] for m in active], batched=False)
                    vtotal += val_fn(stack.params, stack.buffers, xv, noise, hp).double().sum(dim=1)
            val_loss = vtotal / len(X_val)
        else:
            val_loss = train_loss
        losses = torch.stack([train_loss, val_loss]).cpu().tolist()  # the epoch's one sync
        finished, improved = [], []
        for j, m in enumerate(active):
            tr, va = losses[0][j], losses[1][j]
            history[m].append((tr, va))
            if not (math.isfinite(tr) and math.isfinite(va)):
                results[m] = DivergenceError(
                    f"{configs[m].name}: training diverged at epoch {epoch} (train loss {tr}, "
                    f"{monitor} {va}; lr {cfg.lr:g})")
                finished.append(j)
                continue
            if va < best[m]:
                best[m], best_epoch[m], wait[m] = va, epoch, 0
                improved.append(j)
            else:
                wait[m] += 1
            if wait[m] >= cfg.patience or epoch == cfg.max_epochs:
                finished.append(j)
        if best_stack is not None and improved:
            idx = torch.tensor(improved, device=device)
            for k, p in stack.params.items():
                best_stack[k].index_copy_(0, idx, p.detach().index_select(0, idx))
            for j in improved:
                has_best[active[j]] = True
        now = time.perf_counter()
        if now - last_log >= cfg.log_every:
            log.info("%s: cohort of %d: epoch %d/%d, %d member(s) still training",
                     cfg.name, M, epoch, cfg.max_epochs, A - len(finished))
            last_log = now
        for j in finished:
            m = active[j]
            if results[m] is not None:  # diverged
                continue
            use_best = best_stack is not None and has_best[m]
            models[m].load_state_dict(stack.member_state(j, best_stack if use_best else None))
            models[m].eval()
            results[m] = TrainResult(
                epochs=epoch, best_epoch=best_epoch[m], best_val_loss=best[m],
                last_val_loss=history[m][-1][1], last_train_loss=history[m][-1][0],
                stopped_early=wait[m] >= cfg.patience, monitor=monitor,
                seconds=time.perf_counter() - start, history=history[m])
        if finished:
            keep = [j for j in range(A) if j not in set(finished)]
            if not keep:
                break
            keep_t = torch.tensor(keep, device=device)
            stack.keep(keep_t)
            if best_stack is not None:
                best_stack = {k: v[keep_t] for k, v in best_stack.items()}
            active = [active[j] for j in keep]
    log.log(logging.INFO if time.perf_counter() - start >= cfg.log_every else logging.DEBUG,
            "%s: cohort of %d trained in %.1fs (%d epochs at most)", cfg.name, M,
            time.perf_counter() - start, epoch)
    return results


def _vmapped(module: _LossModule, x_batched: bool):
    """``fn(params, buffers, x, noise, hparams) -> (A, B)`` losses, vmapped over members."""

    def one(params, buffers, x, noise, hparams):
        return functional_call(module, (params, buffers), (x, noise, hparams))

    def call(params, buffers, x, noise, hparams):
        dims = (0, 0, 0 if x_batched else None, None if noise is None else 0, 0)
        return vmap(one, in_dims=dims)(params, buffers, x, noise, hparams)

    return call


def _noise(objective: Objective, x: torch.Tensor, train: bool,
           gens: list[torch.Generator], batched: bool) -> torch.Tensor | None:
    """Each member's noise from its own generator, stacked ``(A, ...)`` (or None)."""
    parts = [objective.noise(x[j] if batched else x, train, g) for j, g in enumerate(gens)]
    if parts[0] is None:
        return None
    # one noise function for all members: parts[0] a tensor means all are
    return torch.stack(parts)  # type: ignore[arg-type]
