"""Concrete requests for every route of the table, built from a workspace: handy for tests, smoke checks and
for writing a client's endpoint table (`python -m segment_emulator --routes` prints the table itself).

    for path, params in example_requests(ws, route):
        requests.get(base_url + path, params=params, headers=...)

`example_requests(ws, route)` gives one representative request (the first parent that has children, so list
endpoints return items); `every=True` gives one request per parent (capped by `limit`).
"""

from __future__ import annotations

from datetime import timedelta
from itertools import islice
from typing import Any, Iterator
from urllib.parse import quote

from .ids import iso, utcnow
from .metrics import retl_syncs
from .routes import ROUTES, Route
from .workspace import Workspace

Request = tuple[str, dict[str, Any]]


def _fill(pattern: str, **values: str) -> str:
    path = pattern
    for name, value in values.items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    return path


def _first_with(items: list[dict], has: Any) -> list[dict]:
    """Items that have children first, so a single example is not an empty list."""
    return sorted(items, key=lambda item: not has(item))


def _params(ws: Workspace, route: Route) -> Iterator[dict[str, str]]:
    """Path parameter combinations for a route, the most interesting first."""
    pattern = route.pattern
    if "{userGroupId}" in pattern:
        for group in _first_with(ws.user_groups, lambda g: ws.group_members.get(g["id"]) or
                                 ws.group_invites.get(g["id"])):
            yield {"userGroupId": group["id"]}
    elif "{userId}" in pattern:
        for user in _first_with(ws.users, lambda u: ws.groups_of(u["id"])):
            yield {"userId": user["id"]}
    elif "{filterId}" in pattern:
        for item in ws.destination_filters:
            yield {"destinationId": item["destinationId"], "filterId": item["id"]}
    elif pattern.startswith("/destinations/{destinationId}/subscriptions/{id}"):
        for item in ws.destination_subscriptions:
            yield {"destinationId": item["destinationId"], "id": item["id"]}
    elif pattern.startswith("/destinations/{destinationId}/subscriptions"):
        for destination in _first_with(ws.destinations, lambda d: ws.subscriptions_of(d["id"])):
            yield {"destinationId": destination["id"]}
    elif pattern.startswith("/destination/{destinationId}/filters"):
        for destination in _first_with(ws.destinations, lambda d: ws.filters_of(d["id"])):
            yield {"destinationId": destination["id"]}
    elif "{warehouseId}" in pattern and "{sourceId}" in pattern:
        for source_id, warehouse_id in ws.source_warehouses:
            yield {"warehouseId": warehouse_id, "sourceId": source_id}
    elif pattern.startswith("/spaces/{spaceId}/profiles-warehouses/{warehouseId}"):
        for item in ws.profiles_warehouses:
            yield {"spaceId": item["spaceId"], "warehouseId": item["id"]}
    elif "{scheduleId}" in pattern:
        for audience_id, schedules in ws.audience_schedules.items():
            for schedule in schedules:
                audience = ws.find("audiences", audience_id)
                yield {"spaceId": audience["spaceId"], "id": audience_id, "scheduleId": schedule["id"]}
    elif pattern.endswith("/activations/{id}"):
        for item in ws.activations:
            yield {"spaceId": item["spaceId"], "audienceId": item["audienceId"], "id": item["id"]}
    elif "{audienceId}" in pattern or pattern.startswith("/spaces/{spaceId}/audiences/{id}"):
        name = "audienceId" if "{audienceId}" in pattern else "id"

        def rich(audience: dict) -> Any:
            return (ws.activations_of(audience["id"]) or ws.audience_schedules.get(audience["id"])
                    or ws.audience_connections.get(audience["id"]) or ws.audience_consumers(audience))
        for audience in _first_with(ws.audiences, rich):
            yield {"spaceId": audience["spaceId"], name: audience["id"]}
    elif pattern.startswith("/spaces/{spaceId}/computed-traits/{id}"):
        for item in ws.computed_traits:
            yield {"spaceId": item["spaceId"], "id": item["id"]}
    elif "{spaceId}" in pattern:
        for space in _first_with(ws.spaces, lambda s: ws.profiles_warehouses_of(s["id"])):
            yield {"spaceId": space["id"]}
    elif "{versionId}" in pattern:
        for function_id, versions in ws.function_versions.items():
            for version in versions:
                yield {"functionId": function_id, "versionId": version["id"]}
    elif "{syncId}" in pattern:
        yield from _retl_sync_ids(ws)
    elif "{subscriptionId}" in pattern:
        for item in ws.destination_subscriptions:
            if item.get("modelId"):
                yield {"modelId": item["modelId"], "subscriptionId": item["id"]}
    elif "{credentialId}" in pattern:
        for credential in _first_with(ws.credentials, lambda c: any(ws.credential_consumers[c["id"]].values())):
            yield {"credentialId": credential["id"]}
    elif "{sourceId}" in pattern:
        def has(source: dict) -> Any:
            return (source["id"] in ws.live_plugins if "live-plugins" in pattern else
                    ws.regulations_of_source(source["id"]) if pattern.startswith("/regulations") else
                    ws.destinations_of(source["id"]) or ws.warehouses_of(source["id"]))
        sources = [s for s in ws.sources if s["id"] in ws.live_plugins] if "live-plugins" in pattern else ws.sources
        for source in _first_with(sources, has):
            yield {"sourceId": source["id"]}
    else:
        single = {"{destinationId}": ("destinationId", ws.destinations), "{warehouseId}": ("warehouseId",
                                                                                         ws.warehouses),
                  "{trackingPlanId}": ("trackingPlanId", ws.tracking_plans),
                  "{functionId}": ("functionId", ws.functions),
                  "{transformationId}": ("transformationId", ws.transformations),
                  "{modelId}": ("modelId", ws.reverse_etl_models),
                  "{instanceId}": ("instanceId", ws.insert_function_instances),
                  "{regulateId}": ("regulateId", _retained_regulations(ws)),
                  "{sourceMetadataId}": ("sourceMetadataId", ws.catalog_sources),
                  "{destinationMetadataId}": ("destinationMetadataId", ws.catalog_destinations),
                  "{warehouseMetadataId}": ("warehouseMetadataId", ws.catalog_warehouses),
                  "/filters/{id}": ("id", ws.space_filters)}
        for marker, (name, items) in single.items():
            if marker in pattern:
                for item in items:
                    yield {name: item["id"]}
                return
        yield {}


