"""`python -m segment_emulator`: serve a generated workspace until interrupted.

    python -m segment_emulator --scale small --seed 42 --port 8765 --token test-token
    curl -H 'Authorization: Bearer test-token' 'http://127.0.0.1:8765/sources?pagination.count=2'
"""

from __future__ import annotations

import argparse
import time

from . import SCALES, Emulator, generate_workspace
from .pagination import LAST_PAGE_NEXT_MODES


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
    args = parser.parse_args(argv)

    workspace = generate_workspace(seed=args.seed, scale=args.scale)
    tokens = dict(args.token or [("test-token", "owner")])
    emulator = Emulator(workspace, tokens, port=args.port, latency_ms=args.latency_ms,
                        rate_limit_rps=args.rate_limit_rps, fault_rate=args.fault_rate,
                        last_page_next=args.last_page_next)
    with emulator:
        print(f"Segment Public API emulator on {emulator.base_url} ({args.scale}, seed {args.seed}): "
              f"{workspace.counts()}; tokens: {', '.join(f'{t} ({r})' for t, r in tokens.items())}", flush=True)
        try:
            while True:
                time.sleep(args.mutate_every or 3600)
                if args.mutate_every:
                    for mutation in workspace.mutate(count=1):
                        print(f"mutated: {mutation.kind} {mutation.table} {mutation.resource_id}", flush=True)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
