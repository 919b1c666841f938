"""Which changes a sink is told about: `resource_types`, `change_kinds`, `fields`, `labels`, `exclude_actors`.

Every filter that is set must let a change through (they combine with AND); a filter lists alternatives
(any one of them matches). Field paths and actors match as globs (`settings.*`, `*@terraform.example.com`).
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Collection, Dict, Optional, Sequence, Tuple

CHANGE_KINDS = ("added", "removed", "modified")


@dataclass(frozen=True)
class ChangeFilter:
    resource_types: Optional[Tuple[str, ...]] = None
    change_kinds: Optional[Tuple[str, ...]] = None
    fields: Optional[Tuple[str, ...]] = None  # globs over field_path; a change with no field path never matches
    labels: Optional[Tuple[str, ...]] = None  # "key:value" (or "key=value"), or "key" for any value
    exclude_actors: Optional[Tuple[str, ...]] = None  # globs over actor id and actor email, any case

    @classmethod
    def build(cls, sink: str, **settings: Optional[Sequence[str]]) -> "ChangeFilter":
        """A filter from a sink's settings; a value the filter cannot use is a one-line error naming the key."""
        values = {name: _names(sink, name, value) for name, value in settings.items()}
        unknown = set(values.get("change_kinds") or ()) - set(CHANGE_KINDS)
        if unknown:
            raise ValueError(f"notify.{sink}.change_kinds: {', '.join(sorted(unknown))} is not one of"
                             f" {', '.join(CHANGE_KINDS)}.")
        labels = values.get("labels")
        if labels:
            values["labels"] = tuple(_label(label) for label in labels)
        return cls(**values)

    @property
    def needs_labels(self) -> bool:
        return bool(self.labels)

    def matches(self, change: Dict[str, Any], labels: Collection[str] = ()) -> bool:
        """`labels`: the resource's labels as "key:value" when the change was observed."""
        if self.resource_types and change["resource_type"] not in self.resource_types:
            return False
        if self.change_kinds and change["change_kind"] not in self.change_kinds:
            return False
        if self.fields and not (change["field_path"] and _any_glob(change["field_path"], self.fields)):
            return False
        if self.labels and not any(_has_label(labels, wanted) for wanted in self.labels):
            return False
        actors = [a.lower() for a in (change.get("actor"), change.get("actor_email")) if a]
        if self.exclude_actors and any(_any_glob(actor, self.exclude_actors) for actor in actors):
            return False
        return True


def _names(sink: str, name: str, value: Optional[Sequence[str]]) -> Optional[Tuple[str, ...]]:
    if value is None:
        return None
    if isinstance(value, str) or not all(isinstance(item, str) and item for item in value):
        raise ValueError(f'notify.{sink}.{name} must be a list of names, e.g. {name} = ["..."] in'
                         f' .dlt/config.toml or NOTIFY__{sink.upper()}__{name.upper()}=\'["..."]\'.')
    if name == "exclude_actors":
        return tuple(item.lower() for item in value)
    return tuple(value)


def _label(text: str) -> str:
    """`environment=prod` and `environment:prod` are the same label; the labels table's key is key:value."""
    key, separator, value = text.replace("=", ":", 1).partition(":")
    return f"{key.strip()}:{value.strip()}" if separator else key.strip()


def _has_label(labels: Collection[str], wanted: str) -> bool:
    if ":" in wanted:
        return wanted in labels
    return any(label.partition(":")[0] == wanted for label in labels)


def _any_glob(value: str, globs: Sequence[str]) -> bool:
    return any(fnmatchcase(value, glob) for glob in globs)
