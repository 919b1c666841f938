"""A throwaway PostgreSQL server for the tests, started from the installed server binaries.

`postgres_dsn` (session fixture) gives a DSN for a fresh database that tests may fill as they like:

- `SEGMENT_HISTORY_POSTGRES_DSN` set: that server is used as it is (e.g. a CI service container).
- otherwise a new cluster is created under the system's temp dir with `initdb`, on a free local port,
  listening on 127.0.0.1 only, with a password-authenticated role `loader` owning database
  `segment_history`; it is stopped and deleted at the end of the session. The binaries are looked up in
  `SEGMENT_HISTORY_PG_BIN`, Debian's `/usr/lib/postgresql/<version>/bin` (newest first), then `PATH`.
  PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` system user (Debian's
  package creates it) and its commands run as that user.

Where no server can be started the tests are skipped, with the reason; with
`SEGMENT_HISTORY_REQUIRE_POSTGRES=1` (set by `.ci/run` once PostgreSQL is installed) they fail instead,
so CI never passes by skipping them.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

USER, PASSWORD, DATABASE = "loader", "loader-pw", "segment_history"
SUPERUSER_PASSWORD = "postgres-pw"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be started here."""


def server_binaries() -> Path:
    candidates: List[str] = []
    if os.environ.get("SEGMENT_HISTORY_PG_BIN"):
        candidates.append(os.environ["SEGMENT_HISTORY_PG_BIN"])
    debian = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(debian, key=lambda path: _version(path), reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    for directory in candidates:
        if (Path(directory) / "initdb").exists() and (Path(directory) / "pg_ctl").exists():
            return Path(directory)
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install them (Debian: apt-get install postgresql)"
        " or set SEGMENT_HISTORY_POSTGRES_DSN to a server to use"
    )


def _version(path: str) -> tuple:
    name = Path(path).parent.name
    return tuple(int(part) for part in name.split(".") if part.isdigit()) or (0,)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """One throwaway cluster: `start()`, `dsn`, `stop()`."""

    def __init__(self) -> None:
        self.bin = server_binaries()
        self.owner: Optional[pwd.struct_passwd] = None
        if os.geteuid() == 0:
            try:
                self.owner = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable(
                    "running as root, and there is no 'postgres' system user to own the cluster"
                    " (PostgreSQL refuses to run as root)"
                ) from None
        self.root = Path(tempfile.mkdtemp(prefix="segment-history-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self.started = False

    @property
    def dsn(self) -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *command: str, timeout: float = 120) -> subprocess.CompletedProcess:
        kwargs: Dict = {}
        if self.owner is not None:
            kwargs.update(user=self.owner.pw_uid, group=self.owner.pw_gid, extra_groups=[],
                          env={**os.environ, "HOME": self.owner.pw_dir, "USER": "postgres"})
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=str(self.root),
                                **kwargs)
        if result.returncode != 0:
            raise PostgresUnavailable(
                f"{Path(command[0]).name} failed (exit {result.returncode}): {(result.stderr or result.stdout)[-800:]}"
                f"{self._log_tail()}"
            )
        return result

    def _log_tail(self) -> str:
        try:
            return "\nserver log: " + self.log.read_text(errors="replace")[-800:]
        except OSError:
            return ""

    def start(self) -> "PostgresServer":
        password_file = self.root / "superuser-password"
        password_file.write_text(SUPERUSER_PASSWORD + "\n")
        if self.owner is not None:
            for path in (self.root, password_file):
                os.chown(path, self.owner.pw_uid, self.owner.pw_gid)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", f"--pwfile={password_file}",
                  "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C")
        for attempt in range(3):  # the free port may be taken between the probe and the start
            self.port = free_port()
            options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
                       " -c synchronous_commit=off -c full_page_writes=off")
            try:
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                          "-o", options, "start")
                break
            except PostgresUnavailable:
                if attempt == 2:
                    raise
        self.started = True
        self._create_database()
        return self

    def _create_database(self) -> None:
        import psycopg2

        deadline = time.monotonic() + 30
        while True:
            try:
                connection = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres",
                                              password=SUPERUSER_PASSWORD, dbname="postgres")
                break
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE ROLE {USER} LOGIN PASSWORD %s", (PASSWORD,))
            cursor.execute(f"CREATE DATABASE {DATABASE} OWNER {USER}")
        connection.close()

    def stop(self) -> None:
        if self.started:
            try:
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except (PostgresUnavailable, subprocess.TimeoutExpired):
                pass
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)


def _unavailable(reason: str) -> None:
    if os.environ.get("SEGMENT_HISTORY_REQUIRE_POSTGRES", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"PostgreSQL is required here (SEGMENT_HISTORY_REQUIRE_POSTGRES) but: {reason}")
    pytest.skip(f"no PostgreSQL server could be started: {reason}")


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    if os.environ.get("SEGMENT_HISTORY_POSTGRES_DSN"):
        yield os.environ["SEGMENT_HISTORY_POSTGRES_DSN"]
        return
    server = None
    try:
        server = PostgresServer()
        server.start()
    except (PostgresUnavailable, OSError, subprocess.SubprocessError) as exc:
        if server is not None:
            server.stop()
        _unavailable(" ".join(str(exc).split())[:1500])
    try:
        yield server.dsn
    finally:
        server.stop()
