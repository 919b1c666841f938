"""Every resource this source reads, declared as data: one `Endpoint` per API list (or object).

The source turns this table into a dlt REST API (`RESTAPIConfig`) declaration; nothing else in the
repository knows paths, list keys, versions or audit-trail resource types. An endpoint also says how a
change-driven run reads it: one item by id (`by_id`), which audit events name it (`audit_types`), and
which rows go with a resource when it is deleted (`refers_to`). Rows without an id of their own get a
`record_key` built from `key` (e.g. a rule is identified by tracking plan, type, event name and version).

A child endpoint's path names fields of its parent's rows in braces: `tracking-plans/{id}/rules` is read
once per tracking plan. Groups switch whole areas on and off; within a group, endpoints that are slow
(per-endpoint limits of 2 or 25 requests a minute) or have side effects are off unless named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

FUNCTION_RESOURCE_TYPES = ("SOURCE", "DESTINATION", "INSERT_SOURCE", "INSERT_DESTINATION", "INSERT_TRANSFORMATION")
INSERT_FUNCTION_TYPES = ("INSERT_SOURCE", "INSERT_DESTINATION", "INSERT_TRANSFORMATION")
# ListFunctionItemV1: what `GET /functions` shows of a function (no code, settings or deployedAt)
FUNCTION_LIST_FIELDS = ("id", "resourceType", "createdAt", "createdBy", "displayName", "description", "logoUrl",
                        "catalogId", "workspaceId")

GROUPS = ("core", "iam", "engage", "reverse_etl", "privacy", "catalog", "metrics")
GROUPS_ON_BY_DEFAULT = ("core", "iam", "engage", "reverse_etl", "privacy")
WORKSPACE_TABLE = "workspace"

PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class ById:
    """How one item of a top-level list is read on its own: `GET /<path>` answers `data.<object_key>`
    (404: the item was deleted)."""

    path: str  # "sources/{id}"
    object_key: str
    # the fields the list shows of an item, when the list shows less than the item read by id
    list_fields: Tuple[str, ...] = ()
    # list parameters that are fields of the item: an item read by id belongs to the list whose parameter
    # it matches (a function belongs to the list of its `resourceType`)
    matches_params: Tuple[str, ...] = ()

    def url_path(self, resource_id: str) -> str:
        return self.path.format(id=resource_id)


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    # key of the item list under `data`; for single objects, the object's key ("" = `data` itself)
    list_key: str
    table: str = ""
    parent: Optional[str] = None
    # parent field -> column on the child row, e.g. {"id": "tracking_plan_id"}
    parent_fields: Dict[str, str] = field(default_factory=dict)
    # for link tables: item field -> column to keep (everything else of the item is dropped)
    keep: Dict[str, str] = field(default_factory=dict)
    # for link tables: the table whose rows the kept `id` names (the link's other end; the parent is one end)
    link_to: Optional[str] = None
    # items that are plain strings (invites are emails) become rows with this one column
    scalar_column: Optional[str] = None
    params: Dict[str, str] = field(default_factory=dict)
    stability: str = "stable"
    single_object: bool = False
    paginated: bool = True
    page_size: int = 1000
    count_param: str = "pagination.count"
    cursor_param: str = "pagination.cursor"
    cursor_path: str = "data.pagination.next"
    key: Tuple[str, ...] = ("id",)
    # `key` names fields as the API and the parent columns spell them when the row is shaped;
    # `audit_resources` names table columns (snake_case): the resources an audit event may refer to
    # (rules are audited as their tracking plan; a connection as either of its ends)
    audit_resources: Tuple[str, ...] = ("id",)
    # statuses that mean "this parent has none", not "the table cannot be read"
    absent_statuses: Tuple[int, ...] = ()
    # the API leaves the list out when it is empty (space filters)
    list_optional: bool = False
    # a list field of each item spread into one row per element (time series)
    explode: Optional[str] = None
    # fields that move on their own (counts, next run times): not configuration, and each move would
    # make a new SCD2 version and a change row; they are left out
    volatile: Tuple[str, ...] = ()
    group: str = "core"
    default: bool = True
    history: bool = True  # SCD2 configuration table; False: rows merged on their key (logs, jobs)
    rate_limit_per_minute: Optional[float] = None
    # change-driven runs: the audit trail's `resourceType`s (lower case, alphanumeric, singular) that name
    # a row of this table; a top-level endpoint without `by_id` is re-read whole when one is named (labels)
    audit_types: Tuple[str, ...] = ()
    by_id: Optional[ById] = None
    # the event types that mean the named item is gone (the SDK's "may generate ... Deleted"): an item whose
    # last event is one is retired without asking the API for it
    deleted_types: Tuple[str, ...] = ()
    # a child whose changes the trail names on another resource, never on its parent: a change-driven run
    # does not read it under a parent the trail names (a deleted parent's rows go with it anyway)
    changes_under_parent: bool = True
    # (table, column of this row naming one of its rows): this row goes when that resource is deleted
    # (a deleted source takes its destinations with it); rows read through a parent go with it anyway
    refers_to: Tuple[Tuple[str, str], ...] = ()
    # a child read only under parents whose item has a non-empty value at this dotted path: under the
    # others the API has nothing by definition, so the request is not sent
    only_under_parents_with: Optional[str] = None

    @property
    def table_name(self) -> str:
        return self.table or self.name

    def _with_parent(self, text: str) -> str:
        return PLACEHOLDER.sub(lambda m: "{resources.%s.%s}" % (self.parent, m.group(1)), text)

    @property
    def endpoint_path(self) -> str:
        """The path for dlt: a child's `{field}` becomes a reference to its parent resource's rows."""
        return self._with_parent(self.path) if self.parent else self.path

    def reads_under(self, parent_item: Dict[str, Any]) -> bool:
        """False only when the parent's item has an empty value at `only_under_parents_with`; an item
        without that field (not what the API documents) is read, to be safe."""
        if not self.only_under_parents_with:
            return True
        value: Any = parent_item
        for name in self.only_under_parents_with.split("."):
            if not isinstance(value, dict) or name not in value:
                return True
            value = value[name]
        return value not in ([], {}, "", None)

    def path_under(self, parent_item: Dict[str, Any]) -> str:
        """The request path of this child under one parent item, as the session sees it."""
        return "/" + PLACEHOLDER.sub(lambda m: str(parent_item.get(m.group(1), "")), self.path)

    @property
    def fields_from_parent(self) -> Tuple[str, ...]:
        """The fields of its parent's row a child reads: those its path and parameters name, and those it copies."""
        named = PLACEHOLDER.findall(self.path) + [n for v in self.params.values() for n in PLACEHOLDER.findall(v)]
        return tuple(dict.fromkeys([*named, *self.parent_fields]))

    @property
    def endpoint_params(self) -> Dict[str, str]:
        if not self.parent:
            return dict(self.params)
        return {name: self._with_parent(value) for name, value in self.params.items()}


