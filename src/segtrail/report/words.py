"""Plain words shared by every interface: the CLI's tables, the pages and the reports say
the same thing about the same numbers. Pure functions of plain data (no rich, no Jinja), so
both the CLI and the web layer import them without importing each other."""

from __future__ import annotations

from typing import Any

from segtrail.engine.value_words import unreadable_words


def column_summary(kind: str, summary: dict[str, Any]) -> str:
    """One column's summary (what `dataset show` computed) as a person reads it:
    'mean 42, median 40, range 18 to 80', '4 values, most often north 40%, ...'."""
    s = summary
    if kind == "numeric" and "numbers_from_text" in s:
        return _numbers_from_text(s)
    if kind == "numeric" and "mean" in s:
        return (
            f"mean {s['mean']:,.4g}, median {s['median']:,.4g}, "
            f"range {s['min']:,.4g} to {s['max']:,.4g}"
        )
    if kind == "categorical":
        top = ", ".join(f"{t['value']} {t['share']:.0%}" for t in s.get("top", [])[:3])
        return f"{s['distinct']} values, most often {top}"
    if kind in ("text", "id") and s.get("distinct") is not None:
        return f"{s['distinct']:,} different values"
    if kind == "boolean" and s.get("true_share") is not None:
        return f"{s['true_share']:.0%} yes"
    if kind == "datetime" and "min" in s:
        return f"{s['min'][:10]} to {s['max'][:10]}"
    return ""


def _numbers_from_text(s: dict[str, Any]) -> str:
    """A numeric column read from numbers written as text ('$1,234.00'): its figures, and
    what was not a number (read as missing)."""
    note = s["numbers_from_text"]
    parts = ["read from numbers written as text"]
    if note["not_numbers"]:
        parts.append(unreadable_words(note["not_numbers"], note["examples"]))
    figures = column_summary("numeric", {k: v for k, v in s.items() if k != "numbers_from_text"})
    return "; ".join([*parts, figures] if figures else parts)


def lookalike_model_words(model: dict[str, Any], seed: dict[str, Any]) -> str:
    """What a lookalike model learnt from, when it is not the whole seed: each method fits on
    at most a fixed number of seed members (the first by a seeded hash of their ids, so every
    engine picks the same ones), and a seed larger than that is only partly seen. Empty when
    the model saw every seed member, or for audiences recorded before the model was."""
    used, total = model.get("seed_rows"), seed.get("in_pool", 0) + seed.get("outside_pool", 0)
    if not used or used >= total:
        return ""
    text = (
        f"the {model.get('method', 'lookalike')} model learnt from {used:,} of the seed's "
        f"{total:,} customers (its limit, the same ones each time)"
    )
    if model.get("negatives"):
        text += f" and {model['negatives']:,} other customers as the contrast"
    return text
