"""Reading the moments the command line takes (`--since 7d`, `--at 2026-03-01`): `pipelines.queries.parse_moment`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pipelines.errors import UsageError
from pipelines.queries import parse_moment

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
PARIS = timezone(timedelta(hours=1))


@pytest.mark.parametrize("text, moment", [
    ("7d", NOW - timedelta(days=7)),
    ("12h", NOW - timedelta(hours=12)),
    ("30m", NOW - timedelta(minutes=30)),
    (" 2 d ", NOW - timedelta(days=2)),
    ("0d", NOW),
    ("2026-03-01", datetime(2026, 3, 1, tzinfo=timezone.utc)),  # a date is its midnight, UTC
    ("2026-03-01T12:00:00Z", datetime(2026, 3, 1, 12, tzinfo=timezone.utc)),
    ("2026-03-01T12:00:00", datetime(2026, 3, 1, 12, tzinfo=timezone.utc)),  # UTC unless it says otherwise
    ("2026-03-01T12:00:00+01:00", datetime(2026, 3, 1, 12, tzinfo=PARIS)),
])
def test_a_moment_is_a_span_ago_or_an_iso_date_or_time(text, moment):
    parsed = parse_moment(text, now=NOW)
    assert parsed == moment and parsed.tzinfo is not None


@pytest.mark.parametrize("text", ["7 days", "yesterday", "7w", "-3d", "", "2026-13-01"])
def test_anything_else_is_refused_with_examples_of_what_works(text):
    with pytest.raises(UsageError, match=r"Cannot read .* as a moment: use e\.g\. 7d, 12h, 2026-03-01"):
        parse_moment(text, now=NOW)


def test_a_span_reaching_before_the_year_1_is_refused():
    with pytest.raises(UsageError, match="reaches back before the year 1: use a shorter span"):
        parse_moment("999999999d", now=NOW)
