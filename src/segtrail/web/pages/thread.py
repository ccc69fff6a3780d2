"""The thread pages: how customers moved between two versions and what that does to the plan
(diff + carry review, apply with one action, needs-review items resolved one by one), two
lenses side by side (compare), and a strategy's history as a timeline (why)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from segtrail.errors import SegtrailError
from segtrail.services.access import require_write
from segtrail.services.plans import STATUSES
from segtrail.services.segmentations import resolve_segmentation
from segtrail.web.deps import csrf_protect, current_principal, workspace_for
from segtrail.web.hints import page_words
from segtrail.web.pages.common import render, see_other

if TYPE_CHECKING:
    from segtrail.services.access import Principal
    from segtrail.services.workspace import Workspace

router = APIRouter(include_in_schema=False)

PLOTLY_URL = "/charts/plotly.min.js"


# --- plain words -------------------------------------------------------------------------


def agreement_words(ari: float | None) -> str:
    """The adjusted Rand index as a marketer reads it."""
    if ari is None:
        return "no customer in common, so no comparison"
    if ari >= 0.8:
        return "nearly the same grouping"
    if ari >= 0.5:
        return "a similar grouping with some moves"
    if ari >= 0.2:
        return "a partly different grouping"
    return "a very different grouping"


def _seg(label: int | None, names: dict[int, str]) -> str:
    if label is None:
        return "no segment"
    if label < 0:
        return "unassigned customers"
    return f"{label} “{names.get(label, 'unassigned')}”"


def fate_words(s: dict, names_b: dict[int, str]) -> str:
    """What became of one segment of A, in a sentence (diff's segments_a entry)."""
    targets = s["targets"]
    where = ", ".join(f"{_seg(t['segment'], names_b)} ({t['share_of_a']:.0%})" for t in targets)
    fate = s["fate"]
    if fate == "kept":
        return f"stayed together as {_seg(s['best_match'], names_b)} (overlap {s['jaccard']:.0%})"
    if fate == "split":
        return f"split into {where}"
    if fate == "merged":
        return f"merged into {where}, together with customers from other segments"
    if fate == "shrunk":
        return f"shrank: only part of it stayed together, in {where or 'small pieces'}"
    if fate == "vanished":
        return "vanished: its customers scattered in small pieces over other segments"
    return "customers without a segment"


# --- charts --------------------------------------------------------------------------------


@functools.cache
def _plotly_js() -> bytes:
    from segtrail.report.bundle import plotly_js

    return plotly_js().encode()


@router.get(PLOTLY_URL, include_in_schema=False)
def plotly_js() -> Response:
    """The report's plotly.js bundle (the basic one: scatter, bar, pie; the only trace types
    the pages draw), served locally: nothing from the internet."""
    return Response(
        _plotly_js(),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )


# --- diff and carry review ---------------------------------------------------------------


def diff_url(a: str, b: str, **extra: str) -> str:
    return "/diff?" + urlencode({"a": a, "b": b, **extra})


def _versions(ws: Workspace) -> list[str]:
    return [e["version"] for e in ws.log()]


def _carry_state(ws: Workspace, a: str, b: str) -> dict[str, Any]:
    """The proposal (what carrying A's plan onto B would do) and, if B's plan was carried
    from A already, the entries still waiting for a decision."""
    from segtrail.services.plans import plan_state

    row_b = resolve_segmentation(ws, b)
    state_b = plan_state(ws, row_b)
    carried = state_b["carried_from"] if state_b else None
    out: dict[str, Any] = {"proposal": None, "note": None, "applied": None, "review": []}
    try:
        out["proposal"] = ws.carry(a, b)
    except SegtrailError as e:  # e.g. A has no plan: the diff still reads on its own
        out["note"] = page_words(str(e))
    if state_b is not None:
        out["review"] = [e for e in state_b["entries"] if e["status"] == "needs-review"]
        if carried and carried["version"] == a:
            out["applied"] = state_b
    out["plan_b"] = state_b
    out["carried_from"] = carried
    return out


@router.get("/diff", response_class=HTMLResponse)
def diff_page(
    request: Request,
    a: str | None = None,
    b: str | None = None,
    done: str | None = None,
    strategy: str | None = None,
    principal: Principal = Depends(current_principal),
    ws: Workspace = Depends(workspace_for),
) -> Response:
    from segtrail.report.html import diff_sankey  # the diff report's own SVG Sankey

    versions = _versions(ws)
    context: dict[str, Any] = {"versions": versions, "a": a or "", "b": b or "", "nav": "/plans"}
    if not a or not b:
        return render(request, "diff.html", title="Compare two versions", **context)
    result = ws.diff(a, b)
    a, b = result["a"], result["b"]
    names_a = {s["segment"]: s["name"] for s in result["segments_a"]}
    names_b = {s["segment"]: s["name"] for s in result["segments_b"]}
    segments_b = {s["segment"]: s for s in result["segments_b"]}
    fates = [
        {**s, "words": fate_words(s, names_b)} for s in result["segments_a"] if s["fate"] != "noise"
    ]
    carry = _carry_state(ws, a, b)
    row_b = resolve_segmentation(ws, b)
    flash = None
    if done == "applied" and carry["applied"]:
        n = len(carry["review"])
        flash = f"Carried the plan onto {b} (plan revision {carry['applied']['revision']})" + (
            f"; {n} strateg{'y needs' if n == 1 else 'ies need'} your decision below" if n else ""
        )
    elif done == "decided" and strategy:
        flash = f"Recorded your decision on {strategy}"
    return render(
        request,
        "diff.html",
        title=f"{a} → {b}: how customers moved",
        result=result,
        agreement=agreement_words(result["ari"]),
        fates=fates,
        new_segments=[s for s in result["segments_b"] if s.get("origin") == "new"],
        segments_b=segments_b,
        names_a=names_a,
        names_b=names_b,
        sankey=diff_sankey(ws, result),
        carry=carry,
        statuses=STATUSES,
        flash=flash,
        can_write=_can_write(principal, row_b["lens"]),
        **{**context, "a": a, "b": b},
    )


def _can_write(principal: Principal, lens: str | None) -> bool:
    try:
        require_write(principal, lens)
    except SegtrailError:
        return False
    return True


@router.post("/diff/apply", dependencies=[Depends(csrf_protect)])
def apply_carry(
    a: str = Form(...),
    b: str = Form(...),
    principal: Principal = Depends(current_principal),
    ws: Workspace = Depends(workspace_for),
) -> Response:
    """Record the carried plan on B (one action); needs-review entries are listed after."""
    require_write(principal, resolve_segmentation(ws, b)["lens"])
    result = ws.carry(a, b, apply=True)
    return see_other(diff_url(result["old"], result["new"], done="applied") + "#review")


REVIEW_CHOICES = {
    "keep": "active",  # target the proposed segments, active
    "pause": "paused",
    "not-viable": "not-viable",
}


@router.post("/diff/review", dependencies=[Depends(csrf_protect)])
def resolve_review(
    a: str = Form(...),
    b: str = Form(...),
    strategy: str = Form(...),
    choice: str = Form(...),
    rationale: str = Form(""),
    revision: int | None = Form(None),
    principal: Principal = Depends(current_principal),
    ws: Workspace = Depends(workspace_for),
) -> Response:
    """One needs-review item decided: keep on the proposed segments (active), pause, mark
    not viable (all three keep the proposed segments), or take it off the plan. `revision`
    is the plan revision the person saw: if someone changed the plan since, nothing is
    recorded and the page says so (Conflict)."""
    from segtrail.services.plans import plan_state

    row = resolve_segmentation(ws, b)
    require_write(principal, row["lens"])
    if choice not in (*REVIEW_CHOICES, "remove"):
        raise SegtrailError(f"unknown choice {choice!r}: keep, pause, not-viable or remove")
    state = plan_state(ws, row)
    entry = next(
        (e for e in (state["entries"] if state else []) if e["strategy"] == strategy), None
    )
    if entry is None:
        raise SegtrailError(f"{strategy} is not in the plan of {b}", field="strategy")
    if choice == "remove":
        ws.plan_unmap(strategy, b, expected_revision=revision)
    else:
        segments = entry["segments"]
        if segments != "all" and not segments:
            raise SegtrailError(
                f"{strategy} has no segment left in {b}: map it on the plan board or remove it",
                field="choice",
            )
        note = rationale.strip() or entry.get("rationale") or None
        ws.plan_map(
            strategy,
            b,
            segments,
            status=REVIEW_CHOICES[choice],
            rationale=note,
            expected_revision=revision,
        )
    return see_other(diff_url(a, b, done="decided", strategy=strategy) + "#review")


# --- compare lenses --------------------------------------------------------------------------


def _flags(text: str) -> dict[str, str]:
    flags = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, eq, value = part.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise SegtrailError(f"invalid flag {part.strip()!r}: expected KEY=VALUE, e.g. fit=poor")
        flags[key.strip()] = value.strip()
    return flags


def agreements(result: Any) -> list[dict]:
    """For every A segment, the B segment most of it lies in and how much: where the two
    lenses see the same customers (>= 60% in one place) or cut them differently."""
    rows = {r["segment"]: r["name"] for r in result["rows"]}
    cols = {c["segment"]: c["name"] for c in result["columns"]}
    out = []
    for seg, name in rows.items():
        if seg < 0:
            continue
        cells = [t for t in result["transitions"] if t["from"] == seg]
        total = sum(t["customers"] for t in cells)
        if not total:
            continue
        main = max(cells, key=lambda t: t["customers"])
        share = main["customers"] / total
        out.append(
            {
                "segment": seg,
                "name": name,
                "to": main["to"],
                "to_name": cols.get(main["to"], "unassigned"),
                "share": share,
                "agree": share >= 0.6,
            }
        )
    return out


@router.get("/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    a: str | None = None,
    b: str | None = None,
    flag: str = "",
    _principal: Principal = Depends(current_principal),
    ws: Workspace = Depends(workspace_for),
) -> Response:
    lenses = sorted({e["lens"] for e in ws.log()})
    versions = _versions(ws)
    context: dict[str, Any] = {
        "title": "Compare lenses",
        "nav": "/compare",
        "choices": lenses + [v for v in versions if v not in lenses],
        "a": a or "",
        "b": b or "",
        "flag": flag,
    }
    if not a or not b:
        return render(request, "compare.html", **context)
    try:
        result = ws.compare(a, b, _flags(flag))
    except SegtrailError as e:
        if e.http_status >= 500 or e.http_status in (401, 403):
            raise
        return render(
            request, "compare.html", error=page_words(str(e)), status_code=e.http_status, **context
        )
    cells = {(t["from"], t["to"]): t["customers"] for t in result["transitions"]}
    row_totals = {r["segment"]: 0 for r in result["rows"]}
    for t in result["transitions"]:
        row_totals[t["from"]] = row_totals.get(t["from"], 0) + t["customers"]
    return render(
        request,
        "compare.html",
        result=result,
        cells=cells,
        row_totals=row_totals,
        agreement=agreement_words(result["ari"]),
        agreements=agreements(result),
        **context,
    )


# --- why: a strategy's timeline --------------------------------------------------------------


def timeline(thread: Any) -> list[dict]:
    """Every dated thing that happened to a strategy, newest first: its creation, each
    plan revision that mapped, changed or carried it, its campaigns and its audiences."""
    s = thread["strategy"]
    items = [
        {
            "at": s["created_at"],
            "who": s["author"],
            "kind": "created",
            "title": f"Strategy {s['name']} written",
            "text": s["message"],
        }
    ]
    for m in thread["mappings"]:
        for h in m["history"]:
            items.append(
                {
                    "at": h["at"],
                    "who": h["author"],
                    "kind": "plan",
                    "title": f"{m['version']} plan revision {h['revision']}",
                    "text": h["change"],
                    "version": m["version"],
                    "status": h["status"],
                }
            )
    for c in thread["campaigns"]:
        if "error" in c:
            continue
        items.append(
            {
                "at": c["imported_at"],
                "who": c["author"],
                "kind": "campaign",
                "title": f"Campaign {c['campaign']} results imported",
                "text": f"{c['rows']:,} customers, read by {c['by']}",
                "campaign": c["campaign"],
            }
        )
    items.sort(key=lambda i: i["at"], reverse=True)
    return items


@router.get("/why", response_class=HTMLResponse)
def why_index(
    request: Request,
    customer: str | None = None,
    _principal: Principal = Depends(current_principal),
    ws: Workspace = Depends(workspace_for),
) -> Response:
    """Why for a strategy (pick one), or for one customer (their id)."""
    thread, error = None, None
    if customer and customer.strip():
        try:
            thread = ws.why_customer(customer)
        except SegtrailError as e:
            if e.http_status in (401, 403) or e.http_status >= 500:
                raise
            error = page_words(str(e))
    return render(
        request,
        "why_customer.html",
        title=f"Why customer {customer}?" if thread else "Why?",
        nav="/plans",
        strategies=[s["name"] for s in ws.strategies()],
        customer=customer or "",
        thread=thread,
        error=error,
        status_code=422 if error else 200,
    )


@router.get("/why/segment/{ref}/{segment}", response_class=HTMLResponse)
def why_segment_page(
    request: Request,
    ref: str,
    segment: int,
    _principal: Principal = Depends(current_principal),
    ws: Workspace = Depends(workspace_for),
) -> Response:
    thread = ws.why_segment(ref, segment)
    return render(
        request,
        "why_segment.html",
        title=f"Why {thread['version']} segment {segment}?",
        nav="/plans",
        thread=thread,
    )


@router.get("/why/{strategy}", response_class=HTMLResponse)
def why_page(
    request: Request,
    strategy: str,
    _principal: Principal = Depends(current_principal),
    ws: Workspace = Depends(workspace_for),
) -> Response:
    thread = ws.why(strategy)
    return render(
        request,
        "why.html",
        title=f"Why {strategy}?",
        nav="/plans",
        thread=thread,
        timeline=timeline(thread),
    )
