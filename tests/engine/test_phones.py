"""The vectorised E.164 path against the ``phonenumbers`` library itself.

Reference: ``reference_e164`` below calls ``phonenumbers.parse`` / ``is_valid_number`` /
``format_number`` directly, one number at a time (the documented audience rule: read in the
default region, else the digits as an international number). Generated numbers start from
the library's example numbers of every region, then get digits changed, added or dropped and
are written in many shapes (E.164, international, national, digits with or without the
country code, trunk and international prefixes, punctuation).
"""

import phonenumbers
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segtrail.engine.phones import e164, e164_many

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
DEFAULTS = [
    "US",
    "GB",
    "DE",
    "FR",
    "IN",
    "BR",
    "AU",
    "RU",
    "IT",
    "CA",
    "MX",
    "JP",
    "AR",
    "NL",
    "KZ",
]
TYPES = [
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.TOLL_FREE,
    phonenumbers.PhoneNumberType.VOIP,
]


def reference_e164(text: str, region: str) -> str | None:
    """phonenumbers, called directly: the default region first, then "+" and the digits."""
    attempts = [(text, region)]
    if not text.lstrip().startswith("+"):  # (leading spaces aside)
        attempts.append(("+" + "".join(c for c in text if c.isdigit()).lstrip("0"), None))
    for candidate, default in attempts:
        try:
            number = phonenumbers.parse(candidate, default)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


EXTENSIONS = [
    " x1", "x12", " X 7", " ext. 7", " Ext 123", "ext.4", " x123456789", " x1234567890",
    " #5", ";ext=5", " ext: 5", " x", " x1#", " extension 8", "- x2",
]  # fmt: skip


@st.composite
def written_numbers(draw) -> str:
    region = draw(st.sampled_from(REGIONS))
    example = phonenumbers.example_number_for_type(region, draw(st.sampled_from(TYPES)))
    example = example or phonenumbers.example_number(region)
    if example is None:
        return draw(st.from_regex(r"\+?[0-9 ()\-.]{3,16}", fullmatch=True))
    cc = str(example.country_code)
    nsn = list(phonenumbers.national_significant_number(example))
    for _ in range(draw(st.integers(0, 2))):  # change, drop or add a digit
        at = draw(st.integers(0, len(nsn) - 1))
        action = draw(st.sampled_from(["change", "drop", "add"]))
        digit = draw(st.sampled_from("0123456789"))
        if action == "change":
            nsn[at] = digit
        elif action == "drop" and len(nsn) > 1:
            del nsn[at]
        else:
            nsn.insert(at, digit)
    national = "".join(nsn)
    cut = draw(st.integers(1, max(1, len(national) - 1)))
    spaced = f"{national[:cut]} {national[cut:]}"
    shape = draw(st.sampled_from(range(13)))
    # an extension, as exports write them (the library drops it; some are not extensions)
    extension = draw(st.sampled_from(["", "", "", *EXTENSIONS]))
    written = [
        f"+{cc}{national}",
        f"+{cc} {spaced}",
        f"+{cc} ({national[:cut]}) {national[cut:]}",
        f"{cc}{national}",
        f"0{national}",
        f"({national[:cut]}) {national[cut:]}-",
        f"00{cc} {spaced}",
        f"8{national}",
        f"{cc}.{national[:cut]}.{national[cut:]}",
        f"+{cc} (0) {spaced}",
        national,
        f"{cc} 0{spaced}",
        f"0{cc}{national}",
    ][shape]
    return written + extension


@given(st.lists(written_numbers(), min_size=1, max_size=12), st.sampled_from(DEFAULTS))
@settings(max_examples=250, deadline=None)
def test_vectorised_e164_matches_phonenumbers(values, default_region):
    """Reference: phonenumbers itself (reference_e164), value by value."""
    fast = e164_many(pa.array(values), default_region)
    assert fast.to_pylist() == [reference_e164(v, default_region) for v in values]


@given(written_numbers(), st.sampled_from(DEFAULTS))
@settings(max_examples=150, deadline=None)
def test_one_number_matches_phonenumbers(value, default_region):
    """Reference: phonenumbers itself (reference_e164)."""
    assert e164(value, default_region) == reference_e164(value, default_region)


