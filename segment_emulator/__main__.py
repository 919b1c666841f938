"""`python -m segment_emulator`: serve a generated workspace until interrupted.

    python -m segment_emulator --scale small --seed 42 --port 8765 --token test-token
    curl -H 'Authorization: Bearer test-token' 'http://127.0.0.1:8765/sources?pagination.count=2'
"""

from __future__ import annotations

import argparse
import json
import time

from . import FEATURES, SCALES, Emulator, generate_workspace, route_table
from .pagination import LAST_PAGE_NEXT_MODES
from .server import REGIONS


def _token(text: str) -> tuple[str, str]:
    token, _, role = text.partition(":")
    return token, role or "owner"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m segment_emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=list(SCALES), default="small")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", type=_token, action="append", help="TOKEN or TOKEN:member (repeatable)")
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--rate-limit-rps", type=float, default=None)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--last-page-next", choices=LAST_PAGE_NEXT_MODES, default="absent")
    parser.add_argument("--mutate-every", type=float, default=0, help="apply a random mutation every N seconds")
    parser.add_argument("--mutation-kinds", choices=("core", "surface", "all"), default="core",
                        help="which mutation kinds --mutate-every draws from")
    parser.add_argument("--hostile", action="store_true", help="add unicode/huge/deep/colliding fixtures")
    parser.add_argument("--region", choices=list(REGIONS), default="us")
    parser.add_argument("--disable-feature", action="append", choices=FEATURES, default=[],
                        help="a plan feature the workspace lacks (repeatable)")
    parser.add_argument("--disabled-feature-status", type=int, default=403, choices=(401, 403, 404, 422))
    parser.add_argument("--disable-alpha", action="store_true", help="403 on alpha-only endpoints")
    parser.add_argument("--routes", action="store_true", help="print the route table as JSON and exit")
    args = parser.parse_args(argv)

    if args.routes:
        print(json.dumps(route_table(), indent=1))
        return
    workspace = generate_workspace(seed=args.seed, scale=args.scale, hostile=args.hostile)
    tokens = dict(args.token or [("test-token", "owner")])
    emulator = Emulator(workspace, tokens, port=args.port, latency_ms=args.latency_ms,
                        rate_limit_rps=args.rate_limit_rps, fault_rate=args.fault_rate,
                        last_page_next=args.last_page_next, region=args.region,
                        disabled_features=args.disable_feature,
                        disabled_feature_status=args.disabled_feature_status, disabled_alpha=args.disable_alpha)
    kinds = None if args.mutation_kinds == "core" else args.mutation_kinds
    with emulator:
        print(f"Segment Public API emulator on {emulator.base_url} ({args.scale}, seed {args.seed}): "
              f"{workspace.counts()}; tokens: {', '.join(f'{t} ({r})' for t, r in tokens.items())}", flush=True)
        try:
            while True:
                time.sleep(args.mutate_every or 3600)
                if args.mutate_every:
                    for mutation in workspace.mutate(count=1, kinds=kinds):
                        print(f"mutated: {mutation.kind} {mutation.table} {mutation.resource_id}", flush=True)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
