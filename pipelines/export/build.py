"""The workspace as of a moment, as provider resources: rows read from the history, named, their attributes
made by the makers of `resources.py`, references resolved, secrets turned into variables, validators checked.

Everything the writers need is in the returned `Export`; nothing is written here.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from pipelines import queries
from pipelines.history import plain_value, table_exists

from .hcl import Ref, Var
from .makers import ABSENT, Row, snake
from .resources import Check, TerraformResource, record_id, select


class ExportError(ValueError):
    """Bad input to an export (moment, workspace, types, ids): one line saying what to do."""


@dataclass
class Exported:
    spec: TerraformResource
    row: Row
    id: str
    name: str
    attributes: Dict[str, Any] = field(default_factory=dict)
    exists_now: bool = False
    # why the provider cannot import it (then there is no import block); None: it can
    not_importable: Optional[str] = None

    @property
    def address(self) -> str:
        return f"{self.spec.type}.{self.name}"

    @property
    def import_id(self) -> str:
        return ":".join(str(self.row.get(part)) for part in self.spec.import_parts)


@dataclass
class Variable:
    name: str
    description: str


@dataclass
class Export:
    workspace: Row
    moment: datetime
    resources: List[Exported]
    variables: List[Variable]
    warnings: List[str]


# --- reading the history -------------------------------------------------------------------------------------


class Rows:
    """The rows of each history table valid at a moment, for one workspace, read once through `queries.as_of`."""

    def __init__(self, sql: Any, moment: datetime, workspace_id: Optional[str], mode: str) -> None:
        self.sql, self.moment, self.workspace_id, self.mode = sql, moment, workspace_id, mode
        self._tables: Dict[str, List[Row]] = {}
        self._indexes: Dict[Tuple[str, str], Dict[Any, List[Row]]] = {}

    def of(self, table: str) -> List[Row]:
        if table not in self._tables:
            columns, rows = queries.as_of(self.sql, self.moment, table, self.workspace_id, self.mode)
            self._tables[table] = [{c: plain_value(v) for c, v in zip(columns, row)} for row in rows]
        return self._tables[table]

    def by(self, table: str, column: str) -> Dict[Any, List[Row]]:
        if (table, column) not in self._indexes:
            index: Dict[Any, List[Row]] = defaultdict(list)
            for row in self.of(table):
                index[row.get(column)].append(row)
            self._indexes[(table, column)] = index
        return self._indexes[(table, column)]


def workspace_at(sql: Any, moment: datetime, workspace: Optional[str], mode: str) -> Row:
    if not table_exists(sql, "workspace"):
        raise ExportError("No segment-history dataset here: check --duckdb-path / --destination and --dataset-name"
                          " (run `segment-history run` first).")
    found = Rows(sql, moment, workspace, mode).of("workspace")
    if not found:
        which = f"workspace {workspace}" if workspace else "any workspace"
        raise ExportError(f"No snapshot of {which} at or before {moment.isoformat()}: choose a later moment"
                          " (`segment-history as-of` lists what a moment holds).")
    if len(found) > 1:
        ids = ", ".join(f"{w['id']} ({w.get('name')})" for w in found)
        raise ExportError(f"The history holds several workspaces: pass --workspace with one of {ids}.")
    return found[0]


# --- names ---------------------------------------------------------------------------------------------------


def slug(text: str) -> str:
    """`Amplitude (prod)` -> `amplitude_prod`; `Ünïcode` -> `unicode`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")


