"""The latent class model (lca): its likelihood against a direct computation, missing
values, column weights, discrete columns, and recovery of data drawn from the model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm
from sklearn.metrics import adjusted_rand_score

from segtrail.engine.algorithms import get_algorithm
from segtrail.engine.algorithms.lca import Data, Model
from segtrail.engine.kmixture import choose_k_mixture
from segtrail.errors import SegtrailError

LEVELS = [0, 0, 3, 4]  # two numeric columns, a 3-level and a 4-level categorical one


def draw(n: int, seed: int, missing: float = 0.0) -> tuple[np.ndarray, np.ndarray, dict]:
    """Rows drawn from a 3-class model with LEVELS, plus the true parameters."""
    rng = np.random.default_rng(seed)
    weights = np.array([0.5, 0.3, 0.2])
    means = np.array([[-2.0, 0.0], [2.0, 1.5], [0.0, -2.5]])
    sds = np.array([[1.0, 0.6], [0.7, 1.0], [0.8, 0.8]])
    probs = [
        np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]]),
        np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.1, 0.7, 0.1], [0.1, 0.7, 0.1, 0.1]]),
    ]
    y = rng.choice(3, size=n, p=weights)
    X = np.empty((n, 4), dtype=np.float32)
    X[:, :2] = means[y] + rng.normal(size=(n, 2)) * sds[y]
    for j, p in enumerate(probs):
        cum = p[y].cumsum(axis=1)
        X[:, 2 + j] = (rng.random((n, 1)) > cum).sum(axis=1)
    X[rng.random(X.shape) < missing] = np.nan
    return X, y, {"weights": weights, "means": means, "sds": sds}


def reference_joint(X: np.ndarray, state: dict) -> np.ndarray:
    """log p(x, class) by a plain loop over rows, classes and columns (scipy's normal)."""
    k = len(state["weights"])
    levels = np.asarray(state["levels"])
    w = np.asarray(state["feature_weights"])
    out = np.zeros((len(X), k))
    for i, row in enumerate(X):
        for c in range(k):
            total = np.log(state["weights"][c])
            num = cat_offset = 0
            for j, L in enumerate(levels):
                if L == 0:
                    if not np.isnan(row[j]):
                        sd = np.sqrt(state["variances"][c, num])
                        total += w[j] * norm.logpdf(row[j], state["means"][c, num], sd)
                    num += 1
                else:
                    if not np.isnan(row[j]):
                        total += w[j] * state["log_probs"][c, cat_offset + int(row[j])]
                    cat_offset += L
            out[i, c] = total
    return out


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 4), missing=st.floats(0.0, 0.6))
def test_likelihood_matches_a_direct_computation(seed: int, k: int, missing: float) -> None:
    """Reference: reference_joint, the joint likelihood written out term by term."""
    rng = np.random.default_rng(seed)
    X, _, _ = draw(30, seed, missing)
    log_probs = np.log(rng.dirichlet(np.ones(3), k))
    log_probs = np.hstack([log_probs, np.log(rng.dirichlet(np.ones(4), k))])
    state = {
        "weights": rng.dirichlet(np.ones(k)),
        "means": rng.normal(size=(k, 2)),
        "variances": rng.uniform(0.2, 3.0, (k, 2)),
        "log_probs": log_probs,
        "levels": np.array(LEVELS),
        "feature_weights": rng.uniform(0.0, 2.0, 4),
    }
    data = Data(X, np.array(LEVELS), state["feature_weights"])
    ours = Model.from_state(state).joint(data)
    assert np.allclose(ours, reference_joint(X, state), atol=1e-6)


def test_recovers_a_model_it_can_represent_despite_missing_values() -> None:
    X, y, truth = draw(3000, seed=1, missing=0.1)
    result = get_algorithm("lca").fit(X, {"k": 3, "levels": LEVELS}, seed=0)
    assert adjusted_rand_score(y, result.labels) > 0.9
    # classes come back ordered by size: 50%, 30%, 20%
    assert np.allclose(result.state["weights"], truth["weights"], atol=0.03)
    assert np.allclose(result.state["means"], truth["means"], atol=0.15)
    assert np.allclose(np.sqrt(result.state["variances"]), truth["sds"], atol=0.1)
    assert ((result.confidence > 0.3) & (result.confidence <= 1.0)).all()


def test_a_row_with_nothing_observed_gets_the_class_shares() -> None:
    X, _, _ = draw(1000, seed=2)
    algo = get_algorithm("lca")
    result = algo.fit(X, {"k": 3, "levels": LEVELS}, seed=0)
    empty = np.full((1, 4), np.nan, dtype=np.float32)
    labels, confidence = algo.assign(result.state, empty)
    assert labels[0] == 0  # the largest class
    assert confidence[0] == pytest.approx(result.state["weights"].max(), rel=1e-5)


def test_a_column_with_weight_zero_does_not_move_anyone() -> None:
    X, _, _ = draw(1500, seed=3)
    algo = get_algorithm("lca")
    params = {"k": 3, "levels": LEVELS, "feature_weights": [1.0, 1.0, 0.0, 1.0]}
    first = algo.fit(X, params, seed=0)
    scrambled = X.copy()
    scrambled[:, 2] = np.random.default_rng(9).integers(0, 3, len(X))
    second = algo.fit(scrambled, params, seed=0)
    assert np.array_equal(first.labels, second.labels)
    assert first.params["feature_weights"] == [1.0, 1.0, 0.0, 1.0]


def test_a_count_column_does_not_inflate_k() -> None:
    """Zero-heavy Poisson counts: without the discrete-value floor a class sits on zero and
    BIC keeps adding classes."""
    rng = np.random.default_rng(4)
    n = 3000
    y = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    counts = rng.poisson(np.array([0.4, 3.0, 12.0])[y]).astype(float)
    X = np.column_stack(
        [
            (np.log1p(counts) - np.log1p(counts).mean()) / np.log1p(counts).std(),
            np.array([-1.5, 0.0, 1.5])[y] + rng.normal(0, 0.6, n),
            np.where(rng.random(n) < 0.7, y, rng.integers(0, 3, n)),
        ]
    ).astype(np.float32)
    selection = choose_k_mixture(X, (2, 8), 0, {"levels": [0, 0, 3]}, split_half=False)
    assert selection["chosen_k"] == 3


def test_bad_codes_and_layouts_are_refused() -> None:
    X, _, _ = draw(100, seed=5)
    algo = get_algorithm("lca")
    bad = X.copy()
    bad[0, 2] = 7.0  # the column has 3 levels
    with pytest.raises(SegtrailError, match="not one of its levels"):
        algo.fit(bad, {"k": 2, "levels": LEVELS}, 0)
    with pytest.raises(SegtrailError, match="one entry per column"):
        algo.fit(X, {"k": 2, "levels": [0, 3]}, 0)
    with pytest.raises(SegtrailError, match="infinite"):
        algo.fit(np.full((5, 2), np.inf, dtype=np.float32), {"k": 2}, 0)
