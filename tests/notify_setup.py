"""What the notification tests share: the command line pointed at an emulator, sinks configured through
dlt's environment variables, and the change rows read back from the history."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, List, Optional

import pytest

from segment_emulator import Emulator, Workspace

from pipelines import cli
from pipelines.history import fetch_dicts
from pipelines.runner import RunOptions, make_pipeline

TOKEN = "test-token"
CHANGE_COLUMNS = ("run_id", "workspace_id", "observed_at", "resource_type", "resource_id", "resource_name",
                  "change_kind", "field_path", "old_value", "new_value", "actor", "actor_email", "audit_event_id",
                  "audit_event_type")


def write_key(workspace: Workspace) -> str:
    return next(key for source in workspace.sources for key in source.get("writeKeys") or [])


def expected_message_id(row: Dict[str, Any]) -> str:
    """docs/alerts.md: sha256 of run id, resource type, resource id, field path, change kind, old and new value
    ('' for each that is empty), joined by the unit separator, in hex."""
    parts = [row["run_id"], row["resource_type"], row["resource_id"], row["field_path"] or "", row["change_kind"],
             row["old_value"] or "", row["new_value"] or ""]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class Cli:
    """`segment-history` against one emulator and one DuckDB file, as a user would run it."""

    def __init__(self, emulator: Emulator, options: RunOptions, capsys: Any) -> None:
        self.emulator, self.options, self.capsys = emulator, options, capsys
        self.place = ["--destination", options.destination, "--duckdb-path", options.duckdb_path,
                      "--dataset-name", options.dataset_name, "--pipelines-dir", options.pipelines_dir,
                      "--pipeline-name", options.pipeline_name]
        self.out = self.err = ""

    def run(self, *args: str) -> int:
        return self._main(["run", "--base-url", self.emulator.base_url, "--progress", "none", "--groups", "core",
                           *self.place, *args])

    def notify(self, *args: str) -> int:
        return self._main(["notify", *self.place, *args])

    def run_json(self) -> Dict[str, Any]:
        assert self.run("--json") == cli.EXIT_OK
        return json.loads(self.out)

    def _main(self, argv: List[str]) -> int:
        self.capsys.readouterr()
        code = cli.main(argv)
        captured = self.capsys.readouterr()
        self.out, self.err = captured.out, captured.err
        return code

    def warnings(self) -> List[str]:
        return [line for line in self.err.splitlines() if line.startswith("segment-history: warning:")]

    def query(self, sql: str, *args: Any) -> List[Dict[str, Any]]:
        """Rows as dicts, read through the destination's own client; `{table}` names a table of the dataset."""
        with make_pipeline(self.options).sql_client() as client:
            return fetch_dicts(client, sql.replace("{ds}.", client.fully_qualified_dataset_name() + "."), *args)

    def changes(self, run_id: Optional[str] = None) -> List[Dict[str, Any]]:
        """config_changes rows (of one run, or all)."""
        sql = f"select {', '.join(CHANGE_COLUMNS)} from {{ds}}.config_changes"
        return self.query(sql + (" where run_id = %s" if run_id else ""), *([run_id] if run_id else []))

    def latest_run_id(self) -> str:
        return self.query("select max(run_id) as run_id from {ds}.snapshots")[0]["run_id"]

    def notifications(self, sink: str) -> Dict[str, Dict[str, Any]]:
        """change_id -> the sink's row in `notifications`."""
        rows = self.query("select * from {ds}.notifications where sink = %s", sink)
        return {row["change_id"]: row for row in rows}


@pytest.fixture
def notify_env(monkeypatch):
    """Sets `[notify.<sink>]` settings as environment variables (lists and tables as JSON, dlt's way)."""
    monkeypatch.setenv("SEGMENT_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("NOTIFY__BACKOFF_SECONDS", "0.01")  # shared by every sink: tests retry fast

    def configure(sink: str, **settings: Any) -> None:
        for name, value in settings.items():
            variable = f"NOTIFY__{sink.upper()}__{name.upper()}"
            if value is None:
                monkeypatch.delenv(variable, raising=False)
            else:
                monkeypatch.setenv(variable, value if isinstance(value, str) else json.dumps(value))

    return configure
