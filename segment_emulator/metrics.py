"""Metrics and job histories, computed when asked (facts §1.9, §2.1, §3.20, §5.16-18).

Nothing here is stored in the workspace: values are a deterministic function of the workspace seed, the
resource ids and the time bucket (crc32-based noise), so they are stable across requests and restarts, cost no
generation time, and follow mutations (a new source starts reporting, a disabled one drops to zero).

Time windows are interpreted against the real clock (like the audit trail): usage months up to today, warehouse
syncs and Reverse ETL syncs over the last days, Delivery Overview windows limited as documented.
"""

from __future__ import annotations

import calendar
import math
import zlib
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable

from . import errors
from .ids import iso, parse_iso, unix_seconds, utcnow
from .workspace import Workspace

GRANULARITIES = {"MINUTE": timedelta(minutes=1), "HOUR": timedelta(hours=1), "DAY": timedelta(days=1)}
MAX_SERIES = 5000  # /events/volume returns at most this many series
MAX_BUCKETS = 10_000  # our guard against absurd windows (e.g. a year by the minute); undocumented
EVENT_TYPES = ("track", "identify", "page", "screen", "group", "alias")


def cached(ws: Workspace, key: str, build: Any) -> Any:
    """`ws._cached`, bounded: time-keyed entries would otherwise pile up between mutations."""
    if len(ws._cache) > 4096:
        ws.touch()
    return ws._cached(key, build)


def noise(seed: int, *parts: Any) -> float:
    """A stable pseudo-random number in [0, 1) for a tuple of parts."""
    return zlib.crc32(":".join(map(str, (seed, *parts))).encode()) / 2 ** 32


# --- what each source sends -----------------------------------------------------------------------------------


def daily_events(ws: Workspace, source: dict[str, Any]) -> float:
    """Events per day a source sends (0 when disabled); event sources send far more than cloud sources."""
    if not source.get("enabled", True):
        return 0.0
    exponent = (2.5 + 3.5 * noise(ws.seed, source["id"], "volume")) if source.get("writeKeys") else (
        1.0 + 2.0 * noise(ws.seed, source["id"], "volume"))
    return 10 ** exponent


def event_mix(ws: Workspace, source: dict[str, Any]) -> list[tuple[str, str, float]]:
    """(event name, event type, share of the source's volume): its tracking plan's events, else a default set."""
    cache = ws._cached("event_mix", dict)
    if source["id"] in cache:
        return cache[source["id"]]
    plan_id = ws.source_tracking_plan.get(source["id"])
    names = [rule["key"] for rule in ws.rules.get(plan_id, []) if rule["type"] == "TRACK" and rule.get("key")]
    names = sorted(set(names))[:12] or ["Order Completed", "Product Viewed", "Product Added", "Checkout Started",
                                        "Signed Up", "Cart Viewed"][: 3 + int(noise(ws.seed, source["id"]) * 4)]
    mobile = source["metadata"]["categories"] == ["Mobile"]
    mix = [(name, "track", 0.7 / len(names)) for name in names]
    mix += [("", "screen" if mobile else "page", 0.17), ("", "identify", 0.1), ("", "group", 0.03)]
    cache[source["id"]] = mix
    return mix


def app_versions(source: dict[str, Any]) -> list[str]:
    return ["5.2.0", "5.3.1", "6.0.0"] if source["metadata"]["categories"] == ["Mobile"] else [""]


# --- parameters -----------------------------------------------------------------------------------------------


def required(query: dict[str, list[str]], name: str, hint: str = "") -> str:
    values = query.get(name)
    if not values or values[0] == "":
        raise errors.missing(name, hint)
    return values[0]


def time_param(query: dict[str, list[str]], name: str, default: datetime | None = None) -> datetime:
    values = query.get(name)
    if not values or values[0] == "":
        if default is None:
            raise errors.missing(name, "an ISO-8601 timestamp")
        return default
    try:
        return parse_iso(values[0])
    except ValueError:
        raise errors.validation(name, f"{name} must be an ISO-8601 timestamp") from None


