"""The documentation matches what the pipeline does: every table and column a real snapshot of every group
and opt-in resource produces is in docs/tables.md with its type, the example queries there run, each
table's group, storage, key and endpoint there are the ones endpoints.py declares; every `segment-history`
command the README and the docs show parses, links between them resolve, the example workflow's commands are
docs/deploy.md's, and the README stays a short user's guide."""

from __future__ import annotations

import re
import shlex
import time
from dataclasses import replace
from pathlib import Path
from typing import Dict, List

import duckdb
import pytest
import yaml

from pipelines.cli import build_parser
from pipelines.runner import run_snapshot
from segment_source import rate_limit
from segment_source.settings import MAX_PAGE_SIZE
from segment_source.endpoints import ENDPOINTS, GROUPS, WORKSPACE_TABLE, Endpoint, select_endpoints, tables
from segment_source.identity import BRIDGE_TABLES

ROOT = Path(__file__).resolve().parents[1]
TABLES_DOC = ROOT / "docs" / "tables.md"
WORKFLOW = ROOT / "docs" / "examples" / "segment-history.yml"
README = ROOT / "README.md"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
ARCHITECTURE_DOC = ROOT / "docs" / "architecture.md"
CONTRIBUTING = ROOT / "CONTRIBUTING.md"
# every Markdown page a user or contributor reads; links between them must resolve
PAGES = [README, CONTRIBUTING, ROOT / "BENCHMARKS.md", ROOT / "benchmarks" / "README.md",
         *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_CHARS = 12_000
QUICKSTART = ['python -m pip install -e . && segment-history demo',
              'python -m pip install -e ".[test]" && python -m pytest -q']
DLT_INTERNAL_TABLES = {"_dlt_loads", "_dlt_pipeline_state", "_dlt_version"}
# the doc writes DuckDB's long type names short
TYPE_ALIASES = {"TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ"}

HEADING = re.compile(r"^### `(?P<table>[a-z0-9_]+)`\s*$")
COLUMN_ROW = re.compile(r"^\| `(?P<column>[a-z0-9_]+)` \| (?P<type>[^|]+?) \| (?P<description>.+) \|\s*$")
SQL_BLOCK = re.compile(r"```sql\n(?P<sql>.*?)```", re.S)
RUN_TABLES = ("config_changes", "snapshots", *BRIDGE_TABLES.values())
# resources a plain run leaves out even in their group (slow, or with side effects): named one by one
OPT_IN_RESOURCES = sorted({e.table_name for e in ENDPOINTS if not e.default})
ACCEPT_VERSIONS = {"stable": "v1", "beta": "v1beta", "alpha": "v1alpha"}


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


@pytest.mark.slow
def test_tables_doc_describes_every_table_and_column_of_a_real_snapshot(
    small_workspace, start_emulator, options_for, monkeypatch
):
    # The client paces the endpoints the API limits to 2 or 25 requests a minute (selective syncs, sync
    # schedules, audience references...): minutes per run. The emulator enforces no such limit unless asked
    # to (rate_limit_rps), so the pacing only costs time here.
    monkeypatch.setattr(rate_limit.MinuteWindow, "reserve", lambda self, now: 0.0)
    # a snapshot of every group and every opt-in resource, then a plain one (the default groups) after
    # changes, so that config_changes has rows too and the tables a run does not read stay as they were
    emulator = start_emulator(small_workspace)
    options = options_for(emulator, groups=list(GROUPS), resources=OPT_IN_RESOURCES)
    first = run_snapshot(options)
    assert first.skipped == {}, "tables the emulator could not serve cannot be checked against the doc"
    small_workspace.mutate(count=6, seed=3)
    time.sleep(0.01)
    second = run_snapshot(replace(options, groups=None, resources=None))
    assert second.skipped == {} and second.changes > 0

    doc = TABLES_DOC.read_text(encoding="utf-8")
    documented = documented_tables(doc)
    produced = produced_tables(options.duckdb_path, options.dataset_name)

    assert set(produced) == set(tables()) | set(RUN_TABLES), "the snapshot did not produce every table"
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


def doc_sections(text: str) -> Dict[str, str]:
    """{table: its section of docs/tables.md}, from its `### `table`` heading to the next heading."""
    sections: Dict[str, str] = {}
    current = None
    for line in text.splitlines():
        heading = HEADING.match(line)
        if heading:
            current = heading["table"]
            sections[current] = ""
        elif line.startswith("#"):
            current = None
        elif current is not None:
            sections[current] += line + "\n"
    return sections


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def any_placeholder(text: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", text)


def test_tables_doc_states_each_tables_group_storage_key_and_endpoint_as_declared():
    """Without running anything: every declared table has a section whose `**Group:**` line says what
    endpoints.py says, so a new or changed resource fails here until the doc follows."""
    sections = doc_sections(TABLES_DOC.read_text(encoding="utf-8"))
    missing = [t for t in [*tables(), *RUN_TABLES] if t not in sections]
    assert missing == [], "tables missing from docs/tables.md"
    plain_run = {e.table_name for e in select_endpoints()}  # what `segment-history run` reads
    by_table: Dict[str, List[Endpoint]] = {}
    for endpoint in ENDPOINTS:
        by_table.setdefault(endpoint.table_name, []).append(endpoint)
    for table, endpoints in by_table.items():
        line = next((l for l in sections[table].splitlines() if l.startswith("**Group:**")), None)
        assert line, f"{table}: no **Group:** line in docs/tables.md"
        first = endpoints[0]
        assert f"**Group:** `{first.group}`" in line, table
        assert ("read by default" in line) == (table in plain_run), f"{table}: read by default or opt-in"
        assert ("SCD2" in line) == first.history and ("merged on" in line) == (not first.history), table
        key = ":".join(snake(name) for name in first.key)
        assert f"`record_key` = `{key}`" in line, f"{table}: key is {key}"
        for endpoint in endpoints:
            assert any_placeholder(f"GET /{endpoint.path}") in any_placeholder(line), f"{table}: {endpoint.path}"
            assert f"({ACCEPT_VERSIONS[endpoint.stability]})" in line, f"{table}: {endpoint.stability}"


def test_the_readme_links_the_tables_doc_instead_of_repeating_its_list():
    text = README.read_text(encoding="utf-8")
    assert "(docs/tables.md)" in text
    listed = set(re.findall(r"^\| `([a-z0-9_]+)` \|", text, re.M)) & {*tables(), *RUN_TABLES}
    assert listed == set(), "the README repeats docs/tables.md's table list"


# --- scheduling ---------------------------------------------------------------------------------------------------


def doc_section(page: Path, title: str) -> str:
    """The text under `## title` in `page`, up to the next `## ` heading."""
    text = page.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"{page.name} has no '## {title}' section"
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


def test_the_example_workflow_is_not_where_github_would_run_it():
    assert not (ROOT / ".github" / "workflows").exists(), "GitHub would run it nightly, without the secret"
    assert "(examples/segment-history.yml)" in doc_section(DEPLOY_DOC, "Scheduling")


def test_workflow_is_valid_and_its_commands_are_the_deploy_docs_scheduling_recipe():
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
    scheduling = doc_section(DEPLOY_DOC, "Scheduling")
    assert commands, "the workflow runs nothing"
    for command in commands:
        assert command in scheduling, f"workflow command not in docs/deploy.md's Scheduling section: {command}"

    snapshots = [c for c in commands if c.startswith("segment-history run")]
    assert snapshots, "the workflow takes no snapshot"
    parser = build_parser()
    for command in commands:
        if command.startswith("segment-history "):
            args = parser.parse_args(shlex.split(command)[1:])  # the command line is valid as written
            if args.handler.__name__ in ("command_run", "command_changes"):
                # stateless runners: the history must live in a warehouse, not in a file on the runner
                assert args.destination != "duckdb", command


def opt_in_marks(rows: List[tuple]) -> Dict[str, bool]:
    """{table: marked opt-in} from (group cell, tables cell) pairs; an opt-in group marks all its tables."""
    marked: Dict[str, bool] = {}
    for group, tables_cell in rows:
        for table, mark in re.findall(r"`([a-z0-9_]+)`(\s*\(\*?opt-in)?", tables_cell):
            marked[table] = bool(mark) or "opt-in" in group
    return marked


def test_the_tables_summaries_mark_exactly_what_a_plain_run_leaves_out():
    plain_run = {WORKSPACE_TABLE} | {e.table_name for e in select_endpoints()}
    left_out = set(tables()) - plain_run

    doc = TABLES_DOC.read_text(encoding="utf-8")
    summary = re.search(r"^## Which tables a run writes\n(.*?)(?=^## )", doc, re.S | re.M).group(1)
    marked = opt_in_marks(re.findall(r"^\| (`[a-z_]+`[^|]*) \| (.+) \|$", summary, re.M))
    assert set(marked) == set(tables())
    assert {t for t, opt_in in marked.items() if opt_in} == left_out



def test_contributing_benchmark_commands_do_not_overwrite_committed_results():
    text = CONTRIBUTING.read_text(encoding="utf-8")
    commands = re.findall(r"^(python -m benchmarks\.\S+ .*)$", text, re.M)
    assert len(commands) >= 2
    for command in commands:
        out_dir = shlex.split(command)[shlex.split(command).index("--out-dir") + 1]
        assert not (ROOT / out_dir).resolve().is_relative_to(ROOT), command
    images = doc_section(CONTRIBUTING, "Docs").split("`python docs/render_images.py`", 1)[1]
    assert "overwriting the committed images" in images


# --- the README and the pages it links -----------------------------------------------------------------------------


def test_the_readme_is_a_short_users_guide_with_the_two_command_quickstart():
    text = README.read_text(encoding="utf-8")
    assert len(text) <= README_MAX_CHARS, f"README.md has {len(text)} characters: move details to docs/"
    quickstart = doc_section(README, "Quickstart")
    first_block = re.search(r"```bash\n(.*?)```", quickstart, re.S).group(1)
    commands = [line for line in first_block.splitlines() if line and not line.startswith("#")]
    assert commands == QUICKSTART


FENCE = re.compile(r"^```(?P<lang>\w*)\n(?P<body>.*?)^```", re.S | re.M)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
SYNOPSIS = re.compile(r"\[|…|\.\.\.|\b[A-Z]{2,}\b(?!=)")  # `diff FROM [TO]`, `--ids ID,...`: a shape, not a command


def shell_commands(text: str) -> List[str]:
    """`segment-history ...` commands of the shell blocks and inline code of a page, as the shell reads them:
    continued lines joined; comments, `VAR=value` prefixes and what follows `&&`, `|` or a redirection left
    out."""
    found = []
    shell = [m["body"] for m in FENCE.finditer(text) if m["lang"] in ("bash", "sh", "")]
    prose = FENCE.sub("", text)
    lines = [line for body in shell for line in body.replace("\\\n", " ").splitlines()]
    # inline code that names a command (`segment-history export terraform`) rather than runs one has no option
    candidates = lines + [code for code in INLINE_CODE.findall(prose) if " -" in code]
    for line in candidates:
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue  # not a shell line (a table cell's `a\|b`)
        while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
            words.pop(0)
        if not words or words[0] != "segment-history":
            continue
        for position, word in enumerate(words):
            if word in ("&&", "||", "|", ";") or word[:1] in (">", "<") or word[:2] == "2>":
                words = words[:position]
                break
        found.append(shlex.join(words))
    return found


def test_every_segment_history_command_in_the_readme_and_the_docs_parses():
    parser = build_parser()
    checked = 0
    for page in PAGES:
        for command in shell_commands(page.read_text(encoding="utf-8")):
            if SYNOPSIS.search(command) or command == "segment-history":
                continue
            try:
                parser.parse_args(shlex.split(command)[1:])
            except SystemExit:
                pytest.fail(f"{page.relative_to(ROOT)}: `{command}` is not a valid command line")
            checked += 1
    assert checked >= 20


LINK = re.compile(r"!?\[[^\]]*\]\((?P<target>[^)\s]+)\)")


def anchors(page: Path) -> set:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    headings = re.findall(r"^#+ (.+)$", text, re.M)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_links_between_the_readme_and_the_docs_resolve():
    broken = []
    for page in PAGES:
        for link in LINK.finditer(FENCE.sub("", page.read_text(encoding="utf-8"))):
            target = link["target"]
            if re.match(r"^[a-z]+:", target):
                continue  # a web address
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert broken == []


def test_the_readme_links_every_docs_page():
    text = README.read_text(encoding="utf-8")
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"(docs/{page.name})" in text, f"the README does not link docs/{page.name}"
    assert "(CONTRIBUTING.md)" in text


def test_every_module_the_architecture_page_names_exists():
    text = ARCHITECTURE_DOC.read_text(encoding="utf-8")
    named = set(re.findall(r"\b((?:segment_source|segment_emulator|pipelines|tests|benchmarks|notebooks)/[\w/]*\.py)",
                           text))
    assert len(named) >= 20
    assert sorted(path for path in named if not (ROOT / path).exists()) == []
    bare = set(re.findall(r"`(\w+\.py)`", text)) - {Path(path).name for path in named}
    modules = {path.name for package in ("segment_source", "pipelines") for path in (ROOT / package).rglob("*.py")}
    assert sorted(bare - modules) == [], "modules named without their package that exist in none"


def test_the_docs_name_every_page_size_below_the_apis_maximum():
    """Every list is read with the largest page its endpoint allows; the docs say which allow fewer."""
    smaller = {e.table_name.replace("_", " "): e.page_size for e in ENDPOINTS if e.page_size < MAX_PAGE_SIZE}
    assert smaller, "no endpoint with a smaller page: drop the exceptions from the docs"
    for page in (ROOT / "docs" / "configuration.md", ROOT / "docs" / "operations.md"):
        text = " ".join(page.read_text(encoding="utf-8").split())
        assert f"pagination.count={MAX_PAGE_SIZE}" in text, page.name
        for table, size in smaller.items():
            assert re.search(rf"{table} {size}\b", text), f"{page.name} does not say {table} are read {size} a page"
