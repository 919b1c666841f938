"""The webhook sink (`[notify.webhook]`): one JSON POST per run with its change rows.

    {"workspace_id": ..., "workspace_name": ..., "run_id": ..., "observed_at": ..., "change_count": N,
     "changes": [{"change_id": ..., <every config_changes column>}, ...]}

`headers` (a secret: it usually carries a token) are sent with every request.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from .changes import CHANGE_COLUMNS, Change
from .config import Delivery, WebhookSinkConfiguration
from .delivery import Outcome, to_json_bytes
from .filters import ChangeFilter
from .sink import Sink, by_run


def payload(changes: Sequence[Change], workspace_name: str) -> Dict[str, Any]:
    """The body for the changes of one run."""
    first = changes[0]
    return {
        "workspace_id": first["workspace_id"],
        "workspace_name": workspace_name,
        "run_id": first["run_id"],
        "observed_at": first["observed_at"].isoformat() if hasattr(first["observed_at"], "isoformat")
        else first["observed_at"],
        "change_count": len(changes),
        "changes": [{"change_id": c["change_id"], **{column: c[column] for column in CHANGE_COLUMNS}}
                    for c in changes],
    }


class WebhookSink(Sink):
    name = "webhook"
    service = "the webhook"

    def __init__(self, url: str, headers: Optional[Dict[str, str]] = None,
                 change_filter: ChangeFilter = ChangeFilter(), delivery: Delivery = Delivery()) -> None:
        super().__init__(change_filter, delivery)
        self._url = url
        self._headers = dict(headers or {})

    @classmethod
    def from_settings(cls, settings: WebhookSinkConfiguration, change_filter: ChangeFilter,
                      delivery: Delivery) -> "WebhookSink":
        return cls(settings.url, settings.headers, change_filter, delivery)

    def url(self) -> str:
        return self._url

    def headers(self) -> Optional[Dict[str, str]]:
        return self._headers

    def secrets(self) -> Tuple[Optional[str], ...]:
        return (self._url, *self._headers.values())

    def bodies(self, changes: Sequence[Change], workspace_names: Dict[str, str]) -> Iterable[Tuple[List[str], bytes]]:
        for run in by_run(changes):
            name = workspace_names.get(run[0]["workspace_id"], run[0]["workspace_id"])
            yield [change["change_id"] for change in run], to_json_bytes(payload(run, name))

    def refused_advice(self, outcome: Outcome) -> str:
        if outcome.status in (404, 410):
            return "the webhook's receiver says it is gone: check notify.webhook.url"
        if outcome.status in (401, 403):
            return "the webhook's receiver refused the credentials: check notify.webhook.headers"
        return "the webhook's receiver refused the request: check notify.webhook.url and notify.webhook.headers"
