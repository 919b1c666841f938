import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="Segment connections")

with app.setup:
    import altair as alt
    import marimo as mo

    from _shared import open_history, short, selected_workspace, workspace_dropdown

    ROW_PX = 16  # vertical room for one node in the busiest column
    COLUMN_X = {"warehouse": 0, "source": 1, "destination": 2}


@app.function
def build_graph(sources, destinations, warehouses, source_warehouses):
    """Nodes, edges and orphans of the source -> destination / warehouse graph, laid out in three columns
    (warehouses | sources | destinations) so that links cross as little as a simple ordering allows.

    Inputs are rows with: sources(id, name, enabled), destinations(id, name, enabled, source_id),
    warehouses(id, name, enabled), source_warehouses(source_id, warehouse_id)."""
    source_by_id = {s["id"]: s for s in sources}
    warehouse_by_id = {w["id"]: w for w in warehouses}
    links = [sw for sw in source_warehouses
             if sw["source_id"] in source_by_id and sw["warehouse_id"] in warehouse_by_id]

    # warehouses with the most sources first; sources ordered by the warehouses they load into, then by name;
    # destinations grouped under their source
    sources_per_warehouse = {w["id"]: 0 for w in warehouses}
    for link in links:
        sources_per_warehouse[link["warehouse_id"]] += 1
    warehouse_order = sorted(warehouses, key=lambda w: (-sources_per_warehouse[w["id"]], w["name"] or "", w["id"]))
    warehouse_rank = {w["id"]: i for i, w in enumerate(warehouse_order)}
    ranks_of_source = {s["id"]: [] for s in sources}
    for link in links:
        ranks_of_source[link["source_id"]].append(warehouse_rank[link["warehouse_id"]])

    def source_key(source):
        ranks = ranks_of_source[source["id"]]
        return (sum(ranks) / len(ranks) if ranks else len(warehouses), source["name"] or "", source["id"])

    source_order = sorted(sources, key=source_key)
    source_rank = {s["id"]: i for i, s in enumerate(source_order)}
    dangling = [d for d in destinations if d["source_id"] not in source_by_id]
    destination_order = sorted(
        (d for d in destinations if d["source_id"] in source_by_id),
        key=lambda d: (source_rank[d["source_id"]], d["name"] or "", d["id"]),
    )

    height = max(len(warehouse_order), len(source_order), len(destination_order), 12) * ROW_PX
    nodes = []
    for kind, column in (("warehouse", warehouse_order), ("source", source_order),
                         ("destination", destination_order)):
        step = height / max(len(column), 1)
        for i, item in enumerate(column):
            nodes.append({"id": item["id"], "kind": kind, "name": item["name"] or item["id"],
                          "enabled": bool(item["enabled"]), "x": COLUMN_X[kind], "y": (i + 0.5) * step})
    position = {(n["kind"], n["id"]): n for n in nodes}

    edges = []
    for d in destination_order:
        s = source_by_id[d["source_id"]]
        n_s, n_d = position[("source", s["id"])], position[("destination", d["id"])]
        status = "active" if s["enabled"] and d["enabled"] else "disabled"
        edges.append({"from": s["name"], "to": d["name"], "kind": "destination", "status": status,
                      "x": n_s["x"], "y": n_s["y"], "x2": n_d["x"], "y2": n_d["y"]})
    for link in links:
        s, w = source_by_id[link["source_id"]], warehouse_by_id[link["warehouse_id"]]
        n_s, n_w = position[("source", s["id"])], position[("warehouse", w["id"])]
        status = "active" if s["enabled"] and w["enabled"] else "disabled"
        edges.append({"from": s["name"], "to": w["name"], "kind": "warehouse", "status": status,
                      "x": n_s["x"], "y": n_s["y"], "x2": n_w["x"], "y2": n_w["y"]})

    enabled_destinations = {s["id"]: 0 for s in sources}
    all_destinations = {s["id"]: 0 for s in sources}
    for d in destination_order:
        all_destinations[d["source_id"]] += 1
        enabled_destinations[d["source_id"]] += 1 if d["enabled"] else 0
    warehouses_of = {s["id"]: len(ranks_of_source[s["id"]]) for s in sources}
    orphans = {
        "sources_without_enabled_destination": [
            {"source": s["name"], "id": s["id"], "enabled": bool(s["enabled"]),
             "destinations": all_destinations[s["id"]], "warehouses": warehouses_of[s["id"]]}
            for s in source_order if enabled_destinations[s["id"]] == 0
        ],
        "destinations_on_disabled_sources": [
            {"destination": d["name"], "id": d["id"], "enabled": bool(d["enabled"]),
             "source": source_by_id[d["source_id"]]["name"], "source_id": d["source_id"]}
            for d in destination_order if not source_by_id[d["source_id"]]["enabled"]
        ],
        "warehouses_without_sources": [
            {"warehouse": w["name"], "id": w["id"], "enabled": bool(w["enabled"])}
            for w in warehouse_order if sources_per_warehouse[w["id"]] == 0
        ],
        "destinations_of_unknown_sources": [
            {"destination": d["name"], "id": d["id"], "source_id": d["source_id"]} for d in dangling
        ],
    }
    return {"nodes": nodes, "edges": edges, "orphans": orphans, "height": height}


