"""Segmentations: every clustering hypothesis is an immutable version LENS@N.

`segment` runs the engine (features -> algorithm -> quality -> stability -> profiles) and
records everything needed to understand and reproduce the version: dataset, feature spec,
every parameter actually used, seed, hypothesis, metrics, assignments, profiles and the
fitted state for assigning new customers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
from threadpoolctl import threadpool_limits

from segtrail import __version__
from segtrail.engine.algorithms import get_algorithm
from segtrail.engine.algorithms.base import sample_rows
from segtrail.engine.diff import diff_assignments
from segtrail.engine.features import (
    build_spec,
    describe_spec,
    feature_contributions,
    fit_features,
    model_matrix,
    transform_features,
)
from segtrail.engine.kinds import FEATURE_KINDS
from segtrail.engine.profiles import profile_segments
from segtrail.errors import InvalidInput, NotFound, SegtrailError
from segtrail.services.datasets import kinds_of, load_frame, resolve_dataset
from segtrail.services.refs import check_name, parse_ref
from segtrail.services.results import LogEntry, Segment, Version
from segtrail.store.segmentations import NewSegmentation

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace

Progress = Callable[[str, float | None], None]

# Bootstrap stability refits the algorithm STABILITY_BOOTSTRAPS times on resamples of a
# STABILITY_SAMPLE-customer sample; k-means refits use at most STABILITY_N_INIT starts, which
# is plenty on a sample and keeps stability a small share of a 1M-customer run.
STABILITY_BOOTSTRAPS = 20
STABILITY_SAMPLE = 3_000
STABILITY_N_INIT = 3
PARALLEL_ABOVE = 20_000
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
) -> Version:
    """Cluster a dataset and record the result as the next version of `lens`.

    ``algorithm`` None (or "auto"): segtrail chooses the algorithm, k and column weights
    from the data (``engine.choice``) and says why in the version's notes. Otherwise
    ``k``, ``k_range`` and ``params`` are the algorithm's declared parameters (see
    ``segtrail.engine.algorithms``); None means the algorithm's default.
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
    return _run_and_record(ws, dataset_row, lens, hypothesis.strip(), request, parent_row, progress)


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
        ws, dataset_row, old["lens"], text, request, old, progress, action="revisit"
    )
    # The same hypothesis again: segments that are kept keep the names people gave them.
    from segtrail.services.annotations import inherit_names  # annotations imports this module

    new = resolve_segmentation(ws, version["version"])
    delta = diff_assignments(load_assignments(ws, old), load_assignments(ws, new))
    carried = inherit_names(ws, old, new, delta)
    return show(ws, version["version"]) if carried["inherited"] else version


