"""Kind detection of numbers written as text: a text column of "$1,234.00", "45%" or figures
with a few placeholders ("n/a", "-") is numeric and stored as float64; codes (zip codes,
phone numbers), words and other locales' numbers stay as they are. Expected values are
written here by hand, not computed by segtrail."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segtrail.engine.kinds import (
    TextNumbers,
    coerce_to_kind,
    count_not_numbers,
    infer_kind,
    read_text_numbers,
    summarize,
    with_text_note,
)
from segtrail.report.words import column_summary


def text(values: list[str | None], chunks: int = 1) -> pa.ChunkedArray:
    """A string column of `values`, cut in `chunks` pieces (files are read in batches)."""
    size = max(1, math.ceil(len(values) / chunks))
    pieces = [values[i : i + size] for i in range(0, len(values), size)] or [[]]
    return pa.chunked_array([pa.array(p, type=pa.string()) for p in pieces])


def stored(values: list[str | None]) -> tuple[str, list[float | None] | None]:
    column = text(values)
    kind = infer_kind(column)
    coerced = coerce_to_kind(column, kind)
    return kind, (coerced.to_pylist() if kind == "numeric" else None)


def test_currency_commas_percent_and_spaces_are_numbers() -> None:
    kind, values = stored(["$1,234.00", "1,234", "45%", " 12 ", "€ 7.5", "-3", None, "1e3"])
    assert kind == "numeric"
    assert values == [1234.0, 1234.0, 45.0, 12.0, 7.5, -3.0, None, 1000.0]
    assert coerce_to_kind(text(["$1,234.00"]), "numeric").type == pa.float64()


def test_two_placeholders_in_200_values_are_missing() -> None:
    figures = [f"{i}.5" for i in range(198)]
    kind, values = stored([*figures[:50], "n/a", *figures[50:], "n/a"])
    assert kind == "numeric"
    assert values is not None and len(values) == 200
    assert values.count(None) == 2 and values[50] is None and values[-1] is None
    assert values[:3] == [0.5, 1.5, 2.5] and values[-2] == 197.5


def test_a_placeholder_free_column_of_spaced_integers_is_numeric() -> None:
    assert stored([" 1", "2 ", " 30 "]) == ("numeric", [1.0, 2.0, 30.0])


def test_mostly_words_stay_categorical_or_text() -> None:
    few = ["gold", "silver", "12", "gold", "bronze"] * 20
    assert stored(few)[0] == "categorical"
    many = [f"customer {i}" for i in range(500)] + ["12"] * 20
    assert stored(many)[0] == "text"


# 100 values: at most 5 placeholders, and at most 1 value that is neither a number nor a
# placeholder word.
@pytest.mark.parametrize(
    ("odd", "kind"),
    [
        (["-"] * 5, "numeric"),
        (["-"] * 6, "categorical"),
        (["unknown", "N/A ", "--", "?", "none"], "numeric"),
        (["see notes"], "numeric"),
        (["see notes", "ask Bob"], "categorical"),
        (["-"] * 4 + ["see notes"], "numeric"),
        (["-"] * 3 + ["see notes", "ask Bob"], "categorical"),
    ],
)
def test_share_of_values_that_are_not_numbers(odd: list[str], kind: str) -> None:
    figures = [str(10 + i % 20) for i in range(100 - len(odd))]
    assert stored(figures + odd)[0] == kind


def test_boundaries_scale_with_the_column() -> None:
    # 1,000 values: 50 not numbers, of which 10 stray words, are still few enough
    figures = [f"{i}.25" for i in range(951)]
    notes = [f"note {i}" for i in range(11)]
    assert stored(figures[:950] + ["n/a"] * 50)[0] == "numeric"
    assert stored(figures[:949] + ["n/a"] * 51)[0] == "text"
    assert stored(figures[:950] + ["n/a"] * 40 + notes[:10])[0] == "numeric"
    assert stored(figures[:949] + ["n/a"] * 40 + notes)[0] == "text"


def test_zip_codes_with_leading_zeros_stay_as_they_are() -> None:
    zips = ["02139", "00501", "10001", "94105", "unknown"] * 40
    assert stored(zips) == ("categorical", None)
    mixed = [f"{i:05d}" for i in range(0, 60_000, 199)] + ["unknown"]
    assert stored(mixed)[0] == "text"
    assert coerce_to_kind(text(zips), "categorical").to_pylist()[:2] == ["02139", "00501"]


def test_fixed_width_codes_without_zeros_stay_as_they_are() -> None:
    zips = [str(90_000 + 3 * i) for i in range(300)] + ["unknown"]
    assert stored(zips)[0] == "text"
    short = [str(1000 + 7 * i) for i in range(300)] + ["unknown"]  # 4 digits: figures
    assert stored(short)[0] == "numeric"
    varied = [str(90_000 + 3 * i) for i in range(300)] + ["123456", "unknown"]
    assert stored(varied)[0] == "numeric"


@pytest.mark.parametrize(
    "phones",
    [
        [f"+1555{i:07d}" for i in range(0, 3000, 10)] + ["unknown"],
        [f"555{i:07d}" for i in range(0, 3000, 10)] + ["unknown"],
        [f"(555) {i:03d}-{i:04d}" for i in range(300)],
        [f"555-{i:03d}-{i:04d}" for i in range(300)],
    ],
)
def test_phone_numbers_stay_as_they_are(phones: list[str]) -> None:
    assert stored(phones)[0] == "text"


def test_a_short_signed_number_is_not_a_phone() -> None:
    assert stored(["+12", "-3", "+4.5", "n/a"] + ["7"] * 96) == (
        "numeric",
        [12.0, -3.0, 4.5, None] + [7.0] * 96,
    )


@pytest.mark.parametrize(
    "values",
    [
        ["1.234,5", "12,5", "3", "7,25"] * 30,
        ["1.234", "2.500", "12", "7"] * 50 + ["3.456,7"],  # "1.234" means 1234 here
        ["12", "7", "30"] * 50 + ["1 234"],
        ["12", "7", "30"] * 50 + ["1'234.5"],
    ],
)
def test_other_locales_numbers_are_not_silently_numeric(values: list[str]) -> None:
    assert stored(values)[0] != "numeric"


def test_boolean_words_and_empty_columns_keep_their_rules() -> None:
    assert stored(["yes", "no", None, "yes"])[0] == "boolean"
    assert stored([None, None])[0] == "categorical"
    assert stored(["", " "])[0] == "categorical"  # blank values are not numbers
    assert stored(["-", "n/a", "-"])[0] == "categorical"  # placeholders only


def test_the_caller_may_turn_the_reading_off() -> None:
    column = text(["$1", "$2", "$3"])
    assert infer_kind(column, numbers_from_text=False) == "categorical"
    assert infer_kind(column, is_id=True) == "id"


def test_coerce_reads_what_the_user_calls_numeric() -> None:
    """A user's numeric column of words reads as missing, and others are stored as they are."""
    column = text(["$5", "five", None, "1,5"])
    assert coerce_to_kind(column, "numeric").to_pylist() == [5.0, None, None, None]
    assert coerce_to_kind(column, "text") is column
    assert coerce_to_kind(pa.chunked_array([[1, 2]]), "numeric").to_pylist() == [1, 2]


