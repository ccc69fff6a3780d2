"""Segments whose numeric columns move together within each segment (issue 10, real data):
the latent class model's covariance variants ("full", "tied") that model the correlation,
and the default path that finds the planted k (the k rule that does not follow BIC past a
stable k is tested in test_kmixture.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import multivariate_normal
from sklearn.metrics import adjusted_rand_score
from test_choice import run_default

from planted import correlated_led
from segtrail.engine.algorithms import get_algorithm
from segtrail.engine.algorithms.lca import Data, Model
from segtrail.engine.features import build_spec, fit_features, model_matrix
from segtrail.engine.kmixture import mixture_sweep

LEVELS = np.array([0, 0, 0, 3])


def random_state(rng: np.random.Generator, k: int, tied: bool) -> dict:
    a = rng.normal(size=(k, 3, 3))
    cov = a @ a.transpose(0, 2, 1) + 0.3 * np.eye(3)
    if tied:
        cov[:] = cov[0]
    return {
        "weights": rng.dirichlet(np.ones(k)),
        "means": rng.normal(size=(k, 3)),
        "variances": np.einsum("kii->ki", cov).copy(),
        "covariances": cov,
        "log_probs": np.log(rng.dirichlet(np.ones(3), k)),
        "levels": LEVELS,
        "feature_weights": np.ones(4),
    }


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 4), missing=st.floats(0.0, 0.5))
def test_full_covariance_likelihood_matches_scipy(seed: int, k: int, missing: float) -> None:
    """log p(x, class) against scipy's multivariate normal on each row's observed numeric
    values (missing ones marginalized out) plus the categorical log share."""
    rng = np.random.default_rng(seed)
    state = random_state(rng, k, tied=bool(seed % 2))
    X = np.hstack([rng.normal(size=(25, 3)) * 2, rng.integers(0, 3, (25, 1))]).astype(np.float32)
    X[rng.random(X.shape) < missing] = np.nan
    ours = Model.from_state(state).joint(Data(X, LEVELS, np.ones(4)))
    for i, row in enumerate(X.astype(np.float64)):
        seen = np.flatnonzero(~np.isnan(row[:3]))
        for c in range(k):
            expected = np.log(state["weights"][c])
            if len(seen):
                cov = state["covariances"][c][np.ix_(seen, seen)]
                expected += multivariate_normal(state["means"][c, seen], cov).logpdf(row[seen])
            if not np.isnan(row[3]):
                expected += state["log_probs"][c, int(row[3])]
            assert ours[i, c] == pytest.approx(expected, abs=1e-6)


def correlated_matrix(categorical: bool = True, seed: int = 3):
    df, planted = correlated_led(3000, seed, categorical=categorical)
    kinds = {c: "categorical" if df[c].dtype == object else "numeric" for c in df}
    _, fitted = fit_features(df, build_spec(df, kinds | {"customer_id": "id"}, "customer_id"))
    M, levels, weights = model_matrix(df, fitted)
    return df, planted, M, levels, weights


def test_full_covariance_fit_recovers_correlated_segments_and_assign_reproduces_it() -> None:
    _, planted, M, levels, weights = correlated_matrix()
    algo = get_algorithm("lca")
    params = {"k": 4, "levels": levels, "feature_weights": weights}
    full = algo.fit(M, params | {"numeric_covariance": "full"}, 0)
    assert full.params["numeric_covariance"] == "full"
    assert full.state["covariances"].shape == (4, 3, 3)
    assert adjusted_rand_score(planted, full.labels) >= 0.9
    labels, confidence = algo.assign(full.state, M)
    assert np.array_equal(labels, full.labels)
    assert np.allclose(confidence, full.confidence)


def test_default_path_finds_the_planted_k_where_lowest_bic_alone_runs_on() -> None:
    df, planted, M, levels, _ = correlated_matrix()
    # the rule before issue 10's correlated cells: lowest BIC of the independent model
    plain, _, _ = mixture_sweep(M, (2, 10), 0, {"levels": levels}, split_half=False)
    assert min(plain["curve"], key=lambda r: r["bic"])["k"] >= 6
    result, _ = run_default(df)
    assert result.params["k"] == 4
    assert result.params["numeric_covariance"] in ("full", "tied")
    assert adjusted_rand_score(planted, result.labels) >= 0.9
    assert any("covariance matrix" in n and "lowest BIC of the variants" in n for n in result.notes)


def test_all_numeric_correlated_segments_go_to_the_covariance_model() -> None:
    df, planted, *_ = correlated_matrix(categorical=False, seed=1)
    result, decision = run_default(df)
    assert decision["algorithm"] == "lca" and result.params["k"] == 4
    assert result.params["numeric_covariance"] in ("full", "tied")
    assert adjusted_rand_score(planted, result.labels) >= 0.95
    assert "covariance matrix" in result.notes[0]
