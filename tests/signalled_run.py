"""`segment-history run` in a real process, interrupted with a real signal at a chosen point.

The driver script below runs the command line and pauses at the point (it writes a marker file first); the
test sends the signal once the marker is there, then collects the exit code and what was printed:

    before-load   normalized, nothing loaded yet: the main thread waits before dlt's load starts
    during-load   dlt's load under way: a worker holds the `sources` job, committed but not recorded, for a
                  moment (dlt lets running jobs finish when it is signalled, then stops)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 120

DRIVER = r'''
import os, sys, time

point, marker, args = sys.argv[1], sys.argv[2], sys.argv[3:]


def reached(detail):
    with open(marker + ".tmp", "w") as handle:
        handle.write(detail)
    os.replace(marker + ".tmp", marker)


from dlt.common.destination.client import RunnableLoadJob
from dlt.pipeline.pipeline import Pipeline

if point == "before-load":
    load = Pipeline.load

    def paused_load(self, *a, **k):
        if self.list_normalized_load_packages():
            reached("load")
            time.sleep(TIMEOUT)
        return load(self, *a, **k)

    Pipeline.load = paused_load
elif point == "during-load":
    release = RunnableLoadJob._release

    def _release(self, next_state):
        if next_state == "completed" and self.file_name().startswith("sources."):
            reached(self.file_name())
            time.sleep(2)  # the signal arrives while this job runs: dlt waits for it, then stops
        release(self, next_state)

    RunnableLoadJob._release = _release

from pipelines import cli

sys.exit(cli.main(args))
'''.replace("TIMEOUT", str(TIMEOUT))


def run_interrupted(point: str, args: List[str], env: Dict[str, str], workdir: Path,
                    sig: int = signal.SIGINT) -> Tuple[int, str, str]:
    """Runs `segment-history ARGS` until it reaches `point`, sends `sig`, returns (exit code, stdout, stderr)."""
    driver, marker = workdir / "signal_driver.py", workdir / "reached"
    driver.write_text(DRIVER)
    marker.unlink(missing_ok=True)
    env = {**os.environ, **env, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, str(driver), point, str(marker), *args], env=env, cwd=str(workdir),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + TIMEOUT
    while not marker.exists():
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"the run ended (exit {process.returncode}) before {point}: {out} {err}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"{point} not reached in {TIMEOUT}s")
        time.sleep(0.02)
    process.send_signal(sig)
    out, err = process.communicate(timeout=TIMEOUT)
    return process.returncode, out, err
