"""What every sink does the same way: turn pending changes into request bodies, POST them in order, and
stop at the first one that is not delivered (the sink is down or refuses: the rest stay pending)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import requests

from .changes import Change
from .config import Delivery
from .delivery import Outcome, post_json, secrets_kept_out_of_logs
from .filters import ChangeFilter


@dataclass(frozen=True)
class Sent:
    change_ids: List[str]
    outcome: Outcome


class Sink(ABC):
    name: str  # the section under [notify]
    service: str  # how messages name the receiver

    def __init__(self, change_filter: ChangeFilter, delivery: Delivery) -> None:
        self.filter = change_filter
        self.delivery = delivery

    @abstractmethod
    def bodies(self, changes: Sequence[Change], workspace_names: Dict[str, str]) -> Iterable[Tuple[List[str], bytes]]:
        """The request bodies to POST, each with the ids of the changes it carries."""

    @abstractmethod
    def url(self) -> str: ...

    @abstractmethod
    def secrets(self) -> Tuple[Optional[str], ...]:
        """Values that must never reach a log line."""

    @abstractmethod
    def refused_advice(self, outcome: Outcome) -> str:
        """What the user must change when the sink refuses (a 4xx that retrying cannot fix)."""

    def headers(self) -> Optional[Dict[str, str]]:
        return None

    def auth(self) -> Optional[Tuple[str, str]]:
        return None

    def deliver(self, changes: Sequence[Change], workspace_names: Dict[str, str]) -> List[Sent]:
        sent: List[Sent] = []
        with requests.Session() as session, secrets_kept_out_of_logs(*self.secrets()):
            for change_ids, body in self.bodies(changes, workspace_names):
                outcome = post_json(session, self.url(), body, self.delivery, self.headers(), self.auth())
                sent.append(Sent(change_ids, outcome))
                if not outcome.delivered:
                    break
        return sent


def by_run(changes: Sequence[Change]) -> List[List[Change]]:
    """Changes grouped per run (one Slack message, one webhook POST each), oldest run first."""
    runs: Dict[str, List[Change]] = {}
    for change in sorted(changes, key=lambda c: (c["observed_at"], c["run_id"])):
        runs.setdefault(change["run_id"], []).append(change)
    return list(runs.values())
