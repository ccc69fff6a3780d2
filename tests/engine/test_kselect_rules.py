"""Choosing k on small data (the fast own tests of engine/kselect.py in `make mutate`): each
column of the curve against scikit-learn, the notes, progress and errors, the vote, and the
hand-off to the BIC rule and to the latent class model. The planted-k accuracy tests on
realistic tables are in test_kselect.py."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

from segtrail.engine.algorithms import get_algorithm
from segtrail.engine.kmixture import choose_k_mixture
from segtrail.engine.kselect import BIC_RULE, RULE, choose_k, combined_rule, silhouettes
from segtrail.errors import SegtrailError


def blobs(k: int, n: int, seed: int = 0, dims: int = 3, gap: float = 8.0) -> np.ndarray:
    """n rows around k centres ``gap`` apart along the axes (unit noise), as float32."""
    rng = np.random.default_rng(seed)
    centres = np.zeros((k, dims))
    for i in range(1, k):
        centres[i, (i - 1) % dims] = gap * (1 + (i - 1) // dims)
    return (centres[rng.integers(0, k, n)] + rng.normal(0, 1, (n, dims))).astype(np.float32)


def total_ss(X: np.ndarray) -> float:
    """Sum of squared distances to the overall mean: the inertia of one segment."""
    X = X.astype(np.float64)
    return float(((X - X.mean(axis=0)) ** 2).sum())


def segment_ss(X: np.ndarray, labels: np.ndarray) -> float:
    """Within-segment sum of squares, by a loop over the segments."""
    return sum(total_ss(X[labels == lab]) for lab in set(labels.tolist()))


@pytest.mark.parametrize("algorithm", ["kmeans", "agglomerative"])
def test_every_column_of_the_curve_matches_scikit_learn(algorithm: str) -> None:
    X = blobs(4, 300, seed=1)
    result = choose_k(X, algorithm, (2, 5), seed=3)
    fits = get_algorithm(algorithm).sweep(X, [2, 3, 4, 5], {}, 3)
    assert [row["k"] for row in result["curve"]] == [2, 3, 4, 5]
    for row in result["curve"]:
        labels = fits[row["k"]]["labels"]
        assert row["silhouette"] == pytest.approx(silhouette_score(X, labels), abs=1e-5)
        assert row["calinski_harabasz"] == pytest.approx(calinski_harabasz_score(X, labels))
        assert row["davies_bouldin"] == pytest.approx(davies_bouldin_score(X, labels))
        # k-means reports its own inertia, recorded as is; for the others it is computed
        assert row["inertia"] == pytest.approx(segment_ss(X, labels), rel=1e-4)
        if algorithm == "kmeans":
            assert row["inertia"] == fits[row["k"]]["inertia"]
        assert "bic" not in row
    assert result["chosen_k"] == 4
    assert result["rule"] == RULE
    assert result["total_inertia"] == pytest.approx(total_ss(X), rel=1e-6)
    assert result["notes"] == []  # 300 customers: no sample anywhere
    assert result["sample_size"] == 300


def test_progress_reports_the_three_steps() -> None:
    calls: list[tuple[str, float]] = []
    choose_k(blobs(4, 200), "kmeans", (2, 5), seed=0, progress=lambda s, f: calls.append((s, f)))
    assert calls == [("trying k = 2..5", 0.0), ("scoring each k", 0.7), ("k = 4 chosen", 1.0)]


def test_the_sweep_and_the_scores_each_note_their_own_sample() -> None:
    X = blobs(3, 1200, seed=2)
    result = choose_k(X, "kmeans", (2, 4), seed=0, sample_size=500)
    assert result["notes"] == [
        "k sweep fitted on a sample of 500 customers",
        "choosing k: each k scored on a sample of 500 customers",
    ]
    assert result["sample_size"] == 500
    assert result["chosen_k"] == 3


def test_by_default_the_sweep_sees_10000_and_the_scores_4000_seeded_customers() -> None:
    X = blobs(3, 10_001, seed=4, dims=2)
    result = choose_k(X, "kmeans", (2, 3), seed=0)
    assert result["notes"] == [
        "k sweep fitted on a sample of 10,000 customers",
        "choosing k: each k scored on a sample of 4,000 customers",
    ]
    assert result["sample_size"] == 10_000
    assert result["chosen_k"] == 3
    assert choose_k(X, "kmeans", (2, 3), seed=0) == result


def test_the_sample_is_seeded() -> None:
    X = blobs(3, 900, seed=5)
    first = choose_k(X, "kmeans", (2, 4), seed=1, sample_size=400)
    assert choose_k(X, "kmeans", (2, 4), seed=1, sample_size=400) == first
    other = choose_k(X, "kmeans", (2, 4), seed=2, sample_size=400)
    assert other["curve"][0]["inertia"] != first["curve"][0]["inertia"]


def test_gmm_takes_the_lowest_bic() -> None:
    X = blobs(3, 300, seed=6)
    result = choose_k(X, "gmm", (2, 5), seed=0)
    bics = {row["k"]: row["bic"] for row in result["curve"]}
    assert result["chosen_k"] == min(bics, key=bics.get) == 3
    assert result["rule"] == BIC_RULE
    assert "total_inertia" not in result
    assert all("inertia" not in row and "score" not in row for row in result["curve"])


def test_lca_is_handed_to_the_mixture_sweep() -> None:
    rng = np.random.default_rng(7)
    X = np.column_stack([blobs(3, 300, seed=7, dims=2), rng.integers(0, 3, 300)])
    params = {"levels": [0, 0, 3]}
    calls: list[tuple[str, float]] = []
    result = choose_k(X, "lca", (2, 4), seed=0, params=params, progress=lambda *c: calls.append(c))
    assert result == choose_k_mixture(X, (2, 4), 0, params)
    assert calls == [("trying k = 2..4 (latent class model)", 0.0), ("k chosen", 1.0)]
    # without a layout every column is numeric
    numeric = choose_k(X, "lca", (2, 4), seed=0)
    assert numeric == choose_k_mixture(X, (2, 4), 0, {"levels": [0, 0, 0]})


def test_the_largest_k_needs_more_customers_than_k() -> None:
    X = blobs(2, 8, seed=8)
    with pytest.raises(SegtrailError, match="k range up to 8 needs more than 8 customers"):
        choose_k(X, "kmeans", (2, 8), seed=0)
    assert [row["k"] for row in choose_k(X, "kmeans", (2, 7), seed=0)["curve"]][-1] == 7
    with pytest.raises(SegtrailError, match="needs more than 1,000 customers"):
        choose_k(blobs(2, 1500), "kmeans", (2, 1000), seed=0, sample_size=1000)


def test_the_narrowest_k_range_is_one_k() -> None:
    result = choose_k(blobs(3, 200), "kmeans", (2, 2), seed=0)
    assert result["chosen_k"] == 2
    assert [row["k"] for row in result["curve"]] == [2]


def test_the_vote_weighs_the_elbow_twice_the_silhouette() -> None:
    # log inertia from k = 1: 1000, 500, 250 (straight: no elbow), then flat; the elbow is
    # at k = 3; silhouette peaks at 2 and is 0.5 at 3 on a 0..1 scale
    curve = [
        {"k": 2, "silhouette": 0.6, "inertia": 500.0},
        {"k": 3, "silhouette": 0.4, "inertia": 250.0},
        {"k": 4, "silhouette": 0.2, "inertia": 245.0},
    ]
    assert combined_rule(curve, total_inertia=1000.0) == 3
    x, y = np.array([0, 1 / 3, 2 / 3, 1]), np.log([1000, 500, 250, 245])
    y = (y - y.min()) / (y.max() - y.min())
    below = (y[0] + (y[-1] - y[0]) * x - y) / np.hypot(1, y[-1] - y[0])  # below the chord
    elbow = np.maximum(below[1:], 0)
    assert [row["elbow"] for row in curve] == pytest.approx(elbow.tolist())
    rescaled = (elbow - elbow.min()) / (elbow.max() - elbow.min())
    assert [row["score"] for row in curve] == pytest.approx((2 * rescaled + [1, 0.5, 0]).tolist())


def test_a_tie_goes_to_the_smaller_k_and_a_missing_silhouette_counts_zero() -> None:
    # inertia on a straight log line: no elbow anywhere, so silhouette alone decides
    flat = [
        {"k": 2, "silhouette": 0.5, "inertia": 100.0},
        {"k": 3, "silhouette": 0.5, "inertia": 10.0},
        {"k": 4, "silhouette": None, "inertia": 1.0},
    ]
    assert combined_rule(flat, total_inertia=1000.0) == 2
    assert [row["score"] for row in flat] == pytest.approx([0.0, 0.0, 0.0])
    missing = [
        {"k": 2, "silhouette": None, "inertia": 100.0},
        {"k": 3, "silhouette": 0.3, "inertia": 10.0},
        {"k": 4, "silhouette": 0.1, "inertia": 1.0},
    ]
    assert combined_rule(missing, total_inertia=1000.0) == 3
    assert [row["score"] for row in missing] == pytest.approx([0.0, 1.0, 0.0])
    none = [{**row, "silhouette": None} for row in missing]
    assert combined_rule(none, total_inertia=1000.0) == 2


def test_zero_inertia_is_read_as_a_tiny_one() -> None:
    # a k that fits every customer exactly: the log of its inertia stays finite
    curve = [
        {"k": 2, "silhouette": 0.2, "inertia": 10.0},
        {"k": 3, "silhouette": 0.9, "inertia": 0.0},
    ]
    assert combined_rule(curve, total_inertia=100.0) == 3
    assert all(np.isfinite(row["score"]) for row in curve)


def test_silhouettes_leave_out_noise_and_need_two_segments() -> None:
    X = np.array([[0.0], [1.0], [10.0], [11.0], [50.0], [5.0]], dtype=np.float32)
    with_noise = np.array([0, 0, 1, 1, -1, -1])
    single = np.array([0, 0, 0, -1, -1, -1])
    nothing = np.full(6, -1)
    gap = np.array([0, 0, 3, 3, 3, 0])  # segment numbers need not follow each other
    ours = silhouettes(X, [with_noise, single, nothing, gap], chunk=4)
    kept = with_noise >= 0
    assert ours[0] == pytest.approx(silhouette_score(X[kept], with_noise[kept]), abs=1e-6)
    assert ours[1:3] == [None, None]
    assert ours[3] == pytest.approx(silhouette_score(X, gap), abs=1e-6)


def test_fewer_than_two_segments_get_no_silhouette_and_no_warning() -> None:
    """One segment, one segment beside noise, only noise: no silhouette (None) and nothing
    printed to the user's console by numpy, even when every labeling is like that."""
    X = np.array([[0.0], [1.0], [10.0], [11.0]], dtype=np.float32)
    one, beside_noise, noise = np.zeros(4, int), np.array([0, 0, -1, -1]), np.full(4, -1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert silhouettes(X, [one, beside_noise, noise]) == [None, None, None]
        two = np.array([0, 0, 1, 1])
        ours = silhouettes(X, [one, two, noise], chunk=3)
    assert ours[0] is None and ours[2] is None
    assert ours[1] == pytest.approx(silhouette_score(X, two), abs=1e-6)


def test_silhouettes_do_not_depend_on_the_unit() -> None:
    X = np.array([[0.0, 0.1], [0.2, 0.0], [1.0, 1.1], [1.2, 0.9], [0.1, 1.0]], dtype=np.float32)
    labels = np.array([0, 0, 1, 1, 2])
    for scale in (1e-4, 1.0, 1e4):
        ours = silhouettes(X * scale, [labels])[0]
        assert ours == pytest.approx(silhouette_score(X, labels), abs=1e-5)


def test_a_singleton_segment_scores_zero_for_its_member() -> None:
    # scikit-learn's convention: a customer alone in its segment has silhouette 0
    X = np.array([[0.0], [1.0], [2.0], [9.0]], dtype=np.float32)
    labels = np.array([0, 0, 0, 1])
    assert silhouettes(X, [labels])[0] == pytest.approx(silhouette_score(X, labels), abs=1e-6)


def test_customers_that_cannot_be_told_apart_get_no_indices_and_the_smallest_k() -> None:
    same = np.zeros((40, 2), dtype=np.float32)
    result = choose_k(same, "kmeans", (2, 4), seed=0)
    for row in result["curve"]:
        assert (row["silhouette"], row["calinski_harabasz"], row["davies_bouldin"]) == (
            None,
            None,
            None,
        )
        assert row["inertia"] == 0.0
    assert result["chosen_k"] == 2 and result["total_inertia"] == 0.0
    # two kinds of customer: k = 2 splits them perfectly and the rest adds nothing
    two = same.copy()
    two[:20] = 1.0
    assert choose_k(two, "kmeans", (2, 4), seed=0)["chosen_k"] == 2
