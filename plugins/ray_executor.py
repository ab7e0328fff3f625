"""The ``ray`` executor: each work unit (a cell or a cohort of cells) is a Ray task.

``anobench run SUITE --executor ray [--address ADDR]`` connects to a Ray
cluster (``--address``, else ``$RAY_ADDRESS``, else it starts a local Ray
instance with ``--jobs`` CPUs, or all of them) and submits every unit as a
task asking for the resources the suite declares: ``[suite] resources =
{cpus = 1, gpus = 0.25}``, or a ``resources`` table on a ``[[detectors]]``
entry for that detector (default: one CPU, no GPU). Results stream back to the
driver as tasks finish; only the driver writes the record store. Units carry
their data splits, so workers need anobench and the plugins the suite uses
installed, not the data. Needs ``pip install anobench[ray]``.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from anobench.errors import AnobenchError
from anobench.executors import Executor, ExecutorError
from anobench.hookspecs import hookimpl

#: What a unit asks for when the suite says nothing.
DEFAULT_RESOURCES = {"cpus": 1.0, "gpus": 0.0}


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise AnobenchError("--executor ray needs Ray: pip install 'anobench[ray]' (or ray)") from None
    return ray


def unit_resources(unit: Any) -> dict[str, float]:
    """``cpus`` and ``gpus`` one unit asks for.

    A detector entry's ``resources`` replace the suite's for the keys it
    sets (the largest, if models of a unit ask for different amounts); keys
    set nowhere take :data:`DEFAULT_RESOURCES`.
    """
    out = {**DEFAULT_RESOURCES, **(getattr(unit.suite, "resources", None) or {})}
    own: dict[str, float] = {}
    for task in unit.tasks:
        for cfg in task.group.configs:
            for key, value in (getattr(cfg, "resources", None) or {}).items():
                own[key] = max(own.get(key, value), value)
    out.update(own)
    return out


class RayExecutor(Executor):
    """Ray tasks on a Ray cluster or a local Ray instance (--address)."""

    name = "ray"

    def __init__(self, *, jobs: int = 1, devices: Sequence[str] = (),
                 address: str | None = None) -> None:
        super().__init__(jobs=jobs, devices=devices)
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self._started = False  # this executor started the Ray instance (and stops it)
        self._pending: dict[Any, Any] = {}

    def _connect(self) -> Any:
        ray = _import_ray()
        if ray.is_initialized():
            return ray
        options: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False,
                                       logging_level="WARNING")
        try:
            if self.address:
                ray.init(address=self.address, **options)
            else:
                ray.init(num_cpus=self.jobs if self.jobs > 1 else None, **options)
                self._started = True
        except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ...
            where = f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"
            raise AnobenchError(f"--executor ray: cannot start or reach {where}: "
                                f"{type(exc).__name__}: {exc}") from None
        return ray

    def _capacity(self, ray: Any) -> int:
        if self.jobs > 1:
            return self.jobs
        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    def map(self, fn: Callable[[Any], Any], units: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        ray = self._connect()
        task = ray.remote(fn)
        limit = 2 * self._capacity(ray)  # units in flight: enough to keep every worker busy
        source = iter(units)
        exhausted = False
        while True:
            while not exhausted and len(self._pending) < limit:
                try:
                    unit = next(source)
                except StopIteration:
                    exhausted = True
                    break
                want = unit_resources(unit)
                ref = task.options(num_cpus=want["cpus"], num_gpus=want["gpus"]).remote(unit)
                self._pending[ref] = unit
            if not self._pending:
                return
            ready, _ = ray.wait(list(self._pending), num_returns=1)
            for ref in ready:
                unit = self._pending.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - a task or its worker failed
                    raise ExecutorError(f"executor 'ray': a task failed: {type(exc).__name__}: "
                                        f"{str(exc).strip().splitlines()[-1] if str(exc) else ''}"
                                        ) from exc
                yield unit, result

    def close(self) -> None:
        if self._pending:  # interrupted or failed: stop what is still running
            ray = _import_ray()
            for ref in list(self._pending):
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001, S110 - already finished or gone
                    pass
            self._pending.clear()
        if self._started:
            _import_ray().shutdown()
            self._started = False


@hookimpl
def anobench_register_executors(registry) -> None:
    registry.add_executor("ray", RayExecutor)
