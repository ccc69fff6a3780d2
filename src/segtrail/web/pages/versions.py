"""The version page `/versions/{LENS@N}`: summary in words at the top, segments as cards
(rename and tag in place with htmx), the charts of the offline report, the strategy map.

The page itself stays light (the version's record and its plan); the charts, which need the
customers' feature matrix, load into it afterwards from `/versions/{ref}/charts`, cached per
version and history position, so reading a version page stays fast on a large workspace.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from segtrail.services.workspace import Workspace
from segtrail.web.cache import StampedCache, history_stamp
from segtrail.web.deps import csrf_protect, current_principal, request_stamp, workspace_for
from segtrail.web.pages.common import is_htmx, render, render_shared, see_other, version_url
from segtrail.web.pages.words import quality_words, stability_words, version_stability

router = APIRouter(include_in_schema=False)

# Figures of the report, in the order and words of the page.
# (The report draws sizes and profiles as its summary table and HTML heatmap, not as figures:
# the page shows them in its summary and segment cards.)
CHARTS = (
    ("projection", "Customers on a map (a sample, projected to two dimensions)"),
    ("stability", "Does each segment come back on resampled data?"),
    ("k_curve", "Why this number of segments"),
)
# What a version page reads (its record, plan with coverage, lens line, datasets) and its
# charts, kept while the history's newest event stays the same: any change anywhere (a new
# name, a plan change) is a new event, so nothing stale is ever shown.
_pages = StampedCache(size=64)
_charts = StampedCache(size=16, max_age=600)


def _require_write(request: Request, ref: str) -> None:
    from segtrail.services.access import require_write

    require_write(current_principal(request), ref.split("@")[0])


def summary(info) -> dict:
    """The top of the page in words: k, sizes, quality, stability."""
    segments = [s for s in info.segments if s.segment >= 0]
    sizes = sorted((s.share for s in segments), reverse=True)
    quality = info.metrics.get("quality") or {}
    return {
        "k": len(segments),
        "customers": quality.get("customers") or sum(s.size for s in info.segments),
        "largest": sizes[0] if sizes else None,
        "smallest": sizes[-1] if sizes else None,
        "unassigned": quality.get("unassigned_share") or 0,
        "quality": quality_words(quality),
        "stability": version_stability(info.metrics.get("stability") or {}),
    }


@router.get("/versions/{ref}", response_class=HTMLResponse)
def version_page(
    request: Request, ref: str, new: int = 0, ws: Workspace = Depends(workspace_for)
) -> HTMLResponse:
    stamp = request_stamp(request)

    def context() -> dict[str, Any]:
        key = (str(ws.root), ref)
        data = _pages.get(key, stamp, lambda: page_context(ws, ref, _pages.last(key)))
        info = data["info"]
        flash = f"{info.version} is recorded. Name the segments you recognise." if new else None
        return {
            "title": info.version,
            "nav": "/",
            "stability_words": stability_words,
            "flash": flash,
            **data,
        }

    # The page reads the same for everyone (no part depends on the reader's role): rendered
    # once per history stamp, the per-reader parts filled in (most reads cost a lookup).
    return render_shared(
        request, "version.html", ("version", str(ws.root), ref, bool(new)), stamp, context
    )


# Events that change only part of a version page, so the rest can be kept (the load test's
# writers rename segments and re-map strategies all the time).
SEGMENT_ACTIONS = ("name", "tag")  # subject LENS@N:S
PLAN_ACTIONS = ("plan-map", "plan-unmap", "plan-revert")  # subject "LENS@N plan rR"
RECENT = 20  # events looked at; more changes since the last page: read it all again


def page_context(
    ws: Workspace, ref: str, previous: tuple[int, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """What the version page shows. With `previous` (the page's data at an older stamp), only
    what the events since then can have changed is read again: after names or tags of this
    version its segments and strategy map, after plan changes of this version its strategy
    map; after anything else (or too much), everything."""
    if previous is not None:
        refreshed = _refresh(ws, ref, *previous)
        if refreshed is not None:
            return refreshed
    info = ws.show(ref)
    datasets = [d for d in ws.datasets() if d.name == info.dataset.split("@")[0]]
    return {
        "info": info,
        "summary": summary(info),
        "plan": strategy_map(ws, info),
        "lens_versions": ws.log(info.lens),
        "newer_data": [d.dataset for d in datasets if d.dataset != info.dataset],
    }


def _refresh(ws: Workspace, ref: str, since: int, data: dict[str, Any]) -> dict[str, Any] | None:
    events = [e for e in ws.events(limit=RECENT) if e["id"] > since]
    if len(events) >= RECENT:  # maybe more than these: start over
        return None
    version = data["info"].version
    segments_changed = False
    for event in events:
        action, subject = event["action"], event["subject"]
        if action in SEGMENT_ACTIONS and subject.rpartition(":")[0] == version:
            segments_changed = True
        elif action in PLAN_ACTIONS and subject.startswith(f"{version} plan "):
            pass
        else:  # anything else may change any part (status, other versions, datasets...)
            return None
    if not events:
        return data
    info = ws.show(ref) if segments_changed else data["info"]
    if info.version != version:
        return None
    fresh = {**data, "info": info, "plan": strategy_map(ws, info)}
    if segments_changed:
        fresh["summary"] = summary(info)
    return fresh


def strategy_map(ws: Workspace, info: Any) -> dict[str, Any]:
    """The plan of this version as the page shows it (strategies x segments, coverage),
    from the plan's entries and the segments' sizes alone. Every customer is in exactly one
    segment, so the customers an active strategy reaches are the sizes of the segments it
    targets: no need to read a million assignments (`plan show` does, for its own checks)."""
    from segtrail.services.plans import plan_state

    # the version's key fields are all plan_state reads: no second lookup of the version
    state = plan_state(ws, {"id": info.id, "lens": info.lens, "version": info.number})
    entries = state["entries"] if state else []
    segments = sorted(info.segments, key=lambda s: (s.segment < 0, s.segment))
    labels = [s.segment for s in segments]
    sizes = {s.segment: s.size for s in segments}
    reach = dict.fromkeys(labels, 0)
    matrix = []
    for entry in entries:
        targets = labels if entry["segments"] == "all" else entry["segments"]
        matrix.append(
            {
                "strategy": entry["strategy"],
                "status": entry["status"],
                "segments": {str(label): label in targets for label in labels},
            }
        )
        if entry["status"] == "active":
            for label in targets:
                reach[label] = reach.get(label, 0) + 1
    total = sum(sizes.values())
    reached = sum(sizes.get(label, 0) for label, n in reach.items() if n >= 1)
    return {
        "entries": entries,
        "segments": [{"segment": s.segment, "name": s.name} for s in segments],
        "matrix": matrix,
        "coverage": {"customers": total, "reached": reached, "unreached": total - reached},
    }


def _segment_card(request: Request, ws: Workspace, ref: str, segment: int) -> HTMLResponse:
    info = ws.show(ref)
    card = next(s for s in info.segments if s.segment == segment)
    return render(request, "segment_card.html", info=info, s=card, stability_words=stability_words)


@router.post("/versions/{ref}/segments/{segment}/name", dependencies=[Depends(csrf_protect)])
def rename_segment(
    request: Request,
    ref: str,
    segment: int,
    name: str = Form(""),
    description: str = Form(""),
    ws: Workspace = Depends(workspace_for),
) -> Response:
    _require_write(request, ref)
    ws.name(ref, segment, name, description.strip() or None)
    if is_htmx(request):
        return _segment_card(request, ws, ref, segment)
    return see_other(version_url(ref) + f"#segment-{segment}")


@router.post("/versions/{ref}/segments/{segment}/tag", dependencies=[Depends(csrf_protect)])
def tag_segment(
    request: Request,
    ref: str,
    segment: int,
    key: str = Form(""),
    value: str = Form(""),
    ws: Workspace = Depends(workspace_for),
) -> Response:
    """`fit=poor` style tags; an empty value removes the tag (a new event, history kept)."""
    _require_write(request, ref)
    ws.tag(ref, segment, key.strip(), value.strip() or None)
    if is_htmx(request):
        return _segment_card(request, ws, ref, segment)
    return see_other(version_url(ref) + f"#segment-{segment}")


@router.post("/versions/{ref}/adopt", dependencies=[Depends(csrf_protect)])
def adopt(request: Request, ref: str, ws: Workspace = Depends(workspace_for)) -> Response:
    _require_write(request, ref)
    ws.adopt(ref)
    return see_other(version_url(ref))


@router.get("/versions/{ref}/charts", response_class=HTMLResponse)
def charts(request: Request, ref: str, ws: Workspace = Depends(workspace_for)) -> HTMLResponse:
    """The report's figures for this version (an htmx fragment). Each figure travels as
    JSON in a `data-figure` attribute and static/charts.js draws it: no inline script, so
    the Content-Security-Policy allows scripts from the server's own files only."""
    figures = version_figures(ws, ref)
    shown = [(key, title, figures[key]) for key, title in CHARTS if key in figures]
    return render(request, "version_charts.html", charts=shown, ref=ref)


def version_figures(ws: Workspace, ref: str) -> dict[str, str]:
    """The offline report's figures of one version (report/html.py draws them) as plotly
    JSON with the report's config, cached by version and the newest event, so names or
    plans changed since show up at once."""
    from segtrail.report.html import PLOT_CONFIG
    from segtrail.report.html import version_figures as report_figures

    def draw() -> dict[str, str]:
        out = {}
        for key, fig in report_figures(ws, ref).items():
            spec = json.loads(fig.to_json())
            out[key] = json.dumps({**spec, "config": PLOT_CONFIG}, separators=(",", ":"))
        return out

    return _charts.get((str(ws.root), ref), history_stamp(ws), draw)


@router.get("/versions/{ref}/report")
def report_file(request: Request, ref: str, ws: Workspace = Depends(workspace_for)) -> Response:
    """The whole offline report of this version as a file to keep or send on."""
    info = ws.show(ref)
    with tempfile.TemporaryDirectory(prefix="segtrail-report-") as folder:
        out = Path(folder) / "report.html"
        ws.report(info.version, out)
        body = out.read_bytes()
    filename = info.version.replace("@", "-") + ".html"
    return Response(
        body,
        media_type="text/html; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
