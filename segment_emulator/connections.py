"""Configuration that hangs off sources, destinations, warehouses and functions (facts §3.2-3.4, 3.7-3.8,
3.15-3.16, 3.20-3.22): schema settings, live plugins, destination filters, Actions subscriptions, selective
syncs, advanced sync schedules, transformations, insert function instances, Reverse ETL models and credentials.

Everything here is generated cheaply (a `large` workspace has thousands of each): shared template dicts are
referenced rather than copied wherever the served value is the same, which is safe because served dicts are
never edited in place (see `state.py`).
"""

from __future__ import annotations

from datetime import timedelta
from random import Random
from typing import Any, Callable

from . import catalog
from .catalog import mask
from .ids import alnum_id, iso, ksuid, slugify, uuid4_like
from .vocabulary import EVENT_NAMES

# --- source schema settings (`GET /sources/{id}/settings`) ----------------------------------------------------

DEFAULT_SCHEMA_SETTINGS: dict[str, Any] = {
    "track": {"allowUnplannedEvents": True, "allowUnplannedEventProperties": True, "allowEventOnViolations": True,
              "allowPropertiesOnViolations": True, "commonEventOnViolations": "ALLOW"},
    "identify": {"allowUnplannedTraits": True, "allowTraitsOnViolations": True, "commonEventOnViolations": "ALLOW"},
    "group": {"allowUnplannedTraits": True, "allowTraitsOnViolations": True, "commonEventOnViolations": "ALLOW"},
    "forwardingViolationsTo": "", "forwardingBlockedEventsTo": "",
}


def schema_settings(rng: Random, sources: list[dict], plan_of: dict[str, str | None]) -> dict[str, dict]:
    """Sources connected to a tracking plan usually block or omit unplanned data; the others keep the defaults
    (one shared dict)."""
    settings = {}
    event_sources = [source["id"] for source in sources if source["writeKeys"]]
    for source in sources:
        if not plan_of.get(source["id"]):
            settings[source["id"]] = DEFAULT_SCHEMA_SETTINGS
            continue
        strict = rng.random() < 0.6
        forward = rng.choice(event_sources) if event_sources and rng.random() < 0.3 else ""
        settings[source["id"]] = {
            "track": {"allowUnplannedEvents": not strict, "allowUnplannedEventProperties": rng.random() < 0.5,
                      "allowEventOnViolations": not strict or rng.random() < 0.3,
                      "allowPropertiesOnViolations": rng.random() < 0.6,
                      "commonEventOnViolations": rng.choice(("ALLOW", "BLOCK", "OMIT_PROPERTIES"))},
            "identify": {"allowUnplannedTraits": rng.random() < 0.6, "allowTraitsOnViolations": rng.random() < 0.7,
                         "commonEventOnViolations": rng.choice(("ALLOW", "BLOCK", "OMIT_TRAITS"))},
            "group": {"allowUnplannedTraits": rng.random() < 0.7, "allowTraitsOnViolations": True,
                      "commonEventOnViolations": rng.choice(("ALLOW", "OMIT_TRAITS"))},
            "forwardingViolationsTo": forward if forward != source["id"] else "",
            "forwardingBlockedEventsTo": "",
        }
    return settings


# --- live plugins ---------------------------------------------------------------------------------------------

LIVE_PLUGIN_CODE = """// Live plugin v{version}
export default function (analytics) {{
  analytics.addSourceMiddleware(({{ payload, next }}) => {{
    payload.obj.context = {{ ...payload.obj.context, livePlugin: {version} }};
    next(payload);
  }});
}}
"""


def live_plugins(rng: Random, sources: list[dict], users: list[dict], clock: Any) -> dict[str, dict]:
    """A few web and mobile sources run a live plugin; the first javascript source always does."""
    plugins = {}
    first_web = next((source["id"] for source in sources if source["metadata"]["slug"] == "javascript"), None)
    for source in sources:
        if source["metadata"]["slug"] not in ("javascript", "ios", "android", "react-native"):
            continue
        if source["id"] != first_web and rng.random() > 0.08:
            continue
        plugin_id = uuid4_like(rng)
        version = rng.randint(1, 14)
        plugins[source["id"]] = {
            "id": plugin_id, "sourceId": source["id"], "createdAt": iso(clock.days_ago(rng, 1, 200)),
            "createdBy": rng.choice(users)["id"],
            "downloadURL": f"https://cdn.edgefn.segment.com/{source['id']}/{plugin_id}.js", "version": version,
            "code": LIVE_PLUGIN_CODE.format(version=version) if rng.random() < 0.8 else None,
        }
    return plugins


