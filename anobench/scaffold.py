"""``anobench new detector|rule NAME``: write a ready-to-install plugin package.

The package registers its component only through the ``anobench``
entry-point group, so after ``pip install -e anobench-NAME`` it shows up in
``anobench list`` and can be used in suites. Its ``tests/test_conformance.py``
runs :mod:`anobench.testing` and passes as generated.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from anobench.errors import AnobenchError

KINDS = ("detector", "rule")
_NAME = re.compile(r"^[a-z][a-z0-9_\-]*$")

PYPROJECT = '''\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "anobench plugin: {kind_text} '{name}'"
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["anobench", "numpy"]

[project.optional-dependencies]
test = ["pytest"]

# anobench finds the plugin through this entry point (its name is the plugin
# name shown by `anobench list`); nothing else links the two packages.
[project.entry-points.anobench]
{dist} = "{module}.plugin"

[tool.setuptools.packages.find]
where = ["src"]
'''

README = '''\
# {dist}

An anobench plugin that adds the {kind_text} `{name}`.

```bash
pip install -e .          # anobench finds it through the `anobench` entry-point group
anobench list             # shows '{name}' with plugin '{dist}'
pytest tests              # anobench's conformance kit (anobench.testing)
```

Edit `src/{module}/{kind_module}.py`; keep `tests/test_conformance.py` passing.
{usage}
'''

DETECTOR_USAGE = '''
Use it in a suite:

```toml
[[detectors]]
name = "{name}"
params = {{ eps = 1e-6 }}
```
'''

RULE_USAGE = '''
Use it in a suite (it scores latent-variable detectors such as `vae`):

```toml
[[detectors]]
name = "vae"
rules = ["expected", "{name}"]
```
'''

DETECTOR = '''\
"""The ``{name}`` detector."""
from __future__ import annotations

import numpy as np

from anobench.api import Detector


class {cls}(Detector):
    """Distance to the mean of the training normals, per feature scaled by their spread.

    Replace the body of ``fit``/``score`` with your model; keep the contract:
    keyword-only parameters with defaults stored unchanged in ``__init__``,
    fitted attributes ending in ``_``, and ``score`` returning one float per
    sample with **higher = more anomalous**.

    Parameters
    ----------
    eps : float
        Added to the per-feature standard deviation.
    random_state : int or None
        Seed for anything random (set by the runner per cell).
    """

    def __init__(self, *, eps: float = 1e-6, random_state: int | None = None) -> None:
        self.eps = eps
        self.random_state = random_state

    @staticmethod
    def _flat(X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim < 2:
            raise ValueError(f"{name}: expected samples of shape (n, ...), got {{X.shape}}")
        if not np.isfinite(X).all():
            raise ValueError("{name}: input contains NaN or infinite values")
        return X.reshape(len(X), -1)  # images (n, C, H, W) -> (n, C*H*W)

    def fit(self, X: np.ndarray, X_val: np.ndarray | None = None) -> {cls}:
        X = self._flat(X)
        self.mean_ = X.mean(axis=0)
        self.scale_ = X.std(axis=0) + self.eps
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        X = self._flat(X)
        if X.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"{name}: fitted on {{self.mean_.shape[0]}} features, "
                             f"got {{X.shape[1]}}")
        return (((X - self.mean_) / self.scale_) ** 2).mean(axis=1)
'''

RULE = '''\
"""The ``{name}`` scoring rule."""
from __future__ import annotations

import numpy as np

from anobench.api import PosteriorDraw, ScoringRule


class {cls}(ScoringRule):
    """Mean reconstruction error over the L sampled z; edit ``reconstruction``.

    A scoring rule reduces one :class:`~anobench.api.PosteriorDraw` (errors at
    the posterior mean, of L sampled z, KL, log weights) to one score per
    example, higher = more anomalous. With ``measures = ("recon", "elbo")`` the
    ``elbo`` measure adds ``beta * KL`` to ``reconstruction`` (override
    ``reduce`` for anything else).
    """

    name = "{name}"
    description = "mean reconstruction error over the L sampled z"
    measures = ("recon", "elbo")
    min_samples = 1

    def reconstruction(self, draw: PosteriorDraw) -> np.ndarray:
        return np.asarray(draw.recon_samples, dtype=np.float64).mean(axis=0)
'''

PLUGIN = '''\
"""Registration hooks: the module the ``anobench`` entry point names."""
from __future__ import annotations

from anobench.hookspecs import hookimpl

from {module}.{kind_module} import {cls}


@hookimpl
def {hook}(registry) -> None:
    {register}
'''

TEST_DETECTOR = '''\
"""anobench's conformance kit on the ``{name}`` detector."""
from __future__ import annotations

