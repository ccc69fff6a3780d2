"""Self-contained offline HTML reports: one version (`segtrail report LENS@N`) or the move
between two versions (`--diff LENS@M`).

A report is one HTML file with every figure drawn from data in the page: no CDN, no network,
so it opens on a plane and survives being mailed around. The version report embeds plotly.js's
basic bundle once (scatter and bar, 1.2 MB: report/bundle.py); the Sankey, the heatmaps and
the contingency table are SVG and HTML drawn by report/drawn.py, so the diff report carries
no JavaScript. It is a read: nothing is recorded in the workspace. Everything shown is an
aggregate (profiles, metrics, plan, campaign sums, value per segment) except the projection
scatter, which draws a seeded sample, so a million customers cost about as much as a
thousand.

User text (hypotheses, names, rationales) is escaped: Jinja2 autoescapes the page, plotly's
JSON escapes ``<``, and labels drawn inside figures are HTML-escaped for plotly's own markup.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from segtrail import __version__
from segtrail.atomic import atomic_write
from segtrail.engine.algorithms.base import sample_rows
from segtrail.engine.features import transform_features
from segtrail.engine.profiles import format_number, format_percent
from segtrail.errors import Damaged, SegtrailError
from segtrail.report import drawn, summary
from segtrail.report.bundle import plotly_js
from segtrail.services.campaigns import campaign_rows
from segtrail.services.campaigns import report as campaign_report
from segtrail.services.datasets import resolve_dataset
from segtrail.services.designs import list_designs
from segtrail.services.plans import list_strategies, show_plan
from segtrail.services.results import Report
from segtrail.services.segmentations import (
    log,
    ref_of,
    resolve_segmentation,
    segment_names,
    show,
)
from segtrail.services.thread import carry as carry_plan
from segtrail.services.thread import diff as diff_versions

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from segtrail.services.workspace import Workspace

SCATTER_SAMPLE = 5_000  # customers drawn in the projection (SVG stays smooth)
SAMPLE_SEED = 0
TOP_FEATURES = 15  # rows of the profile heatmap
# Hennig (2007): mean bootstrap Jaccard below 0.6 dissolves, 0.6-0.75 shows a pattern,
# above 0.75 is a valid, stable segment, above 0.85 a highly stable one.
HENNIG = ((0.6, "0.6"), (0.75, "0.75"), (0.85, "0.85"))
NOISE_COLOR = drawn.NOISE_COLOR
PALETTE = drawn.PALETTE
PLOT_CONFIG = {"displaylogo": False, "responsive": True}
FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
K_COLUMNS = 3  # panels per row of the k curve: titles stay readable at 1280 px
# Ancestors followed for a segment's colour (one diff each): far enough for a lens's recent
# history, bounded so a long lineage on a million customers stays a few seconds.
LINEAGE_DEPTH = 5


def write_report(
    ws: Workspace,
    ref: str,
    out: str | Path,
    diff: str | None = None,
    value: str | None = None,
) -> Report:
    """Write the report of version `ref` (or of the move from `ref` to `diff`) to `out`.
    `value` names the numeric column whose sum is the customers' value (default: a column
    named like one, e.g. monetary, revenue, annual_spend; none found: no value shown)."""
    path = Path(out)
    if path.suffix.lower() != ".html":
        raise SegtrailError(f"report file must end in .html, got {str(out)!r}")
    if not path.parent.is_dir():
        raise SegtrailError(f"folder {str(path.parent)!r} does not exist")
    if diff is None:
        context, template = _version_context(ws, ref, value), "version.html"
    else:
        context, template = _diff_context(ws, ref, diff), "diff.html"
    page = _render(template, context).encode("utf-8")
    atomic_write(path, page)
    return Report(
        out=str(path.resolve()),
        kind="diff" if diff else "version",
        version=context["version"],
        diff=context.get("other"),
        bytes=len(page),
        figures=sorted(context["figures"]),
        sample=context.get("sample"),
        value=context.get("value_column"),
    )


# --- the version report ------------------------------------------------------------------


def version_figures(ws: Workspace, ref: str) -> dict[str, go.Figure]:
    """The plotly figures of a version's report, as the report draws them: "projection"
    (a sample of customers in two dimensions), "k_curve" (why this k), "stability" (does
    each segment come back on resampled data); those the version has data for. Only trace
    types of the basic bundle (report/bundle.py). For pages that draw them live."""
    info = show(ws, ref)
    row = resolve_segmentation(ws, info["version"])
    _, parent_diff = _since_parent(ws, info)
    return _figures(ws, info, row, _version_colors(ws, info, parent_diff))[0]


def figure_html(fig: go.Figure, name: str) -> Markup:
    """A figure as the report embeds it: a div `fig-NAME` and the script that draws it with
    plotly.js (which the page must load first)."""
    return _html(fig, name)


def diff_sankey(ws: Workspace, result: dict) -> Markup:
    """The Sankey of how customers moved between the versions of a diff (the result of
    `ws.diff(A, B)`), drawn as SVG with the diff report's colours and names: no script."""
    names_a = {s["segment"]: s["name"] for s in result["segments_a"]}
    names_b = {s["segment"]: s["name"] for s in result["segments_b"]}
    colors_a = drawn.complete(lineage_colors(ws, result["a"]), list(names_a))
    colors_b = drawn.complete(drawn.matched_colors(result, colors_a), list(names_b))
    return _sankey(result, names_a, names_b, colors_a, colors_b)


