"""The torch stack lives in anobench/torchstack/; the core around it is free of torch (issue 20).

The core may still import torch inside a function that resolves a device (it
then needs torch anyway); at import time it never does.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "anobench"
STACK = PKG / "torchstack"


def _core() -> dict[str, Path]:
    """Dotted name -> file of every core module (all of anobench/ but the torch stack)."""
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        if STACK in path.parents or path.name == "__main__.py":
            continue
        parts = path.relative_to(PKG.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def test_importing_the_core_does_not_import_torch():
    code = ("import importlib, sys\n"
            f"for name in {sorted(_core())!r}:\n"
            "    importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_core_never_imports_the_torch_stack():
    for path in _core().values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [node.module or ""]
            else:
                continue
            assert not [m for m in mods if m.startswith("anobench.torchstack")], f"{path} imports it"


def test_no_flat_module_of_the_old_torch_stack_is_left():
    for old in ("nn", "losses", "training", "cohort"):
        assert not (PKG / f"{old}.py").exists(), f"anobench/{old}.py is back (moved to torchstack/)"
