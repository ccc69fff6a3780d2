"""Bootstrap stability (Hennig 2007): real segments are stable, invented ones are not."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs

from segtrail.engine.algorithms import get_algorithm
from segtrail.engine.stability import (
    _best_jaccard,
    bootstrap_stability,
    fewer_resamples,
    make_refit,
    stability_word,
)


def kmeans_refit(k: int):
    return lambda X, seed: KMeans(k, n_init=3, random_state=seed).fit_predict(X)


def separated(n: int = 900, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_blobs(n, centers=k, cluster_std=0.5, center_box=(-10, 10), random_state=1)
    return X.astype(np.float32), y


def test_separated_segments_are_highly_stable() -> None:
    X, _ = separated()
    labels = KMeans(3, n_init=3, random_state=0).fit_predict(X)
    result = bootstrap_stability(X, labels, kmeans_refit(3), n_boot=8, sample_size=600)
    assert set(result["jaccard"]) == {0, 1, 2}
    assert all(j > 0.95 for j in result["jaccard"].values())
    assert set(result["words"].values()) == {"highly stable"}
    assert result["ari_mean"] > 0.95 and result["ari_std"] < 0.05
    assert result["n_boot"] == 8 and result["sample_size"] == 600
    assert "Hennig" in result["note"] and "subsample of 900" in result["note"]
    json.dumps(result)


def test_segments_cut_out_of_uniform_noise_are_less_stable() -> None:
    X = np.random.default_rng(0).uniform(size=(600, 6)).astype(np.float32)
    labels = KMeans(6, n_init=3, random_state=0).fit_predict(X)
    result = bootstrap_stability(X, labels, kmeans_refit(6), n_boot=8, sample_size=600)
    assert min(result["jaccard"].values()) < 0.75
    assert result["ari_mean"] < 0.8


def test_noise_is_not_a_segment_and_same_seed_same_result() -> None:
    X, _ = separated(300)
    labels = KMeans(3, n_init=3, random_state=0).fit_predict(X)
    labels[:20] = -1
    first = bootstrap_stability(X, labels, kmeans_refit(3), n_boot=5, seed=4)
    assert -1 not in first["jaccard"]
    assert first == bootstrap_stability(X, labels, kmeans_refit(3), n_boot=5, seed=4)


def test_failed_refits_are_skipped_and_counted() -> None:
    X, _ = separated(200)
    labels = KMeans(3, n_init=3, random_state=0).fit_predict(X)

    def flaky(X_sub: np.ndarray, seed: int) -> np.ndarray:
        if seed % 2:
            raise ValueError("degenerate resample")
        return KMeans(3, n_init=2, random_state=seed).fit_predict(X_sub)

    result = bootstrap_stability(X, labels, flaky, n_boot=6, seed=0)
    assert result["n_boot"] == 3

    def broken(X_sub: np.ndarray, seed: int) -> np.ndarray:
        raise ValueError("never fits")

    nothing = bootstrap_stability(X, labels, broken, n_boot=3)
    assert nothing["n_boot"] == 0 and nothing["ari_mean"] is None
    assert nothing["jaccard"] == {0: None, 1: None, 2: None}
    assert nothing["words"] == {0: "", 1: "", 2: ""}


@pytest.mark.parametrize(
    ("j", "word"),
    [(0.3, "unstable"), (0.59, "unstable"), (0.6, "doubtful"), (0.74, "doubtful"),
     (0.75, "stable"), (0.84, "stable"), (0.85, "highly stable"), (1.0, "highly stable"),
     (None, "")],
)  # fmt: skip
def test_hennig_words(j: float | None, word: str) -> None:
    assert stability_word(j) == word


@settings(max_examples=50, deadline=None)
@given(
    orig=st.lists(st.integers(-1, 3), min_size=1, max_size=40),
    data=st.data(),
)
def test_best_jaccard_matches_sets(orig: list[int], data: st.DataObject) -> None:
    """Reference: Jaccard computed on Python sets of row positions."""
    new = data.draw(st.lists(st.integers(-1, 4), min_size=len(orig), max_size=len(orig)))
    o, n = np.array(orig), np.array(new)
    segments = np.unique(o[o >= 0])
    best, present = _best_jaccard(o, n, segments)
    for i, s in enumerate(segments):
        mine = set(np.flatnonzero(o == s))
        scores = [
            len(mine & other) / len(mine | other)
            for d in set(new) - {-1}
            if (other := set(np.flatnonzero(n == d)))
        ]
        assert present[i]
        assert best[i] == pytest.approx(max(scores, default=0.0))


def test_make_refit_pins_the_fitted_parameters() -> None:
    X, _ = separated(300)
    algo = get_algorithm("kmeans")
    fitted = algo.fit(X, {"k": "auto", "k_range": [2, 6]}, 0)
    refit = make_refit(algo, fitted.params)
    labels = refit(X[:150], 1)
    assert len(np.unique(labels)) == fitted.params["k"] == 3
    result = bootstrap_stability(X, fitted.labels, refit, n_boot=4)
    assert min(result["jaccard"].values()) > 0.9


def test_a_method_with_fewer_resamples_says_so_in_the_note() -> None:
    X, _ = separated(400)
    labels = KMeans(3, n_init=3, random_state=0).fit_predict(X)
    why = fewer_resamples("hdbscan", 3, 20)
    result = bootstrap_stability(X, labels, kmeans_refit(3), n_boot=3, why_fewer=why)
    assert result["n_boot"] == 3
    assert result["note"].endswith("; " + why)
    assert "3 resamples rather than the usual 20, as hdbscan refits cost the most" in why
    usual = bootstrap_stability(X, labels, kmeans_refit(3), n_boot=3)
    assert "rather than" not in usual["note"]
