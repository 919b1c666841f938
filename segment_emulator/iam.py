"""Access management content: roles, user permissions, user groups and invites (facts §3.11-3.13).

Roles are global (the same ids in every workspace; the two ids below appear in Segment's own examples).
Permissions follow `PermissionV1`: a role plus the resources it applies to (`WORKSPACE`, `SOURCE`, `WAREHOUSE`,
`SPACE`, `FUNCTION`), optionally narrowed by labels.
"""

from __future__ import annotations

from random import Random
from typing import Any

from .ids import alnum_id, stable_ksuid
from .vocabulary import FIRST_NAMES, LAST_NAMES

ROLE_DESCRIPTIONS = {
    "Workspace Owner": "Owners have full read and edit access to everything in the workspace, including Sources, "
                       "Destinations, add-on products, and settings. Owners have full edit access to all Team "
                       "Permissions.",
    "Minimal Workspace Access": "Access to view the workspace. Cannot view any sub resources or make changes to "
                                "the workspace.",
    "Workspace Member": "Read-only access to the workspace's connections, without access to settings or billing.",
    "Billing Admin": "Can view and edit billing and usage information.",
    "Source Admin": "Edit access to Sources and their Destinations, including write keys and settings.",
    "Source Read-only": "Read access to Sources and their Destinations.",
    "Tracking Plan Admin": "Edit access to Tracking Plans and Protocols transformations.",
    "Tracking Plan Read-only": "Read access to Tracking Plans.",
    "Warehouse Admin": "Edit access to Warehouses, their settings and selective sync.",
    "Warehouse Read-only": "Read access to Warehouses.",
    "Functions Admin": "Create, edit and deploy Functions.",
    "Functions Read-only": "Read access to Functions.",
    "Unify and Engage Admin": "Edit access to Spaces, Audiences, Computed Traits and Profiles Sync.",
    "Unify Read-only": "Read access to Unify profiles and Space settings.",
    "Engage User": "Create and edit Audiences and Journeys in a Space.",
    "Engage Read-only": "Read access to Audiences and Journeys.",
    "Entities Admin": "Edit access to Linked Audiences entities.",
    "Privacy Admin": "Manage deletion and suppression requests.",
}
KNOWN_ROLE_IDS = {"Workspace Owner": "1WDUuRLxv84rrfCNUwvkrRtkxnS",
                  "Minimal Workspace Access": "1aEWAcU0fArxScocwH9xxLgW7r3"}
ROLES = [{"id": KNOWN_ROLE_IDS.get(name) or stable_ksuid("role:" + name), "name": name, "description": text}
         for name, text in ROLE_DESCRIPTIONS.items()]
ROLE_IDS = {role["name"]: role["id"] for role in ROLES}

GROUP_NAMES = ("Data Engineering", "Marketing Ops", "Analytics", "Growth", "Mobile Team", "Web Platform",
               "Customer Success", "Security & Compliance", "Contractors", "Executives", "Finance", "Support",
               "Privacy Office", "Platform SRE", "Partnerships", "EU Team", "Lifecycle Marketing", "Data Science")


def permission(role: str, resources: list[dict[str, Any]], labels: list[dict[str, Any]] | None = None) -> dict:
    item = {"roleId": ROLE_IDS[role], "roleName": role, "resources": resources}
    if labels is not None:
        item["labels"] = labels
    return item


def resource(resource_id: str, kind: str, labels: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"id": resource_id, "type": kind, "labels": labels or []}


