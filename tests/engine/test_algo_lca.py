"""The latent class model (engine/algorithms/lca.py) beyond test_lca.py, on small data: the
parameters recorded and the notes, the parameter count behind BIC, the covariance variants'
densities against scipy, the principal-component projection against numpy's SVD, the
variance floors, the input checks and their wording, the k sweep's figures."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal, norm
from sklearn.metrics import adjusted_rand_score

from segtrail.engine.algorithms import get_algorithm
from segtrail.engine.algorithms import lca as lca_module
from segtrail.engine.algorithms.lca import (
    Data,
    Model,
    discrete_floor,
    distinct_values,
    fit_projection,
    reorder,
)
from segtrail.errors import InvalidInput, SegtrailError

ALGO = get_algorithm("lca")


def mixed(n: int = 240, seed: int = 0, missing: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Three classes of shares 1/2, 1/3, 1/6 over two numeric columns (well apart) and a
    3-level categorical column (each class its favourite level, 80%)."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.repeat([0, 1, 2], [n // 2, n // 3, n - n // 2 - n // 3]))
    means = np.array([[-3.0, 0.0], [3.0, 2.0], [0.0, -4.0]])
    X = np.empty((n, 3), dtype=np.float32)
    X[:, :2] = means[y] + rng.normal(0, 0.5, (n, 2))
    X[:, 2] = np.where(rng.random(n) < 0.8, y, rng.integers(0, 3, n))
    X[rng.random(X.shape) < missing] = np.nan
    return X, y


LEVELS = [0, 0, 3]


def test_declared_parameters() -> None:
    declared = {p.name: (p.default, p.describe(), p.model, p.option) for p in ALGO.parameters}
    assert declared == {
        "k": ("auto", "'auto' or a whole number >= 2", True, True),
        "k_range": ([2, 12], "two whole numbers low <= high, each >= 2", False, True),
        "n_init": (4, "a whole number >= 1", True, True),
        "sample_size": (50_000, "a whole number >= 2", True, True),
        "var_floor": (0.01, "a number > 0", True, True),
        "levels": (None, "a list of numbers >= 0", True, False),
        "feature_weights": (None, "a list of numbers >= 0", True, False),
        "numeric_covariance": ("independent", "one of 'independent', 'full', 'tied'", True, False),
        "numeric_projection": ("none", "one of 'none', 'pca'", True, False),
    }
    helps = {p.name: p.help for p in ALGO.parameters}
    assert helps["n_init"] == "random starts of the mixture's EM; the best likelihood is kept"
    assert helps["var_floor"] == (
        "smallest spread of a numeric column within a segment (standardized units)"
    )
    assert ALGO.confidence_meaning == "probability of belonging to the segment (higher = surer)"
    assert ALGO.higher_confidence_is_better


def test_records_what_the_fit_used_and_the_likelihood() -> None:
    X, y = mixed()
    params = {"k": 3, "levels": LEVELS, "n_init": 2, "var_floor": 0.05, "sample_size": 1000}
    result = ALGO.fit(X, params, 0)
    assert adjusted_rand_score(y, result.labels) == 1.0
    used = result.params
    assert {key: used[key] for key in params} == params
    assert used["k_range"] == [2, 12] and used["feature_weights"] == [1.0, 1.0, 1.0]
    assert (used["fit_rows"], used["n_rows"]) == (240, 240)
    assert used["numeric_covariance"] == "independent" and used["numeric_projection"] == "none"
    assert "k_selection" not in used and "projection_components" not in used
    assert result.notes == []
    # the log-likelihood of the fitted model, written out with scipy
    s = result.state
    joint = np.log(s["weights"])[None, :] + np.zeros((len(X), 3))
    for c in range(3):
        for j in range(2):
            joint[:, c] += norm.logpdf(X[:, j], s["means"][c, j], np.sqrt(s["variances"][c, j]))
        joint[:, c] += s["log_probs"][c, X[:, 2].astype(int)]
    loglik = logsumexp(joint, axis=1).sum()
    assert used["log_likelihood_fit_rows"] == pytest.approx(loglik, rel=1e-6)
    # parameters: 2 shares, 3 x (2 means + 2 free level probabilities), 3 x 2 variances
    assert used["bic_fit_rows"] == pytest.approx(-2 * loglik + 20 * np.log(240), rel=1e-6)
    # level probabilities: each class's level counts plus a pseudo-count of 0.1 per level
    for c in range(3):
        counts = np.bincount(X[result.labels == c, 2].astype(int), minlength=3)
        expected = np.log((counts + 0.1) / (counts.sum() + 0.3))
        assert np.allclose(s["log_probs"][c], expected, atol=1e-4)
    # classes come back by size with the posterior as confidence
    assert np.bincount(result.labels).tolist() == [120, 80, 40]
    post = np.exp(joint - logsumexp(joint, axis=1, keepdims=True))
    assert np.allclose(result.confidence, post.max(axis=1), atol=1e-5)
    assert result.labels.tolist() == post.argmax(axis=1).tolist()


@pytest.mark.parametrize(
    ("covariance", "shared", "expected"),
    # k=3, two numeric columns with a weight, one 3-level column: 2 + 3 x (2 + 2) + spreads
    [
        ("independent", False, 20),
        ("independent", True, 16),
        ("full", False, 23),
        ("tied", False, 17),
    ],
)
def test_parameter_counts_behind_bic(covariance: str, shared: bool, expected: int) -> None:
    X, _ = mixed()
    X = np.column_stack([X, np.zeros(len(X), np.float32)])  # a fourth column without weight
    layout = {
        "levels": [0, 0, 3, 0],
        "feature_weights": [1.0, 1.0, 1.0, 0.0],
        "numeric_covariance": covariance,
        "shared_variance": shared,
    }
    fit = ALGO.sweep(X, [3], layout, 0)[3]
    assert fit["n_params"] == expected
    assert fit["bic"] == pytest.approx(-2 * fit["log_likelihood"] + expected * np.log(len(X)))


def test_sweep_figures_per_k() -> None:
    X, y = mixed()
    fits = ALGO.sweep(X, [1, 2, 3], {"levels": LEVELS}, 0)
    assert sorted(fits) == [1, 2, 3]
    assert adjusted_rand_score(y, fits[3]["labels"]) == 1.0
    assert (fits[1]["labels"] == 0).all()
    for k, fit in fits.items():
        post = fit["model"].posterior(Data(X, np.array(LEVELS), np.ones(3)))
        entropy = -(post * np.log(np.maximum(post, 1e-300))).sum()
        assert fit["icl"] == pytest.approx(fit["bic"] + 2 * entropy)
        assert isinstance(fit["log_likelihood"], float) and isinstance(fit["n_params"], int)
        assert len(fit["model"].weights) == k
    assert fits[1]["log_likelihood"] < fits[2]["log_likelihood"] < fits[3]["log_likelihood"]
    assert fits[3]["icl"] > fits[3]["bic"]  # some rows are not certain
    assert fits[1]["icl"] == pytest.approx(fits[1]["bic"])  # one class: no uncertainty


def test_shared_variance_pools_the_classes_spreads() -> None:
    X, _ = mixed()
    fit = ALGO.sweep(X, [3], {"levels": LEVELS, "shared_variance": True}, 0)[3]
    variances, labels = fit["model"].variances, fit["labels"]
    assert np.allclose(variances, variances[0])  # one spread per column for every class
    within = sum((labels == c).sum() * X[labels == c, :2].var(axis=0) for c in range(3))
    assert np.allclose(variances[0], within / len(X) + 0.01, atol=0.01)
    own = ALGO.sweep(X, [3], {"levels": LEVELS}, 0)[3]["model"].variances
    assert not np.allclose(own, own[0], atol=0.01)  # without it each class has its own


def test_splits_of_the_previous_k_find_a_close_pair_beside_a_wide_group() -> None:
    """One random start cuts the wide group in two and leaves the close pair merged; the
    k=2 solution's classes cut in two find the planted three."""
    for seed in (0, 2, 5):
        rng = np.random.default_rng(seed)
        y = np.repeat([0, 1, 2], [150, 40, 40])
        centres = np.array([[0.0, 0.0], [9.0, 0.0], [9.0, 2.2]])
        sd = np.array([3.0, 0.5, 0.5])
        X = (centres[y] + rng.normal(size=(230, 2)) * sd[y, None]).astype(np.float32)
        result = ALGO.fit(X, {"k": 3, "n_init": 1}, seed)
        assert adjusted_rand_score(y, result.labels) > 0.95, seed


