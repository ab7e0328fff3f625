"""``anobench new KIND NAME [KIND NAME ...]``: write a ready-to-install plugin package.

One package holds one or several components (``anobench new detector iso
rule median`` writes a detector and a scoring rule together). It registers
them only through the ``anobench`` entry-point group, so after ``pip install
-e anobench-NAME`` they show up in ``anobench list`` and can be used in
suites. Its ``tests/test_conformance.py`` runs :mod:`anobench.testing` on
every component and passes as generated. The package's dependencies are the
distributions its generated code imports (read from the code, so a template
that imports a library also declares it).
"""
from __future__ import annotations

import ast
import re
import shutil
import sys
from pathlib import Path
from typing import Any

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
description = "anobench plugin: {what}"
readme = "README.md"
requires-python = ">=3.10"
dependencies = {deps}

[project.optional-dependencies]
test = {test_deps}

# anobench finds the plugin through this entry point (its name is the plugin
# name shown by `anobench list`); nothing else links the two packages.
[project.entry-points.anobench]
{dist} = "{module}.plugin"

[tool.setuptools.packages.find]
where = ["src"]
'''

README = '''\
# {dist}

An anobench plugin that adds the {what}.

```bash
pip install -e .          # anobench finds it through the `anobench` entry-point group
anobench list             # shows {names} with plugin '{dist}'
pytest tests              # anobench's conformance kit (anobench.testing)
```

Edit {edit}; keep `tests/test_conformance.py` passing.
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

{imports}
{hooks}'''

HOOK = '''

@hookimpl
def {hook}(registry) -> None:
{body}
'''

TEST_HEADER = '''\
"""anobench's conformance kit on every component of the package."""
from __future__ import annotations

from anobench.testing import {checks}

{imports}
'''

TEST_DETECTOR = '''

def test_{ident}_detector_conforms():
    check_detector({cls}, fast_params({cls}))
'''

TEST_RULE = '''

def test_{ident}_rule_conforms():
    check_scoring_rule({cls})
'''

#: Import name -> distribution name, where they differ.
DISTRIBUTIONS = {"sklearn": "scikit-learn", "PIL": "pillow", "yaml": "pyyaml", "cv2": "opencv-python"}


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", name) if part)


def _check_name(kind: str, name: str) -> None:
    if kind not in KINDS:
        raise AnobenchError(f"anobench new: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not _NAME.match(name):
        raise AnobenchError(f"anobench new: name {name!r} is invalid (use lowercase letters, "
                            "digits, '-' or '_', starting with a letter)")


def imported_distributions(files: dict[str, str], own: str) -> list[str]:
    """Distributions the Python files import at top level (stdlib and ``own`` left out)."""
    found: set[str] = set()
    for path, text in files.items():
        if not path.endswith(".py"):
            continue
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                tops = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            found |= {t for t in tops if t not in sys.stdlib_module_names
                      and t not in ("__future__", own)}
    return sorted(DISTRIBUTIONS.get(t, t) for t in found)


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def package_files(components: list[tuple[str, str]], package: str | None = None) -> dict[str, str]:
    """Relative path -> text of one package holding every ``(kind, name)`` component.

    ``package`` names it (``anobench-PACKAGE``); default: the first component's name.
    """
    if not components:
        raise AnobenchError("anobench new: name at least one component (e.g. detector my-det)")
    for kind, name in components:
        _check_name(kind, name)
    if len(set(components)) != len(components):
        raise AnobenchError("anobench new: a component is named twice")
    package = package or components[0][1]
    if not _NAME.match(package):
        raise AnobenchError(f"anobench new: package name {package!r} is invalid (use lowercase "
                            "letters, digits, '-' or '_', starting with a letter)")
    module = f"anobench_{package.replace('-', '_')}"
    dist = f"anobench-{package}"
    kinds = [k for k, _ in components]
    parts: list[dict[str, Any]] = []
    for kind, name in components:
        ident = name.replace("-", "_")
        is_det = kind == "detector"
        parts.append(dict(
            kind=kind, name=name, ident=ident, module=module, is_det=is_det,
            cls=_camel(name) + ("Detector" if is_det else "Rule"),
            kind_module=kind if kinds.count(kind) == 1 else f"{kind}_{ident}",
            kind_text="detector" if is_det else "scoring rule"))
    items = [f"{p['kind_text']} '{p['name']}'" for p in parts]
    what = items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
    files: dict[str, str] = {}
    for p in parts:
        files[f"src/{module}/{p['kind_module']}.py"] = (DETECTOR if p["is_det"] else RULE).format(**p)
    imports = "\n".join(f"from {module}.{p['kind_module']} import {p['cls']}" for p in parts)
    files[f"src/{module}/__init__.py"] = (
        f'"""anobench plugin: {what}."""\n{imports}\n\n'
        f"__all__ = [{', '.join(repr(p['cls']) for p in parts)}]\n")
    hooks = ""
    for kind, hook in (("detector", "anobench_register_detectors"),
                       ("rule", "anobench_register_scoring_rules")):
        body = [f'    registry.add_detector("{p["name"]}", {p["cls"]})' if p["is_det"]
                else f"    registry.add_scoring_rule({p['cls']})"
                for p in parts if p["kind"] == kind]
        if body:
            hooks += HOOK.format(hook=hook, body="\n".join(body))
    files[f"src/{module}/plugin.py"] = PLUGIN.format(imports=imports, hooks=hooks)
    checks = sorted(({"check_detector", "fast_params"} if "detector" in kinds else set())
                    | ({"check_scoring_rule"} if "rule" in kinds else set()))
    test = TEST_HEADER.format(checks=", ".join(checks),
                              imports=f"from {module} import {', '.join(p['cls'] for p in parts)}")
    test += "".join((TEST_DETECTOR if p["is_det"] else TEST_RULE).format(**p) for p in parts)
    files["tests/test_conformance.py"] = test
    runtime = {k: v for k, v in files.items() if k.startswith("src/")}
    deps = imported_distributions(runtime, module)
    test_deps = sorted({"pytest", *imported_distributions(files, module)} - set(deps))
    usage = "".join((DETECTOR_USAGE if p["is_det"] else RULE_USAGE).format(**p) for p in parts)
    edit = ", ".join(f"`src/{module}/{p['kind_module']}.py`" for p in parts)
    names = ", ".join(f"'{p['name']}'" for p in parts)
    return {
        "pyproject.toml": PYPROJECT.format(dist=dist, module=module, what=what,
                                           deps=_toml_list(deps), test_deps=_toml_list(test_deps)),
        "README.md": README.format(dist=dist, what=what, names=names, edit=edit, usage=usage),
        ".gitignore": "build/\n*.egg-info/\n__pycache__/\n",
        **files,
    }


def plugin_files(kind: str, name: str) -> dict[str, str]:
    """The package skeleton for one ``kind`` named ``name`` (see :func:`package_files`)."""
    return package_files([(kind, name)])


def new_plugin(kind: str, name: str, parent: str | Path = ".") -> Path:
    """Write ``parent/anobench-NAME/`` with one component; see :func:`new_package`."""
    return new_package([(kind, name)], None, parent)


def new_package(components: list[tuple[str, str]], package: str | None = None,
                parent: str | Path = ".") -> Path:
    """Write ``parent/anobench-PACKAGE/``; refuse to overwrite. Returns the folder."""
    files = package_files(components, package)
    root = Path(parent) / f"anobench-{package or components[0][1]}"
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
