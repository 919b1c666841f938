"""The legacy Config API flavour: the emulator's Config API, its paginator and rule unpacking, parity with the
Public API over the same workspace, one history across a switch, and bad input."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import datetime
from types import SimpleNamespace

import pytest

from pipelines import cli
from pipelines.runner import RunOptions, run_snapshot
from segment_emulator import Emulator, generate_workspace
from segment_source.config_api.pages import PageTokenPaginator
from segment_source.config_api.shapes import unpack_rules

from .helpers import current_keys, dataset_fingerprint, query, rule_key
from .test_bad_input import assert_failed_cleanly

CONFIG_TOKEN, PUBLIC_TOKEN = "config-token", "test-token"
# what the Config API can express (facts sheet §3.6, §3.8): rule slots and function types
CONFIG_RULE_TYPES = {"TRACK", "IDENTIFY", "GROUP", "COMMON"}
CONFIG_FUNCTION_TYPES = {"SOURCE", "DESTINATION"}


def _get(emulator, path, token=CONFIG_TOKEN):
    request = urllib.request.Request(emulator.base_url + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def emulator(start_emulator):
    return start_emulator(generate_workspace(seed=11, scale="small"), config_tokens={CONFIG_TOKEN: "owner"})


def _options(emulator, tmp_path, api, **kwargs):
    config = api == "config"
    return RunOptions(access_token=CONFIG_TOKEN if config else PUBLIC_TOKEN, api=api,
                      base_url=emulator.base_url + ("/v1beta" if config else ""),
                      duckdb_path=str(kwargs.pop("path", tmp_path / "history.duckdb")),
                      pipelines_dir=str(tmp_path / "pipelines"), pipeline_name="test_history",
                      requests_per_minute=60000 if config else None, **kwargs)


# --- the emulator ----------------------------------------------------------------------------------------------


def test_emulator_pages_with_page_tokens_and_answers_errors_in_its_shape(emulator):
    slug = emulator.workspace.workspace["slug"]
    names, token = [], ""
    while True:
        status, body = _get(emulator, f"/v1beta/workspaces/{slug}/sources?page_size=7&page_token={token}")
        assert status == 200 and len(body["sources"]) <= 7
        names += [item["name"] for item in body["sources"]]
        token = body["next_page_token"]
        if token == "":
            break
    assert names == [f"workspaces/{slug}/sources/{s['slug']}" for s in emulator.workspace.sources]
    assert _get(emulator, f"/v1beta/workspaces/{slug}/sources?page_token=nonsense") == (
        400, {"error": "invalid page_token or page_size", "code": 3})
    assert _get(emulator, "/v1beta/workspaces", token=PUBLIC_TOKEN)[0] == 401
    assert _get(emulator, "/v1beta/workspaces/someone-else/sources") == (
        403, {"error": "the token has no access to workspaces/someone-else", "code": 7})


def test_emulator_mutations_show_through_the_config_api(emulator):
    ws = emulator.workspace
    source = ws.sources[0]
    with ws.lock:
        ws.sources[0] = {**source, "name": "Renamed through the Public API"}
        ws.touch()
    status, body = _get(emulator, f"/v1beta/workspaces/{ws.workspace['slug']}/sources/{source['slug']}")
    assert status == 200 and body["display_name"] == "Renamed through the Public API"


def test_the_emulator_command_names_its_config_api_and_a_run_reads_it(tmp_path):
    """`segment-history emulator` prints the Config API's base URL and token; `run --api config` with them works."""
    command = [sys.executable, "-m", "pipelines.cli"]
    server = subprocess.Popen([*command, "emulator", "--scale", "tiny", "--port", "0"], stdout=subprocess.PIPE,
                              text=True)
    try:
        banner = server.stdout.readline()
        base_url, token = re.search(r"legacy Config API at (\S+); token: (\S+)", banner).groups()
        assert base_url.endswith("/v1beta") and token == cli.DEMO_CONFIG_TOKEN
        assert f"SEGMENT_ACCESS_TOKEN={token} segment-history run --api config --base-url {base_url}" in \
            server.stdout.readline() + server.stdout.readline()
        run = subprocess.run([*command, "run", "--api", "config", "--base-url", base_url, "--requests-per-minute",
                              "60000", "--duckdb-path", str(tmp_path / "h.duckdb"), "--pipelines-dir",
                              str(tmp_path / "p"), "--progress", "none", "--resources", "sources"],
                             capture_output=True, text=True, env={**os.environ, "SEGMENT_ACCESS_TOKEN": token},
                             timeout=300)
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == cli.EXIT_OK
    assert run.returncode == cli.EXIT_OK, run.stderr
    assert token not in run.stdout + run.stderr


# --- pure logic ------------------------------------------------------------------------------------------------


