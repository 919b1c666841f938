"""One measured run, in its own process: `python -m benchmarks.child ours|baseline --base-url ... --workdir ...`.

The parent (`benchmarks.run`) starts this process once per pipeline so that peak memory, CPU time and wall
time belong to that pipeline alone. It writes a JSON result (phases, rows per table, peak RSS as the
process saw it) to `--result`.

Phase timings come from wrapping dlt's `Pipeline.extract/normalize/load` and a few of the runner's
module-level steps with timers, here in the child only: nothing in `pipelines/` or `segment_source/` is
changed, and a step the runner no longer has is simply not timed.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import threading
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

TOKEN_ENV = "BENCHMARK_ACCESS_TOKEN"


class PhaseTimer:
    """Records (step, seconds, enclosing step) for every call of the wrapped functions."""

    def __init__(self) -> None:
        self.calls: List[Tuple[str, float, Optional[str], Optional[float]]] = []
        self._stack = threading.local()

    def _frames(self) -> List[str]:
        if not hasattr(self._stack, "names"):
            self._stack.names = []
        return self._stack.names

    def wrap(self, owner: Any, attribute: str, label: Optional[str] = None) -> None:
        original = getattr(owner, attribute, None)
        if original is None or getattr(original, "_benchmark_timed", False):
            return
        name = label or attribute

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            frames = self._frames()
            parent = frames[-1] if frames else None
            frames.append(name)
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                frames.pop()
                self.calls.append((name, time.perf_counter() - started, parent, peak_rss_mb()))

        timed._benchmark_timed = True  # type: ignore[attr-defined]
        setattr(owner, attribute, timed)

    def total(self, name: str, within: Optional[str] = "*") -> float:
        return sum(seconds for step, seconds, parent, _ in self.calls
                   if step == name and (within == "*" or parent == within))

    def as_list(self) -> List[Dict[str, Any]]:
        """Every timed call in the order it ended, with the process's peak RSS so far (which step raised it)."""
        return [{"step": step, "seconds": round(seconds, 3), "within": parent, "peak_rss_mb_after": peak}
                for step, seconds, parent, peak in self.calls]


def peak_rss_mb() -> Optional[float]:
    """VmHWM of this process (Linux), in MB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def peak_rss_mb_children() -> float:
    """The highest peak RSS among the processes this one started and reaped (the extraction process, normalize
    workers), each taken alone, in MB."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)


def table_rows(duckdb_path: str, dataset: str) -> Dict[str, int]:
    """Rows in every table of the dataset, dlt's own tables left out."""
    import duckdb

    with duckdb.connect(duckdb_path, read_only=True) as connection:
        names = [row[0] for row in connection.execute(
            "select table_name from information_schema.tables where table_schema = ? order by table_name",
            [dataset]).fetchall()]
        return {name: connection.execute(f'select count(*) from "{dataset}"."{name}"').fetchone()[0]
                for name in names if not name.startswith("_dlt")}


def _wrap_dlt(timer: PhaseTimer) -> None:
    from dlt.pipeline.pipeline import Pipeline

    for step in ("extract", "normalize", "load", "run"):
        timer.wrap(Pipeline, step)


WHAT_IF_ENV = "BENCHMARK_WHAT_IF"
WHAT_IFS = ("no-endpoint-limits", "base-install")
# installed by optional extras (`show`: dlt[hub], ibis), not by the project's own dependencies
OPTIONAL_HEAVY_MODULES = ("dlthub", "dlt_runtime", "ibis", "pandas")


