"""How firmly each customer belongs to its segment, against a plain per-customer loop written
here (the independent reference): distance to the own segment's mean, and the margin
1 - d_own / d_nearest_other clipped to 0..1; noise has NaN distance and confidence 0."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from segtrail.engine import membership
from segtrail.engine.membership import centre_margin, segment_centres


def _reference_centres(X: np.ndarray, labels: np.ndarray) -> np.ndarray:
    k = max(labels) + 1 if any(lab >= 0 for lab in labels) else 0
    return np.array(
        [np.mean([X[i] for i in range(len(X)) if labels[i] == s], axis=0) for s in range(k)]
    ).reshape(k, X.shape[1])


def _reference(X: np.ndarray, labels: np.ndarray, centres: np.ndarray) -> tuple[list, list]:
    distance, confidence = [], []
    for x, own in zip(X, labels, strict=True):
        if own < 0 or len(centres) == 0:
            distance.append(math.nan)
            confidence.append(0.0)
            continue
        d = [math.dist(x, c) for c in centres]
        distance.append(d[own])
        others = [d[j] for j in range(len(centres)) if j != own]
        if not others:
            confidence.append(1.0)
        elif min(others) > 0:
            confidence.append(min(1.0, max(0.0, 1 - d[own] / min(others))))
        else:
            confidence.append(0.0)
    return distance, confidence


def _case(seed: int, n: int = 40, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * 2
    labels = rng.integers(-1, k, size=n)
    labels[:k] = np.arange(k)  # every segment has a customer
    return X, labels


def test_segment_centres_are_the_means_ignoring_noise() -> None:
    X, labels = _case(1)
    got = segment_centres(X, labels)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, _reference_centres(X, labels), rtol=1e-5, atol=1e-5)


def test_segment_centres_of_noise_only_is_empty() -> None:
    got = segment_centres(np.ones((3, 2)), np.array([-1, -1, -1]))
    assert got.shape == (0, 2)


@pytest.mark.parametrize("seed", range(4))
def test_centre_margin_matches_reference(seed: int) -> None:
    X, labels = _case(seed)
    distance, confidence = centre_margin(X, labels)
    ref_d, ref_c = _reference(X, labels, _reference_centres(X, labels))
    assert distance.dtype == np.float32 and confidence.dtype == np.float32
    np.testing.assert_allclose(distance, ref_d, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(confidence, ref_c, rtol=1e-4, atol=1e-4)
    assert np.isnan(distance[labels < 0]).all() and (confidence[labels < 0] == 0).all()


def test_centre_margin_in_small_blocks_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    X, labels = _case(9, n=23)
    whole = centre_margin(X, labels)
    monkeypatch.setattr(membership, "CHUNK_ROWS", 5)  # 5 blocks, the last one short
    blocks = centre_margin(X, labels)
    ref_d, ref_c = _reference(X, labels, _reference_centres(X, labels))
    for got in (whole, blocks):
        np.testing.assert_allclose(got[0], ref_d, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(got[1], ref_c, rtol=1e-4, atol=1e-4)


def test_centre_margin_with_given_centres_for_new_customers() -> None:
    X_train, labels_train = _case(2)
    centres = segment_centres(X_train, labels_train)
    X_new = np.array([[0.0, 0.0, 0.0], [5.0, -1.0, 2.0], [1.0, 1.0, 1.0]])
    labels_new = np.array([0, 2, -1])
    distance, confidence = centre_margin(X_new, labels_new, centres)
    ref_d, ref_c = _reference(X_new, labels_new, centres.astype(float))
    np.testing.assert_allclose(distance, ref_d, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(confidence, ref_c, rtol=1e-4, atol=1e-4)


def test_at_the_centre_confidence_is_one_and_half_way_zero() -> None:
    centres = np.array([[0.0, 0.0], [4.0, 0.0]], dtype=np.float32)
    X = np.array([[0.0, 0.0], [2.0, 0.0], [3.0, 0.0], [1.0, 0.0]])
    labels = np.array([0, 0, 0, 0])
    distance, confidence = centre_margin(X, labels, centres)
    np.testing.assert_allclose(distance, [0, 2, 3, 1], atol=1e-5)
    # at the own centre 1; half-way 0; nearer the other centre clipped to 0; 1 - 1/3 at 1
    np.testing.assert_allclose(confidence, [1, 0, 0, 2 / 3], atol=1e-5)


def test_on_another_centre_confidence_is_zero() -> None:
    centres = np.array([[0.0, 0.0], [4.0, 0.0]], dtype=np.float32)
    distance, confidence = centre_margin(np.array([[4.0, 0.0]]), np.array([0]), centres)
    np.testing.assert_allclose(distance, [4.0], atol=1e-5)
    assert confidence[0] == 0.0 and not np.isnan(confidence[0])


def test_one_segment_gives_full_confidence_to_its_customers() -> None:
    X = np.array([[0.0, 0.0], [3.0, 4.0], [9.0, 9.0]])
    labels = np.array([0, 0, -1])
    distance, confidence = centre_margin(X, labels)
    np.testing.assert_allclose(distance[:2], [2.5, 2.5], atol=1e-5)
    assert np.isnan(distance[2])
    np.testing.assert_array_equal(confidence, [1.0, 1.0, 0.0])


def test_only_noise_has_no_distance_and_no_confidence() -> None:
    distance, confidence = centre_margin(np.ones((3, 2)), np.array([-1, -1, -1]))
    assert distance.dtype == np.float32 and confidence.dtype == np.float32
    assert np.isnan(distance).all() and (confidence == 0).all() and len(distance) == 3


def test_no_customers() -> None:
    distance, confidence = centre_margin(np.zeros((0, 2)), np.zeros(0, dtype=int), np.ones((2, 2)))
    assert distance.shape == (0,) and confidence.shape == (0,)


def test_float_labels_are_read_as_segment_numbers() -> None:
    # labels read back from a frame may be floats (an integer column with missing values)
    X, labels = _case(5)
    as_float = labels.astype(np.float64)
    np.testing.assert_array_equal(segment_centres(X, as_float), segment_centres(X, labels))
    for got, expected in zip(centre_margin(X, as_float), centre_margin(X, labels), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_coinciding_centres_give_zero_confidence_without_warnings() -> None:
    # two segments with the same centre: no margin either way, and no numpy warning printed
    centres = np.array([[1.0, 1.0], [1.0, 1.0], [5.0, 5.0]], dtype=np.float32)
    # (and a customer of segment 0 sitting on segment 2's centre: nearer the other one)
    X = np.array([[1.0, 1.0], [2.0, 1.0], [5.0, 5.0], [5.0, 5.0]])
    labels = np.array([0, 1, 2, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        distance, confidence = centre_margin(X, labels, centres)
    np.testing.assert_allclose(distance, [0.0, 1.0, 0.0, math.sqrt(32)], atol=1e-5)
    np.testing.assert_array_equal(confidence, [0.0, 0.0, 1.0, 0.0])


def test_one_segment_in_several_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(membership, "CHUNK_ROWS", 2)
    X = np.arange(14, dtype=float).reshape(7, 2)
    labels = np.array([0, 0, -1, 0, 0, 0, 0])
    distance, confidence = centre_margin(X, labels)
    centre = X[labels == 0].mean(axis=0)
    expected = [
        math.dist(x, centre) if lab == 0 else math.nan for x, lab in zip(X, labels, strict=True)
    ]
    np.testing.assert_allclose(distance, expected, rtol=1e-5)
    np.testing.assert_array_equal(confidence, [1, 1, 0, 1, 1, 1, 1])


def test_more_customers_than_one_block() -> None:
    # a real multi-block run at the default block size (and in about linear time)
    n = 2 * membership.CHUNK_ROWS + 7
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 2)).astype(np.float32)
    labels = (X[:, 0] > 0).astype(np.int64)
    centres = np.array([[-1.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    distance, confidence = centre_margin(X, labels, centres)
    d = np.sqrt(((X[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2))
    own, other = d[np.arange(n), labels], d[np.arange(n), 1 - labels]
    np.testing.assert_allclose(distance, own, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(confidence, np.clip(1 - own / other, 0, 1), rtol=1e-3, atol=1e-3)


def test_segment_centres_of_no_customers() -> None:
    assert segment_centres(np.zeros((0, 3)), np.zeros(0, dtype=np.int64)).shape == (0, 3)
    distance, confidence = centre_margin(np.zeros((0, 3)), np.zeros(0, dtype=np.int64))
    assert distance.shape == (0,) and confidence.shape == (0,)
