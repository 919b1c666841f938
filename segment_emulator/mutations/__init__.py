"""Configuration changes between pipeline runs, each recorded in the audit trail like Segment would.

`ws.apply(kind, **kw)` runs one kind from `KINDS`; keyword arguments pin the target (e.g. `source_id=`) and the
new values, everything left out is chosen at random. `ws.mutate(count)` applies random applicable kinds.
A `Mutation` says what a config diff should find through the API: the table, the row's id (natural keys for
id-less rows, see `natural keys` below), the change and the changed fields in API dot notation.

Natural keys: rules `"{tracking_plan_id}:{type}:{key or ''}:{version}"`, labels `"{key}:{value}"`,
source_warehouses `"{source_id}:{warehouse_id}"`, tracking_plan_sources `"{tracking_plan_id}:{source_id}"`;
the rows that disappear with their parent are listed in `cascades.py`, the surface kinds' in their modules.

`base.py` says what a mutation is; one module per area holds its kinds. The core kinds (`sources` to
`labels`) are what `ws.mutate()` draws from by default; the surface kinds (`access`, `delivery`, `engage`,
`suppressions`) are opt-in (`kinds="surface"` or `"all"`).
"""

from __future__ import annotations

from random import Random
from typing import Any

from ..state import WorkspaceState
from .base import KINDS, RANDOM_WEIGHTS, SURFACE_WEIGHTS, Change, Mutation, NotApplicable

# The kinds register in import order, and that order is part of every seed's random draw
# (`rng.choices(names, weights)`): a reordering here changes every generated mutation sequence.
from . import sources, destinations, warehouses, tracking_plans, functions, labels  # noqa: F401
from . import access, delivery, engage, suppressions  # noqa: F401


__all__ = ["KINDS", "RANDOM_WEIGHTS", "SURFACE_WEIGHTS", "Mutation", "NotApplicable", "apply_mutation",
           "random_mutations"]


def apply_mutation(ws: WorkspaceState, rng: Random, kind_name: str, actor: str | None = None,
                   actor_email: str | None = None, **kwargs: Any) -> Mutation:
    if kind_name not in KINDS:
        raise ValueError(f"unknown mutation kind {kind_name!r}; known: {', '.join(sorted(KINDS))}")
    if actor is None:
        actor, actor_email = _random_actor(rng, ws)
    try:
        mutation = KINDS[kind_name](Change(ws, rng, kind_name, actor, actor_email), **kwargs)
    finally:
        ws.touch()
    for effect in mutation.cascade:
        effect.audit_event_id, effect.audit_resource_id = mutation.audit_event_id, mutation.audit_resource_id
    return mutation


def _pool(kinds: str | Any | None) -> dict[str, int]:
    """None: the core kinds (what `mutate` always did); "all": core and surface kinds; else the named kinds."""
    if kinds is None:
        return dict(RANDOM_WEIGHTS)
    if kinds == "all":
        return {**RANDOM_WEIGHTS, **SURFACE_WEIGHTS}
    if kinds == "surface":
        return dict(SURFACE_WEIGHTS)
    names = list(kinds)
    unknown = [name for name in names if name not in KINDS]
    if unknown:
        raise ValueError(f"unknown mutation kinds {unknown}")
    return {name: RANDOM_WEIGHTS.get(name) or SURFACE_WEIGHTS.get(name) or 1 for name in names}


def random_mutations(ws: WorkspaceState, rng: Random, count: int, kinds: str | Any | None = None) -> list[Mutation]:
    applied: list[Mutation] = []
    pool = _pool(kinds)
    names, weights = list(pool), list(pool.values())
    attempts = 0
    while len(applied) < count and attempts < count * 20:
        attempts += 1
        try:
            applied.append(apply_mutation(ws, rng, rng.choices(names, weights)[0]))
        except NotApplicable:
            continue
    return applied


def _random_actor(rng: Random, ws: WorkspaceState) -> tuple[str, str | None]:
    if ws.api_tokens and (not ws.users or rng.random() < 0.3):
        return rng.choice(ws.api_tokens), None
    user = rng.choice(ws.users)
    return user["id"], user["email"]
