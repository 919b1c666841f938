"""The `segment-history` command line: run, demo, changes, as-of, emulator.

Exit codes are decided in `errors.py` (and listed in the README); a run of several workspaces exits
with the worst of theirs (`SEVERITY`). Every message this prints on stderr, and every log line, has its
secrets scrubbed (`segment_source.redaction`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import traceback
from dataclasses import replace
from typing import Callable, Iterable, List, Optional, Sequence

from segment_source import redaction

from . import config, notify, output, queries
from .demo import DEMO_DUCKDB, DEMO_TOKEN
from .diff import register as register_diff
from .errors import (  # noqa: F401 - the exit codes are part of this module's interface
    EXIT_API,
    EXIT_AUTH,
    EXIT_DESTINATION,
    EXIT_ERROR,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    exit_code_for,
    one_sentence,
)
from .export.command import register as register_export
from .reading import open_history
from .runner import RunOptions, RunResult, WorkspaceRun, run_workspaces

PROG = "segment-history"


class ArgumentParser(argparse.ArgumentParser):
    """A usage error is one line, like every other error of the command line, and exits with 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{PROG}: error: {redaction.scrub(message)} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


class CommandParser(ArgumentParser):
    """A sub-command's parser: takes `-v` too (`run -v`), without undoing a `-v` given before it."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        _add_verbose(self, default=argparse.SUPPRESS)


def _add_verbose(parser: argparse.ArgumentParser, default: object = False) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="log every step, and print the traceback of an error")


def _add_destination_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--destination", default="duckdb", help="dlt destination name (default: duckdb)")
    parser.add_argument("--duckdb-path", default="segment_history.duckdb", help="DuckDB file (default: %(default)s)")
    parser.add_argument("--dataset-name", default="segment_config", help="dataset/schema name (default: %(default)s)")
    parser.add_argument("--pipeline-name", default="segment_history", help="dlt pipeline name (default: %(default)s)")
    parser.add_argument("--pipelines-dir", default=None, help="dlt working directory (default: ~/.dlt/pipelines)")


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", default=None, help="workspace region, us or eu (default: us)")
    parser.add_argument("--base-url", default=None, help="API base URL; overrides --region")
    parser.add_argument("--resources", default=None, help="comma-separated tables to load (see `resources`)")
    parser.add_argument("--groups", default=None, help="comma-separated groups: core,iam,engage,reverse_etl,"
                        "privacy,catalog,metrics (default: core,iam,engage,reverse_etl,privacy)")
    parser.add_argument("--max-concurrency", type=int, default=None, help="requests in flight at once")
    parser.add_argument("--requests-per-minute", type=float, default=None, help="cap on the request rate")
    parser.add_argument("--progress", choices=["auto", "bar", "log", "none"], default="auto",
                        help="progress while reading: a status line on a terminal, log lines otherwise")
    parser.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    parser.add_argument("--mode", choices=["full", "changes"], default="full",
                        help="changes: re-read only what the audit trail names since the last snapshot"
                             " (every sources.segment.full_snapshot_every-th run, default 7, is full)")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog=PROG,
        description="Snapshot a Segment workspace's configuration and audit trail as queryable history.",
    )
    _add_verbose(parser)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=CommandParser)

    run = commands.add_parser("run", help="take one snapshot of the workspace into the destination")
    _add_destination_options(run)
    _add_run_options(run)
    run.set_defaults(handler=command_run)

    listing = commands.add_parser("resources", help="list every resource: table, endpoint, group, default")
    listing.add_argument("--output", choices=["table", "csv", "json"], default="table")
    listing.set_defaults(handler=command_resources)

    demo = commands.add_parser("demo", help="run against the built-in emulator: three snapshots with changes")
    demo.add_argument("--duckdb-path", default=DEMO_DUCKDB, help="DuckDB file (default: %(default)s)")
    demo.add_argument("--scale", default="small", choices=["tiny", "small", "medium", "large"])
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--runs", type=int, default=3, help="snapshots to take (default: %(default)s)")
    demo.add_argument("--force", action="store_true", help="replace --duckdb-path even if the demo did not make it")
    demo.add_argument("--pipelines-dir", default=None, help=argparse.SUPPRESS)
    demo.set_defaults(handler=command_demo)

    changes = commands.add_parser("changes", help="print the change log, newest first")
    _add_destination_options(changes)
    changes.add_argument("--since", default="7d", help="7d, 12h, 30m or an ISO date (default: 7d)")
    changes.add_argument("--resource-type", default=None, help="a history table (destinations, tracking_plan_rules...)")
    changes.add_argument("--actor", default=None, help="actor id or email")
    changes.add_argument("--workspace", default=None, help="workspace id")
    changes.add_argument("--limit", type=int, default=None, help="at most this many changes, the newest")
    changes.add_argument("--output", choices=["table", "csv", "json"], default="table")
    changes.set_defaults(handler=command_changes)

    as_of = commands.add_parser("as-of", help="print the workspace as it was at a moment")
    _add_destination_options(as_of)
    as_of.add_argument("moment", help="ISO date or timestamp (UTC), or 7d / 12h ago")
    as_of.add_argument("--table", default=None, help="a history table; without it, row counts per table")
    as_of.add_argument("--workspace", default=None, help="workspace id")
    as_of.add_argument("--output", choices=["table", "csv", "json"], default="table")
    as_of.set_defaults(handler=command_as_of)

    notify.register(commands, _add_destination_options, _destination_options)
    register_export(commands, _add_destination_options, _destination_options)
    register_diff(commands, _add_destination_options, _destination_options)

    emulator = commands.add_parser("emulator", help="serve the Segment API emulator in the foreground")
    emulator.add_argument("--port", type=_port, default=8765, help="0 picks a free port (default: %(default)s)")
    emulator.add_argument("--scale", default="small", choices=["tiny", "small", "medium", "large"])
    emulator.add_argument("--seed", type=int, default=7)
    emulator.add_argument("--token", type=_emulator_token, default=DEMO_TOKEN, help="bearer token the emulator accepts")
    emulator.add_argument("--latency-ms", type=_number_within(0), default=0)
    emulator.add_argument("--rate-limit-rps", type=_number_within(0, above=True), default=None)
    emulator.add_argument("--fault", type=_fault, action="append", default=None,
                          help="a fault to inject (repeatable): an HTTP status, drop, truncate, html (a proxy's"
                               " page), hang (never answer) or slow-body (a body that trickles)")
    emulator.add_argument("--fault-path", default="*", help="the path the faults hit: /sources is that endpoint,"
                          " /sources* every path under it (default: every path)")
    emulator.add_argument("--fault-rate", type=_number_within(0, 1), default=None,
                          help="fraction of requests that fail, 0 to 1 (default: 1 with --fault, else 0; without"
                               " --fault the kinds are 500, 503, drop and truncate)")
    emulator.set_defaults(handler=command_emulator)
    return parser


def _number_within(low: float, high: Optional[float] = None, above: bool = False) -> Callable[[str], float]:
    """An argparse type: a number from `low` (or above it) up to `high`."""
    def number(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (value > low if above else value >= low) or (high is not None and value > high):
            bound = f"{'more than' if above else 'at least'} {low:g}" + (f" and at most {high:g}" if high else "")
            raise argparse.ArgumentTypeError(f"{text} is not {bound}")
        return value

    return number


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return int(text)


def _emulator_token(text: str) -> str:
    if not text or any(ch.isspace() or not ch.isprintable() for ch in text):
        raise argparse.ArgumentTypeError("the token must be a non-empty word without spaces")
    return text


def _fault(text: str) -> str:
    from segment_emulator.server import check_fault_kind

    try:
        return check_fault_kind(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _names(text: Optional[str]) -> Optional[List[str]]:
    return [name.strip() for name in text.split(",") if name.strip()] if text else None


def _destination_options(args: argparse.Namespace) -> RunOptions:
    """Where the history is (the options every command that reads or writes it shares)."""
    return RunOptions(destination=args.destination, duckdb_path=args.duckdb_path, dataset_name=args.dataset_name,
                      pipeline_name=args.pipeline_name, pipelines_dir=args.pipelines_dir)


def _run_options(args: argparse.Namespace) -> RunOptions:
    """The run's options; settings given as flags or in the configuration are checked before any work."""
    return replace(
        _destination_options(args),
        base_url=args.base_url,
        resources=_names(args.resources),
        groups=_names(args.groups),
        progress=args.progress,
        mode=args.mode,
        **config.run_settings(args.region, args.max_concurrency, args.requests_per_minute),
    )


