"""What a run/mutate sequence leaves in a dataset, in a form two sequences can be compared in.

Two sequences that saw the same workspace changes must hold the same history, whatever happened on the
way (faults, killed runs, another destination). What legitimately differs between them is only when
things ran: load ids, run ids, and the moments of the snapshots. So a dataset is read back with
- dlt's `_dlt_load_id` / `_dlt_id` and `config_changes.run_id` dropped;
- every run-time moment (`_dlt_valid_from`, `_dlt_valid_to`, `observed_at`, `snapshots.started_at`)
  replaced by the *cycle* it belongs to: how many batches of mutations had been applied before it;
- JSON parsed, timestamps in UTC, numbers plain, so DuckDB and PostgreSQL read the same.

`twin_workspaces` and `mutate_twins` give two sequences the same workspace and the same changes: same
seed and generation moment, same mutation seeds, and the emulator's clock frozen while mutating, so the
timestamps the mutations write (`updatedAt`, audit events) are identical too.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from bisect import bisect_right
from collections import Counter
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple
from unittest import mock

from segment_emulator import Workspace, generate_workspace

from pipelines.runner import RunOptions, make_pipeline

RUN_MOMENTS = {"_dlt_valid_from", "_dlt_valid_to", "observed_at", "started_at"}
DROPPED = {"_dlt_load_id", "_dlt_id"}
DROPPED_BY_TABLE = {
    "config_changes": {"run_id"},
    # how long a run took and how many requests it needed depend on timing and faults
    "snapshots": {"run_id", "finished_at", "requests", "changes"},
}
# the first run of each sequence reads the audit trail back 90 days from its own start: an event right
# at that edge may be in one sequence and not in the other, so events that old are left out
AUDIT_EDGE = timedelta(days=89)


# --- twin workspaces -----------------------------------------------------------------------------------------


def twin_workspaces(seed: int, scale: str, count: int = 2) -> List[Workspace]:
    now = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    twins = [generate_workspace(seed=seed, scale=scale, now=now) for _ in range(count)]
    assert_same_workspaces(twins)
    return twins


def mutate_twins(twins: Sequence[Workspace], count: int, seed: int) -> datetime:
    """The same `count` random mutations on every twin, all stamped with one frozen moment (returned)."""
    moment = datetime.now(timezone.utc)
    with ExitStack() as stack:
        for name, module in list(sys.modules.items()):  # every emulator module that reads the clock
            if name.startswith("segment_emulator") and hasattr(module, "utcnow"):
                stack.enter_context(mock.patch.object(module, "utcnow", lambda: moment))
        for workspace in twins:
            workspace.mutate(count=count, seed=seed)
    assert_same_workspaces(twins)
    return moment


def workspace_content(workspace: Workspace) -> Dict[str, Any]:
    return {f.name: getattr(workspace, f.name) for f in dataclasses.fields(workspace)
            if not f.name.startswith("_") and f.name != "lock"}


def assert_same_workspaces(twins: Sequence[Workspace]) -> None:
    first = workspace_content(twins[0])
    for other in twins[1:]:
        content = workspace_content(other)
        differing = sorted(name for name in first if first[name] != content.get(name))
        assert not differing, f"the twin workspaces differ in {differing}: the comparison would be meaningless"


# --- reading a dataset back ----------------------------------------------------------------------------------


class Cycles:
    """Maps a moment to the number of mutation batches applied before it."""

    def __init__(self) -> None:
        self.moments: List[datetime] = []

    def mutated(self, moment: datetime) -> None:
        self.moments.append(moment)

    def of(self, value: Any) -> Optional[int]:
        if value is None:
            return None
        return bisect_right(self.moments, utc(value))


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def plain(value: Any, is_json: bool, parse_json_text: bool) -> Any:
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if is_json and parse_json_text and isinstance(value, str):
        return json.loads(value)
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return value


def read_tables(options: RunOptions) -> Dict[str, Tuple[List[str], List[tuple]]]:
    """Every table of the dataset except dlt's own: (columns, rows), through dlt's SQL client."""
    pipeline = make_pipeline(options)
    with pipeline.sql_client() as sql:
        names = [row[0] for row in sql.execute_sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", sql.dataset_name) or []]
        tables = {}
        for name in sorted(names):
            if name.startswith("_dlt"):
                continue
            with sql.execute_query(f"SELECT * FROM {sql.make_qualified_table_name(name)}") as cursor:
                columns = [c[0] for c in cursor.description]
                tables[name] = (columns, [tuple(row) for row in cursor.fetchall()])
    return tables


def json_columns(options: RunOptions) -> Dict[str, set]:
    schema = make_pipeline(options).default_schema
    return {name: {c for c, column in table.get("columns", {}).items() if column.get("data_type") == "json"}
            for name, table in schema.tables.items()}


def dataset_state(options: RunOptions, cycles: Cycles) -> Dict[str, Counter]:
    """table -> Counter of its rows (as sorted JSON), with run-dependent values dropped or made cycles."""
    parse_json_text = options.destination == "duckdb"  # psycopg2 hands jsonb over parsed already
    json_by_table = json_columns(options)
    audit_edge = datetime.now(timezone.utc) - AUDIT_EDGE
    state: Dict[str, Counter] = {}
    for table, (columns, rows) in read_tables(options).items():
        dropped = DROPPED | DROPPED_BY_TABLE.get(table, set())
        json_cols = json_by_table.get(table, set())
        counter: Counter = Counter()
        for row in rows:
            record = {}
            for column, value in zip(columns, row):
                if column in dropped:
                    continue
                if column in RUN_MOMENTS:
                    record[column] = cycles.of(value)
                elif table == "snapshots" and column == "skipped_tables":
                    # which request of a skipped table failed first depends on the order requests ran in
                    record[column] = sorted(plain(value, True, parse_json_text) or {})
                elif table == "snapshots" and column == "table_rows":
                    # the audit trail is read incrementally with an overlap: how many events a run reads
                    # again depends on when the run before it ran
                    rows_read = plain(value, True, parse_json_text) or {}
                    record[column] = {t: n for t, n in rows_read.items() if t != "audit_events"}
                elif value is not None:  # a column another sequence never saw a value in is left out too
                    record[column] = plain(value, column in json_cols, parse_json_text)
            if table == "audit_events" and utc(row[columns.index("timestamp")]) < audit_edge:
                continue
            counter[json.dumps(record, sort_keys=True, default=str)] += 1
        state[table] = counter
    return state


def only_current(state: Dict[str, Counter]) -> Dict[str, Counter]:
    """The rows of the history tables still valid (what `as-of now` shows)."""
    current = {}
    for table, rows in state.items():
        kept = Counter({row: n for row, n in rows.items() if '"_dlt_valid_to": null' in row})
        if any('"_dlt_valid_from"' in row for row in rows):
            current[table] = kept
    return current


def differences(expected: Dict[str, Counter], actual: Dict[str, Counter], limit: int = 3) -> Dict[str, Any]:
    """Per table: rows missing from `actual` and rows it has in excess (their counts, and the first few)."""
    found = {}
    for table in sorted(set(expected) | set(actual)):
        missing = expected.get(table, Counter()) - actual.get(table, Counter())
        extra = actual.get(table, Counter()) - expected.get(table, Counter())
        if missing or extra:
            found[table] = {
                "missing": sum(missing.values()), "extra": sum(extra.values()),
                "missing_rows": list(missing)[:limit], "extra_rows": list(extra)[:limit],
            }
    return found


def assert_same_history(expected: Dict[str, Counter], actual: Dict[str, Counter], what: str) -> None:
    diff = differences(expected, actual)
    assert not diff, f"{what}: {json.dumps(diff, indent=1)[:4000]}"


def row_total(state: Dict[str, Counter], tables: Optional[Iterable[str]] = None) -> int:
    return sum(sum(state[t].values()) for t in (tables if tables is not None else state) if t in state)
