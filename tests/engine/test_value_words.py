"""The wording of values a column could not read (engine/value_words.py)."""

from __future__ import annotations

import subprocess
import sys

from segtrail.engine.value_words import not_values, unreadable_words


def test_many_values_and_their_examples() -> None:
    assert unreadable_words(1234, ["n/a", "-"]) == (
        "1,234 values are not numbers (e.g. 'n/a', '-'): read as missing"
    )
    assert unreadable_words(2, ["soon"], "dates") == (
        "2 values are not dates (e.g. 'soon'): read as missing"
    )


def test_one_value_is_said_in_the_singular() -> None:
    assert unreadable_words(1, ["-"]) == "1 value is not a number (e.g. '-'): read as missing"
    assert unreadable_words(1, ["later"], "dates") == (
        "1 value is not a date (e.g. 'later'): read as missing"
    )


def test_the_phrase_alone_names_count_and_examples() -> None:
    assert not_values(3, ["soon", "n/a"]) == "3 values are not numbers (e.g. 'soon', 'n/a')"
    assert not_values(1, ["tbd"]) == "1 value is not a number (e.g. 'tbd')"


def test_the_plain_words_of_the_reports_import_nothing_heavy() -> None:
    """report/words.py is imported by `dataset show`, which must not load numpy or Arrow."""
    code = (
        "import sys; import segtrail.report.words; "
        "print(sorted(m for m in ('numpy', 'pyarrow', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
