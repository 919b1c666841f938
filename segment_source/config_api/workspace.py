"""The Config API run's first requests: the token works, and which workspace it reads.

`GET /workspaces` lists what the token sees; with one workspace that is the one, with several the user
names it (`--workspace-slug`). Every failure is one sentence that names the Config API and what to do.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from ..client import SegmentAPIUnavailable, SegmentSession, outcome_of
from ..outcomes import Kind
from ..workspace import PREFLIGHT_ATTEMPTS, SegmentAuthError, SegmentResponseError


def fetch_config_workspace(session: SegmentSession, base: str, slug: Optional[str]) -> Dict[str, Any]:
    body = _get(session, f"{base}/workspaces", base, slug)
    seen = [item for item in body.get("workspaces") or [] if isinstance(item, dict) and item.get("name")]
    slugs = [item["name"].rsplit("/", 1)[-1] for item in seen]
    if slug is None:
        if len(seen) != 1:
            raise ValueError(f"The Config API token sees {len(seen)} workspaces ({', '.join(slugs) or 'none'}):"
                             " name one with --workspace-slug.")
        chosen = seen[0]
    else:
        chosen = _get(session, f"{base}/workspaces/{slug}", base, slug)
    if not chosen.get("id") or not chosen.get("name"):
        raise SegmentResponseError(f"GET {base}/workspaces did not return a workspace; is {base} the Config API?")
    return {"id": chosen["id"], "slug": chosen["name"].rsplit("/", 1)[-1], "name": chosen.get("display_name"),
            "raw": chosen}


def _get(session: SegmentSession, url: str, base: str, slug: Optional[str]) -> Dict[str, Any]:
    attempts, session.max_attempts = session.max_attempts, PREFLIGHT_ATTEMPTS
    try:
        response = session.get(url)
    except SegmentAPIUnavailable as error:
        raise SegmentAPIUnavailable(f"Cannot reach the Config API at {base}: no answer after {PREFLIGHT_ATTEMPTS}"
                                    " attempts. Check the network and --base-url.", error.outcome) from None
    finally:
        session.max_attempts = attempts
    if response.status_code == 401:
        raise SegmentAuthError(
            f"The Config API at {base} refused the token (HTTP 401): Config API tokens are separate from Public"
            " API tokens; use a Config API token, or --api public for a Public API token.")
    if response.status_code in (403, 404) and slug is not None:
        raise ValueError(f"The Config API token cannot see workspace {slug!r} (HTTP {response.status_code}):"
                         " check --workspace-slug (without it, the one workspace the token sees is read).")
    if response.status_code != 200 or outcome_of(response).kind is not Kind.OK:
        raise SegmentResponseError(f"GET {url} answered HTTP {response.status_code}; is {base} the Config API"
                                   " (its base includes /v1beta)? Check --base-url.")
    return response.json()
