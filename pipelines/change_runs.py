"""The runner's side of change-driven runs: when one may run, what it reads, what it retires after.

`plan_run` decides from the destination (the last complete snapshot, how many change-driven runs
followed the last full one) and the audit trail since then; the runner hands its plan to the source. After the load, `retire_unseen` retires what
a partial read proves gone: resources read by id that answered 404, the rows pointing at them, and the
children of every re-read parent that did not come back.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import dlt

from segment_source import audit_read_start
from segment_source.changes import ChangePlan, events_after, fetch_audit_events, plan_from_events
from segment_source.client import SegmentSession
from segment_source.endpoints import ENDPOINTS_BY_NAME, Endpoint, dependents, endpoint_for_table
from segment_source.outcomes import Kind, kind_of_skip
from segment_source.report import ExtractionReport

from . import history

logger = logging.getLogger("segment_history")
DEFAULT_FULL_SNAPSHOT_EVERY = 7
CHUNK = 500


def plan_run(
    pipeline: dlt.Pipeline, session: SegmentSession, host: str, workspace: Dict[str, Any], started: datetime,
    full_every: int,
) -> Tuple[Optional[ChangePlan], Optional[str]]:
    """(the plan of a change-driven run, None), or (None, why this run reads everything)."""
    with pipeline.sql_client() as sql:
        since, reason = _change_window(sql, workspace["id"], started, full_every)
        if since is None:
            return None, reason
        # from as far back as the audit table's own read would start, so the table loads this read
        since = since if since.tzinfo else since.replace(tzinfo=timezone.utc)
        start = min(since, audit_read_start(pipeline.state, workspace["id"], started))
        try:
            events = fetch_audit_events(session, host, _iso(start), _iso(started + timedelta(milliseconds=1)))
        except Exception as exc:  # noqa: BLE001 - no readable trail, no change-driven run
            return None, f"the audit trail could not be read ({' '.join(str(exc).split())[:120]})"
        change_plan, reason = plan_from_events(events_after(events, since), since)
        if change_plan is None:
            return None, reason
        change_plan.audit_events = events
        if change_plan.labels:
            labelled = _sources_with_labels(sql, workspace["id"], change_plan.labels)
            change_plan.ids.setdefault("sources", set()).update(labelled)
    logger.info("change-driven run: %d audit events since %s", change_plan.events, since)
    return change_plan, None


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _change_window(sql: Any, workspace_id: str, started: datetime, full_every: int):
    """(start of the window, None) when a change-driven run may run, else (None, why not).

    The window starts at the last run that read everything it could: a table skipped for want of a
    permission or a feature stays skipped in the change-driven run too, but one that failed for a passing
    reason (a 5xx, a 429, a dropped connection, a malformed page) may have missed changes since then."""
    if not history.table_exists(sql, "snapshots"):
        return None, "no complete snapshot yet"
    # every column: `skipped_kinds` is missing from tables written before it was recorded
    rows = history.fetch_dicts(
        sql,
        f"SELECT * FROM {sql.make_qualified_table_name('snapshots')}"
        " WHERE workspace_id = %s AND started_at < %s ORDER BY started_at DESC",
        workspace_id,
        started,
    )
    since = next((row["started_at"] for row in rows if _only_lasting_gaps(row)), None)
    if since is None:
        return None, "no snapshot yet that read every table it was allowed to"
    since_full = 0
    for row in rows:
        if row["mode"] != "changes":
            break
        since_full += 1
    if since_full + 1 >= full_every:
        return None, f"every {full_every}th run is a full snapshot"
    return since, None


def _only_lasting_gaps(snapshot: Dict[str, Any]) -> bool:
    skipped, kinds = (_json(snapshot.get(column)) for column in ("skipped_tables", "skipped_kinds"))
    return all(kind_of_skip(str(reason), kinds.get(table)) is Kind.LASTING_GAP for table, reason in skipped.items())


def _json(value: Any) -> Dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else (value or {})


def _sources_with_labels(sql: Any, workspace_id: str, labels: Set[str]) -> Set[str]:
    """Sources that carry a label the trail names: deleting a label in use detaches it from them."""
    rows = sql.execute_sql(
        f"SELECT id, labels FROM {sql.make_qualified_table_name('sources')}"
        " WHERE workspace_id = %s AND _dlt_valid_to IS NULL",
        workspace_id,
    ) if history.table_exists(sql, "sources") else []
    found = set()
    for source_id, labels_json in rows or []:
        items = json.loads(labels_json) if isinstance(labels_json, str) else (labels_json or [])
        if {f"{label.get('key')}:{label.get('value')}" for label in items} & labels:
            found.add(source_id)
    return found


def tables_it_may_change(endpoints_read: Sequence[Endpoint]) -> Set[str]:
    """The tables a change-driven run reads, and those whose rows go with a deleted one (`retire_unseen`):
    the change log compares them all."""
    tables = {endpoint.table_name for endpoint in endpoints_read}
    pending = list(tables)
    while pending:
        for dependent, _ in dependents(pending.pop()):
            if dependent not in tables:
                tables.add(dependent)
                pending.append(dependent)
    return tables


def retire_unseen(sql: Any, plan: ChangePlan, report: ExtractionReport, endpoints_read: Sequence[Endpoint],
                  skipped: Iterable[str], snapshot: history.Snapshot) -> None:
    skipped = set(skipped)
    for endpoint in endpoints_read:
        table = endpoint.table_name
        if table in skipped:
            continue
        if plan.reads_whole(endpoint):
            _retire(sql, table, snapshot, None, None, report.keys(table))
        elif not endpoint.parent:
            gone = plan.named_ids(endpoint) - report.keys(table)
            _retire_with_dependents(sql, table, "id", gone, snapshot, skipped)
        elif "id" in endpoint.parent_fields:
            parents = _parent_ids(ENDPOINTS_BY_NAME[endpoint.parent], plan, report)
            _retire(sql, table, snapshot, endpoint.parent_fields["id"], parents, report.keys(table))


def _retire_with_dependents(sql: Any, table: str, column: str, gone: Set[str], snapshot: history.Snapshot,
                            skipped: Set[str]) -> None:
    """Retires the rows of `table` whose `column` names a deleted resource, then, for rows that are
    resources themselves, the rows pointing at them and their children (a deleted source's destinations,
    then those destinations' filters)."""
    retired = _retire(sql, table, snapshot, column, gone, set())
    if not retired or endpoint_for_table(table).key != ("id",):
        return
    for dependent, dependent_column in dependents(table):
        if dependent not in skipped:
            _retire_with_dependents(sql, dependent, dependent_column, retired, snapshot, skipped)


def _parent_ids(parent: Endpoint, plan: ChangePlan, report: ExtractionReport) -> Set[str]:
    """Whose children were re-read: the ids asked for (a deleted parent's children go too), or for a
    parent that is itself a child, the rows it returned."""
    if not parent.parent:
        return plan.named_ids(parent)
    return report.keys(parent.table_name) if parent.key == ("id",) else set()


def _retire(sql: Any, table: str, snapshot: history.Snapshot, column: Optional[str],
            values: Optional[Set[str]], keep: Set[str]) -> Set[str]:
    """Retires this workspace's current rows of `table` whose `column` is in `values` (any row when
    column is None) and whose record key is not in `keep`. Returns the record keys retired."""
    if (column is not None and not values) or not history.table_exists(sql, table):
        return set()
    qualified = sql.make_qualified_table_name(table)
    current = sql.execute_sql(
        f"SELECT record_key, {column or 'record_key'} FROM {qualified}"
        " WHERE workspace_id = %s AND _dlt_valid_to IS NULL AND _dlt_valid_from < %s",
        snapshot.workspace_id,
        snapshot.boundary,
    ) or []
    doomed = [key for key, value in current if key not in keep and (column is None or value in values)]
    for start in range(0, len(doomed), CHUNK):
        chunk: List[str] = doomed[start:start + CHUNK]
        sql.execute_sql(
            f"UPDATE {qualified} SET _dlt_valid_to = %s WHERE workspace_id = %s AND _dlt_valid_to IS NULL"
            f" AND record_key IN ({', '.join(['%s'] * len(chunk))})",
            snapshot.boundary,
            snapshot.workspace_id,
            *chunk,
        )
    return set(doomed)