def _sankey(
    result: dict,
    names_a: dict[int, str],
    names_b: dict[int, str],
    colors_a: dict[int, str],
    colors_b: dict[int, str],
) -> Markup:
    common_a = {s["segment"]: s["common"] for s in result["segments_a"]}
    common_b = {s["segment"]: s["common"] for s in result["segments_b"]}
    nodes_a = [
        drawn.Node(label, names_a[label], colors_a[label], common_a.get(label, 0))
        for label in sorted(names_a, key=lambda s: (s < 0, s))
    ]
    nodes_b = [
        drawn.Node(label, names_b[label], colors_b[label], common_b.get(label, 0))
        for label in sorted(names_b, key=lambda s: (s < 0, s))
    ]
    return drawn.sankey_svg(result["transitions"], nodes_a, nodes_b, result["a"], result["b"])


def _version_colors(ws: Workspace, info: dict, parent_diff: dict | None) -> dict[int, str]:
    return drawn.complete(
        lineage_colors(ws, info["version"], parent_diff), [s["segment"] for s in info["segments"]]
    )


def _figures(
    ws: Workspace, info: dict, row: dict, colors: dict[int, str]
) -> tuple[dict[str, go.Figure], dict | None]:
    """The version's figures (in the report's order) and the projection they were drawn from."""
    names = {s["segment"]: s["name"] for s in info["segments"]}
    figures: dict[str, go.Figure] = {}
    projection = _projection(ws, row)
    if projection is not None:
        figures["projection"] = _projection_figure(projection, names, colors)
    selection = info["metrics"].get("k_selection")
    if selection and selection.get("curve"):
        figures["k_curve"] = _k_curve_figure(selection, info["k"])
    stability = info["metrics"].get("stability") or {}
    if stability.get("jaccard"):
        figures["stability"] = _stability_figure(info["segments"], colors)
    return figures, projection


