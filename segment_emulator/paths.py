"""Read and copy-on-write nested JSON values by key path.

Served dicts are never edited in place (a server thread may be serialising them): a change builds new dicts
along the path and shares everything else.
"""

from __future__ import annotations

from typing import Any, Sequence

MISSING = object()


def get_path(value: Any, path: Sequence[str], default: Any = MISSING) -> Any:
    for key in path:
        if not isinstance(value, dict) or key not in value:
            if default is MISSING:
                raise KeyError(".".join(path))
            return default
        value = value[key]
    return value


def with_path(value: dict[str, Any], path: Sequence[str], new: Any) -> dict[str, Any]:
    """A copy of `value` with `path` set to `new`; intermediate dicts are copied (or created), leaves shared."""
    head, *rest = path
    copy = dict(value)
    copy[head] = with_path(copy.get(head) or {}, rest, new) if rest else new
    return copy


def dotted(*parts: str) -> str:
    """A field path in the API's dot notation, e.g. ``settings.apiKey``."""
    return ".".join(parts)
