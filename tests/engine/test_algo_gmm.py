"""The Gaussian mixture (engine/algorithms/gmm.py) on small data: its densities against
scipy's, the fit against scikit-learn's mixture started the documented way, the parameters
recorded, sampling, dropped components, the k sweep and its notes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.cluster import KMeans as SkKMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture

from algo_checks import declared, fit_auto_k, k_and_range
from planted import small_blobs
from segtrail.engine.algorithms import get_algorithm
from segtrail.engine.algorithms import gmm as gmm_module
from segtrail.engine.algorithms.gmm import log_gaussian
from segtrail.errors import InvalidInput, SegtrailError

ALGO = get_algorithm("gmm")


def reference(
    X: np.ndarray, k: int, cov: str, reg: float, n_init: int, seed: int, max_iter: int = 200
):
    """scikit-learn's mixture started from k-means centres, as the module documents."""
    starts = SkKMeans(k, n_init=n_init, random_state=seed).fit(X)
    return GaussianMixture(
        k,
        covariance_type=cov,
        reg_covar=reg,
        max_iter=max_iter,
        means_init=starts.cluster_centers_.astype(np.float64),
        random_state=seed,
    ).fit(X.astype(np.float64))


def sorted_rows(a: np.ndarray) -> np.ndarray:
    return a[np.lexsort(a.T[::-1])]


def test_declared_parameters_as_the_cli_shows_them() -> None:
    assert declared(ALGO) == {
        **k_and_range(2, 10),
        "covariance_type": (
            "full",
            "one of 'full', 'diag'",
            "'full' models correlated columns per segment; 'diag' is faster on many features",
            True,
        ),
        "reg_covar": (
            0.1,
            "a number > 0",
            "variance floor added to every covariance, in standardized units",
            True,
        ),
        "n_init": (3, "a whole number >= 1", "k-means++ starts; the best is kept", True),
        "sample_size": (
            100_000,
            "a whole number >= 2",
            "above this many customers, fit a seeded sample of this size and assign the rest",
            True,
        ),
    }
    assert ALGO.confidence_meaning == "probability of belonging to the segment (higher = surer)"
    assert ALGO.higher_confidence_is_better
    with pytest.raises(InvalidInput, match=r"^reg_covar must be a number > 0 for gmm, got 0"):
        ALGO.fit(np.zeros((4, 2), np.float32), {"k": 2, "reg_covar": 0}, 0)


@pytest.mark.parametrize("cov", ["full", "diag"])
def test_log_gaussian_matches_scipy(cov: str) -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(12, 3))
    means = rng.normal(size=(2, 3))
    if cov == "full":
        a = rng.normal(size=(2, 3, 3))
        covs = a @ a.transpose(0, 2, 1) + np.eye(3)
        prec = np.array([np.linalg.cholesky(np.linalg.inv(c)) for c in covs])
    else:
        sd = rng.uniform(0.5, 2.0, (2, 3))
        covs = np.array([np.diag(s**2) for s in sd])
        prec = 1 / sd
    state = {"covariance_type": cov, "means": means, "precisions_cholesky": prec}
    expected = np.column_stack([multivariate_normal(means[j], covs[j]).logpdf(X) for j in (0, 1)])
    assert np.allclose(log_gaussian(X, state), expected)


