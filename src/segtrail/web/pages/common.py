"""What every page shares: rendering with the signed-in state, and small helpers.

The web layer (web/deps.py) puts the signed-in `Principal` and the web session (with its
CSRF token) on `request.state`; every page template needs both (the nav shows who is signed
in, every form carries the token), so pages render through `render`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import escape

from segtrail.web.cache import StampedCache


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The page `template` with the signed-in user, the CSRF token and `context`."""
    from segtrail.web.deps import templates  # the web layer's one Jinja2 environment

    state = request.state
    session = getattr(state, "session", None)  # set by current_principal for cookie sign-ins
    base = {
        "principal": getattr(state, "principal", None),
        "csrf_token": getattr(session, "csrf_token", "") or "",
    }
    return templates.TemplateResponse(
        request, template, {**base, **context}, status_code=status_code
    )


@dataclass(frozen=True)
class _StandIn:
    """Who a shared rendering is made for: markers replaced by each request's own values."""

    name: str
    role: str


# Random per process, so nothing a user writes on a page can spell a marker.
_MARK = secrets.token_hex(8)
_STAND_IN = _StandIn(name=f"user-{_MARK}", role=f"role-{_MARK}")
_CSRF_MARK = f"csrf-{_MARK}"
_shared = StampedCache(size=64)


def render_shared(
    request: Request,
    template: str,
    key: Hashable,
    stamp: int,
    context: Callable[[], dict[str, Any]],
) -> HTMLResponse:
    """`render(request, template, **context())`, with the HTML rendered once per `key` and
    history stamp and shared by every reader: the only parts of a page that differ between
    readers (the signed-in user's name and role in the navigation, the session's CSRF token
    in every form) are rendered as random markers and replaced per request by the values
    escaped as Jinja's autoescape would, so the page is the same as rendering it anew.
    Only for pages whose content does not depend on who reads them."""
    from segtrail.web.deps import templates

    def draw() -> str:
        return templates.get_template(template).render(
            {"request": request, "principal": _STAND_IN, "csrf_token": _CSRF_MARK, **context()}
        )

    html = _shared.get(key, stamp, draw)
    state = request.state
    principal = getattr(state, "principal", None)
    session = getattr(state, "session", None)
    html = (
        html.replace(_STAND_IN.name, str(escape(principal.name if principal else "")))
        .replace(_STAND_IN.role, str(escape(principal.role if principal else "")))
        .replace(_CSRF_MARK, str(escape(getattr(session, "csrf_token", "") or "")))
    )
    return HTMLResponse(html)


def see_other(url: str) -> RedirectResponse:
    """After a form post, go to the page that shows the result (a reload does not re-post)."""
    return RedirectResponse(url, status_code=303)


def version_url(ref: str) -> str:
    """`/versions/marketing@3` (the ref quoted, so odd lens names stay one path segment)."""
    return "/versions/" + quote(ref, safe="@")


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"
