"""Tracking plan kinds: add, retype and remove rules, rename a plan."""

from __future__ import annotations

from typing import Any, Callable

from .. import rules
from ..paths import dotted, get_path, with_path
from ..state import resource_name
from ..vocabulary import EVENT_NAMES
from .base import Change, Fields, Mutation, choose, kind, remove_item, renamed, replace_item, target


def _plan_touched(change: Change, plan: dict[str, Any], extra: Fields | None = None) -> tuple[dict, Mutation]:
    """Bump the plan's `updatedAt` (every rule change does) and describe that as a side effect."""
    fields: Fields = {"updatedAt": (plan.get("updatedAt"), change.now), **(extra or {})}
    new = {**plan, **{name: new for name, (_, new) in fields.items()}}
    replace_item(change.ws.tracking_plans, plan, new)
    return new, change.side_effect("tracking_plans", plan["id"], "modified", fields)


def _rule_change(change: Change, plan: dict[str, Any], resource_id: str, what: str, fields: Fields,
                 touch_plan: bool) -> Mutation:
    """Rule changes are audited on their tracking plan. With `touch_plan` the plan's `updatedAt` moves too (a
    second changed row, reported in `cascade`); by default a rule mutation changes exactly one row."""
    cascade = []
    if touch_plan:
        plan, plan_effect = _plan_touched(change, plan)
        cascade.append(plan_effect)
    return change.record("tracking_plan_rules", resource_id, what, fields, event_type="Tracking Plan Modified",
                         resource_type="tracking_plan", audit_id=plan["id"],
                         audit_name=resource_name("tracking_plan", plan), cascade=cascade)


def _find_rule(change: Change, tracking_plan_id: str | None, key: str | None,
               wanted: Callable[[dict], bool] = lambda item: True) -> tuple[dict[str, Any], dict[str, Any]]:
    ws = change.ws
    candidates = [(plan, item) for plan in ws.tracking_plans if tracking_plan_id in (None, plan["id"])
                  for item in ws.rules.get(plan["id"], []) if key in (None, item.get("key")) and wanted(item)]
    return choose(change.rng, candidates)


@kind("add_rule", 3)
def add_rule(change: Change, tracking_plan_id: str | None = None, key: str | None = None,
             touch_plan: bool = False) -> Mutation:
    ws, rng = change.ws, change.rng
    plan = target(change, "tracking_plans", tracking_plan_id)
    plan_rules = ws.rules.setdefault(plan["id"], [])
    used = {item.get("key") for item in plan_rules if item["type"] == "TRACK"}
    unused = [name for name in EVENT_NAMES if name not in used]
    key = key or (rng.choice(unused) if unused else rng.choice(sorted(used)))  # full plans get a new version
    zero_dates = any(item.get("deprecatedAt") == rules.NOT_DEPRECATED for item in plan_rules)
    version = 1 + max((item["version"] for item in plan_rules if item.get("key") == key), default=0)
    item = rules.rule(rng, "TRACK", key, version, change.now, change.now,
                      rules.NOT_DEPRECATED if zero_dates else None)
    plan_rules.append(item)
    return _rule_change(change, plan, rules.natural_key(plan["id"], item), "added", {}, touch_plan)


@kind("modify_rule", 4)
def modify_rule(change: Change, tracking_plan_id: str | None = None, key: str | None = None,
                property: str | None = None, new_type: str | None = None, touch_plan: bool = False) -> Mutation:
    """Retype one top-level property of a rule's schema; type, key and version stay the same."""
    def retypable(item: dict[str, Any]) -> list[str]:
        fields = get_path(item["jsonSchema"], rules.section_path(item), {})
        return [name for name, schema in fields.items()
                if property in (None, name) and (new_type or rules.retyped(schema))]

    plan, item = _find_rule(change, tracking_plan_id, key, retypable)
    name = change.rng.choice(sorted(retypable(item)))
    schema_path = [*rules.section_path(item), name, "type"]
    old_type = get_path(item["jsonSchema"], schema_path, None)
    new_type = new_type or rules.retyped(get_path(item["jsonSchema"], schema_path[:-1]))
    new_item = {**item, "jsonSchema": with_path(item["jsonSchema"], schema_path, new_type), "updatedAt": change.now}
    replace_item(change.ws.rules[plan["id"]], item, new_item)
    fields = {dotted("jsonSchema", *schema_path): (old_type, new_type), "updatedAt": (item.get("updatedAt"),
                                                                                      change.now)}
    return _rule_change(change, plan, rules.natural_key(plan["id"], item), "modified", fields, touch_plan)


@kind("remove_rule", 2)
def remove_rule(change: Change, tracking_plan_id: str | None = None, key: str | None = None,
                touch_plan: bool = False) -> Mutation:
    plan, item = _find_rule(change, tracking_plan_id, key)
    remove_item(change.ws.rules[plan["id"]], item)
    return _rule_change(change, plan, rules.natural_key(plan["id"], item), "removed", {}, touch_plan)


@kind("rename_tracking_plan", 1)
def rename_tracking_plan(change: Change, tracking_plan_id: str | None = None, name: str | None = None) -> Mutation:
    plan = target(change, "tracking_plans", tracking_plan_id)
    name = name or renamed(change.rng, plan.get("name", ""))
    new_plan, effect = _plan_touched(change, plan, {"name": (plan.get("name"), name)})
    return change.record("tracking_plans", plan["id"], "modified", effect.fields,
                         event_type="Tracking Plan Modified", resource_type="tracking_plan", audit_id=plan["id"],
                         audit_name=name)
