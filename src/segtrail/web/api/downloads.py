"""Files the server writes for a user (segment exports, audience exports with their
provenance, lookalike audiences, HTML reports), served back as downloads.

Each action writes into a fresh folder named by a random key (128 bits): the key in the URL is
what grants the download, like a signed link, and a signed-in user is needed as well. Keys
and file names are checked against the folder's listing, so no name can reach outside it."""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from segtrail.errors import NotFound
from segtrail.web.api.models import ERROR_RESPONSES
from segtrail.web.deps import current_principal

router = APIRouter(tags=["downloads"], responses=ERROR_RESPONSES)

KEY = re.compile(r"[0-9a-f]{32}")


class Downloads:
    """The folders of downloads under `root`. With `segtrail serve --workers N` every worker
    process is given the same `root` (made by the parent process), so a file written by the
    job of one worker is served by any of them; without a `root` the folder is this
    process's own temporary folder, removed on close."""

    def __init__(self, root: Path | None = None) -> None:
        self.owned = root is None
        self.root = Path(tempfile.mkdtemp(prefix="segtrail-downloads-")) if root is None else root
        self.root.mkdir(parents=True, exist_ok=True)

    def new_folder(self) -> tuple[str, Path]:
        key = secrets.token_hex(16)
        folder = self.root / key
        folder.mkdir()
        return key, folder

    def url(self, key: str, file: str | Path) -> str:
        return f"/api/v1/downloads/{key}/{Path(file).name}"

    def find(self, key: str, file: str) -> Path:
        """The file, only if `key` is a folder we made and `file` is a name listed in it."""
        if KEY.fullmatch(key):
            folder = self.root / key
            if folder.is_dir():
                listed = {p.name: p for p in folder.iterdir() if p.is_file()}
                if file in listed:
                    return listed[file]
        raise NotFound(f"no download {key}/{file} (downloads end when the server restarts)")

    def close(self) -> None:
        if self.owned:  # a shared root is the parent process's to remove
            shutil.rmtree(self.root, ignore_errors=True)


def downloads_of(request: Request) -> Downloads:
    return request.app.state.downloads


@router.get(
    "/downloads/{key}/{file}",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file"}},
)
def download(
    key: str, file: str, request: Request, principal: Any = Depends(current_principal)
) -> Any:
    """A file written by an export, a lookalike audience or a report."""
    path = downloads_of(request).find(key, file)
    return FileResponse(path, filename=path.name)
