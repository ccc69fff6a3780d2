"""Many numeric columns that move together (issue 10, real data such as 30 measurements of
a tumour or 64 pixels): the default path fits the latent class model on their principal
components, the projection is part of the fitted state, and told k the covariance
variants are compared too."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score
from test_choice import run_default

from planted import correlated_led, many_correlated
from segtrail.engine.algorithms import get_algorithm
from segtrail.engine.algorithms.lca import MAX_COMPONENTS, fit_projection, project_rows
from segtrail.engine.choice import (
    MAX_COVARIANCE_COLUMNS,
    PROJECTION_KMEANS,
    PROJECTION_REASON,
    wants_projection,
)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    columns=st.integers(3, 24),
    factors=st.integers(1, 6),
)
def test_projection_matches_scikit_learn_pca(seed: int, columns: int, factors: int) -> None:
    """Kept components: those with more variance than the mean column (Kaiser's rule on
    standardized columns), between 2 and MAX_COMPONENTS; the scores equal scikit-learn's
    PCA scores up to each component's sign."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(300, factors)) @ rng.normal(size=(factors, columns)) * 2
    x += rng.normal(size=(300, columns))
    X = ((x - x.mean(axis=0)) / x.std(axis=0)).astype(np.float32)
    levels, weights = np.zeros(columns, np.int64), np.ones(columns)
    projection = fit_projection(X, levels, weights)
    pca = PCA().fit(X.astype(np.float64))
    variances = pca.explained_variance_
    expected = min(max(int((variances > variances.mean()).sum()), 2), MAX_COMPONENTS, columns)
    p = projection["components"].shape[1]
    assert p == expected
    state = {
        "projection_columns": projection["columns"],
        "projection_mean": projection["mean"],
        "projection": projection["components"],
    }
    ours = project_rows(X, state).astype(np.float64)
    theirs = pca.transform(X.astype(np.float64))[:, :p]
    distinct = np.r_[True, np.abs(np.diff(variances[: p + 1])) > 1e-3 * variances[0]]
    for j in range(p):
        if distinct[j] and distinct[j + 1]:  # a repeated eigenvalue has no unique axis
            assert np.allclose(np.abs(ours[:, j]), np.abs(theirs[:, j]), atol=2e-3)


def test_projection_leaves_categorical_and_weightless_columns_as_they_are() -> None:
    rng = np.random.default_rng(0)
    X = np.hstack([rng.normal(size=(50, 4)), rng.integers(0, 3, (50, 1)), rng.normal(size=(50, 1))])
    X = X.astype(np.float32)
    X[3, 1] = np.nan  # a missing value counts as the column's mean: the row still projects
    levels = np.array([0, 0, 0, 0, 3, 0])
    weights = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.0])
    projection = fit_projection(X, levels, weights)
    assert list(projection["columns"]) == [0, 1, 2, 3]
    state = {
        "projection_columns": projection["columns"],
        "projection_mean": projection["mean"],
        "projection": projection["components"],
    }
    out = project_rows(X, state)
    p = projection["components"].shape[1]
    assert out.shape == (50, p + 2) and not np.isnan(out).any()
    assert np.array_equal(out[:, p:], X[:, [4, 5]])


def layout(numeric: int, weight: float = 1.0) -> dict:
    return {"levels": [0] * numeric + [3], "feature_weights": [1.0] * (numeric - 1) + [weight, 1]}


def test_only_more_numeric_columns_than_the_covariance_limit_are_projected() -> None:
    assert not wants_projection(layout(MAX_COVARIANCE_COLUMNS))  # the family's cells: <= 7
    assert wants_projection(layout(MAX_COVARIANCE_COLUMNS + 1))
    assert not wants_projection(layout(MAX_COVARIANCE_COLUMNS + 1, weight=2.0))


@pytest.mark.parametrize("columns", [30, 60])
def test_planted_many_correlated_columns_found_by_the_default_path(columns: int) -> None:
    """Four segments over 30 or 60 numeric columns that move together within segments: the
    default path projects them, fits a covariance model on the components, finds k=4, and
    `assign` on the input columns reproduces the labels from the stored plain arrays."""
    df, planted = many_correlated(3000, seed=columns, columns=columns)
    result, decision = run_default(df)
    assert decision["algorithm"] == "lca" and result.params["k"] == 4
    assert result.params["numeric_projection"] == "pca"
    assert 2 <= result.params["projection_components"] <= MAX_COMPONENTS
    assert result.params["numeric_covariance"] in ("full", "tied")
    assert adjusted_rand_score(planted, result.labels) >= 0.9
    assert any("principal components" in n and "more than 16 numeric" in n for n in result.notes)
    for key in ("projection_columns", "projection_mean", "projection"):
        assert isinstance(result.state[key], np.ndarray)
    labels, confidence = get_algorithm("lca").assign(result.state, decision["matrix"])
    assert np.array_equal(labels, result.labels)
    assert np.allclose(confidence, result.confidence)


def test_told_k_compares_the_covariance_variants_on_mixed_data() -> None:
    """--k 4 on segments whose numeric columns move together: the covariance model is
    chosen by BIC at k=4 (before, the plain model was fitted), and it recovers them."""
    df, planted = correlated_led(3000, seed=3)
    result, decision = run_default(df, k=4)
    assert result.params["k"] == 4
    assert result.params["numeric_covariance"] in ("full", "tied")
    assert any("lowest BIC of the variants" in n for n in result.notes)
    assert decision["selection"] is None  # told k: no k selection to report
    assert adjusted_rand_score(planted, result.labels) >= 0.9


def test_told_k_compares_the_covariance_variants_on_numeric_data() -> None:
    df, planted = correlated_led(3000, seed=1, categorical=False)
    result, decision = run_default(df, k=4)
    assert decision["algorithm"] == "lca" and result.params["k"] == 4
    assert result.params["numeric_covariance"] in ("full", "tied")
    assert "covariance matrix" in result.notes[0]
    assert adjusted_rand_score(planted, result.labels) >= 0.95


def test_when_k_means_wins_on_the_components_it_runs_on_every_column() -> None:
    """20 numeric columns, 5 groups, each raised by 3 sd on its own 4 columns, one common
    round spread (k-means' model, after standardizing too: every column has the same
    spread): the comparison on the components picks k-means, which then clusters the full
    standardized matrix, and the notes say so rather than claiming a projection."""
    rng = np.random.default_rng(5)
    groups = rng.integers(0, 5, 2500)
    centres = 3.0 * np.kron(np.eye(5), np.ones(4))  # group g: columns 4g..4g+3
    values = centres[groups] + rng.normal(size=(2500, 20))
    df = pd.DataFrame(values, columns=[f"x{j:02d}" for j in range(20)])
    df.insert(0, "customer_id", [f"K{i:05d}" for i in range(2500)])
    result, decision = run_default(df)
    assert decision["algorithm"] == "kmeans" and result.params["k"] == 5
    assert decision["matrix"].shape[1] == 20  # every column, not the components
    assert adjusted_rand_score(groups, result.labels) >= 0.95
    assert PROJECTION_KMEANS in result.notes and PROJECTION_REASON not in result.notes
