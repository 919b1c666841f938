"""Who may read what: token roles, plan features and alpha enablement, all declared as data (facts §1.2, §5.6-7).

Every route names the permission *area* it belongs to (`Route.area`) and, when the endpoint is part of a paid
product, the *feature* that must be on the workspace's plan (`Route.feature`). A token's role is a set of areas:

- `owner` (Workspace Owner): every area, plus `source_admin` (write keys are shown);
- `member` (a Workspace Member with read-only access to the core resources): workspace, catalog, sources,
  destinations, warehouses, tracking plans, transformations, labels and delivery metrics. It cannot read IAM
  (users, groups, invites, roles), credentials, the audit trail, functions, privacy (regulations,
  suppressions), usage, Engage or Reverse ETL, and `writeKeys` come back as `[]`.

The answers, in the order the server checks them:
- area not granted to the token's role: **401** (the docs list "token lacks permission" under 401);
- feature not on the plan (`Emulator(disabled_features=...)`): **403** by default, or whatever
  `disabled_feature_status` says (404, 401 or 422 are the other plausible answers; the real one is undocumented);
- alpha endpoint not enabled for the workspace (`Emulator(disabled_alpha=True)` or a set of operation ids):
  **403**.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

# --- areas ----------------------------------------------------------------------------------------------------

AREAS = (
    "workspace", "catalog", "sources", "destinations", "warehouses", "tracking_plans", "transformations",
    "labels", "metrics", "usage", "functions", "iam", "credentials", "audit", "privacy", "engage", "reverse_etl",
    "source_admin",  # not a route area: the permission that reveals `writeKeys`
)

OWNER, MEMBER = "owner", "member"
MEMBER_AREAS = frozenset({"workspace", "catalog", "sources", "destinations", "warehouses", "tracking_plans",
                          "transformations", "labels", "metrics"})
DEFAULT_ROLES: dict[str, frozenset[str]] = {OWNER: frozenset(AREAS), MEMBER: MEMBER_AREAS}

# --- plan features --------------------------------------------------------------------------------------------

FEATURES = ("audit_trail", "engage", "functions", "live_plugins", "profiles_sync", "protocols", "reverse_etl")
FEATURE_NAMES = {"audit_trail": "Audit Trail", "engage": "Engage", "functions": "Functions",
                 "live_plugins": "Live Plugins", "profiles_sync": "Profiles Sync", "protocols": "Protocols",
                 "reverse_etl": "Reverse ETL"}
FEATURE_STATUSES = (401, 403, 404, 422)


def resolve_roles(custom: Mapping[str, Iterable[str]] | None) -> dict[str, frozenset[str]]:
    """The default roles plus (or overridden by) custom ones; unknown areas are an error."""
    roles = dict(DEFAULT_ROLES)
    for name, areas in (custom or {}).items():
        areas = frozenset(areas)
        unknown = areas - set(AREAS)
        if unknown:
            raise ValueError(f"role {name!r} names unknown areas {sorted(unknown)}; known: {', '.join(AREAS)}")
        roles[name] = areas
    return roles


def check_features(features: Iterable[str]) -> frozenset[str]:
    features = frozenset(features)
    unknown = features - set(FEATURES)
    if unknown:
        raise ValueError(f"unknown features {sorted(unknown)}; known: {', '.join(FEATURES)}")
    return features


@dataclass(frozen=True)
class Access:
    """What one request's token may do: its role name and the areas that role grants."""

    role: str
    areas: frozenset[str]

    def can(self, area: str) -> bool:
        return area in self.areas

    @property
    def is_owner(self) -> bool:
        return self.role == OWNER or self.areas >= DEFAULT_ROLES[OWNER]