def _version_context(ws: Workspace, ref: str, value: str | None = None) -> dict[str, Any]:
    info = show(ws, ref)
    row = resolve_segmentation(ws, info["version"])
    dataset = resolve_dataset(ws, row["dataset_id"])
    changes, parent_diff = _since_parent(ws, info)
    colors = _version_colors(ws, info, parent_diff)
    names = {s["segment"]: s["name"] for s in info["segments"]}
    figures: dict[str, Markup] = {}

    def add(name: str, fig: go.Figure) -> None:
        figures[name] = _html(fig, name)

    column = summary.pick_value_column(dataset["columns"], value)
    values, value_note = (
        summary.segment_values(ws, dataset, row["assignments_hash"], column)
        if column
        else (None, None)
    )
    plan = show_plan(ws, info["version"])

    drawn_figures, projection = _figures(ws, info, row, colors)
    for name, fig in drawn_figures.items():
        add(name, fig)
    effects = _effects(info["profiles"], names)
    selection = info["metrics"].get("k_selection")
    stability = info["metrics"].get("stability") or {}

    campaigns = _campaigns(ws, info["version"], plan)
    for i, campaign in enumerate(campaigns):
        if "segments" in campaign:  # else it holds the error that stopped its report
            campaign["figure"] = f"campaign_{i}"
            add(campaign["figure"], _campaign_figure(campaign))
    return {
        "title": f"segtrail report: {info['version']}",
        "version": info["version"],
        "info": info,
        "quality": info["metrics"].get("quality") or {},
        "selection": selection,
        "stability": stability,
        "sample": projection["sample"] if projection else None,
        "customers": projection["customers"] if projection else None,
        "explained": projection["explained"] if projection else None,
        "lineage": _lineage(ws, info),
        "plan": plan,
        "strategies": {s["name"]: s for s in list_strategies(ws, include_retired=True)},
        "campaigns": campaigns,
        "figures": figures,
        "colors": colors,
        "value_column": column,
        "value_requested": value is not None,
        "value_note": value_note,
        "shares": {r["segment"]: r for r in summary.share_rows(info["segments"], values)},
        "targets": summary.strategies_by_segment(plan),
        "changes": changes,
        "parent_diff": parent_diff,
        "effects": _effects_table(effects, info["segments"], colors) if effects else None,
    }


def _since_parent(ws: Workspace, info: dict) -> tuple[list[str], dict | None]:
    """Plain sentences on what happened to the parent's segments (none without a parent)."""
    if not info["parent"]:
        return [], None
    result = diff_versions(ws, info["parent"], info["version"])
    return summary.changes(result, info["parent"], info["version"]), result


def lineage_colors(
    ws: Workspace, ref: str, parent_diff: dict | None = None, depth: int = LINEAGE_DEPTH
) -> dict[int, str]:
    """A version's segment colours, the same in every report: a segment that keeps a segment
    of the parent version (the diff's fate "kept") wears the parent's colour, up to `depth`
    ancestors back; others get colours the parent does not use (drawn.matched_colors). A
    root version (or the last ancestor followed) colours its segments in label order.
    `parent_diff` is diff(parent, ref) when the caller has it already."""
    row = resolve_segmentation(ws, ref)
    parent = row["parent_id"]
    if parent is None or depth <= 0:
        return _colors(list(segment_names(ws, row)))
    parent_ref = ref_of(resolve_segmentation(ws, parent))
    if parent_diff is None:
        parent_diff = diff_versions(ws, parent_ref, ref)
    return drawn.matched_colors(parent_diff, lineage_colors(ws, parent_ref, None, depth - 1))


def _effects_table(effects: dict, segments: list[dict], colors: dict[int, str]) -> dict:
    """The profile heatmap as rows of cells (feature x segment) with their colours."""
    z = effects["z"]
    finite = z[np.isfinite(z)]
    bound = max(float(np.abs(finite).max()) if finite.size else 1.0, 0.5)
    rows = []
    for j, feature in enumerate(effects["features"]):
        cells = []
        for i in range(len(segments)):
            v = float(z[i, j]) if np.isfinite(z[i, j]) else None
            cells.append({"value": v, "style": drawn.diverging(v, bound)})
        rows.append({"feature": feature, "cells": cells})
    heads = [{**s, "color": colors.get(s["segment"], NOISE_COLOR)} for s in segments]
    return {"rows": rows, "segments": heads, "bound": bound}