# --- destination filters --------------------------------------------------------------------------------------

FILTER_TEMPLATES: tuple[tuple[str, str, str, Callable[[Random], list[dict]]], ...] = (
    ("Drop debug pings", 'event = "Debug Ping"', "Keep noise out of the destination.",
     lambda rng: [{"type": "DROP"}]),
    ("Only track calls", '!(type = "track")', "Everything except track calls is dropped.",
     lambda rng: [{"type": "DROP"}]),
    ("Drop test traffic", 'match(context.page.url, "*staging*") or properties.test = true', "",
     lambda rng: [{"type": "DROP"}]),
    ("Strip PII", 'type = "identify"', "Remove personal traits before sending.",
     lambda rng: [{"type": "DROP_PROPERTIES", "fields": {"traits": ["email", "phone", "address"]}}]),
    ("Allow core properties", 'event = "Order Completed"', "Only the revenue fields leave Segment.",
     lambda rng: [{"type": "ALLOW_PROPERTIES", "fields": {"properties": ["order_id", "revenue", "currency"]}}]),
    ("Sample page views", 'type = "page"', "Page views are expensive here.",
     lambda rng: [{"type": "SAMPLE", "percent": rng.choice((0.1, 0.25, 0.5)), "path": "userId"}]),
    ("Drop bot traffic", 'match(context.userAgent, "*bot*")', "",
     lambda rng: [{"type": "DROP"}]),
    ("No internal users", 'contains(traits.email, "@acme.example")', "Employees are not customers.",
     lambda rng: [{"type": "DROP"}]),
)


def destination_filters(rng: Random, destinations: list[dict], clock: Any) -> list[dict[str, Any]]:
    """About one destination in eight has filters (index % 13 == 4 always does, so tiny workspaces have some)."""
    filters = []
    for index, destination in enumerate(destinations):
        if index % 13 != 4 and rng.random() > 0.1:
            continue
        for template in rng.sample(FILTER_TEMPLATES, rng.choice((1, 1, 1, 2, 3))):
            title, condition, description, actions = template
            created = clock.days_ago(rng, 5, 400)
            item = {"id": alnum_id(rng), "sourceId": destination["sourceId"], "destinationId": destination["id"],
                    "if": condition, "actions": actions(rng), "title": title}
            if description:
                item["description"] = description
            item.update(enabled=rng.random() < 0.85, createdAt=iso(created),
                        updatedAt=iso(clock.between(rng, created, clock.now)))
            filters.append(item)
    return filters


# --- destination subscriptions (Actions) ----------------------------------------------------------------------

SCHEDULES: tuple[dict[str, Any], ...] = (
    {"strategy": "PERIODIC", "config": {"interval": "15m"}},
    {"strategy": "PERIODIC", "config": {"interval": "1h"}},
    {"strategy": "SPECIFIC_DAYS", "config": {"days": [1, 3, 5], "hours": [6], "timezone": "America/New_York"}},
    {"strategy": "CRON", "config": {"spec": "0 */6 * * *", "timezone": "UTC"}},
    {"strategy": "MANUAL", "config": None},
    {"strategy": "DBT_CLOUD", "config": {"jobId": "70403103922222", "accountId": "60403103922222"}},
)


