"""What a run is, from its ``meta.json`` and store: its state and what its repetitions vary.

Facts only (the words are in :mod:`.render` and :mod:`.prose`):

* :func:`run_state` — planned, finished, failed and missing cells. The
  runner stores the planned cell ids in ``meta.json`` (``planned_cells``);
  runs made before it did have no planned count.
* :func:`resampling` — per dataset label, what the repetitions re-draw:
  ``"anomalies"`` (``anomaly_ratio``: a new anomaly draw and a new training
  seed in every repetition) or ``"seed"`` (``anomalies = "all"``: one fixed
  test set, only the training seed varies), read from the suite text stored
  in ``meta.json`` with the suite loader's rules (an entry's own setting
  wins; an entry's ``anomaly_ratio`` means the ratio setting).
* :func:`planned_repetitions` — the suite's ``repetitions``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import tomllib

#: What repetitions re-draw: a new anomaly draw and training seed, or the training seed only.
ANOMALIES_AND_SEED, SEED_ONLY = "anomalies", "seed"


@dataclass(frozen=True)
class RunState:
    """How far a run got: cell ids planned (None: not recorded), finished, failed."""

    planned: tuple[str, ...] | None
    finished: frozenset[str]
    failed: frozenset[str]

    @property
    def missing(self) -> list[str]:
        """Planned cells neither finished nor failed, in the suite's order."""
        if self.planned is None:
            return []
        done = self.finished | self.failed
        return [c for c in self.planned if c not in done]

    @property
    def complete(self) -> bool | None:
        """Every planned cell finished or failed (None: the plan was not recorded)."""
        return None if self.planned is None else not self.missing


def run_state(meta: dict[str, Any], finished: set[str], failed: set[str]) -> RunState:
    """The state of a run from its metadata and the cells its store holds."""
    planned = meta.get("planned_cells")
    cells = tuple(planned) if isinstance(planned, list) and all(
        isinstance(c, str) for c in planned) else None
    return RunState(cells, frozenset(finished), frozenset(failed - finished))


def _suite_doc(meta: dict[str, Any]) -> dict[str, Any]:
    try:
        doc = tomllib.loads(meta.get("suite_text") or "")
    except tomllib.TOMLDecodeError:
        return {}  # reported by the report's options, which parse the same text
    return doc if isinstance(doc, dict) else {}


def planned_repetitions(meta: dict[str, Any]) -> int | None:
    """The suite's ``repetitions`` (None when the stored suite text does not say)."""
    reps = _suite_doc(meta).get("suite", {}).get("repetitions")
    return reps if isinstance(reps, int) and not isinstance(reps, bool) and reps > 0 else None


def _setting(table: Any, default: str) -> str:
    if not isinstance(table, dict):
        return default
    if table.get("anomalies") == "all":
        return SEED_ONLY
    if "anomaly_ratio" in table or table.get("anomalies") == "ratio":
        return ANOMALIES_AND_SEED
    return default


def resampling(meta: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The suite's setting and each dataset label's: what its repetitions re-draw.

    Returns ``(suite_setting, {label: setting})``; a dataset not in the suite
    text (records of another origin) takes the suite's setting.
    """
    doc = _suite_doc(meta)
    suite = _setting(doc.get("suite"), ANOMALIES_AND_SEED)
    out: dict[str, str] = {}
    entries = doc.get("datasets")
    for entry in entries if isinstance(entries, list) else ():
        if isinstance(entry, dict):
            label = entry.get("label") or entry.get("name")
            if isinstance(label, str):
                out[label] = _setting(entry, suite)
    return suite, out