@app.cell(hide_code=True)
def _():
    mo.md("""
    # Connections

    Where each source's data goes: its destinations on the right, the warehouses it loads into on the left.
    Dashed red links carry nothing because the source or the other end is disabled; hollow red nodes are
    disabled. Pick an earlier snapshot to see the graph as it was then.
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
    _runs = history.rows(
        "SELECT started_at FROM {ds}.snapshots WHERE workspace_id = ? ORDER BY started_at DESC", [workspace_id]
    )
    _options = {r["started_at"][:19].replace("T", " ") + " UTC": r["started_at"] for r in _runs}
    snapshot_picker = mo.ui.dropdown(options=_options, value=next(iter(_options)), label="As of snapshot")
    snapshot_picker
    return snapshot_picker, workspace_id


@app.cell
def _(history, snapshot_picker, workspace_id):
    as_of = snapshot_picker.value
    # the rows valid at that snapshot: what `segment-history as-of` shows
    _valid = """workspace_id = ? AND _dlt_valid_from <= CAST(? AS TIMESTAMPTZ)
                AND (_dlt_valid_to IS NULL OR _dlt_valid_to > CAST(? AS TIMESTAMPTZ))"""
    _params = [workspace_id, as_of, as_of]
    graph = build_graph(
        sources=history.rows(f"SELECT id, name, enabled FROM {{ds}}.sources WHERE {_valid}", _params),
        destinations=history.rows(
            # many destinations have no name of their own: show the catalog name, and add it to a name
            # that does not say what the destination is
            f"""SELECT id, CASE WHEN coalesce(name, '') = '' THEN metadata_name
                                WHEN contains(name, metadata_name) THEN name
                                ELSE name || ' (' || metadata_name || ')' END AS name, enabled, source_id
                FROM {{ds}}.destinations WHERE {_valid}""", _params),
        warehouses=history.rows(
            f"""SELECT id, coalesce(settings->>'name', metadata_name) AS name, enabled
                FROM {{ds}}.warehouses WHERE {_valid}""", _params),
        source_warehouses=history.rows(
            f"SELECT source_id, warehouse_id FROM {{ds}}.source_warehouses WHERE {_valid}", _params),
    )
    return as_of, graph


@app.cell
def _(as_of, graph):
    _labels = [{**n, "label": short(n["name"], 42)} for n in graph["nodes"]]
    _x = alt.X("x:Q", axis=None, scale=alt.Scale(domain=[-0.75, 2.75]))
    _y = alt.Y("y:Q", axis=None, scale=alt.Scale(domain=[graph["height"], 0]))
    _edges = (
        alt.Chart(alt.Data(values=graph["edges"]))
        .mark_rule(strokeWidth=1.2)
        .encode(
            x=_x, y=_y, x2="x2:Q", y2="y2:Q",
            color=alt.Color("status:N", scale=alt.Scale(domain=["active", "disabled"],
                                                        range=["#9ecae9", "#e45756"]), title="link"),
            strokeDash=alt.StrokeDash("status:N", scale=alt.Scale(domain=["active", "disabled"],
                                                                  range=[[1, 0], [4, 3]]), legend=None),
            tooltip=["from:N", "to:N", "kind:N", "status:N"],
        )
    )
    _nodes = (
        alt.Chart(alt.Data(values=graph["nodes"]))
        .mark_point(size=90, filled=True, strokeWidth=2)
        .encode(
            x=_x, y=_y,
            shape=alt.Shape("kind:N", scale=alt.Scale(domain=["warehouse", "source", "destination"],
                                                     range=["square", "circle", "triangle-right"]), title="node"),
            fill=alt.condition("datum.enabled", alt.value("#4c78a8"), alt.value("white")),
            stroke=alt.condition("datum.enabled", alt.value("#4c78a8"), alt.value("#e45756")),
            tooltip=["kind:N", "name:N", "enabled:N", "id:N"],
        )
    )
    _text = alt.Chart(alt.Data(values=_labels)).encode(x=_x, y=_y, text="label:N")
    _left = _text.transform_filter("datum.kind == 'warehouse'").mark_text(align="right", dx=-9, fontSize=11)
    _middle = _text.transform_filter("datum.kind == 'source'").mark_text(
        align="center", dy=-10, fontSize=11, fontWeight="bold")
    _right = _text.transform_filter("datum.kind == 'destination'").mark_text(align="left", dx=9, fontSize=10)
    connections_chart = (_edges + _nodes + _left + _middle + _right).properties(
        title=alt.Title(
            f"Warehouses ← sources → destinations, as of {as_of[:19].replace('T', ' ')} UTC",
            subtitle="solid blue link: data flows · dashed red link: the source or the other end is disabled"
                     " · hollow red node: disabled",
        ),
        width=1000, height=graph["height"],
    ).configure_view(stroke=None)
    connections_chart
    return


@app.cell(hide_code=True)
def _():
    mo.md("""
    ## Orphans

    Configuration that sends data nowhere, or is fed by nothing.
    """)
    return


@app.cell
def _(graph):
    orphans = graph["orphans"]
    _titles = {
        "sources_without_enabled_destination": "Sources with no enabled destination",
        "destinations_on_disabled_sources": "Destinations on disabled sources (they receive nothing)",
        "warehouses_without_sources": "Warehouses no source loads into",
        "destinations_of_unknown_sources": "Destinations whose source is not in the snapshot",
    }
    mo.vstack([
        mo.vstack([
            mo.md(f"### {title}: {len(orphans[key])}"),
            mo.ui.table(orphans[key], selection=None, page_size=10) if orphans[key] else mo.md("None."),
        ])
        for key, title in _titles.items()
    ])
    return (orphans,)


if __name__ == "__main__":
    app.run()
