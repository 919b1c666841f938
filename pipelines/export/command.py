"""`segment-history export terraform`: the command line of the export (registered by `pipelines.cli`)."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

import dlt

from segment_source.settings import DEFAULT_REGION, REGION_HOSTS

from .build import Export, ExportError, build_export
from .files import write_files
from .resources import RESOURCES


def register(commands: argparse._SubParsersAction, add_destination_options: Callable[[argparse.ArgumentParser], None],
             run_options: Callable[[argparse.Namespace], Any]) -> None:
    """Adds `export terraform` to the command line; `pipelines.cli` passes its destination options and how it
    makes `RunOptions` of them (this module does not import the command line that imports it)."""
    export = commands.add_parser("export", help="write the workspace as of a moment for restoring it")
    kinds = export.add_subparsers(dest="export_kind", required=True)
    terraform = kinds.add_parser(
        "terraform", help="Terraform for the official Segment provider (or Public API requests with --format json)",
        description="Writes the workspace as it was at a moment as Terraform for segmentio/segment: one file per"
                    " resource type, sensitive variables for the secrets, import blocks for what still exists.")
    terraform.add_argument("--as-of", required=True, dest="as_of", help="ISO date or timestamp (UTC), or 7d / 12h ago")
    terraform.add_argument("--out", required=True, help="folder to write into (files an earlier export wrote there"
                                                        " are replaced; others are left alone)")
    terraform.add_argument("--workspace", default=None, help="workspace id (needed when the history holds several)")
    terraform.add_argument("--resources", default=None,
                           help="comma-separated types to export (default: all): "
                                + ", ".join(spec.file for spec in RESOURCES))
    terraform.add_argument("--ids", default=None,
                           help="comma-separated ids: only these resources and what hangs off them")
    terraform.add_argument("--format", choices=["hcl", "json"], default="hcl",
                           help="hcl: Terraform files; json: Public API request bodies (default: hcl)")
    terraform.add_argument("--region", choices=sorted(REGION_HOSTS), default=None,
                           help="the workspace's region; eu sets the provider's url (default: sources.segment.region,"
                                " else us)")
    add_destination_options(terraform)
    terraform.set_defaults(handler=lambda args: command_export_terraform(args, run_options(args)))


def _names(text: Optional[str]) -> Optional[list]:
    return [name.strip() for name in text.split(",") if name.strip()] if text else None


def command_export_terraform(args: argparse.Namespace, options: Any) -> int:
    from pipelines import queries
    from pipelines.runner import history_mode, make_pipeline

    from .api_json import json_files
    from .terraform import terraform_files

    try:
        moment = queries.parse_moment(args.as_of)
    except ValueError as exc:  # its message, not the ISO parser's it was raised from
        raise ExportError(str(exc)) from None
    if options.destination == "duckdb" and not os.path.isfile(options.duckdb_path):
        raise ExportError(f"No history at {options.duckdb_path}: pass --duckdb-path (or --destination) of a"
                          " segment-history dataset.")
    pipeline = make_pipeline(options)
    with pipeline.sql_client() as sql:
        export = build_export(sql, moment, datetime.now(timezone.utc), args.workspace, _names(args.resources),
                              _names(args.ids), history_mode(pipeline))
    region = args.region or dlt.config.get("sources.segment.region") or DEFAULT_REGION
    texts = terraform_files(export, region) if args.format == "hcl" else json_files(export)
    write_files(Path(args.out), texts)
    print_summary(export, args.out, sorted(texts))
    return 0


def print_summary(export: Export, out: str, files: list) -> None:
    existing = sum(1 for r in export.resources if r.exists_now)
    imported = sum(1 for r in export.resources if r.exists_now and not r.not_importable)
    types = len({r.spec.type for r in export.resources})
    print(f"Wrote {len(export.resources)} resources of {types} types ({existing} still exist, {imported} with an"
          f" import block; {len(export.variables)} sensitive variables) to {out}: {', '.join(files)}.")
    for warning in export.warnings:
        print(f"warning: {warning}", file=sys.stderr)