def compute(
    frame: pd.DataFrame,
    kinds: dict[str, str],
    id_column: str,
    request: dict,
    progress: Progress | None = None,
) -> dict:
    """The pure part of `segment`: from a customer frame to labels, metrics and profiles.

    With no algorithm in the request, ``engine.choice.default_fit`` chooses it (with k and
    column weights); the latent class model (``lca``) sees ``features.model_matrix``
    (codes and NaN), every other algorithm the standardized one-hot matrix."""
    # Imported here, not at the top: they bring scikit-learn and SciPy (~1 s), which the
    # read side of this module (`show`, `log`, ...) never needs.
    from segtrail.engine.choice import default_fit
    from segtrail.engine.kselect import DEFAULT_K_RANGE
    from segtrail.engine.quality import quality_metrics
    from segtrail.engine.stability import bootstrap_stability

    progress = progress or _noop
    spec = build_spec(
        frame, kinds, id_column, request["features"], request["exclude"], request["weights"]
    )
    progress("preparing features", None)
    X, fitted = fit_features(frame, spec)
    names = [col["column"] for col in fitted["columns"]]
    M = levels = weights = None
    if request["algorithm"] in (None, "lca"):  # k-means alone does not pay for this matrix
        M, levels, weights = model_matrix(frame, fitted)
    params = dict(request["params"])
    # Small fits run faster on one thread: OpenMP threads fighting over two busy cores cost
    # more than they bring below a few tens of thousands of rows.
    threads = 1 if len(frame) < PARALLEL_ABOVE else None
    decision = None
    with threadpool_limits(limits=threads):
        if request["algorithm"] is None:
            progress(f"choosing the model for {len(frame):,} customers", None)
            k_request = params.pop("k", "auto")
            k_range = tuple(params.pop("k_range", DEFAULT_K_RANGE))
            result, decision = default_fit(
                M,
                levels,
                weights,
                names,
                k_request,
                k_range,
                request["seed"],
                progress,
                params,
                kmeans_matrix=lambda w: transform_features(frame, _reweighted(fitted, w)),
            )
            algo = get_algorithm(decision["algorithm"])
            if algo.name == "kmeans":  # noise columns at weight 0 in what assign replays
                fitted = _reweighted(fitted, decision["weights"])
                X = decision["matrix"]
        else:
            algo = get_algorithm(request["algorithm"])
            if algo.name == "lca":
                params |= {"levels": levels, "feature_weights": weights}
            progress(f"clustering {len(frame):,} customers with {algo.name}", None)
            result = algo.fit(M if algo.name == "lca" else X, params, request["seed"])
    model_X = M if algo.name == "lca" else X
    if algo.name == "lca":
        fitted = {**fitted, "model_input": "model_matrix"}  # how `assign` must prepare rows
    labels = result.labels
    used = dict(result.params)
    selection = used.pop("k_selection", None)
    if decision is not None:
        selection = decision["selection"]
        used["chosen_by"] = "segtrail (no --algorithm given)"
        used["noise_columns"] = decision["noise"]
    progress("measuring quality", None)
    quality = quality_metrics(X, labels, request["seed"])
    progress("measuring stability (bootstrap)", None)
    refit_params = algo.refit_params(result.params)
    if "n_init" in refit_params:
        refit_params["n_init"] = min(int(refit_params["n_init"]), STABILITY_N_INIT)
    if algo.name == "lca":
        # Refits keep the k-1 split starts but one random start: the bootstrap was the
        # largest share of a 1M-customer default run. The fitted segments are unchanged.
        refit_params["n_init"] = 1
    with threadpool_limits(limits=1):  # refits run on small samples
        stability = bootstrap_stability(
            model_X,
            labels,
            lambda X_sub, s: algo.fit(X_sub, dict(refit_params), s).labels,
            n_boot=STABILITY_BOOTSTRAPS,
            sample_size=STABILITY_SAMPLE,
            seed=request["seed"],
        )
    progress("profiling segments", None)
    profile_columns = [c for c, kind in kinds.items() if kind in FEATURE_KINDS]
    profiles = profile_segments(frame, kinds, labels, columns=profile_columns)
    k = int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0
    notes = list(result.notes)
    if isinstance(used.get("k"), int) and k < used["k"]:
        notes.append(
            f"k={used['k']} was asked, but only {k} segments hold customers "
            "(too few distinct customers on these features)"
        )
    return {
        "labels": labels,
        "confidence": result.confidence,
        "state": result.state,
        "notes": notes + quality.pop("notes", []) + [stability.get("note", "")],
        "used": used,
        "selection": selection,
        "quality": quality,
        "stability": stability,
        "profiles": profiles,
        "spec": spec,
        "fitted": fitted,
        "features": _with_contributions(describe_spec(fitted), frame, fitted, labels, used),
        "k": k,
        "algorithm": algo.name,
        "confidence_meaning": algo.confidence_meaning,
    }


CONTRIBUTION_SAMPLE = 50_000


def _reweighted(fitted: dict, weights: list[float]) -> dict:
    columns = [{**c, "weight": w} for c, w in zip(fitted["columns"], weights, strict=True)]
    return {**fitted, "columns": columns}


