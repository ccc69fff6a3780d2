import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segtrail.engine.design import id_hash
from segtrail.engine.lookalike import (
    CENTROID_MAX_SEED,
    CLASSIFIER_MAX_SEED,
    KNN_MAX_SEED,
    TraitMeans,
    audience_size,
    compare_profiles,
    estimate_recall,
    first_by_hash,
    fit_lookalike,
    hash_key,
    negatives_wanted,
    rank_lookalike,
    score_lookalike,
    seed_cap,
    select_audience,
)
from segtrail.errors import InputError, InvalidInput

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
    assert result["candidates"] == len(X) - 42  # the pool but the seed members shown
    assert result["random_recall"] == pytest.approx(SMALL_BLOB / (len(X) - 42))
    assert result["lift_over_random"] == pytest.approx(result["recall"] / result["random_recall"])
    assert result["lift_over_random"] > 10
    assert result["precision"] == result["recovered"] / SMALL_BLOB


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
        (np.zeros(10, dtype=bool), "knn", "the seed is empty: no pool row is in it"),
        (
            np.ones(10, dtype=bool),
            "knn",
            "every pool row is in the seed: nothing left to rank",
        ),
        (np.zeros(9, dtype=bool), "knn", "the seed mask must have one entry per pool row"),
        (
            np.eye(1, 10, dtype=bool)[0],
            "nearest",
            "unknown lookalike method 'nearest': use centroid, knn, classifier",
        ),
    ],
)
def test_bad_inputs_raise(mask, method, message):
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    with pytest.raises(InputError) as caught:
        rank_lookalike(X, mask, method)
    assert str(caught.value) == message


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("bad", [np.nan, np.inf, 1e39])  # 1e39 is beyond float32
def test_features_that_are_missing_or_too_large_are_refused(bad):
    X = np.arange(20, dtype=np.float64).reshape(10, 2)
    X[3, 1] = bad
    with pytest.raises(InputError) as caught:
        rank_lookalike(X, np.eye(1, 10, dtype=bool)[0], "centroid")
    assert str(caught.value) == "the pool features contain missing or infinite values"


@pytest.mark.parametrize("method", ["centroid", "knn"])
def test_float64_features_give_float32_scores(method):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(50, 3))  # float64
    mask = np.arange(50) < 10
    assert rank_lookalike(X, mask, method).dtype == np.float32
    model = fit_lookalike(X[mask], method)
    assert score_lookalike(model, X).dtype == np.float32


def test_a_mask_of_ones_and_zeros_reads_as_yes_or_no():
    X, blob, _ = planted()
    mask = np.zeros(len(X), dtype=int)
    mask[blob] = 1
    as_ints = estimate_recall(X, mask, "centroid", size=SMALL_BLOB, seed=1)
    assert as_ints == estimate_recall(X, mask.astype(bool), "centroid", size=SMALL_BLOB, seed=1)
    assert as_ints["candidates"] == len(X) - 42


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


# --- the model the engines share: caps, hash order, fitting, scoring ------------------------


def test_each_method_fits_on_its_own_number_of_seed_members():
    assert seed_cap("centroid") == CENTROID_MAX_SEED == 100_000
    assert seed_cap("knn") == KNN_MAX_SEED == 1_000
    assert seed_cap("classifier") == CLASSIFIER_MAX_SEED == 5_000


def test_the_classifier_takes_three_negatives_per_seed_member_and_at_least_a_thousand():
    assert [negatives_wanted(p) for p in (0, 1, 333, 334, 5_000)] == [
        1_000,
        1_000,
        1_000,
        1_002,
        15_000,
    ]


def test_hash_key_is_the_top_63_bits_of_the_seeded_id_hash():
    """Reference: the id hash shifted right by one as a Python int (so it fits an int64 and
    Spark can sort by it)."""
    ids = np.array(["a", "b", "c10", "Zoë", "", "x" * 40], dtype=object)
    for seed in (0, 7):
        keys = hash_key(ids, seed)
        assert keys.dtype == np.int64
        assert keys.tolist() == [int(h) >> 1 for h in id_hash(ids, seed)]
        assert (keys >= 0).all()
    assert hash_key(ids, 0).tolist() != hash_key(ids, 7).tolist()


