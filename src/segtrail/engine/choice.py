"""The default path: which algorithm, which k and which column weights, when the user did
not say.

Rules (each decision comes with a sentence for the version's notes):

- Algorithm, by the data's kinds: when any feature is categorical or yes/no, the latent
  class model (``lca``): it models a categorical column by each segment's level shares
  instead of distances between 0/1 columns, so neither kind swamps the other whatever the
  number of levels, and it leaves missing values out instead of imputing them. When every
  feature is numeric, by measured fit: the latent class model (a spread per segment and
  column) against its special case with one spread per column shared by every segment, the
  model k-means assumes on standardized columns, and a Gaussian mixture with a full
  covariance matrix per segment (``gmm``), the one model of the three that lets columns
  move together within a segment (``compare_numeric``). The lowest BIC wins; a tie goes to
  k-means (simpler, and the usual choice). Without the full-covariance candidate, data with
  correlated columns within segments (most real numeric tables: iris, wine, breast cancer)
  were fitted by a model that assumes them independent, and BIC ran to the top of the k
  range (see bench/RESULTS.md, "real").
- k: by ``kmixture.choose_k_mixture`` (curve, runner-up, split-half stability per k).
- Weights: a column independent of every other column (``features.dependence_screen``)
  is pure noise: segments show up as columns that move together. Its weight becomes 0 (it
  stays in the profiles, the report and the per-feature contributions). Screening before
  the fit matters: a Gaussian class model splits a flat (uniform) noise column in two and
  would then call it informative. User weights are kept for every other column.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from segtrail.engine.algorithms.base import require_k, sample_rows
from segtrail.engine.features import Progress, dependence_screen
from segtrail.engine.kmixture import CLOSE, SWEEP_SAMPLE, add_split_half, mixture_sweep

MAX_NOISE_SHARE = 0.5  # never drop more than half of the columns as noise
# The full-covariance candidate: a variance floor as the latent class model's (standardized
# units), and two k-means++ starts per k on the sweep sample.
GMM_REG_COVAR = 0.01
GMM_SWEEP_N_INIT = 2
FULL_COVARIANCE = {"covariance_type": "full", "reg_covar": GMM_REG_COVAR}
GMM_RULE = (
    "lowest BIC of a Gaussian mixture with a full covariance matrix per segment (its model "
    "allows columns that move together within a segment, so BIC does not run on past the "
    "segments)"
)


def choose_default(
    M: np.ndarray,
    levels: list[int],
    weights: list[float],
    names: list[str],
    k: int | str,
    k_range: tuple[int, int],
    seed: int,
    progress: Progress | None = None,
) -> dict:
    """Decide the algorithm, its parameters and the column weights for a model matrix
    (``features.model_matrix``). Returns {"algorithm", "params", "selection" (or None),
    "noise": [column names], "notes": [sentences]}."""
    if k not in (None, "auto"):
        require_k({"k": k}, len(M))  # the same words as every algorithm's own check
    weights = [float(w) for w in weights]
    notes = [_algorithm_reason(levels, names)]
    layout = {"levels": [int(v) for v in levels], "feature_weights": weights}
    rows = sample_rows(len(M), SWEEP_SAMPLE, seed)
    noise = _noise_columns(dependence_screen(M[rows], levels), weights)
    if noise:
        weights = [0.0 if j in noise else w for j, w in enumerate(weights)]
        layout["feature_weights"] = weights
        words = ", ".join(names[j] for j in noise)
        notes.append(
            f"pure-noise columns left out of the segments (weight 0): {words}; each is "
            "independent of every other column, so it carries no segment structure"
        )
    algorithm = "lca"
    selection = None
    if not any(levels):  # all numeric: k-means' model or one spread per segment?
        algorithm, selection, reason = compare_numeric(M, layout, k, k_range, seed, progress)
        notes[0] = reason
    elif k in (None, "auto"):
        selection, _, _ = mixture_sweep(M, k_range, seed, layout, progress=progress)
    if k in (None, "auto"):
        chosen = int(selection["chosen_k"])
        notes.append(f"k={chosen} chosen automatically: {selection['rule']}")
        if selection["runner_up"] is not None and selection["runner_up_close"]:
            notes.append(f"k={selection['runner_up']} is a close runner-up; both are plausible")
        notes += selection["notes"]
    else:
        chosen = int(k)
    params = {"k": chosen}
    if algorithm == "lca":
        params |= layout
    elif algorithm == "gmm":
        params |= selection["model_params"] if selection else FULL_COVARIANCE
    return {
        "algorithm": algorithm,
        "params": params,
        "selection": selection,
        "noise": [names[j] for j in noise],
        "weights": weights,
        "notes": notes,
    }


def compare_numeric(
    M: np.ndarray, layout: dict, k, k_range, seed: int, progress
) -> tuple[str, dict, str]:
    """All-numeric data: three models compared by their best BIC over the k range on the
    same sample: the latent class model (a spread per segment and column), its special case
    with one spread per column shared by every segment (the model k-means assumes on
    standardized columns), and a Gaussian mixture with a full covariance matrix per segment.
    The lowest wins; a tie goes to k-means. Returns (algorithm, k selection, reason)."""
    low, high = (k, k) if k not in (None, "auto") else k_range
    own, _, _ = mixture_sweep(M, (low, high), seed, layout, progress=progress, split_half=False)
    shared_layout = {**layout, "shared_variance": True}
    shared, _, _ = mixture_sweep(M, (low, high), seed, shared_layout, split_half=False)
    full = full_covariance_sweep(M, layout, (low, high), seed)
    best = {
        name: min(r["bic"] for r in sel["curve"])
        for name, sel in (("own", own), ("shared", shared), ("full", full))
    }
    words = (
        f"BIC {best['full']:,.0f} with correlated columns, {best['own']:,.0f} with a spread "
        f"per segment, {best['shared']:,.0f} with one shared spread"
    )
    if best["shared"] <= min(best["own"], best["full"]):
        chosen, algorithm, layout = shared, "kmeans", shared_layout
        reason = (
            "k-means chosen (no --algorithm given): every feature is numeric, and one spread "
            "per column shared by all segments (the model k-means assumes) fits as well as "
            f"the richer models ({words})"
        )
    elif best["full"] < best["own"]:
        reason = (
            "Gaussian mixture with a full covariance matrix per segment chosen (no "
            "--algorithm given): every feature is numeric, and the columns move together "
            "within segments, which this model allows and the others do not "
            f"({words}); missing values are filled with the column's typical value"
        )
        return "gmm", full, reason
    else:
        chosen, algorithm = own, "lca"
        reason = (
            "latent class model chosen (no --algorithm given): every feature is numeric, and "
            "segments with their own spread per column fit better than the one shared spread "
            f"k-means assumes or correlated columns ({words}); missing values are left out, "
            "not imputed"
        )
    if k in (None, "auto"):
        add_split_half(chosen, M[sample_rows(len(M), SWEEP_SAMPLE, seed)], layout, seed)
    return algorithm, chosen, reason


def full_covariance_sweep(M: np.ndarray, layout: dict, k_range, seed: int) -> dict:
    """BIC per k of a full-covariance Gaussian mixture on the sweep sample of the columns
    with a weight (missing values at 0, the column mean in standardized units), in the
    k selection's shape; k by lowest BIC (the model's assumptions hold on correlated
    columns, so BIC has no reason to run on)."""
    from segtrail.engine.algorithms.gmm import _fit_mixture

    rows = sample_rows(len(M), SWEEP_SAMPLE, seed)
    active = [j for j, w in enumerate(layout["feature_weights"]) if w > 0]
    Xs = np.nan_to_num(np.asarray(M[rows][:, active], dtype=np.float64), nan=0.0)
    curve = []
    for kk in range(int(k_range[0]), int(k_range[1]) + 1):
        model = _fit_mixture(Xs, kk, "full", GMM_REG_COVAR, GMM_SWEEP_N_INIT, seed)
        curve.append({"k": kk, "bic": float(model.bic(Xs))})
    ranked = sorted(curve, key=lambda r: (r["bic"], r["k"]))
    second = ranked[1] if len(ranked) > 1 else None
    return {
        "curve": curve,
        "criterion": "bic",
        "rule": GMM_RULE,
        "notes": [],
        "sample_size": len(rows),
        "chosen_k": int(ranked[0]["k"]),
        "runner_up": int(second["k"]) if second else None,
        "runner_up_close": bool(second and second["bic"] - ranked[0]["bic"] < CLOSE),
        "model_params": dict(FULL_COVARIANCE),
    }


def _algorithm_reason(levels: list[int], names: list[str]) -> str:
    categorical = [n for n, lv in zip(names, levels, strict=True) if lv > 0]
    if categorical:
        return (
            "latent class model chosen (no --algorithm given): the data has categorical or "
            f"yes/no columns ({_names(categorical)}), which it models by each segment's level "
            "shares rather than by distances between 0/1 columns; missing values are left "
            "out, not imputed"
        )
    return "every feature is numeric"  # replaced by compare_numeric's reason


def _noise_columns(screen: list[dict], weights: list[float]) -> list[int]:
    active = [j for j, w in enumerate(weights) if w > 0]
    noise = [j for j in active if screen[j]["noise"]]
    if len(noise) > MAX_NOISE_SHARE * len(active):  # no structure to speak of: keep all
        return []
    return noise


def default_fit(
    M: np.ndarray,
    levels: list[int],
    weights: list[float],
    names: list[str],
    k: int | str,
    k_range: tuple[int, int],
    seed: int,
    progress: Progress | None = None,
    extra_params: dict | None = None,
    kmeans_matrix: Callable[[list[float]], np.ndarray] | None = None,
):
    """``choose_default`` then the chosen model fitted on every row (sample and assign).
    ``kmeans_matrix(weights)`` gives the standardized one-hot matrix with those column
    weights, for when k-means is chosen. Returns (FitResult, decision); the FitResult's
    notes start with the decision's, and ``decision["matrix"]`` is the matrix it saw."""
    from segtrail.engine.algorithms import get_algorithm

    decision = choose_default(M, levels, weights, names, k, k_range, seed, progress)
    algo = get_algorithm(decision["algorithm"])
    if progress:
        progress(f"fitting {algo.name} with k={decision['params']['k']}", None)
    if algo.name in ("kmeans", "gmm"):
        if kmeans_matrix is None:
            raise ValueError(f"{algo.name} was chosen but no kmeans_matrix was given")
        decision["matrix"] = kmeans_matrix(decision["weights"])
    else:
        decision["matrix"] = M
    result = algo.fit(decision["matrix"], {**(extra_params or {}), **decision["params"]}, seed)
    result.notes[:0] = decision["notes"]
    return result, decision


def _names(names: list[str], most: int = 6) -> str:
    return ", ".join(names[:most]) + (", ..." if len(names) > most else "")
