"""What one extraction saw, per table: pages, rows, and why a table was skipped.

A table with a skip reason is incomplete: it must not be loaded as a snapshot, because SCD2 would retire
every row that is missing from it. The run drops such tables from the load and records why.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional


@dataclass
class TableReport:
    pages: int = 0
    rows: int = 0
    skipped: Optional[str] = None


class ExtractionReport:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.tables: Dict[str, TableReport] = {}
        self.workspace: Dict[str, Any] = {}  # what GET / answered
        self.request_stats: Optional[Any] = None  # the session's RequestStats
        self.rate_limit_wait: Optional[Callable[[], float]] = None  # seconds spent waiting for rate limits

    def _table(self, table: str) -> TableReport:
        return self.tables.setdefault(table, TableReport())

    def count_page(self, table: str) -> None:
        with self._lock:
            self._table(table).pages += 1

    def count_row(self, table: str) -> None:
        with self._lock:
            self._table(table).rows += 1

    def skip(self, table: str, reason: str) -> None:
        with self._lock:
            report = self._table(table)
            if report.skipped is None:  # the first cause is the informative one
                report.skipped = reason

    def skipped_tables(self) -> Dict[str, str]:
        with self._lock:
            return {name: t.skipped for name, t in self.tables.items() if t.skipped}

    def rows(self, table: str) -> int:
        with self._lock:
            return self.tables[table].rows if table in self.tables else 0
