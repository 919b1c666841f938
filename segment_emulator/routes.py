"""The route table: every emulated GET endpoint, declared as data.

To add an endpoint, add one line to `ROUTES`: `collection(...)` for lists (list key, items, optional per-item
view, pagination or not), `resource(...)` for single objects, or a `Route` with a custom handler. Route options
cover the API's per-endpoint differences: `versions` (most mature first), `per_minute` (documented
per-endpoint rate limits, facts §1.8) and `owner_only` (endpoints a limited Workspace Member token may not use).
Handlers run while the server holds `ws.lock` and return the `data` object of the response.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import unquote

from . import audit, errors
from .pagination import MAX_PAGE_SIZE, Query, offset_page, page_request
from .versions import ALL_VERSIONS, ALPHA_ONLY
from .workspace import Workspace

OWNER, MEMBER = "owner", "member"
FUNCTION_RESOURCE_TYPES = ("DESTINATION", "INSERT_DESTINATION", "INSERT_SOURCE", "INSERT_TRANSFORMATION", "SOURCE")
TRACKING_PLAN_TYPES = ("ENGAGE", "LIVE", "PROPERTY_LIBRARY", "RULE_LIBRARY", "TEMPLATE")
# ListFunctionItemV1 is a subset of FunctionV1: no code, settings or deployedAt (facts §3.7).
FUNCTION_LIST_FIELDS = ("id", "resourceType", "createdAt", "createdBy", "displayName", "description", "logoUrl",
                        "catalogId", "workspaceId")


@dataclass
class Call:
    """One request as a handler sees it."""

    ws: Workspace
    params: dict[str, str]
    query: Query
    role: str
    last_page_next: str

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


Handler = Callable[[Call], dict[str, Any]]
View = Callable[[dict[str, Any], Call], dict[str, Any]]


@dataclass(frozen=True)
class Route:
    operation_id: str
    pattern: str  # "/sources/{sourceId}"
    handler: Handler
    list_key: str | None = None
    paginated: bool = False
    versions: tuple[str, ...] = ALL_VERSIONS
    per_minute: int | None = None
    owner_only: bool = False
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(self.pattern))
        object.__setattr__(self, "regex", re.compile(f"^{regex}$"))

    def match(self, path: str) -> dict[str, str] | None:
        found = self.regex.match(path)
        return {name: unquote(value) for name, value in found.groupdict().items()} if found else None


def collection(operation_id: str, pattern: str, list_key: str, items: Callable[[Call], list[dict[str, Any]]], *,
               view: View | None = None, paginated: bool = True, max_count: int = MAX_PAGE_SIZE,
               **options: Any) -> Route:
    """A list endpoint: `data.<list_key>` plus, when paginated, `data.pagination`."""
    def handler(call: Call) -> dict[str, Any]:
        everything = items(call)
        if not paginated:
            return {list_key: [view(item, call) for item in everything] if view else list(everything)}
        page, pagination = offset_page(everything, page_request(call.query, max_count=max_count), call.last_page_next)
        return {list_key: [view(item, call) for item in page] if view else page, "pagination": pagination}

    return Route(operation_id, pattern, handler, list_key, paginated, **options)


def resource(operation_id: str, pattern: str, key: str, get: Callable[[Call], dict[str, Any]], *,
             view: View | None = None, **options: Any) -> Route:
    """A single-object endpoint: `data.<key>`."""
    def handler(call: Call) -> dict[str, Any]:
        item = get(call)
        return {key: view(item, call) if view else item}

    return Route(operation_id, pattern, handler, **options)


# --- lookups and views ----------------------------------------------------------------------------------------

KIND_NAMES = {"sources": "Source", "destinations": "Destination", "warehouses": "Warehouse",
              "tracking_plans": "Tracking Plan", "functions": "Function"}


def by_id(collection_name: str, param: str) -> Callable[[Call], dict[str, Any]]:
    """Fetch the path's `{param}` from a collection, or answer 404 in the API's words."""
    def get(call: Call) -> dict[str, Any]:
        item = call.ws.find(collection_name, call.params[param])
        if item is None:
            raise errors.not_found(KIND_NAMES[collection_name], call.params[param])
        return item

    return get


def source_view(source: dict[str, Any], call: Call) -> dict[str, Any]:
    """Write keys are credentials: a token without Source Admin sees an empty list."""
    return source if call.role == OWNER else {**source, "writeKeys": []}


def function_list_item(function: dict[str, Any], call: Call) -> dict[str, Any]:
    return {name: function[name] for name in FUNCTION_LIST_FIELDS if name in function}


def _enum_arg(call: Call, name: str, allowed: tuple[str, ...], required: bool) -> str | None:
    value = call.arg(name)
    if value in (None, ""):
        if required:
            raise errors.validation(name, f"{name} is required; one of {', '.join(allowed)}")
        return None
    if value not in allowed:
        raise errors.validation(name, f"{name} must be one of {', '.join(allowed)}")
    return value


# --- handlers that need more than a lookup --------------------------------------------------------------------


def get_source(call: Call) -> dict[str, Any]:
    source = by_id("sources", "sourceId")(call)
    return {"source": source_view(source, call), "trackingPlanId": call.ws.source_tracking_plan.get(source["id"])}


def connected_destinations(call: Call) -> list[dict[str, Any]]:
    return call.ws.destinations_of(by_id("sources", "sourceId")(call)["id"])


def connected_warehouses(call: Call) -> list[dict[str, Any]]:
    return call.ws.warehouses_of(by_id("sources", "sourceId")(call)["id"])


def warehouse_sources(call: Call) -> list[dict[str, Any]]:
    return call.ws.sources_of_warehouse(by_id("warehouses", "warehouseId")(call)["id"])


def tracking_plans(call: Call) -> list[dict[str, Any]]:
    plan_type = _enum_arg(call, "type", TRACKING_PLAN_TYPES, required=False)
    plans = call.ws.tracking_plans
    return plans if plan_type is None else [plan for plan in plans if plan["type"] == plan_type]


def tracking_plan_rules(call: Call) -> list[dict[str, Any]]:
    return call.ws.rules.get(by_id("tracking_plans", "trackingPlanId")(call)["id"], [])


def tracking_plan_sources(call: Call) -> list[dict[str, Any]]:
    return call.ws.sources_of_plan(by_id("tracking_plans", "trackingPlanId")(call)["id"])


def functions(call: Call) -> list[dict[str, Any]]:
    return call.ws.functions_of_type(_enum_arg(call, "resourceType", FUNCTION_RESOURCE_TYPES, required=True))


def function_versions(call: Call) -> list[dict[str, Any]]:
    return call.ws.function_versions.get(by_id("functions", "functionId")(call)["id"], [])


def audit_events(call: Call) -> dict[str, Any]:
    return audit.list_audit_events(call.ws.audit_events, call.query, call.last_page_next)


ROUTES: tuple[Route, ...] = (
    resource("getWorkspace", "/", "workspace", lambda call: call.ws.workspace),
    collection("listSources", "/sources", "sources", lambda call: call.ws.sources, view=source_view),
    Route("getSource", "/sources/{sourceId}", get_source),
    collection("listConnectedDestinationsFromSource", "/sources/{sourceId}/connected-destinations", "destinations",
               connected_destinations),
    collection("listConnectedWarehousesFromSource", "/sources/{sourceId}/connected-warehouses", "warehouses",
               connected_warehouses),
    collection("listDestinations", "/destinations", "destinations", lambda call: call.ws.destinations),
    resource("getDestination", "/destinations/{destinationId}", "destination", by_id("destinations", "destinationId")),
    collection("listWarehouses", "/warehouses", "warehouses", lambda call: call.ws.warehouses),
    resource("getWarehouse", "/warehouses/{warehouseId}", "warehouse", by_id("warehouses", "warehouseId")),
    collection("listConnectedSourcesFromWarehouse", "/warehouses/{warehouseId}/connected-sources", "sources",
               warehouse_sources, view=source_view),
    collection("listTrackingPlans", "/tracking-plans", "trackingPlans", tracking_plans),
    resource("getTrackingPlan", "/tracking-plans/{trackingPlanId}", "trackingPlan",
             by_id("tracking_plans", "trackingPlanId")),
    collection("listRulesFromTrackingPlan", "/tracking-plans/{trackingPlanId}/rules", "rules", tracking_plan_rules,
               per_minute=200),
    collection("listSourcesFromTrackingPlan", "/tracking-plans/{trackingPlanId}/sources", "sources",
               tracking_plan_sources, view=source_view),
    collection("listFunctions", "/functions", "functions", functions, view=function_list_item, owner_only=True),
    resource("getFunction", "/functions/{functionId}", "function", by_id("functions", "functionId"),
             owner_only=True),
    collection("listFunctionVersions", "/functions/{functionId}/versions", "versions", function_versions,
               versions=ALPHA_ONLY, owner_only=True),
    collection("listLabels", "/labels", "labels", lambda call: call.ws.labels, paginated=False),
    Route("listAuditEvents", "/audit-events", audit_events, list_key="events", paginated=True, owner_only=True),
)


def find_route(path: str, routes: tuple[Route, ...] = ROUTES) -> tuple[Route, dict[str, str]]:
    for route in routes:
        params = route.match(path)
        if params is not None:
            return route, params
    raise errors.unknown_path(path)