class _NotInstalled:
    """An import finder for which `names` (and their submodules) do not exist."""

    def __init__(self, names: Tuple[str, ...]) -> None:
        self.names = names

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname.split(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def apply_what_ifs(names: List[str]) -> None:
    """Experiments on segment-history's settings that have no public switch, for finding bottlenecks only
    (results produced with one are labelled with it). `no-endpoint-limits`: the client does not pace the
    documented per-endpoint limits (e.g. 200 rule requests a minute) ahead of time. `base-install`: run as if
    only the project's dependencies were installed: when they are, `import dlt` imports the `dlthub` plugin
    (and ibis), and DuckDB imports pandas on its first parameterised query, about +100 MB of RSS together."""
    if "base-install" in names:
        os.environ["DLT_DISABLE_PLUGINS"] = "true"
        sys.meta_path.insert(0, _NotInstalled(OPTIONAL_HEAVY_MODULES))
    if "no-endpoint-limits" in names:
        import dataclasses

        from segment_source import endpoints

        for index, endpoint in enumerate(endpoints.ENDPOINTS):
            if endpoint.rate_limit_per_minute:
                endpoints.ENDPOINTS[index] = dataclasses.replace(endpoint, rate_limit_per_minute=None)
        endpoints.ENDPOINTS_BY_NAME.update({endpoint.name: endpoint for endpoint in endpoints.ENDPOINTS})


def run_ours(args: argparse.Namespace, timer: PhaseTimer) -> Dict[str, Any]:
    apply_what_ifs([name for name in os.environ.get(WHAT_IF_ENV, "").split(",") if name])
    import pipelines.runner as runner

    from .plan import BENCH_TABLES

    _wrap_dlt(timer)
    timer.wrap(runner, "_extract", label="extract")  # the whole step: dlt's extract may run in a child process
    for step in ("_snapshot_run", "check_destination", "recover_interrupted_run", "fetch_workspace", "segment_source",
                 "discard_tables", "_snapshot", "_record_history", "load_run_records"):
        timer.wrap(runner, step)
    duckdb_path = os.path.join(args.workdir, "segment_history.duckdb")
    options = runner.RunOptions(
        access_token=os.environ[TOKEN_ENV],
        base_url=args.base_url,
        resources=list(BENCH_TABLES) if args.tables == "bench" else None,  # None: the default groups
        duckdb_path=duckdb_path,
        pipelines_dir=os.path.join(args.workdir, "pipelines"),
        pipeline_name="segment_history_benchmark",
        max_concurrency=args.max_concurrency,
        page_size=args.page_size,
        requests_per_minute=args.requests_per_minute,
    )
    started = time.perf_counter()
    result = runner.run_snapshot(options)
    wall = time.perf_counter() - started
    main = "_snapshot_run"
    phases = {
        "preflight": timer.total("check_destination") + timer.total("recover_interrupted_run"),
        "source_build_and_get_workspace": timer.total("fetch_workspace") + timer.total("segment_source"),
        "extract": timer.total("extract", main),
        "discard_incomplete": timer.total("discard_tables"),
        "normalize": timer.total("normalize", main),
        "load": timer.total("load", main),
        "history": timer.total("_snapshot") + timer.total("_record_history"),
        "run_records": timer.total("load_run_records"),
    }
    phases["other"] = wall - sum(phases.values())
    return {
        "wall_s": wall,
        "phases": phases,
        "rows": table_rows(duckdb_path, options.dataset_name),
        "client_stats": result.requests,
        "skipped_tables": result.skipped,
        "extracted_rows": result.table_rows,
    }


def run_baseline(args: argparse.Namespace, timer: PhaseTimer) -> Dict[str, Any]:
    from . import baseline

    _wrap_dlt(timer)
    timer.wrap(baseline, "segment_source")
    started = time.perf_counter()
    pipeline, load_info = baseline.run_baseline(args.base_url, os.environ[TOKEN_ENV], args.workdir)
    wall = time.perf_counter() - started
    load_info.raise_on_failed_jobs()
    phases = {
        "source_build": timer.total("segment_source"),
        "extract": timer.total("extract"),
        "normalize": timer.total("normalize"),
        "load": timer.total("load"),
    }
    phases["other"] = wall - sum(phases.values())
    duckdb_path = os.path.join(args.workdir, f"{baseline.PIPELINE_NAME}.duckdb")
    return {"wall_s": wall, "phases": phases, "rows": table_rows(duckdb_path, baseline.DATASET_NAME)}


RUNNERS: Dict[str, Callable[[argparse.Namespace, PhaseTimer], Dict[str, Any]]] = {
    "ours": run_ours, "baseline": run_baseline,
}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.child")
    parser.add_argument("kind", choices=sorted(RUNNERS))
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--result", required=True)
    parser.add_argument("--max-concurrency", type=int)
    parser.add_argument("--page-size", type=int)
    parser.add_argument("--requests-per-minute", type=float)
    parser.add_argument("--tables", choices=("bench", "default"), default="bench")
    args = parser.parse_args(argv)
    timer = PhaseTimer()
    output: Dict[str, Any] = {"kind": args.kind}
    code = 0
    try:
        output.update(RUNNERS[args.kind](args, timer))
        output["phases"] = {name: round(seconds, 3) for name, seconds in output["phases"].items()}
        output["wall_s"] = round(output["wall_s"], 3)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which prints it
        output["error"] = f"{type(exc).__name__}: {exc}"
        output["traceback"] = traceback.format_exc()
        code = 1
    output["calls"] = timer.as_list()
    output["peak_rss_mb_self"] = peak_rss_mb()
    output["peak_rss_mb_children"] = peak_rss_mb_children()
    with open(args.result, "w") as handle:
        json.dump(output, handle, indent=2, default=str)
    return code


if __name__ == "__main__":
    sys.exit(main())