def test_what_was_read_counts_and_names_the_values_that_are_not_numbers() -> None:
    values = ["n/a", "$10", "-", "$20", "n/a", "see notes", "$30"] + ["$40"] * 193
    found = TextNumbers.of(text(values))
    assert found.note() == {"not_numbers": 4, "examples": ["n/a", "-", "see notes"]}
    assert (found.given, found.not_numbers, found.stray) == (200, 4, 1)
    assert found.are_numbers


def test_batches_add_up_to_the_whole_column() -> None:
    values = ["1,000", "n/a", "x", "$5"] * 30 + ["2"] * 200 + ["y", "z", "0012"]
    whole = TextNumbers.of(text(values))
    added = TextNumbers()
    for i in range(0, len(values), 37):
        added.add(TextNumbers.of(text(values[i : i + 37])))
    assert added == whole
    assert whole.note()["examples"] == ["n/a", "x", "y"] and whole.codes


@pytest.mark.parametrize("late", [500, 600])
def test_reading_in_slices_decides_as_the_whole_column(late: int) -> None:
    """Inference stops reading once too many values are not numbers; values far down the
    column still count. 10,000 numbers then `late` words: 5% of 10,500 is 525."""
    values = [str(i % 50) for i in range(10_000)] + ["-"] * late
    kind = "numeric" if late <= 0.05 * (10_000 + late) else "categorical"
    assert infer_kind(text(values, chunks=3)) == kind
    words = [f"name {i}" for i in range(100_000)]
    stopped = TextNumbers.of(text(words), early_exit=True)
    assert stopped.not_numbers < 20_000 and not stopped.are_numbers  # read in part
    assert infer_kind(text(words)) == "text"


