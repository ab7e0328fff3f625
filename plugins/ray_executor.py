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

Nothing waits forever: an address is probed first (a TCP connection and a
gRPC answer, each within :data:`PROBE_SECONDS`), so a wrong ``--address`` or
``$RAY_ADDRESS`` is one error naming it, not minutes of retries; and before
the first unit is submitted, every detector's resources are compared with
the cluster's nodes, so a unit that no node can hold (``gpus = 1`` on a
cluster without GPUs, ``cpus = 1000``) is one error naming the resources and
what the nodes have, not a task that waits forever.
"""
from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from anobench.errors import AnobenchError
from anobench.executors import Executor, ExecutorError, WorkerDied
from anobench.hookspecs import hookimpl

#: What a unit asks for when the suite says nothing.
DEFAULT_RESOURCES = {"cpus": 1.0, "gpus": 0.0}
#: How long the address probe waits to connect, and then for the server's answer.
PROBE_SECONDS = 5.0
#: The start of an HTTP/2 (gRPC) connection: the client preface and an empty SETTINGS frame.
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def probe(address: str, timeout: float = PROBE_SECONDS) -> str | None:
    """Why ``address`` (``host:port`` or ``ray://host:port``) is not a Ray cluster, or None.

    Ray's head (its GCS, or the Ray Client server) speaks gRPC: it must accept a
    TCP connection and answer the HTTP/2 preface with a SETTINGS frame, each
    within ``timeout`` seconds. ``auto`` and ``local`` are not probed (None).
    """
    target = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = target.rpartition(":")
    if address in ("auto", "local") or not sep:
        return None
    if not port.isdigit() or not host:
        return "not host:port"
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(_H2_PREFACE)
            head = sock.recv(9)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except OSError as exc:
        return f"{type(exc).__name__}: {exc.strerror or exc}"
    if len(head) < 4 or head[3] != 4:  # frame type 4: SETTINGS
        return "it answers, but not as a Ray cluster (no gRPC server there)"
    return None


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


def _died(ray: Any) -> tuple[type[BaseException], ...]:
    """Ray's exceptions for a task whose worker process died under it."""
    exc = ray.exceptions
    return tuple(getattr(exc, n) for n in ("WorkerCrashedError", "OutOfMemoryError")
                 if hasattr(exc, n))


def _first_line(exc: BaseException) -> str:
    """The first sentence of Ray's message (the rest points to log files)."""
    line = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), "")
    return line.split(". ")[0].rstrip(".")


_STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


def _python_signal_handlers() -> dict[int, Any]:
    """This process's Python handlers of the signals that stop a run."""
    import signal

    return {getattr(signal, n): signal.getsignal(getattr(signal, n)) for n in _STOP_SIGNALS
            if hasattr(signal, n)}


def _restore_signal_handlers(handlers: dict[int, Any]) -> None:
    """Install ``handlers`` again: ``ray.init`` replaces SIGTERM's with its own, which
    aborts the driver (exit 134, raw lines) instead of stopping the run cleanly."""
    import signal

    for signum, handler in handlers.items():
        if handler is None:
            continue
        try:
            signal.signal(signum, handler)
        except ValueError:  # not the main thread
            return


def _quiet_worker_errors() -> None:
    """Send Ray's "(raylet) A worker died ..." lines to the debug log, not to stdout.

    A dead worker becomes a failed-cell record naming the cell; Ray's own
    multi-line notices about it would garble the report printed on stdout.
    """
    import logging

    try:
        from ray._private import worker as ray_worker
    except ImportError:  # pragma: no cover - another Ray layout: leave it as it is
        return
    original = getattr(ray_worker, "print_to_stdstream", None)
    if original is None or getattr(original, "_anobench_quiet", False):
        return
    log = logging.getLogger("anobench.ray")

    def quiet(data: dict, *args: Any, **kwargs: Any) -> None:
        if data.get("pid") == "raylet":
            for line in data.get("lines", ()):
                log.debug("(raylet) %s", line)
            return
        original(data, *args, **kwargs)

    quiet._anobench_quiet = True  # type: ignore[attr-defined]
    ray_worker.print_to_stdstream = quiet


