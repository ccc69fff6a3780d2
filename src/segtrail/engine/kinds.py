"""Column kinds (numeric, categorical, boolean, datetime, text, id) and per-column summaries.

The kind decides how a column is preprocessed for clustering and how it is profiled.
Inference works on Arrow columns with Arrow compute, so it costs little next to parsing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segtrail.engine.arrays import bool_array, float64_array, int64_array, null_of, text_array

KINDS = ("numeric", "categorical", "boolean", "datetime", "text", "id")
FEATURE_KINDS = ("numeric", "categorical", "boolean", "datetime")

# A string column is categorical when it has few distinct values, absolutely or relative
# to the row count; otherwise (emails, names, free text) it is text and not a feature.
MAX_CATEGORY_LEVELS = 200
MAX_CATEGORY_SHARE = 0.5
QUANTILE_SAMPLE = 100_000
BOOLEAN_WORDS = {
    "true": True,
    "false": False,
    "yes": True,
    "no": False,
    "y": True,
    "n": False,
    "t": True,
    "f": False,
}

# Numbers written as text, as spreadsheets and CRMs export them. Read: surrounding spaces,
# a sign (+ or -) first, digits with an optional decimal point and exponent ("12", "-0.5",
# ".5", "5.", "1e5"), thousands separated by commas when every group after the first has
# three digits ("1,234,567.89"; "1,23" and "12,34" are not numbers), one currency sign
# ($ € £ ¥) before the digits (after the sign) or after them, or a percent sign after them
# ("12%" reads as 12, the number written: a column of percentages keeps its figures), with
# at most one space (or no-break space) between that sign and the digits ("12 €", "$ 12").
# Not read (counted and named in the description, and read as missing): decimal commas and
# dot separators ("1.234,5", "12,5": which is meant depends on the locale, which a file does
# not say), space or apostrophe separators ("1 234", "1'234"), accounting negatives "(12)",
# trailing signs "12-", currency codes ("12 USD"), words ("n/a", "twelve"), inf and nan,
# and numbers beyond the float range ("1e400"). A blank value is missing.
_CURRENCY = "$€£¥"
_DIGITS = r"(?:(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_GAP = r"[ \x{00A0}\x{202F}]?"  # a space, or a no-break space as French formats write
NUMBER_TEXT = rf"^[+-]?(?:[{_CURRENCY}]{_GAP}{_DIGITS}|{_DIGITS}(?:{_GAP}[{_CURRENCY}%])?)$"
_NOT_IN_A_FLOAT = r"[^0-9.eE+-]"  # what a readable number drops before it is read
_SPACE = r"[\s\pZ\x{0B}\x{85}]*"  # what utf8_trim_whitespace trims (Unicode's White_Space)
_NUMBER_OR_BLANK = rf"^{_SPACE}(?:{NUMBER_TEXT[1:-1]})?{_SPACE}$"


_NAN = float64_array(np.array([math.nan]))[0]
_FALSE = bool_array(np.array([False]))[0]
_ZERO = int64_array(np.array([0]))[0].cast(pa.int32())


def _to_numpy(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A float64 or boolean array without nulls as numpy (read only), from its buffers:
    Arrow's own conversion would import pandas."""
    if isinstance(values, pa.ChunkedArray):
        if values.num_chunks == 0:
            return np.empty(0, dtype=bool if pa.types.is_boolean(values.type) else np.float64)
        values = values.combine_chunks()
    start, end = values.offset, values.offset + len(values)
    if pa.types.is_boolean(values.type):
        bits = np.frombuffer(values.buffers()[1], dtype=np.uint8)
        return np.unpackbits(bits, bitorder="little")[start:end].view(bool)
    return np.frombuffer(values.buffers()[1], dtype=np.float64)[start:end]


