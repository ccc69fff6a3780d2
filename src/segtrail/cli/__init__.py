"""The `segtrail` command line: parse, call one Workspace method, render."""

from __future__ import annotations

import sys

from segtrail.cli.app import app
from segtrail.errors import SegtrailError

# Importing the command modules registers their commands on `app`.
from segtrail.cli import datasets as _datasets  # noqa: F401  isort: skip
from segtrail.cli import segments as _segments  # noqa: F401  isort: skip
from segtrail.cli import workspace as _workspace  # noqa: F401  isort: skip
from segtrail.cli import plans as _plans  # noqa: F401  isort: skip
from segtrail.cli import thread as _thread  # noqa: F401  isort: skip
from segtrail.cli import campaigns as _campaigns  # noqa: F401  isort: skip
from segtrail.cli import report as _report  # noqa: F401  isort: skip


def main() -> None:
    """Console entry point: bad input or usage exits 2 with one line on stderr."""
    try:
        app()
    except SegtrailError as e:
        sys.stderr.write(f"error: {e}\n")
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
