"""Atomic file writes: a file is either its old self or wholly the new one, on disk.

Every writer of a whole file (``meta.json``, score and model files, the
report, its figures and their index, an export, an imported dataset, the
crash marker) goes through :func:`atomic_path` or :func:`write_atomic`: the
data goes to a part file beside the target, is flushed to disk (``fsync``),
and replaces the target in one rename, whose directory entry is flushed too.
On failure (a full disk, a read-only folder) the part file is removed, the
target is left as it was, and one :class:`~anobench.errors.AnobenchError`
names the target. Appending to ``records.jsonl`` is not a whole-file write
(:func:`anobench.store.append_bytes`).
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from anobench.confine import confined
from anobench.errors import AnobenchError


def part_path(path: Path) -> Path:
    """The part file ``path`` is written through: ``<name>.part`` beside it."""
    return path.with_name(path.name + ".part")


@contextlib.contextmanager
def atomic_path(path: str | Path, *, within: str | Path | None = None, keep_suffix: bool = False,
                error: str = "cannot write", error_type: type[AnobenchError] = AnobenchError
                ) -> Iterator[Path]:
    """Yield the part file to write; on leaving the block, move it over ``path``.

    Parameters
    ----------
    path : Path
        The file to write.
    within : Path, optional
        The folder ``path`` and the part file must stay in (a symbolic link
        leading out of it is refused, :func:`anobench.confine.confined`);
        ``None``: no such check (a file the user named, e.g. ``-o FILE``).
    keep_suffix : bool
        Name the part file ``<stem>.part<suffix>`` instead of
        ``<name>.part``, for writers that read the format from the suffix
        (matplotlib) or append it when it is missing (``numpy.savez``).
    error, error_type
        The words and the class of the error raised on an ``OSError``:
        ``error_type(f"{path}: {error}: {why}")``.
    """
    path = Path(path)
    tmp = path.with_name(f"{path.stem}.part{path.suffix}") if keep_suffix else part_path(path)
    if within is not None:
        confined(within, tmp)  # a planted link would be written through
        confined(within, path)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise error_type(f"{path}: {error}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | Path, data: str | bytes, *, within: str | Path | None = None,
                 error: str = "cannot write") -> None:
    """Write ``data`` (text as UTF-8) to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path, within=within, error=error) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)


def _fsync(path: Path) -> None:
    """Flush a written file to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (the rename) to disk, where the platform can."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # a platform that cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot flush a folder: the rename still holds
        pass
    finally:
        os.close(fd)
