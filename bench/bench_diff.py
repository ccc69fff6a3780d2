"""Diff of two segmentations of 1M customers against pandas.crosstab of the same labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
from common import Figure, best_of, time_call


def run(repeats: int = 5) -> list[Figure]:
    from segtrail.engine.diff import diff_assignments

    rng = np.random.default_rng(0)
    n = 1_000_000
    ids = pd.Index(np.char.add("C", np.arange(n).astype(str)))
    a_labels = rng.integers(0, 8, n)
    b_labels = (a_labels + (rng.random(n) < 0.2) * rng.integers(0, 8, n)) % 9
    a = pd.Series(a_labels, index=ids)
    b = pd.Series(b_labels, index=ids)
    shuffled = b.sample(frac=1.0, random_state=1)  # same customers, another order
    ours = best_of(repeats, lambda: time_call(lambda: diff_assignments(a, b)))
    ours_aligned = best_of(repeats, lambda: time_call(lambda: diff_assignments(a, shuffled)))
    crosstab = best_of(repeats, lambda: time_call(lambda: pd.crosstab(a_labels, b_labels)))
    return [
        Figure(
            "diff 1M customers, same order",
            "segtrail diff_assignments",
            ours,
            "pandas.crosstab on the two label arrays",
            crosstab,
            goal=1.0,
        ),
        Figure(
            "diff 1M customers, ids in another order",
            "segtrail diff_assignments (aligns ids)",
            ours_aligned,
            "pandas.crosstab on pre-aligned label arrays",
            crosstab,
        ),
    ]
