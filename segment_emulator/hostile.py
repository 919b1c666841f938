"""Hostile fixtures (`generate_workspace(..., hostile=True)`): data a robust client must survive.

Added resources, appended to the end of their lists (so in a paginated walk they share the last page):
- names in emoji (including ZWJ sequences), right-to-left scripts (Hebrew, Arabic) and CJK, on sources,
  destinations, a warehouse, a tracking plan, a label, a user group, an audience and a transformation;
- a destination whose settings hold a ~50 KB string, a value nested 30 levels deep, and the keys `apiKey`,
  `api_key` and `API_KEY` side by side (they collide once snake_cased);
- a source carrying both `workspaceId` and `workspace_id` at the top level;
- an undocumented top-level field (`connectionMode`, a Config-API leftover) on the hostile destinations and
  sources only, i.e. on the items of one page;
- audit events naming the hostile resources.
"""

from __future__ import annotations

from datetime import timedelta
from random import Random
from typing import Any

from . import catalog
from .catalog import mask
from .connections import DEFAULT_SCHEMA_SETTINGS
from .ids import alnum_id, iso, ksuid, object_id, slugify
from .state import WorkspaceState

UNICODE_NAMES = (
    "🚀 Launch Tracker 🛰️ (prod)",
    "👩‍👩‍👧‍👦 Family App (prod)",
    "מקור נתונים — אתר החנות (prod)",
    "متجر الويب (prod)",
    "网站商店 (生产环境)",
    "ウェブストア 🇯🇵 (dev)",
)
LONG_VALUE_BYTES = 50_000
NESTING_DEPTH = 30
EXTRA_FIELD = "connectionMode"


def nested(depth: int, leaf: Any = "bottom") -> dict[str, Any]:
    value: Any = leaf
    for level in range(depth, 0, -1):
        value = {f"level{level}": value}
    return value


def depth_of(value: Any) -> int:
    """How many dicts deep a value goes (used by tests)."""
    if isinstance(value, dict) and value:
        return 1 + max(depth_of(item) for item in value.values())
    return 0


def _long_text(rng: Random) -> str:
    words = ("lorem", "ipsum", "dolor", "sit", "amet", "données", "数据", "🚀", "שלום", "\u200b")
    parts, size = [], 0
    while size < LONG_VALUE_BYTES:
        word = rng.choice(words)
        parts.append(word)
        size += len(word.encode()) + 1
    return " ".join(parts)


