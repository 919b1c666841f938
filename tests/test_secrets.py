"""Secrets never leave the API: not into the dataset, not into what the command line prints or logs, not
into dlt's working files.

The command line runs a few snapshots (with mutations, a rotated destination secret, a server that keeps
failing on one table, an unreachable API, the `changes` and `as-of` reports) with `-v` and every logger at
DEBUG. Then every value of every table of the DuckDB file (dlt's own and the staging dataset included,
dlt's compressed state decompressed), everything printed or logged, and every file under the pipelines
directory (compressed and parquet files decoded) are searched for:
- the access token: never anywhere;
- each source write key the workspace ever had: only as a `sha256:` fingerprint, unless `keep_write_keys`
  (then in the dataset, but not in dlt's files: a loaded package's files are deleted by default);
- the clear value behind each masked destination setting (`ws.secrets`): never; the masked value is kept;
- in the files `export terraform` writes (HCL and JSON): no token, write key, fingerprint or masked value.
"""

from __future__ import annotations

import gzip
import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, Iterable, List, Set

import duckdb
import pyarrow.parquet as pq
import pytest
from dlt.common.versioned_state import decompress_state

from segment_emulator import generate_workspace

from pipelines import cli
from segment_source.settings import MAX_ATTEMPTS

from .helpers import query

TOKEN = "sgp_Qm7xT2vK9pLr4Wn8Zc3Hy6Bd1Fj5Gs0Ua2Ee9Ii4Oo7Rt"


def write_keys(workspace) -> Set[str]:
    return {key for source in workspace.sources for key in source.get("writeKeys") or []}


def clear_secrets(workspace) -> Set[str]:
    return {value for settings in workspace.secrets.values() for value in settings.values() if value}


def dataset_text(duckdb_path: str) -> Dict[str, str]:
    """Every table of every schema in the file, all rows and columns, as one text per table."""
    texts = {}
    with duckdb.connect(duckdb_path, read_only=True) as connection:
        tables = connection.execute("select table_schema, table_name from information_schema.tables").fetchall()
        for schema, table in tables:
            cursor = connection.execute(f'select * from "{schema}"."{table}"')
            columns = [c[0] for c in cursor.description]
            parts = []
            for row in cursor.fetchall():
                for column, value in zip(columns, row):
                    parts.append(str(value))
                    if table == "_dlt_pipeline_state" and column == "state":
                        parts.append(json.dumps(decompress_state(value)))  # stored zlib-compressed
            texts[f"{schema}.{table}"] = "\n".join(parts)
    return texts


