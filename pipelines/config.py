"""Settings a run reads from the command line or from dlt's configuration, checked by one rule each.

A flag wins over `sources.segment.<name>` (`.dlt/config.toml`, `.dlt/secrets.toml` or
`SOURCES__SEGMENT__<NAME>`); either way the value is checked the same way and a bad one stops the
command before any work, with a message naming where it came from. Nothing is silently replaced by
a default: only a setting that is absent is.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Optional, TypeVar

import dlt

from segment_source import settings
from segment_source.options import resolve_base_url

from .change_runs import DEFAULT_FULL_SNAPSHOT_EVERY
from .errors import UsageError

T = TypeVar("T")
Check = Callable[[Any, str], T]


def positive_whole_number(value: Any, name: str) -> int:
    text = "" if isinstance(value, bool) else str(value).strip()
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise UsageError(f"{name} must be a positive whole number, not {value!r}.")
    return int(text)


def positive_number(value: Any, name: str) -> float:
    try:
        number = float(str(value).strip()) if not isinstance(value, bool) else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise UsageError(f"{name} must be a positive number, not {value!r}.")
    return number


def region(value: Any, name: str) -> str:
    """`us` or `eu`, in any case: the rule the source applies when it picks the host."""
    resolve_base_url(str(value), None)  # its message names both the flag and the setting
    return str(value).strip().lower()


APIS = ("public", "config")


def api(value: Any, name: str) -> str:
    """`public` (the Public API) or `config` (the legacy Config API), in any case."""
    text = str(value).strip().lower()
    if text not in APIS:
        raise UsageError(f"{name} must be public or config, not {value!r}.")
    return text


def setting(name: str, given: Any, check: Check[T]) -> Optional[T]:
    """The flag's value if one was given, else `sources.segment.<name>` if configured, else None."""
    if given is not None:
        return check(given, "--" + name.replace("_", "-"))
    key = f"sources.segment.{name}"
    value = dlt.config.get(key)
    return None if value is None else check(value, key)


def run_settings(region_flag: Optional[str], max_concurrency_flag: Optional[int],
                 requests_per_minute_flag: Optional[float], api_flag: Optional[str] = None) -> Dict[str, Any]:
    """The settings of `segment-history run` that have no default in RunOptions, checked up front."""
    full_snapshot_every()
    return {
        "api": setting("api", api_flag, api),
        "region": setting("region", region_flag, region),
        "max_concurrency": setting("max_concurrency", max_concurrency_flag, positive_whole_number),
        "requests_per_minute": setting("requests_per_minute", requests_per_minute_flag, positive_number),
    }


def max_concurrency(given: Optional[int] = None) -> int:
    """Most requests in flight at once; dlt's extract thread pool is sized to it too."""
    return setting("max_concurrency", given, positive_whole_number) or settings.DEFAULT_MAX_CONCURRENCY


def full_snapshot_every(given: Optional[int] = None) -> int:
    """With `--mode changes`, every Nth run is a full snapshot."""
    return setting("full_snapshot_every", given, positive_whole_number) or DEFAULT_FULL_SNAPSHOT_EVERY
