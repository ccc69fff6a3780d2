"""A throwaway PostgreSQL server for one test session (one per pytest-xdist worker).

Debian's `postgresql` package puts `initdb` and `pg_ctl` in /usr/lib/postgresql/<ver>/bin,
off PATH. The server refuses to run as root, so as root it runs as the `postgres` user
(`runuser`), in a temporary folder that user owns; it listens on a unix socket in that
folder only (no TCP port to clash with anything else on the machine). Tests connect with
`postgresql+psycopg://postgres@/DBNAME?host=<folder>` and get one fresh database each.

The server is tuned for tests, not for crash safety (fsync off): the crash tests run on
SQLite, where the workspace's own file is what must survive.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

SUPERUSER = "postgres"

# Stops the server and removes its folder once the test process is gone, even if that
# process was killed (SIGKILL, a timeout) before its own clean-up could run.
WATCHDOG = """
import os, shutil, subprocess, sys, time
owner, folder, command = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
while True:
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        break
    time.sleep(1)
subprocess.run(command, capture_output=True, timeout=120)
shutil.rmtree(folder, ignore_errors=True)
"""


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can be started here; the message says why."""


def find_bindir() -> Path:
    """The folder holding initdb and pg_ctl: the newest /usr/lib/postgresql/<ver>/bin, else
    wherever PATH finds pg_ctl."""

    def version(path: str) -> tuple[int, ...]:
        match = re.search(r"/postgresql/([\d.]+)/bin", path)
        return tuple(int(p) for p in match.group(1).split(".")) if match else ()

    candidates = [
        Path(p).parent
        for p in sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=version, reverse=True)
    ]
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/pg_ctl and no "
        "pg_ctl on PATH); install Debian's `postgresql` package (`make test` does)"
    )


class PostgresServer:
    """A running server in its own temporary folder; `stop()` ends it and removes the folder."""

    def __init__(self, bindir: Path, folder: Path, as_user: str | None) -> None:
        self.bindir = bindir
        self.folder = folder  # also the socket directory
        self.data = folder / "data"
        self.log = folder / "server.log"
        self.as_user = as_user  # None: run as the current (non-root) user
        self.watchdog: subprocess.Popen | None = None

    # --- lifecycle -------------------------------------------------------------------

    @classmethod
    def start(cls) -> PostgresServer:
        bindir = find_bindir()
        as_user = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(SUPERUSER)
            except KeyError:
                raise PostgresUnavailable(
                    f"running as root and there is no {SUPERUSER!r} user to run the server as"
                ) from None
            as_user = SUPERUSER
        # Short path under /tmp: a unix socket path must stay under ~107 bytes.
        folder = Path(tempfile.mkdtemp(prefix="segtrail-pg-", dir="/tmp"))
        server = cls(bindir, folder, as_user)
        try:
            if as_user:
                shutil.chown(folder, user=as_user)
            folder.chmod(0o755)
            server._run(
                "initdb",
                "-D",
                str(server.data),
                "-A",
                "trust",
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--no-sync",
            )
            options = " ".join(
                [
                    f"-k {folder}",
                    "-c listen_addresses=''",
                    "-c fsync=off",
                    "-c synchronous_commit=off",
                    "-c full_page_writes=off",
                    # Module-scoped workspaces keep a pooled connection each, and the
                    # concurrency tests start tens of writers at once.
                    "-c max_connections=400",
                ]
            )
            server._run(
                "pg_ctl", "start", "-D", str(server.data), "-l", str(server.log), "-w",
                "-o", options,
            )  # fmt: skip
            stop = server._command("pg_ctl", "stop", "-D", str(server.data), "-m", "immediate")
            server.watchdog = subprocess.Popen(
                [sys.executable, "-c", WATCHDOG, str(os.getpid()), str(folder), *stop],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # not killed with the test process's group
            )
        except BaseException:
            server._remove()
            raise
        return server

    def stop(self) -> None:
        if self.watchdog is not None:
            self.watchdog.kill()
            self.watchdog.wait()
        try:
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")
        except PostgresUnavailable:
            pass  # already gone; still remove the folder
        finally:
            self._remove()

    def _remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(self.bindir / program), *args]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        return command

    def _run(self, program: str, *args: str) -> None:
        command = self._command(program, *args)
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=120, cwd=self.folder
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise PostgresUnavailable(f"{program} could not run: {e}") from None
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.is_file() else ""
            raise PostgresUnavailable(
                f"{program} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}\n{log}"
            )

    # --- databases -------------------------------------------------------------------

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.folder}"

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(
            host=str(self.folder), user=SUPERUSER, dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(statement)

    def create_database(self, template: str | None = None) -> str:
        """A new database, empty or a copy of the one behind `template` (a URL of this
        server, with no open connection); returns its SQLAlchemy URL."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        source = f' TEMPLATE "{_name_of(template)}"' if template else ""
        self._admin(f'CREATE DATABASE "{name}"{source}')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database behind `url`, even if a test left connections open."""
        self._admin(f'DROP DATABASE IF EXISTS "{_name_of(url)}" WITH (FORCE)')


def _name_of(url: str) -> str:
    from sqlalchemy.engine import make_url

    return str(make_url(url).database)  # not the last "/" part: the socket path has slashes
