"""The emulator answers like the Segment Public API: real HTTP against a started `Emulator`."""

from __future__ import annotations

import base64
import http.client
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import requests

from segment_emulator import MUTATION_KINDS, ROUTES, Emulator, Workspace, generate_workspace
from segment_emulator.catalog import SECRET_MASK, mask
from segment_emulator.examples import example_requests
from segment_emulator.rules import NOT_DEPRECATED

from .emulator_http import ALPHA, BETA, MEMBER_TOKEN, OWNER_TOKEN, TOKENS, V1, data, get, walk



def the_error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["errors"] and len(body["errors"]) == 1
    return body["errors"][0]


# --- generation -----------------------------------------------------------------------------------------------


def test_same_seed_gives_the_same_workspace_and_another_seed_does_not():
    now = datetime(2026, 3, 1, tzinfo=timezone.utc)
    first, again = generate_workspace(5, "small", now=now), generate_workspace(5, "small", now=now)
    other = generate_workspace(6, "small", now=now)
    for name in ("workspace", "sources", "destinations", "warehouses", "source_warehouses", "tracking_plans",
                 "rules", "functions", "function_versions", "labels", "audit_events", "secrets",
                 "source_tracking_plan", "users", "user_groups", "group_members", "group_invites", "invites",
                 "source_settings", "live_plugins", "destination_filters", "destination_subscriptions",
                 "selective_syncs", "warehouse_schedules", "transformations", "reverse_etl_sources",
                 "reverse_etl_models", "insert_function_instances", "credentials", "credential_consumers", "spaces",
                 "audiences", "audience_schedules", "audience_connections", "activations", "computed_traits",
                 "profiles_warehouses", "profiles_selective_syncs", "space_filters", "space_events", "space_traits",
                 "regulations", "regulation_details", "regulation_sources", "suppressions"):
        assert getattr(first, name) == getattr(again, name), name
    assert [s["id"] for s in first.sources] != [s["id"] for s in other.sources]


@pytest.mark.parametrize("scale, expected", [
    ("tiny", dict(sources=3, destinations=6, warehouses=1, tracking_plans=1, rules=5, functions=2)),
    ("small", dict(sources=20, destinations=60, warehouses=4, tracking_plans=5, functions=10, labels=12,
                   audit_events=200)),
    ("medium", dict(sources=200, destinations=800, warehouses=15, tracking_plans=20, functions=40)),
])
def test_scale_sizes(scale: str, expected: dict[str, int]):
    counts = generate_workspace(1, scale).counts()
    assert {name: counts[name] for name in expected} == expected


def test_medium_has_rule_lists_longer_than_one_page_and_small_spans_all_function_types(medium: Workspace):
    assert max(len(rules) for rules in medium.rules.values()) > 2000
    small = generate_workspace(1, "small")
    assert all(10 <= len(rules) <= 80 for rules in small.rules.values())
    assert {f["resourceType"] for f in small.functions} == {
        "DESTINATION", "INSERT_DESTINATION", "INSERT_SOURCE", "INSERT_TRANSFORMATION", "SOURCE"}
    assert all(2 <= len(versions) <= 4 for versions in small.function_versions.values())


def test_large_scale_shares_catalog_entries():
    large = generate_workspace(1, "large")
    counts = large.counts()
    assert (counts["sources"], counts["destinations"], counts["tracking_plans"]) == (2000, 8000, 200)
    assert 38_000 <= counts["rules"] <= 42_000 and counts["functions"] == 200
    amplitude = [d["metadata"] for d in large.destinations if d["metadata"]["slug"] == "amplitude"]
    assert len({id(metadata) for metadata in amplitude}) == 1


def test_workspace_looks_real(small: Workspace):
    alnum22 = re.compile(r"^[A-Za-z0-9]{22}$")
    assert alnum22.match(small.workspace["id"]) and all(alnum22.match(s["id"]) for s in small.sources)
    assert any(re.match(r"^[0-9a-f]{24}$", d["id"]) for d in small.destinations)
    assert all(len(key) == 32 for s in small.sources for key in s["writeKeys"])
    assert all(p["id"].startswith("tp_") for p in small.tracking_plans)
    assert {f["id"].split("_")[0] for f in small.functions} >= {"sfnc", "dfn"}
    assert all(len(v["id"]) == 27 for versions in small.function_versions.values() for v in versions)
    enabled = {s["id"]: s["enabled"] for s in small.sources}
    assert any(not d["enabled"] for d in small.destinations)
    assert any(not enabled[d["sourceId"]] for d in small.destinations), "destinations on a disabled source"
    assert any(not small.destinations_of(s["id"]) for s in small.sources), "a source without destinations"
    assert None in small.source_tracking_plan.values(), "a source without a tracking plan"
    rules = [rule for plan_rules in small.rules.values() for rule in plan_rules]
    assert any(rule.get("deprecatedAt") == NOT_DEPRECATED for rule in rules)
    assert any("key" not in rule for rule in rules) and any(rule["type"] == "TRACK" for rule in rules)
    assert all(w["settings"]["name"] and "password" not in w["settings"] for w in small.warehouses)
    assert {label["key"] for label in small.labels} >= {"environment", "team"}