def test_the_sweep_checks_its_layout_and_the_rows() -> None:
    X, _ = mixed(60)
    with pytest.raises(SegtrailError) as caught:
        ALGO.sweep(X, [2], {"levels": LEVELS, "feature_weights": [1, -1, 1]}, 0)
    assert str(caught.value) == "levels must be 0 or >= 2 and feature_weights >= 0, not all 0"
    with pytest.raises(SegtrailError) as caught:
        ALGO.sweep(X[:4], [2, 5], {"levels": LEVELS}, 0)
    assert str(caught.value) == "k=5 is more than the 4 customers to fit"


def test_a_sample_is_fitted_and_every_customer_assigned() -> None:
    X, y = mixed(300, seed=1)
    result = ALGO.fit(X, {"k": 3, "levels": LEVELS, "sample_size": 120}, 2)
    assert (result.params["fit_rows"], result.params["n_rows"]) == (120, 300)
    assert result.notes == [
        "latent class model fitted on a sample of 120 customers; all 300 assigned to their "
        "most likely class"
    ]
    assert adjusted_rand_score(y, result.labels) == 1.0
    at_size = ALGO.fit(X, {"k": 3, "levels": LEVELS, "sample_size": 300}, 2)
    assert at_size.params["fit_rows"] == 300 and at_size.notes == []