@pytest.mark.parametrize("cov", ["full", "diag"])
def test_fit_is_scikit_learns_mixture_from_k_means_starts(cov: str) -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(150, 2)).astype(np.float32)  # no structure: the start matters
    for reg, n_init, seed in ((0.1, 3, 0), (0.5, 1, 7)):
        params = {"k": 3, "covariance_type": cov, "reg_covar": reg, "n_init": n_init}
        result = ALGO.fit(X, params, seed)
        theirs = reference(X, 3, cov, reg, n_init, seed)
        assert np.allclose(sorted_rows(result.state["means"]), sorted_rows(theirs.means_))
        assert result.params["bic_fit_rows"] == pytest.approx(theirs.bic(X.astype(np.float64)))
        assert result.state["covariance_type"] == cov


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_em_starts_from_the_k_means_centres(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two EM steps only: the result still shows where EM started."""
    monkeypatch.setattr(gmm_module, "MAX_ITER", 2)
    X = np.random.default_rng(12).normal(size=(200, 2)).astype(np.float32)
    for n_init, seed in ((1, 0), (4, 3)):
        result = ALGO.fit(X, {"k": 4, "n_init": n_init}, seed)
        theirs = reference(X, 4, "full", 0.1, n_init, seed, max_iter=2)
        assert np.allclose(sorted_rows(result.state["means"]), sorted_rows(theirs.means_))


def test_recovers_planted_groups_with_their_probabilities() -> None:
    X, y = small_blobs((40, 30, 20))
    result = ALGO.fit(X, {"k": 3}, 0)
    assert adjusted_rand_score(y, result.labels) == 1.0
    assert np.bincount(result.labels).tolist() == [40, 30, 20]
    state = result.state
    assert np.allclose(state["weights"], [40 / 90, 30 / 90, 20 / 90], atol=1e-3)
    for key in ("weights", "means", "precisions_cholesky"):
        assert state[key].dtype == np.float64
    for s in range(3):  # components renumbered with the segments
        assert np.allclose(state["means"][s], X[result.labels == s].mean(axis=0), atol=1e-3)
    # the variance of a 0.3-sd group plus the 0.1 floor
    cov = np.linalg.inv(state["precisions_cholesky"][0] @ state["precisions_cholesky"][0].T)
    assert np.allclose(np.diag(cov), 0.09 + 0.1, atol=0.04)
    assert result.confidence.dtype == np.float32
    assert ((result.confidence > 0.99) & (result.confidence <= 1.0)).all()
    assert result.notes == []


def test_components_are_stored_in_segment_order() -> None:
    """Whatever numbering the mixture came with, component s of the stored state is segment
    s (the s-th largest)."""
    for seed, sizes in enumerate(((20, 30, 40), (30, 40, 20), (40, 20, 30), (25, 45, 35))):
        X, _ = small_blobs(sizes, seed=seed)
        result = ALGO.fit(X, {"k": 3}, seed)
        assert np.bincount(result.labels).tolist() == sorted(sizes, reverse=True)
        for s in range(3):
            members = X[result.labels == s]
            assert np.allclose(result.state["means"][s], members.mean(axis=0), atol=1e-3)
            assert result.state["weights"][s] == pytest.approx(len(members) / len(X), abs=1e-3)


def test_records_what_the_fit_used() -> None:
    X, _ = small_blobs((40, 30, 20))
    params = {"k": 3, "covariance_type": "diag", "reg_covar": 0.2, "n_init": 2, "sample_size": 500}
    used = ALGO.fit(X, params, 0).params
    assert set(used) == {
        "k",
        "covariance_type",
        "reg_covar",
        "n_init",
        "sample_size",
        "fit_rows",
        "n_rows",
        "bic_fit_rows",
    }
    assert {key: used[key] for key in params} == params
    assert (used["fit_rows"], used["n_rows"]) == (90, 90)
    assert isinstance(used["bic_fit_rows"], float)
    assert ALGO.refit_params(used) == params


def test_a_sample_is_fitted_and_every_customer_assigned() -> None:
    X, y = small_blobs((60, 45, 30), seed=1)
    result = ALGO.fit(X, {"k": 3, "sample_size": 50}, 4)
    assert result.params["fit_rows"] == 50 and result.params["n_rows"] == 135
    assert result.notes == [
        "Gaussian mixture fitted on a sample of 50 customers; all 135 assigned to their most "
        "likely component"
    ]
    assert adjusted_rand_score(y, result.labels) == 1.0
    # the BIC is that of the sample the mixture was fitted on
    idx = np.sort(np.random.default_rng(4).choice(135, size=50, replace=False))
    theirs = reference(X[idx], 3, "full", 0.1, 3, 4)
    assert result.params["bic_fit_rows"] == pytest.approx(theirs.bic(X[idx].astype(np.float64)))
    at_size = ALGO.fit(X, {"k": 3, "sample_size": 135}, 4)
    assert at_size.params["fit_rows"] == 135 and at_size.notes == []


def test_a_sample_smaller_than_k_is_refused() -> None:
    X, _ = small_blobs((40, 30, 20))
    with pytest.raises(SegtrailError) as caught:
        ALGO.fit(X, {"k": 3, "sample_size": 2}, 0)
    assert str(caught.value) == "k=3 is more than the 2 customers to fit"
    assert ALGO.fit(X, {"k": 3, "sample_size": 3}, 0).params["fit_rows"] == 3


def test_components_nobody_is_assigned_to_are_dropped() -> None:
    X = np.repeat(np.array([[0, 0], [5, 5], [9, 0]], dtype=np.float32), [30, 20, 10], axis=0)
    X += np.random.default_rng(0).normal(0, 0.01, X.shape).astype(np.float32)
    result = ALGO.fit(X, {"k": 5}, 0)
    assert np.bincount(result.labels).tolist() == [30, 20, 10]
    state = result.state
    assert len(state["weights"]) == len(state["means"]) == len(state["precisions_cholesky"]) == 3
    assert state["weights"].sum() == pytest.approx(1.0)
    labels, confidence = ALGO.assign(state, X)  # the stored mixture gives the fit's answers
    assert np.array_equal(labels, result.labels)
    assert np.allclose(confidence, result.confidence)


def test_a_note_when_em_does_not_converge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gmm_module, "MAX_ITER", 1)
    X = np.random.default_rng(3).normal(size=(120, 2)).astype(np.float32)
    result = ALGO.fit(X, {"k": 4}, 0)
    assert result.notes == ["EM did not converge in 1 iterations; the result may shift"]


def test_auto_k_by_bic_and_the_note_at_the_top_of_the_range() -> None:
    result = fit_auto_k(ALGO, [2, 3])
    assert result.params["k"] == 3
    assert result.notes[-1] == (
        "BIC was still falling at k=3, the top of the range: the mixture keeps finding "
        "structure (common with one-hot columns); consider fixing k"
    )
    inside = fit_auto_k(ALGO, [2, 6])
    assert inside.params["k"] == 4
    assert not any("still falling" in note for note in inside.notes)


def test_sweep_gives_labels_and_bic_per_k() -> None:
    X, y = small_blobs((40, 30, 20, 20))
    fits = ALGO.sweep(X, [2, 4], {}, 0)
    assert sorted(fits) == [2, 4]
    assert adjusted_rand_score(y, fits[4]["labels"]) == 1.0
    assert (np.diff(np.bincount(fits[4]["labels"])) <= 0).all()
    for k in (2, 4):
        theirs = reference(X, k, "full", 0.1, 2, 0)
        assert fits[k]["bic"] == pytest.approx(theirs.bic(X.astype(np.float64)))
    diag = ALGO.sweep(X, [3], {"covariance_type": "diag", "reg_covar": 0.5}, 0)
    theirs = reference(X, 3, "diag", 0.5, 2, 0)
    assert diag[3]["bic"] == pytest.approx(theirs.bic(X.astype(np.float64)))


def test_assign_in_chunks_gives_the_same_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    X = np.random.default_rng(13).normal(size=(90, 2)).astype(np.float32)  # unsure customers
    result = ALGO.fit(X, {"k": 3}, 0)
    assert result.confidence.min() < 0.9
    large = np.tile(X, (gmm_module.CHUNK_ROWS // 90 + 2, 1))  # more than one real chunk
    labels, confidence = ALGO.assign(result.state, large)
    assert np.array_equal(labels[-90:], result.labels)
    assert np.allclose(confidence[-90:], result.confidence)
    monkeypatch.setattr(gmm_module, "CHUNK_ROWS", 7)
    labels, confidence = ALGO.assign(result.state, X)
    assert np.array_equal(labels, result.labels) and labels.dtype == np.int32
    assert np.allclose(confidence, result.confidence) and confidence.dtype == np.float32
    # posterior by hand: weights times densities, normalized
    dens = np.exp(log_gaussian(X.astype(np.float64), result.state)) * result.state["weights"]
    post = dens / dens.sum(axis=1, keepdims=True)
    assert np.allclose(confidence, post.max(axis=1), atol=1e-6)
    assert labels.tolist() == post.argmax(axis=1).tolist()
