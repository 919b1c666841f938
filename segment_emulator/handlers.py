"""Handlers for the routes that are more than a list or a lookup: nested resources checked against their
parents, the API's irregular paginations (numeric space-filter cursors, RETL `count`/`cursor`, two independent
credential-consumer cursors, keyset suppression cursors, forward-only traits, regulations-from-source without a
pagination object), query-parameter validation, and the metrics endpoints (values from `metrics.py`).

Every handler takes a `Call` (`call.py`) and returns the response's `data` object (or, for list routes
built with `routes.collection`, the full item list).
"""

from __future__ import annotations

import binascii
import time
from datetime import datetime
from typing import Any, Callable

from . import errors, metrics, privacy
from .call import Call
from .connections import DEFAULT_SCHEMA_SETTINGS
from .errors import ApiError
from .ids import iso, stable_alnum, utcnow
from .lookups import find_or_404, source_view
from .pagination import (MAX_PAGE_SIZE, array_arg, b64decode_text, forward_only_page, numeric_page, object_arrays,
                         offset_page, page_request, page_window, pagination_fields, top_level_page)

Items = list[dict[str, Any]]
RETL_MAX_COUNT, RETL_DEFAULT_COUNT = 100, 10
SPACE_FILTERS_MAX_COUNT, SPACE_FILTERS_DEFAULT_COUNT = 10, 10


def _page(items: list[Any], call: Call, name: str = "pagination",
          max_count: int = MAX_PAGE_SIZE) -> tuple[list[Any], dict[str, Any]]:
    return offset_page(items, page_request(call.query, name, max_count), call.last_page_next)


def _enum(call: Call, name: str, allowed: tuple[str, ...], default: str | None = None) -> str | None:
    value = call.arg(name)
    if value in (None, ""):
        return default
    if value not in allowed:
        raise errors.validation(name, f"{name} must be one of {', '.join(allowed)}")
    return value


def _bool(call: Call, name: str, default: bool = False) -> bool:
    value = call.arg(name)
    if value in (None, ""):
        return default
    if value.lower() not in ("true", "false"):
        raise errors.validation(name, f"{name} must be true or false")
    return value.lower() == "true"


def _int(call: Call, name: str, low: int, high: int, default: int) -> int:
    value = call.arg(name)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise errors.validation(name, f"{name} must be an integer between {low} and {high}")
    return number


def _child(parent: dict[str, Any], key: str, value: Any, kind: str, item_id: str) -> dict[str, Any]:
    if parent is None or parent.get(key) != value:
        raise errors.not_found(kind, item_id)
    return parent


# --- echo -----------------------------------------------------------------------------------------------------


class _Errors(ApiError):
    def __init__(self, status: int, messages: list[str]):
        super().__init__(status, "echo-error", messages[0], include_status=True)
        self.messages = messages

    def body(self) -> dict[str, Any]:
        return {"errors": [{"type": "echo-error", "message": message, "status": self.status}
                           for message in self.messages]}


def echo(call: Call) -> dict[str, Any]:
    """`GET /echo`: `message` required; `delay` (ms, at most 5000), `triggerError`, `triggerMultipleErrors`,
    `triggerUnexpectedError` and `statusCode` force the error paths."""
    message = call.arg("message")
    if not message:
        raise errors.missing("message")
    delay = _int(call, "delay", 0, 5000, 0)
    status = _int(call, "statusCode", 100, 599, 0)
    if delay:
        time.sleep(delay / 1000)
    if _bool(call, "triggerUnexpectedError"):
        raise errors.server_error(500)
    if _bool(call, "triggerMultipleErrors"):
        raise _Errors(status if status >= 400 else 400, [message, f"{message} (again)"])
    if _bool(call, "triggerError") or status >= 400:
        raise _Errors(status if status >= 400 else 400, [message])
    return {"method": "get", "message": message, "headers": dict(call.headers)}


# --- sources --------------------------------------------------------------------------------------------------


