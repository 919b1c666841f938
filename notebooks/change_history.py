import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Segment change history")

with app.setup:
    import altair as alt
    import marimo as mo

    from _shared import (CONFIG_TABLES, count_axis, count_by, open_history, selected_workspace, short,
                         workspace_dropdown)

    def moment(iso):
        """An ISO timestamp from DuckDB as `2026-03-01 12:00:00` (UTC)."""
        return iso[:19].replace("T", " ") if iso else iso

    KIND_COLORS = alt.Scale(domain=["added", "modified", "removed"], range=["#54a24b", "#4c78a8", "#e45756"])


@app.cell(hide_code=True)
def _():
    mo.md("""
    # Change history

    Every configuration change the snapshots found (`config_changes`: one row per changed field of a
    resource in a run), who made it (the audit event that explains it), and the audit trail itself.
    Pick a resource at the bottom to see each of its versions and the field-level differences between them.
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
    changes = history.rows(
        """
        SELECT observed_at, run_id, resource_type, resource_id, resource_name, change_kind, field_path,
               old_value, new_value, coalesce(actor_email, actor, '(not attributed)') AS actor,
               audit_event_type, audit_event_id
        FROM {ds}.config_changes WHERE workspace_id = ?
        ORDER BY observed_at DESC, resource_type, resource_name, field_path""",
        [workspace_id],
    )
    snapshots = history.rows(
        """SELECT started_at, status, changes, skipped_tables FROM {ds}.snapshots
           WHERE workspace_id = ? ORDER BY started_at""",
        [workspace_id],
    )
    _attributed = sum(1 for c in changes if c["audit_event_id"])
    _first, _last = moment(snapshots[0]["started_at"]), moment(snapshots[-1]["started_at"])
    mo.md(f"""
    **{len(changes)} changes** found by **{len(snapshots)} snapshots** ({_first} to {_last} UTC);
    {_attributed} of them attributed to an audit event.
    The first snapshot is the baseline: it records no changes.
    """)
    return changes, snapshots, workspace_id


@app.cell(hide_code=True)
def _():
    mo.md("""
    ## Timeline

    Changes found at each snapshot, by resource type and kind of change (the size of a dot is the number
    of changed fields). A resource added or removed counts once.
    """)
    return


@app.cell
def _(changes, snapshots):
    changes_by_snapshot = sorted(
        count_by(changes, "observed_at", "resource_type", "change_kind"),
        key=lambda r: (r["observed_at"], r["resource_type"], r["change_kind"]),
    )
    _runs = alt.Chart(alt.Data(values=snapshots)).mark_rule(color="#dddddd").encode(x="started_at:T")
    _base = alt.Chart(alt.Data(values=changes_by_snapshot)).encode(
        x=alt.X("observed_at:T", title="snapshot (UTC)", scale=alt.Scale(padding=40),
                axis=alt.Axis(format="%b %d %H:%M:%S", labelAngle=0, tickCount=6, grid=False)),
        y=alt.Y("resource_type:N", title=None),
        yOffset=alt.YOffset("change_kind:N", sort=["added", "modified", "removed"]),
        tooltip=["observed_at:T", "resource_type:N", "change_kind:N", "n:Q"],
    )
    _dots = _base.mark_circle(opacity=0.85).encode(
        size=alt.Size("n:Q", scale=alt.Scale(range=[40, 400]), legend=None),
        color=alt.Color("change_kind:N", scale=KIND_COLORS, title="change"),
    )
    _counts = _base.mark_text(align="left", dx=12, fontSize=11).encode(text="n:Q")
    timeline_chart = (_runs + _dots + _counts).properties(
        title="Configuration changes per snapshot (number = changed fields)", width=640, height=alt.Step(14)
    )
    timeline_chart
    return (changes_by_snapshot,)


@app.cell(hide_code=True)
def _():
    mo.md("""
    ## Audit trail activity

    Events per day in the audit trail (`audit_events`, kept by Segment for 90 days and accumulated here
    beyond that), by the type of resource they touched. This covers changes made before the first
    snapshot too.
    """)
    return


@app.cell
def _(history, workspace_id):
    audit_by_day = history.rows(
        """
        SELECT date_trunc('day', timestamp) AS day, coalesce(resource_type, '(none)') AS resource_type,
               count(*) AS events
        FROM {ds}.audit_events WHERE workspace_id = ? GROUP BY ALL ORDER BY day""",
        [workspace_id],
    ) if history.has_table("audit_events") else []
    audit_chart = (
        alt.Chart(alt.Data(values=audit_by_day), title="Audit events per day")
        .mark_bar()
        .encode(
            x=alt.X("day:T", title=None),
            y=alt.Y("sum(events):Q", title="events", axis=count_axis(audit_by_day, "events", "day")),
            color=alt.Color("resource_type:N", title="resource"),
            tooltip=["day:T", "resource_type:N", "events:Q"],
        )
        .properties(width=640, height=200)
    )
    audit_chart
    return


@app.cell(hide_code=True)
def _():
    mo.md("""
    ## Recent changes

    Newest first. `old_value` / `new_value` are JSON; `actor` is the email (or id) of whoever made the
    audit event matched to the change, or *(not attributed)* when no event in the window explains it.
    """)
    return


@app.cell
def _(changes):
    recent_changes = [
        {
            "observed_at": moment(c["observed_at"]),
            "resource_type": c["resource_type"],
            "resource": c["resource_name"] or c["resource_id"],
            "change": c["change_kind"],
            "field": c["field_path"] or "",
            "old": short(c["old_value"]),
            "new": short(c["new_value"]),
            "actor": c["actor"],
            "audit event": c["audit_event_type"] or "",
        }
        for c in changes[:500]
    ]
    mo.ui.table(recent_changes, page_size=15, selection=None)
    return


@app.cell(hide_code=True)
def _():
    mo.md("""
    ## Who changes things

    Changes per actor (as attributed in `config_changes`), and the actors of the whole audit trail.
    """)
    return


@app.cell
def _(changes, history, workspace_id):
    top_actors = count_by(changes, "actor", "resource_type")
    _by_actor = (
        alt.Chart(alt.Data(values=top_actors), title="Changes by actor")
        .mark_bar()
        .encode(
            y=alt.Y("actor:N", sort="-x", title=None),
            x=alt.X("sum(n):Q", title="changed fields", axis=count_axis(top_actors, "n", "actor")),
            color=alt.Color("resource_type:N", title="resource"),
            tooltip=["actor:N", "resource_type:N", "n:Q"],
        )
        .properties(width=300, height=alt.Step(20))
    )
    _audit_actors = history.rows(
        """
        SELECT coalesce(actor_email, actor) AS actor, count(*) AS events, max(timestamp) AS last_event
        FROM {ds}.audit_events WHERE workspace_id = ? GROUP BY ALL ORDER BY events DESC LIMIT 15""",
        [workspace_id],
    ) if history.has_table("audit_events") else []
    _audit_by_actor = (
        alt.Chart(alt.Data(values=_audit_actors), title="Audit events by actor (top 15)")
        .mark_bar(color="#9d755d")
        .encode(
            y=alt.Y("actor:N", sort="-x", title=None),
            x=alt.X("events:Q", axis=count_axis(_audit_actors, "events", "actor")),
            tooltip=["actor:N", "events:Q", "last_event:T"],
        )
        .properties(width=300, height=alt.Step(20))
    )
    actors_chart = alt.hconcat(_by_actor, _audit_by_actor).resolve_scale(color="independent")
    actors_chart
    return (top_actors,)


@app.cell(hide_code=True)
def _():
    mo.md("""
    ## One resource, version by version

    Resources with at least one recorded change, the most changed first.
    """)
    return


@app.cell
def _(changes):
    _changed = {}
    for _c in changes:
        _key = (_c["resource_type"], _c["resource_id"])
        _entry = _changed.setdefault(_key, {"name": _c["resource_name"], "n": 0})
        _entry["n"] += 1
        _entry["name"] = _entry["name"] or _c["resource_name"]
    _options = {
        f"{rtype} · {entry['name'] or rid} · {entry['n']} changes ({rid})": f"{rtype}\t{rid}"
        for (rtype, rid), entry in sorted(_changed.items(), key=lambda kv: (-kv[1]["n"], kv[0]))
    }
    resource_picker = mo.ui.dropdown(
        options=_options, value=next(iter(_options), None), label="Resource", searchable=True
    )
    resource_picker
    return (resource_picker,)


@app.cell
def _(changes, history, resource_picker, workspace_id):
    mo.stop(resource_picker.value is None, mo.md("No change recorded yet: take another snapshot."))
    picked_type, picked_id = resource_picker.value.split("\t", 1)
    _hidden = {"_dlt_load_id", "_dlt_id", "workspace_id", "record_key"}
    resource_versions = []
    if picked_type in CONFIG_TABLES:  # a table name is never taken from the data unchecked
        resource_versions = history.rows(
            f"""SELECT * FROM {{ds}}.{picked_type} WHERE record_key = ? AND workspace_id = ?
                ORDER BY _dlt_valid_from""",
            [picked_id, workspace_id],
        )
    _versions_table = [
        {"version": i + 1, "valid_from": moment(row["_dlt_valid_from"]), "valid_to": moment(row["_dlt_valid_to"]),
         **{k: short(v, 120) for k, v in row.items() if k not in _hidden and not k.startswith("_dlt_valid")}}
        for i, row in enumerate(resource_versions)
    ]
    _name = next((c["resource_name"] for c in changes
                  if c["resource_type"] == picked_type and c["resource_id"] == picked_id and c["resource_name"]), None)
    resource_diffs = sorted(
        (c for c in changes if c["resource_type"] == picked_type and c["resource_id"] == picked_id),
        key=lambda c: (c["observed_at"], c["field_path"] or ""),
    )
    _diffs_table = [
        {"observed_at": moment(c["observed_at"]), "change": c["change_kind"], "field": c["field_path"] or "",
         "old": c["old_value"], "new": c["new_value"], "actor": c["actor"],
         "audit event": f"{c['audit_event_type'] or ''} {c['audit_event_id'] or ''}".strip()}
        for c in resource_diffs
    ]
    mo.vstack([
        mo.md(f"### Versions of {_name or ''} `{picked_id}` in `{picked_type}`\n"
              "`valid_from` (`_dlt_valid_from`) is the snapshot that first saw a version, `valid_to` the one "
              "that saw it change or disappear (empty: the version is current)."),
        mo.ui.table(_versions_table, selection=None, page_size=10),
        mo.md("### Field differences"),
        mo.ui.table(_diffs_table, selection=None, page_size=20),
    ])
    return (resource_versions,)


if __name__ == "__main__":
    app.run()
