"""Tracking plan rules (`RuleV1`) with realistic JSON Schema documents.

A rule's `jsonSchema` nests the event payload sections the way Protocols does:
``jsonSchema.properties.properties.properties.<name>`` for track/page/screen properties and
``jsonSchema.properties.traits.properties.<name>`` for identify/group traits. Property schemas are shared by
reference between rules (40,000 rules stay small in memory); mutations copy before they change anything.
"""

from __future__ import annotations

from random import Random
from typing import Any

from .vocabulary import EVENT_NAMES, PAGE_NAMES, SCREEN_NAMES

SCHEMA_DIALECT = "http://json-schema.org/draft-07/schema#"
NOT_DEPRECATED = "0001-01-01T00:00:00.000Z"  # Go's zero time, how the API says "not deprecated"

_PRODUCT_ITEM = {"type": "object", "properties": {
    "product_id": {"type": "string", "description": "Database id of the product"},
    "sku": {"type": "string"},
    "price": {"type": "number", "minimum": 0},
    "quantity": {"type": "integer", "minimum": 1},
}, "required": ["product_id"]}

PROPERTIES: dict[str, dict[str, Any]] = {
    "order_id": {"type": "string", "description": "Unique order identifier"},
    "checkout_id": {"type": "string"},
    "cart_id": {"type": "string"},
    "revenue": {"type": "number", "description": "Revenue in the order currency"},
    "total": {"type": "number"},
    "tax": {"type": "number"},
    "shipping": {"type": "number"},
    "discount": {"type": "number"},
    "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
    "coupon": {"type": "string"},
    "product_id": {"type": "string"},
    "sku": {"type": "string"},
    "name": {"type": "string"},
    "category": {"type": "string"},
    "brand": {"type": "string"},
    "price": {"type": "number", "minimum": 0},
    "quantity": {"type": "integer", "minimum": 1},
    "position": {"type": "integer"},
    "url": {"type": "string", "format": "uri"},
    "products": {"type": "array", "items": _PRODUCT_ITEM},
    "step": {"type": "integer", "minimum": 1, "maximum": 6},
    "payment_method": {"type": "string", "enum": ["card", "paypal", "apple_pay", "klarna"]},
    "query": {"type": "string"},
    "filters": {"type": "array", "items": {"type": "object", "properties": {
        "type": {"type": "string"}, "value": {"type": "string"}}}},
    "plan_id": {"type": "string"},
    "billing_cycle": {"type": "string", "enum": ["monthly", "annual"]},
    "trial_days": {"type": "integer"},
    "rating": {"type": "integer", "minimum": 1, "maximum": 5},
    "experiment_id": {"type": "string"},
    "variation_id": {"type": "string"},
    "button_label": {"type": "string"},
    "location": {"type": "string"},
    "referrer": {"type": "string"},
    "is_logged_in": {"type": "boolean"},
    "duration_seconds": {"type": "number"},
}
TRAITS: dict[str, dict[str, Any]] = {
    "email": {"type": "string", "format": "email"},
    "first_name": {"type": "string"},
    "last_name": {"type": "string"},
    "plan": {"type": "string", "enum": ["free", "pro", "enterprise"]},
    "created_at": {"type": "string", "format": "date-time"},
    "company": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}}},
    "employees": {"type": "integer"},
    "industry": {"type": "string"},
    "lifetime_value": {"type": "number"},
    "opt_in": {"type": "boolean"},
}
PAGE_PROPERTIES = ("path", "url", "title", "referrer", "search")
CONTEXT_PROPERTIES: dict[str, dict[str, Any]] = {
    "app": {"type": "object", "properties": {"version": {"type": "string"}, "build": {"type": "string"}}},
    "locale": {"type": "string"},
}

# Which payload section each rule type constrains.
SECTION = {"TRACK": "properties", "PAGE": "properties", "SCREEN": "properties", "IDENTIFY": "traits",
           "GROUP": "traits", "COMMON": "context"}


def jsonschema_for(section: str, fields: dict[str, Any], required: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "object", "properties": fields}
    if required:
        body["required"] = required
    sections: dict[str, Any] = {"context": {}, "traits": {"type": "object", "properties": {}},
                                "properties": {"type": "object", "properties": {}}}
    sections[section] = body
    return {"$schema": SCHEMA_DIALECT, "type": "object", "properties": sections, "required": [section]}


def _fields(rng: Random, rule_type: str) -> tuple[dict[str, Any], list[str]]:
    if rule_type in ("IDENTIFY", "GROUP"):
        names = rng.sample(sorted(TRAITS), rng.randint(3, 7))
        return {name: TRAITS[name] for name in names}, names[:1]
    if rule_type == "COMMON":
        return dict(CONTEXT_PROPERTIES), []
    if rule_type in ("PAGE", "SCREEN"):
        names = list(PAGE_PROPERTIES[: rng.randint(2, len(PAGE_PROPERTIES))])
        return {name: PROPERTIES.get(name, {"type": "string"}) for name in names}, []
    names = rng.sample(sorted(PROPERTIES), rng.randint(2, 8))
    return {name: PROPERTIES[name] for name in names}, names[: rng.randint(0, 2)]


def rule(rng: Random, rule_type: str, key: str | None, version: int, created: str, updated: str,
         deprecated_at: str | None) -> dict[str, Any]:
    fields, required = _fields(rng, rule_type)
    item: dict[str, Any] = {"type": rule_type}
    if key is not None:
        item["key"] = key
    item.update(jsonSchema=jsonschema_for(SECTION[rule_type], fields, required), version=version,
                createdAt=created, updatedAt=updated)
    if deprecated_at is not None:
        item["deprecatedAt"] = deprecated_at
    return item


def rule_identities(rng: Random, count: int) -> list[tuple[str, str | None, int]]:
    """`count` distinct (type, key, version) triples, shaped like a real plan: a few fixed rules, then events."""
    fixed: list[tuple[str, str | None, int]] = [("IDENTIFY", None, 1), ("GROUP", None, 1), ("COMMON", None, 1)]
    fixed += [("PAGE", name, 1) for name in rng.sample(PAGE_NAMES, 2)]
    fixed += [("SCREEN", name, 1) for name in rng.sample(SCREEN_NAMES, 1)]
    if count <= len(fixed):
        fixed = fixed[: min(count, 1)]  # tiny plans: an identify rule and a handful of events
    events = rng.sample(EVENT_NAMES, min(count - len(fixed), len(EVENT_NAMES)))
    identities = fixed + [("TRACK", name, 1) for name in events]
    version = 2
    while len(identities) < count:  # big plans keep older versions of their events
        extra = events[: count - len(identities)]
        identities += [("TRACK", name, version) for name in extra]
        version += 1
    return identities


def natural_key(tracking_plan_id: str, item: dict[str, Any]) -> str:
    """The id-less rule's identity, as used in `Mutation.resource_id`."""
    return f"{tracking_plan_id}:{item['type']}:{item.get('key') or ''}:{item['version']}"


def section_path(item: dict[str, Any]) -> list[str]:
    """Where a rule's constrained fields live inside `jsonSchema`."""
    return ["properties", SECTION[item["type"]], "properties"]


def retyped(schema: dict[str, Any]) -> str | None:
    """A plausible new JSON type for a property schema (or None when it has no simple type)."""
    swaps = {"number": "integer", "integer": "number", "string": "number", "boolean": "string",
             "array": "string", "object": "string"}
    return swaps.get(schema.get("type")) if isinstance(schema.get("type"), str) else None
