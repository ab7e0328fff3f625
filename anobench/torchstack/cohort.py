"""Cohort training: several models of one architecture trained as one stacked model.

The members of a cohort share the network architecture, the training and
validation tensors and the schedule (learning rate, batch size, epochs,
patience); each keeps its own initial weights, its own generator (so its own
shuffling and noise: the same calls, in the same order, as
:func:`~anobench.torchstack.training.fit_model` makes), its own loss
hyperparameters (e.g. a VAE's ``beta``) and its own
:class:`~anobench.torchstack.stopping.EarlyStopping` state, the one the single
trainer keeps: a member stops, diverges and restores as its single fit would.

The members' parameters are stacked (``(M, ...)`` tensors,
:func:`torch.func.stack_module_state`) and the per-sample loss is evaluated
for all of them at once with :func:`torch.func.functional_call` under
:func:`torch.vmap`; one Adam steps the stacked tensors, which equals M Adams
stepping together because Adam is elementwise. A member that stops (patience,
``max_epochs`` or a non-finite loss) leaves the cohort at the end of that
epoch: its weights (best or last) go back into its own module, and the
parameters and Adam moments of the others are compacted, so a stopped member
neither moves nor costs compute. The best weights of all members are kept
stacked too (one copy per tensor per epoch, not one per member). Per epoch
there is one transfer to the host (every member's training and validation
loss, for the stopping check); nothing in an epoch waits for the device
otherwise.

Strategy: ``"vmap"`` as above, ``"loop"`` one member after another with
:func:`~anobench.torchstack.training.fit_model` (the same numbers, no
batching). Stacking pays where one model leaves the device idle (a GPU); on a
small CPU it does not (see README, Performance), so detectors choose per device.
"""
from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from anobench.errors import DataError
from anobench.torchstack.runtime import make_generator
from anobench.torchstack.stopping import DivergenceError, EarlyStopping, State, TrainResult
from anobench.torchstack.training import Objective, TrainConfig, adam, fit_model, log

STRATEGIES = ("vmap", "loop")


