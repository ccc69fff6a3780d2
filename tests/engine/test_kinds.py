"""A numeric column's summary (what `dataset show` prints) against numpy on the same values:
missing values and non-finite ones (NaN, infinities) are left out of every figure, whichever
way the summary gets there (a column with none of them is summarized without a filtered
copy)."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segtrail.engine import kinds
from segtrail.engine.kinds import summarize

VALUES = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.sampled_from([math.nan, math.inf, -math.inf, None]),
)


def _reference(values: list[float | None], sample: int) -> dict:
    finite = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    out: dict = {"missing_share": sum(v is None for v in values) / len(values)}
    if len(finite) == 0:
        return out
    spread = finite[:: len(finite) // sample] if len(finite) > sample else finite
    if len(finite) > sample:
        out["quantiles_from_sample"] = len(spread)
    q = np.quantile(spread, [0.25, 0.5, 0.75])  # linear interpolation, as Arrow's default
    std = float(np.std(finite, ddof=1)) if len(finite) > 1 else None
    out.update(
        mean=float(np.mean(finite)), std=std, min=float(finite.min()), p25=float(q[0]),
        median=float(q[1]), p75=float(q[2]), max=float(finite.max()),
    )  # fmt: skip
    return out


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    chunks=st.lists(st.lists(VALUES, min_size=0, max_size=30), min_size=1, max_size=4),
    plain=st.booleans(),
)
def test_numeric_summary_matches_numpy(
    monkeypatch: pytest.MonkeyPatch, chunks: list[list[float | None]], plain: bool
) -> None:
    monkeypatch.setattr(kinds, "QUANTILE_SAMPLE", 7)  # small, so the sample is exercised too
    if plain:  # only finite values and no missing one: the path without a filtered copy
        chunks = [[v for v in c if v is not None and math.isfinite(v)] for c in chunks]
    values = [v for c in chunks for v in c]
    if not values:
        return
    column = pa.chunked_array([pa.array(c, pa.float64()) for c in chunks], pa.float64())
    got = summarize(column, "numeric")
    expected = _reference(values, 7)
    assert got.keys() == expected.keys()
    for key, want in expected.items():
        if want is None:
            assert got[key] is None, key
        else:
            assert got[key] == pytest.approx(want, rel=1e-9, abs=1e-6), key
