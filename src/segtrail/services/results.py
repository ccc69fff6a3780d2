"""Typed results of the user actions.

Every service that answers a user action returns one of these frozen dataclasses; the CLI,
the web layer and notebooks see the same objects. `to_dict()` is exactly what `--json`
prints and the API answers. Results also read like the mappings they print as
(`result["version"]`, `result.get("notes")`), so a renderer can follow the JSON shape.

Where a result carries a whole document computed by the engine (a diff, response
statistics), the typed header is followed by that document in `details`, whose keys are
printed at the top level beside the header's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

OMIT_IF_NONE = {"omit_if_none": True}
FLATTEN = {"flatten": True}


def plain(value: Any) -> Any:
    """Results (nested too) as plain dicts and lists, ready for JSON."""
    if isinstance(value, Result):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


class Result:
    """Base of every typed result (see the module doc)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.metadata.get("omit_if_none") and value is None:
                continue
            if f.metadata.get("flatten"):
                out.update(plain(value or {}))
            else:
                out[f.name] = plain(value)
        return out

    # --- read like a mapping -----------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        names = {f.name: f for f in fields(self)}  # type: ignore[arg-type]
        if key in names and not names[key].metadata.get("flatten"):
            value = getattr(self, key)
            if value is None and names[key].metadata.get("omit_if_none"):
                raise KeyError(key)
            return value
        for f in names.values():
            if f.metadata.get("flatten") and key in (getattr(self, f.name) or {}):
                return getattr(self, f.name)[key]
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, _MISSING) is not _MISSING

    def keys(self) -> list[str]:
        return list(self.to_dict())

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def items(self) -> list[tuple[str, Any]]:
        return [(k, self[k]) for k in self.keys()]


_MISSING = object()


# --- datasets --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetInfo(Result):
    """One dataset version (`segtrail dataset show`, `segtrail ingest`)."""

    dataset: str
    name: str
    version: int
    id_column: str
    rows: int
    columns: list[dict]
    source: str
    source_format: str
    object: str
    created_at: str
    author: str
    unchanged: bool | None = field(default=None, metadata=OMIT_IF_NONE)
    encoding: str | None = field(default=None, metadata=OMIT_IF_NONE)
    delimiter: str | None = field(default=None, metadata=OMIT_IF_NONE)
    # how a derived or SQL dataset was made: {kind, spec, derived_from}
    lineage: dict | None = field(default=None, metadata=OMIT_IF_NONE)
    # the dataset name is retired now: {at, author, reason}
    retired: dict | None = field(default=None, metadata=OMIT_IF_NONE)
    # what ingest learnt about the file: a CSV's decimal mark (and whether it was detected),
    # its compression, a workbook's sheet
    decimal: str | None = field(default=None, metadata=OMIT_IF_NONE)
    decimal_detected: bool | None = field(default=None, metadata=OMIT_IF_NONE)
    compression: str | None = field(default=None, metadata=OMIT_IF_NONE)
    sheet: str | None = field(default=None, metadata=OMIT_IF_NONE)
    data: list[dict] | None = field(default=None, metadata=OMIT_IF_NONE)
    # a new name whose columns and id match an existing dataset: probably its next version
    same_columns_as: str | None = field(default=None, metadata=OMIT_IF_NONE)


@dataclass(frozen=True)
class TransactionsIngest(Result):
    """`segtrail ingest --transactions`: the customer dataset (its DatasetInfo keys at the
    top level), the order lines' dataset, and what the derivation used and left out."""

    details: dict = field(metadata=FLATTEN)  # the customer dataset, as DatasetInfo prints
    transactions: DatasetInfo
    as_of: str
    counts: dict
    summary: str
    date_format: str


@dataclass(frozen=True)
class DatasetSummary(Result):
    """One line of `segtrail datasets`."""

    dataset: str
    name: str
    version: int
    id_column: str
    rows: int
    source: str
    source_format: str
    object: str
    created_at: str
    author: str
    n_columns: int
    retired: dict | None = field(default=None, metadata=OMIT_IF_NONE)  # listed with --all