def print_run_summary(result: RunResult, seconds: float) -> None:
    rows = [(table, count, "skipped: " + result.skipped[table] if table in result.skipped else "")
            for table, count in result.table_rows.items()]
    print(f"Snapshot of workspace {result.workspace_name!r} ({result.workspace_id}) in {seconds:.1f}s,"
          f" run {result.run_id}:")
    print(output.table(["table", "rows", "note"], rows))
    stats = result.requests
    if stats:
        print(f"{stats.get('requests', 0)} requests, {stats.get('retries', 0)} retried,"
              f" {stats.get('rate_limited', 0)} rate-limited, {stats.get('rate_limit_wait_seconds', 0)}s waiting"
              f" for rate limits; {result.changes} changes recorded.")
    if result.full_reason:
        print(f"A full snapshot, not a change-driven one: {result.full_reason}.")
    for table, reason in result.skipped.items():
        print(f"skipped {table}: {reason} (nothing in {table} was retired)", file=sys.stderr)


# A run of several workspaces exits with the worst of their codes, in this order (worst last): nothing to
# do; retry later (a table skipped, another run going on, the API unreachable or failing); fix the
# configuration (token refused, invalid usage); the destination or segment-history itself failed.
SEVERITY = (EXIT_OK, EXIT_PARTIAL, EXIT_LOCKED, EXIT_API, EXIT_AUTH, EXIT_USAGE, EXIT_DESTINATION, EXIT_ERROR)
EXIT_INTERRUPTED = 130