def _with_contributions(
    rows: list[dict],
    frame: pd.DataFrame,
    fitted: dict,
    labels: np.ndarray,
    used: dict,
) -> list[dict]:
    """Each feature row plus how much the segments explain of it (on a seeded sample) and
    the weight the model gave it (0 for columns left out as pure noise)."""
    idx = sample_rows(len(frame), CONTRIBUTION_SAMPLE, 0)
    sample, levels, _ = model_matrix(frame.iloc[idx], fitted)
    contributions = feature_contributions(sample, levels, labels[idx])
    model_weights = used.get("feature_weights")
    out = []
    for j, (row, c) in enumerate(zip(rows, contributions, strict=True)):
        extra = {"explained": c["explained"], "bic_gain": c["bic_gain"], "noise": c["noise"]}
        if model_weights is not None:
            extra["model_weight"] = float(model_weights[j])
        out.append({**row, **extra})
    return out


def _run_and_record(
    ws: Workspace,
    dataset_row: dict,
    lens: str,
    hypothesis: str,
    request: dict,
    parent_row: dict | None,
    progress: Progress | None,
    action: str = "segment",
) -> Version:
    from segtrail.services.retirement import check_in_use

    check_in_use(ws, "dataset", dataset_row["name"], "segment it")
    progress = progress or _noop
    progress(f"reading {dataset_row['name']}@{dataset_row['version']}", None)
    kinds = kinds_of(dataset_row)
    id_column = dataset_row["id_column"]
    # Columns the user named are read too, so a text column in --features is refused as
    # text rather than reported as unknown.
    named = {*(request["features"] or []), *(request["exclude"] or []), *(request["weights"] or {})}
    wanted = [
        c for c, kind in kinds.items() if kind in FEATURE_KINDS or c == id_column or c in named
    ]
    frame = load_frame(ws, dataset_row, wanted)
    out = compute(frame, kinds, id_column, request, progress)
    if request["algorithm"] is None:  # recorded as chosen; a revisit chooses again
        request = {**request, "algorithm": out["algorithm"], "algorithm_chosen_by": "segtrail"}

    progress("saving", None)
    scalars = {key: v for key, v in out["state"].items() if not isinstance(v, np.ndarray)}
    arrays = {key: v for key, v in out["state"].items() if isinstance(v, np.ndarray)}
    assignments = pa.table(
        {
            "customer_id": pa.array(frame[id_column].to_numpy()),
            "segment": pa.array(out["labels"].astype(np.int32)),
            "confidence": pa.array(np.asarray(out["confidence"], dtype=np.float32)),
        }
    )
    assignments_hash, assignments_size = ws.objects.put_table(assignments)
    state_hash, state_size = ws.objects.put_arrays(arrays)
    params_json = {
        "request": request,
        "used": out["used"],
        "state": scalars,
        "notes": [n for n in out["notes"] if n],
        "confidence": out["confidence_meaning"],
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
    return {seg: history[-1]["name"] for seg, history in segment_labels(ws, row["id"]).items()}


def load_assignments(ws: Workspace, row: dict) -> pd.Series:
    """Segment label per customer id (a Series indexed by customer id)."""
    table = ws.objects.read_table(row["assignments_hash"], columns=["customer_id", "segment"])
    return pd.Series(
        table["segment"].to_numpy(),
        index=pd.Index(table["customer_id"].to_numpy(zero_copy_only=False), name="customer_id"),
        name="segment",
    )


def ref_of(row: dict) -> str:
    return f"{row['lens']}@{row['version']}"


def show(ws: Workspace, ref: str) -> Version:
    """Everything about one version, as plain data."""
    row = resolve_segmentation(ws, ref)
    params, metrics = row["params"], row["metrics"]
    profiles, spec = row["profiles"], row["feature_spec"]
    dataset = resolve_dataset(ws, row["dataset_id"])
    labels = segment_labels(ws, row["id"])
    tags = segment_tags(ws, row["id"])
    status_history = statuses(ws, [row["id"]]).get(row["id"], [])
    jaccard = {int(k): v for k, v in (metrics["stability"].get("jaccard") or {}).items()}
    parent = resolve_segmentation(ws, row["parent_id"]) if row["parent_id"] else None
    segments = []
    for profile in profiles["segments"]:
        label = profile["segment"]
        history = labels.get(label, [])
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
