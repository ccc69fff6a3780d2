"""The default path (quick: no k-prototypes, no ceiling) on the *tuning* half of the family:
every correlated cell's even replicates and every ``--grid-every``-th even replicate of the
product grid. Used to check a rule change before the held-out run.

    .venv/bin/python bench/family_tune_default.py --out F.jsonl --part 0/2
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench_family import run_one
from family import designs
from threadpoolctl import threadpool_limits

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--part", default="0/1")
    parser.add_argument("--grid-every", type=int, default=4)
    args = parser.parse_args()
    i, n = map(int, args.part.split("/"))
    tune = [d for d in designs() if not d.held_out]
    chosen = [d for d in tune if d.correlated] + [d for d in tune if not d.correlated][
        :: args.grid_every
    ]
    with threadpool_limits(limits=1):
        for d in chosen[i::n]:
            row = run_one(d, quick=True)
            print(
                f"{d.cell_name} k={d.k} auto={row['default_k']} ari={row['default_ari']:.3f} "
                f"lca@k={row['lca_true_k_ari']:.3f} km@k={row['kmeans_true_k_ari']:.3f} "
                f"{row['default_seconds']:.0f}s",
                file=sys.stderr,
                flush=True,
            )
            with args.out.open("a") as fh:
                fh.write(json.dumps(row, default=float) + "\n")
