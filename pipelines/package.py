"""Surgery on dlt's extracted load package, between extract and normalize.

dlt writes each table of a run into the package as the pages arrive. When a table turns out to be
incomplete (a permission gap, a malformed page, a server that kept failing), its files are removed
from the package before anything is loaded, so SCD2 never sees a partial snapshot of it.
"""

from __future__ import annotations

from typing import Collection, Dict, Iterable

import dlt
from dlt.common.storages.load_package import ParsedLoadJobFileName

from segment_source.endpoints import ENDPOINTS, parent_of
from segment_source.outcomes import Outcome, of_skipped_parent


def with_dependent_tables(skipped: Dict[str, Outcome]) -> Dict[str, Outcome]:
    """A child table read from a skipped parent only saw some parents: it is incomplete too."""
    result = dict(skipped)
    changed = True
    while changed:
        changed = False
        for endpoint in ENDPOINTS:
            parent = parent_of(endpoint)
            if parent and parent.table_name in result and endpoint.table_name not in result:
                result[endpoint.table_name] = of_skipped_parent(parent.table_name, result[parent.table_name])
                changed = True
    return result


def discard_tables(pipeline: dlt.Pipeline, load_ids: Iterable[str], tables: Collection[str]) -> int:
    """Deletes the extracted files of `tables` from the given packages; returns how many were removed."""
    if not tables:
        return 0
    # dlt has no public call for this; the extracted package is plain files in its normalize storage
    packages = pipeline._get_normalize_storage().extracted_packages
    removed = 0
    for load_id in load_ids:
        for job_path in packages.list_new_jobs(load_id):
            if ParsedLoadJobFileName.parse(job_path).table_name in tables:
                packages.storage.delete(job_path)
                removed += 1
    return removed
