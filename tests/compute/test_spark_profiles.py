"""Segment profiles counted by Spark over every customer equal the local engine's profiles.

Same table, same labels (three segments and some unassigned customers), every profiled
kind with missing values. Exact: sizes, shares, counts, category shares, means, standard
deviations, ranges, names and descriptions (floats to 1e-9 relative: Spark adds in another
order). Approximate: medians, which Spark takes with ``percentile_approx``; a Spark median
must lie between the lower and the upper middle value of the local engine's rows (the
local median is their mean).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from segtrail.engine import profiles as local_profiles
from segtrail.engine.profiles import profile_segments

pytestmark = pytest.mark.spark

MASTER = "local[2]"
KINDS = {
    "age": "numeric",
    "spend": "numeric",
    "signup": "datetime",
    "is_member": "boolean",
    "member_text": "boolean",
    "channel": "categorical",
    "tier": "categorical",
}


def customers(seed: int = 3, n: int = 1_200) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.choice([-1, 0, 1, 2], size=n, p=[0.05, 0.5, 0.3, 0.15])
    age = 20 + 15 * np.maximum(labels, 0) + rng.normal(0, 4, n)
    spend = np.where(rng.random(n) < 0.1, np.nan, 50 * (1 + labels + 1) * rng.lognormal(0, 0.3, n))
    days = rng.integers(0, 3000, n) + 400 * np.maximum(labels, 0)
    signup = pd.to_datetime("2015-01-01") + pd.to_timedelta(days, unit="D")
    member = pd.array(rng.random(n) < 0.2 + 0.25 * np.maximum(labels, 0), dtype="boolean")
    member[rng.random(n) < 0.05] = pd.NA
    text = np.where(rng.random(n) < 0.5, "yes", "no").astype(object)
    text[rng.random(n) < 0.1] = None
    channels = np.array(["app", "web", "store", "phone", "email", "kiosk"])
    channel = channels[(np.maximum(labels, 0) + rng.integers(0, 3, n)) % len(channels)]
    channel = channel.astype(object)
    channel[rng.random(n) < 0.07] = None
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "age": age,
            "spend": spend,
            "signup": signup,
            "is_member": member,
            "member_text": text,
            "channel": channel,
            "tier": rng.choice([1, 2, 3], size=n),
        }
    )
    return frame, labels.astype(np.int32)


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    from segtrail.compute.spark.session import get_session

    yield get_session(MASTER)


def spark_profile(spark, frame: pd.DataFrame, labels: np.ndarray, tmp_path) -> dict:
    from segtrail.compute.spark.profiles import spark_profiles

    path = tmp_path / "assigned.parquet"
    frame.assign(segment=labels).to_parquet(path)
    table = spark.read.parquet(str(path))
    return spark_profiles(table, [(c, c, kind) for c, kind in KINDS.items()], len(frame))


def test_spark_profiles_equal_the_local_profiles(spark, tmp_path, same) -> None:
    frame, labels = customers()
    local = profile_segments(frame, KINDS, labels, columns=list(KINDS))
    remote = spark_profile(spark, frame, labels, tmp_path)
    medians = same(local, remote, "")
    assert medians > 0
    for seg in remote["segments"]:  # every Spark median between the two middle values
        rows = frame[labels == seg["segment"]]
        for entry in seg["numeric"]:
            assert_middle(entry["median"], rows[entry["column"]], entry["kind"])
    for column, overall in remote["overall"].items():
        if "median" in overall:
            assert_middle(overall["median"], frame[column], overall["kind"])
    assert [s["segment"] for s in remote["segments"]] == [0, 1, 2, -1]
    sizes = [int((labels == s).sum()) for s in (0, 1, 2, -1)]
    assert [s["size"] for s in remote["segments"]] == sizes


def test_rare_categories_are_pooled_as_locally(spark, tmp_path, monkeypatch, same) -> None:
    from segtrail.compute.spark import profiles as spark_module

    monkeypatch.setattr(local_profiles, "MAX_CATEGORIES", 3)
    monkeypatch.setattr(spark_module, "MAX_CATEGORIES", 3)
    frame, labels = customers(seed=5, n=600)
    local = profile_segments(frame, KINDS, labels, columns=list(KINDS))
    remote = spark_profile(spark, frame, labels, tmp_path)
    same(local, remote, "")
    assert remote["overall"]["channel"]["n_values"] == 6  # five channels used, and missing
    top = [t["value"] for t in remote["overall"]["channel"]["top"]]
    assert local_profiles.OTHER_VALUES in top and len(top) == 3


def assert_middle(median: object, values: pd.Series, kind: str) -> None:
    if kind == "datetime":
        days = values.dropna().sort_values().dt.strftime("%Y-%m-%d").to_numpy()
        assert days[(len(days) - 1) // 2] <= median <= days[len(days) // 2]
        return
    known = np.sort(values.dropna().to_numpy(dtype=float))
    low, high = known[(len(known) - 1) // 2], known[len(known) // 2]
    # the profile keeps 12 significant digits
    assert low - 1e-11 * abs(low) <= median <= high + 1e-11 * abs(high), (median, low, high)
