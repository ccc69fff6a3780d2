"""Segmentation versions: show, log, name, tag, adopt, retire, segment and revisit (jobs)."""

from __future__ import annotations

import shutil
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from segtrail.errors import InvalidInput
from segtrail.services.results import (
    Assignment,
    Export,
    LogEntry,
    NameChange,
    StatusChange,
    TagChange,
    Version,
)
from segtrail.services.workspace import Workspace
from segtrail.web.api.common import accepted, answer, lens_of, require_write, writer
from segtrail.web.api.downloads import downloads_of
from segtrail.web.api.models import ERROR_RESPONSES, JobAccepted, model_of
from segtrail.web.deps import (
    current_principal,
    jobs_of,
    pool_of,
    request_stamp,
    versions_of,
    workspace_for,
)
from segtrail.web.jobs import WithLinks

router = APIRouter(tags=["versions"], responses=ERROR_RESPONSES)

# `segtrail show --json` leaves the per-segment profiles out (they are in `segments`).
VersionShown = model_of(Version, frozenset({"profiles"}))


def without_profiles(result: Version) -> dict:
    return {k: v for k, v in result.to_dict().items() if k != "profiles"}


@router.get("/versions", response_model=list[model_of(LogEntry)])
def list_versions(lens: str | None = None, ws: Workspace = Depends(workspace_for)) -> Any:
    """Every version (of one lens, or all), newest first (`segtrail log --json`)."""
    return answer(ws.log(lens))


@router.get("/versions/{ref}", response_model=VersionShown)
def show_version(ref: str, request: Request, ws: Workspace = Depends(workspace_for)) -> Any:
    """Everything about one version, `LENS@N` or `LENS` (`segtrail show --json`)."""
    cache = versions_of(request)
    stamp = request_stamp(request)

    def render() -> bytes:
        return answer(without_profiles(cache.show(ws, ref))).body

    return Response(cache.get(("api", ref), stamp, render), media_type="application/json")


class NameBody(BaseModel):
    name: str = Field(description="The segment's new name")
    description: str | None = Field(None, description="A description in plain words")


@router.post("/versions/{ref}/segments/{segment}/name", response_model=model_of(NameChange))
def name_segment(
    ref: str,
    segment: int,
    body: NameBody,
    principal: Any = Depends(writer),
    ws: Workspace = Depends(workspace_for),
) -> Any:
    """Name a segment (`segtrail name`); the old name stays in the history."""
    require_write(principal, lens_of(ref))
    return answer(ws.name(ref, segment, body.name, body.description))


class TagBody(BaseModel):
    key: str = Field(description="e.g. fit")
    value: str | None = Field(None, description="e.g. poor; null or empty removes the tag")


@router.post("/versions/{ref}/segments/{segment}/tag", response_model=model_of(TagChange))
def tag_segment(
    ref: str,
    segment: int,
    body: TagBody,
    principal: Any = Depends(writer),
    ws: Workspace = Depends(workspace_for),
) -> Any:
    """Set a tag such as fit=poor on a segment (`segtrail tag`)."""
    require_write(principal, lens_of(ref))
    value = body.value.strip() if body.value else None
    return answer(ws.tag(ref, segment, body.key, value or None))


@router.post("/versions/{ref}/adopt", response_model=model_of(StatusChange))
def adopt(
    ref: str, principal: Any = Depends(writer), ws: Workspace = Depends(workspace_for)
) -> Any:
    """Make this version its lens's adopted one (`segtrail adopt`)."""
    require_write(principal, lens_of(ref))
    return answer(ws.adopt(ref))


@router.post("/versions/{ref}/retire", response_model=model_of(StatusChange))
def retire(
    ref: str, principal: Any = Depends(writer), ws: Workspace = Depends(workspace_for)
) -> Any:
    """Retire a version: kept in the history, no longer in use (`segtrail retire`)."""
    require_write(principal, lens_of(ref))
    return answer(ws.retire(ref))


class SegmentBody(BaseModel):
    dataset: str = Field(description="NAME or NAME@N to cluster")
    lens: str = Field(description="The team's lens (marketing, product...)")
    hypothesis: str = Field(description="Why these features, what you expect to find")
    features: list[str] | None = None
    exclude: list[str] | None = None
    algorithm: str | None = Field(
        None, description="kmeans, lca, dbscan, ...; null or auto: segtrail chooses"
    )
    k: int | Literal["auto"] | None = None
    k_range: tuple[int, int] | None = None
    parent: str | None = None
    seed: int = 0
    weights: dict[str, float] | None = None
    params: dict[str, Any] | None = Field(
        None, description='The algorithm\'s other declared parameters, e.g. {"eps": 0.5}'
    )


def segment_options(body: SegmentBody) -> dict[str, Any]:
    """The options of `Workspace.segment`, checked as the CLI checks them: an algorithm's
    parameters against its declarations; with segtrail choosing, only k and its range."""
    from segtrail.services.segmentations import check_algorithm_params

    given = dict(body.params or {})
    for name in ("k", "k_range"):
        if getattr(body, name) is not None:
            given[name] = getattr(body, name)
    options: dict[str, Any] = {
        "features": body.features,
        "exclude": body.exclude,
        "algorithm": body.algorithm,
        "parent": body.parent,
        "seed": body.seed,
        "weights": body.weights,
    }
    if body.algorithm in (None, "auto"):
        k_options = {n: given.pop(n) for n in ("k", "k_range") if n in given}
        checked = check_algorithm_params("kmeans", k_options)
        if given:
            raise InvalidInput(
                f"parameter {next(iter(given))} belongs to a chosen algorithm: give the "
                "algorithm too, or leave it out and segtrail chooses",
                field="params",
            )
        options.update(k=checked.get("k"), k_range=checked.get("k_range"), params={})
    else:
        options["params"] = check_algorithm_params(body.algorithm, given)
    return options


