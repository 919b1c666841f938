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
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Set, Tuple

import duckdb
import pyarrow.parquet as pq
import pytest
from dlt.common.versioned_state import decompress_state

from segment_emulator import Emulator, generate_workspace

from pipelines import cli
from segment_source.settings import MAX_ATTEMPTS

from .helpers import ONE_TABLE, query

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


@pytest.mark.slow
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


# --- tokens as users paste them, and secrets in messages ------------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]
EMULATOR_TOKEN = "test-token"  # tests/conftest.py's


def run_in(directory: Path, *args: str, env: Dict[str, str] = None):
    """`segment-history ARGS` as a process started in `directory` (where dlt reads `.dlt/secrets.toml`)."""
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("SEGMENT_ACCESS_TOKEN", "SOURCES__SEGMENT__"))}
    environment.update(env or {}, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], cwd=str(directory), env=environment,
                          capture_output=True, text=True, timeout=300)


def write_secrets(directory: Path, text: str) -> Path:
    (directory / ".dlt").mkdir(parents=True, exist_ok=True)
    (directory / ".dlt" / "secrets.toml").write_text(text, encoding="utf-8")
    return directory


def place_args(directory: Path) -> List[str]:
    return ["--duckdb-path", str(directory / "history.duckdb"), "--pipelines-dir", str(directory / "pipelines")]


def table_rows(duckdb_path: str) -> Dict[str, int]:
    with duckdb.connect(duckdb_path, read_only=True) as connection:
        tables = connection.execute("select table_schema, table_name from information_schema.tables").fetchall()
        return {f"{s}.{t}": connection.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0] for s, t in tables}


@pytest.mark.parametrize("pasted", ["test-token\r\n", "\ttest-token\n", "  test-token  "],
                         ids=["crlf", "tab-and-newline", "spaces"])
def test_a_token_with_whitespace_around_it_is_trimmed(pasted, start_emulator, tmp_path, capsys, monkeypatch):
    emulator = start_emulator(generate_workspace(seed=9, scale="tiny"))
    monkeypatch.setenv("SEGMENT_ACCESS_TOKEN", pasted)
    code = cli.main(["run", "--base-url", emulator.base_url, *ONE_TABLE, *place_args(tmp_path)])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_OK, err
    assert "Authorization" not in err and EMULATOR_TOKEN not in out + err
    assert {r.status for r in emulator.requests} == {200}, "the API accepted the token, trimmed"


@pytest.mark.slow
def test_tokens_from_secrets_toml_are_trimmed_multi_line_strings_and_workspace_entries(start_emulator, tmp_path):
    emulator = start_emulator(generate_workspace(seed=9, scale="tiny"))
    other = start_emulator(generate_workspace(seed=10, scale="tiny"), tokens={"other-token": "owner"})
    single = write_secrets(tmp_path / "single", f'[sources.segment]\naccess_token = """\n{EMULATOR_TOKEN}\n"""\n')
    several = write_secrets(tmp_path / "several", "".join(
        f'[[sources.segment.workspaces]]\naccess_token = "{token}\\r\\n"\nbase_url = "{url}"\n\n'
        for token, url in ((EMULATOR_TOKEN, emulator.base_url), ("other-token", other.base_url))))

    done = run_in(single, "run", "--base-url", emulator.base_url, *ONE_TABLE, *place_args(single))
    assert done.returncode == cli.EXIT_OK, done.stderr
    done = run_in(several, "run", *ONE_TABLE, *place_args(several))
    assert done.returncode == cli.EXIT_OK, done.stderr
    loaded = query(_options(str(several / "history.duckdb")), "select count(*) from {ds}.workspace")
    assert loaded == [(2,)], "both workspaces were read with their trimmed tokens"


@pytest.fixture(scope="module")
def loaded_once(tmp_path_factory) -> Iterator[Tuple[Emulator, List[str]]]:
    """An emulator and a history loaded from it once, shared by the tests that are refused (and check that they
    changed nothing)."""
    directory = tmp_path_factory.mktemp("loaded")
    place = place_args(directory)
    with Emulator(generate_workspace(seed=9, scale="tiny"), tokens={EMULATOR_TOKEN: "owner"}) as emulator, \
            pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEGMENT_ACCESS_TOKEN", EMULATOR_TOKEN)
        assert cli.main(["run", "--base-url", emulator.base_url, *ONE_TABLE, *place]) == cli.EXIT_OK
        yield emulator, place


@pytest.mark.parametrize("token", ["sgp_Qm7xT2vK9p Lr4Wn8Zc3Hy6", "sgp_Qm7xT2vK9p\nLr4Wn8Zc3Hy6",
                                   "sgp_Qm7xT2vK9p\x1bLr4Wn8Zc3Hy6", "sgp_Qm7xT2vK9pé4Wn8Zc3Hy6"],
                         ids=["space", "newline", "escape", "non-ascii"])
