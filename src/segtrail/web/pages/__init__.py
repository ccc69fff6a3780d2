"""The server's pages (server-rendered Jinja2 with htmx), one router per area.

`PAGE_ROUTERS` is what `create_app` includes; a new page module adds its router here
(one line each).
"""

from __future__ import annotations

from fastapi import APIRouter

from segtrail.web.pages import (
    audiences,
    campaigns,
    datasets,
    events,
    home,
    plans,
    segment,
    signin,
    thread,
    versions,
)

PAGE_ROUTERS: list[APIRouter] = [
    signin.router,
    home.router,
    datasets.router,
    segment.router,
    versions.router,
    plans.router,
    *(thread.router, campaigns.router, audiences.router, events.router),  # pages2
]
