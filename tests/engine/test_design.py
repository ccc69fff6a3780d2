"""Campaign design: exact stratified shares, seeded reproducibility, power figures equal to
statsmodels' own functions and confirmed by simulating campaigns with a known uplift."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import (
    power_proportions_2indep,
    samplesize_proportions_2indep_onetail,
)

from segtrail.engine.design import (
    holdout_mask,
    id_hash,
    largest_remainder,
    minimum_detectable_uplift,
    power_to_detect,
    segment_power,
    stratified_assignment,
)
from segtrail.engine.responses import two_proportion_test

GROUPS = ["control", "a", "b"]

shares_strategy = st.lists(st.integers(1, 100), min_size=2, max_size=5).map(
    lambda w: [x / sum(w) for x in w]
)


@given(n=st.integers(0, 5000), shares=shares_strategy)
def test_largest_remainder_is_hamilton(n: int, shares: list[float]) -> None:
    """Reference: Hamilton's method, the quotas and remainders computed here."""
    counts = largest_remainder(n, shares)
    assert sum(counts) == n
    quotas = [n * s for s in shares]
    fractions = [q - math.floor(q) for q in quotas]
    for c, q in zip(counts, quotas, strict=True):
        assert math.floor(q) <= c <= math.floor(q) + 1
    # every share rounded up has a fractional part at least that of every share rounded down
    up = [f for c, q, f in zip(counts, quotas, fractions, strict=True) if c > math.floor(q)]
    down = [f for c, q, f in zip(counts, quotas, fractions, strict=True) if c == math.floor(q)]
    if up and down:
        assert min(up) >= max(down) - 1e-12


def test_largest_remainder_example() -> None:
    # 10 x (0.15, 0.425, 0.425) = 1.5, 4.25, 4.25: whole parts 1+4+4, the spare one to 0.5
    assert largest_remainder(10, [0.15, 0.425, 0.425]) == [2, 4, 4]
    # ties go to the earlier share: 3 x (1/3, 1/3, 1/3) needs no spare; 2 x thirds gives two
    assert largest_remainder(2, [1 / 3, 1 / 3, 1 / 3]) == [1, 1, 0]


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 400), min_size=1, max_size=6),
    control=st.floats(0.01, 0.99),
    seed=st.integers(0, 2**32 - 1),
)
def test_stratification_is_exact_in_every_segment(
    sizes: list[int], control: float, seed: int
) -> None:
    """Reference: each segment's size times each group's share."""
    strata = np.repeat(np.arange(len(sizes)) * 3 - 1, sizes)  # labels -1, 2, 5, ...
    ids = np.array([f"C{i:06d}" for i in range(len(strata))], dtype=object)
    shares = [control, (1 - control) / 2, (1 - control) / 2]
    groups = stratified_assignment(ids, strata, GROUPS, shares, seed)
    assert len(groups) == len(ids) and set(groups) <= set(GROUPS)
    for label, n in zip(np.unique(strata), [s for s in sizes if s], strict=True):
        got = pd.Series(groups[strata == label]).value_counts()
        for g, share in zip(GROUPS, shares, strict=True):
            assert abs(int(got.get(g, 0)) - n * share) < 1  # exact up to rounding, per segment


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shuffle=st.randoms(use_true_random=False))
def test_same_seed_same_assignment_whatever_the_order(seed: int, shuffle) -> None:
    """Reference: the assignment of the same customers in their first order."""
    ids = np.arange(1000, 1600)
    strata = ids % 4
    first = stratified_assignment(ids, strata, GROUPS, [0.2, 0.4, 0.4], seed)
    assert (first == stratified_assignment(ids, strata, GROUPS, [0.2, 0.4, 0.4], seed)).all()
    order = list(range(len(ids)))
    shuffle.shuffle(order)
    again = stratified_assignment(ids[order], strata[order], GROUPS, [0.2, 0.4, 0.4], seed)
    assert (again == first[order]).all()
    other = stratified_assignment(ids, strata, GROUPS, [0.2, 0.4, 0.4], seed + 1)
    assert (other != first).any()


def test_every_customer_has_the_same_chance_of_control() -> None:
    """Over many seeds, each customer lands in control about `share` of the time (the
    permutation is uniform, not biased towards the first or last ids of a segment)."""
    ids = np.arange(60)
    strata = np.zeros(60, dtype=int)
    hits = np.zeros(60)
    for seed in range(2000):
        hits += stratified_assignment(ids, strata, ["control", "t"], [0.25, 0.75], seed) == (
            "control"
        )
    rate = hits / 2000
    # binomial sd of one customer's rate: sqrt(.25*.75/2000) ~ 0.0097; 5 sd
    assert np.abs(rate - 0.25).max() < 0.05


# --- power against statsmodels -------------------------------------------------------------

CASES = [
    (0.05, 1332, 148, 0.05, 0.8),
    (0.05, 9000, 1000, 0.05, 0.8),
    (0.2, 500, 500, 0.01, 0.9),
    (0.01, 40000, 4000, 0.05, 0.8),
    (0.5, 60, 20, 0.1, 0.7),
]


@pytest.mark.parametrize(("p0", "n_arm", "n_control", "alpha", "power"), CASES)
def test_power_figures_equal_statsmodels(
    p0: float, n_arm: int, n_control: int, alpha: float, power: float
) -> None:
    ratio = n_control / n_arm
    for uplift in (0.002, 0.01, 0.03, 0.2):
        expected = power_proportions_2indep(uplift, p0, n_arm, ratio=ratio, alpha=alpha).power
        assert power_to_detect(uplift, p0, n_arm, n_control, alpha) == pytest.approx(
            expected, abs=1e-12
        )
    mde = minimum_detectable_uplift(p0, n_arm, n_control, alpha, power)
    assert mde is not None and 0 < mde < 1 - p0
    assert power_proportions_2indep(mde, p0, n_arm, ratio=ratio, alpha=alpha).power == (
        pytest.approx(power, abs=1e-6)
    )
    # statsmodels solved the other way round (the arm size for `power` at this uplift,
    # ignoring the far tail of the two-sided test, which is negligible here)
    n_needed = samplesize_proportions_2indep_onetail(mde, p0, power, ratio=ratio, alpha=alpha)
    assert n_needed == pytest.approx(n_arm, rel=1e-3)


