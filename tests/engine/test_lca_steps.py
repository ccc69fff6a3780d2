"""The latent class model's steps (engine/algorithms/lca.py) on tiny hand-made data, each
against a plain reference written here: one M-step (shares, means, variances, level
probabilities, pairwise covariances with missing values), the full-covariance density with
column weights, the principal-component projection, the k-means++ starts and the k-1
splits, EM's stop rule, assignment, and the fit's seeded samples. These are lca's own tests
in `make mutate` (with test_algo_lca.py and the fast tests of test_lca.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal, norm

from segtrail.engine.algorithms import get_algorithm
from segtrail.engine.algorithms import lca as lca_module
from segtrail.engine.algorithms.lca import (
    Data,
    Model,
    discrete_floor,
    distinct_values,
    fit_projection,
    projected,
)

ALGO = get_algorithm("lca")


def two_groups(n: int = 120, seed: int = 0) -> np.ndarray:
    """Two numeric columns, two groups well apart, and a 2-level column that follows them."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = np.column_stack(
        [
            np.array([-2.0, 2.0])[y] + rng.normal(0, 0.5, n),
            np.array([1.0, -1.0])[y] + rng.normal(0, 0.5, n),
            np.where(rng.random(n) < 0.9, y, 1 - y),
        ]
    )
    return X.astype(np.float32)


# ----------------------------------------------------------------------------- M-step


def small_table() -> tuple[np.ndarray, np.ndarray]:
    """24 rows (12 twice): a continuous column, a discrete one (values 0, 1, 3), a 3-level
    column, some missing values; and soft responsibilities for three classes, the third
    empty."""
    X = np.array(
        [
            [0.3, 0, 0],
            [-1.2, 0, 0],
            [0.8, 1, 1],
            [np.nan, 0, 0],
            [1.9, 1, np.nan],
            [2.4, np.nan, 1],
            [3.1, 3, 2],
            [2.2, 1, 2],
            [-0.4, 0, 1],
            [2.7, 3, 2],
            [1.4, 3, np.nan],
            [0.1, 1, 0],
        ],
        dtype=np.float32,
    )
    first = np.array([0.9, 1.0, 0.8, 1.0, 0.3, 0.1, 0.0, 0.2, 0.7, 0.0, 0.4, 0.95])
    resp = np.column_stack([first, 1.0 - first, np.zeros(12)])
    return np.tile(X, (2, 1)), np.tile(resp, (2, 1))


def test_the_m_step_of_the_independent_model_matches_a_plain_one() -> None:
    """Shares, means and variances over each column's observed rows (a discrete column's
    floor from the gap between its values around the class mean), level probabilities with
    a pseudo-count of 0.1; a class with no rows gets neutral values."""
    X, resp = small_table()
    levels = np.array([0, 0, 3])
    data = Data(X, levels, np.ones(3))
    model = lca_module.m_step(data, resp, 0.05)
    assert model.covariances is None  # local independence unless told otherwise
    assert np.allclose(model.weights, resp.sum(axis=0) / 24, atol=1e-9)
    # shares are probabilities: the empty class keeps a tiny positive one (it can come back)
    assert (model.weights > 0).all() and model.weights.sum() == pytest.approx(1.0)
    means, variances = np.empty((2, 2)), np.empty((2, 2))
    for c in range(2):
        for j in range(2):
            seen = ~np.isnan(X[:, j])
            r, x = resp[seen, c], X[seen, j].astype(np.float64)
            means[c, j] = np.sum(r * x) / r.sum()
            variances[c, j] = np.sum(r * (x - means[c, j]) ** 2) / r.sum()
    assert means[0, 1] < 1 < means[1, 1] < 3  # the gaps around the means: 1 and 2
    variances += np.array([[0.05, 0.25 * 1**2], [0.05, 0.25 * 2**2]])
    assert np.allclose(model.means[:2], means, atol=1e-9)
    assert np.allclose(model.variances[:2], variances, atol=1e-9)
    assert model.means[2].tolist() == [0.0, 0.0] and model.variances[2].tolist() == [1.0, 1.0]
    seen = ~np.isnan(X[:, 2])
    for c in range(3):
        counts = np.array([resp[seen & (X[:, 2] == v), c].sum() for v in range(3)])
        expected = np.log((counts + 0.1) / (counts.sum() + 0.3))
        assert np.allclose(model.log_probs[c], expected, atol=1e-9)

    data.shared_variance = True  # one spread per column: the classes' pooled by their rows
    pooled = lca_module.m_step(data, resp, 0.05).variances
    for j in range(2):
        seen = ~np.isnan(X[:, j])
        weight = resp[seen, :2].sum(axis=0)
        expected = (weight * variances[:, j]).sum() / resp[seen].sum()
        assert np.allclose(pooled[:, j], expected, atol=1e-9)


