"""Shared fixtures: a running emulator per test, a DuckDB destination in the test's tmp dir, and one
PostgreSQL server for the session. CONTRIBUTING.md lists them, with the markers."""

from __future__ import annotations

import os
import shutil
import signal
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Tuple

import pytest

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
# retries back off from 1 s in production; tests exercise the same path faster
os.environ.setdefault("SOURCES__SEGMENT__RETRY_BACKOFF_SECONDS", "0.005")


def keep_scratch_in_memory(root: str = "/dev/shm", room: int = 4 * 2**30) -> None:
    """tmp_path and its kind live in memory (tmpfs) when there is room: the suite's hundreds of DuckDB commits
    each wait for the disk (fsync), 30 s of a 6-minute suite on 2 cores. `--basetemp`, or PYTEST_DEBUG_TEMPROOT
    (pytest's own setting for this), puts them elsewhere."""
    if "PYTEST_DEBUG_TEMPROOT" in os.environ or not os.access(root, os.W_OK):
        return
    if shutil.disk_usage(root).free >= room:
        os.environ["PYTEST_DEBUG_TEMPROOT"] = root


keep_scratch_in_memory()
# a suite started in the background by a script (`pytest &`: the shell ignores SIGINT for it) would pass that on
# to the runs the tests interrupt with SIGINT, and they would never stop: they get what a terminal gives them
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

from segment_emulator import Emulator, Workspace, generate_workspace  # noqa: E402

from pipelines.runner import RunOptions, RunResult, run_snapshot  # noqa: E402

from .emulator_http import TOKENS as EMULATOR_TEST_TOKENS  # noqa: E402
# defined here, not imported into each module that uses it: a session fixture imported into several modules is
# a fixture of each of them, and started once per module
from .postgres import postgres_dsn  # noqa: E402, F401

TOKEN = "test-token"


def pytest_collection_modifyitems(items):
    """A test that needs PostgreSQL is marked `postgres` by the fixture it uses, so `-m "not postgres"` works
    without anyone remembering to mark it. Then the modules with the most `slow` tests go first: the workers
    (pytest-xdist, a module per worker at a time) take modules in this order, so the long ones start early
    and the many quick ones fill in at the end, and both workers finish together."""
    for item in items:
        if "postgres_dsn" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
    slow_tests = Counter(item.path for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: -slow_tests[item.path])  # stable: a module's tests keep their order


@pytest.fixture(scope="session", autouse=True)
def own_dlt_data_dir(tmp_path_factory) -> Iterator[Path]:
    """dlt's default working directory (~/.dlt, or DLT_DATA_DIR) is the session's own: the suite's workers run
    side by side (pytest-xdist), and a test that runs a pipeline under the default directory must not meet
    another worker's, nor the developer's own pipelines."""
    previous = os.environ.get("DLT_DATA_DIR")
    os.environ["DLT_DATA_DIR"] = str(tmp_path_factory.mktemp("dlt"))
    yield Path(os.environ["DLT_DATA_DIR"])
    if previous is None:
        os.environ.pop("DLT_DATA_DIR", None)
    else:
        os.environ["DLT_DATA_DIR"] = previous


@pytest.fixture
def start_emulator() -> Iterator[Callable[..., Emulator]]:
    """Starts emulators for the test (tokens default to one owner token) and stops them afterwards."""
    started: List[Emulator] = []

    def start(workspace: Workspace, **kwargs) -> Emulator:
        kwargs.setdefault("tokens", {TOKEN: "owner"})
        emulator = Emulator(workspace, **kwargs)
        emulator.start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture
def small_workspace() -> Workspace:
    return generate_workspace(seed=11, scale="small")


@pytest.fixture
def options_for(tmp_path: Path) -> Callable[..., RunOptions]:
    """RunOptions that load into a DuckDB file and a dlt working dir inside tmp_path."""

    def make(emulator: Emulator, **kwargs) -> RunOptions:
        defaults = dict(
            access_token=TOKEN,
            base_url=emulator.base_url,
            duckdb_path=str(tmp_path / "history.duckdb"),
            pipelines_dir=str(tmp_path / "pipelines"),
            pipeline_name="test_history",
        )
        defaults.update(kwargs)
        return RunOptions(**defaults)

    return make


