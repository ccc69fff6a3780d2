"""Planted mixed-type customer tables for recovery tests (the two cases of issue 10).

- ``numeric_led``: six segments of 6%-30%; an age column, log-normal spend, Poisson visit
  counts carry the structure; a yes/no column and a 5-level channel whose shares overlap
  between segments carry a little; 2% missing values in every column; two pure-noise
  columns (one numeric, one categorical).
- ``categorical_led``: five segments told apart by plan, region, device and payment (each
  segment has its own favourite level, taken by 80% of its customers); age and spend
  overlap heavily between segments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NUMERIC_LED_SHARES = np.array([0.30, 0.24, 0.18, 0.12, 0.10, 0.06])
CATEGORICAL_LED_SHARES = np.array([0.28, 0.24, 0.20, 0.16, 0.12])


def _segments(rng: np.random.Generator, shares: np.ndarray, n: int) -> np.ndarray:
    planted = np.repeat(np.arange(len(shares)), np.round(shares * n).astype(int))[:n]
    planted = np.pad(planted, (0, n - len(planted)), constant_values=0)
    return rng.permutation(planted)


def _with_missing(df: pd.DataFrame, rng: np.random.Generator, share: float) -> pd.DataFrame:
    for name in df.columns[1:]:
        hole = rng.random(len(df)) < share
        df[name] = df[name].astype(object).where(~hole, None)
        if name in ("age", "spend", "visits", "tenure", "spend_eur"):
            df[name] = pd.to_numeric(df[name])
    return df


def numeric_led(n: int = 6000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = _segments(rng, NUMERIC_LED_SHARES, n)
    age_mean = np.array([28, 44, 61, 35, 52, 30])
    log_spend = np.array([4.0, 5.3, 4.4, 6.4, 3.0, 6.0])
    visit_rate = np.array([2.0, 8.0, 14.0, 26.0, 5.0, 40.0])
    channel_p = np.array(
        [
            [0.40, 0.25, 0.15, 0.10, 0.10],
            [0.25, 0.35, 0.15, 0.15, 0.10],
            [0.15, 0.20, 0.35, 0.15, 0.15],
            [0.20, 0.20, 0.20, 0.30, 0.10],
            [0.30, 0.15, 0.15, 0.15, 0.25],
            [0.20, 0.25, 0.20, 0.20, 0.15],
        ]
    )
    channels = np.array(["email", "app", "store", "web", "phone"])
    df = pd.DataFrame(
        {
            "customer_id": [f"N{i:06d}" for i in range(n)],
            "age": np.round(age_mean[y] + rng.normal(0, 4.0, n)),
            "spend": np.round(np.exp(log_spend[y] + rng.normal(0, 0.3, n)), 2),
            "visits": rng.poisson(visit_rate[y]).astype(float),
            "member": np.where(
                rng.random(n) < np.array([0.3, 0.5, 0.6, 0.7, 0.4, 0.5])[y], "yes", "no"
            ),
            "channel": channels[(rng.random((n, 1)) > channel_p[y].cumsum(axis=1)).sum(axis=1)],
            "tenure": np.round(rng.uniform(0, 120, n)),  # pure noise
            "colour": rng.choice(["red", "green", "blue", "grey"], n),  # pure noise
        }
    )
    return _with_missing(df, rng, 0.02), y


def categorical_led(n: int = 6000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = _segments(rng, CATEGORICAL_LED_SHARES, n)
    columns = {
        "plan": (["basic", "plus", "pro", "family"], [0, 1, 2, 3, 1]),
        "region": (["north", "south", "east", "west", "centre"], [0, 2, 1, 3, 4]),
        "device": (["ios", "android", "desktop"], [0, 1, 2, 1, 0]),
        "payment": (["card", "paypal", "invoice", "direct"], [1, 0, 2, 3, 3]),
    }
    data: dict[str, object] = {"customer_id": [f"K{i:06d}" for i in range(n)]}
    for name, (levels, favourite) in columns.items():
        fav = np.asarray(favourite)[y]
        other = rng.integers(0, len(levels), n)
        data[name] = np.asarray(levels)[np.where(rng.random(n) < 0.8, fav, other)]
    data["age"] = np.round(np.array([38, 41, 44, 40, 43])[y] + rng.normal(0, 12, n))
    data["spend_eur"] = np.round(np.exp(np.array([4.5, 4.6, 4.8, 4.4, 4.7])[y]
                                        + rng.normal(0, 0.8, n)), 2)  # fmt: skip
    return _with_missing(pd.DataFrame(data), rng, 0.02), y


CORRELATED_SHARES = np.array([0.35, 0.25, 0.22, 0.18])


def correlated_led(
    n: int = 4000, seed: int = 0, categorical: bool = True
) -> tuple[pd.DataFrame, np.ndarray]:
    """Four segments whose numeric columns move together *within* each segment (as spend,
    orders and visits do in real tables), which the latent class model's local independence
    does not allow: lowest BIC alone runs to many more segments here. Log-spend, orders and
    visits come from one factor per segment (loadings 0.8-0.9, so r ~ 0.65-0.8 inside a
    segment); with ``categorical`` a plan column and a yes/no column carry a little of the
    structure, and 2% of every column is missing."""
    rng = np.random.default_rng(seed)
    y = _segments(rng, CORRELATED_SHARES, n)
    centres = np.array([[0.0, 0.0, 0.0], [3.5, -3.0, 0.5], [-3.0, 0.5, 3.5], [0.5, 3.5, -3.0]])
    signs = np.array([[1, 1, 1], [1, -1, 1], [1, 1, -1], [-1, 1, 1]])
    loads = np.array([0.9, 0.85, 0.8]) * signs  # per segment: r_ij = l_i l_j
    z = rng.normal(size=(n, 1)) * loads[y] + rng.normal(size=(n, 3)) * np.sqrt(1 - loads[y] ** 2)
    x = centres[y] + z
    data: dict[str, object] = {
        "customer_id": [f"R{i:06d}" for i in range(n)],
        "spend": np.round(np.exp(4.0 + 0.4 * x[:, 0]), 2),
        "orders": np.round(20 + 4 * x[:, 1], 1),
        "visits": np.round(30 + 5 * x[:, 2], 1),
    }
    if categorical:
        plans = np.array(["basic", "plus", "pro"])
        favourite = np.array([0, 1, 2, 1])[y]
        data["plan"] = plans[np.where(rng.random(n) < 0.6, favourite, rng.integers(0, 3, n))]
        data["member"] = np.where(rng.random(n) < np.array([0.2, 0.5, 0.7, 0.4])[y], "yes", "no")
    df = pd.DataFrame(data)
    if not categorical:
        return df, y
    df = _with_missing(df, rng, 0.02)
    return df.astype({"spend": float, "orders": float, "visits": float}), y


MANY_SHARES = np.array([0.35, 0.3, 0.2, 0.15])


def many_correlated(
    n: int = 3000, seed: int = 0, columns: int = 30, categorical: bool = False
) -> tuple[pd.DataFrame, np.ndarray]:
    """Four segments over many numeric columns that move together, like the 30 measurements
    of a tumour or the readings of a sensor panel: each column is a noisy reading (loading
    0.75-0.95) of one of five latent traits, the segments differ in the traits' means, and
    within each segment the traits share a factor of their own (|r| about 0.25-0.65), so
    every column is correlated with many others inside a segment. Some columns are
    log-normal (money-like). With ``categorical`` a plan column carries a little of the
    structure and 2% of every column is missing."""
    rng = np.random.default_rng(seed)
    y = _segments(rng, MANY_SHARES, n)
    centres = np.array(
        [
            [0.0, 0.0, 0.0, 0.0, 0.0],
            [3.0, -2.5, 0.0, 1.0, 0.0],
            [-2.5, 0.0, 3.0, 0.0, 1.0],
            [0.0, 3.0, -2.5, -1.0, 0.5],
        ]
    )
    traits = centres.shape[1]
    within = rng.uniform(0.5, 0.8, (4, traits)) * rng.choice([-1.0, 1.0], (4, traits))
    common = rng.normal(size=(n, 1))
    t = centres[y] + common * within[y] + rng.normal(size=(n, traits)) * np.sqrt(1 - within[y] ** 2)
    trait_of = np.arange(columns) % traits
    load = rng.uniform(0.75, 0.95, columns)
    x = t[:, trait_of] * load + rng.normal(size=(n, columns)) * np.sqrt(1 - load**2)
    data: dict[str, object] = {"customer_id": [f"W{i:06d}" for i in range(n)]}
    for j in range(columns):
        scale, centre = rng.uniform(1, 20), rng.uniform(-5, 50)
        values = np.exp(2.0 + 0.3 * x[:, j]) if j % 7 == 3 else centre + scale * x[:, j]
        data[f"m{j:02d}"] = np.round(values, 3)
    if categorical:
        plans = np.array(["basic", "plus", "pro"])
        favourite = np.array([0, 1, 2, 1])[y]
        data["plan"] = plans[np.where(rng.random(n) < 0.6, favourite, rng.integers(0, 3, n))]
    df = pd.DataFrame(data)
    if not categorical:
        return df, y
    numeric = {f"m{j:02d}": float for j in range(columns)}
    return _with_missing(df, rng, 0.02).astype(numeric), y


def small_blobs(
    sizes: tuple[int, ...] = (40, 30, 20), d: int = 2, seed: int = 0, spread: float = 0.3
) -> tuple[np.ndarray, np.ndarray]:
    """Tight round groups of the given sizes on well-apart corners (8 units apart per axis),
    rows shuffled, as float32 with the planted labels: small enough for one-second fits in the
    algorithms' own tests."""
    rng = np.random.default_rng(seed)
    corners = np.array([[8.0 * ((g >> b) & 1) for b in range(d)] for g in range(len(sizes))])
    corners += 8.0 * (np.arange(len(sizes)) // 2**d)[:, None]
    y = rng.permutation(np.repeat(np.arange(len(sizes)), sizes))
    X = corners[y] + rng.normal(0, spread, (len(y), d))
    return X.astype(np.float32), y
