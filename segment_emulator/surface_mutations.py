"""Mutation kinds on the collections added for the full configuration surface.

A group's `memberCount` is derived from its membership, so adding or removing a member also changes what
`/groups` shows; that derived count is not reported as a change of its own.

They are registered like the core kinds (`ws.apply(kind, ...)`) but are not in the default random pool:
`ws.mutate(count)` behaves as before; `ws.mutate(count, kinds="surface")` or `kinds="all"` draws from these.

Tables and natural keys (for id-less rows): user_groups (id), user_group_members `"{group_id}:{user_id}"`,
user_group_invites `"{group_id}:{email}"`, invites (the email), destination_filters (id), transformations (id),
reverse_etl_models (id), audiences (id), computed_traits (id), suppressions `"{subjectType}:{subjectIds,...}"`,
regulations (id). Audit `resourceType`s: user_group, invite, destination_filter, transformation,
reverse_etl_model, audience, computed_trait, regulation.
"""

from __future__ import annotations

from typing import Any

from . import iam, privacy
from .ids import alnum_id, ksuid
from .mutations import Fields, Mutation, NotApplicable, _Change, _choose, _remove, _replace, _target, kind
from .vocabulary import EVENT_NAMES, FIRST_NAMES, LAST_NAMES

# --- IAM ------------------------------------------------------------------------------------------------------


def _group_event(change: _Change, group: dict[str, Any], table: str, resource_id: str, what: str, fields: Fields,
                 event_type: str, cascade: list[Mutation] | None = None) -> Mutation:
    return change.record(table, resource_id, what, fields, event_type=event_type, resource_type="user_group",
                         audit_id=group["id"], audit_name=group["name"], cascade=cascade)


@kind("change_group_permissions", 2, surface=True)
def change_group_permissions(change: _Change, group_id: str | None = None, role: str | None = None) -> Mutation:
    """Grant the group one more role on the workspace (or replace its grants with `role`)."""
    ws = change.ws
    group = _target(change, "user_groups", group_id)
    workspace = [iam.resource(ws.workspace["id"], "WORKSPACE")]
    held = {grant["roleName"] for grant in group.get("permissions", [])}
    if role is None:
        spare = [name for name in ("Tracking Plan Read-only", "Source Read-only", "Warehouse Read-only",
                                   "Engage Read-only", "Functions Read-only") if name not in held]
        role = change.rng.choice(spare) if spare else "Minimal Workspace Access"
        permissions = [*group.get("permissions", []), iam.permission(role, workspace)]
    else:
        permissions = [iam.permission(role, workspace)]
    old = group.get("permissions", [])
    if permissions == old:
        raise NotApplicable("the group already has exactly these permissions")
    _replace(ws.user_groups, group, {**group, "permissions": permissions})
    return _group_event(change, group, "user_groups", group["id"], "modified", {"permissions": (old, permissions)},
                        "User Group Policy Updated")


@kind("add_group_member", 2, surface=True)
def add_group_member(change: _Change, group_id: str | None = None, user_id: str | None = None) -> Mutation:
    ws = change.ws

    def candidates(group: dict[str, Any]) -> list[str]:
        members = ws.group_members.get(group["id"], [])
        return [user["id"] for user in ws.users if user["id"] not in members and user_id in (None, user["id"])]

    group = _target(change, "user_groups", group_id, candidates)
    member = _choose(change.rng, candidates(group))
    ws.group_members.setdefault(group["id"], []).append(member)
    return _group_event(change, group, "user_group_members", f"{group['id']}:{member}", "added", {},
                        "User Added To User Group")


@kind("remove_group_member", 2, surface=True)
def remove_group_member(change: _Change, group_id: str | None = None, user_id: str | None = None) -> Mutation:
    ws = change.ws

    def candidates(group: dict[str, Any]) -> list[str]:
        return [member for member in ws.group_members.get(group["id"], []) if user_id in (None, member)]

    group = _target(change, "user_groups", group_id, candidates)
    member = _choose(change.rng, candidates(group))
    ws.group_members[group["id"]].remove(member)
    return _group_event(change, group, "user_group_members", f"{group['id']}:{member}", "removed", {},
                        "User Removed From User Group")


@kind("create_invite", 1, surface=True)
def create_invite(change: _Change, email: str | None = None, group_id: str | None = None) -> Mutation:
    """Invite someone to the workspace, optionally into a group (`group_id`)."""
    ws, rng = change.ws, change.rng
    taken = set(ws.invites) | {user["email"] for user in ws.users}
    if email in taken:
        raise NotApplicable(f"{email} is already a member or invited")
    while email is None or email in taken:
        email = f"{rng.choice(FIRST_NAMES)}.{rng.choice(LAST_NAMES)}.{alnum_id(rng, 4)}@invited.example".lower()
    ws.invites.append(email)
    cascade = []
    if group_id is not None:
        group = _target(change, "user_groups", group_id)
        ws.group_invites.setdefault(group["id"], []).append(email)
        cascade.append(change.side_effect("user_group_invites", f"{group['id']}:{email}", "added"))
    return change.record("invites", email, "added", {}, event_type="Non-Segment User Invited to Workspace",
                         resource_type="invite", audit_id=email, audit_name=email, cascade=cascade)


@kind("delete_invite", 1, surface=True)
def delete_invite(change: _Change, email: str | None = None) -> Mutation:
    ws = change.ws
    email = _choose(change.rng, ws.invites, lambda item: email in (None, item))
    ws.invites.remove(email)
    cascade = []
    for group_id, emails in ws.group_invites.items():
        if email in emails:
            emails.remove(email)
            cascade.append(change.side_effect("user_group_invites", f"{group_id}:{email}", "removed"))
    return change.record("invites", email, "removed", {}, event_type="Invite Deleted", resource_type="invite",
                         audit_id=email, audit_name=email, cascade=cascade)