def subscriptions(rng: Random, destinations: list[dict], models: list[dict]) -> list[dict[str, Any]]:
    """Actions destinations have one subscription per preset they use; Reverse ETL models feed a subscription
    each (with `modelId` and a `reverseETLSchedule`)."""
    items = []
    for destination in destinations:
        metadata = destination["metadata"]
        if not metadata["actions"]:
            continue
        presets = {preset["actionId"]: preset for preset in metadata["presets"]}
        for action in rng.sample(metadata["actions"], rng.randint(1, len(metadata["actions"]))):
            preset = presets.get(action["id"])
            custom = preset is None or rng.random() < 0.2
            items.append({
                "id": alnum_id(rng), "name": f"{action['name']} (custom)" if custom else preset["name"],
                "actionId": action["id"], "actionSlug": action["slug"], "destinationId": destination["id"],
                "enabled": rng.random() < 0.9,
                "settings": preset["fields"] if preset and not custom else
                {field["fieldKey"]: field.get("defaultValue", "") for field in action["fields"][:2]},
                "trigger": (action["defaultTrigger"] or 'type = "track"') if not custom else
                f'event = "{rng.choice(EVENT_NAMES)}"',
            })
    actions_destinations = [d for d in destinations if d["metadata"]["actions"]]
    for model in models:
        if not actions_destinations:
            break
        destination = rng.choice(actions_destinations)
        action = rng.choice(destination["metadata"]["actions"])
        items.append({
            "id": alnum_id(rng), "name": f"{model['name']} → {action['name']}", "actionId": action["id"],
            "actionSlug": action["slug"], "destinationId": destination["id"], "enabled": model["enabled"],
            "settings": {field["fieldKey"]: {"@path": f"$.properties.{field['fieldKey']}"}
                         for field in action["fields"][:3]},
            "trigger": 'event = "new" or event = "updated"', "modelId": model["id"],
            "reverseETLSchedule": rng.choice(SCHEDULES),
        })
    return items


# --- warehouses: selective sync and advanced schedule ---------------------------------------------------------

_EVENT_COLLECTIONS = ("tracks", "identifies", "users", "pages", "screens", "groups")
_COLUMN_TYPES = {"id": "string", "user_id": "string", "anonymous_id": "string", "received_at": "timestamp",
                 "sent_at": "timestamp", "event": "string", "context_library_name": "string",
                 "context_ip": "string", "email": "string", "revenue": "float", "quantity": "integer",
                 "url": "string", "name": "string", "plan": "string", "amount": "integer", "status": "string"}


def _properties(columns: tuple[str, ...], created: str, seen: str) -> dict[str, Any]:
    return {column: {"enabled": True, "type": _COLUMN_TYPES.get(column, "string"), "lastSeenAt": seen,
                     "createdAt": created} for column in columns}


def selective_syncs(rng: Random, pairs: list[tuple[str, str]], sources: dict[str, dict], clock: Any
                    ) -> list[dict[str, Any]]:
    """One item per collection a connected source writes to a warehouse; a few collections or columns are
    switched off. Items carry the undocumented `source` key (the catalog id) seen in live responses."""
    created, seen = iso(clock.now - timedelta(days=300)), iso(clock.now - timedelta(hours=3))
    templates: dict[tuple[str, ...], dict[str, Any]] = {}

    def template(columns: tuple[str, ...]) -> dict[str, Any]:
        if columns not in templates:
            templates[columns] = _properties(columns, created, seen)
        return templates[columns]

    items = []
    for source_id, warehouse_id in pairs:
        source = sources[source_id]
        settings = source.get("settings") or {}
        if isinstance(settings.get("collections"), dict):  # cloud sources sync their objects
            collections = [(name, ("id", "received_at", "name", "status", "amount")) for name in
                           settings["collections"]]
        else:
            base = ["tracks", "identifies", "users"]
            base.append("screens" if source["metadata"]["categories"] == ["Mobile"] else "pages")
            collections = [(name, ("id", "user_id", "anonymous_id", "received_at", "context_library_name"))
                           for name in base]
            collections += [(slugify(name).replace("-", "_"), ("id", "user_id", "received_at", "event", "revenue"))
                            for name in rng.sample(EVENT_NAMES[:60], 2)]
        for collection, columns in collections:
            properties = template(columns)
            if rng.random() < 0.08:
                off = rng.choice(columns)
                properties = {**properties, off: {**properties[off], "enabled": False}}
            items.append({"sourceId": source_id, "collection": collection, "warehouseId": warehouse_id,
                          "source": source["metadata"]["id"], "enabled": rng.random() > 0.05,
                          "properties": properties})
    return items


