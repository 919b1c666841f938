"""The unit layer: pure logic, no server, no dlt pipeline, no database. Every test here is marked `unit`
(so `pytest -m unit` is the quickest loop), and a test that opens a network connection fails: it belongs
in `tests/` beside the end-to-end tests."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

UNIT_DIR = Path(__file__).parent


def pytest_collection_modifyitems(items):
    for item in items:
        if UNIT_DIR in Path(item.fspath).parents:
            item.add_marker(pytest.mark.unit)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(self, address, *args):
        raise AssertionError(f"a unit test connected to {address}: move it to tests/, beside the end-to-end tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
