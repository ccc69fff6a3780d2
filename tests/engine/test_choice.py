"""The default path: which algorithm, which columns, which k, and the reasons given."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from planted import categorical_led, numeric_led
from segtrail.engine.choice import default_fit
from segtrail.engine.features import build_spec, fit_features, model_matrix, transform_features


def kinds_of(df: pd.DataFrame) -> dict[str, str]:
    kinds = {c: "categorical" if df[c].dtype == object else "numeric" for c in df}
    return kinds | {"customer_id": "id"} | ({"member": "boolean"} if "member" in df else {})


def run_default(df: pd.DataFrame, k: int | str = "auto"):
    kinds = kinds_of(df)
    _, fitted = fit_features(df, build_spec(df, kinds, "customer_id"))
    M, levels, weights = model_matrix(df, fitted)
    names = [c["column"] for c in fitted["columns"]]

    def kmeans_matrix(w: list[float]) -> np.ndarray:
        cols = [{**c, "weight": wj} for c, wj in zip(fitted["columns"], w, strict=True)]
        return transform_features(df, {**fitted, "columns": cols})

    return default_fit(M, levels, weights, names, k, (2, 10), 0, kmeans_matrix=kmeans_matrix)


def test_numeric_led_mixed_data_noise_columns_out_and_planted_segments_found() -> None:
    df, planted = numeric_led(n=4000, seed=3)
    result, decision = run_default(df)
    assert decision["algorithm"] == "lca"
    assert decision["noise"] == ["tenure", "colour"]
    assert result.params["k"] == 6
    assert adjusted_rand_score(planted, result.labels) >= 0.9
    assert any("latent class model chosen" in n and "channel" in n for n in result.notes)
    assert any("pure-noise columns" in n and "tenure, colour" in n for n in result.notes)
    assert any("k=6 chosen automatically" in n for n in result.notes)


def test_categorical_led_data_at_a_fixed_k_skips_the_sweep() -> None:
    df, planted = categorical_led(n=3000, seed=4)
    result, decision = run_default(df, k=5)
    assert decision["selection"] is None and decision["noise"] == []
    assert adjusted_rand_score(planted, result.labels) >= 0.9


def blobs_frame(spreads: np.ndarray, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = 3000
    y = rng.integers(0, 3, n)
    centres = np.array([[0.0, 0.0, 0.0], [6.0, 0.0, 3.0], [0.0, 6.0, -3.0]])
    X = centres[y] + rng.normal(size=(n, 3)) * spreads[y]
    return pd.DataFrame({"customer_id": np.arange(n).astype(str), "a": X[:, 0],
                         "b": X[:, 1], "c": X[:, 2]}), y  # fmt: skip


def test_all_numeric_round_blobs_of_one_spread_go_to_kmeans() -> None:
    df, y = blobs_frame(np.ones((3, 3)), seed=5)
    result, decision = run_default(df)
    assert decision["algorithm"] == "kmeans" and result.params["k"] == 3
    assert "centres" in result.state
    assert adjusted_rand_score(y, result.labels) > 0.98
    assert "k-means chosen" in result.notes[0] and "BIC" in result.notes[0]


def test_all_numeric_segments_of_very_different_spreads_go_to_the_mixture() -> None:
    spreads = np.array([[0.3, 0.3, 0.3], [2.0, 2.0, 2.0], [0.8, 0.8, 0.8]])
    df, y = blobs_frame(spreads, seed=6)
    result, decision = run_default(df)
    assert decision["algorithm"] == "lca" and result.params["k"] == 3
    assert "own spread" in result.notes[0]
    assert adjusted_rand_score(y, result.labels) > 0.95
