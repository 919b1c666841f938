import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Segment workspace overview")

with app.setup:
    import altair as alt
    import marimo as mo

    from _shared import (count_axis, count_by, enabled_bars, open_history, parse_json, selected_workspace,
                         workspace_dropdown)


@app.cell(hide_code=True)
def _():
    mo.md("""
    # Workspace overview

    What the workspace holds **now** (the latest snapshot): resources by type, what is switched off,
    which source and destination types are used, and which labels are on which sources. Every figure comes
    from the current rows of the history tables (`_dlt_valid_to IS NULL`).
    """)
    return


@app.cell
def _():
    history = open_history()
    workspace_picker = workspace_dropdown(history)
    workspace_picker
    return history, workspace_picker


@app.cell
def _(history, workspace_picker):
    workspace_id = selected_workspace(workspace_picker)
    snapshot_summary = history.rows(
        """
        SELECT count(*) AS snapshots, min(started_at) AS first_run, max(started_at) AS last_run,
               arg_max(status, started_at) AS last_status, sum(changes) AS changes
        FROM {ds}.snapshots WHERE workspace_id = ?""",
        [workspace_id],
    )[0]

    def _moment(iso):
        return iso[:19].replace("T", " ")

    mo.md(f"""
    **{workspace_picker.selected_key}** · {snapshot_summary["snapshots"]} snapshots from
    {_moment(snapshot_summary["first_run"])} to {_moment(snapshot_summary["last_run"])} UTC
    (last: *{snapshot_summary["last_status"]}*) · {snapshot_summary["changes"]} changes recorded ·
    history file `{history.path}`
    """)
    return (workspace_id,)


@app.cell(hide_code=True)
def _():
    mo.md("""
    ## Resources by type

    Current rows per table; for tables with an `enabled` flag, split into enabled and disabled.
    """)
    return


@app.cell
def _(history, workspace_id):
    _tables_with_enabled = {"sources", "destinations", "warehouses"}
    _tables = ["sources", "destinations", "warehouses", "source_warehouses", "tracking_plans",
               "tracking_plan_rules", "tracking_plan_sources", "functions", "function_versions", "labels"]
    resource_counts = []
    for _table in _tables:
        if not history.has_table(_table):
            continue  # never loaded (e.g. the token cannot read it)
        _state = "CASE WHEN enabled THEN 'enabled' ELSE 'disabled' END" if _table in _tables_with_enabled \
            else "'—'"
        for _row in history.rows(
            f"""SELECT {_state} AS state, count(*) AS n FROM {{ds}}.{_table}
                WHERE _dlt_valid_to IS NULL AND workspace_id = ? GROUP BY ALL""",
            [workspace_id],
        ):
            resource_counts.append({"resource_type": _table, **_row})
    resource_counts_chart = (
        alt.Chart(alt.Data(values=resource_counts), title="Current resources by type")
        .mark_bar()
        .encode(
            y=alt.Y("resource_type:N", sort=_tables, title=None),
            x=alt.X("n:Q", title="rows", axis=count_axis(resource_counts, "n", "resource_type")),
            color=alt.Color(
                "state:N",
                scale=alt.Scale(domain=["enabled", "disabled", "—"], range=["#4c78a8", "#e45756", "#9d9d9d"]),
                title=None,
            ),
            tooltip=["resource_type:N", "state:N", "n:Q"],
        )
        .properties(width=520, height=alt.Step(22))
    )
    resource_counts_chart
    return (resource_counts,)


@app.cell(hide_code=True)
def _():
    mo.md("""
    ## Sources by type

    `metadata_name` is the catalog entry a source was created from (JavaScript, HTTP API, iOS, …).
    """)
    return


@app.cell
def _(history, workspace_id):
    source_types = history.rows(
        """
        SELECT coalesce(metadata_name, '(unknown)') AS source_type,
               CASE WHEN enabled THEN 'enabled' ELSE 'disabled' END AS state, count(*) AS n
        FROM {ds}.sources WHERE _dlt_valid_to IS NULL AND workspace_id = ?
        GROUP BY ALL ORDER BY n DESC""",
        [workspace_id],
    )
    source_types_chart = enabled_bars(source_types, "source_type", "sources", "Sources by catalog type")
    source_types_chart
    return (source_types,)


@app.cell(hide_code=True)
def _():
    mo.md("""
    ## Destinations by catalog name

    The 25 most used destination types (`metadata_name`), split by whether the destination is enabled.
    A destination on a disabled source receives nothing even when it is enabled: see the connections
    notebook for those.
    """)
    return


