"""Renders the notebooks' charts to PNG files in docs/images/, for the README.

    pip install -e ".[notebooks]" vl-convert-python
    segment-history demo                 # writes segment_history_demo.duckdb
    python docs/render_images.py         # or: python docs/render_images.py path/to/history.duckdb

Each notebook is run headless (marimo's `app.run()`); every altair chart it defines that is
listed in CHARTS is saved under the file name given there.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
IMAGES = ROOT / "docs" / "images"
# notebook -> {chart variable: image file name}
CHARTS = {
    "workspace_overview": {"resource_counts_chart": "overview-resources.png",
                           "destination_types_chart": "overview-destination-types.png"},
    "change_history": {"timeline_chart": "changes-timeline.png", "audit_chart": "changes-audit-trail.png",
                       "actors_chart": "changes-actors.png"},
    "connections": {"connections_chart": "connections-graph.png"},
    "tracking_plans": {"coverage_chart": "tracking-plans-coverage.png", "rules_chart": "tracking-plans-rules.png",
                       "rule_changes_chart": "tracking-plans-rule-changes.png"},
    "changes_and_metrics": {"volume_chart": "metrics-volume-and-changes.png",
                            "delivery_chart": "metrics-delivery-and-changes.png"},
}


def run_notebook(name: str) -> dict:
    spec = importlib.util.spec_from_file_location(f"notebook_{name}", NOTEBOOKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _, defs = module.app.run()
    return dict(defs)


def main() -> int:
    if len(sys.argv) > 1:
        os.environ["SEGMENT_HISTORY_DUCKDB"] = sys.argv[1]
    sys.path.insert(0, str(NOTEBOOKS))
    IMAGES.mkdir(parents=True, exist_ok=True)
    for notebook, charts in CHARTS.items():
        defs = run_notebook(notebook)
        for chart, file_name in charts.items():
            if chart not in defs:
                print(f"{notebook}: no {chart} (is there a history to read?)", file=sys.stderr)
                return 1
            target = IMAGES / file_name
            defs[chart].save(str(target), scale_factor=1.25)
            print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
