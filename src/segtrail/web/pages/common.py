"""What every page shares: rendering with the signed-in state, and small helpers.

The web layer (web/deps.py) puts the signed-in `Principal` and the web session (with its
CSRF token) on `request.state`; every page template needs both (the nav shows who is signed
in, every form carries the token), so pages render through `render`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse


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


def see_other(url: str) -> RedirectResponse:
    """After a form post, go to the page that shows the result (a reload does not re-post)."""
    return RedirectResponse(url, status_code=303)


def version_url(ref: str) -> str:
    """`/versions/marketing@3` (the ref quoted, so odd lens names stay one path segment)."""
    return "/versions/" + quote(ref, safe="@")


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"
