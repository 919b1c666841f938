"""Privacy kinds (surface): suppress or unsuppress a subject, each through a new regulation.

Tables and natural keys: suppressions `"{subjectType}:{subjectIds,...}"`, regulations (id). Audit
`resourceType`: regulation.
"""

from __future__ import annotations

from typing import Any

from .. import privacy
from ..ids import ksuid
from .base import Change, Mutation, NotApplicable, choose, kind, remove_item


def suppression_id(item: dict[str, Any]) -> str:
    return f"{item['subjectType']}:{','.join(item['subjectIds'])}"


def _regulation(change: Change, kind_name: str, subject: str) -> tuple[dict[str, Any], Mutation]:
    """Suppressing or unsuppressing goes through a regulation, which the change adds to `/regulations`."""
    ws = change.ws
    entry = {"id": ksuid(change.rng), "subjectType": "USER_ID", "subjects": [subject], "status": "FINISHED",
             "createdAt": change.now, "regulationType": kind_name, "finishedAt": change.now}
    ws.regulations.insert(0, entry)
    ws.regulation_details[entry["id"]] = {"id": entry["id"], "workspaceId": ws.workspace["id"],
                                          "overallStatus": "FINISHED", "createdAt": change.now,
                                          "finishedAt": change.now, "streamStatus": []}
    return entry, change.side_effect("regulations", entry["id"], "added")


@kind("add_suppression", 1, surface=True)
def add_suppression(change: Change, subject: str | None = None) -> Mutation:
    ws = change.ws
    subject = subject or privacy.subject_id(change.rng)
    item = {"subjectType": "userId", "subjectIds": [subject]}
    if any(suppression_id(existing) == suppression_id(item) for existing in ws.suppressions):
        raise NotApplicable(f"{subject} is already suppressed")
    entry, effect = _regulation(change, "SUPPRESS_ONLY", subject)
    ws.suppressions[:] = privacy.sort_suppressions([*ws.suppressions, item])
    # Guess: the audit trail names the regulation that suppressed the subject.
    return change.record("suppressions", suppression_id(item), "added", {}, event_type="Regulation Created",
                         resource_type="regulation", audit_id=entry["id"], audit_name=f"SUPPRESS_ONLY {subject}",
                         cascade=[effect])


@kind("remove_suppression", 1, surface=True)
def remove_suppression(change: Change, subject: str | None = None) -> Mutation:
    ws = change.ws
    item = choose(change.rng, ws.suppressions, lambda existing: subject in (None, *existing["subjectIds"]))
    entry, effect = _regulation(change, "UNSUPPRESS", item["subjectIds"][0])
    remove_item(ws.suppressions, item)
    return change.record("suppressions", suppression_id(item), "removed", {}, event_type="Regulation Created",
                         resource_type="regulation", audit_id=entry["id"],
                         audit_name=f"UNSUPPRESS {item['subjectIds'][0]}", cascade=[effect])