def terraform_names(spec: TerraformResource, labelled: Sequence[Tuple[str, Optional[str]]]) -> Dict[str, str]:
    """id -> Terraform name: the slug of the label; resources whose slugs collide all get a short id suffix,
    so a name never depends on which of them was read first."""
    wanted = {}
    for resource_id, label in labelled:
        base = slug(label or "") or spec.stem
        wanted[resource_id] = base if base[0].isalpha() else f"{spec.stem}_{base}"
    counts = defaultdict(int)
    for base in wanted.values():
        counts[base] += 1
    names: Dict[str, str] = {}
    taken: Set[str] = {base for base in wanted.values() if counts[base] == 1}
    for resource_id, base in sorted(wanted.items()):
        if counts[base] == 1:
            names[resource_id] = base
            continue
        id_slug = slug(resource_id) or "x"
        length = 6
        while f"{base}_{id_slug[:length]}" in taken and length < len(id_slug):
            length += 2
        name = f"{base}_{id_slug[:length]}"
        while name in taken:
            name += "_"
        taken.add(name)
        names[resource_id] = name
    return names


# --- what a maker sees ---------------------------------------------------------------------------------------


class Scope:
    """One resource's view of the export while its attributes are made."""

    def __init__(self, builder: "Builder", spec: TerraformResource, row: Row, address: str) -> None:
        self.builder, self.spec, self.row, self.address = builder, spec, row, address
        self.workspace = builder.workspace

    def ref(self, types: Iterable[str], resource_id: str) -> Any:
        for resource_type in types:
            exported = self.builder.exported.get((resource_type, str(resource_id)))
            if exported is not None:
                return Ref(exported.address)
        return resource_id

    def ref_attribute(self, reference: Ref, attribute: str) -> Ref:
        return Ref(reference.address, attribute)

    def name_of(self, resource_type: str, resource_id: str) -> str:
        exported = self.builder.exported.get((resource_type, str(resource_id)))
        return exported.name if exported is not None else str(resource_id)

    def children(self, table: str, parent_column: str, value: Any) -> List[Row]:
        return list(self.builder.rows.by(table, parent_column).get(value, []))

    def row_of(self, table: str, value: Any, column: str = "id") -> Optional[Row]:
        found = self.builder.rows.by(table, column).get(value) if value is not None else None
        return found[0] if found else None

    def secret(self, path: str) -> Var:
        return self.builder.variable(self.spec, self.address, path)

    def warn(self, message: str) -> None:
        self.builder.warnings.append(f"{self.address}: {message}")

    def warn_once(self, message: str) -> None:
        if message not in self.builder.warnings:
            self.builder.warnings.append(message)


class Builder:
    def __init__(self, sql: Any, moment: datetime, workspace: Row, mode: str) -> None:
        self.workspace = workspace
        self.rows = Rows(sql, moment, workspace["id"], mode)
        self.exported: Dict[Tuple[str, str], Exported] = {}
        self.variables: Dict[str, Variable] = {}
        self.warnings: List[str] = []

    def variable(self, spec: TerraformResource, address: str, path: str) -> Var:
        name = base = slug(f"{spec.stem}_{address.split('.', 1)[1]}_{snake(path.removeprefix('settings.'))}")
        number = 2
        while name in self.variables:
            name, number = f"{base}_{number}", number + 1
        self.variables[name] = Variable(name, f"{path} of {address} (a secret the Public API does not return)")
        return Var(name)

    def build(self, exported: Exported) -> None:
        scope = Scope(self, exported.spec, exported.row, exported.address)
        exported.attributes = made(exported.spec.attributes, exported.row, scope)
        for check in exported.spec.checks:
            for problem in violations(exported.attributes, check.path, check):
                scope.warn(problem)
        for column in exported.spec.not_restored:
            if exported.row.get(column) not in (None, False, "", "[]", "{}", [], {}):
                scope.warn(f"{column} is set ({str(exported.row[column])[:60]}) but the provider has no attribute"
                           " for it: Terraform will not restore it")


def made(attributes: Dict[str, Any], row: Row, scope: Scope) -> Dict[str, Any]:
    result = {}
    for name, maker in attributes.items():
        value = made(maker, row, scope) if isinstance(maker, dict) else maker(row, scope)
        if value is not ABSENT:
            result[name] = value
    return result


