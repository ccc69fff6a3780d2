"""A family of planted mixed-type data sets, after the simulation designs for mixed-type
clustering in Foss, Markatou, Ray & Heching (2016, "A semiparametric method for clustering
mixed data", Machine Learning 105; the KAMILA paper) and Foss & Markatou (2018, "kamila:
clustering mixed-type data in R and Hadoop", J. Stat. Softw. 83).

Those designs vary how informative the numeric and the categorical columns are (overlap of
the segments on each kind), the number of categorical levels, unequal segment sizes, and
add noise columns, missing values and skewed (non-normal) numeric columns. Here:

Design cells (reported one by one), 3 x 2 x 2 = 12:
- lead: "numeric" (numeric columns carry the structure, categorical ones weakly),
  "categorical" (the reverse), "balanced" (both moderately);
- overlap: "low" or "moderate" (gaps and strengths scaled by 1.0 or 0.8);
- sizes: "equal" or "unequal" (Dirichlet shares, the smallest segment at least 4%).

Within a cell, each data set draws its other factors from a fixed rotation over its
replicate number: k in 3..6, rows in {1000, 2000, 3000}, 3 or 6 levels per categorical
column, 0 or 2 noise columns (one numeric, one categorical, independent of the segments),
0% or 5% missing values (completely at random, every column), and normal or skewed numeric
columns (log-normal money and Poisson counts). Every data set has 3 numeric and 3
categorical informative columns.

Correlated cells (added for issue 10, after the default path overestimated k on real
data): the product grid above draws the columns of a segment independently, which is
exactly what the latent class model assumes. Cells 12..16 break that: within each segment
the numeric columns are drawn from a multivariate normal with the segment's own random
correlation matrix (a one-factor model with random loadings and signs per segment:
|r| about 0.25-0.65 "moderate", 0.65-0.9 "strong"), then the skew transforms as above:

- numeric-led, moderate correlation, unequal sizes;
- numeric-led, strong correlation, equal sizes;
- balanced-led, strong correlation, unequal sizes;
- spend-like: numeric-led, strong correlation, always skewed (log-normal money and
  Poisson counts driven by the same correlated normals), unequal sizes;
- numeric only: 6 correlated numeric columns (strong), no categorical column (the
  all-numeric path: k-means' model against the latent class model).

They have ``CORRELATED_REPLICATES`` replicates each (fewer: the held-out run must fit in a
session).

Seeds: data set ``i`` of cell ``c`` uses seed ``SEED_BASE + 100 * c + i``. Replicates with
an even number are the *tuning* half (used by hand to choose rules and thresholds); odd
replicates are the *held-out* half, reported in ``bench/RESULTS.md`` and never looked at
while tuning.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

SEED_BASE = 20_160_000
REPLICATES = 18  # per cell: 12 cells x 18 = 216 data sets, 108 held out
CORRELATED_REPLICATES = 12  # per correlated cell: 5 cells x 12 = 60 data sets, 30 held out
LEADS = ("numeric", "categorical", "balanced")
OVERLAPS = ("low", "moderate")
SIZES = ("equal", "unequal")
# (numeric gap: distance between neighbouring segment means on a numeric column, in sd
# units of the within-segment spread; categorical strength: share of a segment's rows that
# take the segment's favourite level, the rest spread evenly: two segments with different
# favourites overlap by 1 - strength on that column, as in KAMILA's overlap measure)
STRENGTH = {
    "numeric": (3.0, 0.3),
    "categorical": (1.0, 0.85),
    "balanced": (1.8, 0.6),
}
OVERLAP_SCALE = {"low": 1.0, "moderate": 0.8}
# |loading| range of the one-factor model per correlation strength: r_ij = l_i * l_j
LOADINGS = {"none": (0.0, 0.0), "moderate": (0.5, 0.8), "strong": (0.8, 0.95)}
# (lead, overlap, sizes, correlation, variant): variant "spend" always skews, "numeric
# only" has 6 numeric columns and no categorical one
CORRELATED_CELLS = (
    ("numeric", "low", "unequal", "moderate", ""),
    ("numeric", "low", "equal", "strong", ""),
    ("balanced", "low", "unequal", "strong", ""),
    ("numeric", "low", "unequal", "strong", "spend"),
    ("numeric", "low", "equal", "strong", "numeric only"),
)


@dataclass(frozen=True)
class Design:
    cell: int
    replicate: int
    lead: str
    overlap: str
    sizes: str
    k: int
    rows: int
    levels: int
    noise: bool
    missing: float
    skew: bool
    correlation: str = "none"
    variant: str = ""

    @property
    def seed(self) -> int:
        return SEED_BASE + 100 * self.cell + self.replicate

    @property
    def held_out(self) -> bool:
        return self.replicate % 2 == 1

    @property
    def cell_name(self) -> str:
        name = f"{self.lead}-led, {self.overlap} overlap, {self.sizes} sizes"
        if self.correlation != "none":
            name += f", {self.correlation} correlation"
        return name + (f", {self.variant}" if self.variant else "")

    @property
    def correlated(self) -> bool:
        return self.correlation != "none"


def designs() -> list[Design]:
    out = []
    cells = list(itertools.product(LEADS, OVERLAPS, SIZES))
    for c, (lead, overlap, sizes) in enumerate(cells):
        for r in range(REPLICATES):
            out.append(
                Design(
                    cell=c,
                    replicate=r,
                    lead=lead,
                    overlap=overlap,
                    sizes=sizes,
                    k=3 + (r // 2) % 4,
                    rows=(1000, 2000, 3000)[(r // 2 + c) % 3],
                    levels=(3, 6)[(r // 3) % 2],
                    noise=bool((r // 2 + c) % 2),
                    missing=(0.0, 0.05)[(r // 4 + c) % 2],
                    skew=bool((r // 3 + c) % 2),
                )
            )
    for i, (lead, overlap, sizes, corr, variant) in enumerate(CORRELATED_CELLS):
        c = len(cells) + i
        for r in range(CORRELATED_REPLICATES):
            out.append(
                Design(
                    cell=c,
                    replicate=r,
                    lead=lead,
                    overlap=overlap,
                    sizes=sizes,
                    k=3 + (r // 2) % 4,
                    rows=(1000, 2000, 3000)[(r // 2 + c) % 3],
                    levels=(3, 6)[(r // 3) % 2],
                    noise=bool((r // 2 + c) % 2),
                    missing=(0.0, 0.05)[(r // 4 + c) % 2],
                    skew=variant == "spend" or (variant == "" and bool((r // 3 + c) % 2)),
                    correlation=corr,
                    variant=variant,
                )
            )
    return out


def generate(d: Design) -> tuple[pd.DataFrame, np.ndarray, dict[str, str]]:
    """(customer table with an ``id`` column, planted segment per row, column kinds)."""
    rng = np.random.default_rng(d.seed)
    k, n = d.k, d.rows
    if d.sizes == "equal":
        shares = np.full(k, 1.0 / k)
    else:
        while True:
            shares = rng.dirichlet(np.full(k, 2.0))
            if shares.min() >= 0.04:
                break
    planted = np.sort(rng.choice(k, size=n, p=shares))
    rng.shuffle(planted)
    num_sep, cat_strength = STRENGTH[d.lead]
    num_sep *= OVERLAP_SCALE[d.overlap]
    cat_strength *= OVERLAP_SCALE[d.overlap]
    n_num, n_cat = (6, 0) if d.variant == "numeric only" else (3, 3)
    centres = _centres(rng, k, num_sep, n_num)
    favourites = _favourites(rng, k, d.levels)
    cols: dict[str, np.ndarray] = {"id": np.array([f"C{i:05d}" for i in range(n)])}
    kinds = {"id": "id"}
    # uncorrelated columns are drawn one by one inside the loop, exactly as before the
    # correlated cells existed, so the product grid's data sets are unchanged
    within = _within(rng, planted, k, n_num, d.correlation) if d.correlated else None
    for j in range(n_num):
        dev = rng.normal(0.0, 1.0, n) if within is None else within[:, j]
        x = centres[planted, j] + dev
        if d.skew and j == 0:  # money: log-normal
            x = np.round(np.exp(3.5 + 0.6 * x), 2)
        elif d.skew and j == 1:  # visits: Poisson counts
            x = rng.poisson(np.exp(1.2 + 0.45 * x)).astype(float)
        else:
            x = 40 + 10 * x
        cols[f"num{j}"] = x
        kinds[f"num{j}"] = "numeric"
    for j in range(n_cat):
        code = np.where(
            rng.random(n) < cat_strength, favourites[planted, j], rng.integers(0, d.levels, n)
        )
        cols[f"cat{j}"] = np.array([f"L{c}" for c in range(d.levels)])[code]
        kinds[f"cat{j}"] = "categorical"
    if d.noise:
        noise = rng.normal(0.0, 1.0, n)
        cols["noise_num"] = np.exp(3 + 0.5 * noise) if d.skew else 50 + 10 * noise
        kinds["noise_num"] = "numeric"
        if n_cat:
            cols["noise_cat"] = np.array([f"N{c}" for c in range(d.levels)])[
                rng.integers(0, d.levels, n)
            ]
            kinds["noise_cat"] = "categorical"
    df = pd.DataFrame(cols)
    if d.missing:
        for name in df.columns[1:]:
            hole = rng.random(n) < d.missing
            df[name] = df[name].where(~hole, None if kinds[name] == "categorical" else np.nan)
    return df, planted, kinds


def _centres(rng: np.random.Generator, k: int, gap: float, columns: int = 3) -> np.ndarray:
    """Segment means on the numeric columns: on each column the k segments sit on a grid
    ``gap`` apart (in sd units of the within-segment spread), in an order drawn per column,
    so segments that are neighbours on one column are usually apart on another."""
    grid = (np.arange(k) - (k - 1) / 2) * gap
    return np.stack([rng.permutation(grid) for _ in range(columns)], axis=1)


def _within(
    rng: np.random.Generator, planted: np.ndarray, k: int, columns: int, correlation: str
) -> np.ndarray:
    """Correlated within-segment deviations (unit variance per column): a one-factor
    model per segment: x_j = l_j f + sqrt(1 - l_j^2) e_j with the segment's own loadings
    (random size in the ``LOADINGS`` range, random sign), so r_ij = l_i l_j."""
    n = len(planted)
    low, high = LOADINGS[correlation]
    loads = rng.uniform(low, high, (k, columns)) * rng.choice([-1.0, 1.0], (k, columns))
    factor = rng.normal(0.0, 1.0, n)[:, None]
    noise = rng.normal(0.0, 1.0, (n, columns))
    load = loads[planted]
    return load * factor + np.sqrt(1.0 - load**2) * noise


def _favourites(rng: np.random.Generator, k: int, levels: int) -> np.ndarray:
    """Favourite level per segment on the 3 categorical columns; patterns differ on at least
    two columns when possible (so the categorical columns alone can tell segments apart)."""
    best, best_gap = None, -1
    for _ in range(200):
        f = rng.integers(0, levels, (k, 3))
        gaps = (f[:, None] != f[None]).sum(axis=-1)[np.triu_indices(k, 1)]
        if gaps.min() > best_gap:
            best, best_gap = f, gaps.min()
        if best_gap >= 2:
            break
    return best