def test_the_tied_m_step_pools_the_classes_matrices_by_their_shares() -> None:
    X, resp = small_table()
    data = Data(X[:, :2], np.zeros(2, np.int64), np.ones(2))
    data.covariance = "full"
    full = lca_module.m_step(data, resp, 0.05)
    data.covariance = "tied"
    tied = lca_module.m_step(data, resp, 0.05)
    pooled = np.einsum("k,kij->ij", full.weights, full.covariances)
    assert np.allclose(tied.covariances, pooled[None].repeat(3, axis=0), atol=1e-12)
    assert np.allclose(tied.variances, np.diag(pooled)[None].repeat(3, axis=0), atol=1e-12)
    assert tied.n_params() == 2 + 3 * 2 + 3 and full.n_params() == 2 + 3 * 2 + 3 * 3


def plain_pairwise_covariance(X: np.ndarray, r: np.ndarray) -> np.ndarray:
    """A class's covariance of the numeric columns, each entry over the rows where both
    columns are observed, around the class means of each column's observed rows."""
    g = X.shape[1]
    seen = ~np.isnan(X)
    mean = [np.sum(r[seen[:, j]] * X[seen[:, j], j]) / r[seen[:, j]].sum() for j in range(g)]
    cov = np.empty((g, g))
    for i in range(g):
        for j in range(g):
            both = seen[:, i] & seen[:, j]
            dev = (X[both, i] - mean[i]) * (X[both, j] - mean[j])
            cov[i, j] = np.sum(r[both] * dev) / r[both].sum()
    return cov


def test_full_covariance_m_step_is_pairwise_over_observed_rows() -> None:
    """Missing values are left out entry by entry; a class of a few rows shows that each
    entry is divided by the class's weight of those rows, nothing added."""
    rng = np.random.default_rng(8)
    X = rng.normal(size=(10, 3))
    X[:, 1] += 0.8 * X[:, 0]
    X[:, 2] -= 0.5 * X[:, 0]
    X[1, 0] = X[4, 2] = X[7, 1] = np.nan
    resp = np.zeros((10, 2))
    resp[:5, 0] = 1.0
    resp[5:, 1] = 1.0
    resp[2] = [0.3, 0.7]  # one row shared between the classes
    data = Data(X.astype(np.float32), np.zeros(3, np.int64), np.ones(3))
    data.covariance = "full"
    model = lca_module.m_step(data, resp, 0.01)
    x = data.x.copy()
    x[~data.mask] = np.nan
    for c in range(2):
        expected = plain_pairwise_covariance(x, resp[:, c])
        assert np.linalg.eigvalsh(expected).min() > 0.1  # no eigenvalue is raised here
        expected += 0.01 * np.eye(3)
        assert np.allclose(model.covariances[c], expected, atol=1e-9), c
        assert np.allclose(model.variances[c], np.diag(expected), atol=1e-9)


def test_a_class_with_almost_no_weight_still_gets_a_usable_covariance() -> None:
    """A class dying out during EM (responsibilities around 1e-10, so its pairwise weights
    nearly vanish) gets finite, positive-definite matrices, not a division by zero."""
    X = np.array([[0.5, 1.0], [1.5, -1.0], [0.0, 0.2], [2.0, 1.0], [-1.0, 0.0], [1.0, 2.0]])
    resp = np.zeros((6, 2))
    resp[:2, 1] = 5e-11
    resp[:, 0] = 1.0 - resp[:, 1]
    for covariance in ("full", "tied"):
        data = Data(X.astype(np.float32), np.zeros(2, np.int64), np.ones(2))
        data.covariance = covariance
        model = lca_module.m_step(data, resp, 0.01)
        assert np.isfinite(model.covariances).all()
        assert np.linalg.eigvalsh(model.covariances).min() >= 0.01 * 0.999
        # the living class's matrix is its plain covariance (plus the floor)
        if covariance == "full":
            expected = np.cov(X.T, aweights=resp[:, 0], bias=True) + 0.01 * np.eye(2)
            assert np.allclose(model.covariances[0], expected, atol=1e-6)


