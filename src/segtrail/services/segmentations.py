"""Segmentations: every clustering hypothesis is an immutable version LENS@N.

`segment` runs the engine (features -> algorithm -> quality -> stability -> profiles) and
records everything needed to understand and reproduce the version: dataset, feature spec,
every parameter actually used, seed, hypothesis, metrics, assignments, profiles and the
fitted state for assigning new customers.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from segtrail import __version__
from segtrail.compute import (
    DEFAULT_ENGINE,
    AssignmentsSource,
    DatasetSource,
    Segmented,
    check_engine,
    get_engine,
)
from segtrail.compute import spark_master as resolve_master
from segtrail.engine.algorithms import get_algorithm
from segtrail.errors import InvalidInput, NotFound, SegtrailError
from segtrail.services.datasets import kinds_of, load_frame, resolve_dataset
from segtrail.services.refs import check_name, parse_ref
from segtrail.services.results import LogEntry, Segment, Version
from segtrail.store.segmentations import NewSegmentation

if TYPE_CHECKING:
    import pandas as pd

    from segtrail.services.workspace import Workspace

Progress = Callable[[str, float | None], None]

MAX_SEED = 2**31 - 1


def _noop(_message: str, _fraction: float | None = None) -> None:
    pass


def segment(
    ws: Workspace,
    dataset: str,
    lens: str,
    hypothesis: str,
    *,
    features: list[str] | None = None,
    exclude: list[str] | None = None,
    algorithm: str | None = None,
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
    """Cluster a dataset and record the result as the next version of `lens`.

    ``algorithm`` None (or "auto"): segtrail chooses the algorithm, k and column weights
    from the data (``engine.choice``) and says why in the version's notes. Otherwise
    ``k``, ``k_range`` and ``params`` are the algorithm's declared parameters (see
    ``segtrail.engine.algorithms``); None means the algorithm's default. ``engine`` is
    where it runs ("local" or "spark"; None: the workspace's setting, else local), and
    ``spark_master`` where Spark runs (see ``compute.spark_master``).
    """
    check_name(lens, "lens")
    algorithm = None if algorithm in (None, "auto") else algorithm
    if not hypothesis or not hypothesis.strip():
        raise InvalidInput(
            "a hypothesis is required: say why these features, what you expect",
            field="hypothesis",
        )
    parent_row = resolve_segmentation(ws, parent) if parent else None
    if algorithm is None:
        if params:
            raise InvalidInput(
                f"parameters {', '.join(sorted(params))} belong to a chosen algorithm; "
                "name it, or leave them out and segtrail chooses",
                field="algorithm",
            )
        # k and its range are checked as k-means declares them (the same bounds for all)
        checked = check_algorithm_params("kmeans", {"k": k, "k_range": k_range})
        requested = checked  # what was asked; the choice fills in the rest
    else:
        requested = check_algorithm_params(
            algorithm, {"k": k, "k_range": k_range, **(params or {})}
        )
    request = {
        "features": features,
        "exclude": exclude,
        "weights": weights,
        "algorithm": algorithm,
        "params": requested,
        "seed": _check_seed(seed),
    }
    dataset_row = resolve_dataset(ws, dataset)
    return _run_and_record(
        ws,
        dataset_row,
        lens,
        hypothesis.strip(),
        request,
        parent_row,
        progress,
        engine=engine,
        spark_master=spark_master,
    )


def check_algorithm_params(algorithm: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters asked of ``algorithm``, checked against its declarations (InvalidInput,
    one line, otherwise). Returns only those given (None = not given), normalized; the fit
    fills in the defaults and records them. ``k="auto"`` is also accepted by algorithms that
    find the number of segments themselves: it asks for what they do anyway."""
    algo = get_algorithm(algorithm)
    given = {name: value for name, value in params.items() if value is not None}
    if given.get("k") == "auto" and not algo.takes_k:
        del given["k"]
    checked = algo.check(given)
    return {name: checked[name] for name in given}


def _check_seed(seed: int) -> int:
    # numpy and scikit-learn take seeds in 0..2**32-1; stability adds the round number.
    if (
        isinstance(seed, bool)
        or not isinstance(seed, int | np.integer)
        or not 0 <= seed <= MAX_SEED
    ):
        raise SegtrailError(f"invalid seed {seed!r}: a whole number from 0 to {MAX_SEED}")
    return int(seed)


def revisit(
    ws: Workspace,
    ref: str,
    dataset: str | None = None,
    hypothesis: str | None = None,
    progress: Progress | None = None,
    engine: str | None = None,
    spark_master: str | None = None,
) -> Version:
    """Re-run an old hypothesis (same spec, algorithm, parameters and seed) on newer data, as
    a new version of the same lens whose parent is the old one."""
    old = resolve_segmentation(ws, ref)
    old_dataset = resolve_dataset(ws, old["dataset_id"])
    dataset_row = resolve_dataset(ws, dataset or old_dataset["name"])
    request = dict(old["params"]["request"])
    if request.pop("algorithm_chosen_by", None):  # the default path chooses on the new data
        request["algorithm"] = None
    else:
        # Versions recorded before parameters were declared may carry parameters their
        # algorithm never read (k_range for dbscan, eps for kmeans...): they had no effect.
        declared = {p.name for p in get_algorithm(request["algorithm"]).parameters}
        request["params"] = {n: v for n, v in request["params"].items() if n in declared}
    text = hypothesis or (
        f"Revisit of {old['lens']}@{old['version']} on "
        f"{dataset_row['name']}@{dataset_row['version']}: {old['hypothesis']}"
    )
    version = _run_and_record(
        ws,
        dataset_row,
        old["lens"],
        text,
        request,
        old,
        progress,
        action="revisit",
        engine=engine,
        spark_master=spark_master,
    )
    # The same hypothesis again: segments that are kept keep the names people gave them.
    from segtrail.services.annotations import inherit_names  # annotations imports this module

    new = resolve_segmentation(ws, version["version"])
    # counted by the same engine (on Spark: where the assignments live)
    runner = engine_for(ws, engine, spark_master)
    delta = runner.diff(assignments_source(ws, old), assignments_source(ws, new), 0.5)
    carried = inherit_names(ws, old, new, delta)
    return show(ws, version["version"]) if carried["inherited"] else version


def _run_and_record(
    ws: Workspace,
    dataset_row: dict,
    lens: str,
    hypothesis: str,
    request: dict,
    parent_row: dict | None,
    progress: Progress | None,
    action: str = "segment",
    engine: str | None = None,
    spark_master: str | None = None,
) -> Version:
    from segtrail.engine.kinds import FEATURE_KINDS  # here: it imports Arrow, `show` does not
    from segtrail.services.retirement import check_in_use

    check_in_use(ws, "dataset", dataset_row["name"], "segment it")
    progress = progress or _noop
    engine_name, master = engine_choice(ws, engine, spark_master)
    progress(f"reading {dataset_row['name']}@{dataset_row['version']}", None)
    kinds = kinds_of(dataset_row)
    id_column = dataset_row["id_column"]
    # Columns the user named are read too, so a text column in --features is refused as
    # text rather than reported as unknown.
    named = {*(request["features"] or []), *(request["exclude"] or []), *(request["weights"] or {})}
    wanted = [
        c for c, kind in kinds.items() if kind in FEATURE_KINDS or c == id_column or c in named
    ]
    source = DatasetSource(
        label=f"{dataset_row['name']}@{dataset_row['version']}",
        location=ws.objects.location(dataset_row["object_hash"]),
        rows=int(dataset_row["rows"]),
        columns=wanted,
        read=lambda columns: load_frame(ws, dataset_row, columns, keep_arrow=(id_column,)),
    )
    # Spark writes the assignments as part files here before they become one object.
    scratch_folder = (
        tempfile.TemporaryDirectory(prefix="spark-", dir=ws.dir)
        if engine_name == "spark"
        else contextlib.nullcontext(str(ws.dir))
    )
    with scratch_folder as scratch:
        done = get_engine(engine_name, master).segment(
            source, kinds, id_column, request, Path(scratch), progress
        )
        progress("saving", None)
        assignments_hash, assignments_size = _store_assignments(ws, done)
    out = done.record
    if request["algorithm"] is None:  # recorded as chosen; a revisit chooses again
        request = {**request, "algorithm": out["algorithm"], "algorithm_chosen_by": "segtrail"}

    scalars = {key: v for key, v in out["state"].items() if not isinstance(v, np.ndarray)}
    arrays = {key: v for key, v in out["state"].items() if isinstance(v, np.ndarray)}
    state_hash, state_size = ws.objects.put_arrays(arrays)
    params_json = {
        "request": request,
        "used": out["used"],
        "state": scalars,
        "notes": [n for n in out["notes"] if n],
        "confidence": out["confidence_meaning"],
        "engine": done.engine,  # where it ran; the results do not depend on it
    }
    metrics = {
        "quality": out["quality"],
        "k_selection": out["selection"],
        "stability": out["stability"],
    }
    spec_json = {"spec": out["spec"], "fitted": out["fitted"], "features": out["features"]}
    new = NewSegmentation(
        lens=lens,
        dataset_id=dataset_row["id"],
        hypothesis=hypothesis,
        algorithm=request["algorithm"],
        params=params_json,
        feature_spec=spec_json,
        seed=request["seed"],
        k=out["k"],
        metrics=metrics,
        profiles=out["profiles"],
        assignments=(assignments_hash, assignments_size),
        state=(state_hash, state_size),
        segtrail_version=__version__,
        labels=tuple(
            (p["segment"], p["name"], p["description"]) for p in out["profiles"]["segments"]
        ),
        parent_id=parent_row["id"] if parent_row else None,
    )
    details = {
        "dataset": f"{dataset_row['name']}@{dataset_row['version']}",
        "algorithm": request["algorithm"],
        "k": out["k"],
    }
    row = ws.meta.segmentations.append(new, ws.author, action, details)
    return show(ws, ref_of(row))


def _store_assignments(ws: Workspace, done: Segmented) -> tuple[str, int]:
    """The assignments as one content-addressed object (hashed while copied in)."""
    if done.table is not None:
        return ws.objects.put_table(done.table)
    assert done.file is not None

    def write(target) -> None:
        with open(done.file, "rb") as f:
            shutil.copyfileobj(f, target, 1 << 22)

    return ws.objects.put_stream(write)


def engine_choice(
    ws: Workspace, engine: str | None = None, spark_master: str | None = None
) -> tuple[str, str]:
    """(engine name, Spark master): the flags, else the workspace's settings, else local."""
    from segtrail.services.settings import settings  # settings reads the workspace's config

    configured = settings(ws)
    name = check_engine(engine or configured.get("engine") or DEFAULT_ENGINE)
    return name, resolve_master(spark_master, configured.get("spark_master"))


def engine_for(ws: Workspace, engine: str | None = None, spark_master: str | None = None):
    """The engine a command runs on (see ``engine_choice``)."""
    return get_engine(*engine_choice(ws, engine, spark_master))


def assignments_source(ws: Workspace, row: dict) -> AssignmentsSource:
    return AssignmentsSource(
        label=ref_of(row),
        location=ws.objects.location(row["assignments_hash"]),
        read=lambda: load_assignments(ws, row),
    )


# --- reading ---------------------------------------------------------------------------


def resolve_segmentation(ws: Workspace, ref: str | int) -> dict:
    """A segmentation row by `LENS@N`, numeric id, or `LENS` (its adopted version, else its
    newest)."""
    store = ws.meta.segmentations
    if isinstance(ref, int):
        row, label = store.by_id(ref), f"segmentation #{ref}"
    else:
        parsed = parse_ref(ref, "segmentation")
        label = str(parsed)
        version = parsed.version or store.adopted_version(parsed.name)
        row = store.get(parsed.name, version) if version else store.newest(parsed.name)
    if row is None:
        raise NotFound(f"no segmentation {label}; `segtrail log` lists them")
    return row


def statuses(ws: Workspace, segmentation_ids: list[int] | None = None) -> dict[int, list[dict]]:
    """Status history per segmentation id, oldest first."""
    return ws.meta.segmentations.statuses(segmentation_ids)


def adopted_version(ws: Workspace, lens: str) -> int | None:
    return ws.meta.segmentations.adopted_version(lens)


def segment_labels(ws: Workspace, segmentation_id: int) -> dict[int, list[dict]]:
    """Name/description history per segment, oldest first."""
    return ws.meta.segmentations.labels(segmentation_id)


def segment_tags(ws: Workspace, segmentation_id: int) -> dict[int, dict[str, str]]:
    """Current tags per segment (latest value per key; None removes)."""
    return ws.meta.segmentations.tags(segmentation_id)


def segment_names(ws: Workspace, row: dict) -> dict[int, str]:
    """Each segment's current name: one name row per segment, however often it was renamed
    (what audiences, threads, timelines and exports label segments with)."""
    current = ws.meta.segmentations.recent_labels(row["id"], 0)
    return {seg: recent.names[-1]["name"] for seg, recent in current.items()}


def load_assignments(ws: Workspace, row: dict) -> pd.Series:
    """Segment label per customer id (a Series indexed by customer id)."""
    import pandas as pd  # here, not at the top: `show` and `log` never need pandas

    table = ws.objects.read_table(row["assignments_hash"], columns=["customer_id", "segment"])
    return pd.Series(
        table["segment"].to_numpy(),
        index=pd.Index(table["customer_id"].to_numpy(zero_copy_only=False), name="customer_id"),
        name="segment",
    )


def ref_of(row: dict) -> str:
    return f"{row['lens']}@{row['version']}"


# How many names before the current one `show` lists per segment (the version page shows
# these, then links to the event log for the rest).
EARLIER_NAMES_SHOWN = 3


def show(ws: Workspace, ref: str) -> Version:
    """Everything about one version, as plain data. Each segment's `name_history` holds its
    current name and at most EARLIER_NAMES_SHOWN names before it, oldest first;
    `earlier_names_total` counts every name before the current one."""
    row = resolve_segmentation(ws, ref)
    params, metrics = row["params"], row["metrics"]
    profiles, spec = row["profiles"], row["feature_spec"]
    dataset = resolve_dataset(ws, row["dataset_id"])
    # the current name and the newest few before it: a segment's names grow with every
    # rename, and `show` (every version page) must not read them all
    labels = ws.meta.segmentations.recent_labels(row["id"], EARLIER_NAMES_SHOWN)
    tags = segment_tags(ws, row["id"])
    status_history = statuses(ws, [row["id"]]).get(row["id"], [])
    jaccard = {int(k): v for k, v in (metrics["stability"].get("jaccard") or {}).items()}
    parent = resolve_segmentation(ws, row["parent_id"]) if row["parent_id"] else None
    segments = []
    for profile in profiles["segments"]:
        label = profile["segment"]
        recent = labels.get(label)
        history = recent.names if recent else []
        current = history[-1] if history else {"name": profile["name"], "description": ""}
        segments.append(
            Segment(
                segment=label,
                size=profile["size"],
                share=profile["share"],
                name=current["name"],
                description=current["description"] or profile["description"],
                auto_name=profile["name"],
                auto_description=profile["description"],
                stability=jaccard.get(label),
                tags=tags.get(label, {}),
                distinguishing=profile["distinguishing"],
                name_history=history,
                earlier_names_total=max(recent.total - 1, 0) if recent else 0,
            )
        )
    return Version(
        version=ref_of(row),
        id=row["id"],
        lens=row["lens"],
        number=row["version"],
        parent=ref_of(parent) if parent else None,
        dataset=f"{dataset['name']}@{dataset['version']}",
        hypothesis=row["hypothesis"],
        algorithm=row["algorithm"],
        k=row["k"],
        seed=row["seed"],
        status=status_history[-1]["status"] if status_history else "draft",
        status_history=status_history,
        created_at=row["created_at"],
        author=row["author"],
        segtrail_version=row["segtrail_version"],
        parameters=params["used"],
        request=params["request"],
        notes=params["notes"],
        confidence=params.get("confidence"),
        features=spec["features"],
        metrics=metrics,
        assignments=row["assignments_hash"],
        fitted_state=row["state_hash"],
        segments=segments,
        profiles=profiles,
    )


def log(ws: Workspace, lens: str | None = None) -> list[LogEntry]:
    """Every version (of one lens or all), newest first, with parent links."""
    if lens:
        check_name(lens, "lens")
    rows = ws.meta.segmentations.list(lens or None)
    if lens and not rows:
        raise NotFound(f"no versions in lens {lens!r}; create one with `segtrail segment`")
    by_id = {r["id"]: r for r in rows}
    history = statuses(ws, list(by_id))
    datasets = {}
    out = []
    for r in rows:
        if r["dataset_id"] not in datasets:
            d = resolve_dataset(ws, r["dataset_id"])
            datasets[r["dataset_id"]] = f"{d['name']}@{d['version']}"
        parent = by_id.get(r["parent_id"]) or (
            resolve_segmentation(ws, r["parent_id"]) if r["parent_id"] else None
        )
        out.append(
            LogEntry(
                version=ref_of(r),
                lens=r["lens"],
                parent=ref_of(parent) if parent else None,
                created_at=r["created_at"],
                author=r["author"],
                algorithm=r["algorithm"],
                k=r["k"],
                status=history.get(r["id"], [{"status": "draft"}])[-1]["status"],
                dataset=datasets[r["dataset_id"]],
                hypothesis=r["hypothesis"].splitlines()[0] if r["hypothesis"] else "",
            )
        )
    return out