def _source(call: Call, param: str = "sourceId") -> dict[str, Any]:
    return find_or_404(call, "sources", call.params[param])


def source_schema_settings(call: Call) -> dict[str, Any]:
    source = _source(call)
    return {"sourceId": source["id"], "settings": call.ws.source_settings.get(source["id"], DEFAULT_SCHEMA_SETTINGS)}


def live_plugin(call: Call) -> dict[str, Any]:
    source = _source(call)
    plugin = call.ws.live_plugins.get(source["id"])
    if plugin is None:
        raise ApiError(404, "not-found", f"No live plugin found for source '{source['id']}'.", data=None)
    return plugin


# --- destinations ---------------------------------------------------------------------------------------------


def _destination(call: Call) -> dict[str, Any]:
    return find_or_404(call, "destinations", call.params["destinationId"])


def destination_filters(call: Call) -> Items:
    return call.ws.filters_of(_destination(call)["id"])


def destination_filter(call: Call) -> dict[str, Any]:
    destination = _destination(call)
    item = call.ws.find("destination_filters", call.params["filterId"])
    return _child(item, "destinationId", destination["id"], "Destination Filter", call.params["filterId"])


def destination_subscriptions(call: Call) -> Items:
    return call.ws.subscriptions_of(_destination(call)["id"])


def destination_subscription(call: Call) -> dict[str, Any]:
    destination = _destination(call)
    item = call.ws.find("destination_subscriptions", call.params["id"])
    return _child(item, "destinationId", destination["id"], "Subscription", call.params["id"])


def delivery_metrics_summary(call: Call) -> dict[str, Any]:
    destination = _destination(call)
    source_id = metrics.required(call.query, "sourceId", "the id of the source connected to the destination")
    if source_id != destination["sourceId"]:
        raise errors.validation("sourceId", f"destination '{destination['id']}' is not connected to source "
                                            f"'{source_id}'")
    source = find_or_404(call, "sources", source_id)
    granularity = metrics.granularity_param(call.query, default="MINUTE")
    now = utcnow()
    explicit = bool(call.arg("startTime") or call.arg("endTime"))
    end = metrics.time_param(call.query, "endTime", now)
    start = metrics.time_param(call.query, "startTime", end - metrics.SUMMARY_DEFAULT_START[granularity])
    if explicit:  # the documented defaults (30 days for DAY) exceed the documented limits; only check input
        metrics.check_window(start, end, granularity, metrics.SUMMARY_LIMITS, now)
    return {"deliveryMetricsSummary": metrics.delivery_summary(call.ws, destination, source, start, end)}


# --- warehouses -----------------------------------------------------------------------------------------------


def _warehouse(call: Call) -> dict[str, Any]:
    return find_or_404(call, "warehouses", call.params["warehouseId"])


def connection_state(call: Call) -> dict[str, Any]:
    return {"connectionState": metrics.connection_state(call.ws, _warehouse(call))}


def selective_syncs(call: Call) -> Items:
    warehouse, source = _warehouse(call), _source(call)
    return call.ws.selective_syncs_of(warehouse["id"], source["id"])


def advanced_sync_schedule(call: Call) -> dict[str, Any]:
    return dict(call.ws.warehouse_schedules.get(_warehouse(call)["id"], {"enabled": False}))


def warehouse_syncs(call: Call) -> Items:
    warehouse = _warehouse(call)
    return metrics.warehouse_syncs(call.ws, warehouse,
                                   [source["id"] for source in call.ws.sources_of_warehouse(warehouse["id"])])


def warehouse_source_syncs(call: Call) -> Items:
    warehouse, source = _warehouse(call), _source(call)
    connected = {item["id"] for item in call.ws.sources_of_warehouse(warehouse["id"])}
    return metrics.warehouse_syncs(call.ws, warehouse, [source["id"]]) if source["id"] in connected else []


# --- functions ------------------------------------------------------------------------------------------------


