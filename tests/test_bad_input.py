"""Bad input: one clear sentence, a documented non-zero exit code, and the destination left as it was."""

from __future__ import annotations

import threading

import pytest

from segment_emulator import generate_workspace

from pipelines import cli
from pipelines.runner import make_pipeline

from .conftest import TOKEN
from .helpers import query, tables


@pytest.fixture
def loaded(start_emulator, options_for, tmp_path, monkeypatch):
    """A destination holding one good snapshot, and a way to run the CLI against it."""
    emulator = start_emulator(generate_workspace(seed=9, scale="tiny"))
    options = options_for(emulator)
    monkeypatch.setenv("SEGMENT_ACCESS_TOKEN", TOKEN)

    def run(*extra: str) -> int:
        base = ["run", "--duckdb-path", options.duckdb_path, "--pipelines-dir", options.pipelines_dir,
                "--pipeline-name", options.pipeline_name]
        if "--base-url" not in extra:
            base += ["--base-url", emulator.base_url]
        return cli.main(base + list(extra))

    assert run() == cli.EXIT_OK
    return emulator, options, run


def dataset_fingerprint(options):
    """Row counts of every table, dlt's own included: any load would change at least `_dlt_loads`."""
    return {t: query(options, f"select count(*) from {{ds}}.{t}")[0][0] for t in sorted(tables(options))}


def assert_failed_cleanly(capsys, options, before, code, expected_code, *phrases):
    err = capsys.readouterr().err
    assert code == expected_code, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("segment-history: error: "), err
    for phrase in phrases:
        assert phrase in lines[0]
    assert dataset_fingerprint(options) == before, "the destination is unchanged"


def test_wrong_token(loaded, capsys, monkeypatch):
    emulator, options, run = loaded
    before = dataset_fingerprint(options)
    capsys.readouterr()
    monkeypatch.setenv("SEGMENT_ACCESS_TOKEN", "sgp_wrong")
    assert_failed_cleanly(capsys, options, before, run(), cli.EXIT_AUTH, "refused the access token (HTTP 401)")


def test_token_of_the_other_region_hints_at_region(loaded, capsys, start_emulator):
    emulator, options, run = loaded
    before = dataset_fingerprint(options)
    capsys.readouterr()
    us_emulator = start_emulator(generate_workspace(seed=10, scale="tiny"), tokens={"us-only-token": "owner"})
    code = run("--base-url", us_emulator.base_url)  # our token belongs to the other emulator's region
    assert_failed_cleanly(capsys, options, before, code, cli.EXIT_AUTH, "try --region eu")


def test_unreachable_host(loaded, capsys):
    emulator, options, run = loaded
    before = dataset_fingerprint(options)
    capsys.readouterr()
    code = run("--base-url", "http://127.0.0.1:9")
    assert_failed_cleanly(capsys, options, before, code, cli.EXIT_API, "Cannot reach the Segment API")


def test_unknown_resource(loaded, capsys):
    emulator, options, run = loaded
    before = dataset_fingerprint(options)
    capsys.readouterr()
    emulator.clear_requests()
    code = run("--resources", "sources,destinatons")
    assert_failed_cleanly(capsys, options, before, code, cli.EXIT_USAGE, "Unknown resource(s): destinatons")
    assert emulator.requests == [], "rejected before any request"


@pytest.mark.parametrize("variable,value,phrase", [
    ("SOURCES__SEGMENT__REGION", "mars", "Unknown Segment region 'mars'"),
    ("SOURCES__SEGMENT__MAX_CONCURRENCY", "lots", "max_concurrency"),
])
def test_invalid_config_value(loaded, capsys, monkeypatch, variable, value, phrase):
    emulator, options, run = loaded
    before = dataset_fingerprint(options)
    capsys.readouterr()
    monkeypatch.setenv(variable, value)
    assert_failed_cleanly(capsys, options, before, run(), cli.EXIT_USAGE, phrase)


def test_destination_that_cannot_be_opened(loaded, capsys, tmp_path):
    emulator, options, run = loaded
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("x")
    code = cli.main(["run", "--base-url", emulator.base_url, "--duckdb-path", str(not_a_directory / "h.duckdb"),
                     "--pipelines-dir", str(tmp_path / "other")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_DESTINATION
    assert "Cannot open the duckdb destination" in err and len(err.strip().splitlines()) == 1
    assert not (not_a_directory / "h.duckdb").exists()


def test_second_concurrent_run_refuses(loaded, capsys):
    emulator, options, run = loaded
    pipeline = make_pipeline(options)
    from pipelines.lock import pipeline_lock

    with pipeline_lock(pipeline.pipelines_dir, pipeline.pipeline_name):
        before = dataset_fingerprint(options)
        capsys.readouterr()
        result = {}
        worker = threading.Thread(target=lambda: result.setdefault("code", run()))
        worker.start()
        worker.join(timeout=60)
    assert_failed_cleanly(capsys, options, before, result["code"], cli.EXIT_LOCKED, "Another segment-history run")
