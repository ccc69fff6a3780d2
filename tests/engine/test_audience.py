import hashlib

import numpy as np
import pandas as pd
import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segtrail.engine.audience import (
    build_audience_file,
    hash_series,
    normalize_email,
    normalize_emails,
    normalize_phone,
    normalize_phones,
    sha256_hex,
)
from segtrail.errors import InputError


def reference_sha256(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def test_sha256_known_values():
    # NIST test vector for "abc", and the empty string
    assert sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert sha256_hex("test@example.com") == reference_sha256("test@example.com")


@given(st.text())
def test_sha256_is_lowercase_hex_of_utf8(s):
    """Reference: hashlib.sha256 of the UTF-8 bytes (reference_sha256)."""
    digest = sha256_hex(s)
    assert digest == reference_sha256(s)
    assert len(digest) == 64 and digest == digest.lower()


@given(st.lists(st.one_of(st.none(), st.text(max_size=80)), max_size=20))
@settings(max_examples=30, deadline=None)
def test_columns_hash_like_hashlib(values):
    """Reference: hashlib.sha256 of the UTF-8 bytes (reference_sha256), value by value; a
    missing value stays missing and the rows keep their index."""
    index = pd.RangeIndex(100, 100 + len(values))
    got = hash_series(pd.Series(values, index=index, dtype="object"))
    assert [None if pd.isna(v) else v for v in got] == [
        None if v is None else reference_sha256(v) for v in values
    ]
    assert got.index.equals(index) and got.dtype == "string"


# every character Python's str.isspace() accepts
SPACES = [chr(c) for c in range(0x110000) if chr(c).isspace()]


def test_any_whitespace_inside_an_address_makes_it_no_email():
    """Reference: reference_email below (Python's own whitespace: str.isspace, str.strip)."""
    for platform in ("meta", "google"):
        for text in ("a{}b@x.com", "ab@x{}y.com", "ab@x.c{}om", "ab@x.{}"):
            values = pd.Series([text.format(c) for c in SPACES])
            assert normalize_emails(values, platform).isna().all()
        trimmed = normalize_emails(pd.Series([f"{c}Ab@X.com{c}" for c in SPACES]), platform)
        assert trimmed.tolist() == ["ab@x.com"] * len(SPACES)


@pytest.mark.parametrize("platform", ["meta", "google"])
def test_email_trimmed_and_lowercased(platform):
    assert normalize_email(" John.Doe@Example.COM ", platform) == "john.doe@example.com"


def test_gmail_dots_removed_for_google_only():
    assert normalize_email(" John.Doe@GMail.com", "google") == "johndoe@gmail.com"
    assert normalize_email("j.o.e@googlemail.com", "google") == "joe@googlemail.com"
    assert normalize_email("John.Doe@gmail.com", "meta") == "john.doe@gmail.com"
    # only gmail domains lose dots, and never in the domain
    assert normalize_email("a.b@mail.gmail.com.au", "google") == "a.b@mail.gmail.com.au"


@pytest.mark.parametrize("value", [None, np.nan, "", "   ", "not an email", "a@b", "a b@c.com"])
def test_unusable_emails_are_none(value):
    assert normalize_email(value, "meta") is None
    assert normalize_email(value, "google") is None


def reference_email(value, platform: str) -> str | None:
    """The platforms' written rules, step by step in plain Python: trim, lower-case, one "@"
    with a non-empty local part and a dotted domain, no whitespace; Google only: drop the dots
    of the local part of gmail.com / googlemail.com addresses."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if text.count("@") != 1 or any(ch.isspace() for ch in text):
        return None
    local, domain = text.split("@")
    host, dot, top = domain.rpartition(".")
    if not local or not host or not dot or not top:
        return None
    if platform == "google" and domain in ("gmail.com", "googlemail.com"):
        local = local.replace(".", "")
        if not local:
            return None
    return f"{local}@{domain}"


EMAIL_PARTS = st.text(alphabet="aZX.@ _-+9\tÉ\xa0\u2003", max_size=6)


@given(st.lists(st.one_of(st.none(), st.builds("".join, st.lists(EMAIL_PARTS, max_size=4)))))
@settings(max_examples=300, deadline=None)
def test_emails_follow_the_written_rules(values):
    """Reference: reference_email above, a plain implementation of the platforms' rules."""
    series = pd.Series(values, dtype="object")
    for platform in ("meta", "google"):
        got = [None if pd.isna(v) else v for v in normalize_emails(series, platform)]
        assert got == [reference_email(v, platform) for v in values]


@pytest.mark.parametrize(
    ("raw", "meta", "google"),
    [
        # the example addresses of Meta's "How to format a customer list" help page
        ("username@hotmail.co.uk", "username@hotmail.co.uk", "username@hotmail.co.uk"),
        ("your.name@gmail.com", "your.name@gmail.com", "yourname@gmail.com"),
        ("myname@yahoo.com", "myname@yahoo.com", "myname@yahoo.com"),
    ],
)
def test_published_email_examples(raw, meta, google):
    """Reference: Meta's published example addresses; Google's rule that periods before
    gmail.com / googlemail.com are removed (Customer Match / enhanced conversions docs)."""
    assert normalize_email(raw, "meta") == meta
    assert normalize_email(raw, "google") == google


def test_gmail_address_of_only_dots_is_not_an_email_for_google():
    assert normalize_email("...@gmail.com", "google") is None
    assert normalize_email(".@googlemail.com", "google") is None
    assert normalize_email("...@gmail.com", "meta") == "...@gmail.com"  # Meta keeps dots
    out = normalize_emails(pd.Series(["...@gmail.com", "a.b@gmail.com"]), "google")
    assert [None if pd.isna(v) else v for v in out] == [None, "ab@gmail.com"]


@pytest.mark.parametrize(
    ("raw", "region", "meta", "google"),
    [
        ("+1 (650) 555-1212", "US", "16505551212", "+16505551212"),
        ("(650) 555-1212", "US", "16505551212", "+16505551212"),
        ("+44 20 7946 0958", "US", "442079460958", "+442079460958"),
        ("020 7946 0958", "GB", "442079460958", "+442079460958"),  # trunk zero dropped
        ("0044 20 7946 0958", "GB", "442079460958", "+442079460958"),
        ("442079460958", "US", "442079460958", "+442079460958"),  # digits with country code
        (16505551212, "US", "16505551212", "+16505551212"),
        (16505551212.0, "US", "16505551212", "+16505551212"),  # as read from a CSV
    ],
)
def test_phone_formats(raw, region, meta, google):
    assert normalize_phone(raw, "meta", region) == meta
    assert normalize_phone(raw, "google", region) == google


@pytest.mark.parametrize("value", [None, "", "123", "555-1212", "phone", np.nan])
def test_invalid_phones_are_none(value):
    assert normalize_phone(value, "meta") is None
    assert normalize_phone(value, "google") is None


@pytest.mark.parametrize(
    ("raw", "meta"),
    [
        # the example numbers of Meta's "How to format a customer list" help page
        ("1-234-567-8910", "12345678910"),
        ("12345678910", "12345678910"),
        ("+44 844 412 4653", "448444124653"),
    ],
)
def test_published_phone_examples(raw, meta):
    """Reference: Meta's published examples (digits with the country code, no "+") and
    Google's rule (E.164, with the "+")."""
    assert normalize_phone(raw, "meta") == meta
    assert normalize_phone(raw, "google") == "+" + meta


def reference_phone(value, platform: str, region: str) -> str | None:
    """phonenumbers, called directly: the default region, then "+" and the digits."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    attempts = [(text, region)]
    if not text.startswith("+"):
        attempts.append(("+" + "".join(c for c in text if c.isdigit()).lstrip("0"), None))
    for candidate, default in attempts:
        try:
            number = phonenumbers.parse(candidate, default)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            return e164 if platform == "google" else e164[1:]
    return None


PHONES = [
    "+1 (650) 555-1212",
    None,
    "123",
    "+44 20 7946 0958",
    "020 7946 0958",
    "(650) 555-1212",
    "1-800-FLOWERS",
    "  ",
    "+49 30 1234567",
    "0044 20 7946 0958",
]


@given(st.lists(st.sampled_from(PHONES), max_size=12), st.sampled_from(["US", "GB", "DE"]))
@settings(max_examples=60, deadline=None)
def test_phone_columns_follow_phonenumbers(values, region):
    """Reference: reference_phone above (phonenumbers itself, value by value)."""
    for platform in ("meta", "google"):
        got = normalize_phones(pd.Series(values, dtype="object"), platform, region)
        assert [None if pd.isna(v) else v for v in got] == [
            reference_phone(v, platform, region) for v in values
        ]


def customers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4, 5, 6],
            "email": [" Ann.Lee@GMail.com", "ann.lee@gmail.com", None, "broken", "bo@x.org", ""],
            "phone": ["+1 650 555 1212", "+1 650 555 1212", "+44 20 7946 0958", "12", None, None],
        }
    )


def test_meta_file_hashes_normalized_identifiers():
    out, stats = build_audience_file(customers(), "meta")
    assert list(out.columns) == ["EMAIL", "PHONE"]
    emails = [None if pd.isna(v) else v for v in out["EMAIL"]]
    phones = [None if pd.isna(v) else v for v in out["PHONE"]]
    assert emails == [
        reference_sha256("ann.lee@gmail.com"),
        None,
        reference_sha256("bo@x.org"),
    ]
    assert phones == [reference_sha256("16505551212"), reference_sha256("442079460958"), None]
    # rows 1 and 2 are the same person under Meta's rules; rows 4 and 6 have nothing usable
    assert stats == {
        "rows": 6,
        "written": 3,
        "no_identifier": 2,
        "invalid_email": 1,
        "invalid_phone": 1,
        "duplicates": 1,
    }


def test_google_file_uses_customer_match_rules():
    out, stats = build_audience_file(customers(), "google")
    assert list(out.columns) == ["Email", "Phone"]
    assert out["Email"].iloc[0] == reference_sha256("annlee@gmail.com")
    assert out["Phone"].iloc[0] == reference_sha256("+16505551212")
    assert out["Phone"].iloc[1] == reference_sha256("+442079460958")
    assert stats["written"] == 3 and stats["no_identifier"] == 2
    assert not out.isna().all(axis=1).any()


def test_csv_file_keeps_ids_and_raw_identifiers():
    frame = customers()
    out, stats = build_audience_file(frame, "csv")
    assert list(out.columns) == ["customer_id", "email", "phone"]
    assert out["customer_id"].tolist() == [1, 2, 3, 4, 5, 6]
    assert out["email"].iloc[0] == " Ann.Lee@GMail.com"  # not normalized, not hashed
    assert stats["written"] == 6 and stats["no_identifier"] == 0

    out, _ = build_audience_file(frame[["customer_id"]], "csv")
    assert list(out.columns) == ["customer_id"]


def test_missing_columns_raise():
    with pytest.raises(InputError, match="email or phone"):
        build_audience_file(pd.DataFrame({"customer_id": [1]}), "google")
    with pytest.raises(InputError, match="account"):
        build_audience_file(pd.DataFrame({"email": ["a@b.com"]}), "csv", id_column="account")
    with pytest.raises(InputError, match="format"):
        build_audience_file(customers(), "tiktok")


def test_defaults_are_meta_rules_and_us_numbers():
    assert normalize_email("A.B@Gmail.com") == "a.b@gmail.com"  # Meta keeps gmail dots
    assert normalize_phone("(650) 555-1212") == "16505551212"
    assert list(normalize_emails(pd.Series(["A.B@Gmail.com"]))) == ["a.b@gmail.com"]
    assert list(normalize_phones(pd.Series(["(650) 555-1212"]))) == ["16505551212"]
    out, _ = build_audience_file(pd.DataFrame({"phone": ["(650) 555-1212"]}), "meta")
    assert out["PHONE"].tolist() == [reference_sha256("16505551212")]


def test_results_keep_the_rows_index():
    values = pd.Series(["(650) 555-1212", None], index=[10, 20])
    assert normalize_phones(values).index.tolist() == [10, 20]
    assert hash_series(pd.Series(["a", None], index=[7, 3])).index.tolist() == [7, 3]
    hashed = hash_series(pd.Series(["a", None], index=[7, 3]))
    assert hashed.iloc[0] == reference_sha256("a") and pd.isna(hashed.iloc[1])


def test_one_column_files_and_their_counts():
    only_phones = pd.DataFrame({"phone": ["+1 650 555 1212", "7", None]})
    out, stats = build_audience_file(only_phones, "google")
    assert list(out.columns) == ["Phone"]
    assert (stats["invalid_phone"], stats["invalid_email"], stats["written"]) == (1, 0, 1)
    only_emails = pd.DataFrame({"email": ["a@b.com", "x"]})
    out, stats = build_audience_file(only_emails, "meta")
    assert list(out.columns) == ["EMAIL"]
    assert (stats["invalid_email"], stats["invalid_phone"], stats["written"]) == (1, 0, 1)


def test_csv_file_drops_repeated_ids_only():
    frame = pd.DataFrame({"customer_id": [1, 1, 2], "email": ["a@b.com", "c@d.com", "a@b.com"]})
    out, stats = build_audience_file(frame, "csv")
    assert out["customer_id"].tolist() == [1, 2] and stats["duplicates"] == 1


def test_phone_numbers_read_from_floats():
    got = normalize_phones(pd.Series([16505551213.0, 12.5, np.nan]))  # "12.5" is no number
    assert [None if pd.isna(v) else v for v in got] == ["16505551213", None, None]


def test_floats_too_large_for_an_integer_are_invalid_not_a_crash():
    """A CSV column of long numbers read as floats: beyond int64 there is no phone number
    (the longest E.164 number has 15 digits), so they count as invalid instead of stopping
    the whole file with a TypeError. 2**63 is the first float with no int64."""
    values = pd.Series([1e19, 2.0**63, -(2.0**63), 16505551213.0, np.nan])
    got = normalize_phones(values)
    assert [None if pd.isna(v) else v for v in got] == [None, None, None, "16505551213", None]
    out, stats = build_audience_file(pd.DataFrame({"phone": values}), "meta")
    assert out["PHONE"].tolist() == [reference_sha256("16505551213")]
    assert (stats["invalid_phone"], stats["no_identifier"]) == (3, 4)


def test_a_region_code_in_lower_case_reads_like_upper_case_on_both_paths():
    """ "gb" is "GB" whether a number takes the vectorised path or phonenumbers itself (with
    an extension it does); before, only the vectorised path read it. Reference:
    reference_phone above with "GB"."""
    values = ["020 7946 0958", "020 7946 0958 x1", "(650) 555-1212"]
    for platform in ("meta", "google"):
        expected = [reference_phone(v, platform, "GB") for v in values]
        assert expected[0] == expected[1] is not None
        got = normalize_phones(pd.Series(values), platform, "gb")
        assert [None if pd.isna(v) else v for v in got] == expected
        assert [normalize_phone(v, platform, "gb") for v in values] == expected


def test_the_file_reads_national_numbers_in_its_default_region():
    frame = pd.DataFrame({"phone": ["020 7946 0958", "(650) 555-1212"]})
    out, stats = build_audience_file(frame, "google", default_region="GB")
    assert out["Phone"].tolist() == [reference_sha256("+442079460958")]
    assert stats["invalid_phone"] == 1  # a US national number is no GB number
    out, _ = build_audience_file(frame, "google")  # US by default
    assert out["Phone"].tolist() == [reference_sha256("+16505551212")]


@pytest.mark.parametrize("local", ["a", "a.", ".a."])
def test_a_gmail_local_part_of_one_character_is_kept(local):
    """Google removes the dots; one character that is left is a local part all the same."""
    assert normalize_email(f"{local}@gmail.com", "google") == "a@gmail.com"
    assert normalize_email(f"{local}@gmail.com", "meta") == f"{local}@gmail.com"
