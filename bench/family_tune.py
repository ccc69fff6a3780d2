"""Tuning records for the k rule: the default path's k sweep on the *tuning* half of the
family (even replicates only), with the ARI of every k of the sweep against the planted
segments (on the sweep's sample), so candidate rules can be compared offline.

    .venv/bin/python bench/family_tune.py --out bench/results/family_tune.jsonl [--part 0/2]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from family import designs, generate
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from segtrail.engine.algorithms.base import sample_rows
from segtrail.engine.choice import _noise_columns
from segtrail.engine.features import build_spec, dependence_screen, fit_features, model_matrix
from segtrail.engine.kmixture import SWEEP_SAMPLE, add_split_half, mixture_sweep

K_RANGE = (2, 12)


def record(d) -> dict:
    df, truth, kinds = generate(d)
    spec = build_spec(df, kinds, "id")
    _, fitted = fit_features(df, spec)
    M, levels, weights = model_matrix(df, fitted)
    rows = sample_rows(len(M), SWEEP_SAMPLE, 0)
    noise = _noise_columns(dependence_screen(M[rows], levels), weights)
    weights = [0.0 if j in noise else float(w) for j, w in enumerate(weights)]
    out = {"cell": d.cell_name, "replicate": d.replicate, "k": d.k, "seed": d.seed}
    layouts = {"own": {"levels": levels, "feature_weights": weights}}
    if not any(levels):
        layouts["shared"] = {**layouts["own"], "shared_variance": True}
    for name, layout in layouts.items():
        sel, fits, idx = mixture_sweep(M, K_RANGE, 0, layout, split_half=False)
        add_split_half(sel, M[idx], layout, 0)
        for row in sel["curve"]:
            row["ari"] = float(adjusted_rand_score(truth[idx], fits[row["k"]]["labels"]))
        out[name] = {"curve": sel["curve"], "bic_one": sel["bic_one"]}
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--part", default="0/1", help="i/n: every n-th data set from i")
    parser.add_argument("--grid-every", type=int, default=3, help="subset of the product grid")
    args = parser.parse_args()
    i, n = map(int, args.part.split("/"))
    tune = [d for d in designs() if not d.held_out]
    grid = [d for d in tune if not d.correlated][:: args.grid_every]
    chosen = [d for d in tune if d.correlated] + grid
    with threadpool_limits(limits=1):
        for d in chosen[i::n]:
            rec = record(d)
            best = min(rec["own"]["curve"], key=lambda r: r["bic"])["k"]
            print(f"{d.cell_name} k={d.k} bic-k={best}", file=sys.stderr, flush=True)
            with args.out.open("a") as fh:
                fh.write(json.dumps(rec, default=float) + "\n")