@given(keys=st.lists(st.integers(0, 3), max_size=25), data=st.data())
@settings(max_examples=100, deadline=None)
def test_first_by_hash_orders_by_key_then_id_text(keys, data):
    """Reference: Python's sorted() over the positions, by (key, id as text): 10 before 9."""
    n = len(keys)
    ids = data.draw(st.lists(st.integers(0, 120), min_size=n, max_size=n, unique=True))
    count = data.draw(st.integers(0, n + 2))
    got = first_by_hash(np.array(keys, dtype=np.int64), np.array(ids, dtype=np.int64), count)
    expected = sorted(range(n), key=lambda i: (keys[i], str(ids[i])))[:count]
    assert got.tolist() == expected


def test_fitting_an_unknown_method_or_no_neighbours_is_refused():
    seed = np.zeros((3, 2))
    with pytest.raises(InputError) as caught:
        fit_lookalike(seed, "nearest")  # type: ignore[arg-type]
    assert str(caught.value) == "unknown lookalike method 'nearest': use centroid, knn, classifier"
    for fit in (
        lambda: fit_lookalike(seed, "knn", k=0),
        lambda: rank_lookalike(np.zeros((4, 2)), np.array([1, 1, 0, 0], bool), "knn", k=0),
    ):
        with pytest.raises(InputError) as caught:
            fit()
        assert str(caught.value) == "k must be 1 or more, not 0"
    assert fit_lookalike(seed, "knn", k=1).k == 1


def test_the_model_summary_says_what_it_was_fitted_on():
    seed = np.arange(12, dtype=np.float32).reshape(6, 2)
    assert fit_lookalike(seed, "centroid").summary() == {"method": "centroid", "seed_rows": 6}
    assert fit_lookalike(seed, "knn", k=4).summary() == {"method": "knn", "seed_rows": 6, "k": 4}
    # no more neighbours than seed members
    assert fit_lookalike(seed, "knn", k=10).summary() == {"method": "knn", "seed_rows": 6, "k": 6}
    negatives = np.arange(10, dtype=np.float32).reshape(5, 2) + 100
    model = fit_lookalike(
        seed, "classifier", X_negatives=negatives, negative_ids=np.array([9, 8, 7, 6, 5])
    )
    assert model.summary() == {"method": "classifier", "seed_rows": 6, "negatives": 5}
    assert model.second_ids.tolist() == [9, 8, 7]  # the first half (rounded up): model A's