def sync_schedules(rng: Random, warehouses: list[dict]) -> dict[str, dict[str, Any]]:
    schedules = {}
    for index, warehouse in enumerate(warehouses):
        if index % 3 == 1 or rng.random() < 0.2:
            hours = sorted(rng.sample(range(24), rng.randint(2, 6)))
            schedules[warehouse["id"]] = {
                "enabled": True,
                "schedule": {"times": [{"hourOfDay": hour, "enabled": rng.random() < 0.9} for hour in hours],
                             "timezone": rng.choice(("America/Vancouver", "UTC", "Europe/Berlin", "Asia/Tokyo"))}}
        else:
            schedules[warehouse["id"]] = {"enabled": False}
    return schedules


# --- transformations ------------------------------------------------------------------------------------------


def transformations(rng: Random, count: int, workspace_id: str, sources: list[dict],
                    destinations_of: Callable[[str], list[dict]]) -> list[dict[str, Any]]:
    event_sources = [source for source in sources if source["writeKeys"]] or sources
    items = []
    for index in range(count):
        if not event_sources:
            break
        source = event_sources[index % len(event_sources)] if index < len(event_sources) else rng.choice(
            event_sources)
        event = rng.choice(EVENT_NAMES)
        kind = index % 6
        item: dict[str, Any] = {"id": ksuid(rng), "workspaceId": workspace_id, "name": "", "sourceId": source["id"]}
        scoped = destinations_of(source["id"])
        if scoped and rng.random() < 0.5:
            item["destinationMetadataId"] = rng.choice(scoped)["metadata"]["id"]
        item["enabled"] = rng.random() < 0.85
        item["if"] = f"event = '{event}'"
        renames: list[dict[str, str]] = []
        if kind == 0:
            item["name"] = f"Rename {event}"
            item["newEventName"] = slugify(event).replace("-", "_")
        elif kind == 1:
            item["name"] = f"Rename properties of {event}"
            renames = [{"oldName": "total", "newName": "revenue"}, {"oldName": "sku", "newName": "product_id"}][
                : rng.randint(1, 2)]
        elif kind == 2:
            item["name"] = f"Drop {event}"
            item["drop"] = True
        elif kind == 3:
            item["name"] = f"Normalise currency on {event}"
            item["propertyValueTransformations"] = [{"propertyPaths": ["properties.currency"],
                                                     "propertyValue": "USD"}]
            item["fqlDefinedProperties"] = [{"fql": "lowercase(properties.coupon)", "propertyName": "coupon_code"}]
        elif kind == 4:
            item["name"] = f"Allowlist for {event}"
            item["allowProperties"] = ["order_id", "revenue", "currency"]
        else:
            item["name"] = f"Hash emails on {event}"
            item["hashPropertiesConfiguration"] = {"algorithm": "SHA-256", "encoding": rng.choice(("HEX", "BASE64")),
                                                   "paths": ["properties.email", "context.traits.email"]}
        item["propertyRenames"] = renames  # required in 2022, optional today; always sent (like the live API)
        items.append(item)
    return items


# --- insert function instances --------------------------------------------------------------------------------


def insert_instances(rng: Random, functions: list[dict], sources: list[dict], destinations: list[dict],
                     clock: Any) -> list[dict[str, Any]]:
    """Insert functions attach to destinations (INSERT_DESTINATION, INSERT_TRANSFORMATION) or sources
    (INSERT_SOURCE). Secret settings live in `encryptedSettings`, masked like destination secrets."""
    items = []
    for function in functions:
        kind = function["resourceType"]
        if not kind.startswith("INSERT_"):
            continue
        pool = sources if kind == "INSERT_SOURCE" else destinations
        for target in rng.sample(pool, min(len(pool), rng.choice((0, 1, 1, 2, 3)))):
            created = clock.days_ago(rng, 2, 150)
            items.append({
                "id": alnum_id(rng), "name": f"{function['displayName'].split(' (')[0]} on "
                                            f"{target.get('name') or target['metadata']['name']}",
                "integrationId": target["id"], "classId": function["id"], "enabled": rng.random() < 0.85,
                "createdAt": iso(created), "updatedAt": iso(clock.between(rng, created, clock.now)),
                "settings": {"dropTestTraffic": rng.random() < 0.5,
                             "eventMap": {"Order Done": "Order Completed"} if rng.random() < 0.3 else {}},
                "encryptedSettings": {"apiKey": mask(alnum_id(rng, 32))},
            })
    return items


