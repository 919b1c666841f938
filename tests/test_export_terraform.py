"""`segment-history export terraform`: the workspace as of a moment, as Terraform for the official provider.

One history per module, loaded by the real pipeline from the emulator: a snapshot, then a deleted destination
(with its filters and subscriptions), a deleted label, a deleted source and a few random changes, then a second
snapshot. The tests export it through the command line, as of the first snapshot and as of now, parse every
file with python-hcl2, check every block against the provider's schema (tests/fixtures/terraform), and rebuild
the Public API objects from the HCL to compare them with the `as-of` rows of that moment.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List

import duckdb
import pytest

from segment_emulator import Emulator, generate_workspace

from pipelines import cli, queries
from pipelines.export.resources import RESOURCES
from pipelines.runner import RunOptions, make_pipeline, run_snapshot

from .terraform_hcl import (SCHEMA, Block, JsonEncoded, Reference, Variable, blocks, evaluate, parse, resources,
                            resources_of, schema_problems)

pytestmark = pytest.mark.slow

TOKEN = "test-token"
MASK = "\u2022"


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """A history of two snapshots with deletions in between (read-only for the tests of this module)."""
    root = tmp_path_factory.mktemp("export-history")
    workspace = generate_workspace(seed=31, scale="small")
    with Emulator(workspace, tokens={TOKEN: "owner"}) as emulator:
        options = RunOptions(access_token=TOKEN, base_url=emulator.base_url, duckdb_path=str(root / "history.duckdb"),
                             pipelines_dir=str(root / "pipelines"), pipeline_name="export_test",
                             resources=["profiles_warehouses"],
                             groups=["core", "iam", "engage", "reverse_etl", "privacy"])
        first = run_snapshot(options)
        filtered = {f["destinationId"] for f in workspace.destination_filters}
        subscribed = {s["destinationId"] for s in workspace.destination_subscriptions}
        destination = next(d for d in workspace.destinations if d["id"] in filtered & subscribed)
        label = next(label for label in workspace.labels
                     if not any(label["key"] == l["key"] and label["value"] == l["value"]
                                for s in workspace.sources for l in s["labels"]))
        deleted = {
            "destination": workspace.apply("delete_destination", destination_id=destination["id"]).resource_id,
            "label": workspace.apply("delete_label", key=label["key"], value=label["value"]).resource_id,
            "source": workspace.apply("delete_source").resource_id,
        }
        workspace.mutate(count=6, seed=5)
        second = run_snapshot(options)
    return {"root": root, "options": options, "first": first, "second": second, "deleted": deleted,
            "workspace": workspace}


def place(history) -> List[str]:
    options = history["options"]
    return ["--duckdb-path", options.duckdb_path, "--pipelines-dir", options.pipelines_dir,
            "--pipeline-name", options.pipeline_name]


def export(history, out: Path, *arguments: str) -> int:
    return cli.main(["export", "terraform", "--out", str(out), *place(history), *arguments])


@pytest.fixture(scope="module")
def exports(history):
    """The HCL export as of the first snapshot (before the deletions) and as of now, parsed once."""
    folders = {}
    for name, moment in (("before", history["first"].started_at.isoformat()), ("now", "0m")):
        folder = history["root"] / f"export-{name}"
        assert export(history, folder, "--as-of", moment) == cli.EXIT_OK
        parsed = list(blocks(folder))
        folders[name] = {"folder": folder, "moment": history["first"].started_at if name == "before" else None,
                         "blocks": parsed, "resources": resources_of(parsed)}
    return folders


def rows_at(history, table: str, moment) -> List[Dict[str, Any]]:
    pipeline = make_pipeline(history["options"])
    with pipeline.sql_client() as sql:
        columns, rows = queries.as_of(sql, moment or datetime.now(timezone.utc), table)
    return [dict(zip(columns, row)) for row in rows]


def decoded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value


# --- the files parse and match the provider's schema ------------------------------------------------------------


@pytest.mark.parametrize("which", ["before", "now"])
def test_every_block_is_valid_for_the_provider(exports, which):
    folder = exports[which]["folder"]
    kinds = Counter(block.kind for block in exports[which]["blocks"])
    assert set(kinds) == {"terraform", "provider", "variable", "resource", "import"}
    problems = [p for r in exports[which]["resources"] for p in schema_problems(r.labels[0], r.body)]
    assert problems == []
    provider = parse(folder / "providers.tf")
    required = provider["terraform"][0]["required_providers"][0]["segment"]
    assert json.loads(required["source"]) == SCHEMA["provider"]["source"]
    assert json.loads(required["version"]) == SCHEMA["provider"]["version"]
    assert "url" not in provider["provider"][0]['"segment"'], "a US workspace uses the provider's default url"


def test_every_resource_type_the_history_holds_is_exported(exports):
    exported = {r.labels[0] for r in exports["before"]["resources"]}
    assert exported == {spec.type for spec in RESOURCES} == set(SCHEMA["resources"])


def test_terraform_names_are_readable_unique_and_stable(history, exports, tmp_path):
    names = [r.address for r in exports["before"]["resources"]]
    assert len(names) == len(set(names))
    assert all(name.split(".")[1].replace("_", "").isalnum() and name.split(".")[1].islower() for name in names)
    again = tmp_path / "again"
    assert export(history, again, "--as-of", history["first"].started_at.isoformat()) == cli.EXIT_OK
    for path in exports["before"]["folder"].glob("*.tf"):
        assert (again / path.name).read_text() == path.read_text(), f"{path.name} changed between two exports"


# --- what still exists gets an import block, what is gone does not ---------------------------------------------


def import_blocks(parsed: List[Block]) -> Dict[str, str]:
    found = {}
    for block in parsed:
        if block.kind == "import":
            body = block.body
            found[body["to"].strip("${}")] = evaluate(body["id"])
    return found


def test_import_blocks_only_for_what_exists_now_with_the_providers_id_format(history, exports):
    for which in ("before", "now"):
        folder = exports[which]["folder"]
        imports = import_blocks(exports[which]["blocks"])
        current = {spec.type: {str(r.get("id") or r["record_key"]): r for r in rows_at(history, spec.table, None)}
                   for spec in RESOURCES}
        for resource in exports[which]["resources"]:
            resource_type = resource.labels[0]
            import_format = SCHEMA["resources"][resource_type]["import_id"]
            if resource.address not in imports:
                continue
            assert import_format is not None, f"{resource_type} cannot be imported"
            parts = [part.strip("<>") for part in import_format.split(":")]
            identifier = imports[resource.address]
            assert len(identifier.split(":")) == len(parts)
            row_key = identifier.split(":")[-1] if resource_type not in (
                "segment_label", "segment_source_tracking_plan_connection") else None
            if resource_type == "segment_label":
                assert identifier in current[resource_type]
            elif resource_type == "segment_source_tracking_plan_connection":
                source_id, plan_id = identifier.split(":")
                assert f"{plan_id}:{source_id}" in current[resource_type]
            else:
                assert row_key in current[resource_type], f"{resource.address} is imported but gone"
        assert not any(address.startswith("segment_source_warehouse_connection.") for address in imports)
        comment = (folder / "imports.tf").read_text()
        assert "segment_source_warehouse_connection." in comment, "the non-importable ones are listed"


def test_an_export_before_a_deletion_restores_the_deleted_resources_without_import_blocks(history, exports):
    deleted = history["deleted"]
    before = exports["before"]
    imports = import_blocks(before["blocks"])
    destinations = rows_at(history, "destinations", history["first"].started_at)
    gone_destination = next(d for d in destinations if d["id"] == deleted["destination"])
    restored = [r for r in before["resources"] if r.labels[0] == "segment_destination"
                and r.body["metadata"]["id"] == gone_destination["metadata_id"]
                and r.body.get("name") == gone_destination["name"]]
    assert len(restored) == 1 and restored[0].address not in imports
    text = (before["folder"] / "destinations.tf").read_text()
    assert "Not in the workspace any more" in text
    filters = [r for r in before["resources"] if r.labels[0] == "segment_destination_filter"
               and r.body["destination_id"] == Reference(restored[0].address, "id")]
    assert filters and all(f.address not in imports for f in filters), "its filters come back with it"
    label = [r for r in before["resources"] if r.labels[0] == "segment_label"
             and f"{r.body['key']}:{r.body['value']}" == deleted["label"]]
    assert len(label) == 1 and label[0].address not in imports


def test_an_export_as_of_now_holds_nothing_that_is_gone(history, exports):
    now = exports["now"]["resources"]
    imports = import_blocks(exports["now"]["blocks"])
    assert all(r.address in imports or r.labels[0] == "segment_source_warehouse_connection" for r in now)
    assert "Not in the workspace any more" not in "".join(
        p.read_text() for p in exports["now"]["folder"].glob("*.tf"))
    labels = {f"{r.body['key']}:{r.body['value']}" for r in now if r.labels[0] == "segment_label"}
    assert history["deleted"]["label"] not in labels
    sources = [r for r in now if r.labels[0] == "segment_source"]
    assert len(sources) == len(rows_at(history, "sources", None))


# --- secrets ---------------------------------------------------------------------------------------------------


def test_masked_values_become_sensitive_variables_and_write_keys_never_appear(history, exports):
    for which in ("before", "now"):
        folder = exports[which]["folder"]
        text = "".join(path.read_text() for path in folder.iterdir())
        assert MASK not in text and "<redacted>" not in text
        fingerprints = {k for row in rows_at(history, "sources", None) for k in json.loads(row["write_keys"])}
        assert fingerprints and not any(f in text or f.removeprefix("sha256:") in text for f in fingerprints)
        declared = {b.labels[0]: b.body for b in exports[which]["blocks"] if b.kind == "variable"}
        assert declared and all(body["sensitive"] is True for body in declared.values())
        used = {v.name for r in exports[which]["resources"] for v in variables_in(r.body)}
        assert used == set(declared), "every variable is used and every used one is declared"
        warehouses = [r for r in exports[which]["resources"] if r.labels[0] == "segment_warehouse"]
        assert warehouses and all(isinstance(r.body["settings"].value.get("password"), Variable) for r in warehouses)
        assert all("name" not in r.body["settings"].value for r in warehouses)


def variables_in(value: Any):
    if isinstance(value, Variable):
        yield value
    elif isinstance(value, JsonEncoded):
        yield from variables_in(value.value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from variables_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from variables_in(item)


# --- round trip: the HCL rebuilds the rows of that moment ---------------------------------------------------------


def test_the_hcl_rebuilds_every_row_of_that_moment_field_by_field(history, exports):
    from .terraform_roundtrip import rebuild_and_compare

    for which in ("before", "now"):
        moment = exports[which]["moment"]
        mismatches, counts = rebuild_and_compare(exports[which]["resources"], lambda t: rows_at(history, t, moment))
        assert mismatches == []
        assert set(counts) == {spec.type for spec in RESOURCES}
        assert all(counts.values())


# --- the story of docs/restore.md: one deleted destination, exported from before --------------------------------------


def test_ids_export_one_deleted_destination_and_what_hangs_off_it(history, tmp_path):
    destination = history["deleted"]["destination"]
    out = tmp_path / "restore"
    assert export(history, out, "--as-of", history["first"].started_at.isoformat(), "--ids", destination) == 0
    exported = resources(out)
    kinds = Counter(r.labels[0] for r in exported)
    assert kinds["segment_destination"] == 1
    assert kinds["segment_destination_filter"] >= 1 and kinds["segment_destination_subscription"] >= 1
    assert set(kinds) <= {"segment_destination", "segment_destination_filter", "segment_destination_subscription",
                          "segment_insert_function_instance"}
    assert import_blocks(list(blocks(out))) == {}, "it no longer exists: apply creates it"
    source_id = next(r for r in exported if r.labels[0] == "segment_destination").body["source_id"]
    assert isinstance(source_id, str), "its source is not exported: the id of the moment is written"


# --- --format json ---------------------------------------------------------------------------------------------


def test_json_format_writes_the_same_moment_as_api_request_bodies(history, exports, tmp_path):
    out = tmp_path / "json"
    moment = history["first"].started_at
    assert export(history, out, "--as-of", moment.isoformat(), "--format", "json") == cli.EXIT_OK
    documents = {path.stem: json.loads(path.read_text()) for path in out.glob("*.json")}
    assert set(documents) == {spec.file for spec in RESOURCES}
    hcl_addresses = {r.address for r in exports["before"]["resources"]}
    json_addresses = {item["address"] for d in documents.values() for item in d["resources"]}
    assert json_addresses == hcl_addresses
    destinations = {row["id"]: row for row in rows_at(history, "destinations", moment)}
    for item in documents["destinations"]["resources"]:
        row, body = destinations[item["id"]], item["request"]["body"]
        assert item["request"]["method"] == "POST" and item["request"]["path"] == "/destinations"
        assert (body["sourceId"], body["metadataId"], body["enabled"]) == (
            row["source_id"], row["metadata_id"], row["enabled"])
        settings = json.loads(row["settings"])
        assert {k: v for k, v in body["settings"].items() if v is not None} == {
            k: v for k, v in settings.items() if MASK not in str(v)}
        assert item["secrets"] == [f"settings.{k}" for k, v in settings.items() if MASK in str(v)]
    assert MASK not in "".join(path.read_text() for path in out.iterdir())


# --- bad input ---------------------------------------------------------------------------------------------------


def table_counts(history) -> Dict[str, int]:
    options = history["options"]
    with duckdb.connect(options.duckdb_path, read_only=True) as connection:
        tables = connection.execute("select table_name from information_schema.tables where table_schema = ?",
                                    [options.dataset_name]).fetchall()
        return {t: connection.execute(f'select count(*) from "{options.dataset_name}"."{t}"').fetchone()[0]
                for (t,) in tables}


@pytest.mark.parametrize("arguments, message", [
    (["--as-of", "last tuesday"], "Cannot read 'last tuesday' as a moment"),
    (["--as-of", "2001-01-01"], "No snapshot of any workspace at or before 2001-01-01"),
    (["--as-of", "0m", "--resources", "sources,dashboards"], "Unknown resource type(s) dashboards"),
    (["--as-of", "0m", "--ids", "no-such-id"], "No resource of the exported types has id no-such-id"),
    (["--as-of", "0m", "--workspace", "elsewhere"], "No snapshot of workspace elsewhere"),
], ids=["moment", "too-early", "type", "id", "workspace"])
def test_bad_input_is_one_line_and_writes_nothing(history, tmp_path, capsys, arguments, message):
    before = table_counts(history)
    out = tmp_path / "out"
    assert export(history, out, *arguments) == cli.EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err.startswith("segment-history: error: ") and message in err and "\n" not in err
    assert not out.exists()
    assert table_counts(history) == before


def test_no_history_at_the_path_is_one_line_and_creates_nothing(tmp_path, capsys):
    missing, out = tmp_path / "nothing.duckdb", tmp_path / "out"
    code = cli.main(["export", "terraform", "--as-of", "0m", "--out", str(out), "--duckdb-path", str(missing),
                     "--pipelines-dir", str(tmp_path / "pipelines")])
    err = capsys.readouterr().err.strip()
    assert code == cli.EXIT_USAGE and "No history at" in err and "\n" not in err
    assert not missing.exists() and not out.exists()


# --- the folder: re-exports replace their own files only --------------------------------------------------------


def test_a_re_export_replaces_its_own_files_and_leaves_the_users(history, tmp_path):
    out = tmp_path / "tf"
    assert export(history, out, "--as-of", "0m") == cli.EXIT_OK
    (out / "terraform.tfvars").write_text('destination_x_api_key = "kept"\n')
    (out / "main.tf").write_text("# mine\n")
    assert export(history, out, "--as-of", "0m", "--resources", "labels", "--region", "eu") == cli.EXIT_OK
    assert sorted(p.name for p in out.iterdir()) == ["imports.tf", "labels.tf", "main.tf", "providers.tf",
                                                     "terraform.tfvars"]
    provider = parse(out / "providers.tf")["provider"][0]['"segment"']
    assert json.loads(provider["url"]) == "https://eu1.api.segmentapis.com"


# --- validators: reported, never truncated ---------------------------------------------------------------------


def test_a_plan_over_the_providers_rule_limit_is_exported_whole_with_a_warning(tmp_path, capsys):
    workspace = generate_workspace(seed=3, scale="tiny")
    plan = workspace.tracking_plans[0]
    template = workspace.rules[plan["id"]][0]
    workspace.rules[plan["id"]] = [{**template, "type": "TRACK", "key": f"Event {n}", "version": 1,
                                    "jsonSchema": {"type": "object"}} for n in range(2001)]
    with Emulator(workspace, tokens={TOKEN: "owner"}) as emulator:
        options = RunOptions(access_token=TOKEN, base_url=emulator.base_url, duckdb_path=str(tmp_path / "h.duckdb"),
                             pipelines_dir=str(tmp_path / "pipelines"), pipeline_name="rules_limit",
                             resources=["tracking_plans", "tracking_plan_rules"])
        run_snapshot(options)
    capsys.readouterr()
    out = tmp_path / "tf"
    code = cli.main(["export", "terraform", "--as-of", "0m", "--out", str(out), "--resources", "tracking_plans",
                     "--duckdb-path", options.duckdb_path, "--pipelines-dir", options.pipelines_dir,
                     "--pipeline-name", options.pipeline_name])
    err = capsys.readouterr().err
    assert code == cli.EXIT_OK
    [exported] = [r for r in resources(out) if r.body["name"] == plan["name"]]
    assert len(exported.body["rules"]) == 2001, "nothing is left out"
    assert schema_problems("segment_tracking_plan", exported.body) == [
        "segment_tracking_plan.rules has 2001 items, more than 2000"]
    assert f"warning: {exported.address}: rules has 2,001 items; the provider accepts at most 2,000" in err


def test_the_restore_walkthroughs_commands_parse():
    from pipelines.cli import build_parser

    doc = (Path(__file__).resolve().parents[1] / "docs" / "restore.md").read_text()
    section = doc[doc.index("## A restore, step by step"):doc.index("## Files")]
    commands = [line.split("#")[0].split() for line in section.splitlines()
                if line.startswith("segment-history ")]
    assert any(c[1:3] == ["export", "terraform"] for c in commands)
    for command in commands:
        build_parser().parse_args(command[1:])
