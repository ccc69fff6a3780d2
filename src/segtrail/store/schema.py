"""Metadata tables (SQLAlchemy Core) and the versioned migrations that create them.

Every table is append-only in normal use: a rename, a status change or a plan change is a
new row, and the current view is derived by taking the latest row. Triggers refuse UPDATE and
DELETE outright (on SQLite and on PostgreSQL), so a bug cannot rewrite history either.

The module-level tables describe today's schema and are what queries use. Migrations are
numbered, fixed steps applied in order (`migrations()`, see "migrations" below): a step never
reads the module-level tables, so a workspace made by any older release migrates the same way.
A workspace records every applied migration in `schema_migrations`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(100), nullable=False),
    Column("applied_at", String(40), nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", String(40), nullable=False),  # ISO 8601, UTC
    Column("author", String(200), nullable=False),
    Column("action", String(60), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("details", Text, nullable=False),  # JSON
)

objects = Table(
    "objects",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("bytes", BigInteger, nullable=False),  # BIGINT since step 10 (files over 2 GiB)
    Column("created_at", String(40), nullable=False),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("object_hash", String(64), ForeignKey("objects.hash"), nullable=False),
    Column("id_column", String(300), nullable=False),
    Column("source", Text, nullable=False),
    Column("source_bytes", BigInteger, nullable=False),  # BIGINT since step 10
    Column("source_format", String(20), nullable=False),
    Column("rows", BigInteger, nullable=False),  # BIGINT since step 10
    Column("columns", Text, nullable=False),  # JSON: [{name, kind, type, summary}]
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    UniqueConstraint("name", "version"),
)

# --- schema 2: segmentations ---------------------------------------------------------------

segmentations = Table(
    "segmentations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("lens", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("parent_id", Integer, ForeignKey("segmentations.id")),
    Column("dataset_id", Integer, ForeignKey("datasets.id"), nullable=False),
    Column("hypothesis", Text, nullable=False),
    Column("algorithm", String(60), nullable=False),
    Column("params", Text, nullable=False),  # JSON: every parameter actually used
    Column("feature_spec", Text, nullable=False),  # JSON
    Column("seed", Integer, nullable=False),
    Column("k", Integer, nullable=False),
    Column("metrics", Text, nullable=False),  # JSON: quality, k curve, stability
    Column("profiles", Text, nullable=False),  # JSON
    Column("assignments_hash", String(64), ForeignKey("objects.hash"), nullable=False),
    Column("state_hash", String(64), ForeignKey("objects.hash"), nullable=False),
    Column("segtrail_version", String(40), nullable=False),
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    UniqueConstraint("lens", "version"),
)

# Names, descriptions, tags and statuses: one row per change; the latest row wins.
segment_labels = Table(
    "segment_labels",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("segmentation_id", Integer, ForeignKey("segmentations.id"), nullable=False),
    Column("segment", Integer, nullable=False),
    Column("name", String(300), nullable=False),
    Column("description", Text),
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
)

segment_tags = Table(
    "segment_tags",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("segmentation_id", Integer, ForeignKey("segmentations.id"), nullable=False),
    Column("segment", Integer, nullable=False),
    Column("key", String(200), nullable=False),
    Column("value", String(500)),  # NULL removes the tag
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
)

segmentation_status = Table(
    "segmentation_status",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("segmentation_id", Integer, ForeignKey("segmentations.id"), nullable=False),
    Column("status", String(20), nullable=False),  # draft | adopted | retired
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
)

# --- schema 3: strategies and plans --------------------------------------------------------

strategies = Table(
    "strategies",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("message", Text, nullable=False),
    Column("channels", Text, nullable=False),  # JSON list
    Column("offer", Text),
    Column("owner", String(200)),
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    UniqueConstraint("name", "revision"),
)

# Every plan change writes a whole new plan state (a snapshot of all entries), so any past
# state reads back exactly and the history is a simple list.
plan_states = Table(
    "plan_states",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("segmentation_id", Integer, ForeignKey("segmentations.id"), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("previous_id", Integer, ForeignKey("plan_states.id")),
    Column("carried_from_id", Integer, ForeignKey("plan_states.id")),
    Column("change", Text, nullable=False),  # plain sentence: what changed
    Column("diff", Text),  # JSON: the diff that justified a carry-forward
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    UniqueConstraint("segmentation_id", "revision"),
)

plan_entries = Table(
    "plan_entries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("plan_state_id", Integer, ForeignKey("plan_states.id"), nullable=False),
    Column("strategy", String(200), nullable=False),
    Column("segments", Text, nullable=False),  # JSON list of labels, or "all"
    Column("status", String(20), nullable=False),  # active | paused | not-viable | needs-review
    Column("rationale", Text),
    Column("carry", Text),  # JSON: how this entry was carried forward, if it was
)

# --- schema 4: audiences and campaigns -----------------------------------------------------

audiences = Table(
    "audiences",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("kind", String(40), nullable=False),  # lookalike | segment
    Column("dataset_id", Integer, ForeignKey("datasets.id"), nullable=False),
    Column("seed", Text, nullable=False),  # JSON: what the seed was
    Column("method", String(40), nullable=False),
    Column("params", Text, nullable=False),  # JSON
    Column("quality", Text, nullable=False),  # JSON
    Column("object_hash", String(64), ForeignKey("objects.hash"), nullable=False),
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("strategy", String(200), nullable=False),
    Column("source", Text, nullable=False),
    Column("rows", BigInteger, nullable=False),  # BIGINT since step 10
    Column("unknown_customers", BigInteger, nullable=False),  # BIGINT since step 10
    Column("summary", Text, nullable=False),  # JSON
    Column("object_hash", String(64), ForeignKey("objects.hash"), nullable=False),
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
)

exports = Table(
    "exports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("target", String(300), nullable=False),
    Column("format", String(20), nullable=False),
    Column("path", Text, nullable=False),
    Column("rows", BigInteger, nullable=False),  # BIGINT since step 10
    Column("sha256", String(64), nullable=False),
    Column("provenance", Text, nullable=False),  # JSON
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
)

# --- schema 6: campaign designs and the global holdout -------------------------------------

# A workspace-wide holdout is a rule (share and seed of a hash of each customer id), so it
# holds for customers imported later too; the latest row is the current holdout.
holdouts = Table(
    "holdouts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("share", Float, nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("method", Text, nullable=False),  # how membership is computed from the id
    Column("summary", Text, nullable=False),  # JSON: members per dataset when created
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
)

# A campaign designed before it is sent: the audience's assignment to arms and control,
# stratified by the segments of one version, and the power each segment has.
campaign_designs = Table(
    "campaign_designs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("strategy", String(200), nullable=False),
    Column("segmentation_id", Integer, ForeignKey("segmentations.id"), nullable=False),
    Column("groups", Text, nullable=False),  # JSON: [{group, share}], control first
    Column("control", String(200), nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("params", Text, nullable=False),  # JSON: alpha, power, mde, baseline
    Column("power", Text, nullable=False),  # JSON: per-segment sizes and power figures
    Column("holdout_id", Integer, ForeignKey("holdouts.id")),
    Column("customers", BigInteger, nullable=False),  # BIGINT since step 10
    Column("object_hash", String(64), ForeignKey("objects.hash"), nullable=False),
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
)

# --- schema 7: dataset lineage -------------------------------------------------------------

# Where a dataset came from when a file name does not say it all: the customer dataset
# derived from a transactions dataset (the spec and as-of time that derived it), or a SQL
# query (the query and the URL without its password). At most one row per dataset.
dataset_lineage = Table(
    "dataset_lineage",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id"), nullable=False, unique=True),
    Column("derived_from_id", Integer, ForeignKey("datasets.id")),
    Column("kind", String(40), nullable=False),  # transactions | sql
    Column("spec", Text, nullable=False),  # JSON
)

# --- schema 9: retired datasets and strategies ---------------------------------------------

# Retiring hides a dataset name (every version of it) or a strategy from lists and refuses
# new segmentations of it / new mappings of it; restoring undoes that. Each is a new row:
# the latest row per (kind, name) is the current state, and every past state stays.
retirements = Table(
    "retirements",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(20), nullable=False),  # dataset | strategy
    Column("name", String(200), nullable=False),
    Column("retired", Boolean, nullable=False),  # true: retired, false: restored
    Column("reason", Text),
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
)


# --- schema 8: users, API tokens, lens grants and web sessions (the team server) ----------
#
# Secrets are never stored: a token is kept as the SHA-256 of its random secret, a password
# as its argon2 hash, a web session as the SHA-256 of its cookie value. Users, their states,
# passwords, tokens and grants are history like everything else: disabling a user, revoking
# a token or changing a password is a new row; the latest row wins.

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
)

# The role and whether the user may sign in; one row per change, the latest is current.
user_states = Table(
    "user_states",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("role", String(20), nullable=False),  # viewer | analyst | admin
    Column("status", String(20), nullable=False),  # active | disabled
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
)

user_passwords = Table(
    "user_passwords",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("password_hash", Text, nullable=False),  # argon2id, with its own salt and cost
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_id", String(40), nullable=False, unique=True),  # public: shown, revoked by
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("secret_hash", String(64), nullable=False),  # SHA-256 hex of the secret
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
)

token_revocations = Table(
    "token_revocations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("api_token_id", Integer, ForeignKey("api_tokens.id"), nullable=False, unique=True),
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
)

# Which lenses an analyst writes in; the latest row per (user, lens) wins.
lens_grants = Table(
    "lens_grants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("lens", String(200), nullable=False),
    Column("state", String(20), nullable=False),  # granted | revoked
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
)

# Browser sign-ins: not history (a session ends, expired ones are removed), so this is the
# one table that takes DELETE. The CSRF token is derived from the session secret, never
# stored (see services/access.py).
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_hash", String(64), nullable=False, unique=True),  # SHA-256 hex
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
)

# Background jobs of `segtrail serve` (web/jobs.py): their state, progress and result, kept
# here rather than in one server process's memory, so every worker process of the server
# answers for every job. Not history: a job's row changes as it runs, and finished jobs are
# forgotten after a while (what a job did is recorded in the history by its own action).
jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),  # random hex, the id in /api/v1/jobs/{id}
    Column("kind", String(40), nullable=False),  # segment | revisit | lookalike | ...
    Column("author", String(200)),
    Column("state", String(20), nullable=False),  # queued | running | done | failed
    Column("message", Text, nullable=False),
    Column("fraction", Float),
    Column("result", Text),  # JSON, as the action's --json prints it
    Column("error", Text),  # JSON {"kind", "message", "field"}
    Column("links", Text, nullable=False),  # JSON {name: download URL}
    Column("owner", String(200), nullable=False),  # host:pid:start of the process running it
    Column("created_at", String(40), nullable=False),
    Column("beat_at", String(40), nullable=False),  # the owner's last sign of life
    Column("finished_at", String(40)),
)

# Tables that normal use may change or empty (no append-only triggers).
MUTABLE_TABLES = ("web_sessions", "jobs")


# --- migrations ----------------------------------------------------------------------------
#
# Each migration is a fixed step: the tables it creates are frozen copies declared inside its
# own function, with the columns they had when that step was released, never the module-level
# tables above (those describe today's schema, for queries, and will change). A later step
# that alters a table adds its own DDL; it cannot clash with an earlier step that would
# otherwise create the table as it looks today. Foreign keys to tables of earlier steps point
# at stubs (name and key column only) that are never created.


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]  # the step's fixed DDL, run in one transaction
    tables: tuple[Table, ...] = ()  # frozen copies of the tables the step creates


def _stub(frozen: MetaData, name: str, key: str, key_type: Any) -> Table:
    """A table of an earlier step, as far as a foreign key needs it; never created here."""
    return Table(name, frozen, Column(key, key_type, primary_key=True))


def _schema_migrations_table(frozen: MetaData) -> Table:
    return Table(
        "schema_migrations",
        frozen,
        Column("version", Integer, primary_key=True, autoincrement=False),
        Column("name", String(100), nullable=False),
        Column("applied_at", String(40), nullable=False),
    )


def create_migrations_table(connection: Connection) -> None:
    """Step 0: the table that records applied migrations (frozen, like every step)."""
    _schema_migrations_table(MetaData()).create(connection, checkfirst=True)


# --- append-only guards --------------------------------------------------------------------

_PG_GUARD_FUNCTION = """
CREATE OR REPLACE FUNCTION segtrail_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = TG_TABLE_NAME || ' is append-only',
        ERRCODE = 'restrict_violation';