def _two_sided_negatives() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A seed of 60 around the origin; 81 negatives: the first 41 around x = +10, the last 40
    around x = -10 (enough rows per side for the trees' leaves of 20)."""
    rng = np.random.default_rng(3)
    seed = rng.normal(0, 0.3, size=(60, 2))
    right = rng.normal(0, 0.3, size=(41, 2)) + np.array([10, 0])
    left = rng.normal(0, 0.3, size=(40, 2)) + np.array([-10, 0])
    return seed.astype(np.float32), np.concatenate([right, left]).astype(np.float32), right


def test_no_row_is_scored_by_the_model_told_it_is_a_negative():
    """PU learning: model A learns the seed against the first half of the negatives (here all
    on the right), model B against the second (the left). The first half's rows, marked in
    `second`, are scored by model B, which never saw them: like the seed, not buried."""
    seed, negatives, right = _two_sided_negatives()
    model = fit_lookalike(
        seed, "classifier", seed=1, X_negatives=negatives, negative_ids=np.arange(81)
    )
    assert model.second_ids.tolist() == list(range(41))
    second = np.zeros(81, dtype=bool)
    second[model.second_ids] = True
    scores = score_lookalike(model, negatives, second)
    assert scores.dtype == np.float32
    assert (scores > 0.5).all()  # each row scored by the model that did not see it
    # scored by model A, the right half reads as negatives, the unseen left as seed-like
    by_a = score_lookalike(model, negatives)
    assert (by_a[:41] < 0.5).all() and (by_a[41:] > 0.5).all()
    np.testing.assert_array_equal(scores[41:], by_a[41:])
    assert (score_lookalike(model, negatives, np.zeros(81, dtype=bool)) == by_a).all()
    # a fresh row on the right, not one of model A's negatives, is scored by model A
    fresh = right[:3] + np.float32(0.01)
    assert (score_lookalike(model, fresh) < 0.5).all()


def test_a_single_negative_trains_both_models():
    seed, negatives, _ = _two_sided_negatives()
    model = fit_lookalike(seed, "classifier", X_negatives=negatives[:1], negative_ids=["n1"])
    assert model.summary()["negatives"] == 1
    assert model.second_ids.tolist() == ["n1"]
    assert len(model.classifiers) == 2


def test_knn_scores_in_small_batches_match_the_reference(monkeypatch):
    """The pool is queried in blocks of rows (to bound memory); reference: numpy distances."""
    monkeypatch.setattr("segtrail.engine.lookalike._CHUNK", 7)
    rng = np.random.default_rng(6)
    X = rng.normal(size=(150, 3)).astype(np.float32)
    mask = rng.random(150) < 0.3
    dist = np.linalg.norm(X[:, None, :].astype(np.float64) - X[mask][None, :, :], axis=2)
    expected = -np.sort(dist, axis=1)[:, :4].mean(axis=1)
    np.testing.assert_allclose(rank_lookalike(X, mask, "knn", k=4), expected, atol=1e-4)


def test_classifier_scores_in_small_batches_match_its_models(monkeypatch):
    """Reference: scikit-learn's probabilities of model A, of model B for the rows marked."""
    monkeypatch.setattr("segtrail.engine.lookalike._CHUNK", 2)  # blocks of 8 rows
    seed, negatives, _ = _two_sided_negatives()
    model = fit_lookalike(seed, "classifier", X_negatives=negatives, negative_ids=np.arange(81))
    X = np.concatenate([negatives, seed])
    second = np.zeros(len(X), dtype=bool)
    second[:41] = True
    model_a, model_b = model.classifiers
    expected = np.where(second, model_b.predict_proba(X)[:, 1], model_a.predict_proba(X)[:, 1])
    np.testing.assert_allclose(score_lookalike(model, X, second), expected, rtol=1e-6)
    alone = score_lookalike(model, X)
    np.testing.assert_allclose(alone, model_a.predict_proba(X)[:, 1], rtol=1e-6)


def test_audience_size_is_a_count_or_a_share_of_the_pool():
    assert audience_size(50, 1_000) == 50
    assert audience_size(1, 1_000) == 1
    assert audience_size(0.1, 10) == 1
    assert audience_size(5_000, 1_000) == 5_000  # more than the pool: the audience is smaller
    assert audience_size(0.1, 1_000) == 100
    assert audience_size(1.0, 7) == 7
    assert audience_size(0.004, 1_000) == 4


@pytest.mark.parametrize(
    ("size", "pool", "message"),
    [
        (True, 10, "invalid audience size True: a number of customers or a share"),
        ("10", 10, "invalid audience size '10': a number of customers or a share"),
        (None, 10, "invalid audience size None: a number of customers or a share"),
        (0.0, 10, "invalid audience share 0.0: between 0 and 1"),
        (1.5, 10, "invalid audience share 1.5: between 0 and 1"),
        (-0.5, 10, "invalid audience share -0.5: between 0 and 1"),
        (0, 10, "an audience size of 0 gives an empty audience"),
        (-3, 10, "an audience size of -3 gives an empty audience"),
        (0.01, 40, "an audience size of 0.01 gives an empty audience"),
    ],
)
def test_bad_audience_sizes_are_refused(size, pool, message):
    with pytest.raises(InvalidInput) as caught:
        audience_size(size, pool)
    assert str(caught.value) == message


def test_profiles_compare_the_audience_with_the_seed_and_the_pool():
    """Hand-computed: distances in units of the pool's spread; traits without a spread or
    without a mean in one of the groups are left out."""
    traits = [
        TraitMeans("visits", 1.0, 1.0, 1.5, 2.0),  # sets the seed apart by 1 spread
        TraitMeans("spend", 2.0, 10.0, 8.0, 4.0),  # by 3
        TraitMeans("flat", 0.0, 1.0, 1.0, 1.0),
        TraitMeans("unknown", float("nan"), 1.0, 2.0, 3.0),
        TraitMeans("endless", float("inf"), 1.0, 2.0, 3.0),
        TraitMeans("no_seed", 1.0, None, 2.0, 3.0),
        TraitMeans("no_audience", 1.0, 1.0, None, 3.0),
        TraitMeans("no_pool", 1.0, 1.0, 2.0, None),
    ]
    profile, closeness = compare_profiles(traits)
    assert profile == [
        {"column": "spend", "seed_mean": 10.0, "audience_mean": 8.0, "pool_mean": 4.0},
        {"column": "visits", "seed_mean": 1.0, "audience_mean": 1.5, "pool_mean": 2.0},
    ]
    # spend: 2 / 2 = 1 from the seed, 4 / 2 = 2 from the pool; visits: 0.5 and 0.5
    assert closeness == {"audience_to_seed": 0.75, "audience_to_pool": 1.25}


def test_profiles_show_the_six_traits_that_set_the_seed_apart_most():
    # trait i sets the seed (at 10) apart by i spreads, the pool below or above it by turns;
    # the spreads differ, so raw distances would rank them otherwise
    traits = [
        TraitMeans(f"t{i}", 10.0 / i, 10.0, 10.0, 10.0 + (-1) ** i * 10.0) for i in range(1, 10)
    ]
    profile, closeness = compare_profiles(traits)
    assert [p["column"] for p in profile] == ["t9", "t8", "t7", "t6", "t5", "t4"]
    assert closeness["audience_to_seed"] == 0.0
    assert closeness["audience_to_pool"] == pytest.approx(5.0)  # the mean of 1..9


def test_profiles_without_usable_traits_say_nothing():
    nothing = {"audience_to_seed": None, "audience_to_pool": None}
    assert compare_profiles([]) == ([], nothing)
    assert compare_profiles([TraitMeans("flat", 0.0, 1.0, 1.0, 1.0)]) == ([], nothing)


def test_recall_on_an_empty_audience_has_no_precision_nor_lift():
    X, blob, _ = planted()
    seed_mask = np.zeros(len(X), dtype=bool)
    seed_mask[blob] = True
    result = estimate_recall(X, seed_mask, "centroid", size=0, holdout=0.3, seed=1)
    assert (result["recovered"], result["recall"], result["size"]) == (0, 0.0, 0)
    assert result["precision"] is None and result["lift_over_random"] is None
    assert result["random_recall"] == 0.0


def test_recall_of_an_audience_larger_than_the_candidates():
    X, blob, _ = planted()
    seed_mask = np.zeros(len(X), dtype=bool)
    seed_mask[blob] = True
    result = estimate_recall(X, seed_mask, "centroid", size=10 * len(X), seed=1)
    assert result["recall"] == 1.0 and result["random_recall"] == 1.0
    assert result["lift_over_random"] == 1.0
    assert result["precision"] == pytest.approx(18 / result["candidates"])


@pytest.mark.parametrize(
    ("seed_rows", "holdout", "message"),
    [
        (10, 0.0, "holdout must be between 0 and 1, not 0.0"),
        (10, -0.1, "holdout must be between 0 and 1, not -0.1"),
        (3, 0.9, "a seed of 3 is too small to hide 90% of it"),
        (3, 0.1, "a seed of 3 is too small to hide 10% of it"),
    ],
)
def test_recall_needs_a_holdout_it_can_take(seed_rows, holdout, message):
    X, _, _ = planted()
    mask = np.zeros(len(X), dtype=bool)
    mask[:seed_rows] = True
    with pytest.raises(InputError) as caught:
        estimate_recall(X, mask, "centroid", size=10, holdout=holdout)
    assert str(caught.value) == message


@pytest.mark.parametrize(("holdout", "hidden"), [(0.6, 2), (0.3, 1)])
def test_a_holdout_of_one_to_all_but_one_seed_member_is_allowed(holdout, hidden):
    X, _, _ = planted()
    mask = np.zeros(len(X), dtype=bool)
    mask[:3] = True
    result = estimate_recall(X, mask, "centroid", size=10, holdout=holdout)  # of 3
    assert result["hidden"] == hidden and result["candidates"] == len(X) - 3 + hidden


@pytest.mark.parametrize("method", ["knn", "classifier"])
def test_the_recall_estimate_is_reproducible_with_its_seed(method):
    """A seed that stands out little: which members are hidden (and, for the classifier,
    which rows are its negatives) moves the recall, so a draw not tied to the seed shows."""
    rng = np.random.default_rng(8)
    X = rng.normal(size=(400, 3)).astype(np.float32)
    mask = np.zeros(400, dtype=bool)
    mask[:80] = True
    X[:80] += 0.3
    first = [estimate_recall(X, mask, method, 80, seed=s, k=3) for s in range(4)]
    again = [estimate_recall(X, mask, method, 80, seed=s, k=3) for s in range(4)]
    assert first == again
    assert len({r["recovered"] for r in first}) > 1  # the seed does move it


def test_knn_recall_uses_the_k_given():
    """A seed of eight tight pockets of three in a wide scatter: a hidden member's nearest
    seed member is its pocket mate, so k=1 finds every one; with k=10 the mean runs over
    other pockets far away and the hidden members look like anyone."""
    rng = np.random.default_rng(0)
    pockets = rng.uniform(-10, 10, size=(8, 2))
    seed = np.repeat(pockets, 3, axis=0) + rng.normal(0, 0.01, size=(24, 2))
    X = np.concatenate([seed, rng.uniform(-10, 10, size=(400, 2))]).astype(np.float32)
    mask = np.zeros(len(X), dtype=bool)
    mask[:24] = True
    assert estimate_recall(X, mask, "knn", 7, seed=0, k=1)["recall"] == 1.0
    assert estimate_recall(X, mask, "knn", 7, seed=0, k=10)["recall"] < 0.2


def test_select_audience_reads_the_mask_as_yes_or_no():
    audience = select_audience(np.array([3.0, 2.0, 1.0]), [0, 1, 0], 3)
    assert audience.tolist() == [0, 2]


def test_select_audience_needs_a_score_per_mask_entry():
    with pytest.raises(InputError) as caught:
        select_audience(np.zeros(3), np.zeros(4, dtype=bool), 1)
    assert str(caught.value) == "scores and seed mask differ in length"


def test_the_classifier_is_small_and_fixed_in_cost():
    """Seed-vs-rest is an easy, noisy target: each model is 60 rounds of trees of at most 15
    leaves, with no early stopping (no validation split takes seed rows away), and seed and
    negatives weigh the same in all (a seed of 60 against 81 negatives, or 5,000 against
    15,000)."""
    seed, negatives, _ = _two_sided_negatives()
    model = fit_lookalike(seed, "classifier", X_negatives=negatives, negative_ids=np.arange(81))
    for fitted in model.classifiers:
        params = fitted.get_params()
        assert (params["max_iter"], params["max_leaf_nodes"]) == (60, 15)
        assert params["early_stopping"] is False
        assert params["class_weight"] == "balanced"
        assert fitted.n_iter_ == 60


def _recording_fits(monkeypatch) -> list[dict]:
    """Every fit_lookalike call rank_lookalike makes, with what it was given (the real fit
    runs)."""
    import segtrail.engine.lookalike as lookalike

    calls: list[dict] = []
    real = lookalike.fit_lookalike

    def recording(X_seed, method, seed=0, k=10, X_negatives=None, negative_ids=None):
        calls.append({"seed": X_seed, "negatives": X_negatives, "negative_ids": negative_ids})
        return real(X_seed, method, seed, k, X_negatives, negative_ids)

    monkeypatch.setattr(lookalike, "fit_lookalike", recording)
    return calls


def _distinct_rows(X: np.ndarray, rows: np.ndarray) -> set:
    return {tuple(r) for r in X[rows]}


def test_knn_fits_on_a_sample_of_distinct_seed_members_above_its_cap(monkeypatch):
    monkeypatch.setattr("segtrail.engine.lookalike.KNN_MAX_SEED", 30)
    calls = _recording_fits(monkeypatch)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(100, 3)).astype(np.float32)
    mask = np.zeros(100, dtype=bool)
    mask[10:50] = True  # 40 seed members, capped at 30
    scores = rank_lookalike(X, mask, "knn", k=1)
    (call,) = calls
    fitted = {tuple(r) for r in call["seed"]}
    assert len(call["seed"]) == len(fitted) == 30
    assert fitted <= _distinct_rows(X, np.flatnonzero(mask))
    assert (scores == 0).sum() == 30  # each member's nearest member is itself


