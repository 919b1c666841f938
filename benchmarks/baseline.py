"""The baseline: dlt's generic `rest_api` source, configured the way dlt's own Segment page shows.

Where the configuration comes from
----------------------------------
dlt's Segment page, "Load Segment data in Python using dltHub": `segment/segment-docs.md` in
github.com/dlt-hub/vibe-hub (commit 2898a325; endpoint list in `segment/segment-docs.yaml`), the text dltHub
publishes per source under dlthub.com/workspace/source/<name> (the Segment URL itself was not checked).
It gives this complete example:

    @dlt.source
    def segment_source(access_token=dlt.secrets.value):
        config: RESTAPIConfig = {
            "client": {
                "base_url": "https://api.segment.io/v1/",
                "auth": {"type": "bearer", "token": access_token},
            },
            "resources": ["warehouses", "sources", "destinations"],
        }
        yield from rest_api_resources(config)

    pipeline = dlt.pipeline(pipeline_name='segment_pipeline', destination='duckdb', dataset_name='segment_data')
    load_info = pipeline.run(segment_source(access_token))

(the page's snippet wraps `"auth"` in a stray pair of braces, a syntax error; shown here as intended)
and says "Pagination is handled automatically by the DefaultPaginator". It sets nothing else: no page size,
no paginator, no data selector, no write disposition, no parallelism, no file format.

Corrections, only so that it is complete and reads the same resources as segment-history
-----------------------------------------------------------------------------------------
1. `base_url`: the Public API host (here the emulator). `api.segment.io/v1` is Segment's *tracking* API.
2. `paginator`: Segment's cursor, `{"type": "cursor", "cursor_path": "data.pagination.next",
   "cursor_param": "pagination.cursor"}`. Left to auto-detection (checked against the emulator, medium
   scale), dlt 1.31 guesses from the first response: a single page for a list that fits one (warning
   "Fallback `paginator` used: SinglePagePaginator"), and for a longer list a cursor paginator that sends
   `?cursor=...`, which the API ignores: it is served the first page again and again and the run never
   ends (156 identical `/destinations?cursor=MjAw` requests in 20 s).
3. `pagination.count=200` on every request: the API requires `count` whenever `pagination` is sent
   (`PaginationInput.count` is required; the emulator answers `?pagination.cursor=...` alone with 422), so
   following the cursor needs it. 200 is the page size the API uses when `pagination` is absent, so the
   baseline keeps the API's default page size. Set through `resource_defaults.endpoint.params`, the way
   the REST API toolkit documents default query parameters.
4. `data_selector`: each list's key (`data.sources`, `data.trackingPlans`, `data.events`, ...).
5. The same resources as segment-history: warehouses/{id}/connected-sources, tracking-plans and their rules
   and sources, functions for each of the 5 `resourceType` values and their versions, labels, audit-events.
   Child endpoints use the toolkit's documented `{resources.<parent>.id}` + `include_from_parent: ["id"]`
   (without the parent's id a child row cannot be tied to its parent).

Everything else stays at dlt's defaults, as the page leaves it: the API's default page size (200 items),
resources read one after another (no `parallelized`), `write_disposition` "append", the destination's default
loader file format (insert_values for DuckDB), default nesting (nested lists become child tables, nested
objects are flattened into columns), default retries.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List

import dlt
from dlt.sources.rest_api import RESTAPIConfig, rest_api_resources

from segment_source.endpoints import ENDPOINTS_BY_NAME, FUNCTION_RESOURCE_TYPES

PIPELINE_NAME = "segment_pipeline"
DATASET_NAME = "segment_data"

API_DEFAULT_PAGE_SIZE = 200  # what the API serves when no `pagination` is sent
SEGMENT_CURSOR = {"type": "cursor", "cursor_path": "data.pagination.next", "cursor_param": "pagination.cursor"}


def _list(name: str, **extra: Any) -> Dict[str, Any]:
    """A resource as the page declares one; path, list key and parameters from segment-history's endpoint table."""
    declared = ENDPOINTS_BY_NAME[name]
    endpoint: Dict[str, Any] = {"path": declared.path, "data_selector": f"data.{declared.list_key}"}
    if declared.params:
        endpoint["params"] = dict(declared.params)
    return {"name": name, "endpoint": endpoint, **extra}


def _child(name: str) -> Dict[str, Any]:
    resource = _list(name, include_from_parent=["id"])
    parent = ENDPOINTS_BY_NAME[name].parent
    resource["endpoint"]["path"] = resource["endpoint"]["path"].replace("{id}", "{resources.%s.id}" % parent)
    return resource


def baseline_resources() -> List[Dict[str, Any]]:
    resources = [_list("sources"), _list("destinations"), _list("warehouses"), _child("source_warehouses"),
                 _list("tracking_plans"), _child("tracking_plan_rules"), _child("tracking_plan_sources")]
    for resource_type in FUNCTION_RESOURCE_TYPES:
        suffix = resource_type.lower()
        resources.append(_list(f"functions_{suffix}"))
        resources.append(_child(f"function_versions_{suffix}"))
    resources.append(_list("labels"))
    resources.append(_list("audit_events"))
    return resources


@dlt.source
def segment_source(access_token: str = dlt.secrets.value, base_url: str = "https://api.segmentapis.com/"):
    config: RESTAPIConfig = {
        "client": {
            "base_url": base_url,  # correction 1
            "auth": {"type": "bearer", "token": access_token},
            "paginator": SEGMENT_CURSOR,  # correction 2
        },
        "resource_defaults": {"endpoint": {"params": {"pagination.count": API_DEFAULT_PAGE_SIZE}}},  # correction 3
        "resources": baseline_resources(),  # corrections 4 and 5
    }
    yield from rest_api_resources(config)


def make_pipeline(workdir: str) -> dlt.Pipeline:
    """The page's pipeline; its DuckDB file and dlt's working dir are kept inside `workdir`."""
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=dlt.destinations.duckdb(os.path.join(workdir, f"{PIPELINE_NAME}.duckdb")),
        dataset_name=DATASET_NAME,
        pipelines_dir=os.path.join(workdir, "pipelines"),
    )


def run_baseline(base_url: str, access_token: str, workdir: str) -> Any:
    pipeline = make_pipeline(workdir)
    load_info = pipeline.run(segment_source(access_token, base_url.rstrip("/") + "/"))
    return pipeline, load_info