def test_destination_secrets_are_masked_with_bullets_and_last_four(small: Workspace):
    masked = 0
    for destination in small.destinations:
        for name, clear in small.secrets[destination["id"]].items():
            assert destination["settings"][name] == mask(clear)
            masked += bool(clear)
            if clear:
                assert destination["settings"][name] == "\u2022" * 10 + clear[-4:]
    assert masked > 10 and SECRET_MASK == "••••••••••"


def test_audit_history_spans_more_than_the_retention_window(small: Workspace):
    oldest = min(datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")) for e in small.audit_events)
    assert oldest < small.generated_at - timedelta(days=90)
    users = {user["id"] for user in small.users}
    assert any(e["actor"].startswith("public-api-token/") for e in small.audit_events)
    assert all("actorEmail" in e for e in small.audit_events if e["actor"] in users)


# --- envelope, auth, errors -----------------------------------------------------------------------------------


def test_every_route_answers_in_the_data_envelope(emu: Emulator, small: Workspace):
    for route in ROUTES:
        for path, query in example_requests(small, route):
            response = get(emu, path, params=query)
            assert response.status_code == 200, (route.pattern, response.text)
            body = response.json()
            assert list(body) == ["data"]
            if route.list_key:
                assert isinstance(body["data"][route.list_key], list)
                # listRegulationsFromSource takes `pagination` but answers without it (facts §1.6)
                paginated = route.paginated and route.operation_id != "listRegulationsFromSource"
                pagination_keys = [key for key in body["data"] if key.endswith(("pagination", "Pagination"))]
                assert bool(pagination_keys) == paginated, route.operation_id


@pytest.mark.parametrize("authorization", [None, "Bearer nope", f"Basic {OWNER_TOKEN}", OWNER_TOKEN])
def test_missing_or_unknown_token_is_401_with_errors_body(emu: Emulator, authorization: str | None):
    headers = {"Authorization": authorization} if authorization else {}
    error = the_error(requests.get(emu.base_url + "/sources", headers=headers, timeout=10), 401)
    assert error["type"] == "unauthorized" and error["message"] and error["status"] == 401


def test_unknown_ids_and_paths_are_404_in_the_not_found_style(emu: Emulator):
    error = the_error(get(emu, "/sources/nope"), 404)
    assert error == {"type": "not-found", "message": "Source with id 'nope' not found.", "data": None}
    assert the_error(get(emu, "/sources/nope/connected-destinations"), 404)["type"] == "not-found"
    assert the_error(get(emu, "/tracking-plans/tp_x/rules"), 404)["message"].startswith("Tracking Plan with id")
    assert the_error(get(emu, "/no/such/endpoint"), 404)["type"] == "not-found"


@pytest.mark.parametrize("query, field", [
    ({}, "resourceType"), ({"resourceType": "LAMBDA"}, "resourceType"),
    ({"resourceType": "SOURCE", "pagination.count": 0}, "pagination.count"),
])
def test_invalid_parameters_are_422_with_the_field(emu: Emulator, query: dict, field: str):
    error = the_error(get(emu, "/functions", params=query), 422)
    assert error["type"] == "ValidationFailure" and error["field"] == field and error["status"] == 422


def test_tracking_plan_type_filter(emu: Emulator, small: Workspace):
    live = data(emu, "/tracking-plans", type="LIVE")["trackingPlans"]
    assert live and {plan["type"] for plan in live} == {"LIVE"}
    assert len(live) == sum(plan["type"] == "LIVE" for plan in small.tracking_plans)
    assert the_error(get(emu, "/tracking-plans", params={"type": "live"}), 422)["field"] == "type"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_writes_are_refused_with_405(emu: Emulator, method: str):
    response = requests.request(method, emu.base_url + "/sources", json={"name": "x"},
                                headers={"Authorization": f"Bearer {OWNER_TOKEN}"}, timeout=10)
    assert the_error(response, 405)["type"] == "method-not-allowed"
    assert response.headers["Allow"] == "GET"


# --- resources ------------------------------------------------------------------------------------------------


def test_get_source_adds_the_tracking_plan_id(emu: Emulator, small: Workspace):
    for source in small.sources[:5]:
        got = data(emu, f"/sources/{source['id']}")
        assert got["source"] == source and got["trackingPlanId"] == small.source_tracking_plan[source["id"]]


def test_function_list_items_are_the_documented_subset_and_get_has_code(emu: Emulator, small: Workspace):
    listed = data(emu, "/functions", resourceType="DESTINATION")["functions"]
    assert listed and all(item["resourceType"] == "DESTINATION" for item in listed)
    assert all("code" not in item and "settings" not in item and "deployedAt" not in item for item in listed)
    full = data(emu, f"/functions/{listed[0]['id']}")["function"]
    assert full["code"] and full["settings"] and "deployedAt" in full
    assert full["displayName"].endswith(f"({small.workspace['name']})"), "workspace name appended"


def test_connections_are_served_as_full_objects_from_both_sides(emu: Emulator, small: Workspace):
    source_id, warehouse_id = small.source_warehouses[0]
    assert warehouse_id in [w["id"] for w in data(emu, f"/sources/{source_id}/connected-warehouses")["warehouses"]]
    connected = data(emu, f"/warehouses/{warehouse_id}/connected-sources")["sources"]
    assert source_id in [s["id"] for s in connected] and "metadata" in connected[0]
    destinations = data(emu, f"/sources/{source_id}/connected-destinations")["destinations"]
    assert {d["sourceId"] for d in destinations} <= {source_id}
    plan_id = next(plan for plan in small.source_tracking_plan.values() if plan)
    plan_sources = data(emu, f"/tracking-plans/{plan_id}/sources")["sources"]
    assert [s["id"] for s in plan_sources] == small.tracking_plan_sources[plan_id]


# --- pagination -----------------------------------------------------------------------------------------------


def test_cursor_walk_visits_every_item_exactly_once(emu: Emulator, small: Workspace):
    walked = walk(emu, "/destinations", "destinations", count=7)
    assert [d["id"] for d in walked] == [d["id"] for d in small.destinations]


def test_pagination_object_on_first_middle_and_last_pages(emu: Emulator):
    first = data(emu, "/destinations", **{"pagination.count": 25})["pagination"]
    assert first == {"current": "MA==", "next": "MjU=", "previous": None, "totalEntries": 60}
    middle = data(emu, "/destinations", **{"pagination.count": 25, "pagination.cursor": first["next"]})
    assert middle["pagination"]["previous"] == "MA==" and middle["pagination"]["next"] == "NTA="
    last = data(emu, "/destinations", **{"pagination.count": 25, "pagination.cursor": "NTA="})
    assert len(last["destinations"]) == 10 and "next" not in last["pagination"]


def test_every_pagination_spelling_gives_the_same_page(emu: Emulator):
    cursor = base64.b64encode(b"3").decode()
    expected = data(emu, "/sources", **{"pagination.count": 4, "pagination.cursor": cursor})
    spellings = [
        f"pagination[count]=4&pagination[cursor]={cursor}",
        f"pagination%5Bcount%5D=4&pagination%5Bcursor%5D={requests.utils.quote(cursor, safe='')}",
        "pagination=" + requests.utils.quote(json.dumps({"count": 4, "cursor": cursor})),
    ]
    for query in spellings:
        response = get(emu, f"/sources?{query}")
        assert response.json()["data"] == expected, query


def test_omitted_pagination_means_200_items(medium: Workspace):
    with Emulator(medium, tokens=TOKENS) as emulator:
        page = data(emulator, "/destinations")
        assert len(page["destinations"]) == 200 and page["pagination"]["totalEntries"] == 800
        big_plan = max(medium.rules, key=lambda plan_id: len(medium.rules[plan_id]))
        rules = walk(emulator, f"/tracking-plans/{big_plan}/rules", "rules", count=1000)
        assert len(rules) == len(medium.rules[big_plan]) > 2000


@pytest.mark.parametrize("count", [0, 1001, -5, "ten", "2.5"])
def test_count_outside_1_to_1000_is_422(emu: Emulator, count: Any):
    for name in ("pagination.count", "pagination[count]"):
        error = the_error(get(emu, "/sources", params={name: count}), 422)
        assert error["field"] == "pagination.count"
    assert data(emu, "/sources", **{"pagination.count": 1000})["pagination"]["totalEntries"] == 20


def test_cursor_without_count_and_garbage_cursor_are_422(emu: Emulator):
    assert the_error(get(emu, "/sources", params={"pagination.cursor": "MA=="}), 422)["field"] == "pagination.count"
    bad = the_error(get(emu, "/sources", params={"pagination.count": 5, "pagination.cursor": "%%%"}), 422)
    assert bad["field"] == "pagination.cursor"


def test_cursor_past_the_end_gives_an_empty_page(emu: Emulator):
    page = data(emu, "/sources", **{"pagination.count": 5, "pagination.cursor": base64.b64encode(b"500").decode()})
    assert page["sources"] == [] and "next" not in page["pagination"]


@pytest.mark.parametrize("mode, expected", [("absent", "missing"), ("null", None), ("empty", "")])
def test_last_page_next_modes(small: Workspace, mode: str, expected: Any):
    with Emulator(small, tokens=TOKENS, last_page_next=mode) as emulator:
        pagination = data(emulator, "/warehouses", **{"pagination.count": 10})["pagination"]
        assert pagination.get("next", "missing") == expected
        assert walk(emulator, "/sources", "sources", count=6) == small.sources


def test_labels_are_not_paginated(emu: Emulator, small: Workspace):
    assert data(emu, "/labels", **{"pagination.count": 2}) == {"labels": small.labels}


# --- versions -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("accept, served", [
    (None, V1), ("application/json", V1), ("*/*", V1), (V1, V1), (BETA, BETA), (ALPHA, ALPHA),
    ("application/vnd.segment.stable+json", V1), ("application/vnd.segment.beta+json", BETA),
    ("application/vnd.segment.alpha+json", ALPHA), (f"{ALPHA};q=0.5, {BETA}", BETA), ("text/html", V1),
])
def test_accept_selects_the_version_and_content_type_names_it(emu: Emulator, accept: str | None, served: str):
    response = get(emu, "/sources", accept=accept, params={"pagination.count": 1})
    assert response.status_code == 200 and response.headers["Content-Type"] == served


