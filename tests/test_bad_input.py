"""Bad inputs and faults, table-driven: each case is run through the CLI and must give

* exit code 2 and ONE line ``anobench: error: ...`` naming the file and key
  (``kind = "error"``), or, for a plugin fault, a failed-cell record and exit
  code 1 (``kind = "cell"``);
* no traceback (without ``--debug``);
* nothing stored lost or changed: the results tree hashes the same before and
  after (a case that may add a new run says so);
* nothing written outside the results root (the rest of the test folder and
  the working directory hash the same).
"""
from __future__ import annotations

import builtins
import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import anobench.cli as cli
from conftest import ONE_CELL_SUITE
from anobench.api import Detector
from anobench.hookspecs import hookimpl
from anobench.manager import build_registry, get_plugin_manager
from anobench.runlock import RunLock
from anobench.store import RECORDS, read_records
from anobench.errors import SuiteError

BASE = ONE_CELL_SUITE


def sub(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def detector(body: str, suite_extra: str = "") -> str:
    """The base suite with its detector replaced by ``body`` (TOML lines)."""
    head = sub("repetitions = 1", "repetitions = 1\n" + suite_extra) if suite_extra else BASE
    return head.split("[[detectors]]")[0] + "[[detectors]]\n" + body + "\n"


# ------------------------------------------------------------------ test plugins

class Faulty(Detector):
    """A detector that misbehaves as its ``mode`` says."""

    def __init__(self, *, mode: str = "ok", random_state=None):
        self.mode = mode
        self.random_state = random_state

    def fit(self, X, X_val=None):
        if self.mode == "raise":
            raise RuntimeError("fit exploded")
        if self.mode == "memory":
            raise MemoryError("cannot allocate 1 TiB")
        if self.mode == "exit":
            sys.exit(3)
        if self.mode == "hang":
            while True:
                time.sleep(0.05)
        if self.mode == "recursion":
            def f(n):
                return f(n + 1)
            f(0)
        return self

    def fit_info(self):
        if self.mode == "info_object":
            return {"net": object()}
        if self.mode == "info_huge":
            return {"curve": np.zeros(50_000)}
        if self.mode == "info_not_dict":
            return 42
        return {}

    def score(self, X):
        n = len(X)
        if self.mode == "complex":
            return (X.reshape(n, -1).sum(1) + np.arange(n) * 1e-3) * (1 + 1j)
        if self.mode == "nan":
            return np.full(n, np.nan)
        if self.mode == "shape":
            return np.zeros((n, 2))
        if self.mode == "none":
            return None
        if self.mode == "short":
            return np.zeros(n - 1)
        return X.reshape(n, -1).sum(1) + np.arange(n) * 1e-3


class Coh(Detector):
    """Trains in cohorts of 2; its ``fit_cohort`` misbehaves as ``mode`` says."""

    cohort_params = ("shift",)

    def __init__(self, *, mode: str = "ok", shift: float = 0.0, random_state=None):
        self.mode = mode
        self.shift = shift
        self.random_state = random_state

    def fit(self, X, X_val=None):
        self.mean_ = X.reshape(len(X), -1).mean(0) + self.shift
        return self

    def score(self, X):
        return ((X.reshape(len(X), -1) - self.mean_) ** 2).sum(1)

    @classmethod
    def cohort_size(cls, device, sample_shape):
        return 2

    @classmethod
    def fit_cohort(cls, members, X, X_val=None):
        mode = members[0].mode
        while mode == "hang":
            time.sleep(0.05)
        fitted = [m.fit(X, X_val) for m in members]
        if mode == "same":  # one model for every member: coh[shift=0.5] would show shift=0's
            return [fitted[0]] * len(fitted)
        return fitted[:-1] if mode == "short" else fitted


class CohSizeRaises(Coh):
    @classmethod
    def cohort_size(cls, device, sample_shape):
        raise RuntimeError("no idea")


class CohSizeFloat(Coh):
    @classmethod
    def cohort_size(cls, device, sample_shape):
        return 2.5


@pytest.fixture(scope="module")
def faulty_registry():
    def register(registry):
        registry.add_detector("faulty", Faulty)
        registry.add_detector("coh", Coh)
        registry.add_detector("coh-size-raises", CohSizeRaises)
        registry.add_detector("coh-size-float", CohSizeFloat)

    plugin = type("P", (), {})()
    plugin.anobench_register_detectors = hookimpl(register)
    return build_registry(get_plugin_manager(extra_plugins=[("faultyplug", plugin)]))


# ------------------------------------------------------------------ the context

@dataclass
class Ctx:
    tmp: Path
    results: Path  # holds one finished run of BASE
    run: Path
    suite: Path
    data: Path
    cwd: Path
    monkeypatch: pytest.MonkeyPatch

    def fmt(self, s: str) -> str:
        return s.format(tmp=self.tmp, results=self.results, run=self.run, suite=self.suite,
                        data=self.data)


@dataclass
class Case:
    id: str
    argv: list[str]
    expect: list[str]  # fragments of the error line (or of the failed cell's error)
    suite: str | None = BASE  # None: write no suite file
    setup: Callable[[Ctx], None] | None = None
    kind: str = "error"  # "error": exit 2, one line; "cell": a failed-cell record, exit 1
    new_run: bool = False  # the case may add a new run directory under the results root
    progress: bool = False  # progress lines may come before the error line
    n_errors: int = 1  # failed cells of a "cell" case
    needs: str | None = None  # a module the case needs (skipped without it)


def run_new(*extra):
    return ["run", "{suite}", "--results", "{results}", *extra]


RESUME = ["run", "{suite}", "--results", "{results}", "--resume", "{run}"]
VALIDATE = ["validate", "{suite}"]
REPORT = ["report", "{run}", "--no-figures"]


def append_line(line: bytes) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        with open(ctx.run / RECORDS, "ab") as fh:
            fh.write(line)
    return setup


def insert_line(line: bytes) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        lines = (ctx.run / RECORDS).read_bytes().splitlines(keepends=True)
        (ctx.run / RECORDS).write_bytes(b"".join([lines[0], line, *lines[1:]]))
    return setup


def replace_file(name: str, content: bytes | None) -> Callable[[Ctx], None]:
    """Replace a file of the stored run (``None``: by a directory)."""
    def setup(ctx: Ctx) -> None:
        p = ctx.run / name
        p.unlink()
        if content is None:
            p.mkdir()
        else:
            p.write_bytes(content)
    return setup


def write_idx(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    path.write_bytes(head + arr.astype(np.uint8).tobytes())


def fake_mnist(swap: bool = False, truncate: bool = False, magic: bool = False):
    def setup(ctx: Ctx) -> None:
        rng = np.random.default_rng(0)
        folder = ctx.data / "MNIST" / "raw"
        files = {"train-images-idx3-ubyte": rng.integers(0, 255, (40, 28, 28)),
                 "train-labels-idx1-ubyte": np.arange(40) % 10,
                 "t10k-images-idx3-ubyte": rng.integers(0, 255, (20, 28, 28)),
                 "t10k-labels-idx1-ubyte": np.arange(20) % 10}
        for name, arr in files.items():
            write_idx(folder / name, arr)
        if swap:
            a, b = folder / "train-images-idx3-ubyte", folder / "train-labels-idx1-ubyte"
            tmp = folder / "x"
            a.rename(tmp)
            b.rename(a)
            tmp.rename(b)
        if truncate:
            p = folder / "t10k-images-idx3-ubyte"
            p.write_bytes(p.read_bytes()[:-100])
        if magic:
            p = folder / "t10k-labels-idx1-ubyte"
            p.write_bytes(b"\x01\x02" + p.read_bytes()[2:])
    return setup


def custom_file(name: str, content: bytes | Callable[[Path], None]):
    def setup(ctx: Ctx) -> None:
        p = ctx.suite.parent / name
        if callable(content):
            content(p)
        else:
            p.write_bytes(content)
    return setup


def truncated_npz(p: Path) -> None:
    rng = np.random.default_rng(0)
    np.savez_compressed(p.with_suffix(".full.npz"), X=rng.normal(size=(200, 5)),
                        y=np.arange(200) % 2)
    data = p.with_suffix(".full.npz").read_bytes()
    p.with_suffix(".full.npz").unlink()
    p.write_bytes(data[: len(data) // 2])


def corrupt_npz(p: Path) -> None:
    """A zip whose directory is whole but whose compressed X is damaged."""
    rng = np.random.default_rng(0)
    np.savez_compressed(p, X=rng.normal(size=(2000, 5)), y=np.arange(2000) % 2)
    data = bytearray(p.read_bytes())
    mid = len(data) // 4
    data[mid: mid + 64] = bytes(64)
    p.write_bytes(bytes(data))


def custom_suite(path: str) -> str:
    return sub('name = "digits"\nclasses = [0]', f'name = "mine"\npath = "{path}"\nclasses = [0]')


def other_run_records(ctx: Ctx) -> None:
    """Records of a run with another seed copied into the stored run (the campaign's case)."""
    other_suite = ctx.tmp / "other.toml"
    other_suite.write_text(sub("seed = 1", "seed = 2"))
    other_root = ctx.tmp / "other-results"
    assert cli.main(["run", str(other_suite), "--results", str(other_root)]) == 0
    other = next((other_root / "tiny").iterdir())
    (ctx.run / RECORDS).write_bytes((other / RECORDS).read_bytes())
    shutil.rmtree(other_root)
    other_suite.unlink()


def hold_lock(ctx: Ctx) -> None:
    lock = RunLock(ctx.run).acquire()
    ctx.monkeypatch.setattr(Ctx, "lock", lock, raising=False)


class FullDisk:
    """An open records/scores/meta file whose writes fail with ENOSPC after half the data."""

    def __init__(self, fh):
        self.fh = fh

    def __getattr__(self, name):
        return getattr(self.fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.fh.close()

    def write(self, data):
        self.fh.write(data[: len(data) // 2])
        self.fh.flush()
        raise OSError(28, "No space left on device")


def full_disk(suffix: str, after: int = 0):
    """Writes to files named ``*suffix`` fail with ENOSPC after ``after`` successful opens."""
    def setup(ctx: Ctx) -> None:
        import anobench.store as store_mod

        opened = {"n": 0}

        def fake_open(file, mode="r", *a, **k):
            fh = builtins.open(file, mode, *a, **k)
            if str(file).endswith(suffix) and ("a" in mode or "w" in mode):
                opened["n"] += 1
                if opened["n"] > after:
                    return FullDisk(fh)
            return fh

        ctx.monkeypatch.setattr(store_mod, "open", fake_open, raising=False)
        if suffix == ".npz":
            def no_space(file, *a, **k):
                Path(file).write_bytes(b"PK\x03\x04")
                raise OSError(28, "No space left on device")
            ctx.monkeypatch.setattr(np, "savez_compressed", no_space)
    return setup


def read_only_results(ctx: Ctx) -> None:
    """The results root is read-only (simulated for root, who ignores permissions)."""
    if os.geteuid() != 0:
        ctx.results.chmod(0o555)
        (ctx.results / "tiny").chmod(0o555)
        ctx.monkeypatch.setattr(Ctx, "restore", True, raising=False)
        return
    real_mkdir = os.mkdir

    def mkdir(path, *a, **k):
        if str(path).startswith(str(ctx.results)):
            raise PermissionError(13, "Permission denied", str(path))
        return real_mkdir(path, *a, **k)

    ctx.monkeypatch.setattr(os, "mkdir", mkdir)


def no_cuda(ctx: Ctx) -> None:
    import torch

    ctx.monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def disable_env(names: str) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        from anobench.manager import load_registry

        ctx.monkeypatch.setenv("ANOBENCH_DISABLE_PLUGINS", names)
        ctx.monkeypatch.setattr(cli, "_registry", lambda: load_registry())
    return setup


def full_disk_report(ctx: Ctx) -> None:
    """Writing a report file fails with ENOSPC after half of it."""
    real = Path.write_text

    def write_text(self, data, *a, **k):
        if self.name.endswith(".part"):
            real(self, data[: len(data) // 2], *a, **k)
            raise OSError(28, "No space left on device")
        return real(self, data, *a, **k)

    ctx.monkeypatch.setattr(Path, "write_text", write_text)


def full_disk_figure(ctx: Ctx) -> None:
    from matplotlib.figure import Figure

    def savefig(self, fname, *a, **k):
        Path(fname).write_bytes(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    ctx.monkeypatch.setattr(Figure, "savefig", savefig)


def drop_value(ctx: Ctx) -> None:
    """The first result record of the stored run loses its "value" (a hand edit)."""
    import json

    lines = (ctx.run / RECORDS).read_text().splitlines(keepends=True)
    first = next(i for i, ln in enumerate(lines) if '"kind": "result"' in ln)
    rec = json.loads(lines[first])
    del rec["value"]
    lines[first] = json.dumps(rec, sort_keys=True) + "\n"
    (ctx.run / RECORDS).write_text("".join(lines))


def labels_npz(y) -> Callable[[Path], None]:
    def write(p: Path) -> None:
        y_arr = np.asarray(y)
        X = np.random.default_rng(0).normal(size=(len(y_arr), 4))
        np.savez(p, X=X, y=y_arr)
    return write


def complex_npz(p: Path) -> None:
    X = np.random.default_rng(0).normal(size=(60, 3)) * (1 + 2j)
    np.savez(p, X=X, y=np.arange(60) % 2)


def image_loop(p: Path) -> None:
    """Two classes of 6 images, and class a holds a link back to the image root."""
    from PIL import Image

    for c in "ab":
        (p / c).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(np.full((5, 6), 10 * i, np.uint8)).save(p / c / f"{i}.png")
    (p / "a" / "loop").symlink_to("..")


def link_out(name: str, keep: bool = True) -> Callable[[Ctx], None]:
    """Move ``name`` of the stored run to ``{tmp}/outside/`` and leave a symbolic link to it
    (``keep=False``: a link to a file that does not exist yet)."""
    def setup(ctx: Ctx) -> None:
        target = ctx.tmp / "outside" / name
        target.parent.mkdir(exist_ok=True)
        src = ctx.run / name
        if keep and src.exists():
            src.rename(target)
        elif src.exists():
            src.unlink()
        src.symlink_to(target)
    return setup


def suite_folder_link(ctx: Ctx) -> None:
    """``results/linked`` is a link to a folder outside the results root."""
    (ctx.tmp / "outside").mkdir()
    (ctx.results / "linked").symlink_to(ctx.tmp / "outside")


LINKED = sub('name = "tiny"', 'name = "linked"')
LINK_MSG = "a symbolic link to {tmp}/outside"
S = "{suite}"
HUNDRED = ", ".join(map(str, range(1, 101)))
#: 10 entries of 100 x 100 grid points, 10000 repetitions: 10**9 cells of one class
BILLION = sub("repetitions = 1", "repetitions = 10000", detector("\n\n[[detectors]]\n".join(
    f'name = "vae"\nlabel = "v{i}"\nparams = {{ latent_dim = [{HUNDRED}], filters = [{HUNDRED}] }}'
    for i in range(10))))
LRS = ", ".join(f"{i}e-4" for i in range(1, 101))
CASES = [
    # ---- the suite file
    Case("toml-malformed", VALIDATE, [S, "malformed TOML"], "[suite\n"),
    Case("toml-deeply-nested", VALIDATE, [S, "nested too deeply"],
         "x = " + "[" * 100_000 + "]" * 100_000 + "\n"),
    Case("suite-missing", ["validate", "{tmp}/nope.toml"], ["{tmp}/nope.toml", "not found"], None),
    Case("suite-is-a-directory", ["validate", "{tmp}"], ["{tmp}", "cannot read suite"], None),
    Case("suite-not-utf8", VALIDATE, [S, "cannot read suite"],
         setup=lambda c: c.suite.write_bytes(b"[suite]\nname = \"\xff\xfe\"\n")),
    Case("top-level-unknown-key", VALIDATE, [S, "suites: unknown key"], BASE + "\n[suites]\n"),
    Case("suite-not-a-table", VALIDATE, [S, "suite: must be a table"],
         'suite = 1\n[[datasets]]\nname = "digits"\n[[detectors]]\nname = "pca"\n'),
    Case("suite-unknown-key", VALIDATE, [S, "suite.sede: unknown key (did you mean 'seed'?)"],
         sub("seed = 1", "sede = 1")),
    Case("seed-wrong-type", VALIDATE, [S, "suite.seed: expected an integer"],
         sub("seed = 1", 'seed = "one"')),
    Case("seed-negative", VALIDATE, [S, "suite.seed: must be >= 0"], sub("seed = 1", "seed = -1")),
    Case("repetitions-zero", VALIDATE, [S, "suite.repetitions: must be >= 1"],
         sub("repetitions = 1", "repetitions = 0")),
    Case("repetitions-10**12", VALIDATE, [S, "suite.repetitions: at most 10000, got 1000000000000"],
         sub("repetitions = 1", "repetitions = 1000000000000")),
    Case("repetitions-10**12-run", run_new(), [S, "suite.repetitions"],
         sub("repetitions = 1", "repetitions = 1000000000000")),
    Case("anomaly-ratio", VALIDATE, [S, "suite.anomaly_ratio: must be in (0, 1)"],
         sub("seed = 1", "seed = 1\nanomaly_ratio = 1.5")),
    Case("val-fraction", VALIDATE, [S, "suite.val_fraction: must be in [0, 1)"],
         sub("seed = 1", "seed = 1\nval_fraction = 1.0")),
    Case("device-unknown", VALIDATE, [S, "suite.device: must be one of"],
         sub("seed = 1", 'seed = 1\ndevice = "tpu"')),
    Case("metrics-empty", VALIDATE, [S, "suite.metrics: needs at least one metric"],
         sub("seed = 1", "seed = 1\nmetrics = []")),
    Case("metric-unknown", VALIDATE, [S, "suite.metrics[0]: unknown metric 'auc'"],
         sub("seed = 1", 'seed = 1\nmetrics = ["auc"]')),
    Case("metric-twice", VALIDATE, [S, "suite.metrics[1]: 'roc_auc' is listed twice"],
         sub("seed = 1", 'seed = 1\nmetrics = ["roc_auc", "roc_auc"]')),
    Case("metric-not-a-string", VALIDATE, [S, "suite.metrics[0]: expected a string"],
         sub("seed = 1", "seed = 1\nmetrics = [[1]]")),
    Case("name-dotdot", run_new(), [S, "suite.name: '..' is not a folder name"],
         sub('name = "tiny"', 'name = ".."')),
    Case("name-dot", VALIDATE, [S, "suite.name: '.' is not a folder name"],
         sub('name = "tiny"', 'name = "."')),
    Case("name-slash", run_new(), [S, "suite.name: '../x' must be letters"],
         sub('name = "tiny"', 'name = "../x"')),
    Case("name-empty", VALIDATE, [S, "suite.name: '' must be letters"],
         sub('name = "tiny"', 'name = ""')),
    Case("cell-timeout-negative", VALIDATE, [S, "suite.cell_timeout: must be >= 0"],
         sub("seed = 1", "seed = 1\ncell_timeout = -1")),
    Case("cell-timeout-type", VALIDATE, [S, "suite.cell_timeout: expected a number"],
         sub("seed = 1", 'seed = 1\ncell_timeout = "1m"')),
    Case("cell-timeout-nan", VALIDATE, [S, "suite.cell_timeout: must be >= 0"],
         sub("seed = 1", "seed = 1\ncell_timeout = nan")),
    Case("resources-not-a-table", VALIDATE, [S, "suite.resources: expected a table"],
         sub("seed = 1", "seed = 1\nresources = 1")),
    Case("resources-unknown-key", VALIDATE,
         [S, "suite.resources.cpu: unknown key (did you mean 'cpus'?)"],
         sub("seed = 1", "seed = 1\nresources = { cpu = 1 }")),
    Case("resources-cpus-zero", VALIDATE, [S, "suite.resources.cpus: must be in (0, 1024]"],
         sub("seed = 1", "seed = 1\nresources = { cpus = 0 }")),
    Case("resources-gpus-negative", VALIDATE, [S, "detectors[0].resources.gpus: must be in [0, 64]"],
         sub("params = {", "resources = { gpus = -1 }\nparams = {")),
    Case("resources-gpus-type", VALIDATE, [S, "detectors[0].resources.gpus: expected a number"],
         sub("params = {", 'resources = { gpus = "all" }\nparams = {')),
    # ---- datasets
    Case("no-datasets", VALIDATE, [S, "no [[datasets]] entries"],
         BASE.replace('[[datasets]]\nname = "digits"\nclasses = [0]\n', "")),
    Case("datasets-not-tables", VALIDATE, [S, "datasets: must be an array of tables"],
         "datasets = 1\n" + BASE.replace('[[datasets]]\nname = "digits"\nclasses = [0]\n', "")),
    Case("dataset-no-name", VALIDATE, [S, "datasets[0]: missing key 'name'"],
         sub('name = "digits"\n', "")),
    Case("dataset-unknown", VALIDATE, [S, "datasets[0].name: unknown dataset 'digets'"],
         sub('name = "digits"', 'name = "digets"')),
    Case("dataset-label-slash", run_new(), [S, "datasets[0].label: 'a/b' holds '/'"],
         sub("classes = [0]", 'classes = [0]\nlabel = "a/b"')),
    Case("dataset-label-newline", VALIDATE, [S, "datasets[0].label: 'a\\nb' holds '\\n'"],
         sub("classes = [0]", 'classes = [0]\nlabel = "a\\nb"')),
    Case("dataset-label-empty", VALIDATE, [S, "datasets[0].label: must not be empty"],
         sub("classes = [0]", 'classes = [0]\nlabel = " "')),
    Case("dataset-label-twice", VALIDATE, [S, "dataset label 'digits' appears twice"],
         sub("[[detectors]]", '[[datasets]]\nname = "digits"\n\n[[detectors]]')),
    Case("classes-empty", VALIDATE, [S, "datasets[0].classes: needs at least one class"],
         sub("classes = [0]", "classes = []")),
    Case("classes-twice", VALIDATE, [S, "datasets[0].classes[1]: 0 is listed twice"],
         sub("classes = [0]", "classes = [0, 0]")),
    Case("class-set-twice", VALIDATE, [S, "datasets[0].classes[1]: (0, 1) is listed twice"],
         sub("classes = [0]", "classes = [[0, 1], [1, 0]]")),
    Case("class-set-member-twice", VALIDATE, [S, "datasets[0].classes[0][1]: 1 is listed twice"],
         sub("classes = [0]", "classes = [[1, 1]]")),
    Case("class-missing", run_new(), [S, "datasets[0].classes[0]: class 12 does not exist"],
         sub("classes = [0]", "classes = [12]")),
    Case("class-wrong-type", VALIDATE, [S, "datasets[0].classes[0]: class labels are integers"],
         sub("classes = [0]", "classes = [1.5]")),
    Case("class-name-unknown", VALIDATE, [S, "datasets[0].classes[0]: class 'a' is not"],
         sub("classes = [0]", 'classes = ["a"]')),
    Case("class-label-and-name-twice", VALIDATE,
         [S, "datasets[0].classes[1]: '0' is the class of classes[0] again"],
         sub("classes = [0]", 'classes = [0, "0"]')),
    Case("classes-not-a-list", VALIDATE, [S, "datasets[0].classes: expected a list"],
         sub("classes = [0]", "classes = 3")),
    # ---- detectors
    Case("no-detectors", VALIDATE, [S, "no [[detectors]] entries"], BASE.split("[[detectors]]")[0]),
    Case("detector-unknown", VALIDATE, [S, "detectors[0].name: unknown detector 'pcb'"],
         sub('name = "pca"', 'name = "pcb"')),
    Case("param-unknown", VALIDATE, [S, "detectors[0].params.n_comp: unknown parameter"],
         sub("n_components = 8", "n_comp = 8")),
    Case("param-wrong-type", VALIDATE, [S, "detectors[0].params.n_components: 'x' has the wrong type"],
         sub("n_components = 8", 'n_components = "x"')),
    Case("params-not-a-table", VALIDATE, [S, "detectors[0].params: expected a table"],
         sub("params = { n_components = 8 }", "params = 3")),
    Case("grid-empty", VALIDATE, [S, "detectors[0].params.n_components: an empty list"],
         sub("n_components = 8", "n_components = []")),
    Case("grid-too-large", VALIDATE, [S, "detectors[0].params: a grid of 1000000 points"],
         detector(f'name = "vae"\nparams = {{ latent_dim = [{HUNDRED}], filters = [{HUNDRED}], '
                  f'lr = [{LRS}] }}')),
    # ---- cells counted before anything is expanded (issue 19): refused past max_cells
    Case("cells-10**9", VALIDATE, [S, ": 1,000,000,000 cells (1 class(es) × 10000 "
                                      "repetition(s) × 100000 detector grid point(s)); at most "
                                      "100,000 (suite.max_cells"], BILLION),
    Case("cells-10**9-run", run_new(), [S, ": 1,000,000,000 cells"], BILLION),
    Case("cells-after-loading-the-data", VALIDATE,
         [S, ": 1,000,000 cells (10 class(es) × 10000 repetition(s) × 10 detector grid point(s))"],
         sub("classes = [0]\n", "", sub("repetitions = 1", "repetitions = 10000",
                                        sub("n_components = 8", "n_components = [1, 2, 3, 4, 5, 6, "
                                                                "7, 8, 9, 10]")))),
    Case("max-cells-zero", VALIDATE, [S, "suite.max_cells: must be in [1, 10,000,000], got 0"],
         sub("seed = 1", "seed = 1\nmax_cells = 0")),
    Case("max-cells-type", VALIDATE, [S, "suite.max_cells: expected an integer"],
         sub("seed = 1", "seed = 1\nmax_cells = 1e6")),
    Case("max-cells-10**12", VALIDATE, [S, "suite.max_cells: must be in [1, 10,000,000]"],
         sub("seed = 1", "seed = 1\nmax_cells = 1000000000000")),
    Case("max-cells-below-the-suite", VALIDATE, [S, "2 cells (2 class(es) × 1 repetition(s) × "
                                                    "1 detector grid point(s)); at most 1"],
         sub("classes = [0]", "classes = [0, 1]", sub("seed = 1", "seed = 1\nmax_cells = 1"))),
    Case("rule-twice", VALIDATE, [S, "detectors[0].rules[1]: 'single' is listed twice"],
         detector('name = "vae"\nrules = ["single", "single"]')),
    Case("measure-twice", VALIDATE, [S, "detectors[0].measures[1]: 'elbo' is listed twice"],
         detector('name = "vae"\nmeasures = ["elbo", "elbo"]')),
    Case("rule-unknown", VALIDATE, [S, "detectors[0].rules[0]: unknown scoring rule 'singel'"],
         detector('name = "vae"\nrules = ["singel"]')),
    Case("rule-not-a-string", VALIDATE, [S, "detectors[0].rules[0]: expected a string"],
         detector('name = "vae"\nrules = [["single"]]')),
    Case("measure-unknown", VALIDATE, [S, "detectors[0].measures[0]: unknown measure 'elb'"],
         detector('name = "vae"\nmeasures = ["elb"]')),
    Case("rules-on-pca", VALIDATE, [S, "detectors[0].rules", "no posterior"],
         sub("params = { n_components = 8 }", 'params = { n_components = 8 }\nrules = ["single"]')),
    Case("n-samples-zero", VALIDATE, [S, "detectors[0].n_samples"],
         detector('name = "vae"\nn_samples = 0')),
    Case("n-samples-huge", VALIDATE, [S, "detectors[0].n_samples: at most 100000"],
         detector('name = "vae"\nn_samples = 1000000000')),
    Case("detector-label-slash", run_new(), [S, "detectors[0].label: 'p/q' holds '/'"],
         sub("params = {", 'label = "p/q"\nparams = {')),
    Case("detector-label-newline", VALIDATE, [S, "detectors[0].label: 'p\\nq' holds '\\n'"],
         sub("params = {", 'label = "p\\nq"\nparams = {')),
    Case("column-twice", VALIDATE, [S, "column 'pca' appears twice"],
         BASE + '\n[[detectors]]\nname = "pca"\n'),
    Case("column-collision", VALIDATE,
         [S, "detectors[1]: column 'vae:single' is also written by detectors[0]"],
         detector('name = "vae"\nrules = ["single", "expected"]\n\n[[detectors]]\nname = "pca"\n'
                  'label = "vae:single"\nparams = { n_components = 8 }')),
    Case("curves-class-never-run", run_new(), [S, "report.curves[0]: class '5' is not run"],
         BASE + '\n[report]\ncurves = ["digits/5/0"]\n'),
    Case("curves-dataset-never-run", VALIDATE, [S, "report.curves[0]: 'mnist/0/0': no dataset"],
         BASE + '\n[report]\ncurves = ["mnist/0/0"]\n'),
    Case("report-not-a-table", VALIDATE, [S, "report: must be a table"], "report = 1\n" + BASE),
    Case("n-components-zero", VALIDATE, [S, "detectors[0].params", "n_components"],
         sub("n_components = 8", "n_components = 0")),
    Case("n-components-all-features", run_new(), [S, "n_components = 64", "64 features"],
         sub("n_components = 8", "n_components = 64")),
    Case("latent-param-zero", VALIDATE, [S, "detectors[0].params", "latent_dim"],
         detector('name = "vae"\nparams = { latent_dim = 0 }')),
    # ---- data
    Case("mnist-missing", ["validate", "{suite}", "--data-dir", "{data}"],
         ["{data}/MNIST", "train-images-idx3-ubyte not found"], sub('name = "digits"', 'name = "mnist"')),
    Case("data-dir-is-a-file", ["validate", "{suite}", "--data-dir", "{suite}"],
         [S, "the data root (--data-dir) is not a directory"], sub('name = "digits"', 'name = "mnist"')),
    Case("data-env-is-a-file", ["data", "status"], [S, "the data root ($ANOBENCH_DATA) is not a directory"],
         setup=lambda c: c.monkeypatch.setenv("ANOBENCH_DATA", str(c.suite))),
    Case("idx-swapped", ["validate", "{suite}", "--data-dir", "{data}"],
         ["{data}/MNIST/raw/train-images-idx3-ubyte: holds an array of shape (40,)", "swapped"],
         sub('name = "digits"', 'name = "mnist"'), fake_mnist(swap=True)),
    Case("idx-truncated", ["validate", "{suite}", "--data-dir", "{data}"],
         ["{data}/MNIST/raw/t10k-images-idx3-ubyte: truncated or corrupt IDX file"],
         sub('name = "digits"', 'name = "mnist"'), fake_mnist(truncate=True)),
    Case("idx-bad-magic", ["validate", "{suite}", "--data-dir", "{data}"],
         ["{data}/MNIST/raw/t10k-labels-idx1-ubyte: not an unsigned-byte IDX file"],
         sub('name = "digits"', 'name = "mnist"'), fake_mnist(magic=True)),
    Case("npz-garbage", VALIDATE, ["{tmp}/in/bad.npz"], custom_suite("bad.npz"),
         custom_file("bad.npz", b"this is not a zip file at all" * 10)),
    Case("npz-truncated", VALIDATE, ["{tmp}/in/cut.npz", "cannot read"],
         custom_suite("cut.npz"), custom_file("cut.npz", truncated_npz)),
    Case("npz-corrupt-member", VALIDATE, ["{tmp}/in/flip.npz", "corrupt .npz file"],
         custom_suite("flip.npz"), custom_file("flip.npz", corrupt_npz)),
    Case("custom-path-missing", VALIDATE, ["{tmp}/in/none.npz"], custom_suite("none.npz")),
    Case("csv-ragged", VALIDATE, ["{tmp}/in/r.csv", "line 3 has 1 fields"], custom_suite("r.csv"),
         custom_file("r.csv", b"a,b,label\n1,2,0\n3\n")),
    Case("import-source-is-a-file", ["data", "import", "mnist", "{suite}", "--data-dir", "{data}"],
         [S, "not a directory"]),
    # ---- the results root and stored runs
    Case("results-is-a-file", ["run", "{suite}", "--results", "{suite}"],
         [S, "the results root is not a directory"]),
    Case("results-read-only", run_new(), ["{results}/tiny/", "Permission denied"],
         setup=read_only_results),
    Case("resume-no-earlier-run", ["run", "{suite}", "--results", "{tmp}/empty", "--resume"],
         ["{tmp}/empty/tiny", "no earlier run"]),
    Case("resume-dir-is-a-file", ["run", "{suite}", "--results", "{results}", "--resume", "{suite}"],
         [S, "not a run directory"]),
    Case("resume-changed-suite", RESUME, [S, "the suite changed since run"],
         sub("n_components = 8", "n_components = 7")),
    Case("meta-not-an-object", RESUME, ["{run}/meta.json", "a JSON array, expected an object"],
         setup=replace_file("meta.json", b"[1, 2]\n")),
    Case("meta-not-json", REPORT, ["{run}/meta.json", "unreadable run metadata"],
         setup=replace_file("meta.json", b"{oops\n")),
    Case("meta-is-a-directory", REPORT, ["{run}/meta.json", "a directory"],
         setup=replace_file("meta.json", None)),
    Case("records-is-a-directory", RESUME, ["{run}/records.jsonl: a directory"],
         setup=replace_file(RECORDS, None)),
    Case("records-is-a-directory-report", REPORT, ["{run}/records.jsonl: a directory"],
         setup=replace_file(RECORDS, None)),
    Case("record-bytes", RESUME, ["{run}/records.jsonl: line 2: not UTF-8"],
         setup=insert_line(b"\xff\xfe\x00garbage\n")),
    Case("record-number", REPORT, ["{run}/records.jsonl: line 2: a JSON number"],
         setup=insert_line(b"42\n")),
    Case("record-without-cell", RESUME, ["{run}/records.jsonl: line 2: a record without a 'cell'"],
         setup=insert_line(b'{"kind": "result", "value": 1.0}\n')),
    Case("record-unknown-kind", REPORT, ["{run}/records.jsonl: line 2: unknown record kind"],
         setup=insert_line(b'{"kind": "resutl", "cell": "x"}\n')),
    Case("record-cut-mid-file", REPORT, ["{run}/records.jsonl: line 2: not JSON"],
         setup=insert_line(b'{"kind": "result", "cell": "dig\n')),
    Case("records-of-another-run", RESUME, ["{run}/records.jsonl: line 1: a record of another run",
                                            "seed 2"], setup=other_run_records),
    Case("records-of-another-run-report", REPORT, ["{run}/records.jsonl", "another run"],
         setup=other_run_records),
    Case("second-writer", RESUME, ["{run}: another anobench process (pid"], setup=hold_lock),
    Case("report-missing-run", ["report", "{tmp}/nope"], ["{tmp}/nope: not a run directory"]),
    Case("compare-not-a-run", ["compare", "{run}", "{tmp}"], ["{tmp}: not a run directory"]),
    Case("full-disk-records", run_new(), ["records.jsonl: cannot write: No space left on device"],
         setup=full_disk(RECORDS), progress=True),
    Case("full-disk-scores", run_new(), [".npz: cannot write: No space left on device"],
         setup=full_disk(".npz"), progress=True),
    Case("full-disk-meta", run_new(), ["meta.json: cannot write: No space left on device"],
         setup=full_disk("meta.json.part")),
    Case("full-disk-resume-meta", RESUME, ["meta.json: cannot write: No space left on device"],
         setup=full_disk("meta.json.part")),
    Case("executor-unknown", run_new("--executor", "rya"), ["--executor", "'rya'"]),
    Case("address-without-ray", run_new("--address", "10.0.0.1:6379"),
         ["--address: executor 'local' takes no such option"]),
    Case("jobs-zero", run_new("--jobs", "0"), ["--jobs", "'0'"]),
    Case("jobs-10**7", run_new("--jobs", "10000000"), ["--jobs: at most 1024", "got 10000000"]),
    Case("jobs-10**9-ray", run_new("--jobs", "1000000000", "--executor", "ray"),
         ["--jobs: at most 1024", "got 1000000000"]),
    # ---- symbolic links out of the results root (issue 19): refused, naming the link
    Case("link-suite-folder", run_new(), ["{results}/linked: " + LINK_MSG,
                                          "outside the results root {results}"],
         LINKED, suite_folder_link),
    Case("link-suite-folder-resume", run_new("--resume"), ["{results}/linked: " + LINK_MSG],
         LINKED, suite_folder_link),
    Case("link-scores-resume", RESUME, ["{run}/scores: " + LINK_MSG + "/scores",
                                        "outside the run directory {run}"],
         setup=link_out("scores")),
    Case("link-records-resume", RESUME, ["{run}/records.jsonl: " + LINK_MSG + "/records.jsonl"],
         setup=link_out(RECORDS)),
    Case("link-records-dangling", RESUME, ["{run}/records.jsonl: " + LINK_MSG],
         setup=link_out(RECORDS, keep=False)),
    Case("link-meta-resume", RESUME, ["{run}/meta.json: " + LINK_MSG + "/meta.json"],
         setup=link_out("meta.json")),
    Case("link-lock-resume", RESUME, ["{run}/.lock: " + LINK_MSG + "/.lock"],
         setup=link_out(".lock", keep=False)),
    Case("link-records-report", REPORT, ["{run}/records.jsonl: " + LINK_MSG],
         setup=link_out(RECORDS)),
    Case("link-figures-report", ["report", "{run}"], ["{run}/figures: " + LINK_MSG],
         setup=link_out("figures")),
    Case("link-report-md", REPORT, ["{run}/report.md: " + LINK_MSG + "/report.md"],
         setup=link_out("report.md")),
    Case("link-report-part", REPORT, ["{run}/report.html.part: " + LINK_MSG],
         setup=link_out("report.html.part", keep=False)),
    Case("link-scores-file", REPORT, [LINK_MSG + "/x.npz"],
         setup=lambda c: (c.run / "scores" / "x.npz").symlink_to(c.tmp / "outside" / "x.npz")),
    # ---- other commands
    Case("new-dir-is-a-file", ["new", "detector", "mine", "--dir", "{suite}"],
         [S, "--dir is not a directory"]),
    Case("report-alpha", ["report", "{run}", "--alpha", "2"], ["--alpha", "(0, 0.5]", "2"]),
    Case("report-metric-typo", ["report", "{run}", "--metric", "auc"],
         ["--metric", "unknown metric 'auc'"]),
    Case("report-curves-spec", ["report", "{run}", "--curves", "digits-0"],
         ["--curves", "digits-0", "dataset/class/repetition"]),
    # ---- plugin faults: a failed-cell record, the run goes on
    Case("plugin-raises", run_new(), ["RuntimeError: fit exploded", "plugin 'faultyplug'"],
         detector('name = "faulty"\nparams = { mode = "raise" }'), kind="cell"),
    Case("plugin-memory-error", run_new(), ["MemoryError: cannot allocate"],
         detector('name = "faulty"\nparams = { mode = "memory" }'), kind="cell"),
    Case("plugin-sys-exit", run_new(), ["SystemExit: 3"],
         detector('name = "faulty"\nparams = { mode = "exit" }'), kind="cell"),
    Case("plugin-recursion", run_new(), ["RecursionError"],
         detector('name = "faulty"\nparams = { mode = "recursion" }'), kind="cell"),
    Case("plugin-hangs", run_new(), ["CellTimeout: the cell ran longer than cell_timeout = 0.5 s"],
         detector('name = "faulty"\nparams = { mode = "hang" }', "cell_timeout = 0.5"), kind="cell"),
    Case("plugin-nan-scores", run_new(), ["NaN or infinite"],
         detector('name = "faulty"\nparams = { mode = "nan" }'), kind="cell"),
    Case("plugin-score-shape", run_new(), ["expected ("],
         detector('name = "faulty"\nparams = { mode = "shape" }'), kind="cell"),
    Case("plugin-score-none", run_new(), ["faulty"],
         detector('name = "faulty"\nparams = { mode = "none" }'), kind="cell"),
    Case("plugin-score-short", run_new(), ["expected ("],
         detector('name = "faulty"\nparams = { mode = "short" }'), kind="cell"),
    Case("plugin-fit-info-object", run_new(), ["fit_info()['net']: a builtins.object is not JSON"],
         detector('name = "faulty"\nparams = { mode = "info_object" }'), kind="cell"),
    Case("plugin-fit-info-huge", run_new(), ["fit_info()['curve']: an array of 50000 values"],
         detector('name = "faulty"\nparams = { mode = "info_huge" }'), kind="cell"),
    Case("plugin-fit-info-not-a-dict", run_new(), ["faulty"],
         detector('name = "faulty"\nparams = { mode = "info_not_dict" }'), kind="cell"),
    # ---- issue 19: wrong or unclear results
    Case("cohort-same-object", run_new(),
         ["detector 'coh' (plugin 'faultyplug'): ValueError: fit_cohort returned the same object "
          "for members 0 and 1 (of 2)"],
         detector('name = "coh"\nparams = { mode = "same", shift = [0, 0.5] }'), kind="cell",
         n_errors=2),
    Case("cohort-wrong-count", run_new(), ["fit_cohort returned 1 results for 2 members"],
         detector('name = "coh"\nparams = { mode = "short", shift = [0, 0.5] }'), kind="cell",
         n_errors=2),
    Case("cohort-timeout", run_new(),
         ["CellTimeout: the cohort of 2 cells trained together ran longer than 2 x "
          "cell_timeout = 1 s"],
         detector('name = "coh"\nparams = { mode = "hang", shift = [0, 0.5] }',
                  "cell_timeout = 0.5"), kind="cell", n_errors=2),
    Case("cohort-size-raises", run_new(),
         ["detector 'coh-size-raises' (plugin 'faultyplug'): cohort_size('cpu', ",
          "raised RuntimeError: no idea"], detector('name = "coh-size-raises"'), kind="cell"),
    Case("cohort-size-float", run_new(),
         ["detector 'coh-size-float' (plugin 'faultyplug'): cohort_size(", "returned 2.5; "
          "expected an integer >= 1"], detector('name = "coh-size-float"'), kind="cell"),
    Case("cell-timeout-inf", VALIDATE, [S, "suite.cell_timeout: at most 604800 seconds", "inf"],
         sub("seed = 1", "seed = 1\ncell_timeout = inf")),
    Case("cell-timeout-1e300", run_new(), [S, "suite.cell_timeout: at most 604800", "1e+300"],
         sub("seed = 1", "seed = 1\ncell_timeout = 1e300")),
    Case("pyod-n-estimators-text", VALIDATE,
         [S, "detectors[0].params: detector 'pyod:IForest'", "n_estimators = 'many'",
          "InvalidParameterError"],
         detector('name = "pyod:IForest"\nparams = { n_estimators = "many" }'), needs="pyod"),
    Case("pyod-bootstrap-int", VALIDATE, [S, "detectors[0].params", "bootstrap = 1"],
         detector('name = "pyod:IForest"\nparams = { bootstrap = 1 }'), needs="pyod"),
    Case("pyod-method-unknown", VALIDATE, [S, "detectors[0].params: detector 'pyod:KNN'",
                                           "method = 'nope'"],
         detector('name = "pyod:KNN"\nparams = { method = "nope" }'), needs="pyod"),
    Case("class-arabic-indic-digit", VALIDATE,
         [S, "datasets[0].classes[0]: class '\u0663' is not a class of dataset 'digits'"],
         sub("classes = [0]", 'classes = ["\u0663"]')),
    Case("class-fullwidth-digit", VALIDATE,
         [S, "datasets[0].classes[0]: class '\uff13' is not a class of dataset 'digits'"],
         sub("classes = [0]", 'classes = ["\uff13"]')),
    Case("class-number-also-a-name", VALIDATE,
         [S, "datasets[0].classes[0]: class 1 is ambiguous", "label 1 is the class named '2'",
          "the class named '1' is label 0"],
         sub("classes = [0]", "classes = [1]", custom_suite("amb.npz")),
         custom_file("amb.npz", labels_npz(["1", "2", "cat"] * 20))),
    Case("labels-bytes-not-utf8", VALIDATE,
         ["{tmp}/in/b.npz: y holds byte-string labels that are not UTF-8"],
         custom_suite("b.npz"), custom_file("b.npz", labels_npz([b"\xff", b"ok"] * 30))),
    Case("data-complex", VALIDATE, ["{tmp}/in/c.npz: X holds complex numbers"],
         custom_suite("c.npz"), custom_file("c.npz", complex_npz)),
    Case("plugin-complex-scores", run_new(), ["scores are complex numbers"],
         detector('name = "faulty"\nparams = { mode = "complex" }'), kind="cell"),
    Case("image-folder-symlink-loop", VALIDATE,
         ["{tmp}/in/imgs/a/loop: a symbolic link to", "(a loop, or the same images twice)"],
         custom_suite("imgs"), custom_file("imgs", image_loop)),
    Case("dataset-label-all", VALIDATE,
         [S, "datasets[0].label: 'all' names the report's row pooled over all datasets"],
         sub("classes = [0]", 'classes = [0]\nlabel = "all"')),
    Case("val-fraction-one-sample", VALIDATE,
         [S, "suite.val_fraction: dataset 'digits': normal class 0: val_fraction 0.999999 "
             "leaves 1 training sample(s); at least 2 are needed"],
         sub("seed = 1", "seed = 1\nval_fraction = 0.999999")),
    Case("device-cuda-without-cuda", VALIDATE,
         [S, "suite.device: 'cuda', but no CUDA device is available here"],
         detector('name = "vae"', 'device = "cuda"'), setup=no_cuda),
    Case("device-cuda-without-cuda-run", run_new(), [S, "suite.device: 'cuda'"],
         detector('name = "vae"', 'device = "cuda"'), setup=no_cuda),
    Case("full-disk-report", REPORT,
         ["{run}/report.md: cannot write the report: No space left on device"],
         setup=full_disk_report),
    Case("full-disk-figure", ["report", "{run}"],
         ["{run}/figures/", "cannot write the figure: No space left on device"],
         setup=full_disk_figure),
    Case("record-without-value", REPORT,
         ["{run}/records.jsonl: line 1: a result record without a valid 'value' (a finite "
          "number; got none)"], setup=drop_value),
    Case("disable-plugins-typo", VALIDATE,
         ["$ANOBENCH_DISABLE_PLUGINS: no plugin named 'nope'; plugins: "],
         setup=disable_env("nope")),
    Case("executor-empty", run_new("--executor", ""), ["--executor: an empty name"]),
]


def digest(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, str]:
    out = {}
    if not root.exists():
        return out
    for p in sorted(root.rglob("*")):
        if any(p == s or s in p.parents for s in skip):
            continue
        rel = str(p.relative_to(root))
        out[rel] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory):
    """A finished run of BASE, copied for every case."""
    root = tmp_path_factory.mktemp("template")
    suite = root / "in" / "suite.toml"
    suite.parent.mkdir()
    suite.write_text(BASE)
    assert cli.main(["run", str(suite), "--results", str(root / "results")]) == 0
    return root


def test_at_least_60_cases():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 60


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, stored_run, faulty_registry, tmp_path, monkeypatch, capsys):
    if case.needs:
        pytest.importorskip(case.needs)
    shutil.copytree(stored_run, tmp_path, dirs_exist_ok=True)
    results = tmp_path / "results"
    run_dir = next((results / "tiny").iterdir())
    ctx = Ctx(tmp_path, results, run_dir, tmp_path / "in" / "suite.toml", tmp_path / "data",
              tmp_path / "cwd", monkeypatch)
    ctx.cwd.mkdir()
    ctx.data.mkdir()
    monkeypatch.chdir(ctx.cwd)
    monkeypatch.setenv("ANOBENCH_DATA", str(ctx.data))
    monkeypatch.setattr(cli, "_registry", lambda: faulty_registry)
    if case.suite is not None:
        ctx.suite.write_text(case.suite)
    else:
        ctx.suite.unlink()
    if case.setup:
        case.setup(ctx)
    capsys.readouterr()
    stored_before = digest(results)
    parts_before = {p for p in results.rglob("*") if ".part" in p.name}  # a planted link
    outside_before = digest(tmp_path, skip=(results,))
    try:
        code = cli.main([ctx.fmt(a) for a in case.argv])
        new_runs = sorted(set((results / "tiny").iterdir()) - {run_dir}) \
            if (results / "tiny").is_dir() else []
        stored_after = digest(results, skip=tuple(new_runs))
        outside_after = digest(tmp_path, skip=(results,))
    finally:
        lock = getattr(Ctx, "lock", None)
        if lock is not None:
            lock.release()
        if getattr(Ctx, "restore", False):
            results.chmod(0o755)
            (results / "tiny").chmod(0o755)
    err = capsys.readouterr().err
    monkeypatch.undo()
    assert "Traceback" not in err
    if case.kind == "error":
        assert code == 2, err
        lines = err.strip().splitlines()
        assert lines and lines[-1].startswith("anobench: error: "), err
        if not case.progress:
            assert len(lines) == 1, err
        assert sum(ln.startswith("anobench: error") for ln in lines) == 1
        for frag in case.expect:
            assert ctx.fmt(frag) in lines[-1], lines[-1]
    else:
        assert code == 1, err
        assert len(new_runs) == 1
        errors = read_records(new_runs[0], ("error",))
        assert len(errors) == case.n_errors, errors
        for frag in case.expect:
            assert frag in errors[0]["error"], errors[0]["error"]
    # nothing stored lost or changed
    assert stored_after == stored_before
    if case.new_run or case.kind == "cell" or case.progress:
        assert len(new_runs) <= 1
    else:
        assert new_runs == []
    # no part file left behind (but a link the case planted under such a name stays)
    assert not {p for p in results.rglob("*") if ".part" in p.name} - parts_before
    # nothing written outside the results root
    assert outside_after == outside_before
    assert list(ctx.cwd.iterdir()) == []


def test_debug_shows_the_traceback(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text(sub("seed = 1", "sede = 1"))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    plain = subprocess.run([sys.executable, "-m", "anobench", "validate", str(suite)],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
    debug = subprocess.run([sys.executable, "-m", "anobench", "--debug", "validate", str(suite)],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
    assert plain.returncode == debug.returncode == 2
    assert "Traceback" not in plain.stderr and len(plain.stderr.strip().splitlines()) == 1
    assert "Traceback" in debug.stderr and "SuiteError" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1] == plain.stderr.strip()


def test_an_unexpected_exception_is_one_line_exit_3(monkeypatch, capsys):
    def boom(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "cmd_list", boom)
    assert cli.main(["list"]) == cli.INTERNAL_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["anobench: error: internal error (ZeroDivisionError: division by zero); "
                   "please report it with the output of --debug"]


def test_python_m_does_not_import_from_the_current_folder(tmp_path):
    """``python -m anobench`` puts no module of the current folder within a suite's reach
    (Python puts the folder on sys.path for -m): ``sklearn:evil.Det`` is not found there."""
    (tmp_path / "evil.py").write_text(
        "open('IMPORTED', 'w').write('x')\nfrom sklearn.ensemble import IsolationForest as Det\n")
    suite = tmp_path / "s.toml"
    suite.write_text(detector('name = "sklearn:evil.Det"'))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("PYTHONSAFEPATH", None)
    res = subprocess.run([sys.executable, "-m", "anobench", "validate", str(suite)],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip().splitlines() == [
        f"anobench: error: {suite}: detectors[0].name: sklearn:evil.Det: cannot import 'evil' "
        "(ModuleNotFoundError: No module named 'evil')"]
    assert not (tmp_path / "IMPORTED").exists()


def test_cells_are_counted_before_anything_is_expanded(registry):
    """50 entries of 10,000-point grids x 100 repetitions: refused in well under a second."""
    import time

    from anobench.suite import parse_suite

    entries = "\n".join(f'[[detectors]]\nname = "vae"\nlabel = "v{i}"\nparams = {{ latent_dim = '
                        f'[{HUNDRED}], filters = [{HUNDRED}] }}\n' for i in range(50))
    text = sub("repetitions = 1", "repetitions = 100", BASE.split("[[detectors]]")[0]) + entries
    t0 = time.perf_counter()
    with pytest.raises(SuiteError, match=r"big.toml: 50,000,000 cells \(1 class\(es\) × 100 "
                                         r"repetition\(s\) × 500000 detector grid point\(s\)\)"):
        parse_suite(text, "big.toml", registry)
    assert time.perf_counter() - t0 < 1.0


def test_max_cells_allows_a_larger_suite(tmp_path, capsys):
    suite = tmp_path / "s.toml"
    suite.write_text(sub("seed = 1", "seed = 1\nmax_cells = 2000000",
                         sub("classes = [0]\n", "", sub("repetitions = 1", "repetitions = 10000"))))
    assert cli.main(["validate", str(suite)]) == 0
    assert "100000 cells" in capsys.readouterr().out
