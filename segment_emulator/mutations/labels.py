"""Label kinds: create and delete workspace labels."""

from __future__ import annotations

from ..vocabulary import LABELS
from .base import Change, Mutation, NotApplicable, choose, kind, remove_item, replace_item

PROTECTED_LABELS = {("environment", "prod"), ("environment", "dev")}  # every workspace has these two


@kind("create_label", 1)
def create_label(change: Change, key: str | None = None, value: str | None = None,
                 description: str | None = None) -> Mutation:
    ws = change.ws
    existing = {(label["key"], label["value"]) for label in ws.labels}
    if key is None or value is None:
        spare = [entry for entry in LABELS if entry[:2] not in existing]
        key, value, description = spare[0] if spare else ("team", f"squad-{len(ws.labels) + 1}", "New squad")
    if (key, value) in existing:
        raise NotApplicable(f"label {key}:{value} exists")
    ws.labels.append({"key": key, "value": value, "description": description or ""})
    return change.record("labels", f"{key}:{value}", "added", {}, event_type="Label Created", resource_type="label",
                         audit_id=f"{key}:{value}", audit_name=f"{key}:{value}")


@kind("delete_label", 1)
def delete_label(change: Change, key: str | None = None, value: str | None = None) -> Mutation:
    """Random picks prefer labels no source uses; an explicit label in use is detached from its sources too."""
    ws = change.ws
    if key is not None:
        label = choose(change.rng, ws.labels, lambda item: (item["key"], item["value"]) == (key, value))
    else:
        used = {(item["key"], item["value"]) for source in ws.sources for item in source["labels"]}
        label = choose(change.rng, ws.labels, lambda item: (item["key"], item["value"]) not in used | PROTECTED_LABELS)
    cascade = []
    for source in [source for source in ws.sources if label in source["labels"]]:
        labels = [item for item in source["labels"] if item != label]
        replace_item(ws.sources, source, {**source, "labels": labels})
        cascade.append(change.side_effect("sources", source["id"], "modified", {"labels": (source["labels"], labels)}))
    remove_item(ws.labels, label)
    natural = f"{label['key']}:{label['value']}"
    return change.record("labels", natural, "removed", {}, event_type="Label Deleted", resource_type="label",
                         audit_id=natural, audit_name=natural, cascade=cascade)
