import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Configuration changes and data")

with app.setup:
    from datetime import datetime, timedelta

    import altair as alt
    import marimo as mo

    from _shared import open_history, parse_json, selected_workspace, short, workspace_dropdown

    CHANGE_COLORS = alt.Scale(domain=["configuration change", "audit event"], range=["#e45756", "#9d755d"])
    DAYS = alt.Axis(format="%b %d", tickCount="day", labelAngle=0)
    DELIVERY_METRICS = ("successes", "discarded", "expired", "retried")


@app.function
def when(iso):
    """An ISO timestamp as `2026-03-01 12:00` (UTC)."""
    return iso[:16].replace("T", " ") if iso else ""


@app.function
def volume_anomalies(daily, threshold):
    """Days whose events differ from the median of the same source's other days by at least `threshold`
    (0.5 = half as many or half again), and days with no events at all where the others had some.

    `daily`: rows with source_id, source, day, events."""
    by_source = {}
    for row in daily:
        by_source.setdefault(row["source_id"], []).append(row)
    flagged = []
    for rows in by_source.values():
        for row in rows:
            others = sorted(r["events"] for r in rows if r is not row)
            if not others:
                continue
            median = others[len(others) // 2] if len(others) % 2 else (
                others[len(others) // 2 - 1] + others[len(others) // 2]) / 2
            if median == 0:
                continue
            deviation = row["events"] / median - 1
            if abs(deviation) >= threshold:
                flagged.append({**row, "median": median, "deviation": round(deviation, 3)})
    return sorted(flagged, key=lambda r: (r["day"], r["source"] or ""))


@app.function
def changes_before(marks, source_id, day, hours=48):
    """The marks (changes, audit events) of a source in the `hours` before the end of `day` (an ISO date):
    the usual suspects for that day's numbers."""
    end = datetime.fromisoformat(day[:10]) + timedelta(days=1)
    start = end - timedelta(hours=hours)
    return [m for m in marks if m["source_id"] == source_id and start <= datetime.fromisoformat(m["at"][:19]) < end]


@app.cell(hide_code=True)
def _():
    mo.md("""
    # Configuration changes and data

    Segment's docs suggest keeping a configuration history "to correlate config changes with data anomalies".
    This notebook puts both on one time axis: the events each source sent per day (`events_volume`) and the
    delivery summary of each destination (`delivery_metrics`), both from the `metrics` group, beside the
    configuration changes the snapshots found (`config_changes`, with who made them) and the audit trail
    (`audit_events`: what happened between snapshots, or before the first one).

    The metrics group is opt-in: `segment-history run --groups core,iam,engage,reverse_etl,privacy,metrics`
    (`segment-history demo` reads the two tables used here). Segment serves the last 7 days; every run merges
    them by day, so a nightly schedule builds a longer series.
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
    _missing = [t for t in ("events_volume", "delivery_metrics") if not history.has_table(t)]
    mo.stop(bool(_missing), mo.callout(mo.md(
        f"This history has no `{'`, `'.join(_missing)}`: add the metrics group to the runs"
        " (`--groups core,iam,engage,reverse_etl,privacy,metrics`)."), kind="warn"))
    daily_volume = history.rows(
        """
        SELECT json_extract_string(source, '$.id') AS source_id,
               any_value(json_extract_string(source, '$.name')) AS source,
               left(time, 10) AS day, sum(count) AS events
        FROM {ds}.events_volume WHERE workspace_id = ?
        GROUP BY ALL ORDER BY day, source""",
        [workspace_id],
    )
    return daily_volume, workspace_id


@app.cell
def _(history, workspace_id):
    # a change concerns a source when the changed row is the source or carries its id (`source_id`): its
    # settings, destinations, filters, warehouse and tracking plan connections, transformations...
    _owned = [r["table_name"] for r in history.rows(
        """
        SELECT table_name FROM information_schema.columns WHERE table_schema = ? AND column_name = 'source_id'
        INTERSECT
        SELECT table_name FROM information_schema.columns WHERE table_schema = ? AND column_name = '_dlt_valid_from'
        ORDER BY table_name""",
        [history.dataset, history.dataset],
    )]
    _union = " UNION ".join(
        [f"SELECT '{t}' AS resource_type, record_key, source_id FROM {{ds}}.{t} WHERE workspace_id = ?"
         for t in _owned] + ["SELECT 'sources', record_key, id FROM {ds}.sources WHERE workspace_id = ?"])
    source_of = {(r["resource_type"], r["record_key"]): r["source_id"]
                 for r in history.rows(_union, [workspace_id] * (len(_owned) + 1))}
    _source_of_id = {key: source for (_, key), source in source_of.items()}
    # and a destination's changes are its own, its filters' and its subscriptions'
    _children = [t for t in ("destination_filters", "destination_subscriptions") if history.has_table(t)]
    _union = " UNION ".join(
        [f"SELECT record_key, destination_id FROM {{ds}}.{t} WHERE workspace_id = ?" for t in _children]
        + ["SELECT record_key, record_key FROM {ds}.destinations WHERE workspace_id = ?"])
    destination_of = {r["record_key"]: r["destination_id"]
                      for r in history.rows(_union, [workspace_id] * (len(_children) + 1))}
    _changes = history.rows(
        """
        SELECT observed_at, resource_type, resource_id, resource_name, change_kind, field_path, old_value,
               new_value, coalesce(actor_email, actor, '(not attributed)') AS actor
        FROM {ds}.config_changes WHERE workspace_id = ? ORDER BY observed_at""",
        [workspace_id],
    )
    _events = history.rows(
        """
        SELECT timestamp, resource_id, resource_type, resource_name, type, coalesce(actor_email, actor) AS actor
        FROM {ds}.audit_events WHERE workspace_id = ? ORDER BY timestamp""",
        [workspace_id],
    ) if history.has_table("audit_events") else []
    # one list of marks for the charts: what changed, when, and the source or destination it belongs to
    change_marks = [
        {"at": c["observed_at"], "kind": "configuration change", "resource_type": c["resource_type"],
         "resource_id": c["resource_id"], "resource": c["resource_name"] or c["resource_id"],
         "what": f"{c['change_kind']} {c['field_path'] or ''}".strip(),
         "detail": short(f"{c['old_value'] or ''} → {c['new_value'] or ''}", 80), "actor": c["actor"],
         "source_id": source_of.get((c["resource_type"], c["resource_id"])),
         "destination_id": destination_of.get(c["resource_id"]) if c["resource_type"].startswith("destination")
         else None}
        for c in _changes
    ]
    change_marks += [
        {"at": e["timestamp"], "kind": "audit event", "resource_type": e["resource_type"],
         "resource_id": e["resource_id"], "resource": e["resource_name"] or e["resource_id"], "what": e["type"],
         "detail": "", "actor": e["actor"] or "", "source_id": _source_of_id.get(e["resource_id"]),
         "destination_id": destination_of.get(e["resource_id"])}
        for e in _events
    ]
    return change_marks, destination_of, source_of


@app.cell(hide_code=True)
def _():
    mo.md("""
    ## Event volume per source, with its changes

    Events received per day; a red rule is a configuration change a snapshot found on the source or on
    something attached to it (its settings, destinations, connections), a brown one an audit event about
    them. Hover for what changed and who did it. The sources with changes come first.
    """)
    return


@app.cell
def _(change_marks, daily_volume):
    source_summary = []
    _names = {r["source_id"]: r["source"] for r in daily_volume}
    for _id, _name in _names.items():
        _days = [r for r in daily_volume if r["source_id"] == _id]
        _changes = [m for m in change_marks if m["source_id"] == _id and m["kind"] == "configuration change"]
        _last = _changes[-1] if _changes else None
        source_summary.append({
            "source": _name, "source_id": _id, "events": sum(r["events"] for r in _days),
            "days": len(_days), "changes": len(_changes),
            "last change": f"{when(_last['at'])} {_last['resource']}: {_last['what']} {_last['detail']}"
            if _last else "", "by": _last["actor"] if _last else "",
        })
    source_summary.sort(key=lambda r: (-r["changes"], -r["events"], r["source"] or ""))
    source_picker = mo.ui.multiselect(
        options={f"{r['source']} ({r['source_id']})": r["source_id"] for r in source_summary},
        value=[f"{r['source']} ({r['source_id']})" for r in source_summary[:4]], label="Sources", max_selections=8,
    )
    mo.vstack([mo.ui.table(source_summary, selection=None, page_size=10), source_picker])
    return source_picker, source_summary


@app.cell
def _(change_marks, daily_volume, source_picker):
    # one time axis for every chart: from the first day with figures to the latest change
    first_day = min((r["day"] for r in daily_volume), default="")
    _last = max([m["at"] for m in change_marks] + [r["day"] for r in daily_volume], default=None)
    time_axis = alt.Scale(domain=[first_day, _last]) if first_day else alt.Undefined
    _panels = []
    for _id in source_picker.value:
        _volume = [r for r in daily_volume if r["source_id"] == _id]
        _marks = [m for m in change_marks if m["source_id"] == _id and m["at"] >= first_day]
        _line = alt.Chart(alt.Data(values=_volume), title=_volume[0]["source"] if _volume else _id).mark_line(
            point=True).encode(
            x=alt.X("day:T", title=None, scale=time_axis, axis=DAYS),
            y=alt.Y("events:Q", title="events per day"),
            tooltip=["day:T", alt.Tooltip("events:Q", format=",")],
        )
        _rules = alt.Chart(alt.Data(values=_marks)).mark_rule(strokeWidth=2, opacity=0.7, clip=True).encode(
            x=alt.X("at:T", scale=time_axis),
            color=alt.Color("kind:N", scale=CHANGE_COLORS, title=None),
            tooltip=["at:T", "kind:N", "resource_type:N", "resource:N", "what:N", "detail:N", "actor:N"],
        )
        _panels.append((_line + _rules).properties(width=620, height=140))
    volume_chart = alt.vconcat(*_panels) if _panels else mo.md("Pick a source above.")
    volume_chart
    return first_day, time_axis, volume_chart


@app.cell(hide_code=True)
def _():
    mo.md("""
    ## Days that stand out

    Days whose volume differs from the median of the source's other days by at least the threshold, each
    with the changes of that source in the 48 hours before the day ended.
    """)
    return


@app.cell
def _():
    threshold = mo.ui.slider(0.1, 1.0, step=0.05, value=0.5, label="threshold (share of the median)")
    threshold
    return (threshold,)


@app.cell
def _(change_marks, daily_volume, threshold):
    anomalies = volume_anomalies(daily_volume, threshold.value)
    _rows = []
    for _day in anomalies:
        _suspects = changes_before(change_marks, _day["source_id"], _day["day"])
        _rows.append({
            "day": _day["day"], "source": _day["source"], "events": _day["events"], "median": _day["median"],
            "deviation": f"{_day['deviation']:+.0%}",
            "changes in the 48 h before": "; ".join(
                f"{when(m['at'])} {m['resource']}: {m['what']} ({m['actor']})" for m in _suspects) or "none",
        })
    mo.ui.table(_rows, selection=None) if _rows else mo.md(
        f"No day differs from its source's median by {threshold.value:.0%} or more.")
    return (anomalies,)


@app.cell(hide_code=True)
def _():
    mo.md("""
    ## Delivery of a destination around its changes

    Segment's delivery summary of the 7 days before each run (`delivery_metrics`, one row per destination and
    day a run read it), beside the destination's own changes (its settings, filters and subscriptions) and
    the audit events about it. Destinations with changes come first.
    """)
    return


@app.cell
def _(change_marks, history, workspace_id):
    delivery = []
    for _row in history.rows(
        """
        SELECT m.destination_id, coalesce(d.name, d.metadata_name, m.destination_id) AS destination,
               m.window_start, m.window_end, m.metrics
        FROM {ds}.delivery_metrics m
        LEFT JOIN {ds}.destinations d ON d.id = m.destination_id AND d._dlt_valid_to IS NULL
        WHERE m.workspace_id = ? ORDER BY m.window_end, destination""",
        [workspace_id],
    ):
        _totals = {m["metricName"]: m.get("total") for m in parse_json(_row["metrics"]) or []}
        delivery += [{"destination_id": _row["destination_id"], "destination": _row["destination"],
                      "window_end": _row["window_end"], "metric": _name, "total": _totals.get(_name) or 0}
                     for _name in DELIVERY_METRICS]
    _changed = {}
    for _m in change_marks:
        if _m["destination_id"] and _m["kind"] == "configuration change":
            _changed[_m["destination_id"]] = _changed.get(_m["destination_id"], 0) + 1
    _names = {r["destination_id"]: r["destination"] for r in delivery}
    _order = sorted(_names, key=lambda d: (-_changed.get(d, 0), _names[d] or "", d))
    destination_picker = mo.ui.dropdown(
        options={f"{_names[d]} · {_changed.get(d, 0)} changes ({d})": d for d in _order},
        value=next((f"{_names[d]} · {_changed.get(d, 0)} changes ({d})" for d in _order), None),
        label="Destination", searchable=True,
    )
    destination_picker
    return delivery, destination_picker


@app.cell
def _(change_marks, delivery, destination_picker, first_day, time_axis):
    mo.stop(destination_picker.value is None, mo.md("No delivery metrics in this history yet."))
    _picked = destination_picker.value
    _figures = [r for r in delivery if r["destination_id"] == _picked]
    _marks = [m for m in change_marks if m["destination_id"] == _picked]
    _points = alt.Chart(alt.Data(values=_figures)).mark_line(point=True).encode(
        x=alt.X("window_end:T", title="end of the 7-day window (UTC)", scale=time_axis, axis=DAYS),
        y=alt.Y("total:Q", title="events"),
        color=alt.Color("metric:N", title="delivery", sort=list(DELIVERY_METRICS)),
        tooltip=["window_end:T", "metric:N", alt.Tooltip("total:Q", format=",")],
    )
    _shown = [m for m in _marks if m["at"] >= first_day]
    _rules = alt.Chart(alt.Data(values=_shown)).mark_rule(
        strokeWidth=2, opacity=0.7, clip=True, color="#e45756").encode(
        x=alt.X("at:T", scale=time_axis), strokeDash=alt.StrokeDash("kind:N", title=None),
        tooltip=["at:T", "kind:N", "resource_type:N", "resource:N", "what:N", "detail:N", "actor:N"],
    )
    around_changes = []
    for _m in (m for m in _marks if m["kind"] == "configuration change"):
        _before = [r for r in _figures if r["window_end"] <= _m["at"] and r["metric"] == "successes"]
        _after = [r for r in _figures if r["window_end"] > _m["at"] and r["metric"] == "successes"]
        around_changes.append({
            "changed": when(_m["at"]), "resource": _m["resource"], "what": f"{_m['what']} {_m['detail']}",
            "by": _m["actor"],
            "successes, window before": _before[-1]["total"] if _before else None,
            "successes, window after": _after[0]["total"] if _after else "no window after it yet",
        })
    delivery_chart = (_points + _rules).properties(width=620, height=200, title="Delivery summary and changes")
    mo.vstack([
        delivery_chart,
        mo.ui.table(around_changes, selection=None) if around_changes else mo.md(
            "No configuration change of this destination recorded."),
    ])
    return around_changes, delivery_chart


if __name__ == "__main__":
    app.run()
