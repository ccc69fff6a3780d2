"""How stable are the segments? Clusterwise Jaccard bootstrap (Hennig 2007).

On a subsample of at most ``sample_size`` customers (seeded), draw ``n_boot`` bootstrap
samples (with replacement) and refit the same algorithm with the same parameters on each.
For every original segment C, restricted to the distinct customers drawn, take the best
Jaccard similarity |C & D| / |C | D| with any segment D of the refit; average over the
bootstraps in which C appears. Noise (-1) belongs to no segment: original noise customers
are left out, and refit noise is in no D. The adjusted Rand index between the original and
the refit labels (on the distinct drawn customers that are not original noise; refit noise
counts as one more label) summarises the whole segmentation.

Hennig's reading of a segment's mean Jaccard: below 0.6 the segment dissolves (unstable),
0.6 to 0.75 it shows a pattern but which customers belong is doubtful, 0.75 and above it is
stable, 0.85 and above highly stable.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from segtrail.engine.algorithms.base import Algorithm, fmt_int, one_thread, sample_rows
from segtrail.errors import SegtrailError

Refit = Callable[[np.ndarray, int], np.ndarray]


def bootstrap_stability(
    X: np.ndarray,
    labels: np.ndarray,
    refit: Refit,
    n_boot: int = 20,
    sample_size: int = 5000,
    seed: int = 0,
    why_fewer: str = "",
) -> dict:
    """Clusterwise Jaccard bootstrap; see the module doc.

    ``refit(X_sub, seed)`` returns labels for the rows of ``X_sub``. Returns {"ari_mean",
    "ari_std", "jaccard": {segment: mean Jaccard}, "words": {segment: stability word},
    "n_boot" (refits that succeeded), "sample_size", "note"}. Segments are int keys; a value
    that cannot be measured (a segment never drawn, no successful refit) is None.
    ``why_fewer``: when fewer resamples than usual are drawn, why (ends the note).
    """
    idx = stability_rows(len(X), sample_size, seed)
    return bootstrap_stability_of_rows(
        X[idx], np.asarray(labels)[idx], len(X), refit, n_boot, seed, why_fewer
    )


def stability_rows(n: int, sample_size: int, seed: int) -> np.ndarray:
    """The seeded subsample of ``n`` customers that ``bootstrap_stability`` resamples."""
    return sample_rows(n, sample_size, seed)


def bootstrap_stability_of_rows(
    Xs: np.ndarray,
    ls: np.ndarray,
    n_total: int,
    refit: Refit,
    n_boot: int,
    seed: int,
    why_fewer: str = "",
) -> dict:
    """``bootstrap_stability`` on its subsample given directly: the rows ``Xs`` of
    ``stability_rows`` and their labels ``ls``, out of ``n_total`` customers. Lets a caller
    start the refits once those rows' labels are known (see compute/pipeline.py)."""
    # Imported here: `stability_word` is used by `segtrail show`, which must not pay for
    # scikit-learn's import.
    from sklearn.metrics import adjusted_rand_score

    m = len(Xs)
    segments = np.unique(ls[ls >= 0])
    rng = np.random.default_rng(seed)
    sums = np.zeros(len(segments))
    seen = np.zeros(len(segments))
    aris = []
    done = 0
    for b in range(n_boot):
        draw = rng.integers(0, m, size=m)
        try:
            with one_thread(m):  # sample-sized refits run faster on one thread
                boot = np.asarray(refit(Xs[draw], seed + 1 + b))
        except (ValueError, SegtrailError):  # a degenerate resample (fewer points than k...)
            continue
        done += 1
        # one label per distinct customer drawn (duplicates were fitted as copies)
        distinct, first = np.unique(draw, return_index=True)
        orig, new = ls[distinct], boot[first]
        jac, present = _best_jaccard(orig, new, segments)
        sums += np.where(present, jac, 0.0)
        seen += present
        keep = orig >= 0
        if keep.sum() > 1:
            aris.append(adjusted_rand_score(orig[keep], new[keep]))
    jaccard = {
        int(s): (float(sums[i] / seen[i]) if seen[i] else None) for i, s in enumerate(segments)
    }
    return {
        "ari_mean": float(np.mean(aris)) if aris else None,
        "ari_std": float(np.std(aris)) if aris else None,
        "jaccard": jaccard,
        "words": {s: stability_word(j) for s, j in jaccard.items()},
        "n_boot": done,
        "sample_size": int(m),
        "note": (
            f"Clusterwise Jaccard bootstrap (Hennig 2007): {done} resamples of "
            f"{fmt_int(m)} customers, each refitted with the same algorithm and parameters"
            + ("" if m == n_total else f" (a seeded subsample of {fmt_int(n_total)})")
            + (f"; {why_fewer}" if why_fewer else "")
        ),
    }


def relabelled(result: dict, mapping: dict[int, int]) -> dict:
    """A ``bootstrap_stability`` result measured under another numbering of the same
    segments, with its per-segment figures under the numbering ``mapping`` gives (old: new).
    Every figure is unchanged: Jaccard and the adjusted Rand index ignore how segments are
    numbered."""
    order = sorted(result["jaccard"], key=lambda s: mapping[s])
    return {
        **result,
        "jaccard": {mapping[s]: result["jaccard"][s] for s in order},
        "words": {mapping[s]: result["words"][s] for s in order},
    }


def fewer_resamples(algorithm: str, n_boot: int, usual: int) -> str:
    """Why a method draws ``n_boot`` resamples rather than the ``usual`` number (see
    ``Algorithm.stability_bootstraps``), for the end of the stability note."""
    return (
        f"{n_boot} resamples rather than the usual {usual}, as {algorithm} refits cost the "
        f"most: each segment's Jaccard is a mean of at most {n_boot} values, so less precise"
    )


def stability_word(j: float | None) -> str:
    """Hennig's reading of a mean Jaccard value ("" when there is none)."""
    if j is None or not np.isfinite(j):
        return ""
    if j < 0.6:
        return "unstable"
    if j < 0.75:
        return "doubtful"
    if j < 0.85:
        return "stable"
    return "highly stable"


def make_refit(algorithm: Algorithm, used_params: dict) -> Refit:
    """A refit callable for ``bootstrap_stability`` that pins the model parameters that were
    used (k, eps, ...), so every bootstrap fits the same model, not a re-chosen one."""
    pinned = algorithm.refit_params(used_params)

    def refit(X_sub: np.ndarray, seed: int) -> np.ndarray:
        return algorithm.fit(X_sub, pinned, seed).labels

    return refit


def _best_jaccard(
    orig: np.ndarray, new: np.ndarray, segments: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per original segment: best Jaccard with any refit segment, and whether it was drawn."""
    new_ids, new_codes = np.unique(np.where(new >= 0, new, -1), return_inverse=True)
    valid_new = new_ids >= 0
    orig_pos = np.searchsorted(segments, orig)
    in_orig = orig >= 0
    table = np.zeros((len(segments), len(new_ids)))
    np.add.at(table, (orig_pos[in_orig], new_codes[in_orig]), 1.0)
    size_c = np.bincount(orig_pos[in_orig], minlength=len(segments)).astype(float)
    size_d = np.bincount(new_codes, minlength=len(new_ids)).astype(float)
    union = size_c[:, None] + size_d[None, :] - table
    jac = np.where(union > 0, table / np.maximum(union, 1), 0.0)[:, valid_new]
    best = jac.max(axis=1) if jac.shape[1] else np.zeros(len(segments))
    return best, size_c > 0
