"""Customer data: upload a table (CSV, Parquet, Excel), list datasets, one dataset's schema
and column summaries.

An upload is written to a private temporary folder under its own (sanitised) file name, so
the file's extension picks the reader and the name becomes the dataset's default name, exactly
as `segtrail ingest FILE` does; bad input shows the ingest's own message on the form.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from segtrail.errors import InvalidInput
from segtrail.report.words import column_summary
from segtrail.services.workspace import Workspace
from segtrail.web.deps import csrf_protect, current_principal, workspace_for
from segtrail.web.hints import page_words
from segtrail.web.pages.common import render, see_other
from segtrail.web.pages.retiring import control, landing, outcome_words, require_retire

router = APIRouter(include_in_schema=False)

FORMATS = (".csv", ".csv.gz", ".csv.zst", ".tsv", ".txt", ".parquet", ".xlsx", ".xlsm")
CHUNK = 1024 * 1024


def safe_filename(name: str | None) -> str:
    """The uploaded file's own name without any folder part or odd characters (a name like
    `../../etc/passwd` becomes `passwd`); refused when nothing usable is left."""
    base = Path((name or "").replace("\\", "/")).name
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip("._")
    if not base:
        raise InvalidInput("the uploaded file has no usable name", field="file")
    return base[:120]


def save_upload(upload: UploadFile, folder: Path) -> Path:
    """Copy the upload to `folder` (the server's body limit has already bounded its size)."""
    filename = safe_filename(upload.filename)
    if not filename.lower().endswith(FORMATS):
        raise InvalidInput(
            f"{filename}: not a customer table segtrail reads (CSV, Parquet or Excel .xlsx)",
            field="file",
        )
    target = folder / filename
    written = 0
    with target.open("wb") as out:
        while chunk := upload.file.read(CHUNK):
            written += len(chunk)
            out.write(chunk)
    if written == 0:
        raise InvalidInput(f"{filename} is empty", field="file")
    return target


def retired_datasets(request: Request, ws: Workspace) -> list[dict]:
    """Each retired dataset name once (its newest version), with its restore control."""
    principal = current_principal(request)
    newest: dict[str, object] = {}
    for d in ws.datasets(include_retired=True):
        if d.retired:
            newest[d.name] = d  # by name then version: the last one is the newest
    return [
        {"dataset": d, "control": control(principal, ws, "dataset", name, d.retired, "datasets")}
        for name, d in newest.items()
    ]


@router.get("/datasets", response_class=HTMLResponse)
def datasets_page(
    request: Request, retired: str = "", restored: str = "", ws: Workspace = Depends(workspace_for)
) -> HTMLResponse:
    everything = ws.datasets(include_retired=True)
    return render(
        request,
        "datasets.html",
        title="Customer data",
        nav="/datasets",
        datasets=[d for d in everything if not d.retired],
        retired_datasets=retired_datasets(request, ws),
        flash=outcome_words(
            "dataset",
            retired,
            restored,
            {d.name for d in everything},
            {d.name for d in everything if d.retired},
        ),
        form={},
    )


@router.post("/datasets", response_class=HTMLResponse, dependencies=[Depends(csrf_protect)])
def upload_dataset(
    request: Request,
    file: UploadFile = File(...),
    id_column: str = Form(""),
    name: str = Form(""),
    ws: Workspace = Depends(workspace_for),
) -> Response:
    from segtrail.services.access import require_write

    require_write(current_principal(request), None)  # datasets belong to no lens
    form = {"id_column": id_column, "name": name}
    folder = Path(tempfile.mkdtemp(prefix="segtrail-upload-"))
    try:
        if not id_column.strip():
            raise InvalidInput(
                "say which column identifies a customer (the id column)", field="id_column"
            )
        path = save_upload(file, folder)
        info = ws.ingest(path, id_column.strip(), name.strip() or None, source_name=path.name)
    except InvalidInput as error:
        return render(
            request,
            "datasets.html",
            status_code=422,
            title="Customer data",
            nav="/datasets",
            datasets=ws.datasets(),
            retired_datasets=retired_datasets(request, ws),
            form=form,
            error=page_words(str(error)),
            error_field=error.field,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    note = "unchanged" if info.get("unchanged") else "new"
    return see_other(f"/datasets/{info['dataset']}?uploaded={note}")


@router.get("/datasets/{ref}", response_class=HTMLResponse)
def dataset_page(
    request: Request,
    ref: str,
    uploaded: str = "",
    retired: str = "",
    restored: str = "",
    ws: Workspace = Depends(workspace_for),
) -> HTMLResponse:
    info = ws.dataset(ref, rows=5)
    versions = [d for d in ws.datasets(include_retired=True) if d.name == info["name"]]
    columns = [{**c, "words": column_summary(c["kind"], c["summary"])} for c in info["columns"]]
    flash = {
        "new": f"Uploaded as {info['dataset']}: {info['rows']:,} customers, "
        f"{len(columns)} columns.",
        "unchanged": f"Same content as {info['dataset']}: nothing new was recorded.",
    }.get(uploaded) or outcome_words(
        "dataset",
        retired,
        restored,
        {info["name"]},
        {info["name"]} if info.get("retired") else set(),
    )
    retire = control(
        current_principal(request), ws, "dataset", info["name"], info.get("retired"), "dataset"
    )
    return render(
        request,
        "dataset.html",
        title=info["dataset"],
        nav="/datasets",
        info=info,
        columns=columns,
        versions=versions,
        flash=flash,
        retire=retire,
    )


@router.post("/datasets/{name}/retire", dependencies=[Depends(csrf_protect)])
def retire_dataset(
    request: Request,
    name: str,
    reason: str = Form(""),
    back: str = Form(""),
    ws: Workspace = Depends(workspace_for),
) -> Response:
    """Retire every version of dataset `name` (the API's rule: write access in every lens
    segmented from it)."""
    require_retire(current_principal(request), ws, "dataset", name)
    ws.dataset_retire(name, reason.strip() or None)
    return see_other(landing("dataset", name, back, "retired"))


@router.post("/datasets/{name}/restore", dependencies=[Depends(csrf_protect)])
def restore_dataset(
    request: Request, name: str, back: str = Form(""), ws: Workspace = Depends(workspace_for)
) -> Response:
    require_retire(current_principal(request), ws, "dataset", name)
    ws.dataset_restore(name)
    return see_other(landing("dataset", name, back, "restored"))
