"""The marimo notebooks run headless on the demo's history without a failing cell, and what they plot
is what SQL on the same data says."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List

import duckdb
import pytest

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]

pytest.importorskip("marimo", reason="the notebooks need the 'notebooks' extra: pip install -e '.[notebooks]'")
pytest.importorskip("altair", reason="the notebooks need the 'notebooks' extra: pip install -e '.[notebooks]'")

from pipelines.demo import run_demo  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["workspace_overview", "change_history", "connections", "tracking_plans", "changes_and_metrics"]
DATASET = "segment_config"
MISSING_DATA_MESSAGE = "No history at"
NO_HISTORY = "change_history (no history file)"
NO_METRICS = "changes_and_metrics (a history without the metrics group)"


@pytest.fixture(scope="module")
def demo_history(tmp_path_factory) -> Path:
    """What `segment-history demo` leaves behind: three snapshots of a small workspace with changes between."""
    directory = tmp_path_factory.mktemp("demo")
    duckdb_path = directory / "segment_history_demo.duckdb"
    run_demo(str(duckdb_path), "small", 7, 3, str(directory / "pipelines"))
    return duckdb_path


def export_command(notebooks: Path, name: str, output: Path) -> List[str]:
    # the command a user would run from the repository root, on a copy of notebooks/ (below)
    return [sys.executable, "-m", "marimo", "export", "html", str(notebooks / f"{name}.py"), "-o", str(output), "-f"]


def notebook_env(duckdb_path: Path) -> Dict[str, str]:
    return dict(os.environ, SEGMENT_HISTORY_DUCKDB=str(duckdb_path), SEGMENT_HISTORY_DATASET=DATASET)


def copy_of_the_notebooks(directory: Path) -> Path:
    """marimo writes each export's session into a __marimo__ folder beside the notebook: the exports run on a
    copy, so the work tree stays clean. (PYTHONPYCACHEPREFIX would move that folder too, but also every
    compiled module: each export would compile marimo, altair and pandas afresh, ~5 s of CPU each.)"""
    copy = directory / "notebooks"
    shutil.copytree(ROOT / "notebooks", copy, ignore=shutil.ignore_patterns("__pycache__", "__marimo__"))
    return copy


@pytest.fixture(scope="module")
def exports(demo_history, tmp_path_factory) -> Dict[str, Dict[str, Any]]:
    """Every notebook exported to HTML, plus one pointed at a file that does not exist; the marimo processes
    run side by side."""
    out_dir = tmp_path_factory.mktemp("html")
    notebooks = copy_of_the_notebooks(out_dir)
    jobs = {name: (name, demo_history) for name in NOTEBOOKS}
    jobs[NO_HISTORY] = ("change_history", out_dir / "nothing_here.duckdb")
    jobs[NO_METRICS] = ("changes_and_metrics", without_metrics(demo_history, out_dir / "no_metrics.duckdb"))
    running = {}
    for job, (name, duckdb_path) in jobs.items():
        output = out_dir / f"{job}.html"
        running[job] = (output, subprocess.Popen(
            export_command(notebooks, name, output), cwd=ROOT, env=notebook_env(duckdb_path),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
    results = {}
    for job, (output, process) in running.items():
        stdout, stderr = process.communicate(timeout=120)
        html = output.read_text(encoding="utf-8") if output.exists() else ""
        results[job] = {"returncode": process.returncode, "stdout": stdout, "stderr": stderr, "html": html}
    return results


def without_metrics(duckdb_path: Path, copy: Path) -> Path:
    """The demo's history as a run without `--groups ...,metrics` leaves it."""
    shutil.copy(duckdb_path, copy)
    with duckdb.connect(str(copy)) as con:
        for table in ("events_volume", "delivery_metrics"):
            con.execute(f"DROP TABLE {DATASET}.{table}")
    return copy


def embedded_json(html: str, key: str) -> Any:
    """marimo's export embeds the notebook and the session (each cell's outputs) as JSON objects."""
    marker = f'"{key}": '
    start = html.index(marker) + len(marker)
    value, _ = json.JSONDecoder().raw_decode(html, start)
    return value


def cell_failures(html: str) -> List[str]:
    """Cells whose output is an error, or that printed a traceback."""
    session = embedded_json(html, "session")
    failures = []
    for cell in session["cells"]:
        for output in cell.get("outputs", []):
            if output.get("type") == "error":
                failures.append(f"cell {cell['id']}: {output.get('ename')}: {output.get('evalue')}")
        for line in cell.get("console", []):
            if line.get("mimetype") == "application/vnd.marimo+traceback":
                failures.append(f"cell {cell['id']} printed a traceback")
    return failures


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_headless_without_a_failing_cell(name, exports):
    result = exports[name]
    report = f"stdout:\n{result['stdout'][-2000:]}\nstderr:\n{result['stderr'][-4000:]}"
    assert result["returncode"] == 0, report
    assert "cells failed to execute" not in result["stderr"], report
    assert result["html"], f"no HTML written\n{report}"
    assert cell_failures(result["html"]) == []
    session = embedded_json(result["html"], "session")
    notebook = embedded_json(result["html"], "notebook")
    assert len(session["cells"]) == len(notebook["cells"]), "every cell ran"
    # the data was found (no "run segment-history demo first" callout) and at least one chart was drawn
    assert MISSING_DATA_MESSAGE not in result["html"]
    assert "application/vnd.vegalite" in result["html"]


