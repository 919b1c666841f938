"""What a Config API item means, as a Public API item: the one place that maps the two (facts §6.2).

Each function takes a Config item (snake_case, named by path) and the parent's fields, and returns the item
as the Public API would spell it (camelCase), so the shared row shaping fills the same columns. A field the
facts sheet maps keeps the Public name; a field only the Config API has keeps its own (`libraryConfig`,
`connectionMode`, `createTime`); a field only the Public API has is left out, not guessed.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List, Optional

from ..identity import Identities

# the Config API's filter action types, as the Public API names them
ACTION_TYPES = {"drop_event": "DROP", "sample_event": "SAMPLE", "whitelist_fields": "ALLOW_PROPERTIES",
                "blacklist_fields": "DROP_PROPERTIES"}
# rule slots of the embedded `rules` object besides `events`, and the Public rule type each holds
RULE_SLOTS = {"global": "COMMON", "identify": "IDENTIFY", "group": "GROUP"}


def last_segment(name: Optional[str]) -> str:
    return (name or "").rstrip("/").rsplit("/", 1)[-1]


class Shaper:
    """The shaping functions of one run: they need the source slugs (connections and forwarding name
    sources by slug) and the run's `Identities`."""

    def __init__(self, source_ids: Dict[str, str], identities: Identities) -> None:
        self.source_ids, self.identities = source_ids, identities

    def source_id(self, slug: str) -> Optional[str]:
        return self.source_ids.get(slug) if slug else None

    def workspace(self, item: Dict[str, Any]) -> Dict[str, Any]:
        return {"id": item["id"], "slug": last_segment(item["name"]), "name": item.get("display_name")}

    def source(self, item: Dict[str, Any], parent: Dict[str, Any]) -> Dict[str, Any]:
        return {
            "id": item["id"], "slug": last_segment(item["name"]), "name": item.get("display_name"),
            "writeKeys": item.get("write_keys") or [],
            "metadata": {"slug": last_segment(item.get("catalog_name"))},
            "labels": [{"key": key, "value": value} for key, value in sorted((item.get("labels") or {}).items())],
            "libraryConfig": item.get("library_config"),
            "createTime": item.get("create_time"),
        }

    def source_settings(self, item: Dict[str, Any], parent: Dict[str, Any]) -> Dict[str, Any]:
        def common(kind: str) -> Any:
            return item.get(f"common_{kind}_event_on_violations")

        return {
            "source_id": parent["id"],
            "track": {
                "allowUnplannedEvents": item.get("allow_unplanned_track_events"),
                "allowUnplannedEventProperties": item.get("allow_unplanned_track_event_properties"),
                "allowEventOnViolations": item.get("allow_track_event_on_violations"),
                "allowPropertiesOnViolations": item.get("allow_track_properties_on_violations"),
                "commonEventOnViolations": common("track"),
            },
            "identify": {
                "allowUnplannedTraits": item.get("allow_unplanned_identify_traits"),
                "allowTraitsOnViolations": item.get("allow_identify_traits_on_violations"),
                "commonEventOnViolations": common("identify"),
            },
            "group": {
                "allowUnplannedTraits": item.get("allow_unplanned_group_traits"),
                "allowTraitsOnViolations": item.get("allow_group_traits_on_violations"),
                "commonEventOnViolations": common("group"),
            },
            # the Config API names the source by slug, the Public API by id
            "forwardingBlockedEventsTo": self.source_id(item.get("forwarding_blocked_events_to") or "") or "",
            "forwardingViolationsTo": self.source_id(item.get("forwarding_violations_to") or "") or "",
        }

    def destination(self, item: Dict[str, Any], parent: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """None for a destination the Config API cannot name (`Identities.key`)."""
        catalog_slug = last_segment(item["name"])
        key = self.identities.key("destinations", config_id=f"{parent['id']}:{catalog_slug}")
        if key is None:
            return None
        return {
            "id": key, "name": item.get("display_name"), "enabled": item.get("enabled"), "sourceId": parent["id"],
            "settings": {last_segment(setting["name"]): setting.get("value") for setting in item.get("config") or []},
            "metadata": {"slug": catalog_slug}, "connectionMode": item.get("connection_mode"),
            # the path fields children need; dropped from the row
            "_source_slug": parent["slug"], "_catalog_slug": catalog_slug,
        }

    def destination_filter(self, item: Dict[str, Any], parent: Dict[str, Any]) -> Dict[str, Any]:
        actions = [{**action, "type": ACTION_TYPES.get(action.get("type"), str(action.get("type")).upper())}
                   for action in item.get("actions") or []]
        return {"id": last_segment(item["name"]), "sourceId": parent["source_id"], "destination_id": parent["id"],
                "if": item.get("if"), "actions": actions, "title": item.get("title"),
                "description": item.get("description"), "enabled": item.get("enabled")}

    def tracking_plan(self, item: Dict[str, Any], parent: Dict[str, Any]) -> Dict[str, Any]:
        rs_id = last_segment(item["name"])
        return {"id": self.identities.key("tracking_plans", config_id=rs_id), "name": item.get("display_name"),
                "resourceSchemaId": rs_id, "createdAt": item.get("create_time"),
                "updatedAt": item.get("update_time"), "_rs_id": rs_id}

    def tracking_plan_source(self, item: Dict[str, Any], parent: Dict[str, Any]) -> Dict[str, Any]:
        return {"tracking_plan_id": parent["id"], "source_id": self.source_id(last_segment(item.get("source_name")))}

    def function(self, item: Dict[str, Any], parent: Dict[str, Any]) -> Dict[str, Any]:
        return {"id": item["id"], "resourceType": item.get("type"), "displayName": item.get("display_name"),
                "description": item.get("description"), "createdAt": item.get("created_at"),
                "createdBy": item.get("created_by"), "logoUrl": item.get("logo_url"),
                "catalogId": item.get("catalog_id"), "settings": item.get("settings")}

    def shape(self, name: str) -> Callable[[Dict[str, Any], Dict[str, Any]], Dict[str, Any]]:
        return getattr(self, name)


def unpack_rules(tracking_plan_id: str, rules: Optional[Dict[str, Any]]) -> Iterator[Dict[str, Any]]:
    """The embedded `rules` object as the Public API's rule list: each event rule is a TRACK rule keyed by
    event name and version; `global`, `identify` and `group` are the COMMON, IDENTIFY and GROUP rules
    (version 1, as the Public API numbers them). `identify_traits` and `group_traits` are always empty."""
    rules = rules or {}
    for event in rules.get("events") or []:
        rule = {"tracking_plan_id": tracking_plan_id, "type": "TRACK", "key": event.get("name"),
                "version": event.get("version", 1), "jsonSchema": event.get("rules")}
        if event.get("description"):
            rule["description"] = event["description"]
        yield rule
    for slot, rule_type in RULE_SLOTS.items():
        if rules.get(slot):
            yield {"tracking_plan_id": tracking_plan_id, "type": rule_type, "version": 1, "jsonSchema": rules[slot]}


def rule_rows(items: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Every rule of a page of tracking plans (their rows carry the raw `rules` object as `_rules`)."""
    return [rule for item in items for rule in unpack_rules(item["id"], item.get("_rules"))]