def worst_exit_code(codes: Iterable[int]) -> int:
    return max(codes, key=SEVERITY.index, default=EXIT_OK)


def _workspace_exit_code(run: WorkspaceRun) -> int:
    if run.error is not None:
        return exit_code_for(run.error)
    return EXIT_PARTIAL if run.result is not None and run.result.partial else EXIT_OK


def _workspace_json(run: WorkspaceRun) -> dict:
    code = _workspace_exit_code(run)
    summary: dict = {"entry": run.entry, "name": run.name,
                     "status": {EXIT_OK: "ok", EXIT_PARTIAL: "partial"}.get(code, "failed"), "exit_code": code}
    if run.error is not None:
        return {**summary, "error": one_sentence(run.error)}
    r = run.result
    assert r is not None
    return {
        **summary,
        "run_id": r.run_id, "workspace_id": r.workspace_id, "workspace_name": r.workspace_name,
        "started_at": r.started_at.isoformat(), "finished_at": r.finished_at.isoformat(),
        "mode": r.mode, "requested_mode": "changes" if r.mode == "changes" or r.full_reason else "full",
        "full_reason": r.full_reason,
        "table_rows": r.table_rows, "skipped_tables": r.skipped, "changes": r.changes, "requests": r.requests,
    }


def run_summary_json(runs: Sequence[WorkspaceRun], seconds: float, failure: Optional[BaseException] = None,
                     notifications: Optional[notify.NotifyReport] = None) -> str:
    """What a scheduler reads: `status` (ok, partial, failed, interrupted), `exit_code`, `error` when the
    whole run failed, per workspace (`runs`) the same with its result or its error, and `notifications`."""
    workspaces = [_workspace_json(run) for run in runs]
    summary: dict = {}
    if isinstance(failure, KeyboardInterrupt):
        summary = {"status": "interrupted", "exit_code": EXIT_INTERRUPTED, "error": "interrupted"}
    elif failure is not None:
        summary = {"status": "failed", "exit_code": exit_code_for(failure), "error": one_sentence(failure)}
    else:
        code = worst_exit_code(w["exit_code"] for w in workspaces)
        summary = {"status": {EXIT_OK: "ok", EXIT_PARTIAL: "partial"}.get(code, "failed"), "exit_code": code}
    return json.dumps({**summary, "seconds": round(seconds, 2), "runs": workspaces,
                       "notifications": notifications.as_json() if notifications else None}, indent=2)


def command_run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        runs = run_workspaces(_run_options(args))
    except (Exception, KeyboardInterrupt) as exc:
        if args.json:
            print(run_summary_json([], time.monotonic() - started, failure=exc))
        raise
    loaded = [run.result.run_id for run in runs if run.result is not None]
    notifications = notify.notify_after_runs(_run_options(args), loaded)
    seconds = time.monotonic() - started
    if args.json:
        print(run_summary_json(runs, seconds, notifications=notifications))
    else:
        for run in runs:
            if run.result is not None:
                print_run_summary(run.result, seconds)
    notify.print_report(notifications, to_stdout=not args.json)
    for run in runs:
        if run.error is not None:
            print(f"segment-history: error: {run.label}: {one_sentence(run.error)}", file=sys.stderr)
    return worst_exit_code(_workspace_exit_code(run) for run in runs)


