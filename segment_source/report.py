"""What one extraction saw, per table: pages, rows, and the outcome that made a table skipped.

A skipped table is incomplete: it must not be loaded as a snapshot, because SCD2 would retire every row
that is missing from it. The run drops such tables from the load and records their outcomes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Dict, Optional, Set

from .outcomes import Outcome


@dataclass
class TableReport:
    pages: int = 0
    rows: int = 0
    skipped: Optional[Outcome] = None
    keys: Set[str] = field(default_factory=set)  # record keys seen, to drop repeats and find the missing
    deleted: Set[str] = field(default_factory=set)  # ids read by id that the API no longer knows


class ExtractionReport:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.tables: Dict[str, TableReport] = {}
        self._unneeded: Dict[str, Set[str]] = {}  # table -> request paths its parents prove empty

    def unneeded(self, table: str, path: str) -> None:
        """This request would answer an empty list (its parent has none): it is not sent."""
        with self._lock:
            self._unneeded.setdefault(table, set()).add(path)

    def is_unneeded(self, path: str) -> bool:
        with self._lock:
            return any(path in paths for paths in self._unneeded.values())

    def unneeded_requests(self) -> Dict[str, int]:
        """Requests not sent per table, because the parent's item proved them empty."""
        with self._lock:
            return {table: len(paths) for table, paths in sorted(self._unneeded.items())}

    def _table(self, table: str) -> TableReport:
        return self.tables.setdefault(table, TableReport())

    def count_page(self, table: str) -> None:
        with self._lock:
            self._table(table).pages += 1

    def count_row(self, table: str) -> None:
        with self._lock:
            self._table(table).rows += 1

    def first_sighting(self, table: str, key: str) -> bool:
        """False when this record key was already loaded in this run (a repeat across pages or parents)."""
        with self._lock:
            keys = self._table(table).keys
            if key in keys:
                return False
            keys.add(key)
            return True

    def deleted(self, table: str, resource_id: str) -> None:
        with self._lock:
            self._table(table).deleted.add(resource_id)

    def keys(self, table: str) -> Set[str]:
        with self._lock:
            return set(self.tables[table].keys) if table in self.tables else set()

    def deleted_ids(self, table: str) -> Set[str]:
        with self._lock:
            return set(self.tables[table].deleted) if table in self.tables else set()

    def skip(self, table: str, outcome: Outcome) -> bool:
        """Marks the table incomplete; True the first time (the first cause is the informative one)."""
        with self._lock:
            report = self._table(table)
            if report.skipped is None:
                report.skipped = outcome
                return True
            return False

    def is_skipped(self, table: str) -> bool:
        with self._lock:
            return table in self.tables and self.tables[table].skipped is not None

    def skipped_tables(self) -> Dict[str, Outcome]:
        with self._lock:
            return {name: t.skipped for name, t in self.tables.items() if t.skipped}

    def rows(self, table: str) -> int:
        with self._lock:
            return self.tables[table].rows if table in self.tables else 0