def test_too_small_to_detect_anything() -> None:
    assert minimum_detectable_uplift(0.05, 3, 1, 0.05, 0.8) is None
    assert minimum_detectable_uplift(0.05, 100, 0, 0.05, 0.8) is None
    s = segment_power({"control": 148, "t": 1332}, 0.05, 0.05, 0.8, mde=0.01)
    assert s.too_small and s.power_at_mde < 0.8 and s.mde > 0.04
    assert s.customers == 1480 and s.control == 148 and s.smallest_arm == 1332
    big = segment_power({"control": 20000, "t": 20000}, 0.05, 0.05, 0.8, mde=0.01)
    assert not big.too_small and big.power_at_mde > 0.8


# --- power against a simulation ------------------------------------------------------------


def _detection_rate(
    groups: np.ndarray, p0: float, uplift: float, alpha: float, reps: int, rng
) -> float:
    """Simulate `reps` campaigns on one assignment: every customer responds with p0, plus
    `uplift` when treated; the rate at which the report's test finds a significant rise."""
    treated = groups != "control"
    prob = np.where(treated, p0 + uplift, p0)
    responses = rng.random((reps, len(groups))) < prob
    kt = responses[:, treated].sum(axis=1)
    kc = responses[:, ~treated].sum(axis=1)
    nt, nc = int(treated.sum()), int((~treated).sum())
    hits = 0
    for a, b in zip(kt, kc, strict=True):
        p, _test = two_proportion_test(int(a), nt, int(b), nc)
        hits += p < alpha and a / nt > b / nc
    return hits / reps


def test_power_agrees_with_simulated_campaigns() -> None:
    """Assign three segments, simulate responses at each segment's computed MDE (and at no
    uplift), and confirm the detection rates: ~`power` at the MDE, ~alpha/2 (one tail) at 0."""
    rng = np.random.default_rng(2024)
    sizes = {0: 3000, 1: 1200, 2: 500}
    strata = np.repeat(list(sizes), list(sizes.values()))
    ids = np.arange(len(strata))
    groups = stratified_assignment(ids, strata, ["control", "t"], [0.2, 0.8], seed=5)
    p0, alpha, power, reps = 0.1, 0.05, 0.8, 1500
    for label in sizes:
        g = groups[strata == label]
        counts = {"control": int((g == "control").sum()), "t": int((g == "t").sum())}
        figures = segment_power(counts, p0, alpha, power)
        rate = _detection_rate(g, p0, figures.mde, alpha, reps, rng)
        # binomial sd at 0.8 with 1,500 runs is ~0.010; the normal approximation adds a little
        assert rate == pytest.approx(power, abs=0.045), (label, figures.mde, rate)
        at_half = segment_power(counts, p0, alpha, power, mde=figures.mde / 2).power_at_mde
        assert _detection_rate(g, p0, figures.mde / 2, alpha, reps, rng) == pytest.approx(
            at_half, abs=0.045
        )
    null = _detection_rate(groups[strata == 0], p0, 0.0, alpha, reps, rng)
    assert null == pytest.approx(alpha / 2, abs=0.015)


# --- holdout -------------------------------------------------------------------------------


def _reference_hash(text: str, seed: int) -> int:
    """The documented rule in plain Python integers: FNV-1a 64 over the UTF-8 bytes, plus
    seed x golden ratio, then the splitmix64 finalizer."""
    mask = 2**64 - 1
    h = 14695981039346656037
    for byte in text.encode():
        h = ((h ^ byte) * 1099511628211) & mask
    z = (h + seed * 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


@settings(max_examples=40, deadline=None)
@given(
    texts=st.lists(st.text(min_size=0, max_size=30), min_size=1, max_size=40),
    seed=st.integers(0, 2**32 - 1),
    share=st.floats(0.001, 0.999),
)
def test_holdout_hash_matches_the_documented_rule(
    texts: list[str], seed: int, share: float
) -> None:
    """Reference: _reference_hash, the documented rule in plain Python."""
    texts = [t.replace("\x00", "") for t in texts]
    ids = np.array(texts, dtype=object)
    expected = [_reference_hash(t, seed) for t in texts]
    assert id_hash(ids, seed).tolist() == expected
    assert holdout_mask(ids, share, seed).tolist() == [(h >> 11) / 2**53 < share for h in expected]


def test_holdout_depends_only_on_the_id() -> None:
    ids = np.array([f"C{i}" for i in range(20000)], dtype=object)
    mask = holdout_mask(ids, 0.05, seed=7)
    assert 0.04 < mask.mean() < 0.06
    # the same customer, in another dataset with other customers around it, in another order
    some = ids[::-3]
    assert (holdout_mask(some, 0.05, 7) == mask[::-3]).all()
    # integer ids and their text are the same customer
    assert (
        holdout_mask(np.arange(500), 0.05, 7)
        == holdout_mask(np.array([str(i) for i in range(500)], dtype=object), 0.05, 7)
    ).all()
    assert (holdout_mask(ids, 0.05, 8) != mask).any()
    # a bigger share keeps everyone already held out
    assert (holdout_mask(ids, 0.1, 7) | ~mask).all()
