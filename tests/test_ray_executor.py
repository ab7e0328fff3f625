"""The ``ray`` executor: a local Ray instance with 2 CPUs gives the local executor's records.

CI installs the ``ray`` extra and sets ``ANOBENCH_REQUIRE_RAY=1``, so there a
missing Ray fails these tests instead of skipping them.
"""
from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from anobench.api import Detector
from anobench.hookspecs import hookimpl
from anobench.manager import build_registry, get_plugin_manager
from anobench.runner import run_suite
from anobench.store import read_records
from anobench.suite import parse_suite
from anobench_plugins import ray_executor
from anobench_plugins.ray_executor import RayExecutor, probe, unit_resources

if os.environ.get("ANOBENCH_REQUIRE_RAY") == "1":
    import ray
else:
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'anobench[ray]')")

SUITE = """
[suite]
name = "ray-eq"
seed = 3
repetitions = 2
cell_timeout = 120
resources = { cpus = 1 }

[[datasets]]
name = "digits"
classes = [0, 3]

[[detectors]]
name = "pca"
params = { n_components = 8 }

[[detectors]]
name = "vae"
params = { latent_dim = 4, filters = 4, max_epochs = 3, batch_size = 64, threads = 1 }
rules = ["single", "expected"]
measures = ["elbo", "recon"]
n_samples = 5
"""


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance with 2 CPUs for the module (the executor reuses it)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level="WARNING", object_store_memory=200 * 1024 ** 2)
    yield ray
    ray.shutdown()


def values(run_dir):
    """Every stored value with the model's fit_info (wall times left out)."""
    return {(r["cell"], r["column"], r["measure"], r["metric"]):
            (r["value"], {k: v for k, v in r["fit_info"].items() if "seconds" not in k})
            for r in read_records(run_dir)}


def test_ray_gives_the_records_of_the_local_executor(local_ray, registry, tmp_path):
    suite = parse_suite(SUITE, str(tmp_path / "s.toml"), registry)
    local_dir, failed_local = run_suite(suite, registry, results_root=tmp_path / "local",
                                        device="cpu")
    ray_dir, failed_ray = run_suite(suite, registry, results_root=tmp_path / "ray", device="cpu",
                                    executor="ray", jobs=2)
    assert failed_local == failed_ray == 0
    a, b = values(local_dir), values(ray_dir)
    assert len(a) == 4 * (3 + 2 * 2 * 3)  # cells x (pca + vae rules x measures x metrics)
    assert a == b
    # the cells ran in Ray workers, not in this process
    assert local_ray.is_initialized()


def test_unit_resources_from_suite_and_detector(registry, tmp_path):
    text = SUITE.replace("resources = { cpus = 1 }", "resources = { cpus = 2, gpus = 0.25 }")
    text = text.replace('name = "pca"', 'name = "pca"\nresources = { cpus = 0.5 }')
    suite = parse_suite(text, str(tmp_path / "s.toml"), registry)
    pca, vae = suite.detectors

    def unit(suite, cfg):
        return SimpleNamespace(suite=suite, tasks=[SimpleNamespace(group=SimpleNamespace(
            configs=(cfg,)))])

    assert unit_resources(unit(suite, pca)) == {"cpus": 0.5, "gpus": 0.25}
    assert unit_resources(unit(suite, vae)) == {"cpus": 2.0, "gpus": 0.25}
    bare = parse_suite(SUITE.replace("resources = { cpus = 1 }\n", ""), "s.toml", registry)
    assert unit_resources(unit(bare, bare.detectors[0])) == {"cpus": 1.0, "gpus": 0.0}


class Sleepy(Detector):
    """Hangs in fit (to check cell_timeout inside a Ray worker)."""

    def __init__(self, *, seconds: float = 60.0, random_state=None):
        self.seconds = seconds
        self.random_state = random_state

    def fit(self, X, X_val=None):
        end = time.monotonic() + self.seconds
        while time.monotonic() < end:
            time.sleep(0.05)
        return self

    def score(self, X):
        return np.asarray(X).reshape(len(X), -1).sum(1)


