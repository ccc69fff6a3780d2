"""The steps of `segment` as pure functions over a customer frame, shared by both engines.

The local engine runs them on the whole table (``compute``). The Spark engine runs the same
steps on a seeded sample on the driver (preparing features, choosing and fitting a model
when MLlib has none, quality, stability, contributions, profiles) and runs only the passes
over every customer in Spark; so both engines record the same spec, fitted state and
metrics, computed by the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from segtrail.engine.algorithms import Algorithm, FitResult, get_algorithm
from segtrail.engine.algorithms.base import BeforePlacing, limit_threads, sample_rows
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
from segtrail.engine.stability import (
    Refit,
    bootstrap_stability_of_rows,
    fewer_resamples,
    relabelled,
    stability_rows,
)

# Importing this module imports no scikit-learn: the local engine imports it (and prepares
# the features) while the scikit-learn modules the measures and the fit need are imported
# beside (see compute/local.py); those modules are imported where they are used.

Progress = Callable[[str, float | None], None]

# Bootstrap stability refits the algorithm STABILITY_BOOTSTRAPS times on resamples of a
# STABILITY_SAMPLE-customer sample; k-means refits use at most STABILITY_N_INIT starts, which
# is plenty on a sample and keeps stability a small share of a 1M-customer run.
STABILITY_BOOTSTRAPS = 20
STABILITY_SAMPLE = 3_000
STABILITY_N_INIT = 3
PARALLEL_ABOVE = 20_000
CONTRIBUTION_SAMPLE = 50_000


def noop(_message: str, _fraction: float | None = None) -> None:
    pass


@dataclass
class Prepared:
    """The features of a frame: spec, fitted preprocessing and the model inputs."""

    spec: dict
    fitted: dict
    X: np.ndarray  # standardized one-hot matrix
    M: np.ndarray | None  # model matrix (codes and NaN), for lca and the default path
    levels: list[int] | None
    weights: list[float] | None

    @property
    def names(self) -> list[str]:
        return [col["column"] for col in self.fitted["columns"]]


@dataclass
class Model:
    """A fitted algorithm: its result on the rows it saw, and how to prepare new rows."""

    algo: Algorithm
    result: FitResult
    fitted: dict  # the preprocessing `assign` replays (weights, model input)
    X: np.ndarray  # the scaled matrix of the rows fitted
    model_X: np.ndarray  # what the algorithm saw (X, or the model matrix for lca)
    decision: dict | None  # the default path's choice, None when the user named it


def prepare(frame: pd.DataFrame, kinds: dict[str, str], id_column: str, request: dict) -> Prepared:
    spec = build_spec(
        frame, kinds, id_column, request["features"], request["exclude"], request["weights"]
    )
    X, fitted = fit_features(frame, spec)
    M = levels = weights = None
    if request["algorithm"] in (None, "lca"):  # k-means alone does not pay for this matrix
        M, levels, weights = model_matrix(frame, fitted)
    return Prepared(spec, fitted, X, M, levels, weights)


def fit(
    frame: pd.DataFrame,
    prep: Prepared,
    request: dict,
    progress: Progress,
    early: EarlyStability | None = None,
) -> Model:
    """Fit the requested algorithm (or choose one: ``engine.choice.default_fit``).
    ``early``: where a sampled density fit starts the bootstrap refits (see EarlyStability)."""
    params = dict(request["params"])
    fitted, X = prep.fitted, prep.X
    # Small fits run faster on one thread: OpenMP threads fighting over two busy cores cost
    # more than they bring below a few tens of thousands of rows.
    small = len(frame) < PARALLEL_ABOVE
    decision = None
    with threadpool_limits(limits=1 if small else None):
        if request["algorithm"] is None:
            from segtrail.engine.choice import default_fit
            from segtrail.engine.kselect import DEFAULT_K_RANGE

            progress(f"choosing the model for {len(frame):,} customers", None)
            k_request = params.pop("k", "auto")
            k_range = tuple(params.pop("k_range", DEFAULT_K_RANGE))
            result, decision = default_fit(
                prep.M,
                prep.levels,
                prep.weights,
                prep.names,
                k_request,
                k_range,
                request["seed"],
                progress,
                params,
                kmeans_matrix=lambda w: transform_features(frame, reweighted(fitted, w)),
            )
            algo = get_algorithm(decision["algorithm"])
            if algo.name == "kmeans":  # noise columns at weight 0 in what assign replays
                fitted = reweighted(fitted, decision["weights"])
                X = decision["matrix"]
        else:
            algo = get_algorithm(request["algorithm"])
            if algo.name == "lca":
                params |= {"levels": prep.levels, "feature_weights": prep.weights}
            progress(f"clustering {len(frame):,} customers with {algo.name}", None)
            model_X = prep.M if algo.name == "lca" else X
            hook = None if early is None or small else early.hook(algo, model_X)
            result = algo.fit(model_X, params, request["seed"], before_placing=hook)
    model_X = prep.M if algo.name == "lca" else X
    if algo.name == "lca":
        fitted = {**fitted, "model_input": "model_matrix"}  # how `assign` must prepare rows
    return Model(algo, result, fitted, X, model_X, decision)


def assign_input(frame: pd.DataFrame, fitted: dict) -> np.ndarray:
    """What an algorithm's ``assign`` takes for these rows under this fitted state."""
    if fitted.get("model_input") == "model_matrix":
        return model_matrix(frame, fitted)[0]
    return transform_features(frame, fitted)