# ----------------------------------------------------------------------------- densities


def full_state(weights: np.ndarray) -> dict:
    covs = np.array([[[1.0, 0.6, 0.0], [0.6, 2.0, 0.0], [0.0, 0.0, 1.0]]] * 2)
    covs[1, 0, 1] = covs[1, 1, 0] = -0.5
    return {
        "weights": np.array([0.6, 0.4]),
        # the third column's class means are far apart: were it counted, it would decide
        "means": np.array([[0.0, 1.0, -5.0], [1.0, 0.0, 5.0]]),
        "variances": np.einsum("kii->ki", covs),
        "covariances": covs,
        "log_probs": np.zeros((2, 0)),
        "levels": np.zeros(3, np.int64),
        "feature_weights": weights,
    }


def test_full_covariance_density_counts_only_columns_with_a_weight() -> None:
    """A column of weight 0 leaves the density (also where another column is missing); the
    columns with a weight count with that weight, here 0.5."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(12, 3)).astype(np.float32) * 3
    X[2, 0] = X[5, 1] = np.nan
    X[8, :2] = np.nan  # only the column without a weight is observed: the shares decide
    state = full_state(np.array([0.5, 0.5, 0.0]))
    data = Data(X, state["levels"], state["feature_weights"])
    ours = Model.from_state(state).joint(data)
    for i, row in enumerate(X):
        seen = ~np.isnan(row[:2])
        for c in range(2):
            expected = np.log(state["weights"][c])
            if seen.any():
                cov = state["covariances"][c][:2, :2][np.ix_(seen, seen)]
                mvn = multivariate_normal(state["means"][c, :2][seen], cov)
                expected += 0.5 * mvn.logpdf(row[:2][seen].astype(np.float64))
            assert ours[i, c] == pytest.approx(expected, rel=1e-6), (i, c)


def test_a_full_covariance_fit_with_no_numeric_weight_follows_the_categories() -> None:
    X = two_groups()
    params = {
        "k": 2,
        "levels": [0, 0, 2],
        "feature_weights": [0.0, 0.0, 1.0],
        "numeric_covariance": "full",
    }
    result = ALGO.fit(X, params, 0)
    codes = X[:, 2].astype(int)
    assert abs(np.corrcoef(result.labels, codes)[0, 1]) == pytest.approx(1.0)
    # the numeric columns carry no weight: every class has the same (plain) density there
    joint = Model.from_state(result.state).joint(Data(X, np.array([0, 0, 2]), np.array([0, 0, 1])))
    expected = np.log(result.state["weights"]) + result.state["log_probs"][:, codes].T
    assert np.allclose(joint, expected)


# ----------------------------------------------------------------------------- projection


def test_projection_mean_of_a_column_observed_once_is_that_value() -> None:
    X = np.random.default_rng(1).normal(size=(6, 3)).astype(np.float32)
    X[1:, 2] = np.nan
    projection = fit_projection(X, np.zeros(3, np.int64), np.ones(3))
    assert projection["mean"][2] == pytest.approx(float(X[0, 2]))


def test_projection_of_exactly_two_columns() -> None:
    X = np.random.default_rng(2).normal(size=(30, 2)).astype(np.float32)
    projection = fit_projection(X, np.zeros(2, np.int64), np.ones(2))
    assert projection["components"].shape == (2, 2)
    assert projection["explained"] == pytest.approx(1.0)


def test_a_component_at_exactly_the_mean_variance_is_not_kept() -> None:
    """Three uncorrelated columns of equal variance: no component lies above one column's
    variance (Kaiser's rule is strict), so the two that must be kept, not all three."""
    X = np.array(
        [[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1], [0, 0, 0]],
        dtype=np.float32,
    )
    projection = fit_projection(X, np.zeros(3, np.int64), np.ones(3))
    assert projection["components"].shape == (3, 2)
    assert projection["explained"] == pytest.approx(2 / 3)


def test_explained_share_does_not_depend_on_the_columns_scale() -> None:
    X = np.random.default_rng(4).normal(size=(50, 4))
    X[:, 1] += X[:, 0]
    levels, weights = np.zeros(4, np.int64), np.ones(4)
    wide = fit_projection(X.astype(np.float32), levels, weights)
    narrow = fit_projection((X * 0.01).astype(np.float32), levels, weights)
    assert narrow["explained"] == pytest.approx(wide["explained"], rel=1e-4)
    assert 0.5 < narrow["explained"] < 1.0


@pytest.mark.parametrize("seed", range(6))
def test_each_components_largest_loading_is_positive(seed: int) -> None:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 5)) @ rng.normal(size=(5, 5))
    components = fit_projection(X.astype(np.float32), np.zeros(5, np.int64), np.ones(5))[
        "components"
    ]
    largest = components[np.abs(components).argmax(axis=0), np.arange(components.shape[1])]
    assert (largest > 0).all()