def test_the_classifier_fits_on_capped_distinct_members_and_negatives(monkeypatch):
    monkeypatch.setattr("segtrail.engine.lookalike.CLASSIFIER_MAX_SEED", 30)
    monkeypatch.setattr("segtrail.engine.lookalike.CLASSIFIER_MIN_NEGATIVES", 50)
    calls = _recording_fits(monkeypatch)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 3)).astype(np.float32)
    mask = np.zeros(200, dtype=bool)
    mask[10:50] = True  # 40 seed members, capped at 30; 160 others, 90 taken
    rank_lookalike(X, mask, "classifier")
    (call,) = calls
    assert len(call["seed"]) == len({tuple(r) for r in call["seed"]}) == 30
    assert {tuple(r) for r in call["seed"]} <= _distinct_rows(X, np.flatnonzero(mask))
    ids = call["negative_ids"]
    assert len(ids) == len(set(ids.tolist())) == 90 and not mask[ids].any()
    np.testing.assert_array_equal(call["negatives"], X[ids])
    # with fewer others than wanted, every other row is a negative
    calls.clear()
    rank_lookalike(X[:120], mask[:120], "classifier")
    assert sorted(calls[0]["negative_ids"].tolist()) == np.flatnonzero(~mask[:120]).tolist()


def test_ranking_defaults_to_seed_0_and_10_neighbours():
    seed, negatives, _ = _two_sided_negatives()
    X = np.concatenate([seed, negatives])
    mask = np.arange(len(X)) < len(seed)
    for method, options in (("knn", {"k": 10}), ("classifier", {"seed": 0})):
        np.testing.assert_array_equal(
            rank_lookalike(X, mask, method), rank_lookalike(X, mask, method, **options)
        )
    assert not np.array_equal(rank_lookalike(X, mask, "knn"), rank_lookalike(X, mask, "knn", k=11))