@app.cell
def _(history, workspace_id):
    destination_types = history.rows(
        """
        WITH d AS (
            SELECT coalesce(metadata_name, '(unknown)') AS destination_type, enabled
            FROM {ds}.destinations WHERE _dlt_valid_to IS NULL AND workspace_id = ?),
        top AS (SELECT destination_type FROM d GROUP BY ALL ORDER BY count(*) DESC, destination_type LIMIT 25)
        SELECT destination_type, CASE WHEN enabled THEN 'enabled' ELSE 'disabled' END AS state, count(*) AS n
        FROM d WHERE destination_type IN (SELECT destination_type FROM top)
        GROUP BY ALL ORDER BY n DESC""",
        [workspace_id],
    )
    destination_types_chart = enabled_bars(destination_types, "destination_type", "destinations",
                                           "Destinations by catalog name (top 25)")
    destination_types_chart
    return (destination_types,)


@app.cell(hide_code=True)
def _():
    mo.md("""
    ## Labels

    The workspace's labels (`labels` table) and how many current sources carry each one (the source's
    `labels` JSON column). A label on no source is listed as unused.
    """)
    return


@app.cell
def _(history, workspace_id):
    _defined = history.rows(
        """SELECT key, value, description FROM {ds}.labels
           WHERE _dlt_valid_to IS NULL AND workspace_id = ? ORDER BY key, value""",
        [workspace_id],
    )
    _on_sources = [
        {"label": f"{_label.get('key')}:{_label.get('value')}", "key": _label.get("key")}
        for _source in history.rows(
            "SELECT labels FROM {ds}.sources WHERE _dlt_valid_to IS NULL AND workspace_id = ?", [workspace_id]
        )
        for _label in (parse_json(_source["labels"]) or [])
        if isinstance(_label, dict)
    ]
    _sources_per_label = {r["label"]: r["n"] for r in count_by(_on_sources, "label")}
    label_usage = [
        {"label": f"{r['key']}:{r['value']}", "key": r["key"], "value": r["value"],
         "description": r["description"], "sources": _sources_per_label.get(f"{r['key']}:{r['value']}", 0)}
        for r in _defined
    ]
    # a label a source carries that the labels table does not list (deleted, or the table was not readable)
    _known = {r["label"] for r in label_usage}
    label_usage += [
        {"label": name, "key": name.split(":", 1)[0], "value": name.split(":", 1)[1], "description": None,
         "sources": n}
        for name, n in _sources_per_label.items() if name not in _known
    ]
    label_chart = (
        alt.Chart(alt.Data(values=label_usage), title="Sources carrying each label")
        .mark_bar()
        .encode(
            y=alt.Y("label:N", sort="-x", title=None),
            x=alt.X("sources:Q", title="sources", axis=count_axis(label_usage, "sources", "label")),
            color=alt.Color("key:N", title="label key"),
            tooltip=["label:N", "description:N", "sources:Q"],
        )
        .properties(width=520, height=alt.Step(20))
    )
    _unused = [r["label"] for r in label_usage if r["sources"] == 0]
    mo.vstack([
        label_chart,
        mo.md("Unused labels: " + (", ".join(f"`{name}`" for name in _unused) if _unused else "none.")),
    ])
    return (label_usage,)


@app.cell(hide_code=True)
def _():
    mo.md("""
    ## Warehouses and functions
    """)
    return


@app.cell
def _(history, workspace_id):
    _warehouses = history.rows(
        """
        SELECT coalesce(w.settings->>'name', w.id) AS warehouse, w.metadata_name AS type, w.enabled,
               count(sw.source_id) AS connected_sources
        FROM {ds}.warehouses w
        LEFT JOIN {ds}.source_warehouses sw
          ON sw.warehouse_id = w.id AND sw._dlt_valid_to IS NULL AND sw.workspace_id = w.workspace_id
        WHERE w._dlt_valid_to IS NULL AND w.workspace_id = ?
        GROUP BY ALL ORDER BY warehouse""",
        [workspace_id],
    )
    _functions = history.rows(
        """SELECT resource_type AS function_type, count(*) AS functions FROM {ds}.functions
           WHERE _dlt_valid_to IS NULL AND workspace_id = ? GROUP BY ALL ORDER BY functions DESC""",
        [workspace_id],
    ) if history.has_table("functions") else []
    mo.hstack([
        mo.vstack([mo.md("**Warehouses**"), mo.ui.table(_warehouses, selection=None)]),
        mo.vstack([mo.md("**Functions by type**"), mo.ui.table(_functions, selection=None)]),
    ], widths="equal", gap=2)
    return


if __name__ == "__main__":
    app.run()
