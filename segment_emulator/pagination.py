"""The `pagination` query object in all its spellings, and offset cursors (facts §1.5, §1.6).

Accepted input forms (every official client uses a different one):
`pagination.count=3` (docs, Java), `pagination[count]=3` (Go), `pagination%5Bcount%5D=3` (TS; decoded by the query
parser before we see it) and `pagination={"count": 3}` (Python SDK). Cursors are base64 of the decimal offset.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from .errors import validation

DEFAULT_PAGE_SIZE = 200  # what the API uses when `pagination` is omitted
MAX_PAGE_SIZE = 1000
LAST_PAGE_NEXT_MODES = ("absent", "null", "empty")

Query = dict[str, list[str]]


@dataclass(frozen=True)
class PageRequest:
    count: int
    cursor: str | None


def pagination_fields(query: Query, name: str = "pagination") -> dict[str, Any]:
    """The members of the `name` object, whichever spelling the client used."""
    fields: dict[str, Any] = {}
    for key, values in query.items():
        if key == name:
            fields.update(_json_object(name, values[0]))
        elif key.startswith((name + ".", name + "[")):
            fields[key[len(name) + 1:].rstrip("]")] = values[0]
    return fields


def _json_object(name: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise validation(name, f"{name} must be an object, e.g. {name}.count=10")
    return value


def page_request(query: Query, name: str = "pagination", max_count: int = MAX_PAGE_SIZE) -> PageRequest:
    fields = pagination_fields(query, name)
    if not fields:
        return PageRequest(DEFAULT_PAGE_SIZE, None)
    if "count" not in fields:
        raise validation(f"{name}.count", f"{name}.count is required when {name} is given")
    count = _integer(fields["count"])
    if count is None or not 1 <= count <= max_count:
        raise validation(f"{name}.count", f"{name}.count must be an integer between 1 and {max_count}")
    cursor = fields.get("cursor")
    return PageRequest(count, str(cursor) if cursor not in (None, "") else None)


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def b64encode_text(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def b64decode_text(cursor: str) -> str:
    """Lenient decoding: a `+` sent unencoded arrives as a space, and padding may be missing."""
    cleaned = cursor.strip().replace(" ", "+")
    cleaned += "=" * (-len(cleaned) % 4)
    return base64.b64decode(cleaned, validate=True).decode()


def encode_offset(offset: int) -> str:
    return b64encode_text(str(offset))


def decode_offset(cursor: str, field: str = "pagination.cursor") -> int:
    try:
        text = b64decode_text(cursor)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.isdigit():
        raise validation(field, f"{field} is not a cursor this endpoint issued")
    return int(text)


def page_window(current: str, next_cursor: str | None, previous_cursor: str | None, last_page_next: str,
                total: int | None) -> dict[str, Any]:
    """The `pagination` output object; `last_page_next` decides how the last page says "no more"."""
    output: dict[str, Any] = {"current": current}
    if next_cursor is not None:
        output["next"] = next_cursor
    elif last_page_next == "null":
        output["next"] = None
    elif last_page_next == "empty":
        output["next"] = ""
    output["previous"] = previous_cursor
    if total is not None:  # the API may leave totalEntries out when counting is expensive
        output["totalEntries"] = total
    return output


def offset_page(items: list[Any], page: PageRequest, last_page_next: str) -> tuple[list[Any], dict[str, Any]]:
    """One page of `items` and its pagination object; a cursor past the end gives an empty page."""
    offset = decode_offset(page.cursor) if page.cursor else 0
    chunk = items[offset: offset + page.count]
    has_more = offset + page.count < len(items)
    pagination = page_window(
        encode_offset(offset), encode_offset(offset + page.count) if has_more else None,
        encode_offset(max(offset - page.count, 0)) if offset > 0 else None, last_page_next, len(items))
    return chunk, pagination


# --- the API's other pagination flavours (facts §1.6, §5.5) ---------------------------------------------------


def numeric_page(items: list[Any], query: Query, *, max_count: int, default_count: int,
                 name: str = "pagination") -> tuple[list[Any], dict[str, Any]]:
    """`ListFiltersPaginationInput/Output`: `cursor` is a plain number (an offset); the output's `current`,
    `next` and `totalEntries` are numbers, and `next` is left out on the last page."""
    fields = pagination_fields(query, name)
    count = default_count
    if fields:
        if "count" not in fields:
            raise validation(f"{name}.count", f"{name}.count is required when {name} is given")
        count = _integer(fields["count"])
        if count is None or not 1 <= count <= max_count:
            raise validation(f"{name}.count", f"{name}.count must be an integer between 1 and {max_count}")
    offset = 0
    if fields.get("cursor") not in (None, ""):
        offset = _integer(fields["cursor"])
        if offset is None or offset < 0:
            raise validation(f"{name}.cursor", f"{name}.cursor must be a non-negative number")
    output: dict[str, Any] = {"current": offset}
    if offset + count < len(items):
        output["next"] = offset + count
    output["totalEntries"] = len(items)
    return items[offset: offset + count], output


def forward_only_page(items: list[Any], page: PageRequest, last_page_next: str,
                      total_of: Any = None) -> tuple[list[Any], dict[str, Any]]:
    """`ForwardOnlyPaginationOutput`: `current`, `next`, `totalEntries`; never a `previous`.
    `total_of(offset)` may report an estimate instead of the exact total."""
    chunk, output = offset_page(items, page, last_page_next)
    output.pop("previous", None)
    if total_of is not None:
        output["totalEntries"] = total_of(decode_offset(page.cursor) if page.cursor else 0)
    return chunk, output


def top_level_page(query: Query, *, max_count: int, default_count: int) -> PageRequest:
    """RETL sync statuses take top-level `count` and `cursor` query parameters, not a `pagination` object."""
    values = query.get("count")
    count = default_count
    if values and values[0] != "":
        count = _integer(values[0])
        if count is None or not 1 <= count <= max_count:
            raise validation("count", f"count must be an integer between 1 and {max_count}")
    cursor = (query.get("cursor") or [""])[0]
    return PageRequest(count, cursor or None)


def array_arg(query: Query, name: str) -> list[str]:
    """An array query parameter in any client's spelling: repeated `name=a&name=b`, `name.0=a`, `name[0]=a`,
    `name[]=a`, and comma-separated values (facts §1.5). Empty values are dropped."""
    indexed: list[tuple[int, int, str]] = []
    for position, (key, values) in enumerate(query.items()):
        if key in (name, name + "[]"):
            rank = -1
        elif key.startswith((name + ".", name + "[")):
            index = key[len(name) + 1:].rstrip("]")
            if not index.isdigit():
                continue
            rank = int(index)
        else:
            continue
        for value in values:
            indexed.append((rank, position, value))
    result = []
    for _, _, value in sorted(indexed, key=lambda entry: (entry[0], entry[1])):
        result += [part.strip() for part in value.split(",") if part.strip()]
    return result


def object_arrays(query: Query, name: str) -> dict[str, list[str]]:
    """An object of arrays such as Delivery Overview's `filter`: `filter[eventName].0=x`, `filter.eventName=x,y`,
    `filter[eventName][0]=x`, `filter%5BeventName%5D=x` (decoded before we see it) or `filter={"eventName":[..]}`."""
    result: dict[str, list[str]] = {}
    for key, values in query.items():
        if key == name:
            parsed = _json_object(name, values[0])
            for member, value in parsed.items():
                items = value if isinstance(value, list) else [value]
                result.setdefault(member, []).extend(str(item) for item in items)
            continue
        if not key.startswith((name + ".", name + "[")):
            continue
        rest = key[len(name):]
        member = rest[1:].split("]", 1)[0] if rest.startswith("[") else rest[1:].split(".", 1)[0].split("[", 1)[0]
        if not member:
            continue
        for value in values:
            result.setdefault(member, []).extend(part.strip() for part in value.split(",") if part.strip())
    return result