def _projection(ws: Workspace, row: dict) -> dict[str, Any] | None:
    """PCA of the feature matrix on a seeded sample: coordinates, labels, explained variance.
    Only the sampled rows are converted and transformed, so 1M customers stay cheap."""
    fitted = row["feature_spec"]["fitted"]
    dataset = resolve_dataset(ws, row["dataset_id"])
    id_column = dataset["id_column"]
    columns = list(dict.fromkeys([id_column, *(c["column"] for c in fitted["columns"])]))
    table = ws.objects.read_table(dataset["object_hash"], columns=columns)
    assigned = ws.objects.read_table(row["assignments_hash"], columns=["customer_id", "segment"])
    if table.num_rows == 0:
        return None
    idx = sample_rows(table.num_rows, SCATTER_SAMPLE, SAMPLE_SEED)
    frame = table.take(idx).to_pandas()
    if assigned.num_rows == table.num_rows:
        picked = assigned.take(idx)
        same = picked["customer_id"].equals(table[id_column].take(idx))
        labels = picked["segment"].to_numpy() if same else None
    else:
        labels = None
    if labels is None:  # rows not in the same order (never expected): join by id
        by_id = pd.Series(
            assigned["segment"].to_numpy(),
            index=assigned["customer_id"].to_numpy(zero_copy_only=False),
        )
        labels = by_id.reindex(frame[id_column].to_numpy()).fillna(-1).to_numpy()
    X = transform_features(frame, fitted).astype(np.float64)
    coords, explained = _pca2(X)
    return {
        "x": coords[:, 0],
        "y": coords[:, 1],
        "labels": np.asarray(labels, dtype=np.int64),
        "explained": explained,
        "sample": len(idx),
        "customers": table.num_rows,
    }


