"""The workspace: one folder holding one history (metadata database + immutable objects).

`Workspace` is the Python API. Each user action is one method with the same name as the CLI
command; the method calls one service function and returns plain data (dicts, frames), so
the CLI, the web layer and notebooks all share the same behaviour.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segtrail.errors import Damaged, InvalidInput, NotAWorkspace, SegtrailError
from segtrail.store import schema
from segtrail.store.metadata import MetadataStore, check_database_url
from segtrail.store.objects import check_objects_url, open_object_store

if TYPE_CHECKING:
    import pandas as pd

    from segtrail.engine.transactions import TransactionSpec
    from segtrail.services.access import (
        TokenCreated,
        TokenRevoked,
        UserCreated,
        UserDisabled,
        UserInfo,
    )
    from segtrail.services.results import (
        Assignment,
        AudienceExport,
        AudienceSummary,
        CampaignDesign,
        CampaignImport,
        CampaignReport,
        CampaignSummary,
        Carry,
        Comparison,
        CustomerThread,
        DatasetInfo,
        DatasetSummary,
        Diff,
        Event,
        EventPage,
        Export,
        FsckReport,
        Holdout,
        LogEntry,
        Lookalike,
        NameChange,
        PlanChange,
        PlanState,
        PlanView,
        Report,
        Retirement,
        SegmentThread,
        StatusChange,
        Strategy,
        TagChange,
        Thread,
        TransactionsIngest,
        Version,
    )
    from segtrail.services.segmentations import Progress

DIRNAME = ".segtrail"
CONFIG = "config.json"
DB_FILE = "segtrail.db"


def resolve_author(explicit: str | None = None) -> str:
    """--author, then SEGTRAIL_AUTHOR, then git's user.name, then the OS user."""
    if explicit and explicit.strip():
        return explicit.strip()
    env = os.environ.get("SEGTRAIL_AUTHOR", "").strip()
    if env:
        return env
    if shutil.which("git"):
        try:
            out = subprocess.run(
                ["git", "config", "user.name"], capture_output=True, text=True, timeout=5
            )
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def find_workspace(start: Path | None = None) -> Path:
    """The nearest folder holding `.segtrail/`, from `start` (default: cwd) upwards."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / DIRNAME / CONFIG).is_file():
            return folder
    raise NotAWorkspace(
        f"not inside a segtrail workspace ({here}); run `segtrail init` to create one, "
        "or pass --workspace DIR"
    )


class Workspace:
    """An open workspace. Create with `Workspace.init(dir)` or `Workspace.open(dir)`."""

    def __init__(self, root: Path, author: str | None = None) -> None:
        self.root = root.resolve()
        self.dir = self.root / DIRNAME
        config = json.loads((self.dir / CONFIG).read_text())
        url = os.environ.get("SEGTRAIL_DATABASE_URL") or config.get("database_url")
        self.meta = MetadataStore(url or f"sqlite:///{self.dir / DB_FILE}")
        # Objects live in .segtrail/objects unless `init --objects URL` chose shared storage.
        self._objects_url = config.get("objects_url")
        self.objects = open_object_store(self._objects_url, self.dir / "objects")
        # Names a damaged object's kind in its error message.
        self.objects.describe = self.meta.objects.kind
        self.author = resolve_author(author)

    # --- opening ---------------------------------------------------------------------

    @classmethod
    def init(
        cls,
        path: str | Path = ".",
        *,
        database_url: str | None = None,
        objects_url: str | None = None,
        author: str | None = None,
        schema_version: int = schema.LATEST,
    ) -> Workspace:
        """Create a workspace in `path`. `database_url`: where the metadata lives (default:
        SQLite inside .segtrail/); `objects_url`: where data objects live (default:
        .segtrail/objects; a folder, or an fsspec URL such as `file:///mnt/team/objects`
        or `s3://bucket/prefix`)."""
        root = Path(path).resolve()
        if (root / DIRNAME).exists():
            raise SegtrailError(f"{root} is already a segtrail workspace")
        if root.exists() and not root.is_dir():
            raise SegtrailError(f"{root} exists and is not a folder")
        if database_url:
            check_database_url(database_url)
        if objects_url:
            objects_url = check_objects_url(objects_url)
        (root / DIRNAME).mkdir(parents=True)
        try:
            if not objects_url:
                (root / DIRNAME / "objects").mkdir()
            config = {"format": 1, "database_url": database_url, "objects_url": objects_url}
            (root / DIRNAME / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
            workspace = cls(root, author)
            workspace.meta.migrate(schema_version)
            workspace.meta.events.append(
                workspace.author, "init", str(root), {"schema": schema_version}
            )
        except BaseException:
            shutil.rmtree(root / DIRNAME, ignore_errors=True)  # no half-made workspace
            raise
        return workspace

    @classmethod
    def open(
        cls, path: str | Path | None = None, *, author: str | None = None, migrate: bool = True
    ) -> Workspace:
        """Open the workspace at `path`, or SEGTRAIL_WORKSPACE, or the nearest one upwards.
        An older schema is migrated in place (each migration is recorded)."""
        if path is None and os.environ.get("SEGTRAIL_WORKSPACE"):
            path = os.environ["SEGTRAIL_WORKSPACE"]
        if path is not None:
            root = Path(path).resolve()
            if not (root / DIRNAME / CONFIG).is_file():
                raise NotAWorkspace(
                    f"{root} is not a segtrail workspace; run `segtrail init {path}` first"
                )
        else:
            root = find_workspace()
        workspace = cls(root, author)
        workspace._require_history()
        if migrate and workspace.meta.schema_version() != schema.LATEST:
            workspace.meta.migrate()
        return workspace

    def _require_history(self) -> None:
        """A workspace whose metadata database is missing, empty or not segtrail's is
        refused: opening it would silently start a new, empty history beside the objects
        of the old one. Only `init` creates a database."""
        database = self.dir / DB_FILE
        lost = None
        if self.meta.url == f"sqlite:///{database}" and (
            not database.is_file() or database.stat().st_size == 0
        ):
            lost = f"the metadata database {database} is missing or empty"
        elif self.meta.schema_version() == 0:
            lost = "the metadata database holds no segtrail history (empty, or not segtrail's)"
        if lost:
            objects = len(self.objects.listing()[0])
            raise Damaged(
                f"{lost}, while {objects:,} data object(s) remain in {self.objects.url}: "
                "restore the database from a backup (only `segtrail init` makes a new one)"
            )

    def for_author(self, author: str) -> Workspace:
        """This open workspace acting as `author`, for a server that serves many users: the
        copy shares the metadata store (one connection pool) but has its own object store,
        so a failed action takes back only the objects *it* wrote (`discard_unrecorded`),
        never those of a concurrent action that has not recorded them yet. Close only the
        original."""
        import copy

        clone = copy.copy(self)
        clone.author = resolve_author(author)
        clone.objects = open_object_store(self._objects_url, self.dir / "objects")
        clone.objects.describe = clone.meta.objects.kind
        return clone

    def close(self) -> None:
        self.meta.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            if exc_type is not None:  # a failed action leaves no orphan objects behind
                self.discard_unrecorded()
        finally:
            self.close()

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    # --- actions (one per user command) ------------------------------------------------
    #
    # Each method has the name of its CLI command and returns what that command's --json
    # prints. Services are imported inside the methods so `import segtrail` stays light.

    def ingest(
        self,
        source: str | Path | pd.DataFrame,
        id_column: str,
        name: str | None = None,
        *,
        na: tuple[str, ...] = (),
        decimal: str | None = None,
        sheet: str | None = None,
        source_name: str | None = None,
    ) -> DatasetInfo:
        """Import a customer table as the next version of dataset `name`.

        `source` is a CSV (possibly .gz/.zst), Parquet or Excel file, or a pandas DataFrame
        (then `name` is required). Re-importing identical content records nothing and says
        "unchanged". Bad input raises `segtrail.errors.InvalidInput` naming the row and
        column. `na`: more missing-value markers (in every column, the id column included);
        `decimal`: a CSV's decimal mark ('.' or ','; default detected); `sheet`: an Excel
        sheet's name or 1-based position; `source_name`: what to record as the source instead
        of the file's path (the server records an upload's own file name)."""
        from segtrail.services.datasets import ingest

        if isinstance(source, str | Path):
            return ingest(
                self,
                source,
                id_column,
                name,
                na=na,
                decimal=decimal,
                sheet=sheet,
                source_name=source_name,
            )
        return _ingest_frame(self, source, id_column, name)

    def ingest_sql(
        self, query: str, url: str, id_column: str, name: str | None = None
    ) -> DatasetInfo:
        """A customer table from a SQL query on any SQLAlchemy URL (PostgreSQL, sqlite:///FILE,
        duckdb:///FILE). The query and the URL without its password are recorded; an
        unchanged result records nothing."""
        from segtrail.services.transactions import ingest_sql

        return ingest_sql(self, query, url, id_column, name)

    def ingest_transactions(self, spec: TransactionSpec, **source: Any) -> TransactionsIngest:
        """Order lines (path=..., or sql=... and url=...) -> NAME-transactions (the lines) and
        NAME (one row per customer), with the lineage; see engine/transactions.py."""
        from segtrail.services.transactions import ingest_transactions

        return ingest_transactions(self, spec, **source)

    def datasets(self, include_retired: bool = False) -> list[DatasetSummary]:
        """Every dataset version, by name then version; retired names only with
        `include_retired`."""
        from segtrail.services.datasets import list_datasets

        return list_datasets(self, include_retired)

    def dataset_retire(self, name: str, reason: str | None = None) -> Retirement:
        """Hide dataset `name` (every version) from lists and refuse to segment it; its
        history and everything built on it stay."""
        from segtrail.services.retirement import retire

        return retire(self, "dataset", name, reason)

    def dataset_restore(self, name: str) -> Retirement:
        """Undo `dataset_retire`: the name is listed and usable again."""
        from segtrail.services.retirement import restore

        return restore(self, "dataset", name)

    def dataset(self, ref: str, rows: int = 0) -> DatasetInfo:
        """Schema, row count and column summaries of `NAME` or `NAME@N`; with `rows`, also
        the first rows by id (under "data")."""
        from segtrail.services.datasets import get_dataset

        return get_dataset(self, ref, rows=rows)

    def dataset_frame(self, ref: str) -> pd.DataFrame:
        """The customer table of a dataset version, as a pandas DataFrame."""
        from segtrail.services.datasets import load_frame, resolve_dataset

        return load_frame(self, resolve_dataset(self, ref))

    def fsck(self, *, prune: bool = False, grace_hours: float = 24.0) -> FsckReport:
        """Re-hash every object and check every reference; `clean` is False on problems.
        With `prune`, first remove unreferenced objects and stray temporaries older than
        `grace_hours` (younger ones may belong to a command still running)."""
        from segtrail.services.fsck import fsck

        return fsck(self, prune=prune, grace_hours=grace_hours)

    def discard_unrecorded(self) -> list[str]:
        """Remove the objects this session wrote that no record references (after a
        failed command). Returns their digests."""
        from segtrail.services.fsck import discard_unrecorded

        return discard_unrecorded(self)

    def events(self, limit: int | None = None) -> list[Event]:
        """The event log, newest first: who did what, when."""
        from segtrail.services.history import list_events

        return list_events(self, limit)

    def events_search(
        self,
        text: str | None = None,
        action: str | None = None,
        author: str | None = None,
        page: int = 1,
        per_page: int = 50,
    ) -> EventPage:
        """One page of the event log, newest first, filtered by text, action and author."""
        from segtrail.services.history import search_events

        return search_events(self, text, action, author, page, per_page)

    # --- segmentations -------------------------------------------------------------------

    def segment(
        self,
        dataset: str,
        lens: str,
        hypothesis: str,
        *,
        features: list[str] | None = None,
        exclude: list[str] | None = None,
        algorithm: str = "kmeans",
        k: int | str | None = None,
        k_range: tuple[int, int] | None = None,
        parent: str | None = None,
        seed: int = 0,
        weights: dict[str, float] | None = None,
        params: dict[str, Any] | None = None,
        progress: Progress | None = None,
        engine: str | None = None,
        spark_master: str | None = None,
    ) -> Version:
        """Cluster `dataset` and record the result as the next version `LENS@N`.

        `hypothesis` says why these features and what you expect. `k` is a number or
        "auto" (searched over `k_range`), for the algorithms that take it; None leaves them
        at the algorithm's default. `params` holds the algorithm's other declared parameters
        (e.g. {"eps": 0.5} for dbscan; `segtrail segment --help` lists them all); `weights`
        multiplies columns' influence. The same dataset, features, algorithm, parameters and
        `seed` give the same assignments. `engine` is where the compute runs, "local" or
        "spark" (default: the workspace's `engine` setting, else local); `spark_master`
        where Spark runs (default: $SEGTRAIL_SPARK_MASTER, the `spark_master` setting, or
        local[*])."""
        from segtrail.services.segmentations import segment

        return segment(
            self,
            dataset,
            lens,
            hypothesis,
            features=features,
            exclude=exclude,
            algorithm=algorithm,
            k=k,
            k_range=k_range,
            parent=parent,
            seed=seed,
            weights=weights,
            params=params,
            progress=progress,
            engine=engine,
            spark_master=spark_master,
        )

    def revisit(
        self,
        ref: str,
        dataset: str | None = None,
        *,
        hypothesis: str | None = None,
        progress: Progress | None = None,
        engine: str | None = None,
        spark_master: str | None = None,
    ) -> Version:
        """Re-run version `ref`'s hypothesis (same spec, algorithm, parameters, seed) on
        newer data (default: the newest version of its dataset), as the lens's next
        version."""
        from segtrail.services.segmentations import revisit

        return revisit(
            self,
            ref,
            dataset,
            hypothesis=hypothesis,
            progress=progress,
            engine=engine,
            spark_master=spark_master,
        )

    # --- settings --------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        """The workspace's settings (`engine`, `spark_master`); None where not set."""
        from segtrail.services.settings import settings

        return settings(self)

    def set_setting(self, name: str, value: str | None) -> dict[str, Any]:
        """Set one setting (None unsets it), e.g. `set_setting("engine", "spark")`."""
        from segtrail.services.settings import set_setting

        return set_setting(self, name, value)

    def show(self, ref: str) -> Version:
        """Everything about one version (`LENS@N`, or `LENS` for its adopted version):
        hypothesis, parameters, metrics, segments with names, tags and profiles."""
        from segtrail.services.segmentations import show

        return show(self, ref)

    def log(self, lens: str | None = None) -> list[LogEntry]:
        """Every version (of one lens or all), newest first, with parent links."""
        from segtrail.services.segmentations import log

        return log(self, lens)

    def assignments(self, ref: str) -> pd.Series:
        """Segment label per customer id (-1 = unassigned) of one version."""
        from segtrail.services.segmentations import load_assignments, resolve_segmentation

        return load_assignments(self, resolve_segmentation(self, ref))

    def name(self, ref: str, segment: int, name: str, description: str | None = None) -> NameChange:
        """Give a segment a human name (and optionally a description); the old name stays
        in the history."""
        from segtrail.services.annotations import name_segment

        return name_segment(self, ref, segment, name, description)

    def tag(self, ref: str, segment: int, key: str, value: str | None) -> TagChange:
        """Set a tag such as fit=poor on a segment (value None removes it)."""
        from segtrail.services.annotations import tag_segment

        return tag_segment(self, ref, segment, key, value)

    def adopt(self, ref: str) -> StatusChange:
        """Make `ref` its lens's current version (the previous one becomes superseded)."""
        from segtrail.services.annotations import set_status

        return set_status(self, ref, "adopted")

    def retire(self, ref: str) -> StatusChange:
        """Mark a version as no longer in use (it stays in the history)."""
        from segtrail.services.annotations import set_status

        return set_status(self, ref, "retired")

    def export(self, ref: str, out: str | Path, *, raw: bool = False) -> Export:
        """Write every customer's segment of version `ref` to a CSV or Parquet file. CSV
        cells a spreadsheet would run as formulas get a leading ' unless `raw`."""
        from segtrail.services.use import export

        return export(self, ref, out, raw=raw)

    def assign(
        self, ref: str, file: str | Path, out: str | Path, *, raw: bool = False
    ) -> Assignment:
        """Put the customers of `file` into the segments of `ref` with its stored model."""
        from segtrail.services.use import assign

        return assign(self, ref, file, out, raw=raw)

    # --- strategies and plans ------------------------------------------------------------

    def strategy_add(
        self,
        name: str,
        message: str,
        channels: list[str],
        *,
        offer: str | None = None,
        owner: str | None = None,
    ) -> Strategy:
        """Record a strategy (a tactic): its message, channels, offer and owner."""
        from segtrail.services.plans import add_strategy

        return add_strategy(self, name, message, channels, offer=offer, owner=owner)

    def strategy_edit(
        self,
        name: str,
        *,
        message: str | None = None,
        channels: list[str] | None = None,
        offer: str | None = None,
        owner: str | None = None,
    ) -> Strategy:
        """Change a strategy (a new revision of it; what is not given stays)."""
        from segtrail.services.plans import edit_strategy

        return edit_strategy(
            self, name, message=message, channels=channels, offer=offer, owner=owner
        )

    def strategies(self, include_retired: bool = False) -> list[Strategy]:
        """Every strategy, as currently defined; retired ones only with `include_retired`."""
        from segtrail.services.plans import list_strategies

        return list_strategies(self, include_retired)

    def strategy_retire(self, name: str, reason: str | None = None) -> Retirement:
        """Hide strategy `name` from lists and refuse new mappings of it; its plans, thread
        and campaigns stay."""
        from segtrail.services.retirement import retire

        return retire(self, "strategy", name, reason)

    def strategy_restore(self, name: str) -> Retirement:
        """Undo `strategy_retire`."""
        from segtrail.services.retirement import restore

        return restore(self, "strategy", name)

    def plan_map(
        self,
        strategy: str,
        ref: str,
        segments: list[int] | str,
        *,
        status: str = "active",
        rationale: str | None = None,
        expected_revision: int | None = None,
    ) -> PlanState:
        """Target `segments` (labels, or "all") of version `ref` with `strategy`, recorded
        as the plan's next revision. Concurrent changes to other strategies are kept; a
        concurrent change to the same strategy raises `segtrail.errors.Conflict`. With
        `expected_revision` (the revision the change was made on; 0: no plan yet), any
        other revision is a `Conflict` and nothing is recorded."""
        from segtrail.services.plans import map_strategy

        return map_strategy(
            self,
            strategy,
            ref,
            segments,
            status=status,
            rationale=rationale,
            expected_revision=expected_revision,
        )

    def plan_unmap(
        self, strategy: str, ref: str, expected_revision: int | None = None
    ) -> PlanState:
        """Remove `strategy` from the plan of version `ref` (a new revision)."""
        from segtrail.services.plans import unmap_strategy

        return unmap_strategy(self, strategy, ref, expected_revision)

    def plan_revert(
        self, ref: str, revision: int, expected_revision: int | None = None
    ) -> PlanState:
        """Make the plan of `ref` what it was at `revision`, as a new revision."""
        from segtrail.services.plans import revert_plan

        return revert_plan(self, ref, revision, expected_revision)

    def plan_show(self, ref: str, revision: int | None = None) -> PlanView:
        """The plan of version `ref` (at `revision`, default the newest): strategies x
        segments, with coverage."""
        from segtrail.services.plans import show_plan

        return show_plan(self, ref, revision)

    def plan_history(self, lens: str) -> list[PlanChange]:
        """Every plan change on every version of `lens`, oldest first."""
        from segtrail.services.plans import plan_history

        return plan_history(self, lens)

    # --- the thread ------------------------------------------------------------------------

    def diff(
        self,
        a: str,
        b: str,
        min_jaccard: float = 0.5,
        *,
        engine: str | None = None,
        spark_master: str | None = None,
    ) -> Diff:
        """How customers moved from version `a` to version `b`: transitions, ARI/NMI, and
        each segment's fate (kept, split, merged, ...). `engine` "spark" counts them in
        Spark where the assignments live (default: the workspace's `engine` setting)."""
        from segtrail.services.thread import diff

        return diff(self, a, b, min_jaccard, engine=engine, spark_master=spark_master)

    def carry(self, old: str, new: str, min_jaccard: float = 0.5, apply: bool = False) -> Carry:
        """Propose moving the plan of `old` onto `new` through shared customers; with
        `apply`, record it as the plan's next revision on `new`."""
        from segtrail.services.thread import carry

        return carry(self, old, new, min_jaccard, apply)

    def compare(self, a: str, b: str, flags: dict[str, str] | None = None) -> Comparison:
        """Two lenses' views of the same customers; `flags` (e.g. {"fit": "poor"}) marks
        segments of `b` that strategies of `a` should not reach."""
        from segtrail.services.thread import compare

        return compare(self, a, b, flags)

    def why(self, strategy: str) -> Thread:
        """The thread from a strategy back to every hypothesis it was mapped on."""
        from segtrail.services.thread import why

        return why(self, strategy)

    def why_segment(self, ref: str, segment: int) -> SegmentThread:
        """One segment's thread as a timeline: where it came from, its names, the plan
        revisions that targeted it, and what became of it in later versions."""
        from segtrail.services.timeline import segment_thread

        return segment_thread(self, ref, segment)

    def why_customer(self, customer: str) -> CustomerThread:
        """One customer's thread: their segment under every version of every lens, the
        strategies targeting it, and the campaigns that included them."""
        from segtrail.services.timeline import customer_thread

        return customer_thread(self, customer)

    # --- campaigns and audiences ---------------------------------------------------------

    def campaign_import(
        self,
        path: str | Path,
        name: str,
        strategy: str,
        control: str | None = None,
        arms: list[str] | None = None,
    ) -> CampaignImport:
        """Record what was sent to whom under `strategy` and who responded. Two arms
        ('treatment', 'control') by default; with `control` (the arm that got nothing)
        and/or `arms` (the others), any arm names."""
        from segtrail.services.campaigns import import_campaign

        return import_campaign(self, path, name, strategy, control, arms)

    def campaign_report(
        self, name: str, by: str | None = None, vs_holdout: bool = False
    ) -> CampaignReport:
        """Response per segment of version `by` (default: the version a designed campaign
        was designed on, else where the strategy is mapped), with intervals, uplift and
        tests; with `vs_holdout`, against the workspace holdout instead of the campaign's
        own control."""
        from segtrail.services.campaigns import report

        return report(self, name, by, vs_holdout)

    def campaign_design(
        self,
        name: str,
        strategy: str,
        *,
        by: str | None = None,
        control_share: float = 0.1,
        arms: list[str] | None = None,
        baseline_rate: float | None = None,
        baseline_from: str | None = None,
        mde: float | None = None,
        alpha: float = 0.05,
        power: float = 0.8,
        seed: int | None = None,
        out: str | Path | None = None,
        dry_run: bool = False,
    ) -> CampaignDesign:
        """Design campaign `name` before it is sent: assign the customers of the segments
        `strategy` targets (in `by`, default the adopted mapped version, else the newest
        mapped one; the workspace holdout left out) to `control` and the `arms` (default
        one arm, "treatment"), stratified by segment with exact shares; report per segment
        the minimum detectable uplift at `power` and `alpha` (and the power to detect
        `mde`); unless `dry_run`, write the assignment to `out` and record the design."""
        from segtrail.services.designs import design_campaign

        return design_campaign(
            self,
            name,
            strategy,
            by=by,
            control_share=control_share,
            arms=arms,
            baseline_rate=baseline_rate,
            baseline_from=baseline_from,
            mde=mde,
            alpha=alpha,
            power=power,
            seed=seed,
            out=out,
            dry_run=dry_run,
        )

    def campaign_designs(self, name: str | None = None) -> list[CampaignDesign]:
        """Recorded campaign designs (or the one named): version, groups, seed, power."""
        from segtrail.services.designs import list_designs

        return list_designs(self, name)

    def holdout_create(
        self, share: float, seed: int | None = None, replace: bool = False
    ) -> Holdout:
        """Record the workspace-wide holdout: a stable `share` of customers (chosen by a
        seeded hash of their ids) that no design or audience export reaches; `replace` to
        change an existing one."""
        from segtrail.services.designs import create_holdout

        return create_holdout(self, share, seed, replace)

    def holdout_show(self) -> Holdout:
        """The current workspace holdout: share, seed, customers held out per dataset."""
        from segtrail.services.designs import show_holdout

        return show_holdout(self)

    def campaigns(self) -> list[CampaignSummary]:
        """Every imported campaign."""
        from segtrail.services.campaigns import list_campaigns

        return list_campaigns(self)

    def lookalike(
        self,
        pool: str,
        out: str | Path,
        *,
        seed: str | None = None,
        seed_ids: str | Path | None = None,
        seed_top: tuple[str, float] | None = None,
        features: list[str] | None = None,
        method: str = "knn",
        size: int | float = 0.05,
        name: str | None = None,
        exclude: str | None = None,
        random_seed: int = 0,
        raw: bool = False,
        include_holdout: bool = False,
        engine: str | None = None,
        spark_master: str | None = None,
        progress: Progress | None = None,
    ) -> Lookalike:
        """Rank the customers of dataset `pool` by similarity to a seed (a segment
        `LENS@N:S`, a file of ids, or `seed_top=(column, share)`: the top share of a
        column) and write the best `size` (customers, or a share of the pool if a float)
        to `out`, recorded as a named audience. A segment seed may come from another dataset
        sharing the feature columns; `exclude` leaves out pool ids found in that dataset. The
        workspace holdout is never chosen unless `include_holdout`. `engine` ("local" or
        "spark"; default: the workspace's setting) is where the pool is scored."""
        from segtrail.services.audiences import lookalike

        return lookalike(
            self,
            pool,
            out,
            seed=seed,
            seed_ids=seed_ids,
            seed_top=seed_top,
            features=features,
            method=method,
            size=size,
            name=name,
            exclude=exclude,
            random_seed=random_seed,
            raw=raw,
            include_holdout=include_holdout,
            engine=engine,
            spark_master=spark_master,
            progress=progress,
        )

    def audiences(self) -> list[AudienceSummary]:
        """Every recorded audience."""
        from segtrail.services.audiences import list_audiences

        return list_audiences(self)

    def audience_export(
        self,
        target: str | None,
        fmt: str,
        out: str | Path,
        *,
        raw: bool = False,
        strategy: str | None = None,
        include_holdout: bool = False,
    ) -> AudienceExport:
        """Write segments (`LENS@N:S` or `LENS@N:S1,S2`), a lookalike audience, or
        `strategy`'s current segments (target None) for an ad platform (csv, meta or
        google), with a provenance file beside it; the workspace holdout is left out unless
        `include_holdout`."""
        from segtrail.services.audiences import export_audience

        return export_audience(
            self, target, fmt, out, raw=raw, strategy=strategy, include_holdout=include_holdout
        )

    def report(
        self, ref: str, out: str | Path, diff: str | None = None, value: str | None = None
    ) -> Report:
        """Write the offline HTML report of version `ref` (or of the move to `diff`);
        `value` names the column whose sum is the customers' value (default: guessed by
        name, e.g. monetary, revenue, annual_spend)."""
        from segtrail.report.html import write_report

        return write_report(self, ref, out, diff, value=value)

    # --- users of the team server (services/access.py) ---------------------------------

    def user_add(
        self,
        name: str,
        role: str,
        lenses: list[str] | None = None,
        password: str | None = None,
    ) -> UserCreated:
        """Add a team member with a role (viewer, analyst, admin) and, for an analyst, the
        lenses they may change; returns their first API token (shown only here)."""
        from segtrail.services.access import add_user

        return add_user(self, name, role, lenses or (), password)

    def user_list(self) -> list[UserInfo]:
        from segtrail.services.access import list_users

        return list_users(self)

    def user_disable(self, name: str) -> UserDisabled:
        from segtrail.services.access import disable_user

        return disable_user(self, name)

    def user_password(self, name: str, password: str) -> None:
        from segtrail.services.access import set_password

        set_password(self, name, password)

    def user_role(self, name: str, role: str) -> UserInfo:
        from segtrail.services.access import set_role

        return set_role(self, name, role)

    def user_grant(self, name: str, lenses: list[str]) -> UserInfo:
        from segtrail.services.access import grant_lenses

        return grant_lenses(self, name, lenses)

    def user_ungrant(self, name: str, lenses: list[str]) -> UserInfo:
        from segtrail.services.access import withdraw_lenses

        return withdraw_lenses(self, name, lenses)

    def token_create(self, name: str) -> TokenCreated:
        from segtrail.services.access import create_token

        return create_token(self, name)

    def token_revoke(self, token_id: str) -> TokenRevoked:
        from segtrail.services.access import revoke_token

        return revoke_token(self, token_id)


def _ingest_frame(
    ws: Workspace, frame: pd.DataFrame, id_column: str, name: str | None
) -> DatasetInfo:
    """A DataFrame goes through exactly the checks a file gets: it is written as Parquet to a
    temporary folder and ingested from there."""
    import tempfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    from segtrail.services.datasets import ingest

    if name is None:
        raise InvalidInput("name the dataset when ingesting a DataFrame: ingest(df, id, name=...)")
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, ValueError, TypeError) as e:
        raise InvalidInput(f"the DataFrame cannot be stored: {e}") from None
    with tempfile.TemporaryDirectory(prefix="segtrail-") as folder:
        path = Path(folder) / f"{name}.parquet"
        pq.write_table(table, path)
        return ingest(ws, path, id_column, name)
