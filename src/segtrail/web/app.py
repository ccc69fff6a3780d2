"""The FastAPI application of `segtrail serve`: the JSON API under /api/v1, the pages (from
`segtrail.web.pages.PAGE_ROUTERS`, when present) and their static files."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from segtrail import __version__
from segtrail.web.api import api_router
from segtrail.web.api.downloads import Downloads
from segtrail.web.cache import StampedCache, VersionCache
from segtrail.web.deps import WorkspacePool
from segtrail.web.errors import install_error_handlers
from segtrail.web.headers import SecurityHeaders
from segtrail.web.jobs import JobRunner
from segtrail.web.limits import BodyLimit

STATIC = Path(__file__).parent / "static"
MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # an uploaded dataset larger than this is refused (413)


def create_app(
    workspace_root: Path,
    *,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    job_workers: int = 2,
    downloads_root: Path | None = None,
) -> FastAPI:
    """The server for the workspace at `workspace_root` (SQLite or PostgreSQL metadata, as
    its config says). The workspace is opened here, so a wrong folder fails at start-up.
    `downloads_root`: a folder shared by every worker process of one server (else this
    process's own temporary folder)."""
    pool = WorkspacePool(Path(workspace_root))
    jobs = JobRunner(pool.base, max_workers=job_workers)
    downloads = Downloads(downloads_root)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.shutdown(wait=False)
        pool.close()
        downloads.close()

    app = FastAPI(
        title="segtrail",
        version=__version__,
        description=(
            "The segtrail team server's JSON API. Every CLI action has an endpoint answering "
            "what its `--json` prints. Authenticate with `Authorization: Bearer TOKEN` "
            "(`segtrail user add` / `segtrail token create`)."
        ),
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # Swagger UI would load its scripts from a CDN: nothing from the internet
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.pool = pool
    app.state.jobs = jobs
    app.state.max_upload_bytes = max_upload_bytes
    app.state.downloads = downloads
    app.state.versions = VersionCache()
    app.state.principals = StampedCache(size=256)  # token -> Principal (web/deps.py)
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=max_upload_bytes)
    app.add_middleware(SecurityHeaders)  # outermost: error answers get the headers too
    app.include_router(api_router)
    for router in _page_routers():
        # Pages are HTML, not part of the API's contract: kept out of the OpenAPI schema.
        app.include_router(router, include_in_schema=False)
    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _page_routers() -> list:
    try:
        from segtrail.web.pages import PAGE_ROUTERS
    except ImportError:  # the pages are built beside the API; without them, the API alone
        return []
    return list(PAGE_ROUTERS)


# `segtrail serve --workers N` starts N uvicorn worker processes, each importing the app by
# name: the parent process passes the settings in these environment variables.
ENV_WORKSPACE = "SEGTRAIL_SERVE_WORKSPACE"
ENV_MAX_UPLOAD = "SEGTRAIL_SERVE_MAX_UPLOAD_BYTES"
ENV_JOB_WORKERS = "SEGTRAIL_SERVE_JOB_WORKERS"
ENV_DOWNLOADS = "SEGTRAIL_SERVE_DOWNLOADS"


def app_from_environment() -> FastAPI:
    """The app of one worker process of `segtrail serve --workers N` (a uvicorn factory)."""
    return create_app(
        Path(os.environ[ENV_WORKSPACE]),
        max_upload_bytes=int(os.environ[ENV_MAX_UPLOAD]),
        job_workers=int(os.environ[ENV_JOB_WORKERS]),
        downloads_root=Path(os.environ[ENV_DOWNLOADS]),
    )
