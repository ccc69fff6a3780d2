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
from segtrail.engine.features import build_spec, fit_features, model_matrix, transform_features
from segtrail.engine.kselect import choose_k

K_RANGE = (2, 12)  # the product's default range
KPROTO_N_INIT = 1


# what the default path's k rule does not change (baselines, and the default path told the
# true k on mixed data): copied from an earlier record of the same data set with --reuse
REUSABLE = (
    "default_true_k_ari",
    "lca_true_k_ari",
    "kmeans_true_k_ari",
    "kmeans_auto_k",
    "kmeans_auto_ari",
    "kprototypes_true_k_ari",
    "oracle_ari",
)


def run_one(d: Design, seed: int = 0, quick: bool = False, reuse: dict | None = None) -> dict:
    df, truth, kinds = generate(d)
    spec = build_spec(df, kinds, "id")
    X, fitted = fit_features(df, spec)
    M, levels, weights = model_matrix(df, fitted)
    names = [c["column"] for c in fitted["columns"]]
    out: dict = {**d.__dict__, "seed": d.seed, "cell": d.cell_name}
    start = time.perf_counter()

    def kmeans_matrix(w: list[float]) -> np.ndarray:
        columns = [{**c, "weight": wj} for c, wj in zip(fitted["columns"], w, strict=True)]
        return transform_features(df, {**fitted, "columns": columns})

    result, decision = default_fit(
        M, levels, weights, names, "auto", K_RANGE, seed, kmeans_matrix=kmeans_matrix
    )
    out["default_seconds"] = time.perf_counter() - start
    out["default_k"] = int(result.labels.max()) + 1
    out["default_ari"] = adjusted_rand_score(truth, result.labels)
    out["default_algorithm"] = decision["algorithm"]
    out["noise_found"] = decision["noise"]
    out["curve"] = decision["selection"]["curve"]
    if reuse is not None:  # only the default path at auto k is new
        return out | {key: reuse[key] for key in REUSABLE}
    if quick:  # tuning runs: the default path and the cheap references only
        out["lca_true_k_ari"] = adjusted_rand_score(
            truth, get_algorithm("lca").fit(M, {"k": d.k, "levels": levels}, seed).labels
        )
        out["kmeans_true_k_ari"] = adjusted_rand_score(
            truth, get_algorithm("kmeans").fit(X, {"k": d.k}, seed).labels
        )
        return out
    fixed, _ = default_fit(
        M, levels, weights, names, d.k, K_RANGE, seed, kmeans_matrix=kmeans_matrix
    )
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


def true_k_one(d: Design, seed: int = 0) -> dict:
    """Only the default path told the planted k (the "true k" column), for re-running that
    column after a change that touches only the told-k path."""
    df, truth, kinds = generate(d)
    spec = build_spec(df, kinds, "id")
    _, fitted = fit_features(df, spec)
    M, levels, weights = model_matrix(df, fitted)
    names = [c["column"] for c in fitted["columns"]]

    def kmeans_matrix(w: list[float]) -> np.ndarray:
        columns = [{**c, "weight": wj} for c, wj in zip(fitted["columns"], w, strict=True)]
        return transform_features(df, {**fitted, "columns": columns})

    fixed, decision = default_fit(
        M, levels, weights, names, d.k, K_RANGE, seed, kmeans_matrix=kmeans_matrix
    )
    return {
        "seed": d.seed,
        "default_true_k_ari": adjusted_rand_score(truth, fixed.labels),
        "true_k_model": fixed.params.get("numeric_covariance", decision["algorithm"]),
    }


def run_true_k(held_out: bool, out_path: Path, part: tuple[int, int] = (0, 1)) -> None:
    chosen = [d for d in designs() if d.held_out == held_out]
    chosen = sorted(chosen, key=lambda d: (d.replicate, d.cell))[part[0] :: part[1]]
    if out_path.exists():
        done = {json.loads(line)["seed"] for line in out_path.open()}
        chosen = [d for d in chosen if d.seed not in done]
    with threadpool_limits(limits=1):
        for i, d in enumerate(chosen):
            row = true_k_one(d)
            print(f"{i + 1}/{len(chosen)} {d.cell_name} {row}", file=sys.stderr, flush=True)
            with out_path.open("a") as fh:
                fh.write(json.dumps(row, default=float) + "\n")