def file_text(path: Path) -> str:
    """A file's content as text, gzip and parquet decoded (dlt compresses extracted files by default)."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if data[:4] == b"PAR1":
        return json.dumps(pq.read_table(path).to_pylist(), default=str)
    return data.decode("utf-8", errors="replace")


def files_text(root: Path) -> Dict[str, str]:
    return {str(path.relative_to(root)): file_text(path) for path in root.rglob("*") if path.is_file()}


def found(needles: Iterable[str], texts: Dict[str, str]) -> List[str]:
    return sorted(f"{needle[:12]}... in {where}" for needle in needles for where, text in texts.items()
                  if needle in text)


@pytest.mark.parametrize("keep_write_keys", [False, True], ids=["fingerprinted-write-keys", "keep-write-keys"])
def test_no_secret_in_the_dataset_the_output_or_dlt_files(keep_write_keys, start_emulator, tmp_path, capsys, caplog,
                                                          monkeypatch):
    workspace = generate_workspace(seed=81, scale="small")
    emulator = start_emulator(workspace, tokens={TOKEN: "owner"})
    duckdb_path, pipelines_dir = str(tmp_path / "history.duckdb"), tmp_path / "pipelines"
    export_dir = tmp_path / "export"
    # the token through dlt's own configuration: the channel dlt could record in its traces
    monkeypatch.setenv("SOURCES__SEGMENT__ACCESS_TOKEN", TOKEN)
    monkeypatch.delenv("SEGMENT_ACCESS_TOKEN", raising=False)
    monkeypatch.setenv("SOURCES__SEGMENT__KEEP_WRITE_KEYS", str(keep_write_keys).lower())
    # loaded packages' files are deleted by default; kept here so the scan has dlt's parquet files to read
    if keep_write_keys:
        monkeypatch.delenv("LOAD__DELETE_COMPLETED_JOBS", raising=False)
    else:
        monkeypatch.setenv("LOAD__DELETE_COMPLETED_JOBS", "false")
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "DEBUG")
    caplog.set_level(logging.DEBUG)
    for name in ("dlt", "segment_history", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=name)
    logging.getLogger("dlt").addHandler(caplog.handler)  # dlt's logger does not propagate to the root
    place = ["--duckdb-path", duckdb_path, "--pipelines-dir", str(pipelines_dir), "--pipeline-name", "secrets"]
    run = ["-v", "run", "--base-url", emulator.base_url, *place]
    keys, secrets = write_keys(workspace), clear_secrets(workspace)
    codes = []
    try:
        codes.append(cli.main(run))
        workspace.mutate(count=6, seed=8)
        workspace.apply("create_source")  # a new write key
        workspace.apply("delete_source")  # a write key the latest snapshot no longer has
        workspace.apply("rotate_destination_secret", visible=True)
        keys |= write_keys(workspace)
        secrets |= clear_secrets(workspace)
        emulator.fail_next("/warehouses", status=503, times=MAX_ATTEMPTS)  # outlasts the retries: table skipped
        codes.append(cli.main(run))
        codes.append(cli.main([*run, "--base-url", "http://127.0.0.1:9"]))  # the API cannot be reached
        workspace.apply("rotate_destination_secret", visible=True)
        workspace.apply("disable_destination")
        secrets |= clear_secrets(workspace)
        codes.append(cli.main(run))
        codes.append(cli.main(["-v", "changes", "--since", "1d", "--output", "json", *place]))
        now = datetime.now(timezone.utc).isoformat()
        codes.append(cli.main(["-v", "as-of", now, "--table", "destinations", *place]))
        for form in ("hcl", "json"):  # the restore files: every moment's masked values, the write keys' sources
            codes.append(cli.main(["-v", "export", "terraform", "--as-of", now, "--format", form,
                                   "--out", str(export_dir / form), *place]))
    finally:
        logging.getLogger("dlt").removeHandler(caplog.handler)
    assert codes == [cli.EXIT_OK, cli.EXIT_PARTIAL, cli.EXIT_API, cli.EXIT_OK, cli.EXIT_OK, cli.EXIT_OK, cli.EXIT_OK,
                     cli.EXIT_OK]
    assert keys and secrets

    out, err = capsys.readouterr()
    records = "\n".join(caplog.text.splitlines() + [str(r.args) for r in caplog.records])
    output = {"stdout": out, "stderr": err, "log": records}
    assert "skipped warehouses" in err and "Cannot reach the Segment API" in err, "the failures were reported"
    assert sum(1 for r in caplog.records if r.name.startswith("dlt")) > 0, "dlt's own log was captured too"
    tables = dataset_text(duckdb_path)
    files = files_text(pipelines_dir)
    assert any("trace" in name for name in files) and any("state.json" in name for name in files)
    exported = files_text(export_dir)
    assert any(name.endswith(".tf") for name in exported) and any(name.endswith(".json") for name in exported)

    everywhere = {**output, **tables, **{f"file {name}": text for name, text in files.items()},
                  **{f"export {name}": text for name, text in exported.items()}}
    assert found([TOKEN], everywhere) == [], "the access token leaked"
    assert found(secrets, everywhere) == [], "a clear destination secret leaked"
    if keep_write_keys:
        assert found(keys, tables), "keep_write_keys keeps them in clear (and the scan sees it)"
        assert found(keys, files) == [], "by default dlt's loaded package files are deleted after the load"
        assert found(keys, exported) == [], "an export never writes a write key, even one kept in clear"
        # then they are data like any other (`changes` prints them), but never in messages or logs
        assert found(keys, {"stderr": err, "log": records}) == []
    else:
        assert found(keys, everywhere) == [], "a write key leaked"
        stored = [json.loads(row[0]) for row in query(_options(duckdb_path), "select write_keys from {ds}.sources")]
        assert stored and all(key.startswith("sha256:") for keys_of_row in stored for key in keys_of_row)
        fingerprints = {key for keys_of_row in stored for key in keys_of_row}
        assert found(fingerprints, files), "the scan reads dlt's (compressed, parquet) package files"
        assert found(fingerprints, exported) == [], "nor their fingerprints"
    masks = {value for d in workspace.destinations for value in d["settings"].values()
             if isinstance(value, str) and "\u2022" in value}
    assert masks and found(masks, exported) == [], "masked values become variables, never text in an export"

    # masked settings stay exactly as the API masked them
    current = {row[0]: json.loads(row[1]) for row in query(
        _options(duckdb_path), "select id, settings from {ds}.destinations where _dlt_valid_to is null")}
    masked = 0
    for destination in workspace.destinations:
        for name, clear in workspace.secrets.get(destination["id"], {}).items():
            if clear and name in destination["settings"]:
                assert current[destination["id"]][name] == destination["settings"][name]
                assert current[destination["id"]][name] != workspace.secrets[destination["id"]][name]
                masked += 1
    assert masked > 5


def _options(duckdb_path: str):
    from pipelines.runner import RunOptions

    return RunOptions(duckdb_path=duckdb_path)