def suite_wants(suite: Any) -> list[tuple[str, dict[str, float]]]:
    """(who asks, resources) for every detector entry of ``suite``, as :func:`unit_resources`."""
    base = {**DEFAULT_RESOURCES, **(getattr(suite, "resources", None) or {})}
    out = []
    for cfg in suite.detectors:
        own = getattr(cfg, "resources", None) or {}
        where = (f"detectors[{cfg.entry}].resources" if own else
                 "[suite] resources" if getattr(suite, "resources", None) else "the default")
        out.append((f"detector {cfg.point!r} ({where})", {**base, **own}))
    return out


class RayExecutor(Executor):
    """Ray tasks on a Ray cluster or a local Ray instance (--address)."""

    name = "ray"

    def __init__(self, *, jobs: int = 1, devices: Sequence[str] = (),
                 address: str | None = None) -> None:
        super().__init__(jobs=jobs, devices=devices)
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self._given_by = "--address" if address else "$RAY_ADDRESS"
        self._started = False  # this executor started the Ray instance (and stops it)
        self._pending: dict[Any, Any] = {}
        self._fits: set[tuple[float, float]] = set()  # resources some node can hold

    def _where(self) -> str:
        return (f"the Ray cluster at {self.address} ({self._given_by})" if self.address
                else "the local Ray instance")

    def _connect(self) -> Any:
        ray = _import_ray()
        why = probe(self.address) if self.address else None
        if why:  # before ray.init, which would retry a wrong address for minutes
            raise AnobenchError(f"--executor ray: cannot reach {self._where()}: {why}")
        if ray.is_initialized():
            _quiet_worker_errors()
            return ray
        options: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False,
                                       logging_level="ERROR")
        handlers = _python_signal_handlers()
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
        _restore_signal_handlers(handlers)
        _quiet_worker_errors()
        return ray

    def check_resources(self, ray: Any, wants: Iterable[tuple[str, dict[str, float]]]) -> None:
        """Refuse resources that no alive node has (a task asking for them would wait forever).

        ``wants``: (who asks, ``{"cpus": .., "gpus": ..}``) pairs. Nodes an
        autoscaler has not started yet are not counted.
        """
        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        have = sorted({(float(r.get("CPU", 0)), float(r.get("GPU", 0))) for r in nodes})
        for who, want in wants:
            key = (want["cpus"], want["gpus"])
            if key in self._fits:
                continue
            if not any(c >= key[0] - 1e-9 and g >= key[1] - 1e-9 for c, g in have):
                nodes_text = "; ".join(f"CPU {c:g}, GPU {g:g}" for c, g in have) or "none alive"
                raise AnobenchError(
                    f"--executor ray: {who} asks for cpus = {key[0]:g}, gpus = {key[1]:g} per "
                    f"unit, but no node of {self._where()} has that (its nodes: {nodes_text}); "
                    "ask for less (resources) or add a node that has it")
            self._fits.add(key)

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
                if not self._fits:  # before the first unit: every detector of the suite
                    self.check_resources(ray, suite_wants(unit.suite))
                want = unit_resources(unit)
                self.check_resources(ray, [(f"a unit of {unit.tasks[0].cid}", want)])
                # no retries: a unit that kills its worker would kill the next one too
                ref = task.options(num_cpus=want["cpus"], num_gpus=want["gpus"],
                                   max_retries=0).remote(unit)
                self._pending[ref] = unit
            if not self._pending:
                return
            ready, _ = ray.wait(list(self._pending), num_returns=1)
            for ref in ready:
                unit = self._pending.pop(ref)
                try:
                    result = ray.get(ref)
                except _died(ray) as exc:  # the worker process running the unit died
                    result = WorkerDied(f"the Ray worker process died ({type(exc).__name__}: "
                                        f"{_first_line(exc)}; a crash in native code, os._exit, "
                                        "a signal or the out-of-memory killer)")
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
