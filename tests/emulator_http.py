"""What the emulator's own tests share: the tokens, the media types and plain HTTP helpers (real requests
against a started `Emulator`); their fixtures `small`, `emu` and `fresh` are in conftest.py."""

from __future__ import annotations

from typing import Any

import requests

from segment_emulator import Emulator

OWNER_TOKEN, MEMBER_TOKEN = "owner-token", "member-token"
TOKENS = {OWNER_TOKEN: "owner", MEMBER_TOKEN: "member"}
V1, BETA, ALPHA = (f"application/vnd.segment.{v}+json" for v in ("v1", "v1beta", "v1alpha"))
# One session for every test: the emulator keeps connections alive, and the tests send thousands of requests.
SESSION = requests.Session()


def get(emulator: Emulator, path: str, token: str | None = OWNER_TOKEN, accept: str | None = None,
        params: Any = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if accept:
        headers["Accept"] = accept
    return SESSION.get(emulator.base_url + path, headers=headers, params=params, timeout=10)


def data(emulator: Emulator, path: str, **params: Any) -> dict[str, Any]:
    response = get(emulator, path, params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def walk(emulator: Emulator, path: str, list_key: str, count: int, **params: Any) -> list[Any]:
    items, cursor = [], None
    while True:
        page = data(emulator, path, **params, **{"pagination.count": count},
                    **({"pagination.cursor": cursor} if cursor else {}))
        items += page[list_key]
        cursor = page["pagination"].get("next")
        if not cursor:
            return items