def function_version(call: Call) -> dict[str, Any]:
    function = find_or_404(call, "functions", call.params["functionId"])
    for version in call.ws.function_versions.get(function["id"], []):
        if version["id"] == call.params["versionId"]:
            return version
    raise errors.not_found("Version", call.params["versionId"])


def insert_instances(call: Call) -> Items:
    function_id = metrics.required(call.query, "functionId", "the id of an insert function")
    function = find_or_404(call, "functions", function_id)
    if not function["resourceType"].startswith("INSERT_"):
        raise errors.validation("functionId", "functionId must be an insert function (INSERT_DESTINATION, "
                                              "INSERT_SOURCE or INSERT_TRANSFORMATION)")
    return call.ws.instances_of(function["id"])


# --- IAM ------------------------------------------------------------------------------------------------------


def group_view(group: dict[str, Any], call: Call) -> dict[str, Any]:
    """`UserGroupV1`: `memberCount` is derived from the membership."""
    view = {"id": group["id"], "name": group["name"], "memberCount": len(call.ws.group_members.get(group["id"], []))}
    view.update({key: value for key, value in group.items() if key not in view})
    return view


def groups_of_user(call: Call) -> Items:
    return call.ws.groups_of(find_or_404(call, "users", call.params["userId"])["id"])


def users_of_group(call: Call) -> Items:
    return call.ws.members_of(find_or_404(call, "user_groups", call.params["userGroupId"])["id"])


def invites_of_group(call: Call) -> list[str]:
    return call.ws.group_invites.get(find_or_404(call, "user_groups", call.params["userGroupId"])["id"], [])


# --- credentials ----------------------------------------------------------------------------------------------


def credential_consumers(call: Call) -> dict[str, Any]:
    """Two independent paginations in and out: `warehousesPagination` and `sourcesPagination`."""
    credential = find_or_404(call, "credentials", call.params["credentialId"])
    users = call.ws.credential_consumers.get(credential["id"], {"warehouses": [], "sources": []})
    warehouses = [item for item in (call.ws.find("warehouses", wid) for wid in users["warehouses"]) if item]
    sources = [item for item in (call.ws.source_or_retl(sid) for sid in users["sources"]) if item]
    warehouse_page, warehouse_pagination = _page(warehouses, call, "warehousesPagination")
    source_page, source_pagination = _page(sources, call, "sourcesPagination")
    return {"warehouses": warehouse_page, "warehousesPagination": warehouse_pagination,
            "sources": [source_view(source, call) for source in source_page], "sourcesPagination": source_pagination}


# --- Reverse ETL ----------------------------------------------------------------------------------------------


def _model(call: Call) -> dict[str, Any]:
    return find_or_404(call, "reverse_etl_models", call.params["modelId"])


def retl_sync_statuses(call: Call) -> dict[str, Any]:
    """Top-level `count` (1..100, default 10) and `cursor`; no `pagination` object in the request."""
    model = _model(call)
    subscription = call.ws.find("destination_subscriptions", call.params["subscriptionId"])
    _child(subscription, "modelId", model["id"], "Subscription", call.params["subscriptionId"])
    page = top_level_page(call.query, max_count=RETL_MAX_COUNT, default_count=RETL_DEFAULT_COUNT)
    try:
        chunk, pagination = offset_page(metrics.retl_syncs(call.ws, model, subscription), page, call.last_page_next)
    except ApiError as error:  # the offset decoder names `pagination.cursor`
        raise errors.validation("cursor", "cursor is not a cursor this endpoint issued") from error
    return {"syncStatuses": chunk, "pagination": pagination}


def retl_sync_status(call: Call) -> dict[str, Any]:
    model = _model(call)
    for subscription in call.ws.destination_subscriptions:
        if subscription.get("modelId") == model["id"]:
            for status in metrics.retl_syncs(call.ws, model, subscription):
                if status["syncId"] == call.params["syncId"]:
                    return status
    raise errors.not_found("Sync", call.params["syncId"])