def test_large_fits_grow_on_a_start_sample_then_run_on_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lca_module, "START_SAMPLE", 240)
    X, y = mixed(240)
    small = ALGO.fit(X, {"k": 3, "levels": LEVELS}, 0)
    monkeypatch.setattr(lca_module, "START_SAMPLE", 60)
    large = ALGO.fit(X, {"k": 3, "levels": LEVELS}, 0)
    assert adjusted_rand_score(y, large.labels) == 1.0
    # EM runs to convergence on all rows from the start found on 60: the same optimum
    assert np.allclose(large.state["means"], small.state["means"], atol=1e-3)
    assert large.params["log_likelihood_fit_rows"] == pytest.approx(
        small.params["log_likelihood_fit_rows"], rel=1e-5
    )


def test_a_note_when_em_does_not_converge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lca_module, "MAX_ITER", 1)
    monkeypatch.setattr(lca_module, "SCREEN_ITER", 1)
    X = np.random.default_rng(3).normal(size=(150, 2)).astype(np.float32)
    result = ALGO.fit(X, {"k": 4}, 0)
    assert result.notes == ["EM did not converge in 1 iterations; the result may shift"]


def test_auto_k_is_chosen_over_the_range() -> None:
    X, _ = mixed()
    result = ALGO.fit(X, {"levels": LEVELS, "k_range": [2, 4]}, 0)
    assert result.params["k"] == 3 and result.params["k_range"] == [2, 4]
    assert result.params["k_selection"]["chosen_k"] == 3
    assert result.notes[0] == f"k=3 chosen automatically: {result.params['k_selection']['rule']}"


def test_the_variance_floor_is_added_where_a_class_is_narrow() -> None:
    X, _ = mixed()
    X[:, 0] = np.round(X[:, 0] * 50) / 50  # fine steps: not a discrete column (many values)
    for floor in (0.01, 1.0):
        result = ALGO.fit(X, {"k": 3, "levels": LEVELS, "var_floor": floor}, 0)
        sd2 = np.array([X[result.labels == c, 1].var() for c in range(3)])
        assert np.allclose(result.state["variances"][:, 1], sd2 + floor, atol=0.02)


