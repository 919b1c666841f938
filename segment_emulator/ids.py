"""Identifier and timestamp formats, as they look in Segment's responses (facts sheet §1.9, §1.10)."""

from __future__ import annotations

import hashlib
import string
from datetime import datetime, timezone
from random import Random

ALNUM = string.ascii_letters + string.digits
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
HEX = "0123456789abcdef"


def alnum_id(rng: Random, length: int = 22) -> str:
    """Workspace, source, warehouse, user and most destination ids: 22 alphanumeric characters."""
    return "".join(rng.choices(ALNUM, k=length))


def object_id(rng: Random) -> str:
    """Newer destination ids are 24-hex Mongo ObjectIds."""
    return "".join(rng.choices(HEX, k=24))


def ksuid(rng: Random) -> str:
    """27-character KSUID-like id (roles, function versions, tracking plans); real KSUIDs start with 1 or 2."""
    return rng.choice("12") + "".join(rng.choices(BASE62, k=26))


def stable_hex(text: str, length: int = 24) -> str:
    """Catalog ids are the same in every workspace, so they derive from the slug, not from the seed."""
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def stable_alnum(text: str, length: int = 10) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return "".join(ALNUM[byte % len(ALNUM)] for byte in digest[:length])


def iso(moment: datetime) -> str:
    """`2026-08-19T13:02:44.123Z`: UTC with milliseconds, the API's usual timestamp form.

    Strings in this exact form sort chronologically, which the audit trail filters rely on.
    """
    m = moment.astimezone(timezone.utc)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (m.year, m.month, m.day, m.hour, m.minute, m.second,
                                                   m.microsecond // 1000)


def parse_iso(text: str) -> datetime:
    """Parse any ISO-8601 timestamp; a value without offset is taken as UTC."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def slugify(name: str) -> str:
    cleaned = "".join(char.lower() if char.isalnum() else "-" for char in name)
    return "-".join(part for part in cleaned.split("-") if part)


def stable_ksuid(text: str) -> str:
    """A KSUID-like id that is the same in every workspace (global objects such as roles)."""
    return "12"[hashlib.sha256(text.encode()).digest()[0] % 2] + stable_alnum("ksuid:" + text, 26).replace(
        "_", "0")


def uuid4_like(rng: Random) -> str:
    """A lower-case UUID (live plugin ids)."""
    digits = "".join(rng.choices(HEX, k=32))
    variant = "89ab"[int(digits[16], 16) % 4]
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:]}"


def unix_seconds(moment: datetime) -> int:
    return int(moment.timestamp())
