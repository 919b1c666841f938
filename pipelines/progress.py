"""Progress of a run while it reads the API: a redrawn status line on a terminal, plain lines otherwise.

`auto` picks `bar` when stderr is a terminal and `log` when it is not (cron, CI, schedulers); `none`
prints nothing. Both read the extraction report (rows and pages per table) and the session's counters
(requests, rate-limit waits), so they cost nothing on the request path.
"""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager
from typing import IO, Dict, Iterator, Optional, Tuple

from segment_source.client import SegmentSession
from segment_source.report import ExtractionReport

MODES = ("auto", "bar", "log", "none")
BAR_INTERVAL_SECONDS = 0.5
LOG_INTERVAL_SECONDS = 10.0


def _totals(report: ExtractionReport, session: Optional[SegmentSession]) -> str:
    tables = dict(report.tables)
    rows = sum(t.rows for t in tables.values())
    line = f"{len(tables)} tables, {rows} rows"
    if session is not None:
        stats = session.stats
        line += f", {stats.requests} requests, {stats.rate_limited} rate-limited, {stats.retries} retried"
        line += f", waited {session.rate_limiter.waited_seconds:.1f}s for rate limits"
    return line


def _table_lines(report: ExtractionReport, shown: Dict[str, Tuple[int, int]]) -> Iterator[str]:
    """One line per table whose counts moved since the last call."""
    for name, table in sorted(dict(report.tables).items()):
        counts = (table.rows, table.pages)
        if shown.get(name) != counts:
            shown[name] = counts
            note = f" (skipped: {table.skipped})" if table.skipped else ""
            yield f"progress: {name}: {table.rows} rows, {table.pages} pages{note}"


@contextmanager
def show_progress(report: ExtractionReport, mode: str = "auto", stream: Optional[IO[str]] = None,
                  session: Optional[SegmentSession] = None) -> Iterator[None]:
    stream = stream or sys.stderr
    if mode == "auto":
        mode = "bar" if stream.isatty() else "log"
    if mode == "none":
        yield
        return
    stop = threading.Event()
    shown: Dict[str, Tuple[int, int]] = {}

    def draw() -> None:
        if mode == "bar":
            stream.write("\r\x1b[2Kreading the API: " + _totals(report, session))
        else:
            for line in _table_lines(report, shown):
                stream.write(line + "\n")
        stream.flush()

    def loop() -> None:
        while not stop.wait(BAR_INTERVAL_SECONDS if mode == "bar" else LOG_INTERVAL_SECONDS):
            draw()

    worker = threading.Thread(target=loop, name="segment-history-progress", daemon=True)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join()
        draw()
        if mode == "bar":
            stream.write("\n")
        else:
            stream.write("progress: " + _totals(report, session) + "\n")
        stream.flush()
