"""The benchmark command runs end to end on a tiny workspace and records both runs (benchmarks/README.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]

RUN_FIELDS = ("requests", "pages", "rate_limited_429", "wall_s", "process_wall_s", "cpu_s", "peak_rss_mb",
              "rows", "rows_by_table", "rows_total", "rows_resource_total", "phases")


def test_benchmark_command_writes_both_runs(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--scale", "tiny", "--latency-ms", "0", "--name", "smoke",
         "--out-dir", str(tmp_path), "--timeout", "60"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    result = json.loads((tmp_path / "smoke.json").read_text())

    assert set(result["runs"]) == {"ours", "baseline"}
    for kind, run in result["runs"].items():
        missing = [name for name in RUN_FIELDS if run.get(name) is None]
        assert not missing, f"{kind} lacks {missing}"
        assert run["requests"] >= run["pages"] > 0, kind
        assert run["wall_s"] > 0 and run["peak_rss_mb"] > 0, kind
        # every item of the workspace is loaded; the audit trail's 90-day window moves with the clock
        items = result["minimal_plan"]["items"]
        assert {t: n for t, n in run["rows_by_table"].items() if t not in ("audit_events", "workspace")} == {
            t: n for t, n in items.items() if t != "audit_events"}, kind
        assert abs(run["rows_by_table"]["audit_events"] - items["audit_events"]) <= 1, kind
    assert "extract" in result["runs"]["ours"]["phases"] and "load" in result["runs"]["baseline"]["phases"]

    comparison = result["comparison"]
    assert comparison["ours_over_baseline"]["wall_s"] > 0
    assert comparison["requests_vs_minimal_plan"] > 0
    assert result["minimal_plan"]["requests"] > 0 and result["machine"]["dlt"]
    assert "ours" in completed.stdout and "baseline" in completed.stdout


def test_change_run_benchmark_compares_requests_and_end_state(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.change_runs", "--scale", "tiny", "--mutations", "5", "--name", "smoke",
         "--out-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    result = json.loads((tmp_path / "smoke.json").read_text())

    assert set(result["runs"]) == {"bench_tables", "default_groups"}
    for tag, run in result["runs"].items():
        assert run["full"]["mode"] == "full" and run["change_driven"]["mode"] == "changes", (tag, run)
        assert run["change_driven"]["requests"] < run["full"]["requests"], tag
        assert run["requests_ratio"] == round(run["full"]["requests"] / run["change_driven"]["requests"], 1)
        assert run["same_current_state_as_a_full_snapshot"], (tag, run["tables_differing"])


def test_default_groups_scenario_records_in_flight_and_its_targets(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--scale", "tiny", "--latency-ms", "20", "--tables", "default",
         "--name", "smoke-default", "--out-dir", str(tmp_path), "--timeout", "120"],
        cwd=REPO, capture_output=True, text=True, timeout=240,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    result = json.loads((tmp_path / "smoke-default.json").read_text())

    assert set(result["runs"]) == {"ours"}, "the baseline reads the 11 benchmarked tables only"
    run = result["runs"]["ours"]
    assert {"users", "destination_subscriptions", "source_settings"} <= set(run["rows_by_table"])
    # the timeline samples every 0.1 s and can miss all of a tiny run's requests (seen once in about ten suites);
    # the peak from the emulator's records cannot
    assert run["in_flight_timeline"] and run["max_in_flight"] >= 1
    assert run["client_stats"]["concurrency"]["ceiling"] >= run["client_stats"]["concurrency"]["peak_in_flight"]
    assert {row["target"] for row in result["targets"]} == {"wall_s", "peak_rss_mb"}
    assert "requests_vs_minimal_plan" not in result["comparison"]
