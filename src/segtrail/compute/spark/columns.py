"""Column references that survive any column name (spaces, dots, backticks)."""

from __future__ import annotations


def quoted(name: str):
    """``F.col`` of a column named ``name`` exactly as written."""
    from pyspark.sql import functions as F

    return F.col(f"`{name.replace('`', '``')}`")
