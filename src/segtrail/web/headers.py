"""Security headers on every response of the server.

The pages load scripts only from the server's own files (htmx, plotly.js's basic bundle,
static/charts.js, which draws figures carried as JSON in `data-figure` attributes): no inline
script, no `javascript:` link, no eval (the basic bundle and htmx without `hx-on` need none),
so `script-src 'self'` holds. Styles allow inline ones: plotly sets styles as it draws and
a few bars are sized with a `style` attribute; style cannot run code. Nothing may frame the
pages (clickjacking on the forms), and nothing is fetched from elsewhere.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",  # plotly's "download as PNG" makes a data URL
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),  # frame-ancestors for browsers that predate it
)


class SecurityHeaders:
    """ASGI middleware adding HEADERS to every HTTP response (pages, API, static files),
    unless the response set one of them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in HEADERS if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