class _LossModule(nn.Module):
    """``forward(x, noise, hparams)`` = the objective's per-sample loss of ``net``."""

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
    """Train ``models`` in place, each as :func:`~anobench.torchstack.training.fit_model`
    would alone.

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
        Per member, its :class:`~anobench.torchstack.stopping.TrainResult`, or
        the exception that ended it (e.g.
        :class:`~anobench.torchstack.stopping.DivergenceError`).
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
    if len(X_train) == 0:
        raise DataError(f"{configs[0].name}: no training samples")
    if X_val is not None and len(X_val) == 0:
        X_val = None  # monitor the training loss
    members = [_Member(model, dict(hp), make_generator(cfg.seed, str(X_train.device)),
                       cfg.early_stopping(has_val=X_val is not None))
               for model, hp, cfg in zip(models, hparams, configs)]
    return _StackedFit(members, objective, X_train, X_val, configs[0]).run()


@dataclass
class _Member:
    """One model of a cohort and what it keeps to itself."""

    model: nn.Module
    hparams: dict[str, float]
    generator: torch.Generator
    stopping: EarlyStopping
    outcome: TrainResult | Exception | None = None


class _Stack:
    """The members still training, stacked along dimension 0 (row ``j`` = the j-th):
    parameters, buffers, loss hyperparameters, Adam's moments and, with
    ``restore_best``, the best parameters so far."""

    def __init__(self, members: Sequence[_Member], lr: float, keep_best: bool,
                 like: torch.Tensor) -> None:
        params, buffers = stack_module_state([m.model for m in members])
        # keys as functional_call sees them through _LossModule (``net.``)
        self.params = {f"net.{k}": p for k, p in params.items()}
        self.buffers = {f"net.{k}": b for k, b in buffers.items()}
        self.hparams = {k: torch.tensor([m.hparams[k] for m in members], dtype=like.dtype,
                                        device=like.device)
                        for k in sorted(members[0].hparams)}
        self.best: State | None = (
            {k: p.detach().clone() for k, p in self.params.items()} if keep_best else None)
        self.lr = lr
        self.device = like.device
        self.optimizer = adam(self.params.values(), lr)

    def remember(self, rows: list[int]) -> None:
        """The current parameters of ``rows`` become their best (when best ones are kept)."""
        if self.best is None or not rows:
            return
        idx = torch.tensor(rows, device=self.device)
        for k, p in self.params.items():
            self.best[k].index_copy_(0, idx, p.detach().index_select(0, idx))

    def member_state(self, j: int, best: bool = False) -> State:
        """Row ``j`` as a ``state_dict`` of the member's own module (its best parameters
        with ``best``)."""
        src = self.best if best and self.best is not None else self.params
        state = {k[4:]: v[j].detach().clone() for k, v in src.items()}
        state.update({k[4:]: v[j].clone() for k, v in self.buffers.items()})
        return state

    def keep(self, rows: list[int]) -> None:
        """Drop every row not in ``rows``: parameters, Adam moments and the rest alike."""
        keep = torch.tensor(rows, device=self.device)
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
        self.hparams = {k: h[keep] for k, h in self.hparams.items()}
        if self.best is not None:
            self.best = {k: v[keep] for k, v in self.best.items()}


class _StackedFit:
    """One stacked fit: the members, the stack of those still training, the vmapped losses."""

    def __init__(self, members: list[_Member], objective: Objective, X_train: torch.Tensor,
                 X_val: torch.Tensor | None, cfg: TrainConfig) -> None:
        self.members = members
        self.active = list(members)  # the stack's rows, in order
        self.objective = objective
        self.X_train, self.X_val, self.cfg = X_train, X_val, cfg
        base = copy.deepcopy(members[0].model).to("meta")
        self.train_fn = _vmapped(_LossModule(base, objective, True), x_batched=True)
        self.val_fn = _vmapped(_LossModule(base, objective, False), x_batched=False)
        self.stack = _Stack(members, cfg.lr, cfg.restore_best, X_train)

    def run(self) -> list[TrainResult | Exception]:
        cfg = self.cfg
        start = last_log = time.perf_counter()
        epoch = 0
        for epoch in range(1, cfg.max_epochs + 1):
            train_loss = self._train_epoch()
            val_loss = train_loss if self.X_val is None else self._val_loss(self.X_val)
            losses = torch.stack([train_loss, val_loss]).cpu().tolist()  # the epoch's one sync
            finished = self._settle(epoch, losses[0], losses[1])
            now = time.perf_counter()
            if now - last_log >= cfg.log_every:
                log.info("%s: cohort of %d: epoch %d/%d, %d member(s) still training",
                         cfg.name, len(self.members), epoch, cfg.max_epochs,
                         len(self.active) - len(finished))
                last_log = now
            self._leave(finished, time.perf_counter() - start)
            if not self.active:
                break
        seconds = time.perf_counter() - start
        log.log(logging.INFO if seconds >= cfg.log_every else logging.DEBUG,
                "%s: cohort of %d trained in %.1fs (%d epochs at most)", cfg.name,
                len(self.members), seconds, epoch)
        out: list[TrainResult | Exception] = []
        for m in self.members:
            assert m.outcome is not None, "every member leaves by max_epochs"
            out.append(m.outcome)
        return out

    def _train_epoch(self) -> torch.Tensor:
        """One pass of every active member over the data, each in its own order."""
        X, B, stack = self.X_train, self.cfg.batch_size, self.stack
        n = len(X)
        gens = [m.generator for m in self.active]
        total = torch.zeros(len(gens), dtype=torch.float64, device=X.device)
        perms = torch.stack([torch.randperm(n, generator=g, device=X.device) for g in gens])
        for i in range(0, n, B):
            xb = X[perms[:, i:i + B]]
            noise = _noise(self.objective, xb, True, gens, batched=True)
            per_sample = self.train_fn(stack.params, stack.buffers, xb, noise, stack.hparams)
            loss = per_sample.mean(dim=1).sum()
            stack.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            stack.optimizer.step()
            total += per_sample.detach().double().sum(dim=1)
        return total / n

    def _val_loss(self, X_val: torch.Tensor) -> torch.Tensor:
        """Every active member's mean validation loss, left on the device."""
        B, stack = self.cfg.batch_size, self.stack
        gens = [m.generator for m in self.active]
        total = torch.zeros(len(gens), dtype=torch.float64, device=X_val.device)
        with torch.no_grad():
            for i in range(0, len(X_val), B):
                xv = X_val[i:i + B]
                noise = _noise(self.objective, xv, False, gens, batched=False)
                total += self.val_fn(stack.params, stack.buffers, xv, noise,
                                     stack.hparams).double().sum(dim=1)
        return total / len(X_val)

    def _settle(self, epoch: int, train: list[float], val: list[float]) -> list[int]:
        """Each active member's stopping state takes the epoch; the rows that are done."""
        improved, finished = [], []
        for j, (member, tr, va) in enumerate(zip(self.active, train, val)):
            try:
                if member.stopping.update(tr, va):
                    improved.append(j)
            except DivergenceError as exc:
                member.outcome = exc
                finished.append(j)
                continue
            if member.stopping.stopped or epoch == self.cfg.max_epochs:
                finished.append(j)
        self.stack.remember(improved)
        return finished

    def _leave(self, finished: list[int], seconds: float) -> None:
        """The ``finished`` rows leave the stack; a member that did not diverge ends as its
        single fit ends: the last weights in its module, then its stopping state restores."""
        for j in finished:
            member = self.active[j]
            if member.outcome is not None:  # diverged
                continue
            member.model.load_state_dict(self.stack.member_state(j))
            if self.stack.best is not None:
                member.stopping.best_state = self.stack.member_state(j, best=True)
            member.stopping.restore(member.model)
            member.model.eval()
            member.outcome = member.stopping.result(seconds)
        if not finished:
            return
        rows = [j for j in range(len(self.active)) if j not in set(finished)]
        if rows:
            self.stack.keep(rows)
        self.active = [self.active[j] for j in rows]


def _vmapped(module: _LossModule, x_batched: bool) -> Callable[..., torch.Tensor]:
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
