"""The database the migrations build, tested by what it refuses, on SQLite and on PostgreSQL:
every NOT NULL, foreign key, unique constraint, VARCHAR length (PostgreSQL) and append-only
guard that today's tables declare (the module-level tables of store/schema.py, which the
queries rely on) is enforced by the migrated database itself, and nothing else is. Each check
runs in a transaction that is rolled back, so one migrated database per backend serves them
all. tests/store/test_migrations.py covers upgrades of older workspaces."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Float,
    Integer,
    Table,
    UniqueConstraint,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError

from segtrail.store import schema
from segtrail.store.metadata import MetadataStore

TABLES = sorted(schema.metadata.tables)
HISTORY = {t.name for m in schema.migrations() for t in m.tables} - set(schema.MUTABLE_TABLES)

# What each released step is recorded as in schema_migrations (fixed once released: a
# workspace's record of its steps must read the same whichever release made it).
RELEASED = [
    (1, "workspace, events, objects, datasets"),
    (2, "segmentations and segment labels"),
    (3, "strategies and plans"),
    (4, "audiences, campaigns and exports"),
    (5, "append-only triggers on PostgreSQL"),
    (6, "campaign designs and the global holdout"),
    (7, "dataset lineage"),
    (8, "users, API tokens, lens grants and web sessions"),
    (9, "retired datasets and strategies"),
    (10, "64-bit sizes and row counts on PostgreSQL"),
    (11, "background jobs of the server; segment names indexed by version"),
]

# The step that created each table (fixed once released; schema_migrations is made before
# step 1, by the migrating code itself).
CREATED_BY = {
    "schema_migrations": 0,
    **dict.fromkeys(("events", "objects", "datasets"), 1),
    **dict.fromkeys(("segmentations", "segment_labels", "segment_tags", "segmentation_status"), 2),
    **dict.fromkeys(("strategies", "plan_states", "plan_entries"), 3),
    **dict.fromkeys(("audiences", "campaigns", "exports"), 4),
    **dict.fromkeys(("holdouts", "campaign_designs"), 6),
    "dataset_lineage": 7,
    **dict.fromkeys(
        (
            "users",
            "user_states",
            "user_passwords",
            "api_tokens",
            "token_revocations",
            "lens_grants",
            "web_sessions",
        ),
        8,
    ),
    "retirements": 9,
    "jobs": 11,
}

# Later steps that changed a table of an earlier one: step 5 guards the tables of steps 1-4
# on PostgreSQL, step 10 widens sizes and counts there, step 11 indexes segment names.
CHANGED_BY = {
    **{name: (5,) for name, version in CREATED_BY.items() if 1 <= version <= 4},
    **{name: (5, 10) for name in ("objects", "datasets", "campaigns", "exports")},
    "campaign_designs": (10,),
    "segment_labels": (5, 11),
}

REFUSALS = {  # what refused a statement: PostgreSQL's sqlstate or SQLite's message
    "not null": ("23502", "NOT NULL constraint failed"),
    "foreign key": ("23503", "FOREIGN KEY constraint failed"),
    "unique": ("23505", "UNIQUE constraint failed"),
}


@pytest.fixture(scope="module")
def store(databases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetadataStore]:
    """An empty, migrated metadata database on the backend under test."""
    url = databases.new() or f"sqlite:///{tmp_path_factory.mktemp('schema') / 'segtrail.db'}"
    made = MetadataStore(url)
    made.migrate()
    yield made
    made.dispose()


@pytest.fixture
def connection(store: MetadataStore) -> Iterator[Connection]:
    """A writer's transaction, rolled back at the end."""
    with store._writer.connect() as connection:
        outer = connection.begin()
        yield connection
        outer.rollback()