def command_resources(args: argparse.Namespace) -> int:
    from segment_source.endpoints import ENDPOINTS, GROUPS_ON_BY_DEFAULT, WORKSPACE_TABLE, Endpoint

    columns = ["table", "resource", "endpoint", "version", "group", "default", "history", "limit_per_minute"]
    workspace = Endpoint(WORKSPACE_TABLE, "", "workspace")  # `GET /`, the first request of every run
    rows = [
        (e.table_name, e.name, "GET /" + e.path + (f"?{'&'.join(f'{k}={v}' for k, v in e.params.items())}" if e.params else ""),
         e.stability, e.group, "yes" if e.default and e.group in GROUPS_ON_BY_DEFAULT else "no",
         "scd2" if e.history else "merge", e.rate_limit_per_minute or "")
        for e in [workspace, *ENDPOINTS]
    ]
    print(output.render(columns, rows, args.output), end="")
    return EXIT_OK


def command_changes(args: argparse.Namespace) -> int:
    since = queries.parse_moment(args.since) if args.since else None
    if args.limit is not None:
        config.positive_whole_number(args.limit, "--limit")
    queries.check_resource_type(args.resource_type)
    with open_history(_destination_options(args)) as history:
        queries.check_workspace(history.sql, args.workspace, history.where)
        columns, rows = queries.change_log(history.sql, since, args.resource_type, args.actor, args.workspace,
                                           args.limit)
    if not rows and args.output == "table":
        print("No changes recorded in that window.")
        return EXIT_OK
    print(output.render(columns, rows, args.output), end="")
    return EXIT_OK


def command_as_of(args: argparse.Namespace) -> int:
    moment = queries.parse_moment(args.moment)
    with open_history(_destination_options(args)) as history:
        queries.check_workspace(history.sql, args.workspace, history.where)
        if args.table:
            columns, rows = queries.as_of(history.sql, moment, args.table, args.workspace, history.mode)
            json_columns = history.json_columns(args.table)
        else:
            columns, rows = queries.as_of_counts(history.sql, moment, args.workspace, history.mode)
            json_columns = set()
    if not rows and args.output == "table":
        print(f"No {args.table or 'history'} rows were valid at {moment.isoformat()}.")
        return EXIT_OK
    print(output.render(columns, rows, args.output, json_columns), end="")
    return EXIT_OK


def command_emulator(args: argparse.Namespace) -> int:
    from segment_emulator import Emulator, generate_workspace
    from segment_emulator.server import FAULT_KINDS

    workspace = generate_workspace(seed=args.seed, scale=args.scale)
    kinds = args.fault or FAULT_KINDS
    rate = args.fault_rate if args.fault_rate is not None else (1.0 if args.fault else 0.0)
    emulator = Emulator(workspace, tokens={args.token: "owner"}, port=args.port, latency_ms=args.latency_ms,
                        rate_limit_rps=args.rate_limit_rps, fault_rate=rate, fault_kinds=kinds,
                        fault_path=args.fault_path)
    try:
        base_url = emulator.start()
    except OSError as exc:
        raise ValueError(f"Cannot serve the emulator on port {args.port}: {exc.strerror or exc}."
                         " Choose another with --port (0 picks a free one).") from None
    print(f"Segment API emulator ({args.scale}, seed {args.seed}) at {base_url}; token: {args.token}")
    if rate:
        where = "every path" if args.fault_path == "*" else args.fault_path
        print(f"Faults: {rate:.0%} of requests to {where} fail with {', '.join(kinds)}")
    print(f"Try: SEGMENT_ACCESS_TOKEN={args.token} segment-history run --base-url {base_url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stdout = open(os.devnull, "w")
        return EXIT_OK
    except KeyboardInterrupt:
        emulator.stop()
    return EXIT_OK


def command_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    runs = config.positive_whole_number(args.runs, "--runs")
    return run_demo(args.duckdb_path, args.scale, args.seed, runs, args.pipelines_dir, args.force)


def main(argv: Optional[Sequence[str]] = None) -> int:
    redaction.scrub_log_records()
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit:  # --help, or a usage error already printed in one line
        return exit.code if isinstance(exit.code, int) else EXIT_OK
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        redaction.register_configured_secrets()
        return handler(args)
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stdout = open(os.devnull, "w")
        return EXIT_OK
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; the next run starts cleanly.", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the command line turns every failure into one sentence
        return report_error(exc, args.verbose)


def report_error(exc: BaseException, verbose: bool) -> int:
    """Prints `exc` as one line on stderr (with -v, its traceback after it), secrets scrubbed; returns
    its exit code."""
    code = exit_code_for(exc)
    hint = " (run with -v for the traceback)" if code == EXIT_ERROR and not verbose else ""
    print(f"{PROG}: error: {one_sentence(exc)}{hint}", file=sys.stderr)
    if verbose:
        lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
        print(redaction.scrub("".join(lines)), file=sys.stderr, end="")
    return code


if __name__ == "__main__":
    sys.exit(main())