END
$$
"""


def _sqlite_append_only(connection: Connection, names: tuple[str, ...]) -> None:
    if connection.dialect.name != "sqlite":
        return
    for name in names:
        for verb in ("UPDATE", "DELETE"):
            connection.execute(
                text(
                    f"CREATE TRIGGER {name}_no_{verb.lower()} BEFORE {verb} ON {name} "
                    f"BEGIN SELECT RAISE(ABORT, '{name} is append-only'); END"
                )
            )


def _postgresql_append_only(connection: Connection, names: tuple[str, ...]) -> None:
    """Row triggers refuse UPDATE and DELETE (as on SQLite, they fire only when a row is
    hit); a statement trigger refuses TRUNCATE, which would skip the row triggers."""
    if connection.dialect.name != "postgresql":
        return
    connection.execute(text(_PG_GUARD_FUNCTION))
    for name in names:
        for verb in ("UPDATE", "DELETE"):
            connection.execute(
                text(
                    f"CREATE TRIGGER {name}_no_{verb.lower()} BEFORE {verb} ON {name} "
                    "FOR EACH ROW EXECUTE FUNCTION segtrail_append_only()"
                )
            )
        connection.execute(
            text(
                f"CREATE TRIGGER {name}_no_truncate BEFORE TRUNCATE ON {name} "
                "FOR EACH STATEMENT EXECUTE FUNCTION segtrail_append_only()"
            )
        )


def append_only(connection: Connection, names: tuple[str, ...]) -> None:
    """Guard new history tables on whichever database this is: for steps after 5."""
    _sqlite_append_only(connection, names)
    _postgresql_append_only(connection, names)


def _create(connection: Connection, tables: tuple[Table, ...]) -> None:
    for table in tables:
        table.create(connection)


# --- the steps -----------------------------------------------------------------------------
# Steps 1-4 are exactly what releases up to schema 4 did: create the tables, and guard them
# with triggers on SQLite only (those releases had no PostgreSQL guard). Step 5 adds the
# PostgreSQL guard for every table of steps 1-4, so a PostgreSQL workspace made by an older
# release gets it by migrating, and a new one gets it the same way; from step 5 on, a step
# that creates a history table guards it on both databases in the same step (`append_only`).


def _step_1() -> Migration:
    frozen = MetaData()
    events_v1 = Table(
        "events",
        frozen,
        Column("id", Integer, primary_key=True),
        Column("at", String(40), nullable=False),
        Column("author", String(200), nullable=False),
        Column("action", String(60), nullable=False),
        Column("subject", String(300), nullable=False),
        Column("details", Text, nullable=False),
    )
    objects_v1 = Table(
        "objects",
        frozen,
        Column("hash", String(64), primary_key=True),
        Column("kind", String(40), nullable=False),
        Column("bytes", Integer, nullable=False),
        Column("created_at", String(40), nullable=False),
    )
    datasets_v1 = Table(
        "datasets",
        frozen,
        Column("id", Integer, primary_key=True),
        Column("name", String(200), nullable=False),
        Column("version", Integer, nullable=False),
        Column("object_hash", String(64), ForeignKey("objects.hash"), nullable=False),
        Column("id_column", String(300), nullable=False),
        Column("source", Text, nullable=False),
        Column("source_bytes", Integer, nullable=False),
        Column("source_format", String(20), nullable=False),
        Column("rows", Integer, nullable=False),
        Column("columns", Text, nullable=False),
        Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
        UniqueConstraint("name", "version"),
    )
    tables = (events_v1, objects_v1, datasets_v1)

    def apply(connection: Connection) -> None:
        _create(connection, tables)
        _sqlite_append_only(connection, tuple(t.name for t in tables))

    return Migration(1, "workspace, events, objects, datasets", apply, tables)


def _step_2() -> Migration:
    frozen = MetaData()
    _stub(frozen, "events", "id", Integer)
    _stub(frozen, "objects", "hash", String(64))
    _stub(frozen, "datasets", "id", Integer)
    segmentations_v2 = Table(
        "segmentations",
        frozen,
        Column("id", Integer, primary_key=True),
        Column("lens", String(200), nullable=False),
        Column("version", Integer, nullable=False),
        Column("parent_id", Integer, ForeignKey("segmentations.id")),
        Column("dataset_id", Integer, ForeignKey("datasets.id"), nullable=False),
        Column("hypothesis", Text, nullable=False),
        Column("algorithm", String(60), nullable=False),
        Column("params", Text, nullable=False),
        Column("feature_spec", Text, nullable=False),
        Column("seed", Integer, nullable=False),
        Column("k", Integer, nullable=False),
        Column("metrics", Text, nullable=False),
        Column("profiles", Text, nullable=False),
        Column("assignments_hash", String(64), ForeignKey("objects.hash"), nullable=False),
        Column("state_hash", String(64), ForeignKey("objects.hash"), nullable=False),
        Column("segtrail_version", String(40), nullable=False),
        Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
        UniqueConstraint("lens", "version"),
    )
    segment_labels_v2 = Table(
        "segment_labels",
        frozen,
        Column("id", Integer, primary_key=True),
        Column("segmentation_id", Integer, ForeignKey("segmentations.id"), nullable=False),
        Column("segment", Integer, nullable=False),
        Column("name", String(300), nullable=False),
        Column("description", Text),
        Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    )
    segment_tags_v2 = Table(
        "segment_tags",
        frozen,
        Column("id", Integer, primary_key=True),
        Column("segmentation_id", Integer, ForeignKey("segmentations.id"), nullable=False),
        Column("segment", Integer, nullable=False),
        Column("key", String(200), nullable=False),
        Column("value", String(500)),
        Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    )
    segmentation_status_v2 = Table(
        "segmentation_status",
        frozen,
        Column("id", Integer, primary_key=True),
        Column("segmentation_id", Integer, ForeignKey("segmentations.id"), nullable=False),
        Column("status", String(20), nullable=False),
        Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    )
    tables = (segmentations_v2, segment_labels_v2, segment_tags_v2, segmentation_status_v2)

    def apply(connection: Connection) -> None:
        _create(connection, tables)
        _sqlite_append_only(connection, tuple(t.name for t in tables))

    return Migration(2, "segmentations and segment labels", apply, tables)


def _step_3() -> Migration:
    frozen = MetaData()
    _stub(frozen, "events", "id", Integer)
    _stub(frozen, "segmentations", "id", Integer)
    strategies_v3 = Table(
        "strategies",
        frozen,
        Column("id", Integer, primary_key=True),
        Column("name", String(200), nullable=False),
        Column("revision", Integer, nullable=False),
        Column("message", Text, nullable=False),
        Column("channels", Text, nullable=False),
        Column("offer", Text),
        Column("owner", String(200)),
        Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
        UniqueConstraint("name", "revision"),
    )
    plan_states_v3 = Table(
        "plan_states",
        frozen,
        Column("id", Integer, primary_key=True),
        Column("segmentation_id", Integer, ForeignKey("segmentations.id"), nullable=False),
        Column("revision", Integer, nullable=False),
        Column("previous_id", Integer, ForeignKey("plan_states.id")),
        Column("carried_from_id", Integer, ForeignKey("plan_states.id")),
        Column("change", Text, nullable=False),
        Column("diff", Text),
        Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
        UniqueConstraint("segmentation_id", "revision"),
    )
    plan_entries_v3 = Table(
        "plan_entries",
        frozen,
        Column("id", Integer, primary_key=True),
        Column("plan_state_id", Integer, ForeignKey("plan_states.id"), nullable=False),
        Column("strategy", String(200), nullable=False),
        Column("segments", Text, nullable=False),
        Column("status", String(20), nullable=False),
        Column("rationale", Text),
        Column("carry", Text),
    )
    tables = (strategies_v3, plan_states_v3, plan_entries_v3)

    def apply(connection: Connection) -> None:
        _create(connection, tables)
        _sqlite_append_only(connection, tuple(t.name for t in tables))

    return Migration(3, "strategies and plans", apply, tables)


def _step_4() -> Migration:
    frozen = MetaData()
    _stub(frozen, "events", "id", Integer)
    _stub(frozen, "objects", "hash", String(64))
    _stub(frozen, "datasets", "id", Integer)
    audiences_v4 = Table(
        "audiences",
        frozen,
        Column("id", Integer, primary_key=True),
        Column("name", String(200), nullable=False, unique=True),
        Column("kind", String(40), nullable=False),
        Column("dataset_id", Integer, ForeignKey("datasets.id"), nullable=False),
        Column("seed", Text, nullable=False),
        Column("method", String(40), nullable=False),
        Column("params", Text, nullable=False),
        Column("quality", Text, nullable=False),
        Column("object_hash", String(64), ForeignKey("objects.hash"), nullable=False),
        Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    )
    campaigns_v4 = Table(
        "campaigns",
        frozen,
        Column("id", Integer, primary_key=True),
        Column("name", String(200), nullable=False, unique=True),
        Column("strategy", String(200), nullable=False),
        Column("source", Text, nullable=False),
        Column("rows", Integer, nullable=False),
        Column("unknown_customers", Integer, nullable=False),
        Column("summary", Text, nullable=False),
        Column("object_hash", String(64), ForeignKey("objects.hash"), nullable=False),
        Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    )
    exports_v4 = Table(
        "exports",
        frozen,
        Column("id", Integer, primary_key=True),
        Column("target", String(300), nullable=False),
        Column("format", String(20), nullable=False),
        Column("path", Text, nullable=False),
        Column("rows", Integer, nullable=False),
        Column("sha256", String(64), nullable=False),
        Column("provenance", Text, nullable=False),
        Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    )
    tables = (audiences_v4, campaigns_v4, exports_v4)

    def apply(connection: Connection) -> None:
        _create(connection, tables)
        _sqlite_append_only(connection, tuple(t.name for t in tables))

    return Migration(4, "audiences, campaigns and exports", apply, tables)


# Every history table of steps 1-4, by name (fixed: not derived from today's tables).
_HISTORY_1_TO_4 = (
    "events",
    "objects",
    "datasets",
    "segmentations",
    "segment_labels",
    "segment_tags",
    "segmentation_status",
    "strategies",
    "plan_states",
    "plan_entries",
    "audiences",
    "campaigns",
    "exports",
)


def _step_5() -> Migration:
    def apply(connection: Connection) -> None:
        # SQLite has had these triggers since steps 1-4; this step is recorded there too so
        # every workspace has the same numbered history.
        _postgresql_append_only(connection, _HISTORY_1_TO_4)

    return Migration(5, "append-only triggers on PostgreSQL", apply)


def _step_6() -> Migration:
    frozen = MetaData()
    for name, key, key_type in (
        ("events", "id", Integer),
        ("objects", "hash", String(64)),
        ("segmentations", "id", Integer),
    ):
        _stub(frozen, name, key, key_type)
    holdouts_v6 = Table(
        "holdouts",
        frozen,
        Column("id", Integer, primary_key=True),
        Column("share", Float, nullable=False),
        Column("seed", BigInteger, nullable=False),
        Column("method", Text, nullable=False),
        Column("summary", Text, nullable=False),
        Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    )
    designs_v6 = Table(
        "campaign_designs",
        frozen,
        Column("id", Integer, primary_key=True),
        Column("name", String(200), nullable=False, unique=True),
        Column("strategy", String(200), nullable=False),
        Column("segmentation_id", Integer, ForeignKey("segmentations.id"), nullable=False),
        Column("groups", Text, nullable=False),
        Column("control", String(200), nullable=False),
        Column("seed", BigInteger, nullable=False),
        Column("params", Text, nullable=False),
        Column("power", Text, nullable=False),
        Column("holdout_id", Integer, ForeignKey("holdouts.id")),
        Column("customers", Integer, nullable=False),
        Column("object_hash", String(64), ForeignKey("objects.hash"), nullable=False),
        Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    )
    tables = (holdouts_v6, designs_v6)

    def apply(connection: Connection) -> None:
        _create(connection, tables)
        append_only(connection, tuple(t.name for t in tables))

    return Migration(6, "campaign designs and the global holdout", apply, tables)


def _step_7() -> Migration:
    frozen = MetaData()
    _stub(frozen, "datasets", "id", Integer)
    lineage_v7 = Table(
        "dataset_lineage",
        frozen,
        Column("id", Integer, primary_key=True),
        Column("dataset_id", Integer, ForeignKey("datasets.id"), nullable=False, unique=True),
        Column("derived_from_id", Integer, ForeignKey("datasets.id")),
        Column("kind", String(40), nullable=False),
        Column("spec", Text, nullable=False),
    )

    def apply(connection: Connection) -> None:
        _create(connection, (lineage_v7,))
        append_only(connection, ("dataset_lineage",))

    return Migration(7, "dataset lineage", apply, (lineage_v7,))


def _step_8() -> Migration:
    frozen = MetaData()
    _stub(frozen, "events", "id", Integer)
    users_v8 = Table(
        "users",
        frozen,
        Column("id", Integer, primary_key=True),
        Column("name", String(200), nullable=False, unique=True),
        Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    )
    user_states_v8 = Table(
        "user_states",
        frozen,
        Column("id", Integer, primary_key=True),
        Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
        Column("role", String(20), nullable=False),
        Column("status", String(20), nullable=False),
        Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    )
    user_passwords_v8 = Table(
        "user_passwords",
        frozen,
        Column("id", Integer, primary_key=True),
        Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
        Column("password_hash", Text, nullable=False),
        Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    )
    api_tokens_v8 = Table(
        "api_tokens",
        frozen,
        Column("id", Integer, primary_key=True),
        Column("token_id", String(40), nullable=False, unique=True),
        Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
        Column("secret_hash", String(64), nullable=False),
        Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    )
    token_revocations_v8 = Table(
        "token_revocations",
        frozen,
        Column("id", Integer, primary_key=True),
        Column("api_token_id", Integer, ForeignKey("api_tokens.id"), nullable=False, unique=True),
        Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    )
    lens_grants_v8 = Table(
        "lens_grants",
        frozen,
        Column("id", Integer, primary_key=True),
        Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
        Column("lens", String(200), nullable=False),
        Column("state", String(20), nullable=False),
        Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    )
    web_sessions_v8 = Table(
        "web_sessions",
        frozen,
        Column("id", Integer, primary_key=True),
        Column("session_hash", String(64), nullable=False, unique=True),
        Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
        Column("created_at", String(40), nullable=False),
        Column("expires_at", String(40), nullable=False),
    )
    history = (
        users_v8,
        user_states_v8,
        user_passwords_v8,
        api_tokens_v8,
        token_revocations_v8,
        lens_grants_v8,
    )
    tables = (*history, web_sessions_v8)

    def apply(connection: Connection) -> None:
        _create(connection, tables)
        # web_sessions is left unguarded: sessions end and expire (MUTABLE_TABLES).
        append_only(connection, tuple(t.name for t in history))

    return Migration(8, "users, API tokens, lens grants and web sessions", apply, tables)


def _step_9() -> Migration:
    frozen = MetaData()
    _stub(frozen, "events", "id", Integer)
    retirements_v9 = Table(
        "retirements",
        frozen,
        Column("id", Integer, primary_key=True),
        Column("kind", String(20), nullable=False),
        Column("name", String(200), nullable=False),
        Column("retired", Boolean, nullable=False),
        Column("reason", Text),
        Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    )

    def apply(connection: Connection) -> None:
        _create(connection, (retirements_v9,))
        append_only(connection, ("retirements",))

    return Migration(9, "retired datasets and strategies", apply, (retirements_v9,))


# Sizes and counts that outgrow 32 bits at the scale segtrail serves (a 3 GB export, a table
# of 3 billion rows). SQLite's INTEGER is already 64-bit; PostgreSQL's is not.
WIDENED_TO_BIGINT: tuple[tuple[str, str], ...] = (
    ("objects", "bytes"),
    ("datasets", "source_bytes"),
    ("datasets", "rows"),
    ("campaigns", "rows"),
    ("campaigns", "unknown_customers"),
    ("exports", "rows"),
    ("campaign_designs", "customers"),
)


def _step_10() -> Migration:
    def apply(connection: Connection) -> None:
        # Recorded on SQLite too (nothing to do there) so every workspace has the same
        # numbered history. ALTER ... TYPE rewrites the table without firing the
        # append-only row triggers.
        if connection.dialect.name == "postgresql":
            for table, column in WIDENED_TO_BIGINT:
                connection.exec_driver_sql(
                    f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE BIGINT'
                )

    return Migration(10, "64-bit sizes and row counts on PostgreSQL", apply)


def _step_11() -> Migration:
    frozen = MetaData()
    jobs_v11 = Table(
        "jobs",
        frozen,
        Column("id", String(32), primary_key=True),
        Column("kind", String(40), nullable=False),
        Column("author", String(200)),
        Column("state", String(20), nullable=False),
        Column("message", Text, nullable=False),
        Column("fraction", Float),
        Column("result", Text),
        Column("error", Text),
        Column("links", Text, nullable=False),
        Column("owner", String(200), nullable=False),
        Column("created_at", String(40), nullable=False),
        Column("beat_at", String(40), nullable=False),
        Column("finished_at", String(40)),
    )

    def apply(connection: Connection) -> None:
        # jobs is left unguarded: a job's row changes as it runs (MUTABLE_TABLES).
        _create(connection, (jobs_v11,))
        # A version's names, read by every `show` and checked by every rename: without an
        # index each read scanned the name rows of every version of the workspace.
        connection.exec_driver_sql(
            "CREATE INDEX segment_labels_by_version "
            "ON segment_labels (segmentation_id, segment, id)"
        )

    name = "background jobs of the server; segment names indexed by version"
    return Migration(11, name, apply, (jobs_v11,))


# The steps in order, numbered 1, 2, ... without gaps. Each is built when migrations() is
# called, not when this module is imported: building a step declares its frozen tables, and
# a step built at import could not be told from a changed one by anything run afterwards.
_STEPS: tuple[Callable[[], Migration], ...] = (
    _step_1,
    _step_2,
    _step_3,
    _step_4,
    _step_5,
    _step_6,
    _step_7,
    _step_8,
    _step_9,
    _step_10,
    _step_11,
)

LATEST = len(_STEPS)


def migration(version: int) -> Migration:
    """Step `version` (1 to LATEST), built afresh."""
    return _STEPS[version - 1]()


def migrations() -> tuple[Migration, ...]:
    """Every step, in order, built afresh (some milliseconds: migrating and listing the
    tables of a schema version are rare)."""
    return tuple(migration(version) for version in range(1, LATEST + 1))


def apply_migration(connection: Connection, migration: Migration) -> None:
    """Run one step's fixed DDL (the caller records it, in the same transaction)."""
    migration.apply(connection)
