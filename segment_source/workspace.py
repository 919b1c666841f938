"""The first request of every run, `GET /`: proves the token works and names the workspace.

Every failure here is reported as one sentence that says what to do, because it is the failure a new
user meets first (a wrong token, a token of the other region, a host that cannot be reached).
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from . import settings
from .client import SegmentAPIUnavailable, SegmentSession, outcome_of
from .outcomes import Kind, Outcome, received


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
    except SegmentAPIUnavailable as error:
        if error.outcome is None:  # it answered, with 429s: the message says so
            raise
        raise SegmentAPIUnavailable(_unreachable_message(host, error.outcome, session), error.outcome) from None
    finally:
        session.max_attempts = attempts
    if response.status_code in (401, 403):
        raise SegmentAuthError(_auth_message(host, region, response.status_code))
    if response.status_code == 200 and outcome_of(response).kind is not Kind.OK:
        raise SegmentResponseError(
            f"GET {url} answered {received(response)}, not JSON: this is not the Segment Public API (a proxy?)."
            " Check --region / --base-url."
        )
    if response.status_code != 200:
        raise SegmentResponseError(
            f"GET {url} answered HTTP {response.status_code}; is {host} the Segment Public API?"
            " Check --region / --base-url."
        )
    workspace = (response.json().get("data") or {}).get("workspace")
    if not isinstance(workspace, dict) or not workspace.get("id"):
        raise SegmentResponseError(f"GET {url} did not return a workspace; is {host} the Segment Public API?")
    return workspace


def _unreachable_message(host: str, outcome: Outcome, session: SegmentSession) -> str:
    if outcome.timed_out:
        return (f"The Segment API at {host} did not answer within {session.timeouts.read:g} s"
                f" ({PREFLIGHT_ATTEMPTS} attempts). Check the network, --region or --base-url;"
                " sources.segment.read_timeout_seconds sets how long to wait.")
    return (f"Cannot reach the Segment API at {host}: no answer after {PREFLIGHT_ATTEMPTS} attempts."
            " Check the network, --region or --base-url.")


def _auth_message(host: str, region: Optional[str], status: int) -> str:
    # a token only works in its workspace's region: the other region answers as if it were wrong
    other = "us" if (region or settings.DEFAULT_REGION).lower() == "eu" else "eu"
    hint = f" If the workspace is in the {other.upper()} region, try --region {other}."
    return (
        f"The Segment API at {host} refused the access token (HTTP {status}): check SEGMENT_ACCESS_TOKEN"
        f" or sources.segment.access_token, and that the token has read access to the workspace.{hint}"
    )