def test_projected_rows_are_centred_component_scores_in_float32() -> None:
    """What the sweep fits on: the scores of the projected columns around their mean (numpy's
    SVD, signs as fit_projection chose), then the columns left as they are."""
    rng = np.random.default_rng(6)
    X = np.column_stack(
        [rng.normal(size=(60, 4)) @ rng.normal(size=(4, 4)), rng.integers(0, 3, 60)]
    )
    X = X.astype(np.float32)
    params = {"levels": [0, 0, 0, 0, 3], "numeric_projection": "pca"}
    Z, levels, weights = projected(X, params)
    assert Z.dtype == np.float32
    x = X[:, :4].astype(np.float64)
    x -= x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    p = Z.shape[1] - 1
    for j in range(p):
        v = vt[j] * np.sign(vt[j][np.abs(vt[j]).argmax()])
        assert np.allclose(Z[:, j], x @ v, atol=1e-4)
    assert np.allclose(Z[:, :p].mean(axis=0), 0.0, atol=1e-5)
    assert np.array_equal(Z[:, p], X[:, 4])
    assert levels.tolist() == [0] * p + [3] and weights.tolist() == [1.0] * (p + 1)


# ----------------------------------------------------------------------------- subsets


def test_a_subset_reads_its_own_rows() -> None:
    """The start sample's discrete values and patterns of missing values are its own, not
    those of the rows it was drawn from (even when those were read first)."""
    X = np.array(
        [[0, 1], [0, np.nan], [1, 2], [1, 2], [2, np.nan], [3, 1], [3, 1], [3, 2]] * 4,
        dtype=np.float32,
    )
    data = Data(X, np.zeros(2, np.int64), np.ones(2))
    assert len(data.patterns()) == 2 and [d.tolist() for d in data.distinct][1] == [1, 2]
    rows = np.flatnonzero(~np.isnan(X[:, 1]) & (X[:, 0] != 3))
    part = Data.subset(data, rows)
    assert [d.tolist() for d in part.distinct] == [
        distinct_values(X[rows, 0]).tolist(),
        distinct_values(X[rows, 1]).tolist(),
    ]
    assert [(cols.tolist(), found.tolist()) for cols, found in part.patterns()] == [
        ([0, 1], list(range(len(rows))))
    ]


# ----------------------------------------------------------------------------- fits


def test_a_fit_on_a_sample_is_reproducible() -> None:
    X = two_groups(400, seed=1)
    params = {"k": 2, "levels": [0, 0, 2], "sample_size": 150}
    first, second = ALGO.fit(X, params, 7), ALGO.fit(X, params, 7)
    assert first.params["fit_rows"] == 150
    assert first.params["log_likelihood_fit_rows"] == second.params["log_likelihood_fit_rows"]
    assert np.array_equal(first.state["means"], second.state["means"])


