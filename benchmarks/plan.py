"""The minimal request plan: the fewest requests that read everything the benchmark reads.

For the benchmarked resources, at the API's largest page size (1000 items):

    requests = 1                                         GET / (the workspace)
             + sum over top-level lists L of pages(|L|)  sources, destinations, warehouses, tracking-plans,
                                                         functions?resourceType=T for each of the 5 types,
                                                         audit-events (the 90-day window the API serves)
             + sum over child lists C, over every parent p of C: pages(|C(p)|)
                                                         warehouses/{id}/connected-sources,
                                                         tracking-plans/{id}/rules, tracking-plans/{id}/sources,
                                                         functions/{id}/versions
             + 1 for each unpaginated list               labels

    pages(n) = max(1, ceil(n / 1000))   (an empty list still costs the one request that finds it empty)

Item counts come straight from the emulator's workspace, not from any run, so the plan is independent of
both pipelines. Endpoints outside this set (the newer configuration surface) are not benchmarked.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List

from segment_source.endpoints import ENDPOINTS_BY_NAME, FUNCTION_RESOURCE_TYPES

PAGE_SIZE = 1000
AUDIT_RETENTION = timedelta(days=90)

# The tables both pipelines load (segment-history's names); `workspace` is GET /.
BENCH_TABLES = [
    "sources", "destinations", "warehouses", "source_warehouses", "tracking_plans", "tracking_plan_rules",
    "tracking_plan_sources", "functions", "function_versions", "labels", "audit_events",
]

FORMULA = ("1 (GET /) + sum over top-level lists of max(1, ceil(items/1000)) + sum over child lists of "
           "sum over parents of max(1, ceil(items of that parent/1000)) + 1 per unpaginated list (labels)")


def pages(items: int, page_size: int = PAGE_SIZE) -> int:
    return max(1, math.ceil(items / page_size))


def audit_events_in_window(workspace: Any, now: datetime | None = None) -> int:
    """Events the API serves for the last 90 days (the window both pipelines read on a first run)."""
    now = now or datetime.now(timezone.utc)
    oldest = (now - AUDIT_RETENTION).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return sum(1 for event in workspace.audit_events if event["timestamp"] >= oldest)


def item_counts(workspace: Any) -> Dict[str, Any]:
    """How many items each list holds, per parent for child lists."""
    per_warehouse: Dict[str, int] = {w["id"]: 0 for w in workspace.warehouses}
    for _source_id, warehouse_id in workspace.source_warehouses:
        if warehouse_id in per_warehouse:
            per_warehouse[warehouse_id] += 1
    plan_sources = workspace.tracking_plan_sources
    return {
        "sources": len(workspace.sources),
        "destinations": len(workspace.destinations),
        "warehouses": len(workspace.warehouses),
        "tracking_plans": len(workspace.tracking_plans),
        "functions": {t: sum(1 for f in workspace.functions if f["resourceType"] == t)
                      for t in FUNCTION_RESOURCE_TYPES},
        "audit_events": audit_events_in_window(workspace),
        "labels": len(workspace.labels),
        "source_warehouses": per_warehouse,
        "tracking_plan_rules": {p["id"]: len(workspace.rules.get(p["id"], [])) for p in workspace.tracking_plans},
        "tracking_plan_sources": {p["id"]: len(plan_sources.get(p["id"], [])) for p in workspace.tracking_plans},
        "function_versions": {f["id"]: len(workspace.function_versions.get(f["id"], []))
                              for f in workspace.functions},
    }


def _path(endpoint: str) -> str:
    """The endpoint's path as requests name it (`/warehouses/{id}/connected-sources`)."""
    return "/" + ENDPOINTS_BY_NAME[endpoint].path


def minimal_plan(workspace: Any, page_size: int = PAGE_SIZE) -> Dict[str, Any]:
    """The plan's request count, per endpoint and in total, with the item counts it is based on."""
    counts = item_counts(workspace)
    by_endpoint: Dict[str, int] = {"GET /": 1}
    for name in ("sources", "destinations", "warehouses", "tracking_plans", "audit_events"):
        by_endpoint[_path(name)] = pages(counts[name], page_size)
    by_endpoint[_path("functions_source")] = sum(pages(n, page_size) for n in counts["functions"].values())
    by_endpoint[_path("labels")] = 1  # not paginated
    for name, endpoint in (("source_warehouses", "source_warehouses"), ("tracking_plan_rules", "tracking_plan_rules"),
                           ("tracking_plan_sources", "tracking_plan_sources"),
                           ("function_versions", "function_versions_source")):
        by_endpoint[_path(endpoint)] = sum(pages(n, page_size) for n in counts[name].values())
    items = {name: (sum(value.values()) if isinstance(value, dict) else value) for name, value in counts.items()}
    return {
        "page_size": page_size,
        "formula": FORMULA,
        "requests": sum(by_endpoint.values()),
        "by_endpoint": by_endpoint,
        "items": items,
        "expected_rows": {**items, "workspace": 1},
    }


def endpoint_of(path: str) -> str:
    """Groups a request path under the plan's endpoint names (ids become `{id}`)."""
    parts = [part for part in path.split("/") if part]
    if not parts:
        return "GET /"
    if len(parts) >= 3:  # ids are every second segment before the last: /spaces/{id}/audiences/{id}/schedules
        last = len(parts) - 1
        return "/" + "/".join("{id}" if index % 2 and index < last else part for index, part in enumerate(parts))
    return "/" + "/".join(parts)


def compare_to_plan(plan: Dict[str, Any], requests_by_endpoint: Dict[str, int]) -> List[Dict[str, Any]]:
    rows = []
    for endpoint in sorted(set(plan["by_endpoint"]) | set(requests_by_endpoint)):
        planned = plan["by_endpoint"].get(endpoint, 0)
        made = requests_by_endpoint.get(endpoint, 0)
        rows.append({"endpoint": endpoint, "plan": planned, "made": made, "extra": made - planned})
    return rows