def test_alpha_only_endpoint_falls_back_to_alpha_and_refuses_stable(emu: Emulator, small: Workspace):
    path = f"/functions/{small.functions[0]['id']}/versions"
    for accept in (None, "application/json", ALPHA, "application/vnd.segment.alpha+json"):
        response = get(emu, path, accept=accept)
        assert response.status_code == 200 and response.headers["Content-Type"] == ALPHA
    error = the_error(get(emu, path, accept=V1), 415)
    assert error["type"] == "unsupported-media-type" and ALPHA in error["message"]
    assert get(emu, path, accept=f"{V1}, {ALPHA}").status_code == 200


# --- transport ------------------------------------------------------------------------------------------------


def test_keep_alive_and_content_length(emu: Emulator):
    connection = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=10)
    for path in ("/", "/labels", "/sources?pagination.count=3"):
        connection.request("GET", path, headers={"Authorization": f"Bearer {OWNER_TOKEN}"})
        response = connection.getresponse()
        body = response.read()
        assert response.status == 200 and int(response.headers["Content-Length"]) == len(body)
    connection.close()


def test_concurrent_clients_and_latency(small: Workspace):
    with Emulator(small, tokens=TOKENS, latency_ms=200) as emulator:
        started = time.perf_counter()
        with ThreadPoolExecutor(20) as pool:
            statuses = list(pool.map(lambda i: get(emulator, f"/sources/{small.sources[i]['id']}").status_code,
                                     range(20)))
        elapsed = time.perf_counter() - started
    assert statuses == [200] * 20
    assert 0.2 <= elapsed < 1.5, "requests sleep concurrently"


