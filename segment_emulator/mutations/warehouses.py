"""Warehouse connection kinds: connect a source to a warehouse, or disconnect it."""

from __future__ import annotations

from ..state import resource_name
from .base import Change, Mutation, choose, kind, lookup, remove_item
from .cascades import selective_sync_dependents


def _connection_change(change: Change, source_id: str, warehouse_id: str, connect: bool) -> Mutation:
    warehouse = lookup(change.ws, "warehouses", warehouse_id)
    # The audit trail names the warehouse: connections are managed under /warehouses/{id}/connected-sources.
    return change.record("source_warehouses", f"{source_id}:{warehouse_id}", "added" if connect else "removed", {},
                         event_type="Storage Destination Modified", resource_type="warehouse",
                         audit_id=warehouse_id, audit_name=resource_name("warehouse", warehouse))


@kind("connect_warehouse", 2)
def connect_warehouse(change: Change, source_id: str | None = None, warehouse_id: str | None = None) -> Mutation:
    ws, rng = change.ws, change.rng
    connected = set(ws.source_warehouses)
    pairs = [(source["id"], warehouse["id"]) for source in ws.sources for warehouse in ws.warehouses
             if (source_id in (None, source["id"]) and warehouse_id in (None, warehouse["id"])
                 and (source["id"], warehouse["id"]) not in connected)]
    pair = choose(rng, pairs)
    ws.source_warehouses.append(pair)
    return _connection_change(change, *pair, connect=True)


@kind("disconnect_warehouse", 2)
def disconnect_warehouse(change: Change, source_id: str | None = None, warehouse_id: str | None = None) -> Mutation:
    ws = change.ws
    pair = choose(change.rng, ws.source_warehouses,
                   lambda item: source_id in (None, item[0]) and warehouse_id in (None, item[1]))
    remove_item(ws.source_warehouses, pair)
    cascade = selective_sync_dependents(change, lambda item: (item["sourceId"], item["warehouseId"]) == pair)
    mutation = _connection_change(change, *pair, connect=False)
    mutation.cascade = cascade
    return mutation