# --- segmentations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment(Result):
    segment: int
    size: int
    share: float
    name: str
    description: str
    auto_name: str
    auto_description: str
    stability: float | None
    tags: dict[str, str]
    distinguishing: list
    # the current name last, after at most the newest 3 names before it (`show` is bounded)
    name_history: list[dict]
    earlier_names_total: int = 0  # every name before the current one, listed or not


@dataclass(frozen=True)
class Version(Result):
    """Everything about one segmentation version (`segtrail show`)."""

    version: str
    id: int
    lens: str
    number: int
    parent: str | None
    dataset: str
    hypothesis: str
    algorithm: str
    k: int
    seed: int
    status: str
    status_history: list[dict]
    created_at: str
    author: str
    segtrail_version: str
    parameters: dict
    request: dict
    notes: list[str]
    confidence: str | None
    features: list
    metrics: dict
    assignments: str
    fitted_state: str
    segments: list[Segment]
    profiles: dict


@dataclass(frozen=True)
class LogEntry(Result):
    version: str
    lens: str
    parent: str | None
    created_at: str
    author: str
    algorithm: str
    k: int
    status: str
    dataset: str
    hypothesis: str


@dataclass(frozen=True)
class NameChange(Result):
    version: str
    segment: int
    name: str
    previous: str


@dataclass(frozen=True)
class TagChange(Result):
    version: str
    segment: int
    key: str
    value: str | None


@dataclass(frozen=True)
class StatusChange(Result):
    version: str
    status: str
    previous: str
    superseded: str | None


@dataclass(frozen=True)
class Export(Result):
    version: str
    out: str
    rows: int
    sha256: str


@dataclass(frozen=True)
class Assignment(Result):
    version: str
    out: str
    rows: int
    sha256: str
    segments: dict[int, int]


# --- strategies and plans --------------------------------------------------------------------


@dataclass(frozen=True)
class Strategy(Result):
    name: str
    message: str
    channels: list[str]
    offer: str | None
    owner: str | None
    created_at: str
    author: str
    # retired now: {at, author, reason} (`segtrail strategy restore NAME` brings it back)
    retired: dict | None = field(default=None, metadata=OMIT_IF_NONE)


@dataclass(frozen=True)
class Retirement(Result):
    """`segtrail dataset|strategy retire|restore NAME`: the state recorded."""

    kind: str  # dataset | strategy
    name: str
    retired: bool  # False: restored
    at: str
    author: str
    reason: str | None


@dataclass(frozen=True)
class PlanState(Result):
    """One revision of the plan of one version, with its entries."""

    version: str
    revision: int
    change: str
    at: str
    author: str
    carried_from: dict | None
    diff: dict | None
    entries: list[dict]
    id: int
    event_id: int
    unchanged: bool | None = field(default=None, metadata=OMIT_IF_NONE)  # a no-op re-map


@dataclass(frozen=True)
class PlanView(Result):
    """`segtrail plan show`: entries, the strategies x segments matrix, coverage."""

    version: str
    revision: int
    change: str | None
    at: str | None
    author: str | None
    carried_from: dict | None
    diff: dict | None
    segments: list[dict]
    entries: list[dict]
    matrix: list[dict]
    coverage: dict


@dataclass(frozen=True)
class PlanChange(Result):
    """One line of `segtrail plan history`."""

    version: str
    revision: int
    change: str
    at: str
    author: str
    carried_from: dict | None
    entries: list[dict]


# --- the thread ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Diff(Result):
    """How customers moved from version a to version b (the engine's overlap in details)."""

    a: str
    b: str
    details: dict = field(metadata=FLATTEN)


@dataclass(frozen=True)
class Carry(Result):
    old: str
    new: str
    old_revision: int
    min_jaccard: float
    ari: float
    common_customers: int
    strategies: list[dict]
    needs_review: list[str]
    applied: bool
    revision: int | None = field(default=None, metadata=OMIT_IF_NONE)
    # applied: names and tags carried onto kept segments, suggestions for split/merged ones
    names: dict | None = field(default=None, metadata=OMIT_IF_NONE)