def add_hostile_resources(ws: WorkspaceState, rng: Random, clock: Any) -> None:
    workspace_id = ws.workspace["id"]
    web = catalog.SOURCES["javascript"]
    hostile_sources = []
    for index, name in enumerate(UNICODE_NAMES[:4]):
        source: dict[str, Any] = {
            "id": alnum_id(rng), "slug": slugify(name) or f"source-{index}", "name": name,
            "workspaceId": workspace_id, "enabled": True, "writeKeys": [alnum_id(rng, 32)],
            "metadata": web.metadata,
            "settings": {**web.sample_settings(rng), "website": f"https://例え.テスト/{index}"},
            "labels": [], EXTRA_FIELD: "CLOUD"}
        if index == 0:
            source["workspace_id"] = workspace_id  # collides with workspaceId once snake_cased
        hostile_sources.append(source)
        ws.sources.append(source)
        ws.source_tracking_plan[source["id"]] = None
        ws.source_settings[source["id"]] = DEFAULT_SCHEMA_SETTINGS

    webhook = catalog.DESTINATIONS["actions-webhook"]
    secret = alnum_id(rng, 32)
    settings = {
        "sharedSecret": mask(secret), "apiKey": mask(alnum_id(rng, 32)), "api_key": "plain-text-key-1234",
        "API_KEY": "UPPER-CASE-KEY-5678", "notes": _long_text(rng), "deep": nested(NESTING_DEPTH),
        "emoji 🔑": "✅", "空白 key": " ", "": "empty key",
    }
    destinations = [
        {"id": object_id(rng), "name": UNICODE_NAMES[4], "enabled": True, "sourceId": hostile_sources[0]["id"],
         "settings": settings, "metadata": webhook.metadata, EXTRA_FIELD: "CLOUD"},
        {"id": object_id(rng), "name": UNICODE_NAMES[5], "enabled": False, "sourceId": hostile_sources[2]["id"],
         "settings": {"sharedSecret": "", "deep": nested(NESTING_DEPTH, ["a", {"b": None}])},
         "metadata": webhook.metadata, EXTRA_FIELD: "DEVICE"},
    ]
    for destination in destinations:
        ws.destinations.append(destination)
        ws.secrets[destination["id"]] = {"sharedSecret": secret if destination["settings"]["sharedSecret"] else ""}

    snowflake = catalog.WAREHOUSES["snowflake"]
    ws.warehouses.append({"id": alnum_id(rng), "workspaceId": workspace_id, "enabled": True,
                          "settings": {"name": "❄️ 雪花 Warehouse — מחסן", "account": "acme-ü1234",
                                       "database": "DATA_🚀", "options": nested(NESTING_DEPTH // 2)},
                          "metadata": snowflake.metadata})
    created = clock.now - timedelta(days=3)
    ws.tracking_plans.append({"id": f"tp_{ksuid(rng)}", "name": "خطة التتبع 📋 追踪计划", "slug": "hostile-plan",
                              "description": _long_text(rng)[:2000], "type": "LIVE",
                              "resourceSchemaId": f"rs_{ksuid(rng)}", "createdAt": iso(created),
                              "updatedAt": iso(created)})
    ws.rules[ws.tracking_plans[-1]["id"]] = []
    ws.labels.append({"key": "emoji", "value": "🔥", "description": "ラベル — תווית"})
    if ws.user_groups is not None:
        group = {"id": alnum_id(rng), "name": "فريق البيانات 👩‍💻", "permissions": []}
        ws.user_groups.append(group)
        ws.group_members[group["id"]] = [ws.users[0]["id"]] if ws.users else []
        ws.group_invites[group["id"]] = []
    if ws.spaces:
        space = ws.spaces[0]
        ws.audiences.append({
            "id": ksuid(rng), "spaceId": space["id"], "name": "高价值客户 💎", "description": "עברית ו-English",
            "key": "gao_jia_zhi_ke_hu", "enabled": True,
            "definition": {"query": "trait('名前') = '🚀'", "targetEntity": None}, "status": "Live",
            "createdBy": ws.users[0]["id"], "updatedBy": ws.users[0]["id"], "createdAt": iso(created),
            "updatedAt": iso(created), "audienceType": "USERS", "computeCadence": {"type": "REALTIME"},
            "size": {"type": "USERS", "count": 42}, "options": {"filterByExternalIds": ["email"]}})
        ws.audience_schedules[ws.audiences[-1]["id"]] = []
        ws.audience_connections[ws.audiences[-1]["id"]] = []
    ws.transformations.append({"id": ksuid(rng), "workspaceId": workspace_id, "name": "🔁 Umbenennen — 名前変更",
                               "sourceId": hostile_sources[0]["id"], "enabled": True,
                               "if": "event = '🚀 Launched'", "newEventName": "launched_🚀", "propertyRenames": [
                                   {"oldName": "prix €", "newName": "price_eur"}]})
    moment = clock.now - timedelta(minutes=1)
    for source in hostile_sources:
        ws.audit_events.append({"id": f"events/{_next_number(ws)}", "timestamp": iso(moment),
                                "type": "Source Created", "actor": ws.api_tokens[0],
                                "resourceId": source["id"], "resourceType": "source",
                                "resourceName": source["name"]})
    ws._last_event_number = None


def _next_number(ws: WorkspaceState) -> int:
    numbers = (int(event["id"].rsplit("/", 1)[-1]) for event in ws.audit_events)
    return max(numbers, default=318_000_000) + 1
