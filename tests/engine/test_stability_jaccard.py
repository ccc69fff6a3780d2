"""Bootstrap stability with refits whose answers the test chooses: each customer's row holds
its number, so the refit sees which customers a resample drew, and the Jaccard and ARI
values are checked against a reference computed on Python sets of those customers. Fast
(no model fits but one): the own tests of engine/stability.py in `make mutate`."""

from __future__ import annotations

import statistics

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from segtrail.engine.algorithms import get_algorithm
from segtrail.engine.stability import (
    bootstrap_stability,
    bootstrap_stability_of_rows,
    fewer_resamples,
    make_refit,
    stability_rows,
    stability_word,
)
from segtrail.errors import InputError


def numbered(n: int) -> np.ndarray:
    """One row per customer holding the customer's number."""
    return np.arange(n, dtype=float)[:, None]


class Refit:
    """Labels each drawn row with ``rule(customer, position in the resample)`` and
    records the customers drawn and the seeds."""

    def __init__(self, rule):
        self.rule = rule
        self.draws: list[np.ndarray] = []
        self.seeds: list[int] = []

    def __call__(self, X_sub: np.ndarray, seed: int) -> np.ndarray:
        rows = X_sub[:, 0].astype(int)
        self.draws.append(rows)
        self.seeds.append(seed)
        return np.array([self.rule(int(r), i) for i, r in enumerate(rows)])


def reference(labels: np.ndarray, refit: Refit) -> tuple[dict, float | None, float | None]:
    """Hennig's clusterwise Jaccard and the ARI, on sets of distinct customers drawn (each
    labelled as it was at its first draw)."""
    segments = sorted({int(g) for g in labels if g >= 0})
    found: dict[int, list[float]] = {s: [] for s in segments}
    aris = []
    for rows in refit.draws:
        new: dict[int, int] = {}
        for i, r in enumerate(rows):
            new.setdefault(int(r), refit.rule(int(r), i))
        refit_segments = [{r for r in new if new[r] == d} for d in set(new.values()) - {-1}]
        for s in segments:
            mine = {r for r in new if labels[r] == s}
            if mine:
                found[s].append(
                    max((len(mine & d) / len(mine | d) for d in refit_segments), default=0.0)
                )
        kept = [r for r in new if labels[r] >= 0]
        if len(kept) > 1:
            aris.append(adjusted_rand_score([labels[r] for r in kept], [new[r] for r in kept]))
    jaccard = {s: (statistics.mean(v) if v else None) for s, v in found.items()}
    if not aris:
        return jaccard, None, None
    return jaccard, statistics.mean(aris), statistics.pstdev(aris)


LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, -1, -1, 0])


def test_a_refit_that_finds_the_same_segments_is_highly_stable():
    refit = Refit(lambda r, i: 5 - LABELS[r] if LABELS[r] >= 0 else 9)  # other names
    result = bootstrap_stability(numbered(12), LABELS, refit, n_boot=5, seed=3)
    assert result == {
        "ari_mean": 1.0,
        "ari_std": 0.0,
        "jaccard": {0: 1.0, 1: 1.0, 2: 1.0},
        "words": {0: "highly stable", 1: "highly stable", 2: "highly stable"},
        "n_boot": 5,
        "sample_size": 12,
        "note": "Clusterwise Jaccard bootstrap (Hennig 2007): 5 resamples of 12 customers, "
        "each refitted with the same algorithm and parameters",
    }
    assert refit.seeds == [4, 5, 6, 7, 8]
    assert all(len(rows) == 12 for rows in refit.draws)  # drawn with replacement
    assert all(len(set(rows)) < 12 for rows in refit.draws)
    assert len({tuple(rows) for rows in refit.draws}) == 5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scrambled_refits_match_the_set_reference(seed):
    # the label depends on where the customer sits in the resample, so copies disagree and
    # the first copy's label counts; some customers are refit noise
    refit = Refit(lambda r, i: -1 if (r + i) % 5 == 0 else (r * 7 + i) % 3)
    result = bootstrap_stability(numbered(12), LABELS, refit, n_boot=6, seed=seed)
    jaccard, ari_mean, ari_std = reference(LABELS, refit)
    assert result["jaccard"] == pytest.approx(jaccard)
    assert result["ari_mean"] == pytest.approx(ari_mean)
    assert result["ari_std"] == pytest.approx(ari_std)
    assert result["words"] == {s: stability_word(j) for s, j in jaccard.items()}
    assert 0 < min(jaccard.values()) < max(jaccard.values()) < 1


