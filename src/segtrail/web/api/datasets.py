"""Datasets: list, show, and upload (the CLI's `ingest` of a file)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile

from segtrail.errors import InvalidInput
from segtrail.services.results import DatasetInfo, DatasetSummary
from segtrail.services.workspace import Workspace
from segtrail.web.api.common import accepted, answer, require_write, writer
from segtrail.web.api.models import ERROR_RESPONSES, ErrorResponse, JobAccepted, model_of
from segtrail.web.deps import jobs_of, pool_of, workspace_for

router = APIRouter(tags=["datasets"], responses=ERROR_RESPONSES)

# An upload above this size is imported as a background job (202) instead of in the request.
JOB_ABOVE_BYTES = 20 * 1024 * 1024
UPLOAD_SUFFIXES = (".csv", ".tsv", ".txt", ".gz", ".zst", ".parquet", ".pq", ".xlsx", ".xlsm")


@router.get("/datasets", response_model=list[model_of(DatasetSummary)])
def list_datasets(ws: Workspace = Depends(workspace_for)) -> Any:
    """Every dataset version, by name then version (`segtrail datasets --json`)."""
    return answer(ws.datasets())


@router.get("/datasets/{ref}", response_model=model_of(DatasetInfo))
def show_dataset(
    ref: str,
    rows: Annotated[int, Query(ge=0, le=1000, description="First rows to include")] = 0,
    ws: Workspace = Depends(workspace_for),
) -> Any:
    """Schema, row count and column summaries of `NAME` or `NAME@N`
    (`segtrail dataset show --json`)."""
    return answer(ws.dataset(ref, rows=rows))


def safe_file_name(name: str | None) -> str:
    """The uploaded file's own name, refused if it names a folder (`../x.csv`, `a/b.csv`):
    it is only ever used inside a fresh temporary folder, but a name that tries to climb
    out is refused rather than cleaned, so nobody wonders where it went."""
    if not name or not name.strip():
        raise InvalidInput("the upload has no file name", field="file")
    if any(c in name for c in "/\\\x00") or name.strip() in (".", "..") or ".." in Path(name).parts:
        raise InvalidInput(
            f"invalid file name {name!r}: give a plain file name, without folders", field="file"
        )
    if not name.lower().endswith(UPLOAD_SUFFIXES):
        raise InvalidInput(
            f"cannot read {name!r}: upload a CSV (may be .gz or .zst), Parquet or Excel file",
            field="file",
        )
    return name.strip()


@router.post(
    "/datasets",
    response_model=model_of(DatasetInfo),
    status_code=201,
    responses={
        202: {"model": JobAccepted, "description": "A big upload: imported as a job"},
        413: {"model": ErrorResponse, "description": "Larger than the server's upload limit"},
    },
)
def upload_dataset(
    request: Request,
    file: Annotated[UploadFile, File(description="CSV, Parquet or Excel")],
    id: Annotated[str, Form(description="The column that identifies a customer")],
    name: Annotated[str | None, Form(description="Dataset name (default: the file's stem)")] = None,
    na: Annotated[list[str] | None, Form(description="More missing-value markers")] = None,
    decimal: Annotated[str | None, Form(description="A CSV's decimal mark, . or ,")] = None,
    sheet: Annotated[str | None, Form(description="Excel sheet, by name or position")] = None,
    principal: Any = Depends(writer),
) -> Any:
    """Import an uploaded customer table as the next version of dataset NAME (`segtrail
    ingest FILE --id COLUMN --json`), with the same checks and messages."""
    require_write(principal, None)
    file_name = safe_file_name(file.filename)
    folder = Path(tempfile.mkdtemp(prefix="segtrail-upload-"))
    path = folder / file_name
    try:
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, length=1024 * 1024)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    options = {"na": tuple(na or ()), "decimal": decimal or None, "sheet": sheet or None}
    pool = pool_of(request)

    def run(progress: Any = None) -> DatasetInfo:
        try:
            if progress is not None:
                progress(f"reading and checking {file_name}", None)
            with pool.session(principal.name) as ws:
                return ws.ingest(path, id, name or None, **options)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    if path.stat().st_size > JOB_ABOVE_BYTES:
        job_id = jobs_of(request).submit("ingest", run, author=principal.name)
        return accepted(request, job_id, "ingest")
    return answer(run(), status_code=201)
