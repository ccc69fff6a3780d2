"""Segment recovery on a family of planted mixed-type data sets (bench/family.py): the
default path against baselines run in the same process, on the held-out half."""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from family import Design, designs, generate
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from segtrail.engine.algorithms import get_algorithm
from segtrail.engine.algorithms.lca import VAR_FLOOR, Data, run_em
from segtrail.engine.choice import default_fit
from segtrail.engine.features import build_spec, fit_features, model_matrix
from segtrail.engine.kselect import choose_k

K_RANGE = (2, 10)
KPROTO_N_INIT = 1


def run_one(d: Design, seed: int = 0, quick: bool = False) -> dict:
    df, truth, kinds = generate(d)
    spec = build_spec(df, kinds, "id")
    X, fitted = fit_features(df, spec)
    M, levels, weights = model_matrix(df, fitted)
    names = [c["column"] for c in fitted["columns"]]
    out: dict = {**d.__dict__, "seed": d.seed, "cell": d.cell_name}
    start = time.perf_counter()
    result, decision = default_fit(M, levels, weights, names, "auto", K_RANGE, seed)
    out["default_seconds"] = time.perf_counter() - start
    out["default_k"] = int(result.labels.max()) + 1
    out["default_ari"] = adjusted_rand_score(truth, result.labels)
    out["default_algorithm"] = decision["algorithm"]
    out["noise_found"] = decision["noise"]
    out["curve"] = decision["selection"]["curve"]
    if quick:  # tuning runs: the default path and the cheap references only
        out["lca_true_k_ari"] = adjusted_rand_score(
            truth, get_algorithm("lca").fit(M, {"k": d.k, "levels": levels}, seed).labels
        )
        out["kmeans_true_k_ari"] = adjusted_rand_score(
            truth, get_algorithm("kmeans").fit(X, {"k": d.k}, seed).labels
        )
        return out
    fixed, _ = default_fit(M, levels, weights, names, d.k, K_RANGE, seed)
    out["default_true_k_ari"] = adjusted_rand_score(truth, fixed.labels)
    lca = get_algorithm("lca").fit(M, {"k": d.k, "levels": levels}, seed)
    out["lca_true_k_ari"] = adjusted_rand_score(truth, lca.labels)
    kmeans = get_algorithm("kmeans")
    out["kmeans_true_k_ari"] = adjusted_rand_score(truth, kmeans.fit(X, {"k": d.k}, seed).labels)
    k_auto = choose_k(X, "kmeans", K_RANGE, seed)["chosen_k"]
    out["kmeans_auto_k"] = k_auto
    out["kmeans_auto_ari"] = adjusted_rand_score(truth, kmeans.fit(X, {"k": k_auto}, seed).labels)
    out["kprototypes_true_k_ari"] = _kprototypes(df, kinds, d.k, seed, truth)
    # the ceiling: the same model started from the planted segments
    data = Data(M, np.asarray(levels), np.ones(len(levels)))
    oracle = run_em(data, np.eye(d.k)[truth], VAR_FLOOR, 300)
    out["oracle_ari"] = adjusted_rand_score(truth, oracle.posterior(data).argmax(axis=1))
    return out


def _kprototypes(df: pd.DataFrame, kinds: dict, k: int, seed: int, truth: np.ndarray) -> float:
    from kmodes.kprototypes import KPrototypes

    num = [c for c, kind in kinds.items() if kind == "numeric"]
    cat = [c for c, kind in kinds.items() if kind == "categorical"]
    values = df[num].astype(float)
    values = (values.fillna(values.median()) - values.mean()) / values.std()
    cats = df[cat].astype(object).fillna("(missing)")
    matrix = np.hstack([values.to_numpy(), cats.to_numpy()]).astype(object)
    model = KPrototypes(n_clusters=k, init="Cao", n_init=KPROTO_N_INIT, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels = model.fit_predict(matrix, categorical=list(range(len(num), matrix.shape[1])))
    return adjusted_rand_score(truth, labels)


def run_half(
    held_out: bool, out_path: Path | None = None, limit: int | None = None, quick: bool = False
) -> list[dict]:
    chosen = [d for d in designs() if d.held_out == held_out][:limit]
    rows = []
    with threadpool_limits(limits=1):
        for i, d in enumerate(chosen):
            row = run_one(d, quick=quick)
            rows.append(row)
            print(
                f"{i + 1}/{len(chosen)} {d.cell_name} k={d.k} auto={row['default_k']} "
                f"ari={row['default_ari']:.3f} kmeans={row['kmeans_true_k_ari']:.3f} "
                f"({row['default_seconds']:.1f}s)",
                file=sys.stderr,
                flush=True,
            )
            if out_path:
                with out_path.open("a") as fh:
                    fh.write(json.dumps(row, default=float) + "\n")
    return rows


def summarize(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)

    def block(g: pd.DataFrame) -> pd.Series:
        def worst_decile(col: str) -> float:
            v = np.sort(g[col].to_numpy())
            return float(v[: max(1, int(np.ceil(len(v) / 10)))].mean())

        return pd.Series(
            {
                "n": len(g),
                "auto k ARI": g["default_ari"].mean(),
                "auto k worst 10%": worst_decile("default_ari"),
                "true k ARI": g["default_true_k_ari"].mean(),
                "true k worst 10%": worst_decile("default_true_k_ari"),
                "k exact": (g["default_k"] == g["k"]).mean(),
                "k within 1": ((g["default_k"] - g["k"]).abs() <= 1).mean(),
                "one-hot k-means, true k": g["kmeans_true_k_ari"].mean(),
                "one-hot k-means, auto k": g["kmeans_auto_ari"].mean(),
                "k-means auto k exact": (g["kmeans_auto_k"] == g["k"]).mean(),
                "k-prototypes, true k": g["kprototypes_true_k_ari"].mean(),
                "lca, true k": g["lca_true_k_ari"].mean(),
                "ceiling": g["oracle_ari"].mean(),
            }
        )

    cells = df.groupby("cell", sort=False).apply(block, include_groups=False)
    cells.loc["all"] = block(df)
    return cells


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--half", choices=["tune", "held-out"], default="tune")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rows = run_half(args.half == "held-out", args.out, args.limit, args.quick)
    if args.quick:
        sys.exit(0)
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(summarize(rows).round(3))
