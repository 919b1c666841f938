"""Benchmark: segment-history against dlt's generic rest_api baseline, on one emulated workspace.

    python -m benchmarks.run --scale medium --latency-ms 40 --rate-limit-rps 20

Starts the Segment API emulator in this process at the given scale, latency and rate limit, then runs
segment-history (`pipelines.runner.run_snapshot`, DuckDB in a temp dir) and the baseline
(`benchmarks/baseline.py`) against it, each in its own subprocess, one after the other. For each run it
reports requests (as the emulator saw them), pages (200s from list endpoints), 429s, wall time, CPU time,
peak RSS (`wait4` rusage of that process), rows per table, and the phases of the run; then the ratios
ours/baseline, ours against the minimal request plan (`benchmarks/plan.py`) and, with a rate limit, against
the floor `requests / rate`. Results go to `benchmarks/results/<name>.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, List, Optional

from segment_source.endpoints import ENDPOINTS, PLACEHOLDER

from .plan import BENCH_TABLES, compare_to_plan, endpoint_of, minimal_plan

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
TOKEN = "benchmark-token"
RUN_KINDS = ("ours", "baseline")

# What ours reads: the 11 tables the baseline reads too, or what `segment-history run` reads by default.
TABLE_SETS = ("bench", "default")

# The project's targets for the default groups (issue 15). Reported against, never asserted.
DEFAULT_SET_TARGETS = {
    "wall_s": ("<=", 90.0),
    "peak_rss_mb": ("<=", 300.0),
    "wall_vs_rate_floor": ("<=", 1.15),
    "wall_vs_limits_floor": ("<=", 1.15),
    "rate_limited_share": ("<=", 0.01),
}

# The project's targets (issue 5). Reported against, never asserted.
TARGETS = {
    "wall_speedup_vs_baseline": (">=", 10.0),
    "requests_vs_minimal_plan": ("<=", 1.05),
    "requests_vs_baseline": ("<", 1.0),
    "peak_rss_mb": ("<=", 400.0),
    "normalize_load_s": ("<=", 30.0),
    "wall_vs_rate_floor": ("<=", 1.15),
    "wall_vs_limits_floor": ("<=", 1.15),
    "rate_limited_share": ("<=", 0.01),
}


# --- machine and scenario -------------------------------------------------------------------------------------


def result_header(module: str, name: str, argv: List[str], scenario: Dict[str, Any]) -> Dict[str, Any]:
    """What every benchmark result starts with: its name, when and on what it ran, the command that reruns it."""
    return {"name": name, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(["python -m " + module, *(shlex.quote(a) for a in argv)]),
            "machine": machine(), "scenario": scenario}


def write_result(out_dir: str, name: str, result: Dict[str, Any]) -> Path:
    """Writes a benchmark's result as `<out_dir>/<name>.json` (the folder made if needed) and returns its path."""
    out = Path(out_dir) / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return out


def machine() -> Dict[str, Any]:
    def version(package: str) -> Optional[str]:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    memory_gb = None
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    cpu = None
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), None)
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gb": memory_gb,
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "dlt": version("dlt"),
        "duckdb": version("duckdb"),
        "pyarrow": version("pyarrow"),
        # when installed, `import dlt` imports dlthub and DuckDB imports pandas: about +100 MB RSS per run
        "dlthub": version("dlthub"),
        "pandas": version("pandas"),
        "niceness": os.nice(0),  # runs on a shared machine may be given priority (nice -n -19)
    }


def scenario_name(args: argparse.Namespace) -> str:
    limit = f"rps{args.rate_limit_rps:g}" if args.rate_limit_rps else "nolimit"
    tables = "-default" if args.tables == "default" else ""
    return args.name or f"{args.scale}-lat{args.latency_ms:g}ms-{limit}{tables}"


# --- one run --------------------------------------------------------------------------------------------------


def _wait(pid: int, timeout: Optional[float]) -> tuple:
    """wait4 on the child: its exit status and its own rusage (peak RSS of that process alone)."""
    deadline = time.monotonic() + timeout if timeout else None
    while True:
        waited, status, usage = os.wait4(pid, os.WNOHANG)
        if waited == pid:
            return status, usage, False
        if deadline and time.monotonic() > deadline:
            os.kill(pid, 9)
            _, status, usage = os.wait4(pid, 0)
            return status, usage, True
        time.sleep(0.05)


