"""A local, deterministic emulator of the Twilio Segment Public API (GET endpoints only), and of the
Tracking API's `POST /v1/batch` and `/v1/track` (the alerts segment-history sends).

    from segment_emulator import Emulator, generate_workspace

    ws = generate_workspace(seed=42, scale="small")
    with Emulator(ws, tokens={"test-token": "owner"}) as emu:
        ...  # point a client at emu.base_url
        ws.mutate(count=5)  # change the config between runs; each change lands in the audit trail

Modules: `generate` (workspace content; the newer collections come from `iam`, `connections`, `engage`, `privacy`,
and `hostile` for stress fixtures), `catalog`, `rules` and `vocabulary` (realistic data), `state` (the workspace's
collections and lookups), `mutations/` (the changes between runs, one module per area, on a public `base`),
`workspace` (the state plus `mutate`/`apply`), `routes` (the endpoint table) with `call` (a request as a handler
sees it), `handlers` and `metrics` (computed metrics and job histories), `permissions` (roles, plan features, alpha
enablement), `server` (HTTP pipeline), `tracking` (the Tracking API: the events it received), `pagination`, `audit`,
`versions`, `ratelimit`, `errors`, `examples` (a concrete request for every route).
"""

from .examples import example_requests
from .generate import SCALES, generate_workspace
from .mutations import KINDS as MUTATION_KINDS
from .mutations import SURFACE_WEIGHTS, Mutation, NotApplicable
from .permissions import AREAS, DEFAULT_ROLES, FEATURES
from .routes import ROUTES, Route, route_table
from .server import Emulator, RequestRecord
from .workspace import Workspace

SURFACE_MUTATION_KINDS = tuple(SURFACE_WEIGHTS)

__all__ = ["AREAS", "DEFAULT_ROLES", "Emulator", "FEATURES", "MUTATION_KINDS", "Mutation", "NotApplicable", "ROUTES",
           "RequestRecord", "Route", "SCALES", "SURFACE_MUTATION_KINDS", "Workspace", "example_requests",
           "generate_workspace", "route_table"]
