"""Audience pages: the lookalike builder (a background job with live progress, its quality
in words) and audience exports as downloads with their provenance (which version, strategy
or audience, when, who)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from segtrail.errors import InvalidInput, NotFound, SegtrailError
from segtrail.report.words import lookalike_model_words
from segtrail.services.access import require_write
from segtrail.services.refs import check_name
from segtrail.web.deps import csrf_protect, current_principal, jobs_of, pool_of, workspace_for
from segtrail.web.hints import page_words
from segtrail.web.pages.common import is_htmx, render, see_other

if TYPE_CHECKING:
    from segtrail.services.access import Principal
    from segtrail.services.workspace import Workspace

router = APIRouter(include_in_schema=False)

FORMATS = {
    "csv": "customer ids (CSV)",
    "meta": "Meta custom audience (hashed e-mail and phone)",
    "google": "Google Customer Match (hashed e-mail and phone)",
}


def quality_words(quality: dict, size: int) -> str:
    """The lookalike's held-out recall as a sentence."""
    recall, lift = quality.get("recall"), quality.get("lift_over_random")
    if recall is None:
        return "quality could not be measured"
    strength = "strong" if lift and lift >= 3 else "useful" if lift and lift >= 1.5 else "weak"
    return (
        f"{strength}: when part of the seed ({quality.get('hidden', 0):,} customers) was hidden "
        f"among the candidates, an audience of {size:,} found {recall:.0%} of them, "
        f"{lift or 0:.1f} times what a random audience of that size finds"
    )


def seed_words(seed: dict) -> str:
    if seed.get("kind") == "segment":
        name = f" “{seed['name']}”" if seed.get("name") else ""
        if seed.get("segments"):
            return f"segments {', '.join(map(str, seed['segments']))} of {seed.get('version')}"
        return f"segment {seed.get('segment')}{name} of {seed.get('version')}"
    if seed.get("kind") == "top":
        return f"the top {seed.get('percent', 0):g}% by {seed.get('column')}"
    return "a list of customer ids"


def _segment_choices(ws: Workspace) -> list[dict]:
    """Every segment of every version, newest version first, for the seed picker."""
    from segtrail.services.segmentations import resolve_segmentation, segment_names

    out = []
    for entry in ws.log():
        names = segment_names(ws, resolve_segmentation(ws, entry["version"]))
        for label, name in sorted(names.items()):
            if label >= 0:
                value = f"{entry['version']}:{label}"
                out.append({"value": value, "label": f"{entry['version']}: {label} {name}"})
    return out


def _exports(ws: Workspace) -> list[dict]:
    """Past audience exports from the event log, newest first, with their provenance."""
    page = ws.events_search(action="export", per_page=50)
    return [e for e in page["events"] if "format" in e["details"]]


def _page(request: Request, ws: Workspace, status_code: int = 200, **extra: Any) -> Response:
    return render(
        request,
        "audiences.html",
        status_code=status_code,
        title="Audiences",
        nav="/audiences",
        audiences=ws.audiences(),
        segments=_segment_choices(ws),
        datasets=sorted({f"{d['name']}" for d in ws.datasets()}),
        strategies=[s["name"] for s in ws.strategies()],
        exports=_exports(ws),
        formats=FORMATS,
        quality_words=quality_words,
        seed_words=seed_words,
        form=extra.pop("form", {}),
        **extra,
    )


@router.get("/audiences", response_class=HTMLResponse)
def audiences_page(
    request: Request,
    job: str | None = None,
    _principal: Principal = Depends(current_principal),
    ws: Workspace = Depends(workspace_for),
) -> Response:
    return _page(request, ws, job=jobs_of(request).snapshot(job) if job else None)


def parse_size(text: str) -> int | float:
    """The size field: "500" people, or "5%" of who is ranked (a share for the service)."""
    value = text.strip().replace(",", "")
    try:
        if value.endswith("%"):
            share = float(value[:-1]) / 100
            if 0 < share <= 1:
                return share
        elif value.isascii() and value.isdigit() and 0 < int(value) < 10**12:
            return int(value)
    except ValueError:
        pass
    raise InvalidInput(
        f"invalid audience size {text!r}: a number of people or a percentage, e.g. 500 or 5%",
        field="size",
    )