def test_cell_timeout_in_a_ray_worker_fails_the_cell(local_ray, tmp_path):
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests
    plugin = SimpleNamespace(anobench_register_detectors=hookimpl(
        lambda registry: registry.add_detector("sleepy", Sleepy)))
    registry = build_registry(get_plugin_manager(extra_plugins=[("sleepyplug", plugin)]))
    text = """
[suite]
name = "ray-timeout"
repetitions = 1
cell_timeout = 1
[[datasets]]
name = "digits"
classes = [0]
[[detectors]]
name = "sleepy"
[[detectors]]
name = "pca"
params = { n_components = 4 }
"""
    suite = parse_suite(text, str(tmp_path / "t.toml"), registry)
    t0 = time.monotonic()
    run_dir, failed = run_suite(suite, registry, results_root=tmp_path, executor="ray", jobs=2)
    assert failed == 1 and time.monotonic() - t0 < 50
    (err,) = read_records(run_dir, ("error",))
    assert "CellTimeout: the cell ran longer than cell_timeout = 1 s" in err["error"]
    assert {r["column"] for r in read_records(run_dir)} == {"pca"}


def test_unreachable_cluster_is_one_error(monkeypatch):
    from anobench.errors import AnobenchError

    ex = RayExecutor(jobs=1, address="ray://127.0.0.1:9")
    monkeypatch.setattr(ray_executor, "probe", lambda address: None)  # as if it answered
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: (_ for _ in ()).throw(
        ConnectionError("could not connect")))
    with pytest.raises(AnobenchError, match=re.escape(
            "cannot start or reach the Ray cluster at ray://127.0.0.1:9: ConnectionError")):
        ex._connect()


class Segfault(Detector):
    """Kills the process it runs in with SIGSEGV (a crash in native code)."""

    def __init__(self, *, random_state=None):
        self.random_state = random_state

    def fit(self, X, X_val=None):
        import signal

        os.kill(os.getpid(), signal.SIGSEGV)

    def score(self, X):  # pragma: no cover - never reached
        return np.zeros(len(X))


def test_a_dying_ray_worker_is_one_failed_cell_without_retries(local_ray, tmp_path, capfd):
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    plugin = SimpleNamespace(anobench_register_detectors=hookimpl(
        lambda registry: registry.add_detector("segfault", Segfault)))
    registry = build_registry(get_plugin_manager(extra_plugins=[("segvplug", plugin)]))
    text = """
[suite]
name = "ray-death"
repetitions = 1
[[datasets]]
name = "digits"
classes = [0]
[[detectors]]
name = "segfault"
[[detectors]]
name = "pca"
params = { n_components = 4 }
"""
    suite = parse_suite(text, str(tmp_path / "t.toml"), registry)
    run_dir, failed = run_suite(suite, registry, results_root=tmp_path, executor="ray", jobs=2)
    assert failed == 1
    (err,) = read_records(run_dir, ("error",))
    assert "detector 'segfault' (plugin 'segvplug'): WorkerDied: the Ray worker process died " \
           "(WorkerCrashedError" in err["error"]
    assert err["error"].endswith(f"while running cell {err['cell']}")
    pca = read_records(run_dir)
    assert {r["column"] for r in pca} == {"pca"}
    # --resume does not die either: the cell fails again, nothing else changes
    _, failed = run_suite(suite, registry, results_root=tmp_path, executor="ray", jobs=2,
                          resume=run_dir)
    assert failed == 1 and read_records(run_dir) == pca
    time.sleep(1)  # Ray's notices arrive asynchronously
    out, errs = capfd.readouterr()
    assert "A worker died" not in out + errs and "retries remaining" not in out + errs


# ------------------------------------------------------------------ nothing waits forever

def _server(reply: bytes | None):
    """A local TCP server that answers every connection with ``reply`` (None: silence)."""
    import socket
    import threading

    srv = socket.create_server(("127.0.0.1", 0))
    conns = []

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            conns.append(conn)
            if reply is not None:
                conn.recv(64)
                conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    return srv, f"127.0.0.1:{srv.getsockname()[1]}", conns


