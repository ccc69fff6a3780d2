"""The JSON API under /api/v1: one endpoint per CLI action, answering what `--json` prints."""

from fastapi import APIRouter

from segtrail.web.api import datasets, downloads, plans, system, versions

api_router = APIRouter(prefix="/api/v1")
for _module in (system, datasets, versions, plans, downloads):
    api_router.include_router(_module.router)
