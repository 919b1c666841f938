"""Function kinds: deploy new code."""

from __future__ import annotations

from ..ids import ksuid
from ..vocabulary import function_code
from .base import Change, Mutation, kind, replace_item, target

FUNCTION_EVENT = {"SOURCE": "Source Function Modified", "DESTINATION": "Destination Function Modified"}


@kind("update_function_code", 2)
def update_function_code(change: Change, function_id: str | None = None, code: str | None = None) -> Mutation:
    """Save and deploy new code: a new deployed version, the previous one is no longer deployed."""
    ws, rng = change.ws, change.rng
    function = target(change, "functions", function_id)
    history = ws.function_versions.setdefault(function["id"], [])
    code = code or function_code(function["resourceType"], function["displayName"].split(" (")[0], len(history) + 1)
    version = {"id": ksuid(rng), "author": change.actor, "isDeployed": True, "code": code,
               "createdAt": change.now, "updatedAt": change.now, "deployedAt": change.now}
    cascade = [change.side_effect("function_versions", version["id"], "added")]
    for index, old in enumerate(history):
        if old.get("isDeployed"):
            history[index] = {**old, "isDeployed": False}
            cascade.append(change.side_effect("function_versions", old["id"], "modified",
                                              {"isDeployed": (True, False)}))
    history.insert(0, version)
    new = {**function, "code": code, "deployedAt": change.now}
    replace_item(ws.functions, function, new)
    fields = {"code": (function.get("code"), code), "deployedAt": (function.get("deployedAt"), change.now)}
    return change.record("functions", function["id"], "modified", fields,
                         event_type=FUNCTION_EVENT.get(function["resourceType"], "Insert Function Modified"),
                         resource_type="function", audit_id=function["id"], audit_name=function["displayName"],
                         cascade=cascade)
