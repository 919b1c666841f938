"""The settings a Segment read runs with, resolved once from the caller and dlt's configuration, and the
session built from them.

`source_settings` is dlt-configurable like a source: every argument not given comes from
`sources.segment.<name>` (`.dlt/config.toml`, `.dlt/secrets.toml`, `SOURCES__SEGMENT__<NAME>`), the token
also from `SEGMENT_ACCESS_TOKEN`. The runner resolves them before the first request, opens the session,
reads `GET /` and plans the run; the source is then built from what it was handed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import dlt
from dlt.common.configuration import known_sections, with_config

from . import settings
from .client import SegmentSession
from .endpoints import PLACEHOLDER, Endpoint, select_endpoints
from .outcomes import Timeouts
from .rate_limit import RateLimiter
from .redaction import usable_token
from .report import ExtractionReport

# the sections dlt gives `@dlt.source(name="segment")` in this package, so both read the same keys
SECTIONS = (known_sections.SOURCES, "segment_source", "segment")


@dataclass(frozen=True)
class HttpSettings:
    """How requests are sent: concurrency, pacing, retries and timeouts."""

    max_concurrency: int = settings.DEFAULT_MAX_CONCURRENCY
    requests_per_minute: Optional[float] = None  # None: paced by the API's headers only
    retry_backoff_seconds: float = settings.BACKOFF_BASE_SECONDS
    timeouts: Timeouts = Timeouts()


@dataclass(frozen=True)
class SourceSettings:
    """Where to read (`host`, with the token), what (`resources`, `groups`) and how (`http`, `page_size`)."""

    access_token: str = field(repr=False)
    host: str
    region: str
    resources: Optional[Tuple[str, ...]] = None
    groups: Optional[Tuple[str, ...]] = None
    keep_write_keys: bool = False
    page_size: int = settings.MAX_PAGE_SIZE
    http: HttpSettings = HttpSettings()

    def endpoints(self) -> List[Endpoint]:
        return select_endpoints(self.resources, self.groups)


def resolve_base_url(region: Optional[str], base_url: Optional[str]) -> str:
    region = (region or settings.DEFAULT_REGION).strip().lower()
    if region not in settings.REGION_HOSTS:
        raise ValueError(
            f"Unknown Segment region {region!r}: use one of {', '.join(settings.REGION_HOSTS)}"
            " (sources.segment.region or --region)."
        )
    return base_url.rstrip("/") if base_url else settings.REGION_HOSTS[region]


@with_config(sections=SECTIONS)
def source_settings(
    access_token: Optional[str] = dlt.secrets.value,
    region: str = settings.DEFAULT_REGION,
    base_url: Optional[str] = None,
    resources: Optional[Sequence[str]] = None,
    groups: Optional[Sequence[str]] = None,
    max_concurrency: int = settings.DEFAULT_MAX_CONCURRENCY,
    requests_per_minute: Optional[float] = None,
    keep_write_keys: bool = False,
    page_size: int = settings.MAX_PAGE_SIZE,
    retry_backoff_seconds: float = settings.BACKOFF_BASE_SECONDS,
    connect_timeout_seconds: float = settings.CONNECT_TIMEOUT_SECONDS,
    read_timeout_seconds: float = settings.READ_TIMEOUT_SECONDS,
) -> SourceSettings:
    """The checked settings of one workspace's read; raises ValueError with what to do when one is wrong.

    Args:
        access_token: Public API token (`sources.segment.access_token` or `SEGMENT_ACCESS_TOKEN`).
        region: `us` (default) or `eu`; decides the API host.
        base_url: Overrides the host chosen by `region` (used with the emulator).
        resources: Table names to load (with the parents they need).
        groups: Resource groups to load (core, iam, engage, reverse_etl, privacy, catalog, metrics);
            without `resources` or `groups`, the default groups.
        max_concurrency: Requests in flight at once.
        requests_per_minute: Upper bound on this token's request rate (default: paced by the API's headers only).
        keep_write_keys: Store source write keys in clear instead of a fingerprint.
        page_size: Items per page, at most each endpoint's cap (default 1000, the API's maximum).
        retry_backoff_seconds: First wait before retrying a failed request; doubles per attempt.
        connect_timeout_seconds: Longest wait for a connection to the API.
        read_timeout_seconds: Longest wait for data, and for a page's body to arrive in full.
    """
    token = usable_token(access_token or os.environ.get("SEGMENT_ACCESS_TOKEN"))
    if not token:
        raise ValueError(
            "No Segment access token: set SEGMENT_ACCESS_TOKEN or sources.segment.access_token"
            " in .dlt/secrets.toml."
        )
    host = resolve_base_url(region, base_url)
    select_endpoints(resources, groups)  # unknown names are refused before any request
    return SourceSettings(
        access_token=token,
        host=host,
        region=region,
        resources=tuple(resources) if resources else None,
        groups=tuple(groups) if groups else None,
        keep_write_keys=keep_write_keys,
        page_size=page_size,
        http=HttpSettings(max_concurrency, requests_per_minute, retry_backoff_seconds,
                          Timeouts(connect_timeout_seconds, read_timeout_seconds)),
    )


def open_session(source: SourceSettings, report: ExtractionReport) -> SegmentSession:
    """The read-only session of one run, signed in with the token; it skips requests to tables the report
    already knows cannot be read."""
    http = source.http
    session = build_session(source.endpoints(), http.max_concurrency, http.requests_per_minute,
                            http.retry_backoff_seconds, report, http.timeouts)
    session.headers["Authorization"] = f"Bearer {source.access_token}"
    return session


def build_session(
    endpoints: Sequence[Endpoint],
    max_concurrency: int,
    requests_per_minute: Optional[float],
    retry_backoff_seconds: float = settings.BACKOFF_BASE_SECONDS,
    report: Optional[ExtractionReport] = None,
    timeouts: Timeouts = Timeouts(),
) -> SegmentSession:
    patterns = [(re.compile("^/" + PLACEHOLDER.sub("[^/]+", e.path) + "$"), e) for e in endpoints]

    def endpoint_of(path: str) -> Optional[Endpoint]:
        return next((endpoint for pattern, endpoint in patterns if pattern.match(path)), None)

    def already_skipped(path: str) -> bool:
        # once a table is known to be unreadable (e.g. 401 for every parent), asking again is waste; so is
        # a request whose parent proved it empty
        if report is None:
            return False
        endpoint = endpoint_of(path)
        return endpoint is not None and (report.is_skipped(endpoint.table_name) or report.is_unneeded(path))

    limits = {e.name: e.rate_limit_per_minute for e in endpoints if e.rate_limit_per_minute}
    return SegmentSession(
        rate_limiter=RateLimiter(requests_per_minute, limits),
        endpoint_of=endpoint_of,
        already_skipped=already_skipped,
        max_concurrency=max_concurrency,
        backoff_base=retry_backoff_seconds,
        timeouts=timeouts,
    )
