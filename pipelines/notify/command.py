"""`segment-history notify`: deliver every change still pending for the configured sinks; and how a
notification report is printed after `run`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

from ..runner import RunOptions
from .dispatch import NotifyReport, configured_sinks, deliver

EXIT_OK = 0
EXIT_PENDING = 4  # the README's "could not be reached or kept failing": a sink was down or refused


def register(subparsers: Any, add_destination_options: Callable[[argparse.ArgumentParser], None],
             run_options: Callable[[argparse.Namespace], RunOptions]) -> None:
    """Adds `notify`; `pipelines.cli` passes its destination options and how it makes `RunOptions` of them
    (this module does not import the command line that imports it)."""
    parser = subparsers.add_parser("notify", help="deliver the changes still pending for the configured sinks"
                                   " ([notify.segment], [notify.slack], [notify.webhook])")
    add_destination_options(parser)
    parser.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    parser.set_defaults(handler=lambda args: command_notify(args, run_options(args)))


def command_notify(args: argparse.Namespace, options: RunOptions) -> int:
    sinks = configured_sinks()
    if not sinks:
        raise ValueError("No sink is configured: set notify.segment.write_key, notify.slack.webhook_url or"
                         " notify.webhook.url (see docs/alerts.md).")
    report = deliver(options, (), sinks)
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        for sink in report.sinks:
            print(f"notify.{sink.sink}: {sink.delivered} delivered, {sink.pending} pending"
                  f" ({sink.requests} requests, {sink.seconds:.1f}s)")
    print_warnings(report)
    return EXIT_OK if report.ok else EXIT_PENDING


def print_report(report: NotifyReport, to_stdout: bool = True) -> None:
    """After `run`: a line when alerts went out (unless stdout carries JSON), and on stderr one warning
    line per sink that left changes pending."""
    delivered = [f"{sink.delivered} to {sink.sink}" for sink in report.sinks if sink.delivered]
    if delivered and to_stdout:
        print(f"Notifications: {', '.join(delivered)}.")
    print_warnings(report)


def print_warnings(report: NotifyReport) -> None:
    for line in report.warnings():
        print(f"segment-history: warning: {line}", file=sys.stderr)
