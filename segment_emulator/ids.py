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
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


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