def test_select_audience_fills_up_with_unscorable_rows_last():
    audience = select_audience(np.array([np.nan, np.nan, 1.0]), np.zeros(3, dtype=bool), 2)
    assert audience.tolist() == [2, 0]


def test_negatives_are_halved_with_the_odd_one_in_the_first_half():
    seed, negatives, _ = _two_sided_negatives()
    for count, first_half in ((6, [0, 1, 2]), (5, [0, 1, 2]), (2, [0])):
        model = fit_lookalike(
            seed, "classifier", X_negatives=negatives[:count], negative_ids=np.arange(count)
        )
        assert model.second_ids.tolist() == first_half


def test_knn_fits_ten_neighbours_by_default():
    assert fit_lookalike(np.zeros((20, 2)), "knn").summary()["k"] == 10


@pytest.mark.parametrize("method", METHODS)
def test_float64_and_float32_features_fit_the_same_model(method):
    """Engines hand over features as float64 or float32: the model, and every score, is the
    same to the bit (the centre is the float64 mean, rounded once)."""
    seed, negatives, _ = _two_sided_negatives()
    X = np.concatenate([seed, negatives])
    seed64, negatives64 = seed.astype(np.float64), negatives.astype(np.float64)
    ids = np.arange(len(negatives))
    narrow = fit_lookalike(seed, method, k=3, X_negatives=negatives, negative_ids=ids)
    wide = fit_lookalike(seed64, method, k=3, X_negatives=negatives64, negative_ids=ids)
    np.testing.assert_array_equal(score_lookalike(wide, X), score_lookalike(narrow, X))
    if method == "centroid":
        expected = seed64.mean(axis=0).astype(np.float32)
        np.testing.assert_array_equal(wide.points[0], expected)
