"""API version negotiation through the `Accept` header (facts §1.4).

`application/json`, `*/*`, `application/*` or no Accept at all get the most mature version the endpoint has
(stable, else beta, else alpha). Both the SDK spellings (`vnd.segment.v1beta+json`) and the docs' spellings
(`vnd.segment.beta+json`) select a version. Our choices where the facts are silent: an Accept that only names
Segment versions the endpoint lacks gets 415; an Accept naming nothing we recognise (e.g. `text/html`) is
treated like `*/*`, as lenient servers do.
"""

from __future__ import annotations

from .errors import unsupported_version

STABLE, BETA, ALPHA = "v1", "v1beta", "v1alpha"
ALL_VERSIONS = (STABLE, BETA, ALPHA)  # most mature first
ALPHA_ONLY = (ALPHA,)

_SPELLINGS = {STABLE: STABLE, "stable": STABLE, BETA: BETA, "beta": BETA, ALPHA: ALPHA, "alpha": ALPHA}
_ANY = {"application/json", "*/*", "application/*"}


def media_type(version: str) -> str:
    return f"application/vnd.segment.{version}+json"


def _ranges(accept: str) -> list[str]:
    """Media ranges in preference order (by q, then as written), without parameters; q=0 ranges dropped."""
    weighted = []
    for position, part in enumerate(accept.split(",")):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media and quality > 0:
            weighted.append((-quality, position, media.lower()))
    return [media for _, _, media in sorted(weighted)]


def _version_of(media: str) -> str | None:
    if media.startswith("application/vnd.segment.") and media.endswith("+json"):
        return _SPELLINGS.get(media[len("application/vnd.segment."):-len("+json")], "unknown")
    return None


def negotiate(accept: str | None, available: tuple[str, ...]) -> str:
    """The version to serve, or raise the 415 ApiError."""
    if not accept or not accept.strip():
        return available[0]
    asked_for_segment_version = False
    for media in _ranges(accept):
        if media in _ANY:
            return available[0]
        version = _version_of(media)
        if version in available:
            return version
        asked_for_segment_version |= version is not None
    if asked_for_segment_version:
        raise unsupported_version(accept, [media_type(version) for version in available])
    return available[0]

# The other Accept lists the SDK declares for GET operations (facts §1.4), most mature first.
STABLE_ONLY = (STABLE,)  # credentials: `v1,json` only
STABLE_ALPHA = (STABLE, ALPHA)  # audience schedules, echo
BETA_ONLY = (BETA,)  # the six Delivery Overview endpoints
BETA_ALPHA = (BETA, ALPHA)  # delivery metrics summary, space filters
