"""`Call`: one request as a handler sees it (the workspace, path parameters, query, the caller's role)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from .pagination import Query
from .permissions import DEFAULT_ROLES, MEMBER, Access
from .workspace import Workspace


@dataclass
class Call:
    """One request as a handler sees it."""

    ws: Workspace
    params: dict[str, str]
    query: Query
    role: str
    last_page_next: str
    access: Access | None = None
    token: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def can(self, area: str) -> bool:
        if self.access is not None:
            return self.access.can(area)
        return area in DEFAULT_ROLES.get(self.role, DEFAULT_ROLES[MEMBER])
