"""One atomic-write helper: the old file or wholly the new one, flushed to disk; the run lock."""
from __future__ import annotations

import os

import pytest

from anobench import atomic
from anobench.atomic import atomic_path, write_atomic
from anobench.devices import DEVICES, is_device, resolve_device
from anobench.errors import AnobenchError, DataError
from anobench import runlock
from anobench.runlock import HOLDER, LOCK, RunLock


def test_write_atomic_replaces_the_file_and_flushes_it(tmp_path, monkeypatch):
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    target = tmp_path / "meta.json"
    target.write_text("old")
    write_atomic(target, "new", within=tmp_path)
    assert target.read_text() == "new" and len(synced) == 2  # the file, then its folder
    write_atomic(target, b"\x00bytes")
    assert target.read_bytes() == b"\x00bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["meta.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_part(tmp_path):
    target = tmp_path / "report.md"
    target.write_text("old")
    with pytest.raises(AnobenchError, match=r"report.md: cannot write the report: No space"):
        with atomic_path(target, error="cannot write the report") as tmp:
            tmp.write_text("half")
            raise OSError(28, "No space left on device")
    with pytest.raises(DataError, match="cannot write"):
        with atomic_path(target, error_type=DataError):
            raise OSError(28, "No space left on device")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_a_part_file_planted_as_a_link_out_is_refused(tmp_path):
    run, outside = tmp_path / "run", tmp_path / "outside"
    run.mkdir()
    outside.mkdir()
    (run / "meta.json.part").symlink_to(outside / "x")
    with pytest.raises(AnobenchError, match="a symbolic link to"):
        write_atomic(run / "meta.json", "x", within=run)
    assert not (outside / "x").exists()


def test_the_lock_note_names_the_holder_and_goes_with_the_lock(tmp_path):
    import gc

    lock = RunLock(tmp_path)
    assert RunLock(tmp_path).acquire() is not None  # its object dropped: still held
    gc.collect()
    with pytest.raises(AnobenchError, match=f"another anobench process \\(pid {os.getpid()} on "):
        lock.acquire()
    assert (tmp_path / HOLDER).is_file()
    for held in [h for h in runlock._HELD if h.path.parent == tmp_path]:
        held.release()
    assert not (tmp_path / LOCK).exists() and not (tmp_path / HOLDER).exists()
    with lock:  # free again
        pass


def test_devices_are_named_once_and_resolved_once(monkeypatch):
    import torch

    assert DEVICES == ("auto", "cpu", "cuda")
    assert all(map(is_device, ("auto", "cpu", "cuda", "cuda:1"))) and not is_device("tpu")
    assert resolve_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == resolve_device(None) == "cpu"
    with pytest.raises(AnobenchError, match="--device cuda: no CUDA device is available"):
        resolve_device("cuda")
    with pytest.raises(AnobenchError, match=r"suite.device: must be one of auto, cpu, cuda"):
        resolve_device("tpu", "suite.device")
