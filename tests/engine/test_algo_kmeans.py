"""k-means (engine/algorithms/kmeans.py) on small planted groups: recovery, the recorded
parameters, the sample-start path, the k sweep's warm starts, assignment."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.cluster import KMeans as SkKMeans
from sklearn.metrics import adjusted_rand_score

from algo_checks import declared, fit_auto_k, k_and_range
from planted import small_blobs
from segtrail.engine.algorithms import get_algorithm
from segtrail.engine.algorithms import kmeans as kmeans_module
from segtrail.engine.algorithms.kmeans import _split_widest
from segtrail.errors import InvalidInput

ALGO = get_algorithm("kmeans")


def test_declared_parameters_as_the_cli_shows_them() -> None:
    assert declared(ALGO) == {
        **k_and_range(2, 12),
        "n_init": (10, "a whole number >= 1", "k-means++ starts; the best is kept", True),
        "max_iter": (300, "a whole number >= 1", "most Lloyd iterations per start", True),
    }
    assert ALGO.confidence_meaning == "distance to the segment centre (smaller = more typical)"
    assert not ALGO.higher_confidence_is_better


def test_recovers_planted_groups_largest_first_with_distances() -> None:
    X, y = small_blobs((40, 30, 20))
    result = ALGO.fit(X, {"k": 3}, 0)
    assert adjusted_rand_score(y, result.labels) == 1.0
    assert np.bincount(result.labels).tolist() == [40, 30, 20]
    assert result.labels.dtype == np.int32
    centres = result.state["centres"]
    assert centres.dtype == np.float32 and centres.shape == (3, 2)
    for s in range(3):  # centre s is the mean of segment s (renumbered with the labels)
        assert np.allclose(centres[s], X[result.labels == s].mean(axis=0), atol=1e-4)
    dist = np.linalg.norm(X - centres[result.labels], axis=1)
    assert result.confidence.dtype == np.float32
    assert np.allclose(result.confidence, dist, atol=1e-5)
    assert result.notes == []


def test_records_what_the_fit_used() -> None:
    X, _ = small_blobs((40, 30, 20))
    result = ALGO.fit(X, {"k": 3, "n_init": 2, "max_iter": 50}, 0)
    used = result.params
    assert set(used) == {"k", "n_init", "max_iter", "n_rows", "n_iter", "inertia"}
    assert (used["k"], used["n_init"], used["max_iter"], used["n_rows"]) == (3, 2, 50, 90)
    assert isinstance(used["n_iter"], int) and 1 <= used["n_iter"] <= 50
    sq = ((X - result.state["centres"][result.labels]) ** 2).sum()
    assert isinstance(used["inertia"], float)
    assert used["inertia"] == pytest.approx(float(sq), rel=1e-4)
    assert ALGO.refit_params(used) == {"k": 3, "n_init": 2, "max_iter": 50}


def test_max_iter_and_n_init_reach_scikit_learn() -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(150, 2)).astype(np.float32)  # no structure: Lloyd needs many steps
    one = ALGO.fit(X, {"k": 6, "max_iter": 1, "n_init": 1}, 0)
    assert one.params["n_iter"] == 1
    for n_init in (1, 3):
        ours = ALGO.fit(X, {"k": 6, "n_init": n_init}, 4)
        theirs = SkKMeans(6, n_init=n_init, max_iter=300, random_state=4).fit(X)
        assert ours.params["inertia"] == pytest.approx(theirs.inertia_, rel=1e-5)
    with pytest.raises(InvalidInput, match=r"^n_init must be a whole number >= 1 for kmeans"):
        ALGO.fit(X, {"k": 2, "n_init": 0}, 0)
    with pytest.raises(InvalidInput, match=r"^max_iter must be a whole number >= 1 for kmeans"):
        ALGO.fit(X, {"k": 2, "max_iter": 0}, 0)


def test_the_seed_reaches_the_starts() -> None:
    rng = np.random.default_rng(6)
    X = rng.normal(size=(200, 2)).astype(np.float32)
    fits = [ALGO.fit(X, {"k": 5, "n_init": 1}, seed) for seed in range(4)]
    for seed, fit in enumerate(fits):
        theirs = SkKMeans(5, n_init=1, max_iter=300, random_state=seed).fit(X)
        assert fit.params["inertia"] == pytest.approx(theirs.inertia_, rel=1e-5)
    assert len({round(f.params["inertia"], 3) for f in fits}) > 1
    again = ALGO.fit(X.copy(), {"k": 5, "n_init": 1}, 2)
    assert np.array_equal(again.labels, fits[2].labels)


def test_auto_k_records_the_range_and_the_selection() -> None:
    assert fit_auto_k(ALGO, [2, 6]).params["k"] == 4


def test_large_tables_start_on_a_sample_and_refine_on_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kmeans_module, "SAMPLE_STARTS_ABOVE", 90)
    monkeypatch.setattr(kmeans_module, "START_SAMPLE", 40)
    X, y = small_blobs((40, 30, 20))
    at_limit = ALGO.fit(X, {"k": 3}, 0)  # 90 rows: not above the limit
    assert "start_sample" not in at_limit.params and at_limit.notes == []
    X, y = small_blobs((50, 40, 30), seed=1)
    result = ALGO.fit(X, {"k": 3, "n_init": 4}, 0)
    assert result.params["start_sample"] == 40
    assert result.notes == [
        "k-means: 4 k-means++ starts on a sample of 40 customers, the best refined on all "
        "120 customers"
    ]
    assert adjusted_rand_score(y, result.labels) == 1.0
    for s in range(3):  # refined on all rows: the centres are the means of all members
        assert np.allclose(
            result.state["centres"][s], X[result.labels == s].mean(axis=0), atol=1e-4
        )


def test_sampled_starts_are_seeded_and_refined_on_all_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above the limit: n_init k-means++ starts on a seeded sample, the best refined by Lloyd
    on every row (scikit-learn's KMeans started from the sample's centres), without warnings."""
    monkeypatch.setattr(kmeans_module, "SAMPLE_STARTS_ABOVE", 100)
    monkeypatch.setattr(kmeans_module, "START_SAMPLE", 60)
    X = np.random.default_rng(8).normal(size=(300, 2)).astype(np.float32)
    for seed, n_init, max_iter in ((0, 4, 2), (5, 1, 50), (1, 3, 300)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            result = ALGO.fit(X, {"k": 5, "n_init": n_init, "max_iter": max_iter}, seed)
        idx = np.sort(np.random.default_rng(seed).choice(300, size=60, replace=False))
        starts = SkKMeans(5, n_init=n_init, max_iter=max_iter, random_state=seed).fit(X[idx])
        theirs = SkKMeans(5, init=starts.cluster_centers_, n_init=1, max_iter=max_iter).fit(X)
        assert result.params["inertia"] == pytest.approx(theirs.inertia_, rel=1e-5)
        assert result.params["n_iter"] == theirs.n_iter_


def test_sampled_starts_honour_max_iter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kmeans_module, "SAMPLE_STARTS_ABOVE", 100)
    monkeypatch.setattr(kmeans_module, "START_SAMPLE", 100)
    X = np.random.default_rng(7).normal(size=(400, 2)).astype(np.float32)
    result = ALGO.fit(X, {"k": 6, "max_iter": 1}, 0)
    assert result.params["n_iter"] == 1 and result.params["start_sample"] == 100