from anobench.testing import check_detector, fast_params

from {module} import {cls}


def test_{ident}_conforms():
    check_detector({cls}, fast_params({cls}))
'''

TEST_RULE = '''\
"""anobench's conformance kit on the ``{name}`` scoring rule."""
from __future__ import annotations

from anobench.testing import check_scoring_rule

from {module} import {cls}


def test_{ident}_conforms():
    check_scoring_rule({cls})
'''


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", name) if part)


def plugin_files(kind: str, name: str) -> dict[str, str]:
    """Relative path -> text of the package skeleton for a ``kind`` named ``name``."""
    if kind not in KINDS:
        raise AnobenchError(f"anobench new: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not _NAME.match(name):
        raise AnobenchError(f"anobench new: name {name!r} is invalid (use lowercase letters, "
                            "digits, '-' or '_', starting with a letter)")
    ident = name.replace("-", "_")
    module = f"anobench_{ident}"
    dist = f"anobench-{name}"
    is_det = kind == "detector"
    cls = _camel(name) + ("Detector" if is_det else "Rule")
    kind_module = "detector" if is_det else "rule"
    kind_text = "detector" if is_det else "scoring rule"
    fmt = dict(name=name, ident=ident, module=module, dist=dist, cls=cls,
               kind_module=kind_module, kind_text=kind_text)
    register = (f'registry.add_detector("{name}", {cls})' if is_det
                else f"registry.add_scoring_rule({cls})")
    hook = "anobench_register_detectors" if is_det else "anobench_register_scoring_rules"
    usage = (DETECTOR_USAGE if is_det else RULE_USAGE).format(**fmt)
    return {
        "pyproject.toml": PYPROJECT.format(**fmt),
        "README.md": README.format(usage=usage, **fmt),
        ".gitignore": "build/\n*.egg-info/\n__pycache__/\n",
        f"src/{module}/__init__.py": (f'"""anobench plugin: {kind_text} {name!r}."""\n'
                                      f"from {module}.{kind_module} import {cls}\n\n"
                                      f'__all__ = ["{cls}"]\n'),
        f"src/{module}/{kind_module}.py": (DETECTOR if is_det else RULE).format(**fmt),
        f"src/{module}/plugin.py": PLUGIN.format(hook=hook, register=register, **fmt),
        "tests/test_conformance.py": (TEST_DETECTOR if is_det else TEST_RULE).format(**fmt),
    }


def new_plugin(kind: str, name: str, parent: str | Path = ".") -> Path:
    """Write ``parent/anobench-NAME/``; refuse to overwrite. Returns the folder."""
    files = plugin_files(kind, name)
    root = Path(parent) / f"anobench-{name}"
    if Path(parent).exists() and not Path(parent).is_dir():
        raise AnobenchError(f"{parent}: --dir is not a directory")
    if root.exists():
        raise AnobenchError(f"{root}: already exists; choose another name or folder")
    try:
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        shutil.rmtree(root, ignore_errors=True)  # nothing half-written stays behind
        raise AnobenchError(f"{exc.filename or root}: cannot write: {exc.strerror or exc}") from None
    return root
