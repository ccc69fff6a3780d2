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

Rule (``RULE``): the k with the lowest BIC, unless that k is fragile and a smaller k is
solid. The latent class model assumes the columns of a segment independent of each other
("local independence"). When they are correlated within a segment (spend and orders rise
together inside every segment, as on most real tables) BIC keeps falling past the real
number of segments: the model carves each elongated segment into pieces that make the
columns look independent, and each piece buys likelihood. Those pieces are not
reproducible: where to cut an elongated cloud depends on which half of the customers was
seen, so the split-half agreement at that k drops. So: when the split-half agreement at the
lowest-BIC k is below ``TRUST_STABILITY``, the chosen k is the largest k below it whose
agreement is at least ``STABLE``; when there is none, the lowest BIC stands.

Chosen on the tuning half of the benchmark family (bench/family.py: even replicates only;
records of the plain model's sweep with the ARI of every k, bench/family_tune.py). On 36
data sets of the product grid, where local independence holds, it changed 1 choice (k exact
36 -> 35, within one 36 -> 36, mean ARI 0.900 -> 0.911); on the 30 of the cells with
correlation within segments, lowest BIC found the planted k on 1, this rule on 17 (within
one: 2 -> 22; mean ARI 0.54 -> 0.83). A trust threshold of 0.9 instead of 0.8 did better on
the correlated cells (20 exact) but changed 2 grid choices and split off too few segments
on the planted numeric-led test table (a 6% segment lowers the agreement to 0.90).
Alternatives measured there (bench/RESULTS.md):
lowest ICL, lowest BIC among stable k, relative-improvement elbows on BIC and ICL. The
covariance variants of ``engine.choice`` remove most of the correlated cases before this
rule is needed; the rule still guards columns that move together in ways no variant fits.
The runner-up is the k with the next best BIC (the lowest-BIC k when the rule
overrode it); it is reported as close when its BIC is within ``CLOSE`` of the chosen one (a
BIC difference below 10 is less than "very strong" evidence in Kass & Raftery's 1995
reading).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import adjusted_rand_score

from segtrail.engine.algorithms.base import fmt_int, sample_rows
from segtrail.engine.algorithms.lca import (
    LCA,
    VAR_FLOOR,
    Data,
    as_model_matrix,
    grow,
    projected,
)
from segtrail.engine.features import Progress
from segtrail.errors import SegtrailError

SWEEP_SAMPLE = 4_000
CRITERION = "bic"
CLOSE = 10.0
TRUST_STABILITY = 0.8  # split-half ARI at the lowest-BIC k below this: look for a smaller k
STABLE = 0.95  # split-half ARI at least this: a k whose segments are reproducible
# the latent class model's parameters a sweep passes on (the rest are the fit's own)
LAYOUT_KEYS = (
    "levels",
    "feature_weights",
    "shared_variance",
    "numeric_covariance",
    "numeric_projection",
)
RULE = (
    "lowest BIC (Bayesian information criterion) of the latent class model, unless its "
    f"split-half stability is below {TRUST_STABILITY}: then the largest smaller k with "
    f"stability at least {STABLE}"
)


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
    layout = {key: params[key] for key in LAYOUT_KEYS if key in params}
    fits = algo.sweep(Xs, sorted({1, *ks}), layout, seed)  # k=1: the base of the elbow
    bic_one = float(fits[1]["bic"])
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
        "bic_one": bic_one,
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
    result["notes"] = [n for n in result["notes"] if not n.startswith("BIC is lowest at")]
    result["notes"] += override_note(result)


def pick(curve: list[dict], criterion: str = CRITERION) -> tuple[int, int | None, bool]:
    """(chosen k, runner-up k, whether the runner-up is close) by ``RULE`` (stability is
    used only when every row of the curve has it)."""
    ranked = sorted(curve, key=lambda r: (r[criterion], r["k"]))
    best = ranked[0]
    chosen = stable_override(curve, best) or best
    others = [r for r in ranked if r["k"] != chosen["k"]]
    if not others:
        return int(chosen["k"]), None, False
    second = others[0]
    close = abs(second[criterion] - chosen[criterion]) < CLOSE
    return int(chosen["k"]), int(second["k"]), bool(close)


def stable_override(curve: list[dict], best: dict) -> dict | None:
    """The row ``RULE`` takes instead of the lowest-BIC one, or None when it keeps it."""
    if any(r.get("stability") is None for r in curve) or best["stability"] >= TRUST_STABILITY:
        return None
    solid = [r for r in curve if r["k"] < best["k"] and r["stability"] >= STABLE]
    return max(solid, key=lambda r: r["k"]) if solid else None


def override_note(result: dict) -> list[str]:
    """A sentence for the version's notes when ``RULE`` did not take the lowest BIC."""
    curve = result["curve"]
    best = min(curve, key=lambda r: (r[CRITERION], r["k"]))
    if best["k"] == result["chosen_k"]:
        return []
    chosen = next(r for r in curve if r["k"] == result["chosen_k"])
    return [
        f"BIC is lowest at k={best['k']}, but its segments are not reproducible (split-half "
        f"stability {best['stability']:.2f}); k={chosen['k']} is the largest smaller k whose "
        f"segments are (stability {chosen['stability']:.2f}). BIC running on past a stable k "
        "usually means columns move together within segments (which the model assumes they "
        "do not), not more segments"
    ]


def split_half_agreement(X: np.ndarray, ks: list[int], layout: dict, seed: int) -> dict:
    """Per k: ARI between the assignments (of every row of ``X``) by models fitted on two
    disjoint random halves (one ``grow`` per half serves every k), or None for a k above the
    customers of the smaller half (it cannot be fitted there; ``pick`` then keeps the lowest
    BIC). A projection (``numeric_projection``) is fitted once on all of ``X``, as the sweep
    does."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(X))
    halves = order[: len(X) // 2], order[len(X) // 2 :]
    fitted = [k for k in ks if k <= min(len(rows) for rows in halves)]
    X, levels, weights = projected(as_model_matrix(X), layout)
    full = Data(X, levels, weights)
    labels = []
    for h, rows in enumerate(halves):
        if not fitted:
            break
        half = Data(X[rows], levels, weights)
        half.shared_variance = bool(layout.get("shared_variance", False))
        half.covariance = str(layout.get("numeric_covariance") or "independent")
        models = grow(half, max(fitted), 2, seed + h, VAR_FLOOR)
        labels.append({k: np.argmax(models[k].posterior(full), axis=1) for k in fitted})
    return {
        k: float(adjusted_rand_score(labels[0][k], labels[1][k])) if k in fitted else None
        for k in ks
    }