def test_assign_places_new_customers_at_the_nearest_centre() -> None:
    X, _ = small_blobs((40, 30, 20))
    result = ALGO.fit(X, {"k": 3}, 0)
    centres = result.state["centres"]
    new = (centres + np.float32(0.5)).astype(np.float32)
    labels, dist = ALGO.assign(result.state, new)
    assert labels.tolist() == [0, 1, 2]
    assert np.allclose(dist, np.sqrt(0.5), atol=1e-5)
    assert labels.dtype == np.int32 and dist.dtype == np.float32


# ----------------------------------------------------------------------------- the k sweep


def test_sweep_labels_and_inertia_per_k() -> None:
    X, y = small_blobs((40, 30, 20, 20))
    fits = ALGO.sweep(X, [4, 2, 3], {}, 0)
    assert sorted(fits) == [2, 3, 4]
    assert adjusted_rand_score(y, fits[4]["labels"]) == 1.0
    for k, fit in fits.items():
        labels = fit["labels"]
        assert len(np.unique(labels)) == k
        assert (np.diff(np.bincount(labels)) <= 0).all()  # ordered by size
        centres = np.array([X[labels == s].mean(axis=0) for s in range(k)])
        sq = float(((X - centres[labels]) ** 2).sum())
        assert fit["inertia"] == pytest.approx(sq, rel=1e-4)
    assert fits[2]["inertia"] > fits[3]["inertia"] > fits[4]["inertia"]