def _retained_regulations(ws: Workspace) -> list[dict]:
    oldest = iso(utcnow() - timedelta(days=90))
    return [item for item in ws.regulations if item["createdAt"] >= oldest]


def _retl_sync_ids(ws: Workspace) -> Iterator[dict[str, str]]:
    for subscription in ws.destination_subscriptions:
        model = ws.find("reverse_etl_models", subscription.get("modelId") or "")
        if model:
            for status in retl_syncs(ws, model, subscription)[:3]:
                yield {"modelId": model["id"], "syncId": status["syncId"]}


def _query(ws: Workspace, route: Route, values: dict[str, str]) -> dict[str, Any]:
    """Required query parameters (and a full page) for the route."""
    now = utcnow().replace(second=0, microsecond=0)
    query: dict[str, Any] = {}
    if route.paginated and route.max_count and route.operation_id not in (
            "listReverseETLSyncStatusesFromModelAndSubscriptionId", "listFiltersForSpace", "listCredentialConsumers"):
        query["pagination.count"] = route.max_count
    pattern = route.pattern
    if pattern == "/functions":
        query["resourceType"] = "SOURCE"
    elif pattern == "/insert-function-instances":
        function = next((f for f in ws.functions if ws.instances_of(f["id"])),
                        next((f for f in ws.functions if f["resourceType"].startswith("INSERT_")), None))
        query["functionId"] = function["id"] if function else "none"
    elif pattern.startswith("/usage/"):
        query["period"] = now.date().replace(day=1).isoformat()
    elif pattern == "/events/volume":
        query.update(granularity="HOUR", startTime=iso(now - timedelta(days=1)), endTime=iso(now))
    elif pattern.startswith("/delivery-overview/"):
        destination = next((d for d in ws.destinations if d["enabled"]), ws.destinations[0])
        query.update(sourceId=destination["sourceId"], granularity="HOUR", startTime=iso(now - timedelta(days=1)),
                     endTime=iso(now))
        if pattern.split("/")[-1] in ("failed-delivery", "successful-delivery", "filtered-at-destination"):
            query["destinationConfigId"] = destination["id"]
    elif pattern.endswith("/delivery-metrics"):
        destination = ws.find("destinations", values["destinationId"])
        query["sourceId"] = destination["sourceId"]
    elif pattern == "/filters":
        space = next((s for s in ws.spaces if ws.space_filters_of(s["id"])), ws.spaces[0] if ws.spaces else None)
        query["integrationId"] = space["id"] if space else "none"
    elif pattern == "/echo":
        query["message"] = "hello"
    return query


def example_requests(ws: Workspace, route: Route, every: bool = False, limit: int = 50) -> list[Request]:
    """(path, query) pairs that answer 200 for an owner token on a full-featured emulator."""
    combos = list(islice(_params(ws, route), limit if every else 1)) or [{}]
    return [(_fill(route.pattern, **values), _query(ws, route, values)) for values in combos]


def all_example_requests(ws: Workspace, routes: tuple[Route, ...] = ROUTES) -> list[tuple[Route, str, dict]]:
    return [(route, path, query) for route in routes for path, query in example_requests(ws, route)]
