"""Nothing is written outside the results root, whatever symbolic links lie inside it.

Every writer of a results tree — the record store (``records.jsonl``,
``meta.json``, the lock), the score files, the report and its figures —
passes each path it writes through :func:`confined` first, with the folder it
must stay in: the results root for a new run's folders, the run directory
for the files of a run. A path that resolves outside that folder (a suite
folder, ``scores/``, ``figures/`` or a file that is a symbolic link to
somewhere else) is refused with one line naming the link and its target.
:func:`check_tree` refuses such a link anywhere in a run directory before a
command changes anything in it (``--resume``, ``report``).

The folder itself may be a link (``results -> /big/disk/results``): it is
the one the user named. Links that stay inside it are followed.
"""
from __future__ import annotations

import os
from pathlib import Path

from anobench.errors import AnobenchError

RESULTS_ROOT = "the results root"
RUN_DIR = "the run directory"


def _resolve(path: Path) -> Path | None:
    """``path`` with every link followed; ``None`` for a link loop."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):  # a loop of links
        return None


def _base(root: Path) -> Path:
    base = _resolve(root)
    if base is None:
        raise AnobenchError(f"{root}: a loop of symbolic links")
    return base


def _inside(base: Path, path: Path | None) -> bool:
    return path is not None and (path == base or base in path.parents)


def confined(root: Path | str, path: Path | str, what: str = RUN_DIR) -> Path:
    """``path``, once checked that it resolves inside ``root``.

    Raises :class:`~anobench.errors.AnobenchError` naming the first symbolic
    link on the way from ``root`` to ``path`` that leads outside ``root``.
    """
    root, path = Path(root), Path(path)
    base = _base(root)
    if _inside(base, _resolve(path)):
        return path
    raise AnobenchError(_why(root, path, base, what))


def _why(root: Path, path: Path, base: Path, what: str) -> str:
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        parts = ()
    step = root
    for part in parts:
        step = step / part
        if step.is_symlink() and not _inside(base, _resolve(step)):
            return _refused(step, root, what)
    return f"{path}: resolves to {_resolve(path)}, outside {what} {root}; nothing is written there"


def _refused(link: Path, root: Path, what: str) -> str:
    try:
        target = os.readlink(link)
    except OSError:
        target = "?"
    return (f"{link}: a symbolic link to {target}, outside {what} {root}; anobench writes "
            "nothing outside it: replace the link by a folder or file of its own")


def check_tree(root: Path | str, what: str = RUN_DIR) -> None:
    """Refuse any symbolic link under ``root`` that leads outside it (links are not followed)."""
    root = Path(root)
    base = _base(root)
    if not base.is_dir():
        return
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue  # unreadable: whoever reads it names it
        for entry in sorted(entries, key=lambda e: e.name):
            path = Path(entry.path)
            if entry.is_symlink():
                if not _inside(base, _resolve(path)):
                    raise AnobenchError(_refused(path, root, what))
            elif entry.is_dir(follow_symlinks=False):
                stack.append(path)
