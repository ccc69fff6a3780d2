"""Campaign design on 1M customers: stratified assignment and the holdout hash."""

from __future__ import annotations

import numpy as np
import pandas as pd
from common import Figure, best_of, time_call

NOTES = (
    "The pandas baseline draws only the control group (one `groupby(...).sample` per segment, "
    "shares rounded per segment by pandas); segtrail assigns every customer to control or one "
    "of two arms with largest-remainder counts per segment, ids sorted first so the result "
    "does not depend on row order. The holdout hash is written out in numpy (FNV-1a + "
    "splitmix64) so it cannot change with a library; the baseline is pandas' C SipHash "
    "(`pandas.util.hash_array`) of the same id texts. Measured while other helpers "
    "ran on the same 2-core machine (noisy)."
)


def run(repeats: int = 3) -> list[Figure]:
    from segtrail.engine.design import holdout_mask, stratified_assignment

    rng = np.random.default_rng(0)
    n = 1_000_000
    ids = np.char.add("C", np.arange(n).astype(str)).astype(object)
    segments = rng.integers(0, 8, n)
    frame = pd.DataFrame({"customer_id": ids, "segment": segments})
    groups, shares = ["control", "a", "b"], [0.1, 0.45, 0.45]
    ours = best_of(
        repeats, lambda: time_call(lambda: stratified_assignment(ids, segments, groups, shares, 1))
    )
    pandas_sample = best_of(
        repeats,
        lambda: time_call(lambda: frame.groupby("segment").sample(frac=0.1, random_state=1)),
    )
    hashed = best_of(repeats, lambda: time_call(lambda: holdout_mask(ids, 0.05, 7)))
    siphash = best_of(
        repeats,
        lambda: time_call(lambda: pd.util.hash_array(ids, hash_key="0123456789abcdef") < 2**59),
    )
    return [
        Figure(
            "stratified assignment, 1M customers, 8 segments, 3 groups",
            "segtrail stratified_assignment",
            ours,
            "pandas groupby(segment).sample(frac=0.1) (control only)",
            pandas_sample,
        ),
        Figure(
            "holdout membership, 1M text ids",
            "segtrail holdout_mask",
            hashed,
            "pandas.util.hash_array (SipHash in C)",
            siphash,
        ),
    ]