def child(name: str, path: str, list_key: str, parent: str, parent_fields: Dict[str, str], **kwargs) -> Endpoint:
    """An endpoint read once per row of `parent`; its rows carry the parent's fields as columns."""
    kwargs.setdefault("audit_resources", tuple(parent_fields.values()))
    return Endpoint(name, path, list_key, parent=parent, parent_fields=parent_fields, **kwargs)


def _function_endpoints() -> List[Endpoint]:
    endpoints = []
    for resource_type in FUNCTION_RESOURCE_TYPES:
        suffix = resource_type.lower()
        endpoints.append(Endpoint(f"functions_{suffix}", "functions", "functions", table="functions",
                                  params={"resourceType": resource_type}, audit_types=("function",),
                                  by_id=ById("functions/{id}", "function", FUNCTION_LIST_FIELDS,
                                             matches_params=("resourceType",))))
        endpoints.append(child(f"function_versions_{suffix}", "functions/{id}/versions", "versions",
                               f"functions_{suffix}", {"id": "function_id"}, table="function_versions",
                               stability="alpha", key=("function_id", "id")))
        if resource_type in INSERT_FUNCTION_TYPES:
            endpoints.append(child(f"insert_function_instances_{suffix}", "insert-function-instances",
                                   "instances", f"functions_{suffix}", {"id": "function_id"},
                                   table="insert_function_instances", params={"functionId": "{id}"},
                                   stability="alpha", audit_resources=("id", "function_id"),
                                   refers_to=(("sources", "integration_id"), ("destinations", "integration_id"))))
    return endpoints