def test_notebook_without_history_says_what_to_do(exports):
    result = exports[NO_HISTORY]
    assert result["returncode"] == 0, result["stderr"]
    # the cells after the message are stopped (`mo.stop`), none fails
    assert [f for f in cell_failures(result["html"]) if "ancestor-stopped" not in f] == []
    assert MISSING_DATA_MESSAGE in result["html"] and "segment-history demo" in result["html"]


def test_notebooks_pass_marimo_check():
    """Valid marimo files (cell signatures, no redefined names), so `marimo edit` opens them unchanged."""
    paths = [f"notebooks/{name}.py" for name in NOTEBOOKS]
    result = subprocess.run([sys.executable, "-m", "marimo", "check", "--strict", *paths], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_correlation_notebook_without_metrics_says_how_to_get_them(exports):
    result = exports[NO_METRICS]
    assert result["returncode"] == 0, result["stderr"]
    assert [f for f in cell_failures(result["html"]) if "ancestor-stopped" not in f] == []
    outputs = json.dumps(embedded_json(result["html"], "session"))  # what the cells showed, not their code
    assert "add the metrics group" in outputs and "events_volume" in outputs


# --- what the notebooks compute, against SQL on the same file --------------------------------------------------


def run_notebook(name: str, duckdb_path: Path) -> Dict[str, Any]:
    """Runs a notebook in this process (`app.run()`) and returns its global definitions."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEGMENT_HISTORY_DUCKDB", str(duckdb_path))
        patch.setenv("SEGMENT_HISTORY_DATASET", DATASET)
        patch.syspath_prepend(str(ROOT / "notebooks"))
        spec = importlib.util.spec_from_file_location(f"notebook_{name}", ROOT / "notebooks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _, defs = module.app.run()
    return dict(defs)


def sql(duckdb_path: Path, text: str, *params) -> List[tuple]:
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        return con.execute(text.replace("{ds}", DATASET), list(params)).fetchall()


def test_change_timeline_counts_match_the_change_log(demo_history):
    defs = run_notebook("change_history", demo_history)

    plotted = Counter({(r["observed_at"], r["resource_type"], r["change_kind"]): r["n"]
                       for r in defs["changes_by_snapshot"]})
    counted = sql(demo_history, """
        select observed_at, resource_type, change_kind, count(*) from {ds}.config_changes group by all""")
    expected = Counter({(observed_at.isoformat(), resource_type, kind): n
                        for observed_at, resource_type, kind, n in counted})
    assert plotted == expected
    assert sum(plotted.values()) > 0, "the demo made changes"
    actors = Counter()
    for row in defs["top_actors"]:
        actors[row["actor"]] += row["n"]
    expected_actors = dict(sql(demo_history, """
        select coalesce(actor_email, actor, '(not attributed)'), count(*) from {ds}.config_changes group by all"""))
    assert dict(actors) == expected_actors


def test_connection_orphans_match_sql(demo_history):
    defs = run_notebook("connections", demo_history)
    orphans = defs["orphans"]

    no_enabled_destination = {r[0] for r in sql(demo_history, """
        select s.id from {ds}.sources s
        where s._dlt_valid_to is null and not exists (
            select 1 from {ds}.destinations d
            where d.source_id = s.id and d.enabled and d._dlt_valid_to is null)""")}
    on_disabled_sources = {r[0] for r in sql(demo_history, """
        select d.id from {ds}.destinations d join {ds}.sources s on s.id = d.source_id
        where d._dlt_valid_to is null and s._dlt_valid_to is null and not s.enabled""")}
    assert {r["id"] for r in orphans["sources_without_enabled_destination"]} == no_enabled_destination
    assert {r["id"] for r in orphans["destinations_on_disabled_sources"]} == on_disabled_sources
    assert on_disabled_sources, "the demo workspace has disabled sources with destinations"

    graph = defs["graph"]
    links = sql(demo_history, """
        select (select count(*) from {ds}.destinations where _dlt_valid_to is null),
               (select count(*) from {ds}.source_warehouses where _dlt_valid_to is null)""")[0]
    assert Counter(e["kind"] for e in graph["edges"]) == {"destination": links[0], "warehouse": links[1]}


def test_tracking_plan_coverage_matches_sql(demo_history):
    defs = run_notebook("tracking_plans", demo_history)

    plotted = {(r["state"], r["coverage"]): r["n"] for r in defs["coverage_now"]}
    expected = {
        ("enabled" if enabled else "disabled", "with a plan" if covered else "without a plan"): n
        for enabled, covered, n in sql(demo_history, """
            select s.enabled, exists (select 1 from {ds}.tracking_plan_sources t
                                      where t.source_id = s.id and t._dlt_valid_to is null) as covered, count(*)
            from {ds}.sources s where s._dlt_valid_to is null group by all""")
    }
    assert plotted == expected
    rules = {(r["tracking_plan"], r["rule_type"]): r["rules"] for r in defs["rules_per_plan"]}
    expected_rules = {(plan, rule_type): n for plan, rule_type, n in sql(demo_history, """
        select p.name, r.type, count(*) from {ds}.tracking_plan_rules r
        join {ds}.tracking_plans p on p.id = r.tracking_plan_id and p._dlt_valid_to is null
        where r._dlt_valid_to is null group by all""")}
    assert rules == expected_rules


def test_workspace_overview_counts_match_sql(demo_history):
    defs = run_notebook("workspace_overview", demo_history)

    counted = Counter()
    for row in defs["resource_counts"]:
        counted[row["resource_type"]] += row["n"]
    for table, n in counted.items():
        assert n == sql(demo_history, f"select count(*) from {{ds}}.{table} where _dlt_valid_to is null")[0][0]
    assert {"sources", "destinations", "tracking_plan_rules", "labels"} <= set(counted)


def test_changes_and_metrics_match_sql(demo_history):
    defs = run_notebook("changes_and_metrics", demo_history)

    volume = {(r["source_id"], r["day"]): r["events"] for r in defs["daily_volume"]}
    assert volume == {(source, day): n for source, day, n in sql(demo_history, """
        select source->>'$.id', left(time, 10), sum(count) from {ds}.events_volume group by all""")}
    assert volume and any(volume.values()), "the demo loads the metrics group"

    delivered = {(r["destination_id"], r["window_end"], r["metric"]): r["total"] for r in defs["delivery"]}
    expected = sql(demo_history, """
        select destination_id, window_end, m.metricName, m.total
        from {ds}.delivery_metrics,
             unnest(from_json(metrics, '[{"metricName": "VARCHAR", "total": "BIGINT"}]')) as t(m)
        where m.metricName in ('successes', 'discarded', 'expired', 'retried')""")
    assert delivered == {(d, end, name): total for d, end, name, total in expected} and expected

    # a change belongs to a source when it is the source or a row carrying its id
    marked = {(m["resource_type"], m["resource_id"], m["source_id"]) for m in defs["change_marks"]
              if m["kind"] == "configuration change" and m["source_id"]}
    belongs = sql(demo_history, """
        select distinct c.resource_type, c.resource_id, coalesce(s.id, d.source_id, st.source_id, sw.source_id,
               tp.source_id, f.source_id)
        from {ds}.config_changes c
        left join {ds}.sources s on c.resource_type = 'sources' and s.id = c.resource_id
        left join {ds}.destinations d on c.resource_type = 'destinations' and d.id = c.resource_id
        left join {ds}.source_settings st on c.resource_type = 'source_settings' and st.source_id = c.resource_id
        left join {ds}.source_warehouses sw on c.resource_type = 'source_warehouses' and sw.record_key = c.resource_id
        left join {ds}.tracking_plan_sources tp on c.resource_type = 'tracking_plan_sources'
                                                and tp.record_key = c.resource_id
        left join {ds}.destination_filters f on c.resource_type = 'destination_filters' and f.id = c.resource_id""")
    assert marked == {row for row in belongs if row[2]} and marked

    # a day far from its source's median is flagged, with the source's changes of the 48 hours before it
    busy = next(r for r in defs["daily_volume"] if r["events"])
    spiked = [dict(r, events=r["events"] * 4) if r is busy else r for r in defs["daily_volume"]]
    others = [r["events"] for r in defs["daily_volume"] if r["source_id"] == busy["source_id"] and r is not busy]
    flagged = [r for r in defs["volume_anomalies"](spiked, 0.5)
               if (r["source_id"], r["day"]) == (busy["source_id"], busy["day"])]
    assert [r["deviation"] for r in flagged] == [round(busy["events"] * 4 / statistics.median(others) - 1, 3)]
    changed = next(m for m in defs["change_marks"] if m["kind"] == "configuration change" and m["source_id"])
    first_day = min(r["day"] for r in defs["daily_volume"])
    assert changed in defs["changes_before"](defs["change_marks"], changed["source_id"], changed["at"][:10])
    assert changed not in defs["changes_before"](defs["change_marks"], changed["source_id"], first_day)