def test_requests_are_recorded(emu: Emulator):
    emu.clear_requests()
    get(emu, "/sources", accept=BETA, params={"pagination[count]": 2})
    get(emu, "/sources", token="bad")
    first, second = emu.requests
    assert (first.method, first.path, first.query, first.status, first.accept, first.fault) == (
        "GET", "/sources", {"pagination[count]": ["2"]}, 200, BETA, None)
    assert second.status == 401 and first.at <= second.at


# --- rate limits ----------------------------------------------------------------------------------------------


def start_of_next_second() -> float:
    time.sleep(1 - time.time() % 1 + 0.02)  # so a burst stays inside one 1-second window
    return time.time()


def test_rate_limit_headers_and_429_body(small: Workspace):
    with Emulator(small, tokens=TOKENS, rate_limit_rps=5) as emulator:
        started = start_of_next_second()
        responses = [get(emulator, "/") for _ in range(7)]
    ok, limited = responses[0], responses[-1]
    assert [r.status_code for r in responses] == [200] * 5 + [429] * 2
    assert ok.headers["X-RateLimit-Consumed"] == "1" and ok.headers["X-RateLimit-Remaining"] == "4"
    assert responses[4].headers["X-RateLimit-Remaining"] == "0"
    assert re.match(r"^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$", ok.headers["X-RateLimit-Reset"])
    assert parsedate_to_datetime(ok.headers["X-RateLimit-Reset"]).timestamp() == int(started) + 1
    error = the_error(limited, 429)
    assert error["type"] == "RequestError" and error["message"] == "Too many requests"
    assert error["data"]["remainingPoints"] == 0 and error["data"]["consumedPoints"] == 7
    assert isinstance(error["data"]["msBeforeNext"], int) and 0 < error["data"]["msBeforeNext"] <= 1000
    assert "Retry-After" not in limited.headers and "X-RateLimit-Remaining" not in limited.headers


