"""One history across the two APIs: which record key an object has, whichever API read it.

Sources, functions and filters carry the same id in both APIs, so their key is that id. Tracking plans
(`tp_` in the Public API, `rs_` in the Config API) and destinations (an opaque id in the Public API, a
source and catalog slug in the Config API) do not. For them an object keeps **the key it was first stored
under** in the dataset: `tp_…` / the destination id for histories begun on the Public API (every history
before the Config API was supported), `rs_…` / `source_id:catalog_slug` for histories begun on the Config API.

The bridge between the two names is kept in `tracking_plan_ids` and `destination_ids` (one row per object:
`record_key`, `public_id`, `config_id`). A Public API tracking plan names its `rs_` id in `resourceSchemaId`
(where the API still returns it); a Public API destination names its Config pair through its source and
catalog slug. Where a Public API run saw two instances of one type on one source, both bridge rows name the
same Config pair: the Config API serves one of them and cannot say which, so for a Config API run that pair
names nothing (`unnamed`): it loads no row for it and retires neither instance (nor their filters), so
neither looks removed or created in either direction. A source keeps that pair unnamed from then on (a
Public run that reads only some destinations cannot tell a second instance is gone).
The run before reads these tables into `Identities`; a run looks an object up by its own id first, then by
the other API's, and keeps what it learned for the run's end to store.

Rows keep their own API's columns otherwise; the `id` column (and a child's `tracking_plan_id` or
`destination_id`) holds the record key, so joins between the tables hold across the switch.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List, Optional

# table whose objects need a bridge -> the table that keeps it
BRIDGE_TABLES = {"tracking_plans": "tracking_plan_ids", "destinations": "destination_ids"}


class Identities:
    """Record keys of bridged objects: what the dataset knew before this run, plus what this run saw."""

    def __init__(self, known: Optional[Dict[str, List[Dict[str, Any]]]] = None) -> None:
        # table -> the stored bridge rows (record_key, public_id, config_id)
        self._lock = threading.Lock()
        self.rows: Dict[str, Dict[str, Dict[str, Optional[str]]]] = {}
        self._by_id: Dict[str, Dict[str, str]] = {}
        self.seen: Dict[str, Dict[str, Dict[str, Optional[str]]]] = {}
        # table -> stored record key (a Config id) -> the Public id it moves to
        self.rekeyed: Dict[str, Dict[str, str]] = {}
        for table, rows in (known or {}).items():
            for row in rows:
                self._remember(table, row["record_key"], row.get("public_id"), row.get("config_id"))
        # table -> record keys of stored objects the Config API cannot name, and the Config ids they claim
        self.unnamed = {table: self._claimed_twice(table) for table in self.rows}
        self._unnamed_ids = {table: {self.rows[table][key]["config_id"] for key in keys}
                             for table, keys in self.unnamed.items()}

    def _remember(self, table: str, key: str, public_id: Optional[str], config_id: Optional[str]) -> None:
        row = self.rows.setdefault(table, {}).setdefault(key, {"public_id": None, "config_id": None})
        row["public_id"] = public_id or row["public_id"]
        row["config_id"] = config_id or row["config_id"]
        by_id = self._by_id.setdefault(table, {})
        by_id.update({name: key for name in (public_id, config_id) if name})

    def _claimed_twice(self, table: str) -> List[str]:
        """Record keys of Public objects that claim one Config id with another."""
        claims: Dict[str, List[str]] = {}
        for key, row in self.rows[table].items():
            if row["config_id"] and row["public_id"]:
                claims.setdefault(row["config_id"], []).append(key)
        return sorted(key for keys in claims.values() if len(keys) > 1 for key in keys)

    def key(self, table: str, config_id: str) -> Optional[str]:
        """The record key of an object the Config API names `config_id`: its Public id once one is known;
        None when several Public objects claim that name (the Config API cannot say which it shows)."""
        with self._lock:
            if config_id in self._unnamed_ids.get(table, ()):
                return None
            key = self._by_id.get(table, {}).get(config_id, config_id)
            self._remember(table, key, None, config_id)
            self.seen.setdefault(table, {})[key] = dict(self.rows[table][key])
            return key

    def observe(self, table: str, public_id: str, config_id: Optional[str]) -> None:
        """A Public API object and the Config id it names. An object stored under its Config id until now
        moves to its Public id (`rekeys`); a bridge never joins two Public objects."""
        with self._lock:
            stored = self._by_id.get(table, {}).get(config_id or "")
            if stored and stored != public_id and self.rows[table][stored]["public_id"] is None:
                self.rekeyed.setdefault(table, {})[stored] = public_id
                del self.rows[table][stored]
            self._remember(table, public_id, public_id, config_id)
            self.seen.setdefault(table, {})[public_id] = dict(self.rows[table][public_id])

    def bridge_rows(self, workspace_id: str) -> Dict[str, List[Dict[str, Any]]]:
        """What to store: the bridge table's rows for every bridged object this run saw."""
        stored: Dict[str, List[Dict[str, Any]]] = {}
        for table, seen in self.seen.items():
            rows = [{"workspace_id": workspace_id, "record_key": key, **self.rows[table][key]} for key in sorted(seen)]
            stored[BRIDGE_TABLES[table]] = rows
        return stored


# Public API tables whose items name the other API's id of the same object
OBSERVED_TABLES = ("tracking_plans", "destinations")


def public_observer(table: str, identities: Identities) -> Callable[[Dict[str, Any]], Dict[str, Any]]:
    """The map step that notes a Public API row's bridge (the row itself is left as it is)."""
    def observe(row: Dict[str, Any]) -> Dict[str, Any]:
        if table == "tracking_plans":
            identities.observe(table, row["id"], row.get("resourceSchemaId"))
        else:
            identities.observe(table, row["id"], f"{row.get('sourceId')}:{row.get('metadata_slug')}")
        return row

    return observe
