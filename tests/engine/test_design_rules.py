"""Campaign design on small, fixed examples (the fast own tests of engine/design.py in
`make mutate`): the counts of each segment, the seeded assignment, its checks, the edges of
the power figures, and the holdout hash of ids of every kind. The properties over random
audiences and the simulated campaigns are in test_design.py."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import power_proportions_2indep
from test_design import _reference_hash

from segtrail.engine.design import (
    holdout_mask,
    id_hash,
    largest_remainder,
    minimum_detectable_uplift,
    power_to_detect,
    segment_power,
    stratified_assignment,
)

GROUPS = ["control", "a", "b"]
SHARES = [0.2, 0.4, 0.4]


def counts(groups: np.ndarray) -> list[int]:
    got = pd.Series(groups).value_counts()
    return [int(got.get(g, 0)) for g in GROUPS]


def test_each_segment_gets_its_largest_remainder_counts() -> None:
    # 7 x shares = 1.4, 2.8, 2.8 -> 1, 2, 2 and the two spare to the .8s: 1, 3, 3
    # 13 x shares = 2.6, 5.2, 5.2 -> 2, 5, 5 and the spare to control: 3, 5, 5
    # 1 x shares = .2, .4, .4 -> the one customer to the first of the tied .4s: 0, 1, 0
    strata = np.array(["x"] * 7 + ["y"] * 13 + ["z"])
    ids = np.array([f"C{i:02d}" for i in range(len(strata))], dtype=object)
    groups = stratified_assignment(ids, strata, GROUPS, SHARES, seed=4)
    assert counts(groups[strata == "x"]) == [1, 3, 3]
    assert counts(groups[strata == "y"]) == [3, 5, 5]
    assert counts(groups[strata == "z"]) == [0, 1, 0]
    assert groups.dtype == object and set(groups) == set(GROUPS)


def test_the_seed_decides_and_the_order_of_arrival_does_not() -> None:
    ids = np.arange(100, 160)
    strata = ids % 3
    first = stratified_assignment(ids, strata, GROUPS, SHARES, seed=11)
    order = np.random.default_rng(0).permutation(len(ids))
    again = stratified_assignment(ids[order], strata[order], GROUPS, SHARES, seed=11)
    assert (again == first[order]).all()
    assert (stratified_assignment(ids, strata, GROUPS, SHARES, seed=12) != first).any()
    # the customers of a segment are shuffled, not dealt out in id order
    lowest = [first[strata == s][:4] for s in range(3)]
    assert any(set(part) != {"control"} for part in lowest)


def documented_assignment(ids, strata, groups, shares, seed) -> list[str]:
    """The module's documented rule in plain Python: segments in label order, each one's
    customers sorted by id, one permutation per segment from default_rng(seed), the
    largest-remainder counts dealt out in the order of the groups."""
    rng = np.random.default_rng(seed)
    out = {}
    for label in sorted(set(strata.tolist())):
        members = sorted(
            i for i, s in zip(ids.tolist(), strata.tolist(), strict=True) if s == label
        )
        counts = largest_remainder(len(members), shares)
        dealt = [g for g, c in zip(groups, counts, strict=True) for _ in range(c)]
        for position, member in enumerate(rng.permutation(len(members))):
            out[members[member]] = dealt[position]
    return [out[i] for i in ids.tolist()]


def test_the_assignment_follows_the_documented_rule() -> None:
    # ids whose order as numbers differs from their order as text (9 < 10 but "10" < "9")
    rng = np.random.default_rng(1)
    ids = rng.permutation(np.arange(5, 45))
    strata = rng.integers(0, 3, len(ids)) * 4 - 1
    for seed in (0, 7):
        groups = stratified_assignment(ids, strata, GROUPS, SHARES, seed)
        assert groups.tolist() == documented_assignment(ids, strata, GROUPS, SHARES, seed)


def test_mixed_ids_sort_by_their_text() -> None:
    mixed = np.array([10, "9", 2, "b", 1.5, "a"], dtype=object)
    as_text = mixed.astype(str)
    strata = np.zeros(6, dtype=int)
    for seed in range(5):
        assert (
            stratified_assignment(mixed, strata, ["control", "t"], [0.5, 0.5], seed)
            == stratified_assignment(as_text, strata, ["control", "t"], [0.5, 0.5], seed)
        ).all()


def test_wrong_inputs_are_refused() -> None:
    ids = np.arange(5)
    with pytest.raises(ValueError, match=r"^ids and strata differ in length$"):
        stratified_assignment(ids, np.zeros(4), GROUPS, SHARES, 0)
    with pytest.raises(ValueError, match=r"^one share per group, summing to 1$"):
        stratified_assignment(ids, np.zeros(5), GROUPS, [0.5, 0.5], 0)
    with pytest.raises(ValueError, match=r"^one share per group, summing to 1$"):
        stratified_assignment(ids, np.zeros(5), GROUPS, [0.2, 0.4, 0.3], 0)
    with pytest.raises(ValueError, match=r"^one share per group, summing to 1$"):
        stratified_assignment(ids, np.zeros(5), GROUPS, [0.2, 0.4, 0.41], 0)
    # shares that sum to 1 up to float rounding are fine (ten tenths: 0.9999999999999999)
    tenths = stratified_assignment(np.arange(10), np.zeros(10), list("abcdefghij"), [0.1] * 10, 0)
    assert sorted(tenths) == list("abcdefghij")


# --- power edges ---------------------------------------------------------------------------


def test_no_uplift_is_detected_at_the_false_alarm_rate() -> None:
    assert power_to_detect(0.0, 0.1, 500, 500, 0.05) == 0.05
    assert power_to_detect(-0.02, 0.1, 500, 500, 0.05) == 0.05
    assert power_to_detect(0.0, 0.1, 0, 500, 0.05) == 0.05


def test_an_empty_group_detects_nothing() -> None:
    assert power_to_detect(0.05, 0.1, 0, 500, 0.05) == 0.0
    assert power_to_detect(0.05, 0.1, 500, 0, 0.05) == 0.0
    assert minimum_detectable_uplift(0.1, 0, 500, 0.05, 0.8) is None
    assert minimum_detectable_uplift(0.1, 500, 0, 0.05, 0.8) is None


def test_a_group_of_one_customer_is_still_compared() -> None:
    # the normal approximation of the report's test, as statsmodels computes it
    for n_arm, n_control in ((1, 100_000), (100_000, 1)):
        expected = power_proportions_2indep(0.5, 0.01, n_arm, ratio=n_control / n_arm).power
        assert power_to_detect(0.5, 0.01, n_arm, n_control, 0.05) == pytest.approx(expected)
        mde = minimum_detectable_uplift(0.01, n_arm, n_control, 0.05, 0.8)
        assert mde is not None
        assert power_to_detect(mde, 0.01, n_arm, n_control, 0.05) == pytest.approx(0.8, abs=1e-6)


def test_asking_for_exactly_the_power_of_a_full_response_gives_the_full_response() -> None:
    full = power_to_detect(0.5, 0.5, 12, 12, 0.05)
    assert minimum_detectable_uplift(0.5, 12, 12, 0.05, full) == pytest.approx(0.5)
    s = segment_power({"control": 12, "t": 12}, 0.5, 0.05, full, mde=0.5)
    assert s.power_at_mde == full and s.too_small is False


def test_an_uplift_past_a_full_response_counts_as_a_full_response() -> None:
    full = power_to_detect(0.3, 0.7, 20, 20, 0.05)
    assert power_to_detect(0.9, 0.7, 20, 20, 0.05) == full
    assert 0.5 < full < 1.0


def test_no_uplift_when_even_a_full_response_is_not_detected_often_enough() -> None:
    # 50% -> 100% with 8 in each group is detected 67% of the time: no MDE at 80%
    assert power_to_detect(0.5, 0.5, 8, 8, 0.05) < 0.8
    assert minimum_detectable_uplift(0.5, 8, 8, 0.05, 0.8) is None
    # with 12 in each group a full response is detected 86% of the time: an MDE just below
    mde = minimum_detectable_uplift(0.5, 12, 12, 0.05, 0.8)
    assert mde is not None and 0.4 < mde < 0.5
    assert power_to_detect(mde, 0.5, 12, 12, 0.05) == pytest.approx(0.8, abs=1e-6)


def test_segment_power_reads_the_smallest_arm_and_the_named_control() -> None:
    sizes = {"holdout": 400, "a": 900, "b": 600}
    s = segment_power(sizes, 0.1, 0.05, 0.8, mde=0.05, control="holdout")
    assert (s.customers, s.control, s.smallest_arm, s.baseline) == (1900, 400, 600, 0.1)
    assert s.mde == pytest.approx(minimum_detectable_uplift(0.1, 600, 400, 0.05, 0.8))
    assert s.power_at_mde == pytest.approx(power_to_detect(0.05, 0.1, 600, 400, 0.05))
    assert s.too_small is (s.power_at_mde < 0.8)
    assert isinstance(s.customers, int) and isinstance(s.baseline, float)
    # without the named control every group is an arm and nothing can be compared
    default = segment_power(sizes, 0.1, 0.05, 0.8)
    assert (default.control, default.smallest_arm, default.mde) == (0, 400, None)
    assert default.power_at_mde is None and default.too_small is False


def test_a_segment_with_control_only_has_no_arm() -> None:
    s = segment_power({"control": 300}, 0.1, 0.05, 0.8, mde=0.02)
    assert (s.customers, s.control, s.smallest_arm, s.mde) == (300, 300, 0, None)
    assert s.power_at_mde == 0.0 and s.too_small is True


# --- the holdout hash ----------------------------------------------------------------------

TEXTS = ["", "C1", "customer-0000017", "Zoë", "東京", "a" * 40, "x", "😀 id"]


@pytest.mark.parametrize("seed", [0, 1, 2**31 + 5])
def test_id_hash_of_fixed_texts_follows_the_documented_rule(seed: int) -> None:
    ids = np.array(TEXTS, dtype=object)
    assert id_hash(ids, seed).tolist() == [_reference_hash(t, seed) for t in TEXTS]
    assert id_hash(pd.Index(TEXTS), seed).tolist() == [_reference_hash(t, seed) for t in TEXTS]


def test_ids_of_every_kind_hash_as_their_text() -> None:
    assert id_hash(np.arange(95, 105), 3).tolist() == [
        _reference_hash(str(i), 3) for i in range(95, 105)
    ]
    mixed = np.array([7, "7", 2.5, None], dtype=object)
    assert id_hash(mixed, 3).tolist() == [_reference_hash(t, 3) for t in ("7", "7", "2.5", "None")]
    assert id_hash(np.array([""], dtype=object), 3).tolist() == [_reference_hash("", 3)]
    # one byte in all, before or after an empty text
    for texts in (["", "7"], ["7", ""]):
        expected = [_reference_hash(t, 3) for t in texts]
        assert id_hash(np.array(texts, dtype=object), 3).tolist() == expected
    assert id_hash(np.array([], dtype=object), 3).tolist() == []


def test_the_holdout_share_is_a_threshold_on_the_hash() -> None:
    ids = np.array([f"C{i}" for i in range(200)], dtype=object)
    for share in (0.0, 0.3, 1.0):
        expected = [(_reference_hash(t, 9) >> 11) / 2**53 < share for t in ids]
        assert holdout_mask(ids, share, 9).tolist() == expected
    assert not holdout_mask(ids, 0.0, 9).any() and holdout_mask(ids, 1.0, 9).all()


def test_a_customer_exactly_at_the_share_is_not_held_out() -> None:
    ids = np.array([f"C{i}" for i in range(50)], dtype=object)
    u = [(_reference_hash(t, 9) >> 11) / 2**53 for t in ids]
    share = u[17]
    mask = holdout_mask(ids, share, 9)
    assert not mask[17]
    assert mask.tolist() == [v < share for v in u]


def test_hashing_raises_no_overflow_warnings() -> None:
    # 64-bit arithmetic wraps around by design (FNV-1a, splitmix64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        id_hash(np.array(TEXTS, dtype=object), 2**31 + 5)
        holdout_mask(np.arange(100), 0.1, 2**40)
