"""The request body limit: an upload over the server's limit is refused with 413 and one
message, before it fills the disk. A declared Content-Length over the limit is answered at
once; a body sent without one is counted as it arrives and cut off at the limit."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the upload is larger than this server's limit of {limit_words(limit)}; "
            "split the file, or ask the admin to raise `segtrail serve --max-upload-mb`"
        )
        self.limit = limit


def limit_words(limit: int) -> str:
    mb = limit / (1024 * 1024)
    return f"{mb:g} MB" if mb >= 1 else f"{limit:,} bytes"


class BodyLimit:
    """ASGI middleware: bodies over `limit` bytes raise `BodyTooLarge` (answered 413)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await _refuse(scope, receive, send, BodyTooLarge(self.limit))
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counting_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, error: BodyTooLarge) -> None:
    from starlette.requests import Request

    from segtrail.web.errors import error_response

    response = error_response(Request(scope, receive), 413, "invalid_input", str(error))
    response.headers["Connection"] = "close"  # the rest of the body is not read
    await response(scope, receive, send)