def test_a_fit_from_a_start_sample_is_reproducible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lca_module, "START_SAMPLE", 30)
    X = two_groups(300, seed=2)
    X[::7, 0] = np.nan
    params = {"k": 3, "levels": [0, 0, 2]}
    first, second = ALGO.fit(X, params, 3), ALGO.fit(X, params, 3)
    assert first.params["log_likelihood_fit_rows"] == second.params["log_likelihood_fit_rows"]
    assert np.array_equal(first.state["variances"], second.state["variances"])


def test_a_fit_within_the_start_sample_is_the_sweeps_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Up to the start sample's size the fit is the k sweep's model for that k (the default
    path picks k from the sweep, then fits it): no second EM run."""
    X = two_groups(120, seed=3)
    monkeypatch.setattr(lca_module, "START_SAMPLE", len(X))
    layout = {"levels": [0, 0, 2]}
    swept = ALGO.sweep(X, [3], {**layout, "sweep_n_init": 2}, 5)[3]
    fitted = ALGO.fit(X, {**layout, "k": 3, "n_init": 2}, 5)
    assert fitted.params["log_likelihood_fit_rows"] == swept["log_likelihood"]


def test_k_may_equal_the_rows_fitted() -> None:
    X = two_groups(40)
    result = ALGO.fit(X, {"k": 3, "levels": [0, 0, 2], "sample_size": 3}, 0)
    assert result.params["fit_rows"] == 3
    assert len(result.state["weights"]) == 3


def test_automatic_k_stays_in_the_range_asked_for() -> None:
    X = two_groups()
    X[:40, :2] += 8.0  # a third group
    result = ALGO.fit(X, {"levels": [0, 0, 2], "k_range": [2, 2]}, 0)
    assert result.params["k"] == 2 and result.params["k_selection"]["chosen_k"] == 2


# ----------------------------------------------------------------------------- assign and sweep


def independent_state() -> dict:
    """Two classes over one numeric column and one 3-level column."""
    return {
        "weights": np.array([0.7, 0.3]),
        "means": np.array([[0.0], [2.0]]),
        "variances": np.array([[1.0], [0.25]]),
        "log_probs": np.log(np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])),
        "levels": np.array([0, 3]),
        "feature_weights": np.array([1.0, 1.0]),
    }


def plain_posterior(X: np.ndarray, state: dict) -> np.ndarray:
    joint = np.log(state["weights"])[None, :].repeat(len(X), axis=0)
    for c in range(2):
        sd = np.sqrt(state["variances"][c, 0])
        seen = ~np.isnan(X[:, 0])
        joint[seen, c] += norm.logpdf(X[seen, 0], state["means"][c, 0], sd)
        seen = ~np.isnan(X[:, 1])
        joint[seen, c] += state["log_probs"][c, X[seen, 1].astype(int)]
    return np.exp(joint - logsumexp(joint, axis=1, keepdims=True))


def test_assign_gives_each_customer_its_own_posterior() -> None:
    X = np.array(
        [[0.0, 0], [1.2, 2], [1.5, 1], [2.0, 2], [np.nan, 2], [np.nan, np.nan], [3.0, np.nan]],
        dtype=np.float32,
    )
    state = independent_state()
    labels, confidence = ALGO.assign(state, X)
    post = plain_posterior(X, state)
    assert labels.tolist() == post.argmax(axis=1).tolist()
    assert np.allclose(confidence, post.max(axis=1), atol=1e-6)
    assert len(set(np.round(confidence, 3))) == len(X)  # every row its own certainty


def test_a_large_table_is_assigned_in_one_pass_of_chunks() -> None:
    """100,000 customers (more than one chunk of rows): each row as the model says, in a
    fraction of a second (one pass over the rows, chunk by chunk)."""
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(1.0, 1.5, 100_000), rng.integers(0, 3, 100_000)])
    X = X.astype(np.float32)
    X[::9, 1] = np.nan
    state = independent_state()
    labels, confidence = ALGO.assign(state, X)
    post = plain_posterior(X, state)
    assert np.array_equal(labels, post.argmax(axis=1))
    assert np.allclose(confidence, post.max(axis=1), atol=1e-6)


class StartsSeen:
    """scikit-learn's kmeans_plusplus, recording the seeds of the k-class starts it draws."""

    def __init__(self, k: int) -> None:
        self.k, self.seeds = k, []

    def __call__(self):
        from sklearn.cluster import kmeans_plusplus

        def recorded(X, n_clusters, random_state):
            if n_clusters == self.k:
                self.seeds.append(random_state)
            return kmeans_plusplus(X, n_clusters, random_state=random_state)

        return recorded


