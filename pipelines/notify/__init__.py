"""Notifications: each run's changes, told to the sinks you configure, exactly once.

Sinks (`[notify.<name>]` settings, one module each): `segment` (a `track` event per change into the Tracking
API), `slack` (a Block Kit message per run), `webhook` (a JSON POST per run). Modules: `config` (settings,
read the dlt way), `filters` (what a sink is told about), `changes` (the changes read back from the
history, their stable ids and labels), `table` (the `notifications` table), `delivery` (one POST, its
retries and what an answer means), `sink` (what every sink does alike), `dispatch` (queue, deliver,
record), `command` (`segment-history notify`). User documentation: docs/alerts.md.
"""

from .command import print_report, register
from .dispatch import NotifyReport, SinkReport, configured_sinks, deliver, notify_after_runs
from .segment import SegmentSink
from .slack import SlackSink
from .webhook import WebhookSink

__all__ = ["NotifyReport", "SegmentSink", "SinkReport", "SlackSink", "WebhookSink", "configured_sinks", "deliver",
           "notify_after_runs", "print_report", "register"]