def test_discrete_columns_get_a_floor_from_the_gap_between_values() -> None:
    values = np.repeat([7.0, 0.0, 3.0, 1.0], 6)
    assert distinct_values(values).tolist() == [0, 1, 3, 7]
    assert distinct_values(np.arange(10.0)).size == 0  # every value distinct: continuous
    assert distinct_values(np.array([2.0, 2.0, 2.0])).size == 0  # one value: no gap
    # 5 distinct values in 25 rows is the share limit (0.2): still discrete
    assert distinct_values(np.repeat(np.arange(5.0), 5)).tolist() == [0, 1, 2, 3, 4]
    assert distinct_values(np.repeat(np.arange(5.0), 5)[:-1]).size == 0
    means = np.array([[0.2, 5.0], [2.5, 5.0], [6.9, 5.0], [-3.0, 5.0], [50.0, 5.0]])
    floor = discrete_floor([np.array([0.0, 1.0, 3.0, 7.0]), np.zeros(0)], means, 0.05)
    # gaps around each mean: 1 (0..1), 2 (1..3), 4 (3..7), the first gap below, the last above
    assert np.allclose(floor[:, 0], [0.25, 1.0, 4.0, 0.25, 4.0])
    assert np.allclose(floor[:, 1], 0.05)  # a continuous column: the plain floor
    small = discrete_floor([np.array([0.0, 0.1])], np.array([[0.0]]), 0.05)
    assert np.allclose(small, 0.05)  # 0.25 x 0.01 is below the plain floor


def test_input_checks_and_their_wording() -> None:
    X, _ = mixed(60)
    cases = [
        ({"levels": [0, 0, 1]}, "levels must be 0 or >= 2 and feature_weights >= 0, not all 0"),
        ({"feature_weights": [0, 0, 0]}, "levels must be 0 or >= 2 and feature_weights >= 0"),
        ({"levels": [0, 3]}, "levels and feature_weights need one entry per column (3)"),
        ({"feature_weights": [1, 1]}, "levels and feature_weights need one entry per column (3)"),
    ]
    for params, words in cases:
        with pytest.raises(SegtrailError) as caught:
            ALGO.fit(X, {"k": 2, **params}, 0)
        assert str(caught.value).startswith(words)
    with pytest.raises(InvalidInput, match="feature_weights must be a list of numbers >= 0"):
        ALGO.fit(X, {"k": 2, "feature_weights": [1, -1, 1]}, 0)
    for code in (-1.0, 3.0, 0.5):
        bad = X.copy()
        bad[4, 2] = code
        with pytest.raises(SegtrailError) as caught:
            ALGO.fit(bad, {"k": 2, "levels": LEVELS}, 0)
        assert (
            str(caught.value) == "a categorical column holds a value that is not one of its levels"
        )
    with pytest.raises(SegtrailError) as caught:
        ALGO.fit(np.zeros((0, 3), np.float32), {"k": 2}, 0)
    assert str(caught.value) == "feature matrix must be 2-D and non-empty, got shape (0, 3)"
    with pytest.raises(SegtrailError, match=r"got shape \(4, 0\)"):
        ALGO.fit(np.zeros((4, 0), np.float32), {"k": 2}, 0)
    with pytest.raises(SegtrailError, match=r"got shape \(4,\)"):
        ALGO.assign({}, np.zeros(4, np.float32))
    bad = X.copy()
    bad[0, 0] = -np.inf
    with pytest.raises(SegtrailError) as caught:
        ALGO.fit(bad, {"k": 2, "levels": LEVELS}, 0)
    assert str(caught.value) == "feature matrix has infinite values"
    with pytest.raises(SegtrailError) as caught:
        ALGO.fit(X[:2], {"k": 3, "levels": LEVELS}, 0)
    assert str(caught.value) == "k=3 is more than the 2 customers to cluster"
    with pytest.raises(SegtrailError) as caught:
        ALGO.fit(X, {"k": 3, "levels": LEVELS, "sample_size": 2}, 0)
    assert str(caught.value) == "k=3 is more than the 2 customers to fit"