class Rows:
    """Valid rows of today's tables: every column gets a value of its type that no other
    row has (sizes beyond 32 bits where the column is BIGINT), and a foreign key a new row
    of the table it names (NULL where a table names itself)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.counter = itertools.count(1000)  # above the steps schema_migrations holds

    def values(self, table: Table) -> dict[str, Any]:
        out = {}
        for column in table.columns:
            if column is table.autoincrement_column:
                continue  # the database numbers it
            target = next(iter(column.foreign_keys), None)
            if target is None:
                out[column.name] = self.fresh(column)
            elif target.column.table is table:
                out[column.name] = None
            else:
                out[column.name] = self.insert(target.column.table)[target.column.name]
        return out

    def fresh(self, column: Column) -> Any:
        n = next(self.counter)
        kind = column.type
        if isinstance(kind, Boolean):
            return True
        if isinstance(kind, Float):
            return n + 0.5
        if isinstance(kind, BigInteger):
            return 5_000_000_000 + n
        if isinstance(kind, Integer):
            return n
        return f"v{n}"

    def insert(self, table: Table, **changes: Any) -> dict[str, Any]:
        values = {**self.values(table), **changes}
        result = self.connection.execute(table.insert().values(**values))
        if table.autoincrement_column is not None:
            values[table.autoincrement_column.name] = result.inserted_primary_key[0]
        return values


def _refusal(connection: Connection, statement: Any) -> str | None:
    """None if the database takes the statement (kept until the test's rollback), else what
    refused it."""
    try:
        with connection.begin_nested():
            connection.execute(statement)
    except DBAPIError as e:
        code, message = getattr(e.orig, "sqlstate", None), str(e.orig)
        if "append-only" in message:
            return "append-only"
        return next((k for k, (c, m) in REFUSALS.items() if code == c or m in message), message)
    return None


def _released(name: str) -> None:
    """Today's table `name` has the columns, in order, of the frozen copy that the step
    released with it creates, and the later steps that changed it are where they were
    released. Each test of one table starts here: building those steps (and only them) in
    the test also tells mutation testing which tests see each step's DDL."""
    version = CREATED_BY[name]
    if version == 0:
        return
    step = schema.migration(version)
    assert step.version == version
    (frozen,) = (t for t in step.tables if t.name == name)
    today = schema.metadata.tables[name]
    assert [c.name for c in frozen.columns] == [c.name for c in today.columns]
    for later in CHANGED_BY.get(name, ()):
        step = schema.migration(later)
        assert step.version == later and name not in {t.name for t in step.tables}


def _nowhere(column: Column) -> Any:
    """A value no row of the table a foreign key names has."""
    return 2_000_000_000 if isinstance(column.type, Integer) else "nowhere"


def _unique_sets(table: Table) -> list[tuple[str, ...]]:
    """The column sets today's table declares unique (its primary key included)."""
    declared = [tuple(c.name for c in table.primary_key.columns)]
    declared += [
        tuple(c.name for c in constraint.columns)
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint)
    ]
    declared += [(c.name,) for c in table.columns if c.unique]
    return sorted(set(declared))


@pytest.mark.parametrize("name", TABLES)
@pytest.mark.filterwarnings("ignore:Column .* is marked as a member of the primary key")
def test_not_null_and_foreign_keys_are_enforced_as_declared(
    store: MetadataStore, connection: Connection, name: str
) -> None:
    _released(name)
    table = schema.metadata.tables[name]
    rows = Rows(connection)
    rows.insert(table)  # a valid row is taken
    found, expected = {}, {}
    for column in table.columns:
        if column is table.autoincrement_column:
            continue
        # a row without the column: the database makes up no value (no default, no sequence)
        row = {c: v for c, v in rows.values(table).items() if c != column.name}
        found[f"{column.name} NULL"] = _refusal(connection, table.insert().values(**row))
        rowid = (
            store.dialect == "sqlite" and column.primary_key and isinstance(column.type, Integer)
        )
        # SQLite numbers an INTEGER PRIMARY KEY given NULL (schema_migrations.version)
        expected[f"{column.name} NULL"] = None if column.nullable or rowid else "not null"
        if column.foreign_keys:
            row = {**rows.values(table), column.name: _nowhere(column)}
            found[f"{column.name} dangling"] = _refusal(connection, table.insert().values(**row))
            expected[f"{column.name} dangling"] = "foreign key"
    assert found == expected