@router.post("/audiences/lookalike", dependencies=[Depends(csrf_protect)])
def build_lookalike(
    request: Request,
    seed: list[str] = Form(...),
    pool: str = Form(...),
    size: str = Form("5%"),
    exclude: str = Form(""),
    name: str = Form(""),
    principal: Principal = Depends(current_principal),
    ws: Workspace = Depends(workspace_for),
) -> Response:
    """Start ranking the pool in the background; the page follows the job."""
    require_write(principal, None)
    form = {"pool": pool, "size": size, "exclude": exclude, "name": name, "seed": seed}
    try:
        if name.strip():
            check_name(name.strip(), "audience")
        seeds = _one_version_seed(seed)
        value = parse_size(size)
        ws.dataset(pool)  # NotFound now, not in the job
        if exclude.strip():
            ws.dataset(exclude.strip())
    except SegtrailError as e:
        if e.http_status in (401, 403) or e.http_status >= 500:
            raise
        return _page(request, ws, e.http_status, error=page_words(str(e)), form=form)
    job_pool = pool_of(request)
    author = principal.name

    def run(progress: Any) -> dict:
        progress(f"ranking {pool} by similarity to {seeds}", None)
        with (
            tempfile.TemporaryDirectory(prefix="segtrail-lookalike-") as folder,
            job_pool.session(author) as job_ws,
        ):
            result = job_ws.lookalike(
                pool,
                Path(folder) / "audience.csv",
                seed=seeds,
                size=value,
                name=name.strip() or None,
                exclude=exclude.strip() or None,
            )
        progress("done", 1.0)
        return result.to_dict()

    job_id = jobs_of(request).submit("lookalike", run, author=author)
    return see_other(f"/audiences?job={job_id}#job")


def _one_version_seed(seeds: list[str]) -> str:
    """The chosen seed segments as LENS@N:S[,S...] (all from one version)."""
    from segtrail.services.refs import parse_segment_ref

    chosen = [s for s in seeds if s.strip()]
    if not chosen:
        raise InvalidInput("choose at least one seed segment", field="seed")
    parsed = [parse_segment_ref(s) for s in chosen]
    versions = {str(ref) for ref, _ in parsed}
    if len(versions) > 1:
        raise InvalidInput(
            "choose seed segments of one version (several segments of one version are fine)",
            field="seed",
        )
    return f"{versions.pop()}:{','.join(str(s) for _, s in parsed)}"


@router.get("/audiences/jobs/{job_id}", response_class=HTMLResponse)
def job_fragment(
    request: Request,
    job_id: str,
    _principal: Principal = Depends(current_principal),
) -> Response:
    """The job's progress (htmx polls this every second until the job is done)."""
    job = jobs_of(request).snapshot(job_id)
    if job is None:
        raise NotFound(f"no job {job_id!r} (jobs are forgotten when the server restarts)")
    if not is_htmx(request):  # a person opening the link: the whole page
        return see_other(f"/audiences?job={job_id}#job")
    return render(
        request,
        "audience_job.html",
        job=job,
        quality_words=quality_words,
        seed_words=seed_words,
        lookalike_model_words=lookalike_model_words,
    )


@router.get("/audiences/{name}/download.csv")
def audience_download(
    name: str,
    _principal: Principal = Depends(current_principal),
    ws: Workspace = Depends(workspace_for),
) -> Response:
    """The ranked audience as recorded (customer_id, score, rank)."""
    check_name(name, "audience")
    rows = ws.meta.audiences.list(name)
    if not rows:
        raise NotFound(f"no audience {name!r}")
    from segtrail.services.use import spreadsheet_safe

    frame = ws.objects.read_table(rows[0]["object_hash"]).to_pandas()
    return Response(
        spreadsheet_safe(frame).to_csv(index=False),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.post("/audiences/export", dependencies=[Depends(csrf_protect)])
def export_audience(
    request: Request,
    target_kind: str = Form(...),
    segments: list[str] = Form([]),
    audience: str = Form(""),
    strategy: str = Form(""),
    fmt: str = Form("csv"),
    principal: Principal = Depends(current_principal),
    ws: Workspace = Depends(workspace_for),
) -> Response:
    """Write the export (hashed identifiers for ad platforms, holdout left out), record it
    with its provenance, and send the file as a download."""
    require_write(principal, None)
    try:
        strategy_name, target = None, None
        if fmt not in FORMATS:
            raise InvalidInput(f"unknown audience format {fmt!r}: use csv, meta or google")
        if target_kind == "segments":
            target = _one_version_seed(segments)
        elif target_kind == "audience":
            target = check_name(audience.strip(), "audience")
        elif target_kind == "strategy":
            strategy_name = check_name(strategy.strip(), "strategy")
        else:
            raise InvalidInput("choose what to export: segments, an audience or a strategy")
        with tempfile.TemporaryDirectory(prefix="segtrail-export-") as folder:
            label = (target or strategy_name or "audience").replace(":", "-").replace(",", "-")
            out = Path(folder) / f"{label}-{fmt}.csv"
            result = ws.audience_export(target, fmt, out, strategy=strategy_name)
            data = out.read_bytes()
    except SegtrailError as e:
        if e.http_status in (401, 403) or e.http_status >= 500:
            raise
        return _page(request, ws, e.http_status, export_error=page_words(str(e)))
    return Response(
        data,
        media_type="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{out.name}"',
            "X-Segtrail-Rows": str(result["rows"]),
        },
    )