@dataclass(frozen=True)
class Comparison(Result):
    a: str
    b: str
    common_customers: int
    ari: float
    nmi: float
    rows: list[dict]
    columns: list[dict]
    transitions: list[dict]
    flags: dict[str, str]
    complement: list[dict]


@dataclass(frozen=True)
class Thread(Result):
    """`segtrail why`: every mapping of a strategy back to its hypotheses."""

    strategy: Strategy
    mappings: list[dict]
    campaigns: list
    audiences: list[dict]


@dataclass(frozen=True)
class SegmentThread(Result):
    """`why` for one segment: its story as a timeline, newest first."""

    version: str
    segment: int
    name: str
    description: str
    size: int
    tags: dict[str, str]
    hypothesis: str
    timeline: list[dict]


@dataclass(frozen=True)
class CustomerThread(Result):
    """`why` for one customer: their segment in every version, the strategies that target
    it, and the campaigns that included them."""

    customer: str
    versions: list[dict]
    campaigns: list[dict]


# --- campaigns and audiences -----------------------------------------------------------------


@dataclass(frozen=True)
class CampaignImport(Result):
    campaign: str
    strategy: str
    rows: int
    unknown_customers: int
    details: dict = field(metadata=FLATTEN)  # the recorded summary


@dataclass(frozen=True)
class CampaignReport(Result):
    campaign: str
    strategy: str
    by: str
    imported_at: str
    author: str
    rows: int
    unknown_customers: int
    details: dict = field(metadata=FLATTEN)  # the engine's response statistics


@dataclass(frozen=True)
class CampaignSummary(Result):
    campaign: str
    strategy: str
    rows: int
    unknown_customers: int
    imported_at: str
    author: str


@dataclass(frozen=True)
class Lookalike(Result):
    audience: str
    pool: str
    seed: dict
    method: str
    size: int
    params: dict
    quality: dict
    out: str
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AudienceSummary(Result):
    audience: str
    kind: str
    method: str
    seed: dict
    quality: dict
    created_at: str
    author: str


@dataclass(frozen=True)
class AudienceExport(Result):
    target: str
    format: str
    out: str
    provenance_file: str
    rows: int
    stats: dict
    provenance: dict


# --- the workspace ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FsckReport(Result):
    problems: list[str]
    notes: list[str]
    objects: int
    clean: bool
    # With --prune: {"objects": [digests], "temporaries": [names]} removed; else both empty.
    removed: dict[str, list[str]] = field(
        default_factory=lambda: {"objects": [], "temporaries": []}
    )


@dataclass(frozen=True)
class Event(Result):
    id: int
    at: str
    author: str
    action: str
    subject: str
    details: dict


@dataclass(frozen=True)
class EventPage(Result):
    """One page of a search of the event log, and the choices to filter by."""

    events: list[Event]
    total: int
    page: int
    per_page: int
    pages: int
    actions: list[str]
    authors: list[str]


@dataclass(frozen=True)
class Report(Result):
    out: str
    kind: str
    version: str
    diff: str | None
    bytes: int
    figures: list[str]
    sample: int | None
    value: str | None = None  # the column whose sum is shown as the customers' value


# --- campaign designs and the holdout --------------------------------------------------------


@dataclass(frozen=True)
class CampaignDesign(Result):
    """A campaign designed before sending (`segtrail campaign design`, `campaign designs`)."""

    design: str
    strategy: str
    version: str
    details: dict = field(metadata=FLATTEN)  # groups, seed, power per segment, ...


@dataclass(frozen=True)
class Holdout(Result):
    """The workspace holdout (`segtrail holdout create`, `holdout show`)."""

    share: float
    seed: int
    method: str
    created_at: str
    author: str
    datasets: dict
    replaces: int
