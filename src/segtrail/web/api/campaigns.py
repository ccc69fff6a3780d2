"""Campaigns (import, list, report), campaign designs and the workspace holdout."""

from __future__ import annotations

import shutil
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from pydantic import BaseModel, Field

from segtrail.services.results import (
    CampaignDesign,
    CampaignImport,
    CampaignReport,
    CampaignSummary,
    Holdout,
)
from segtrail.services.workspace import Workspace
from segtrail.web.api.common import accepted, answer, require_write, writer
from segtrail.web.api.datasets import JOB_ABOVE_BYTES, save_upload
from segtrail.web.api.downloads import downloads_of
from segtrail.web.api.models import ERROR_RESPONSES, ErrorResponse, JobAccepted, model_of
from segtrail.web.deps import jobs_of, pool_of, workspace_for

router = APIRouter(tags=["campaigns"], responses=ERROR_RESPONSES)


@router.get("/campaigns", response_model=list[model_of(CampaignSummary)])
def list_campaigns(ws: Workspace = Depends(workspace_for)) -> Any:
    """Every imported campaign (`segtrail campaign list --json`)."""
    return answer(ws.campaigns())


def _arms(text: str | None) -> list[str] | None:
    items = [part.strip() for part in (text or "").split(",") if part.strip()]
    return items or None


@router.post(
    "/campaigns",
    status_code=201,
    response_model=model_of(CampaignImport),
    responses={
        202: {"model": JobAccepted, "description": "A big file: imported as a job"},
        413: {"model": ErrorResponse, "description": "Larger than the server's upload limit"},
    },
)
def import_campaign(
    request: Request,
    file: Annotated[UploadFile, File(description="Sends and responses (CSV)")],
    name: Annotated[str, Form(description="Campaign name")],
    strategy: Annotated[str, Form(description="The strategy the campaign carried out")],
    control: Annotated[str | None, Form(description="The arm that got nothing")] = None,
    arms: Annotated[str | None, Form(description="The other arms, comma-separated")] = None,
    principal: Any = Depends(writer),
) -> Any:
    """Record what was sent to whom and who responded (`segtrail campaign import --json`)."""
    require_write(principal, None)
    folder, path = save_upload(file)
    pool = pool_of(request)

    def run(progress: Any = None) -> CampaignImport:
        try:
            with pool.session(principal.name) as ws:
                return ws.campaign_import(path, name, strategy, control or None, _arms(arms))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    if path.stat().st_size > JOB_ABOVE_BYTES:
        job_id = jobs_of(request).submit("campaign-import", run, author=principal.name)
        return accepted(request, job_id, "campaign-import")
    return answer(run(), status_code=201)


@router.get("/campaigns/{name}/report", response_model=model_of(CampaignReport))
def campaign_report(
    name: str,
    by: Annotated[str | None, Query(description="Segments of this version (LENS@N)")] = None,
    vs_holdout: bool = False,
    ws: Workspace = Depends(workspace_for),
) -> Any:
    """Response per segment with intervals, uplift and tests
    (`segtrail campaign report --json`)."""
    return answer(ws.campaign_report(name, by, vs_holdout))


class DesignBody(BaseModel):
    name: str = Field(description="Campaign name (import its results under this name)")
    strategy: str
    by: str | None = None
    control_share: float = Field(0.1, gt=0, lt=1)
    arms: list[str] | None = None
    baseline_rate: float | None = None
    baseline_from: str | None = None
    mde: float | None = None
    alpha: float = 0.05
    power: float = 0.8
    seed: int | None = None
    dry_run: bool = False


@router.post(
    "/designs",
    status_code=201,
    response_model=model_of(CampaignDesign),
    responses={201: {"headers": {"Location": {"description": "The assignment file"}}}},
)
def design_campaign(
    request: Request,
    body: DesignBody,
    principal: Any = Depends(writer),
    ws: Workspace = Depends(workspace_for),
) -> Any:
    """Design a campaign before it is sent: control and arms per segment, power; unless a dry
    run, the assignment file is the `Location` (`segtrail campaign design --json`)."""
    require_write(principal, None)
    downloads = downloads_of(request)
    key, folder = downloads.new_folder()
    out = None if body.dry_run else folder / f"{body.name}-assignment.csv"
    options = body.model_dump(exclude={"name", "strategy"})
    result = ws.campaign_design(body.name, body.strategy, out=out, **options)
    response = answer(result, status_code=201)
    if out is not None and out.exists():
        response.headers["Location"] = downloads.url(key, out)
    return response


@router.get("/designs", response_model=list[model_of(CampaignDesign)])
def list_designs(name: str | None = None, ws: Workspace = Depends(workspace_for)) -> Any:
    """Recorded campaign designs, or the one named (`segtrail campaign designs --json`)."""
    return answer(ws.campaign_designs(name))


@router.get("/holdout", response_model=model_of(Holdout))
def show_holdout(ws: Workspace = Depends(workspace_for)) -> Any:
    """The workspace holdout (`segtrail holdout show --json`)."""
    return answer(ws.holdout_show())


class HoldoutBody(BaseModel):
    share: float = Field(gt=0, lt=1, description="Share of customers to hold out, e.g. 0.05")
    seed: int | None = None
    replace: bool = False


@router.post("/holdout", status_code=201, response_model=model_of(Holdout))
def create_holdout(
    body: HoldoutBody, principal: Any = Depends(writer), ws: Workspace = Depends(workspace_for)
) -> Any:
    """Record the workspace-wide holdout (`segtrail holdout create --json`)."""
    require_write(principal, None)
    return answer(ws.holdout_create(body.share, body.seed, body.replace), status_code=201)