@pytest.mark.parametrize("name", TABLES)
def test_postgresql_enforces_the_declared_lengths(
    store: MetadataStore, connection: Connection, name: str
) -> None:
    """A text of a VARCHAR's length is taken and one character more refused (SQLite takes
    any length: segtrail checks what users type before it gets here). A foreign key column
    takes only what the column it names holds; its own length is checked first."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite does not enforce VARCHAR lengths")
    _released(name)
    table = schema.metadata.tables[name]
    rows = Rows(connection)
    found, expected = {}, {}
    for column in table.columns:
        length = getattr(column.type, "length", None)
        if length is None:
            continue
        sizes = {length: None, length + 1: "too long"}
        if column.foreign_keys:  # a made-up value of the full length would name no row
            del sizes[length]
        for size, verdict in sizes.items():
            row = rows.values(table)
            row[column.name] = row[column.name].ljust(size, "x")
            refused = _refusal(connection, table.insert().values(**row))
            found[(column.name, size)] = refused and (
                "too long" if "too long" in refused else refused
            )
            expected[(column.name, size)] = verdict
    assert found == expected


@pytest.mark.parametrize("name", TABLES)
def test_unique_constraints_are_enforced_as_declared(connection: Connection, name: str) -> None:
    _released(name)
    table = schema.metadata.tables[name]
    rows = Rows(connection)
    first = rows.insert(table)
    found = {}
    for columns in _unique_sets(table):
        copy = {**rows.values(table), **{c: first[c] for c in columns}}
        found[columns] = _refusal(connection, table.insert().values(**copy))
    assert found == dict.fromkeys(_unique_sets(table), "unique")
    # a row sharing every value that is not declared unique is taken
    keys = {c for columns in _unique_sets(table) for c in columns}
    shared = {c: v for c, v in first.items() if c not in keys}
    assert _refusal(connection, table.insert().values(**{**rows.values(table), **shared})) is None


PAIRS = [n for n in TABLES if any(len(c) > 1 for c in _unique_sets(schema.metadata.tables[n]))]


@pytest.mark.parametrize("name", PAIRS)
def test_a_unique_set_of_columns_binds_only_as_a_whole(connection: Connection, name: str) -> None:
    """A new version of a name, or a second name at the same version, is taken: only the
    whole set (name and version, say) is unique."""
    _released(name)
    table = schema.metadata.tables[name]
    rows = Rows(connection)
    first = rows.insert(table)
    found, expected = {}, {}
    for columns in (c for c in _unique_sets(table) if len(c) > 1):
        for other in columns:
            copy = {**rows.values(table), **{c: first[c] for c in columns if c != other}}
            found[columns, other] = _refusal(connection, table.insert().values(**copy))
            expected[columns, other] = None
    assert found == expected


# Every column today's tables declare BIGINT (sizes and counts, seeds): step 10 widened the
# older ones on PostgreSQL (SQLite's INTEGER is 64-bit).
WIDENED = [
    (t.name, c.name)
    for t in schema.metadata.sorted_tables
    for c in t.columns
    if isinstance(c.type, BigInteger)
]


def test_sizes_and_counts_beyond_32_bits_are_kept(connection: Connection) -> None:
    """A 3 GB file, a table of 3 billion rows, a 64-bit seed: stored and read back as is."""
    rows = Rows(connection)
    found = {}
    for name, column in WIDENED:
        _released(name)
        table = schema.metadata.tables[name]
        big = 3_000_000_000 + len(found)
        key = rows.insert(table, **{column: big})[table.primary_key.columns[0].name]
        query = select(table.c[column]).where(table.primary_key.columns[0] == key)
        found[name, column] = connection.execute(query).scalar_one() - big
    assert found == dict.fromkeys(WIDENED, 0)


@pytest.mark.parametrize("name", TABLES)
def test_history_tables_refuse_update_and_delete(
    store: MetadataStore, connection: Connection, name: str
) -> None:
    _released(name)
    table = schema.metadata.tables[name]
    Rows(connection).insert(table)  # the row triggers fire only when a row is hit
    column = next(c for c in table.columns if not c.primary_key)
    statements = {
        "update": table.update().values({column.name: column}),
        "delete": table.delete(),
    }
    if store.dialect == "postgresql":
        statements["truncate"] = text(f'TRUNCATE "{name}" CASCADE')  # skips the row triggers
    found = {verb: _refusal(connection, statement) for verb, statement in statements.items()}
    guarded = "append-only" if name in HISTORY else None
    assert found == dict.fromkeys(statements, guarded)


def test_each_step_creates_the_tables_released_with_it() -> None:
    created = {m.version: sorted(t.name for t in m.tables) for m in schema.migrations()}
    expected = {v: [] for v in range(1, schema.LATEST + 1)}
    for name, version in CREATED_BY.items():
        if version:
            expected[version].append(name)
    assert created == {v: sorted(names) for v, names in expected.items()}


def test_every_table_but_the_mutable_ones_is_history() -> None:
    assert set(TABLES) - HISTORY == {"schema_migrations", "web_sessions", "jobs"}


def test_each_step_is_recorded_under_its_released_name(store: MetadataStore) -> None:
    m = schema.schema_migrations
    with store.read() as connection:
        recorded = connection.execute(select(m.c.version, m.c.name).order_by(m.c.version)).all()
    assert [tuple(r) for r in recorded] == RELEASED
    assert [(s.version, s.name) for s in schema.migrations()] == RELEASED


def test_names_of_a_version_are_indexed(store: MetadataStore) -> None:
    assert schema.migration(11).name.endswith("; segment names indexed by version")
    with store.read() as connection:
        indexes = inspect(connection).get_indexes("segment_labels")
    assert {i["name"]: i["column_names"] for i in indexes} == {
        "segment_labels_by_version": ["segmentation_id", "segment", "id"]
    }


def test_a_first_step_that_failed_is_applied_on_the_next_try(
    tmp_path: Path, database_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recording migrations starts in a transaction of its own, before step 1: if step 1
    fails, the next attempt finds that table already there and goes on."""
    made = MetadataStore(database_url or f"sqlite:///{tmp_path / 'segtrail.db'}")
    first, *later = schema.migrations()

    def broken(connection: Connection) -> None:
        first.apply(connection)
        raise RuntimeError("power cut")

    steps = (schema.Migration(1, first.name, broken, first.tables), *later)
    monkeypatch.setattr(schema, "migrations", lambda: steps)
    with pytest.raises(RuntimeError, match="power cut"):
        made.migrate()
    monkeypatch.undo()
    try:
        assert made.schema_version() == 0
        assert made.migrate() == list(range(1, schema.LATEST + 1))
        assert made.schema_version() == schema.LATEST
    finally:
        made.dispose()


