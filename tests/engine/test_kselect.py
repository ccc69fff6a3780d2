"""Choosing k: the curve, the documented vote, and planted k on mixed data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import silhouette_score

from segtrail.engine.features import build_spec, fit_features
from segtrail.engine.kselect import RULE, choose_k, combined_rule, silhouettes, within_ss
from segtrail.errors import SegtrailError


def mixed_planted(
    k: int, n: int = 3000, seed: int = 0, levels: int = 5
) -> tuple[pd.DataFrame, np.ndarray, dict[str, str]]:
    """k planted segments of unequal size on 5 numeric columns (one money-like, skewed) and
    3 categorical ones (each segment has a favourite level, 80% of its rows), plus a noise
    numeric column and an uninformative region."""
    rng = np.random.default_rng(seed)
    shares = rng.uniform(1.0, 2.5, k)
    planted = rng.choice(k, size=n, p=shares / shares.sum())
    while True:  # centres at least 3.5 apart so the planted k is well defined
        centres = rng.normal(0, 2.5, (k, 5))
        gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
        if gaps[np.triu_indices(k, 1)].min() >= 3.5:
            break
    cols: dict[str, object] = {"id": [f"C{i}" for i in range(n)]}
    for j in range(5):
        x = centres[planted, j] + rng.normal(0, 1, n)
        cols[f"num{j}"] = np.exp(x / 2) * 50 if j == 0 else x
    for j in range(3):
        favourite = rng.integers(0, levels, k)
        code = np.where(rng.random(n) < 0.8, favourite[planted], rng.integers(0, levels, n))
        cols[f"cat{j}"] = np.array([f"L{c}" for c in range(levels)])[code]
    cols["noise"] = rng.normal(0, 1, n)
    cols["region"] = rng.choice(["N", "S", "E", "W"], n)
    df = pd.DataFrame(cols)
    kinds = {c: "numeric" for c in df}
    kinds |= {"id": "id", "cat0": "categorical", "cat1": "categorical", "cat2": "categorical"}
    kinds["region"] = "categorical"
    return df, planted, kinds


def grouped_planted(seed: int, n: int = 4000) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """Six segments in two broad groups of three: the case where silhouette stops at 2."""
    rng = np.random.default_rng(seed)
    planted = rng.integers(0, 6, n)
    group = planted // 3
    broad = rng.normal(0, 4, (2, 4))
    fine = rng.normal(0, 1.5, (6, 4))
    cols: dict[str, object] = {"id": np.arange(n).astype(str)}
    for j in range(4):
        cols[f"a{j}"] = broad[group, j] + rng.normal(0, 1, n)
        cols[f"b{j}"] = fine[planted, j] + rng.normal(0, 1, n)
    favourite = rng.integers(0, 4, (6, 2))
    for j in range(2):
        code = np.where(rng.random(n) < 0.8, favourite[planted, j], rng.integers(0, 4, n))
        cols[f"c{j}"] = np.array(list("WXYZ"))[code]
    df = pd.DataFrame(cols)
    kinds = {c: "categorical" if c.startswith("c") else "numeric" for c in df} | {"id": "id"}
    return df, planted, kinds


def matrix(df: pd.DataFrame, kinds: dict) -> np.ndarray:
    return fit_features(df, build_spec(df, kinds, "id"))[0]


def silhouette_pick(result: dict) -> int:
    return max(result["curve"], key=lambda row: row["silhouette"])["k"]


@pytest.mark.parametrize("seed", [0, 2, 3])
@pytest.mark.parametrize("k", [3, 5, 6])
def test_planted_k_on_mixed_numeric_and_categorical_data(k: int, seed: int) -> None:
    df, _, kinds = mixed_planted(k, seed=seed)
    result = choose_k(matrix(df, kinds), "kmeans", (2, 10), seed=0)
    assert result["chosen_k"] == k
    assert result["rule"] == RULE


@pytest.mark.parametrize("seed", [0, 2])
def test_rule_beats_silhouette_where_silhouette_picks_too_few(seed: int) -> None:
    df, _, kinds = mixed_planted(3, seed=seed)
    result = choose_k(matrix(df, kinds), "kmeans", (2, 10), seed=0)
    assert silhouette_pick(result) == 2  # the known failure of silhouette alone
    assert result["chosen_k"] == 3


def test_grouped_segments_are_not_collapsed_to_the_two_groups() -> None:
    df, _, kinds = grouped_planted(seed=8)
    result = choose_k(matrix(df, kinds), "kmeans", (2, 10), seed=0)
    assert silhouette_pick(result) == 2
    assert result["chosen_k"] == 6


def test_result_shape_and_notes_on_a_sample() -> None:
    df, _, kinds = mixed_planted(4, n=6000, seed=1)
    calls: list[tuple[str, float]] = []
    result = choose_k(
        matrix(df, kinds), "kmeans", (2, 6), seed=0, sample_size=3000,
        progress=lambda step, fraction: calls.append((step, fraction)),
    )  # fmt: skip
    assert [row["k"] for row in result["curve"]] == [2, 3, 4, 5, 6]
    for row in result["curve"]:
        assert {"silhouette", "calinski_harabasz", "davies_bouldin", "inertia", "score"} <= set(row)
    inertia = [row["inertia"] for row in result["curve"]]
    assert inertia == sorted(inertia, reverse=True)
    assert result["total_inertia"] > inertia[0]
    assert "k sweep fitted on a sample of 3,000 customers" in result["notes"]
    assert "choosing k: each k scored on a sample of 3,000 customers" in result["notes"]
    assert result["sample_size"] == 3000
    assert calls[-1][1] == 1.0
    json.dumps(result)


def test_same_seed_same_choice_and_curve() -> None:
    df, _, kinds = mixed_planted(4, n=1500, seed=5)
    X = matrix(df, kinds)
    assert choose_k(X, "kmeans", (2, 7), seed=3) == choose_k(X.copy(), "kmeans", (2, 7), seed=3)


def test_agglomerative_and_gmm_sweeps() -> None:
    df, _, kinds = mixed_planted(5, n=1500, seed=0)
    X = matrix(df, kinds)
    assert choose_k(X, "agglomerative", (2, 8), seed=0)["chosen_k"] == 5
    gmm = choose_k(X, "gmm", (2, 6), seed=0)
    assert "BIC" in gmm["rule"]
    assert gmm["chosen_k"] == min(gmm["curve"], key=lambda row: row["bic"])["k"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("dbscan", (2, 5)), "finds the number of segments itself"),
        (("kmeans", (1, 5)), "k range must be two whole numbers"),
        (("kmeans", (6, 5)), "k range must be two whole numbers"),
        (("kmeans", (2, 500)), "needs more than 300 customers"),
    ],
)
def test_bad_requests(args: tuple, words: str) -> None:
    X = np.random.default_rng(0).normal(size=(300, 3)).astype(np.float32)
    with pytest.raises(SegtrailError, match=words):
        choose_k(X, *args, seed=0)


def test_combined_rule_weights_elbow_and_silhouette() -> None:
    # inertia bends hard at k=4; silhouette peaks at 3 -> the elbow (weight 2) wins
    curve = [
        {"k": 2, "silhouette": 0.30, "inertia": 600.0},
        {"k": 3, "silhouette": 0.40, "inertia": 400.0},
        {"k": 4, "silhouette": 0.38, "inertia": 120.0},
        {"k": 5, "silhouette": 0.20, "inertia": 110.0},
        {"k": 6, "silhouette": 0.10, "inertia": 100.0},
    ]
    assert combined_rule(curve, total_inertia=1000.0) == 4
    assert all("score" in row and "elbow" in row for row in curve)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(2, 5), n=st.integers(12, 120))
def test_shared_pass_silhouettes_match_scikit_learn(seed: int, k: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    labelings = [rng.integers(0, k, n), rng.integers(0, 2, n)]
    ours = silhouettes(X, labelings, chunk=7)
    for labels, value in zip(labelings, ours, strict=True):
        if len(np.unique(labels)) < 2:
            assert value is None
        else:
            assert value == pytest.approx(silhouette_score(X, labels), abs=1e-5)


def test_within_ss_ignores_noise() -> None:
    X = np.array([[0.0], [2.0], [10.0], [12.0], [100.0]], dtype=np.float32)
    assert within_ss(X, np.array([0, 0, 1, 1, -1])) == pytest.approx(4.0)


# ----------------------------------------------------------------------------- latent class k


def test_mixture_curve_bic_choice_runner_up_and_stability() -> None:
    from planted import categorical_led
    from segtrail.engine.features import model_matrix
    from segtrail.engine.kmixture import CLOSE

    df, planted = categorical_led(n=3000, seed=1)
    kinds = {c: "categorical" for c in df} | {"customer_id": "id"}
    kinds |= {"age": "numeric", "spend_eur": "numeric"}
    _, fitted = fit_features(df, build_spec(df, kinds, "customer_id"))
    M, levels, _ = model_matrix(df, fitted)
    result = choose_k(M, "lca", (2, 8), seed=0, params={"levels": levels})
    curve = result["curve"]
    assert [row["k"] for row in curve] == list(range(2, 9))
    by_bic = sorted(curve, key=lambda row: row["bic"])
    assert result["chosen_k"] == by_bic[0]["k"] == len(np.unique(planted)) == 5
    assert result["runner_up"] == by_bic[1]["k"]
    assert result["runner_up_close"] == (by_bic[1]["bic"] - by_bic[0]["bic"] < CLOSE)
    for row in curve:
        assert row["icl"] >= row["bic"]  # ICL adds the (non-negative) entropy term
        assert -1.0 <= row["stability"] <= 1.0
    assert curve[3]["stability"] > 0.8  # k = 5 is reproducible from either half
    json.dumps(result)