def test_limit_is_per_token_and_lifts_after_ms_before_next(small: Workspace):
    with Emulator(small, tokens=TOKENS, rate_limit_rps=2) as emulator:
        start_of_next_second()
        statuses = [get(emulator, "/").status_code for _ in range(3)]
        assert get(emulator, "/", token=MEMBER_TOKEN).status_code == 200
        limited = get(emulator, "/")
        time.sleep(limited.json()["errors"][0]["data"]["msBeforeNext"] / 1000)
        assert get(emulator, "/").status_code == 200
    assert statuses == [200, 200, 429] and limited.status_code == 429


def test_rules_endpoint_has_its_own_200_per_minute_limit(small: Workspace):
    plan_id = small.tracking_plans[0]["id"]
    with Emulator(small, tokens=TOKENS, rate_limit_rps=100_000) as emulator:
        if time.time() % 60 > 57:
            time.sleep(60 - time.time() % 60 + 0.05)  # stay inside one minute window (201 calls take < 1 s)
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {OWNER_TOKEN}"
        statuses = [session.get(f"{emulator.base_url}/tracking-plans/{plan_id}/rules").status_code
                    for _ in range(201)]
        limited = session.get(f"{emulator.base_url}/tracking-plans/{plan_id}/rules")
        assert session.get(f"{emulator.base_url}/tracking-plans/{plan_id}").status_code == 200
    assert statuses[:200] == [200] * 200 and statuses[200] == 429
    assert 0 < limited.json()["errors"][0]["data"]["msBeforeNext"] <= 60_000


# --- faults ---------------------------------------------------------------------------------------------------


def fetch_raw(emulator: Emulator, path: str = "/sources") -> str:
    """What a client experiences: a status, a dropped connection or an unparsable body."""
    try:
        response = get(emulator, path)
    except requests.ConnectionError:
        return "drop"
    try:
        response.json()
    except ValueError:
        return f"{response.status_code}-not-json"
    return str(response.status_code)


def test_random_faults_cover_every_kind_and_are_recorded(small: Workspace):
    with Emulator(small, tokens=TOKENS, fault_rate=1.0, fault_seed=3) as emulator:
        seen = [fetch_raw(emulator) for _ in range(30)]
        faults = [record.fault for record in emulator.requests]
    assert set(seen) == {"500", "503", "drop", "200-not-json"}
    expected = {"500": "500", "503": "503", "drop": "drop", "200-not-json": "truncate"}
    assert faults == [expected[outcome] for outcome in seen]


def test_fault_rate_and_seed_are_deterministic(small: Workspace):
    def fault_sequence() -> list[str | None]:
        with Emulator(small, tokens=TOKENS, fault_rate=0.3, fault_seed=11) as emulator:
            for _ in range(40):
                fetch_raw(emulator, "/")
            return [record.fault for record in emulator.requests]

    first = fault_sequence()
    assert first == fault_sequence() and 3 <= sum(fault is not None for fault in first) <= 25


def test_fail_next_after_pages_fails_in_the_middle_of_a_walk(fresh: tuple[Workspace, Emulator]):
    _, emulator = fresh
    emulator.fail_next("/sources", status=503, times=2, after_pages=2)
    outcomes = [fetch_raw(emulator, "/sources?pagination.count=5") for _ in range(5)]
    assert outcomes == ["200", "200", "503", "503", "200"]
    assert [r.fault for r in emulator.requests] == [None, None, "scripted:503", "scripted:503", None]


@pytest.mark.parametrize("status, outcome", [("drop", "drop"), ("truncate", "200-not-json"), (429, "429"),
                                             (500, "500")])
def test_fail_next_statuses(fresh: tuple[Workspace, Emulator], status: Any, outcome: str):
    _, emulator = fresh
    emulator.fail_next("/destinations", status=status)
    assert fetch_raw(emulator, "/sources") == "200", "other prefixes are untouched"
    assert fetch_raw(emulator, "/destinations") == outcome
    assert fetch_raw(emulator, "/destinations") == "200", "only once"
    if status == 429:
        emulator.fail_next("/", status=429)
        assert get(emulator, "/").json()["errors"][0]["data"]["msBeforeNext"] > 0


# --- member tokens --------------------------------------------------------------------------------------------


