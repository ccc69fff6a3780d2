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

from segtrail.engine import phones
from segtrail.engine.phones import e164, e164_many

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
DEFAULTS = ["US", "GB", "DE", "FR", "IN", "BR", "AU", "RU", "IT", "CA", "MX", "JP", "AR", "NL"]
TYPES = [
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.TOLL_FREE,
    phonenumbers.PhoneNumberType.VOIP,
]


def reference_e164(text: str, region: str) -> str | None:
    """phonenumbers, called directly: the default region first, then "+" and the digits."""
    attempts = [(text, region)]
    if not text.startswith("+"):
        attempts.append(("+" + "".join(c for c in text if c.isdigit()).lstrip("0"), None))
    for candidate, default in attempts:
        try:
            number = phonenumbers.parse(candidate, default)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


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
    shape = draw(st.sampled_from(range(10)))
    return [
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
    ][shape]


@given(st.lists(written_numbers(), min_size=1, max_size=12), st.sampled_from(DEFAULTS))
@settings(max_examples=400, deadline=None)
def test_vectorised_e164_matches_phonenumbers(values, default_region):
    """Reference: phonenumbers itself (reference_e164), value by value."""
    fast = e164_many(pa.array(values), default_region)
    assert fast.to_pylist() == [reference_e164(v, default_region) for v in values]


@given(written_numbers(), st.sampled_from(DEFAULTS))
@settings(max_examples=150, deadline=None)
def test_one_number_matches_phonenumbers(value, default_region):
    """Reference: phonenumbers itself (reference_e164)."""
    assert e164(value, default_region) == reference_e164(value, default_region)


@pytest.mark.parametrize(
    ("values", "region"),
    [
        (["+1 (650) 555-1212", "+44 20 7946 0958", "+49 30 1234567"], "US"),
        (["(650) 555-1212", "650.555.1212", "1 650 555 1212"], "US"),
        (["020 7946 0958", "07400 123456", "44 20 7946 0958"], "GB"),
    ],
)
def test_common_shapes_take_the_fast_path(values, region):
    """Without this the property above would also pass if everything went the slow way."""
    digits = pa.array(["".join(c for c in v if c.isdigit()) for v in values], pa.large_string())
    if values[0].startswith("+"):
        _, known = phones._international(digits)
    else:
        _, known = phones._national(digits, region)
    assert known.all()


def test_unusual_text_still_gets_the_library_answer():
    """Reference: phonenumbers' documented handling of letters, extensions and prefixes."""
    values = ["1-800-FLOWERS", "+1 650 555 1212 ext. 7", "011 44 20 7946 0958", "+800 1234 5678"]
    assert e164_many(pa.array(values), "US").to_pylist() == [
        reference_e164(v, "US") for v in values
    ]
    assert e164_many(pa.array(["+1 650 555 1212 ext. 7"]), "US").to_pylist() == ["+16505551212"]