def _pca2(X: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """First two principal components (signs fixed so the output is reproducible).

    Eigenvectors of the small features x features covariance, in one BLAS thread: on a busy
    machine threaded BLAS spends longer waiting than computing on a 5,000-row sample."""
    from threadpoolctl import threadpool_limits

    centred = X - X.mean(axis=0)
    coords = np.zeros((len(X), 2))
    if centred.shape[1] == 0 or len(X) < 2:
        return coords, [0.0, 0.0]
    with threadpool_limits(limits=1, user_api="blas"):
        values, vectors = np.linalg.eigh(centred.T @ centred)
        order = np.argsort(-values, kind="stable")[:2]
        vt = vectors[:, order].T
        signs = np.sign(vt[np.arange(len(vt)), np.argmax(np.abs(vt), axis=1)])
        vt = vt * np.where(signs == 0, 1.0, signs)[:, None]
        coords[:, : len(vt)] = centred @ vt.T
    total = float(np.clip(values, 0, None).sum())
    explained = [float(max(values[i], 0.0) / total) if total > 0 else 0.0 for i in order]
    return coords, explained + [0.0] * (2 - len(explained))


def _effects(profiles: dict, names: dict[int, str]) -> dict[str, Any] | None:
    """Segments x features matrix of standardized differences: numeric std_diff, and for
    boolean and categorical values the standardized share difference (the profiles' own
    effect measure), for values that distinguish some segment. Top features by max |effect|."""
    segments = profiles["segments"]
    rows: dict[str, dict[int, float | None]] = {}
    wanted = {
        (t["column"], _value_key(t.get("value")))
        for s in segments
        for t in s["distinguishing"]
        if t["kind"] == "categorical"
    }
    for seg in segments:
        label = seg["segment"]
        for entry in seg["numeric"]:
            rows.setdefault(entry["column"], {})[label] = entry["std_diff"]
        for entry in seg["categorical"]:
            for top in entry["top"]:
                key = (entry["column"], _value_key(top["value"]))
                if entry["kind"] == "boolean":
                    name = f"{entry['column']} (share true)"
                elif key in wanted:
                    name = f"{entry['column']} = {key[1]}"
                else:
                    continue
                rows.setdefault(name, {})[label] = _share_effect(top["share"], top["overall_share"])
    if not rows or not segments:
        return None
    labels = [s["segment"] for s in segments]
    matrix = np.array(
        [[_finite(rows[r].get(label)) for label in labels] for r in rows], dtype=np.float64
    )
    strength = np.nanmax(np.where(np.isnan(matrix), -np.inf, np.abs(matrix)), axis=1)
    keep = np.argsort(-strength, kind="stable")[:TOP_FEATURES]
    keep = keep[np.isfinite(strength[keep])]
    if not len(keep):
        return None
    features = list(rows)
    return {
        "features": [features[i] for i in keep],
        "segments": [names.get(label, str(label)) for label in labels],
        "z": matrix[keep].T,  # segments x features
    }


def _value_key(value: Any) -> str:
    return "(missing)" if value is None else str(value)


def _share_effect(share: float | None, overall: float | None) -> float | None:
    if share is None or overall is None or not 0 < overall < 1:
        return None
    return (share - overall) / float(np.sqrt(overall * (1 - overall)))


def _finite(value: Any) -> float:
    return float(value) if value is not None and np.isfinite(value) else np.nan


def _lineage(ws: Workspace, info: dict) -> list[dict]:
    """The lens's versions as a forest (parent -> children), oldest first; parents in another
    lens are noted on the child."""
    versions = sorted(log(ws, info["lens"]), key=lambda v: int(v["version"].rsplit("@", 1)[1]))
    nodes = {
        v["version"]: {**v, "children": [], "current": v["version"] == info["version"]}
        for v in versions
    }
    roots = []
    for v in versions:
        node = nodes[v["version"]]
        if v["parent"] in nodes:
            nodes[v["parent"]]["children"].append(node)
        else:
            roots.append(node)
    return roots


def _campaigns(ws: Workspace, ref: str, plan: dict) -> list[dict]:
    """Campaign results, per segment of this version, for every strategy in its plan."""
    out = []
    for entry in plan["entries"]:
        for row in campaign_rows(ws, strategy=entry["strategy"]):
            try:
                # a plain dict: the page adds the name of the campaign's figure to it
                result = campaign_report(ws, row["name"], by=ref).to_dict()
                out.append(_sent_only(result))
            except Damaged:  # a damaged workspace stops the command; it is no note
                raise
            except SegtrailError as e:
                out.append({"campaign": row["name"], "strategy": row["strategy"], "error": str(e)})
        # designed and not imported yet: the design alone, so the plan shows what is coming
        imported = {c["campaign"] for c in out}
        for design in list_designs(ws, strategy=entry["strategy"]):
            if design["design"] not in imported:
                out.append(
                    {"campaign": design["design"], "strategy": design["strategy"],
                     "design": design.to_dict(), "pending": True}
                )  # fmt: skip
    return out


def _sent_only(result: dict) -> dict:
    """Segments that got nothing in a campaign are named once, not drawn as empty rows."""
    sent = [s for s in result["segments"] if s["treatment_n"] + s["control_n"] > 0]
    unsent = [s for s in result["segments"] if s["treatment_n"] + s["control_n"] == 0]
    result["unsent"] = [s["name"] for s in unsent]
    result["segments"] = sent
    return result


# --- the diff report ---------------------------------------------------------------------


def _diff_context(ws: Workspace, ref_a: str, ref_b: str) -> dict[str, Any]:
    a, b = show(ws, ref_a), show(ws, ref_b)
    result = diff_versions(ws, a["version"], b["version"])
    names_a = {s["segment"]: s["name"] for s in result["segments_a"]}
    names_b = {s["segment"]: s["name"] for s in result["segments_b"]}
    colors_a = drawn.complete(lineage_colors(ws, a["version"]), list(names_a))
    colors_b = drawn.complete(drawn.matched_colors(result, colors_a), list(names_b))
    figures = {"sankey": _sankey(result, names_a, names_b, colors_a, colors_b)}
    return {
        "title": f"segtrail diff: {a['version']} -> {b['version']}",
        "version": a["version"],
        "other": b["version"],
        "a": a,
        "b": b,
        "diff": result,
        "names_a": names_a,
        "names_b": names_b,
        "colors_a": colors_a,
        "colors_b": colors_b,
        "changes": summary.changes(result, a["version"], b["version"]),
        "contingency": _contingency(result, names_a, names_b),
        "carry": _carry_impact(ws, a["version"], b["version"]),
        "figures": figures,
    }


def _contingency(result: dict, names_a: dict[int, str], names_b: dict[int, str]) -> dict:
    """Customers per (A segment, B segment), coloured by the share of the A row."""
    a_labels = sorted(names_a, key=lambda s: (s < 0, s))
    b_labels = sorted(names_b, key=lambda s: (s < 0, s))
    counts = {(t["from"], t["to"]): t["customers"] for t in result["transitions"]}
    rows = []
    for la in a_labels:
        total = sum(counts.get((la, lb), 0) for lb in b_labels)
        cells = []
        for lb in b_labels:
            n = counts.get((la, lb), 0)
            share = n / total if total else 0.0
            cells.append({"customers": n, "share": share, "style": drawn.sequential(share)})
        rows.append({"segment": la, "cells": cells, "total": total})
    return {"columns": b_labels, "rows": rows}


def _carry_impact(ws: Workspace, ref_a: str, ref_b: str) -> dict[str, Any]:
    """What carrying A's plan onto B does to every strategy (the carry service's proposal,
    not applied), and whether B's plan was already carried from A."""
    out: dict[str, Any] = {"proposal": None, "note": None, "applied": None}
    try:
        out["proposal"] = carry_plan(ws, ref_a, ref_b).to_dict()
    except Damaged:
        raise
    except SegtrailError as e:  # no plan on A, or the same version: the diff reads alone
        out["note"] = str(e)
    plan_b = show_plan(ws, ref_b)
    carried = plan_b.get("carried_from")
    if carried and carried.get("version") == ref_a:
        out["applied"] = {
            "revision": plan_b["revision"],
            "review": [e["strategy"] for e in plan_b["entries"] if e["status"] == "needs-review"],
        }
    return out


# --- figures -----------------------------------------------------------------------------


def _colors(labels: list[int]) -> dict[int, str]:
    return drawn.colors_for(labels)


def _t(text: Any) -> str:
    """Text drawn by plotly, which reads a small HTML subset: escape so names show as typed."""
    return html.escape(str(text), quote=False)


def _layout(fig: go.Figure, height: int, **extra: Any) -> go.Figure:
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 60, "r": 20, "t": 40, "b": 50},
        font={"family": FONT, "size": 12},
        **extra,
    )
    # axes make room for their labels instead of letting the margin cut them
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