# --- Engage ---------------------------------------------------------------------------------------------------


def _space(call: Call) -> dict[str, Any]:
    return find_or_404(call, "spaces", call.params["spaceId"])


def _include_schedules(call: Call) -> bool:
    values = array_arg(call.query, "include")
    unknown = [value for value in values if value != "schedules"]
    if unknown:
        raise errors.validation("include", "include only accepts schedules")
    return bool(values)


def audience_view(audience: dict[str, Any], call: Call) -> dict[str, Any]:
    if _include_schedules(call):
        return {**audience, "schedules": call.ws.audience_schedules.get(audience["id"], [])}
    return audience


SUMMARY_FIELDS = ("id", "spaceId", "name", "description", "key", "enabled", "definition", "status", "createdBy",
                  "updatedBy", "createdAt", "updatedAt")


def audience_summary(audience: dict[str, Any], call: Call) -> dict[str, Any]:
    """`AudienceSummary`: no audienceType, computeCadence, size or schedules; options all optional."""
    summary = {name: audience[name] for name in SUMMARY_FIELDS if name in audience}
    if audience.get("options"):
        summary["options"] = audience["options"]
    return summary


def _search(call: Call, items: Items) -> Items:
    search = pagination_fields(call.query, "search")
    if not search:
        return items
    kind, text = str(search.get("type", "")), str(search.get("query", ""))
    if kind not in ("DEFINITION", "KEY", "NAME"):
        raise errors.validation("search.type", "search.type must be one of DEFINITION, KEY, NAME")
    if len(text) > 255:
        raise errors.validation("search.query", "search.query is at most 255 characters")
    needle = text.lower()
    if kind == "KEY":
        return [item for item in items if item["key"].lower().startswith(needle)]
    if kind == "NAME":
        return [item for item in items if needle in item["name"].lower()]
    return [item for item in items if needle in ((item.get("definition") or {}).get("query") or "").lower()]


def audiences(call: Call) -> Items:
    _include_schedules(call)
    return _search(call, call.ws.audiences_of(_space(call)["id"]))


def audience(param: str) -> Callable[[Call], dict[str, Any]]:
    def get(call: Call) -> dict[str, Any]:
        space = _space(call)
        item = call.ws.find("audiences", call.params[param])
        return _child(item, "spaceId", space["id"], "Audience", call.params[param])

    return get


def audience_schedules(call: Call) -> Items:
    return call.ws.audience_schedules.get(audience("id")(call)["id"], [])


def audience_schedule(call: Call) -> dict[str, Any]:
    for item in audience_schedules(call):
        if item["id"] == call.params["scheduleId"]:
            return item
    raise errors.not_found("Audience Schedule", call.params["scheduleId"])


def activations(call: Call) -> Items:
    return call.ws.activations_of(audience("audienceId")(call)["id"])


def activation(call: Call) -> dict[str, Any]:
    parent = audience("audienceId")(call)
    item = call.ws.find("activations", call.params["id"])
    return _child(item, "audienceId", parent["id"], "Activation", call.params["id"])


def audience_connections(call: Call) -> Items:
    return call.ws.audience_connections.get(audience("audienceId")(call)["id"], [])


def audience_consumers(call: Call) -> Items:
    items = _search(call, call.ws.audience_consumers(audience("id")(call)))
    sort = pagination_fields(call.query, "sort")
    if sort:
        field = {"CREATED_AT": "createdAt", "NAME": "name", "UPDATED_AT": "updatedAt"}.get(str(sort.get("field")))
        direction = str(sort.get("direction", "ASC"))
        if field is None or direction not in ("ASC", "DESC"):
            raise errors.validation("sort", "sort.field must be CREATED_AT, NAME or UPDATED_AT and sort.direction "
                                            "ASC or DESC")
        items = sorted(items, key=lambda item: item[field], reverse=direction == "DESC")
    return items


