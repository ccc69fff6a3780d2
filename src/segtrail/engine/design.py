"""Designing a campaign before it is sent: who gets which arm, and what each segment can show.

Stratified assignment
    Every customer of the audience goes to one arm or to control, by seeded random assignment
    within each segment (the stratum). The number of customers per arm in a segment of n
    customers is n x share, rounded by the largest-remainder (Hamilton) method: each arm first
    gets the whole part of n x share, then the customers left over go, one each, to the arms
    with the largest fractional parts (ties: the order the arms were given, control first).
    So every segment's counts sum to n and each differs from n x share by less than one
    customer: the shares are exact within each segment, not only on average.

    Which customers fill those counts is decided by one random permutation per segment,
    drawn from ``numpy.random.default_rng(seed)`` over the segment's customers sorted by id,
    segments taken in label order. The same audience and seed therefore give the same
    assignment whatever order the customers arrive in.

Power
    Each arm is compared with control by the test the campaign report runs: the two-sided
    pooled two-proportion z-test at level ``alpha``. Its power comes from statsmodels'
    ``power_proportions_2indep`` (normal approximation with the pooled variance under no
    uplift and the two groups' own variances under the uplift). It was chosen over Cohen's
    arcsine effect size with ``NormalIndPower``, which overstates the power of rare responses
    with a small control (0.80 promised, 0.76 simulated at 5% with 148 in control):

    - the minimum detectable uplift (MDE) is the smallest absolute rise p1 − p0 over the
      baseline rate p0 that a test with the given arm and control sizes detects with
      probability ``power``;
    - the power to detect a given uplift is the probability that test rejects when the true
      rates are p0 and p0 + uplift.

    With several arms, each arm is tested against control at ``alpha`` (no correction for the
    number of arms: divide alpha yourself for a family-wise guarantee).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.optimize import brentq
from statsmodels.stats.proportion import power_proportions_2indep

CONTROL = "control"


def largest_remainder(n: int, shares: list[float]) -> list[int]:
    """Split ``n`` into whole counts proportional to ``shares`` (which sum to 1): whole parts
    first, then one each to the largest fractional parts, ties to the earlier share."""
    quotas = [n * s for s in shares]
    counts = [math.floor(q) for q in quotas]
    left = n - sum(counts)
    # stable sort: among equal fractional parts the earlier share comes first
    order = sorted(range(len(shares)), key=lambda i: -(quotas[i] - counts[i]))
    for i in order[:left]:
        counts[i] += 1
    return counts


def _sorted_ids(ids: np.ndarray) -> np.ndarray:
    """Positions that sort the ids (mixed or object ids sort by their text)."""
    try:
        return np.argsort(ids, kind="stable")
    except TypeError:
        return np.argsort(ids.astype(str), kind="stable")


def stratified_assignment(
    ids: np.ndarray | pd.Index,
    strata: np.ndarray,
    groups: list[str],
    shares: list[float],
    seed: int,
) -> np.ndarray:
    """The group of every customer (aligned with ``ids``): within each stratum, exactly the
    largest-remainder counts of ``shares``, filled by a seeded random permutation."""
    ids = np.asarray(ids)
    strata = np.asarray(strata)
    if len(ids) != len(strata):
        raise ValueError("ids and strata differ in length")
    if len(groups) != len(shares) or abs(sum(shares) - 1) > 1e-9:
        raise ValueError("one share per group, summing to 1")
    rng = np.random.default_rng(seed)
    order = _sorted_ids(ids)
    codes = np.empty(len(ids), dtype=np.int64)
    for label in np.unique(strata):
        members = order[strata[order] == label]  # this stratum, sorted by id
        counts = largest_remainder(len(members), shares)
        codes[members[rng.permutation(len(members))]] = np.repeat(np.arange(len(groups)), counts)
    return np.asarray(groups, dtype=object)[codes]


# --- power ---------------------------------------------------------------------------------


def power_to_detect(
    uplift: float, baseline: float, n_arm: int, n_control: int, alpha: float
) -> float:
    """Probability that the two-sided pooled z-test at ``alpha`` detects a true absolute
    uplift (statsmodels' ``power_proportions_2indep``)."""
    if n_arm <= 0 or n_control <= 0 or uplift <= 0:
        return 0.0 if uplift > 0 else float(alpha)
    uplift = min(uplift, 1.0 - baseline)
    result = power_proportions_2indep(
        uplift, baseline, n_arm, ratio=n_control / n_arm, alpha=alpha, alternative="two-sided"
    )
    return float(result.power)


def minimum_detectable_uplift(
    baseline: float, n_arm: int, n_control: int, alpha: float, power: float
) -> float | None:
    """The smallest absolute uplift detected with probability ``power``; None when no rise
    of the rate (up to 100%) reaches that power with these sizes."""
    if n_arm <= 0 or n_control <= 0:
        return None
    ceiling = 1.0 - baseline
    if power_to_detect(ceiling, baseline, n_arm, n_control, alpha) < power:
        return None
    # power rises with the uplift, so the root is unique
    return float(
        brentq(
            lambda d: power_to_detect(d, baseline, n_arm, n_control, alpha) - power,
            1e-9,
            ceiling,
            xtol=1e-10,
        )
    )


@dataclass(frozen=True)
class SegmentPower:
    """What one segment of a design can show (sizes per group; uplifts are absolute)."""

    customers: int
    control: int
    smallest_arm: int
    baseline: float
    mde: float | None
    power_at_mde: float | None  # the power to detect the asked-for uplift, when one was asked
    too_small: bool  # an uplift was asked for and this segment detects it with less than `power`


def segment_power(
    sizes: dict[str, int],
    baseline: float,
    alpha: float,
    power: float,
    mde: float | None = None,
    control: str = CONTROL,
) -> SegmentPower:
    """Power figures of one segment from its group sizes (the smallest arm decides)."""
    n_control = sizes.get(control, 0)
    arms = [n for g, n in sizes.items() if g != control]
    smallest = min(arms) if arms else 0
    detectable = minimum_detectable_uplift(baseline, smallest, n_control, alpha, power)
    at_mde = None if mde is None else power_to_detect(mde, baseline, smallest, n_control, alpha)
    return SegmentPower(
        customers=int(sum(sizes.values())),
        control=int(n_control),
        smallest_arm=int(smallest),
        baseline=float(baseline),
        mde=detectable,
        power_at_mde=at_mde,
        too_small=at_mde is not None and at_mde < power,
    )


# --- the global holdout --------------------------------------------------------------------


HOLDOUT_METHOD = "fnv1a64(utf-8 id) mixed with the seed by splitmix64, top 53 bits / 2**53 < share"
_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)


