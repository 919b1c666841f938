"""The Config API's pagination: `page_size` and `page_token` in, `next_page_token` out ("" after the last)."""

from __future__ import annotations

from typing import Any, Callable, List, Optional

from dlt.sources.helpers.rest_client.paginators import BasePaginator

from ..outcomes import Outcome, of_repeated_cursor

PAGE_SIZE = 100  # the largest page the API is known to serve (facts §2)


class PageTokenPaginator(BasePaginator):
    """Follows `next_page_token` until it is empty, missing or the page is empty. A token that comes back
    twice is a malformed answer: the walk stops and `on_malformed` gets its outcome."""

    def __init__(self, on_malformed: Optional[Callable[[Outcome], None]] = None) -> None:
        super().__init__()
        self.token: Optional[str] = None
        self._seen: set = set()
        self.on_malformed = on_malformed

    def init_request(self, request: Any) -> None:
        request.params = {**(request.params or {}), "page_size": PAGE_SIZE}

    def update_state(self, response: Any, data: Optional[List[Any]] = None) -> None:
        body = response.json()
        token = body.get("next_page_token") if isinstance(body, dict) else None
        if not token or not data:
            self._has_next_page = False
            return
        if token in self._seen:
            self._has_next_page = False
            if self.on_malformed is not None:
                self.on_malformed(of_repeated_cursor(response.request.path_url.split("?")[0], token))
            return
        self._seen.add(token)
        self.token = token

    def update_request(self, request: Any) -> None:
        request.params = {**(request.params or {}), "page_token": self.token}
