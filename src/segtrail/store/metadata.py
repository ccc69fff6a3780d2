"""The metadata database: SQLAlchemy Core over SQLite by default, PostgreSQL for a team.

The store owns its SQL. Services call typed methods grouped by what is recorded
(`store.datasets`, `store.segmentations`, `store.plans`, ...); each method that writes runs
in one transaction of its own, and conflicts between concurrent writers are settled here:

- On SQLite: WAL (readers never block the writer), a busy timeout, and `BEGIN IMMEDIATE`
  for writers, so concurrent writers wait their turn instead of failing with
  "database is locked".
- Version numbers ("max + 1") are allocated inside the writing transaction; when two
  writers still race (PostgreSQL runs them in parallel), the unique key refuses the loser,
  whose transaction is retried from the start (like MLflow's model-version allocation).
- A precondition that no longer holds on retry (a name taken meanwhile, a plan revision
  that moved) raises `Conflict`: nothing is ever reported as done and then missing.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, insert, inspect, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from segtrail.errors import Conflict, Damaged, InvalidInput, SegtrailError
from segtrail.store import schema

T = TypeVar("T")

BUSY_TIMEOUT_MS = 60_000  # a writer waits this long for another writer's transaction
WRITE_ATTEMPTS = 12  # a transaction that lost a race on a unique key is retried this often
WRITE_OPTION = "segtrail_write"
# PostgreSQL advisory lock key that orders event ids by commit (record_event); any fixed
# 64-bit number no other application on the database uses ("segtrail" in ASCII).
EVENT_ORDER_LOCK = 0x7365677472616C


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def dumps(data: Any) -> str:
    """JSON for a metadata column: sorted keys, numpy scalars as numbers."""
    return json.dumps(data, sort_keys=True, default=_json_default)


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def loads(text: str | None) -> Any:
    return json.loads(text) if text is not None else None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Python's sqlite3 opens a transaction only before INSERT/UPDATE/DELETE, so DDL would
    # autocommit statement by statement and a migration could half-apply. Turn that off and
    # emit BEGIN ourselves (`_sqlite_begin`): every transaction, DDL included, is atomic.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL: readers see the last commit while a writer works, and never block it.
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk before we report success (crash safety over speed;
    # metadata writes are small).
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # IMMEDIATE takes the write lock at BEGIN: a writer that must wait, waits here (busy
    # timeout) rather than failing later when a read lock cannot be upgraded.
    write = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _is_busy(error: DBAPIError) -> bool:
    text = str(error.orig).lower()
    return "database is locked" in text or "database is busy" in text


def _is_retryable(error: DBAPIError) -> bool:
    """Errors after which running the whole transaction again can succeed: a unique key
    taken by a concurrent writer (re-read and re-decide), a PostgreSQL serialization
    failure or deadlock. Not a refused trigger, a foreign key or a NOT NULL: those would
    fail the same way again."""
    code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    if code in ("23505", "40001", "40P01"):
        return True
    return isinstance(error, IntegrityError) and "UNIQUE constraint failed" in str(error.orig)


def _damaged(error: DBAPIError) -> bool:
    text = str(error.orig).lower()
    return any(
        s in text for s in ("file is not a database", "malformed", "disk image", "no such table")
    )


def with_driver(url: str) -> str:
    """`postgresql://` and `postgres://` (what psql, Heroku and most docs print) name no
    driver, and SQLAlchemy would then look for psycopg2, which segtrail does not install;
    point them at psycopg (3), the driver it does install. Other URLs pass unchanged."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url.removeprefix(plain)
    return url


