"""The `segtrail` command line: parse, call one Workspace method, render."""

from __future__ import annotations

import errno
import logging
import os
import sys
import threading
import warnings

from segtrail.cli import small_pages as _small_pages  # noqa: F401  isort: skip (before numpy)

import typer

from segtrail.cli.app import app, close_workspaces
from segtrail.errors import SegtrailError

# Importing the command modules registers their commands on `app`.
from segtrail.cli import datasets as _datasets  # noqa: F401  isort: skip
from segtrail.cli import segments as _segments  # noqa: F401  isort: skip
from segtrail.cli import workspace as _workspace  # noqa: F401  isort: skip
from segtrail.cli import plans as _plans  # noqa: F401  isort: skip
from segtrail.cli import thread as _thread  # noqa: F401  isort: skip
from segtrail.cli import campaigns as _campaigns  # noqa: F401  isort: skip
from segtrail.cli import designs as _designs  # noqa: F401  isort: skip
from segtrail.cli import report as _report  # noqa: F401  isort: skip
from segtrail.cli import serve as _serve  # noqa: F401  isort: skip
from segtrail.cli import users as _users  # noqa: F401  isort: skip


def console() -> None:
    """The `segtrail` program (pyproject's script): ``main``, then the process ends at once.

    When a command is done (its output written, its workspace closed, every record
    committed), the interpreter's own teardown is all that is left: freeing each module and
    object of a run that imported scikit-learn, SciPy and faiss, which took 0.4-0.6 s of a
    1M-customer `segment` (bench_density). So the program flushes its output and leaves
    with ``os._exit``. It leaves the ordinary way when something may still need the
    teardown: a run that started Spark (PySpark stops its JVM at exit), a thread still
    running, or an exit that is not a plain code."""
    code: object = 0
    try:
        main()
    except SystemExit as e:
        code = 0 if e.code is None else e.code
    if not isinstance(code, int) or "pyspark" in sys.modules or threading.active_count() > 1:
        raise SystemExit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # a closed pipe (`| head`): nothing more to say
        pass
    logging.shutdown()
    os._exit(code)


def main() -> None:
    """Console entry point: bad input or usage exits 2 with one line on stderr."""
    # numpy warns ("overflow encountered", "invalid value") on infinite or huge values that
    # the command then refuses with its own one-line error, or handles; those warning lines
    # would come first and bury it.
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    failed = True
    try:
        _run()
        failed = False
    except SystemExit as e:
        failed = e.code not in (0, None)
        raise
    finally:
        close_workspaces(failed=failed)


def _run() -> None:
    try:
        # Without standalone mode, click returns the code of `raise typer.Exit(code)`.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:  # Ctrl-C: click turns KeyboardInterrupt into Abort
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except SegtrailError as e:
        hint = f" (see --{e.field.replace('_', '-')})" if e.field else ""
        sys.stderr.write(f"error: {e}{hint}\n")
        sys.exit(e.exit_code)
    except OSError as e:
        # A file or folder the user named cannot be used (/proc/x.csv, a full disk...).
        # Writes are atomic, so nothing half-made is left; say what and where in one line.
        sys.stderr.write(f"error: {_os_words(e)}\n")
        sys.exit(2)
    except Exception as e:
        if not _is_usage_error(e):
            raise
        if type(e).__name__ == "NoArgsIsHelpError":  # bare `segtrail` or a bare group
            sys.stdout.write(e.format_message() + "\n")
            sys.exit(0)
        # One line, like every other bad input: what is wrong and where to look.
        command = e.ctx.command_path if getattr(e, "ctx", None) else "segtrail"
        sys.stderr.write(f"error: {e.format_message()} (see `{command} --help`)\n")
        sys.exit(2)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)


def _os_words(e: OSError) -> str:
    if e.errno == errno.ENOSPC:
        return "no space left on the device; nothing was recorded"
    where = f": {e.filename}" if e.filename else ""
    return f"{e.strerror or type(e).__name__}{where}"


def _is_usage_error(e: Exception) -> bool:
    # Click's usage errors (Typer vendors click in recent releases, so match by shape).
    return hasattr(e, "format_message") and getattr(e, "exit_code", None) == 2
