"""The emulated workspace's state: plain dicts and lists in the API's camelCase shapes, plus cached lookups.

`WorkspaceState` is what the mutations change; `workspace.Workspace` adds the ways to change it (`mutate`,
`apply`). Rules for anyone changing state (mutations, tests):
- hold `ws.lock` and call `ws.touch()` afterwards, so the cached indexes below are rebuilt;
- never edit a dict that may already be served: replace it (see `paths.with_path`). Lists may change in
  place under the lock, because the server copies the slice it serves while holding the same lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from random import Random
from typing import Any, Callable

from .catalog import listing
from .ids import iso, utcnow

# Collections addressed by an `id` field, for `Workspace.find`.
ID_COLLECTIONS = ("sources", "destinations", "warehouses", "tracking_plans", "functions", "users", "user_groups",
                  "roles", "destination_filters", "destination_subscriptions", "transformations",
                  "reverse_etl_sources", "reverse_etl_models", "insert_function_instances", "spaces", "audiences",
                  "activations", "computed_traits", "profiles_warehouses", "space_filters", "regulations",
                  "credentials", "catalog_sources", "catalog_destinations", "catalog_warehouses")


@dataclass(eq=False)
class WorkspaceState:
    """Everything the emulator serves. Field names follow the API; see the module docstring for editing rules."""

    workspace: dict[str, Any]
    sources: list[dict[str, Any]]
    source_tracking_plan: dict[str, str | None]
    destinations: list[dict[str, Any]]
    warehouses: list[dict[str, Any]]
    source_warehouses: list[tuple[str, str]]
    tracking_plans: list[dict[str, Any]]
    rules: dict[str, list[dict[str, Any]]]
    functions: list[dict[str, Any]]
    function_versions: dict[str, list[dict[str, Any]]]  # newest first, as served
    labels: list[dict[str, Any]]
    audit_events: list[dict[str, Any]]  # oldest first
    secrets: dict[str, dict[str, str]]  # destination id -> setting name -> clear value behind the mask
    users: list[dict[str, Any]]
    api_tokens: list[str]  # audit actors such as "public-api-token/TJ7z8cg6"
    # --- the rest of the configuration surface (all optional, so older constructors keep working) -----------
    roles: list[dict[str, Any]] = field(default_factory=list)  # RoleV1, the same in every workspace
    user_groups: list[dict[str, Any]] = field(default_factory=list)  # UserGroupV1 without memberCount (derived)
    group_members: dict[str, list[str]] = field(default_factory=dict)  # group id -> user ids
    group_invites: dict[str, list[str]] = field(default_factory=dict)  # group id -> invited emails
    invites: list[str] = field(default_factory=list)  # pending workspace invites (emails)
    source_settings: dict[str, dict[str, Any]] = field(default_factory=dict)  # source id -> schema settings
    live_plugins: dict[str, dict[str, Any]] = field(default_factory=dict)  # source id -> LivePluginsAlpha
    destination_filters: list[dict[str, Any]] = field(default_factory=list)  # DestinationFilterV1
    destination_subscriptions: list[dict[str, Any]] = field(default_factory=list)  # DestinationSubscription
    selective_syncs: list[dict[str, Any]] = field(default_factory=list)  # WarehouseSelectiveSyncItemV1
    warehouse_schedules: dict[str, dict[str, Any]] = field(default_factory=dict)  # warehouse id -> schedule
    transformations: list[dict[str, Any]] = field(default_factory=list)  # TransformationV1
    reverse_etl_sources: list[dict[str, Any]] = field(default_factory=list)  # SourceV1 of RETL warehouse sources
    reverse_etl_models: list[dict[str, Any]] = field(default_factory=list)  # ReverseEtlModel
    insert_function_instances: list[dict[str, Any]] = field(default_factory=list)  # InsertFunctionInstanceAlpha
    credentials: list[dict[str, Any]] = field(default_factory=list)  # CredentialV1
    credential_consumers: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # id -> warehouses/sources
    spaces: list[dict[str, Any]] = field(default_factory=list)  # Space
    audiences: list[dict[str, Any]] = field(default_factory=list)  # AudienceSummaryWithAudienceTypeAndLookback
    audience_schedules: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # audience id -> schedules
    audience_connections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # -> SimpleDestination
    activations: list[dict[str, Any]] = field(default_factory=list)  # ActivationOutput
    computed_traits: list[dict[str, Any]] = field(default_factory=list)  # ComputedTraitSummary
    profiles_warehouses: list[dict[str, Any]] = field(default_factory=list)  # ProfilesWarehouseAlpha
    profiles_selective_syncs: dict[str, dict[str, Any]] = field(default_factory=dict)  # {items, enableEventTables}
    space_filters: list[dict[str, Any]] = field(default_factory=list)  # Filter (integrationId = space id)
    space_events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # space id -> EventAlpha
    space_traits: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # space id -> custom TraitAlpha
    regulations: list[dict[str, Any]] = field(default_factory=list)  # RegulationListEntryV1, newest first
    regulation_details: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> Regulation
    regulation_sources: dict[str, str] = field(default_factory=dict)  # regulation id -> source id
    suppressions: list[dict[str, Any]] = field(default_factory=list)  # SuppressedInner (no id)
    hostile: bool = False
    seed: int = 0
    scale: str = "custom"
    generated_at: datetime = field(default_factory=utcnow)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _rng: Random = field(default_factory=Random, repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)
    _last_event_number: int | None = None

    # --- derived views ------------------------------------------------------------------------------------------

    @property
    def tracking_plan_sources(self) -> dict[str, list[str]]:
        """Tracking plan id -> ids of its connected sources (derived from `source_tracking_plan`)."""
        return self._cached("tracking_plan_sources", self._build_tracking_plan_sources)

    def _build_tracking_plan_sources(self) -> dict[str, list[str]]:
        by_plan: dict[str, list[str]] = {plan["id"]: [] for plan in self.tracking_plans}
        for source in self.sources:
            plan_id = self.source_tracking_plan.get(source["id"])
            if plan_id in by_plan:
                by_plan[plan_id].append(source["id"])
        return by_plan

    def find(self, collection: str, item_id: str) -> dict[str, Any] | None:
        """The item with this id in one of `ID_COLLECTIONS`, or None."""
        if collection not in ID_COLLECTIONS:
            raise ValueError(f"{collection!r} items have no id; use one of {ID_COLLECTIONS}")
        index = self._cached(f"index:{collection}", lambda: {item["id"]: item for item in getattr(self, collection)})
        return index.get(item_id)

    def destinations_of(self, source_id: str) -> list[dict[str, Any]]:
        return self._grouped("destinations_by_source", self.destinations, lambda d: d["sourceId"]).get(source_id, [])

    def warehouses_of(self, source_id: str) -> list[dict[str, Any]]:
        pairs = self._grouped("warehouse_ids_by_source", self.source_warehouses, lambda pair: pair[0])
        return [self.find("warehouses", warehouse_id) for _, warehouse_id in pairs.get(source_id, [])]

    def sources_of_warehouse(self, warehouse_id: str) -> list[dict[str, Any]]:
        pairs = self._grouped("source_ids_by_warehouse", self.source_warehouses, lambda pair: pair[1])
        return [self.find("sources", source_id) for source_id, _ in pairs.get(warehouse_id, [])]

    def sources_of_plan(self, tracking_plan_id: str) -> list[dict[str, Any]]:
        return [self.find("sources", source_id) for source_id in self.tracking_plan_sources.get(tracking_plan_id, [])]

    def functions_of_type(self, resource_type: str) -> list[dict[str, Any]]:
        return self._grouped("functions_by_type", self.functions, lambda f: f["resourceType"]).get(resource_type, [])

    # --- lookups for the rest of the surface ---------------------------------------------------------------------

    @property
    def catalog_sources(self) -> list[dict[str, Any]]:
        """The whole sources catalog (hundreds of entries; the same in every workspace), sorted by slug."""
        return listing()["sources"]

    @property
    def catalog_destinations(self) -> list[dict[str, Any]]:
        return listing()["destinations"]

    @property
    def catalog_warehouses(self) -> list[dict[str, Any]]:
        return listing()["warehouses"]

    def members_of(self, group_id: str) -> list[dict[str, Any]]:
        """`MinimalUserV1` of a group's members, in membership order."""
        return [{"id": user["id"], "name": user["name"], "email": user["email"]}
                for user in (self.find("users", user_id) for user_id in self.group_members.get(group_id, []))
                if user is not None]

    def groups_of(self, user_id: str) -> list[dict[str, Any]]:
        """`MinimalUserGroupV1` of the groups a user belongs to."""
        return [{"id": group["id"], "name": group["name"]} for group in self.user_groups
                if user_id in self.group_members.get(group["id"], [])]

    def filters_of(self, destination_id: str) -> list[dict[str, Any]]:
        return self._grouped("filters_by_destination", self.destination_filters,
                             lambda item: item["destinationId"]).get(destination_id, [])

    def subscriptions_of(self, destination_id: str) -> list[dict[str, Any]]:
        return self._grouped("subscriptions_by_destination", self.destination_subscriptions,
                             lambda item: item["destinationId"]).get(destination_id, [])

    def selective_syncs_of(self, warehouse_id: str, source_id: str) -> list[dict[str, Any]]:
        return self._grouped("selective_syncs", self.selective_syncs,
                             lambda item: (item["warehouseId"], item["sourceId"])).get((warehouse_id, source_id), [])

    def instances_of(self, function_id: str) -> list[dict[str, Any]]:
        return self._grouped("instances_by_function", self.insert_function_instances,
                             lambda item: item["classId"]).get(function_id, [])

    def audiences_of(self, space_id: str) -> list[dict[str, Any]]:
        return self._grouped("audiences_by_space", self.audiences, lambda item: item["spaceId"]).get(space_id, [])

    def computed_traits_of(self, space_id: str) -> list[dict[str, Any]]:
        return self._grouped("traits_by_space", self.computed_traits, lambda item: item["spaceId"]).get(space_id, [])

    def activations_of(self, audience_id: str) -> list[dict[str, Any]]:
        return self._grouped("activations_by_audience", self.activations,
                             lambda item: item["audienceId"]).get(audience_id, [])

    def profiles_warehouses_of(self, space_id: str) -> list[dict[str, Any]]:
        return self._grouped("profiles_warehouses_by_space", self.profiles_warehouses,
                             lambda item: item["spaceId"]).get(space_id, [])

    def space_filters_of(self, space_id: str) -> list[dict[str, Any]]:
        return self._grouped("filters_by_space", self.space_filters,
                             lambda item: item["integrationId"]).get(space_id, [])

    def audience_consumers(self, audience: dict[str, Any]) -> list[dict[str, Any]]:
        """Audiences of the same space whose definition references this one (`audience('key')`)."""
        needle = f"audience('{audience['key']}')"
        return [other for other in self.audiences_of(audience["spaceId"])
                if other is not audience and needle in ((other.get("definition") or {}).get("query") or "")]

    def regulations_of_source(self, source_id: str) -> list[dict[str, Any]]:
        return [item for item in self.regulations if self.regulation_sources.get(item["id"]) == source_id]

    def source_or_retl(self, source_id: str) -> dict[str, Any] | None:
        """A source from `/sources` or one of the Reverse ETL warehouse sources."""
        return self.find("sources", source_id) or self.find("reverse_etl_sources", source_id)

    def touch(self) -> None:
        """Forget cached indexes; call after changing any collection."""
        self._cache = {}

    def _cached(self, name: str, build: Callable[[], Any]) -> Any:
        cache = self._cache  # a concurrent touch() swaps the dict; we keep using the one we read
        if name not in cache:
            cache[name] = build()
        return cache[name]

    def _grouped(self, name: str, items: list[Any], key: Callable[[Any], str]) -> dict[str, list[Any]]:
        def build() -> dict[str, list[Any]]:
            groups: dict[str, list[Any]] = {}
            for item in items:
                groups.setdefault(key(item), []).append(item)
            return groups

        return self._cached(name, build)

    # --- the audit trail ------------------------------------------------------------------------------------

    def record_audit_event(self, event_type: str, resource_type: str, resource_id: str, resource_name: str,
                           actor: str, actor_email: str | None) -> dict[str, Any]:
        """Append an `AuditEventV1` stamped now; ids keep increasing like `events/318842771`."""
        if self._last_event_number is None:
            numbers = (int(event["id"].rsplit("/", 1)[-1]) for event in self.audit_events)
            self._last_event_number = max(numbers, default=318_000_000)
        self._last_event_number += 1
        event = {"id": f"events/{self._last_event_number}", "timestamp": iso(utcnow()), "type": event_type,
                 "actor": actor}
        if actor_email:
            event["actorEmail"] = actor_email
        event.update(resourceId=resource_id, resourceType=resource_type, resourceName=resource_name)
        self.audit_events.append(event)
        return event

    def counts(self) -> dict[str, int]:
        """Sizes of the main collections, handy in tests and in the demo banner."""
        return {"sources": len(self.sources), "destinations": len(self.destinations),
                "warehouses": len(self.warehouses), "tracking_plans": len(self.tracking_plans),
                "rules": sum(len(rules) for rules in self.rules.values()), "functions": len(self.functions),
                "labels": len(self.labels), "audit_events": len(self.audit_events)}

    def surface_counts(self) -> dict[str, int]:
        """Sizes of the collections added for the full configuration surface."""
        return {"users": len(self.users), "user_groups": len(self.user_groups), "invites": len(self.invites),
                "roles": len(self.roles), "live_plugins": len(self.live_plugins),
                "destination_filters": len(self.destination_filters),
                "destination_subscriptions": len(self.destination_subscriptions),
                "selective_syncs": len(self.selective_syncs), "transformations": len(self.transformations),
                "reverse_etl_models": len(self.reverse_etl_models),
                "insert_function_instances": len(self.insert_function_instances),
                "credentials": len(self.credentials), "spaces": len(self.spaces), "audiences": len(self.audiences),
                "activations": len(self.activations), "computed_traits": len(self.computed_traits),
                "profiles_warehouses": len(self.profiles_warehouses), "space_filters": len(self.space_filters),
                "regulations": len(self.regulations), "suppressions": len(self.suppressions)}


def resource_name(resource_type: str, item: dict[str, Any]) -> str:
    """What the audit trail shows as `resourceName` for an item of this type."""
    if resource_type == "warehouse":
        return item["settings"].get("name", "")
    if resource_type == "function":
        return item["displayName"]
    return item.get("name") or item.get("metadata", {}).get("name", "")