LABEL_CHARS = 30  # a segment name on an axis or in a legend wraps after this many characters


def _segment_label(label: int, name: str) -> str:
    """A segment's name as plotly draws it: escaped, wrapped onto short lines so a long name
    widens the margin by 30 characters at most, with its number."""
    text = f"{name} (#{label})" if label >= 0 else name
    return "<br>".join(_t(line) for line in drawn.wrap(text, LABEL_CHARS))


def _projection_figure(p: dict, names: dict[int, str], colors: dict[int, str]) -> go.Figure:
    import plotly.graph_objects as go

    fig = go.Figure()
    for label in sorted(np.unique(p["labels"]), key=lambda s: (s < 0, s)):
        mask = p["labels"] == label
        name = names.get(int(label), "unassigned" if label < 0 else str(label))
        fig.add_trace(
            go.Scatter(
                x=p["x"][mask].astype(np.float32),
                y=p["y"][mask].astype(np.float32),
                mode="markers",
                name=_segment_label(int(label), name),
                marker={"size": 5, "opacity": 0.6, "color": colors.get(int(label), NOISE_COLOR)},
                hovertemplate=_t(name) + "<extra></extra>",
            )
        )
    ex = p["explained"]
    return _layout(
        fig,
        520,
        xaxis_title=f"PC1 ({ex[0]:.0%} of variance)",
        yaxis_title=f"PC2 ({ex[1]:.0%} of variance)",
        legend={"itemsizing": "constant", "title": {"text": "segment"}},
    )


