"""Tuning check of the many-column path on the family's correlated cells (tuning half
only): the default path as it is (at most 7 numeric columns: no projection) against the
same path forced onto principal components (``choice.MAX_COVARIANCE_COLUMNS`` lowered to
1), k and ARI per data set. It shows what the projection costs where it is not needed; the
product keeps it for more than 16 numeric columns.

    .venv/bin/python bench/family_tune_projection.py [per_cell]
"""

from __future__ import annotations

import sys
import time

import numpy as np
from family import designs, generate
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from segtrail.engine import choice
from segtrail.engine.features import build_spec, fit_features, model_matrix, transform_features


def default_labels(df, kinds) -> tuple[np.ndarray, dict]:
    _, fitted = fit_features(df, build_spec(df, kinds, "id"))
    M, levels, weights = model_matrix(df, fitted)
    names = [c["column"] for c in fitted["columns"]]

    def kmeans_matrix(w: list[float]) -> np.ndarray:
        columns = [{**c, "weight": wj} for c, wj in zip(fitted["columns"], w, strict=True)]
        return transform_features(df, {**fitted, "columns": columns})

    result, _ = choice.default_fit(
        M, levels, weights, names, "auto", (2, 12), 0, kmeans_matrix=kmeans_matrix
    )
    return result.labels, result.params


def main(per_cell: int) -> None:
    tuning = [d for d in designs() if not d.held_out and d.correlation != "none"]
    chosen = sorted(tuning, key=lambda d: (d.replicate, d.cell))[: 5 * per_cell]
    limit = choice.MAX_COVARIANCE_COLUMNS
    print("| cell | seed | k | as is: k, ARI | projected: k, ARI, components, model |")
    print("|---|---|---|---|---|")
    with threadpool_limits(limits=1):
        for d in chosen:
            df, truth, kinds = generate(d)
            start = time.perf_counter()
            choice.MAX_COVARIANCE_COLUMNS = limit
            plain, _ = default_labels(df, kinds)
            choice.MAX_COVARIANCE_COLUMNS = 1  # every table with 2+ numeric columns projected
            projected, params = default_labels(df, kinds)
            choice.MAX_COVARIANCE_COLUMNS = limit
            print(
                f"| {d.cell_name} | {d.seed} | {d.k} | {plain.max() + 1}, "
                f"{adjusted_rand_score(truth, plain):.3f} | {projected.max() + 1}, "
                f"{adjusted_rand_score(truth, projected):.3f}, "
                f"{params.get('projection_components', '-')}, "
                f"{params.get('numeric_covariance', 'kmeans')} |",
                flush=True,
            )
            print(f"  ({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