def _credential_consumers(kind: str, column: str) -> Endpoint:
    """`/credentials/{id}/consumers` pages its sources and warehouses with two separate cursors."""
    pagination = f"{kind}Pagination"
    return child(f"credential_consumer_{kind}", "credentials/{id}/consumers", kind, "credentials",
                 {"id": "credential_id"}, keep={"id": column}, link_to=kind, key=("credential_id", column),
                 count_param=f"{pagination}.count", cursor_param=f"{pagination}.cursor",
                 cursor_path=f"data.{pagination}.next", audit_resources=("credential_id", column))


CORE = [
    Endpoint("sources", "sources", "sources", audit_types=("source",), by_id=ById("sources/{id}", "source"),
             deleted_types=("Source Deleted",)),
    child("source_settings", "sources/{id}/settings", "", "sources", {"id": "source_id"},
          single_object=True, paginated=False, key=("source_id",)),
    child("live_plugins", "sources/{id}/live-plugins/latest", "livePlugin", "sources", {"id": "source_id"},
          single_object=True, paginated=False, stability="alpha", absent_statuses=(404,),
          audit_resources=("id", "source_id"), default=False),
    # each destination embeds its catalog entry (about 4 KB): pages of 1,000 were 4 MB to parse at once (BENCHMARKS.md)
    Endpoint("destinations", "destinations", "destinations", audit_types=("destination", "integration"),
             by_id=ById("destinations/{id}", "destination"), refers_to=(("sources", "source_id"),),
             deleted_types=("Integration Deleted",), page_size=250),
    child("destination_filters", "destination/{id}/filters", "filters", "destinations",
          {"id": "destination_id"}, audit_resources=("id", "destination_id")),
    # only Actions destinations have subscriptions, and only their catalog entry lists actions
    child("destination_subscriptions", "destinations/{id}/subscriptions", "subscriptions", "destinations",
          {"id": "destination_id"}, stability="alpha", audit_resources=("id", "destination_id"),
          only_under_parents_with="metadata.actions"),
    Endpoint("warehouses", "warehouses", "warehouses", audit_types=("warehouse", "storagedestination"),
             by_id=ById("warehouses/{id}", "warehouse"), deleted_types=("Storage Destination Deleted",)),
    # One call per warehouse rather than per source: far fewer parents, the same edges.
    child("source_warehouses", "warehouses/{id}/connected-sources", "sources", "warehouses",
          {"id": "warehouse_id"}, keep={"id": "source_id"}, link_to="sources", key=("source_id", "warehouse_id"),
          audit_resources=("source_id", "warehouse_id"),
          refers_to=(("sources", "source_id"),)),
    child("warehouse_selective_syncs", "warehouses/{warehouse_id}/connected-sources/{source_id}/selective-syncs",
          "items", "source_warehouses", {"warehouse_id": "warehouse_id", "source_id": "source_id"},
          key=("warehouse_id", "source_id", "collection"), rate_limit_per_minute=2, default=False),
    child("warehouse_sync_schedules", "warehouses/{id}/advanced-sync-schedule", "", "warehouses",
          {"id": "warehouse_id"}, single_object=True, paginated=False, key=("warehouse_id",),
          rate_limit_per_minute=2, default=False),
    Endpoint("tracking_plans", "tracking-plans", "trackingPlans", audit_types=("trackingplan",),
             by_id=ById("tracking-plans/{id}", "trackingPlan")),
    child("tracking_plan_rules", "tracking-plans/{id}/rules", "rules", "tracking_plans",
          {"id": "tracking_plan_id"}, key=("tracking_plan_id", "type", "key", "version"),
          rate_limit_per_minute=200),
    # connecting a source to a plan is audited on the source (`Source Modified`), not on the plan
    child("tracking_plan_sources", "tracking-plans/{id}/sources", "sources", "tracking_plans",
          {"id": "tracking_plan_id"}, keep={"id": "source_id"}, link_to="sources",
          key=("tracking_plan_id", "source_id"),
          audit_resources=("tracking_plan_id", "source_id"),
          refers_to=(("sources", "source_id"),), changes_under_parent=False),
    Endpoint("transformations", "transformations", "transformations", audit_resources=("id", "source_id"),
             audit_types=("transformation",), by_id=ById("transformations/{id}", "transformation"),
             refers_to=(("sources", "source_id"),), deleted_types=("Transformation Deleted",)),
    *_function_endpoints(),
    # the trail names labels in bulk ("a label changed"): re-reading the unpaginated list is one request
    Endpoint("labels", "labels", "labels", paginated=False, key=("key", "value"), audit_resources=("record_key",),
             audit_types=("label",)),
    Endpoint("credentials", "credentials", "credentials", audit_types=("credential", "warehousecredential"),
             by_id=ById("credentials/{id}", "credential"), deleted_types=("Warehouse Credential Deleted",)),
    _credential_consumers("sources", "source_id"),
    _credential_consumers("warehouses", "warehouse_id"),
    Endpoint("audit_events", "audit-events", "events", history=False),
]

