"""The alerts documentation matches the product: docs/alerts.md describes every column of the real
`notifications` table with its type and its queries run, and its worked examples configure the
sinks they say (read through dlt's own .dlt/ files and environment variables)."""

from __future__ import annotations

import os
import re
import shlex

import duckdb
import pytest
from dlt.common.configuration.container import Container
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

from segment_emulator import generate_workspace

from pipelines import cli
from pipelines.notify import configured_sinks

from .notify_setup import Cli, notify_env, write_key  # noqa: F401 - notify_env: fixture
from .test_docs import ROOT, doc_section, documented_tables, example_queries, produced_tables

ALERTS_DOC = ROOT / "docs" / "alerts.md"


def test_the_notifications_table_is_documented_column_by_column_and_its_queries_run(
        start_emulator, options_for, capsys, notify_env):
    workspace = generate_workspace(seed=5, scale="tiny")
    emulator = start_emulator(workspace)
    app = Cli(emulator, options_for(emulator), capsys)
    notify_env("segment", write_key=write_key(workspace), endpoint=emulator.base_url)
    assert app.run() == cli.EXIT_OK
    workspace.mutate(count=3, seed=71)
    assert app.run() == cli.EXIT_OK

    doc = ALERTS_DOC.read_text(encoding="utf-8")
    documented = dict(documented_tables(doc.replace("## The `notifications` table", "### `notifications`")))
    produced = produced_tables(app.options.duckdb_path, app.options.dataset_name)["notifications"]
    assert documented["notifications"] == produced
    queries = example_queries(doc)
    assert len(queries) == 3  # pending per sink, changes with their delivery, dropping what is pending
    with duckdb.connect(app.options.duckdb_path) as con:
        results = [con.execute(sql.replace("segment_config.", f"{app.options.dataset_name}.")
                               .replace("'slack'", "'segment'")).fetchall() for sql in queries]
    assert results[0] == [], "nothing pending"
    delivered = [row[-2] for row in results[1]]
    assert len(delivered) == len(app.changes()) > 0 and all(delivered), "every change joins its notification"


def toml_files(section: str) -> dict:
    """A section's TOML snippets, by the file their `# .dlt/<file>` comment names."""
    files: dict = {}
    for block in re.findall(r"```toml\n(.*?)```", section, re.S):
        current = None
        for line in block.splitlines():
            named = re.match(r"^# (\.dlt/\w+\.toml)$", line)
            if named:
                current = named.group(1)
            elif current:
                files.setdefault(current, []).append(line)
    return {name: "\n".join(lines) + "\n" for name, lines in files.items()}


@pytest.fixture
def in_directory(tmp_path, monkeypatch):
    """Runs in `tmp_path`, with dlt reading its .dlt/ there; dlt's providers are reloaded back afterwards."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    os.chdir(ROOT)
    Container()[PluggableRunContext].reload_providers()


def test_the_alerts_examples_configure_the_sinks_they_say(in_directory, monkeypatch):
    section = doc_section(ALERTS_DOC, "Examples")
    for name, text in toml_files(section).items():
        (in_directory / name).parent.mkdir(exist_ok=True)
        (in_directory / name).write_text(text, encoding="utf-8")
    for line in re.findall(r"^export (.+?)(?:\s+#.*)?$", section, re.M):
        name, _, value = shlex.split(line)[0].partition("=")
        monkeypatch.setenv(name, value)
    Container()[PluggableRunContext].reload_providers()

    segment, slack, webhook = configured_sinks()
    assert (segment.url(), segment.event) == ("https://api.segment.io/v1/batch", "Segment Config Changed")
    assert slack.url().startswith("https://hooks.slack.com/services/")
    assert slack.filter.labels == ("environment:prod",) and slack.filter.exclude_actors == ("public-api-token/*",)
    assert webhook.url() == "https://alerts.example.com/segment-config"
    assert webhook.headers() == {"Authorization": "Bearer ..."}
    assert (webhook.filter.resource_types, webhook.filter.change_kinds, webhook.filter.fields) == (
        ("destinations", "tracking_plan_rules"), ("removed", "modified"), ("enabled", "settings.*"))
