"""The Slack sink (`[notify.slack]`): one Block Kit message per run through an incoming webhook.

A header (how many changes, in which workspace), a context line (workspace id, when, run), then one
section per changed resource: its type, name and id, and a line per change with the field, old → new
and who did it. Slack allows 50 blocks a message and 3,000 characters a section: resources beyond
`MAX_RESOURCES` and lines beyond a section's room end in "… and N more".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from .changes import Change
from .config import Delivery, SlackSinkConfiguration
from .delivery import Outcome, to_json_bytes
from .filters import ChangeFilter
from .sink import Sink, by_run

MAX_HEADER_CHARS = 150
MAX_SECTION_CHARS = 3000
MAX_RESOURCES = 45  # sections; with the header, the context line and the closing line: within 50 blocks
MAX_VALUE_CHARS = 60


def message(changes: Sequence[Change], workspace_name: str) -> Dict[str, Any]:
    """The message for the changes of one run."""
    first = changes[0]
    count = len(changes)
    headline = f"{count} configuration change{'' if count == 1 else 's'} in Segment workspace {workspace_name}"
    blocks: List[Dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(headline, MAX_HEADER_CHARS)}},
        _context(f"workspace `{_escape(first['workspace_id'])}` · observed {_when(first['observed_at'])}"
                 f" · run {_escape(first['run_id'])}"),
    ]
    resources = _by_resource(changes)
    for resource_changes in resources[:MAX_RESOURCES]:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _section(resource_changes)}})
    hidden = resources[MAX_RESOURCES:]
    if hidden:
        more = sum(len(group) for group in hidden)
        blocks.append(_context(f"… and {more} more change{'' if more == 1 else 's'} to {len(hidden)} more"
                               f" resource{'' if len(hidden) == 1 else 's'} (`segment-history changes`)"))
    return {"text": headline, "blocks": blocks}


def _by_resource(changes: Sequence[Change]) -> List[List[Change]]:
    resources: Dict[Tuple[str, str], List[Change]] = {}
    for change in changes:
        resources.setdefault((change["resource_type"], change["resource_id"]), []).append(change)
    return list(resources.values())


def _section(changes: Sequence[Change]) -> str:
    first = changes[0]
    name = f"*{_escape(first['resource_name'])}* " if first.get("resource_name") else ""
    text = f"*{_escape(first['resource_type'])}* · {name}`{_code(first['resource_id'])}`"
    for shown, change in enumerate(changes):
        line = "\n• " + _line(change)
        rest = len(changes) - shown
        closing = f"\n… and {rest} more" if rest > 1 else ""
        if len(text) + len(line) + len(closing) > MAX_SECTION_CHARS:
            return text + f"\n… and {rest} more"
        text += line
    return text


def _line(change: Change) -> str:
    actor = change.get("actor_email") or change.get("actor")
    by = f" · {_escape(actor)}" if actor else " · unknown actor"
    if change["change_kind"] != "modified":
        return f"{change['change_kind']}{by}"
    return (f"`{_code(change['field_path'])}`: `{_code(_cut(change['old_value'] or 'null', MAX_VALUE_CHARS))}`"
            f" → `{_code(_cut(change['new_value'] or 'null', MAX_VALUE_CHARS))}`{by}")


def _context(text: str) -> Dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if isinstance(moment, datetime) else str(moment)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escape(text: Any) -> str:
    """Slack's mrkdwn reads &, < and > as markup."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: Any) -> str:
    """Inside `code`: a backtick would end it."""
    return _escape(text).replace("`", "'")


class SlackSink(Sink):
    name = "slack"
    service = "Slack"

    def __init__(self, webhook_url: str, change_filter: ChangeFilter = ChangeFilter(),
                 delivery: Delivery = Delivery()) -> None:
        super().__init__(change_filter, delivery)
        self._webhook_url = webhook_url

    @classmethod
    def from_settings(cls, settings: SlackSinkConfiguration, change_filter: ChangeFilter,
                      delivery: Delivery) -> "SlackSink":
        return cls(settings.webhook_url, change_filter, delivery)

    def url(self) -> str:
        return self._webhook_url

    def secrets(self) -> Tuple[Optional[str], ...]:
        return (self._webhook_url,)

    def bodies(self, changes: Sequence[Change], workspace_names: Dict[str, str]) -> Iterable[Tuple[List[str], bytes]]:
        for run in by_run(changes):
            name = workspace_names.get(run[0]["workspace_id"], run[0]["workspace_id"])
            yield [change["change_id"] for change in run], to_json_bytes(message(run, name))

    def refused_advice(self, outcome: Outcome) -> str:
        if outcome.status in (403, 404, 410):
            return ("Slack says the webhook no longer exists or was revoked: create a new incoming webhook"
                    " (api.slack.com/apps → Incoming Webhooks) and set notify.slack.webhook_url")
        return "Slack did not accept the message: check notify.slack.webhook_url"
