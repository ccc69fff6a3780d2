"""Agglomerative (Ward) clustering (engine/algorithms/agglomerative.py) on small data: the
partition against scikit-learn's Ward clustering, the size limit and its wording, centres,
the k sweep cutting one tree, the parameters recorded."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import adjusted_rand_score

from algo_checks import declared, fit_auto_k, k_and_range
from planted import small_blobs
from segtrail.engine.algorithms import agglomerative as agglomerative_module
from segtrail.engine.algorithms import get_algorithm
from segtrail.errors import InvalidInput, SegtrailError

ALGO = get_algorithm("agglomerative")


def test_declared_parameters_as_the_cli_shows_them() -> None:
    assert declared(ALGO) == {
        **k_and_range(2, 12),
        "max_rows": (
            20_000,
            "a whole number >= 2",
            "refuse tables larger than this (memory grows with the square of the rows)",
            False,
        ),
    }
    assert ALGO.confidence_meaning == "distance to the segment centre (smaller = more typical)"
    assert not ALGO.higher_confidence_is_better


def test_the_partition_is_wards() -> None:
    X = np.random.default_rng(0).normal(size=(80, 3)).astype(np.float32)  # no clear groups
    for k in (2, 4, 7):
        result = ALGO.fit(X, {"k": k}, 0)
        theirs = AgglomerativeClustering(k, linkage="ward").fit_predict(X.astype(np.float64))
        assert adjusted_rand_score(theirs, result.labels) == 1.0
        assert len(np.unique(result.labels)) == k
        assert (np.diff(np.bincount(result.labels)) <= 0).all()


def test_recovers_planted_groups_with_centres_and_distances() -> None:
    X, y = small_blobs((40, 30, 20))
    result = ALGO.fit(X, {"k": 3}, 0)
    assert adjusted_rand_score(y, result.labels) == 1.0
    assert np.bincount(result.labels).tolist() == [40, 30, 20]
    centres = result.state["centres"]
    assert centres.dtype == np.float32 and centres.shape == (3, 2)
    for s in range(3):
        assert np.allclose(centres[s], X[result.labels == s].mean(axis=0), atol=1e-5)
    dist = np.linalg.norm(X - centres[result.labels], axis=1)
    assert np.allclose(result.confidence, dist, atol=1e-5)
    assert result.params == {"k": 3, "linkage": "ward", "max_rows": 20_000, "n_rows": 90}
    assert ALGO.refit_params(result.params) == {"k": 3}  # the size limit does not pin the model
    assert result.notes == []
    new = centres + np.float32(0.25)
    labels, distance = ALGO.assign(result.state, new)
    assert labels.tolist() == [0, 1, 2] and np.allclose(distance, np.sqrt(0.125), atol=1e-5)


def test_tables_above_max_rows_are_refused_with_advice() -> None:
    X, _ = small_blobs((600, 500, 1))
    assert ALGO.fit(X, {"k": 2, "max_rows": 1101}, 0).params["max_rows"] == 1101  # at the limit
    with pytest.raises(SegtrailError) as caught:
        ALGO.fit(X, {"k": 2, "max_rows": 1100}, 0)
    assert str(caught.value) == (
        "agglomerative (Ward) is limited to 1,100 customers, got 1,101 (its memory grows with "
        "the square of the rows); use kmeans instead"
    )
    with pytest.raises(InvalidInput, match=r"^max_rows must be a whole number >= 2 for agglo"):
        ALGO.fit(X, {"k": 2, "max_rows": 1}, 0)


def test_the_sweep_checks_the_size_too(monkeypatch: pytest.MonkeyPatch) -> None:
    X, _ = small_blobs((40, 30, 20))
    with pytest.raises(SegtrailError, match="limited to 89 customers, got 90"):
        ALGO.sweep(X, [2, 3], {"max_rows": 89}, 0)
    monkeypatch.setattr(agglomerative_module, "MAX_ROWS", 80)  # sweeps pass no parameters
    with pytest.raises(SegtrailError, match="limited to 80 customers, got 90"):
        ALGO.sweep(X, [2, 3], {}, 0)
    monkeypatch.setattr(agglomerative_module, "MAX_ROWS", 90)
    assert sorted(ALGO.sweep(X, [2, 3], {}, 0)) == [2, 3]


def test_the_sweep_cuts_one_tree_at_every_k() -> None:
    X, y = small_blobs((40, 30, 20, 10))
    fits = ALGO.sweep(X, [2, 3, 4], {}, 0)
    assert sorted(fits) == [2, 3, 4]
    assert adjusted_rand_score(y, fits[4]["labels"]) == 1.0
    for k in (2, 3, 4):
        assert len(np.unique(fits[k]["labels"])) == k
        assert (np.diff(np.bincount(fits[k]["labels"])) <= 0).all()
        assert np.array_equal(fits[k]["labels"], ALGO.fit(X, {"k": k}, 0).labels)
    pairs = {(a, b) for a, b in zip(fits[3]["labels"], fits[2]["labels"], strict=True)}
    assert len({a for a, _ in pairs}) == len(pairs)  # each k=3 segment inside one k=2 segment


def test_auto_k_records_the_range_and_the_selection() -> None:
    assert fit_auto_k(ALGO, [2, 5]).params["k"] == 4


def test_fewer_distinct_customers_than_k() -> None:
    X = np.repeat(np.array([[0, 0], [5, 5], [9, 0]], dtype=np.float32), [30, 20, 10], axis=0)
    result = ALGO.fit(X, {"k": 5}, 0)
    assert np.bincount(result.labels).tolist() == [30, 20, 10]
    assert result.state["centres"].tolist() == [[0, 0], [5, 5], [9, 0]]
