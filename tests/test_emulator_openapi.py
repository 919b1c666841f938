"""Emulator responses conform to Segment's published contract.

Endpoints in the official 2022 OpenAPI document (/work/shared/segment-openapi-2022.yaml, reference only, not
part of this repo) are validated with `jsonschema` against their 200 schemas, for every media type the spec
lists. Endpoints added since 2022 are checked against the field lists of the facts sheet (SEGMENT_API.md §3),
written below as `FIELDS_SINCE_2022`.

The 2022 document predates parts of today's API; where they differ the current facts win and the schema is
widened here (`SPEC_2022_LAGS`). Fields the 2022 schemas would reject without that:
- `FunctionV1.resourceType` / `ListFunctionItemV1.resourceType`: INSERT_DESTINATION, INSERT_SOURCE,
  INSERT_TRANSFORMATION (facts §2.1, §3.7);
- `TrackingPlanV1.type`: ENGAGE (facts §3.5).
Fields the 2022 schemas lack but allow (no `additionalProperties: false` anywhere): `SourceMetadataV1.status/
partnerOwned`, `GetSourceV1Output.trackingPlanId`, `AuditEventV1.actorEmail`, the newer `DestinationMetadataV1`
fields, `TrackingPlanV1.resourceSchemaId`, `FunctionV1.workspaceId/buildpack`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests

from segment_emulator import ROUTES, Emulator, Workspace, generate_workspace

yaml = pytest.importorskip("yaml")
jsonschema = pytest.importorskip("jsonschema")

SPEC_PATH = Path(__file__).resolve().parents[1].parent / "shared" / "segment-openapi-2022.yaml"
TOKEN = "spec-token"
INSERT_TYPES = ["INSERT_DESTINATION", "INSERT_SOURCE", "INSERT_TRANSFORMATION"]
OPENAPI_ONLY_KEYWORDS = {"nullable", "example", "discriminator", "xml", "externalDocs", "deprecated", "readOnly",
                         "writeOnly"}


def _widen_enum(schema: dict[str, Any], prop: str, extra: list[str]) -> None:
    schema["properties"][prop]["enum"] = [*schema["properties"][prop]["enum"], *extra]


# schema name -> patch bringing the 2022 schema up to today's contract
SPEC_2022_LAGS: dict[str, Callable[[dict[str, Any]], None]] = {
    "FunctionV1": lambda schema: _widen_enum(schema, "resourceType", INSERT_TYPES),
    "ListFunctionItemV1": lambda schema: _widen_enum(schema, "resourceType", INSERT_TYPES),
    "TrackingPlanV1": lambda schema: _widen_enum(schema, "type", ["ENGAGE"]),
}

# Endpoints not in the 2022 document: list key -> (required fields, optional fields, field types), facts §3.
FIELDS_SINCE_2022: dict[str, tuple[str, set[str], set[str], dict[str, type]]] = {
    "/functions/{functionId}/versions": ("versions", {"id", "code"},
                                         {"author", "isDeployed", "createdAt", "updatedAt", "deployedAt"},
                                         {"isDeployed": bool}),
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
    if not SPEC_PATH.exists():
        pytest.skip(f"the 2022 OpenAPI document is not available at {SPEC_PATH}")
    return yaml.load(SPEC_PATH.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


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


def calls_for(pattern: str, ws: Workspace) -> list[tuple[str, dict[str, Any]]]:
    """Concrete requests covering every item the route can serve (all ids, all function types)."""
    ids = {
        "sourceId": [s["id"] for s in ws.sources], "destinationId": [d["id"] for d in ws.destinations],
        "warehouseId": [w["id"] for w in ws.warehouses], "trackingPlanId": [p["id"] for p in ws.tracking_plans],
        "functionId": [f["id"] for f in ws.functions],
    }
    query = {"pagination.count": 1000}
    param = next((name for name in ids if "{" + name + "}" in pattern), None)
    if pattern == "/functions":
        return [(pattern, {**query, "resourceType": kind}) for kind in ["DESTINATION", "SOURCE", *INSERT_TYPES]]
    if param is None:
        return [(pattern, query)]
    return [(pattern.replace("{" + param + "}", value), query) for value in ids[param]]


def fetch(emulator: Emulator, path: str, query: dict[str, Any], accept: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": accept}
    return requests.get(emulator.base_url + path, params=query, headers=headers, timeout=10)


def first_errors(validator: Any, body: Any) -> list[str]:
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
            for error in list(validator.iter_errors(body))[:3]]


# --- tests ----------------------------------------------------------------------------------------------------


def test_every_emulated_route_is_covered_by_the_spec_or_the_facts_table(spec: dict[str, Any]):
    uncovered = [route.pattern for route in ROUTES
                 if route.pattern not in spec["paths"] and route.pattern not in FIELDS_SINCE_2022]
    assert uncovered == []


@pytest.mark.parametrize("route", [route for route in ROUTES if route.pattern not in FIELDS_SINCE_2022],
                         ids=lambda route: route.operation_id)
def test_200_responses_match_the_2022_schema(spec, schemas, emulator: Emulator, workspace: Workspace, route):
    operation = spec["paths"][route.pattern]["get"]
    assert operation["operationId"] == route.operation_id
    content = operation["responses"]["200"]["content"]
    for media_type, body_schema in content.items():
        validator = validator_for(body_schema["schema"], schemas)
        for path, query in calls_for(route.pattern, workspace):
            response = fetch(emulator, path, query, media_type)
            assert response.status_code == 200, (path, media_type, response.text[:200])
            assert list(response.json()) == ["data"], "the spec's envelope leaves `data` optional; the API does not"
            problems = first_errors(validator, response.json())
            assert not problems, (path, media_type, problems)


@pytest.mark.parametrize("pattern", sorted(FIELDS_SINCE_2022))
def test_endpoints_newer_than_2022_have_the_documented_fields(emulator: Emulator, workspace: Workspace,
                                                              pattern: str):
    list_key, required, optional, types = FIELDS_SINCE_2022[pattern]
    served = 0
    for path, query in calls_for(pattern, workspace):
        body = fetch(emulator, path, query, "application/json").json()
        assert set(body["data"]) == {list_key, "pagination"} and "current" in body["data"]["pagination"]
        for item in body["data"][list_key]:
            assert required <= set(item) <= required | optional, set(item) ^ (required | optional)
            for name, value in item.items():
                assert isinstance(value, types.get(name, str)), (name, value)
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