def test_a_token_with_whitespace_or_control_characters_inside_is_refused_without_echoing_it(
    token, loaded_once, capsys, monkeypatch
):
    emulator, place = loaded_once
    before = table_rows(place[1])
    emulator.clear_requests()
    capsys.readouterr()

    monkeypatch.setenv("SEGMENT_ACCESS_TOKEN", token)
    code = cli.main(["-v", "run", "--base-url", emulator.base_url, *place])

    out, err = capsys.readouterr()
    assert code == cli.EXIT_USAGE, err
    assert err.startswith("segment-history: error: The Segment access token contains spaces, line breaks")
    for part in ("sgp_Qm7xT2vK9p", "Lr4Wn8Zc3Hy6", "4Wn8Zc3Hy6"):
        assert part not in out + err, "the refused token is not echoed, not even in the -v traceback"
    assert emulator.requests == [], "refused before any request"
    assert table_rows(place[1]) == before


def test_a_url_password_is_scrubbed_from_errors_and_the_traceback(start_emulator, tmp_path, capsys, monkeypatch):
    """A proxy's password in --base-url: the API refuses the request, and neither the error line nor the -v
    traceback shows the password."""
    emulator = start_emulator(generate_workspace(seed=9, scale="tiny"))
    monkeypatch.setenv("SEGMENT_ACCESS_TOKEN", EMULATOR_TOKEN)
    base_url = emulator.base_url.replace("http://", "http://proxy:Zq81ProxyPassword@")

    code = cli.main(["-v", "run", "--base-url", base_url, *place_args(tmp_path)])

    out, err = capsys.readouterr()
    assert code == cli.EXIT_AUTH, err
    assert "refused the access token" in err and "Traceback" in err
    assert "Zq81ProxyPassword" not in out + err and "http://proxy:***@127.0.0.1" in err.splitlines()[0]


def test_the_secret_settings_of_the_configuration_are_registered(tmp_path):
    """secrets.toml and the environment: tokens, passwords, connection strings and webhook URLs are masked
    in any message; the settings beside them (user names, hosts, bucket URLs) are not."""
    directory = write_secrets(tmp_path, """
[destination.postgres.credentials]
username = "loader_user"
password = "Zq81DatabasePassword"
host = "warehouse.internal"

[[sources.segment.workspaces]]
access_token = "sgp_Zq81WorkspaceToken"

[notifications]
slack_webhook_url = "https://hooks.example/services/T0/B0/Zq81WebhookPath"
""")
    names = ["loader_user", "Zq81DatabasePassword", "warehouse.internal", "sgp_Zq81WorkspaceToken",
             "https://hooks.example/services/T0/B0/Zq81WebhookPath", "postgresql://u:p@h/Zq81Dsn",
             "file:///data/lake_bucket"]
    script = ("from segment_source import redaction; redaction.register_configured_secrets();"
              f" print(redaction.scrub({' | '.join(names)!r}))")
    environment = {**os.environ, "DESTINATION__POSTGRES__CREDENTIALS": "postgresql://u:p@h/Zq81Dsn",
                   "DESTINATION__FILESYSTEM__BUCKET_URL": "file:///data/lake_bucket",
                   "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}

    done = subprocess.run([sys.executable, "-c", script], cwd=str(directory), env=environment,
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "loader_user | *** | warehouse.internal | *** | *** | *** | file:///data/lake_bucket")


def test_secrets_registered_by_a_run_are_scrubbed_from_every_log_record(start_emulator, tmp_path, caplog, monkeypatch):
    emulator = start_emulator(generate_workspace(seed=9, scale="tiny"))
    monkeypatch.setenv("SEGMENT_ACCESS_TOKEN", EMULATOR_TOKEN + "\n")
    assert cli.main(["run", "--base-url", emulator.base_url, *ONE_TABLE, *place_args(tmp_path)]) == cli.EXIT_OK

    with caplog.at_level(logging.INFO):
        logging.getLogger("dlt").addHandler(caplog.handler)  # dlt's logger does not propagate to the root
        try:
            logging.getLogger("dlt").warning("sent %r", {"Authorization": f"Bearer {EMULATOR_TOKEN}"})
            try:
                raise RuntimeError(f"header value 'Bearer {EMULATOR_TOKEN}\\r\\n'")
            except RuntimeError:
                logging.getLogger("segment_history").exception("request failed")
        finally:
            logging.getLogger("dlt").removeHandler(caplog.handler)
    assert len(caplog.records) == 2
    assert EMULATOR_TOKEN not in caplog.text, caplog.text
    assert "Bearer ***" in caplog.text and "RuntimeError" in caplog.text
