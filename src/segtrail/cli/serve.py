"""`segtrail serve`: the team server (JSON API and pages) on uvicorn."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import typer

from segtrail.cli.app import app, err_console, options
from segtrail.errors import InvalidInput


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and `localhost`: reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8765, "--port", help="Port to listen on.", min=1, max=65535),
    workspace: Path = typer.Option(
        None,
        "--workspace",
        help="Workspace to serve (default: the global --workspace, else the nearest one).",
        show_default=False,
    ),
    tls_certfile: Path = typer.Option(
        None, "--tls-certfile", help="TLS certificate (PEM) for HTTPS.", show_default=False
    ),
    tls_keyfile: Path = typer.Option(
        None, "--tls-keyfile", help="TLS private key (PEM) for HTTPS.", show_default=False
    ),
    workers: int = typer.Option(
        1,
        "--workers",
        help="Server processes answering on the port (use the cores; PostgreSQL recommended "
        "for more than one).",
        min=1,
        max=64,
    ),
    job_workers: int = typer.Option(
        2,
        "--job-workers",
        help="Background jobs run at once per server process (segment, lookalike, ...).",
        min=1,
    ),
    max_upload_mb: int = typer.Option(
        200, "--max-upload-mb", help="Largest dataset upload accepted, in MB.", min=1
    ),
) -> None:
    """Serve the workspace to a team: the JSON API under /api/v1 and the pages. Users and
    tokens: `segtrail user add`."""
    import uvicorn

    from segtrail.services.workspace import find_workspace
    from segtrail.web import create_app

    if (tls_certfile is None) != (tls_keyfile is None):
        raise InvalidInput("give both --tls-certfile and --tls-keyfile, or neither")
    root = workspace or options.workspace or find_workspace()
    if not is_loopback(host) and tls_certfile is None:
        err_console.print(
            f"warning: serving on {host} without TLS: passwords, tokens and session cookies "
            "cross the network in clear text; pass --tls-certfile and --tls-keyfile, or "
            "put a TLS proxy in front"
        )
    ssl = {
        "ssl_certfile": str(tls_certfile) if tls_certfile else None,
        "ssl_keyfile": str(tls_keyfile) if tls_keyfile else None,
    }
    scheme = "https" if tls_certfile else "http"
    max_upload_bytes = max_upload_mb * 1024 * 1024
    if workers == 1:
        application = create_app(
            Path(root), max_upload_bytes=max_upload_bytes, job_workers=job_workers
        )
        err_console.print(f"serving {application.state.pool.root} on {scheme}://{host}:{port}/")
        uvicorn.run(application, host=host, port=port, log_level="warning", **ssl)
        return
    _serve_workers(Path(root), host, port, workers, job_workers, max_upload_bytes, scheme, ssl)


def _serve_workers(
    root: Path,
    host: str,
    port: int,
    workers: int,
    job_workers: int,
    max_upload_bytes: int,
    scheme: str,
    ssl: dict,
) -> None:
    """N uvicorn worker processes on one port, each with its own app (`app_from_environment`):
    job states are in the workspace's database, downloads in one folder made here for all."""
    import os
    import shutil
    import tempfile

    import uvicorn

    from segtrail.services.workspace import Workspace
    from segtrail.web import app as web_app

    # Opened (and migrated) once here, before the workers start: a wrong folder fails now,
    # and N processes never race to apply the same schema step.
    with Workspace.open(root) as ws:
        root = ws.root
    downloads = Path(tempfile.mkdtemp(prefix="segtrail-downloads-"))
    os.environ[web_app.ENV_WORKSPACE] = str(root)
    os.environ[web_app.ENV_MAX_UPLOAD] = str(max_upload_bytes)
    os.environ[web_app.ENV_JOB_WORKERS] = str(job_workers)
    os.environ[web_app.ENV_DOWNLOADS] = str(downloads)
    err_console.print(f"serving {root} on {scheme}://{host}:{port}/ with {workers} workers")
    try:
        uvicorn.run(
            "segtrail.web.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            **ssl,
        )
    finally:
        shutil.rmtree(downloads, ignore_errors=True)