def test_dataset_show_says_the_column_was_read_from_text() -> None:
    values = ["$10.00", "n/a", "$20.00", "-", "$30.00"] + ["$40.00"] * 95
    column = text(values)
    coerced = coerce_to_kind(column, "numeric")
    found = TextNumbers.of(column)
    summary = {**summarize(coerced, "numeric"), "numbers_from_text": found.note()}
    assert summary["missing_share"] == pytest.approx(0.02)
    assert column_summary("numeric", summary) == (
        "read from numbers written as text; 2 values are not numbers (e.g. 'n/a', '-'): "
        "read as missing; mean 39.39, median 40, range 10 to 40"
    )
    clean = {**summarize(coerced, "numeric"), "numbers_from_text": TextNumbers().note()}
    assert column_summary("numeric", clean).startswith("read from numbers written as text; mean")


SPELLINGS = [
    "12", " 12 ", "\u00a012\u3000", "\t-3%\x0b", "$1,234.00", "1,23", "1.234,5", "n/a", "x",
    "", "  ", None, "1e400", "€ 7", "7 €", "+5", "(12)", "12-", "\u200b12",
]  # fmt: skip


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_cheap_count_bounds_the_reading(spelling: str | None) -> None:
    """Stream ingest counts a text column cheaply to know whether the whole of it might be
    numbers: never fewer given values, never more values that are not numbers."""
    column = text([spelling, "5"])
    given, not_numbers = count_not_numbers(column)
    found = TextNumbers.of(column)
    assert given >= found.given and not_numbers <= found.not_numbers
    # exact but for blanks and numbers beyond the float range
    if spelling is None or spelling.strip() == "":
        assert (given, not_numbers) == (1 if spelling is None else 2, 0)
    elif spelling == "1e400":
        assert (given, not_numbers, found.not_numbers) == (2, 0, 1)
    else:
        assert (given, not_numbers) == (found.given, found.not_numbers)


def _surely_not_a_number(spelling: str | None) -> bool:
    """The cheap count's verdict on one value, from the full reading (see the test above)."""
    if spelling is None or spelling.strip() == "" or spelling == "1e400":
        return False
    return TextNumbers.of(text([spelling])).not_numbers == 1


VERDICTS = {spelling: _surely_not_a_number(spelling) for spelling in SPELLINGS}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(SPELLINGS), min_size=1, max_size=200),
    st.integers(0, 3000),
    st.integers(1, 3),
)
def test_the_cheap_count_adds_up_values_however_often_they_repeat(
    spellings: list[str | None], unique: int, chunks: int
) -> None:
    """A column whose head repeats a few values is counted value by distinct value, any other
    value by value: the same count either way, against each value's own verdict."""
    repeated = spellings * (1 + 2000 // len(spellings))
    for values in (repeated, repeated + [f"w{i}" for i in range(unique)]):
        for column in (text(values, chunks), text(values[::-1], chunks)):
            expected = sum(1 for v in values if VERDICTS.get(v, True))
            given = sum(1 for v in values if v is not None)
            assert count_not_numbers(column) == (given, expected)


def test_empty_and_all_missing_columns() -> None:
    for column in (pa.chunked_array([], type=pa.string()), text([None, None])):
        values, found = read_text_numbers(column)
        assert values.type == pa.float64() and values.to_pylist() == [None] * len(column)
        assert (found.given, found.not_numbers) == (0, 0) and not found.are_numbers
        assert count_not_numbers(column) == (0, 0)


def test_flags_of_any_batch_last() -> None:
    """What one batch saw (a code, another locale's number, a width) stays seen."""
    first = TextNumbers.of(text(["00123", "1.234,5", "12345"]))
    added = TextNumbers()
    for part in (first, TextNumbers.of(text(["7.5"])), TextNumbers.of(text(["8.5"]))):
        added.add(part)
    assert added.codes and added.other_locale and added.widths == {5}


def test_the_early_exit_reads_slices_that_double() -> None:
    """4,096 names, then 8,192: 12,288 values are not numbers, more than 5% of 100,000."""
    names = [f"name {i}" for i in range(100_000)] + [None] * 7
    found = TextNumbers.of(text(names), early_exit=True)
    assert found == TextNumbers(given=100_000, not_numbers=12_288, stray=12_288)


def test_with_text_note() -> None:
    summary = {"missing_share": 0.0}
    assert with_text_note(summary, None) is summary
    note = {"not_numbers": 1, "examples": ["-"]}
    assert with_text_note(summary, note) == {"missing_share": 0.0, "numbers_from_text": note}


def test_the_early_exit_counts_from_the_first_value() -> None:
    """6 words in 100 values, the first of them first: one too many, seen in the first slice."""
    values = [f"word {i}" for i in range(6)] + ["12"] * 94
    found = TextNumbers.of(text(values), early_exit=True)
    assert found == TextNumbers(given=100, not_numbers=6, stray=6)  # no full reading
