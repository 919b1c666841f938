"""What a failure means to the user: its exit code (the README's table) and the one sentence that says why.

Exit codes: 0 success (permission gaps are reported, not failures); 1 unexpected error; 2 invalid usage or
configuration (also: no history where a query looked); 3 token refused; 4 API unreachable or failing;
5 destination error; 6 partial snapshot (a table could not be read completely and was not loaded);
7 another run of the same pipeline is in progress.
"""

from __future__ import annotations

import re
from typing import List, Optional

from segment_source.redaction import scrub

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_AUTH, EXIT_API, EXIT_DESTINATION, EXIT_PARTIAL, EXIT_LOCKED = range(8)
# a driver's message longer than this is cut at a sentence end, keeping its first sentences whole
MAX_CAUSE_LENGTH = 400
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class UsageError(ValueError):
    """Invalid usage or configuration: the message says what to change."""


class NoHistory(UsageError):
    """A query found no history where it was pointed (wrong path, dataset or destination)."""


class DestinationUnavailable(RuntimeError):
    """The destination could not be opened before the run started."""


class RunInProgress(RuntimeError):
    """Another run holds the pipeline's lock."""


def exit_code_for(exc: BaseException) -> int:
    from dlt.common.configuration.exceptions import ConfigurationException
    from dlt.common.destination.exceptions import InvalidDestinationReference, UnknownDestinationModule
    from dlt.common.exceptions import MissingDependencyException

    from segment_source.client import ReadOnlyViolation, SegmentAPIUnavailable
    from segment_source.workspace import SegmentAuthError, SegmentResponseError


    chain = causes(exc)
    configuration = (ConfigurationException, UnknownDestinationModule, InvalidDestinationReference,
                     MissingDependencyException)
    if any(isinstance(cause, configuration) for cause in chain):
        return EXIT_USAGE  # something to configure or install, wherever it surfaced (e.g. opening a destination)
    for cause in chain:
        if isinstance(cause, SegmentAuthError):
            return EXIT_AUTH
        if isinstance(cause, (SegmentAPIUnavailable, SegmentResponseError)):
            return EXIT_API
        if isinstance(cause, DestinationUnavailable):
            return EXIT_DESTINATION
        if isinstance(cause, RunInProgress):
            return EXIT_LOCKED
        if isinstance(cause, (ValueError, ReadOnlyViolation)):
            return EXIT_USAGE
    if _is_destination_error(exc):
        return EXIT_DESTINATION
    return EXIT_ERROR


def causes(exc: BaseException) -> List[BaseException]:
    """The exception and what caused it, outermost first (dlt wraps what a source raises)."""
    seen: List[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)  # type: ignore[assignment]
    return seen


def _is_destination_error(exc: BaseException) -> bool:
    from dlt.common.destination.exceptions import DestinationException
    from dlt.destinations.exceptions import DatabaseException

    return any(isinstance(c, (DestinationException, DatabaseException)) for c in causes(exc))


def one_sentence(exc: BaseException) -> str:
    """The message we wrote ourselves, else dlt's configuration message, else the first message that is
    not dlt's wrapping; on one line, secrets scrubbed."""
    from dlt.common.configuration.exceptions import ConfigurationException

    chain = causes(exc)
    ours = [c for c in chain if _module(c).startswith(("segment_source", "pipelines"))]
    if not ours:
        explained = next((text for text in map(_explained, chain) if text), None)
        if explained:
            return scrub(explained)
    config = [c for c in chain if isinstance(c, ConfigurationException)]
    foreign = [c for c in chain if not _module(c).startswith("dlt")]
    chosen = (ours or config or foreign or chain[-1:])[0]
    text = _one_line(chosen)
    return scrub(text if chosen in ours else shortened(text))


def _explained(exc: BaseException) -> Optional[str]:
    """Our sentence for a dlt error whose own message is a page long."""
    from dlt.common.destination.exceptions import UnknownDestinationModule

    if isinstance(exc, UnknownDestinationModule):
        return (f"Unknown destination {exc.ref!r}: use duckdb, postgres, filesystem or another dlt destination"
                " (with its extra installed), or a destination named in .dlt/config.toml with a destination_type.")
    return None


def cause_of(exc: BaseException) -> str:
    """What a driver said, without dlt's wrapping around it (which ends with the driver's message,
    after 300 characters of advice): the innermost message, its first sentences whole."""
    return scrub(shortened(_one_line(causes(exc)[-1])))


def shortened(text: str, limit: int = MAX_CAUSE_LENGTH) -> str:
    """`text` if it is short enough, else as many of its first sentences as fit (a driver says what went
    wrong first, then its details), else its first `limit` characters cut at a word."""
    if len(text) <= limit:
        return text
    kept = ""
    for sentence in SENTENCE_END.split(text):
        candidate = f"{kept} {sentence}".strip()
        if len(candidate) > limit:
            break
        kept = candidate
    return kept or text[:limit].rsplit(" ", 1)[0] + " …"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _module(exc: BaseException) -> str:
    return type(exc).__module__ or ""
