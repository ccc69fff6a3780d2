"""Choosing the number of segments of the latent class model (``lca``).

The sweep fits every k of the range on a seeded sample and records per k:

- ``bic``: -2 log-likelihood + parameters x log(customers) (lower is better);
- ``icl``: BIC + 2 x the entropy of the class memberships, which also penalizes segments
  that overlap so much that customers cannot be told apart (Biernacki et al. 2000);
- ``stability``: split-half agreement: the model is fitted on two disjoint halves of the
  sample, every customer of the sample is assigned by both, and the adjusted Rand index of
  the two assignments is recorded (1 = the same segments whichever half was seen; close to
  0 = the segments depend on who happened to be sampled). It is shown so that a user sees
  when a k is fragile; see ``RULE`` for how it votes.

Rule: see ``RULE`` (chosen on the tuning half of the benchmark family, bench/family.py;
the alternatives measured there are listed in bench/RESULTS.md). The runner-up is the k
with the next best criterion; it is reported as close when its criterion is within
``CLOSE`` of the chosen one (a BIC difference below 10 is less than "very strong"
evidence in Kass & Raftery's 1995 reading).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import adjusted_rand_score

from segtrail.engine.algorithms.base import fmt_int, sample_rows
from segtrail.engine.algorithms.lca import LCA, VAR_FLOOR, Data, as_model_matrix, grow
from segtrail.engine.algorithms.lca import layout as layout_arrays
from segtrail.engine.features import Progress
from segtrail.errors import SegtrailError

SWEEP_SAMPLE = 4_000
CRITERION = "bic"
CLOSE = 10.0
MIN_STABILITY = 0.0  # a k whose split-half agreement is below this cannot be chosen
RULE = "lowest BIC (Bayesian information criterion) of the latent class model"


def choose_k_mixture(
    X: np.ndarray,
    k_range: tuple[int, int],
    seed: int,
    params: dict,
    sample_size: int = SWEEP_SAMPLE,
    progress: Progress | None = None,
    split_half: bool = True,
) -> dict:
    """Sweep k over ``k_range`` with the latent class model; see the module doc. Returns
    {"curve": [{k, log_likelihood, bic, icl, n_params, smallest_share, stability}],
    "chosen_k", "runner_up", "runner_up_close", "criterion", "rule", "notes",
    "sample_size"} (JSON)."""
    return mixture_sweep(X, k_range, seed, params, sample_size, progress, split_half)[0]


def mixture_sweep(
    X: np.ndarray,
    k_range: tuple[int, int],
    seed: int,
    params: dict,
    sample_size: int = SWEEP_SAMPLE,
    progress: Progress | None = None,
    split_half: bool = True,
) -> tuple[dict, dict, np.ndarray]:
    """``choose_k_mixture`` plus the sweep's fits {k: {"labels", "model", ...}} and the
    indices of the sampled rows."""
    X = as_model_matrix(X)
    low, high = int(k_range[0]), int(k_range[1])
    idx = sample_rows(len(X), sample_size, seed)
    Xs = X[idx]
    if high >= len(Xs):
        raise SegtrailError(f"k range up to {high} needs more than {len(Xs):,} customers")
    ks = list(range(low, high + 1))
    notes = []
    if len(idx) < len(X):
        notes.append(f"k sweep fitted on a sample of {fmt_int(len(idx))} customers")
    if progress:
        progress(f"trying k = {low}..{high} (latent class model)", 0.0)
    algo = LCA()
    layout = {
        key: params[key]
        for key in ("levels", "feature_weights", "shared_variance")
        if key in params
    }
    fits = algo.sweep(Xs, ks, layout, seed)
    curve = []
    for k in ks:
        fit = fits[k]
        row = {
            "k": k,
            "log_likelihood": fit["log_likelihood"],
            "bic": fit["bic"],
            "icl": fit["icl"],
            "n_params": fit["n_params"],
            "smallest_share": float(np.bincount(fit["labels"]).min() / len(Xs)),
        }
        curve.append(row)
    result = {
        "curve": curve,
        "criterion": CRITERION,
        "rule": RULE,
        "notes": notes,
        "sample_size": len(idx),
    }
    if split_half:
        add_split_half(result, Xs, layout, seed)
    result["chosen_k"], result["runner_up"], result["runner_up_close"] = pick(curve)
    if progress:
        progress("k chosen", 1.0)
    return result, fits, idx


def add_split_half(result: dict, Xs: np.ndarray, layout: dict, seed: int) -> None:
    """Record the split-half agreement of every k of the curve (and re-pick, since a rule
    may use it); ``Xs`` are the sweep's sampled rows."""
    agreement = split_half_agreement(Xs, [row["k"] for row in result["curve"]], layout, seed)
    for row in result["curve"]:
        row["stability"] = agreement[row["k"]]
    result["chosen_k"], result["runner_up"], result["runner_up_close"] = pick(result["curve"])


def pick(curve: list[dict], criterion: str = CRITERION) -> tuple[int, int | None, bool]:
    """(chosen k, runner-up k, whether the runner-up is close) by ``criterion``."""
    allowed = [r for r in curve if r.get("stability", 1.0) >= MIN_STABILITY] or curve
    ranked = sorted(allowed, key=lambda r: (r[criterion], r["k"]))
    best = ranked[0]
    if len(ranked) < 2:
        return int(best["k"]), None, False
    second = ranked[1]
    return int(best["k"]), int(second["k"]), bool(second[criterion] - best[criterion] < CLOSE)


def split_half_agreement(X: np.ndarray, ks: list[int], layout: dict, seed: int) -> dict:
    """Per k: ARI between the assignments (of every row of ``X``) by models fitted on two
    disjoint random halves (one ``grow`` per half serves every k)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(X))
    halves = order[: len(X) // 2], order[len(X) // 2 :]
    levels, weights = layout_arrays(layout, X.shape[1])
    full = Data(X, levels, weights)
    labels = []
    for h, rows in enumerate(halves):
        half = Data(X[rows], levels, weights)
        half.shared_variance = bool(layout.get("shared_variance", False))
        models = grow(half, max(ks), 2, seed + h, VAR_FLOOR)
        labels.append({k: np.argmax(models[k].posterior(full), axis=1) for k in ks})
    return {k: float(adjusted_rand_score(labels[0][k], labels[1][k])) for k in ks}