def test_member_token_sees_no_write_keys_and_no_functions_or_audit_trail(emu: Emulator, small: Workspace):
    assert get(emu, "/", token=MEMBER_TOKEN).status_code == 200
    sources = data(emu, "/sources", **{"pagination.count": 50})["sources"]
    assert any(source["writeKeys"] for source in sources), "owners see write keys"
    member_sources = get(emu, "/sources", token=MEMBER_TOKEN).json()["data"]["sources"]
    assert member_sources and all(source["writeKeys"] == [] for source in member_sources)
    one = get(emu, f"/sources/{small.sources[0]['id']}", token=MEMBER_TOKEN).json()["data"]["source"]
    assert one["writeKeys"] == []
    for path in ("/functions?resourceType=SOURCE", f"/functions/{small.functions[0]['id']}", "/audit-events"):
        error = the_error(get(emu, path, token=MEMBER_TOKEN), 401)
        assert error["type"] == "unauthorized" and "permission" in error["message"]


# --- mutations ------------------------------------------------------------------------------------------------

TABLE_PATHS = {"sources": "/sources/{}", "destinations": "/destinations/{}", "tracking_plans": "/tracking-plans/{}",
               "functions": "/functions/{}", "warehouses": "/warehouses/{}", "user_groups": "/groups/{}",
               "transformations": "/transformations/{}", "reverse_etl_models": "/reverse-etl-models/{}",
               "regulations": "/regulations/{}"}
SINGLE_KEYS = {"sources": "source", "destinations": "destination", "tracking_plans": "trackingPlan",
               "functions": "function", "warehouses": "warehouse", "user_groups": "userGroup",
               "transformations": "transformation", "reverse_etl_models": "reverseEtlModel",
               "regulations": "regulation", "audiences": "audience", "computed_traits": "computedTrait",
               "destination_filters": "filter"}


def served_row(emulator: Emulator, table: str, resource_id: str) -> dict[str, Any] | None:
    """The row a mutation names, read back through the API (None when the API no longer has it)."""
    ws = emulator.workspace
    nested = {"audiences": ("/spaces/{}/audiences/{}", "spaceId"),
              "computed_traits": ("/spaces/{}/computed-traits/{}", "spaceId"),
              "destination_filters": ("/destination/{}/filters/{}", "destinationId")}
    if table in nested:
        path, parent = nested[table]
        item = ws.find(table, resource_id)
        if item is None:
            return None
        response = get(emulator, path.format(item[parent], resource_id))
        return response.json()["data"][SINGLE_KEYS[table]] if response.status_code == 200 else None
    if table in TABLE_PATHS:
        response = get(emulator, TABLE_PATHS[table].format(resource_id))
        return response.json()["data"][SINGLE_KEYS[table]] if response.status_code == 200 else None
    if table == "user_group_members":
        group_id, user_id = resource_id.split(":")
        return next((user for user in walk(emulator, f"/groups/{group_id}/users", "users", 100)
                     if user["id"] == user_id), None)
    if table in ("invites", "user_group_invites"):
        group_id, _, email = resource_id.rpartition(":")
        emails = walk(emulator, f"/groups/{group_id}/invites" if group_id else "/invites",
                      "emails" if group_id else "invites", 100)
        return {"email": email} if email in emails else None
    if table == "suppressions":
        subject_type, subjects = resource_id.split(":", 1)
        return next((item for item in walk(emulator, "/suppressions", "suppressed", 100)
                     if (item["subjectType"], ",".join(item["subjectIds"])) == (subject_type, subjects)), None)
    if table == "tracking_plan_rules":
        plan_id, rule_type, key, version = resource_id.split(":")
        rules = walk(emulator, f"/tracking-plans/{plan_id}/rules", "rules", count=1000)
        return next((rule for rule in rules if (rule["type"], rule.get("key", ""), str(rule["version"])) ==
                     (rule_type, key, version)), None)
    if table == "labels":
        return next((label for label in data(emulator, "/labels")["labels"]
                     if f"{label['key']}:{label['value']}" == resource_id), None)
    if table == "source_warehouses":
        source_id, warehouse_id = resource_id.split(":")
        warehouses = data(emulator, f"/sources/{source_id}/connected-warehouses")["warehouses"]
        return next((w for w in warehouses if w["id"] == warehouse_id), None)
    raise AssertionError(f"no reader for {table}")


def value_at(row: dict[str, Any], path: str) -> Any:
    for key in path.split("."):
        row = row[key]
    return row


@pytest.mark.parametrize("kind", sorted(MUTATION_KINDS))
def test_each_mutation_is_visible_through_the_api_and_audited(fresh: tuple[Workspace, Emulator], kind: str):
    workspace, emulator = fresh
    mutation = workspace.apply(kind)
    row = served_row(emulator, mutation.table, mutation.resource_id)
    if mutation.change == "removed":
        assert row is None
    else:
        assert row is not None
        for path, (old, new) in mutation.fields.items():
            assert old != new and value_at(row, path) == new, path
    assert mutation.change in ("added", "removed") or mutation.fields
    newest = data(emulator, "/audit-events", **{"pagination.count": 1})["events"][0]
    assert newest["id"] == mutation.audit_event_id and newest["resourceId"] == mutation.audit_resource_id
    assert newest["actor"] == mutation.actor and newest.get("actorEmail") == mutation.actor_email
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", newest["timestamp"])


