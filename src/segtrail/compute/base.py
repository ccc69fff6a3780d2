"""The engine seam: what `segment` asks of an engine, and what an engine gives back.

An engine never sees the store. The service hands it a ``DatasetSource`` (where the
dataset's Parquet object lives, and a verified reader for engines that load it whole) and a
scratch folder; the engine returns a ``Segmented``: the record of the version (spec, fitted
state, parameters, metrics, profiles: engine-neutral JSON and arrays) plus the per-customer
assignments, either in memory (local) or as Parquet part files written by Spark, which the
service stores as one content-addressed object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the command line starts without pandas
    import pandas as pd
    import pyarrow as pa

Progress = Callable[[str, float | None], None]


@dataclass(frozen=True)
class DatasetSource:
    """One dataset version as an engine sees it."""

    label: str  # NAME@N, for messages
    location: str  # the Parquet object: a local path or a URL (Spark reads it directly)
    rows: int
    columns: list[str]  # the columns `segment` needs
    read: Callable[[list[str]], pd.DataFrame]  # the verified read through the store


@dataclass(frozen=True)
class AssignmentsSource:
    """One version's assignments object (customer_id, segment, confidence)."""

    label: str  # LENS@N, for messages
    location: str  # the Parquet object: a local path or a URL
    read: Callable[[], pd.Series]  # segment per customer id, the verified read


@dataclass
class Segmented:
    """What an engine computed for one version.

    ``record`` holds the keys the service records: state, notes, used, selection, quality,
    stability, profiles, spec, fitted, features, k, algorithm, confidence_meaning. Exactly
    one of ``table`` (customer_id, segment, confidence in memory) and ``file`` (a Parquet
    file of those columns in customer order, written from Spark's output) is set.
    """

    record: dict
    table: pa.Table | None = None
    file: Path | None = None
    engine: str = "local"


@dataclass(frozen=True)
class LookalikeSeed:
    """Who the seed is, as an engine finds it where the data lives.

    ``kind`` "segment": the customers of ``segments`` in ``assignments`` (and, when the
    version was built on another dataset than the pool, those of them outside the pool,
    read from ``outside``: its id column first, then the feature columns); "ids": the
    customers in ``ids`` (a file the user gave, read on the driver); "top": the pool's
    customers whose ``column`` is in its top ``share``."""

    kind: str
    assignments: AssignmentsSource | None = None
    segments: tuple[int, ...] = ()
    outside: DatasetSource | None = None
    ids: pd.Index | None = None
    column: str | None = None
    share: float | None = None


@dataclass(frozen=True)
class LookalikeRequest:
    """One lookalike ranking: engine-neutral, built by the service."""

    pool: DatasetSource  # columns: the id column first, then every feature-kind column
    kinds: dict[str, str]
    id_column: str
    seed: LookalikeSeed
    spec: dict  # the feature spec (engine.features.build_spec) the model compares rows on
    method: str
    size: int | float  # customers, or a share of the non-seed pool
    random_seed: int
    exclude: DatasetSource | None = None  # pool customers in it are left out (columns: its id)
    holdout: tuple[float, int] | None = None  # (share, seed) of the workspace holdout


@dataclass
class LookalikeRanked:
    """What an engine gives back: the audience, best first, with ``customer_id``, ``score``
    and ``rank`` columns, either in memory (``table``) or as one Parquet file written from
    Spark's output (``file``); and the counts and quality the service records."""

    seed: dict  # seed_size (segment, top), threshold (top), in_pool, outside_pool
    size: int  # the audience size asked for, in customers
    excluded: int
    held_out: int  # non-seed pool customers in the workspace holdout (left out)
    quality: dict
    model: dict  # what the fitted model is (LookalikeModel.summary)
    table: pa.Table | None = None
    file: Path | None = None
    rows: int = 0
    engine: str = "local"


class Engine(Protocol):
    name: str

    def segment(
        self,
        source: DatasetSource,
        kinds: dict[str, str],
        id_column: str,
        request: dict,
        scratch: Path,
        progress: Progress,
    ) -> Segmented:
        """Features, fit, assignments of every customer, metrics and profiles."""
        ...

    def diff(self, a: AssignmentsSource, b: AssignmentsSource, min_jaccard: float) -> dict:
        """``engine.diff.diff_assignments`` of two versions (counted where they live)."""
        ...

    def segments_of(
        self, assignments: AssignmentsSource, customers: pd.Series
    ) -> tuple[pd.Series, list[int]]:
        """The segment of each of ``customers`` (ids) that the version knows, as a Series
        indexed by customer id (it may hold other customers too), and every segment label
        of the version. What a campaign's per-segment counts start from: the pass over
        every customer's assignment runs where the assignments live."""
        ...

    def lookalike(
        self, request: LookalikeRequest, scratch: Path, progress: Progress
    ) -> LookalikeRanked:
        """Rank every pool customer by similarity to the seed and keep the best: the model
        is fitted on the driver (the seed members first by seeded id hash, a sample of the
        pool for the preprocessing) and applied to every pool customer where they live."""
        ...