def request_stats(records: List[Any], latency_ms: float, started: float) -> Dict[str, Any]:
    """What the emulator saw during one run."""
    try:
        from segment_emulator.routes import find_route

        def is_list(path: str) -> bool:
            try:
                return find_route(path)[0].list_key is not None
            except Exception:  # noqa: BLE001 - unknown path: not a list page
                return False
    except ImportError:  # pragma: no cover - emulator reorganised: every path but GET / is a list here
        def is_list(path: str) -> bool:
            return path != "/"

    statuses = Counter(record.status for record in records)
    list_cache: Dict[str, bool] = {}
    pages = 0
    for record in records:
        if record.status == 200:
            if record.path not in list_cache:
                list_cache[record.path] = is_list(record.path)
            pages += list_cache[record.path]
    stats: Dict[str, Any] = {
        "requests": len(records),
        "pages": pages,
        "rate_limited_429": statuses.get(429, 0),
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
        "requests_by_endpoint": dict(sorted(Counter(endpoint_of(r.path) for r in records).items())),
    }
    if records:
        first, last = min(r.at for r in records), max(r.at for r in records)
        latency = latency_ms / 1000
        stats["first_request_after_s"] = round(first - started, 3)
        stats["last_request_after_s"] = round(last - started, 3)
        timeline: Dict[str, Dict[str, Any]] = {}
        for record in records:
            entry = timeline.setdefault(endpoint_of(record.path),
                                        {"requests": 0, "first_s": record.at, "last_s": record.at})
            entry["requests"] += 1
            entry["first_s"], entry["last_s"] = min(entry["first_s"], record.at), max(entry["last_s"], record.at)
        # when each endpoint was read, in seconds after the run's process started
        stats["endpoint_timeline"] = {
            name: {"requests": e["requests"], "first_s": round(e["first_s"] - started, 2),
                   "last_s": round(e["last_s"] - started, 2)}
            for name, e in sorted(timeline.items(), key=lambda item: item[1]["first_s"])
        }
        span = last + latency - first
        stats["request_span_s"] = round(span, 3)
        if latency > 0 and span > 0:
            # each request holds a server thread for at least `latency`: time-weighted requests in flight
            stats["mean_in_flight"] = round(len(records) * latency / span, 2)
            events = sorted([(r.at, 1) for r in records] + [(r.at + latency, -1) for r in records])
            in_flight = peak = 0
            for _, step in events:
                in_flight += step
                peak = max(peak, in_flight)
            stats["max_in_flight"] = peak
    return stats


def logical_rows(kind: str, rows: Dict[str, int], table_set: str = "bench") -> Dict[str, int]:
    """Rows per segment-history table name (the baseline splits functions by type and nests lists)."""
    wanted = set(BENCH_TABLES)
    if table_set == "default":
        from segment_source.endpoints import tables

        wanted = set(tables())
    logical: Dict[str, int] = {}
    for table, count in rows.items():
        if "__" in table:
            continue  # the baseline's nested child tables (labels, write keys, ...)
        name = table
        if kind == "baseline":
            if table.startswith("function_versions_"):
                name = "function_versions"
            elif table.startswith("functions_"):
                name = "functions"
        if name in wanted or name == "workspace":
            logical[name] = logical.get(name, 0) + count
    return dict(sorted(logical.items()))


class InFlightSampler:
    """Samples how many requests the emulator is answering, every `interval` seconds, in a thread of this
    process (the emulator runs here): the in-flight count over the run, without timing any request."""

    def __init__(self, emulator: Any, interval: float = 0.1) -> None:
        self.emulator, self.interval = emulator, interval
        self.samples: List[tuple] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="in-flight-sampler", daemon=True)

    def __enter__(self) -> "InFlightSampler":
        self._started = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            count = getattr(self.emulator, "in_flight", None)
            if count is not None:
                self.samples.append((time.perf_counter() - self._started, count))

    def timeline(self) -> List[List[float]]:
        """[second, mean, max] of the requests in flight in each second of the run."""
        by_second: Dict[int, List[int]] = {}
        for at, count in self.samples:
            by_second.setdefault(int(at), []).append(count)
        return [[second, round(sum(counts) / len(counts), 1), max(counts)]
                for second, counts in sorted(by_second.items())]


