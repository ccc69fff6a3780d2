"""Bootstrap stability of a clustering (Hennig 2007, "Cluster-wise assessment of cluster
stability").

Each round draws a bootstrap sample (of a seeded subsample when the data is large), refits
the same algorithm with the same parameters, and compares: overall agreement by the adjusted
Rand index on the sampled customers, and per original segment the best Jaccard overlap with
any bootstrap cluster. A segment's stability is its mean Jaccard over the rounds. Hennig's
reading: below 0.6 the segment dissolves, 0.6-0.75 shows a pattern but is doubtful, above
0.85 it is highly stable.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.metrics import adjusted_rand_score


def stability_word(j: float | None) -> str:
    if j is None:
        return ""
    if j < 0.6:
        return "unstable"
    if j < 0.75:
        return "doubtful"
    if j < 0.85:
        return "fair"
    return "stable"


def bootstrap_stability(
    X: np.ndarray,
    labels: np.ndarray,
    refit: Callable[[np.ndarray, int], np.ndarray],
    n_boot: int = 20,
    sample_size: int = 5000,
    seed: int = 0,
) -> dict:
    labels = np.asarray(labels)
    n = len(labels)
    rng = np.random.default_rng(seed)
    base = np.arange(n) if n <= sample_size else np.sort(rng.choice(n, sample_size, replace=False))
    segments = [int(s) for s in np.unique(labels[base]) if s >= 0]
    jaccards: dict[int, list[float]] = {s: [] for s in segments}
    aris = []
    for b in range(n_boot):
        draw = base[rng.integers(0, len(base), len(base))]
        # Jaccard on distinct customers (as in Hennig's bootstrap): first copy of each.
        rows, first = np.unique(draw, return_index=True)
        try:
            boot = np.asarray(refit(X[draw], seed + b + 1))
        except ValueError:  # a degenerate resample (e.g. fewer points than clusters)
            continue
        boot_labels = boot[first]
        original = labels[rows]
        aris.append(adjusted_rand_score(original, boot_labels))
        boot_clusters = [boot_labels == c for c in np.unique(boot_labels) if c >= 0]
        for s in segments:
            mine = original == s
            if not mine.any():
                continue
            best = 0.0
            for other in boot_clusters:
                union = np.count_nonzero(mine | other)
                if union:
                    best = max(best, np.count_nonzero(mine & other) / union)
            jaccards[s].append(best)
    note = (
        f"stability: {len(aris)} bootstrap refits on a sample of {len(base):,} customers"
        if len(base) < n
        else f"stability: {len(aris)} bootstrap refits"
    )
    return {
        "ari_mean": float(np.mean(aris)) if aris else None,
        "ari_std": float(np.std(aris)) if aris else None,
        "jaccard": {s: float(np.mean(v)) if v else None for s, v in jaccards.items()},
        "n_boot": len(aris),
        "sample_size": len(base),
        "note": note,
    }