def test_mutations_with_explicit_targets(fresh: tuple[Workspace, Emulator]):
    workspace, emulator = fresh
    source = workspace.sources[0]
    renamed = workspace.apply("rename_source", source_id=source["id"], name="Web Storefront (prod)")
    assert renamed.fields == {"name": (source["name"], "Web Storefront (prod)")}
    assert data(emulator, f"/sources/{source['id']}")["source"]["name"] == "Web Storefront (prod)"
    plan_id = workspace.tracking_plans[0]["id"]
    added = workspace.apply("add_rule", tracking_plan_id=plan_id, key="Gift Card Redeemed")
    assert added.resource_id == f"{plan_id}:TRACK:Gift Card Redeemed:1" and added.audit_resource_id == plan_id
    changed = workspace.apply("modify_rule", tracking_plan_id=plan_id, key="Gift Card Redeemed")
    (path, (old, new)), = [(p, v) for p, v in changed.fields.items() if p != "updatedAt"]
    assert path.startswith("jsonSchema.properties.properties.properties.") and path.endswith(".type")
    label = workspace.apply("create_label", key="team", value="emulators", description="Fakes")
    assert label.resource_id == "team:emulators" and {"key": "team", "value": "emulators",
                                                       "description": "Fakes"} in data(emulator, "/labels")["labels"]


def test_secret_rotation_is_invisible_when_the_last_four_characters_stay(fresh: tuple[Workspace, Emulator]):
    workspace, emulator = fresh
    hidden = workspace.apply("rotate_destination_secret", visible=False)
    destination_id = hidden.resource_id
    before_api = data(emulator, f"/destinations/{destination_id}")["destination"]["settings"]
    assert hidden.fields == {} and hidden.visible is False and hidden.audit_event_id
    shown = workspace.apply("rotate_destination_secret", destination_id=destination_id, visible=True)
    (path, (old, new)), = shown.fields.items()
    assert shown.visible and old.startswith("\u2022" * 10) and new.startswith("\u2022" * 10) and old != new
    assert old == before_api[path.split(".", 1)[1]]
    assert data(emulator, f"/destinations/{destination_id}")["destination"]["settings"][path.split(".", 1)[1]] == new


def test_delete_source_cascades_to_its_destinations_and_connections(fresh: tuple[Workspace, Emulator]):
    workspace, emulator = fresh
    source_id = next(s["id"] for s in workspace.sources
                     if workspace.destinations_of(s["id"]) and workspace.warehouses_of(s["id"]))
    mutation = workspace.apply("delete_source", source_id=source_id)
    assert get(emulator, f"/sources/{source_id}").status_code == 404
    assert all(d["sourceId"] != source_id for d in walk(emulator, "/destinations", "destinations", 100))
    tables = {effect.table for effect in mutation.cascade}
    assert {"destinations", "source_warehouses"} <= tables
    assert all(effect.audit_event_id == mutation.audit_event_id for effect in mutation.cascade)


def test_update_function_code_adds_a_deployed_version(fresh: tuple[Workspace, Emulator]):
    workspace, emulator = fresh
    function_id = workspace.functions[0]["id"]
    before = data(emulator, f"/functions/{function_id}/versions")["versions"]
    mutation = workspace.apply("update_function_code", function_id=function_id, code="// new\n")
    after = data(emulator, f"/functions/{function_id}/versions")["versions"]
    assert len(after) == len(before) + 1 and after[0]["code"] == "// new\n" and after[0]["isDeployed"]
    assert sum(version["isDeployed"] for version in after) == 1
    assert data(emulator, f"/functions/{function_id}")["function"]["code"] == "// new\n"
    assert mutation.cascade[0].table == "function_versions" and mutation.cascade[0].change == "added"


def test_random_mutations_are_reproducible_with_a_seed():
    def run() -> list[tuple[str, str, str]]:
        workspace = generate_workspace(seed=3, scale="small")
        return [(m.kind, m.table, m.resource_id) for m in workspace.mutate(count=12, seed=99)]

    first = run()
    assert len(first) == 12 and first == run() and len({kind for kind, _, _ in first}) > 5


def test_kinds_keep_the_order_every_seed_draws_from():
    """`mutate` draws with `rng.choices(kinds, weights)`: reordering the kinds changes every seed's sequence."""
    assert list(MUTATION_KINDS) == [
        "rename_source", "disable_source", "enable_source", "change_source_setting", "add_source_label",
        "remove_source_label", "create_source", "delete_source", "rename_destination", "disable_destination",
        "enable_destination", "change_destination_setting", "rotate_destination_secret", "create_destination",
        "delete_destination", "connect_warehouse", "disconnect_warehouse", "add_rule", "modify_rule", "remove_rule",
        "rename_tracking_plan", "update_function_code", "create_label", "delete_label",
        # the surface kinds, drawn only with kinds="surface" or "all"
        "change_group_permissions", "add_group_member", "remove_group_member", "create_invite", "delete_invite",
        "toggle_destination_filter", "change_transformation", "toggle_reverse_etl_model",
        "change_audience_definition", "toggle_computed_trait", "add_suppression", "remove_suppression"]