def violations(value: Any, path: Tuple[str, ...], check: Check, where: str = "") -> List[str]:
    """What `check` finds wrong at `path` of the attribute values (`*` walks every element of a set)."""
    if not path:
        label = where.lstrip(".")
        if isinstance(value, list):
            if check.max_items is not None and len(value) > check.max_items:
                return [f"{label} has {len(value):,} items; the provider accepts at most {check.max_items:,}"
                        " (terraform plan will refuse it; nothing was left out)"]
            if check.min_items is not None and len(value) < check.min_items:
                return [f"{label} has {len(value)} items; the provider needs at least {check.min_items}"]
        if check.pattern and isinstance(value, str) and not re.match(check.pattern, value):
            return [f"{label} is {value!r}, which the provider refuses (must match {check.pattern})"]
        return []
    head, rest = path[0], path[1:]
    if head == "*":
        items = value if isinstance(value, list) else []
        return [p for index, item in enumerate(items) for p in violations(item, rest, check, f"{where}[{index}]")]
    if isinstance(value, dict) and head in value:
        return violations(value[head], rest, check, f"{where}.{head}")
    return []


# --- the export ----------------------------------------------------------------------------------------------


def selected_rows(rows: Rows, specs: List[TerraformResource], ids: Optional[List[str]]
                  ) -> List[Tuple[TerraformResource, Row]]:
    """The rows to export: all, or those named by `ids` and what hangs off them (a destination's filters...)."""
    chosen = [(spec, row) for spec in specs for row in rows.of(spec.table)]
    if not ids:
        return chosen
    known = {record_id(spec, row) for spec, row in chosen}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ExportError(f"No resource of the exported types has id {', '.join(unknown)} at {rows.moment.isoformat()}"
                          " (`segment-history as-of MOMENT --table TABLE` lists them).")
    wanted, kept = set(ids), []
    for spec, row in chosen:  # parents are declared, and so kept, before what hangs off them
        if record_id(spec, row) in wanted or any(str(row.get(c)) in wanted for c in spec.belongs_to if row.get(c)):
            wanted.add(record_id(spec, row))
            kept.append((spec, row))
    return kept


def build_export(sql: Any, moment: datetime, now: datetime, workspace: Optional[str] = None,
                 types: Optional[List[str]] = None, ids: Optional[List[str]] = None, mode: str = "scd2") -> Export:
    specs = select(types)
    chosen_workspace = workspace_at(sql, moment, workspace, mode)
    builder = Builder(sql, moment, chosen_workspace, mode)
    selected = selected_rows(builder.rows, specs, ids)
    current = Rows(sql, now, chosen_workspace["id"], mode)

    resources: List[Exported] = []
    for spec in specs:
        mine = [row for s, row in selected if s is spec]
        scope_free = Scope(builder, spec, {}, spec.type)
        names = terraform_names(spec, [(record_id(spec, row), _label(spec, row, scope_free)) for row in mine])
        existing = {record_id(spec, row) for row in current.of(spec.table)}
        for row in mine:
            resource_id = record_id(spec, row)
            exported = Exported(spec, row, resource_id, names[resource_id], exists_now=resource_id in existing)
            exported.not_importable = _not_importable(exported)
            builder.exported[(spec.type, resource_id)] = exported
            builder.build(exported)
            resources.append(exported)
    variables = sorted(builder.variables.values(), key=lambda v: v.name)
    return Export(chosen_workspace, moment, resources, variables, builder.warnings)


def _label(spec: TerraformResource, row: Row, scope: Scope) -> Optional[str]:
    label = spec.label(row, scope)
    return None if label is ABSENT else label


def _not_importable(exported: Exported) -> Optional[str]:
    if not exported.spec.import_parts:
        return f"the provider cannot import {exported.spec.type}"
    parts = [str(exported.row.get(part) or "") for part in exported.spec.import_parts]
    if len(parts) > 1 and any(not part or ":" in part for part in parts):
        return f"its import id {':'.join(parts)!r} does not split into {len(parts)} parts on ':'"
    return None

