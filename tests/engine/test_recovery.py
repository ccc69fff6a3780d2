"""End to end on the built-in sample: default preprocessing finds the planted segments.

The 50,000-customer sample has six planted segments (see ``engine.sample.SEGMENTS``). With
the default feature spec (every column but the id and the email text), k-means with
automatic k must find k = 6 and agree with the planted segments (adjusted Rand index
>= 0.9); HDBSCAN with its default parameters, run through the registry (fit on a sample,
the rest assigned), must reach ARI >= 0.8 with noise counted as its own label.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from segtrail.engine.algorithms import get_algorithm
from segtrail.engine.features import build_spec, fit_features
from segtrail.engine.kselect import choose_k
from segtrail.engine.sample import CUSTOMER_KINDS, SEGMENTS, generate_customers


@pytest.fixture(scope="module")
def sample() -> tuple[np.ndarray, np.ndarray]:
    df, planted = generate_customers(50_000, seed=7)
    spec = build_spec(df, CUSTOMER_KINDS, "customer_id")
    assert "email" not in [f["column"] for f in spec["features"]]
    assert "region" in [f["column"] for f in spec["features"]]  # the noise column stays in
    X, _ = fit_features(df, spec)
    return X, planted


def test_kmeans_with_automatic_k_recovers_the_planted_segments(
    sample: tuple[np.ndarray, np.ndarray],
) -> None:
    X, planted = sample
    selection = choose_k(X, "kmeans", (2, 12), seed=0)
    assert selection["chosen_k"] == len(SEGMENTS) == 6
    kmeans = get_algorithm("kmeans")
    result = kmeans.fit(X, {"k": selection["chosen_k"]}, seed=0)
    assert adjusted_rand_score(planted, result.labels) >= 0.9
    # asking the algorithm for automatic k takes the same route to the same answer
    auto = kmeans.fit(X, {"k": "auto"}, seed=0)
    assert auto.params["k"] == 6 and np.array_equal(auto.labels, result.labels)
    # the small VIP segment (3%) is its own segment, the smallest one
    vip = planted == len(SEGMENTS) - 1
    assert np.bincount(result.labels[vip]).argmax() == 5
    assert (result.labels[vip] == 5).mean() > 0.95


def test_hdbscan_defaults_recover_the_planted_segments(
    sample: tuple[np.ndarray, np.ndarray],
) -> None:
    X, planted = sample
    result = get_algorithm("hdbscan").fit(X, {}, seed=0)
    assert result.params["fit_rows"] < len(X)  # sample-and-assign path
    assert adjusted_rand_score(planted, result.labels) >= 0.8
    assert int(result.labels.max()) + 1 == 6


def test_dbscan_defaults_recover_the_planted_segments(
    sample: tuple[np.ndarray, np.ndarray],
) -> None:
    X, planted = sample
    result = get_algorithm("dbscan").fit(X, {}, seed=0)
    assert adjusted_rand_score(planted, result.labels) >= 0.8


@pytest.mark.parametrize("seed", [11, 23])
def test_planted_k_on_other_draws_of_the_sample(seed: int) -> None:
    df, planted = generate_customers(20_000, seed=seed)
    X, _ = fit_features(df, build_spec(df, CUSTOMER_KINDS, "customer_id"))
    result = get_algorithm("kmeans").fit(X, {"k": "auto"}, seed=seed)
    assert result.params["k"] == 6
    assert adjusted_rand_score(planted, result.labels) >= 0.9
