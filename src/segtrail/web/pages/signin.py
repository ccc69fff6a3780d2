"""Sign in with a password (a session cookie), sign out.

The session cookie is HttpOnly and SameSite=Lax; the CSRF token the session carries goes
into every form of every page (base.html). A failed sign-in says so without telling which of
name or password was wrong.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from segtrail.errors import Unauthenticated
from segtrail.web.pages.common import render, see_other

router = APIRouter(include_in_schema=False)

SESSION_COOKIE = "segtrail_session"


def _safe_next(target: str | None) -> str:
    """Only a path on this server: `next=https://elsewhere` must not send people away."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "signin.html", title="Sign in", next=_safe_next(next), name="")


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request,
    name: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),
) -> Response:
    from segtrail.services import access
    from segtrail.web.deps import SERVER_AUTHOR, pool_of

    try:
        # the sign-in event names the person signing in when the name is theirs
        with pool_of(request).session(name.strip() or SERVER_AUTHOR) as ws:
            session = access.sign_in(ws, name.strip(), password)
    except Unauthenticated:
        return render(
            request,
            "signin.html",
            status_code=401,
            title="Sign in",
            next=_safe_next(next),
            name=name,
            error="That name and password do not match a user of this workspace.",
        )
    response = see_other(_safe_next(next))
    response.set_cookie(
        SESSION_COOKIE,
        session.session_token,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/sign-out")
def sign_out(request: Request) -> Response:
    from segtrail.services import access
    from segtrail.web.deps import SERVER_AUTHOR, pool_of

    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with pool_of(request).session(SERVER_AUTHOR) as ws:
            access.sign_out(ws, token)
    response = see_other("/sign-in")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
