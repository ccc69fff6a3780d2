"""Which lookalike method finds seed members it was not shown (not a timing benchmark).

Seeds from the sample customers' planted segments: each segment alone, and seeds made of two
segments (two pockets far apart, as "our best customers" often are). 70% of a seed is shown,
30% is hidden among the other customers, and the audience is as large as the hidden part;
recall is the share of the hidden members in it (engine.lookalike.estimate_recall). The
default method in services/audiences.py is the one with the best mean recall here.

    .venv/bin/python bench/lookalike_methods.py [N_CUSTOMERS [METHOD ...]]
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pyarrow as pa

from segtrail.engine.features import build_spec, fit_features
from segtrail.engine.kinds import infer_kind
from segtrail.engine.lookalike import METHODS, estimate_recall
from segtrail.engine.sample import SEGMENTS, generate_customers

POCKETS = [(0, 5), (2, 4), (1, 3)]  # planted segment pairs used as two-pocket seeds


def main(n: int = 20_000) -> None:
    frame, planted = generate_customers(n, seed=11)
    kinds = {
        c: infer_kind(pa.chunked_array([pa.array(frame[c])]), is_id=c == "customer_id")
        for c in frame.columns
    }
    X, _ = fit_features(frame, build_spec(frame, kinds, "customer_id", None))
    print(f"{n:,} customers; recall of the hidden 30% per planted segment:")
    seeds = {name[:10]: planted == s for s, (name, _) in enumerate(SEGMENTS)}
    for a, b in POCKETS:
        seeds[f"{a}+{b}"] = (planted == a) | (planted == b)
    print("method      " + " ".join(f"{name:>10}" for name in seeds) + "   mean  seconds")
    for method in sys.argv[2:] or METHODS:
        start, recalls = time.perf_counter(), []
        for mask in seeds.values():
            quality = estimate_recall(X, mask, method, size=round(0.3 * mask.sum()), seed=1)
            recalls.append(quality["recall"])
        seconds = time.perf_counter() - start
        cells = " ".join(f"{r:>10.0%}" for r in recalls)
        print(f"{method:<11} {cells}  {np.mean(recalls):>5.0%}  {seconds:>7.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
