"""The destination a run writes to: its identity, dlt's pipeline for it, what it can do, and a check that
it opens.

dlt keeps a pipeline's working folder (its state, schemas and pending load packages) per pipeline name,
and loads whatever is pending into the destination of whichever run comes next: a run interrupted on its
way to one DuckDB file would be finished into another, or into another dataset
(https://github.com/dlt-hub/dlt/issues/3227). So each *target* (destination type, where its data lives,
dataset) gets a working folder of its own, as dlt's docs suggest for separate environments
(https://dlthub.com/docs/general-usage/pipeline#separate-working-environments-with-pipelines_dir):

    <pipelines dir>/<pipeline name>.targets/<destination>.<dataset>.<hash>/
        target.json                 what the target is (no credentials: where the data lives, the dataset)
        <pipeline name>/            dlt's working folder for this target alone
        <pipeline name>.lock        the run lock (`lock.py`)
        <pipeline name>.pending-run.json   a run not yet recorded (`run_records.py`)

What a run leaves pending there is only ever loaded by a later run into the same target.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Dict, Iterator, List, Optional, Protocol
from urllib.parse import urlsplit, urlunsplit

import dlt
from dlt.common.configuration.container import Container
from dlt.common.configuration.specs.config_section_context import ConfigSectionContext
from dlt.common.destination.reference import Destination
from dlt.common.pipeline import get_dlt_pipelines_dir

from .errors import DestinationUnavailable, cause_of

TARGETS_SUFFIX = ".targets"
TARGET_FILE = "target.json"


class Place(Protocol):
    """Where a run writes (the runner's options have these fields)."""

    destination: str
    duckdb_path: str
    dataset_name: str
    pipeline_name: str
    pipelines_dir: Optional[str]


@dataclass(frozen=True)
class Target:
    """One destination and dataset of one pipeline: what its working folder belongs to."""

    pipeline_name: str
    destination: str  # as the run names it: duckdb, postgres, or a destination named in the configuration
    location: str  # where its data lives, as dlt reports it: a file, host:port/database, a bucket
    dataset_name: str
    folder: str  # holds dlt's working folder for this target, the run lock and the pending-run record

    def describe(self) -> str:
        return f"{self.destination} {self.location}, dataset {self.dataset_name}"

    @property
    def base_pipelines_dir(self) -> str:
        return os.path.dirname(os.path.dirname(self.folder))

    def run_command(self) -> str:
        """The command line of a run into this target (credentials come from the configuration)."""
        where = (f"--duckdb-path {self.location}" if self.destination == "duckdb"
                 else f"--destination {self.destination}")
        command = f"segment-history run {where} --dataset-name {self.dataset_name}"
        if self.pipeline_name != "segment_history":
            command += f" --pipeline-name {self.pipeline_name}"
        if os.path.abspath(self.base_pipelines_dir) != os.path.abspath(get_dlt_pipelines_dir()):
            command += f" --pipelines-dir {self.base_pipelines_dir}"
        return command


def _destination(options: Place) -> Any:
    if options.destination == "duckdb":
        return dlt.destinations.duckdb(os.path.abspath(options.duckdb_path))
    return options.destination


def _location(options: Place, destination: Any) -> str:
    """Where the destination keeps its data, from its resolved configuration, without credentials."""
    if options.destination == "duckdb":
        return os.path.abspath(options.duckdb_path)
    factory = Destination.from_reference(destination)
    try:
        # resolved as dlt.pipeline() resolves it, including the pipeline's own section of the configuration
        with Container().injectable_context(ConfigSectionContext(pipeline_name=options.pipeline_name)):
            config = factory.configuration(factory.spec(), accept_partial=True)
        location = config.data_location() or "(no data location)"
    except Exception:  # noqa: BLE001 - incomplete credentials: check_destination says what is wrong
        return "(not configured)"
    parts = urlsplit(location)
    if parts.password or parts.username:  # a user or password written into a bucket URL stays out
        location = urlunsplit(parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")))
    return location


def base_pipelines_dir(options: Place) -> str:
    return os.path.abspath(options.pipelines_dir or get_dlt_pipelines_dir())


def targets_dir(base: str, pipeline_name: str) -> str:
    return os.path.join(base, pipeline_name + TARGETS_SUFFIX)


def target_of(options: Place) -> Target:
    kind = options.destination
    location = _location(options, _destination(options))
    digest = hashlib.sha256(f"{kind}\n{location}\n{options.dataset_name}".encode()).hexdigest()[:12]
    readable = ".".join(re.sub(r"[^A-Za-z0-9_-]+", "_", part)[:40] for part in (kind, options.dataset_name))
    folder = os.path.join(targets_dir(base_pipelines_dir(options), options.pipeline_name), f"{readable}.{digest}")
    return Target(options.pipeline_name, kind, location, options.dataset_name, folder)


def read_target(folder: str) -> Optional[Target]:
    """The target a folder under `<pipeline name>.targets/` belongs to, as its run recorded it."""
    try:
        with open(os.path.join(folder, TARGET_FILE), encoding="utf-8") as handle:
            return Target(**{**json.load(handle), "folder": folder})
    except (OSError, ValueError, TypeError):
        return None


def other_targets(target: Target) -> List[Target]:
    parent = os.path.dirname(target.folder)
    names = sorted(os.listdir(parent)) if os.path.isdir(parent) else []
    found = [read_target(os.path.join(parent, name)) for name in names if os.path.join(parent, name) != target.folder]
    return [other for other in found if other is not None]


def _record_target(target: Target) -> None:
    path = os.path.join(target.folder, TARGET_FILE)
    if os.path.exists(path):
        return
    os.makedirs(target.folder, exist_ok=True)
    record: Dict[str, Any] = {k: v for k, v in asdict(target).items() if k != "folder"}
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2)
    os.replace(path + ".tmp", path)


def make_pipeline(options: Place) -> dlt.Pipeline:
    """dlt's pipeline for the options' target, working in that target's own folder."""
    # dlt keeps each loaded package's files under load/loaded/ for good: a nightly schedule would grow the
    # disk by a snapshot a night (and with keep_write_keys keep clear keys there); with this on, dlt deletes
    # the files and recovery.forget_loaded_packages the rest. `[load] delete_completed_jobs = false` keeps
    # them for debugging.
    if dlt.config.get("load.delete_completed_jobs") is None:
        os.environ["LOAD__DELETE_COMPLETED_JOBS"] = "true"
    target = target_of(options)
    _record_target(target)
    return dlt.pipeline(
        pipeline_name=options.pipeline_name,
        destination=_destination(options),
        dataset_name=options.dataset_name,
        pipelines_dir=target.folder,
        progress="log" if os.environ.get("SEGMENT_HISTORY_DLT_PROGRESS") else None,
    )


def history_mode(pipeline: dlt.Pipeline) -> str:
    """SCD2 where the destination can merge that way; full snapshots appended elsewhere (files)."""
    strategies = pipeline.destination.capabilities().supported_merge_strategies or []
    return "scd2" if "scd2" in strategies else "snapshots"


def loader_file_format(pipeline: dlt.Pipeline) -> Optional[str]:
    # parquet loads into DuckDB 20-30x faster than insert_values (DLT_NOTES); other SQL
    # destinations keep their own preferred format
    return "parquet" if pipeline.destination.destination_name in ("duckdb", "filesystem") else None


DUCKDB = "dlt.destinations.duckdb"


def is_duckdb(pipeline: dlt.Pipeline) -> bool:
    return pipeline.destination.destination_type == DUCKDB


class OpenDatabase:
    """The connection `kept_open` holds; `release` closes it early, for a run large enough that DuckDB's memory
    held from step to step would raise the run's peak (BENCHMARKS.md, "Memory, third pass")."""

    def __init__(self, client: Any = None) -> None:
        self._client = client

    def release(self) -> None:
        if self._client is not None:
            self._client.close_connection()
            self._client = None


@contextmanager
def kept_open(pipeline: dlt.Pipeline) -> Iterator[OpenDatabase]:
    """A DuckDB destination stays open while the run is inside: dlt opens a connection for each step, job and
    state sync (about 12 a run), and each of them opened the file (35-95 ms: its catalog read, its write-ahead
    log checkpointed on close). While one connection is open, DuckDB hands the others the database already
    open. The file is closed, and free for other processes to open, when the run ends."""
    held = OpenDatabase()
    if is_duckdb(pipeline):
        client = pipeline.sql_client()
        try:
            client.open_connection()
            held = OpenDatabase(client)
        except Exception:  # noqa: BLE001 - check_destination says what is wrong
            pass
    try:
        yield held
    finally:
        held.release()


def check_destination(pipeline: dlt.Pipeline) -> None:
    """Opens the destination before any API work, so a wrong path or credentials fail in a second."""
    try:
        with pipeline.sql_client() as sql:
            sql.has_dataset()
    except Exception as exc:  # noqa: BLE001 - every driver raises its own kind
        reason = cause_of(exc)
        raise DestinationUnavailable(
            f"Cannot open the {pipeline.destination.destination_name} destination"
            f" (dataset {pipeline.dataset_name}): {reason}"
        ) from exc


@contextmanager
def removed_if_left_empty(options: Place) -> Iterator[None]:
    """A DuckDB file the run creates (opening it creates it) is removed at the end if nothing was loaded
    into it: a run that failed before its load, say because the API did not answer, leaves no empty file."""
    path = os.path.abspath(options.duckdb_path) if options.destination == "duckdb" else None
    created = path is not None and not os.path.exists(path)
    try:
        yield
    finally:
        if created and path is not None and os.path.exists(path) and not _holds_a_dataset(options):
            for suffix in ("", ".wal"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)


def _holds_a_dataset(options: Place) -> bool:
    try:
        with make_pipeline(options).sql_client() as sql:
            return bool(sql.has_dataset())
    except Exception:  # noqa: BLE001 - a file that cannot be read is left as it is
        return True