def test_assign_reads_missing_codes_and_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    X, _ = mixed(240, missing=0.1)
    result = ALGO.fit(X, {"k": 3, "levels": LEVELS}, 0)
    monkeypatch.setattr(lca_module, "CHUNK_ROWS", 7)
    labels, confidence = ALGO.assign(result.state, X)
    assert np.array_equal(labels, result.labels) and labels.dtype == np.int32
    assert np.allclose(confidence, result.confidence) and confidence.dtype == np.float32


def test_reorder_numbers_classes_by_size_and_drops_empty_ones() -> None:
    state = {
        "weights": np.array([0.2, 0.5, 0.3]),
        "means": np.array([[0.0], [1.0], [2.0]]),
        "variances": np.array([[1.0], [2.0], [3.0]]),
        "log_probs": np.zeros((3, 0)),
        "levels": np.array([0]),
    }
    out = reorder(state, [1, 2])
    assert np.allclose(out["weights"], [0.625, 0.375])
    assert out["means"].tolist() == [[1.0], [2.0]] and out["variances"].tolist() == [[2.0], [3.0]]
    assert out["log_probs"].shape == (2, 0) and "covariances" not in out
    assert state["weights"].tolist() == [0.2, 0.5, 0.3]  # the input is left as it was
    covs = reorder({**state, "covariances": np.arange(3.0)[:, None, None]}, [2, 0])
    assert covs["covariances"].ravel().tolist() == [2.0, 0.0]


def test_fewer_distinct_customers_than_k_gives_compact_classes() -> None:
    X = np.repeat(np.array([[0, 0], [5, 5], [9, 0]], dtype=np.float32), [30, 20, 10], axis=0)
    result = ALGO.fit(X, {"k": 5}, 0)
    assert np.bincount(result.labels).tolist() == [30, 20, 10]
    assert len(result.state["weights"]) == 3
    assert result.state["weights"].sum() == pytest.approx(1.0)
    labels, confidence = ALGO.assign(result.state, X)
    assert np.array_equal(labels, result.labels) and np.allclose(confidence, result.confidence)


# ----------------------------------------------------------------------------- covariances


def correlated(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two classes whose two numeric columns move together (r = +0.9 and -0.9)."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.repeat([0, 1], [n * 2 // 3, n - n * 2 // 3]))
    z = rng.normal(size=(n, 2))
    r = np.where(y == 0, 0.9, -0.9)
    X = np.column_stack([z[:, 0], r * z[:, 0] + np.sqrt(1 - r**2) * z[:, 1]])
    X += np.array([[0.0, 0.0], [4.0, 0.0]])[y]
    return X.astype(np.float32), y


def test_full_covariance_density_uses_the_observed_columns() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20, 3)).astype(np.float32)
    X[3, 1] = X[7, 0] = X[7, 2] = np.nan
    X[9] = np.nan  # nothing observed: only the class share counts
    a = rng.normal(size=(2, 3, 3))
    covs = a @ a.transpose(0, 2, 1) + np.eye(3)
    state = {
        "weights": np.array([0.7, 0.3]),
        "means": rng.normal(size=(2, 3)),
        "variances": np.einsum("kii->ki", covs),
        "covariances": covs,
        "log_probs": np.zeros((2, 0)),
        "levels": np.zeros(3, np.int64),
        "feature_weights": np.full(3, 2.0),
    }
    data = Data(X, state["levels"], state["feature_weights"])
    ours = Model.from_state(state).joint(data)
    for i, row in enumerate(X):
        seen = ~np.isnan(row)
        for c in range(2):
            expected = np.log(state["weights"][c])
            if seen.any():
                mvn = multivariate_normal(state["means"][c, seen], covs[c][np.ix_(seen, seen)])
                expected += 2.0 * mvn.logpdf(row[seen].astype(np.float64))
            assert ours[i, c] == pytest.approx(expected, rel=1e-6), (i, c)


