"""The JSON API under /api/v1: one endpoint per CLI action, answering what `--json` prints."""

from fastapi import APIRouter

from segtrail.web.api import (
    audiences,
    campaigns,
    datasets,
    downloads,
    plans,
    system,
    thread,
    users,
    versions,
    workspace,
)

api_router = APIRouter(prefix="/api/v1")
for _module in (
    system,
    datasets,
    versions,
    plans,
    thread,
    campaigns,
    audiences,
    workspace,
    users,
    downloads,
):
    api_router.include_router(_module.router)
