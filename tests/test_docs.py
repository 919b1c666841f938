"""The documentation matches what the pipeline does: every table and column a real snapshot produces is in
docs/tables.md with its type, the example queries there run, and the scheduling recipe's commands are
the README's and parse."""

from __future__ import annotations

import re
import shlex
import time
from pathlib import Path
from typing import Dict, List

import duckdb
import pytest
import yaml

from pipelines.cli import build_parser
from pipelines.runner import run_snapshot

ROOT = Path(__file__).resolve().parents[1]
TABLES_DOC = ROOT / "docs" / "tables.md"
WORKFLOW = ROOT / ".github" / "workflows" / "segment-history.yml"
README = ROOT / "README.md"
DLT_INTERNAL_TABLES = {"_dlt_loads", "_dlt_pipeline_state", "_dlt_version"}
# the doc writes DuckDB's long type names short
TYPE_ALIASES = {"TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ"}

HEADING = re.compile(r"^### `(?P<table>[a-z0-9_]+)`\s*$")
COLUMN_ROW = re.compile(r"^\| `(?P<column>[a-z0-9_]+)` \| (?P<type>[^|]+?) \| (?P<description>.+) \|\s*$")
SQL_BLOCK = re.compile(r"```sql\n(?P<sql>.*?)```", re.S)


def documented_tables(text: str) -> Dict[str, Dict[str, str]]:
    """{table: {column: type}} from `### `table`` headings and the `| `column` | TYPE | meaning |` rows
    below each of them."""
    tables: Dict[str, Dict[str, str]] = {}
    current = None
    for line in text.splitlines():
        heading = HEADING.match(line)
        if heading:
            current = tables.setdefault(heading["table"], {})
            continue
        if line.startswith("#"):
            current = None
            continue
        row = COLUMN_ROW.match(line)
        if row and current is not None:
            assert row["column"] not in current, f"{row['column']} documented twice"
            assert row["description"].strip(), f"{row['column']} has no description"
            current[row["column"]] = row["type"].strip()
    return tables


def example_queries(text: str) -> List[str]:
    statements = []
    for block in SQL_BLOCK.finditer(text):
        sql = "\n".join(line for line in block["sql"].splitlines() if not line.strip().startswith("--"))
        statements += [s.strip() for s in sql.split(";") if s.strip()]
    return statements


def produced_tables(duckdb_path: str, dataset: str) -> Dict[str, Dict[str, str]]:
    with duckdb.connect(duckdb_path, read_only=True) as con:
        rows = con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = ?",
            [dataset],
        ).fetchall()
    tables: Dict[str, Dict[str, str]] = {}
    for table, column, data_type in rows:
        if table not in DLT_INTERNAL_TABLES:
            tables.setdefault(table, {})[column] = TYPE_ALIASES.get(data_type, data_type)
    return tables


def test_tables_doc_describes_every_table_and_column_of_a_real_snapshot(
    small_workspace, start_emulator, options_for
):
    # two snapshots with changes between them, so that config_changes has rows too
    emulator = start_emulator(small_workspace)
    options = options_for(emulator)
    run_snapshot(options)
    small_workspace.mutate(count=6, seed=3)
    time.sleep(0.01)
    assert run_snapshot(options).changes > 0

    doc = TABLES_DOC.read_text(encoding="utf-8")
    documented = documented_tables(doc)
    produced = produced_tables(options.duckdb_path, options.dataset_name)

    assert sorted(set(produced) - set(documented)) == [], "tables missing from docs/tables.md"
    assert sorted(set(documented) - set(produced)) == [], "docs/tables.md documents tables no run makes"
    for table, columns in produced.items():
        missing = sorted(set(columns) - set(documented[table]))
        assert missing == [], f"columns of {table} missing from docs/tables.md"
        stale = sorted(set(documented[table]) - set(columns))
        assert stale == [], f"docs/tables.md documents columns {table} does not have"
        wrong_type = {c: (documented[table][c], t) for c, t in columns.items() if documented[table][c] != t}
        assert wrong_type == {}, f"{table}: (documented, actual) types differ"

    # every example query in the doc runs on the snapshot as written
    queries = example_queries(doc)
    assert len(queries) >= 2 * len(produced)
    with duckdb.connect(options.duckdb_path, read_only=True) as con:
        for sql in queries:
            try:
                con.execute(sql.replace("segment_config.", f"{options.dataset_name}.")).fetchall()
            except duckdb.Error as error:
                pytest.fail(f"example query in docs/tables.md fails: {error}\n{sql}")


# --- scheduling ---------------------------------------------------------------------------------------------------


def readme_section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def run_commands(workflow: dict) -> List[str]:
    commands = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if "run" not in step:
                continue
            script = step["run"].replace("\\\n", " ")
            lines = [line.strip() for line in script.splitlines()]
            commands += [line for line in lines if line and not line.startswith("#")]
    return commands


def test_workflow_is_valid_and_its_commands_are_the_readme_scheduling_recipe():
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as true
    assert "workflow_dispatch" in triggers
    (schedule,) = triggers["schedule"]
    assert len(schedule["cron"].split()) == 5
    job = workflow["jobs"]["snapshot"]
    assert job["env"]["SEGMENT_ACCESS_TOKEN"] == "${{ secrets.SEGMENT_ACCESS_TOKEN }}"
    assert all("secrets." in value for key, value in job["env"].items() if "CREDENTIALS" in key)
    setup_python = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python"))
    assert str(setup_python["with"]["python-version"]) == "3.11"

    commands = run_commands(workflow)
    scheduling = readme_section("Scheduling")
    assert commands, "the workflow runs nothing"
    for command in commands:
        assert command in scheduling, f"workflow command not in README's Scheduling section: {command}"

    snapshots = [c for c in commands if c.startswith("segment-history run")]
    assert snapshots, "the workflow takes no snapshot"
    parser = build_parser()
    for command in commands:
        if command.startswith("segment-history "):
            args = parser.parse_args(shlex.split(command)[1:])  # the command line is valid as written
            if args.handler.__name__ in ("command_run", "command_changes"):
                # stateless runners: the history must live in a warehouse, not in a file on the runner
                assert args.destination != "duckdb", command
