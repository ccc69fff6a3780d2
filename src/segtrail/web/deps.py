"""What a request needs, as FastAPI dependencies: who is asking (`current_principal`), a
workspace that records them as author (`workspace_for`), the CSRF check for cookie-signed
requests (`csrf_protect`), the job runner, and the page templates."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from segtrail.errors import Forbidden, Unauthenticated
from segtrail.services.workspace import Workspace
from segtrail.web.cache import StampedCache, VersionCache, history_stamp
from segtrail.web.jobs import JobRunner

if TYPE_CHECKING:
    from segtrail.services.access import Principal

SESSION_COOKIE = "segtrail_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SERVER_AUTHOR = "segtrail-server"

# Autoescape on for every template (user-written names, hypotheses, column names are HTML-inert).
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.autoescape = True


class WorkspacePool:
    """One open workspace (one SQLAlchemy engine and its connection pool) for the server's
    lifetime; each request gets `Workspace.for_author`: the signed-in user as author, and its
    own object store, so a failed request takes back only the objects *it* wrote."""

    def __init__(self, root: Path) -> None:
        self.base = Workspace.open(root, author=SERVER_AUTHOR)

    @property
    def root(self) -> Path:
        return self.base.root

    def workspace(self, author: str) -> Workspace:
        return self.base.for_author(author)

    @contextlib.contextmanager
    def session(self, author: str) -> Iterator[Workspace]:
        """A workspace for one action; if the action fails, the objects it wrote and did not
        record are removed (as the CLI does after a failed command)."""
        ws = self.workspace(author)
        try:
            yield ws
        except BaseException:
            with contextlib.suppress(Exception):
                ws.discard_unrecorded()
            raise

    def close(self) -> None:
        self.base.close()


def pool_of(request: Request) -> WorkspacePool:
    return request.app.state.pool


def versions_of(request: Request) -> VersionCache:
    """`versions_of(request).show(ws, ref)`: `ws.show(ref)`, cached while nothing changes."""
    return request.app.state.versions


def request_stamp(request: Request) -> int:
    """The history's stamp (newest event id), read once per request, before anything the
    request reads: a value computed afterwards is at least as new as this stamp, so filing it
    under the stamp is never stale (StampedCache)."""
    stamp = getattr(request.state, "stamp", None)
    if stamp is None:
        stamp = request.state.stamp = history_stamp(pool_of(request).base)
    return stamp


def principals_of(request: Request) -> StampedCache:
    return request.app.state.principals


def jobs_of(request: Request) -> JobRunner:
    return request.app.state.jobs


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def current_principal(request: Request) -> Principal:
    """The signed-in user: `Authorization: Bearer TOKEN`, else the session cookie.
    Raises `Unauthenticated` (401 on the API, a redirect to /sign-in on pages)."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    from segtrail.services import access

    pool = pool_of(request)
    token = bearer_token(request)
    if token is not None:
        # Every change to users, roles, grants and tokens records an event, so the principal
        # a token stands for is the same while the history's stamp is: cached under it (three
        # queries per request saved; a revoked token is refused from the next request on).
        # Keyed by the token's digest: the secret itself is not kept in memory.
        key = ("token", hashlib.sha256(token.encode()).hexdigest())
        principal = principals_of(request).get(
            key, request_stamp(request), lambda: access.authenticate_token(pool.base, token)
        )
        request.state.via = "token"
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise Unauthenticated("sign in first: send `Authorization: Bearer TOKEN`")
        session = access.session_principal(pool.base, cookie)
        principal = session.principal
        request.state.via = "session"
        request.state.session = session
    request.state.principal = principal
    return principal


def optional_principal(request: Request) -> Principal | None:
    """The signed-in user, or None (for pages anyone may see, such as the sign-in page)."""
    try:
        return current_principal(request)
    except Unauthenticated:
        return None


async def csrf_protect(request: Request, principal: Any = Depends(current_principal)) -> None:
    """A write signed by the session cookie must carry the session's CSRF token (form field
    `csrf_token` or header `X-CSRF-Token`); Bearer requests are exempt (no ambient
    credential a foreign page could borrow)."""
    if request.method in ("GET", "HEAD", "OPTIONS") or request.state.via == "token":
        return
    expected = request.state.session.csrf_token
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()  # cached by Starlette: the endpoint reads it again
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
    if not given or not secrets.compare_digest(given, expected):
        raise Forbidden("missing or wrong CSRF token: reload the page and try again")


async def workspace_for(
    request: Request, principal: Any = Depends(current_principal)
) -> AsyncIterator[Workspace]:
    """The workspace as the signed-in user: every event it records names them.

    Async although the endpoints using it are not: FastAPI runs a sync generator dependency
    in a worker thread twice (to enter and to leave), which on a busy server costs more
    than the dependency's own work (a copy of the open workspace, no I/O). Only a failed
    action's clean-up does I/O, and runs in a thread."""
    ws = pool_of(request).workspace(principal.name)
    try:
        yield ws
    except BaseException:
        # as WorkspacePool.session: the objects the failed action wrote and did not record
        with contextlib.suppress(Exception):
            await run_in_threadpool(ws.discard_unrecorded)
        raise
