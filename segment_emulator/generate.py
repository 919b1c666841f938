"""`generate_workspace`: a deterministic, realistic workspace for a seed and a scale.

Every collection draws from its own random stream (`Random(f"{seed}:{collection}")`), so adding a collection
later does not change the ones generated before it. Timestamps are laid out backwards from `now` (default: the
start of the current UTC day, so two generations on the same day are identical).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from random import Random
from typing import Any, Callable

from . import catalog, connections, engage, iam, privacy, rules
from .hostile import add_hostile_resources
from .ids import alnum_id, iso, ksuid, object_id, slugify
from .vocabulary import (COMPANIES, DESTINATION_WEIGHTS, FIRST_NAMES, FUNCTION_NAMES, LABELS, LAST_NAMES,
                         SOURCE_WEIGHTS, TRACKING_PLAN_AREAS, WAREHOUSE_WEIGHTS, WORKSPACE_FLAVOURS, function_code,
                         unique_source_name)
from .state import resource_name
from .workspace import Workspace

FUNCTION_TYPES = ("SOURCE", "DESTINATION", "INSERT_DESTINATION", "INSERT_SOURCE", "INSERT_TRANSFORMATION")
FUNCTION_ID_PREFIX = {"SOURCE": "sfnc_", "DESTINATION": "dfn_", "INSERT_DESTINATION": "ifnd_",
                      "INSERT_SOURCE": "ifns_", "INSERT_TRANSFORMATION": "ifnt_"}
PLAN_TYPES_BESIDES_LIVE = ("TEMPLATE", "RULE_LIBRARY", "PROPERTY_LIBRARY", "ENGAGE")
HISTORY_DAYS = 100  # the API only serves the last 90 of them


@dataclass(frozen=True)
class Scale:
    sources: int
    destinations: int
    warehouses: int
    tracking_plans: int
    rules_per_plan: tuple[int, int]
    big_plans: tuple[int, ...]  # rule counts of plans that need several 1000-item pages
    functions: int
    versions_per_function: tuple[int, int]
    labels: int
    users: int
    audit_events: int
    # the rest of the configuration surface (defaults keep positional `Scale(...)` calls working)
    user_groups: int = 0
    invites: int = 0
    spaces: int = 0
    audiences_per_space: tuple[int, int] = (0, 0)
    first_space_audiences: int | None = None  # a space bigger than one 200-audience page
    computed_traits_per_space: tuple[int, int] = (0, 0)
    space_filters_per_space: tuple[int, int] = (0, 0)
    first_space_filters: int | None = None  # more than one 10-filter page
    space_events: int = 0
    space_traits: int = 0
    transformations: int = 0
    reverse_etl_models: int = 0
    credentials: int = 0
    regulations: int = 0
    suppressions: int = 0


SCALES: dict[str, Scale] = {
    "tiny": Scale(3, 6, 1, 1, (5, 5), (), 2, (2, 2), 4, 3, 20, user_groups=2, invites=1, spaces=1,
                  audiences_per_space=(3, 3), computed_traits_per_space=(2, 2), space_filters_per_space=(2, 2),
                  space_events=12, space_traits=10, transformations=2, reverse_etl_models=1, credentials=1,
                  regulations=6, suppressions=4),
    "small": Scale(20, 60, 4, 5, (10, 80), (), 10, (2, 4), 12, 8, 200, user_groups=4, invites=3, spaces=2,
                   audiences_per_space=(6, 14), computed_traits_per_space=(3, 8), space_filters_per_space=(0, 5),
                   first_space_filters=13, space_events=40, space_traits=30, transformations=8,
                   reverse_etl_models=3, credentials=2, regulations=20, suppressions=25),
    "medium": Scale(200, 800, 15, 20, (20, 300), (1200, 1500, 2600), 40, (2, 4), 20, 25, 1000, user_groups=8,
                    invites=6, spaces=3, audiences_per_space=(60, 120), first_space_audiences=260,
                    computed_traits_per_space=(20, 60), space_filters_per_space=(5, 25), space_events=150,
                    space_traits=120, transformations=60, reverse_etl_models=10, credentials=5, regulations=150,
                    suppressions=400),
    "large": Scale(2000, 8000, 40, 200, (60, 266), (2000, 2000, 1500, 1500, 1200), 200, (2, 4), 30, 60, 5000,
                   user_groups=15, invites=12, spaces=4, audiences_per_space=(200, 600),
                   computed_traits_per_space=(80, 300), space_filters_per_space=(10, 40), space_events=400,
                   space_traits=300, transformations=300, reverse_etl_models=25, credentials=8, regulations=800,
                   suppressions=3000),
}


def generate_workspace(seed: int = 42, scale: str = "small", now: datetime | None = None, *,
                       hostile: bool = False) -> Workspace:
    """Build a workspace; the same (seed, scale, now, hostile) always gives the same content.

    `hostile=True` adds resources that stress a client: unicode names (emoji, RTL, CJK), ~50 KB setting
    values, settings nested 30 levels deep, keys colliding after snake_casing and an undocumented extra field
    on the items of one page (see `hostile.py`). Off by default; without it the content is unchanged.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; use one of {', '.join(SCALES)}")
    size = SCALES[scale]
    now = now or datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    clock = _Clock(now)

    def stream(name: str) -> Random:
        return Random(f"{seed}:{name}")

    workspace, domain = _workspace(stream("workspace"))
    users = _users(stream("users"), size.users, domain)
    labels = [{"key": key, "value": value, "description": text} for key, value, text in LABELS[: size.labels]]
    sources = _sources(stream("sources"), size.sources, workspace["id"], labels)
    destinations, secrets = _destinations(stream("destinations"), size.destinations, sources)
    warehouses = _warehouses(stream("warehouses"), size.warehouses, workspace["id"])
    plans = _tracking_plans(stream("tracking_plans"), size.tracking_plans, clock)
    plan_rules = {plan["id"]: _rules(stream(f"rules:{index}"), plan, count, clock)
                  for index, (plan, count) in enumerate(zip(plans, _plan_sizes(stream("plan_sizes"), size)))}
    functions, versions = _functions(stream("functions"), size, workspace, users, clock)
    token_rng = stream("tokens")
    ws = Workspace(
        workspace=workspace, sources=sources,
        source_tracking_plan=_plan_assignments(stream("plan_assignments"), sources, plans),
        destinations=destinations, warehouses=warehouses,
        source_warehouses=_warehouse_connections(stream("warehouse_connections"), sources, warehouses),
        tracking_plans=plans, rules=plan_rules, functions=functions, function_versions=versions,
        labels=labels, audit_events=[], secrets=secrets, users=users,
        api_tokens=[f"public-api-token/{alnum_id(token_rng, 8)}" for _ in range(2)],
        seed=seed, scale=scale, generated_at=now, _rng=stream("mutations"), hostile=hostile,
    )
    ws.audit_events.extend(_audit_history(stream("audit"), size.audit_events, ws, clock))
    _surface(ws, stream, size, clock, domain)
    if hostile:
        add_hostile_resources(ws, stream("hostile"), clock)
    ws.touch()
    return ws