K_INDICES = (
    ("silhouette", "Silhouette<br>(higher is better)"),
    ("calinski_harabasz", "Calinski-Harabasz<br>(higher is better)"),
    ("davies_bouldin", "Davies-Bouldin<br>(lower is better)"),
    ("bic", "BIC<br>(lower is better)"),
    ("icl", "ICL<br>(lower is better)"),
    ("stability", "Split-half stability<br>(higher is better)"),
    ("score", "Combined score<br>(chosen by rule)"),
)


def _k_curve_figure(selection: dict, k: int) -> go.Figure:
    """One panel per index, K_COLUMNS to a row; the chosen k is a red star and a dotted line
    (the caption says so: no legend to collide with the axes)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    curve = selection["curve"]
    shown = [(key, title) for key, title in K_INDICES if any(c.get(key) is not None for c in curve)]
    chosen = selection.get("chosen_k", k)
    cols = min(K_COLUMNS, len(shown))
    rows = -(-len(shown) // cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[t for _, t in shown],
        horizontal_spacing=0.08,
        vertical_spacing=0.28 / rows + 0.1,
    )
    ks = [c["k"] for c in curve]
    for i, (key, _) in enumerate(shown):
        r, c = i // cols + 1, i % cols + 1
        values = [point.get(key) for point in curve]
        fig.add_trace(
            go.Scatter(x=ks, y=values, mode="lines+markers", name=key, showlegend=False),
            row=r,
            col=c,
        )
        marked = [v for kk, v in zip(ks, values, strict=True) if kk == chosen]
        if marked:
            fig.add_trace(
                go.Scatter(
                    x=[chosen],
                    y=marked,
                    mode="markers",
                    marker={"size": 14, "symbol": "star", "color": "#d62728"},
                    name=f"chosen k = {chosen}",
                    showlegend=False,
                ),
                row=r,
                col=c,
            )
        fig.add_vline(x=chosen, line_dash="dot", line_color="#d62728", row=r, col=c)
        fig.update_xaxes(title_text="k", dtick=1, row=r, col=c)
    fig.update_annotations(font_size=12)
    return _layout(fig, 300 * rows + 40, margin_t=60)


def _stability_figure(segments: list[dict], colors: dict[int, str]) -> go.Figure:
    """Horizontal bars (names read along the axis, never cut), Hennig's thresholds as
    dashed lines labelled above the plot."""
    import plotly.graph_objects as go

    shown = [s for s in segments if s["stability"] is not None]
    fig = go.Figure(
        go.Bar(
            y=[_segment_label(s["segment"], s["name"]) for s in shown],
            x=[s["stability"] for s in shown],
            orientation="h",
            marker_color=[colors[s["segment"]] for s in shown],
            text=[f"{s['stability']:.2f}" for s in shown],
            textposition="inside",
            insidetextanchor="end",
            hovertemplate="%{y}<br>mean Jaccard %{x:.3f}<extra></extra>",
        )
    )
    for value, label in HENNIG:
        fig.add_vline(x=value, line_dash="dash", line_color="#777")
        fig.add_annotation(
            x=value, y=1, yref="paper", yanchor="bottom", text=label, showarrow=False,
            font_size=10,
        )  # fmt: skip
    return _layout(
        fig,
        max(220, 70 + 34 * len(shown)),
        xaxis_range=[0, 1.02],
        xaxis_title="mean bootstrap Jaccard",
        yaxis_autorange="reversed",
        margin_t=30,
    )


def _interval_bars(rates: list, intervals: list) -> dict:
    """Asymmetric error bars from (low, high) intervals; None where there is no rate."""
    pairs = list(zip(rates, intervals, strict=True))
    plus = [None if r is None or c is None else c[1] - r for r, c in pairs]
    minus = [None if r is None or c is None else r - c[0] for r, c in pairs]
    return {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus}


def _campaign_figure(campaign: dict) -> go.Figure:
    """Per segment, horizontal: response rates of treatment and control (left) and the
    uplift (right). Names sit on the shared y axis; the legend sits above the plot, where
    nothing else is drawn."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rows = [*campaign["segments"], campaign["overall"]]
    labels = [
        _t(r["name"]) if r["segment"] is None else _segment_label(r["segment"], r["name"])
        for r in rows
    ]
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, column_widths=[0.6, 0.4])
    for group, color in (("treatment", "#1f77b4"), ("control", "#aaaaaa")):
        rates = [r[f"{group}_rate"] for r in rows]
        fig.add_trace(
            go.Bar(
                y=labels,
                x=rates,
                orientation="h",
                name=group,
                marker_color=color,
                error_x=_interval_bars(rates, [r[f"{group}_rate_ci"] for r in rows]),
                customdata=[r[f"{group}_n"] for r in rows],
                hovertemplate="%{y}<br>%{x:.1%} of %{customdata:,}<extra>" + group + "</extra>",
            ),
            row=1,
            col=1,
        )
    uplift = [r["uplift"] for r in rows]
    fig.add_trace(
        go.Bar(
            y=labels,
            x=uplift,
            orientation="h",
            name="uplift",
            showlegend=False,
            marker_color=[_flag_color(r["flag"]) for r in rows],
            error_x=_interval_bars(uplift, [r["uplift_ci"] for r in rows]),
            hovertemplate="%{y}<br>uplift %{x:+.1%}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.update_xaxes(tickformat=".0%")
    fig.update_xaxes(title_text="response rate (95% Wilson interval)", row=1, col=1)
    fig.update_xaxes(title_text="uplift (95% Newcombe interval)", row=1, col=2)
    fig.update_yaxes(autorange="reversed")
    return _layout(
        fig,
        max(260, 110 + 46 * len(rows)),
        barmode="group",
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        margin_t=40,
    )


def _flag_color(flag: str | None) -> str:
    return {"helps": "#2ca02c", "hurts": "#d62728"}.get(flag or "", "#9ecae1")


def _html(fig: go.Figure, name: str) -> Markup:
    """A figure as a div plus its newPlot call; plotly.js itself is embedded once per page.
    Fixed div ids (not plotly's random ones) keep two reports of the same state diffable."""
    import plotly.io as pio

    return Markup(
        pio.to_html(
            fig,
            include_plotlyjs=False,
            full_html=False,
            div_id=f"fig-{name}",
            config=PLOT_CONFIG,
        )
    )


# --- page --------------------------------------------------------------------------------


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("segtrail.report", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = lambda x: "n/a" if x is None else format_number(float(x))
    env.filters["pct"] = lambda x: "n/a" if x is None else format_percent(float(x))
    env.filters["f3"] = lambda x: "n/a" if x is None else f"{float(x):.3f}"
    env.filters["value"] = _plain_value
    env.filters["when"] = lambda at: "" if not at else str(at)[:16].replace("T", " ") + " UTC"
    return env


def _plain_value(value: Any) -> str:
    """A parameter as a reader wants it: short numbers, JSON for lists and dicts."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _render(template: str, context: dict[str, Any]) -> str:
    # plotly.js only where a plotly figure is drawn (the diff report has none)
    plotly = any("Plotly.newPlot" in str(f) for f in context["figures"].values())
    page = {
        **context,
        "plotlyjs": Markup(plotly_js()) if plotly else None,
        "segtrail_version": __version__,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    return _environment().get_template(template).render(page)
