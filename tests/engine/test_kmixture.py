"""Choosing k for the latent class model (engine/kmixture.py) on small data: the curve of a
sweep, its notes and progress, the layout it passes on, split-half stability, and the rule
that does not follow BIC past a stable k (issue 10)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from test_lca import draw

from segtrail.engine.algorithms.base import sample_rows
from segtrail.engine.kmixture import (
    CLOSE,
    RULE,
    STABLE,
    SWEEP_SAMPLE,
    TRUST_STABILITY,
    add_split_half,
    choose_k_mixture,
    mixture_sweep,
    override_note,
    pick,
    split_half_agreement,
)
from segtrail.errors import SegtrailError

LEVELS = [0, 0, 3, 4]  # test_lca.draw: two numeric columns, a 3- and a 4-level categorical one


def curve(bics: list[float], stabilities: list[float] | None) -> list[dict]:
    rows = [{"k": k, "bic": b} for k, b in zip(range(2, 2 + len(bics)), bics, strict=True)]
    if stabilities is not None:
        for row, s in zip(rows, stabilities, strict=True):
            row["stability"] = s
    return rows


def one_class_bic(X: np.ndarray, levels: list[int]) -> float:
    """BIC of a single class by hand: a normal per numeric column (its mean and maximum
    likelihood variance) and the observed shares of each categorical one."""
    loglik, n_params = 0.0, 0
    for j, L in enumerate(levels):
        x = X[:, j].astype(np.float64)
        if L == 0:
            loglik += norm.logpdf(x, x.mean(), x.std()).sum()
            n_params += 2
        else:
            counts = np.bincount(x.astype(int), minlength=L)
            loglik += (counts * np.log(counts / len(x))).sum()
            n_params += L - 1
    return -2 * loglik + n_params * np.log(len(X))


# ----------------------------------------------------------------------------- the sweep


def test_the_curve_records_each_k_of_a_sample() -> None:
    X, _, _ = draw(600, seed=1)
    calls: list[tuple[str, float]] = []
    result, fits, idx = mixture_sweep(
        X, (2, 4), 0, {"levels": LEVELS}, sample_size=500, progress=lambda *c: calls.append(c)
    )
    assert calls == [("trying k = 2..4 (latent class model)", 0.0), ("k chosen", 1.0)]
    assert result["notes"] == ["k sweep fitted on a sample of 500 customers"]
    assert result["sample_size"] == 500 and len(idx) == 500 == len(set(idx.tolist()))
    assert result["criterion"] == "bic" and result["rule"] == RULE
    assert [row["k"] for row in result["curve"]] == [2, 3, 4]
    Xs = X[idx]
    assert result["bic_one"] == pytest.approx(one_class_bic(Xs, LEVELS), rel=1e-5)
    for row in result["curve"]:
        k = row["k"]
        # k - 1 weights, per class 2 means, 2 variances and 2 + 3 free shares
        assert row["n_params"] == (k - 1) + k * 9
        penalty = row["n_params"] * np.log(500)
        assert row["bic"] == pytest.approx(-2 * row["log_likelihood"] + penalty)
        assert row["icl"] >= row["bic"]
        assert row["log_likelihood"] == fits[k]["log_likelihood"]
        assert row["icl"] == fits[k]["icl"]
        share = np.bincount(fits[k]["labels"], minlength=k) / 500
        assert row["smallest_share"] == pytest.approx(share.min()) and 0 < share.min() < 1 / k
        assert -1.0 <= row["stability"] <= 1.0
    assert (result["chosen_k"], result["runner_up"], result["runner_up_close"]) == pick(
        result["curve"]
    )
    assert result["chosen_k"] == 3


def test_without_a_sample_there_is_no_note_and_the_seed_decides() -> None:
    X, _, _ = draw(300, seed=2)
    result, _, idx = mixture_sweep(X, (2, 3), 5, {"levels": LEVELS}, split_half=False)
    assert result["notes"] == [] and result["sample_size"] == 300
    assert idx.tolist() == list(range(300))
    assert all("stability" not in row for row in result["curve"])
    by_bic = sorted(result["curve"], key=lambda r: r["bic"])
    assert (result["chosen_k"], result["runner_up"]) == (by_bic[0]["k"], by_bic[1]["k"])
    assert result["runner_up_close"] is (by_bic[1]["bic"] - by_bic[0]["bic"] < CLOSE)
    assert choose_k_mixture(X, (2, 3), 5, {"levels": LEVELS}, split_half=False) == result
    sampled, _, idx = mixture_sweep(X, (2, 3), 5, {"levels": LEVELS}, 250, split_half=False)
    assert idx.tolist() == sample_rows(300, 250, 5).tolist()
    other, _, idx = mixture_sweep(X, (2, 3), 6, {"levels": LEVELS}, 250, split_half=False)
    assert idx.tolist() != sample_rows(300, 250, 5).tolist()
    assert other["curve"] != sampled["curve"]


def test_choose_k_mixture_samples_4000_and_adds_stability_by_default() -> None:
    X, _, _ = draw(SWEEP_SAMPLE + 200, seed=3)
    calls: list[tuple[str, float]] = []
    result = choose_k_mixture(X, (2, 3), 0, {"levels": LEVELS}, progress=lambda *c: calls.append(c))
    assert calls == [("trying k = 2..3 (latent class model)", 0.0), ("k chosen", 1.0)]
    assert result["notes"] == ["k sweep fitted on a sample of 4,000 customers"]
    assert result["sample_size"] == SWEEP_SAMPLE
    assert all("stability" in row for row in result["curve"])
    assert result == mixture_sweep(X, (2, 3), 0, {"levels": LEVELS})[0]
    assert result["chosen_k"] == 3


def test_the_largest_k_needs_more_customers_than_k() -> None:
    X, _, _ = draw(1500, seed=4)
    with pytest.raises(SegtrailError, match="k range up to 1000 needs more than 1,000 customers"):
        mixture_sweep(X, (2, 1000), 0, {"levels": LEVELS}, sample_size=1000)
    with pytest.raises(SegtrailError, match="k range up to 8 needs more than 8 customers"):
        mixture_sweep(X[:8], (2, 8), 0, {"levels": LEVELS})


def test_the_layout_reaches_the_model_and_other_parameters_do_not() -> None:
    X, _, _ = draw(300, seed=5)

    def n_params(params: dict) -> list[int]:
        result = mixture_sweep(X, (2, 3), 0, params, split_half=False)[0]
        return [row["n_params"] for row in result["curve"]]

    # k - 1 weights + per class: numeric means (+ variances), categorical free shares
    assert n_params({}) == [1 + 2 * 8, 2 + 3 * 8]  # every column numeric
    assert n_params({"levels": LEVELS, "k": 7, "n_init": 1}) == [19, 29]
    assert n_params({"levels": LEVELS, "shared_variance": True}) == [1 + 2 * 7 + 2, 2 + 3 * 7 + 2]
    assert n_params({"levels": LEVELS, "feature_weights": [1, 0, 1, 1]}) == [15, 23]
    assert n_params({"levels": LEVELS, "numeric_covariance": "full"}) == [21, 32]
    assert n_params({"levels": [0, 0, 0, 0], "numeric_projection": "pca"}) != n_params({})


# ----------------------------------------------------------------------------- stability


def variance_only(n: int = 600, seed: int = 0) -> np.ndarray:
    """Two round classes with one centre, one narrow and one wide: only the spread tells
    them apart."""
    rng = np.random.default_rng(seed)
    wide = rng.integers(0, 2, n)
    return rng.normal(size=(n, 2)) * np.where(wide, 3.0, 0.3)[:, None]


def correlation_only(n: int = 600, seed: int = 0) -> np.ndarray:
    """Two classes with the same centre and spreads, one rising and one falling: only the
    correlation tells them apart."""
    rng = np.random.default_rng(seed)
    sign = np.where(rng.integers(0, 2, n), 1.0, -1.0)
    z = rng.normal(size=(n, 2))
    return np.column_stack([z[:, 0], sign * (0.95 * z[:, 0] + 0.31 * z[:, 1])])


def test_split_half_agreement_sees_segments_the_model_can_reproduce() -> None:
    X, _, _ = draw(600, seed=1)
    agreement = split_half_agreement(X, [3, 5], {"levels": LEVELS}, 0)
    assert set(agreement) == {3, 5}
    assert agreement[3] > STABLE  # the planted classes, found from either half
    assert agreement[5] < TRUST_STABILITY  # extra classes depend on who was seen
    assert split_half_agreement(X, [3, 5], {"levels": LEVELS}, 0) == agreement


def test_split_half_fits_use_the_layouts_variance_and_covariance() -> None:
    spread = variance_only()
    assert split_half_agreement(spread, [2], {}, 0)[2] > STABLE
    # one spread for every class cannot tell narrow from wide: the cut is anyone's guess
    assert split_half_agreement(spread, [2], {"shared_variance": True}, 0)[2] < 0.3
    tilt = correlation_only()
    assert split_half_agreement(tilt, [2], {}, 0)[2] < 0.3
    assert split_half_agreement(tilt, [2], {"numeric_covariance": "full"}, 0)[2] > 0.8


def test_split_half_replaces_an_old_override_note_and_keeps_the_others() -> None:
    X, _, _ = draw(600, seed=1)
    fake = {"k": 5, "bic": 100.0}  # pretend BIC runs on to k = 5, where halves disagree
    result = {
        "curve": [{"k": 2, "bic": 300.0}, {"k": 3, "bic": 200.0}, fake],
        "notes": ["k sweep fitted on a sample of 600 customers", "BIC is lowest at k=9, old"],
    }
    add_split_half(result, X, {"levels": LEVELS}, 0)
    assert result["chosen_k"] == 3 and result["runner_up"] == 5
    assert result["runner_up_close"] is False
    assert result["notes"][0] == "k sweep fitted on a sample of 600 customers"
    assert len(result["notes"]) == 2
    assert result["notes"][1].startswith("BIC is lowest at k=5, but its segments are not ")
    assert [row["stability"] for row in result["curve"]] == list(
        split_half_agreement(X, [2, 3, 5], {"levels": LEVELS}, 0).values()
    )


def test_the_override_note_names_both_ks_and_their_stability() -> None:
    rows = curve([900, 700, 600, 560], [1.0, 0.964, 0.7, 0.456])
    assert override_note({"curve": rows, "chosen_k": 5}) == []
    assert override_note({"curve": rows, "chosen_k": 3}) == [
        "BIC is lowest at k=5, but its segments are not reproducible (split-half stability "
        "0.46); k=3 is the largest smaller k whose segments are (stability 0.96). BIC running "
        "on past a stable k usually means columns move together within segments (which the "
        "model assumes they do not), not more segments"
    ]


# ----------------------------------------------------------------------------- the rule


def test_a_stable_lowest_bic_k_is_kept() -> None:
    rows = curve([900, 700, 500, 505, 520], [1.0, 0.99, TRUST_STABILITY, 0.5, 0.4])
    assert pick(rows) == (4, 5, True)  # runner-up k=5 is 5 BIC away: close


def test_a_fragile_lowest_bic_k_gives_way_to_the_largest_stable_smaller_k() -> None:
    # BIC keeps falling to k=7, but only k=2..4 are reproducible
    rows = curve([900, 700, 600, 560, 540, 530], [1.0, STABLE, 0.97, 0.8, 0.7, 0.6])
    assert pick(rows) == (4, 7, False)
    # exactly STABLE is stable enough; a stable k above the lowest BIC does not count
    rows = curve([900, 700, 600, 560, 580], [1.0, STABLE, 0.9, 0.7, 1.0])
    assert pick(rows) == (3, 5, False)


def test_with_no_stable_smaller_k_or_no_stability_the_lowest_bic_stands() -> None:
    rows = curve([900, 700, 600, 560], [0.9, 0.8, 0.7, 0.6])
    assert pick(rows)[0] == 5
    assert pick(curve([900, 700, 600, 560], None))[0] == 5
    # stability on some rows only (a curve being filled in): the rule waits for all
    rows = curve([900, 700, 600, 560], [1.0, 1.0, 0.7, 0.5])
    del rows[0]["stability"]
    assert pick(rows)[0] == 5


def test_the_runner_up_is_the_next_best_bic_and_close_means_under_ten() -> None:
    assert pick(curve([700, 500, 500 + CLOSE], None)) == (3, 4, False)
    assert pick(curve([700, 500, 500 + CLOSE - 0.01], None)) == (3, 4, True)
    # the runner-up of an override is the lowest-BIC k: close or not by the distance
    assert pick(curve([700, 500, 500 - CLOSE + 1], [1.0, 1.0, 0.5])) == (3, 4, True)
    assert pick(curve([700, 500, 500 - 2 * CLOSE], [1.0, 1.0, 0.5])) == (3, 4, False)
    # equal BIC: the smaller k first
    assert pick(curve([600, 600, 700], None)) == (2, 3, True)
    # one k only: nobody to run up
    assert pick(curve([600], None)) == (2, None, False)
    assert pick(curve([600], [0.1])) == (2, None, False)


def test_the_criterion_can_be_another_column() -> None:
    rows = [{"k": 2, "bic": 500.0, "icl": 520.0}, {"k": 3, "bic": 480.0, "icl": 530.0}]
    assert pick(rows) == (3, 2, False)
    assert pick(rows, "icl") == (2, 3, False)


def test_a_k_too_large_for_a_half_has_no_stability_and_the_lowest_bic_stands() -> None:
    # 21 customers in two tight groups: the sweep can try k up to 12, a half holds 10
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 0.3, (10, 2)), rng.normal(5, 0.3, (11, 2))].astype(np.float32)
    result = choose_k_mixture(X, (2, 12), 0, {})
    stability = {row["k"]: row["stability"] for row in result["curve"]}
    assert all(stability[k] is not None for k in range(2, 11))
    assert stability[11] is stability[12] is None
    assert stability[2] == 1.0
    assert result["chosen_k"] == min(result["curve"], key=lambda r: r["bic"])["k"] == 2
    # every k too large for a half: nothing to compare
    only_large = split_half_agreement(X[:5], [3, 4], {}, 0)
    assert only_large == {3: None, 4: None}
