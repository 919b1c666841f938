"""Emulator responses conform to Segment's published contract.

Endpoints in the official 2022 OpenAPI document are validated with `jsonschema` against their 200 schemas, for
every media type the spec lists; the document's GET operations and the schemas they reference are in
`fixtures/openapi_2022_get.json` (reduced from the full document by `fixtures/reduce_reference.py`). Endpoints
added since 2022 are checked against the field lists of the facts sheet (SEGMENT_API.md §3), written below as
`FIELDS_SINCE_2022`.

The 2022 document predates parts of today's API; where they differ the current facts win and the schema is
widened here (`SPEC_2022_LAGS`). Fields the 2022 schemas would reject without that:
- `FunctionV1.resourceType` / `ListFunctionItemV1.resourceType`: INSERT_DESTINATION, INSERT_SOURCE,
  INSERT_TRANSFORMATION (facts §2.1, §3.7);
- `TrackingPlanV1.type`: ENGAGE (facts §3.5);
- `regulation.finishedAt` (getRegulation): required in 2022, optional today (facts §3.22, §3.26) - running
  regulations have none;
- `SourceEventVolumeV1.source` (/events/volume): required in 2022, optional today (facts §3.26) - only series
  grouped by source carry it.
Fields the 2022 schemas lack but allow (no `additionalProperties: false` anywhere): `SourceMetadataV1.status/
partnerOwned`, `GetSourceV1Output.trackingPlanId`, `AuditEventV1.actorEmail`, the newer `DestinationMetadataV1`
fields, `TrackingPlanV1.resourceSchemaId`, `FunctionV1.workspaceId/buildpack`.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import jsonschema
import pytest
import requests

from segment_emulator import ROUTES, Emulator, Workspace, generate_workspace
from segment_emulator.examples import example_requests

from .emulator_http import SESSION

SPEC_PATH = Path(__file__).resolve().parent / "fixtures" / "openapi_2022_get.json"
TOKEN = "spec-token"
INSERT_TYPES = ["INSERT_DESTINATION", "INSERT_SOURCE", "INSERT_TRANSFORMATION"]
OPENAPI_ONLY_KEYWORDS = {"nullable", "example", "discriminator", "xml", "externalDocs", "deprecated", "readOnly",
                         "writeOnly"}


def _widen_enum(schema: dict[str, Any], prop: str, extra: list[str]) -> None:
    schema["properties"][prop]["enum"] = [*schema["properties"][prop]["enum"], *extra]


def _optional(schema: dict[str, Any], prop: str) -> None:
    schema["required"] = [name for name in schema["required"] if name != prop]


# schema name -> patch bringing the 2022 schema up to today's contract
SPEC_2022_LAGS: dict[str, Callable[[dict[str, Any]], None]] = {
    "FunctionV1": lambda schema: _widen_enum(schema, "resourceType", INSERT_TYPES),
    "ListFunctionItemV1": lambda schema: _widen_enum(schema, "resourceType", INSERT_TYPES),
    "TrackingPlanV1": lambda schema: _widen_enum(schema, "type", ["ENGAGE"]),
    "regulation": lambda schema: _optional(schema, "finishedAt"),
    "SourceEventVolumeV1": lambda schema: _optional(schema, "source"),
}


@dataclass(frozen=True)
class Facts:
    """The documented shape of an endpoint the 2022 document lacks (or describes as it no longer is)."""

    key: str  # data.<key>: the list or the single object
    required: set[str]
    optional: set[str] = field(default_factory=set)
    types: dict[str, Any] = field(default_factory=dict)  # field -> type(s); str when not listed
    data_keys: set[str] | None = None  # every key of `data`; default {key, "pagination"} for lists, {key} else
    is_list: bool = True


def single(key: str, required: set[str], optional: set[str] = frozenset(), types: dict | None = None) -> Facts:
    return Facts(key, set(required), set(optional), types or {}, None, False)


OBJ, LIST, NUM, BOOL = dict, list, (int, float), bool
NULLABLE_OBJ = (dict, type(None))
AUDIENCE = ({"id", "spaceId", "name", "key", "enabled", "definition", "createdBy", "updatedBy", "createdAt",
             "updatedAt", "audienceType", "computeCadence"},
            {"description", "status", "size", "options", "schedules"},
            {"enabled": BOOL, "definition": NULLABLE_OBJ, "computeCadence": OBJ, "size": OBJ, "options": OBJ,
             "schedules": LIST})
SCHEDULE = ({"id", "strategy", "config"}, {"nextExecution"}, {"config": NULLABLE_OBJ})
ACTIVATION = ({"id", "enabled", "workspaceId", "spaceId", "audienceId", "connectionId", "activationType",
               "activationName", "personalization"}, {"displayName", "destinationMapping", "performResync"},
              {"enabled": BOOL, "personalization": OBJ, "destinationMapping": OBJ, "performResync": BOOL,
               "displayName": (str, type(None))})
TRAIT = ({"id", "spaceId", "name", "key", "enabled", "definition", "createdBy", "updatedBy", "createdAt",
          "updatedAt"}, {"description", "status", "options"},
         {"enabled": BOOL, "definition": NULLABLE_OBJ, "options": OBJ})
INSTANCE = ({"id", "integrationId", "classId", "enabled", "createdAt", "updatedAt", "settings",
             "encryptedSettings"}, {"name"}, {"enabled": BOOL, "settings": OBJ, "encryptedSettings": OBJ})
MODEL = ({"id", "sourceId", "name", "description", "enabled", "query", "queryIdentifierColumn"}, set(),
         {"enabled": BOOL})
SYNC_STATUS = ({"syncId", "modelId", "sourceId", "syncStatus", "duration", "startedAt"},
               {"finishedAt", "extractPhase", "loadPhase", "error", "errorCode"},
               {"extractPhase": OBJ, "loadPhase": OBJ})
CREDENTIAL = ({"id", "workspaceId", "name", "settings", "createdAt", "updatedAt"}, set(), {"settings": OBJ})
SPACE_FILTER = ({"id", "workspaceId", "integrationId", "createdAt", "updatedAt"},
                {"enabled", "name", "description", "if", "drop"}, {"enabled": BOOL, "drop": BOOL})
DATASET = ({"total", "series"}, {"eventName", "appVersion", "eventType", "discardReason", "totalRetryCount",
                                 "subscriptionId", "activationId", "audienceId", "spaceId"},
           {"total": NUM, "series": LIST, "totalRetryCount": NUM})
DELIVERY = Facts("dataset", *DATASET, data_keys={"dataset", "total", "pagination"})

# Endpoints not in the 2022 document (or reshaped since): path pattern -> facts (SEGMENT_API.md §2-3).
FIELDS_SINCE_2022: dict[str, Facts] = {
    "/functions/{functionId}/versions": Facts("versions", {"id", "code"},
                                              {"author", "isDeployed", "createdAt", "updatedAt", "deployedAt"},
                                              {"isDeployed": bool}),
    "/functions/{functionId}/versions/{versionId}": single(
        "version", {"id", "code"}, {"author", "isDeployed", "createdAt", "updatedAt", "deployedAt"},
        {"isDeployed": bool}),
    "/sources/{sourceId}/live-plugins/latest": single(
        "livePlugin", {"id", "sourceId", "createdAt", "createdBy", "downloadURL", "version"}, {"code"},
        {"version": NUM, "code": (str, type(None))}),
    "/insert-function-instances": Facts("instances", *INSTANCE),
    "/insert-function-instances/{instanceId}": single("insertFunctionInstance", *INSTANCE),
    "/credentials": Facts("credentials", *CREDENTIAL),
    "/credentials/{credentialId}": single("credential", *CREDENTIAL),
    "/credentials/{credentialId}/consumers": Facts(
        "warehouses", {"id", "metadata", "workspaceId", "enabled", "settings"}, set(),
        {"metadata": OBJ, "enabled": BOOL, "settings": OBJ},
        data_keys={"warehouses", "warehousesPagination", "sources", "sourcesPagination"}),
    "/reverse-etl-models": Facts("models", *MODEL),
    "/reverse-etl-models/{modelId}": single("reverseEtlModel", *MODEL),
    "/reverse-etl-models/{modelId}/subscriptionId/{subscriptionId}/syncs": Facts("syncStatuses", *SYNC_STATUS),
    "/reverse-etl-models/{modelId}/syncs/{syncId}": single("reverseETLSyncStatus", *SYNC_STATUS),
    "/spaces": Facts("spaces", {"id", "slug", "name"}),
    "/spaces/{spaceId}/audiences": Facts("audiences", *AUDIENCE),
    "/spaces/{spaceId}/audiences/{id}": single("audience", *AUDIENCE),
    "/spaces/{spaceId}/audiences/{id}/schedules": Facts("audienceSchedules", *SCHEDULE,
                                                        data_keys={"audienceSchedules"}),
    "/spaces/{spaceId}/audiences/{id}/schedules/{scheduleId}": single("audienceSchedule", *SCHEDULE),
    "/spaces/{spaceId}/audiences/{audienceId}/activations": Facts("activations", *ACTIVATION),
    "/spaces/{spaceId}/audiences/{audienceId}/activations/{id}": single("activation", *ACTIVATION),
    "/spaces/{spaceId}/audiences/{audienceId}/destination-connections": Facts(
        "connections", {"id", "sourceId", "enabled", "createdAt", "updatedAt", "settings", "destinationId"},
        {"name", "metadata", "idSyncConfiguration", "connectionSettings"},
        {"enabled": BOOL, "settings": OBJ, "metadata": OBJ, "idSyncConfiguration": LIST,
         "connectionSettings": NULLABLE_OBJ}),
    "/spaces/{spaceId}/audiences/{id}/audience-references": Facts(
        "audiences", {"id", "spaceId", "name", "key", "enabled", "definition", "createdBy", "updatedBy", "createdAt",
                      "updatedAt"}, {"description", "status", "options"},
        {"enabled": BOOL, "definition": NULLABLE_OBJ, "options": OBJ}),
    "/spaces/{spaceId}/computed-traits": Facts("computedTraits", *TRAIT),
    "/spaces/{spaceId}/computed-traits/{id}": single("computedTrait", *TRAIT),
    "/spaces/{spaceId}/profiles-warehouses": Facts(
        "profilesWarehouses", {"id", "spaceId", "metadata", "workspaceId", "enabled", "settings"}, {"schemaName"},
        {"metadata": OBJ, "enabled": BOOL, "settings": OBJ}),
    "/spaces/{spaceId}/profiles-warehouses/{warehouseId}/selective-syncs": Facts(
        "items", {"collection", "warehouseId", "enabled", "properties"}, set(), {"enabled": BOOL, "properties": OBJ},
        data_keys={"items", "pagination", "enableEventTables"}),
    "/spaces/{spaceId}/events": Facts("events", {"name", "type", "lastSeenAt"}),
    "/spaces/{spaceId}/traits": Facts("traits", {"trait", "type", "lastSeenAt"}, {"samples"}, {"samples": LIST}),
    "/filters": Facts("filters", *SPACE_FILTER),
    "/filters/{id}": single("filter", *SPACE_FILTER),
    "/delivery-overview/failed-delivery": DELIVERY,
    "/delivery-overview/successful-delivery": DELIVERY,
    "/delivery-overview/filtered-at-destination": DELIVERY,
    "/delivery-overview/filtered-at-source": DELIVERY,
    "/delivery-overview/failed-on-ingest": DELIVERY,
    "/delivery-overview/successfully-received": DELIVERY,
}


# --- OpenAPI 3.0 -> JSON Schema -------------------------------------------------------------------------------


def to_json_schema(schema: Any) -> Any:
    """Convert one OpenAPI 3.0 schema object: `nullable` becomes a null alternative, OpenAPI-only keys go."""
    if not isinstance(schema, dict):
        return schema
    converted = {key: value for key, value in schema.items() if key not in OPENAPI_ONLY_KEYWORDS}
    if "properties" in converted:
        converted["properties"] = {name: to_json_schema(sub) for name, sub in converted["properties"].items()}
    for key in ("items", "additionalProperties", "not"):
        if isinstance(converted.get(key), dict):
            converted[key] = to_json_schema(converted[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in converted:
            converted[key] = [to_json_schema(sub) for sub in converted[key]]
    if schema.get("nullable"):
        if "enum" in converted:
            converted["enum"] = [*converted["enum"], None]
        if "type" in converted:
            converted["type"] = [converted["type"], "null"]
        else:
            converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


def schemas_of(spec: dict[str, Any], patched: bool = True) -> dict[str, Any]:
    schemas = {name: to_json_schema(schema) for name, schema in spec["components"]["schemas"].items()}
    if patched:
        for name, patch in SPEC_2022_LAGS.items():
            schemas[name] = copy.deepcopy(schemas[name])
            patch(schemas[name])
    return schemas


def validator_for(schema: dict[str, Any], schemas: dict[str, Any]) -> Any:
    # `$ref`s point at "#/components/schemas/..."; keep them resolvable from the document root.
    return jsonschema.Draft7Validator({"allOf": [to_json_schema(schema)], "components": {"schemas": schemas}})


# --- fixtures -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def schemas(spec: dict[str, Any]) -> dict[str, Any]:
    return schemas_of(spec)


@pytest.fixture(scope="module")
def workspace() -> Workspace:
    return generate_workspace(seed=2022, scale="small")


@pytest.fixture(scope="module")
def emulator(workspace: Workspace) -> Iterator[Emulator]:
    with Emulator(workspace, tokens={TOKEN: "owner"}) as running:
        yield running


ROUTE_BY_PATTERN = {route.pattern: route for route in ROUTES}
GROUPINGS = {"/events/volume": [{}, {"groupBy": "source"}, {"groupBy": "eventName,eventType"}]}


def calls_for(pattern: str, ws: Workspace, limit: int = 1000) -> list[tuple[str, dict[str, Any]]]:
    """Concrete requests covering every item the route can serve (all ids, all function types, groupings)."""
    calls = example_requests(ws, ROUTE_BY_PATTERN[pattern], every=True, limit=limit)
    if pattern == "/functions":
        return [(pattern, {**query, "resourceType": kind}) for path, query in calls
                for kind in ["DESTINATION", "SOURCE", *INSERT_TYPES]]
    if pattern == "/spaces/{spaceId}/audiences" or pattern == "/spaces/{spaceId}/audiences/{id}":
        return calls + [(path, {**query, "include": "schedules"}) for path, query in calls]
    if pattern in GROUPINGS:
        return [(path, {**query, **extra}) for path, query in calls for extra in GROUPINGS[pattern]]
    return calls


def fetch(emulator: Emulator, path: str, query: dict[str, Any], accept: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": accept}
    return SESSION.get(emulator.base_url + path, params=query, headers=headers, timeout=10)


def first_errors(validator: Any, body: Any) -> list[str]:
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
            for error in list(validator.iter_errors(body))[:3]]


# --- tests ----------------------------------------------------------------------------------------------------


def test_every_emulated_route_is_covered_by_the_spec_or_the_facts_table(spec: dict[str, Any]):
    uncovered = [route.pattern for route in ROUTES
                 if route.pattern not in spec["paths"] and route.pattern not in FIELDS_SINCE_2022]
    assert uncovered == []


SPEC_ROUTES = [route for route in ROUTES if route.pattern not in FIELDS_SINCE_2022]


@pytest.mark.parametrize("route", SPEC_ROUTES, ids=lambda route: route.operation_id)
def test_200_responses_match_the_2022_schema(spec, schemas, emulator: Emulator, workspace: Workspace, route):
    operation = spec["paths"][route.pattern]["get"]
    assert operation["operationId"] == route.operation_id
    content = operation["responses"]["200"]["content"]
    limit = 1000 if route.pattern.count("{") <= 1 else 40  # nested routes: a sample of parents
    for media_type, body_schema in content.items():
        validator = validator_for(body_schema["schema"], schemas)
        for path, query in calls_for(route.pattern, workspace, limit):
            response = fetch(emulator, path, query, media_type)
            assert response.status_code == 200, (path, media_type, response.text[:200])
            assert list(response.json()) == ["data"], "the spec's envelope leaves `data` optional; the API does not"
            problems = first_errors(validator, response.json())
            assert not problems, (path, media_type, problems)


def test_the_2022_document_covers_the_routes_it_names(spec: dict[str, Any]):
    """Guards the split above: the routes validated against 2022 schemas are exactly the ones it has."""
    assert {route.pattern for route in SPEC_ROUTES} <= set(spec["paths"])
    assert len(SPEC_ROUTES) >= 55


def _check_type(name: str, value: Any, types: dict[str, Any]) -> None:
    expected = types.get(name, str)
    assert isinstance(value, expected) and not (expected is NUM and isinstance(value, bool)), (name, value)


@pytest.mark.parametrize("pattern", sorted(FIELDS_SINCE_2022))
def test_endpoints_newer_than_2022_have_the_documented_fields(emulator: Emulator, workspace: Workspace,
                                                              pattern: str):
    facts = FIELDS_SINCE_2022[pattern]
    served = 0
    for path, query in calls_for(pattern, workspace, limit=40):
        response = fetch(emulator, path, query, "application/json")
        assert response.status_code == 200, (path, response.text[:200])
        data = response.json()["data"]
        data_keys = facts.data_keys or ({facts.key, "pagination"} if facts.is_list else {facts.key})
        if pattern == "/filters" and facts.key not in data:  # `filters` may be absent when there are none
            data_keys = data_keys - {facts.key}
        assert set(data) == data_keys, path
        for key in data_keys:
            if "agination" in key:
                assert "current" in data[key], (path, key)
        items = data.get(facts.key, []) if facts.is_list else [data[facts.key]]
        for item in items:
            allowed = facts.required | facts.optional
            assert facts.required <= set(item) <= allowed, (path, set(item) ^ allowed)
            for name, value in item.items():
                _check_type(name, value, facts.types)
            served += 1
    assert served > 0


@pytest.mark.parametrize("path, query, status", [
    ("/sources/missing", {}, 404), ("/functions", {}, 422), ("/sources", {"pagination.count": 0}, 422),
])
def test_error_bodies_match_the_request_error_envelope(schemas, emulator: Emulator, path: str, query: dict,
                                                        status: int):
    validator = validator_for({"$ref": "#/components/schemas/RequestErrorEnvelope"}, schemas)
    response = fetch(emulator, path, query, "application/json")
    assert response.status_code == status and not first_errors(validator, response.json())


def test_the_unpatched_2022_schema_rejects_what_the_lag_table_says(spec, emulator: Emulator):
    """Keeps the module docstring honest: each widened enum is really needed."""
    strict = schemas_of(spec, patched=False)
    item_validator = validator_for({"$ref": "#/components/schemas/ListFunctionItemV1"}, strict)
    insert_function = fetch(emulator, "/functions", {"resourceType": "INSERT_SOURCE"},
                            "application/json").json()["data"]["functions"][0]
    assert not item_validator.is_valid(insert_function)
    engage_plan = {"id": "tp_x", "type": "ENGAGE"}
    assert not validator_for({"$ref": "#/components/schemas/TrackingPlanV1"}, strict).is_valid(engage_plan)
