"""`changes` and `as-of` over the real command line: they read the history from the destination alone (any
destination, with or without dlt's working directory), never create one, say so when there is no history
there, and print what a terminal or a script can trust."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from segment_emulator import Emulator, generate_workspace

from pipelines import cli
from pipelines.runner import RunOptions

from .conftest import TOKEN
from .helpers import dataset_fingerprint

HOSTILE_NAME = "evil\x1b[2J\x1b[31mred\rovertyped\tcolumn\u202egnp.exe"


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """Two snapshots of a workspace with a source renamed in between (to a name full of control
    characters), and a way to run a query command against them. Shared: the tests only read it."""
    workspace = generate_workspace(seed=9, scale="tiny")
    root = tmp_path_factory.mktemp("history")
    options = RunOptions(duckdb_path=str(root / "history.duckdb"), pipelines_dir=str(root / "pipelines"),
                         pipeline_name="test_history")
    place = ["--duckdb-path", options.duckdb_path, "--pipelines-dir", options.pipelines_dir,
             "--pipeline-name", options.pipeline_name]
    with Emulator(workspace, tokens={TOKEN: "owner"}) as emulator, pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEGMENT_ACCESS_TOKEN", TOKEN)
        assert cli.main(["run", "--base-url", emulator.base_url, *place]) == cli.EXIT_OK
        workspace.apply("rename_source", name=HOSTILE_NAME)
        assert cli.main(["run", "--base-url", emulator.base_url, *place]) == cli.EXIT_OK

    def ask(*args: str) -> int:
        return cli.main([*args, *place])

    return workspace, options, ask


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


# --- no history: nothing created, a clear line, exit 2 -------------------------------------------------------------


@pytest.mark.parametrize("command", [["changes"], ["as-of", "1h"], ["as-of", "1h", "--table", "sources"]],
                         ids=["changes", "as-of", "as-of-table"])
def test_a_mistyped_duckdb_path_is_no_history_and_is_not_created(command, tmp_path, capsys):
    missing = tmp_path / "histroy.duckdb"
    code = cli.main([*command, "--duckdb-path", str(missing), "--pipelines-dir", str(tmp_path / "pipelines")])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_USAGE, err
    assert out == "" and err == f"segment-history: error: No history at {missing}: there is no such file." \
                                " Check --duckdb-path.\n"
    assert list(tmp_path.iterdir()) == [], "neither the DuckDB file nor a dlt working directory was created"


@pytest.mark.parametrize("command", [["changes"], ["as-of", "1h"], ["as-of", "1h", "--table", "sources"]],
                         ids=["changes", "as-of", "as-of-table"])
def test_a_wrong_dataset_name_is_no_history_and_creates_nothing(command, history, capsys):
    workspace, options, ask = history
    before = dataset_fingerprint(options)
    with duckdb.connect(options.duckdb_path, read_only=True) as connection:
        schemas = connection.execute("select schema_name from information_schema.schemata").fetchall()
    capsys.readouterr()

    code = ask(*command, "--dataset-name", "segment_confg")

    out, err = capsys.readouterr()
    assert code == cli.EXIT_USAGE, err
    assert out == "" and err.startswith(f"segment-history: error: No history at {options.duckdb_path}"
                                        " (dataset segment_confg): no snapshot was ever loaded there.")
    assert dataset_fingerprint(options) == before
    with duckdb.connect(options.duckdb_path, read_only=True) as connection:
        assert connection.execute("select schema_name from information_schema.schemata").fetchall() == schemas


def test_an_empty_duckdb_file_is_no_history(tmp_path, capsys):
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    assert cli.main(["changes", "--duckdb-path", str(empty)]) == cli.EXIT_USAGE
    assert "No history at" in capsys.readouterr().err


def test_filesystem_history_is_read_from_the_bucket_alone(start_emulator, tmp_path, capsys, monkeypatch):
    """Loaded into parquet files, then dlt's working directory is deleted: the queries still answer,
    from the bucket, and a wrong dataset name is no history (and is not created in the bucket)."""
    workspace = generate_workspace(seed=9, scale="tiny")
    emulator = start_emulator(workspace)
    lake, pipelines = tmp_path / "lake", tmp_path / "pipelines"
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", lake.as_uri())
    monkeypatch.setenv("SEGMENT_ACCESS_TOKEN", TOKEN)
    place = ["--destination", "filesystem", "--pipelines-dir", str(pipelines)]
    assert cli.main(["run", "--base-url", emulator.base_url, *place]) == cli.EXIT_OK
    workspace.apply("rename_source", name="Renamed in the lake")
    assert cli.main(["run", "--base-url", emulator.base_url, *place]) == cli.EXIT_OK
    shutil.rmtree(pipelines)
    files = sorted(lake.rglob("*"))
    capsys.readouterr()

    assert cli.main(["changes", "--output", "json", *place]) == cli.EXIT_OK
    changes = json.loads(capsys.readouterr().out)
    assert {(c["resource_type"], c["field_path"], c["new_value"]) for c in changes} >= {
        ("sources", "name", '"Renamed in the lake"')}
    assert cli.main(["as-of", now(), "--output", "json", *place]) == cli.EXIT_OK
    counts = {row["table"]: row["rows"] for row in json.loads(capsys.readouterr().out)}
    assert counts["sources"] == len(workspace.sources) and counts["workspace"] == 1
    assert cli.main(["as-of", now(), "--table", "sources", "--output", "json", *place]) == cli.EXIT_OK
    sources = json.loads(capsys.readouterr().out)
    assert "Renamed in the lake" in {s["name"] for s in sources}

    assert cli.main(["changes", *place, "--dataset-name", "segment_confg"]) == cli.EXIT_USAGE
    assert f"No history at {lake.as_uri()} (dataset segment_confg)" in capsys.readouterr().err
    assert not pipelines.exists(), "the queries did not recreate dlt's working directory"
    assert sorted(lake.rglob("*")) == files, "nothing was written into the bucket"


# --- what the commands print -------------------------------------------------------------------------------------


def test_table_output_escapes_control_characters_from_the_workspace(history, capsys):
    workspace, options, ask = history
    capsys.readouterr()
    assert ask("changes", "--resource-type", "sources") == cli.EXIT_OK
    changes = capsys.readouterr().out
    assert ask("as-of", now(), "--table", "sources") == cli.EXIT_OK
    sources = capsys.readouterr().out

    for printed in (changes, sources):
        assert not any(ch in printed for ch in "\x1b\r\t\u202e"), "no raw control character reaches the terminal"
        assert "evil\\x1b[2J\\x1b[31mred\\rovertyped\\tcolumn\\u202egnp" in printed


def test_csv_output_ends_with_the_last_record_and_keeps_values_exact(history, capsys):
    workspace, options, ask = history
    capsys.readouterr()
    assert ask("changes", "--output", "csv") == cli.EXIT_OK
    out = capsys.readouterr().out
    records = list(csv.reader(io.StringIO(out, newline="")))
    assert out.endswith("\r\n") and not out.endswith("\n\r\n")
    assert records[-1] != [] and all(records), "no empty record"
    header, rows = records[0], records[1:]
    assert header[:2] == ["observed_at", "resource_type"] and rows
    assert HOSTILE_NAME in {row[header.index("resource_name")] for row in rows}, "CSV carries the value exactly"


def test_json_output_carries_json_columns_as_json(history, capsys):
    workspace, options, ask = history
    capsys.readouterr()
    assert ask("as-of", now(), "--table", "destinations", "--output", "json") == cli.EXIT_OK
    destinations = json.loads(capsys.readouterr().out)
    assert destinations and all(isinstance(d["settings"], dict) for d in destinations)
    by_id = {d["id"]: d for d in destinations}
    for destination in workspace.destinations:
        assert by_id[destination["id"]]["settings"] == destination["settings"]

    assert ask("changes", "--resource-type", "sources", "--output", "json") == cli.EXIT_OK
    renamed = [c for c in json.loads(capsys.readouterr().out) if c["field_path"] == "name"]
    assert [json.loads(c["new_value"]) for c in renamed] == [HOSTILE_NAME], "new_value is JSON text"


def test_as_of_a_table_with_no_rows_says_so(history, capsys):
    workspace, options, ask = history
    capsys.readouterr()
    assert ask("as-of", "2000-01-01", "--table", "sources") == cli.EXIT_OK
    assert capsys.readouterr().out == "No sources rows were valid at 2000-01-01T00:00:00+00:00.\n"


# --- invalid filters: exit 2, one line, nothing changed ------------------------------------------------------------


@pytest.mark.parametrize("command,phrase", [
    (["changes", "--limit", "-1"], "--limit must be a positive whole number, not -1."),
    (["changes", "--limit", "0"], "--limit must be a positive whole number, not 0."),
    (["changes", "--since", "99999999d"], "'99999999d' reaches back before the year 1"),
    (["changes", "--since", "last week"], "Cannot read 'last week' as a moment"),
    (["changes", "--resource-type", "bogus"], "'bogus' is not a resource type; choose one of: workspace, sources"),
    (["changes", "--workspace", "nope"], "No workspace 'nope' in the history at"),
    (["changes", "--destination", "nosuch"], "Unknown destination 'nosuch'"),
    (["as-of", "yesterday"], "Cannot read 'yesterday' as a moment: use e.g. 7d, 12h, 2026-03-01"),
    (["as-of", "1h", "--workspace", "nope"], "No workspace 'nope' in the history at"),
    (["as-of", "1h", "--table", "bogus"], "'bogus' is not a history table"),
    (["as-of", "1h", "--destination", "nosuch"], "Unknown destination 'nosuch'"),
], ids=lambda value: "-".join(value) if isinstance(value, list) else "")
def test_invalid_query_arguments_are_usage_errors(command, phrase, history, capsys):
    workspace, options, ask = history
    before = dataset_fingerprint(options)
    capsys.readouterr()

    code = ask(*command)

    out, err = capsys.readouterr()
    assert code == cli.EXIT_USAGE, err
    lines = err.splitlines()
    assert out == "" and len(lines) == 1 and lines[0].startswith("segment-history: error: "), err
    assert phrase in lines[0]
    assert dataset_fingerprint(options) == before


def test_a_known_workspace_and_resource_type_filter_the_change_log(history, capsys):
    workspace, options, ask = history
    capsys.readouterr()
    assert ask("changes", "--workspace", workspace.workspace["id"], "--resource-type", "sources",
               "--output", "json") == cli.EXIT_OK
    changes = json.loads(capsys.readouterr().out)
    assert changes and {c["resource_type"] for c in changes} == {"sources"}
    assert ask("changes", "--resource-type", "tracking_plan_rules") == cli.EXIT_OK
    assert capsys.readouterr().out == "No changes recorded in that window.\n"


def test_query_commands_leave_no_file_behind(history, tmp_path):
    """A query neither creates dlt's working directory nor writes into the destination."""
    workspace, options, ask = history
    shutil.rmtree(options.pipelines_dir, ignore_errors=True)
    before = dataset_fingerprint(options)
    assert ask("changes") == cli.EXIT_OK and ask("as-of", now()) == cli.EXIT_OK
    assert not Path(options.pipelines_dir).exists()
    assert dataset_fingerprint(options) == before


def test_a_destination_that_cannot_be_opened_is_a_destination_error(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n")
    assert cli.main(["changes", "--duckdb-path", str(notes)]) == cli.EXIT_DESTINATION
    assert capsys.readouterr().err == (
        f"segment-history: error: Cannot open the history at {notes} (dataset segment_config): IO Error: The file"
        f' "{notes}" exists, but it is not a valid DuckDB database file!\n')
    assert notes.read_text() == "not a database\n"


@pytest.mark.parametrize("command", [["changes"], ["run"]], ids=["changes", "run"])
def test_a_destination_without_credentials_is_a_configuration_error(command, tmp_path, capsys, monkeypatch):
    for name in [name for name in os.environ if name.startswith("DESTINATION__POSTGRES__")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SEGMENT_ACCESS_TOKEN", TOKEN)
    code = cli.main([*command, "--destination", "postgres", "--pipelines-dir", str(tmp_path / "pipelines")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE, err
    assert "Missing 1 field(s) in configuration `PostgresClientConfiguration`: `credentials`" in err
    assert len(err.splitlines()) == 1