# Written numbers that reach every branch of the vectorised path, and the shapes it leaves to
# phonenumbers. Sources: the examples of Google's libphonenumber demo and the library's own
# example numbers (phonenumbers.example_number_for_type), written in the usual ways.
FAST = [
    # "+" and the country code: codes of 1, 2 and 3 digits, spacing and punctuation
    "+1 650 555 1212",
    "+1 (650) 555-1212",
    "+1.650.555.1212",
    "+16505551212",
    "+44 20 7946 0958",
    "+44 020 7946 0958",  # the national prefix written after the country code
    "+44 7400 123456",
    "+49 30 1234567",
    "+380 50 123 4567",
    "+353 85 012 3456",
    # codes shared by several regions: the region that owns the number decides
    "+1 506-234-5678",  # CA, no leading digits
    "+1 876-523-0123",  # JM, leading digits 876
    "+1 876-000-0000",  # JM's leading digits, but no JM number
    "+44 1624 756789",  # IM, leading digits
    "+44 1481 256789",  # GG
    "+7 771 000 9998",  # KZ, leading digit 7
    "+7 912 345-67-89",  # RU
    "+39 06 6981 2345",  # VA, leading digits 06698
    "+358 18 1234567",  # AX, leading digits 18
    "+47 79 12 34 56",  # SJ
    "+212 5 28 81 23 45",  # EH or MA
    # invalid after a "+": a leading 0, too few digits, too many, a wrong number
    "+123",
    "+1 650",
    "+1 650 555 1212 1234 5678 9",
    "+1 650 555 121",
    "+44 20 7946 09581",
    "+1 13101234",  # the national prefix 1 stays: without it a local-only length is left
    "+1 310 1234",  # a local-only length that is a valid number as it is
    "310 6607",
    # a national prefix that is part of the number (+375 80...), or that is not
    "+375 801 123 4567",
    "97100600212345",
    # without "+": national formats, with the national prefix, with the country code
    "(650) 555-1212",
    "650.555.1212",
    "650-555-1212",
    "6505551212",
    "1 650 555 1212",
    "1-650-555-1212",
    "16505551212",
    "1 650 555 12121",
    "7946 0958",  # a local-only length in GB
    "020 7946 0958",
    "07400 123456",
    "44 20 7946 0958",
    "44 020 7946 0958",
    "030 1234567",
    "49 30 1234567",
    "02 1234 5678",
    "312 345 6789",
    "0 650 555 1212",
    # no "+" and not a number of the default region: the digits as an international number
    "442079460958",
    "380501234567",
    "4930123456",
]
# fast in the US only: elsewhere "00" is the international dialling prefix
FAST_US = ["0044 20 7946 0958", "000", "0000"]
SLOW = [
    "1-800-FLOWERS",  # letters
    "650-555-1212;ext=1",  # an extension the fast path does not read (RFC 3966)
    "650-555-1212;ext=1",  # the same text twice
    "+1 650 555 1212 #7",  # ("x" and "ext." extensions are read: see below)
    "555 1212 x1",  # US: an extension after a number invalid in the default region
    "011 44 20 7946 0958",  # the US international dialling prefix
    "+800 1234 5678",  # a non-geographic country code
    "+999 1234 5678",  # no such country code
    "+54 9 11 2345-6789",  # AR: a transform rule rewrites the national prefix
    "+55 11 96123 4567",
    "650+555+1212",  # a "+" that does not lead
    "555 1212",  # US: local only, and +55 (BR) has a transform rule
    "\uff0b1 650 555 1212",  # a full-width plus
    "\u0666\u0665\u0660 555 1212",  # Arabic-Indic digits
    "12",  # fewer than 3 digits
    "+1",
    "+0 650 555 1212",  # no country code starts with 0: read again in the default region
    "+0044 20 7946 0958",  # (a GB number in GB, where "00" is the international prefix)
    " +0044 20 7946 0958",
    "",
]
REGIONS_FAST = ["US", "GB", "DE", "IT", "us", "gb"]
REGIONS_SLOW = ["CA", "AR", "JP", "ZZ"]  # not main for +1, transform rules, unknown


def padded(text: str, characters: int) -> str:
    """``text`` with spaces after its first digit, to ``characters`` after any "+"."""
    plus = "+" if text.startswith("+") else ""
    body = text.removeprefix("+")
    return plus + body[0] + " " * (characters - len(body)) + body[1:]


@pytest.mark.parametrize("region", [*REGIONS_FAST, *REGIONS_SLOW, "AE", "BY"])
def test_written_numbers_match_phonenumbers(region):
    """Reference: phonenumbers itself (reference_e164), value by value; region codes are read
    in any case."""
    values = [
        *FAST,
        *FAST_US,
        *SLOW,
        None,
        padded("+1 650 555 1212", 100),
        padded("020 7946 0958", 101),
    ]
    expected = [None if v is None else reference_e164(v, region.upper()) for v in values]
    assert e164_many(pa.array(values), region).to_pylist() == expected
    # a slice of a bigger array, and the same values in chunks, as a pandas column may be
    inside = pa.array(["x", *values, "+1 650 555 1212"])[1:-1]
    assert e164_many(inside, region).to_pylist() == expected
    chunked = pa.chunked_array([values[:7], values[7:]], pa.string())
    assert e164_many(chunked, region).to_pylist() == expected


def test_empty_and_missing_values():
    assert e164_many(pa.array([], pa.string()), "US").to_pylist() == []
    assert e164_many(pa.array([None, None], pa.string()), "US").to_pylist() == [None, None]
    assert e164_many(pa.chunked_array([], pa.string()), "US").to_pylist() == []
    # an empty text last: nothing is read after the end
    got = e164_many(pa.array(["(650) 555-1212", "+1 650 555 1212", ""]), "US").to_pylist()
    assert got == ["+16505551212", "+16505551212", None]


