"""Turns API items into table rows: stable keys, slim catalog references, no credentials in clear.

A row's content decides its SCD2 version hash, so everything here must be deterministic: nested
objects are key-sorted, and nothing run-dependent (timestamps of the run, counters) is added.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any, Callable, Dict, Iterator, Optional

from dlt.common.normalizers.naming.snake_case import NamingConvention

from . import redaction, settings
from .endpoints import Endpoint
from .report import ExtractionReport

# The embedded catalog entry (options, actions, presets...) is the same for every instance of a type
# and makes up most of each item; an instance row keeps only which catalog entry it is.
CATALOG_REFERENCE_FIELDS = ("id", "slug", "name")


def canonical(value: Any) -> Any:
    """Same content, same representation: dict keys sorted at every depth."""
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def key_part(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict) and "id" in value:
        return str(value["id"])  # an embedded reference, e.g. the `source` of an events-volume series
    if isinstance(value, list):
        return ",".join(key_part(item) for item in value)  # e.g. the subject ids of a suppression
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def record_key(row: Dict[str, Any], key_fields: tuple) -> str:
    return ":".join(key_part(row.get(name)) for name in key_fields)


def fingerprint(secret: str) -> str:
    digest = hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]
    return f"{settings.WRITE_KEY_FINGERPRINT_PREFIX}{digest}"


def slim_catalog_reference(row: Dict[str, Any]) -> None:
    metadata = row.pop("metadata", None)
    if isinstance(metadata, dict):
        for name in CATALOG_REFERENCE_FIELDS:
            row[f"metadata_{name}"] = metadata.get(name)


# Columns this package writes itself; an API field that lands on the same name is kept under another.
OWN_COLUMNS = ("workspace_id", "record_key")
_SNAKE = NamingConvention()


@lru_cache(maxsize=4096)
def column_name(key: str) -> str:
    """The column dlt will make of a top-level key (`workspaceId` -> `workspace_id`)."""
    return _SNAKE.normalize_identifier(key)


def without_collisions(row: Dict[str, Any]) -> Dict[str, Any]:
    """Keys that dlt would fold into one column (`apiKey`, `api_key`) keep their values under distinct
    names (`api_key_2`), so nothing is silently overwritten; ours (`workspace_id`) always win."""
    taken = set(OWN_COLUMNS)
    result = {}
    for key, value in row.items():
        name, suffix = key, 1
        while column_name(name) in taken:
            suffix += 1
            name = f"{key}_{suffix}"
        taken.add(column_name(name))
        result[name] = value
    return result


def camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(word.title() for word in rest)


def shape_row_function(
    endpoint: Endpoint, workspace_id: str, report: ExtractionReport, keep_write_keys: bool,
    extra: Optional[Dict[str, Any]] = None,
) -> Callable[[Dict[str, Any]], Dict[str, Any]]:
    """The map step dlt applies to every item of `endpoint`."""
    parent_columns = {f"_{endpoint.parent}_{field}": column for field, column in endpoint.parent_fields.items()}
    table = endpoint.table_name

    def shape(item: Dict[str, Any]) -> Dict[str, Any]:
        parents = {column: item.pop(name) for name, column in parent_columns.items() if name in item}
        for column in parents:
            # the item often names its parent too (`sourceId`): one column, spelled as dlt would
            item.pop(camel(column), None)
        if endpoint.keep:
            row = {column: item.get(name) for name, column in endpoint.keep.items()}
        else:
            row = {name: value for name, value in item.items() if name not in endpoint.volatile}
            slim_catalog_reference(row)
            redaction.register(*row.get("writeKeys") or [])
            if "writeKeys" in row and not keep_write_keys:
                row["writeKeys"] = [fingerprint(key) for key in row["writeKeys"] or []]
        row.update(parents)
        row.update(extra or {})
        row.pop("workspaceId", None)  # the API's copy of the id we write ourselves
        row = without_collisions(canonical(row))
        row["workspaceId"] = workspace_id
        row["recordKey"] = record_key(row, endpoint.key)
        report.count_row(table)
        return row

    return shape


def explode_function(field_name: str) -> Callable[[Dict[str, Any]], Iterator[Dict[str, Any]]]:
    """One row per element of `item[field_name]`, carrying the item's other fields (a series per day)."""

    def explode(item: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
        rest = {key: value for key, value in item.items() if key != field_name}
        for element in item.get(field_name) or []:
            yield {**rest, **element} if isinstance(element, dict) else {**rest, field_name: element}

    return explode


def first_sighting_filter(endpoint: Endpoint, report: ExtractionReport) -> Callable[[Dict[str, Any]], bool]:
    """Drops a row whose record key this run already loaded: SCD2 would store the repeat twice."""
    table = endpoint.table_name
    return lambda row: report.first_sighting(table, row["recordKey"])
