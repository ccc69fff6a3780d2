"""The default path: which algorithm, which k and which column weights, when the user did
not say.

Rules (each decision comes with a sentence for the version's notes):

- Algorithm, by the data's kinds: when any feature is categorical or yes/no, the latent
  class model (``lca``): it models a categorical column by each segment's level shares
  instead of distances between 0/1 columns, so neither kind swamps the other whatever the
  number of levels, and it leaves missing values out instead of imputing them. When every
  feature is numeric, by measured fit: the latent class model against its special case
  with one spread per column shared by every segment, the model k-means assumes on
  standardized columns (``compare_numeric``); k-means is chosen when that simpler model is
  not worse by BIC.
- Correlated numeric columns: the latent class model assumes the columns of a segment
  independent. When they move together within segments (most real tables: spend, orders
  and visits rise together inside every segment), that model needs extra segments to
  mimic the correlation and BIC runs on past the real number. So with automatic k and at
  least two numeric columns of equal weight, the same model is also swept with a
  covariance matrix over the numeric columns, one per segment ("full") or one shared by all
  ("tied", the linear discriminant's model); the lowest best BIC of the variants wins (it
  pays for the extra parameters, so on columns independent within segments the plain model
  keeps winning). See ``covariance_candidates``.
- Many numeric columns (more than ``MAX_COVARIANCE_COLUMNS`` with a weight, of one
  common weight): a covariance matrix over all of them has too many parameters for the
  sweep sample, and the plain model counts correlated columns many times over (30
  measurements of one tumour, 64 pixels: BIC then runs on to the top of the k range). So
  the numeric columns are replaced by their principal components with more than one
  column's variance (Kaiser's rule, at most ``MAX_COVARIANCE_COLUMNS``;
  ``lca.fit_projection``), the analyst's usual step, and the comparisons above (k-means'
  model, the plain model, "full", "tied") run on the components by the same BIC. The
  projection is part of the fitted state. With at most ``MAX_COVARIANCE_COLUMNS`` numeric
  columns nothing changes.
- Told k (``--k`` without ``--algorithm``): the same variants are compared by BIC at that
  k (on the sweep sample), so a correlated table gets the covariance model there too.
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
from segtrail.engine.kmixture import SWEEP_SAMPLE, add_split_half, mixture_sweep

MAX_NOISE_SHARE = 0.5  # never drop more than half of the columns as noise
# More numeric columns than this: no covariance variants. A covariance matrix of g columns
# has g(g+1)/2 parameters per segment (136 at 16; 528 at 32, more than a 4,000-customer
# sweep sample supports over k = 2..12), and its EM costs grow with g squared: on 30 and 64
# columns the sweep alone took minutes on this machine.
MAX_COVARIANCE_COLUMNS = 16


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
    if wants_projection(layout):
        layout["numeric_projection"] = "pca"
        notes.append(PROJECTION_REASON)
    algorithm = "lca"
    selection = None
    if not any(levels):  # all numeric: k-means' model or one spread per segment?
        algorithm, selection, reason = compare_numeric(M, layout, k, k_range, seed, progress)
        notes[0] = reason
        layout = selection.pop("layout", layout)
        if algorithm == "kmeans" and PROJECTION_REASON in notes:  # k-means sees every column
            notes[notes.index(PROJECTION_REASON)] = PROJECTION_KMEANS
    else:
        fixed = k not in (None, "auto")
        selection, layout, reason = compare_covariances(
            M, layout, (int(k), int(k)) if fixed else k_range, seed, progress
        )
        if fixed:
            selection = None  # told k: no k selection to report (as before)
        if reason:
            notes.append(reason)
    if k in (None, "auto"):
        chosen = int(selection["chosen_k"])
        notes.append(f"k={chosen} chosen automatically: {selection['rule']}")
        if selection["runner_up"] is not None and selection["runner_up_close"]:
            notes.append(f"k={selection['runner_up']} is a close runner-up; both are plausible")
        notes += selection["notes"]
    else:
        chosen = int(k)
    params = {"k": chosen, **layout} if algorithm == "lca" else {"k": chosen}
    return {
        "algorithm": algorithm,
        "params": params,
        "selection": selection,
        "noise": [names[j] for j in noise],
        "weights": weights,
        "notes": notes,
    }


PROJECTION_REASON = (
    f"more than {MAX_COVARIANCE_COLUMNS} numeric columns: the model sees their principal "
    "components with more than one column's variance instead, so that columns that move "
    "together count once and a covariance between them can be fitted"
)


PROJECTION_KMEANS = (
    f"more than {MAX_COVARIANCE_COLUMNS} numeric columns: the models were compared on their "
    "principal components with more than one column's variance; k-means, chosen, then "
    "runs on every column"
)


def _active_numeric(layout: dict) -> list[float]:
    levels, weights = layout["levels"], layout["feature_weights"]
    return [w for w, lv in zip(weights, levels, strict=True) if lv == 0 and w > 0]


def wants_projection(layout: dict) -> bool:
    """More than ``MAX_COVARIANCE_COLUMNS`` numeric columns with a weight, all of one
    weight (a projection mixes columns, so it cannot keep different weights apart)."""
    active = _active_numeric(layout)
    return len(active) > MAX_COVARIANCE_COLUMNS and max(active) == min(active)


def covariance_candidates(layout: dict) -> dict[str, dict]:
    """The latent class model's variants worth sweeping: columns independent within a
    segment, and (with 2..``MAX_COVARIANCE_COLUMNS`` numeric columns of one common weight,
    or their principal components) a covariance matrix over them per segment ("full") or
    shared by every segment ("tied"). The column kinds are the layout's ``levels``."""
    out = {"independent": dict(layout)}
    active = _active_numeric(layout)
    few = 2 <= len(active) <= MAX_COVARIANCE_COLUMNS
    if active and (few or layout.get("numeric_projection") == "pca") and max(active) == min(active):
        for kind in ("full", "tied"):
            out[kind] = {**layout, "numeric_covariance": kind}
    return out


