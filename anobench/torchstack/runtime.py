"""Where and how torch runs: device, threads, seeds and generators, checked tensors.

Bad input never turns into NaN scores: NaN/inf in the data raises
:class:`NonFiniteDataError` before anything trains.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
import torch

from anobench.errors import DataError


class NonFiniteDataError(DataError):
    """The data given to a detector contains NaN or infinite values."""


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
    """A :class:`torch.Generator` on ``device`` seeded with ``seed``."""
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


def batched(fn: Callable[[torch.Tensor], torch.Tensor], X: torch.Tensor,
            batch_size: int) -> torch.Tensor:
    """Apply ``fn`` to consecutive batches of ``X`` and concatenate the results."""
    return torch.cat([fn(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])