@pytest.mark.filterwarnings("ignore:Column .* is marked as a member of the primary key")
def test_a_database_migrated_here_records_steps_once_and_guards_history(
    tmp_path: Path, database_url: str | None
) -> None:
    """On a database migrated in this test (the one-per-module database above is migrated
    before its first test only): a step is recorded once, with a name and a time, under the
    number given; every history table has its guards, and they refuse."""
    made = MetadataStore(database_url or f"sqlite:///{tmp_path / 'segtrail.db'}")
    try:
        made.migrate()
        m = schema.schema_migrations
        row = {"version": 99, "name": "later", "applied_at": "2030-01-01"}
        with made._writer.connect() as connection, connection.begin():
            found = {
                "again": _refusal(connection, m.insert().values(**{**row, "version": 1})),
                **{
                    f"no {column}": _refusal(
                        connection,
                        m.insert().values(**{c: v for c, v in row.items() if c != column}),
                    )
                    for column in ("name", "applied_at", "version")
                },
            }
            if made.dialect == "postgresql":  # the declared lengths, to the character
                for column, length in (("name", 100), ("applied_at", 40)):
                    for size, n in ((length, 100), (length + 1, 101)):
                        long = {**row, "version": n + length, column: "x" * size}
                        found[f"{column} of {size}"] = _refusal(
                            connection, m.insert().values(**long)
                        )
            Rows(connection).insert(schema.events)
            found["delete"] = _refusal(connection, schema.events.delete())
            if made.dialect == "sqlite":
                query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            else:
                query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
            triggers = set(connection.execute(text(query)).scalars())
        # SQLite numbers an INTEGER PRIMARY KEY given none; PostgreSQL has no sequence here
        numbered = None if made.dialect == "sqlite" else "not null"
        assert found == {
            "again": "unique",
            "no name": "not null",
            "no applied_at": "not null",
            "no version": numbered,
            "delete": "append-only",
        } | (
            {
                "name of 100": None,
                "name of 101": "value too long for type character varying(100)",
                "applied_at of 40": None,
                "applied_at of 41": "value too long for type character varying(40)",
            }
            if made.dialect == "postgresql"
            else {}
        )
        verbs = ("update", "delete") + (("truncate",) if made.dialect == "postgresql" else ())
        assert triggers == {f"{t}_no_{verb}" for t in HISTORY for verb in verbs}
    finally:
        made.dispose()
