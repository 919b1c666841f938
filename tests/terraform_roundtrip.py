"""Rebuilding the Public API objects from exported HCL and comparing them with the history's rows.

For each provider resource type (parents first), every block is turned into the object the Public API would
hold after `terraform apply` (references resolved to the rows their blocks were matched with, `jsonencode`
decoded, variables standing for the secret the API masks), and the multiset of those objects must equal the
multiset of the rows of that moment, read the same way. Written from the provider's documentation and the
API's models, independently of the exporter's table.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any, Callable, Dict, List, Tuple

from .terraform_hcl import Block, JsonEncoded, Reference, Variable

SECRET = "<a secret variable>"
MASK = "\u2022"
Rows = Callable[[str], List[Dict[str, Any]]]


def js(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def masked(value: Any) -> Any:
    """What the API shows of a secret, as the rebuilt object shows a variable."""
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return SECRET if isinstance(value, str) and (MASK in value or value == "<redacted>") else value


def snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def snake_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {snake(k): snake_keys(v) for k, v in value.items() if v is not None}
    return value


def permissions_of(value: Any) -> List[Any]:
    def resource(r: Dict[str, Any]) -> Any:
        return r["id"], r["type"], sorted((label["key"], label["value"]) for label in r.get("labels") or [])

    return sorted((p["roleId"], sorted(resource(r) for r in p.get("resources") or [])) for p in js(value) or [])


def hcl_permissions(value: Any) -> List[Any]:
    return sorted((p["role_id"], sorted((r["id"], r["type"], sorted((l["key"], l["value"]) for l in r["labels"]))
                                        for r in p.get("resources") or []))
                  for p in value or [])


def deployed_code(row: Dict[str, Any], rows: Rows) -> Any:
    versions = [v for v in rows("function_versions") if v["function_id"] == row["id"]]
    deployed = [v for v in versions if v["is_deployed"]] or versions
    return max(deployed, key=lambda v: (v.get("deployed_at") or "", v["created_at"]))["code"] if deployed else None


def display_name(row: Dict[str, Any], rows: Rows) -> Any:
    suffix = f" ({rows('workspace')[0]['name']})"
    name = row["display_name"]
    return name[: -len(suffix)] if row["resource_type"] != "SOURCE" and name.endswith(suffix) else name


def schema_settings(row: Dict[str, Any], rows: Rows) -> Any:
    found = [s for s in rows("source_settings") if s["source_id"] == row["source_id"]]
    return snake_keys(js(found[0]["settings"])) if found else None


def plan_rules(row: Dict[str, Any], rows: Rows) -> List[Any]:
    return sorted((r["type"], r["key"], r["version"], json.dumps(js(r["json_schema"]), sort_keys=True))
                  for r in rows("tracking_plan_rules") if r["tracking_plan_id"] == row["id"])


def items(value: Any, fields: Dict[str, str]) -> List[Any]:
    return sorted(tuple(json.dumps(i.get(f), sort_keys=True) for f in fields.values()) for i in js(value) or [])


def hcl_items(value: Any, fields: Dict[str, str]) -> List[Any]:
    return sorted(tuple(json.dumps(i.get(a), sort_keys=True) for a in fields) for i in value or [])


RENAMES = {"old_name": "oldName", "new_name": "newName"}
VALUES = {"property_paths": "propertyPaths", "property_value": "propertyValue"}
FQL = {"fql": "fql", "property_name": "propertyName"}
ACTIONS = {"type": "type", "percent": "percent", "path": "path", "fields": "fields"}

# type -> (history table, the API object from a row, the same object from a block's resolved attributes)
TYPES: List[Tuple[str, str, Callable, Callable]] = [
    ("segment_label", "labels",
     lambda r, rows: {"key": r["key"], "value": r["value"], "description": r["description"] or None},
     lambda b: {"key": b["key"], "value": b["value"], "description": b.get("description")}),
    ("segment_source", "sources",
     lambda r, rows: {"slug": r["slug"], "name": r["name"], "enabled": r["enabled"], "metadata": r["metadata_id"],
                      "settings": masked(js(r["settings"])),
                      "labels": sorted((l["key"], l["value"]) for l in js(r["labels"]) or [])},
     lambda b: {"slug": b["slug"], "name": b.get("name"), "enabled": b["enabled"], "metadata": b["metadata"]["id"],
                "settings": b["settings"], "labels": sorted((l["key"], l["value"]) for l in b.get("labels", []))}),
    ("segment_warehouse", "warehouses",
     # the API never returns a warehouse's password: the export asks for it
     lambda r, rows: {"enabled": r["enabled"], "metadata": r["metadata_id"],
                      "settings": {**masked(js(r["settings"])), "password": SECRET}},
     lambda b: {"enabled": b["enabled"], "metadata": b["metadata"]["id"], "settings": {**b["settings"],
                                                                                      "name": b["name"]}}),
    ("segment_source_warehouse_connection", "source_warehouses",
     lambda r, rows: {"source": r["source_id"], "warehouse": r["warehouse_id"]},
     lambda b: {"source": b["source_id"], "warehouse": b["warehouse_id"]}),
    ("segment_reverse_etl_model", "reverse_etl_models",
     lambda r, rows: {k: r[k] for k in ("source_id", "name", "description", "enabled", "query",
                                        "query_identifier_column")},
     lambda b: {k: b[k] for k in ("source_id", "name", "description", "enabled", "query", "query_identifier_column")}),
    ("segment_destination", "destinations",
     lambda r, rows: {"name": r["name"], "enabled": r["enabled"], "source": r["source_id"],
                      "metadata": r["metadata_id"], "settings": masked(js(r["settings"]))},
     lambda b: {"name": b.get("name"), "enabled": b["enabled"], "source": b["source_id"],
                "metadata": b["metadata"]["id"], "settings": b["settings"]}),
    ("segment_destination_filter", "destination_filters",
     lambda r, rows: {k: r[k] for k in ("destination_id", "source_id", "title", "description", "enabled", "if")}
     | {"actions": items(r["actions"], ACTIONS)},
     lambda b: {k: b.get(k) for k in ("destination_id", "source_id", "title", "description", "enabled", "if")}
     | {"actions": hcl_items(b["actions"], ACTIONS)}),
    ("segment_destination_subscription", "destination_subscriptions",
     lambda r, rows: {k: r[k] for k in ("destination_id", "action_id", "name", "enabled", "trigger", "model_id")}
     | {"settings": masked(js(r["settings"])),
        "schedule": js(r["reverse_etl_schedule"]) and {"strategy": js(r["reverse_etl_schedule"])["strategy"],
                                                       "config": js(r["reverse_etl_schedule"]).get("config")}},
     lambda b: {k: b.get(k) for k in ("destination_id", "action_id", "name", "enabled", "trigger", "model_id")}
     | {"settings": b["settings"],
        "schedule": b.get("reverse_etl_schedule") and {"strategy": b["reverse_etl_schedule"]["strategy"],
                                                       "config": b["reverse_etl_schedule"].get("config")}}),
    ("segment_tracking_plan", "tracking_plans",
     lambda r, rows: {"name": r["name"], "description": r["description"], "type": r["type"],
                      "rules": plan_rules(r, rows)},
     lambda b: {"name": b["name"], "description": b.get("description"), "type": b["type"],
                "rules": sorted((x["type"], x.get("key"), x["version"], json.dumps(x["json_schema"], sort_keys=True))
                                for x in b["rules"])}),
    ("segment_source_tracking_plan_connection", "tracking_plan_sources",
     lambda r, rows: {"source": r["source_id"], "plan": r["tracking_plan_id"], "schema": schema_settings(r, rows)},
     lambda b: {"source": b["source_id"], "plan": b["tracking_plan_id"], "schema": b.get("schema_settings")}),
    ("segment_function", "functions",
     lambda r, rows: {"display_name": display_name(r, rows), "description": r["description"],
                      "logo_url": r["logo_url"], "resource_type": r["resource_type"], "code": deployed_code(r, rows)},
     lambda b: {k: b.get(k) for k in ("display_name", "description", "logo_url", "resource_type", "code")}),
    ("segment_insert_function_instance", "insert_function_instances",
     # the provider strips "ifnd_" from the function id; the API's secret settings come apart, masked
     lambda r, rows: {"function": r["function_id"].removeprefix("ifnd_"), "integration": r["integration_id"],
                      "name": r["name"], "enabled": r["enabled"],
                      "settings": {**masked(js(r["settings"])), **{k: SECRET for k in js(r["encrypted_settings"])}}},
     lambda b: {"function": b["function_id"], "integration": b["integration_id"], "name": b["name"],
                "enabled": b["enabled"], "settings": b["settings"]}),
    ("segment_transformation", "transformations",
     lambda r, rows: {k: r[k] for k in ("source_id", "name", "enabled", "if", "destination_metadata_id",
                                        "new_event_name")}
     | {"renames": items(r["property_renames"], RENAMES), "values": items(r["property_value_transformations"], VALUES),
        "fql": items(r["fql_defined_properties"], FQL)},
     lambda b: {k: b.get(k) for k in ("source_id", "name", "enabled", "if", "destination_metadata_id",
                                      "new_event_name")}
     | {"renames": hcl_items(b["property_renames"], RENAMES),
        "values": hcl_items(b["property_value_transformations"], VALUES),
        "fql": hcl_items(b["fql_defined_properties"], FQL)}),
    ("segment_user", "users",
     lambda r, rows: {"email": r["email"], "permissions": permissions_of(r["permissions"])},
     lambda b: {"email": b["email"], "permissions": hcl_permissions(b["permissions"])}),
    ("segment_user_group", "user_groups",
     lambda r, rows: {"name": r["name"], "permissions": permissions_of(r["permissions"]),
                      "members": sorted({m["email"] for t in ("user_group_members", "user_group_invites")
                                         for m in rows(t) if m["user_group_id"] == r["id"]})},
     lambda b: {"name": b["name"], "permissions": hcl_permissions(b["permissions"]), "members": sorted(b["members"])}),
    ("segment_profiles_warehouse", "profiles_warehouses",
     lambda r, rows: {"space": r["space_id"], "metadata": r["metadata_id"], "name": js(r["settings"]).get("name"),
                      "enabled": r["enabled"], "schema_name": r["schema_name"], "settings": masked(js(r["settings"]))},
     lambda b: {"space": b["space_id"], "metadata": b["metadata_id"], "name": b.get("name"),
                "enabled": b.get("enabled"), "schema_name": b.get("schema_name"), "settings": b["settings"]}),
]


class Resolver:
    """Evaluates what is left symbolic in a block: references, variables, `jsonencode`, `trimprefix`."""

    def __init__(self) -> None:
        self.ids: Dict[str, str] = {}  # address -> id of the row its block was matched with
        self.bodies: Dict[str, Dict[str, Any]] = {}

    def value(self, value: Any) -> Any:
        if isinstance(value, Reference):
            if value.attribute == "id":
                return self.ids[value.address]
            return self.value(self.bodies[value.address][value.attribute])
        if isinstance(value, Variable):
            return SECRET
        if isinstance(value, JsonEncoded):
            return self.value(value.value)
        if isinstance(value, tuple) and value and value[0] == "trimprefix":
            return self.value(value[1]).removeprefix(value[2])
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def rebuild_and_compare(exported: List[Block], rows: Rows) -> Tuple[List[str], Dict[str, int]]:
    """Mismatches (one line each) between the objects the blocks rebuild and the rows, and blocks per type."""
    cache: Dict[str, List[Dict[str, Any]]] = {}

    def rows_of(table: str) -> List[Dict[str, Any]]:
        if table not in cache:
            cache[table] = rows(table)
        return cache[table]

    resolver, mismatches, counts = Resolver(), [], {}
    by_type: Dict[str, List[Block]] = defaultdict(list)
    for block in exported:
        by_type[block.labels[0]].append(block)
        resolver.bodies[block.address] = block.body
    for resource_type, table, from_row, from_block in TYPES:
        expected: Dict[str, List[Dict[str, Any]]] = defaultdict(list)
        for row in rows_of(table):
            expected[canonical(from_row(row, rows_of))].append(row)
        counts[resource_type] = len(by_type[resource_type])
        for block in by_type[resource_type]:
            rebuilt = from_block(resolver.value(block.body))
            matches = expected.get(canonical(rebuilt))
            if not matches:
                mismatches.append(f"{block.address} rebuilds {closest(rebuilt, rows_of(table), from_row, rows_of)}")
                continue
            row = matches.pop()
            resolver.ids[block.address] = str(row.get("id") or row["record_key"])
        left = Counter({k: len(v) for k, v in expected.items() if v})
        if left:
            mismatches.append(f"{sum(left.values())} {table} rows have no {resource_type} block")
    return mismatches, counts


def closest(rebuilt: Dict[str, Any], rows: List[Dict[str, Any]], from_row: Callable, rows_of: Rows) -> str:
    """The fields that differ from the most similar row: what a failing round trip shows."""
    best = min((from_row(r, rows_of) for r in rows), default={},
               key=lambda o: sum(canonical(o.get(k)) != canonical(v) for k, v in rebuilt.items()))
    return "; ".join(f"{k}: hcl {canonical(v)[:120]} != row {canonical(best.get(k))[:120]}"
                     for k, v in rebuilt.items() if canonical(best.get(k)) != canonical(v)) or "no row"
