"""Engage content: spaces, audiences (with schedules, destination connections, activations), computed traits,
Profiles Sync warehouses, space filters and the observed space schema (facts §3.17-3.19, 3.22).

Audience destination connections reuse the workspace's Actions destinations (an Engage destination is a
destination instance connected to the space's source), so ids stay consistent across endpoints.
"""

from __future__ import annotations

from random import Random
from typing import Any

from . import catalog
from .ids import alnum_id, iso, ksuid, slugify
from .vocabulary import EVENT_NAMES, PAGE_NAMES, SCREEN_NAMES

SPACE_NAMES = ("Production", "Staging", "EU Profiles", "Sandbox", "Loyalty", "B2B Accounts")
AUDIENCE_THEMES = (
    ("High-value buyers", "event('Order Completed').count() >= 2 within 30 days"),
    ("Cart abandoners", "event('Cart Viewed').within(7 days).count() >= 1 and "
                        "event('Order Completed').within(7 days).count() = 0"),
    ("Trial users", "trait('plan') = 'trial'"),
    ("Churn risk", "event('Session Started').within(30 days).count() = 0"),
    ("Newsletter subscribers", "trait('newsletter_opt_in') = true"),
    ("Pro plan", "trait('plan') = 'pro'"),
    ("Lapsed customers", "event('Order Completed').within(180 days).count() = 0"),
    ("Frequent browsers", "event('Product Viewed').within(14 days).count() >= 10"),
    ("EU residents", "trait('country') in ['DE', 'FR', 'ES', 'IT', 'NL']"),
    ("Mobile first", "event('Application Opened').within(30 days).count() >= 5"),
    ("Big spenders", "event('Order Completed').within(365 days).sum('revenue') >= 1000"),
    ("Recent sign-ups", "event('Signed Up').within(7 days).count() >= 1"),
)
TRAIT_THEMES = (
    ("Orders last 90d", "event('Order Completed').within(90 days).count()"),
    ("Lifetime revenue", "event('Order Completed').sum('revenue')"),
    ("Favourite category", "event('Product Viewed').most_frequent('category')"),
    ("Last seen", "event('Session Started').last('timestamp')"),
    ("First order date", "event('Order Completed').first('timestamp')"),
    ("Average order value", "event('Order Completed').mean('revenue')"),
    ("Emails opened 30d", "event('Email Opened').within(30 days).count()"),
)
STATUSES = ("Live",) * 8 + ("Computing", "Backfilling", "Disabled", "Awaiting Destinations", "Error")
TRAIT_STATUSES = ("Live",) * 8 + ("Computing", "Backfilling", "Failed", "Disabled")
CUSTOM_TRAITS = ("email", "first_name", "last_name", "plan", "company", "title", "industry", "country", "city",
                 "phone", "newsletter_opt_in", "created_at", "lifetime_value", "referrer", "language", "timezone",
                 "avatar", "age_band", "loyalty_tier", "account_owner")
PROFILES_COLLECTIONS = ("id_graph_updates", "external_id_mapping_updates", "profile_traits_updates", "identifies",
                        "tracks", "pages", "screens", "groups")
ACTIVATION_TYPES = ("Audience Entered", "Audience Exited", "Audience Membership Changed")


def spaces(rng: Random, count: int) -> list[dict[str, Any]]:
    items = []
    for index in range(count):
        name = SPACE_NAMES[index % len(SPACE_NAMES)] + (f" {index // len(SPACE_NAMES) + 1}"
                                                        if index >= len(SPACE_NAMES) else "")
        items.append({"id": alnum_id(rng), "slug": slugify(name), "name": name})
    return items


def _key(name: str, taken: set[str]) -> str:
    key = slugify(name).replace("-", "_")
    candidate, number = key, 1
    while candidate in taken:
        number += 1
        candidate = f"{key}_{number}"
    taken.add(candidate)
    return candidate


