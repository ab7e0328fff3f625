"""Image folders in torchvision's ``ImageFolder`` layout (``root/<class>/<image>``).

Read without torchvision's walker, which follows symbolic links blindly: a
link back to a folder already read (a loop) made a 12-image class read as
~970 images. Here links are followed, but one that leads to a folder read
already is refused with one line naming the link.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from anobench.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def _fail(path: Path | str, problem: str) -> DataError:
    return DataError(f"{path}: {problem}")


def _image_files(root: Path) -> list[tuple[str, str]]:
    """``(file, class)`` of every image under ``root/<class>/``, in torchvision's order.

    Symbolic links are followed, but one that leads to a folder read already
    (a loop, which would read the same images again and again, or a second
    way to the same images) is refused, naming the link.
    """
    try:
        classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
    except OSError as exc:
        raise _fail(root, f"cannot list the class folders: {exc.strerror or exc}") from None
    seen = {os.path.realpath(root): root}
    out = []
    for name in classes:
        found: list[tuple[str, list[str]]] = []
        stack = [root / name]
        while stack:
            folder = stack.pop()
            real = os.path.realpath(folder)
            if real in seen and folder != root:
                link, other = ((seen[real], folder) if os.path.islink(seen[real])
                               and not os.path.islink(folder) else (folder, seen[real]))
                raise _fail(link, f"a symbolic link to {real}, which is read also as {other} "
                                  "(a loop, or the same images twice); remove it")
            seen[real] = folder
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError as exc:
                raise _fail(folder, f"cannot list: {exc.strerror or exc}") from None
            files = [e.name for e in entries if e.is_file()
                     and e.name.lower().endswith(IMAGE_SUFFIXES)]
            found.append((str(folder), files))
            stack.extend(folder / e.name for e in entries if e.is_dir())
        files_of = [(os.path.join(d, f), name) for d, fs in sorted(found) for f in fs]
        if not files_of:
            raise _fail(root / name, f"no images ({', '.join(IMAGE_SUFFIXES)}) in class folder "
                                     f"{name!r}")
        out.extend(files_of)
    if not out:
        raise _fail(root, "no images in class folders")
    return out


def read_image_folder(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an ImageFolder tree; return ``(X, names_per_sample)``."""
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - pillow comes with torchvision
        raise _fail(root, f"reading image folders needs pillow: {exc}") from None

    def load(p: str) -> np.ndarray:
        try:
            with Image.open(p) as im:
                im = im.convert("L" if im.mode in ("1", "L", "I;16", "I", "F") else "RGB")
                a = np.asarray(im, dtype=np.uint8)
        except OSError as exc:
            raise _fail(p, f"cannot read image: {exc}") from None
        return a[None] if a.ndim == 2 else np.moveaxis(a, -1, 0)

    images, names, first = [], [], None
    for p, name in _image_files(root):
        a = load(p)
        if first is None:
            first = (a.shape, p)
        elif a.shape != first[0]:
            raise _fail(p, f"image has shape {'x'.join(map(str, a.shape))} but "
                           f"{Path(first[1]).name} has {'x'.join(map(str, first[0]))} (mixed "
                           "shapes; resize the images to one size)")
        images.append(a)
        names.append(name)
    return np.stack(images), np.asarray(names)
