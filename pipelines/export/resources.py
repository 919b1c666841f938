"""Every resource of the Segment Terraform provider (v1.6.0) the history can restore, declared as data.

One `TerraformResource` per provider resource type says which history table feeds it, how each provider
attribute is made from a row (`makers.py`), which columns name the resources it hangs off, the provider's
import id, its validators, and the Public API request `--format json` writes. The writers (`terraform.py`,
`api_json.py`) know nothing about any type. Entries are in dependency order: a resource is declared after the
ones it refers to (Terraform names of references exist when a resource is built).

Not covered, because the provider has no resource for them: audiences, computed traits, spaces and their
filters, credentials, warehouse selective syncs and sync schedules, pending workspace invites, roles,
regulations, suppressions, live plugins; source schema settings only through a tracking plan connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import makers as m
from .hcl import Call
from .makers import ABSENT, Row, column, decoded, objects, ref, settings

PROVIDER_SOURCE = "segmentio/segment"
PROVIDER_VERSION = "1.6.0"
# import blocks need Terraform 1.5
TERRAFORM_VERSION = ">= 1.5"
UPPERCASE = "^[A-Z_]+$"
# The provider strips this prefix from an insert function's id; after an import the state holds the id without it.
INSERT_FUNCTION_PREFIX = "ifnd_"


@dataclass(frozen=True)
class Check:
    """A provider validator on an attribute: `path` walks nested sets (`*` = each element)."""

    path: Tuple[str, ...]
    max_items: Optional[int] = None
    min_items: Optional[int] = None
    pattern: Optional[str] = None


@dataclass(frozen=True)
class TerraformResource:
    type: str
    # DIR/<file>.tf (and <file>.json with --format json)
    file: str
    table: str
    # what a person calls the resource; its slug is the Terraform name
    label: Callable[[Row, Any], Optional[str]]
    # provider attribute -> maker, or a dict of them for a nested object
    attributes: Dict[str, Any]
    # the import id's parts (row columns) joined with ":"; empty: the provider cannot import this type
    import_parts: Tuple[str, ...] = ("id",)
    # columns naming the resources this one hangs off: `--ids` of those takes it along
    belongs_to: Tuple[str, ...] = ()
    # other history tables the makers read (children, catalog)
    reads: Tuple[str, ...] = ()
    checks: Tuple[Check, ...] = ()
    # columns the provider has no attribute for: a value there is reported as not restored
    not_restored: Tuple[str, ...] = ()
    # the Public API request that creates it (`--format json`); `{column}` placeholders take the row's values
    api: Tuple[str, str] = ("POST", "")
    # what the Terraform file says about the type; `api_notes` what the JSON file says
    notes: Tuple[str, ...] = ()
    api_notes: Tuple[str, ...] = ()

    @property
    def stem(self) -> str:
        return self.type.removeprefix("segment_")


def record_id(spec: TerraformResource, row: Row) -> str:
    """How `--ids` names a resource: its id, or for rows without one their record key (`key:value`)."""
    return str(row.get("id") or row["record_key"])


# --- makers only one resource type needs ---------------------------------------------------------------------


def source_labels(row: Row, scope: Any) -> Any:
    labels = decoded(row.get("labels")) or []
    if not labels:
        return ABSENT
    result = []
    for label in labels:
        target = scope.ref(("segment_label",), f"{label['key']}:{label['value']}")
        exported = not isinstance(target, str)
        result.append({"key": scope.ref_attribute(target, "key") if exported else label["key"],
                       "value": scope.ref_attribute(target, "value") if exported else label["value"]})
    return result


def filter_actions(row: Row, scope: Any) -> Any:
    fields = {"type": "type", "percent": "percent", "path": "path", "fields": m.encoded("fields")}
    return [m.object_of(action, fields, scope) for action in decoded(row.get("actions")) or []]


def reverse_etl_schedule(row: Row, scope: Any) -> Any:
    schedule = decoded(row.get("reverse_etl_schedule"))
    if not schedule:
        if row.get("model_id"):
            scope.warn("has a Reverse ETL model but no schedule; the provider requires reverse_etl_schedule")
        return ABSENT
    result: Dict[str, Any] = {"strategy": schedule["strategy"]}
    if schedule.get("config") is not None and schedule["strategy"] != "MANUAL":
        result["config"] = m.jsonencode(schedule["config"])
    return result


def warehouse_secret_keys(row: Row, scope: Any) -> Tuple[str, ...]:
    """Settings the API never returns for this warehouse type: its catalog options of type `password` when the
    history holds the catalog, else `password` (the one the provider itself knows about)."""
    catalog = scope.row_of("catalog_warehouses", row.get("metadata_id"))
    if catalog is None:
        scope.warn_once("the history has no catalog_warehouses (--groups catalog): each warehouse gets a `password`"
                        " variable, whatever secret its type really takes")
        return ("password",)
    return tuple(o["name"] for o in decoded(catalog.get("options")) or [] if o.get("type") == "password")


def plan_rules(row: Row, scope: Any) -> Any:
    rules = scope.children("tracking_plan_rules", "tracking_plan_id", row["id"])
    rules = sorted(rules, key=lambda r: (r["type"], r.get("key") or "", r["version"]))
    return [m.present([("type", r["type"]), ("key", r.get("key") if r.get("key") is not None else ABSENT),
                       ("version", r["version"]), ("json_schema", m.jsonencode(decoded(r["json_schema"])))])
            for r in rules]


def schema_settings(row: Row, scope: Any) -> Any:
    source_settings = scope.row_of("source_settings", row["source_id"], column="source_id")
    if source_settings is None:
        return ABSENT
    return m.snake_object(decoded(source_settings.get("settings"))) or ABSENT


def deployed_code(row: Row, scope: Any) -> Any:
    """The code of the version deployed at that moment (else the latest saved one, reported)."""
    versions = scope.children("function_versions", "function_id", row["id"])
    deployed = [v for v in versions if v.get("is_deployed")]
    if not deployed:
        scope.warn("had no deployed version at that moment: the latest saved version's code is exported")
    candidates = deployed or versions
    if not candidates:
        scope.warn("has no version in the history: its code cannot be exported (code is required)")
        return ABSENT
    return max(candidates, key=lambda v: (v.get("deployed_at") or "", v.get("created_at") or ""))["code"]


def function_display_name(row: Row, scope: Any) -> Any:
    """The API appends " (<workspace name>)" to the display name of destination and insert functions when it
    saves one: the configuration holds the name without it."""
    name = row.get("display_name")
    suffix = f" ({scope.workspace.get('name')})"
    if name and row.get("resource_type") != "SOURCE" and name.endswith(suffix):
        return name[: -len(suffix)]
    return ABSENT if name is None else name


def insert_function_id(row: Row, scope: Any) -> Any:
    function = scope.ref(("segment_function",), row["function_id"])
    if isinstance(function, str):
        return function.removeprefix(INSERT_FUNCTION_PREFIX)
    return Call("trimprefix", (function, INSERT_FUNCTION_PREFIX))


def group_members(row: Row, scope: Any) -> Any:
    members = scope.children("user_group_members", "user_group_id", row["id"])
    invites = scope.children("user_group_invites", "user_group_id", row["id"])
    return sorted({r["email"] for r in members + invites if r.get("email")})


PERMISSION_TARGETS = {"SOURCE": ("segment_source",), "WAREHOUSE": ("segment_warehouse",),
                      "FUNCTION": ("segment_function",)}


def permissions(row: Row, scope: Any) -> Any:
    def resource(item: Dict[str, Any]) -> Dict[str, Any]:
        targets = PERMISSION_TARGETS.get(item.get("type"), ())
        return {"id": scope.ref(targets, item["id"]) if targets else item["id"], "type": item["type"],
                "labels": [{"key": label["key"], "value": label["value"]} for label in item.get("labels") or []]}

    return [m.present([("role_id", p["roleId"]),
                       ("resources", [resource(r) for r in p["resources"]] if p.get("resources") is not None
                        else ABSENT)])
            for p in decoded(row.get("permissions")) or []]


PERMISSION_CHECKS = (Check(("permissions",), max_items=200), Check(("permissions", "*", "resources"), max_items=200),
                     Check(("permissions", "*", "resources", "*", "labels"), max_items=200),
                     Check(("permissions", "*", "resources", "*", "type"), pattern=UPPERCASE))


def named(*columns: str) -> Callable[[Row, Any], Optional[str]]:
    return lambda row, scope: next((str(row[c]) for c in columns if row.get(c)), None)


def linked(first_column: str, first_type: str, second_column: str, second_type: str) -> Callable[[Row, Any], str]:
    """A link's label: the Terraform names of its two ends."""
    return lambda row, scope: (f"{scope.name_of(first_type, row[first_column])}"
                               f"_{scope.name_of(second_type, row[second_column])}")


