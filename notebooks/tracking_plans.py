import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Segment tracking plans")

with app.setup:
    import altair as alt
    import marimo as mo

    from _shared import count_axis, count_by, open_history, selected_workspace, workspace_dropdown

    KIND_COLORS = alt.Scale(domain=["added", "modified", "removed"], range=["#54a24b", "#4c78a8", "#e45756"])
    # the API reports a rule that is not deprecated with this date
    NOT_DEPRECATED = "0001-01-01"


@app.cell(hide_code=True)
def _():
    mo.md("""
    # Tracking plans

    Which sources are covered by a tracking plan (now, and at every snapshot), how many rules each plan
    has, and how the rules changed over time.
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
    mo.stop(
        not history.has_table("tracking_plan_sources"),
        mo.callout(mo.md("No tracking plan has been loaded (the plan may lack Protocols, or the token "
                         "cannot read tracking plans)."), kind="warn"),
    )
    return (workspace_id,)


@app.cell(hide_code=True)
def _():
    mo.md("""
    ## Coverage now

    A source is covered when a tracking plan is connected to it (`tracking_plan_sources`).
    """)
    return


@app.cell
def _(history, workspace_id):
    source_coverage = history.rows(
        """
        SELECT s.id, s.name, s.metadata_name AS type, s.enabled,
               string_agg(p.name, ', ' ORDER BY p.name) AS tracking_plans
        FROM {ds}.sources s
        LEFT JOIN {ds}.tracking_plan_sources tps
          ON tps.source_id = s.id AND tps._dlt_valid_to IS NULL AND tps.workspace_id = s.workspace_id
        LEFT JOIN {ds}.tracking_plans p
          ON p.id = tps.tracking_plan_id AND p._dlt_valid_to IS NULL AND p.workspace_id = s.workspace_id
        WHERE s._dlt_valid_to IS NULL AND s.workspace_id = ?
        GROUP BY ALL ORDER BY s.enabled DESC, tracking_plans NULLS FIRST, s.name""",
        [workspace_id],
    )
    coverage_now = count_by(
        [{"state": "enabled" if s["enabled"] else "disabled",
          "coverage": "with a plan" if s["tracking_plans"] else "without a plan"} for s in source_coverage],
        "state", "coverage",
    )
    _covered = sum(1 for s in source_coverage if s["tracking_plans"])
    coverage_chart = (
        alt.Chart(alt.Data(values=coverage_now), title="Sources with and without a tracking plan")
        .mark_bar()
        .encode(
            y=alt.Y("state:N", sort=["enabled", "disabled"], title=None),
            x=alt.X("n:Q", stack="zero", title="sources", axis=count_axis(coverage_now, "n", "state")),
            color=alt.Color("coverage:N", scale=alt.Scale(domain=["with a plan", "without a plan"],
                                                          range=["#54a24b", "#f58518"]), title=None),
            tooltip=["state:N", "coverage:N", "n:Q"],
        )
        .properties(width=520, height=alt.Step(34))
    )
    _uncovered = [
        {"source": s["name"], "type": s["type"], "enabled": s["enabled"], "id": s["id"]}
        for s in source_coverage if not s["tracking_plans"]
    ]
    mo.vstack([
        mo.md(f"**{_covered} of {len(source_coverage)} sources** have a tracking plan."),
        coverage_chart,
        mo.md(f"**Sources without a tracking plan** ({len(_uncovered)}; enabled ones first)"),
        mo.ui.table(_uncovered, selection=None, page_size=10),
    ])
    return coverage_now, source_coverage


@app.cell(hide_code=True)
def _():
    mo.md("""
    ## Coverage at every snapshot

    The same count for the sources that existed at each snapshot (the SCD2 rows valid at its start).
    """)
    return


@app.cell
def _(history, workspace_id):
    coverage_history = history.rows(
        """
        WITH runs AS (SELECT DISTINCT started_at FROM {ds}.snapshots WHERE workspace_id = ?)
        SELECT r.started_at AS snapshot,
               CASE WHEN EXISTS (
                   SELECT 1 FROM {ds}.tracking_plan_sources t
                   WHERE t.source_id = s.id AND t.workspace_id = s.workspace_id
                     AND t._dlt_valid_from <= r.started_at
                     AND (t._dlt_valid_to IS NULL OR t._dlt_valid_to > r.started_at))
                    THEN 'with a plan' ELSE 'without a plan' END AS coverage,
               count(*) AS sources
        FROM runs r JOIN {ds}.sources s
          ON s.workspace_id = ? AND s._dlt_valid_from <= r.started_at
         AND (s._dlt_valid_to IS NULL OR s._dlt_valid_to > r.started_at)
        GROUP BY ALL ORDER BY snapshot, coverage""",
        [workspace_id, workspace_id],
    )
    coverage_history_chart = (
        alt.Chart(alt.Data(values=coverage_history), title="Source coverage at each snapshot")
        .mark_line(point=True)
        .encode(
            x=alt.X("snapshot:T", title="snapshot (UTC)",
                    axis=alt.Axis(format="%b %d %H:%M:%S", labelAngle=0, tickCount=6)),
            y=alt.Y("sources:Q", axis=count_axis(coverage_history, "sources", "snapshot", "coverage")),
            color=alt.Color("coverage:N", scale=alt.Scale(domain=["with a plan", "without a plan"],
                                                          range=["#54a24b", "#f58518"]), title=None),
            tooltip=["snapshot:T", "coverage:N", "sources:Q"],
        )
        .properties(width=520, height=180)
    )
    coverage_history_chart
    return


@app.cell(hide_code=True)
def _():
    mo.md("""
    ## Rules per plan

    Current rules of each plan by type (`TRACK` rules are events; `IDENTIFY`, `GROUP`, `PAGE`, `SCREEN`
    and `COMMON` describe traits and context), with the number of sources the plan is connected to.
    """)
    return


@app.cell
def _(history, workspace_id):
    rules_per_plan = history.rows(
        """
        SELECT p.name AS tracking_plan, r.type AS rule_type, count(*) AS rules,
               count(*) FILTER (WHERE r.deprecated_at IS NOT NULL AND r.deprecated_at > ?) AS deprecated
        FROM {ds}.tracking_plan_rules r
        JOIN {ds}.tracking_plans p
          ON p.id = r.tracking_plan_id AND p._dlt_valid_to IS NULL AND p.workspace_id = r.workspace_id
        WHERE r._dlt_valid_to IS NULL AND r.workspace_id = ?
        GROUP BY ALL ORDER BY tracking_plan, rule_type""",
        [NOT_DEPRECATED + "T23:59:59", workspace_id],
    )
    _plans = history.rows(
        """
        SELECT p.name AS tracking_plan, p.type, p.updated_at,
               (SELECT count(*) FROM {ds}.tracking_plan_sources t
                WHERE t.tracking_plan_id = p.id AND t._dlt_valid_to IS NULL
                  AND t.workspace_id = p.workspace_id) AS sources,
               (SELECT count(*) FROM {ds}.tracking_plan_rules r
                WHERE r.tracking_plan_id = p.id AND r._dlt_valid_to IS NULL
                  AND r.workspace_id = p.workspace_id) AS rules
        FROM {ds}.tracking_plans p WHERE p._dlt_valid_to IS NULL AND p.workspace_id = ?
        ORDER BY rules DESC""",
        [workspace_id],
    )
    rules_chart = (
        alt.Chart(alt.Data(values=rules_per_plan), title="Current rules per tracking plan")
        .mark_bar()
        .encode(
            y=alt.Y("tracking_plan:N", sort="-x", title=None),
            x=alt.X("sum(rules):Q", title="rules", axis=count_axis(rules_per_plan, "rules", "tracking_plan")),
            color=alt.Color("rule_type:N", title="rule type"),
            tooltip=["tracking_plan:N", "rule_type:N", "rules:Q", "deprecated:Q"],
        )
        .properties(width=520, height=alt.Step(24))
    )
    mo.vstack([rules_chart, mo.ui.table(_plans, selection=None)])
    return (rules_per_plan,)


@app.cell(hide_code=True)
def _():
    mo.md("""
    ## Rule changes over time

    Left: rules added, modified and removed, as found by each snapshot (`config_changes`). Right: the
    API's own `updated_at` of the current rules per month, which reaches back before the first snapshot.
    """)
    return


@app.cell
def _(history, workspace_id):
    rule_changes = history.rows(
        """
        SELECT c.observed_at, c.change_kind, c.field_path, c.resource_id,
               p.name AS tracking_plan, coalesce(c.actor_email, c.actor, '(not attributed)') AS actor
        FROM {ds}.config_changes c
        LEFT JOIN {ds}.tracking_plans p
          ON p.id = split_part(c.resource_id, ':', 1) AND p.workspace_id = c.workspace_id
         AND p._dlt_valid_from <= c.observed_at AND (p._dlt_valid_to IS NULL OR p._dlt_valid_to >= c.observed_at)
        WHERE c.workspace_id = ? AND c.resource_type = 'tracking_plan_rules'
        ORDER BY c.observed_at DESC""",
        [workspace_id],
    )
    # a rule changed in several fields in one run counts once
    rule_changes_by_snapshot = count_by(
        list({(r["observed_at"], r["resource_id"]): r for r in rule_changes}.values()),
        "observed_at", "change_kind",
    )
    _runs = history.rows("SELECT started_at FROM {ds}.snapshots WHERE workspace_id = ?", [workspace_id])
    _run_rules = alt.Chart(alt.Data(values=_runs)).mark_rule(color="#dddddd").encode(x="started_at:T")
    _observed = _run_rules + (
        alt.Chart(alt.Data(values=rule_changes_by_snapshot), title="Rules changed per snapshot")
        .mark_bar(size=14)
        .encode(
            x=alt.X("observed_at:T", title="snapshot (UTC)", scale=alt.Scale(padding=20),
                    axis=alt.Axis(format="%b %d %H:%M:%S", labelAngle=0, tickCount=4, grid=False)),
            y=alt.Y("sum(n):Q", title="rules", axis=count_axis(rule_changes_by_snapshot, "n", "observed_at")),
            color=alt.Color("change_kind:N", scale=KIND_COLORS, title="change"),
            tooltip=["observed_at:T", "change_kind:N", "n:Q"],
        )
        .properties(width=300, height=200)
    )
    _edits = history.rows(
        """
        SELECT date_trunc('month', try_cast(r.updated_at AS TIMESTAMPTZ)) AS month, p.name AS tracking_plan,
               count(*) AS rules
        FROM {ds}.tracking_plan_rules r
        JOIN {ds}.tracking_plans p
          ON p.id = r.tracking_plan_id AND p._dlt_valid_to IS NULL AND p.workspace_id = r.workspace_id
        WHERE r._dlt_valid_to IS NULL AND r.workspace_id = ? AND try_cast(r.updated_at AS TIMESTAMPTZ) IS NOT NULL
        GROUP BY ALL ORDER BY month""",
        [workspace_id],
    )
    _api_timestamps = (
        alt.Chart(alt.Data(values=_edits), title="Current rules by last update (API updated_at)")
        .mark_bar()
        .encode(
            x=alt.X("yearmonth(month):O", title=None),
            y=alt.Y("sum(rules):Q", title="rules"),
            color=alt.Color("tracking_plan:N", title="plan"),
            tooltip=["yearmonth(month):O", "tracking_plan:N", "rules:Q"],
        )
        .properties(width=300, height=200)
    )
    rule_changes_chart = alt.hconcat(_observed, _api_timestamps).resolve_scale(color="independent")
    mo.vstack([
        rule_changes_chart,
        mo.ui.table(
            [{"observed_at": r["observed_at"][:19], "plan": r["tracking_plan"],
              "rule": r["resource_id"].split(":", 1)[-1], "change": r["change_kind"],
              "field": r["field_path"] or "", "actor": r["actor"]} for r in rule_changes],
            selection=None, page_size=10,
        ),
    ])
    return (rule_changes_by_snapshot,)


if __name__ == "__main__":
    app.run()
