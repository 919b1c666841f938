"""Segment's cursor pagination, for the tables and for the audit trail the runner reads to plan a run."""

from __future__ import annotations

from typing import Any, Callable, List, Optional

from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator

from .outcomes import Outcome, of_repeated_cursor

CURSOR_PATH = "data.pagination.next"


class RepeatedCursor(RuntimeError):
    """A cursor came back twice (for a paginator that has no table to skip)."""


class SegmentCursorPaginator(JSONResponseCursorPaginator):
    """Segment's cursor: `pagination.cursor` in, `data.pagination.next` out, stop on a missing, null or
    empty `next` or an empty page. A cursor that comes back twice is a malformed answer, not an end: the
    walk stops and `on_malformed` gets its outcome (without it, `RepeatedCursor` is raised)."""

    def __init__(
        self, cursor_path: str = CURSOR_PATH, cursor_param: str = "pagination.cursor",
        on_malformed: Optional[Callable[[Outcome], None]] = None,
    ) -> None:
        super().__init__(cursor_path=cursor_path, cursor_param=cursor_param, stop_after_empty_page=True)
        self._seen_cursors: set = set()
        # a function, not a bound method: dlt deep-copies the paginator for each parent of a child table
        self.on_malformed = on_malformed

    def update_state(self, response: Any, data: Optional[List[Any]] = None) -> None:
        super().update_state(response, data)
        cursor = self._next_reference
        if cursor is None:
            return
        if cursor in self._seen_cursors:
            self._has_next_page = False
            outcome = of_repeated_cursor(response.request.path_url.split("?")[0], cursor)
            if self.on_malformed is None:
                raise RepeatedCursor(outcome.reason)
            self.on_malformed(outcome)
        self._seen_cursors.add(cursor)