def _closed_port() -> str:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as s:
        return f"127.0.0.1:{s.getsockname()[1]}"


def test_probe_tells_a_ray_head_from_a_wrong_address():
    settings = bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
    grpc, at, _ = _server(settings)
    ssh, ssh_at, _ = _server(b"SSH-2.0-OpenSSH_9.6\r\n")
    silent, silent_at, _ = _server(None)
    try:
        assert probe(at) is None and probe(f"ray://{at}") is None
        assert probe("auto") is None and probe("local") is None
        assert "not as a Ray cluster" in probe(ssh_at)
        t0 = time.monotonic()
        assert probe(silent_at, timeout=0.5) == "no answer within 0.5 s"
        assert time.monotonic() - t0 < 3
        assert probe(_closed_port()).startswith("ConnectionRefusedError")
        assert probe("head:port") == "not host:port"
    finally:
        for s in (grpc, ssh, silent):
            s.close()


@pytest.mark.parametrize("given", ["--address", "$RAY_ADDRESS"])
def test_a_wrong_address_fails_fast_naming_it(given, monkeypatch):
    from anobench.errors import AnobenchError

    address = _closed_port()
    if given == "$RAY_ADDRESS":
        monkeypatch.setenv("RAY_ADDRESS", address)
    ex = RayExecutor(jobs=1, address=address if given == "--address" else None)
    t0 = time.monotonic()
    with pytest.raises(AnobenchError, match=re.escape(
            f"--executor ray: cannot reach the Ray cluster at {address} ({given}): "
            "ConnectionRefusedError")):
        ex._connect()
    assert time.monotonic() - t0 < 5


@pytest.mark.parametrize("resources, who, asks", [
    ("[suite] resources = {gpus = 1}", "detector 'pca' ([suite] resources)", "cpus = 1, gpus = 1"),
    ("[suite] resources = {cpus = 1000}", "detector 'pca' ([suite] resources)",
     "cpus = 1000, gpus = 0"),
    ("detectors[0].resources = {gpus = 0.5}", "detector 'pca' (detectors[0].resources)",
     "cpus = 1, gpus = 0.5"),
])
def test_resources_no_node_has_fail_fast(resources, who, asks, local_ray, registry, tmp_path):
    """A unit no node can hold would wait forever: one error naming it and what the nodes have."""
    from anobench.errors import AnobenchError

    text = SUITE.replace("resources = { cpus = 1 }\n", "")
    key = resources.split("resources = ")[1].replace("{", "{ ").replace("}", " }")
    if resources.startswith("[suite]"):
        text = text.replace("repetitions = 2\n", f"repetitions = 2\nresources = {key}\n")
    else:
        text = text.replace('name = "pca"\n', f'name = "pca"\nresources = {key}\n')
    suite = parse_suite(text, str(tmp_path / "s.toml"), registry)
    cpus = local_ray.cluster_resources().get("CPU", 0)
    t0 = time.monotonic()
    with pytest.raises(AnobenchError, match=re.escape(
            f"--executor ray: {who} asks for {asks} per unit, but no node of the local Ray "
            f"instance has that (its nodes: CPU {cpus:g}, GPU 0)")):
        run_suite(suite, registry, results_root=tmp_path / "r", executor="ray", jobs=2)
    assert time.monotonic() - t0 < 30
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").rglob("records.jsonl"))


@pytest.mark.slow
def test_sigterm_while_probing_an_address_stops_the_run(tmp_path):
    """SIGTERM while anobench waits for a silent --address: gone within 3 s. (A guard: the
    CLI on main also died of it here; in-process, main's ray.init ignored SIGTERM for good.)"""
    import signal
    import subprocess

    srv, at, conns = _server(None)
    suite = tmp_path / "s.toml"
    suite.write_text(SUITE)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "anobench", "run", str(suite), "--results",
                             str(tmp_path / "r"), "--executor", "ray", "--address", at],
                            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not conns and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert conns, "anobench never connected to the address"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=3)
    finally:
        if proc.poll() is None:
            proc.kill()
        srv.close()
    assert proc.returncode != 0