def _splitmix64(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer: spreads every input bit over the whole word."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def id_hash(ids: np.ndarray | pd.Index, seed: int) -> np.ndarray:
    """A seeded 64-bit hash of each id's text (UTF-8), vectorized over ids: FNV-1a over the
    bytes, then the seed added and mixed by splitmix64. Written out here (not a library's
    hash) so the holdout cannot change when a library does."""
    values = np.asarray(ids)
    try:  # integers as their decimal text, as ids are compared elsewhere
        strings = pa.array(values).cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        strings = pa.array([str(v) for v in values], type=pa.string())
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32)[
        strings.offset : strings.offset + len(strings) + 1
    ]
    buffer = strings.buffers()[2]
    data = np.frombuffer(buffer, dtype=np.uint8) if buffer is not None else np.zeros(0, np.uint8)
    starts, lengths = offsets[:-1], np.diff(offsets)
    h = np.full(len(strings), _FNV_OFFSET, dtype=np.uint64)
    with np.errstate(over="ignore"):
        last = max(len(data) - 1, 0)
        for j in range(int(lengths.max(initial=0))):  # one pass per byte position, not per id
            byte = data[np.minimum(starts + j, last)].astype(np.uint64)
            h = np.where(lengths > j, (h ^ byte) * _FNV_PRIME, h)
        mixed = h + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
        return _splitmix64(mixed)


def holdout_mask(ids: np.ndarray | pd.Index, share: float, seed: int) -> np.ndarray:
    """Whether each customer is in the workspace holdout.

    A customer is in the holdout when its seeded id hash (``id_hash``), read as a number in
    [0, 1) from its top 53 bits, is below ``share``. The rule looks at nothing but the id, so
    a customer stays in (or out of) the holdout in every dataset it appears in, including
    data imported after the holdout was created; the share is exact only in expectation (each
    customer is an independent draw), and a bigger share keeps everyone a smaller one held.
    """
    u = (id_hash(ids, seed) >> np.uint64(11)).astype(np.float64) / float(2**53)
    return u < share
