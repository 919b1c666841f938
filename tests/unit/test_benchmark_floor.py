"""The benchmark's floor under the documented per-endpoint limits (`benchmarks.run.endpoint_limits_floor_s`)."""

from __future__ import annotations

import pytest

from benchmarks.run import endpoint_limits_floor_s


@pytest.mark.parametrize("requests_by_endpoint, floor", [
    ({}, 0.0),
    ({"/sources": 5000}, 0.0),  # no documented limit of its own
    ({"/tracking-plans/{id}/rules": 200}, 0.0),  # 200 a minute: all in the first window
    ({"/tracking-plans/{id}/rules": 201}, 60.0),  # the 201st waits a whole window
    ({"/tracking-plans/{id}/rules": 205, "/tracking-plans/{id}/sources": 200}, 60.0),
    ({"/tracking-plans/{id}/rules": 401}, 120.0),
    ({"/warehouses/{id}/advanced-sync-schedule": 3, "/tracking-plans/{id}/rules": 10}, 60.0),  # 2 a minute
])
def test_each_endpoint_limit_sets_its_own_floor(requests_by_endpoint, floor):
    assert endpoint_limits_floor_s(requests_by_endpoint) == floor
