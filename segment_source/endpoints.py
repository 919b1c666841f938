"""Every resource this source reads, declared as data: one `Endpoint` per API list (or object).

The source turns this table into a dlt REST API (`RESTAPIConfig`) declaration; nothing else in the
package knows paths, list keys or versions. Rows without an id of their own get a `record_key` built
from `key` (e.g. a rule is identified by tracking plan, type, event name and version).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

FUNCTION_RESOURCE_TYPES = ("SOURCE", "DESTINATION", "INSERT_SOURCE", "INSERT_DESTINATION", "INSERT_TRANSFORMATION")


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    list_key: str
    table: str = ""
    parent: Optional[str] = None
    # parent field -> column on the child row, e.g. {"id": "tracking_plan_id"}
    parent_fields: Dict[str, str] = field(default_factory=dict)
    # for link tables: item field -> column to keep (everything else of the item is dropped)
    keep: Dict[str, str] = field(default_factory=dict)
    params: Dict[str, str] = field(default_factory=dict)
    stability: str = "stable"
    paginated: bool = True
    page_size: int = 1000
    key: Tuple[str, ...] = ("id",)
    # columns naming the resources an audit event may refer to (rules are audited as their tracking
    # plan; a connection as either of its ends)
    audit_resources: Tuple[str, ...] = ("id",)
    group: str = "core"
    default: bool = True
    history: bool = True  # SCD2 configuration table; False for event logs
    rate_limit_per_minute: Optional[float] = None
    single_object: bool = False

    @property
    def table_name(self) -> str:
        return self.table or self.name

    @property
    def endpoint_path(self) -> str:
        """The path for dlt: a child's `{id}` becomes a reference to its parent resource."""
        if self.parent is None:
            return self.path
        return self.path.replace("{id}", "{resources.%s.id}" % self.parent)


def _function_endpoints() -> List[Endpoint]:
    endpoints = []
    for resource_type in FUNCTION_RESOURCE_TYPES:
        suffix = resource_type.lower()
        endpoints.append(
            Endpoint(f"functions_{suffix}", "functions", "functions", table="functions",
                     params={"resourceType": resource_type})
        )
        endpoints.append(
            Endpoint(f"function_versions_{suffix}", "functions/{id}/versions", "versions",
                     table="function_versions", parent=f"functions_{suffix}",
                     parent_fields={"id": "function_id"}, stability="alpha",
                     key=("function_id", "id"), audit_resources=("function_id",))
        )
    return endpoints


ENDPOINTS: List[Endpoint] = [
    Endpoint("sources", "sources", "sources"),
    Endpoint("destinations", "destinations", "destinations"),
    Endpoint("warehouses", "warehouses", "warehouses"),
    # One call per warehouse rather than per source: far fewer parents, the same edges.
    Endpoint("source_warehouses", "warehouses/{id}/connected-sources", "sources", parent="warehouses",
             parent_fields={"id": "warehouse_id"}, keep={"id": "source_id"},
             key=("source_id", "warehouse_id"), audit_resources=("source_id", "warehouse_id")),
    Endpoint("tracking_plans", "tracking-plans", "trackingPlans"),
    Endpoint("tracking_plan_rules", "tracking-plans/{id}/rules", "rules", parent="tracking_plans",
             parent_fields={"id": "tracking_plan_id"}, key=("tracking_plan_id", "type", "key", "version"),
             audit_resources=("tracking_plan_id",), rate_limit_per_minute=200),
    Endpoint("tracking_plan_sources", "tracking-plans/{id}/sources", "sources", parent="tracking_plans",
             parent_fields={"id": "tracking_plan_id"}, keep={"id": "source_id"},
             key=("tracking_plan_id", "source_id"), audit_resources=("tracking_plan_id", "source_id")),
    *_function_endpoints(),
    Endpoint("labels", "labels", "labels", paginated=False, key=("key", "value"), audit_resources=("record_key",)),
    Endpoint("audit_events", "audit-events", "events", history=False),
]

WORKSPACE_TABLE = "workspace"

ENDPOINTS_BY_NAME: Dict[str, Endpoint] = {endpoint.name: endpoint for endpoint in ENDPOINTS}


def tables() -> List[str]:
    """Table names in declaration order, workspace first."""
    names = [WORKSPACE_TABLE]
    for endpoint in ENDPOINTS:
        if endpoint.table_name not in names:
            names.append(endpoint.table_name)
    return names


def history_tables() -> List[str]:
    return [WORKSPACE_TABLE] + sorted({e.table_name for e in ENDPOINTS if e.history})


def endpoint_for_table(table: str) -> Endpoint:
    return next(e for e in ENDPOINTS if e.table_name == table)


def select_endpoints(names: Optional[List[str]]) -> List[Endpoint]:
    """Endpoints for the requested table names (None = the defaults), with the parents they need."""
    if not names:
        return [e for e in ENDPOINTS if e.default]
    unknown = sorted(set(names) - set(tables()))
    if unknown:
        raise ValueError(
            f"Unknown resource(s): {', '.join(unknown)}. Known resources: {', '.join(tables())}."
        )
    wanted = {e.name for e in ENDPOINTS if e.table_name in names}
    for endpoint in ENDPOINTS:
        if endpoint.name in wanted and endpoint.parent:
            wanted.add(endpoint.parent)
    return [e for e in ENDPOINTS if e.name in wanted]