def test_everyone_in_one_refit_segment():
    refit = Refit(lambda r, i: 0)
    result = bootstrap_stability(numbered(12), LABELS, refit, n_boot=4, seed=1)
    jaccard, ari_mean, ari_std = reference(LABELS, refit)
    assert result["jaccard"] == pytest.approx(jaccard)
    assert result["ari_mean"] == ari_mean == 0.0 and result["ari_std"] == ari_std == 0.0
    # segment 0 holds 5 of the 12 customers, so about 5/12 of those drawn
    assert 0.2 < result["jaccard"][0] < 0.7
    assert result["words"][0] == "unstable"


def test_a_refit_of_nothing_but_noise_matches_no_segment():
    refit = Refit(lambda r, i: -1)
    result = bootstrap_stability(numbered(12), LABELS, refit, n_boot=3)
    assert result["jaccard"] == {0: 0.0, 1: 0.0, 2: 0.0}
    assert result["words"] == {0: "unstable", 1: "unstable", 2: "unstable"}
    assert result["ari_mean"] == 0.0


def test_a_segment_missing_from_some_resamples_averages_where_it_was_drawn():
    labels = np.array([0] * 9 + [1])  # segment 1: one customer, often not drawn
    refit = Refit(lambda r, i: int(r == 9 and i % 2 == 0))
    result = bootstrap_stability(numbered(10), labels, refit, n_boot=8, seed=0)
    drawn = [9 in rows for rows in refit.draws]
    assert 0 < sum(drawn) < 8
    jaccard, ari_mean, ari_std = reference(labels, refit)
    assert result["jaccard"] == pytest.approx(jaccard)
    assert result["ari_mean"] == pytest.approx(ari_mean)
    assert result["ari_std"] == pytest.approx(ari_std)
    assert 0 < jaccard[1] < 1


def test_a_segment_never_drawn_has_no_value():
    labels = np.array([0] * 19 + [1])
    for seed in range(20):
        refit = Refit(lambda r, i: 0)
        result = bootstrap_stability(numbered(20), labels, refit, n_boot=1, seed=seed)
        if 19 not in refit.draws[0]:
            break
    assert 19 not in refit.draws[0]
    assert result["jaccard"] == {0: pytest.approx(1.0), 1: None}
    assert result["words"] == {0: "highly stable", 1: ""}


def test_ari_needs_two_customers_outside_noise():
    labels = np.array([0, 1, -1, -1, -1, -1])
    refit = Refit(lambda r, i: r % 2)
    result = bootstrap_stability(numbered(6), labels, refit, n_boot=10, seed=2)
    both = [{0, 1} <= set(rows) for rows in refit.draws]
    assert any(both) and not all(both)
    # the ARI of two customers in two segments each way is 1; resamples without both
    # customers have none
    assert result["ari_mean"] == 1.0 and result["ari_std"] == 0.0
    refit = Refit(lambda r, i: 0)
    one = bootstrap_stability(numbered(3), np.array([0, -1, -1]), refit, n_boot=3)
    assert one["ari_mean"] is None and one["ari_std"] is None
    assert one["jaccard"] == {0: 1.0}


def test_a_subsample_is_refitted():
    labels = np.repeat([0, 1, 2], 10)
    refit = Refit(lambda r, i: labels[r])
    result = bootstrap_stability(numbered(30), labels, refit, n_boot=2, sample_size=12, seed=5)
    sample = set(refit.draws[0]) | set(refit.draws[1])
    assert len(sample) <= 12 and sample <= set(range(30))
    assert result["sample_size"] == 12
    assert result["note"] == (
        "Clusterwise Jaccard bootstrap (Hennig 2007): 2 resamples of 12 customers, each "
        "refitted with the same algorithm and parameters (a seeded subsample of 30)"
    )
    again = Refit(lambda r, i: labels[r])
    bootstrap_stability(numbered(30), labels, again, n_boot=2, sample_size=12, seed=5)
    assert [list(d) for d in again.draws] == [list(d) for d in refit.draws]
    other = Refit(lambda r, i: labels[r])
    bootstrap_stability(numbered(30), labels, other, n_boot=2, sample_size=12, seed=6)
    assert set(other.draws[0]) | set(other.draws[1]) != sample