def _response(body, path="/v1beta/workspaces/w/sources"):
    return SimpleNamespace(json=lambda: body, request=SimpleNamespace(path_url=path))


def test_paginator_follows_next_page_token_until_empty_and_stops_on_a_repeated_one():
    paginator = PageTokenPaginator()
    paginator.update_state(_response({"next_page_token": "MTA="}), [{}])
    assert paginator.has_next_page and paginator.token == "MTA="
    request = SimpleNamespace(params={"page_size": 100})
    paginator.update_request(request)
    assert request.params == {"page_size": 100, "page_token": "MTA="}
    paginator.update_state(_response({"next_page_token": ""}), [{}])
    assert not paginator.has_next_page

    malformed = []
    repeating = PageTokenPaginator(on_malformed=malformed.append)
    repeating.update_state(_response({"next_page_token": "MTA="}), [{}])
    repeating.update_state(_response({"next_page_token": "MTA="}), [{}])
    assert not repeating.has_next_page and "came back twice" in malformed[0].reason


def test_rules_unpack_into_the_public_apis_rule_rows():
    schema = {"type": "object"}
    rules = {"events": [{"name": "Order Completed", "version": 2, "description": "d", "rules": schema}],
             "identify": schema, "group": schema, "global": schema, "identify_traits": [], "group_traits": []}
    rows = list(unpack_rules("tp_1", rules))
    assert [(r["type"], r.get("key"), r["version"]) for r in rows] == [
        ("TRACK", "Order Completed", 2), ("COMMON", None, 1), ("IDENTIFY", None, 1), ("GROUP", None, 1)]
    assert all(r["tracking_plan_id"] == "tp_1" and r["jsonSchema"] == schema for r in rows)
    assert list(unpack_rules("tp_1", {"events": []})) == []  # real plans leave global/identify/group out


# --- parity: the same workspace through both APIs ----------------------------------------------------------------


def test_parity_same_sources_plans_rules_and_functions(emulator, tmp_path):
    ws = emulator.workspace
    config = _options(emulator, tmp_path, "config", path=tmp_path / "config.duckdb")
    public = _options(emulator, tmp_path / "p", "public", path=tmp_path / "public.duckdb")
    assert not run_snapshot(config).skipped
    assert not run_snapshot(public).skipped
    for table in ("sources", "source_settings"):
        assert current_keys(config, table) == current_keys(public, table), table
    plans = {p["resourceSchemaId"]: p["id"] for p in ws.tracking_plans}
    assert {plans[key.split(":")[0]] + ":" + key.split(":")[1] for key in current_keys(config, "tracking_plan_sources")} \
        == current_keys(public, "tracking_plan_sources")
    # a Config-only history keys plans by their rs_ id; the bridge table names both
    assert current_keys(config, "tracking_plans") == set(plans)
    assert set(query(config, "select config_id, public_id from {ds}.tracking_plan_ids")) == {
        (rs, None) for rs in plans}
    assert set(query(public, "select config_id, public_id from {ds}.tracking_plan_ids")) == set(plans.items())
    by_rs = {tp: rs for rs, tp in plans.items()}
    public_rules = {key for key in current_keys(public, "tracking_plan_rules") if key.split(":")[1] in CONFIG_RULE_TYPES}
    assert current_keys(config, "tracking_plan_rules") == {
        by_rs[key.split(":", 1)[0]] + ":" + key.split(":", 1)[1] for key in public_rules}
    assert current_keys(config, "functions") == {
        f["id"] for f in ws.functions if f["resourceType"] in CONFIG_FUNCTION_TYPES}
    # destinations as the Config API names them: one per source and catalog slug
    pairs = {(d["sourceId"], d["metadata"]["slug"]) for d in ws.destinations}
    assert current_keys(config, "destinations") == {f"{s}:{slug}" for s, slug in pairs}
    same = "select {c} from {{ds}}.{t} where _dlt_valid_to is null order by 1"
    for table, columns in (("sources", "id, slug, name"),
                           ("functions", "id, display_name, resource_type")):
        keys = current_keys(config, table)
        assert [r for r in query(public, same.format(c=columns, t=table)) if r[0] in keys] == \
            query(config, same.format(c=columns, t=table)), table


# --- one history across the switch --------------------------------------------------------------------------------


def _changes(options, run_id):
    return query(options, "select resource_type, resource_id, change_kind, actor from {ds}.config_changes"
                          " where run_id = ?", run_id)