def true_k_comparison(rows: list[dict], path: Path) -> str:
    """Per cell, on the data sets a ``--true-k-out`` run covered: the told-k ARI of the
    records (the plain model on mixed data) against the later run's, and its models."""
    later = pd.DataFrame([json.loads(line) for line in path.open()])
    frame = pd.DataFrame(rows).merge(later, on="seed", suffixes=("_before", ""))
    lines = [
        "| design cell | n | told k ARI before | told k ARI now | models chosen now |",
        "|---|---|---|---|---|",
    ]
    for name, g in [*frame.groupby("cell", sort=False), ("all", frame)]:
        models = ", ".join(f"{m} {c}" for m, c in g["true_k_model"].value_counts().items())
        lines.append(
            f"| {name} | {len(g)} | {g['default_true_k_ari_before'].mean():.3f} | "
            f"{g['default_true_k_ari'].mean():.3f} | {models} |"
        )
    return "\n".join(lines)


def _kprototypes(df: pd.DataFrame, kinds: dict, k: int, seed: int, truth: np.ndarray) -> float:
    from kmodes.kprototypes import KPrototypes

    num = [c for c, kind in kinds.items() if kind == "numeric"]
    cat = [c for c, kind in kinds.items() if kind == "categorical"]
    if not cat:  # k-prototypes needs a categorical column (numeric-only cell): no figure
        return float("nan")
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
    held_out: bool,
    out_path: Path | None = None,
    limit: int | None = None,
    quick: bool = False,
    part: tuple[int, int] = (0, 1),
    reuse: dict[int, dict] | None = None,
) -> list[dict]:
    chosen = [d for d in designs() if d.held_out == held_out]
    if limit:  # a spread-out subset (every n-th), for quick tuning runs
        chosen = chosen[:: max(1, len(chosen) // limit)][:limit]
    # replicate by replicate across the cells, so a run cut short still covers every cell
    chosen = sorted(chosen, key=lambda d: (d.replicate, d.cell))[part[0] :: part[1]]
    if out_path and out_path.exists():  # resume: data sets already recorded are skipped
        done = {json.loads(line)["seed"] for line in out_path.open()}
        chosen = [d for d in chosen if d.seed not in done]
    reuse = reuse or {}
    rows = []
    with threadpool_limits(limits=1):
        for i, d in enumerate(chosen):
            row = run_one(d, quick=quick, reuse=reuse.get(d.seed))
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


def markdown(rows: list[dict]) -> str:
    """The per-cell table for RESULTS.md, with the targets of issue 10 checked."""
    table = summarize(rows)
    columns = list(table.columns)
    lines = ["| design cell | " + " | ".join(columns) + " |"]
    lines.append("|---|" + "---|" * len(columns))
    for cell, values in table.iterrows():
        cells = [f"{int(v)}" if c == "n" else f"{v:.3f}" for c, v in values.items()]
        lines.append(f"| {cell} | " + " | ".join(cells) + " |")
    lines += [""]
    frame = pd.DataFrame(rows)
    correlated = frame["correlation"].fillna("none") != "none" if "correlation" in frame else None
    parts = [("all cells", frame)]
    if correlated is not None and correlated.any():
        parts = [
            ("product grid (12 cells, columns independent within segments)", frame[~correlated]),
            ("correlated cells", frame[correlated]),
            ("all cells", frame),
        ]
    for title, part in parts:
        lines += [f"{title}:"] + [f"- {line}" for line in target_checks(part)]
    seconds = frame["default_seconds"]
    lines.append(
        f"- default path time per data set (choice, k sweep 2..12 with split-half "
        f"stability, final fit): median {seconds.median():.1f} s, max {seconds.max():.1f} s"
    )
    return "\n".join(lines)


def target_checks(frame: pd.DataFrame) -> list[str]:
    """Issue 10's targets, each with its figure and met / NOT met."""
    table = summarize(frame.to_dict("records"))
    overall = table.loc["all"]
    gaps = table.drop(index="all")
    worst_gap = float((gaps["auto k ARI"] - gaps["one-hot k-means, true k"]).min())
    checks = [
        (f"mean ARI at auto k >= 0.85 ({overall['auto k ARI']:.3f})",
         overall["auto k ARI"] >= 0.85),
        ("never below one-hot k-means (true k) by more than 0.05 in a cell "
         f"(worst cell: {worst_gap:+.3f})", worst_gap >= -0.05),
        (f"auto k exactly right on >= 80% ({overall['k exact']:.0%})", overall["k exact"] >= 0.8),
        (f"auto k within one on >= 95% ({overall['k within 1']:.0%})",
         overall["k within 1"] >= 0.95),
    ]  # fmt: skip
    return [f"{text}: {'met' if ok else 'NOT met'}" for text, ok in checks]


NOTES = """Held-out half of the family (odd replicates; the even ones were the only ones looked
at while choosing rules and thresholds). Columns: "auto k" is the default path
(`segtrail segment` with no --algorithm and no --k: noise screen, algorithm choice, the
latent class model's covariance variants by BIC, k by the rule of engine/kmixture.py over
2..12, final fit); "true k" is the same path told the planted k (it compares the covariance
variants by BIC at that k since branch kfinal); the baselines run in the
same process on the same data: standard scaling + one-hot k-means (segtrail's preprocessing,
10 k-means++ starts) at the true k and at its own automatic k (the previous default),
k-prototypes (kmodes, Cao init, 1 start: its pure-Python loop costs ~10 s per start here; no
figure on the numeric-only cell) at the true k, and the latent class model alone at the
true k with every column (columns independent within a segment). "ceiling": that model at
the true k started from the planted segments. Worst 10%: mean ARI of the worst tenth of the
cell's data sets. ARI = adjusted Rand index against the planted segments.

The product grid (the first 12 cells) draws each segment the way the plain latent class
model assumes (columns independent within a segment). The 5 correlated cells (bench/family.py)
break that: numeric columns drawn from a one-factor model per segment (|r| about 0.25-0.65
"moderate", 0.65-0.9 "strong"), mixed with categorical columns, one always skewed
(log-normal spend and Poisson counts), one numeric only. On the grid the baselines and the
"true k" figures do not depend on the k rule, so they were copied from the earlier held-out
run of the same data sets (`--reuse`); the default path at auto k was run again."""


def run() -> list:
    """`make bench`: the held-out half, its table written into RESULTS.md by run.py."""
    global NOTES
    rows = run_half(held_out=True)
    NOTES = NOTES + "\n\n" + markdown(rows)
    return []


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--half", choices=["tune", "held-out"], default="tune")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--report", type=Path, nargs="+", help="only print the table of JSONL")
    parser.add_argument("--part", default="0/1", help="i/n: every n-th data set from the i-th")
    parser.add_argument(
        "--reuse", type=Path, help="JSONL of an earlier run: copy its baselines (REUSABLE)"
    )
    parser.add_argument(
        "--true-k-out", type=Path, help="only the default path told the true k, to this JSONL"
    )
    parser.add_argument(
        "--true-k", type=Path, help="with --report: compare the told-k figures with these"
    )
    args = parser.parse_args()
    part = tuple(int(v) for v in args.part.split("/"))
    if args.report:
        rows = [json.loads(line) for path in args.report for line in path.open()]
        if args.true_k:
            print(true_k_comparison(rows, args.true_k))
        else:
            print(markdown(rows))
        sys.exit(0)
    if args.true_k_out:
        run_true_k(args.half == "held-out", args.true_k_out, part)
        sys.exit(0)
    earlier = {}
    if args.reuse:
        earlier = {row["seed"]: row for row in map(json.loads, args.reuse.open())}
    rows = run_half(args.half == "held-out", args.out, args.limit, args.quick, part, earlier)
    if args.quick:
        sys.exit(0)
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(summarize(rows).round(3))
