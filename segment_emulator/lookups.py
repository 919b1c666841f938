"""Id lookups and per-token views shared by the route table and the handlers."""

from __future__ import annotations

from typing import Any, Callable

from . import errors

KIND_NAMES = {"sources": "Source", "destinations": "Destination", "warehouses": "Warehouse",
              "tracking_plans": "Tracking Plan", "functions": "Function", "users": "User",
              "user_groups": "User Group", "roles": "Role", "destination_filters": "Destination Filter",
              "destination_subscriptions": "Subscription", "transformations": "Transformation",
              "reverse_etl_sources": "Source", "reverse_etl_models": "Reverse ETL Model",
              "insert_function_instances": "Insert Function Instance", "spaces": "Space", "audiences": "Audience",
              "activations": "Activation", "computed_traits": "Computed Trait",
              "profiles_warehouses": "Profiles Warehouse", "space_filters": "Filter", "regulations": "Regulation",
              "credentials": "Credential", "catalog_sources": "Source Metadata",
              "catalog_destinations": "Destination Metadata", "catalog_warehouses": "Warehouse Metadata"}


def by_id(collection_name: str, param: str) -> Callable[[Any], dict[str, Any]]:
    """Fetch the path's `{param}` from a collection, or answer 404 in the API's words."""
    def get(call: Any) -> dict[str, Any]:
        item = call.ws.find(collection_name, call.params[param])
        if item is None:
            raise errors.not_found(KIND_NAMES[collection_name], call.params[param])
        return item

    return get


def source_view(source: dict[str, Any], call: Any) -> dict[str, Any]:
    """Write keys are credentials: a token without Source Admin sees an empty list."""
    return source if call.can("source_admin") else {**source, "writeKeys": []}


def find_or_404(call: Any, collection_name: str, item_id: str) -> dict[str, Any]:
    item = call.ws.find(collection_name, item_id)
    if item is None:
        raise errors.not_found(KIND_NAMES[collection_name], item_id)
    return item
