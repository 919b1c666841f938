"""The full configuration surface of the emulator: IAM, source/destination/warehouse satellites, Engage,
Reverse ETL, privacy, credentials, catalog and metrics; their special paginations, caps, limits, permission
and plan behaviour, the surface mutations and the hostile fixtures. Real HTTP against a started `Emulator`.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from segment_emulator import ROUTES, Emulator, Workspace, generate_workspace
from segment_emulator.examples import example_requests
from segment_emulator.hostile import EXTRA_FIELD, LONG_VALUE_BYTES, NESTING_DEPTH, UNICODE_NAMES, depth_of
from segment_emulator.iam import KNOWN_ROLE_IDS
from segment_emulator.permissions import FEATURES
from segment_emulator.routes import route_table

from .emulator_http import ALPHA, BETA, TOKENS, V1, data, get, walk
from .emulator_http import MEMBER_TOKEN as MEMBER
from .emulator_http import OWNER_TOKEN as OWNER

# today's GET operations (reduced from the reference table by fixtures/reduce_reference.py)
FACTS_TABLE = Path(__file__).resolve().parent / "fixtures" / "segment_get_operations.json"
ROUTE = {route.operation_id: route for route in ROUTES}


def error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text[:300]
    body = response.json()
    assert list(body) == ["errors"]
    return body["errors"][0]


def example(ws: Workspace, operation_id: str) -> tuple[str, dict[str, Any]]:
    return example_requests(ws, ROUTE[operation_id])[0]


def now_iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(timezone.utc).replace(second=0, microsecond=0) + delta).isoformat().replace("+00:00", "Z")


# --- the route table against the facts table ------------------------------------------------------------------


@pytest.fixture(scope="module")
def facts() -> dict[str, dict[str, Any]]:
    return {op["operationId"]: op for op in json.loads(FACTS_TABLE.read_text(encoding="utf-8"))["operations"]}


VERSION_OF_MEDIA = {V1: "v1", BETA: "v1beta", ALPHA: "v1alpha"}


def test_every_route_has_the_path_list_key_stability_and_limit_of_the_facts_table(facts):
    for route in ROUTES:
        op = facts[route.operation_id]
        assert op["path"] == route.pattern, route.operation_id
        assert op["defaultStability"] == route.stability, route.operation_id
        declared = {VERSION_OF_MEDIA[media] for media in op["mediaTypes"] if media in VERSION_OF_MEDIA}
        assert set(route.versions) == declared, route.operation_id
        limit = int(op["rateLimit"].split("/")[0]) if op["rateLimit"] else None
        assert route.per_minute == limit, route.operation_id
        payload = op["payloadPath"].split(";")[0].strip()
        if route.list_key:
            assert payload == f"data.{route.list_key}[]", route.operation_id


def test_the_emulator_serves_every_config_metrics_and_catalog_operation_of_the_facts_table(facts):
    """All CONFIG, REFERENCE and METRICS GETs except the ones we deliberately leave out."""
    left_out = {"getAudiencePreview",  # needs a preview created by POST
                "listSupportedDestinationsFromAudience", "listEntityPaths", "listPropertiesFromEntity",
                "listPropertiesFromEvent", "listSampleValuesFromEntityProperty",
                "listSampleValuesFromEventProperty", "listSampleValuesFromTrait"}
    wanted = {name for name, op in facts.items() if op["category"] in ("CONFIG", "REFERENCE", "METRICS")}
    assert wanted - set(ROUTE) - left_out == set()
    assert len(ROUTES) >= 90


def test_route_table_is_plain_data():
    table = route_table()
    assert len(table) == len(ROUTES)
    filters = next(row for row in table if row["operationId"] == "listFiltersForSpace")
    assert filters == {"operationId": "listFiltersForSpace", "path": "/filters", "listKey": "filters",
                       "paginated": True, "stability": "beta", "versions": ["v1beta", "v1alpha"], "maxCount": 10,
                       "perMinute": None, "area": "engage", "feature": "engage"}


# --- shapes ---------------------------------------------------------------------------------------------------


def test_every_list_route_answers_with_its_list_key(emu: Emulator, small: Workspace):
    for route in ROUTES:
        if not route.list_key:
            continue
        for path, query in example_requests(small, route):
            body = data(emu, path, **query)
            assert isinstance(body[route.list_key], list), route.operation_id


def test_iam_shapes(emu: Emulator, small: Workspace):
    users = walk(emu, "/users", "users", 3)
    assert len(users) == len(small.users) and all({"id", "name", "email"} <= set(u) for u in users)
    granted = [u for u in users if "permissions" in u]
    assert granted and all({"roleId", "roleName", "resources"} <= set(p) for u in granted for p in u["permissions"])
    assert users[0]["permissions"][0]["roleName"] == "Workspace Owner"
    groups = walk(emu, "/groups", "userGroups", 2)
    assert groups and all({"id", "name", "memberCount", "permissions"} <= set(g) for g in groups)
    for group in groups:
        members = walk(emu, f"/groups/{group['id']}/users", "users", 2)
        assert group["memberCount"] == len(members)
        assert all(set(member) == {"id", "name", "email"} for member in members), "MinimalUserV1"
        for member in members:
            assert {"id": group["id"], "name": group["name"]} in data(emu, f"/users/{member['id']}/groups")["groups"]
        emails = data(emu, f"/groups/{group['id']}/invites")["emails"]
        assert all(isinstance(email, str) and "@" in email for email in emails)
    assert any(g["memberCount"] == 0 for g in groups), "an empty group"
    invites = data(emu, "/invites")["invites"]
    assert invites == small.invites and all(isinstance(email, str) for email in invites)
    roles = {role["name"]: role for role in walk(emu, "/roles", "roles", 5)}
    assert roles["Workspace Owner"]["id"] == KNOWN_ROLE_IDS["Workspace Owner"]
    assert all(set(role) == {"id", "name", "description"} and len(role["id"]) == 27 for role in roles.values())
    assert data(emu, f"/users/{users[1]['id']}")["user"] == users[1]
    assert data(emu, f"/groups/{groups[0]['id']}")["userGroup"] == groups[0]


def test_source_satellites(emu: Emulator, small: Workspace):
    source = small.sources[0]
    settings = data(emu, f"/sources/{source['id']}/settings")
    assert set(settings) == {"sourceId", "settings"} and settings["sourceId"] == source["id"]
    assert {"track", "identify", "group"} <= set(settings["settings"])
    assert "trackingPlanId" in data(emu, f"/sources/{source['id']}")
    with_plugin = next(iter(small.live_plugins))
    plugin = data(emu, f"/sources/{with_plugin}/live-plugins/latest")["livePlugin"]
    assert plugin["sourceId"] == with_plugin and len(plugin["id"]) == 36
    without = next(s["id"] for s in small.sources if s["id"] not in small.live_plugins)
    assert error(get(emu, f"/sources/{without}/live-plugins/latest"), 404)["type"] == "not-found"


def test_destination_filters_live_under_the_singular_path(emu: Emulator, small: Workspace):
    item = small.destination_filters[0]
    listed = data(emu, f"/destination/{item['destinationId']}/filters")["filters"]
    assert item in listed and all(f["destinationId"] == item["destinationId"] for f in listed)
    assert data(emu, f"/destination/{item['destinationId']}/filters/{item['id']}")["filter"] == item
    assert error(get(emu, f"/destinations/{item['destinationId']}/filters"), 404)["message"].startswith("No route")
    other = next(d["id"] for d in small.destinations if d["id"] != item["destinationId"])
    assert get(emu, f"/destination/{other}/filters/{item['id']}").status_code == 404, "filter of another destination"


def test_only_actions_destinations_have_subscriptions(emu: Emulator, small: Workspace):
    for destination in small.destinations[:30]:
        subscriptions = data(emu, f"/destinations/{destination['id']}/subscriptions")["subscriptions"]
        assert bool(subscriptions) <= bool(destination["metadata"]["actions"])
        for subscription in subscriptions:
            assert {"id", "name", "actionId", "actionSlug", "destinationId", "enabled", "settings",
                    "trigger"} <= set(subscription)
            assert subscription["actionId"] in {a["id"] for a in destination["metadata"]["actions"]}
    retl = next(s for s in small.destination_subscriptions if s.get("modelId"))
    got = data(emu, f"/destinations/{retl['destinationId']}/subscriptions/{retl['id']}")["subscription"]
    assert got["reverseETLSchedule"]["strategy"] in ("CRON", "DBT_CLOUD", "MANUAL", "PERIODIC", "SPECIFIC_DAYS")


def test_warehouse_satellites(emu: Emulator, small: Workspace):
    source_id, warehouse_id = small.source_warehouses[0]
    items = data(emu, f"/warehouses/{warehouse_id}/connected-sources/{source_id}/selective-syncs")["items"]
    assert items and all({"sourceId", "collection", "warehouseId", "enabled", "properties"} <= set(i) for i in items)
    assert all(i["sourceId"] == source_id and i["warehouseId"] == warehouse_id for i in items)
    schedules = [data(emu, f"/warehouses/{w['id']}/advanced-sync-schedule") for w in small.warehouses]
    assert all("enabled" in s and set(s) <= {"enabled", "schedule"} for s in schedules)
    assert any(s["enabled"] and s["schedule"]["times"] for s in schedules)
    reports = data(emu, f"/warehouses/{warehouse_id}/syncs")["reports"]
    assert reports and all({"sourceId", "start", "end", "status", "duration", "count"} <= set(r) for r in reports)
    assert [r["start"] for r in reports] == sorted((r["start"] for r in reports), reverse=True)
    one = data(emu, f"/warehouses/{warehouse_id}/connected-sources/{source_id}/syncs")["reports"]
    assert one and {r["sourceId"] for r in one} == {source_id}


def test_selective_syncs_and_sync_history_are_limited_to_two_a_minute(small: Workspace):
    source_id, warehouse_id = small.source_warehouses[0]
    with Emulator(small, tokens=TOKENS, rate_limit_rps=1000) as emulator:
        if time.time() % 60 > 55:
            time.sleep(60 - time.time() % 60 + 0.05)
        for path in (f"/warehouses/{warehouse_id}/connected-sources/{source_id}/selective-syncs",
                     f"/warehouses/{warehouse_id}/advanced-sync-schedule", f"/warehouses/{warehouse_id}/syncs"):
            statuses = [get(emulator, path).status_code for _ in range(3)]
            assert statuses == [200, 200, 429], path
        assert get(emulator, f"/warehouses/{warehouse_id}").status_code == 200


def test_transformations_and_insert_function_instances(emu: Emulator, small: Workspace):
    items = walk(emu, "/transformations", "transformations", 3)
    assert items == small.transformations and all("propertyRenames" in t for t in items)
    assert data(emu, f"/transformations/{items[0]['id']}")["transformation"] == items[0]
    insert = next(f for f in small.functions if small.instances_of(f["id"]))
    instances = data(emu, "/insert-function-instances", functionId=insert["id"])["instances"]
    assert instances and all(i["classId"] == insert["id"] for i in instances)
    assert data(emu, f"/insert-function-instances/{instances[0]['id']}")["insertFunctionInstance"] == instances[0]
    assert error(get(emu, "/insert-function-instances"), 422)["field"] == "functionId"
    source_function = next(f for f in small.functions if f["resourceType"] == "SOURCE")
    assert error(get(emu, "/insert-function-instances", params={"functionId": source_function["id"]}),
                 422)["field"] == "functionId"
    assert get(emu, "/insert-function-instances", params={"functionId": "nope"}).status_code == 404


def test_catalog_is_larger_than_what_the_workspace_uses(emu: Emulator, small: Workspace):
    sources = walk(emu, "/catalog/sources", "sourcesCatalog", 1000)
    destinations = walk(emu, "/catalog/destinations", "destinationsCatalog", 200)
    warehouses = data(emu, "/catalog/warehouses")["warehousesCatalog"]
    assert len(sources) >= 150 and len(destinations) >= 400 and len(warehouses) >= 8
    used = {d["metadata"]["id"] for d in small.destinations}
    assert used < {d["id"] for d in destinations}
    assert {s["metadata"]["id"] for s in small.sources} < {s["id"] for s in sources}
    one = small.destinations[0]["metadata"]
    assert data(emu, f"/catalog/destinations/{one['id']}")["destinationMetadata"] == one
    assert data(emu, f"/catalog/sources/{sources[0]['id']}")["sourceMetadata"] == sources[0]
    assert data(emu, f"/catalog/warehouses/{warehouses[0]['id']}")["warehouseMetadata"] == warehouses[0]
    assert error(get(emu, "/catalog/destinations/nope"), 404)["type"] == "not-found"


# --- Engage ---------------------------------------------------------------------------------------------------


def test_spaces_audiences_and_their_children(emu: Emulator, small: Workspace):
    spaces = data(emu, "/spaces")["spaces"]
    assert spaces == small.spaces and data(emu, f"/spaces/{spaces[0]['id']}")["space"] == spaces[0]
    audiences = walk(emu, f"/spaces/{spaces[0]['id']}/audiences", "audiences", 4)
    assert audiences == small.audiences_of(spaces[0]["id"]) and all("schedules" not in a for a in audiences)
    with_schedules = next(a for a in small.audiences if small.audience_schedules.get(a["id"]))
    base = f"/spaces/{with_schedules['spaceId']}/audiences/{with_schedules['id']}"
    full = data(emu, base, include="schedules")["audience"]
    assert full["schedules"] == small.audience_schedules[with_schedules["id"]]
    assert "schedules" not in data(emu, base)["audience"]
    listed = data(emu, f"/spaces/{with_schedules['spaceId']}/audiences", include="schedules",
                  **{"pagination.count": 200})["audiences"]
    assert all("schedules" in a for a in listed)
    assert error(get(emu, base, params={"include": "everything"}), 422)["field"] == "include"
    schedules = data(emu, f"{base}/schedules")
    assert set(schedules) == {"audienceSchedules"}, "not paginated"
    first = schedules["audienceSchedules"][0]
    assert data(emu, f"{base}/schedules/{first['id']}")["audienceSchedule"] == first
    linked = next(a for a in small.audiences if small.activations_of(a["id"]))
    base = f"/spaces/{linked['spaceId']}/audiences/{linked['id']}"
    activations = data(emu, f"{base}/activations")["activations"]
    assert activations == small.activations_of(linked["id"])
    assert data(emu, f"{base}/activations/{activations[0]['id']}")["activation"] == activations[0]
    connections = data(emu, f"{base}/destination-connections")["connections"]
    assert {a["connectionId"] for a in activations} <= {c["id"] for c in connections}
    assert all(small.find("destinations", c["id"])["sourceId"] == c["sourceId"] for c in connections)


def test_audience_references_list_the_audiences_built_on_one(emu: Emulator, small: Workspace):
    referenced = next(a for a in small.audiences if small.audience_consumers(a))
    path = f"/spaces/{referenced['spaceId']}/audiences/{referenced['id']}/audience-references"
    consumers = data(emu, path)["audiences"]
    assert consumers and all(f"audience('{referenced['key']}')" in c["definition"]["query"] for c in consumers)
    assert all("computeCadence" not in c and "size" not in c and "audienceType" not in c for c in consumers)


def test_list_audiences_caps_pages_at_200(medium: Workspace):
    space = medium.spaces[0]
    with Emulator(medium, tokens=TOKENS) as emulator:
        path = f"/spaces/{space['id']}/audiences"
        assert error(get(emulator, path, params={"pagination.count": 201}), 422)["field"] == "pagination.count"
        page = data(emulator, path, **{"pagination.count": 200})
        assert len(page["audiences"]) == 200 and page["pagination"]["totalEntries"] == 260
        assert len(walk(emulator, path, "audiences", 200)) == 260
        assert len(data(emulator, path)["audiences"]) == 200, "default page size"


def test_computed_traits_profiles_warehouses_and_schema(emu: Emulator, small: Workspace):
    space = small.spaces[0]
    traits = walk(emu, f"/spaces/{space['id']}/computed-traits", "computedTraits", 2)
    assert traits == small.computed_traits_of(space["id"])
    assert data(emu, f"/spaces/{space['id']}/computed-traits/{traits[0]['id']}")["computedTrait"] == traits[0]
    other = small.spaces[1]
    assert get(emu, f"/spaces/{other['id']}/computed-traits/{traits[0]['id']}").status_code == 404
    warehouses = data(emu, f"/spaces/{space['id']}/profiles-warehouses")["profilesWarehouses"]
    assert warehouses and "<redacted>" in json.dumps(warehouses)
    syncs = data(emu, f"/spaces/{space['id']}/profiles-warehouses/{warehouses[0]['id']}/selective-syncs")
    assert set(syncs) == {"items", "pagination", "enableEventTables"} and syncs["items"]
    events = data(emu, f"/spaces/{space['id']}/events")["events"]
    assert [e["lastSeenAt"] for e in events] == sorted((e["lastSeenAt"] for e in events), reverse=True)
    by_name = data(emu, f"/spaces/{space['id']}/events", sortBy="name", sortDir="asc")["events"]
    assert [e["name"] for e in by_name] == sorted(e["name"] for e in events)
    assert error(get(emu, f"/spaces/{space['id']}/events", params={"sortBy": "size"}), 422)["field"] == "sortBy"


def test_profiles_warehouses_read_writes_an_audit_event(fresh: tuple[Workspace, Emulator]):
    workspace, emulator = fresh
    space = workspace.spaces[0]
    before = len(workspace.audit_events)
    for _ in range(2):
        data(emulator, f"/spaces/{space['id']}/profiles-warehouses")
    assert len(workspace.audit_events) == before + 2
    newest = data(emulator, "/audit-events", **{"pagination.count": 1})["events"][0]
    assert newest["type"] == "Profiles Sync Warehouse Retrieved" and newest["resourceId"] == space["id"]
    assert newest["actor"].startswith("public-api-token/")


def test_traits_are_forward_only_with_a_shrinking_upper_bound(emu: Emulator, small: Workspace):
    space = small.spaces[0]
    path = f"/spaces/{space['id']}/traits"
    pages, cursor = [], None
    while True:
        page = data(emu, path, **{"pagination.count": 10}, **({"pagination.cursor": cursor} if cursor else {}))
        pages.append(page)
        assert "previous" not in page["pagination"]
        cursor = page["pagination"].get("next")
        if not cursor:
            break
    traits = [trait for page in pages for trait in page["traits"]]
    totals = [page["pagination"]["totalEntries"] for page in pages]
    assert totals == sorted(totals, reverse=True) and totals[0] > len(traits) and totals[-1] >= len(traits)
    kinds = {trait["type"] for trait in traits}
    assert {"CUSTOM", "AUDIENCE", "COMPUTED"} <= kinds
    sampled = data(emu, path, includeSampleValues="true", samplesCount=2)["traits"]
    assert all(1 <= len(trait["samples"]) <= 2 for trait in sampled)
    assert error(get(emu, path, params={"samplesCount": 101}), 422)["field"] == "samplesCount"


def test_space_filters_use_numeric_offset_cursors(emu: Emulator, small: Workspace):
    space = small.spaces[0]
    assert len(small.space_filters_of(space["id"])) == 13
    first = data(emu, "/filters", integrationId=space["id"])
    assert len(first["filters"]) == 10 and first["pagination"] == {"current": 0, "next": 10, "totalEntries": 13}
    second = data(emu, "/filters", integrationId=space["id"], **{"pagination.count": 10, "pagination.cursor": 10})
    assert len(second["filters"]) == 3 and second["pagination"] == {"current": 10, "totalEntries": 13}
    assert first["filters"] + second["filters"] == small.space_filters_of(space["id"])
    for query, field in (({"pagination.count": 11}, "pagination.count"), ({"pagination.count": 0}, "pagination.count"),
                         ({"pagination.count": 5, "pagination.cursor": "MA=="}, "pagination.cursor")):
        assert error(get(emu, "/filters", params={"integrationId": space["id"], **query}), 422)["field"] == field
    assert error(get(emu, "/filters"), 422)["field"] == "integrationId"
    assert get(emu, "/filters", params={"integrationId": "nope"}).status_code == 404
    one = first["filters"][0]
    assert data(emu, f"/filters/{one['id']}")["filter"] == one


def test_space_filters_list_is_absent_when_a_space_has_none():
    workspace = generate_workspace(seed=42, scale="small")
    space = workspace.spaces[1]
    workspace.space_filters[:] = [f for f in workspace.space_filters if f["integrationId"] != space["id"]]
    workspace.touch()
    with Emulator(workspace, tokens=TOKENS) as emulator:
        body = data(emulator, "/filters", integrationId=space["id"])
        assert body == {"pagination": {"current": 0, "totalEntries": 0}}


# --- Reverse ETL ----------------------------------------------------------------------------------------------


def test_reverse_etl_models_and_sync_statuses(emu: Emulator, small: Workspace):
    models = data(emu, "/reverse-etl-models")["models"]
    assert models == small.reverse_etl_models
    subscription = next(s for s in small.destination_subscriptions if s.get("modelId"))
    path = f"/reverse-etl-models/{subscription['modelId']}/subscriptionId/{subscription['id']}/syncs"
    page = data(emu, path)
    assert len(page["syncStatuses"]) == 10, "count defaults to 10"
    assert all(isinstance(s["extractPhase"]["extractCount"], str) for s in page["syncStatuses"])
    assert len(data(emu, path, count=100)["syncStatuses"]) <= 100
    for count in (0, 101, "x"):
        assert error(get(emu, path, params={"count": count}), 422)["field"] == "count"
    statuses, cursor = [], None
    while True:
        page = data(emu, path, count=25, **({"cursor": cursor} if cursor else {}))
        statuses += page["syncStatuses"]
        cursor = page["pagination"].get("next")
        if not cursor:
            break
    assert len({s["syncId"] for s in statuses}) == len(statuses) > 25
    assert len(data(emu, path, **{"pagination.count": 50})["syncStatuses"]) == 10, "pagination is not a param"
    assert error(get(emu, path, params={"cursor": "%%%"}), 422)["field"] == "cursor"
    one = statuses[3]
    assert data(emu, f"/reverse-etl-models/{subscription['modelId']}/syncs/{one['syncId']}")[
        "reverseETLSyncStatus"] == one
    plain = next(s for s in small.destination_subscriptions if not s.get("modelId"))
    assert get(emu, f"/reverse-etl-models/{subscription['modelId']}/subscriptionId/{plain['id']}/syncs"
               ).status_code == 404


# --- privacy --------------------------------------------------------------------------------------------------


def test_regulations_keep_90_days_and_filter(emu: Emulator, small: Workspace):
    cutoff = (datetime.now(timezone.utc) - timedelta(days=90)).isoformat()
    listed = walk(emu, "/regulations", "regulations", 5)
    assert listed and all(r["createdAt"] >= cutoff[:19] for r in listed)
    old = [r for r in small.regulations if r["createdAt"] < cutoff[:19]]
    assert old and len(listed) == len(small.regulations) - len(old)
    assert error(get(emu, f"/regulations/{old[0]['id']}"), 404)["message"] == "Resource not found"
    detail = data(emu, f"/regulations/{listed[0]['id']}")["regulation"]
    assert {"id", "workspaceId", "overallStatus", "createdAt", "streamStatus"} <= set(detail)
    finished = walk(emu, "/regulations", "regulations", 100, status="FINISHED")
    assert finished and {r["status"] for r in finished} == {"FINISHED"}
    deletes = walk(emu, "/regulations", "regulations", 100, **{"regulationTypes.0": "DELETE_ONLY"})
    assert deletes == [r for r in listed if r["regulationType"] == "DELETE_ONLY"]
    assert error(get(emu, "/regulations", params={"status": "DONE"}), 422)["field"] == "status"
    assert error(get(emu, "/regulations", params={"regulationTypes": "DELETE_ARCHIVE_ONLY"}),
                 422)["field"] == "regulationTypes"


def test_regulations_from_a_source_have_no_pagination_object(emu: Emulator, small: Workspace):
    source_id = next(iter(small.regulation_sources.values()))
    body = data(emu, f"/regulations/sources/{source_id}", **{"pagination.count": 1})
    assert set(body) == {"regulations"} and len(body["regulations"]) <= 1
    everything = data(emu, f"/regulations/sources/{source_id}")["regulations"]
    assert all(r["subjectType"] == "OBJECT_ID" for r in everything)
    assert get(emu, "/regulations/sources/nope").status_code == 404
    assert error(get(emu, f"/regulations/sources/{source_id}", params={"pagination.count": 1001}), 422)


def test_suppressions_use_an_opaque_keyset_cursor(emu: Emulator, small: Workspace):
    first = data(emu, "/suppressions", **{"pagination.count": 10})
    assert first["pagination"]["current"] == "MQ==" and all(set(i) == {"subjectType", "subjectIds"}
                                                            for i in first["suppressed"])
    token = base64.b64decode(first["pagination"]["next"]).decode()
    assert token.startswith("reg-") and not token.isdigit()
    items = walk(emu, "/suppressions", "suppressed", 10)
    assert items == small.suppressions and len(items) == 25
    bad = get(emu, "/suppressions", params={"pagination.count": 10, "pagination.cursor": base64.b64encode(b"10")})
    assert error(bad, 422)["field"] == "pagination.cursor"


# --- credentials ----------------------------------------------------------------------------------------------


def test_credentials_are_stable_only(emu: Emulator, small: Workspace):
    for accept in (None, "application/json", V1):
        response = get(emu, "/credentials", accept=accept)
        assert response.status_code == 200 and response.headers["Content-Type"] == V1
    for accept in (BETA, ALPHA, "application/vnd.segment.alpha+json"):
        assert error(get(emu, "/credentials", accept=accept), 415)["type"] == "unsupported-media-type"
        assert get(emu, f"/credentials/{small.credentials[0]['id']}", accept=accept).status_code == 415


def test_credential_consumers_page_warehouses_and_sources_independently(emu: Emulator, small: Workspace):
    credential = small.credentials[0]
    consumers = small.credential_consumers[credential["id"]]
    assert len(consumers["warehouses"]) >= 2 and len(consumers["sources"]) >= 2
    path = f"/credentials/{credential['id']}/consumers"
    first = data(emu, path, **{"warehousesPagination.count": 1, "sourcesPagination.count": 2})
    assert set(first) == {"warehouses", "warehousesPagination", "sources", "sourcesPagination"}
    assert len(first["warehouses"]) == 1 and len(first["sources"]) == 2
    assert "next" in first["warehousesPagination"] and "next" not in first["sourcesPagination"]
    second = data(emu, path, **{"warehousesPagination.count": 1,
                                "warehousesPagination.cursor": first["warehousesPagination"]["next"],
                                "sourcesPagination[count]": 1})
    assert second["warehouses"][0]["id"] == consumers["warehouses"][1]
    assert second["sources"][0]["id"] == consumers["sources"][0], "the sources cursor did not move"
    assert error(get(emu, path, params={"sourcesPagination.count": 1001}), 422)["field"] == "sourcesPagination.count"


# --- pagination caps and unknown parents, table-wide ----------------------------------------------------------


CAP_PARAM = {"listReverseETLSyncStatusesFromModelAndSubscriptionId": "count",
             "listCredentialConsumers": "warehousesPagination.count"}


def test_every_paginated_route_refuses_a_page_above_its_cap(emu: Emulator, small: Workspace):
    checked = 0
    for route in ROUTES:
        if not route.max_count:
            continue
        path, query = example(small, route.operation_id)
        query = {key: value for key, value in query.items() if not key.startswith("pagination")}
        name = CAP_PARAM.get(route.operation_id, "pagination.count")
        assert get(emu, path, params={**query, name: route.max_count}).status_code == 200, route.operation_id
        problem = error(get(emu, path, params={**query, name: route.max_count + 1}), 422)
        assert problem["field"] == name, route.operation_id
        checked += 1
    assert checked >= 55


def test_unknown_parent_ids_are_404(emu: Emulator, small: Workspace):
    for route in ROUTES:
        if "{" not in route.pattern:
            continue
        path, query = example(small, route.operation_id)
        parts, template = path.split("/"), route.pattern.split("/")
        first = next(index for index, piece in enumerate(template) if piece.startswith("{"))
        parts[first] = "nope"
        response = get(emu, "/".join(parts), params=query)
        assert response.status_code == 404, (route.operation_id, response.text[:200])


# --- versions -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation_id, accept, status, served", [
    ("listSpaces", None, 200, ALPHA), ("listSpaces", V1, 415, None), ("listSpaces", BETA, 415, None),
    ("listAudiences", None, 200, V1), ("listAudiences", ALPHA, 200, ALPHA),
    ("listAudienceSchedulesFromSpaceAndAudience", BETA, 415, None),
    ("getEgressSuccessMetricsFromDeliveryOverview", None, 200, BETA),
    ("getEgressSuccessMetricsFromDeliveryOverview", ALPHA, 415, None),
    ("listFiltersForSpace", "application/json", 200, BETA), ("listFiltersForSpace", ALPHA, 200, ALPHA),
    ("listFiltersForSpace", V1, 415, None), ("listTransformations", None, 200, V1),
    ("listDeliveryMetricsSummaryFromDestination", None, 200, BETA),
])
def test_versions_of_the_new_routes(emu: Emulator, small: Workspace, operation_id: str, accept: str | None,
                                    status: int, served: str | None):
    path, query = example(small, operation_id)
    response = get(emu, path, accept=accept, params=query)
    assert response.status_code == status, response.text[:200]
    if served:
        assert response.headers["Content-Type"] == served


# --- metrics --------------------------------------------------------------------------------------------------


def test_usage_needs_the_first_day_of_a_month(emu: Emulator):
    for path in ("/usage/api-calls/daily", "/usage/mtu/sources/daily"):
        assert error(get(emu, path), 422)["field"] == "period"
        for period in ("2026-08-15", "August", "2026-13-01"):
            assert error(get(emu, path, params={"period": period}), 422)["field"] == "period"
    future = (date.today().replace(day=1) + timedelta(days=40)).replace(day=1).isoformat()
    assert data(emu, "/usage/mtu/daily", period=future)["dailyWorkspaceMTUUsage"] == []


def test_usage_counters_are_cumulative_big_integer_strings(emu: Emulator, small: Workspace):
    last_month = (date.today().replace(day=1) - timedelta(days=1)).replace(day=1)
    days = (date.today().replace(day=1) - last_month).days
    calls = walk(emu, "/usage/api-calls/daily", "dailyWorkspaceAPICallsUsage", 10, period=last_month.isoformat())
    assert len(calls) == days and all(c["apiCalls"].isdigit() for c in calls)
    values = [int(c["apiCalls"]) for c in calls]
    assert values == sorted(values) and values[-1] > values[0] > 0
    mtu = data(emu, "/usage/mtu/daily", period=last_month.isoformat())["dailyWorkspaceMTUUsage"]
    start = int(datetime(last_month.year, last_month.month, 1, tzinfo=timezone.utc).timestamp())
    assert all(row["periodStart"] == start and isinstance(row["periodEnd"], int) and row["periodEnd"] - start ==
               days * 86400 for row in mtu)
    assert all(row[name].isdigit() for row in mtu for name in ("anonymous", "anonymousIdentified", "identified",
                                                               "neverIdentified"))
    identified = [int(row["identified"]) for row in mtu]
    assert identified == sorted(identified)
    per_source = walk(emu, "/usage/api-calls/sources/daily", "dailyPerSourceAPICallsUsage", 1000,
                      period=last_month.isoformat())
    assert len(per_source) == days * len(small.sources)
    last_day = calls[-1]["timestamp"]
    assert sum(int(row["apiCalls"]) for row in per_source if row["timestamp"] == last_day) == values[-1]


def test_events_volume_parameters(emu: Emulator, small: Workspace):
    window = {"granularity": "HOUR", "startTime": now_iso(-timedelta(hours=6)), "endTime": now_iso()}
    for missing in window:
        query = {key: value for key, value in window.items() if key != missing}
        assert error(get(emu, "/events/volume", params=query), 422)["field"] == missing
    assert error(get(emu, "/events/volume", params={**window, "granularity": "WEEK"}), 422)["field"] == "granularity"
    assert error(get(emu, "/events/volume", params={**window, "startTime": window["endTime"]}), 422)
    assert error(get(emu, "/events/volume", params={**window, "groupBy": "country"}), 422)["field"] == "groupBy"
    assert error(get(emu, "/events/volume", params={**window, "granularity": "MINUTE",
                                                    "startTime": now_iso(-timedelta(days=30))}), 422)
    total = data(emu, "/events/volume", **window)
    assert set(total) == {"path", "query", "result", "pagination"} and len(total["result"]) == 1
    assert total["query"]["workspaceId"] == small.workspace["id"] and len(total["result"][0]["series"]) in (6, 7)
    spellings = ["groupBy=source&groupBy=eventType", "groupBy=source,eventType", "groupBy.0=source&groupBy.1=eventType",
                 "groupBy[0]=source&groupBy[1]=eventType"]
    answers = [get(emu, "/events/volume?" + spelling, params=window).json()["data"]["result"]
               for spelling in spellings]
    assert all(answer == answers[0] for answer in answers)
    assert all({"source", "eventType", "total", "series"} <= set(item) and "id" in item["source"]
               for item in answers[0])
    totals = [item["total"] for item in answers[0]]
    assert totals == sorted(totals, reverse=True)
    one = small.sources[0]["id"]
    filtered = data(emu, "/events/volume", **window, groupBy="source", sourceId=one)["result"]
    assert {item["source"]["id"] for item in filtered} <= {one}


def test_delivery_overview_parameters_and_window_limits(emu: Emulator, small: Workspace):
    destination = next(d for d in small.destinations if d["enabled"])
    base = {"sourceId": destination["sourceId"], "granularity": "HOUR", "startTime": now_iso(-timedelta(days=1)),
            "endTime": now_iso()}
    egress = {**base, "destinationConfigId": destination["id"]}
    assert error(get(emu, "/delivery-overview/successful-delivery", params=base), 422)["field"] == \
        "destinationConfigId"
    assert get(emu, "/delivery-overview/successfully-received", params=base).status_code == 200
    for missing in ("sourceId", "granularity", "startTime", "endTime"):
        query = {key: value for key, value in egress.items() if key != missing}
        assert error(get(emu, "/delivery-overview/failed-delivery", params=query), 422)["field"] == missing
    too_long = [("MINUTE", timedelta(hours=5), timedelta()), ("MINUTE", timedelta(hours=1), timedelta(hours=49)),
                ("HOUR", timedelta(days=15), timedelta()), ("DAY", timedelta(days=31), timedelta())]
    for granularity, span, ago in too_long:
        query = {**base, "granularity": granularity, "startTime": now_iso(-span - ago), "endTime": now_iso(-ago)}
        assert error(get(emu, "/delivery-overview/failed-on-ingest", params=query), 422), granularity
    body = data(emu, "/delivery-overview/successful-delivery", **egress, groupBy="eventName,eventType")
    assert set(body) == {"total", "dataset", "pagination"}
    assert body["total"] == sum(item["total"] for item in body["dataset"]) > 0
    assert all("eventName" in item for item in body["dataset"] if item["eventType"] == "track")
    assert all("retryCount" in point for item in body["dataset"] for point in item["series"])
    assert error(get(emu, "/delivery-overview/successfully-received", params={**base, "groupBy": "discardReason"}),
                 422)["field"] == "groupBy"
    event = next(item["eventName"] for item in body["dataset"] if "eventName" in item)
    only = data(emu, "/delivery-overview/successful-delivery", **egress, groupBy="eventName",
                **{"filter[eventName].0": event})["dataset"]
    assert {item.get("eventName") for item in only} == {event}
    other = next(d for d in small.destinations if d["sourceId"] != destination["sourceId"])
    assert error(get(emu, "/delivery-overview/failed-delivery",
                     params={**egress, "destinationConfigId": other["id"]}), 422)["field"] == "destinationConfigId"


def test_delivery_metrics_summary(emu: Emulator, small: Workspace):
    destination = small.destinations[0]
    path = f"/destinations/{destination['id']}/delivery-metrics"
    summary = data(emu, path, sourceId=destination["sourceId"])["deliveryMetricsSummary"]
    assert summary["sourceId"] == destination["sourceId"]
    assert summary["destinationMetadataId"] == destination["metadata"]["id"]
    assert {m["metricName"] for m in summary["metrics"]} >= {"successes", "expired", "discarded", "retried"}
    assert error(get(emu, path), 422)["field"] == "sourceId"
    wrong = next(s["id"] for s in small.sources if s["id"] != destination["sourceId"])
    assert error(get(emu, path, params={"sourceId": wrong}), 422)["field"] == "sourceId"
    assert error(get(emu, path, params={"sourceId": destination["sourceId"], "granularity": "DAY",
                                        "startTime": now_iso(-timedelta(days=20))}), 422)


# --- permissions, plans, alpha, regions -----------------------------------------------------------------------

MEMBER_DENIED = ("listUsers", "getUser", "listUserGroups", "listInvitesFromUserGroup", "listRoles", "listInvites",
                 "listCredentials", "listCredentialConsumers", "listAuditEvents", "listFunctions", "getFunction",
                 "listInsertFunctionInstances", "listWorkspaceRegulations", "getRegulation", "listSuppressions",
                 "getDailyWorkspaceMTUUsage", "listSpaces", "listAudiences", "listReverseEtlModels")
MEMBER_ALLOWED = ("getWorkspace", "listSources", "getSource", "listDestinations", "listFiltersFromDestination",
                  "listWarehouses", "listTrackingPlans", "listRulesFromTrackingPlan", "listTransformations",
                  "listLabels", "getDestinationsCatalog", "getEventsVolumeFromWorkspace")


def test_member_token_permissions(emu: Emulator, small: Workspace):
    for operation_id in MEMBER_DENIED:
        path, query = example(small, operation_id)
        problem = error(get(emu, path, token=MEMBER, params=query), 401)
        assert problem["type"] == "unauthorized" and "permission" in problem["message"], operation_id
        assert not emu.allowed(MEMBER, operation_id) and emu.allowed(OWNER, operation_id)
    for operation_id in MEMBER_ALLOWED:
        path, query = example(small, operation_id)
        assert get(emu, path, token=MEMBER, params=query).status_code == 200, operation_id
    credential = small.credentials[0]
    owner_sources = data(emu, f"/credentials/{credential['id']}/consumers")["sources"]
    assert owner_sources and all(s["writeKeys"] == [] for s in owner_sources), "RETL sources have no write keys"
    source_id, warehouse_id = small.source_warehouses[0]
    member = get(emu, f"/warehouses/{warehouse_id}/connected-sources", token=MEMBER).json()["data"]["sources"]
    assert all(s["writeKeys"] == [] for s in member)


def test_custom_roles(small: Workspace):
    with Emulator(small, tokens={"analyst": "analyst"}, roles={"analyst": {"sources", "engage", "source_admin"}}
                  ) as emulator:
        assert get(emulator, "/sources", token="analyst").json()["data"]["sources"][0]["writeKeys"]
        assert get(emulator, "/spaces", token="analyst").status_code == 200
        assert get(emulator, "/destinations", token="analyst").status_code == 401
    with pytest.raises(ValueError, match="unknown areas"):
        Emulator(small, roles={"x": {"everything"}})
    with pytest.raises(ValueError, match="unknown token roles"):
        Emulator(small, tokens={"t": "admin"})


@pytest.mark.parametrize("status", [403, 404])
def test_a_plan_without_engage_and_reverse_etl(small: Workspace, status: int):
    with Emulator(small, tokens=TOKENS, disabled_features={"engage", "reverse_etl", "profiles_sync"},
                  disabled_feature_status=status) as emulator:
        for operation_id in ("listSpaces", "listAudiences", "listComputedTraits", "listFiltersForSpace",
                             "listReverseEtlModels", "listProfilesWarehouseInSpace"):
            path, query = example(small, operation_id)
            problem = error(get(emulator, path, params=query), status)
            assert "plan does not include" in problem["message"], operation_id
        assert get(emulator, "/sources").status_code == 200
        assert get(emulator, "/spaces", token=MEMBER).status_code == 401, "permission is checked first"


def test_every_feature_can_be_switched_off(small: Workspace):
    gated = {route.feature for route in ROUTES if route.feature}
    assert gated == set(FEATURES)
    with Emulator(small, tokens=TOKENS, disabled_features=FEATURES) as emulator:
        for route in ROUTES:
            path, query = example(small, route.operation_id)
            status = get(emulator, path, params=query).status_code
            assert (status == 403) == bool(route.feature), route.operation_id
    with pytest.raises(ValueError, match="unknown features"):
        Emulator(small, disabled_features={"journeys"})
    with pytest.raises(ValueError, match="disabled_feature_status"):
        Emulator(small, disabled_feature_status=500)


def test_alpha_not_enabled(small: Workspace):
    with Emulator(small, tokens=TOKENS, disabled_alpha=True) as emulator:
        for route in ROUTES:
            path, query = example(small, route.operation_id)
            response = get(emulator, path, params=query)
            if route.alpha_only:
                assert error(response, 403)["type"] == "forbidden", route.operation_id
            else:
                assert response.status_code == 200, route.operation_id
    with Emulator(small, tokens=TOKENS, disabled_alpha={"listSpaces"}) as emulator:
        assert get(emulator, "/spaces").status_code == 403
        assert get(emulator, f"/spaces/{small.spaces[0]['id']}").status_code == 200


def test_a_token_only_works_in_its_region(small: Workspace):
    with Emulator(small, tokens={"us-token": "owner"}) as us, \
            Emulator(small, tokens={"eu-token": "owner"}, region="eu") as eu:
        assert (us.region, eu.region) == ("us", "eu")
        assert eu.real_host == "eu1.api.segmentapis.com" and us.real_host == "api.segmentapis.com"
        assert get(us, "/sources", token="us-token").status_code == 200
        assert error(get(eu, "/sources", token="us-token"), 401)["type"] == "unauthorized"
        assert error(get(us, "/sources", token="eu-token"), 401)["type"] == "unauthorized"
        assert get(eu, "/sources", token="eu-token").status_code == 200


# --- surface mutations ----------------------------------------------------------------------------------------


def test_group_membership_mutations_move_member_count(fresh: tuple[Workspace, Emulator]):
    workspace, emulator = fresh
    group = workspace.user_groups[0]
    before = data(emulator, f"/groups/{group['id']}")["userGroup"]["memberCount"]
    added = workspace.apply("add_group_member", group_id=group["id"])
    assert data(emulator, f"/groups/{group['id']}")["userGroup"]["memberCount"] == before + 1
    assert added.cascade == [], "the derived memberCount is not a change of its own"
    user_id = added.resource_id.split(":")[1]
    assert group["id"] in [g["id"] for g in data(emulator, f"/users/{user_id}/groups")["groups"]]
    workspace.apply("remove_group_member", group_id=group["id"], user_id=user_id)
    assert data(emulator, f"/groups/{group['id']}")["userGroup"]["memberCount"] == before
    event = data(emulator, "/audit-events", **{"pagination.count": 1})["events"][0]
    assert event["type"] == "User Removed From User Group" and event["resourceId"] == group["id"]


def test_invite_mutations(fresh: tuple[Workspace, Emulator]):
    workspace, emulator = fresh
    group = workspace.user_groups[0]
    created = workspace.apply("create_invite", email="new.person@acme.example", group_id=group["id"])
    assert "new.person@acme.example" in data(emulator, "/invites")["invites"]
    assert "new.person@acme.example" in data(emulator, f"/groups/{group['id']}/invites")["emails"]
    assert created.cascade[0].table == "user_group_invites"
    deleted = workspace.apply("delete_invite", email="new.person@acme.example")
    assert "new.person@acme.example" not in data(emulator, "/invites")["invites"]
    assert "new.person@acme.example" not in data(emulator, f"/groups/{group['id']}/invites")["emails"]
    assert deleted.cascade and deleted.cascade[0].change == "removed"


def test_suppression_mutations_go_through_regulations(fresh: tuple[Workspace, Emulator]):
    workspace, emulator = fresh
    added = workspace.apply("add_suppression", subject="user_42")
    assert {"subjectType": "userId", "subjectIds": ["user_42"]} in walk(emulator, "/suppressions", "suppressed", 100)
    regulation_id = added.cascade[0].resource_id
    assert data(emulator, f"/regulations/{regulation_id}")["regulation"]["overallStatus"] == "FINISHED"
    assert walk(emulator, "/regulations", "regulations", 100)[0]["regulationType"] == "SUPPRESS_ONLY"
    workspace.apply("remove_suppression", subject="user_42")
    assert {"subjectType": "userId", "subjectIds": ["user_42"]} not in walk(emulator, "/suppressions",
                                                                             "suppressed", 100)


def test_audience_definition_change_is_visible_and_can_add_a_reference(fresh: tuple[Workspace, Emulator]):
    workspace, emulator = fresh
    first, second = workspace.audiences_of(workspace.spaces[0]["id"])[:2]
    query = f"audience('{first['key']}') and trait('plan') = 'pro'"
    mutation = workspace.apply("change_audience_definition", audience_id=second["id"], query=query)
    assert mutation.fields["definition.query"][1] == query
    served = data(emulator, f"/spaces/{second['spaceId']}/audiences/{second['id']}")["audience"]
    assert served["definition"]["query"] == query and served["updatedAt"] == mutation.fields["updatedAt"][1]
    references = data(emulator, f"/spaces/{first['spaceId']}/audiences/{first['id']}/audience-references")
    assert second["id"] in [a["id"] for a in references["audiences"]]


def test_deleting_a_destination_cascades_to_its_filters_and_subscriptions(fresh: tuple[Workspace, Emulator]):
    workspace, emulator = fresh
    destination = next(d for d in workspace.destinations
                       if workspace.filters_of(d["id"]) and workspace.subscriptions_of(d["id"]))
    filters = {f["id"] for f in workspace.filters_of(destination["id"])}
    mutation = workspace.apply("delete_destination", destination_id=destination["id"])
    tables = {(effect.table, effect.resource_id) for effect in mutation.cascade}
    assert {("destination_filters", f) for f in filters} <= tables
    assert any(table == "destination_subscriptions" for table, _ in tables)
    assert all(effect.change == "removed" for effect in mutation.cascade)
    assert all(effect.audit_event_id == mutation.audit_event_id for effect in mutation.cascade)
    assert get(emulator, f"/destination/{destination['id']}/filters").status_code == 404
    assert not workspace.filters_of(destination["id"])


def test_deleting_a_source_cascades_to_everything_that_hangs_off_it(fresh: tuple[Workspace, Emulator]):
    workspace, emulator = fresh
    source = next(s for s in workspace.sources if workspace.warehouses_of(s["id"]) and
                  any(t["sourceId"] == s["id"] for t in workspace.transformations))
    mutation = workspace.apply("delete_source", source_id=source["id"])
    tables = {effect.table for effect in mutation.cascade}
    assert {"destinations", "source_warehouses", "warehouse_selective_syncs", "transformations",
            "source_settings"} <= tables
    assert all(t["sourceId"] != source["id"] for t in walk(emulator, "/transformations", "transformations", 100))
    assert not any(item["sourceId"] == source["id"] for item in workspace.selective_syncs)


def test_default_mutate_keeps_to_the_core_kinds_and_surface_kinds_are_opt_in():
    def run(kinds: Any) -> list[str]:
        workspace = generate_workspace(seed=3, scale="small")
        return [m.kind for m in workspace.mutate(count=15, seed=5, kinds=kinds)]

    from segment_emulator.mutations import RANDOM_WEIGHTS, SURFACE_WEIGHTS

    assert set(run(None)) <= set(RANDOM_WEIGHTS)
    surface = run("surface")
    assert set(surface) <= set(SURFACE_WEIGHTS) and len(set(surface)) > 5 and surface == run("surface")
    assert set(run(["toggle_computed_trait"])) == {"toggle_computed_trait"}
    with pytest.raises(ValueError):
        run(["no_such_kind"])


# --- generation -----------------------------------------------------------------------------------------------


def test_surface_scales_with_the_workspace(medium: Workspace):
    sizes = {scale: generate_workspace(1, scale).surface_counts() for scale in ("tiny", "small")}
    sizes["medium"] = medium.surface_counts()
    for name in ("destination_filters", "destination_subscriptions", "transformations", "audiences",
                 "computed_traits", "regulations", "suppressions", "selective_syncs"):
        assert 0 < sizes["tiny"][name] <= sizes["small"][name] < sizes["medium"][name], name
    assert sizes["small"]["spaces"] == 2 and sizes["medium"]["audiences"] > 260


def test_surface_generation_leaves_the_core_collections_as_they_were():
    """The new collections draw from their own random streams: the core content and the random mutation
    sequence of a seed did not change when they were added (spot values recorded before)."""
    workspace = generate_workspace(seed=42, scale="small", now=datetime(2026, 3, 1, tzinfo=timezone.utc))
    assert (workspace.counts()["sources"], workspace.counts()["destinations"]) == (20, 60)
    plain = {key: value for key, value in workspace.users[0].items() if key != "permissions"}
    assert set(plain) == {"id", "name", "email"}


# --- hostile fixtures -----------------------------------------------------------------------------------------


def test_hostile_fixtures_are_off_by_default(small: Workspace):
    names = {s["name"] for s in small.sources} | {d["name"] for d in small.destinations}
    assert not names & set(UNICODE_NAMES) and not small.hostile


def test_hostile_fixtures_survive_the_wire():
    workspace = generate_workspace(seed=42, scale="small", hostile=True)
    again = generate_workspace(seed=42, scale="small", hostile=True)
    assert workspace.sources == again.sources and workspace.destinations == again.destinations
    with Emulator(workspace, tokens=TOKENS) as emulator:
        sources = walk(emulator, "/sources", "sources", 1000)
        names = {source["name"] for source in sources}
        assert set(UNICODE_NAMES[:4]) <= names, "emoji, ZWJ, RTL and CJK names come back intact"
        colliding = next(s for s in sources if "workspace_id" in s)
        assert colliding["workspace_id"] == colliding["workspaceId"]
        destinations = walk(emulator, "/destinations", "destinations", 20)
        hostile = next(d for d in destinations if d["name"] == UNICODE_NAMES[4])
        settings = hostile["settings"]
        assert {"apiKey", "api_key", "API_KEY"} <= set(settings), "keys that collide once snake_cased"
        assert len(settings["notes"].encode()) >= LONG_VALUE_BYTES
        assert depth_of(settings["deep"]) == NESTING_DEPTH
        pages = [data(emulator, "/destinations", **{"pagination.count": 20, "pagination.cursor":
                                                    base64.b64encode(str(offset).encode()).decode()})
                 for offset in range(0, len(destinations), 20)]
        with_extra = [index for index, page in enumerate(pages) if any(EXTRA_FIELD in d for d in page["destinations"])]
        assert with_extra == [len(pages) - 1], "the undocumented field appears on one page only"
        plans = data(emulator, "/tracking-plans")["trackingPlans"]
        assert any("📋" in plan["name"] for plan in plans)
        groups = data(emulator, "/groups")["userGroups"]
        assert any("فريق" in group["name"] for group in groups)
        events = data(emulator, "/audit-events", **{"pagination.count": 10})["events"]
        assert any(event["resourceName"] in UNICODE_NAMES for event in events)