def test_twenty_resamples_of_at_most_5000_customers_by_default():
    labels = np.arange(5001) % 2
    refit = Refit(lambda r, i: labels[r])
    result = bootstrap_stability(numbered(5001), labels, refit)
    assert result["n_boot"] == 20 and len(refit.draws) == 20
    assert result["sample_size"] == 5000
    assert result["note"] == (
        "Clusterwise Jaccard bootstrap (Hennig 2007): 20 resamples of 5,000 customers, each "
        "refitted with the same algorithm and parameters (a seeded subsample of 5,001)"
    )


def test_the_subsample_given_directly_measures_the_same():
    labels = np.repeat([0, 1, 2], 10)
    whole = bootstrap_stability(
        numbered(30), labels, Refit(lambda r, i: labels[r]), n_boot=3, sample_size=12, seed=5
    )
    rows = stability_rows(30, 12, 5)
    given = bootstrap_stability_of_rows(
        numbered(30)[rows], labels[rows], 30, Refit(lambda r, i: labels[r]), 3, 5
    )
    assert given == whole
    assert given["note"].endswith("parameters (a seeded subsample of 30)")


def test_big_numbers_in_the_note_have_separators():
    labels = np.arange(1500) % 2
    refit = Refit(lambda r, i: labels[r])
    result = bootstrap_stability(numbered(1500), labels, refit, n_boot=1, sample_size=1200)
    assert result["note"].startswith("Clusterwise Jaccard bootstrap (Hennig 2007): 1 resamples ")
    assert "of 1,200 customers," in result["note"]
    assert result["note"].endswith("(a seeded subsample of 1,500)")


def test_failed_refits_are_skipped_but_other_errors_are_not():
    def failing(error: Exception):
        def refit(X_sub: np.ndarray, seed: int) -> np.ndarray:
            if seed % 2:
                raise error
            return np.zeros(len(X_sub), dtype=int)

        return refit

    for error in (ValueError("fewer points than k"), InputError("degenerate resample")):
        result = bootstrap_stability(numbered(12), LABELS, failing(error), n_boot=4, seed=0)
        assert result["n_boot"] == 2
        assert result["note"].startswith("Clusterwise Jaccard bootstrap (Hennig 2007): 2 ")
    with pytest.raises(RuntimeError, match="out of memory"):
        bootstrap_stability(numbered(12), LABELS, failing(RuntimeError("out of memory")))


def test_no_successful_refit_measures_nothing():
    def broken(X_sub: np.ndarray, seed: int) -> np.ndarray:
        raise ValueError("never fits")

    result = bootstrap_stability(numbered(12), LABELS, broken, n_boot=3, why_fewer="because")
    assert result == {
        "ari_mean": None,
        "ari_std": None,
        "jaccard": {0: None, 1: None, 2: None},
        "words": {0: "", 1: "", 2: ""},
        "n_boot": 0,
        "sample_size": 12,
        "note": "Clusterwise Jaccard bootstrap (Hennig 2007): 0 resamples of 12 customers, "
        "each refitted with the same algorithm and parameters; because",
    }


def test_fewer_resamples_in_words():
    assert fewer_resamples("lca", 5, 20) == (
        "5 resamples rather than the usual 20, as lca refits cost the most: each segment's "
        "Jaccard is a mean of at most 5 values, so less precise"
    )


@pytest.mark.parametrize(
    ("j", "word"),
    [(0.0, "unstable"), (0.5999, "unstable"), (0.6, "doubtful"), (0.7499, "doubtful"),
     (0.75, "stable"), (0.8499, "stable"), (0.85, "highly stable"), (float("nan"), ""),
     (float("inf"), "")],
)  # fmt: skip
def test_hennig_reading(j, word):
    assert stability_word(j) == word


def test_make_refit_fits_the_pinned_model():
    rng = np.random.default_rng(0)
    centres = np.repeat([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]], 15, axis=0)
    X = (centres + rng.normal(0, 0.3, centres.shape)).astype(np.float32)
    algo = get_algorithm("kmeans")
    refit = make_refit(algo, {"k": 3, "n_init": 1})
    labels = refit(X, 0)
    assert labels.shape == (45,)
    assert len(np.unique(labels)) == 3
    assert adjusted_rand_score(labels, np.repeat([0, 1, 2], 15)) == 1.0
    assert len(np.unique(make_refit(algo, {"k": 2, "n_init": 1})(X, 0))) == 2
    # the seed is passed on: on customers with no real segments, the same seed gives the
    # same segments
    noise = np.random.default_rng(1).uniform(size=(60, 2)).astype(np.float32)
    refit = make_refit(algo, {"k": 5, "n_init": 1})
    assert [list(refit(noise, s)) == list(refit(noise, s)) for s in range(3)] == [True] * 3
