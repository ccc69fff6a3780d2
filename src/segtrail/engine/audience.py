"""Audience files for ad platforms: identifiers normalized, then SHA-256 hashed.

Normalization rules, as the platforms document them:

- Meta (custom audiences from a customer list, "Prepare your customer list"): email trimmed and
  lower-cased; phone as digits only with the country code, no "+", no symbols, no leading zeros
  (E.164 without the "+"). Upload schema keys: ``EMAIL``, ``PHONE`` (the Marketing API's
  customer-file schema names; Ads Manager accepts the same headers).
- Google Ads Customer Match ("Formatting guidelines" for customer data): email trimmed and
  lower-cased, and "remove all periods (.) that precede the domain name in gmail.com and
  googlemail.com email addresses"; phone in E.164 with the "+". CSV template headers: ``Email``,
  ``Phone``.

Both platforms hash with SHA-256 and expect lowercase hex. Phone numbers are parsed with the
``phonenumbers`` library (Google's libphonenumber), so national formats such as "020 7946 0958"
with a default region, trunk zeros and punctuation are handled; numbers it finds invalid are
dropped. Parsing and hashing run once per distinct value, not per row; phone numbers in the
common shapes (E.164, or national digits in the default region) are read by a vectorised
replay of the library's rules (``segtrail.engine.phones``), the rest by the library itself.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segtrail.engine.phones import e164, e164_many
from segtrail.errors import InputError

Platform = Literal["meta", "google"]
AudienceFormat = Literal["csv", "meta", "google"]

HEADERS: dict[str, dict[str, str]] = {
    "meta": {"email": "EMAIL", "phone": "PHONE"},
    "google": {"email": "Email", "phone": "Phone"},
}
_GMAIL_DOMAINS = ("gmail.com", "googlemail.com")
# Python's whitespace (str.isspace) spelled out: with "\s" pandas would match with Python's
# re one value at a time, because RE2's "\s" (pyarrow) misses most of these
_SPACE = "\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_EMAIL_PATTERN = rf"[^@{_SPACE}]+@[^@{_SPACE}]+\.[^@{_SPACE}.]+"


def normalize_email(s: Any, platform: Platform = "meta") -> str | None:
    """Trimmed, lower-cased email (Google: gmail dots removed); None if not an email."""
    value = normalize_emails(pd.Series([s]), platform).iloc[0]
    return None if pd.isna(value) else str(value)


def normalize_emails(values: pd.Series, platform: Platform = "meta") -> pd.Series:
    """Vectorized ``normalize_email``: a string Series with NA where the value is not an email."""
    text = _as_text(values)
    # matched before lower-casing, which never makes or removes an "@", a dot or a space
    text = text.where(text.str.fullmatch(_EMAIL_PATTERN).fillna(False).astype(bool)).str.lower()
    if platform == "google":
        parts = text.str.extract(r"^(?P<local>[^@]+)@(?P<domain>[^@]+)$")
        gmail = parts["domain"].isin(_GMAIL_DOMAINS)
        local = parts["local"].where(~gmail, parts["local"].str.replace(".", "", regex=False))
        text = (local + "@" + parts["domain"]).astype("string")
        # "...@gmail.com" has no local part left
        text = text.where((local.str.len() > 0).fillna(False).astype(bool))
    return text


def normalize_phone(s: Any, platform: Platform = "meta", default_region: str = "US") -> str | None:
    """Meta: E.164 digits without "+" ("16505551212"); Google: E.164 ("+16505551212").

    Numbers without a "+" are read in ``default_region``; if that gives no valid number, the
    digits are tried as an international number (country code first). Invalid: None.
    """
    text = _as_text(pd.Series([s])).iloc[0]
    if pd.isna(text):
        return None
    number = e164(str(text), default_region)
    if number is None:
        return None
    return number if platform == "google" else number[1:]


def normalize_phones(
    values: pd.Series, platform: Platform = "meta", default_region: str = "US"
) -> pd.Series:
    """Vectorized ``normalize_phone``: each distinct value once; NA where invalid.

    Common shapes go through the vectorised path of ``segtrail.engine.phones`` (same answers
    as ``phonenumbers``, ~30x faster); the rest through ``phonenumbers`` one by one.
    """
    numbers = e164_many(pa.array(_as_text(values).array), default_region)
    if platform == "meta":
        numbers = pc.utf8_slice_codeunits(numbers, 1)
    return _strings(numbers, values.index)


def sha256_hex(s: str) -> str:
    """Lowercase hex SHA-256 of the UTF-8 bytes of ``s``."""
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def hash_series(values: pd.Series) -> pd.Series:
    """``sha256_hex`` of each non-missing value, NA where the value is missing.

    DuckDB's vectorised ``sha256`` (lowercase hex of the UTF-8 bytes, as ``hashlib`` gives)
    hashes the whole column on every core, several times faster than a ``hashlib`` loop.
    """
    column = pa.table({"value": pa.array(values.astype("string").array)})
    with duckdb.connect() as con:
        digests = pa.table(con.from_arrow(column).project("sha256(value)")).column(0)
    return _strings(digests, values.index)


def _strings(array: pa.Array | pa.ChunkedArray, index: pd.Index) -> pd.Series:
    """An Arrow string array as a pandas string Series (no copy into Python objects)."""
    return pd.Series(pd.arrays.ArrowStringArray(array), index=index, dtype="string")


def build_audience_file(
    frame: pd.DataFrame,
    fmt: AudienceFormat,
    id_column: str = "customer_id",
    email_column: str = "email",
    phone_column: str = "phone",
    default_region: str = "US",
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The rows to upload, and counts of what was kept and dropped.

    ``csv``: ``id_column`` plus the email and phone columns as given (not hashed), for use
    inside the company; rows without an id are dropped. ``meta`` / ``google``: hashed
    normalized identifiers under the platform's headers (no customer ids leave the company);
    rows with neither a valid email nor a valid phone are dropped, and so are exact duplicates.
    Stats: ``rows``, ``written``, ``no_identifier``, ``invalid_email``, ``invalid_phone``,
    ``duplicates``.
    """
    if fmt not in ("csv", "meta", "google"):
        raise InputError(f"unknown audience format {fmt!r}: use csv, meta or google")
    has_email, has_phone = email_column in frame.columns, phone_column in frame.columns
    stats = {"rows": len(frame), "invalid_email": 0, "invalid_phone": 0}

    if fmt == "csv":
        if id_column not in frame.columns:
            raise InputError(f"the audience has no column {id_column}")
        keep = [id_column] + [
            c for c, ok in ((email_column, has_email), (phone_column, has_phone)) if ok
        ]
        out = frame[keep].reset_index(drop=True)
        usable = out[id_column].notna()
        identity = [id_column]
    else:
        if not (has_email or has_phone):
            raise InputError(
                f"the {fmt} format needs a column {email_column} or {phone_column} to match on"
            )
        headers = HEADERS[fmt]
        columns: dict[str, pd.Series] = {}
        if has_email:
            raw = frame[email_column].reset_index(drop=True)
            email = normalize_emails(raw, fmt)
            stats["invalid_email"] = int((_present(raw) & email.isna()).sum())
            columns[headers["email"]] = hash_series(email)
        if has_phone:
            raw = frame[phone_column].reset_index(drop=True)
            phone = normalize_phones(raw, fmt, default_region)
            stats["invalid_phone"] = int((_present(raw) & phone.isna()).sum())
            columns[headers["phone"]] = hash_series(phone)
        out = pd.DataFrame(columns)
        usable = out.notna().any(axis=1)
        identity = list(out.columns)

    out = out[usable]
    deduplicated = out.drop_duplicates(subset=identity).reset_index(drop=True)
    stats["no_identifier"] = int((~usable).sum())
    stats["duplicates"] = len(out) - len(deduplicated)
    stats["written"] = len(deduplicated)
    return deduplicated, stats


def _as_text(values: pd.Series) -> pd.Series:
    """Values as a string Series; whole floats (12345.0, as read from CSV) lose the ".0"."""
    if pd.api.types.is_float_dtype(values.dtype):
        # at or beyond 2**63 a float has no int64: left as it reads ("1e+19"), not a number
        whole = values.notna() & (values % 1 == 0) & (values.abs() < 2**63)
        text = values.astype("string")
        return text.where(~whole, values[whole].astype("Int64").astype("string"))
    text = values.astype("string").str.strip()
    return text.where(text.str.len() > 0)


def _present(values: pd.Series) -> pd.Series:
    """True where a value was given at all (not missing, not blank)."""
    return _as_text(values).notna()
