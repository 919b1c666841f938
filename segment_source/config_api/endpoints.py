"""Every Config API list this flavour reads, declared as data, loading into the Public API's tables.

Paths are relative to the base (`…/v1beta`). `{ws}` is the workspace slug and `{workspace_id}` its id
(functions are listed by id); a child's other `{field}` names a field of its parent's items. Each item is
turned into the Public API's shape by the function named in `shape` (`shapes.py`), so both APIs fill the
same columns wherever the facts sheet maps a field.

`sees` is the SQL condition on a table's rows that this API can see at all: an SCD2 load through it may
retire only those (the Config API has no PAGE or SCREEN rules and no insert functions, so it never
retires them). `destination_column` names the column holding a destination's key: rows of destinations the
Config API cannot name (two of one type on one source, `identity.py`) are outside what its load may retire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ..endpoints import WORKSPACE_TABLE

__all__ = ["ConfigEndpoint", "ENDPOINTS", "WORKSPACE_TABLE", "select"]


@dataclass(frozen=True)
class ConfigEndpoint:
    name: str
    path: str
    list_key: str  # key of the item list; "" for a single object (the body itself)
    shape: str  # the function of `shapes.SHAPES` that makes a Public-shaped row of an item
    table: str = ""
    parent: Optional[str] = None
    parent_fields: Tuple[str, ...] = ()  # fields of the parent's items a child's path or rows need
    params: Dict[str, str] = field(default_factory=dict)
    key: Tuple[str, ...] = ("id",)
    sees: Optional[str] = None
    destination_column: Optional[str] = None
    # the Public API table this one shares (rules are unpacked from the plans, not read on their own)
    unpacked_from: Optional[str] = None

    @property
    def table_name(self) -> str:
        return self.table or self.name

    @property
    def single_object(self) -> bool:
        return not self.list_key


SOURCE_PATH = "workspaces/{ws}/sources/{slug}"

ENDPOINTS: List[ConfigEndpoint] = [
    ConfigEndpoint("sources", "workspaces/{ws}/sources", "sources", "source"),
    ConfigEndpoint("source_settings", SOURCE_PATH + "/schema-config", "", "source_settings", parent="sources",
                   parent_fields=("id", "slug"), key=("source_id",)),
    ConfigEndpoint("destinations", SOURCE_PATH + "/destinations", "destinations", "destination", parent="sources",
                   parent_fields=("id", "slug"), destination_column="id"),
    ConfigEndpoint("destination_filters", "workspaces/{ws}/sources/{source_slug}/destinations/{catalog_slug}/filters",
                   "filters", "destination_filter", parent="destinations",
                   parent_fields=("id", "source_id", "source_slug", "catalog_slug"),
                   destination_column="destination_id"),
    ConfigEndpoint("tracking_plans", "workspaces/{ws}/tracking-plans", "tracking_plans", "tracking_plan"),
    ConfigEndpoint("tracking_plan_rules", "", "", "rules", parent="tracking_plans",
                   key=("tracking_plan_id", "type", "key", "version"), sees="type NOT IN ('PAGE', 'SCREEN')",
                   unpacked_from="tracking_plans"),
    ConfigEndpoint("tracking_plan_sources", "workspaces/{ws}/tracking-plans/{rs_id}/source-connections",
                   "connections", "tracking_plan_source", parent="tracking_plans", parent_fields=("id", "rs_id"),
                   key=("tracking_plan_id", "source_id")),
    *[ConfigEndpoint(f"functions_{kind.lower()}", "workspaces/{workspace_id}/functions", "functions", "function",
                     table="functions", params={"type": kind}, sees="resource_type IN ('SOURCE', 'DESTINATION')")
      for kind in ("SOURCE", "DESTINATION")],
]
ENDPOINTS_BY_NAME = {endpoint.name: endpoint for endpoint in ENDPOINTS}
TABLES = sorted({endpoint.table_name for endpoint in ENDPOINTS})


def select(tables: Optional[List[str]]) -> List[ConfigEndpoint]:
    """The endpoints that fill `tables` (all without), with the parents they need."""
    if not tables:
        return list(ENDPOINTS)
    wanted = {name for name in tables}
    unknown = wanted - set(TABLES)
    if unknown:
        raise ValueError(f"The Config API cannot read {', '.join(sorted(unknown))}: it fills {', '.join(TABLES)}.")
    names = {e.name for e in ENDPOINTS if e.table_name in wanted}
    for endpoint in ENDPOINTS:
        if endpoint.name in names and endpoint.parent:
            names.add(endpoint.parent)
    return [endpoint for endpoint in ENDPOINTS if endpoint.name in names]