def audiences(rng: Random, space: dict, count: int, users: list[dict], clock: Any) -> list[dict[str, Any]]:
    """Audiences of one space; about one in six builds on an earlier audience (`audience('key')`), which is
    what `/audience-references` lists."""
    items: list[dict[str, Any]] = []
    taken: set[str] = set()
    for index in range(count):
        theme, query = AUDIENCE_THEMES[index % len(AUDIENCE_THEMES)]
        name = theme if index < len(AUDIENCE_THEMES) else f"{theme} {index // len(AUDIENCE_THEMES) + 1}"
        if items and rng.random() < 0.18:
            query = f"audience('{rng.choice(items[-12:])['key']}') and {query}"
        audience_type = "USERS" if rng.random() < 0.85 else rng.choice(("ACCOUNTS", "LINKED"))
        created = clock.days_ago(rng, 3, 500)
        author = rng.choice(users)["id"]
        item: dict[str, Any] = {"id": ksuid(rng), "spaceId": space["id"], "name": name}
        if rng.random() < 0.7:
            item["description"] = f"{name} ({space['name']})."
        item.update({
            "key": _key(name, taken), "enabled": rng.random() < 0.9,
            "definition": {"query": query, "targetEntity": "accounts" if audience_type == "LINKED" else None},
            "status": rng.choice(STATUSES), "createdBy": author,
            "updatedBy": author if rng.random() < 0.6 else rng.choice(users)["id"],
            "createdAt": iso(created), "updatedAt": iso(clock.between(rng, created, clock.now)),
            "audienceType": audience_type,
            "computeCadence": {"type": "REALTIME" if rng.random() < 0.6 else "BATCH"},
            "size": {"type": "ACCOUNTS" if audience_type == "ACCOUNTS" else "USERS",
                     "count": int(10 ** rng.uniform(1, 6))},
            "options": {"filterByExternalIds": rng.sample(["email", "user_id", "anonymous_id", "phone"],
                                                          rng.randint(1, 3)),
                        "includeHistoricalData": rng.random() < 0.7},
        })
        if rng.random() < 0.3:
            item["options"]["backfillEventDataDays"] = rng.choice((7, 30, 90))
        items.append(item)
    return items


def schedules(rng: Random, audience: dict[str, Any], clock: Any) -> list[dict[str, Any]]:
    if audience["computeCadence"]["type"] != "BATCH":
        return []
    items = []
    for _ in range(rng.choice((0, 1, 1, 2))):
        if rng.random() < 0.5:
            config: dict[str, Any] = {"interval": rng.choice(("15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h",
                                                              "1d"))}
            strategy = "PERIODIC"
        else:
            config = {"days": sorted(rng.sample(range(7), rng.randint(1, 3))),
                      "hours": sorted(rng.sample(range(24), rng.randint(1, 2))),
                      "timezone": rng.choice(("UTC", "America/New_York", "Europe/London"))}
            strategy = "SPECIFIC_DAYS"
        item: dict[str, Any] = {"id": alnum_id(rng), "strategy": strategy, "config": config}
        if audience["enabled"]:
            item["nextExecution"] = iso(clock.now + (clock.now - clock.days_ago(rng, 0.01, 1)))
        items.append(item)
    return items


def connections(rng: Random, audience: dict[str, Any], destinations: list[dict], clock: Any) -> list[dict]:
    """`SimpleDestination`s: the destinations an audience syncs to."""
    items = []
    for destination in rng.sample(destinations, min(len(destinations), rng.choice((0, 1, 1, 2, 3)))):
        created = clock.days_ago(rng, 1, 300)
        metadata = destination["metadata"]
        item: dict[str, Any] = {
            "id": destination["id"], "sourceId": destination["sourceId"], "enabled": destination["enabled"],
            "createdAt": iso(created), "updatedAt": iso(clock.between(rng, created, clock.now)),
            "settings": destination["settings"], "destinationId": metadata["id"],
            "metadata": {"id": metadata["id"], "name": metadata["name"], "slug": metadata["slug"]},
            "idSyncConfiguration": [{"externalId": external, "strategy": rng.choice(("first", "last", "all"))}
                                    for external in audience["options"]["filterByExternalIds"][:2]],
        }
        if destination.get("name"):
            item["name"] = destination["name"]
        if rng.random() < 0.3:
            item["connectionSettings"] = {"audienceListName": audience["key"]}
        items.append(item)
    return items


def activations(rng: Random, workspace_id: str, audience: dict[str, Any], links: list[dict],
                destinations: dict[str, dict]) -> list[dict[str, Any]]:
    items = []
    for link in links:
        actions = destinations[link["id"]]["metadata"]["actions"]
        for kind in rng.sample(ACTIVATION_TYPES, rng.choice((0, 1, 1, 2))):
            item: dict[str, Any] = {
                "id": alnum_id(rng), "enabled": rng.random() < 0.85, "workspaceId": workspace_id,
                "spaceId": audience["spaceId"], "audienceId": audience["id"], "connectionId": link["id"],
                "activationType": kind, "activationName": f"{audience['name']}: {kind.lower()}",
                "displayName": None if rng.random() < 0.5 else f"{kind} → {link['metadata']['name']}",
                "personalization": {"profile": {"properties": rng.sample(list(CUSTOM_TRAITS[:8]), 3),
                                                "mapping": {"email": "$.traits.email"}}},
            }
            if actions:
                action = rng.choice(actions)
                item["destinationMapping"] = {"actionId": action["id"],
                                              "settings": {"event_name": kind, "user_id": {"@path": "$.userId"}}}
            if rng.random() < 0.3:
                item["performResync"] = False
            items.append(item)
    return items