def granularity_param(query: dict[str, list[str]], default: str | None = None) -> str:
    values = query.get("granularity")
    value = values[0] if values and values[0] else default
    if value is None:
        raise errors.missing("granularity", "one of DAY, HOUR, MINUTE")
    if value not in GRANULARITIES:
        raise errors.validation("granularity", "granularity must be one of DAY, HOUR, MINUTE")
    return value


def floor_to(moment: datetime, granularity: str) -> datetime:
    if granularity == "DAY":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if granularity == "HOUR":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(second=0, microsecond=0)


def buckets(start: datetime, end: datetime, granularity: str) -> list[datetime]:
    step = GRANULARITIES[granularity]
    first = floor_to(start, granularity)
    count = math.ceil((end - first) / step)
    if count > MAX_BUCKETS:
        raise errors.validation("granularity", f"the window holds {count} {granularity} buckets; at most "
                                               f"{MAX_BUCKETS} are served, use a coarser granularity")
    return [first + step * index for index in range(max(count, 0))]


# --- usage (`/usage/...`) -------------------------------------------------------------------------------------


def usage_period(query: dict[str, list[str]]) -> date:
    text = required(query, "period", "the first day of a month, e.g. 2026-08-01")
    try:
        period = date.fromisoformat(text[:10])
    except ValueError:
        raise errors.validation("period", "period must be an ISO-8601 date such as 2026-08-01") from None
    if period.day != 1:
        raise errors.validation("period", "period must be the first day of a month")
    return period


def _month_days(period: date, today: date) -> list[date]:
    last = calendar.monthrange(period.year, period.month)[1]
    return [period + timedelta(days=offset) for offset in range(last) if period + timedelta(days=offset) <= today]


