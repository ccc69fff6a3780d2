"""Numbers people can read (issue 13, item 6): no '8.794e+04', no 'p 0.000'."""

from __future__ import annotations

import pytest

from segtrail.cli.numbers import human, p_value


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (87_940.0, "87,940"),
        (1_234_567.8, "1,234,568"),
        (319.4, "319"),
        (63.25, "63.2"),
        (3.14159, "3.14"),
        (0.37, "0.37"),
        (0.052, "0.052"),
        (0.0, "0"),
        (0.00002, "< 0.001"),
        (-12.5, "-12.5"),
        (None, ""),
        (float("nan"), ""),
    ],
)
def test_human(value: float | None, shown: str) -> None:
    assert human(value) == shown
    assert "e+" not in human(value) and "e-" not in human(value)


@pytest.mark.parametrize(
    ("p", "shown"), [(0.0, "< 0.001"), (0.0004, "< 0.001"), (0.001, "0.001"), (0.0423, "0.042")]
)
def test_p_value(p: float, shown: str) -> None:
    assert p_value(p) == shown