def used_params(model: Model) -> tuple[dict, dict | None]:
    """The parameters to record, and the k selection report (or None)."""
    used = dict(model.result.params)
    selection = used.pop("k_selection", None)
    if model.decision is not None:
        selection = model.decision["selection"]
        used["chosen_by"] = "segtrail (no --algorithm given)"
        used["noise_columns"] = model.decision["noise"]
    return used, selection


def stability_of(model: Model, labels: np.ndarray, seed: int) -> dict:
    rows = stability_rows(len(model.model_X), STABILITY_SAMPLE, seed)
    plan = refit_plan(model.algo, model.result.params)
    return stability_of_rows(model.model_X[rows], labels[rows], len(model.model_X), plan, seed)


def refit_plan(algo: Algorithm, params: dict) -> tuple[Refit, int, str]:
    """How the bootstrap refits ``algo`` with the model ``params``: the refit, the number of
    resamples and, when fewer than usual, why."""
    refit_params = algo.refit_params(params)
    if "n_init" in refit_params:
        refit_params["n_init"] = min(int(refit_params["n_init"]), STABILITY_N_INIT)
    if algo.name == "lca":
        # Refits keep the k-1 split starts but one random start: the bootstrap was the
        # largest share of a 1M-customer default run. The fitted segments are unchanged.
        refit_params["n_init"] = 1
    n_boot, why_fewer = STABILITY_BOOTSTRAPS, ""
    fewer = getattr(algo, "stability_bootstraps", None)  # a method whose refits cost most
    if fewer is not None and fewer < n_boot:
        n_boot, why_fewer = fewer, fewer_resamples(algo.name, fewer, STABILITY_BOOTSTRAPS)

    def refit(X_sub: np.ndarray, s: int) -> np.ndarray:
        return algo.fit(X_sub, dict(refit_params), s).labels

    return refit, n_boot, why_fewer


def stability_of_rows(
    Xs: np.ndarray, ls: np.ndarray, n_total: int, plan: tuple[Refit, int, str], seed: int
) -> dict:
    refit, n_boot, why_fewer = plan
    with limit_threads(1):  # refits run on small samples
        return bootstrap_stability_of_rows(Xs, ls, n_total, refit, n_boot, seed, why_fewer)