IAM = [
    Endpoint("users", "users", "users", group="iam", audit_types=("user",), by_id=ById("users/{id}", "user")),
    Endpoint("user_groups", "groups", "userGroups", volatile=("memberCount",), group="iam",
             audit_types=("usergroup", "group"), by_id=ById("groups/{id}", "userGroup"),
             deleted_types=("User Group Deleted",)),
    child("user_group_members", "groups/{id}/users", "users", "user_groups", {"id": "user_group_id"},
          keep={"id": "user_id", "email": "email"}, link_to="users", key=("user_group_id", "user_id"), group="iam",
          audit_resources=("user_group_id", "user_id")),
    child("user_group_invites", "groups/{id}/invites", "emails", "user_groups", {"id": "user_group_id"},
          scalar_column="email", key=("user_group_id", "email"), group="iam"),
    Endpoint("roles", "roles", "roles", group="iam"),
    Endpoint("invites", "invites", "invites", scalar_column="email", key=("email",),
             audit_resources=("email",), group="iam"),
]

ENGAGE = [
    Endpoint("spaces", "spaces", "spaces", stability="alpha", group="engage", audit_types=("space",),
             by_id=ById("spaces/{id}", "space")),
    child("audiences", "spaces/{id}/audiences", "audiences", "spaces", {"id": "space_id"}, page_size=200,
          rate_limit_per_minute=60, volatile=("size",), audit_resources=("id",), group="engage"),
    child("audience_schedules", "spaces/{space_id}/audiences/{id}/schedules", "audienceSchedules", "audiences",
          {"id": "audience_id", "space_id": "space_id"}, paginated=False, key=("audience_id", "id"),
          volatile=("nextExecution",), audit_resources=("audience_id",), group="engage"),
    child("audience_activations", "spaces/{space_id}/audiences/{id}/activations", "activations", "audiences",
          {"id": "audience_id", "space_id": "space_id"}, stability="alpha", rate_limit_per_minute=60,
          audit_resources=("id", "audience_id"), group="engage", default=False),
    child("audience_destination_connections", "spaces/{space_id}/audiences/{id}/destination-connections",
          "connections", "audiences", {"id": "audience_id", "space_id": "space_id"}, stability="alpha",
          key=("audience_id", "id"), rate_limit_per_minute=50, audit_resources=("audience_id",), group="engage",
          default=False),
    child("audience_references", "spaces/{space_id}/audiences/{id}/audience-references", "audiences",
          "audiences", {"id": "audience_id", "space_id": "space_id"}, keep={"id": "referencing_audience_id"},
          link_to="audiences",
          key=("audience_id", "referencing_audience_id"), stability="alpha", rate_limit_per_minute=25,
          group="engage", default=False),
    child("computed_traits", "spaces/{id}/computed-traits", "computedTraits", "spaces", {"id": "space_id"},
          stability="alpha", rate_limit_per_minute=25, audit_resources=("id",), group="engage"),
    # every read of this list writes a "Profiles Sync Warehouse Retrieved" audit event: opt-in
    child("profiles_warehouses", "spaces/{id}/profiles-warehouses", "profilesWarehouses", "spaces",
          {"id": "space_id"}, stability="alpha", audit_resources=("id",), group="engage", default=False),
    child("space_filters", "filters", "filters", "spaces", {"id": "space_id"}, params={"integrationId": "{id}"},
          stability="beta", page_size=10, list_optional=True, audit_resources=("id",), group="engage"),
]