@pytest.fixture
def parse_calls(monkeypatch):
    """The texts phonenumbers.parse is called with (it still answers)."""
    calls: list[str] = []
    parse = phonenumbers.parse

    def counting(text, region=None, *args, **kwargs):
        calls.append(text)
        return parse(text, region, *args, **kwargs)

    monkeypatch.setattr(phonenumbers, "parse", counting)
    return calls


@pytest.mark.parametrize("region", REGIONS_FAST)
def test_common_shapes_never_call_phonenumbers(region, parse_calls):
    """The speed contract (issue 14): numbers already in E.164 or written in the default
    region's national format, up to 100 characters after the "+", take no call of the
    library; the property tests above check that their answers are the library's."""
    values = [*FAST, padded("+1 650 555 1212", 100), padded("020 7946 0958", 100), None]
    values += FAST_US if region.upper() == "US" else []
    got = e164_many(pa.array(values), region).to_pylist()
    assert parse_calls == []
    assert got[:3] == ["+16505551212"] * 3


@pytest.mark.parametrize(
    ("value", "region"),
    [(v, "US") for v in SLOW if v]
    + [(padded("+1 650 555 1212", 101), "US"), (padded("020 7946 0958", 101), "GB")]
    + [("0044 20 7946 0958", "GB"), ("0000", "DE")]  # "00": the international prefix
    + [(v, r) for v in ("(506) 234-5678", "011 2345-6789", "650 555 1212") for r in REGIONS_SLOW],
)
def test_other_shapes_are_left_to_phonenumbers(value, region, parse_calls):
    """What the fast path does not model goes to the library, whose answer is kept."""
    got = e164_many(pa.array([value]), region).to_pylist()
    assert parse_calls and parse_calls[0] == value
    parse_calls.clear()
    assert got == [reference_e164(value, region)]


def test_each_distinct_text_is_left_to_phonenumbers_once(parse_calls):
    values = ["650-555-1212;ext=1", "1-800-FLOWERS", "650-555-1212;ext=1", "1-800-FLOWERS"]
    got = e164_many(pa.array(values), "US").to_pylist()
    assert sorted(parse_calls) == ["1-800-FLOWERS", "650-555-1212;ext=1"]
    assert got == ["+16505551212", "+18003569377"] * 2


@pytest.mark.parametrize("region", REGIONS_FAST)
def test_extensions_on_common_shapes_never_call_phonenumbers(region, parse_calls):
    """An "x" or "ext." extension after a number the fast path reads: the 1% of the 1M
    bench's phones with one took a second in the library."""
    values = ["+1 650 555 1212 ext. 7", "+44 20 7946 0958 x3", "+1 (650) 555-1212X12"]
    values += ["+1 650 555 121 x4"]  # too short, and written with "+": no second try
    national = {"US": "650-555-1212 x1", "GB": "020 7946 0958 Ext 42"}.get(region.upper())
    got = e164_many(pa.array([*values, *([national] if national else [])]), region)
    assert parse_calls == []
    assert got.to_pylist()[:4] == ["+16505551212", "+442079460958", "+16505551212", None]
    assert got.to_pylist()[4:] == {"US": ["+16505551212"], "GB": ["+442079460958"]}.get(
        region.upper(), []
    )


@pytest.mark.parametrize(
    "value", ["+800 1234 5678 x1", "+54 9 11 2345-6789 ext. 2", "011 44 20 7946 0958 x3"]
)
def test_an_extension_after_a_number_left_to_the_library(value, parse_calls):
    """A non-geographic code, a region with a transform rule, an international prefix: the
    number before the extension is not the fast path's, so the whole text is the library's."""
    got = e164_many(pa.array([value]), "US").to_pylist()
    assert parse_calls and parse_calls[0] == value
    parse_calls.clear()
    assert got == [reference_e164(value, "US")] and got[0] is not None


def test_unusual_text_still_gets_the_library_answer():
    """Reference: phonenumbers' documented handling of letters, extensions and prefixes."""
    values = ["1-800-FLOWERS", "+1 650 555 1212 ext. 7", "011 44 20 7946 0958", "+800 1234 5678"]
    assert e164_many(pa.array(values), "US").to_pylist() == [
        reference_e164(v, "US") for v in values
    ]
    assert e164_many(pa.array(["+1 650 555 1212 ext. 7"]), "US").to_pylist() == ["+16505551212"]


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("+1 650 555 1212", None, "+16505551212"),  # no default region needed after a "+"
        ("442079460958", None, "+442079460958"),  # nor for digits that start with one
        ("(650) 555-1212", "us", "+16505551212"),
        (" +0044 20 7946 0958", "US", None),  # a "+" is not tried again without it
        ("0044 20 7946 0958", "US", "+442079460958"),  # tried again without the zeros
    ],
)
def test_one_number(value, region, expected):
    """Reference: phonenumbers itself (reference_e164), and the values it gives."""
    assert e164(value, region) == expected == reference_e164(value, region and region.upper())
