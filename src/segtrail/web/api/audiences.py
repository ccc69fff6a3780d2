"""Lookalike audiences (as jobs), recorded audiences, and audience exports as downloads."""

from __future__ import annotations

import csv
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from segtrail.services.results import AudienceExport, AudienceSummary
from segtrail.services.workspace import Workspace
from segtrail.web.api.common import accepted, answer, require_write, writer
from segtrail.web.api.downloads import downloads_of
from segtrail.web.api.models import ERROR_RESPONSES, JobAccepted, model_of
from segtrail.web.deps import jobs_of, pool_of, workspace_for
from segtrail.web.jobs import WithLinks

router = APIRouter(tags=["audiences"], responses=ERROR_RESPONSES)


@router.get("/audiences", response_model=list[model_of(AudienceSummary)])
def list_audiences(ws: Workspace = Depends(workspace_for)) -> Any:
    """Every recorded audience (`segtrail audience list --json`)."""
    return answer(ws.audiences())


class SeedTop(BaseModel):
    column: str
    share: float = Field(gt=0, lt=1, description="e.g. 0.05: the top 5% of the column")


class LookalikeBody(BaseModel):
    pool: str = Field(description="Dataset NAME[@N] to rank")
    seed: str | None = Field(None, description="A segment as seed: LENS@N:SEGMENT")
    seed_ids: list[str] | None = Field(None, description="Seed customer ids")
    seed_top: SeedTop | None = Field(None, description="The best performers of a column")
    features: list[str] | None = None
    method: Literal["knn", "classifier", "centroid"] = "knn"
    size: int | float = Field(
        0.05, gt=0, description="Customers (a whole number) or a share of the pool (0 to 1)"
    )
    name: str | None = None
    exclude: str | None = Field(None, description="Dataset whose ids to leave out")
    include_holdout: bool = False
    raw: bool = False
    format: Literal["csv", "parquet"] = "csv"


@router.post("/lookalikes", status_code=202, response_model=JobAccepted)
def lookalike(request: Request, body: LookalikeBody, principal: Any = Depends(writer)) -> Any:
    """Rank a pool by similarity to a seed and record the best as an audience, as a job; the
    finished job's result is what `segtrail lookalike --json` prints, and `links.audience`
    the file."""
    require_write(principal, None)
    pool = pool_of(request)
    downloads = downloads_of(request)
    size: int | float = body.size
    if isinstance(size, float) and size.is_integer() and size > 1:
        size = int(size)

    def run(progress: Any) -> WithLinks:
        key, folder = downloads.new_folder()
        seed_file = None
        if body.seed_ids is not None:
            seed_file = folder.parent / f"{key}-seed.csv"
            with seed_file.open("w", newline="") as f:
                writer_ = csv.writer(f)
                writer_.writerow(["customer_id"])
                writer_.writerows([i] for i in body.seed_ids)
        top = (body.seed_top.column, body.seed_top.share) if body.seed_top else None
        progress(f"ranking {body.pool} by similarity to the seed ({body.method})", None)
        try:
            with pool.session(principal.name) as ws:
                result = ws.lookalike(
                    body.pool,
                    folder / f"{body.name or 'lookalike'}.{body.format}",
                    seed=body.seed,
                    seed_ids=seed_file,
                    seed_top=top,
                    features=body.features,
                    method=body.method,
                    size=size,
                    name=body.name,
                    exclude=body.exclude,
                    include_holdout=body.include_holdout,
                    raw=body.raw,
                )
        finally:
            if seed_file is not None:
                seed_file.unlink(missing_ok=True)
        return WithLinks(result, {"audience": downloads.url(key, result["out"])})

    job_id = jobs_of(request).submit("lookalike", run, author=principal.name)
    return accepted(request, job_id, "lookalike")


class ExportBody(BaseModel):
    target: str | None = Field(
        None, description="LENS@N:SEGMENT, LENS@N:S1,S2, or an audience name"
    )
    format: Literal["csv", "meta", "google"] = "csv"
    strategy: str | None = Field(
        None, description="A strategy's current segments, under its lens's adopted version"
    )
    include_holdout: bool = False
    raw: bool = False


@router.post(
    "/audience-exports",
    status_code=201,
    response_model=model_of(AudienceExport),
    responses={
        201: {
            "headers": {
                "Location": {"description": "The audience file"},
                "Link": {"description": "The provenance file (rel=describedby)"},
            }
        }
    },
)
def export_audience(
    request: Request,
    body: ExportBody,
    principal: Any = Depends(writer),
    ws: Workspace = Depends(workspace_for),
) -> Any:
    """Write an audience for an ad platform with its provenance file
    (`segtrail audience export --json`); `Location` downloads the file, `Link` the
    provenance."""
    require_write(principal, None)
    downloads = downloads_of(request)
    key, folder = downloads.new_folder()
    stem = (body.target or body.strategy or "audience").replace("@", "-").replace(":", "-")
    stem = stem.replace(",", "_")
    result = ws.audience_export(
        body.target,
        body.format,
        folder / f"{stem}-{body.format}.csv",
        raw=body.raw,
        strategy=body.strategy,
        include_holdout=body.include_holdout,
    )
    response = answer(result, status_code=201)
    response.headers["Location"] = downloads.url(key, result["out"])
    response.headers["Link"] = (
        f'<{downloads.url(key, result["provenance_file"])}>; rel="describedby"'
    )
    return response