REVERSE_ETL = [
    Endpoint("reverse_etl_models", "reverse-etl-models", "models", stability="alpha", group="reverse_etl",
             audit_types=("model", "reverseetlmodel"), by_id=ById("reverse-etl-models/{id}", "reverseEtlModel"),
             deleted_types=("Model Deleted",)),
]

PRIVACY = [
    # regulations expire after 90 days: merged on id so expiry is not mistaken for a deletion
    Endpoint("regulations", "regulations", "regulations", history=False, group="privacy"),
    Endpoint("suppressions", "suppressions", "suppressed", key=("subjectType", "subjectIds"),
             audit_resources=(), group="privacy"),
]

CATALOG = [
    Endpoint("catalog_sources", "catalog/sources", "sourcesCatalog", group="catalog"),
    Endpoint("catalog_destinations", "catalog/destinations", "destinationsCatalog", group="catalog"),
    Endpoint("catalog_warehouses", "catalog/warehouses", "warehousesCatalog", group="catalog"),
]

def _usage(name: str, path: str, list_key: str, per_source: bool) -> List[Endpoint]:
    """Daily cumulative usage within a month (`period`): this month's, and last month's final days."""
    key = ("sourceId", "timestamp") if per_source else ("timestamp",)
    return [
        Endpoint(f"{name}{suffix}", path, list_key, table=name, params={"period": period}, key=key,
                 history=False, group="metrics", audit_resources=())
        for suffix, period in (("", "$current_month"), ("_previous_month", "$previous_month"))
    ]


# Time series, merged on their day (and source): a run refreshes the days that are still moving.
WINDOW = {"granularity": "DAY", "startTime": "$days_ago_7", "endTime": "$today"}


METRICS = [
    *_usage("usage_api_calls_daily", "usage/api-calls/daily", "dailyWorkspaceAPICallsUsage", False),
    *_usage("usage_api_calls_sources_daily", "usage/api-calls/sources/daily", "dailyPerSourceAPICallsUsage", True),
    *_usage("usage_mtu_daily", "usage/mtu/daily", "dailyWorkspaceMTUUsage", False),
    *_usage("usage_mtu_sources_daily", "usage/mtu/sources/daily", "dailyPerSourceMTUUsage", True),
    # one row per source, event and day: the series of each result is spread into days
    Endpoint("events_volume", "events/volume", "result", params={**WINDOW, "groupBy": "source"},
             key=("source", "eventName", "eventType", "time"), explode="series", history=False,
             group="metrics", rate_limit_per_minute=60, audit_resources=()),
    # the delivery summary of each destination over the last 7 days, one row per destination and day run
    child("delivery_metrics", "destinations/{id}/delivery-metrics", "deliveryMetricsSummary", "destinations",
          {"id": "destination_id"}, params={**WINDOW, "sourceId": "{sourceId}"}, single_object=True,
          paginated=False, stability="beta", history=False, key=("destination_id", "windowEnd"),
          group="metrics", audit_resources=()),
]