def _workspace_state(ws):
    """What `as-of` must give back for the moment just after a run: the emulator's workspace then."""
    with ws.lock:
        return {
            "sources": {s["id"]: (s["name"], s.get("enabled")) for s in ws.sources},
            "destinations": {d["id"]: (d["sourceId"], d["metadata"]["slug"], d["name"], d["enabled"])
                             for d in ws.destinations},
            # the Config API's view: one destination per source and catalog slug (the first instance)
            "served": {(s["id"], d["metadata"]["slug"]): (d["name"], d["enabled"]) for s in ws.sources
                       for d in reversed(ws.destinations_of(s["id"]))},
            "plans": {p["id"]: p["resourceSchemaId"] for p in ws.tracking_plans},
            "rules": {plan: [r["type"] for r in rules] for plan, rules in ws.rules.items()},
        }


def _as_of(options, moment, table, capsys):
    capsys.readouterr()
    assert cli.main(["as-of", moment.isoformat(), "--table", table, "--output", "json",
                     "--duckdb-path", options.duckdb_path, "--pipeline-name", "test_history"]) == cli.EXIT_OK
    return json.loads(capsys.readouterr().out)


def _rule_counts(rows):
    counts = {}
    for row in rows:
        counts[row["tracking_plan_id"]] = counts.get(row["tracking_plan_id"], 0) + 1
    return counts


@pytest.mark.slow
def test_migration_three_config_runs_then_three_public_runs_read_as_one_history(emulator, tmp_path, capsys):
    ws = emulator.workspace
    config, public = _options(emulator, tmp_path, "config"), _options(emulator, tmp_path, "public")
    results, states = [], []
    for index, options in enumerate([config, config, config, public, public, public]):
        if index in (1, 2, 4, 5):
            ws.mutate(4, seed=index)
        results.append(run_snapshot(options))
        states.append(_workspace_state(ws))
        assert not results[-1].skipped
    plans = {p["resourceSchemaId"]: p["id"] for p in ws.tracking_plans}
    switch = _changes(config, results[3].run_id)
    # nothing changed between the last Config run and the first Public run: only objects the Config API
    # could not see appear, as first seen
    assert {kind for _, _, kind, _ in switch} <= {"first_seen"}, switch
    # Config runs' change rows have no actor; Public runs' may
    for result in results[1:3]:
        assert all(actor is None for *_, actor in _changes(config, result.run_id))
    # after the switch the plans carry their Public ids everywhere, every version included
    assert set(query(public, "select distinct id from {ds}.tracking_plans")) <= {(tp,) for tp in plans.values()} | {
        (p["id"],) for p in ws.tracking_plans}
    assert current_keys(public, "tracking_plans") == {p["id"] for p in ws.tracking_plans}
    assert current_keys(public, "tracking_plan_rules") == {
        rule_key(p, r) for p, rules in ws.rules.items() for r in rules}
    assert current_keys(public, "sources") == {s["id"] for s in ws.sources}

    # `as-of` a moment of the Config API part gives the workspace as the Config API showed it then, under the
    # keys the Public runs gave its objects (plans the Public API never saw keep their rs_ ids)
    then, named = states[1], {rs: tp for state in states[3:] for tp, rs in state["plans"].items()}
    moment = results[1].finished_at
    assert {r["id"]: r["name"] for r in _as_of(public, moment, "sources", capsys)} == {
        key: name for key, (name, _) in then["sources"].items()}
    assert {(r["source_id"], r["metadata_slug"]): (r["name"], r["enabled"])
            for r in _as_of(public, moment, "destinations", capsys)} == then["served"]
    assert _rule_counts(_as_of(public, moment, "tracking_plan_rules", capsys)) == {
        named.get(rs, rs): sum(kind in CONFIG_RULE_TYPES for kind in then["rules"][tp])
        for tp, rs in then["plans"].items() if any(kind in CONFIG_RULE_TYPES for kind in then["rules"][tp])}
    # and a moment of the Public API part, the workspace as the Public API showed it then
    then, moment = states[4], results[4].finished_at
    assert {r["id"]: (r["name"], r["enabled"]) for r in _as_of(public, moment, "sources", capsys)} == then["sources"]
    assert {r["id"]: (r["source_id"], r["metadata_slug"], r["name"], r["enabled"])
            for r in _as_of(public, moment, "destinations", capsys)} == then["destinations"]
    assert _rule_counts(_as_of(public, moment, "tracking_plan_rules", capsys)) == {
        plan: len(kinds) for plan, kinds in then["rules"].items() if plan in then["plans"] and kinds}

    # `changes` reads as one history: nothing added or removed at the switch, nothing removed then re-added
    capsys.readouterr()
    assert cli.main(["changes", "--since", "1d", "--output", "json", "--duckdb-path", public.duckdb_path,
                     "--pipeline-name", "test_history"]) == cli.EXIT_OK
    log = json.loads(capsys.readouterr().out)
    at_switch = [row for row in log if results[3].started_at <= datetime.fromisoformat(row["observed_at"])
                 < results[4].started_at]
    assert at_switch and {row["change_kind"] for row in at_switch} == {"first_seen"}
    removed = {row["resource_id"] for row in log if row["change_kind"] == "removed"}
    assert not [row for row in log if row["resource_id"] in removed and row["change_kind"] in ("added", "first_seen")]
    assert cli.main(["changes", "--duckdb-path", public.duckdb_path, "--pipeline-name", "test_history"]) == 0
    assert "Config API" in capsys.readouterr().out


