"""docs/architecture.md's module table is the map of the code: it names every module of the
`anobench` package (a sub-package may be one row, `anobench/options/`, naming its modules in
backquotes), names no module that does not exist, and its opening counts are true."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "architecture.md"


def _rows() -> dict[str, str]:
    rows = {}
    for line in DOC.read_text().splitlines():
        m = re.match(r"^\| [^|]+ \| `(anobench/[^`]*)` \| (.*) \|$", line)
        if m:
            rows[m.group(1)] = m.group(2)
    return rows


def test_every_module_has_a_row_and_every_row_a_module():
    rows = _rows()
    modules = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "anobench").rglob("*.py"))
    missing = []
    for mod in modules:
        if mod in rows:
            continue
        folder, stem = mod.rsplit("/", 1)[0] + "/", Path(mod).stem
        # a package's own row names its modules in backquotes (its __init__ is the row itself)
        if folder in rows and (stem == "__init__" or f"`{stem}`" in rows[folder]):
            continue
        missing.append(mod)
    assert not missing, f"modules without a row in docs/architecture.md: {missing}"
    gone = [r for r in rows if not (REPO / r).exists()]
    assert not gone, f"docs/architecture.md names what does not exist: {gone}"


def test_the_counts_in_the_opening_are_true():
    text = DOC.read_text()
    m = re.search(r"\((\d+) modules, (\d+) of them in `anobench/report/`\)", text.replace("\n", " "))
    assert m, "the opening states the module counts"
    assert int(m.group(1)) == len(list((REPO / "anobench").rglob("*.py")))
    assert int(m.group(2)) == len(list((REPO / "anobench" / "report").glob("*.py")))