ENDPOINTS: List[Endpoint] = [*CORE, *IAM, *ENGAGE, *REVERSE_ETL, *PRIVACY, *CATALOG, *METRICS]
ENDPOINTS_BY_NAME: Dict[str, Endpoint] = {endpoint.name: endpoint for endpoint in ENDPOINTS}


def tables() -> List[str]:
    """Table names in declaration order, workspace first."""
    names = [WORKSPACE_TABLE]
    for endpoint in ENDPOINTS:
        if endpoint.table_name not in names:
            names.append(endpoint.table_name)
    return names


def history_tables() -> List[str]:
    names = [WORKSPACE_TABLE]
    for endpoint in ENDPOINTS:
        if endpoint.history and endpoint.table_name not in names:
            names.append(endpoint.table_name)
    return names


def endpoint_for_table(table: str) -> Endpoint:
    return next(e for e in ENDPOINTS if e.table_name == table)


def parent_of(endpoint: Endpoint) -> Optional[Endpoint]:
    return ENDPOINTS_BY_NAME.get(endpoint.parent) if endpoint.parent else None


def references(endpoint: Endpoint) -> List[Tuple[str, Tuple[str, ...]]]:
    """The resources a row names: its parent and, for a link, the other end, as (table, the row's columns
    that hold that resource's record key), in the order the row's key lists them."""
    found = []
    parent = parent_of(endpoint)
    if parent is not None and all(name in endpoint.parent_fields for name in parent.key):
        found.append((parent.table_name, tuple(endpoint.parent_fields[name] for name in parent.key)))
    if endpoint.link_to:
        found.append((endpoint.link_to, (endpoint.keep["id"],)))
    order = list(endpoint.key)
    return sorted(found, key=lambda ref: order.index(ref[1][0]) if ref[1][0] in order else len(order))


def select_endpoints(names: Optional[Sequence[str]] = None, groups: Optional[Sequence[str]] = None) -> List[Endpoint]:
    """The endpoints for the named tables plus the default endpoints of the named groups (neither: the
    default groups), with the parents they need."""
    unknown_groups = sorted(set(groups or ()) - set(GROUPS))
    if unknown_groups:
        raise ValueError(f"Unknown group(s): {', '.join(unknown_groups)}. Groups: {', '.join(GROUPS)}.")
    unknown = sorted(set(names or ()) - set(tables()))
    if unknown:
        raise ValueError(
            f"Unknown resource(s): {', '.join(unknown)}. Run `segment-history resources` to list them."
        )
    if not names and not groups:
        groups = GROUPS_ON_BY_DEFAULT
    wanted = {e.name for e in ENDPOINTS if e.table_name in (names or ())}
    wanted |= {e.name for e in ENDPOINTS if e.group in (groups or ()) and e.default}
    for endpoint in reversed(ENDPOINTS):  # children come after their parents
        if endpoint.name in wanted and endpoint.parent:
            wanted.add(endpoint.parent)
    return [e for e in ENDPOINTS if e.name in wanted]


def dependents(table: str) -> List[Tuple[str, str]]:
    """(table, column holding the id) of the rows that go with a deleted row of `table`: the rows that refer
    to it, then the child tables read through it."""
    referring = [(e.table_name, column) for e in ENDPOINTS for target, column in e.refers_to if target == table]
    children = [(e.table_name, e.parent_fields["id"]) for e in ENDPOINTS
                if "id" in e.parent_fields and getattr(parent_of(e), "table_name", None) == table]
    return list(dict.fromkeys(referring + children))


def named_by_audit_type(audit_type: str) -> Optional[Endpoint]:
    """The top-level endpoint whose rows the audit trail names with this (normalized) resource type."""
    return next((e for e in ENDPOINTS if not e.parent and audit_type in e.audit_types), None)
