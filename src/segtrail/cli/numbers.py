"""Numbers as people read them: no scientific notation, p-values below the shown precision
written as an inequality."""

from __future__ import annotations

import math


def human(value: float | None) -> str:
    """12,345 / 87.9 / 3.14 / 0.052: thousands separated, no scientific notation."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    if size >= 0.001 or size == 0:
        return f"{value:.3f}".rstrip("0").rstrip(".") or "0"
    return "< 0.001" if value > 0 else "> -0.001"


def p_value(p: float | None) -> str:
    """'p < 0.001' below what three decimals show, else 'p 0.042'; '' when there is none."""
    if p is None:
        return ""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"
