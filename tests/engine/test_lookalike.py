import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segtrail.engine.lookalike import estimate_recall, rank_lookalike, select_audience
from segtrail.errors import InputError

METHODS = ["centroid", "knn", "classifier"]
SMALL_BLOB = 60


def planted(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Six Gaussian blobs in 6-d: five of 300 rows and a small one of 60.

    Returns the pool, the small blob's row indices, and a seed mask holding 70% of them.
    """
    rng = np.random.default_rng(seed)
    sizes = [300, 300, 300, 300, 300, SMALL_BLOB]
    centres = rng.uniform(-4, 4, size=(len(sizes), 6))
    X = np.concatenate(
        [rng.normal(c, 1.0, size=(n, 6)) for c, n in zip(centres, sizes, strict=True)]
    )
    order = rng.permutation(len(X))  # shuffle so the blob is not a contiguous block
    X = X[order].astype(np.float32)
    blob = np.flatnonzero(order >= sum(sizes[:-1]))
    mask = np.zeros(len(X), dtype=bool)
    mask[rng.choice(blob, size=round(0.7 * SMALL_BLOB), replace=False)] = True
    return X, blob, mask


@pytest.mark.parametrize("method", METHODS)
def test_recall_of_hidden_blob_members(method):
    X, blob, _ = planted()
    seed_mask = np.zeros(len(X), dtype=bool)
    seed_mask[blob] = True
    result = estimate_recall(X, seed_mask, method, size=SMALL_BLOB, holdout=0.3, seed=1)
    assert result["hidden"] == 18 and result["size"] == SMALL_BLOB
    assert result["recall"] >= 0.8
    assert result["recovered"] == round(result["recall"] * result["hidden"])
    assert result["random_recall"] == pytest.approx(SMALL_BLOB / (len(X) - 42))
    assert result["lift_over_random"] > 10


@pytest.mark.parametrize("method", METHODS)
def test_audience_finds_the_rest_of_the_blob(method):
    X, blob, mask = planted(seed=2)
    scores = rank_lookalike(X, mask, method, seed=0)
    assert scores.dtype == np.float32 and scores.shape == (len(X),)
    audience = select_audience(scores, mask, SMALL_BLOB)
    assert len(audience) == SMALL_BLOB
    assert not mask[audience].any()
    rest_of_blob = np.setdiff1d(blob, np.flatnonzero(mask))
    assert np.isin(rest_of_blob, audience).mean() >= 0.8


@pytest.mark.parametrize("method", METHODS)
def test_scores_are_deterministic(method):
    X, _, mask = planted(seed=5)
    first = rank_lookalike(X, mask, method, seed=7)
    again = rank_lookalike(X.copy(), mask.copy(), method, seed=7)
    np.testing.assert_array_equal(first, again)
    assert np.isfinite(first).all()


def test_centroid_score_is_minus_distance_to_seed_mean():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4)).astype(np.float32)
    mask = rng.random(200) < 0.2
    expected = -np.linalg.norm(X.astype(np.float64) - X[mask].mean(axis=0), axis=1)
    np.testing.assert_allclose(rank_lookalike(X, mask, "centroid"), expected, atol=1e-4)


def test_knn_score_is_minus_mean_distance_to_nearest_seed_members():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 3)).astype(np.float32)
    mask = rng.random(150) < 0.3
    dist = np.linalg.norm(X[:, None, :].astype(np.float64) - X[mask][None, :, :], axis=2)
    expected = -np.sort(dist, axis=1)[:, :5].mean(axis=1)
    np.testing.assert_allclose(rank_lookalike(X, mask, "knn", k=5), expected, atol=1e-4)
    # k larger than the seed: all seed members are used
    tiny = np.zeros(150, dtype=bool)
    tiny[:3] = True
    expected = -np.linalg.norm(X[:, None, :] - X[None, :3, :], axis=2).mean(axis=1)
    np.testing.assert_allclose(rank_lookalike(X, tiny, "knn", k=10), expected, atol=1e-4)


@given(
    scores=arrays(np.float32, st.integers(1, 60), elements=st.sampled_from([0.0, 0.5, 1.0, -2.0])),
    data=st.data(),
)
@settings(max_examples=200, deadline=None)
def test_select_audience_order_and_exclusion(scores, data):
    """Reference: Python's sorted() over the customers not excluded (score down, row up)."""
    n = len(scores)
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    size = data.draw(st.integers(0, n + 5))
    audience = select_audience(scores, mask, size)
    expected = sorted(np.flatnonzero(~mask), key=lambda i: (-scores[i], i))[:size]
    assert audience.tolist() == expected
    assert not mask[audience].any()


def test_select_audience_puts_nan_last():
    audience = select_audience(np.array([np.nan, 1.0, 2.0]), np.zeros(3, dtype=bool), 3)
    assert audience.tolist() == [2, 1, 0]


@pytest.mark.parametrize(
    ("mask", "method", "message"),
    [
        (np.zeros(10, dtype=bool), "knn", "empty"),
        (np.ones(10, dtype=bool), "knn", "every pool row"),
        (np.zeros(9, dtype=bool), "knn", "one entry per pool row"),
        (np.eye(1, 10, dtype=bool)[0], "nearest", "unknown lookalike method"),
    ],
)
def test_bad_inputs_raise(mask, method, message):
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    with pytest.raises(InputError, match=message):
        rank_lookalike(X, mask, method)


def test_bad_recall_arguments_raise():
    X, _, mask = planted()
    with pytest.raises(InputError, match="holdout"):
        estimate_recall(X, mask, "centroid", size=10, holdout=1.0)
    one = np.zeros(len(X), dtype=bool)
    one[0] = True
    with pytest.raises(InputError, match="too small"):
        estimate_recall(X, one, "centroid", size=10)
    with pytest.raises(InputError, match="size"):
        select_audience(np.zeros(3), np.zeros(3, dtype=bool), -1)
