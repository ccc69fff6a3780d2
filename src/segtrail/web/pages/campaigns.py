"""Campaign pages: import a campaign's results (CSV, the CLI's checks and messages), read
the uplift per segment with its interval in plain words, the designs made before sending,
and the workspace holdout."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from segtrail.errors import InvalidInput, NotFound, SegtrailError
from segtrail.services.access import require_write
from segtrail.services.refs import check_name, stem_to_name
from segtrail.web.deps import csrf_protect, current_principal, workspace_for
from segtrail.web.hints import page_words
from segtrail.web.pages.common import render, see_other

if TYPE_CHECKING:
    from segtrail.services.access import Principal
    from segtrail.services.workspace import Workspace

router = APIRouter(include_in_schema=False)

CHUNK = 1024 * 1024
UPLOAD_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".xlsx", ".tsv", ".txt")


def campaign_url(name: str) -> str:
    from urllib.parse import quote

    return "/campaigns/" + quote(name, safe="")


def verdict(arm: dict) -> tuple[str, str]:
    """(words, badge class) for one arm against the control: the test's flag, in words a
    marketer reads ("helped" / "hurt" only when the interval says so)."""
    if arm.get("control"):
        return "control (got nothing)", ""
    if arm.get("uplift") is None:
        return "not enough customers to tell", ""
    if arm.get("flag") == "helps":
        return "helped", "good"
    if arm.get("flag") == "hurts":
        return "hurt", "bad"
    return "no clear effect", "warn"


def uplift_rows(report: Any) -> list[dict]:
    """One row per segment and arm (the control's figures beside each arm), in plain words:
    the segment, how many got the arm / nothing, both response rates, the uplift in points
    with its 95% interval, and the verdict."""
    rows = []
    for s in [*report["segments"], report["overall"]]:
        arms = s["arms"]
        control = next((a for a in arms if a["control"]), None)
        if control is None or all(a["n"] == 0 for a in arms):
            continue
        for a in arms:
            if a["control"]:
                continue
            words, badge = verdict(a)
            rows.append(
                {
                    "segment": "everyone" if s is report["overall"] else s["name"] or "",
                    "label": s["segment"],
                    "overall": s is report["overall"],
                    "arm": a["arm"],
                    "sent": a["n"],
                    "held_back": control["n"],
                    "rate": a["rate"],
                    "control_rate": control["rate"],
                    "uplift": a["uplift"],
                    "ci": a["uplift_ci"],
                    "p": a["p_adjusted"] if a.get("p_adjusted") is not None else a["p_value"],
                    "verdict": words,
                    "badge": badge,
                }
            )
    return rows


def with_control_share(design: Any) -> dict:
    """A recorded design as a dict, with the share held back as control (from its groups)."""
    data = design.to_dict()
    data["control_share"] = next(
        (g["share"] for g in data["groups"] if g["group"] == data["control"]), 0.0
    )
    return data


@router.get("/campaigns", response_class=HTMLResponse)
def campaigns_page(
    request: Request,
    _principal: Principal = Depends(current_principal),
    ws: Workspace = Depends(workspace_for),
) -> Response:
    return _campaigns_page(request, ws)


def _campaigns_page(
    request: Request, ws: Workspace, status_code: int = 200, **extra: Any
) -> Response:
    from segtrail.services.designs import current_holdout

    holdout = current_holdout(ws)
    return render(
        request,
        "campaigns.html",
        status_code=status_code,
        title="Campaigns",
        nav="/campaigns",
        campaigns=ws.campaigns(),
        designs=[with_control_share(d) for d in ws.campaign_designs()],
        strategies=[s["name"] for s in ws.strategies()],
        holdout=ws.holdout_show() if holdout else None,
        max_mb=request.app.state.max_upload_bytes // (1024 * 1024),
        form=extra.pop("form", {}),
        **extra,
    )


async def save_upload(upload: UploadFile, folder: Path, limit: int) -> Path:
    """The uploaded file under its own base name (so messages name it as the person knows it;
    no folder part of the name is used), refused whole above `limit` bytes (the server's
    body limit refuses bigger requests before they get here; this guards the file alone)."""
    raw = Path((upload.filename or "").replace("\\", "/")).name
    if not raw:
        raise InvalidInput("choose a file to upload", field="file")
    lowered = raw.lower()
    suffix = next((s for s in UPLOAD_SUFFIXES if lowered.endswith(s)), None)
    if suffix is None:
        raise InvalidInput(f"{raw}: upload a .csv, .tsv, .parquet or .xlsx file", field="file")
    name = stem_to_name(raw[: -len(suffix)]) + suffix
    path = folder / name
    size = 0
    with path.open("wb") as out:
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise InvalidInput(
                    f"{raw}: larger than the {limit // (1024 * 1024)} MB limit "
                    "of an upload; import it with `segtrail campaign import`",
                    field="file",
                )
            out.write(chunk)
    if size == 0:
        raise InvalidInput(f"{raw}: the file is empty", field="file")
    return path


@router.post("/campaigns", dependencies=[Depends(csrf_protect)])
async def import_campaign(
    request: Request,
    file: UploadFile = File(...),
    name: str = Form(...),
    strategy: str = Form(...),
    control: str = Form(""),
    arms: str = Form(""),
    principal: Principal = Depends(current_principal),
    ws: Workspace = Depends(workspace_for),
) -> Response:
    """Import a campaign file; a bad file re-shows the form with the CLI's one-line message."""
    from starlette.concurrency import run_in_threadpool

    require_write(principal, None)
    form = {"name": name, "strategy": strategy, "control": control, "arms": arms}
    arm_list = [a.strip() for a in arms.split(",") if a.strip()] or None
    try:
        check_name(name.strip(), "campaign")
        with tempfile.TemporaryDirectory(prefix="segtrail-upload-") as folder:
            limit = request.app.state.max_upload_bytes
            path = await save_upload(file, Path(folder), limit)
            await run_in_threadpool(
                ws.campaign_import, path, name.strip(), strategy, control.strip() or None, arm_list
            )
    except SegtrailError as e:
        if e.http_status in (401, 403) or e.http_status >= 500:
            raise
        return _campaigns_page(request, ws, e.http_status, error=page_words(str(e)), form=form)
    return see_other(campaign_url(name.strip()))


@router.get("/campaigns/{name}", response_class=HTMLResponse)
def campaign_page(
    request: Request,
    name: str,
    by: str | None = None,
    vs_holdout: bool = False,
    _principal: Principal = Depends(current_principal),
    ws: Workspace = Depends(workspace_for),
) -> Response:
    check_name(name, "campaign")
    designs = [with_control_share(d) for d in ws.campaign_designs() if d["design"] == name]
    report, error = None, None
    try:
        report = ws.campaign_report(name, by or None, vs_holdout=vs_holdout)
    except NotFound:
        if not designs:
            raise
    except SegtrailError as e:
        if e.http_status in (401, 403) or e.http_status >= 500:
            raise
        error = page_words(str(e))
    rows = uplift_rows(report) if report else []
    return render(
        request,
        "campaign.html",
        title=f"Campaign {name}",
        nav="/campaigns",
        name=name,
        report=report,
        error=error,
        rows=rows,
        design=designs[0] if designs else None,
        versions=[e["version"] for e in ws.log()],
        by=by or "",
        vs_holdout=vs_holdout,
    )


@router.get("/campaigns/{name}/design.csv")
def design_download(
    name: str,
    _principal: Principal = Depends(current_principal),
    ws: Workspace = Depends(workspace_for),
) -> Response:
    """The recorded assignment of a design (customer_id, segment, group), as a CSV."""
    from segtrail.services.designs import design_assignment
    from segtrail.services.use import spreadsheet_safe

    check_name(name, "campaign")
    frame = design_assignment(ws, name)
    if frame is None:
        raise NotFound(f"no design {name!r}")
    return Response(
        spreadsheet_safe(frame).to_csv(index=False),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}-design.csv"'},
    )