def numbers_in_text(text: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Text values read by the rules above (``NUMBER_TEXT``): float64 (NaN where missing or
    not a number; inf where beyond the float range), and where a value is given (not blank,
    not null) but is not a finite number. The core of ``features.read_numbers``, on Arrow text
    (here, not there: ingest reads numbers and never imports pandas)."""
    trimmed = pc.utf8_trim_whitespace(text)
    readable = pc.match_substring_regex(trimmed, NUMBER_TEXT)
    digits = pc.replace_substring_regex(trimmed, _NOT_IN_A_FLOAT, "")
    read = pc.cast(pc.if_else(readable, digits, null_of(pa.string())), pa.float64())
    # no nulls left, and scalars built from arrays: pandas is never imported (arrays.py)
    values = _to_numpy(pc.coalesce(read, _NAN))
    # a blank value is missing, not unreadable
    given = _to_numpy(pc.coalesce(pc.greater(pc.utf8_length(trimmed), _ZERO), _FALSE))
    return values, given & ~np.isfinite(values)


# A text column of numbers written as text ("$1,234.00", "1,234", "45%", " 12 ", a figure
# column with "-" or "unknown" for none) is numeric when its values are numbers by the rules
# above (``numbers_in_text``, which features.read_numbers uses too), but for a few that are
# not:
# - at most NOT_NUMBER_SHARE of its given values are not numbers (a column with more is a
#   column of words that holds some figures, not a column of figures), and
# - of those, at most STRAY_SHARE of the given values are not placeholder words (PLACEHOLDERS:
#   how exports write "no figure"); the other few are typos or notes, named to the user. A
#   column of 100 values may thus hold five "n/a" but only one stray word.
# It stays as it is (categorical or text), however few such values it has, when
# - a number has leading zeros ("00123") or is a '+' and seven or more digits
#   ("+15551234567"): zip codes, account and phone numbers are codes, and their zeros and
#   sign would be lost;
# - every number is a plain integer of the same width, at least CODE_WIDTH digits (zip
#   codes "90210", phone numbers "5551234567"): codes again;
# - a value that is not a number is written as digits with commas, dots or spaces in a way
#   read_numbers refuses ("1.234,5", "12,5", "1 234"): the column follows another locale's
#   conventions, and its numbers that did read may mean something else ("1.234" = 1234).
NOT_NUMBER_SHARE = 0.05
STRAY_SHARE = 0.01
CODE_WIDTH = 5
PLACEHOLDERS = frozenset(
    {"-", "--", "---", "\u2013", "\u2014", "?", ".", "n/a", "na", "n.a.", "nan", "none", "null",
     "nil", "unknown", "missing", "not available", "no data", "tbd", "pending", "#n/a",
     "#value!", "#div/0!", "#ref!", "#num!"}
)  # fmt: skip
_CODE_TEXT = r"^\s*(?:[+-]?[$€£¥]?\s?0[0-9]|\+[0-9]{7,}\s*$)"
_PLAIN_INTEGER = r"^\s*[0-9]+\s*$"
_OTHER_LOCALE = r"^\s*[+-]?[$€£¥]?\s?[0-9]+(?:[.,' \x{00A0}\x{202F}][0-9]+)+\s?[$€£¥%]?\s*$"
NOT_NUMBER_EXAMPLES = 3
_FIRST_SLICE = 4096  # inference reads a text column in growing slices, see TextNumbers.of


def infer_kind(
    column: pa.ChunkedArray, *, is_id: bool = False, numbers_from_text: bool = True
) -> str:
    """The kind of one column, from its Arrow type and, for text, its distinct values and
    (unless `numbers_from_text` is False: the caller decided already) whether they are
    numbers written as text (see NOT_NUMBER_SHARE)."""
    if is_id:
        return "id"
    t = column.type
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "numeric"
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return "datetime"
    if pa.types.is_dictionary(t):
        return "categorical"
    if pa.types.is_null(t):
        return "categorical"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        non_null = len(column) - column.null_count
        distinct = pc.count_distinct(column).as_py()
        if non_null == 0:
            return "categorical"
        if _is_boolean_words(column, distinct):
            return "boolean"
        if numbers_from_text and TextNumbers.of(column, early_exit=True).are_numbers:
            return "numeric"
        if distinct <= MAX_CATEGORY_LEVELS and distinct <= max(20, MAX_CATEGORY_SHARE * non_null):
            return "categorical"
        return "text"
    return "text"


def _is_boolean_words(column: pa.ChunkedArray, distinct: int) -> bool:
    if distinct > 2:
        return False
    return are_boolean_words(v for v in pc.unique(column).to_pylist() if v is not None)


def are_boolean_words(raw_values: Iterable[object]) -> bool:
    """Whether a text column with these distinct non-null values holds boolean words: at
    most two values, both words for opposite truth values ('yes'/'no', 'T'/'f')."""
    raw = set(raw_values)
    values = {str(v).strip().lower() for v in raw}
    return (
        0 < len(raw) <= 2
        and values <= BOOLEAN_WORDS.keys()
        and len({BOOLEAN_WORDS[v] for v in values}) == len(values)
    )


@dataclass
class TextNumbers:
    """What reading a text column as numbers found; adds up over batches (stream ingest)."""

    given: int = 0  # values neither missing nor blank
    not_numbers: int = 0
    stray: int = 0  # values not numbers and not placeholder words
    examples: list[str] = field(default_factory=list)  # the first distinct not numbers
    codes: bool = False  # leading zeros or a phone number's '+'
    other_locale: bool = False
    widths: set[int] = field(default_factory=set)  # digit counts of plain integers
    not_plain: bool = False  # a number not written as a plain integer

    @classmethod
    def of(cls, column: pa.Array | pa.ChunkedArray, early_exit: bool = False) -> TextNumbers:
        """The reading of a text column. `early_exit`: first count, in slices that double in
        length, the values surely not numbers (``count_not_numbers``), and stop as soon as
        they are too many for the column to be numeric (a column of names or emails is then
        read in small part, by one regular expression); the reading is then that count."""
        if early_exit:
            given = len(column) - column.null_count
            surely_not, start, size = 0, 0, _FIRST_SLICE
            while start < len(column):
                surely_not += count_not_numbers(column.slice(start, size))[1]
                if surely_not > NOT_NUMBER_SHARE * given:
                    return cls(given=given, not_numbers=surely_not, stray=surely_not)
                start, size = start + size, size * 2
        return cls._of(column)[1]

    @classmethod
    def _of(cls, column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, TextNumbers]:
        values, unread = numbers_in_text(column)
        read = np.isfinite(values)
        found = cls(given=int(np.count_nonzero(read)) + int(np.count_nonzero(unread)))
        if unread.any():
            bad = pc.filter(column, bool_array(unread))
            words = pc.utf8_lower(pc.utf8_trim_whitespace(bad))
            placeholder = pc.is_in(words, value_set=text_array(sorted(PLACEHOLDERS)))
            found.not_numbers = len(bad)
            found.stray = len(bad) - (pc.sum(placeholder).as_py() or 0)
            found.examples = pc.unique(bad).to_pylist()[:NOT_NUMBER_EXAMPLES]
            found.other_locale = pc.any(pc.match_substring_regex(bad, _OTHER_LOCALE)).as_py()
        if read.any():
            good = pc.filter(column, bool_array(read))
            found.codes = bool(pc.any(pc.match_substring_regex(good, _CODE_TEXT)).as_py())
            plain = pc.match_substring_regex(good, _PLAIN_INTEGER)
            found.not_plain = not pc.all(plain).as_py()
            lengths = pc.utf8_length(pc.utf8_trim_whitespace(pc.filter(good, plain)))
            found.widths = set(pc.unique(lengths).to_pylist())
        return np.where(read, values, np.nan), found

    def add(self, other: TextNumbers) -> None:
        self.given += other.given
        self.not_numbers += other.not_numbers
        self.stray += other.stray
        self.examples += [v for v in other.examples if v not in self.examples]
        del self.examples[NOT_NUMBER_EXAMPLES:]
        self.codes |= other.codes
        self.other_locale |= other.other_locale
        self.not_plain |= other.not_plain
        self.widths |= other.widths

    @property
    def are_numbers(self) -> bool:
        """Whether the column is numeric by the rule above NOT_NUMBER_SHARE."""
        if self.given == self.not_numbers or self.codes or self.other_locale:
            return False
        if not self.not_plain and len(self.widths) == 1 and min(self.widths) >= CODE_WIDTH:
            return False
        return (
            self.not_numbers <= NOT_NUMBER_SHARE * self.given
            and self.stray <= STRAY_SHARE * self.given
        )

    def note(self) -> dict:
        """What the column's summary records: it was read from text, and what was not read."""
        return {"not_numbers": self.not_numbers, "examples": list(self.examples)}


_HEAD = 1000  # values looked at to tell whether a column's values repeat
_FEW_DISTINCT = 50  # ...they do if its head holds at most this many distinct values


def count_not_numbers(column: pa.Array | pa.ChunkedArray) -> tuple[int, int]:
    """At most how many values of a text column are given, and at least how many of those are
    not written as numbers: one regular expression over each value, or over each distinct
    value when they repeat (a number beyond the float range, or a blank value, counts as a
    number here; ``TextNumbers`` tells)."""
    given = len(column) - column.null_count
    if pc.count_distinct(column.slice(0, _HEAD)).as_py() <= _FEW_DISTINCT:
        # A category's few words repeat: each distinct value is read once, and its count
        # added (a third of the time of reading every value of a 4-word column)
        counted = pc.value_counts(column)
        read = pc.match_substring_regex(counted.field("values"), _NUMBER_OR_BLANK)
        numbers = pc.sum(pc.filter(counted.field("counts"), read))
    else:
        numbers = pc.sum(pc.match_substring_regex(column, _NUMBER_OR_BLANK))
    return given, given - (numbers.as_py() or 0)


def read_text_numbers(column: pa.ChunkedArray | pa.Array) -> tuple[pa.Array, TextNumbers]:
    """A text column as float64 (missing where a value is not a number), and what was read."""
    values, found = TextNumbers._of(column)
    return float64_array(values, ~np.isnan(values)), found


def is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def with_text_note(summary: dict, note: dict | None) -> dict:
    """A numeric column's summary, saying when it was read from numbers written as text."""
    return summary if note is None else {**summary, "numbers_from_text": note}


def coerce_to_kind(column: pa.ChunkedArray, kind: str) -> pa.ChunkedArray:
    """Store boolean words ('yes'/'no') as real booleans, numbers written as text ('$1,234')
    as float64 (a value that is not a number: missing), and an all-empty CSV column (Arrow's
    null type, which few kernels accept) as text; other kinds keep their Arrow type."""
    if pa.types.is_null(column.type):
        return pc.cast(column, pa.string())
    if kind == "numeric" and is_text(column.type):
        return pa.chunked_array([read_text_numbers(column)[0]])
    if kind == "boolean" and (
        pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
    ):
        lowered = pc.utf8_lower(pc.utf8_trim_whitespace(column))
        truthy = text_array(k for k, v in BOOLEAN_WORDS.items() if v)
        is_true = pc.is_in(lowered, value_set=truthy)
        return pc.if_else(pc.is_null(lowered), null_of(pa.bool_()), is_true)
    return column


def summarize(column: pa.ChunkedArray, kind: str) -> dict:
    """A short JSON-serializable summary of one column for `dataset show`."""
    n = len(column)
    summary: dict = {"missing_share": (column.null_count / n) if n else 0.0}
    if kind == "numeric":
        # safe=False: integers beyond 2**53 round to the nearest float, fine for a summary.
        values = (
            column
            if pa.types.is_floating(column.type)
            else pc.cast(column, pa.float64(), safe=False)
        )
        finite, extremes = _finite(values)
        if len(finite) - finite.null_count:
            # Exact quantiles sort the column; above QUANTILE_SAMPLE rows an evenly spaced
            # sample gives the same figures to display precision at a fraction of the cost.
            spread = finite
            if len(finite) > QUANTILE_SAMPLE:
                step = len(finite) // QUANTILE_SAMPLE
                spread = finite.take(int64_array(np.arange(0, len(finite), step)))
                summary["quantiles_from_sample"] = len(spread)
            q = pc.quantile(spread, q=[0.25, 0.5, 0.75]).to_pylist()
            summary.update(
                mean=_num(pc.mean(finite).as_py()),
                std=_num(pc.stddev(finite, ddof=1).as_py()),
                min=_num(extremes["min"]),
                p25=_num(q[0]),
                median=_num(q[1]),
                p75=_num(q[2]),
                max=_num(extremes["max"]),
            )
    elif kind == "id":
        summary["distinct"] = n  # ids are checked unique before anything is stored
    elif kind in ("categorical", "text"):
        summary["distinct"] = _count_distinct(column)
        if kind == "categorical":
            counts = pc.value_counts(column.drop_null() if column.null_count else column)
            top = sorted(
                zip(
                    counts.field("values").to_pylist(),
                    counts.field("counts").to_pylist(),
                    strict=True,
                ),
                key=lambda vc: (-vc[1], str(vc[0])),
            )[:5]
            summary["top"] = [{"value": str(v), "share": c / n} for v, c in top]
    elif kind == "boolean":
        non_null = n - column.null_count
        trues = pc.sum(pc.cast(column, pa.int64())).as_py() or 0
        summary["true_share"] = trues / non_null if non_null else None
    elif kind == "datetime" and column.null_count < n:
        summary["min"] = str(pc.min(column).as_py())
        summary["max"] = str(pc.max(column).as_py())
    return summary


def _finite(values: pa.ChunkedArray) -> tuple[pa.ChunkedArray, dict]:
    """The finite values of a float column, and their min and max. A column with no missing
    value whose min, max and mean are finite holds nothing else: it is used as it is, which
    spares a pass and a copy of every column of a typical file."""
    if values.null_count == 0 and len(values):
        extremes = pc.min_max(values).as_py()
        bounds = (extremes["min"], extremes["max"], pc.mean(values).as_py())
        if all(b is not None and math.isfinite(b) for b in bounds):
            return values, extremes
    if values.null_count < len(values):
        values = pc.filter(values, pc.is_finite(values))
    return values, pc.min_max(values).as_py()


def _count_distinct(column: pa.ChunkedArray) -> int | None:
    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, column.type.value_type)
    try:
        return pc.count_distinct(column).as_py()
    except pa.ArrowNotImplementedError:  # nested values (lists, structs) from Parquet
        return None


def _num(x: float | None) -> float | None:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None
    return float(x)