# --- destination filters, transformations, Reverse ETL --------------------------------------------------------


@kind("toggle_destination_filter", 2, surface=True)
def toggle_destination_filter(change: _Change, filter_id: str | None = None, enabled: bool | None = None
                              ) -> Mutation:
    item = _target(change, "destination_filters", filter_id, lambda f: enabled is None or f["enabled"] != enabled)
    new_state = (not item["enabled"]) if enabled is None else enabled
    new = {**item, "enabled": new_state, "updatedAt": change.now}
    _replace(change.ws.destination_filters, item, new)
    fields = {"enabled": (item["enabled"], new_state), "updatedAt": (item["updatedAt"], change.now)}
    return change.record("destination_filters", item["id"], "modified", fields,
                         event_type="Destination Filter Enabled" if new_state else "Destination Filter Disabled",
                         resource_type="destination_filter", audit_id=item["id"], audit_name=item["title"])


@kind("change_transformation", 2, surface=True)
def change_transformation(change: _Change, transformation_id: str | None = None, condition: str | None = None
                          ) -> Mutation:
    """Point the transformation at another event (its `if` condition)."""
    item = _target(change, "transformations", transformation_id)
    condition = condition or f"event = '{change.rng.choice(EVENT_NAMES)}'"
    if condition == item["if"]:
        condition = f"{condition} and type = 'track'"
    _replace(change.ws.transformations, item, {**item, "if": condition})
    return change.record("transformations", item["id"], "modified", {"if": (item["if"], condition)},
                         event_type="Transformation Updated", resource_type="transformation", audit_id=item["id"],
                         audit_name=item["name"])


@kind("toggle_reverse_etl_model", 1, surface=True)
def toggle_reverse_etl_model(change: _Change, model_id: str | None = None, enabled: bool | None = None) -> Mutation:
    item = _target(change, "reverse_etl_models", model_id, lambda m: enabled is None or m["enabled"] != enabled)
    new_state = (not item["enabled"]) if enabled is None else enabled
    _replace(change.ws.reverse_etl_models, item, {**item, "enabled": new_state})
    return change.record("reverse_etl_models", item["id"], "modified", {"enabled": (item["enabled"], new_state)},
                         event_type="Model State Change Toggled", resource_type="reverse_etl_model",
                         audit_id=item["id"], audit_name=item["name"])


# --- Engage ---------------------------------------------------------------------------------------------------


def _author(change: _Change, old: str) -> str:
    """Who `updatedBy` names after the change: the acting user, or unchanged when a token acted."""
    return change.actor if change.actor_email else old


@kind("change_audience_definition", 2, surface=True)
def change_audience_definition(change: _Change, audience_id: str | None = None, query: str | None = None
                               ) -> Mutation:
    item = _target(change, "audiences", audience_id, lambda a: a.get("definition") is not None)
    old_query = item["definition"]["query"]
    query = query or f"{old_query} and event('{change.rng.choice(EVENT_NAMES)}').within(30 days).count() >= 1"
    if query == old_query:
        raise NotApplicable("same definition")
    author = _author(change, item["updatedBy"])
    new = {**item, "definition": {**item["definition"], "query": query}, "updatedAt": change.now,
           "updatedBy": author}
    _replace(change.ws.audiences, item, new)
    fields: Fields = {"definition.query": (old_query, query), "updatedAt": (item["updatedAt"], change.now)}
    if author != item["updatedBy"]:
        fields["updatedBy"] = (item["updatedBy"], author)
    return change.record("audiences", item["id"], "modified", fields, event_type="Audience Modified",
                         resource_type="audience", audit_id=item["id"], audit_name=item["name"])


@kind("toggle_computed_trait", 2, surface=True)
def toggle_computed_trait(change: _Change, trait_id: str | None = None, enabled: bool | None = None) -> Mutation:
    item = _target(change, "computed_traits", trait_id, lambda t: enabled is None or t["enabled"] != enabled)
    new_state = (not item["enabled"]) if enabled is None else enabled
    author = _author(change, item["updatedBy"])
    _replace(change.ws.computed_traits, item, {**item, "enabled": new_state, "updatedAt": change.now,
                                               "updatedBy": author})
    fields: Fields = {"enabled": (item["enabled"], new_state), "updatedAt": (item["updatedAt"], change.now)}
    if author != item["updatedBy"]:
        fields["updatedBy"] = (item["updatedBy"], author)
    return change.record("computed_traits", item["id"], "modified", fields, event_type="Computed Trait Modified",
                         resource_type="computed_trait", audit_id=item["id"], audit_name=item["name"])


# --- suppressions ---------------------------------------------------------------------------------------------


def suppression_id(item: dict[str, Any]) -> str:
    return f"{item['subjectType']}:{','.join(item['subjectIds'])}"


def _regulation(change: _Change, kind_name: str, subject: str) -> tuple[dict[str, Any], Mutation]:
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
def add_suppression(change: _Change, subject: str | None = None) -> Mutation:
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
def remove_suppression(change: _Change, subject: str | None = None) -> Mutation:
    ws = change.ws
    item = _choose(change.rng, ws.suppressions, lambda existing: subject in (None, *existing["subjectIds"]))
    entry, effect = _regulation(change, "UNSUPPRESS", item["subjectIds"][0])
    _remove(ws.suppressions, item)
    return change.record("suppressions", suppression_id(item), "removed", {}, event_type="Regulation Created",
                         resource_type="regulation", audit_id=entry["id"],
                         audit_name=f"UNSUPPRESS {item['subjectIds'][0]}", cascade=[effect])