def test_sweep_is_never_worse_than_one_start_and_the_warm_start_helps() -> None:
    """Each k keeps the better of one k-means++ start and the previous k's widest segment cut
    in two; on groups of unequal spread the warm start is the better one for some k."""
    rng = np.random.default_rng(3)
    wide = rng.normal(0, 3.0, (120, 2))
    tight = [rng.normal(c, 0.3, (15, 2)) for c in ([12, 0], [12, 2], [0, 14], [2, 14])]
    X = np.vstack([wide, *tight]).astype(np.float32)
    ks = list(range(2, 9))
    helped = 0
    for seed in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fits = ALGO.sweep(X, ks, {}, seed)
        for k in ks:
            one = SkKMeans(k, n_init=1, max_iter=300, random_state=seed).fit(X).inertia_
            assert fits[k]["inertia"] <= one * (1 + 1e-6)
            helped += fits[k]["inertia"] < one * (1 - 1e-3)
    assert helped > 0


def test_sweep_without_the_previous_k_starts_afresh() -> None:
    X = np.random.default_rng(9).normal(size=(150, 2)).astype(np.float32)
    fits = ALGO.sweep(X, [2, 5], {}, 1)  # no k=4 fit to split: 5 is one fresh start
    for k in (2, 5):
        one = SkKMeans(k, n_init=1, max_iter=300, random_state=1).fit(X).inertia_
        assert fits[k]["inertia"] == pytest.approx(one, rel=1e-6)


def test_split_widest_cuts_the_segment_with_the_largest_sum_of_squares() -> None:
    X = np.array([[0, 0], [0, 1], [10, 0], [10, 0.2], [20, 0], [20, 0.2]], dtype=np.float32)
    centres = np.array([[0, 0.5], [15, 0.1]], dtype=np.float32)
    labels = np.array([0, 0, 1, 1, 1, 1])
    out = _split_widest(X, centres, labels, 0)
    assert out.dtype == np.float32 and out.shape == (3, 2)
    assert np.allclose(out[0], [0, 0.5])
    assert np.allclose(sorted(out[1:].tolist()), [[10, 0.1], [20, 0.1]])
    # the first segment's members lie farther from their centre: it is the one cut
    labels = np.array([0, 0, 1, 1, 1, 1])
    centres = np.array([[0, 20], [15, 0.1]], dtype=np.float32)
    out = _split_widest(X, centres, labels, 0)
    assert np.allclose(out[0], [15, 0.1])
    assert np.allclose(sorted(out[1:].tolist()), [[0, 0], [0, 1]])


def test_split_widest_cuts_with_a_seeded_2_means() -> None:
    rng = np.random.default_rng(10)
    X = rng.normal(size=(80, 2)).astype(np.float32)
    labels = (X[:, 0] > 1.0).astype(np.int64)  # segment 0 is the wide one
    centres = np.array([X[labels == s].mean(axis=0) for s in (0, 1)], dtype=np.float32)
    for seed in (0, 3):
        halves = SkKMeans(2, n_init=1, random_state=seed).fit(X[labels == 0]).cluster_centers_
        out = _split_widest(X, centres, labels, seed)
        assert np.allclose(out, np.vstack([centres[1], halves]), atol=1e-6)


def test_split_widest_of_a_single_member_adds_the_farthest_customer() -> None:
    X = np.array([[5], [6], [30], [0]], dtype=np.float32)
    labels = np.array([1, 1, 2, 0])
    centres = np.array([[-10], [5.5], [30]], dtype=np.float32)  # the last row is 10 away
    out = _split_widest(X, centres, labels, 0)
    assert out.tolist() == [[-10], [5.5], [30], [0]]