@pytest.mark.parametrize("covariance", ["full", "tied"])
def test_covariance_variants_model_columns_that_move_together(covariance: str) -> None:
    X, y = correlated()
    result = ALGO.fit(X, {"k": 2, "numeric_covariance": covariance, "var_floor": 0.3}, 0)
    assert result.params["numeric_covariance"] == covariance
    covs = result.state["covariances"]
    assert covs.shape == (2, 2, 2)
    assert np.allclose(result.state["variances"], np.einsum("kii->ki", covs))
    # each class's covariance weighted by its posterior (the M-step at convergence), plus
    # the floor on the diagonal; "tied": the classes' matrices weighted by their shares
    post = Model.from_state(result.state).posterior(Data(X, np.zeros(2, np.int64), np.ones(2)))
    own = []
    for c in range(2):
        w = post[:, c] / post[:, c].sum()
        dev = X - w @ X
        own.append((dev * w[:, None]).T @ dev + 0.3 * np.eye(2))
    if covariance == "full":
        assert adjusted_rand_score(y, result.labels) > 0.9
        assert np.allclose(covs, own, atol=0.03)  # EM stops near the fixed point
        assert covs[0, 0, 1] > 0.6 and covs[1, 0, 1] < -0.6
    else:
        assert np.allclose(covs[0], covs[1])
        shares = post.mean(axis=0)
        assert np.allclose(covs[0], shares[0] * own[0] + shares[1] * own[1], atol=0.06)
    for c in range(2):
        assert np.linalg.eigvalsh(covs[c]).min() > 0
    labels, confidence = ALGO.assign(result.state, X)
    assert np.array_equal(labels, result.labels) and np.allclose(confidence, result.confidence)


def test_full_covariance_ignores_columns_without_a_weight() -> None:
    X, _ = correlated()
    noisy = np.column_stack([X, np.random.default_rng(2).normal(size=len(X))]).astype(np.float32)
    params = {"k": 2, "numeric_covariance": "full", "feature_weights": [1.0, 1.0, 0.0]}
    result = ALGO.fit(noisy, params, 0)
    covs = result.state["covariances"]
    assert np.allclose(covs[:, 2, :2], 0.0) and np.allclose(covs[:, :2, 2], 0.0)
    assert np.allclose(covs[:, 2, 2], 1.0)
    plain = ALGO.fit(X, {"k": 2, "numeric_covariance": "full"}, 0)
    assert np.array_equal(result.labels, plain.labels)


def test_full_covariance_stays_positive_definite_on_a_collinear_pair() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=200)
    X = np.column_stack([x, x, np.where(x > 0, 1.0, 0.0)]).astype(np.float32)
    result = ALGO.fit(X, {"k": 2, "numeric_covariance": "full", "levels": [0, 0, 2]}, 0)
    for cov in result.state["covariances"]:
        assert np.linalg.eigvalsh(cov).min() >= 0.01 * 0.999  # the smallest floor


# ----------------------------------------------------------------------------- projection