def _surface(ws: Workspace, stream: Callable[[str], Random], size: Scale, clock: _Clock, domain: str) -> None:
    """Everything beyond the original core collections; each part draws from its own stream, so the core
    collections (and the random mutation sequence) are what they were before these existed."""
    workspace_id = ws.workspace["id"]
    ws.roles = list(iam.ROLES)
    ws.spaces = engage.spaces(stream("spaces"), size.spaces)
    ws.users = iam.with_permissions(stream("user_permissions"), ws.users, workspace_id, ws.sources, ws.warehouses,
                                    ws.labels, ws.spaces, ws.functions)
    ws.invites = iam.invites(stream("invites"), size.invites, domain, ws.users)
    ws.user_groups, ws.group_members, ws.group_invites = iam.groups(
        stream("user_groups"), size.user_groups, ws.users, ws.invites, workspace_id, ws.sources, ws.warehouses,
        ws.labels, ws.spaces, ws.functions)
    ws.source_settings = connections.schema_settings(stream("source_settings"), ws.sources, ws.source_tracking_plan)
    ws.live_plugins = connections.live_plugins(stream("live_plugins"), ws.sources, ws.users, clock)
    ws.destination_filters = connections.destination_filters(stream("destination_filters"), ws.destinations, clock)
    ws.reverse_etl_sources = connections.retl_sources(stream("retl_sources"),
                                                      max(1, -(-size.reverse_etl_models // 2)), workspace_id)
    ws.reverse_etl_models = connections.retl_models(stream("retl_models"), size.reverse_etl_models,
                                                    ws.reverse_etl_sources)
    ws.destination_subscriptions = connections.subscriptions(stream("subscriptions"), ws.destinations,
                                                             ws.reverse_etl_models)
    sources_by_id = {source["id"]: source for source in ws.sources}
    ws.selective_syncs = connections.selective_syncs(stream("selective_syncs"), ws.source_warehouses,
                                                     sources_by_id, clock)
    ws.warehouse_schedules = connections.sync_schedules(stream("sync_schedules"), ws.warehouses)
    ws.transformations = connections.transformations(stream("transformations"), size.transformations,
                                                     workspace_id, ws.sources, ws.destinations_of)
    ws.insert_function_instances = connections.insert_instances(stream("insert_functions"), ws.functions,
                                                                ws.sources, ws.destinations, clock)
    ws.credentials, ws.credential_consumers = connections.credentials(
        stream("credentials"), size.credentials, workspace_id, ws.warehouses, ws.reverse_etl_sources, clock)
    _engage(ws, stream, size, clock)
    ws.regulations, ws.regulation_details, ws.regulation_sources = privacy.regulations(
        stream("regulations"), size.regulations, workspace_id, ws.sources, ws.destinations_of, clock)
    ws.suppressions = privacy.suppressions(stream("suppressions"), size.suppressions, ws.regulations)


def _engage(ws: Workspace, stream: Callable[[str], Random], size: Scale, clock: _Clock) -> None:
    workspace_id = ws.workspace["id"]
    rng = stream("engage")
    engage_destinations = [d for d in ws.destinations if d["metadata"]["actions"]] or ws.destinations
    by_id = {destination["id"]: destination for destination in engage_destinations}
    for index, space in enumerate(ws.spaces):
        count = (size.first_space_audiences if index == 0 and size.first_space_audiences
                 else rng.randint(*size.audiences_per_space))
        space_audiences = engage.audiences(stream(f"audiences:{index}"), space, count, ws.users, clock)
        ws.audiences += space_audiences
        for audience in space_audiences:
            ws.audience_schedules[audience["id"]] = engage.schedules(rng, audience, clock)
            links = engage.connections(rng, audience, engage_destinations, clock)
            ws.audience_connections[audience["id"]] = links
            ws.activations += engage.activations(rng, workspace_id, audience, links, by_id)
        ws.computed_traits += engage.computed_traits(stream(f"computed_traits:{index}"), space,
                                                     rng.randint(*size.computed_traits_per_space), ws.users, clock)
        warehouses, syncs = engage.profiles_warehouses(rng, space, index, workspace_id)
        ws.profiles_warehouses += warehouses
        ws.profiles_selective_syncs.update(syncs)
        filters = (size.first_space_filters if index == 0 and size.first_space_filters
                   else rng.randint(*size.space_filters_per_space))
        ws.space_filters += engage.space_filters(rng, space, filters, workspace_id, clock)
        ws.space_events[space["id"]] = engage.space_events(rng, size.space_events, clock)
        ws.space_traits[space["id"]] = engage.space_traits(rng, size.space_traits, clock)


class _Clock:
    """Random timestamps in the past, relative to the generation anchor."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def days_ago(self, rng: Random, low: float, high: float) -> datetime:
        return self.now - timedelta(days=rng.uniform(low, high))

    def between(self, rng: Random, start: datetime, end: datetime) -> datetime:
        return start + (end - start) * rng.random()


# --- workspace, people ----------------------------------------------------------------------------------------


def _workspace(rng: Random) -> tuple[dict[str, Any], str]:
    company, domain = rng.choice(COMPANIES)
    flavour, slug = rng.choice(WORKSPACE_FLAVOURS)
    return {"id": alnum_id(rng), "slug": f"{company.lower()}-{slug}", "name": f"{company} {flavour}"}, domain


def _users(rng: Random, count: int, domain: str) -> list[dict[str, Any]]:
    users = []
    for index in range(count):
        first, last = FIRST_NAMES[index % len(FIRST_NAMES)], rng.choice(LAST_NAMES)
        suffix = "" if index < len(FIRST_NAMES) else str(index // len(FIRST_NAMES))
        users.append({"id": alnum_id(rng), "name": f"{first} {last}",
                      "email": f"{first}.{last}{suffix}@{domain}".lower()})
    return users


def _weighted(rng: Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


# --- sources --------------------------------------------------------------------------------------------------


def _sources(rng: Random, count: int, workspace_id: str, labels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    taken: set[str] = set()
    return [_source(rng, index, workspace_id, labels, taken) for index in range(count)]


def _source(rng: Random, index: int, workspace_id: str, labels: list[dict[str, Any]], taken: set[str]) -> dict:
    entry = catalog.SOURCES[_weighted(rng, SOURCE_WEIGHTS)]
    name, env = unique_source_name(rng, entry.slug, taken)
    sends_events = not entry.metadata["categories"][0] in ("Payments", "CRM", "Helpdesk")
    write_keys = [alnum_id(rng, 32) for _ in range(2 if rng.random() < 0.08 else 1)] if sends_events else []
    return {
        "id": alnum_id(rng), "slug": slugify(name), "name": name, "workspaceId": workspace_id,
        # index % 9 == 1 guarantees a disabled source even in the tiny workspace
        "enabled": not (index % 9 == 1 or rng.random() < 0.04),
        "writeKeys": write_keys, "metadata": entry.metadata, "settings": entry.sample_settings(rng),
        "labels": _source_labels(rng, env, labels),
    }


def _source_labels(rng: Random, env: str, labels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    chosen = [label for label in labels if label["key"] == "environment" and label["value"] == env]
    others = [label for label in labels if label["key"] != "environment"]
    chosen += rng.sample(others, min(len(others), rng.choice((0, 0, 1, 1, 2))))
    return chosen


# --- destinations ---------------------------------------------------------------------------------------------


def _destinations(rng: Random, count: int, sources: list[dict[str, Any]]) -> tuple[list[dict], dict[str, dict]]:
    # Every seventh source (starting with the third) has no destinations at all.
    hosts = [source for index, source in enumerate(sources) if index % 7 != 2] or sources
    destinations, secrets = [], {}
    for index in range(count):
        source = hosts[index % len(hosts)] if index < len(hosts) else rng.choice(hosts)
        destination, clear = _destination(rng, index, source)
        destinations.append(destination)
        secrets[destination["id"]] = clear
    return destinations, secrets


def _destination(rng: Random, index: int, source: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    entry = catalog.DESTINATIONS[_weighted(rng, DESTINATION_WEIGHTS)]
    settings = entry.sample_settings(rng)
    clear = {name: settings[name] for name in entry.secrets}
    served = {name: catalog.mask(value) if name in entry.secrets else value for name, value in settings.items()}
    env = source["name"].rsplit("(", 1)[-1].rstrip(")")
    name = rng.choice((f"{entry.name} ({env})", entry.name, f"{entry.name} - {source['name']}", ""))
    destination = {
        "id": object_id(rng) if rng.random() < 0.3 else alnum_id(rng), "name": name,
        "enabled": not (index % 11 == 3 or rng.random() < 0.08), "sourceId": source["id"],
        "settings": served, "metadata": entry.metadata,
    }
    return destination, clear


# --- warehouses -----------------------------------------------------------------------------------------------

WAREHOUSE_PURPOSES = ("Analytics", "Marketing", "Finance", "Product", "Data Science", "Sandbox", "Archive", "EU")


def _warehouses(rng: Random, count: int, workspace_id: str) -> list[dict[str, Any]]:
    warehouses = []
    for index in range(count):
        entry = catalog.WAREHOUSES[_weighted(rng, WAREHOUSE_WEIGHTS)]
        purpose = WAREHOUSE_PURPOSES[index % len(WAREHOUSE_PURPOSES)]
        number = f" {index // len(WAREHOUSE_PURPOSES) + 1}" if index >= len(WAREHOUSE_PURPOSES) else ""
        settings = {"name": f"{purpose} {entry.name}{number}"}
        settings.update({name: value for name, value in entry.sample_settings(rng).items()
                         if name not in entry.secrets})  # the API never returns warehouse passwords
        warehouses.append({"id": alnum_id(rng), "workspaceId": workspace_id,
                           "enabled": index % 6 != 5, "settings": settings, "metadata": entry.metadata})
    return warehouses


def _warehouse_connections(rng: Random, sources: list[dict], warehouses: list[dict]) -> list[tuple[str, str]]:
    pairs = []
    for source in sources:
        wanted = rng.choices((0, 1, 2), weights=(35, 50, 15))[0]
        for warehouse in rng.sample(warehouses, min(wanted, len(warehouses))):
            pairs.append((source["id"], warehouse["id"]))
    if warehouses and not pairs and sources:
        pairs.append((sources[0]["id"], warehouses[0]["id"]))
    return pairs


# --- tracking plans -------------------------------------------------------------------------------------------


def _tracking_plans(rng: Random, count: int, clock: _Clock) -> list[dict[str, Any]]:
    plans = []
    for index in range(count):
        area = TRACKING_PLAN_AREAS[index % len(TRACKING_PLAN_AREAS)]
        round_ = index // len(TRACKING_PLAN_AREAS)
        name = f"{area} Plan" + (f" {round_ + 1}" if round_ else "")
        plan_type = "LIVE" if index % 5 != 4 else PLAN_TYPES_BESIDES_LIVE[(index // 5) % 4]
        created = clock.days_ago(rng, 200, 900)
        plans.append({
            "id": f"tp_{ksuid(rng)}", "name": name, "slug": slugify(name),
            "description": f"Events and properties for {area.lower()}.", "type": plan_type,
            "resourceSchemaId": f"rs_{ksuid(rng)}", "createdAt": iso(created),
            "updatedAt": iso(clock.between(rng, created, clock.now - timedelta(days=1))),
        })
    return plans


def _plan_sizes(rng: Random, size: Scale) -> list[int]:
    low, high = size.rules_per_plan
    sizes = list(size.big_plans[: size.tracking_plans])
    sizes += [rng.randint(low, high) for _ in range(size.tracking_plans - len(sizes))]
    return sizes


def _rules(rng: Random, plan: dict[str, Any], count: int, clock: _Clock) -> list[dict[str, Any]]:
    created_plan = datetime.fromisoformat(plan["createdAt"].replace("Z", "+00:00"))
    updated_plan = datetime.fromisoformat(plan["updatedAt"].replace("Z", "+00:00"))
    zero_dates = rng.random() < 0.7  # some plans' rules carry the zero date, others omit deprecatedAt
    items = []
    for rule_type, key, version in rules.rule_identities(rng, count):
        created = clock.between(rng, created_plan, updated_plan)
        updated = clock.between(rng, created, updated_plan)
        deprecated = iso(updated) if rng.random() < 0.03 else (rules.NOT_DEPRECATED if zero_dates else None)
        items.append(rules.rule(rng, rule_type, key, version, iso(created), iso(updated), deprecated))
    return items


def _plan_assignments(rng: Random, sources: list[dict], plans: list[dict]) -> dict[str, str | None]:
    live = [plan["id"] for plan in plans if plan["type"] == "LIVE"]
    # index % 4 == 1 guarantees sources without a tracking plan
    return {source["id"]: rng.choice(live) if live and index % 4 != 1 and rng.random() < 0.85 else None
            for index, source in enumerate(sources)}


# --- functions ------------------------------------------------------------------------------------------------


def _functions(rng: Random, size: Scale, workspace: dict, users: list[dict], clock: _Clock
               ) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    functions, versions = [], {}
    for index in range(size.functions):
        resource_type = FUNCTION_TYPES[index % len(FUNCTION_TYPES)]
        history = _versions(rng, resource_type, index, users, clock, rng.randint(*size.versions_per_function))
        function = _function(rng, resource_type, index, workspace, users, history)
        functions.append(function)
        versions[function["id"]] = history
    return functions, versions


def _function_name(resource_type: str, index: int) -> str:
    names = FUNCTION_NAMES[resource_type]
    round_ = index // len(FUNCTION_TYPES) // len(names)
    return names[(index // len(FUNCTION_TYPES)) % len(names)] + (f" {round_ + 1}" if round_ else "")


def _versions(rng: Random, resource_type: str, index: int, users: list[dict], clock: _Clock,
              count: int) -> list[dict[str, Any]]:
    name = _function_name(resource_type, index)
    deployed = index % 7 != 6  # a few functions were saved but never deployed
    history = []
    moment = clock.days_ago(rng, 120, 400)
    for number in range(1, count + 1):
        moment = clock.between(rng, moment, clock.now - timedelta(days=count - number + 1))
        version = {"id": ksuid(rng), "author": rng.choice(users)["id"], "isDeployed": deployed and number == count,
                   "code": function_code(resource_type, name, number), "createdAt": iso(moment),
                   "updatedAt": iso(moment)}
        if deployed:
            version["deployedAt"] = iso(moment + timedelta(minutes=rng.randint(1, 90)))
        history.append(version)
    return history[::-1]


def _function_settings(resource_type: str) -> list[dict[str, Any]]:
    settings = [{"name": "apiKey", "label": "API Key", "description": "Key for the downstream service.",
                 "type": "STRING", "required": True, "sensitive": True}]
    if resource_type == "DESTINATION":
        settings.append({"name": "endpoint", "label": "Endpoint", "description": "Where events are posted.",
                         "type": "STRING", "required": True, "sensitive": False})
    if resource_type.startswith("INSERT"):
        settings.append({"name": "dropTestTraffic", "label": "Drop test traffic",
                         "description": "Drop events flagged as tests.", "type": "BOOLEAN", "required": False,
                         "sensitive": False})
    settings.append({"name": "eventMap", "label": "Event map", "description": "Rename events on the way.",
                     "type": "TEXT_MAP", "required": False, "sensitive": False})
    return settings


def _function(rng: Random, resource_type: str, index: int, workspace: dict, users: list[dict],
              history: list[dict[str, Any]]) -> dict[str, Any]:
    catalog_id = alnum_id(rng)
    name = _function_name(resource_type, index)
    latest, first = history[0], history[-1]
    display_name = name if resource_type == "SOURCE" else f"{name} ({workspace['name']})"
    return {
        "id": FUNCTION_ID_PREFIX[resource_type] + catalog_id, "resourceType": resource_type,
        "createdAt": first["createdAt"], "createdBy": first["author"], "code": latest["code"],
        "deployedAt": latest.get("deployedAt"), "settings": _function_settings(resource_type),
        "displayName": display_name, "description": f"{name}: maintained by the data platform team.",
        "logoUrl": f"https://cdn-devcenter.segment.com/functions/{catalog_id.lower()}.svg",
        "previewWebhookUrl": f"https://fn.segmentapis.com/?b={catalog_id}" if resource_type == "SOURCE" else "",
        "batchMaxCount": 0 if resource_type == "SOURCE" else rng.choice((0, 20, 100)),
        "catalogId": catalog_id, "isLatestVersion": True, "workspaceId": workspace["id"], "buildpack": "boreal",
    }


# --- audit history --------------------------------------------------------------------------------------------

HISTORY_TYPES = {
    "source": ("Source Created", "Source Modified", "Source Settings Modified", "Source Enabled", "Source Disabled"),
    "destination": ("Integration Created", "Integration Modified", "Integration Enabled", "Integration Disabled"),
    "warehouse": ("Storage Destination Created", "Storage Destination Modified", "Storage Destination Enabled"),
    "tracking_plan": ("Tracking Plan Created", "Tracking Plan Modified", "Source Connected to Tracking Plan"),
    "function": ("Source Function Modified", "Destination Function Modified", "Function Deployed"),
    "label": ("Label Created",),
}
DELETED_TYPES = {"source": "Source Deleted", "destination": "Integration Deleted",
                 "warehouse": "Storage Destination Deleted"}


def _history_subject(rng: Random, ws: Workspace) -> tuple[str, str, str, str]:
    """(event type, resource type, id, name) of one past change; some resources no longer exist."""
    resource_type = rng.choices(list(HISTORY_TYPES), weights=(30, 35, 5, 15, 10, 5))[0]
    if resource_type in DELETED_TYPES and rng.random() < 0.08:
        return DELETED_TYPES[resource_type], resource_type, alnum_id(rng), f"Old {resource_type} {rng.randint(1, 99)}"
    pool = {"source": ws.sources, "destination": ws.destinations, "warehouse": ws.warehouses,
            "tracking_plan": ws.tracking_plans, "function": ws.functions}.get(resource_type)
    if not pool:
        label = rng.choice(ws.labels)
        return "Label Created", "label", f"{label['key']}:{label['value']}", f"{label['key']}:{label['value']}"
    item = rng.choice(pool)
    return rng.choice(HISTORY_TYPES[resource_type]), resource_type, item["id"], resource_name(resource_type, item)


def _audit_history(rng: Random, count: int, ws: Workspace, clock: _Clock) -> list[dict[str, Any]]:
    moments = sorted(clock.days_ago(rng, 0.01, HISTORY_DAYS) for _ in range(count))
    number = rng.randint(100_000_000, 300_000_000)
    events = []
    for moment in moments:
        number += rng.randint(1, 40)  # other workspaces' events interleave
        event_type, resource_type, resource_id, name = _history_subject(rng, ws)
        event = {"id": f"events/{number}", "timestamp": iso(moment), "type": event_type}
        if rng.random() < 0.25:
            event["actor"] = rng.choice(ws.api_tokens)
        else:
            user = rng.choice(ws.users)
            event.update(actor=user["id"], actorEmail=user["email"])
        event.update(resourceId=resource_id, resourceType=resource_type, resourceName=name)
        events.append(event)
    return events