@pytest.mark.parametrize(
    ("k", "params", "seeds"),
    [
        (3, {}, [10, 11, 12]),
        (3, {"sweep_n_init": 1}, [10]),
        (3, {"sweep_n_init": 2}, [10, 11]),
        # k = 2: three starts, then the 2-means++ cut of the one class of k = 1 (seed + 0)
        (2, {}, [10, 11, 12, 10]),
    ],
)
def test_the_sweep_draws_sweep_n_init_starts_per_k(
    monkeypatch: pytest.MonkeyPatch, k: int, params: dict, seeds: list[int]
) -> None:
    """Three seeded k-means++ starts per k by default (besides the splits of k-1)."""
    seen = StartsSeen(k)
    monkeypatch.setattr(lca_module, "_kmeans_plusplus", seen)
    ALGO.sweep(two_groups(60), [k], {"levels": [0, 0, 2], **params}, 10)
    assert seen.seeds == seeds


def test_the_sweep_floors_the_variances_it_is_given() -> None:
    X = two_groups()
    plain = ALGO.sweep(X, [2], {"levels": [0, 0, 2]}, 0)[2]["model"]
    assert (plain.variances < 0.5).all()  # the groups' spread is 0.5 sd
    floored = ALGO.sweep(X, [2], {"levels": [0, 0, 2], "var_floor": 1.0}, 0)[2]["model"]
    assert (floored.variances >= 1.0).all()


# ----------------------------------------------------------------------------- starts


def plain_dense_view(X: np.ndarray, levels: list[int], weights: list[float]) -> np.ndarray:
    """What the k-means++ starts see: numeric columns with a weight (a missing value at 0),
    then each categorical column's levels one-hot, scaled by 0.7."""
    parts = []
    for j, (L, w) in enumerate(zip(levels, weights, strict=True)):
        if L == 0:
            parts.append(np.nan_to_num(X[:, j : j + 1].astype(np.float64)) * (w > 0))
    for j, L in enumerate(levels):
        if L > 0:
            onehot = np.zeros((len(X), L))
            seen = ~np.isnan(X[:, j])
            onehot[np.flatnonzero(seen), X[seen, j].astype(int)] = 0.7
            parts.append(onehot)
    return np.hstack(parts)