def many_columns(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two classes apart along one trait that six noisy columns read, a seventh column of
    pure noise and a 2-level categorical column."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.repeat([0, 1], [n // 2, n - n // 2]))
    trait = np.array([-2.0, 2.0])[y] + rng.normal(0, 0.5, n)
    cols = trait[:, None] * rng.uniform(0.5, 1.0, 6) + rng.normal(0, 0.3, (n, 6))
    cols[:, 1] *= -1  # a column that reads the trait backwards
    X = np.column_stack([cols, rng.normal(size=n), np.where(rng.random(n) < 0.9, y, 1 - y)])
    return X.astype(np.float32), y


def test_projection_keeps_the_components_above_one_columns_variance() -> None:
    X, _ = many_columns()
    X[5, 2] = np.nan
    levels = np.array([0] * 7 + [2])
    weights = np.array([1.0] * 6 + [0.0, 1.0])  # the noise column has no weight
    projection = fit_projection(X, levels, weights)
    assert projection["columns"].tolist() == [0, 1, 2, 3, 4, 5]
    x = X[:, :6].astype(np.float64)
    mean = np.nanmean(x, axis=0)
    assert np.allclose(projection["mean"], mean)
    x = np.where(np.isnan(x), mean, x) - mean
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    variances = s**2 / (len(x) - 1)
    kept = int((variances > variances.mean()).sum())
    assert kept == 1  # one trait; at least MIN_COMPONENTS (2) are kept
    components = projection["components"]
    assert components.shape == (6, 2)
    for j in range(2):  # numpy's components, with the largest loading made positive
        v = vt[j] * np.sign(vt[j][np.abs(vt[j]).argmax()])
        assert np.allclose(components[:, j], v, atol=1e-6)
    assert projection["explained"] == pytest.approx(variances[:2].sum() / variances.sum())
    assert projection["weight"] == 1.0


def test_projection_keeps_at_most_max_components(monkeypatch: pytest.MonkeyPatch) -> None:
    X = np.random.default_rng(5).normal(size=(100, 6)).astype(np.float32)
    # independent columns: about half the components lie above the mean variance
    monkeypatch.setattr(lca_module, "MAX_COMPONENTS", 2)
    assert fit_projection(X, np.zeros(6, np.int64), np.ones(6))["components"].shape == (6, 2)
    monkeypatch.setattr(lca_module, "MAX_COMPONENTS", 16)
    p = fit_projection(X, np.zeros(6, np.int64), np.ones(6))["components"].shape[1]
    assert 2 < p < 6
    with pytest.raises(SegtrailError) as caught:
        fit_projection(X, np.array([0, 3, 3, 3, 3, 3]), np.ones(6))
    assert str(caught.value) == "a projection needs at least two numeric columns with a weight"


def test_a_fit_on_components_stores_the_projection_and_says_so() -> None:
    X, y = many_columns()
    params = {
        "k": 2,
        "levels": [0] * 7 + [2],
        "feature_weights": [2.0] * 6 + [0.0, 1.0],
        "numeric_projection": "pca",
    }
    result = ALGO.fit(X, params, 0)
    assert adjusted_rand_score(y, result.labels) == 1.0
    used = result.params
    assert used["numeric_projection"] == "pca" and used["projection_components"] == 2
    projection = fit_projection(X, np.array(params["levels"]), np.array(params["feature_weights"]))
    assert used["projection_variance"] == pytest.approx(projection["explained"])
    assert result.notes == [
        f"6 numeric columns replaced by their 2 leading principal components "
        f"({projection['explained']:.0%} of their variance; a missing value counts as the "
        "column's mean there)"
    ]
    state = result.state
    assert state["projection_columns"].tolist() == [0, 1, 2, 3, 4, 5]
    assert np.allclose(state["projection"], projection["components"])
    assert np.allclose(state["projection_mean"], projection["mean"])
    # the model sees the components (with the columns' weight), then the other columns
    assert state["levels"].tolist() == [0, 0, 0, 2]
    assert state["feature_weights"].tolist() == [2.0, 2.0, 0.0, 1.0]
    assert state["means"].shape == (2, 3)
    # new customers are projected the same way, missing values at the column's mean
    labels, _ = ALGO.assign(state, X)
    assert np.array_equal(labels, result.labels)
    holes = X.copy()
    holes[:, 3] = np.nan
    filled = X.copy()
    filled[:, 3] = projection["mean"][3]
    assert np.allclose(ALGO.assign(state, holes)[1], ALGO.assign(state, filled)[1])


def test_the_sweep_projects_too() -> None:
    X, y = many_columns()
    layout = {"levels": [0] * 7 + [2], "numeric_projection": "pca"}
    fits = ALGO.sweep(X, [2], layout, 0)
    assert adjusted_rand_score(y, fits[2]["labels"]) == 1.0
    # every numeric column has a weight here: all seven are projected, onto p components
    p = fit_projection(X, np.array(layout["levels"]), np.ones(8))["components"].shape[1]
    assert p == 2
    # k = 2: 1 share + 2 x (p means + 1 level probability) + 2 x p variances
    assert fits[2]["n_params"] == 1 + 2 * (p + 1) + 2 * p
