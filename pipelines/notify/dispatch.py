"""Queue a run's changes for each configured sink, deliver everything pending, record the outcome.

For each sink, the changes of the given runs that pass its filter and are not in `notifications` yet are
queued: saved as not delivered before anything is sent, so a process killed while sending loses none.
Then every pending change of each sink is delivered (oldest first) and the attempts are saved. That is two
dlt loads whatever the number of sinks. A sink that is down keeps its changes pending for the next run or
`segment-history notify`; one sink's failure never stops the others.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import dlt

from ..destination import kept_open
from ..history import table_exists
from ..lock import run_lock
from ..runner import RunOptions, history_mode, make_pipeline
from . import table
from .changes import Change, changes_of_runs, labels_at, workspace_names
from .config import SINK_SETTINGS, delivery_of, filter_of, read_settings
from .segment import SegmentSink
from .sink import Sent, Sink
from .slack import SlackSink
from .webhook import WebhookSink

logger = logging.getLogger("segment_history")
SINK_CLASSES = {"segment": SegmentSink, "slack": SlackSink, "webhook": WebhookSink}


@dataclass
class SinkReport:
    sink: str
    queued: int = 0  # changes of the given runs newly queued for the sink
    delivered: int = 0  # delivered by this call
    pending: int = 0  # still not delivered afterwards
    requests: int = 0
    bytes_sent: int = 0
    seconds: float = 0.0  # sending
    error: Optional[str] = None  # why something stayed pending, and what to do


@dataclass
class NotifyReport:
    sinks: List[SinkReport] = field(default_factory=list)
    error: Optional[str] = None  # nothing could be done at all
    seconds: float = 0.0  # everything: reading the changes, queueing, sending, recording

    @property
    def ok(self) -> bool:
        return self.error is None and all(sink.error is None for sink in self.sinks)

    @property
    def delivered(self) -> int:
        return sum(sink.delivered for sink in self.sinks)

    def warnings(self) -> List[str]:
        """One line per sink that left changes pending."""
        if self.error:
            return [f"notifications: {self.error}"]
        return [f"notify.{sink.sink}: {sink.error}" for sink in self.sinks if sink.error]

    def as_json(self) -> Dict[str, Any]:
        return {"sinks": [asdict(sink) for sink in self.sinks], "error": self.error, "seconds": self.seconds}


def configured_sinks() -> List[Sink]:
    """The sinks whose secret is set; a setting that cannot be used raises ValueError naming it."""
    sinks = []
    for name in SINK_SETTINGS:
        settings = read_settings(name)
        if settings is not None:
            sinks.append(SINK_CLASSES[name].from_settings(settings, filter_of(name, settings), delivery_of(settings)))
    return sinks


def notify_after_runs(options: RunOptions, run_ids: Sequence[str], sinks: Optional[List[Sink]] = None
                      ) -> NotifyReport:
    """After a snapshot: never raises, so a failed notification never fails the snapshot."""
    try:
        return deliver(options, run_ids, sinks, synced=True)
    except Exception as exc:  # noqa: BLE001 - reported as a warning; the snapshot is already loaded
        logger.debug("notifications failed", exc_info=True)
        return NotifyReport(error=f"{_one_line(exc)}; `segment-history notify` sends what is pending")


def deliver(options: RunOptions, run_ids: Sequence[str] = (), sinks: Optional[List[Sink]] = None,
            synced: bool = False) -> NotifyReport:
    """Queues the changes of `run_ids` and delivers everything pending, for each sink: two loads in all,
    one for what is queued and one for what was sent. `synced`: this process has just run into the options'
    target, so the pipeline's local state is the destination's (else the first load syncs it, as a run does)."""
    sinks = configured_sinks() if sinks is None else sinks
    if not sinks:
        return NotifyReport()
    started = time.monotonic()
    with run_lock(options):
        pipeline = make_pipeline(options)
        reports = [SinkReport(sink.name) for sink in sinks]
        with kept_open(pipeline):
            _queue(pipeline, sinks, run_ids, reports, synced)
        attempted: List[Dict[str, Any]] = []
        for sink, report in zip(sinks, reports):  # the destination is free for others while sinks are sent to
            attempted += _send(pipeline, sink, report)
        if attempted:
            with kept_open(pipeline):
                table.save(pipeline, attempted, synced)
    return NotifyReport(reports, seconds=round(time.monotonic() - started, 3))


def _queue(pipeline: dlt.Pipeline, sinks: List[Sink], run_ids: Sequence[str], reports: List[SinkReport],
           synced: bool) -> None:
    """Saves, for each sink, the changes of the runs that pass its filter and are not queued yet (before
    anything is sent, so a process killed while sending loses none)."""
    rows: List[Dict[str, Any]] = []
    now = table.utc_now()
    with pipeline.sql_client() as sql:
        changes = changes_of_runs(sql, run_ids)
        missing_table = not table_exists(sql, table.TABLE)
        labels = _labels(sql, pipeline, changes) if changes and any(s.filter.needs_labels for s in sinks) else {}
        for sink, report in zip(sinks, reports):
            known = table.known_change_ids(sql, sink.name, run_ids) if changes else set()
            fresh = [table.queued(sink.name, c, now) for c in changes if c["change_id"] not in known
                     and sink.filter.matches(c, labels.get(c["change_id"], ()))]
            report.queued = len(fresh)
            rows += fresh
    if rows or missing_table:
        table.save(pipeline, rows, synced)  # the table exists (empty) from the first run with a sink on


def _labels(sql: Any, pipeline: dlt.Pipeline, changes: List[Change]) -> Dict[str, Any]:
    start_column = "_dlt_valid_from" if history_mode(pipeline) == "scd2" else "snapshot_at"
    return labels_at(sql, changes, start_column)


def _send(pipeline: dlt.Pipeline, sink: Sink, report: SinkReport) -> List[Dict[str, Any]]:
    """Delivers what is pending for the sink; the rows of the changes it tried, as they now stand."""
    try:
        with pipeline.sql_client() as sql:
            pending = table.pending(sql, sink.name)
            changes = {c["change_id"]: c for c in changes_of_runs(sql, {row["run_id"] for row in pending})}
            names = workspace_names(sql, {row["workspace_id"] for row in pending})
        rows = {row["change_id"]: row for row in pending if row["change_id"] in changes}
        started = time.monotonic()
        sent = sink.deliver([changes[change_id] for change_id in rows], names) if rows else []
        report.seconds = round(time.monotonic() - started, 3)
    except Exception as exc:  # noqa: BLE001 - one sink's failure does not stop the others
        logger.debug("notify.%s failed", sink.name, exc_info=True)
        report.error = f"{_one_line(exc)}; the next run or `segment-history notify` tries again"
        return []
    now = table.utc_now()
    attempted = []
    for batch in sent:
        attempted += [table.attempted(rows[change_id], batch.outcome, now) for change_id in batch.change_ids]
        report.requests += batch.outcome.attempts
        report.bytes_sent += batch.outcome.sent_bytes * batch.outcome.attempts
    report.delivered = sum(1 for row in attempted if row["delivered"])
    report.pending = len(rows) - report.delivered
    failed = next((batch.outcome for batch in sent if not batch.outcome.delivered), None)
    if failed is not None:
        report.error = _pending_message(sink, failed, report.pending)
    return attempted


def _pending_message(sink: Sink, outcome: Any, pending: int) -> str:
    waiting = f"{pending} change{'' if pending == 1 else 's'} not delivered"
    if outcome.refused:
        return (f"{waiting}: {sink.service} answered {outcome.error}; {sink.refused_advice(outcome)}, then run"
                " `segment-history notify`")
    tries = f" after {outcome.attempts} attempt{'' if outcome.attempts == 1 else 's'}"
    return (f"{waiting}: {sink.service} {_failure(outcome.error)}{tries}; the next run or `segment-history notify`"
            " retries them")


def _failure(error: Optional[str]) -> str:
    return f"answered {error}" if error and error.startswith("HTTP") else (error or "failed")


def _one_line(exc: BaseException) -> str:
    return (" ".join(str(exc).split()) or type(exc).__name__)[:300]