@router.post("/segmentations", status_code=202, response_model=JobAccepted)
def segment(
    request: Request,
    body: SegmentBody,
    principal: Any = Depends(writer),
    ws: Workspace = Depends(workspace_for),
) -> Any:
    """Cluster a dataset as the lens's next version, as a job: 202 with the job to follow;
    the finished job's result is what `segtrail segment --json` prints."""
    from segtrail.services.datasets import resolve_dataset
    from segtrail.services.segmentations import resolve_segmentation

    require_write(principal, lens_of(body.lens))
    # What can be refused at once is refused here (422/404), not by a failed job later.
    if not body.hypothesis.strip():
        raise InvalidInput(
            "a hypothesis is required: say why these features, what you expect",
            field="hypothesis",
        )
    options = segment_options(body)
    resolve_dataset(ws, body.dataset)
    if body.parent:
        resolve_segmentation(ws, body.parent)
    pool = pool_of(request)

    def run(progress: Any) -> dict:
        with pool.session(principal.name) as job_ws:
            version = job_ws.segment(
                body.dataset, body.lens, body.hypothesis, progress=progress, **options
            )
            return without_profiles(version)

    job_id = jobs_of(request).submit("segment", run, author=principal.name)
    return accepted(request, job_id, "segment")


class RevisitBody(BaseModel):
    dataset: str | None = Field(None, description="Newer data (default: its dataset's newest)")
    hypothesis: str | None = Field(None, description="Override the hypothesis text")


@router.post("/versions/{ref}/revisit", status_code=202, response_model=JobAccepted)
def revisit(ref: str, request: Request, body: RevisitBody, principal: Any = Depends(writer)) -> Any:
    """Re-run the version's hypothesis on newer data as the lens's next version
    (`segtrail revisit --json`), as a job."""
    require_write(principal, lens_of(ref))
    pool = pool_of(request)

    def run(progress: Any) -> dict:
        with pool.session(principal.name) as job_ws:
            version = job_ws.revisit(
                ref, body.dataset, hypothesis=body.hypothesis, progress=progress
            )
            return without_profiles(version)

    job_id = jobs_of(request).submit("revisit", run, author=principal.name)
    return accepted(request, job_id, "revisit")


@router.post(
    "/versions/{ref}/export",
    status_code=201,
    response_model=model_of(Export),
    responses={201: {"headers": {"Location": {"description": "The file's download URL"}}}},
)
def export(
    ref: str,
    request: Request,
    format: Annotated[Literal["csv", "parquet"], Query()] = "csv",
    raw: bool = False,
    ws: Workspace = Depends(workspace_for),
) -> Any:
    """Every customer's segment of the version, as a file to download (`segtrail export`):
    the answer is the export's summary; `Location` is the file."""
    downloads = downloads_of(request)
    key, folder = downloads.new_folder()
    result = ws.export(ref, folder / f"{ref.replace('@', '-')}.{format}", raw=raw)
    response = answer(result, status_code=201)
    response.headers["Location"] = downloads.url(key, result["out"])
    return response


@router.post("/versions/{ref}/report", status_code=202, response_model=JobAccepted)
def report(
    ref: str,
    request: Request,
    diff: Annotated[str | None, Query(description="Report the move to this version")] = None,
    principal: Any = Depends(current_principal),
) -> Any:
    """The offline HTML report of the version (or of the move to `diff`), as a job; the
    finished job links the file (`segtrail report`)."""
    pool = pool_of(request)
    downloads = downloads_of(request)

    def run(progress: Any) -> WithLinks:
        key, folder = downloads.new_folder()
        with pool.session(principal.name) as ws:
            progress("writing the report", None)
            result = ws.report(ref, folder / f"{ref.replace('@', '-')}.html", diff)
        return WithLinks(result, {"report": downloads.url(key, result["out"])})

    job_id = jobs_of(request).submit("report", run, author=principal.name)
    return accepted(request, job_id, "report")


@router.post(
    "/versions/{ref}/assign",
    status_code=201,
    response_model=model_of(Assignment),
    responses={201: {"headers": {"Location": {"description": "The assignments file"}}}},
)
def assign(
    ref: str,
    request: Request,
    file: Annotated[UploadFile, File(description="New customers: CSV, Parquet or Excel")],
    format: Annotated[Literal["csv", "parquet"], Query()] = "csv",
    raw: bool = False,
    ws: Workspace = Depends(workspace_for),
) -> Any:
    """Put uploaded customers into the version's segments with its stored model
    (`segtrail assign --json`); `Location` is the file of assignments."""
    from segtrail.web.api.datasets import save_upload

    downloads = downloads_of(request)
    folder, path = save_upload(file)
    try:
        key, out_folder = downloads.new_folder()
        result = ws.assign(ref, path, out_folder / f"{path.stem}-segments.{format}", raw=raw)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    response = answer(result, status_code=201)
    response.headers["Location"] = downloads.url(key, result["out"])
    return response
