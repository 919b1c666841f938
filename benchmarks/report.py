"""Markdown summary of result files: `python -m benchmarks.report benchmarks/results/<name>.json ...`.

Prints, per result, the exact command, machine, date, the ours/baseline table, the phases and the targets,
in the form BENCHMARKS.md uses.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Dict, List

from .run import RUN_KINDS, _fmt, _ratio

METRICS = [
    ("requests", "requests"), ("pages (200s from list endpoints)", "pages"), ("429s", "rate_limited_429"),
    ("wall time, run (s)", "wall_s"), ("wall time, process (s)", "process_wall_s"), ("CPU time (s)", "cpu_s"),
    ("peak RSS (MB)", "peak_rss_mb"), ("rows, resource tables", "rows_resource_total"),
    ("rows, all tables (incl. nested)", "rows_total"), ("mean requests in flight", "mean_in_flight"),
    ("max requests in flight", "max_in_flight"),
]


def markdown(result: Dict[str, Any]) -> List[str]:
    runs = result["runs"]
    kinds = [kind for kind in RUN_KINDS if kind in runs]
    scenario, machine = result["scenario"], result["machine"]
    cpu = machine.get("cpu") or "unknown CPU"
    lines = [
        f"`{result['command']}`",
        "",
        f"{result['date']}; {machine['nproc']} cores ({cpu}), {machine['memory_gb']} GB, Python {machine['python']},"
        f" dlt {machine['dlt']}, duckdb {machine['duckdb']}, niceness {machine.get('niceness')};"
        f" load average before/after"
        + "; ".join(f" {kind} {runs[kind].get('load_average')}" for kind in kinds),
        "",
        f"Workspace: scale {scenario['scale']} (seed {scenario['seed']}), latency {scenario['latency_ms']:g} ms,"
        f" rate limit {scenario['rate_limit_rps'] or 'none'};"
        f" minimal plan {result['minimal_plan']['requests']} requests.",
        "",
        "| | " + " | ".join(kinds) + (" | ours / baseline |" if len(kinds) == 2 else " |"),
        "|---|" + "---:|" * (len(kinds) + (1 if len(kinds) == 2 else 0)),
    ]
    for label, key in METRICS:
        cells = [_fmt(runs[kind].get(key)) for kind in kinds]
        if len(kinds) == 2:
            cells.append(_fmt(_ratio(runs["ours"].get(key), runs["baseline"].get(key))))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    for kind in kinds:
        phases = ", ".join(f"{name} {seconds:.2f}" for name, seconds in runs[kind].get("phases", {}).items())
        lines.append(f"- {kind} phases (s): {phases}")
    comparison = result["comparison"]
    if "rows_by_table_equal" in comparison:
        differences = comparison["rows_by_table_differences"]
        lines.append(f"- rows per table equal in both runs: {comparison['rows_by_table_equal']}"
                     + (f" ({differences})" if differences else ""))
    lines.append("")
    if result["targets"]:
        lines += ["| target | measured | goal | |", "|---|---:|---|---|"]
        for row in result["targets"]:
            verdict = "met" if row["met"] else "**not met**"
            lines.append(f"| {row['target']} | {_fmt(row['measured'])} | {row['goal']} | {verdict} |")
    return lines


def main(argv: List[str]) -> int:
    for path in argv:
        with open(path) as handle:
            result = json.load(handle)
        print(f"### {result['name']}\n")
        print("\n".join(markdown(result)))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