def check_database_url(url: str) -> None:
    """Refuse a malformed URL or one whose driver is not installed, before anything is made."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        create_engine(with_driver(url)).dispose()
    except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as e:
        raise InvalidInput(f"cannot use --database-url {url!r}: {e}") from None


class MetadataStore:
    """One metadata database. Typed record groups hang off it (see the module doc)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(with_driver(url))
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        self._writer = self.engine.execution_options(**{WRITE_OPTION: True})
        # A read sees one snapshot: SQLite's WAL gives each BEGIN one; PostgreSQL's default
        # READ COMMITTED would let a read of several statements see a writer's commit halfway.
        self._reader = (
            self.engine.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            if self.dialect == "postgresql"
            else self.engine
        )
        # Imported here: the record modules import this one for `dumps`, `utc_now`, ...
        from segtrail.store.audit import Events, ObjectRegistry
        from segtrail.store.datasets import Datasets
        from segtrail.store.designs import Designs, Holdouts
        from segtrail.store.jobs import Jobs
        from segtrail.store.plans import Plans, Strategies
        from segtrail.store.retirements import Retirements
        from segtrail.store.segmentations import Annotations, Segmentations
        from segtrail.store.usage import Audiences, Campaigns, Exports
        from segtrail.store.users import Users

        self.events = Events(self)
        self.objects = ObjectRegistry(self)
        self.datasets = Datasets(self)
        self.segmentations = Segmentations(self)
        self.annotations = Annotations(self)
        self.strategies = Strategies(self)
        self.plans = Plans(self)
        self.campaigns = Campaigns(self)
        self.audiences = Audiences(self)
        self.exports = Exports(self)
        self.designs = Designs(self)
        self.holdouts = Holdouts(self)
        self.users = Users(self)
        self.retirements = Retirements(self)
        self.jobs = Jobs(self)

    # --- schema ------------------------------------------------------------------------

    def schema_version(self) -> int:
        with self._errors(), self.engine.connect() as connection:
            if not inspect(connection).has_table("schema_migrations"):
                return 0
            rows = connection.execute(select(schema.schema_migrations.c.version)).scalars()
            return max(rows, default=0)

    def migrate(self, target: int = schema.LATEST) -> list[int]:
        """Apply every migration above the current version up to `target`, each in its own
        transaction. Returns the versions applied."""
        current = self.schema_version()
        if current > schema.LATEST:
            raise SegtrailError(
                f"this workspace has schema {current}, newer than this segtrail "
                f"(schema {schema.LATEST}); upgrade segtrail"
            )
        applied = []
        with self._errors(), self._writer.begin() as connection:
            if current == 0:
                schema.create_migrations_table(connection)
        for migration in schema.migrations():
            if current < migration.version <= target:
                with self._errors(), self._writer.begin() as connection:
                    schema.apply_migration(connection, migration)
                    connection.execute(
                        insert(schema.schema_migrations).values(
                            version=migration.version, name=migration.name, applied_at=utc_now()
                        )
                    )
                applied.append(migration.version)
        return applied

    # --- transactions --------------------------------------------------------------------

    def write(self, work: Callable[[Connection], T], *, what: str = "this change") -> T:
        """Run `work` in one writing transaction, retried from the start when it lost a race
        on a unique key (see the module doc). `work` must only touch the database."""
        for attempt in range(WRITE_ATTEMPTS):
            try:
                with self._writer.begin() as connection:
                    return work(connection)
            except DBAPIError as e:
                if isinstance(e, OperationalError) and _is_busy(e):
                    raise Conflict(
                        f"the workspace database stayed busy for {BUSY_TIMEOUT_MS // 1000} s "
                        f"(another writer); {what} was not recorded, try again"
                    ) from None
                if not _is_retryable(e) or attempt == WRITE_ATTEMPTS - 1:
                    if _is_retryable(e):
                        raise Conflict(
                            f"{what} kept clashing with concurrent changes and was not "
                            "recorded; try again"
                        ) from None
                    self._raise_damaged(e)
                    raise
                time.sleep(random.uniform(0, 0.02 * (attempt + 1)))  # spread the retries
        raise AssertionError("unreachable")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One consistent read (a snapshot on both backends), read-only on PostgreSQL."""
        with self._errors(), self._reader.connect() as connection, connection.begin():
            yield connection

    def fetch(self, query: Any) -> list[dict[str, Any]]:
        """Run a read query; rows as plain dicts."""
        with self.read() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except DBAPIError as e:
            if isinstance(e, OperationalError) and _is_busy(e):
                raise Conflict(
                    "the workspace database is busy (another writer); try again"
                ) from None
            self._raise_damaged(e)
            raise

    def _raise_damaged(self, error: DBAPIError) -> None:
        """Turn what is not a bug into one line: a full disk, a value longer than its
        column (PostgreSQL enforces VARCHAR lengths), an unreachable server, a damaged
        database file."""
        text = str(error.orig).lower()
        if "disk is full" in text:
            raise SegtrailError("the disk is full; nothing was recorded") from None
        if "value too long" in text:
            raise InvalidInput(
                f"a value is too long to record: {str(error.orig).splitlines()[0]}"
            ) from None
        if (
            "connection" in text
            and isinstance(error, OperationalError)
            and self.dialect != "sqlite"
        ):
            raise SegtrailError(
                f"cannot reach the metadata database: {str(error.orig).splitlines()[0]}"
            ) from None
        if _damaged(error):
            first = str(error.orig).splitlines()[0] if str(error.orig) else type(error).__name__
            raise Damaged(
                f"the metadata database is damaged: {first}; run `segtrail fsck`"
            ) from None

    def record_event(
        self, connection: Connection, author: str, action: str, subject: str, details: dict
    ) -> int:
        """Every user action is an event row, written in the same transaction as its data.

        On PostgreSQL the writer first takes a transaction-scoped advisory lock (released at
        commit or rollback), so event ids are taken in commit order: a sequence hands out ids
        before commit, and two writers could otherwise commit ids 11 then 10, letting a
        reader see 11 while 10 is still to come; a page cached under "newest id 11" would
        then miss 10 for good. With the lock, "the newest id" is an exact stamp of the whole
        history (Events.newest_id). What it costs: writers that record events take turns
        from their first event to their commit, as SQLite's writers always do (measured in
        bench/RESULTS.md, server_load). Writes without an event (a job's progress, web
        sessions) do not take it."""
        if self.dialect == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({EVENT_ORDER_LOCK})")
        result = connection.execute(
            insert(schema.events).values(
                at=utc_now(),
                author=author,
                action=action,
                subject=subject,
                details=json.dumps(details, sort_keys=True, default=str),
            )
        )
        return int(result.inserted_primary_key[0])

    def integrity_problems(self) -> list[str]:
        """What the database itself reports wrong (SQLite's integrity and foreign-key
        checks; PostgreSQL enforces both on every write)."""
        if self.dialect != "sqlite":
            return []
        from sqlalchemy import text

        problems = []
        with self.read() as connection:
            result = connection.execute(text("PRAGMA integrity_check")).scalar()
            if result != "ok":
                problems.append(f"database integrity check failed: {result}")
            for row in connection.execute(text("PRAGMA foreign_key_check")):
                problems.append(f"table {row[0]} row {row[1]}: broken reference to {row[2]}")
        return problems

    def dispose(self) -> None:
        self.engine.dispose()
