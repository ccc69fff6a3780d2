"""The team server: a JSON API under /api/v1 and server-rendered pages, on the same services
as the CLI. `create_app(root)` builds the FastAPI application; `segtrail serve` runs it."""

from segtrail.web.app import create_app

__all__ = ["create_app"]