def computed_traits(call: Call) -> Items:
    return call.ws.computed_traits_of(_space(call)["id"])


def computed_trait(call: Call) -> dict[str, Any]:
    space = _space(call)
    item = call.ws.find("computed_traits", call.params["id"])
    return _child(item, "spaceId", space["id"], "Computed Trait", call.params["id"])


def token_actor(call: Call) -> str:
    """The audit actor for the calling token (`public-api-token/<8 chars>`)."""
    if not call.token:
        return call.ws.api_tokens[0] if call.ws.api_tokens else "public-api-token/emulator"
    return f"public-api-token/{stable_alnum('token:' + call.token, 8)}"


def profiles_warehouses(call: Call) -> Items:
    """A read with a side effect: every call writes a `Profiles Sync Warehouse Retrieved` audit event."""
    space = _space(call)
    call.ws.record_audit_event("Profiles Sync Warehouse Retrieved", "space", space["id"], space["name"],
                               token_actor(call), None)
    return call.ws.profiles_warehouses_of(space["id"])


def profiles_selective_syncs(call: Call) -> dict[str, Any]:
    space = _space(call)
    warehouse = call.ws.find("profiles_warehouses", call.params["warehouseId"])
    _child(warehouse, "spaceId", space["id"], "Profiles Warehouse", call.params["warehouseId"])
    syncs = call.ws.profiles_selective_syncs.get(warehouse["id"], {"items": [], "enableEventTables": False})
    page, pagination = _page(syncs["items"], call)
    return {"items": page, "pagination": pagination, "enableEventTables": syncs["enableEventTables"]}


def _sort(call: Call, items: Items, fields: dict[str, str], default_field: str, default_dir: str,
          name: str) -> Items:
    field = _enum(call, "sortBy", tuple(fields), default_field)
    direction = _enum(call, "sortDir", ("asc", "desc"), default_dir)
    return sorted(items, key=lambda item: (item[fields[field]], item[name]), reverse=direction == "desc")


def space_events(call: Call) -> Items:
    items = call.ws.space_events.get(_space(call)["id"], [])
    return _sort(call, items, {"lastSeenAt": "lastSeenAt", "name": "name"}, "lastSeenAt", "desc", "name")


SAMPLE_VALUES = {"email": ("ana@example.com", "li@example.org", "kofi@example.net"),
                 "plan": ("free", "pro", "enterprise"), "country": ("US", "DE", "JP", "BR")}


def _samples(trait: str, count: int) -> list[str]:
    base = SAMPLE_VALUES.get(trait, (f"{trait}_a", f"{trait}_b", f"{trait}_c", "true", "42"))
    return [base[index % len(base)] for index in range(min(count, len(base)))]


