"""Metadata tables (SQLAlchemy Core) and the versioned migrations that create them.

Every table is append-only in normal use: a rename, a status change or a plan change is a
new row, and the current view is derived by taking the latest row. On SQLite, triggers
refuse UPDATE and DELETE outright, so a bug cannot rewrite history either.

Migrations are numbered and applied in order; each names the tables it creates (or runs
explicit DDL). A workspace records every applied migration in `schema_migrations`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
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
    Column("bytes", Integer, nullable=False),
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
    Column("source_bytes", Integer, nullable=False),
    Column("source_format", String(20), nullable=False),
    Column("rows", Integer, nullable=False),
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
    Column("rows", Integer, nullable=False),
    Column("unknown_customers", Integer, nullable=False),
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
    Column("rows", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("provenance", Text, nullable=False),  # JSON
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
)

# --- schema 5: campaign designs and the global holdout -------------------------------------

# A workspace-wide holdout is a rule (share and seed of a hash of each customer id), so it
# holds for customers imported later too; the latest row is the current holdout.
holdouts = Table(
    "holdouts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("share", Float, nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("method", String(60), nullable=False),  # how membership is computed from the id
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
    Column("customers", Integer, nullable=False),
    Column("object_hash", String(64), ForeignKey("objects.hash"), nullable=False),
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
)

# --- schema 6: dataset lineage -------------------------------------------------------------

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


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    tables: tuple[Table, ...] = ()
    extra: Callable[[Connection], None] | None = None


def _append_only_triggers(connection: Connection, tables: tuple[Table, ...]) -> None:
    if connection.dialect.name != "sqlite":
        return
    for table in tables:
        for verb in ("UPDATE", "DELETE"):
            connection.execute(
                text(
                    f"CREATE TRIGGER {table.name}_no_{verb.lower()} BEFORE {verb} ON {table.name} "
                    f"BEGIN SELECT RAISE(ABORT, '{table.name} is append-only'); END"
                )
            )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "workspace, events, objects, datasets", (events, objects, datasets)),
    Migration(
        2,
        "segmentations and segment labels",
        (segmentations, segment_labels, segment_tags, segmentation_status),
    ),
    Migration(3, "strategies and plans", (strategies, plan_states, plan_entries)),
    Migration(4, "audiences, campaigns and exports", (audiences, campaigns, exports)),
    Migration(5, "campaign designs and the global holdout", (holdouts, campaign_designs)),
    Migration(6, "dataset lineage", (dataset_lineage,)),
)

LATEST = MIGRATIONS[-1].version


def apply_migration(connection: Connection, migration: Migration) -> None:
    for table in migration.tables:
        table.create(connection)
    _append_only_triggers(connection, migration.tables)
    if migration.extra is not None:
        migration.extra(connection)
