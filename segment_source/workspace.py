"""The first request of every run, `GET /`: proves the token works and names the workspace.

Every failure here is reported as one sentence that says what to do, because it is the failure a new
user meets first (a wrong token, a token of the other region, a host that cannot be reached).
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from . import settings
from .client import SegmentAPIUnavailable, SegmentSession


# A host that does not answer at all fails fast; a flaky one still gets retried later in the run.
PREFLIGHT_ATTEMPTS = 3


class SegmentAuthError(RuntimeError):
    """The token was refused by `GET /`."""


class SegmentResponseError(RuntimeError):
    """`GET /` answered something that is not a workspace."""


def fetch_workspace(session: SegmentSession, host: str, region: Optional[str]) -> Dict[str, Any]:
    url = host + "/"
    attempts, session.max_attempts = session.max_attempts, PREFLIGHT_ATTEMPTS
    try:
        response = session.get(url, headers={"Accept": settings.MEDIA_TYPES["stable"]})
    except SegmentAPIUnavailable:
        raise SegmentAPIUnavailable(
            f"Cannot reach the Segment API at {host}: no answer after {PREFLIGHT_ATTEMPTS} attempts."
            " Check the network, --region or --base-url."
        ) from None
    finally:
        session.max_attempts = attempts
    if response.status_code in (401, 403):
        raise SegmentAuthError(_auth_message(host, region, response.status_code))
    if response.status_code != 200:
        raise SegmentResponseError(
            f"GET {url} answered HTTP {response.status_code}; is {host} the Segment Public API?"
            " Check --region / --base-url."
        )
    workspace = (response.json().get("data") or {}).get("workspace")
    if not isinstance(workspace, dict) or not workspace.get("id"):
        raise SegmentResponseError(f"GET {url} did not return a workspace; is {host} the Segment Public API?")
    return workspace


def _auth_message(host: str, region: Optional[str], status: int) -> str:
    # a token only works in its workspace's region: the other region answers as if it were wrong
    other = "us" if (region or settings.DEFAULT_REGION).lower() == "eu" else "eu"
    hint = f" If the workspace is in the {other.upper()} region, try --region {other}."
    return (
        f"The Segment API at {host} refused the access token (HTTP {status}): check SEGMENT_ACCESS_TOKEN"
        f" or sources.segment.access_token, and that the token has read access to the workspace.{hint}"
    )