def space_traits(call: Call) -> dict[str, Any]:
    """Forward-only pagination; `totalEntries` is an upper bound that shrinks while paging (facts §1.6)."""
    space = _space(call)
    collection = _enum(call, "collection", ("users", "accounts"), "users")
    include_samples = _bool(call, "includeSampleValues")
    samples = _int(call, "samplesCount", 1, 100, 20)
    custom = call.ws.space_traits.get(space["id"], [])
    wanted = "ACCOUNTS" if collection == "accounts" else "USERS"
    derived = [{"trait": item["key"], "type": "AUDIENCE", "lastSeenAt": item["updatedAt"]}
               for item in call.ws.audiences_of(space["id"])
               if (item["audienceType"] == "ACCOUNTS") == (wanted == "ACCOUNTS")]
    derived += [{"trait": item["key"], "type": "COMPUTED", "lastSeenAt": item["updatedAt"]}
                for item in call.ws.computed_traits_of(space["id"])
                if (item.get("definition") or {}).get("type", "USERS") == wanted]
    items = (custom if wanted == "USERS" else custom[:5]) + derived
    items = _sort(call, items, {"trait": "trait", "lastSeenAt": "lastSeenAt"}, "trait", "asc", "trait")
    if include_samples:
        items = [{**item, "samples": _samples(item["trait"], samples)} for item in items]
    total = len(items)
    page, pagination = forward_only_page(items, page_request(call.query), call.last_page_next,
                                         lambda offset: total + max(0, total - offset) // 20)
    return {"traits": page, "pagination": pagination}


def space_filters(call: Call) -> dict[str, Any]:
    """`/filters?integrationId=<space id>`: numeric offset cursor, count 1..10; `filters` is left out when the
    space has none (the model marks it optional)."""
    space_id = metrics.required(call.query, "integrationId", "the id of a Space")
    space = find_or_404(call, "spaces", space_id)
    items = call.ws.space_filters_of(space["id"])
    page, pagination = numeric_page(items, call.query, max_count=SPACE_FILTERS_MAX_COUNT,
                                    default_count=SPACE_FILTERS_DEFAULT_COUNT)
    return ({"filters": page} if items else {}) | {"pagination": pagination}


# --- privacy --------------------------------------------------------------------------------------------------


def _retained(items: Items) -> Items:
    oldest = iso(utcnow() - privacy.RETENTION)
    return [item for item in items if item["createdAt"] >= oldest]


def _regulation_filters(call: Call, items: Items, types: tuple[str, ...]) -> Items:
    status = _enum(call, "status", privacy.REGULATION_STATUSES)
    wanted = array_arg(call.query, "regulationTypes")
    unknown = [value for value in wanted if value not in types]
    if unknown:
        raise errors.validation("regulationTypes", f"regulationTypes must be among {', '.join(types)}")
    return [item for item in _retained(items) if (status is None or item["status"] == status)
            and (not wanted or item["regulationType"] in wanted)]


def workspace_regulations(call: Call) -> Items:
    return _regulation_filters(call, call.ws.regulations, privacy.WORKSPACE_REGULATION_TYPES)


def source_regulations(call: Call) -> dict[str, Any]:
    """Accepts `pagination`, but the response has no `pagination` object (facts §1.6)."""
    source = _source(call)
    items = _regulation_filters(call, call.ws.regulations_of_source(source["id"]), privacy.SOURCE_REGULATION_TYPES)
    page, _ = _page(items, call)
    return {"regulations": page}


def regulation(call: Call) -> dict[str, Any]:
    detail = call.ws.regulation_details.get(call.params["regulateId"])
    if detail is None or not _retained([detail]):
        raise ApiError(404, "not-found", "Resource not found", data=None)
    return detail


def suppressions(call: Call) -> dict[str, Any]:
    """Keyset pagination: the cursor is an opaque token naming the first item of the next page (shaped like the
    API's `reg-6508-00981` tokens), not an offset. The first page's `current` is "MQ==", as in the docs."""
    page = page_request(call.query)
    items = call.ws.suppressions
    keys = [privacy.suppression_key(item) for item in items]
    start = 0
    if page.cursor and page.cursor != "MQ==":
        try:
            token = b64decode_text(page.cursor)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            token = ""
        if not token.startswith("reg-"):
            raise errors.validation("pagination.cursor", "pagination.cursor is not a cursor this endpoint issued")
        start = next((index for index, key in enumerate(keys) if key >= token), len(items))
    chunk = items[start: start + page.count]
    following = items[start + page.count] if start + page.count < len(items) else None
    current = privacy.suppression_cursor(chunk[0]) if start and chunk else "MQ=="
    previous = None
    if start:
        previous = privacy.suppression_cursor(items[max(start - page.count, 0)]) if start > page.count else "MQ=="
    pagination = page_window(current, privacy.suppression_cursor(following) if following else None, previous,
                             call.last_page_next, len(items))
    return {"suppressed": chunk, "pagination": pagination}


# --- usage and metrics ----------------------------------------------------------------------------------------


def usage(kind: str) -> Callable[[Call], Items]:
    def items(call: Call) -> Items:
        return metrics.usage(call.ws, kind, metrics.usage_period(call.query))

    return items


VOLUME_GROUPS = ("eventName", "eventType", "source")


def _window(call: Call) -> tuple[datetime, datetime, str]:
    granularity = metrics.granularity_param(call.query)
    start = metrics.time_param(call.query, "startTime")
    end = metrics.time_param(call.query, "endTime")
    if start >= end:
        raise errors.validation("startTime", "startTime must be before endTime")
    return start, end, granularity


def _group_by(call: Call, allowed: tuple[str, ...]) -> list[str]:
    values = array_arg(call.query, "groupBy")
    unknown = [value for value in values if value not in allowed]
    if unknown:
        raise errors.validation("groupBy", f"groupBy must be among {', '.join(allowed)}")
    return list(dict.fromkeys(values))


def events_volume(call: Call) -> dict[str, Any]:
    start, end, granularity = _window(call)
    metrics.buckets(start, end, granularity)  # validates the window size
    group_by = _group_by(call, VOLUME_GROUPS)
    filters = {name: array_arg(call.query, name) for name in ("sourceId", "eventName", "eventType", "appVersion")}
    series = metrics.events_volume(call.ws, call.query, group_by, filters, start, end, granularity)
    # ordered by the totals served, not the expected rates: near-equal rates can swap once sampled
    items = sorted((metrics.volume_item(call.ws, key, dims, rate, start, end, granularity)
                    for key, dims, rate in series), key=lambda item: -item["total"])
    page, pagination = _page(items, call)
    query: dict[str, Any] = {"workspaceId": call.ws.workspace["id"], "granularity": granularity,
                             "startTime": iso(start), "endTime": iso(end)}
    if group_by:
        query["groupBy"] = group_by
    query.update({name: values for name, values in filters.items() if values})
    return {"path": "/events/volume", "query": query, "result": page, "pagination": pagination}


FILTER_MEMBERS = {
    "successfully-received": ("eventName", "eventType", "appVersion"),
    "failed-on-ingest": ("discardReason", "eventName", "eventType", "appVersion"),
    "filtered-at-source": ("discardReason", "eventName", "eventType", "appVersion"),
}
DESTINATION_FILTER_MEMBERS = ("discardReason", "eventName", "eventType", "appVersion", "subscriptionId",
                              "activationId", "audienceId", "spaceId")


def delivery_overview(step: str) -> Callable[[Call], dict[str, Any]]:
    needs_destination, _, groups, _ = metrics.DELIVERY_STEPS[step]

    def handler(call: Call) -> dict[str, Any]:
        source_id = metrics.required(call.query, "sourceId")
        destination_id = metrics.required(call.query, "destinationConfigId") if needs_destination else None
        start, end, granularity = _window(call)
        metrics.check_window(start, end, granularity, metrics.WINDOW_LIMITS, utcnow())
        source = find_or_404(call, "sources", source_id)
        destination = None
        if destination_id is not None:
            destination = find_or_404(call, "destinations", destination_id)
            if destination["sourceId"] != source["id"]:
                raise errors.validation("destinationConfigId", f"destination '{destination_id}' is not connected "
                                                               f"to source '{source_id}'")
        group_by = _group_by(call, groups)
        filters = object_arrays(call.query, "filter")
        allowed = DESTINATION_FILTER_MEMBERS if needs_destination else FILTER_MEMBERS[step]
        unknown = [member for member in filters if member not in allowed]
        if unknown:
            raise errors.validation("filter", f"filter accepts {', '.join(allowed)}")
        series = metrics.delivery_dataset(call.ws, step, source, destination, group_by, filters)
        page, pagination = _page(series, call)
        context = (source["id"], destination["id"] if destination else "")
        dataset = [metrics.delivery_item(call.ws, step, key, dims, rate, start, end, granularity, context)
                   for key, dims, rate in page]
        return {"total": sum(item["total"] for item in dataset), "dataset": dataset, "pagination": pagination}

    return handler