def warehouse_label(row: Row, scope: Any) -> Optional[str]:
    return (decoded(row.get("settings")) or {}).get("name") or row.get("metadata_name")


# --- the table ---------------------------------------------------------------------------------------------------

RESOURCES: List[TerraformResource] = [
    TerraformResource(
        "segment_label", "labels", "labels", lambda row, scope: f"{row['key']} {row['value']}",
        {"key": column("key"), "value": column("value"), "description": column("description", when_empty=ABSENT)},
        import_parts=("key", "value"), api=("POST", "/labels"),
        notes=("an empty description reads back as null",)),
    TerraformResource(
        "segment_source", "sources", "sources", named("name", "slug"),
        {"slug": column("slug"), "name": column("name"), "enabled": column("enabled"),
         "metadata": {"id": column("metadata_id")}, "settings": settings(), "labels": source_labels},
        checks=(Check(("labels",), max_items=200),), api=("POST", "/sources")),
    TerraformResource(
        "segment_warehouse", "warehouses", "warehouses", warehouse_label,
        {"name": m.setting("name"), "enabled": column("enabled"), "metadata": {"id": column("metadata_id")},
         "settings": settings(leave_out=("name",), secret_keys=warehouse_secret_keys)},
        reads=("catalog_warehouses",), api=("POST", "/warehouses")),
    TerraformResource(
        "segment_source_warehouse_connection", "source_warehouse_connections", "source_warehouses",
        linked("source_id", "segment_source", "warehouse_id", "segment_warehouse"),
        {"source_id": ref("source_id", "segment_source"), "warehouse_id": ref("warehouse_id", "segment_warehouse")},
        import_parts=(), belongs_to=("source_id", "warehouse_id"),
        api=("POST", "/warehouses/{warehouse_id}/connected-sources/{source_id}")),
    TerraformResource(
        "segment_reverse_etl_model", "reverse_etl_models", "reverse_etl_models", named("name"),
        {"source_id": ref("source_id", "segment_source"), "name": column("name"),
         "description": column("description"), "enabled": column("enabled"), "query": column("query"),
         "query_identifier_column": column("query_identifier_column")},
        belongs_to=("source_id",), api=("POST", "/reverse-etl-models")),
    TerraformResource(
        "segment_destination", "destinations", "destinations", named("name", "metadata_name"),
        {"name": column("name"), "enabled": column("enabled"), "source_id": ref("source_id", "segment_source"),
         "metadata": {"id": column("metadata_id")}, "settings": settings()},
        belongs_to=("source_id",), api=("POST", "/destinations")),
    TerraformResource(
        "segment_destination_filter", "destination_filters", "destination_filters", named("title"),
        {"destination_id": ref("destination_id", "segment_destination"),
         "source_id": ref("source_id", "segment_source"), "title": column("title"),
         "description": column("description"), "enabled": column("enabled"), "if": column("if"),
         "actions": filter_actions},
        import_parts=("destination_id", "id"), belongs_to=("destination_id",),
        checks=(Check(("actions", "*", "type"), pattern=UPPERCASE),),
        api=("POST", "/destination/{destination_id}/filters")),
    TerraformResource(
        "segment_destination_subscription", "destination_subscriptions", "destination_subscriptions",
        named("name", "action_slug"),
        {"destination_id": ref("destination_id", "segment_destination"), "action_id": column("action_id"),
         "name": column("name"), "enabled": column("enabled"), "trigger": column("trigger"),
         "settings": settings(), "model_id": ref("model_id", "segment_reverse_etl_model"),
         "reverse_etl_schedule": reverse_etl_schedule},
        import_parts=("destination_id", "id"), belongs_to=("destination_id", "model_id"),
        api=("POST", "/destinations/{destination_id}/subscriptions")),
    TerraformResource(
        "segment_tracking_plan", "tracking_plans", "tracking_plans", named("name", "slug"),
        {"name": column("name"), "description": column("description"), "type": column("type"),
         "rules": plan_rules},
        reads=("tracking_plan_rules",), checks=(Check(("rules",), max_items=2000),),
        api=("POST", "/tracking-plans"), api_notes=("rules are sent with PUT /tracking-plans/{id}/rules",)),
    TerraformResource(
        "segment_source_tracking_plan_connection", "source_tracking_plan_connections", "tracking_plan_sources",
        linked("source_id", "segment_source", "tracking_plan_id", "segment_tracking_plan"),
        {"source_id": ref("source_id", "segment_source"),
         "tracking_plan_id": ref("tracking_plan_id", "segment_tracking_plan"), "schema_settings": schema_settings},
        import_parts=("source_id", "tracking_plan_id"), belongs_to=("source_id", "tracking_plan_id"),
        reads=("source_settings",), api=("POST", "/tracking-plans/{tracking_plan_id}/sources"),
        api_notes=("schemaSettings are sent with PATCH /sources/{source_id}/settings",)),
    TerraformResource(
        "segment_function", "functions", "functions", function_display_name,
        {"display_name": function_display_name, "description": column("description"),
         "logo_url": column("logo_url"), "resource_type": column("resource_type"), "code": deployed_code},
        reads=("function_versions",), api=("POST", "/functions"),
        notes=("setting definitions are not in the history (the list of functions does not return them)",)),
    TerraformResource(
        "segment_insert_function_instance", "insert_function_instances", "insert_function_instances",
        named("name"),
        {"function_id": insert_function_id,
         "integration_id": ref("integration_id", "segment_destination", "segment_source"),
         "name": column("name"), "enabled": column("enabled"),
         "settings": settings(encrypted="encrypted_settings")},
        belongs_to=("integration_id", "function_id"), api=("POST", "/insert-function-instances")),
    TerraformResource(
        "segment_transformation", "transformations", "transformations", named("name"),
        {"source_id": ref("source_id", "segment_source"), "name": column("name"), "enabled": column("enabled"),
         "if": column("if"), "destination_metadata_id": column("destination_metadata_id"),
         "new_event_name": column("new_event_name"),
         "property_renames": objects("property_renames", {"old_name": "oldName", "new_name": "newName"}, []),
         "property_value_transformations": objects(
             "property_value_transformations",
             {"property_paths": "propertyPaths", "property_value": "propertyValue"}, []),
         "fql_defined_properties": objects("fql_defined_properties",
                                           {"fql": "fql", "property_name": "propertyName"}, [])},
        belongs_to=("source_id",), not_restored=("drop", "allow_properties", "hash_properties_configuration"),
        api=("POST", "/transformations")),
    TerraformResource(
        "segment_user", "users", "users", named("name", "email"),
        {"email": column("email"), "permissions": permissions},
        checks=PERMISSION_CHECKS, api=("POST", "/invites"),
        notes=("the provider restores a deleted user as an invitation",)),
    TerraformResource(
        "segment_user_group", "user_groups", "user_groups", named("name"),
        {"name": column("name"), "members": group_members, "permissions": permissions},
        reads=("user_group_members", "user_group_invites"),
        checks=(Check(("members",), max_items=200), Check(("permissions",), min_items=1), *PERMISSION_CHECKS),
        api=("POST", "/groups")),
    TerraformResource(
        "segment_profiles_warehouse", "profiles_warehouses", "profiles_warehouses", warehouse_label,
        {"space_id": column("space_id"), "metadata_id": column("metadata_id"), "name": m.setting("name"),
         "enabled": column("enabled"), "schema_name": column("schema_name"), "settings": settings()},
        import_parts=("space_id", "id"), api=("POST", "/spaces/{space_id}/profiles-warehouses")),
]

def select(names: Optional[List[str]]) -> List[TerraformResource]:
    """The resource types named (`segment_destination` or its file name `destinations`), all without names."""
    if not names:
        return list(RESOURCES)
    known = {spec.type: spec for spec in RESOURCES} | {spec.file: spec for spec in RESOURCES}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"Unknown resource type(s) {', '.join(unknown)}: choose from"
                         f" {', '.join(spec.file for spec in RESOURCES)}.")
    wanted = {known[name].type for name in names}
    return [spec for spec in RESOURCES if spec.type in wanted]
