"""Errors as answers: a `SegtrailError` becomes `{"error": {"kind", "message", "field"}}` with
its kind's HTTP status under /api/, and the page `error.html` elsewhere (a page asked for
without being signed in redirects to the sign-in page instead)."""

from __future__ import annotations

import html
import logging
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from segtrail.errors import SegtrailError
from segtrail.web.hints import page_words
from segtrail.web.limits import BodyTooLarge

log = logging.getLogger("segtrail.web")

# Starlette's own statuses (unknown route, wrong method, ...) in the words of our kinds.
_HTTP_KINDS = {
    400: "invalid_input",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "invalid_input",
    409: "conflict",
    413: "invalid_input",
    415: "invalid_input",
    422: "invalid_input",
}


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_body(kind: str, message: str, field: str | None = None) -> dict:
    return {"error": {"kind": kind, "message": message, "field": field}}


def error_response(
    request: Request, status: int, kind: str, message: str, field: str | None = None
) -> Response:
    if is_api(request):
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(error_body(kind, message, field), status_code=status, headers=headers)
    if status == 401 and request.method in ("GET", "HEAD"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/sign-in?next={quote(target, safe='')}", status_code=303)
    return _error_page(request, status, kind, page_words(message))


def _error_page(request: Request, status: int, kind: str, message: str) -> Response:
    from segtrail.web.deps import templates

    try:
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": status, "kind": kind, "message": message, "back": _back(request)},
            status_code=status,
        )
    except Exception:  # the pages' template is not there (yet): a minimal, escaped page
        text = html.escape(message)
        return HTMLResponse(
            f"<!doctype html><title>{status}</title><h1>{status}</h1><p>{text}</p>",
            status_code=status,
        )


def _back(request: Request) -> str | None:
    """The page the person came from, when it is one of ours (a link, not a script: the
    Content-Security-Policy allows no `javascript:` URL)."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc or not referer.path.startswith("/"):
        return None
    if referer.path == request.url.path:
        return None
    return referer.path + (f"?{referer.query}" if referer.query else "")


def form_page(request: Request) -> str:
    """The nearest page above a POST-only path: `/plans/x@1/map` -> `/plans/x@1`,
    `/versions/x@1/segments/0/name` -> `/versions/x@1`; the home page if none."""
    parts = request.url.path.rstrip("/").split("/")
    while len(parts) > 1:
        parts.pop()
        candidate = "/".join(parts) or "/"
        scope = {"type": "http", "path": candidate, "method": "GET", "root_path": ""}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            return candidate
    return "/"


def validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    """FastAPI's list of problems as one line naming the field, like the CLI's messages."""
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    field = loc[0] if loc else None
    where = ".".join(loc)
    message = first.get("msg", "invalid value")
    return (f"{where}: {message}" if where else message), field


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SegtrailError)
    async def _segtrail_error(request: Request, exc: SegtrailError) -> Response:
        return error_response(request, exc.http_status, exc.code, str(exc), exc.field)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        message, field = validation_message(exc)
        return error_response(request, 422, "invalid_input", message, field)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc.__cause__, BodyTooLarge):  # FastAPI wraps errors reading a form
            return await _too_large(request, exc.__cause__)
        if exc.status_code == 405 and request.method in ("GET", "HEAD") and not is_api(request):
            # a form's action URL reloaded or opened from the address bar (e.g. after a form
            # post that showed an error): go to the page the form is on, not a 405
            return RedirectResponse(form_page(request), status_code=303)
        kind = _HTTP_KINDS.get(exc.status_code, "invalid_input")
        response = error_response(request, exc.status_code, kind, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge) -> Response:
        response = error_response(request, 413, "invalid_input", str(exc))
        response.headers["Connection"] = "close"
        return response

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(
            request, 500, "internal", "internal error (a bug); see the server log"
        )
