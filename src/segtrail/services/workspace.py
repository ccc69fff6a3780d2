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
from typing import Any

from segtrail.errors import NotAWorkspace, SegtrailError
from segtrail.store import schema
from segtrail.store.metadata import MetadataStore
from segtrail.store.objects import check_objects_url, open_object_store
from segtrail.store.references import object_kind

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


def _check_database_url(url: str) -> None:
    """Refuse a malformed URL or one whose driver is not installed, before anything is made."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        create_engine(url).dispose()
    except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as e:
        raise SegtrailError(f"cannot use --database-url {url!r}: {e}") from None


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
        self.objects = open_object_store(config.get("objects_url"), self.dir / "objects")
        # Names a damaged object's kind in its error message.
        self.objects.describe = lambda digest: object_kind(self.meta, digest)
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
            _check_database_url(database_url)
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
            with workspace.meta.begin() as connection:
                workspace.meta.record_event(
                    connection, workspace.author, "init", str(root), {"schema": schema_version}
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
        if migrate and workspace.meta.schema_version() != schema.LATEST:
            workspace.meta.migrate()
        return workspace

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

    def ingest(self, path: str | Path, id_column: str, name: str | None = None) -> dict:
        from segtrail.services.datasets import ingest

        return ingest(self, path, id_column, name)

    def datasets(self) -> list[dict]:
        from segtrail.services.datasets import list_datasets

        return list_datasets(self)

    def dataset(self, ref: str, rows: int = 0) -> dict:
        """Schema, row count and column summaries; with `rows`, also the first rows by id."""
        from segtrail.services.datasets import get_dataset

        return get_dataset(self, ref, rows=rows)

    def dataset_frame(self, ref: str) -> Any:
        from segtrail.services.datasets import load_frame, resolve_dataset

        return load_frame(self, resolve_dataset(self, ref))

    def fsck(self, *, prune: bool = False, grace_hours: float = 24.0) -> dict:
        """Re-hash every object and check every reference; with `prune`, first remove
        unreferenced objects and stray temporaries older than `grace_hours`."""
        from segtrail.services.fsck import fsck

        return fsck(self, prune=prune, grace_hours=grace_hours)

    def discard_unrecorded(self) -> list[str]:
        """Remove the objects this session wrote that no record references (after a
        failed command). Returns their digests."""
        from segtrail.services.fsck import discard_unrecorded

        return discard_unrecorded(self)

    def events(self, limit: int | None = None) -> list[dict]:
        from segtrail.services.history import list_events

        return list_events(self, limit)

    # --- segmentations -------------------------------------------------------------------

    def segment(self, dataset: str, lens: str, hypothesis: str, **options: Any) -> dict:
        from segtrail.services.segmentations import segment

        return segment(self, dataset, lens, hypothesis, **options)

    def revisit(self, ref: str, dataset: str | None = None, **options: Any) -> dict:
        from segtrail.services.segmentations import revisit

        return revisit(self, ref, dataset, **options)

    def show(self, ref: str) -> dict:
        from segtrail.services.segmentations import show

        return show(self, ref)

    def log(self, lens: str | None = None) -> list[dict]:
        from segtrail.services.segmentations import log

        return log(self, lens)

    def assignments(self, ref: str) -> Any:
        from segtrail.services.segmentations import load_assignments, resolve_segmentation

        return load_assignments(self, resolve_segmentation(self, ref))

    def name(self, ref: str, segment: int, name: str, description: str | None = None) -> dict:
        from segtrail.services.annotations import name_segment

        return name_segment(self, ref, segment, name, description)

    def tag(self, ref: str, segment: int, key: str, value: str | None) -> dict:
        from segtrail.services.annotations import tag_segment

        return tag_segment(self, ref, segment, key, value)

    def adopt(self, ref: str) -> dict:
        from segtrail.services.annotations import set_status

        return set_status(self, ref, "adopted")

    def retire(self, ref: str) -> dict:
        from segtrail.services.annotations import set_status

        return set_status(self, ref, "retired")

    def export(self, ref: str, out: str | Path) -> dict:
        from segtrail.services.use import export

        return export(self, ref, out)

    def assign(self, ref: str, file: str | Path, out: str | Path) -> dict:
        from segtrail.services.use import assign

        return assign(self, ref, file, out)

    # --- strategies and plans ------------------------------------------------------------

    def strategy_add(self, name: str, message: str, channels: list[str], **options: Any) -> dict:
        from segtrail.services.plans import add_strategy

        return add_strategy(self, name, message, channels, **options)

    def strategies(self) -> list[dict]:
        from segtrail.services.plans import list_strategies

        return list_strategies(self)

    def plan_map(self, strategy: str, ref: str, segments: list[int] | str, **options: Any) -> dict:
        from segtrail.services.plans import map_strategy

        return map_strategy(self, strategy, ref, segments, **options)

    def plan_unmap(self, strategy: str, ref: str) -> dict:
        from segtrail.services.plans import unmap_strategy

        return unmap_strategy(self, strategy, ref)

    def plan_show(self, ref: str, revision: int | None = None) -> dict:
        from segtrail.services.plans import show_plan

        return show_plan(self, ref, revision)

    def plan_history(self, lens: str) -> list[dict]:
        from segtrail.services.plans import plan_history

        return plan_history(self, lens)

    # --- the thread ------------------------------------------------------------------------

    def diff(self, a: str, b: str, min_jaccard: float = 0.5) -> dict:
        from segtrail.services.thread import diff

        return diff(self, a, b, min_jaccard)

    def carry(self, old: str, new: str, min_jaccard: float = 0.5, apply: bool = False) -> dict:
        from segtrail.services.thread import carry

        return carry(self, old, new, min_jaccard, apply)

    def compare(self, a: str, b: str, flags: dict[str, str] | None = None) -> dict:
        from segtrail.services.thread import compare

        return compare(self, a, b, flags)

    def why(self, strategy: str) -> dict:
        from segtrail.services.thread import why

        return why(self, strategy)

    # --- campaigns and audiences ---------------------------------------------------------

    def campaign_import(self, path: str | Path, name: str, strategy: str) -> dict:
        from segtrail.services.campaigns import import_campaign

        return import_campaign(self, path, name, strategy)

    def campaign_report(self, name: str, by: str | None = None) -> dict:
        from segtrail.services.campaigns import report

        return report(self, name, by)

    def campaigns(self) -> list[dict]:
        from segtrail.services.campaigns import list_campaigns

        return list_campaigns(self)

    def lookalike(self, pool: str, out: str | Path, **options: Any) -> dict:
        from segtrail.services.audiences import lookalike

        return lookalike(self, pool, out, **options)

    def audiences(self) -> list[dict]:
        from segtrail.services.audiences import list_audiences

        return list_audiences(self)

    def audience_export(self, target: str, fmt: str, out: str | Path) -> dict:
        from segtrail.services.audiences import export_audience

        return export_audience(self, target, fmt, out)

    def report(self, ref: str, out: str | Path, diff: str | None = None) -> dict:
        from segtrail.services.reports import write_report

        return write_report(self, ref, out, diff)
