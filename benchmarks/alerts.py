"""Benchmark: what a run with N changes sends to each alert sink, and how long delivery takes.

    python -m benchmarks.alerts --scale small --changes 20

On one emulated workspace: a first snapshot (the baseline: nothing to send), then N destinations renamed
(one `config_changes` row each), a second snapshot, and the notifications for it, with all three sinks on:
the Tracking API (the emulator's), Slack and a webhook (a local HTTP receiver standing in for both). For
each sink it reports requests, request bytes and the time the requests took; then the time of the whole
notification step (reading the changes, queueing, sending, recording in `notifications`: two dlt loads)
next to the snapshot's own time; then a rerun, which must send nothing. Results go to `benchmarks/results/<name>.json`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

from pipelines.notify import SegmentSink, SlackSink, WebhookSink, deliver
from pipelines.runner import RunOptions, run_snapshot
from segment_emulator import Emulator, generate_workspace
from tests.http_receiver import Receiver

from .run import RESULTS, TOKEN, result_header, write_result

SEED = 7


def scenario(scale: str, seed: int, changes: int, workdir: str) -> Dict[str, Any]:
    workspace = generate_workspace(seed=seed, scale=scale)
    receiver = Receiver()
    try:
        with Emulator(workspace, tokens={TOKEN: "owner"}) as emulator:
            options = RunOptions(access_token=TOKEN, base_url=emulator.base_url, duckdb_path=f"{workdir}/a.duckdb",
                                 pipelines_dir=f"{workdir}/pipelines", pipeline_name="alerts", groups=["core"])
            key = next(k for source in workspace.sources for k in source.get("writeKeys") or [])
            sinks = [SegmentSink(key, emulator.base_url), SlackSink(receiver.url("/slack")),
                     WebhookSink(receiver.url("/webhook"), {"Authorization": "Bearer benchmark"})]
            run_snapshot(options)
            for destination in workspace.destinations[:changes]:
                workspace.apply("rename_destination", destination_id=destination["id"])
            started = time.perf_counter()
            result = run_snapshot(options)
            snapshot_seconds = round(time.perf_counter() - started, 2)
            started = time.perf_counter()
            report = deliver(options, [result.run_id], sinks, synced=True)  # as `run` does after its runs
            notify_seconds = round(time.perf_counter() - started, 2)
            events = len(emulator.tracking.received)
            rerun = deliver(options, [result.run_id], sinks)
            resent = len(emulator.tracking.received) - events + len(receiver.requests) - 2
    finally:
        receiver.stop()
    return {"changes": result.changes, "snapshot_seconds": snapshot_seconds, "notify_seconds": notify_seconds,
            "notify_seconds_inside": report.seconds,
            "tracking_api_events": events, "sinks": [vars(sink) for sink in report.sinks],
            "rerun_requests": sum(sink.requests for sink in rerun.sinks), "rerun_resent": resent}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.alerts", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small")
    parser.add_argument("--changes", type=int, default=20, help="destinations renamed between the two snapshots")
    parser.add_argument("--out-dir", default=str(RESULTS))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="segment-history-alerts-") as workdir:
        run = scenario(args.scale, SEED, args.changes, workdir)
    name = f"alerts-{args.scale}-{args.changes}"
    scenario_of_run = {"scale": args.scale, "seed": SEED, "changes": args.changes}
    result = {**result_header("benchmarks.alerts", name, argv if argv is not None else sys.argv[1:], scenario_of_run),
              "run": run}
    print(f"{run['changes']} changes: snapshot {run['snapshot_seconds']} s, notifications {run['notify_seconds']} s"
          f" ({run['tracking_api_events']} Tracking API events)")
    for sink in run["sinks"]:
        print(f"  {sink['sink']}: {sink['delivered']} delivered in {sink['requests']} requests,"
              f" {sink['bytes_sent']:,} bytes in {sink['seconds']} s")
    print(f"rerun: {run['rerun_requests']} requests, {run['rerun_resent']} resent")
    print(f"wrote {write_result(args.out_dir, name, result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