# --- Reverse ETL and credentials ------------------------------------------------------------------------------

RETL_SOURCE_TYPES = ("snowflake", "bigquery", "databricks", "redshift", "postgres")
MODEL_NAMES = ("Active customers", "Churn risk scores", "Lifetime value", "Open support tickets", "Product catalog",
               "Trial accounts", "Lead scores", "Subscription status", "Store locations", "Loyalty tiers")


def retl_sources(rng: Random, count: int, workspace_id: str) -> list[dict[str, Any]]:
    """The warehouse sources Reverse ETL models read from (SourceV1 shaped, catalog category "Warehouse")."""
    items = []
    for index in range(count):
        entry = catalog.RETL_SOURCES[RETL_SOURCE_TYPES[index % len(RETL_SOURCE_TYPES)]]
        name = f"{entry.name} Reverse ETL" + (f" {index + 1}" if index >= len(RETL_SOURCE_TYPES) else "")
        items.append({"id": alnum_id(rng), "slug": slugify(name), "name": name, "workspaceId": workspace_id,
                      "enabled": True, "writeKeys": [], "metadata": entry.metadata,
                      "settings": entry.sample_settings(rng), "labels": []})
    return items


def retl_models(rng: Random, count: int, sources: list[dict]) -> list[dict[str, Any]]:
    items = []
    for index in range(count):
        if not sources:
            break
        name = MODEL_NAMES[index % len(MODEL_NAMES)] + (f" {index // len(MODEL_NAMES) + 1}"
                                                        if index >= len(MODEL_NAMES) else "")
        table = slugify(name).replace("-", "_")
        items.append({"id": alnum_id(rng, 25), "sourceId": sources[index % len(sources)]["id"], "name": name,
                      "description": f"{name} for activation.", "enabled": index % 4 != 3,
                      "query": f"select id, email, updated_at from analytics.{table} where updated_at > "
                               f"current_date - {rng.choice((7, 30, 90, 365))}",
                      "queryIdentifierColumn": "id"})
    return items


CREDENTIAL_TYPES = {"snowflake": "Snowflake", "bigquery": "BigQuery", "redshift": "Redshift",
                    "postgres": "Postgres", "databricks": "Databricks"}


def credentials(rng: Random, count: int, workspace_id: str, warehouses: list[dict], retl: list[dict], clock: Any
                ) -> tuple[list[dict[str, Any]], dict[str, dict[str, list[str]]]]:
    """Shared warehouse credentials and who uses them (warehouses of the same type, Reverse ETL sources).
    Secret settings are not returned (like warehouse passwords)."""
    items, consumers = [], {}
    used = [warehouse["metadata"]["slug"] for warehouse in warehouses]
    kinds = sorted(set(used), key=lambda slug: (-used.count(slug), slug))  # types in use first
    kinds += sorted(set(CREDENTIAL_TYPES) - set(kinds))
    for index in range(count):
        kind = kinds[index % len(kinds)]
        created = clock.days_ago(rng, 10, 500)
        settings = {"type": CREDENTIAL_TYPES.get(kind, kind.title())}
        settings.update({key: value for key, value in catalog.WAREHOUSES[kind].sample_settings(rng).items()
                         if key not in catalog.WAREHOUSES[kind].secrets} if kind in catalog.WAREHOUSES else {})
        credential = {"id": ksuid(rng), "workspaceId": workspace_id,
                      "name": f"{settings['type']} {('loader', 'service account', 'readonly')[index % 3]}",
                      "settings": settings, "createdAt": iso(created),
                      "updatedAt": iso(clock.between(rng, created, clock.now))}
        items.append(credential)
        consumers[credential["id"]] = {
            "warehouses": [w["id"] for w in warehouses if w["metadata"]["slug"] == kind and
                           (index == 0 or rng.random() < 0.8)],
            "sources": [s["id"] for s in retl if s["metadata"]["slug"].endswith(kind) or index == 0]}
    return items, consumers
