"""Sink settings, read the dlt way: `[notify.segment]`, `[notify.slack]`, `[notify.webhook]` in
`.dlt/config.toml` / `.dlt/secrets.toml`, or environment variables (`NOTIFY__SLACK__WEBHOOK_URL`).

Settings shared by every sink (`timeout`, `max_attempts`, `backoff_seconds`) can also be set once under
`[notify]`; dlt looks in the sink's section first. A sink is configured when its secret (write key,
webhook URL, URL) is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional

from dlt.common.configuration import configspec, resolve_configuration
from dlt.common.configuration.exceptions import ConfigurationException
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.typing import Annotated, SecretSentinel, TSecretStrValue

from .filters import ChangeFilter

TRACKING_API_US = "https://api.segment.io"
DEFAULT_EVENT = "Segment Config Changed"


@configspec
class SinkConfiguration(BaseConfiguration):
    timeout: float = 10.0  # seconds per request
    max_attempts: int = 3  # requests per delivery when the sink is down, answers 5xx or 429, or times out
    backoff_seconds: float = 1.0  # first wait between attempts; doubles each time
    resource_types: Optional[List[str]] = None
    change_kinds: Optional[List[str]] = None
    fields: Optional[List[str]] = None
    labels: Optional[List[str]] = None
    exclude_actors: Optional[List[str]] = None


@configspec
class SegmentSinkConfiguration(SinkConfiguration):
    write_key: Optional[TSecretStrValue] = None
    endpoint: str = TRACKING_API_US
    event: str = DEFAULT_EVENT


@configspec
class SlackSinkConfiguration(SinkConfiguration):
    webhook_url: Optional[TSecretStrValue] = None


@configspec
class WebhookSinkConfiguration(SinkConfiguration):
    url: Optional[TSecretStrValue] = None
    headers: Optional[Annotated[Dict[str, str], SecretSentinel]] = None


SINK_SETTINGS = {
    "segment": (SegmentSinkConfiguration, "write_key"),
    "slack": (SlackSinkConfiguration, "webhook_url"),
    "webhook": (WebhookSinkConfiguration, "url"),
}


@dataclass(frozen=True)
class Delivery:
    """How a sink sends: the settings every sink shares."""

    timeout: float = 10.0
    max_attempts: int = 3
    backoff_seconds: float = 1.0


def read_settings(sink: str) -> Optional[SinkConfiguration]:
    """The sink's resolved settings, or None when its secret is not set."""
    spec, secret = SINK_SETTINGS[sink]
    try:
        settings = resolve_configuration(spec(), sections=("notify", sink), accept_partial=True)
    except ConfigurationException as exc:  # dlt's message names the key, never the value
        raise ValueError(f"notify.{sink}: {' '.join(str(exc).split())}") from None
    if not getattr(settings, secret):
        return None
    _check_delivery(sink, settings)
    return settings


def delivery_of(settings: SinkConfiguration) -> Delivery:
    return Delivery(settings.timeout, settings.max_attempts, settings.backoff_seconds)


def filter_of(sink: str, settings: SinkConfiguration) -> ChangeFilter:
    return ChangeFilter.build(sink, resource_types=settings.resource_types, change_kinds=settings.change_kinds,
                              fields=settings.fields, labels=settings.labels, exclude_actors=settings.exclude_actors)


def _check_delivery(sink: str, settings: SinkConfiguration) -> None:
    if settings.timeout <= 0 or settings.max_attempts < 1 or settings.backoff_seconds < 0:
        raise ValueError(f"notify.{sink}: timeout must be positive, max_attempts at least 1 and backoff_seconds"
                         " not negative.")