@pytest.fixture(scope="session")
def first_snapshots(tmp_path_factory) -> Callable[[int, str], Tuple[Path, RunResult, datetime]]:
    """`first_snapshots(seed, scale)`: the first snapshot of that generated workspace (`options_for`'s defaults:
    every default table), taken once per session, that is once per xdist worker. Returns its folder (the DuckDB
    file and dlt's working directory), its RunResult and the moment the workspace was generated at."""
    day = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)  # generate_workspace's
    taken: Dict[Tuple[int, str], Tuple[Path, RunResult, datetime]] = {}

    def take(seed: int, scale: str) -> Tuple[Path, RunResult, datetime]:
        if (seed, scale) not in taken:
            root = tmp_path_factory.mktemp(f"first_snapshot_{seed}_{scale}")
            with Emulator(generate_workspace(seed=seed, scale=scale, now=day), tokens={TOKEN: "owner"}) as emulator:
                first = run_snapshot(RunOptions(
                    access_token=TOKEN, base_url=emulator.base_url, duckdb_path=str(root / "history.duckdb"),
                    pipelines_dir=str(root / "pipelines"), pipeline_name="test_history"))
            taken[(seed, scale)] = (root, first, day)
        return taken[(seed, scale)]

    return take


@pytest.fixture
def after_first_snapshot(first_snapshots, start_emulator, options_for, tmp_path):
    """`after_first_snapshot(seed, scale) -> (workspace, emulator, options, first)`: the test's own workspace and
    emulator, and a DuckDB file and dlt working directory (at `options_for`'s places) that are a copy of the
    workspace's first snapshot: as if the test had taken it (`first` is its RunResult), without its cost. For
    tests that mutate the workspace after a first snapshot of every default table."""

    def make(seed: int, scale: str = "small"):
        root, first, day = first_snapshots(seed, scale)
        workspace = generate_workspace(seed=seed, scale=scale, now=day)
        emulator = start_emulator(workspace)
        options = options_for(emulator)
        shutil.copytree(root / "pipelines", options.pipelines_dir)
        for path in root.glob("history.duckdb*"):
            shutil.copy(path, tmp_path / path.name)
        return workspace, emulator, options, first

    return make


@pytest.fixture
def on_postgres(postgres_dsn, monkeypatch, options_for):
    """RunOptions for a fresh dataset on the session's PostgreSQL server (dlt reads the credentials from the
    environment)."""
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_dsn)

    def make(emulator, **kwargs):
        # a dataset per test on the shared server; PostgreSQL reserves names starting with pg_
        kwargs.setdefault("dataset_name", f"segment_config_{uuid.uuid4().hex[:8]}")
        return options_for(emulator, destination="postgres", pipeline_name="pg_history", **kwargs)

    return make


# the emulator's own tests (tests/emulator_http.py has their HTTP helpers)
@pytest.fixture(scope="module")
def small() -> Workspace:
    """The emulator tests' workspace, read-only in a test module: tests that mutate build their own."""
    return generate_workspace(seed=42, scale="small")


@pytest.fixture(scope="session")
def medium() -> Workspace:
    """A medium workspace (seed 1) for the tests that need its sizes (pages longer than 200 items); read-only."""
    return generate_workspace(seed=1, scale="medium")


@pytest.fixture(scope="module")
def emu(small: Workspace) -> Iterator[Emulator]:
    with Emulator(small, tokens=EMULATOR_TEST_TOKENS) as emulator:
        yield emulator


@pytest.fixture
def fresh() -> Iterator[tuple[Workspace, Emulator]]:
    workspace = generate_workspace(seed=7, scale="small")
    with Emulator(workspace, tokens=EMULATOR_TEST_TOKENS) as emulator:
        yield workspace, emulator
