"""How provider attributes are made from history rows: the small vocabulary `resources.py` is written in.

A maker is `maker(row, scope) -> value` (or `ABSENT`: the attribute is left out). `row` is the history row of
the resource at the chosen moment (JSON columns may still be text, `decoded` reads them); `scope` is what the
export knows beyond the row (`build.Scope`): the other resources' Terraform names, child rows, variables.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Dict, Iterable, Optional, Sequence, Tuple

from .hcl import jsonencode

ABSENT = object()
Row = Dict[str, Any]
Maker = Callable[[Row, Any], Any]

# What the Public API shows instead of a secret: bullets and the last four characters (destinations, source
# and insert function settings), or "<redacted>" (Profiles Sync warehouses).
MASK_CHARACTER = "\u2022"
REDACTED = "<redacted>"


def is_masked(value: Any) -> bool:
    return isinstance(value, str) and (MASK_CHARACTER in value or value == REDACTED)


def decoded(value: Any) -> Any:
    """A JSON column's value: DuckDB returns JSON columns as text, PostgreSQL as parsed values."""
    return json.loads(value) if isinstance(value, str) else value


def snake(name: str) -> str:
    """`allowUnplannedEvents` -> `allow_unplanned_events`: Public API field names as provider attribute names."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def column(name: str, when_empty: Any = ABSENT) -> Maker:
    """The column's value; None (and, with `when_empty`, "") leaves the attribute out or uses `when_empty`."""

    def make(row: Row, scope: Any) -> Any:
        value = row.get(name)
        if value is None or (value == "" and when_empty is not ABSENT):
            return when_empty if value == "" else ABSENT
        return value

    return make


def setting(path: str) -> Maker:
    """A value inside the `settings` JSON column (`name` of a warehouse)."""

    def make(row: Row, scope: Any) -> Any:
        value = (decoded(row.get("settings")) or {}).get(path)
        return ABSENT if value is None else value

    return make


def ref(name: str, *types: str) -> Maker:
    """The column holds the id of another resource: a Terraform reference when that one is exported too."""

    def make(row: Row, scope: Any) -> Any:
        value = row.get(name)
        return ABSENT if value in (None, "") else scope.ref(types, value)

    return make


def with_secrets(value: Any, scope: Any, path: str) -> Any:
    """`value` with every masked string replaced by a sensitive variable (named after its path)."""
    if isinstance(value, dict):
        return {key: with_secrets(item, scope, f"{path}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [with_secrets(item, scope, f"{path}.{index}") for index, item in enumerate(value)]
    return scope.secret(path) if is_masked(value) else value


def settings(name: str = "settings", leave_out: Sequence[str] = (), secret_keys: Optional[Maker] = None,
             encrypted: Optional[str] = None) -> Maker:
    """`jsonencode(...)` of a JSON column, masked values as variables.

    leave_out: keys the provider keeps elsewhere (a warehouse's `name`); secret_keys: keys the API never returns
    (warehouse passwords), each a variable; encrypted: a column holding secret settings apart (insert functions'
    `encryptedSettings`), each a variable too."""

    def make(row: Row, scope: Any) -> Any:
        value = {k: v for k, v in (decoded(row.get(name)) or {}).items() if k not in leave_out}
        value = with_secrets(value, scope, "settings")
        for key in (encrypted and decoded(row.get(encrypted)) or {}):
            value[key] = scope.secret(f"settings.{key}")
        for key in (secret_keys(row, scope) if secret_keys else ()):
            value.setdefault(key, scope.secret(f"settings.{key}"))
        return jsonencode(value)

    return make


def objects(name: str, fields: Dict[str, Any], when_none: Any = ABSENT) -> Maker:
    """A set of objects from a JSON list column: provider attribute -> the item's field (a name, or a function
    of the item and the scope). Fields the item lacks are left out."""

    def make(row: Row, scope: Any) -> Any:
        items = decoded(row.get(name))
        if items is None:
            return when_none
        return [object_of(item, fields, scope) for item in items]

    return make


def object_of(item: Dict[str, Any], fields: Dict[str, Any], scope: Any) -> Dict[str, Any]:
    result = {}
    for attribute, source in fields.items():
        value = source(item, scope) if callable(source) else item.get(source)
        if value is not None and value is not ABSENT:
            result[attribute] = value
    return result


def encoded(field: str) -> Callable[[Dict[str, Any], Any], Any]:
    """An item's field as `jsonencode(...)` (a filter action's `fields`)."""
    return lambda item, scope: None if item.get(field) is None else jsonencode(item[field])


def snake_object(value: Any) -> Any:
    """A Public API object with its field names as the provider spells its nested attributes."""
    if isinstance(value, dict):
        return {snake(key): snake_object(item) for key, item in value.items() if item is not None}
    return value


def present(values: Iterable[Tuple[str, Any]]) -> Dict[str, Any]:
    return {name: value for name, value in values if value is not ABSENT}