def _month_bounds(period: date) -> tuple[int, int]:
    start = datetime(period.year, period.month, 1, tzinfo=timezone.utc)
    following = datetime(period.year + period.month // 12, period.month % 12 + 1, 1, tzinfo=timezone.utc)
    return unix_seconds(start), unix_seconds(following)


def _day_stamp(day: date) -> str:
    return iso(datetime(day.year, day.month, day.day, tzinfo=timezone.utc))


def _api_calls(ws: Workspace, source: dict[str, Any], day: date) -> int:
    return int(daily_events(ws, source) * (0.85 + 0.3 * noise(ws.seed, source["id"], day, "api")))


def _mtu_total(ws: Workspace, source: dict[str, Any], period: date) -> float:
    return daily_events(ws, source) / 12 * (0.8 + 0.4 * noise(ws.seed, source["id"], period, "mtu"))


def _mtu_split(total: float, fraction: float) -> dict[str, str]:
    """Cumulative MTUs after `fraction` of the month, split by identity state; counters are strings."""
    seen = total * fraction ** 0.7
    return {"anonymous": str(int(seen * 0.28)), "anonymousIdentified": str(int(seen * 0.09)),
            "identified": str(int(seen * 0.6)), "neverIdentified": str(int(seen * 0.03))}


def usage(ws: Workspace, kind: str, period: date, today: date | None = None) -> list[dict[str, Any]]:
    """Daily cumulative snapshots for the month `period` (days up to today; a future month is empty).

    kind: "api-calls" | "api-calls-sources" | "mtu" | "mtu-sources".
    """
    today = today or utcnow().date()
    return cached(ws, f"usage:{kind}:{period}:{today}", lambda: _usage(ws, kind, period, today))


def _usage(ws: Workspace, kind: str, period: date, today: date) -> list[dict[str, Any]]:
    days = _month_days(period, today)
    length = calendar.monthrange(period.year, period.month)[1]
    start, end = _month_bounds(period)
    per_source = kind.endswith("sources")
    items: list[dict[str, Any]] = []
    if kind.startswith("api-calls"):
        rows: dict[str, list[int]] = {}
        for source in ws.sources:
            running, cumulative = 0, []
            for day in days:
                running += _api_calls(ws, source, day)
                cumulative.append(running)
            rows[source["id"]] = cumulative
        if per_source:
            for source_id, cumulative in rows.items():
                items += [{"sourceId": source_id, "apiCalls": str(value), "timestamp": _day_stamp(day)}
                          for day, value in zip(days, cumulative)]
        else:
            items = [{"apiCalls": str(sum(row[index] for row in rows.values())), "timestamp": _day_stamp(day)}
                     for index, day in enumerate(days)]
        return items
    totals = {source["id"]: _mtu_total(ws, source, period) for source in ws.sources}
    if per_source:
        for source_id, total in totals.items():
            items += [{"sourceId": source_id, "periodStart": start, "periodEnd": end,
                       **_mtu_split(total, (index + 1) / length), "timestamp": _day_stamp(day)}
                      for index, day in enumerate(days)]
    else:
        overall = sum(totals.values()) * 0.85  # people using several sources count once
        items = [{"periodStart": start, "periodEnd": end, **_mtu_split(overall, (index + 1) / length),
                  "timestamp": _day_stamp(day)} for index, day in enumerate(days)]
    return items


# --- series shared by /events/volume and Delivery Overview ----------------------------------------------------


def _series(ws: Workspace, key: tuple, rate_per_day: float, moments: list[datetime], granularity: str,
            start: datetime, end: datetime) -> list[dict[str, Any]]:
    step = GRANULARITIES[granularity]
    points = []
    for moment in moments:
        span = (min(moment + step, end) - max(moment, start)) / timedelta(days=1)
        wiggle = 0.75 + 0.5 * noise(ws.seed, key, moment.isoformat())
        points.append({"time": iso(moment), "count": int(rate_per_day * span * wiggle)})
    return points


def events_volume(ws: Workspace, query: dict[str, list[str]], group_by: list[str], filters: dict[str, list[str]],
                  start: datetime, end: datetime, granularity: str) -> list[tuple[tuple, dict[str, Any], float]]:
    """The series keys of `/events/volume` (ordered by total, at most 5000): (key, dimensions, rate/day)."""
    rates: dict[tuple, float] = {}
    dims: dict[tuple, dict[str, Any]] = {}
    sources = [s for s in ws.sources if not filters["sourceId"] or s["id"] in filters["sourceId"]]
    for source in sources:
        volume = daily_events(ws, source)
        versions = app_versions(source)
        version_share = 1.0 if not filters["appVersion"] else (
            sum(1 for v in versions if v in filters["appVersion"]) / len(versions))
        for name, kind, share in event_mix(ws, source):
            if filters["eventName"] and name not in filters["eventName"]:
                continue
            if filters["eventType"] and kind not in filters["eventType"]:
                continue
            key = tuple((dimension, {"source": source["id"], "eventName": name, "eventType": kind}[dimension])
                        for dimension in group_by)
            rates[key] = rates.get(key, 0.0) + volume * share * version_share
            if key not in dims:
                dims[key] = {}
                for dimension, value in key:
                    if dimension == "source":
                        dims[key]["source"] = {"id": source["id"], "name": source["name"], "slug": source["slug"]}
                    else:
                        dims[key][dimension] = value
    ordered = sorted(rates, key=lambda key: (-rates[key], key))[:MAX_SERIES]
    return [(key, dims[key], rates[key]) for key in ordered]


def volume_item(ws: Workspace, key: tuple, dims: dict[str, Any], rate: float, start: datetime, end: datetime,
                granularity: str) -> dict[str, Any]:
    series = _series(ws, ("volume", key), rate, buckets(start, end, granularity), granularity, start, end)
    return {**dims, "total": sum(point["count"] for point in series), "series": series}


# --- Delivery Overview ----------------------------------------------------------------------------------------

# step -> (needs a destination, share of the source's volume, groupBy dimensions allowed, discard reasons)
DELIVERY_STEPS: dict[str, tuple[bool, float, tuple[str, ...], tuple[str, ...]]] = {
    "successfully-received": (False, 1.0, ("eventName", "eventType", "appVersion"), ()),
    "failed-on-ingest": (False, 0.004, ("eventName", "eventType", "discardReason", "appVersion"),
                         ("invalid_json", "payload_too_large", "invalid_write_key", "timestamp_out_of_range")),
    "filtered-at-source": (False, 0.03, ("eventName", "eventType", "discardReason", "appVersion"),
                           ("tracking_plan_blocked_event", "tracking_plan_omitted_properties", "source_disabled")),
    "filtered-at-destination": (True, 0.05, ("eventName", "eventType", "discardReason", "appVersion",
                                             "subscriptionId", "activationId", "audienceId", "spaceId"),
                                ("destination_filter", "unsupported_event_type", "no_matching_mapping",
                                 "integrations_object_disabled")),
    "failed-delivery": (True, 0.012, ("eventName", "eventType", "discardReason", "appVersion", "subscriptionId",
                                      "activationId", "audienceId", "spaceId"),
                        ("bad_request", "unauthorized", "rate_limited", "server_error", "timeout")),
    "successful-delivery": (True, 0.93, ("eventName", "eventType", "discardReason", "appVersion", "subscriptionId",
                                         "activationId", "audienceId", "spaceId"), ()),
}
WINDOW_LIMITS = {"MINUTE": (timedelta(hours=4), timedelta(hours=48)),
                 "HOUR": (timedelta(days=14), timedelta(days=30)),
                 "DAY": (timedelta(days=30), timedelta(days=30))}
SUMMARY_LIMITS = {"MINUTE": (timedelta(hours=4), timedelta(hours=48)),
                  "HOUR": (timedelta(days=7), timedelta(days=7)),
                  "DAY": (timedelta(days=14), timedelta(days=14))}
SUMMARY_DEFAULT_START = {"MINUTE": timedelta(hours=1), "HOUR": timedelta(days=7), "DAY": timedelta(days=30)}


def check_window(start: datetime, end: datetime, granularity: str, limits: dict, now: datetime) -> None:
    longest, oldest = limits[granularity]
    if start >= end:
        raise errors.validation("startTime", "startTime must be before endTime")
    if end - start > longest:
        raise errors.validation("endTime", f"a {granularity} window may span at most {longest}")
    if start < now - oldest:
        raise errors.validation("startTime", f"with {granularity} granularity startTime must be within the last "
                                             f"{oldest}")


def delivery_dataset(ws: Workspace, step: str, source: dict[str, Any], destination: dict[str, Any] | None,
                     group_by: list[str], filters: dict[str, list[str]]) -> list[tuple[tuple, dict, float]]:
    """Series keys of one Delivery Overview step: (key, dimensions, rate per day), largest first."""
    _, share, _, reasons = DELIVERY_STEPS[step]
    volume = daily_events(ws, source) * share
    if destination is not None and not destination["enabled"]:
        volume = 0.0 if step != "filtered-at-destination" else volume * 10
    subscriptions = [s["id"] for s in ws.subscriptions_of(destination["id"])] if destination else []
    rows: dict[tuple, float] = {}
    dims: dict[tuple, dict[str, Any]] = {}
    for name, kind, event_share in event_mix(ws, source):
        for version in app_versions(source):
            for reason in reasons or ("",):
                values = {"eventName": name, "eventType": kind, "appVersion": version, "discardReason": reason,
                          "subscriptionId": subscriptions[0] if subscriptions else "", "activationId": "",
                          "audienceId": "", "spaceId": ""}
                if any(values.get(member) not in allowed for member, allowed in filters.items() if allowed):
                    continue
                weight = event_share / len(app_versions(source)) / max(len(reasons), 1)
                if reason:
                    weight *= 2 ** -(reasons.index(reason))  # the first reasons dominate
                key = tuple((dimension, values[dimension]) for dimension in group_by)
                rows[key] = rows.get(key, 0.0) + volume * weight
                dims.setdefault(key, {dimension: value for dimension, value in key if value != ""})
    ordered = sorted(rows, key=lambda key: (-rows[key], key))
    return [(key, dims[key], rows[key]) for key in ordered]


def delivery_item(ws: Workspace, step: str, key: tuple, dims: dict[str, Any], rate: float, start: datetime,
                  end: datetime, granularity: str, context: tuple) -> dict[str, Any]:
    series = _series(ws, ("delivery", step, context, key), rate, buckets(start, end, granularity), granularity,
                     start, end)
    item = {**dims, "total": sum(point["count"] for point in series), "series": series}
    if step == "successful-delivery":
        for point in series:
            point["retryCount"] = int(point["count"] * 0.02)
        item["totalRetryCount"] = sum(point["retryCount"] for point in series)
    return item


def delivery_summary(ws: Workspace, destination: dict[str, Any], source: dict[str, Any], start: datetime,
                     end: datetime) -> dict[str, Any]:
    days = (end - start) / timedelta(days=1)
    sent = int(daily_events(ws, source) * 0.95 * days * (destination["enabled"]))
    retried = int(sent * 0.02)
    wiggle = noise(ws.seed, destination["id"], "latency")
    return {"sourceId": source["id"], "destinationMetadataId": destination["metadata"]["id"], "metrics": [
        {"metricName": "successes", "total": sent, "breakdown": [
            {"metricName": "successes_on_first_attempt", "value": sent - retried},
            {"metricName": "successes_after_retry", "value": retried}]},
        {"metricName": "expired", "total": int(sent * 0.001)},
        {"metricName": "discarded", "total": int(sent * 0.01)},
        {"metricName": "retried", "total": retried},
        {"metricName": "time_to_success", "total": sent, "breakdown": [
            {"metricName": "time_to_success_average", "value": round(120 + 300 * wiggle)},
            {"metricName": "time_to_success_p95", "value": round(600 + 900 * wiggle)}]},
        {"metricName": "time_to_first_attempt", "total": sent, "breakdown": [
            {"metricName": "time_to_first_attempt_average", "value": round(40 + 80 * wiggle)},
            {"metricName": "time_to_first_attempt_p95", "value": round(200 + 300 * wiggle)}]},
    ]}


# --- warehouse syncs (JOBS) -----------------------------------------------------------------------------------

SYNC_HISTORY = timedelta(days=3)


def _human(seconds: int) -> str:
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m {seconds}s" if hours else f"{minutes}m {seconds}s"


def _sync_hours(ws: Workspace, warehouse: dict[str, Any]) -> list[int]:
    schedule = ws.warehouse_schedules.get(warehouse["id"]) or {}
    if schedule.get("enabled"):
        hours = [time["hourOfDay"] for time in schedule.get("schedule", {}).get("times", []) if time["enabled"]]
        return hours or [0]
    return [0, 6, 12, 18]


def warehouse_syncs(ws: Workspace, warehouse: dict[str, Any], source_ids: Iterable[str],
                    now: datetime | None = None) -> list[dict[str, Any]]:
    """`SyncV1` reports of the last three days for the given sources of a warehouse, newest first.
    A disabled warehouse has not synced since it was disabled (about a day ago)."""
    now = floor_to(now or utcnow(), "MINUTE")
    ids = list(source_ids)
    key = f"syncs:{warehouse['id']}:{','.join(ids)}:{now.isoformat()}"
    return cached(ws, key, lambda: _warehouse_syncs(ws, warehouse, ids, now))


def _warehouse_syncs(ws: Workspace, warehouse: dict[str, Any], source_ids: list[str], now: datetime) -> list[dict]:
    hours = _sync_hours(ws, warehouse)
    cutoff = now - timedelta(days=1) if not warehouse["enabled"] else now
    reports = []
    day = floor_to(now - SYNC_HISTORY, "DAY")
    while day <= now:
        for hour in hours:
            start = day + timedelta(hours=hour, minutes=int(7 * noise(ws.seed, warehouse["id"], hour)))
            if not now - SYNC_HISTORY <= start <= cutoff:
                continue
            for source_id in source_ids:
                roll = noise(ws.seed, warehouse["id"], source_id, start.isoformat())
                duration = int(60 + 1500 * roll)
                running = start + timedelta(seconds=duration) > now
                status = "IN_PROGRESS" if running else ("FAILED" if roll < 0.04 else (
                    "PARTIAL_SUCCESS" if roll < 0.08 else "SUCCESS"))
                report: dict[str, Any] = {
                    "sourceId": source_id, "start": iso(start),
                    "end": None if running else iso(start + timedelta(seconds=duration)), "status": status,
                    "duration": 0 if running else duration, "humanDuration": "" if running else _human(duration),
                    "count": 0 if running or status == "FAILED" else int(10 ** (2 + 4 * roll)), "notices": []}
                if status in ("FAILED", "PARTIAL_SUCCESS"):
                    report["notices"] = [{"level": "error" if status == "FAILED" else "warning",
                                          "message": "Permission denied on schema" if status == "FAILED" else
                                          "Some rows were rejected: column type mismatch",
                                          "createdAt": iso(start + timedelta(seconds=duration))}]
                reports.append(report)
        day += timedelta(days=1)
    reports.sort(key=lambda report: (report["start"], report["sourceId"]), reverse=True)
    return reports


def connection_state(ws: Workspace, warehouse: dict[str, Any]) -> str:
    return "FAILED" if noise(ws.seed, warehouse["id"], "connection") < 0.1 else "CONNECTED"


# --- Reverse ETL syncs (JOBS) ---------------------------------------------------------------------------------

RETL_HISTORY = timedelta(days=7)
RETL_INTERVALS = {"15m": timedelta(minutes=15), "30m": timedelta(minutes=30), "1h": timedelta(hours=1)}


def _retl_starts(ws: Workspace, subscription: dict[str, Any], now: datetime) -> list[datetime]:
    schedule = subscription.get("reverseETLSchedule") or {"strategy": "MANUAL"}
    oldest = now - RETL_HISTORY
    strategy, config = schedule["strategy"], schedule.get("config") or {}
    if strategy == "PERIODIC":
        step = RETL_INTERVALS.get(config.get("interval"), timedelta(hours=1))
    elif strategy in ("CRON", "SPECIFIC_DAYS"):
        step = timedelta(hours=6)
    elif strategy == "DBT_CLOUD":
        step = timedelta(days=1)
    else:  # MANUAL: a few runs someone clicked
        return sorted((oldest + RETL_HISTORY * noise(ws.seed, subscription["id"], index)
                       for index in range(4)), reverse=True)
    first = floor_to(oldest, "HOUR")
    count = int((now - first) / step)
    return [first + step * index for index in range(count, -1, -1) if first + step * index <= now]


def retl_syncs(ws: Workspace, model: dict[str, Any], subscription: dict[str, Any],
               now: datetime | None = None) -> list[dict[str, Any]]:
    """`ReverseETLSyncStatus` records of the last week, newest first (counts and durations are strings)."""
    now = floor_to(now or utcnow(), "MINUTE")
    key = f"retl:{model['id']}:{subscription['id']}:{now.isoformat()}"
    return cached(ws, key, lambda: _retl_syncs(ws, model, subscription, now))


def _retl_syncs(ws: Workspace, model: dict[str, Any], subscription: dict[str, Any], now: datetime) -> list[dict]:
    items = []
    for start in _retl_starts(ws, subscription, now)[:300]:
        roll = noise(ws.seed, subscription["id"], start.isoformat())
        seconds = int(20 + 600 * roll)
        finished = start + timedelta(seconds=seconds)
        running = finished > now
        status = "IN_PROGRESS" if running else ("FAIL" if roll < 0.05 else (
            "PARTIAL_SUCCESS" if roll < 0.1 else "SUCCESS"))
        added, updated, deleted = int(500 * roll), int(2000 * (1 - roll)), int(20 * roll)
        extracted = added + updated + deleted
        item: dict[str, Any] = {
            "syncId": f"{unix_seconds(start)}{zlib.crc32(subscription['id'].encode()) % 1000:03d}",
            "modelId": model["id"], "sourceId": model["sourceId"], "syncStatus": status,
            "duration": "" if running else f"{seconds}s", "startedAt": iso(start),
            "extractPhase": {"addedCount": str(added), "updatedCount": str(updated), "deletedCount": str(deleted),
                             "extractCount": str(extracted), "startedAt": iso(start),
                             "finishedAt": iso(start + timedelta(seconds=seconds // 3))},
        }
        if not running:
            failures = extracted if status == "FAIL" else (int(extracted * 0.1) if status == "PARTIAL_SUCCESS"
                                                           else 0)
            item["finishedAt"] = iso(finished)
            item["loadPhase"] = {"deliverSuccessCount": str(extracted - failures),
                                 "deliverFailureCount": str(failures),
                                 "startedAt": iso(start + timedelta(seconds=seconds // 3)),
                                 "finishedAt": iso(finished)}
            if status == "FAIL":
                item["error"] = "Destination rejected the batch: invalid credentials"
                item["errorCode"] = "DESTINATION_AUTH"
        items.append(item)
    return items