def run_one(kind: str, args: argparse.Namespace, emulator: Any, env_overrides: Dict[str, str]) -> Dict[str, Any]:
    workdir = tempfile.mkdtemp(prefix=f"segment-bench-{kind}-")
    result_path = os.path.join(workdir, "result.json")
    log_path = os.path.join(workdir, f"{kind}.log")
    command = [sys.executable, "-m", "benchmarks.child", kind, "--base-url", emulator.base_url,
               "--workdir", workdir, "--result", result_path]
    if kind == "ours":
        command += ["--tables", args.tables]
        for flag, value in (("--max-concurrency", args.max_concurrency), ("--page-size", args.page_size),
                            ("--requests-per-minute", args.requests_per_minute)):
            if value is not None:
                command += [flag, str(value)]
    env = dict(os.environ)
    env.update({"RUNTIME__DLTHUB_TELEMETRY": "false", "BENCHMARK_ACCESS_TOKEN": TOKEN,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))})
    if kind == "ours":
        env.update(env_overrides)
        if args.what_if:
            env["BENCHMARK_WHAT_IF"] = ",".join(args.what_if)
    emulator.clear_requests()
    load_before = os.getloadavg()[0]
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started_epoch = time.time()
    started = time.perf_counter()
    with open(log_path, "w") as log, InFlightSampler(emulator) as sampler:
        process = subprocess.Popen(command, cwd=str(REPO), env=env, stdout=log, stderr=subprocess.STDOUT)
        status, usage, timed_out = _wait(process.pid, args.timeout)
    process.returncode = os.waitstatus_to_exitcode(status)
    process_wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    records = emulator.requests
    try:
        with open(result_path) as handle:
            child = json.load(handle)
    except (OSError, ValueError):
        child = {"error": "the run wrote no result"}
    run: Dict[str, Any] = {
        "exit_code": process.returncode,
        "timed_out": timed_out,
        **request_stats(records, args.latency_ms, started_epoch),
        "wall_s": child.get("wall_s"),
        "process_wall_s": round(process_wall, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "peak_rss_mb_self": child.get("peak_rss_mb_self"),
        "peak_rss_mb_children": child.get("peak_rss_mb_children"),  # the extraction process, normalize workers
        "emulator_cpu_s": round((cpu_after.ru_utime + cpu_after.ru_stime)
                                - (cpu_before.ru_utime + cpu_before.ru_stime), 2),
        "phases": child.get("phases", {}),
        "in_flight_timeline": sampler.timeline(),  # [second, mean, max] as the emulator counted them
        "rows": child.get("rows", {}),
        # other work on the machine skews every figure: 1-minute load average before and after the run
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    run["rows_total"] = sum(run["rows"].values())
    run["rows_by_table"] = logical_rows(kind, run["rows"], args.tables)
    run["rows_resource_total"] = sum(count for table, count in run["rows_by_table"].items() if table != "workspace")
    for key in ("client_stats", "skipped_tables", "calls", "error", "traceback"):
        if key in child:
            run[key] = child[key]
    if kind == "ours":
        run["settings"] = {"max_concurrency": args.max_concurrency, "page_size": args.page_size,
                           "requests_per_minute": args.requests_per_minute, "env": env_overrides,
                           "what_if": args.what_if}
    if run.get("error") or process.returncode != 0:
        with open(log_path) as log:
            run["log_tail"] = log.read()[-4000:]
    if args.keep:
        run["workdir"] = workdir
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return run


# --- comparison -----------------------------------------------------------------------------------------------


def _ratio(numerator: Optional[float], denominator: Optional[float]) -> Optional[float]:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def endpoint_limits_floor_s(requests_by_endpoint: Dict[str, int]) -> float:
    """The shortest request span the documented per-endpoint limits allow (`rate_limit_per_minute` in
    segment_source/endpoints.py): n requests to an endpoint limited to L a minute cannot all be sent within less
    than 60 * floor((n - 1) / L) seconds, whether the API counts in fixed or sliding one-minute windows."""
    limits = {"/" + PLACEHOLDER.sub("{id}", endpoint.path): endpoint.rate_limit_per_minute
              for endpoint in ENDPOINTS if endpoint.rate_limit_per_minute}
    spans = [60.0 * ((count - 1) // limits[path]) for path, count in requests_by_endpoint.items()
             if path in limits and count > 0]
    return max(spans, default=0.0)


def compare(runs: Dict[str, Dict[str, Any]], plan: Optional[Dict[str, Any]],
            rate_limit_rps: Optional[float]) -> Dict[str, Any]:
    ours, base = runs.get("ours"), runs.get("baseline")
    comparison: Dict[str, Any] = {}
    if ours and base:
        comparison["ours_over_baseline"] = {
            key: _ratio(ours.get(key), base.get(key))
            for key in ("requests", "pages", "wall_s", "process_wall_s", "cpu_s", "peak_rss_mb", "rows_resource_total")
        }
        comparison["wall_speedup_vs_baseline"] = _ratio(base.get("wall_s"), ours.get("wall_s"))
        comparison["process_wall_speedup_vs_baseline"] = _ratio(base.get("process_wall_s"), ours.get("process_wall_s"))
        # the resource tables both read (the baseline has no `workspace`: it never calls GET /)
        differences = {
            table: {"ours": ours["rows_by_table"].get(table), "baseline": base["rows_by_table"].get(table)}
            for table in BENCH_TABLES if ours["rows_by_table"].get(table) != base["rows_by_table"].get(table)
        }
        comparison["rows_by_table_equal"] = not differences
        comparison["rows_by_table_differences"] = differences
    if ours:
        phases = ours.get("phases", {})
        if plan is not None:  # the plan covers the benchmarked tables only
            comparison["requests_vs_minimal_plan"] = _ratio(ours["requests"], plan["requests"])
            comparison["ours_requests_by_endpoint_vs_plan"] = [
                row for row in compare_to_plan(plan, ours["requests_by_endpoint"]) if row["extra"]
            ]
        comparison["normalize_load_s"] = round(phases.get("normalize", 0) + phases.get("load", 0), 3)
        comparison["rate_limited_share"] = _ratio(ours["rate_limited_429"], ours["requests"])
        if rate_limit_rps:
            accepted = ours["requests"] - ours["rate_limited_429"]
            comparison["rate_floor_s"] = round(accepted / rate_limit_rps, 3)
            comparison["wall_vs_rate_floor"] = _ratio(ours.get("wall_s"), comparison["rate_floor_s"])
            comparison["limits_floor_s"] = max(comparison["rate_floor_s"],
                                               endpoint_limits_floor_s(ours["requests_by_endpoint"]))
            comparison["wall_vs_limits_floor"] = _ratio(ours.get("wall_s"), comparison["limits_floor_s"])
            if plan is not None:
                comparison["plan_floor_s"] = round(plan["requests"] / rate_limit_rps, 3)
                comparison["wall_vs_plan_floor"] = _ratio(ours.get("wall_s"), comparison["plan_floor_s"])
    return comparison


def targets(
    comparison: Dict[str, Any], runs: Dict[str, Dict[str, Any]], rate_limit_rps: Optional[float],
    table_set: str = "bench",
) -> List[Dict[str, Any]]:
    measured = {
        "wall_s": (runs.get("ours") or {}).get("wall_s"),
        "wall_speedup_vs_baseline": comparison.get("wall_speedup_vs_baseline"),
        "requests_vs_minimal_plan": comparison.get("requests_vs_minimal_plan"),
        "requests_vs_baseline": (comparison.get("ours_over_baseline") or {}).get("requests"),
        "peak_rss_mb": (runs.get("ours") or {}).get("peak_rss_mb"),
        "normalize_load_s": comparison.get("normalize_load_s"),
        "wall_vs_rate_floor": comparison.get("wall_vs_rate_floor"),
        "wall_vs_limits_floor": comparison.get("wall_vs_limits_floor"),
        "rate_limited_share": comparison.get("rate_limited_share"),
    }
    rows = []
    for name, (operator, target) in (DEFAULT_SET_TARGETS if table_set == "default" else TARGETS).items():
        value = measured[name]
        if value is None or (name in ("wall_vs_rate_floor", "wall_vs_limits_floor", "rate_limited_share") and not rate_limit_rps):
            continue
        met = {"<=": value <= target, ">=": value >= target, "<": value < target}[operator]
        rows.append({"target": name, "measured": value, "goal": f"{operator} {target:g}", "met": met})
    return rows


# --- output ---------------------------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def summary_lines(result: Dict[str, Any]) -> List[str]:
    runs, comparison = result["runs"], result["comparison"]
    kinds = [kind for kind in RUN_KINDS if kind in runs]
    scenario = result["scenario"]
    lines = [f"benchmark {result['name']}: scale={scenario['scale']} latency={scenario['latency_ms']:g}ms"
             f" rate_limit={scenario['rate_limit_rps'] or 'none'} rps;"
             f" minimal plan {result['minimal_plan']['requests']} requests", ""]
    metrics = [("requests", "requests"), ("pages (200 list responses)", "pages"), ("429s", "rate_limited_429"),
               ("wall time s (run)", "wall_s"), ("wall time s (process)", "process_wall_s"), ("CPU s", "cpu_s"),
               ("peak RSS MB", "peak_rss_mb"), ("rows, resource tables", "rows_resource_total"),
               ("rows, all tables", "rows_total"), ("mean requests in flight", "mean_in_flight"),
               ("max requests in flight", "max_in_flight"),
               ("emulator CPU s", "emulator_cpu_s")]
    header = ["", *kinds] + (["ours/baseline"] if len(kinds) == 2 else [])
    table = [header]
    for label, key in metrics:
        row = [label, *[_fmt(runs[kind].get(key)) for kind in kinds]]
        if len(kinds) == 2:
            row.append(_fmt(_ratio(runs["ours"].get(key), runs["baseline"].get(key))))
        table.append(row)
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines += ["  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row))
              for row in table]
    for kind in kinds:
        phases = ", ".join(f"{name} {seconds:.2f}" for name, seconds in runs[kind].get("phases", {}).items())
        lines += ["", f"{kind} phases (s): {phases}",
                  f"{kind} rows by table: " + ", ".join(f"{t} {n}" for t, n in runs[kind]["rows_by_table"].items())]
        stats = runs[kind].get("client_stats") or {}
        if stats.get("concurrency") or stats.get("not_needed"):
            lines.append(f"{kind} concurrency: {stats.get('concurrency')}; requests not needed: {stats.get('not_needed')}")
        if runs[kind].get("error"):
            lines.append(f"{kind} FAILED: {runs[kind]['error']}")
    lines.append("")
    if "wall_speedup_vs_baseline" in comparison:
        lines.append(f"wall speedup vs baseline: {_fmt(comparison['wall_speedup_vs_baseline'])}x;"
                     f" rows per table equal: {comparison['rows_by_table_equal']}"
                     + (f" (differences: {comparison['rows_by_table_differences']})"
                        if comparison["rows_by_table_differences"] else ""))
    if "requests_vs_minimal_plan" in comparison:
        lines.append(f"ours vs minimal plan: {runs['ours']['requests']} / {result['minimal_plan']['requests']}"
                     f" = {_fmt(comparison['requests_vs_minimal_plan'])}x;"
                     f" normalize+load {_fmt(comparison['normalize_load_s'])} s")
    if "wall_vs_rate_floor" in comparison:
        lines.append(f"ours vs rate floor: {_fmt(runs['ours']['wall_s'])} s / {_fmt(comparison['rate_floor_s'])} s"
                     f" = {_fmt(comparison['wall_vs_rate_floor'])}x;"
                     f" vs the floor with per-endpoint limits: {_fmt(comparison['limits_floor_s'])} s"
                     f" = {_fmt(comparison['wall_vs_limits_floor'])}x;"
                     f" 429 share {_fmt(comparison['rate_limited_share'])}")
    for row in result["targets"]:
        lines.append(f"target {row['target']}: {_fmt(row['measured'])} (goal {row['goal']}): "
                     + ("met" if row["met"] else "NOT met"))
    return lines


# --- main -----------------------------------------------------------------------------------------------------


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="medium", help="emulated workspace size: tiny, small, medium, large")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--latency-ms", type=float, default=0, help="latency the emulator adds to every request")
    parser.add_argument("--rate-limit-rps", type=float, default=None,
                        help="emulator's requests per second per token (also turns on per-endpoint limits)")
    parser.add_argument("--tables", choices=TABLE_SETS, default="bench",
                        help="what ours reads: the 11 benchmarked tables (default) or the default groups of"
                             " `segment-history run` (ours only: the baseline reads the 11 tables)")
    parser.add_argument("--runs", help="which runs, comma-separated: ours,baseline (default: both; ours for"
                                       " --tables default)")
    parser.add_argument("--name", help="result name (default: <scale>-lat<ms>ms-<rpsN|nolimit>)")
    parser.add_argument("--out-dir", default=str(RESULTS), help="where <name>.json is written")
    parser.add_argument("--timeout", type=float, default=None, help="kill a run after this many seconds")
    parser.add_argument("--keep", action="store_true", help="keep each run's temp dir (DuckDB file, logs)")
    # segment-history settings to try (the baseline always runs with dlt's defaults)
    parser.add_argument("--max-concurrency", type=int)
    parser.add_argument("--page-size", type=int)
    parser.add_argument("--requests-per-minute", type=float)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="environment for segment-history's run, e.g. EXTRACT__WORKERS=16 (repeatable)")
    parser.add_argument("--what-if", action="append", default=[], choices=["no-endpoint-limits", "base-install"],
                        help="experiment: change a segment-history behaviour that has no setting"
                             " (labelled in the result)")
    args = parser.parse_args(argv)
    args.runs = args.runs or ("ours" if args.tables == "default" else "ours,baseline")
    args.run_kinds = [kind.strip() for kind in args.runs.split(",") if kind.strip()]
    if args.tables == "default" and "baseline" in args.run_kinds:
        parser.error("the baseline reads the 11 benchmarked tables only: use --runs ours with --tables default")
    unknown = set(args.run_kinds) - set(RUN_KINDS)
    if unknown:
        parser.error(f"unknown run(s) {sorted(unknown)}; use {', '.join(RUN_KINDS)}")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    arguments = argv if argv is not None else sys.argv[1:]
    args = parse_args(arguments)
    env_overrides = dict(item.split("=", 1) for item in args.env)
    from segment_emulator import Emulator, generate_workspace

    workspace = generate_workspace(seed=args.seed, scale=args.scale)
    plan = minimal_plan(workspace)
    scenario = {"scale": args.scale, "seed": args.seed, "latency_ms": args.latency_ms,
                "rate_limit_rps": args.rate_limit_rps,
                "tables": BENCH_TABLES if args.tables == "bench" else "default groups", "items": plan["items"]}
    result: Dict[str, Any] = {**result_header("benchmarks.run", scenario_name(args), arguments, scenario),
                              "minimal_plan": plan, "runs": {}}
    with Emulator(workspace, tokens={TOKEN: "owner"}, latency_ms=args.latency_ms,
                  rate_limit_rps=args.rate_limit_rps) as emulator:
        for kind in args.run_kinds:
            load = os.getloadavg()[0]
            busy = f" (machine busy: load average {load:.1f} on {result['machine']['nproc']} cores)" if load > 1 else ""
            print(f"[benchmark] running {kind} ...{busy}", file=sys.stderr, flush=True)
            result["runs"][kind] = run_one(kind, args, emulator, env_overrides)
            run = result["runs"][kind]
            failure = f", FAILED: {run['error']}" if run.get("error") else ""
            print(f"[benchmark] {kind}: {run['requests']} requests, wall {_fmt(run['wall_s'])} s,"
                  f" peak RSS {_fmt(run['peak_rss_mb'])} MB{failure}", file=sys.stderr, flush=True)
    result["comparison"] = compare(result["runs"], plan if args.tables == "bench" else None, args.rate_limit_rps)
    result["targets"] = targets(result["comparison"], result["runs"], args.rate_limit_rps, args.tables)
    out_path = write_result(args.out_dir, result["name"], result)
    print("\n".join(summary_lines(result)))
    print(f"\nwrote {out_path}")
    failed = [kind for kind, run in result["runs"].items() if run.get("error") or run["exit_code"] != 0]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