class EarlyStability:
    """The bootstrap refits of a sampled density fit, run beside its placement of every
    customer (the fit's longest step) rather than after it.

    The refits need only the model's parameters and the labels of the stability rows, and a
    sampled fit knows both before it places the other customers (``BeforePlacing``): the
    rows' labels are the fitted state's ``assign`` of them, in the fit's own numbering,
    which ``result`` maps to the final one (segments ordered by size). The fit runs the
    refits on one of its two placing threads (``place_in_blocks``), on one BLAS/OpenMP
    thread as always."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.measured: dict | None = None
        self.rows = self.reference = None

    def hook(self, algo: Algorithm, X: np.ndarray) -> BeforePlacing:
        def before_placing(state: dict, params: dict) -> Callable[[], None]:
            self.rows = stability_rows(len(X), STABILITY_SAMPLE, self.seed)
            Xs = X[self.rows]
            self.reference = reference = algo.assign(state, Xs)[0]
            plan = refit_plan(algo, params)

            def refits() -> None:
                self.measured = stability_of_rows(Xs, reference, len(X), plan, self.seed)

            return refits

        return before_placing

    def result(self, labels: np.ndarray) -> dict | None:
        """The refits' result under the final numbering of ``labels``; None when no refit
        ran, or when the placement did not label the stability rows as the state did (then
        the caller measures stability again from the final labels)."""
        if self.measured is None:
            return None
        mapping = same_segments(self.reference, labels[self.rows])
        return None if mapping is None else relabelled(self.measured, mapping)


def same_segments(old: np.ndarray, new: np.ndarray) -> dict[int, int] | None:
    """{old: new} when ``new`` is ``old`` with its segments renumbered one to one and noise
    (-1) kept as noise; None otherwise."""
    pairs = np.unique(np.stack([np.asarray(old), np.asarray(new)]), axis=1)
    olds, news = pairs[0].tolist(), pairs[1].tolist()
    if len(set(olds)) != len(olds) or len(set(news)) != len(news):
        return None
    mapping = dict(zip(olds, news, strict=True))
    if any((o == -1) != (n == -1) for o, n in mapping.items()):
        return None
    return mapping


def profiles_of(frame: pd.DataFrame, kinds: dict[str, str], labels: np.ndarray) -> dict:
    profile_columns = [c for c, kind in kinds.items() if kind in FEATURE_KINDS]
    return profile_segments(frame, kinds, labels, columns=profile_columns)


def k_note(used: dict, k: int) -> list[str]:
    if isinstance(used.get("k"), int) and k < used["k"]:
        return [
            f"k={used['k']} was asked, but only {k} segments hold customers "
            "(too few distinct customers on these features)"
        ]
    return []


def compute(
    frame: pd.DataFrame,
    kinds: dict[str, str],
    id_column: str,
    request: dict,
    progress: Progress | None = None,
    prep: Prepared | None = None,
) -> dict:
    """The pure part of `segment` on one machine: from a customer frame to labels, metrics
    and profiles. ``prep``: the frame's features when already prepared (``prepare``).

    With no algorithm in the request, ``engine.choice.default_fit`` chooses it (with k and
    column weights); the latent class model (``lca``) sees ``features.model_matrix``
    (codes and NaN), every other algorithm the standardized one-hot matrix."""
    from segtrail.engine.quality import quality_metrics

    progress = progress or noop
    if prep is None:
        progress("preparing features", None)
        prep = prepare(frame, kinds, id_column, request)
    # A sampled density fit runs the bootstrap refits beside its placement of every customer
    # (EarlyStability). Otherwise they run on a second thread once the fit is done, while
    # this thread measures quality, profiles the segments and measures the features'
    # contributions: each step is single-threaded on samples or columns, and their numpy and
    # scikit-learn kernels release the GIL, so the two cores share them. Every step is
    # seeded and runs on one BLAS/OpenMP thread, as the refits always did, so the figures do
    # not depend on which finishes first.
    early = EarlyStability(request["seed"])
    model = fit(frame, prep, request, progress, early)
    labels = model.result.labels
    used, selection = used_params(model)
    stability = early.result(labels)
    with threadpool_limits(limits=1), ThreadPoolExecutor(1) as side:
        if stability is None:
            progress("measuring stability (bootstrap)", None)
            refits = side.submit(stability_of, model, labels, request["seed"])
        else:  # measured during the fit: the side thread profiles instead
            profiling = side.submit(profiles_of, frame, kinds, labels)
        progress("measuring quality", None)
        quality = quality_metrics(model.X, labels, request["seed"])
        progress("profiling segments", None)
        profiles = profiles_of(frame, kinds, labels) if stability is None else profiling.result()
        features = with_contributions(
            describe_spec(model.fitted), frame, model.fitted, labels, used
        )
        if stability is None:
            stability = refits.result()
    k = int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0
    notes = list(model.result.notes) + k_note(used, k)
    return {
        "labels": labels,
        "confidence": model.result.confidence,
        "state": model.result.state,
        "notes": notes + quality.pop("notes", []) + [stability.get("note", "")],
        "used": used,
        "selection": selection,
        "quality": quality,
        "stability": stability,
        "profiles": profiles,
        "spec": prep.spec,
        "fitted": model.fitted,
        "features": features,
        "k": k,
        "algorithm": model.algo.name,
        "confidence_meaning": model.algo.confidence_meaning,
    }


def reweighted(fitted: dict, weights: list[float]) -> dict:
    columns = [{**c, "weight": w} for c, w in zip(fitted["columns"], weights, strict=True)]
    return {**fitted, "columns": columns}


def with_contributions(
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
