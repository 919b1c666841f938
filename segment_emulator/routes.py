"""The route table: every emulated GET endpoint, declared as data.

To add an endpoint, add one line to `ROUTES`: `collection(...)` for lists (list key, items, optional per-item
view, pagination or not, page-size cap), `resource(...)` for single objects, or a `Route` with a custom
handler. Route options cover the API's per-endpoint differences: `versions` (most mature first), `per_minute`
(documented per-endpoint rate limits, facts §1.8), `area` (the permission a token's role needs, see
`permissions.py`), `feature` (the plan feature behind the endpoint) and `owner_only` (kept for compatibility:
only an owner token may call it). Handlers run while the server holds `ws.lock` and return the `data` object.
Special pagination styles and metrics live in `handlers.py` and `metrics.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import unquote

from segment_source import endpoints

from . import audit, errors, handlers as h
from .call import Call
from .lookups import KIND_NAMES, by_id, source_view
from .pagination import MAX_PAGE_SIZE, offset_page, page_request
from .permissions import OWNER
from .versions import ALL_VERSIONS, ALPHA_ONLY, BETA_ALPHA, BETA_ONLY, STABLE_ALPHA, STABLE_ONLY

# the API's enum, as the source's endpoint table declares it (sorted, as the API's messages list it)
FUNCTION_RESOURCE_TYPES = tuple(sorted(endpoints.FUNCTION_RESOURCE_TYPES))
TRACKING_PLAN_TYPES = ("ENGAGE", "LIVE", "PROPERTY_LIBRARY", "RULE_LIBRARY", "TEMPLATE")
# ListFunctionItemV1 is a subset of FunctionV1: no code, settings or deployedAt (facts §3.7).
FUNCTION_LIST_FIELDS = endpoints.FUNCTION_LIST_FIELDS
AUDIENCES_MAX_PAGE_SIZE = 200  # ListAudiencesPaginationInput


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
    area: str | None = None  # permission area (permissions.AREAS); None: any valid token
    feature: str | None = None  # plan feature (permissions.FEATURES) the endpoint needs
    max_count: int | None = None  # page-size cap of the endpoint's pagination input, when it has one
    stateless: bool = False  # handler does not touch the workspace: runs without `ws.lock` (echo's delay)
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(self.pattern))
        object.__setattr__(self, "regex", re.compile(f"^{regex}$"))

    def match(self, path: str) -> dict[str, str] | None:
        found = self.regex.match(path)
        return {name: unquote(value) for name, value in found.groupdict().items()} if found else None

    @property
    def stability(self) -> str:
        """"stable", "beta" or "alpha": the most mature version the endpoint has."""
        return {"v1": "stable", "v1beta": "beta", "v1alpha": "alpha"}[self.versions[0]]

    @property
    def alpha_only(self) -> bool:
        return self.versions == ALPHA_ONLY


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

    return Route(operation_id, pattern, handler, list_key, paginated,
                 max_count=max_count if paginated else None, **options)


def resource(operation_id: str, pattern: str, key: str, get: Callable[[Call], dict[str, Any]], *,
             view: View | None = None, **options: Any) -> Route:
    """A single-object endpoint: `data.<key>`."""
    def handler(call: Call) -> dict[str, Any]:
        item = get(call)
        return {key: view(item, call) if view else item}

    return Route(operation_id, pattern, handler, **options)


# --- lookups and views (defined in `lookups.py`, shared with `handlers.py`) -------------------------------------


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


# --- the table ------------------------------------------------------------------------------------------------
# Areas: who may call (permissions.py). Features: what the plan must include. Most mature version first.

_SRC = dict(area="sources")
_DST = dict(area="destinations")
_WH = dict(area="warehouses")
_TP = dict(area="tracking_plans", feature="protocols")
_FN = dict(area="functions", feature="functions")
_IAM = dict(area="iam")
_ENG = dict(area="engage", feature="engage")
_RETL = dict(area="reverse_etl", feature="reverse_etl", versions=ALPHA_ONLY)
_PRIV = dict(area="privacy")
_CAT = dict(area="catalog")
_USE = dict(area="usage")
_DO = dict(area="metrics", versions=BETA_ONLY)

ROUTES: tuple[Route, ...] = (
    # workspace, sources
    resource("getWorkspace", "/", "workspace", lambda call: call.ws.workspace, area="workspace"),
    Route("echo", "/echo", h.echo, versions=STABLE_ALPHA, area="workspace", stateless=True),
    collection("listSources", "/sources", "sources", lambda call: call.ws.sources, view=source_view, **_SRC),
    Route("getSource", "/sources/{sourceId}", get_source, **_SRC),
    collection("listConnectedDestinationsFromSource", "/sources/{sourceId}/connected-destinations", "destinations",
               connected_destinations, **_SRC),
    collection("listConnectedWarehousesFromSource", "/sources/{sourceId}/connected-warehouses", "warehouses",
               connected_warehouses, **_SRC),
    Route("listSchemaSettingsInSource", "/sources/{sourceId}/settings", h.source_schema_settings, **_TP),
    resource("getLatestFromLivePlugins", "/sources/{sourceId}/live-plugins/latest", "livePlugin", h.live_plugin,
             versions=ALPHA_ONLY, area="sources", feature="live_plugins"),
    # destinations
    collection("listDestinations", "/destinations", "destinations", lambda call: call.ws.destinations, **_DST),
    resource("getDestination", "/destinations/{destinationId}", "destination", by_id("destinations", "destinationId"),
             **_DST),
    collection("listFiltersFromDestination", "/destination/{destinationId}/filters", "filters",
               h.destination_filters, **_DST),
    resource("getFilterInDestination", "/destination/{destinationId}/filters/{filterId}", "filter",
             h.destination_filter, **_DST),
    collection("listSubscriptionsFromDestination", "/destinations/{destinationId}/subscriptions", "subscriptions",
               h.destination_subscriptions, versions=ALPHA_ONLY, **_DST),
    resource("getSubscriptionFromDestination", "/destinations/{destinationId}/subscriptions/{id}", "subscription",
             h.destination_subscription, versions=ALPHA_ONLY, **_DST),
    Route("listDeliveryMetricsSummaryFromDestination", "/destinations/{destinationId}/delivery-metrics",
          h.delivery_metrics_summary, versions=BETA_ALPHA, area="metrics"),
    # warehouses
    collection("listWarehouses", "/warehouses", "warehouses", lambda call: call.ws.warehouses, **_WH),
    resource("getWarehouse", "/warehouses/{warehouseId}", "warehouse", by_id("warehouses", "warehouseId"), **_WH),
    collection("listConnectedSourcesFromWarehouse", "/warehouses/{warehouseId}/connected-sources", "sources",
               warehouse_sources, view=source_view, **_WH),
    Route("getConnectionStateFromWarehouse", "/warehouses/{warehouseId}/connection-state", h.connection_state,
          per_minute=200, **_WH),
    collection("listSelectiveSyncsFromWarehouseAndSource",
               "/warehouses/{warehouseId}/connected-sources/{sourceId}/selective-syncs", "items", h.selective_syncs,
               per_minute=2, **_WH),
    Route("getAdvancedSyncScheduleFromWarehouse", "/warehouses/{warehouseId}/advanced-sync-schedule",
          h.advanced_sync_schedule, per_minute=2, **_WH),
    collection("listSyncsFromWarehouse", "/warehouses/{warehouseId}/syncs", "reports", h.warehouse_syncs,
               per_minute=2, **_WH),
    collection("listSyncsFromWarehouseAndSource", "/warehouses/{warehouseId}/connected-sources/{sourceId}/syncs",
               "reports", h.warehouse_source_syncs, per_minute=2, **_WH),
    # protocols
    collection("listTrackingPlans", "/tracking-plans", "trackingPlans", tracking_plans, **_TP),
    resource("getTrackingPlan", "/tracking-plans/{trackingPlanId}", "trackingPlan",
             by_id("tracking_plans", "trackingPlanId"), **_TP),
    collection("listRulesFromTrackingPlan", "/tracking-plans/{trackingPlanId}/rules", "rules", tracking_plan_rules,
               per_minute=200, **_TP),
    collection("listSourcesFromTrackingPlan", "/tracking-plans/{trackingPlanId}/sources", "sources",
               tracking_plan_sources, view=source_view, **_TP),
    collection("listTransformations", "/transformations", "transformations", lambda call: call.ws.transformations,
               area="transformations", feature="protocols"),
    resource("getTransformation", "/transformations/{transformationId}", "transformation",
             by_id("transformations", "transformationId"), area="transformations", feature="protocols"),
    # functions
    collection("listFunctions", "/functions", "functions", functions, view=function_list_item, **_FN),
    resource("getFunction", "/functions/{functionId}", "function", by_id("functions", "functionId"), **_FN),
    collection("listFunctionVersions", "/functions/{functionId}/versions", "versions", function_versions,
               versions=ALPHA_ONLY, **_FN),
    resource("getFunctionVersion", "/functions/{functionId}/versions/{versionId}", "version", h.function_version,
             versions=ALPHA_ONLY, **_FN),
    collection("listInsertFunctionInstances", "/insert-function-instances", "instances", h.insert_instances,
               versions=ALPHA_ONLY, **_FN),
    resource("getInsertFunctionInstance", "/insert-function-instances/{instanceId}", "insertFunctionInstance",
             by_id("insert_function_instances", "instanceId"), versions=ALPHA_ONLY, **_FN),
    # labels, IAM
    collection("listLabels", "/labels", "labels", lambda call: call.ws.labels, paginated=False, area="labels"),
    collection("listUsers", "/users", "users", lambda call: call.ws.users, **_IAM),
    resource("getUser", "/users/{userId}", "user", by_id("users", "userId"), **_IAM),
    collection("listUserGroupsFromUser", "/users/{userId}/groups", "groups", h.groups_of_user, **_IAM),
    collection("listUserGroups", "/groups", "userGroups", lambda call: call.ws.user_groups, view=h.group_view,
               **_IAM),
    resource("getUserGroup", "/groups/{userGroupId}", "userGroup", by_id("user_groups", "userGroupId"),
             view=h.group_view, **_IAM),
    collection("listUsersFromUserGroup", "/groups/{userGroupId}/users", "users", h.users_of_group, **_IAM),
    collection("listInvitesFromUserGroup", "/groups/{userGroupId}/invites", "emails", h.invites_of_group, **_IAM),
    collection("listRoles", "/roles", "roles", lambda call: call.ws.roles, **_IAM),
    collection("listInvites", "/invites", "invites", lambda call: call.ws.invites, **_IAM),
    # credentials: stable only
    collection("listCredentials", "/credentials", "credentials", lambda call: call.ws.credentials,
               versions=STABLE_ONLY, area="credentials"),
    resource("getCredential", "/credentials/{credentialId}", "credential", by_id("credentials", "credentialId"),
             versions=STABLE_ONLY, area="credentials"),
    Route("listCredentialConsumers", "/credentials/{credentialId}/consumers", h.credential_consumers,
          list_key="warehouses", paginated=True, versions=STABLE_ONLY, area="credentials", max_count=MAX_PAGE_SIZE),
    # reverse ETL
    collection("listReverseEtlModels", "/reverse-etl-models", "models", lambda call: call.ws.reverse_etl_models,
               **_RETL),
    resource("getReverseEtlModel", "/reverse-etl-models/{modelId}", "reverseEtlModel",
             by_id("reverse_etl_models", "modelId"), **_RETL),
    Route("listReverseETLSyncStatusesFromModelAndSubscriptionId",
          "/reverse-etl-models/{modelId}/subscriptionId/{subscriptionId}/syncs", h.retl_sync_statuses,
          list_key="syncStatuses", paginated=True, max_count=h.RETL_MAX_COUNT, **_RETL),
    resource("getReverseETLSyncStatus", "/reverse-etl-models/{modelId}/syncs/{syncId}", "reverseETLSyncStatus",
             h.retl_sync_status, per_minute=250, **_RETL),
    # engage
    collection("listSpaces", "/spaces", "spaces", lambda call: call.ws.spaces, versions=ALPHA_ONLY, **_ENG),
    resource("getSpace", "/spaces/{spaceId}", "space", by_id("spaces", "spaceId"), versions=ALPHA_ONLY, **_ENG),
    collection("listAudiences", "/spaces/{spaceId}/audiences", "audiences", h.audiences, view=h.audience_view,
               max_count=AUDIENCES_MAX_PAGE_SIZE, per_minute=60, **_ENG),
    resource("getAudience", "/spaces/{spaceId}/audiences/{id}", "audience", h.audience("id"), view=h.audience_view,
             per_minute=100, **_ENG),
    collection("listAudienceSchedulesFromSpaceAndAudience", "/spaces/{spaceId}/audiences/{id}/schedules",
               "audienceSchedules", h.audience_schedules, paginated=False, versions=STABLE_ALPHA, **_ENG),
    resource("getAudienceScheduleFromSpaceAndAudience", "/spaces/{spaceId}/audiences/{id}/schedules/{scheduleId}",
             "audienceSchedule", h.audience_schedule, versions=STABLE_ALPHA, **_ENG),
    collection("listActivationsFromAudience", "/spaces/{spaceId}/audiences/{audienceId}/activations",
               "activations", h.activations, versions=ALPHA_ONLY, per_minute=60, **_ENG),
    resource("getActivationFromAudience", "/spaces/{spaceId}/audiences/{audienceId}/activations/{id}",
             "activation", h.activation, versions=ALPHA_ONLY, per_minute=60, **_ENG),
    collection("listDestinationsFromAudience", "/spaces/{spaceId}/audiences/{audienceId}/destination-connections",
               "connections", h.audience_connections, versions=ALPHA_ONLY, per_minute=50, **_ENG),
    collection("listAudienceConsumersFromSpaceAndAudience", "/spaces/{spaceId}/audiences/{id}/audience-references",
               "audiences", h.audience_consumers, view=h.audience_summary, versions=ALPHA_ONLY, per_minute=25,
               **_ENG),
    collection("listComputedTraits", "/spaces/{spaceId}/computed-traits", "computedTraits", h.computed_traits,
               versions=ALPHA_ONLY, per_minute=25, **_ENG),
    resource("getComputedTrait", "/spaces/{spaceId}/computed-traits/{id}", "computedTrait", h.computed_trait,
             versions=ALPHA_ONLY, per_minute=100, **_ENG),
    collection("listProfilesWarehouseInSpace", "/spaces/{spaceId}/profiles-warehouses", "profilesWarehouses",
               h.profiles_warehouses, versions=ALPHA_ONLY, area="engage", feature="profiles_sync"),
    Route("listSelectiveSyncsFromWarehouseAndSpace",
          "/spaces/{spaceId}/profiles-warehouses/{warehouseId}/selective-syncs", h.profiles_selective_syncs,
          list_key="items", paginated=True, versions=ALPHA_ONLY, area="engage", feature="profiles_sync",
          max_count=MAX_PAGE_SIZE),
    collection("listEvents", "/spaces/{spaceId}/events", "events", h.space_events, versions=ALPHA_ONLY,
               per_minute=25, **_ENG),
    Route("listTraits", "/spaces/{spaceId}/traits", h.space_traits, list_key="traits", paginated=True,
          versions=ALPHA_ONLY, per_minute=25, max_count=MAX_PAGE_SIZE, **_ENG),
    Route("listFiltersForSpace", "/filters", h.space_filters, list_key="filters", paginated=True,
          versions=BETA_ALPHA, max_count=h.SPACE_FILTERS_MAX_COUNT, **_ENG),
    resource("getFilterById", "/filters/{id}", "filter", by_id("space_filters", "id"), versions=BETA_ALPHA, **_ENG),
    # privacy
    collection("listWorkspaceRegulations", "/regulations", "regulations", h.workspace_regulations, **_PRIV),
    Route("listRegulationsFromSource", "/regulations/sources/{sourceId}", h.source_regulations,
          list_key="regulations", max_count=MAX_PAGE_SIZE, **_PRIV),
    resource("getRegulation", "/regulations/{regulateId}", "regulation", h.regulation, **_PRIV),
    Route("listSuppressions", "/suppressions", h.suppressions, list_key="suppressed", paginated=True,
          max_count=MAX_PAGE_SIZE, **_PRIV),
    # catalog
    collection("getSourcesCatalog", "/catalog/sources", "sourcesCatalog", lambda call: call.ws.catalog_sources,
               **_CAT),
    resource("getSourceMetadata", "/catalog/sources/{sourceMetadataId}", "sourceMetadata",
             by_id("catalog_sources", "sourceMetadataId"), **_CAT),
    collection("getDestinationsCatalog", "/catalog/destinations", "destinationsCatalog",
               lambda call: call.ws.catalog_destinations, **_CAT),
    resource("getDestinationMetadata", "/catalog/destinations/{destinationMetadataId}", "destinationMetadata",
             by_id("catalog_destinations", "destinationMetadataId"), **_CAT),
    collection("getWarehousesCatalog", "/catalog/warehouses", "warehousesCatalog",
               lambda call: call.ws.catalog_warehouses, **_CAT),
    resource("getWarehouseMetadata", "/catalog/warehouses/{warehouseMetadataId}", "warehouseMetadata",
             by_id("catalog_warehouses", "warehouseMetadataId"), **_CAT),
    # usage and metrics
    collection("getDailyWorkspaceAPICallsUsage", "/usage/api-calls/daily", "dailyWorkspaceAPICallsUsage",
               h.usage("api-calls"), **_USE),
    collection("getDailyPerSourceAPICallsUsage", "/usage/api-calls/sources/daily", "dailyPerSourceAPICallsUsage",
               h.usage("api-calls-sources"), **_USE),
    collection("getDailyWorkspaceMTUUsage", "/usage/mtu/daily", "dailyWorkspaceMTUUsage", h.usage("mtu"), **_USE),
    collection("getDailyPerSourceMTUUsage", "/usage/mtu/sources/daily", "dailyPerSourceMTUUsage",
               h.usage("mtu-sources"), **_USE),
    Route("getEventsVolumeFromWorkspace", "/events/volume", h.events_volume, list_key="result", paginated=True,
          per_minute=60, area="metrics", max_count=MAX_PAGE_SIZE),
    Route("getEgressFailedMetricsFromDeliveryOverview", "/delivery-overview/failed-delivery",
          h.delivery_overview("failed-delivery"), list_key="dataset", paginated=True, max_count=MAX_PAGE_SIZE, **_DO),
    Route("getEgressSuccessMetricsFromDeliveryOverview", "/delivery-overview/successful-delivery",
          h.delivery_overview("successful-delivery"), list_key="dataset", paginated=True, max_count=MAX_PAGE_SIZE,
          **_DO),
    Route("getFilteredAtDestinationMetricsFromDeliveryOverview", "/delivery-overview/filtered-at-destination",
          h.delivery_overview("filtered-at-destination"), list_key="dataset", paginated=True,
          max_count=MAX_PAGE_SIZE, **_DO),
    Route("getFilteredAtSourceMetricsFromDeliveryOverview", "/delivery-overview/filtered-at-source",
          h.delivery_overview("filtered-at-source"), list_key="dataset", paginated=True, max_count=MAX_PAGE_SIZE,
          **_DO),
    Route("getIngressFailedMetricsFromDeliveryOverview", "/delivery-overview/failed-on-ingest",
          h.delivery_overview("failed-on-ingest"), list_key="dataset", paginated=True, max_count=MAX_PAGE_SIZE, **_DO),
    Route("getIngressSuccessMetricsFromDeliveryOverview", "/delivery-overview/successfully-received",
          h.delivery_overview("successfully-received"), list_key="dataset", paginated=True, max_count=MAX_PAGE_SIZE,
          **_DO),
    # audit trail
    Route("listAuditEvents", "/audit-events", audit_events, list_key="events", paginated=True, area="audit",
          feature="audit_trail", max_count=MAX_PAGE_SIZE),
)


def find_route(path: str, routes: tuple[Route, ...] = ROUTES) -> tuple[Route, dict[str, str]]:
    for route in routes:
        params = route.match(path)
        if params is not None:
            return route, params
    raise errors.unknown_path(path)


def route_table(routes: tuple[Route, ...] = ROUTES) -> list[dict[str, Any]]:
    """The table as plain data (for docs and the pipeline's endpoint table): one dict per route."""
    return [{"operationId": route.operation_id, "path": route.pattern, "listKey": route.list_key,
             "paginated": route.paginated, "stability": route.stability, "versions": list(route.versions),
             "maxCount": route.max_count, "perMinute": route.per_minute, "area": route.area,
             "feature": route.feature} for route in routes]


__all__ = ["AUDIENCES_MAX_PAGE_SIZE", "Call", "FUNCTION_LIST_FIELDS", "FUNCTION_RESOURCE_TYPES", "KIND_NAMES",
           "OWNER", "ROUTES", "Route", "TRACKING_PLAN_TYPES", "by_id", "collection", "find_route",
           "resource", "route_table", "source_view"]
