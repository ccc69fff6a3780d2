"""Internal quality of one clustering against scikit-learn's metrics on the same rows (the
independent reference): noise left out, the sample sizes and notes as documented."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

from segtrail.engine import quality
from segtrail.engine.quality import quality_metrics


def _blobs(n_per: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(3.0 * j, 1.0, size=(n_per, 2)) for j in range(k)])
    return X, np.repeat(np.arange(k), n_per)


def test_small_clustering_matches_sklearn_without_noise() -> None:
    X, labels = _blobs(20, 3)
    labels[[0, 25, 50]] = -1  # noise: counted as unassigned, left out of every index
    got = quality_metrics(X, labels)
    kept = labels >= 0
    assert got["customers"] == 60
    assert got["unassigned"] == 3
    assert got["unassigned_share"] == pytest.approx(3 / 60)
    assert got["calinski_harabasz"] == pytest.approx(calinski_harabasz_score(X[kept], labels[kept]))
    assert got["davies_bouldin"] == pytest.approx(davies_bouldin_score(X[kept], labels[kept]))
    assert got["silhouette"] == pytest.approx(silhouette_score(X[kept], labels[kept]))
    assert got["sample_sizes"] == {"silhouette": 57, "indices": 57}
    assert got["notes"] == []
    assert isinstance(got["customers"], int) and isinstance(got["unassigned"], int)


def test_no_customers() -> None:
    got = quality_metrics(np.zeros((0, 2)), np.zeros(0, dtype=int))
    assert got["customers"] == 0 and got["unassigned"] == 0
    assert got["unassigned_share"] == 0.0
    assert got["silhouette"] is None and got["calinski_harabasz"] is None
    assert got["davies_bouldin"] is None
    assert got["notes"] == ["quality indices need at least two segments"]
    assert "sample_sizes" not in got


@pytest.mark.parametrize(
    "labels",
    [
        [0, 0, 0, 0],  # one segment
        [0, 0, 0, -1],  # one segment and noise
        [-1, -1, -1, -1],  # all noise
        [0, 1, -1, -1],  # two segments, one customer each: no more customers than segments
    ],
)
def test_too_few_segments_or_customers_gives_no_indices(labels: list[int]) -> None:
    X = np.array([[0.0, 0.0], [1.0, 0.5], [5.0, 5.0], [6.0, 5.5]])
    got = quality_metrics(X, np.array(labels))
    assert got["silhouette"] is None and got["calinski_harabasz"] is None
    assert got["davies_bouldin"] is None
    assert got["notes"] == ["quality indices need at least two segments"]
    noise = labels.count(-1)
    assert got["unassigned"] == noise and got["unassigned_share"] == noise / 4


def test_one_more_customer_than_segments_is_enough() -> None:
    X = np.array([[0.0, 0.0], [0.5, 0.0], [5.0, 5.0]])
    labels = np.array([0, 0, 1])
    got = quality_metrics(X, labels)
    assert got["calinski_harabasz"] == pytest.approx(calinski_harabasz_score(X, labels))
    assert got["silhouette"] == pytest.approx(silhouette_score(X, labels))
    assert got["notes"] == []


def _subset_scores(X: np.ndarray, labels: np.ndarray, size: int, score) -> list[float]:
    return [
        score(X[list(rows)], labels[list(rows)])
        for rows in itertools.combinations(range(len(X)), size)
        if len(np.unique(labels[list(rows)])) >= 2
    ]


def test_indices_on_a_sample_of_distinct_assigned_customers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X, labels = _blobs(4, 2, seed=3)
    labels = np.append(labels, -1)  # a noise row that no sample may hold
    X = np.vstack([X, [[100.0, 100.0]]])
    monkeypatch.setattr(quality, "INDEX_SAMPLE", 6)
    monkeypatch.setattr(quality, "SILHOUETTE_SAMPLE", 5)
    got = quality_metrics(X, labels, seed=1)
    assert got["sample_sizes"] == {"silhouette": 5, "indices": 6}
    kept = labels >= 0
    Xa, la = X[kept], labels[kept]
    # each figure is that of some set of distinct assigned customers of the stated size
    assert any(
        got["calinski_harabasz"] == pytest.approx(s)
        for s in _subset_scores(Xa, la, 6, calinski_harabasz_score)
    )
    assert any(
        got["davies_bouldin"] == pytest.approx(s)
        for s in _subset_scores(Xa, la, 6, davies_bouldin_score)
    )
    assert any(
        got["silhouette"] == pytest.approx(s) for s in _subset_scores(Xa, la, 5, silhouette_score)
    )
    assert got["notes"] == [
        "the silhouette below is computed on a sample of 5 customers "
        "(it is quadratic in the number of customers)"
    ]
    # not the whole set
    assert got["calinski_harabasz"] != pytest.approx(calinski_harabasz_score(Xa, la))
    # seeded: the same seed gives the same figures, another seed another sample
    assert quality_metrics(X, labels, seed=1) == got
    others = [quality_metrics(X, labels, seed=s)["calinski_harabasz"] for s in range(2, 8)]
    assert any(o != pytest.approx(got["calinski_harabasz"]) for o in others)


def test_default_seed_is_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    X, labels = _blobs(6, 2, seed=5)
    monkeypatch.setattr(quality, "INDEX_SAMPLE", 8)
    assert quality_metrics(X, labels) == quality_metrics(X, labels, seed=0)


def test_sample_sizes_at_exactly_the_limits_are_not_sampled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X, labels = _blobs(5, 2, seed=2)
    monkeypatch.setattr(quality, "INDEX_SAMPLE", 10)
    monkeypatch.setattr(quality, "SILHOUETTE_SAMPLE", 10)
    got = quality_metrics(X, labels)
    assert got["sample_sizes"] == {"silhouette": 10, "indices": 10}
    assert got["calinski_harabasz"] == pytest.approx(calinski_harabasz_score(X, labels))
    assert got["silhouette"] == pytest.approx(silhouette_score(X, labels))
    assert got["notes"] == []


def test_as_many_customers_as_the_index_sample_draws_no_sample(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # at exactly INDEX_SAMPLE customers every one is used, and no draw is spent on it: the
    # silhouette sample is then the one a larger limit gives
    X, labels = _blobs(6, 2, seed=4)
    monkeypatch.setattr(quality, "SILHOUETTE_SAMPLE", 5)
    monkeypatch.setattr(quality, "INDEX_SAMPLE", 1_000)
    unlimited = [quality_metrics(X, labels, seed=s) for s in range(5)]
    monkeypatch.setattr(quality, "INDEX_SAMPLE", 12)
    assert [quality_metrics(X, labels, seed=s) for s in range(5)] == unlimited


def test_silhouette_sample_with_one_segment_only_has_no_silhouette(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 9 customers in segment 0 and one in segment 1: a silhouette sample of 3 may hold
    # segment 0 only; then the silhouette is left out, and the indices are not
    X = np.vstack([np.zeros((9, 2)) + np.arange(9)[:, None] * 0.1, [[9.0, 9.0]]])
    labels = np.array([0] * 9 + [1])
    monkeypatch.setattr(quality, "SILHOUETTE_SAMPLE", 3)
    possible = _subset_scores(X, labels, 3, silhouette_score)
    seen_none = seen_value = False
    for seed in range(30):
        got = quality_metrics(X, labels, seed=seed)
        assert got["calinski_harabasz"] == pytest.approx(calinski_harabasz_score(X, labels))
        assert got["sample_sizes"] == {"silhouette": 3, "indices": 10}
        if got["silhouette"] is None:
            seen_none = True
        else:
            seen_value = True
            assert any(got["silhouette"] == pytest.approx(s) for s in possible)
    assert seen_none and seen_value


def test_defaults_are_documented_sizes() -> None:
    assert quality.SILHOUETTE_SAMPLE == 5_000
    assert quality.INDEX_SAMPLE == 100_000
