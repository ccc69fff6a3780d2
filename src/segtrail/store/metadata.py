"""The metadata database: SQLAlchemy Core over SQLite by default, any SQLAlchemy URL
(PostgreSQL for a team) by configuration. Services talk to it through `MetadataStore`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, insert, inspect, select

from segtrail.errors import SegtrailError
from segtrail.store import schema


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Python's sqlite3 opens a transaction only before INSERT/UPDATE/DELETE, so DDL would
    # autocommit statement by statement and a migration could half-apply. Turn that off and
    # emit BEGIN ourselves (`_sqlite_begin`): every transaction, DDL included, is atomic.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # FULL: a commit is on disk before we report success (crash safety over speed;
    # metadata writes are small).
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")


class MetadataStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)

    # --- schema ------------------------------------------------------------------------

    def schema_version(self) -> int:
        with self.engine.connect() as connection:
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
        with self.engine.begin() as connection:
            if current == 0:
                schema.schema_migrations.create(connection, checkfirst=True)
        for migration in schema.MIGRATIONS:
            if current < migration.version <= target:
                with self.engine.begin() as connection:
                    schema.apply_migration(connection, migration)
                    connection.execute(
                        insert(schema.schema_migrations).values(
                            version=migration.version, name=migration.name, applied_at=utc_now()
                        )
                    )
                applied.append(migration.version)
        return applied

    # --- access ------------------------------------------------------------------------

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            yield connection

    def fetch(self, query: Any) -> list[dict]:
        """Run a read query; rows as plain dicts."""
        with self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def record_event(
        self, connection: Connection, author: str, action: str, subject: str, details: dict
    ) -> int:
        """Every user action is an event row, written in the same transaction as its data."""
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

    def dispose(self) -> None:
        self.engine.dispose()
