"""`segment-history diff FROM [TO]`: the net difference between the workspace at two moments, from the history
tables alone, on DuckDB and on the filesystem destination, on a machine that holds nothing but the destination.

One history is built for the module: three snapshots of a small workspace, with resources added, removed and
modified in between, one resource changed and changed back, and resources removed and re-added (one as it
was, one with a different description).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

import pytest

from segment_emulator import Emulator, generate_workspace
from segment_emulator.mutations import NotApplicable

from pipelines import cli, queries
from pipelines.diff import COLUMNS, chosen_tables, workspace_diff
from pipelines.output import render
from pipelines.reading import open_history
from pipelines.runner import RunOptions, run_snapshot
from segment_source.endpoints import history_tables

from .conftest import TOKEN
from .helpers import dataset_fingerprint, query, tables
from .test_history import column_path

pytestmark = pytest.mark.slow

CHANGE_KEY = ["resource_type", "resource_id", "change_kind", "field_path"]


@dataclass
class History:
    duck: RunOptions
    lake: RunOptions
    lake_url: str
    duck_moments: List  # each snapshot's start, in order
    lake_moments: List
    mutations: Dict[str, object]
    runs: List[str]  # the DuckDB runs' ids


def both(*option_sets: RunOptions) -> List:
    return [run_snapshot(options) for options in option_sets]


def change_a_setting(workspace, destination_ids: List[str]):
    """A plain setting of the first of these destinations that has one."""
    for destination_id in destination_ids:
        try:
            return workspace.apply("change_destination_setting", destination_id=destination_id)
        except NotApplicable:
            continue
    raise AssertionError("no destination with a plain setting")


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> History:
    root = tmp_path_factory.mktemp("diff")
    workspace = generate_workspace(seed=51, scale="small")
    # an unused label to delete and re-create with another description
    workspace.apply("create_label", key="team", value="search", description="Search")
    lake_url = (root / "lake").as_uri()
    with pytest.MonkeyPatch.context() as patch, Emulator(workspace, tokens={TOKEN: "owner"}) as emulator:
        patch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", lake_url)
        common = dict(access_token=TOKEN, base_url=emulator.base_url, groups=["core"],
                      pipelines_dir=str(root / "pipelines"))
        duck = RunOptions(duckdb_path=str(root / "history.duckdb"), pipeline_name="diff_duck", **common)
        lake = RunOptions(destination="filesystem", pipeline_name="diff_lake", **common)
        first = both(duck, lake)

        renamed = next(s for s in workspace.sources if s["name"])
        original_name = renamed["name"]
        pair = workspace.source_warehouses[0]
        filtered = {f["destinationId"] for f in workspace.destination_filters}
        doomed = next(d["id"] for d in workspace.destinations if d["id"] in filtered)
        disabled = next(d["id"] for d in workspace.destinations if d["enabled"] and d["id"] != doomed)
        others = [d["id"] for d in workspace.destinations if d["id"] not in (doomed, disabled)]
        mutations = {
            "rename": workspace.apply("rename_source", source_id=renamed["id"]),
            "create": workspace.apply("create_destination"),
            "delete": workspace.apply("delete_destination", destination_id=doomed),
            "disconnect": workspace.apply("disconnect_warehouse", source_id=pair[0], warehouse_id=pair[1]),
            "delete_label": workspace.apply("delete_label", key="team", value="search"),
        }
        second = both(duck, lake)

        mutations.update({
            "rename_back": workspace.apply("rename_source", source_id=renamed["id"], name=original_name),
            "reconnect": workspace.apply("connect_warehouse", source_id=pair[0], warehouse_id=pair[1]),
            "recreate_label": workspace.apply("create_label", key="team", value="search", description="Search team"),
            "setting": change_a_setting(workspace, others),
            "disable": workspace.apply("disable_destination", destination_id=disabled),
        })
        third = both(duck, lake)
    runs = [first, second, third]
    return History(duck=duck, lake=lake, lake_url=lake_url, duck_moments=[r[0].started_at for r in runs],
                   lake_moments=[r[1].started_at for r in runs], mutations=mutations, runs=[r[0].run_id for r in runs])


def diff_of(options: RunOptions, start, end, tables=None, workspace=None) -> List[Dict]:
    with open_history(options) as opened:
        rows = workspace_diff(opened, start, end, tables or history_tables(), workspace)
    return [dict(zip(COLUMNS, row)) for row in rows]


def keyed(rows: List[Dict]) -> set:
    return {tuple(row[c] for c in CHANGE_KEY) for row in rows}


def comparable(rows: List[Dict]) -> set:
    return {tuple(row[c] for c in COLUMNS) for row in rows}


def change_log_of(options: RunOptions, run_id: str) -> set:
    rows = query(options, f"select {', '.join(COLUMNS)} from {{ds}}.config_changes where run_id = ?", run_id)
    return set(rows)


def with_cascades(*mutations) -> List:
    return [item for mutation in mutations for item in (mutation, *mutation.cascade)]


def test_diff_of_consecutive_snapshots_is_that_snapshots_change_log(history):
    """What one run recorded is exactly the net difference between it and the run before."""
    moments = history.duck_moments
    for index in (1, 2):
        diff = diff_of(history.duck, moments[index - 1], moments[index])
        assert diff, "the runs made changes"
        assert comparable(diff) == change_log_of(history.duck, history.runs[index])


def test_diff_is_the_net_difference_across_runs(history):
    m = history.mutations
    diff = diff_of(history.duck, history.duck_moments[0], history.duck_moments[2])

    loaded = tables(history.duck)  # the core group: not the Engage rows a deleted destination takes with it
    expected = {(e.table, e.resource_id, e.change, None)
                for e in with_cascades(m["create"], m["delete"]) if e.table in loaded}
    expected |= {(m["setting"].table, m["setting"].resource_id, "modified", column_path(path))
                 for path in m["setting"].fields}
    expected.add(("destinations", m["disable"].resource_id, "modified", "enabled"))
    expected.add(("labels", "team:search", "modified", "description"))  # re-created with another description
    assert keyed(diff) == expected
    # renamed and renamed back, disconnected and reconnected: each run logged them, the net difference has none
    logged = keyed([dict(zip(COLUMNS, row)) for run in history.runs[1:]
                    for row in change_log_of(history.duck, run)])
    for gone in ("rename", "disconnect"):
        assert (m[gone].table, m[gone].resource_id) in {(t, i) for t, i, _, _ in logged}
        assert (m[gone].table, m[gone].resource_id) not in {(t, i) for t, i, _, _ in keyed(diff)}

    by_key = {tuple(row[c] for c in CHANGE_KEY): row for row in diff}
    path, (old, new) = next(iter(m["setting"].fields.items()))
    modified = by_key[(m["setting"].table, m["setting"].resource_id, "modified", column_path(path))]
    assert (json.loads(modified["old_value"]), json.loads(modified["new_value"])) == (old, new)
    assert by_key[("labels", "team:search", "modified", "description")]["new_value"] == '"Search team"'
    added = by_key[("destinations", m["create"].resource_id, "added", None)]
    assert added["resource_name"] and json.loads(added["new_value"])["enabled"] is True
    removed = by_key[("destinations", m["delete"].resource_id, "removed", None)]
    assert removed["resource_name"] and removed["new_value"] is None


def test_filesystem_diff_matches_duckdb(history):
    duck = diff_of(history.duck, history.duck_moments[0], history.duck_moments[2])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", history.lake_url)
        lake = diff_of(history.lake, history.lake_moments[0], history.lake_moments[2])
    assert comparable(lake) == comparable(duck) and len(duck) >= 5


# --- the command line ---------------------------------------------------------------------------------------


def cli_diff(history: History, *extra: str) -> int:
    return cli.main(["diff", *extra, "--duckdb-path", history.duck.duckdb_path,
                     "--pipelines-dir", history.duck.pipelines_dir, "--pipeline-name", history.duck.pipeline_name])


def iso(moment) -> str:
    return moment.isoformat()


def test_cli_diff_outputs_and_filters(history, capsys):
    start, end = history.duck_moments[0], history.duck_moments[2]
    expected = diff_of(history.duck, start, end)

    assert cli_diff(history, iso(start), iso(end), "--output", "json") == 0
    assert comparable(json.loads(capsys.readouterr().out)) == comparable(expected)

    workspace = expected[0]["workspace_id"]
    assert cli_diff(history, iso(start), iso(end), "--table", "labels", "--table", "destinations",
                    "--workspace", workspace, "--output", "json") == 0
    repeated = json.loads(capsys.readouterr().out)
    assert cli_diff(history, iso(start), iso(end), "--table", "destinations,labels", "--output", "json") == 0
    assert json.loads(capsys.readouterr().out) == repeated
    assert comparable(repeated) == comparable([r for r in expected if r["resource_type"] in ("labels", "destinations")])

    assert cli_diff(history, iso(start), iso(end), "--output", "csv") == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == len(expected) + 1
    assert cli_diff(history, iso(start), iso(end), "--output", "markdown") == 0
    markdown = capsys.readouterr().out.strip().splitlines()
    assert markdown[0] == "| " + " | ".join(COLUMNS) + " |" and len(markdown) == len(expected) + 2

    assert cli_diff(history, iso(start), iso(end)) == 0
    out = capsys.readouterr().out.strip().splitlines()
    added = len({(r["resource_type"], r["resource_id"]) for r in expected if r["change_kind"] == "added"})
    assert out[-1].startswith(f"Between {start:%Y-%m-%d %H:%M:%S} UTC and {end:%Y-%m-%d %H:%M:%S} UTC: {added} added")

    assert cli_diff(history, iso(end), iso(end)) == 0
    assert capsys.readouterr().out.startswith("No differences between")


@pytest.mark.parametrize("arguments,phrase", [
    (["2h", "3h"], "is after TO"),
    (["1d", "--table", "sources,destinatons"], "Not a history table: destinatons"),
    (["1d", "--workspace", "no-such-workspace"], "No snapshot of workspace 'no-such-workspace'"),
    (["yesterday"], "yesterday"),
    (["2001-01-01"], "No history at 2001-01-01 00:00:00 UTC"),
])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(history, capsys, arguments, phrase):
    before = dataset_fingerprint(history.duck)
    capsys.readouterr()
    code = cli_diff(history, *arguments)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == cli.EXIT_USAGE, err
    assert len(lines) == 1 and lines[0].startswith("segment-history: error: ") and phrase in lines[0], err
    assert dataset_fingerprint(history.duck) == before


def test_no_history_file_is_an_error_and_creates_nothing(tmp_path, capsys):
    missing = tmp_path / "nothing.duckdb"
    code = cli.main(["diff", "1d", "--duckdb-path", str(missing), "--pipelines-dir", str(tmp_path / "pipelines")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE and f"No history at {missing}" in err
    assert not missing.exists()


def test_chosen_tables_keep_the_declaration_order():
    assert chosen_tables(["labels,sources", "destinations"]) == ["sources", "destinations", "labels"]
    assert chosen_tables(None) == history_tables()


def test_markdown_output_escapes_what_would_break_the_table():
    text = render(["name", "value"], [["a|b", "line\nbreak <b>"], [None, 3]], "markdown")
    assert text.splitlines() == ["| name | value |", "|---|---|", "| a\\|b | line break &lt;b> |", "|  | 3 |"]


# --- a machine that holds nothing but the destination -----------------------------------------------------------


def fresh_machine(root: Path) -> Dict[str, str]:
    """An environment with no dlt working directory, no home and no configuration."""
    for folder in ("home", "dlt"):
        (root / folder).mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DESTINATION__", "DLT_", "SOURCES__"))}
    env.update(HOME=str(root / "home"), DLT_DATA_DIR=str(root / "dlt"), RUNTIME__DLTHUB_TELEMETRY="false")
    return env


def segment_history(env: Dict[str, str], cwd: Path, *arguments: str) -> str:
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", *arguments], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_changes_as_of_and_diff_on_a_machine_with_only_the_duckdb_file(history, tmp_path):
    machine = tmp_path / "laptop"
    env = fresh_machine(machine)
    shutil.copy(history.duck.duckdb_path, machine / "copy.duckdb")
    start, middle, end = history.duck_moments

    changes = json.loads(segment_history(env, machine, "changes", "--duckdb-path", "copy.duckdb", "--since", "30d",
                                         "--output", "json"))
    logged = query(history.duck, "select resource_type, resource_id, change_kind, field_path, new_value"
                                 " from {ds}.config_changes")
    assert sorted(tuple(c[k] for k in (*CHANGE_KEY, "new_value")) for c in changes) == sorted(logged)
    assert logged

    as_of = json.loads(segment_history(env, machine, "as-of", iso(middle), "--duckdb-path", "copy.duckdb",
                                       "--table", "sources", "--output", "json"))
    sources_then = query(history.duck, "select record_key from {ds}.sources where _dlt_valid_from <= ?"
                                       " and (_dlt_valid_to is null or _dlt_valid_to > ?)", middle, middle)
    assert sorted(r["record_key"] for r in as_of) == sorted(r[0] for r in sources_then)

    diff = json.loads(segment_history(env, machine, "diff", iso(start), iso(end), "--duckdb-path", "copy.duckdb",
                                      "--output", "json"))
    assert comparable(diff) == comparable(diff_of(history.duck, start, end))


def test_diff_on_a_machine_with_only_the_lake(history, tmp_path):
    machine = tmp_path / "runner"
    env = fresh_machine(machine)
    env["DESTINATION__FILESYSTEM__BUCKET_URL"] = history.lake_url
    start, end = history.lake_moments[0], history.lake_moments[2]
    diff = json.loads(segment_history(env, machine, "diff", iso(start), iso(end), "--destination", "filesystem",
                                      "--output", "json"))
    expected = diff_of(history.duck, history.duck_moments[0], history.duck_moments[2])
    assert comparable(diff) == comparable(expected) and diff