def _label_scope(rng: Random, labels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    environments = [label for label in labels if label["key"] == "environment"]
    return [rng.choice(environments)] if environments and rng.random() < 0.5 else []


def random_permissions(rng: Random, workspace_id: str, sources: list[dict], warehouses: list[dict],
                       labels: list[dict], spaces: list[dict], functions: list[dict]) -> list[dict[str, Any]]:
    """A plausible mix of grants for one user or group (may be empty: access through groups only)."""
    workspace = [resource(workspace_id, "WORKSPACE")]
    roll = rng.random()
    if roll < 0.15:
        return [permission("Workspace Owner", workspace)]
    if roll < 0.25:
        return []
    grants = []
    if roll < 0.7 and sources:
        role = rng.choice(("Source Admin", "Source Read-only"))
        if rng.random() < 0.5:
            scope = _label_scope(rng, labels)
            grants.append(permission(role, [resource(workspace_id, "WORKSPACE", scope)], scope))
        else:
            chosen = rng.sample(sources, min(len(sources), rng.randint(1, 3)))
            grants.append(permission(role, [resource(source["id"], "SOURCE") for source in chosen]))
    if rng.random() < 0.4:
        grants.append(permission(rng.choice(("Tracking Plan Admin", "Tracking Plan Read-only")), workspace))
    if warehouses and rng.random() < 0.25:
        grants.append(permission(rng.choice(("Warehouse Admin", "Warehouse Read-only")),
                                 [resource(rng.choice(warehouses)["id"], "WAREHOUSE")]))
    if spaces and rng.random() < 0.3:
        grants.append(permission(rng.choice(("Engage User", "Engage Read-only", "Unify and Engage Admin")),
                                 [resource(rng.choice(spaces)["id"], "SPACE")]))
    if functions and rng.random() < 0.15:
        grants.append(permission("Functions Admin", [resource(rng.choice(functions)["id"], "FUNCTION")]))
    if not grants or rng.random() < 0.2:
        grants.append(permission("Minimal Workspace Access", workspace))
    return grants


def with_permissions(rng: Random, users: list[dict], workspace_id: str, sources: list[dict],
                     warehouses: list[dict], labels: list[dict], spaces: list[dict],
                     functions: list[dict]) -> list[dict[str, Any]]:
    """`UserV1`s: the first user owns the workspace; users without direct grants have no `permissions` key."""
    result = []
    for index, user in enumerate(users):
        grants = ([permission("Workspace Owner", [resource(workspace_id, "WORKSPACE")])] if index == 0 else
                  random_permissions(rng, workspace_id, sources, warehouses, labels, spaces, functions))
        result.append({**user, "permissions": grants} if grants else dict(user))
    return result


def groups(rng: Random, count: int, users: list[dict], invites: list[str], workspace_id: str, sources: list[dict],
           warehouses: list[dict], labels: list[dict], spaces: list[dict], functions: list[dict]
           ) -> tuple[list[dict], dict[str, list[str]], dict[str, list[str]]]:
    """User groups, their members and their pending invites. The last group of a workspace with more than one
    group has no members (a group created but never filled)."""
    items, members, pending = [], {}, {}
    for index in range(count):
        name = GROUP_NAMES[index % len(GROUP_NAMES)] + (f" {index // len(GROUP_NAMES) + 1}"
                                                        if index >= len(GROUP_NAMES) else "")
        group = {"id": alnum_id(rng), "name": name,
                 "permissions": random_permissions(rng, workspace_id, sources, warehouses, labels, spaces,
                                                   functions) or [permission("Minimal Workspace Access",
                                                                             [resource(workspace_id, "WORKSPACE")])]}
        items.append(group)
        empty = count > 1 and index == count - 1
        size = 0 if empty else rng.randint(1, max(1, len(users) * 2 // 5))
        members[group["id"]] = [user["id"] for user in rng.sample(users, min(size, len(users)))]
        pending[group["id"]] = [email for email in invites if rng.random() < 0.3]
    return items, members, pending


def invites(rng: Random, count: int, domain: str, users: list[dict]) -> list[str]:
    taken = {user["email"] for user in users}
    emails: list[str] = []
    while len(emails) < count:
        email = f"{rng.choice(FIRST_NAMES)}.{rng.choice(LAST_NAMES)}".lower()
        email += "@" + (domain if rng.random() < 0.8 else rng.choice(("agency.example", "contractor.example")))
        if email not in taken:
            taken.add(email)
            emails.append(email)
    return emails
