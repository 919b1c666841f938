"""Bad input: one clear sentence, a documented non-zero exit code, and the destination left as it was."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pytest

from segment_emulator import Emulator, generate_workspace

from pipelines import cli
from pipelines.runner import RunOptions, make_pipeline

from .conftest import TOKEN
from .helpers import ONE_TABLE, dataset_fingerprint


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

    assert run(*ONE_TABLE) == cli.EXIT_OK
    return emulator, options, run


@pytest.fixture(scope="module")
def loaded_once(tmp_path_factory):
    """Like `loaded`, shared by the tests of this module that only fail (and check that they changed nothing)."""
    root = tmp_path_factory.mktemp("loaded")
    options = RunOptions(duckdb_path=str(root / "history.duckdb"), pipelines_dir=str(root / "pipelines"),
                         pipeline_name="test_history")
    with Emulator(generate_workspace(seed=9, scale="tiny"), tokens={TOKEN: "owner"}) as emulator:

        def run(*extra: str) -> int:
            base = ["run", "--duckdb-path", options.duckdb_path, "--pipelines-dir", options.pipelines_dir,
                    "--pipeline-name", options.pipeline_name]
            if "--base-url" not in extra:
                base += ["--base-url", emulator.base_url]
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("SEGMENT_ACCESS_TOKEN", TOKEN)
                return cli.main(base + list(extra))

        assert run(*ONE_TABLE) == cli.EXIT_OK
        yield emulator, options, run


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
    # zero is refused like a negative number, not replaced by the default
    ("SOURCES__SEGMENT__MAX_CONCURRENCY", "0", "sources.segment.max_concurrency must be a positive whole number"),
    ("SOURCES__SEGMENT__MAX_CONCURRENCY", "-1", "sources.segment.max_concurrency must be a positive whole number"),
    ("SOURCES__SEGMENT__FULL_SNAPSHOT_EVERY", "0", "sources.segment.full_snapshot_every must be a positive whole"),
    ("SOURCES__SEGMENT__REQUESTS_PER_MINUTE", "-5", "sources.segment.requests_per_minute must be a positive number"),
])
def test_invalid_config_value(loaded_once, capsys, monkeypatch, variable, value, phrase):
    emulator, options, run = loaded_once
    before = dataset_fingerprint(options)
    emulator.clear_requests()
    capsys.readouterr()
    monkeypatch.setenv(variable, value)
    assert_failed_cleanly(capsys, options, before, run(), cli.EXIT_USAGE, phrase)
    assert emulator.requests == [], "rejected before any request"


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


@pytest.mark.parametrize("flags,phrase", [
    (["--max-concurrency", "0"], "--max-concurrency must be a positive whole number, not 0."),
    (["--max-concurrency", "-1"], "--max-concurrency must be a positive whole number, not -1."),
    (["--requests-per-minute", "-5"], "--requests-per-minute must be a positive number, not -5.0."),
    (["--requests-per-minute", "0"], "--requests-per-minute must be a positive number, not 0.0."),
    (["--region", "mars"], "Unknown Segment region 'mars'"),
    (["--max-concurrency", "many"], "argument --max-concurrency: invalid int value: 'many'"),
    (["--destination", "nosuch"], "Unknown destination 'nosuch'"),
], ids=lambda value: "".join(value) if isinstance(value, list) else "")
def test_invalid_run_flag(loaded_once, capsys, flags, phrase):
    emulator, options, run = loaded_once
    before = dataset_fingerprint(options)
    emulator.clear_requests()
    capsys.readouterr()
    assert_failed_cleanly(capsys, options, before, run(*flags), cli.EXIT_USAGE, phrase)
    assert emulator.requests == [], "rejected before any request"


@pytest.mark.parametrize("region", ["EU", " Eu "])
def test_region_is_read_the_same_way_from_the_command_line_and_the_configuration(loaded, capsys, monkeypatch, region):
    emulator, options, run = loaded
    assert run("--region", region, *ONE_TABLE) == cli.EXIT_OK, capsys.readouterr().err
    monkeypatch.setenv("SOURCES__SEGMENT__REGION", region)
    assert run(*ONE_TABLE) == cli.EXIT_OK, capsys.readouterr().err


def test_verbose_is_accepted_after_the_sub_command_and_shows_the_traceback(loaded_once, capsys):
    emulator, options, run = loaded_once
    before = dataset_fingerprint(options)
    capsys.readouterr()
    for verbose in (["-v", "run"], ["run", "-v"]):
        code = cli.main([*verbose, "--base-url", emulator.base_url, "--duckdb-path", options.duckdb_path,
                         "--pipelines-dir", options.pipelines_dir, "--max-concurrency", "0"])
        err = capsys.readouterr().err
        assert code == cli.EXIT_USAGE
        first, *rest = err.splitlines()
        assert first == "segment-history: error: --max-concurrency must be a positive whole number, not 0."
        assert rest[0] == "Traceback (most recent call last):" and "UsageError" in rest[-1]
    assert dataset_fingerprint(options) == before


def test_a_destination_error_shows_its_cause_whole(loaded_once, capsys, tmp_path):
    emulator, options, run = loaded_once
    not_a_database = tmp_path / ("a-rather-long-directory-name-" * 4) / "notes.txt"
    not_a_database.parent.mkdir()
    not_a_database.write_text("my notes\n")
    code = run("--duckdb-path", str(not_a_database))
    err = capsys.readouterr().err
    assert code == cli.EXIT_DESTINATION
    assert err.rstrip().endswith(f'"{not_a_database}" exists, but it is not a valid DuckDB database file!'), err
    assert "Please check if you configured the credentials" not in err, "dlt's wrapping is left out"
    assert not_a_database.read_text() == "my notes\n"


# --- the demo never replaces a file it did not make ----------------------------------------------------------------


def demo(path, *extra: str) -> int:
    return cli.main(["demo", "--scale", "tiny", "--runs", "1", "--duckdb-path", str(path),
                     "--pipelines-dir", str(path.parent / "demo-pipelines"), *extra])


def test_demo_refuses_a_file_it_did_not_make(loaded_once, capsys, tmp_path):
    emulator, options, run = loaded_once
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n")
    history = Path(options.duckdb_path)  # a real history
    before = dataset_fingerprint(options)
    capsys.readouterr()

    for path in (notes, history):
        code = demo(path)
        err = capsys.readouterr().err
        assert code == cli.EXIT_USAGE, err
        assert err == (f"segment-history: error: {path} exists and is not a history made by `segment-history demo`:"
                       " choose another --duckdb-path, or add --force to replace it.\n")
    assert notes.read_text() == "not a database\n"
    assert dataset_fingerprint(options) == before


@pytest.mark.slow
def test_demo_replaces_its_own_file_and_with_force_any_file(tmp_path, capsys):
    demo_file = tmp_path / "demo.duckdb"
    assert demo(demo_file) == cli.EXIT_OK
    assert demo(demo_file) == cli.EXIT_OK, capsys.readouterr().err
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n")
    assert demo(notes, "--force") == cli.EXIT_OK, capsys.readouterr().err
    with duckdb.connect(str(notes), read_only=True) as connection:
        assert connection.execute("select count(*) from segment_config.snapshots").fetchone() == (1,)


def test_demo_runs_must_be_positive(tmp_path, capsys):
    assert demo(tmp_path / "demo.duckdb", "--runs", "0") == cli.EXIT_USAGE
    assert capsys.readouterr().err == "segment-history: error: --runs must be a positive whole number, not 0.\n"
    assert list(tmp_path.iterdir()) == []