def test_mutate_appends_one_audit_event_per_mutation(fresh: tuple[Workspace, Emulator]):
    workspace, emulator = fresh
    before = len(workspace.audit_events)
    mutations = workspace.mutate(count=5)
    events = data(emulator, "/audit-events", **{"pagination.count": 5})["events"]
    assert len(workspace.audit_events) == before + 5
    assert [e["id"] for e in events] == [m.audit_event_id for m in reversed(mutations)]


# --- audit trail ----------------------------------------------------------------------------------------------


def test_audit_events_newest_first_within_90_days(emu: Emulator, small: Workspace):
    events = walk(emu, "/audit-events", "events", count=50)
    cutoff = datetime.now(timezone.utc) - timedelta(days=90)
    retained = [e for e in small.audit_events if datetime.fromisoformat(e["timestamp"][:-1] + "+00:00") >= cutoff]
    assert 0 < len(events) == len(retained) < len(small.audit_events)
    assert [e["timestamp"] for e in events] == sorted((e["timestamp"] for e in events), reverse=True)
    assert set(events[0]) >= {"id", "timestamp", "type", "actor", "resourceId", "resourceType", "resourceName"}
    old_start = (datetime.now(timezone.utc) - timedelta(days=200)).isoformat()
    assert len(walk(emu, "/audit-events", "events", count=1000, startTime=old_start)) == len(retained)


def test_audit_filters(emu: Emulator, small: Workspace):
    events = walk(emu, "/audit-events", "events", count=1000)
    resource_id = events[3]["resourceId"]
    by_id = walk(emu, "/audit-events", "events", count=1000, resourceId=resource_id)
    assert by_id == [e for e in events if e["resourceId"] == resource_id]
    for spelling in ("destination", "Destinations", "DESTINATION"):
        by_type = walk(emu, "/audit-events", "events", count=1000, resourceType=spelling)
        assert by_type == [e for e in events if e["resourceType"] == "destination"]
    pivot_high, pivot_low = events[5]["timestamp"], events[15]["timestamp"]
    window = walk(emu, "/audit-events", "events", count=1000, startTime=pivot_low, endTime=pivot_high)
    assert window == [e for e in events if pivot_low < e["timestamp"] < pivot_high], "both bounds exclusive"
    assert the_error(get(emu, "/audit-events", params={"startTime": "yesterday"}), 422)["field"] == "startTime"


def test_audit_cursor_freezes_the_end_time(fresh: tuple[Workspace, Emulator]):
    workspace, emulator = fresh
    first = data(emulator, "/audit-events", **{"pagination.count": 10})
    token = json.loads(base64.b64decode(first["pagination"]["current"]))
    assert base64.b64decode(token["pageToken"]) == b"1" and token["endTime"].endswith("Z")
    assert first["pagination"]["previous"] is None and "totalEntries" not in first["pagination"]
    time.sleep(0.01)
    mutation = workspace.apply("rename_source")
    second = data(emulator, "/audit-events",
                  **{"pagination.count": 10, "pagination.cursor": first["pagination"]["next"]})
    assert second["events"][0]["timestamp"] <= first["events"][-1]["timestamp"]
    assert mutation.audit_event_id not in [e["id"] for e in first["events"] + second["events"]]
    again = data(emulator, "/audit-events", **{"pagination.count": 10})
    assert again["events"][0]["id"] == mutation.audit_event_id, "a new walk sees the new event"
    bad = get(emulator, "/audit-events", params={"pagination.count": 10, "pagination.cursor": "MQ=="})
    assert the_error(bad, 422)["field"] == "pagination.cursor"


def test_fail_next_names_one_endpoint_unless_it_ends_with_a_star(fresh: tuple[Workspace, Emulator]):
    workspace, emulator = fresh
    source_id = workspace.sources[0]["id"]
    emulator.fail_next("/sources", status=500)
    assert fetch_raw(emulator, f"/sources/{source_id}") == "200", "a child path is another endpoint"
    assert fetch_raw(emulator, "/sources") == "500"
    emulator.fail_next("/sources*", status=503, times=2)
    assert [fetch_raw(emulator, f"/sources/{source_id}"), fetch_raw(emulator, "/sources")] == ["503", "503"]
    assert fetch_raw(emulator, "/sources") == "200"
