"""IAM kinds (surface): group permissions and members, workspace invites.

A group's `memberCount` is derived from its membership, so adding or removing a member also changes what
`/groups` shows; that derived count is not reported as a change of its own.
Tables and natural keys: user_groups (id), user_group_members `"{group_id}:{user_id}"`, user_group_invites
`"{group_id}:{email}"`, invites (the email). Audit `resourceType`s: user_group, invite.
"""

from __future__ import annotations

from typing import Any

from .. import iam
from ..ids import alnum_id
from ..vocabulary import FIRST_NAMES, LAST_NAMES
from .base import Change, Fields, Mutation, NotApplicable, choose, kind, replace_item, target


def _group_event(change: Change, group: dict[str, Any], table: str, resource_id: str, what: str, fields: Fields,
                 event_type: str, cascade: list[Mutation] | None = None) -> Mutation:
    return change.record(table, resource_id, what, fields, event_type=event_type, resource_type="user_group",
                         audit_id=group["id"], audit_name=group["name"], cascade=cascade)


@kind("change_group_permissions", 2, surface=True)
def change_group_permissions(change: Change, group_id: str | None = None, role: str | None = None) -> Mutation:
    """Grant the group one more role on the workspace (or replace its grants with `role`)."""
    ws = change.ws
    group = target(change, "user_groups", group_id)
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
    replace_item(ws.user_groups, group, {**group, "permissions": permissions})
    return _group_event(change, group, "user_groups", group["id"], "modified", {"permissions": (old, permissions)},
                        "User Group Policy Updated")


@kind("add_group_member", 2, surface=True)
def add_group_member(change: Change, group_id: str | None = None, user_id: str | None = None) -> Mutation:
    ws = change.ws

    def candidates(group: dict[str, Any]) -> list[str]:
        members = ws.group_members.get(group["id"], [])
        return [user["id"] for user in ws.users if user["id"] not in members and user_id in (None, user["id"])]

    group = target(change, "user_groups", group_id, candidates)
    member = choose(change.rng, candidates(group))
    ws.group_members.setdefault(group["id"], []).append(member)
    return _group_event(change, group, "user_group_members", f"{group['id']}:{member}", "added", {},
                        "User Added To User Group")


@kind("remove_group_member", 2, surface=True)
def remove_group_member(change: Change, group_id: str | None = None, user_id: str | None = None) -> Mutation:
    ws = change.ws

    def candidates(group: dict[str, Any]) -> list[str]:
        return [member for member in ws.group_members.get(group["id"], []) if user_id in (None, member)]

    group = target(change, "user_groups", group_id, candidates)
    member = choose(change.rng, candidates(group))
    ws.group_members[group["id"]].remove(member)
    return _group_event(change, group, "user_group_members", f"{group['id']}:{member}", "removed", {},
                        "User Removed From User Group")


@kind("create_invite", 1, surface=True)
def create_invite(change: Change, email: str | None = None, group_id: str | None = None) -> Mutation:
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
        group = target(change, "user_groups", group_id)
        ws.group_invites.setdefault(group["id"], []).append(email)
        cascade.append(change.side_effect("user_group_invites", f"{group['id']}:{email}", "added"))
    return change.record("invites", email, "added", {}, event_type="Non-Segment User Invited to Workspace",
                         resource_type="invite", audit_id=email, audit_name=email, cascade=cascade)


@kind("delete_invite", 1, surface=True)
def delete_invite(change: Change, email: str | None = None) -> Mutation:
    ws = change.ws
    email = choose(change.rng, ws.invites, lambda item: email in (None, item))
    ws.invites.remove(email)
    cascade = []
    for group_id, emails in ws.group_invites.items():
        if email in emails:
            emails.remove(email)
            cascade.append(change.side_effect("user_group_invites", f"{group_id}:{email}", "removed"))
    return change.record("invites", email, "removed", {}, event_type="Invite Deleted", resource_type="invite",
                         audit_id=email, audit_name=email, cascade=cascade)
