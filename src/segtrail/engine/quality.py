"""Internal quality of one clustering, computed on samples where the metric is costly.

Silhouette is quadratic in the number of customers, so it is measured on a seeded sample
(and the result says so); Calinski-Harabasz and Davies-Bouldin are linear but are measured
on a larger sample too, which is plenty for a stable figure. Noise (-1) is left out.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

SILHOUETTE_SAMPLE = 5_000
INDEX_SAMPLE = 100_000


def quality_metrics(X: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict:
    labels = np.asarray(labels)
    n = len(labels)
    assigned = np.flatnonzero(labels >= 0)
    out: dict = {
        "customers": int(n),
        "unassigned": int(n - len(assigned)),
        "unassigned_share": float((n - len(assigned)) / n) if n else 0.0,
        "silhouette": None,
        "calinski_harabasz": None,
        "davies_bouldin": None,
        "notes": [],
    }
    k = len(np.unique(labels[assigned]))
    if k < 2 or len(assigned) <= k:
        out["notes"].append("quality indices need at least two segments")
        return out
    rng = np.random.default_rng(seed)
    rows = assigned
    if len(rows) > INDEX_SAMPLE:
        rows = np.sort(rng.choice(assigned, INDEX_SAMPLE, replace=False))
    out["calinski_harabasz"] = float(calinski_harabasz_score(X[rows], labels[rows]))
    out["davies_bouldin"] = float(davies_bouldin_score(X[rows], labels[rows]))
    sil_rows = rows
    if len(rows) > SILHOUETTE_SAMPLE:
        sil_rows = np.sort(rng.choice(rows, SILHOUETTE_SAMPLE, replace=False))
        out["notes"].append(
            f"the silhouette below is computed on a sample of {len(sil_rows):,} customers "
            "(it is quadratic in the number of customers)"
        )
    if len(np.unique(labels[sil_rows])) >= 2:
        out["silhouette"] = float(silhouette_score(X[sil_rows], labels[sil_rows]))
    out["sample_sizes"] = {"silhouette": len(sil_rows), "indices": len(rows)}
    return out