def _pairs_of_one_type(ws):
    """Destinations that share their source and catalog slug with another: the Config API names one of each."""
    by_pair = {}
    for destination in ws.destinations:
        by_pair.setdefault((destination["sourceId"], destination["metadata"]["slug"]), []).append(destination["id"])
    return {key for ids in by_pair.values() if len(ids) > 1 for key in ids}


@pytest.mark.slow
def test_a_config_run_between_public_runs_leaves_destinations_it_cannot_name_alone(emulator, tmp_path):
    ws = emulator.workspace
    unnamed = _pairs_of_one_type(ws)
    assert unnamed, "the generated workspace has a source with two destinations of one type"
    unnamed_filters = {f["id"] for f in ws.destination_filters if f["destinationId"] in unnamed}
    public, config = _options(emulator, tmp_path, "public"), _options(emulator, tmp_path, "config")
    results = [run_snapshot(options) for options in (public, config, public)]
    assert not any(result.skipped for result in results)
    for result in results[1:]:
        touched = [row for row in _changes(public, result.run_id)
                   if row[2] in ("added", "removed", "first_seen")
                   and (row[1] in unnamed or row[1] in unnamed_filters)]
        assert touched == [], touched
    assert unnamed <= current_keys(public, "destinations")
    assert unnamed_filters <= current_keys(public, "destination_filters")
    assert query(public, "select count(*) from {ds}.destinations where id in (select unnest(?))", list(unnamed)) \
        == [(len(unnamed),)]  # one version each: never retired, never re-added


# --- bad input ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def config_loaded(tmp_path_factory):
    """One Config API snapshot that the bad-input tests share: each compares the tables it cares about before
    and after its own run, so none depends on what another did."""
    workspace = generate_workspace(seed=11, scale="small")
    with Emulator(workspace, tokens={PUBLIC_TOKEN: "owner"}, config_tokens={CONFIG_TOKEN: "owner"}) as emulator:
        options = _options(emulator, tmp_path_factory.mktemp("config_loaded"), "config")
        assert not run_snapshot(options).skipped

        def run(token, *extra):
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("SEGMENT_ACCESS_TOKEN", token)
                return cli.main(["run", "--duckdb-path", options.duckdb_path, "--pipelines-dir",
                                 options.pipelines_dir, "--pipeline-name", options.pipeline_name,
                                 "--requests-per-minute", "60000", *extra])

        yield emulator, options, run


def test_a_public_token_sent_to_the_config_api_is_refused_in_one_line(config_loaded, capsys):
    emulator, options, run = config_loaded
    before = dataset_fingerprint(options)
    code = run(PUBLIC_TOKEN, "--api", "config", "--base-url", emulator.base_url + "/v1beta")
    assert_failed_cleanly(capsys, options, before, code, cli.EXIT_AUTH,
                          "Config API tokens are separate from Public API tokens")


def test_a_config_token_sent_to_the_public_api_is_refused_in_one_line(config_loaded, capsys):
    emulator, options, run = config_loaded
    before = dataset_fingerprint(options)
    code = run(CONFIG_TOKEN, "--base-url", emulator.base_url)
    assert_failed_cleanly(capsys, options, before, code, cli.EXIT_AUTH, "refused the access token (HTTP 401)")


def test_a_workspace_slug_the_token_cannot_see(config_loaded, capsys):
    emulator, options, run = config_loaded
    before = dataset_fingerprint(options)
    code = run(CONFIG_TOKEN, "--api", "config", "--base-url", emulator.base_url + "/v1beta",
               "--workspace-slug", "not-ours")
    assert_failed_cleanly(capsys, options, before, code, cli.EXIT_USAGE, "cannot see workspace 'not-ours'")


def test_a_rejected_page_token_skips_the_table_and_keeps_its_history(config_loaded):
    emulator, options, run = config_loaded
    before = {t: n for t, n in dataset_fingerprint(options).items() if t == "tracking_plans"}
    slug = emulator.workspace.workspace["slug"]
    emulator.fail_next(f"/v1beta/workspaces/{slug}/tracking-plans", 400)
    result = run_snapshot(options)
    assert "tracking_plans" in result.skipped and "HTTP 400" in result.skipped["tracking_plans"]
    assert {t: n for t, n in dataset_fingerprint(options).items() if t == "tracking_plans"} == before
    assert current_keys(options, "tracking_plans") == {p["resourceSchemaId"] for p in emulator.workspace.tracking_plans}