@router.post("/campaigns/design", dependencies=[Depends(csrf_protect)])
def design_campaign(
    request: Request,
    name: str = Form(...),
    strategy: str = Form(...),
    control_share: float = Form(0.1),
    arms: str = Form(""),
    mde: str = Form(""),
    principal: Principal = Depends(current_principal),
    ws: Workspace = Depends(workspace_for),
) -> Response:
    """Design a campaign before sending: control drawn within each segment; the assignment
    is recorded and downloadable from the campaign's page."""
    require_write(principal, None)
    form = {"d_name": name, "d_strategy": strategy, "control_share": control_share}
    try:
        check_name(name.strip(), "campaign")
        try:
            detect = float(mde) / 100 if mde.strip() else None
        except ValueError:
            raise InvalidInput(
                f"invalid uplift to detect {mde!r}: a number of points, e.g. 1", field="mde"
            ) from None
        arm_list = [a.strip() for a in arms.split(",") if a.strip()] or None
        with tempfile.TemporaryDirectory(prefix="segtrail-design-") as folder:
            ws.campaign_design(
                name.strip(),
                strategy,
                control_share=control_share,
                arms=arm_list,
                mde=detect,
                out=Path(folder) / f"{name.strip()}.csv",
            )
    except SegtrailError as e:
        if e.http_status in (401, 403) or e.http_status >= 500:
            raise
        return _campaigns_page(
            request, ws, e.http_status, design_error=page_words(str(e)), form=form
        )
    return see_other(campaign_url(name.strip()))


@router.post("/campaigns/holdout", dependencies=[Depends(csrf_protect)])
def create_holdout(
    request: Request,
    share: float = Form(...),
    principal: Principal = Depends(current_principal),
    ws: Workspace = Depends(workspace_for),
) -> Response:
    require_write(principal, None)
    try:
        ws.holdout_create(share / 100)
    except SegtrailError as e:
        if e.http_status in (401, 403) or e.http_status >= 500:
            raise
        return _campaigns_page(request, ws, e.http_status, holdout_error=page_words(str(e)))
    return see_other("/campaigns#holdout")
