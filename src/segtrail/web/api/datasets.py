"""Datasets: list, show, and upload (the CLI's `ingest` of a file)."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from pydantic import BaseModel, Field

from segtrail.errors import InvalidInput
from segtrail.services.results import DatasetInfo, DatasetSummary, Retirement, TransactionsIngest
from segtrail.services.workspace import Workspace
from segtrail.web.api.common import (
    accepted,
    answer,
    lenses_on_dataset,
    require_admin,
    require_write,
    require_write_in,
    writer,
)
from segtrail.web.api.models import (
    ERROR_RESPONSES,
    ErrorResponse,
    JobAccepted,
    RetireBody,
    model_of,
)
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


def save_upload(file: UploadFile) -> tuple[Path, Path]:
    """The upload, under its own (checked) name in a fresh temporary folder."""
    file_name = safe_file_name(file.filename)
    folder = Path(tempfile.mkdtemp(prefix="segtrail-upload-"))
    path = folder / file_name
    try:
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, length=1024 * 1024)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder, path


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
    folder, path = save_upload(file)
    options = {"na": tuple(na or ()), "decimal": decimal or None, "sheet": sheet or None}
    pool = pool_of(request)

    def run(progress: Any = None) -> DatasetInfo:
        try:
            if progress is not None:
                progress(f"reading and checking {path.name}", None)
            with pool.session(principal.name) as ws:
                return ws.ingest(path, id, name or None, source_name=path.name, **options)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    if path.stat().st_size > JOB_ABOVE_BYTES:
        job_id = jobs_of(request).submit("ingest", run, author=principal.name)
        return accepted(request, job_id, "ingest")
    return answer(run(), status_code=201)


def as_of_moment(text: str | None) -> datetime | None:
    """`as_of` as the CLI's --as-of reads it: ISO 8601; a zoned time becomes UTC."""
    if text is None or not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"--as-of {text!r} is not a date or time (expected e.g. 2024-12-31 or "
            "2024-12-31T18:00)",
            field="as_of",
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


@router.post(
    "/datasets/transactions",
    status_code=201,
    response_model=model_of(TransactionsIngest),
    responses={
        202: {"model": JobAccepted, "description": "A big upload: imported as a job"},
        413: {"model": ErrorResponse, "description": "Larger than the server's upload limit"},
    },
)
def upload_transactions(
    request: Request,
    file: Annotated[UploadFile, File(description="Order lines: CSV, Parquet or Excel")],
    customer: Annotated[str, Form(description="The customer id column")],
    date: Annotated[str, Form(description="The order line's date/time column")],
    amount: Annotated[str, Form(description="A column, or e.g. Quantity*UnitPrice")],
    order: Annotated[str | None, Form(description="The order id column")] = None,
    category: Annotated[str | None, Form(description="A category column")] = None,
    as_of: Annotated[str | None, Form(description="e.g. 2024-12-31 (default: latest)")] = None,
    window: Annotated[int | None, Form(ge=1, description="Only the last DAYS days")] = None,
    name: Annotated[str | None, Form(description="Dataset name")] = None,
    principal: Any = Depends(writer),
) -> Any:
    """Order lines -> NAME-transactions and NAME, one row per customer, with the lineage
    (`segtrail ingest FILE --transactions ... --json`)."""
    from segtrail.engine.transactions import TransactionSpec

    require_write(principal, None)
    spec = TransactionSpec(
        customer=customer,
        date=date,
        amount=amount,
        order=order or None,
        category=category or None,
        as_of=as_of_moment(as_of),
        window_days=window,
    )
    folder, path = save_upload(file)
    pool = pool_of(request)

    def run(progress: Any = None) -> TransactionsIngest:
        try:
            if progress is not None:
                progress("reading order lines and deriving customers", None)
            with pool.session(principal.name) as ws:
                return ws.ingest_transactions(spec, path=path, name=name or None)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    if path.stat().st_size > JOB_ABOVE_BYTES:
        job_id = jobs_of(request).submit("ingest-transactions", run, author=principal.name)
        return accepted(request, job_id, "ingest-transactions")
    return answer(run(), status_code=201)


class SqlIngest(BaseModel):
    query: str = Field(description="A SELECT whose result is the customer table")
    url: str = Field(description="SQLAlchemy URL of the database to run it on")
    id: str = Field(description="The column that identifies a customer")
    name: str | None = None


@router.post("/datasets/sql", status_code=201, response_model=model_of(DatasetInfo))
def ingest_sql(
    body: SqlIngest, principal: Any = Depends(writer), ws: Workspace = Depends(workspace_for)
) -> Any:
    """A customer table from a SQL query (`segtrail ingest --sql QUERY --from URL --json`).
    Admins only: the server connects to the database named, with its own network access."""
    require_admin(principal)
    return answer(ws.ingest_sql(body.query, body.url, body.id, body.name), status_code=201)


@router.post("/datasets/{name}/retire", response_model=model_of(Retirement))
def retire_dataset(
    name: str,
    body: RetireBody | None = None,
    principal: Any = Depends(writer),
    ws: Workspace = Depends(workspace_for),
) -> Any:
    """Hide a dataset from the lists and refuse to segment it; its versions and what was
    built on them stay (`segtrail dataset retire --json`). Needs write access to every lens
    segmented from it."""
    require_write_in(principal, lenses_on_dataset(ws, name))
    return answer(ws.dataset_retire(name, body.reason if body else None))


@router.post("/datasets/{name}/restore", response_model=model_of(Retirement))
def restore_dataset(
    name: str, principal: Any = Depends(writer), ws: Workspace = Depends(workspace_for)
) -> Any:
    """Bring a retired dataset back (`segtrail dataset restore --json`); the same access as
    retiring it."""
    require_write_in(principal, lenses_on_dataset(ws, name))
    return answer(ws.dataset_restore(name))