def computed_traits(rng: Random, space: dict, count: int, users: list[dict], clock: Any) -> list[dict]:
    items = []
    taken: set[str] = set()
    for index in range(count):
        theme, query = TRAIT_THEMES[index % len(TRAIT_THEMES)]
        name = theme if index < len(TRAIT_THEMES) else f"{theme} {index // len(TRAIT_THEMES) + 1}"
        created = clock.days_ago(rng, 3, 600)
        author = rng.choice(users)["id"]
        item: dict[str, Any] = {"id": ksuid(rng), "spaceId": space["id"], "name": name}
        if rng.random() < 0.5:
            item["description"] = f"{name}, recomputed continuously."
        item.update({
            "key": _key(name, taken), "enabled": rng.random() < 0.88,
            "definition": {"query": query, "type": "USERS" if rng.random() < 0.85 else "ACCOUNTS"},
            "status": rng.choice(TRAIT_STATUSES), "createdBy": author, "updatedBy": rng.choice(users)["id"],
            "createdAt": iso(created), "updatedAt": iso(clock.between(rng, created, clock.now)),
        })
        if rng.random() < 0.6:
            item["options"] = {"includeHistoricalData": rng.random() < 0.7,
                               "includeAnonymousUsers": rng.random() < 0.3}
        items.append(item)
    return items


def profiles_warehouses(rng: Random, space: dict, index: int, workspace_id: str
                        ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Profiles Sync targets of a space (secrets shown as "<redacted>", as in the docs) and their selective
    sync settings."""
    items, syncs = [], {}
    for number in range(1 if index == 0 else rng.choice((0, 0, 1, 2))):
        entry = catalog.WAREHOUSES[rng.choice(("snowflake", "bigquery", "databricks"))]
        settings = {"name": f"{space['name']} profiles {entry.name}"}
        settings.update({name: "<redacted>" if name in entry.secrets else value
                         for name, value in entry.sample_settings(rng).items()})
        item: dict[str, Any] = {"id": alnum_id(rng), "spaceId": space["id"], "metadata": entry.metadata,
                                "workspaceId": workspace_id, "enabled": rng.random() < 0.9, "settings": settings}
        if rng.random() < 0.7:
            item["schemaName"] = f"profiles_{space['slug'].replace('-', '_')}"
        items.append(item)
        syncs[item["id"]] = {
            "items": [{"collection": collection, "warehouseId": item["id"], "enabled": rng.random() < 0.9,
                       "properties": {}} for collection in PROFILES_COLLECTIONS],
            "enableEventTables": rng.random() < 0.5}
    return items, syncs


FILTER_CONDITIONS = ('event = "Debug Ping"', 'type = "page" and properties.path = "/health"',
                     'match(context.userAgent, "*bot*")', 'traits.email = null', 'event = "Test Event"',
                     'context.library.name = "analytics-python" and properties.internal = true')


def space_filters(rng: Random, space: dict, count: int, workspace_id: str, clock: Any) -> list[dict[str, Any]]:
    items = []
    for index in range(count):
        created = clock.days_ago(rng, 1, 400)
        item: dict[str, Any] = {"id": alnum_id(rng), "workspaceId": workspace_id, "integrationId": space["id"],
                                "enabled": rng.random() < 0.8, "name": f"Filter {index + 1}: "
                                                                       f"{FILTER_CONDITIONS[index % 6][:24]}"}
        if rng.random() < 0.5:
            item["description"] = "Keeps junk out of profiles."
        item.update({"if": FILTER_CONDITIONS[index % len(FILTER_CONDITIONS)], "drop": True,
                     "createdAt": iso(created), "updatedAt": iso(clock.between(rng, created, clock.now))})
        items.append(item)
    return items


def space_events(rng: Random, count: int, clock: Any) -> list[dict[str, Any]]:
    names = [(name, "TRACK") for name in rng.sample(EVENT_NAMES, min(count, len(EVENT_NAMES)))]
    names[: len(PAGE_NAMES) // 2] = [(name, "PAGE") for name in PAGE_NAMES[: len(PAGE_NAMES) // 2]]
    if count > 20:
        names[-len(SCREEN_NAMES):] = [(name, "SCREEN") for name in SCREEN_NAMES]
    return [{"name": name, "type": kind, "lastSeenAt": iso(clock.days_ago(rng, 0.01, 60))}
            for name, kind in names[:count]]


def space_traits(rng: Random, count: int, clock: Any) -> list[dict[str, Any]]:
    """Custom traits; audience and computed traits are added at serve time from the space's definitions."""
    keys = list(CUSTOM_TRAITS) + [f"custom_{index}" for index in range(max(0, count - len(CUSTOM_TRAITS)))]
    return [{"trait": key, "type": "CUSTOM", "lastSeenAt": iso(clock.days_ago(rng, 0.01, 90))}
            for key in keys[:count]]
