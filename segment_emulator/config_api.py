"""The legacy Config API (`platform.segmentapis.com/v1beta`) over the same generated workspace.

Every path under `/v1beta` is answered here, from the same `Workspace` the Public API serves, so a mutation
shows through both. What it serves follows the facts sheet (CONFIG_API.md): objects named by path
(`workspaces/{slug}/sources/{slug}`), snake_case, lists as `{"<plural>": [...], "next_page_token": ""}`
paged by `page_size` (default 10, at most 100) and `page_token` (base64 of the offset), errors as
`{"error": ..., "code": <gRPC code>}`. Tokens are its own: a Public API token gets 401 here, and back.

How the Public API's objects look through it:
- sources keep their slug and id; labels become a `{key: value}` map;
- tracking plans are named by their `resourceSchemaId` (`rs_`), with their rules embedded: TRACK rules as
  `events`, COMMON as `global`, IDENTIFY and GROUP as `identify` and `group` (PAGE and SCREEN rules have no
  place in it and are not served);
- destinations are named by their catalog slug under their source: one per slug and source (the first
  instance; a second instance of the same type on one source is not served);
- filters are named under their destination, with the destination's id as the config instance segment;
- functions are listed by workspace id and `type` (SOURCE or DESTINATION; insert functions are not served).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Callable, Mapping

from .state import WorkspaceState

PREFIX = "/v1beta"
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 10, 100
FUNCTION_TYPES = ("SOURCE", "DESTINATION")
# gRPC status codes of the error bodies (facts §5)
INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, RESOURCE_EXHAUSTED, UNAUTHENTICATED = 3, 5, 7, 8, 16
# Public filter action types and the Config API's names for them
ACTION_TYPES = {"DROP": "drop_event", "SAMPLE": "sample_event", "ALLOW_PROPERTIES": "whitelist_fields",
                "DROP_PROPERTIES": "blacklist_fields"}
DEFAULT_LIBRARY_CONFIG = {"metrics_enabled": False, "retry_queue": True, "cross_domain_id_enabled": False,
                          "api_host": ""}


class ConfigApiError(Exception):
    """An error answer: HTTP status and the gRPC code in the body."""

    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "code": self.code}


def unauthenticated() -> ConfigApiError:
    return ConfigApiError(401, UNAUTHENTICATED, "invalid or missing access token")


def rate_limited() -> ConfigApiError:
    return ConfigApiError(429, RESOURCE_EXHAUSTED, "The 200 req / min rate limit was exhausted")


def server_error(status: int) -> ConfigApiError:
    return ConfigApiError(status, 14 if status == 503 else 13, "internal error")


def _not_found(what: str) -> ConfigApiError:
    return ConfigApiError(404, NOT_FOUND, f"{what} not found")


# --- views: the workspace's objects as the Config API names them ------------------------------------------------


def workspace_name(ws: WorkspaceState) -> str:
    return f"workspaces/{ws.workspace['slug']}"


def source_name(ws: WorkspaceState, source: dict[str, Any]) -> str:
    return f"{workspace_name(ws)}/sources/{source['slug']}"


def workspace_view(ws: WorkspaceState) -> dict[str, Any]:
    return {"name": workspace_name(ws), "display_name": ws.workspace["name"], "id": ws.workspace["id"],
            "create_time": "2019-01-01T00:00:00Z"}


def source_view(ws: WorkspaceState, source: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": source_name(ws, source), "parent": workspace_name(ws), "display_name": source["name"],
        "id": source["id"], "catalog_name": f"catalog/sources/{source['metadata']['slug']}",
        "write_keys": list(source.get("writeKeys") or []), "library_config": dict(DEFAULT_LIBRARY_CONFIG),
        "labels": {label["key"]: label["value"] for label in source.get("labels") or []},
        "function_config": [], "create_time": "2020-01-01T00:00:00Z",
    }


def schema_config_view(ws: WorkspaceState, source: dict[str, Any]) -> dict[str, Any]:
    settings = ws.source_settings.get(source["id"]) or {}
    track, identify, group = (settings.get(part) or {} for part in ("track", "identify", "group"))
    by_id = {item["id"]: item["slug"] for item in ws.sources}
    return {
        "name": f"{source_name(ws, source)}/schema-config", "parent": source_name(ws, source),
        "allow_unplanned_track_events": track.get("allowUnplannedEvents"),
        "allow_unplanned_track_event_properties": track.get("allowUnplannedEventProperties"),
        "allow_track_event_on_violations": track.get("allowEventOnViolations"),
        "allow_track_properties_on_violations": track.get("allowPropertiesOnViolations"),
        "common_track_event_on_violations": track.get("commonEventOnViolations"),
        "allow_unplanned_identify_traits": identify.get("allowUnplannedTraits"),
        "allow_identify_traits_on_violations": identify.get("allowTraitsOnViolations"),
        "common_identify_event_on_violations": identify.get("commonEventOnViolations"),
        "allow_unplanned_group_traits": group.get("allowUnplannedTraits"),
        "allow_group_traits_on_violations": group.get("allowTraitsOnViolations"),
        "common_group_event_on_violations": group.get("commonEventOnViolations"),
        # a source slug here, where the Public API gives the source id
        "forwarding_blocked_events_to": by_id.get(settings.get("forwardingBlockedEventsTo") or "", ""),
        "forwarding_violations_to": by_id.get(settings.get("forwardingViolationsTo") or "", ""),
    }


def served_destinations(ws: WorkspaceState, source: dict[str, Any]) -> list[dict[str, Any]]:
    """One destination per catalog slug on a source: the first instance of each."""
    seen: dict[str, dict[str, Any]] = {}
    for destination in ws.destinations_of(source["id"]):
        seen.setdefault(destination["metadata"]["slug"], destination)
    return list(seen.values())


def destination_name(ws: WorkspaceState, destination: dict[str, Any]) -> str:
    source = next(s for s in ws.sources if s["id"] == destination["sourceId"])
    return f"{source_name(ws, source)}/destinations/{destination['metadata']['slug']}"


def destination_view(ws: WorkspaceState, destination: dict[str, Any]) -> dict[str, Any]:
    name = destination_name(ws, destination)
    config = [{"name": f"{name}/config/{key}", "display_name": key, "value": value, "type": _setting_type(value)}
              for key, value in sorted((destination.get("settings") or {}).items())]
    return {"name": name, "parent": name.rsplit("/destinations/", 1)[0], "display_name": destination["name"],
            "enabled": destination["enabled"], "connection_mode": "CLOUD", "config": config,
            "create_time": "2020-01-01T00:00:00Z", "update_time": "2020-01-01T00:00:00Z"}


def _setting_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, (list, dict)):
        return "mixed"
    return "string"


def filter_view(ws: WorkspaceState, destination: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    actions = [{**action, "type": ACTION_TYPES.get(action["type"], action["type"].lower())}
               for action in item.get("actions") or []]
    return {"name": f"{destination_name(ws, destination)}/config/{destination['id']}/filters/{item['id']}",
            "if": item.get("if"), "actions": actions, "title": item.get("title"),
            "description": item.get("description"), "enabled": item.get("enabled")}


def plan_name(ws: WorkspaceState, plan: dict[str, Any]) -> str:
    return f"{workspace_name(ws)}/tracking-plans/{plan['resourceSchemaId']}"


def plan_view(ws: WorkspaceState, plan: dict[str, Any]) -> dict[str, Any]:
    return {"name": plan_name(ws, plan), "display_name": plan["name"], "create_time": plan["createdAt"],
            "update_time": plan["updatedAt"], "rules": embedded_rules(ws.rules.get(plan["id"], []))}


def embedded_rules(rules: list[dict[str, Any]]) -> dict[str, Any]:
    """The Public API's rule list as the Config API's `rules` object (PAGE and SCREEN rules have no place)."""
    embedded: dict[str, Any] = {"events": [], "identify_traits": [], "group_traits": []}
    slots = {"COMMON": "global", "IDENTIFY": "identify", "GROUP": "group"}
    for rule in rules:
        if rule["type"] == "TRACK":
            embedded["events"].append({"name": rule["key"], "description": "", "version": rule["version"],
                                       "rules": rule["jsonSchema"]})
        elif rule["type"] in slots:
            embedded[slots[rule["type"]]] = rule["jsonSchema"]
    return embedded


def function_view(item: dict[str, Any]) -> dict[str, Any]:
    settings = [{**setting, "type": str(setting.get("type", "")).lower()} for setting in item.get("settings") or []]
    return {"id": item["id"], "workspace_id": item.get("workspaceId"), "display_name": item.get("displayName"),
            "description": item.get("description"), "created_at": item.get("createdAt"),
            "created_by": item.get("createdBy"), "logo_url": item.get("logoUrl"), "type": item["resourceType"],
            "catalog_id": item.get("catalogId"), "settings": settings}


# --- routes ------------------------------------------------------------------------------------------------------

Query = Mapping[str, list[str]]
Handler = Callable[[WorkspaceState, dict[str, str], Query], dict[str, Any]]


def _source(ws: WorkspaceState, params: dict[str, str]) -> dict[str, Any]:
    found = next((s for s in ws.sources if s["slug"] == params["src"]), None)
    if found is None:
        raise _not_found(f"source {workspace_name(ws)}/sources/{params['src']}")
    return found


def _destination(ws: WorkspaceState, params: dict[str, str]) -> dict[str, Any]:
    found = next((d for d in served_destinations(ws, _source(ws, params)) if d["metadata"]["slug"] == params["dst"]),
                 None)
    if found is None:
        raise _not_found(f"destination {params['dst']}")
    return found


def _plan(ws: WorkspaceState, params: dict[str, str]) -> dict[str, Any]:
    found = next((p for p in ws.tracking_plans if p["resourceSchemaId"] == params["rs"]), None)
    if found is None:
        raise _not_found(f"tracking plan {params['rs']}")
    return found


def _functions(ws: WorkspaceState, query: Query) -> list[dict[str, Any]]:
    kind = (query.get("type") or [""])[0]
    if kind not in FUNCTION_TYPES:
        raise ConfigApiError(400, INVALID_ARGUMENT, "type is required: SOURCE or DESTINATION")
    return [function_view(item) for item in ws.functions_of_type(kind)]


def page(items: list[dict[str, Any]], query: Query) -> tuple[list[dict[str, Any]], str]:
    """One page of `items` and the token of the next ("" after the last)."""
    size_text = (query.get("page_size") or [""])[0]
    token = (query.get("page_token") or [""])[0]
    try:
        size = min(int(size_text), MAX_PAGE_SIZE) if size_text else DEFAULT_PAGE_SIZE
        offset = int(base64.b64decode(token, validate=True).decode()) if token else 0
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ConfigApiError(400, INVALID_ARGUMENT, "invalid page_token or page_size") from None
    if size < 1 or offset < 0 or offset > len(items):
        raise ConfigApiError(400, INVALID_ARGUMENT, "invalid page_token or page_size")
    end = offset + size
    return items[offset:end], base64.b64encode(str(end).encode()).decode() if end < len(items) else ""


def _listing(key: str, items: Callable[[WorkspaceState, dict[str, str], Query], list[dict[str, Any]]]) -> Handler:
    def handler(ws: WorkspaceState, params: dict[str, str], query: Query) -> dict[str, Any]:
        found, next_token = page(items(ws, params, query), query)
        return {key: found, "next_page_token": next_token}

    return handler


ROUTES: list[tuple[str, Handler]] = [
    ("/workspaces", _listing("workspaces", lambda ws, p, q: [workspace_view(ws)])),
    ("/workspaces/{ws}", lambda ws, p, q: workspace_view(ws)),
    ("/workspaces/{ws}/sources", _listing("sources", lambda ws, p, q: [source_view(ws, s) for s in ws.sources])),
    ("/workspaces/{ws}/sources/{src}", lambda ws, p, q: source_view(ws, _source(ws, p))),
    ("/workspaces/{ws}/sources/{src}/schema-config", lambda ws, p, q: schema_config_view(ws, _source(ws, p))),
    ("/workspaces/{ws}/sources/{src}/destinations", _listing(
        "destinations", lambda ws, p, q: [destination_view(ws, d) for d in served_destinations(ws, _source(ws, p))])),
    ("/workspaces/{ws}/sources/{src}/destinations/{dst}", lambda ws, p, q: destination_view(ws, _destination(ws, p))),
    ("/workspaces/{ws}/sources/{src}/destinations/{dst}/filters", _listing(
        "filters", lambda ws, p, q: [filter_view(ws, d, f) for d in [_destination(ws, p)] for f in ws.filters_of(d["id"])])),
    ("/workspaces/{ws}/tracking-plans", _listing(
        "tracking_plans", lambda ws, p, q: [plan_view(ws, plan) for plan in ws.tracking_plans])),
    ("/workspaces/{ws}/tracking-plans/{rs}", lambda ws, p, q: plan_view(ws, _plan(ws, p))),
    ("/workspaces/{ws}/tracking-plans/{rs}/source-connections", _listing(
        "connections", lambda ws, p, q: [{"source_name": source_name(ws, s), "tracking_plan_id": p["rs"]}
                                         for s in ws.sources_of_plan(_plan(ws, p)["id"])])),
    ("/workspaces/{ws}/functions", _listing("functions", lambda ws, p, q: _functions(ws, q))),
]
_COMPILED = [(re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$"), handler)
             for pattern, handler in ROUTES]


def is_config_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def answer(ws: WorkspaceState, path: str, query: Query) -> dict[str, Any]:
    """The body of a GET to `path` (under `/v1beta`), or a `ConfigApiError`. Holds the workspace's lock."""
    relative = path[len(PREFIX):] or "/"
    for pattern, handler in _COMPILED:
        found = pattern.match(relative)
        if found is None:
            continue
        params = found.groupdict()
        if "ws" in params and not _names_this_workspace(ws, params, relative):
            raise ConfigApiError(403, PERMISSION_DENIED, f"the token has no access to workspaces/{params['ws']}")
        with ws.lock:
            return handler(ws, params, query)
    raise ConfigApiError(404, NOT_FOUND, f"no route for GET {path}")


def _names_this_workspace(ws: WorkspaceState, params: dict[str, str], relative: str) -> bool:
    # functions are addressed by the workspace id, everything else by its slug
    expected = ws.workspace["id"] if relative.rstrip("/").split("/")[3:4] == ["functions"] else ws.workspace["slug"]
    return params["ws"] == expected
