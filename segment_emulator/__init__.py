"""A local, deterministic emulator of the Twilio Segment Public API (GET endpoints only).

    from segment_emulator import Emulator, generate_workspace

    ws = generate_workspace(seed=42, scale="small")
    with Emulator(ws, tokens={"test-token": "owner"}) as emu:
        ...  # point a client at emu.base_url
        ws.mutate(count=5)  # change the config between runs; each change lands in the audit trail

Modules: `generate` (workspace content), `catalog`, `rules` and `vocabulary` (realistic data), `workspace`
(state and lookups), `mutations`, `routes` (the endpoint table), `server` (HTTP pipeline), `pagination`,
`audit`, `versions`, `ratelimit`, `errors`.
"""

from .generate import SCALES, generate_workspace
from .mutations import KINDS as MUTATION_KINDS
from .mutations import Mutation, NotApplicable
from .routes import ROUTES, Route
from .server import Emulator, RequestRecord
from .workspace import Workspace

__all__ = ["Emulator", "MUTATION_KINDS", "Mutation", "NotApplicable", "ROUTES", "RequestRecord", "Route", "SCALES",
           "Workspace", "generate_workspace"]