def nearest(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return np.array([np.argmin([np.sum((p - c) ** 2) for c in centres]) for p in points])


def table_for_starts() -> tuple[np.ndarray, list[int], list[float]]:
    X = two_groups(40, seed=5)
    X[3, 0] = X[7, 2] = np.nan
    noise = np.random.default_rng(5).normal(0, 9, (40, 1))  # no weight: left out of the view
    return np.hstack([X, noise]).astype(np.float32), [0, 0, 2, 0], [1.0, 1.0, 1.0, 0.0]


def test_starts_put_each_row_with_the_nearest_kmeans_plusplus_seed() -> None:
    from sklearn.cluster import kmeans_plusplus

    X, levels, weights = table_for_starts()
    data = Data(X, np.array(levels), np.array(weights))
    dense = plain_dense_view(X, levels, weights)
    out = lca_module.starts(data, 3, 2, 11)
    assert len(out) == 2
    for i, resp in enumerate(out):
        centres, _ = kmeans_plusplus(dense, 3, random_state=11 + i)
        assert resp.shape == (40, 3) and (resp.sum(axis=1) == 1).all()
        assert resp.argmax(axis=1).tolist() == nearest(dense, centres).tolist()


def test_split_starts_cut_one_class_at_a_time_in_two() -> None:
    """One start per class of the k-1 model with at least 4 rows: that class's rows cut by a
    2-means++ seeding (its second part becomes the new class k), the others left alone; a
    class of 3 rows is passed over (and the classes after it still cut)."""
    from sklearn.cluster import kmeans_plusplus

    X, levels, weights = table_for_starts()
    X[:3, 1] = [-40.0, -40.5, -39.0]  # class 2: three rows, too few to cut
    X[3:7, 1] = [40.0, 40.5, 41.0, 39.5]  # class 3: four rows, cut
    data = Data(X, np.array(levels), np.array(weights))
    state = {
        "weights": np.array([0.45, 0.45, 0.05, 0.05]),
        "means": np.array(
            [[-2.0, 1.0, 0.0], [2.0, -1.0, 0.0], [0.0, -40.0, 0.0], [0.0, 40.0, 0.0]]
        ),
        "variances": np.ones((4, 3)),
        "log_probs": np.log(np.full((4, 2), 0.5)),
        "levels": np.array(levels),
        "feature_weights": np.array(weights),
    }
    labels = plain_posterior_argmax(X, state)
    assert np.bincount(labels).tolist()[2:] == [3, 4]
    dense = plain_dense_view(X, levels, weights)
    out = lca_module.split_starts(data, Model.from_state(state), 4)
    assert len(out) == 3
    for c, resp in zip([0, 1, 3], out, strict=True):
        rows = np.flatnonzero(labels == c)
        centres, _ = kmeans_plusplus(dense[rows], 2, random_state=4 + c)
        expected = labels.copy()
        expected[rows[nearest(dense[rows], centres) == 1]] = 4
        assert resp.shape == (40, 5) and (resp.sum(axis=1) == 1).all()
        assert resp.argmax(axis=1).tolist() == expected.tolist()
        assert 0 < (expected == 4).sum() < len(rows)


def plain_posterior_argmax(X: np.ndarray, state: dict) -> np.ndarray:
    """The most likely class of each row under an independent model of numeric columns (a
    missing value left out; the 2-level column is even in every class)."""
    out = np.empty(len(X), dtype=int)
    for i, row in enumerate(X):
        scores = np.log(state["weights"]).copy()
        for c in range(len(scores)):
            for j in np.flatnonzero(np.array(state["levels"]) == 0):
                if state["feature_weights"][j] > 0 and not np.isnan(row[j]):
                    scores[c] += norm.logpdf(row[j], state["means"][c, j], 1.0)
        out[i] = scores.argmax()
    return out


def test_one_class_is_fitted_from_a_single_start(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = StartsSeen(1)
    monkeypatch.setattr(lca_module, "_kmeans_plusplus", seen)
    ALGO.sweep(two_groups(60), [1, 2], {"levels": [0, 0, 2], "sweep_n_init": 3}, 10)
    assert seen.seeds == [10]


def test_em_stops_at_the_first_step_that_gains_less_than_tol_per_row() -> None:
    """The stop rule: a step's gain in log-likelihood below TOL x max(rows, |loglik|). Runs
    cut after 0, 1, 2... iterations give the log-likelihood of each step; the full run stops
    at the first step whose gain is below the threshold, and not before. Two overlapping
    groups: EM creeps, each step gaining a little less."""
    rng = np.random.default_rng(7)
    y = np.arange(100) % 2
    X = np.column_stack([np.array([-0.8, 0.8])[y] + rng.normal(0, 1, 100), rng.normal(0, 1, 100)])
    data = Data(X.astype(np.float32), np.zeros(2, np.int64), np.ones(2))
    resp = rng.dirichlet(np.ones(2), 100)
    runs = []
    for cut in range(60):
        runs.append(lca_module.run_em(data, resp, 0.01, cut))
        if runs[-1].converged:
            break
    assert runs[-1].converged and len(runs) >= 5

    def threshold(loglik: float) -> float:
        return 1e-6 * max(100, abs(loglik))

    last, before, earlier = runs[-2].loglik, runs[-3].loglik, runs[-4].loglik
    assert runs[-1].loglik == last  # the cut run one short ends on the same step
    assert 0 <= last - before < threshold(last)
    assert before - earlier >= threshold(before)


def test_a_table_of_categorical_columns_only() -> None:
    """The classic latent class model (poLCA's): no numeric column at all, three categorical
    ones, each with its own block of level probabilities."""
    rng = np.random.default_rng(8)
    y = np.arange(200) % 2
    X = np.column_stack(
        [
            np.where(rng.random(200) < 0.9, y, 1 - y),
            np.where(rng.random(200) < 0.85, 2 * y, 1),
            rng.integers(0, 2, 200),
        ]
    ).astype(np.float32)
    result = ALGO.fit(X, {"k": 2, "levels": [2, 3, 2]}, 0)
    assert abs(np.corrcoef(result.labels, y)[0, 1]) > 0.7
    state = result.state
    assert state["means"].shape == (2, 0) and state["variances"].shape == (2, 0)
    blocks = [(0, 2), (2, 5), (5, 7)]
    for lo, hi in blocks:  # each column's levels: a distribution per class
        assert np.allclose(np.exp(state["log_probs"][:, lo:hi]).sum(axis=1), 1.0)
    joint = np.log(state["weights"])[None, :] + np.zeros((200, 2))
    for j, (lo, _) in enumerate(blocks):
        joint += state["log_probs"][:, lo + X[:, j].astype(int)].T
    loglik = logsumexp(joint, axis=1).sum()
    assert result.params["log_likelihood_fit_rows"] == pytest.approx(loglik, rel=1e-9)
    # 1 share + 2 x (1 + 2 + 1) level probabilities
    assert result.params["bic_fit_rows"] == pytest.approx(-2 * loglik + 9 * np.log(200))
    assert np.array_equal(ALGO.assign(state, X)[0], result.labels)


def test_a_column_of_two_values_gets_the_gap_floor() -> None:
    """A 0/1 column kept numeric: a class cannot be narrower than half the gap, squared."""
    values = distinct_values(np.repeat([0.0, 2.0], 10))
    assert values.tolist() == [0.0, 2.0]
    floor = discrete_floor([values], np.array([[0.1], [1.9]]), 0.01)
    assert np.allclose(floor, 0.25 * 2.0**2)


@pytest.mark.parametrize("covariance", ["independent", "full"])
def test_a_model_read_back_from_its_state_is_the_same_model(covariance: str) -> None:
    X = two_groups()
    params = {"k": 2, "levels": [0, 0, 2], "numeric_covariance": covariance}
    result = ALGO.fit(X, params, 0)
    model = Model.from_state(result.state)
    again = model.state()
    assert sorted(again) == sorted(key for key in result.state if key in again)
    for key, value in again.items():
        assert np.array_equal(value, result.state[key]) and value.dtype == result.state[key].dtype
    # the parameter count behind the fit's BIC: 1 share + 2 x (2 means + 1 level
    # probability) + the spreads (2 x 2 variances, or 2 x 3 covariance entries)
    assert model.n_params() == {"independent": 11, "full": 13}[covariance]


def test_a_customer_far_from_every_class_gets_a_valid_posterior() -> None:
    """60 sd out the densities are below what a double can hold beside the other rows':
    each row is normalized on its own, so the far rows still go to the likelier (wider)
    class, and surely."""
    X = np.array([[0.2, 0], [60.0, 2], [-45.0, 1]], dtype=np.float32)
    labels, confidence = ALGO.assign(independent_state(), X)
    post = plain_posterior(X, independent_state())
    assert labels.tolist() == post.argmax(axis=1).tolist() == [0, 0, 0]
    assert confidence[1:].tolist() == [1.0, 1.0]
    assert np.allclose(confidence, post.max(axis=1), atol=1e-6)


def test_the_model_reads_the_matrix_in_float32() -> None:
    """The documented input is float32: a float64 matrix gives exactly the fit of its float32
    copy."""
    X = two_groups(100, seed=9).astype(np.float64)
    X[:, :2] += np.random.default_rng(9).normal(0, 1e-7, (100, 2))  # digits float32 drops
    params = {"k": 2, "levels": [0, 0, 2]}
    wide, narrow = ALGO.fit(X, params, 0), ALGO.fit(X.astype(np.float32), params, 0)
    assert wide.params["log_likelihood_fit_rows"] == narrow.params["log_likelihood_fit_rows"]
    assert np.array_equal(wide.state["means"], narrow.state["means"])
