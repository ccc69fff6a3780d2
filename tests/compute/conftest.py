"""Shared by the engine tests: comparing a profile counted by Spark with the local one."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

MEDIAN_KEYS = ("median", "overall_median")  # approximate on Spark: compared apart


def same_profile(local: object, remote: object, where: str = "") -> int:
    """Assert equal structures (floats to 1e-9 relative: Spark adds in another order),
    medians left out; returns how many medians were left out."""
    if isinstance(local, dict):
        assert isinstance(remote, dict) and set(local) == set(remote), where
        skipped = 0
        for key in local:
            if key in MEDIAN_KEYS:
                skipped += 1
                continue
            skipped += same_profile(local[key], remote[key], f"{where}.{key}")
        return skipped
    if isinstance(local, list):
        assert isinstance(remote, list) and len(local) == len(remote), where
        pairs = enumerate(zip(local, remote, strict=True))
        return sum(same_profile(a, b, f"{where}[{i}]") for i, (a, b) in pairs)
    if isinstance(local, float) and not isinstance(local, bool):
        assert isinstance(remote, float) and math.isclose(local, remote, rel_tol=1e-9), (
            f"{where}: {local} != {remote}"
        )
        return 0
    assert local == remote, f"{where}: {local!r} != {remote!r}"
    return 0


@pytest.fixture
def same() -> Callable[..., int]:
    return same_profile
