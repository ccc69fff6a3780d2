"""How segtrail says that some values of a column could not be read (numbers or dates
written as text), the same in a feature's description (engine/features.py), a column's
summary (report/words.py) and refused campaign revenue (engine/responses.py). It imports
nothing, so the commands that only show metadata stay light."""

from __future__ import annotations


def not_values(count: int, examples: list[str], what: str = "numbers") -> str:
    """'2 values are not numbers (e.g. 'n/a', '-')' ('1 value is not a number ...' for one;
    ``what`` is plural: numbers, dates)."""
    shown = ", ".join(repr(v) for v in examples)
    said = f"1 value is not a {what[:-1]}" if count == 1 else f"{count:,} values are not {what}"
    return f"{said} (e.g. {shown})"


def unreadable_words(count: int, examples: list[str], what: str = "numbers") -> str:
    """'2 values are not numbers (e.g. 'n/a', '-'): read as missing'."""
    return f"{not_values(count, examples, what)}: read as missing"