COVARIANCE_WORDS = {
    "independent": "each segment's own spread per column (columns independent within it)",
    "full": "a covariance matrix of the numeric columns per segment",
    "tied": "one covariance matrix of the numeric columns shared by all segments",
}


def _sweeps(M, candidates: dict[str, dict], k_range, seed: int, progress) -> dict[str, dict]:
    """Each candidate's sweep (no split-half yet). The plain model runs first over the whole
    range; the covariance variants only up to its lowest-BIC k: a model that lets columns
    move together needs no more segments than one that does not, and the full-covariance EM
    costs several times the plain one, so this keeps the default path's time."""
    low, high = int(k_range[0]), int(k_range[1])
    out = {}
    for name, layout in candidates.items():
        top = high
        if layout.get("numeric_covariance") and "independent" in out:
            plain = out["independent"]["curve"]
            top = max(low, min(plain, key=lambda r: (r["bic"], r["k"]))["k"])
        out[name] = mixture_sweep(M, (low, top), seed, layout, progress=progress, split_half=False)[
            0
        ]
    return out


def _bic_words(best: dict[str, float]) -> str:
    return ", ".join(f"{COVARIANCE_WORDS.get(n, n)} {v:,.0f}" for n, v in best.items())


def compare_covariances(
    M: np.ndarray, layout: dict, k_range, seed: int, progress
) -> tuple[dict | None, dict, str]:
    """Mixed data: the variants of ``covariance_candidates`` by their best BIC over the k
    range (lowest wins; a tie keeps the plain model), then k by the rule on the winner's
    curve with split-half stability. A range of one k (told k) only compares the variants
    at that k; with one candidate nothing is fitted (selection None). Returns (selection,
    layout, reason or "")."""
    candidates = covariance_candidates(layout)
    told_k = k_range[0] == k_range[1]
    if told_k and len(candidates) == 1:
        return None, layout, ""
    sweeps = _sweeps(M, candidates, k_range, seed, progress)
    best = {name: min(r["bic"] for r in sel["curve"]) for name, sel in sweeps.items()}
    winner = min(best, key=lambda name: (best[name], name != "independent"))
    chosen = candidates[winner]
    if not told_k:
        add_split_half(sweeps[winner], M[sample_rows(len(M), SWEEP_SAMPLE, seed)], chosen, seed)
    reason = ""
    if len(best) > 1:
        reason = (
            f"model: {COVARIANCE_WORDS[winner]} (lowest BIC of the variants: {_bic_words(best)})"
        )
    return sweeps[winner], chosen, reason


def compare_numeric(
    M: np.ndarray, layout: dict, k, k_range, seed: int, progress
) -> tuple[str, dict, str]:
    """All-numeric data: the latent class model's variants (``covariance_candidates``)
    against its special case with one spread per column shared by every segment, the model
    k-means assumes (on standardized columns), compared by their best BIC on the same
    sample. The lowest wins; a tie goes to k-means (simpler, and the usual choice). Returns
    (algorithm, k selection with the winning layout under "layout", reason)."""
    low, high = (k, k) if k not in (None, "auto") else k_range
    candidates = covariance_candidates(layout)
    candidates["shared"] = {**layout, "shared_variance": True}
    sweeps = _sweeps(M, candidates, (low, high), seed, progress)
    best = {name: min(r["bic"] for r in sel["curve"]) for name, sel in sweeps.items()}
    words = COVARIANCE_WORDS | {"shared": "one spread per column shared by all segments"}
    listed = ", ".join(f"{words[n]} {v:,.0f}" for n, v in best.items())
    if best["shared"] <= min(best.values()):
        winner, algorithm = "shared", "kmeans"
        reason = (
            "k-means chosen (no --algorithm given): every feature is numeric, and one spread "
            "per column shared by all segments (the model k-means assumes) fits as well as "
            f"the latent class model's variants (BIC: {listed})"
        )
    else:
        winner = min((n for n in best if n != "shared"), key=lambda n: best[n])
        algorithm = "lca"
        reason = (
            "latent class model chosen (no --algorithm given): every feature is numeric, and "
            f"{COVARIANCE_WORDS[winner]} fits better than the one shared spread k-means "
            f"assumes (BIC: {listed}); missing values are left out, not imputed"
        )
    chosen = sweeps[winner]
    if k in (None, "auto"):
        sample = M[sample_rows(len(M), SWEEP_SAMPLE, seed)]
        add_split_half(chosen, sample, candidates[winner], seed)
    chosen["layout"] = {key: v for key, v in candidates[winner].items() if key != "shared_variance"}
    return algorithm, chosen, reason


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
    if algo.name == "kmeans":
        if kmeans_matrix is None:
            raise ValueError("k-means was chosen but no kmeans_matrix was given")
        decision["matrix"] = kmeans_matrix(decision["weights"])
    else:
        decision["matrix"] = M
    result = algo.fit(decision["matrix"], {**(extra_params or {}), **decision["params"]}, seed)
    result.notes[:0] = decision["notes"]
    return result, decision


def _names(names: list[str], most: int = 6) -> str:
    return ", ".join(names[:most]) + (", ..." if len(names) > most else "")
