"""Phone numbers to E.164, many at once: a vectorised fast path, ``phonenumbers`` for the rest.

``e164`` reads one number the way the audience export always has: ``phonenumbers.parse``
in the default region, keeping the result only if ``is_valid_number``; if that fails and the
text has no "+", its digits (leading zeros dropped) are read as an international number.

``e164_many`` gives the same answers for a whole column without a Python call per value for
the common shapes: text made only of digits, spaces, dots, dashes and parentheses, with an
optional leading "+". For those it replays, over arrays, the steps of libphonenumber's
``parse`` and ``is_valid_number`` that such text can reach (country code, the default
country code written without "+", national prefix, length checks, the per-region number
patterns and, for codes shared by several regions, the region that owns the number), using
the library's own metadata, with RE2 (pyarrow) for the patterns (libphonenumber's patterns are
written for RE2). Anything it does not model goes to ``e164``: other characters (letters,
extensions, unicode digits), an international dialling prefix such as "00" or "011", a
country code that is unknown or not geographic (or digits after the "+" that start with 0),
regions whose national prefix is rewritten by a transform rule, and a default region that is
not the main region of its country code.
tests/engine/test_phones.py checks the two paths against ``phonenumbers`` on generated numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

_MAX_SHAPED = 100  # characters after the "+" that the fast path reads (libphonenumber: 250)
_PUNCTUATION = np.zeros(256, dtype=bool)  # by byte: what may stand between the digits
_PUNCTUATION[list(b" ().-")] = True
_NOTHING = pa.scalar("", pa.large_string())  # what joins "+<country code>" to the digits
_MIN_NSN = 2  # libphonenumber: this many digits or fewer after a "+" are an error
# A number and an extension the library strips (its "x" and "ext." labels, case aside; the
# number must end with a digit: what stands before the label is then the library's number)
_EXTENSION = r"(?i)^(?P<number>.*?[0-9])[ \t]*(?:x|ext\.?)[ \t]*[0-9]{1,9}$"
_COUNTRY_CODES = pa.array([str(c) for c in COUNTRY_CODE_TO_REGION_CODE])
# the length checks after which parse keeps the national prefix
_KEEP_PREFIX = ["too short", "local only", "invalid"]
_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)


def e164(text: str, default_region: str | None) -> str | None:
    """One number in E.164 ("+16505551212"), or None when ``phonenumbers`` finds it invalid."""
    # phonenumbers knows only upper-case region codes; the fast path reads them in any case
    region = default_region.upper() if default_region else default_region
    candidates = [(text, region)]
    if not text.lstrip().startswith("+"):
        digits = "".join(ch for ch in text if ch.isdigit()).lstrip("0")
        candidates.append(("+" + digits, None))
    for candidate, region in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def e164_many(values: pa.Array | pa.ChunkedArray, default_region: str) -> pa.Array:
    """``e164`` of each string of an Arrow string array: null where invalid or missing."""
    text = values.cast(pa.large_string())
    if isinstance(text, pa.ChunkedArray):  # a pandas column may come in chunks
        text = text.combine_chunks()
    out, done = _fast(text, default_region, retry=True)

    # a number with an extension ("650-555-1212 x1", "+1 650 555 1212 ext. 7"): the library
    # drops the extension; the fast path reads the number before it, and answers where the
    # library would not go on to read all the digits, the extension's too, as an
    # international number (a valid number, or one written with "+")
    given = np.asarray(pc.is_valid(text))
    maybe = np.flatnonzero(~done & given)
    found = pc.extract_regex(text.take(maybe), _EXTENSION)
    hit = np.asarray(pc.is_valid(found))
    if hit.any():
        numbers = pc.struct_field(found.filter(pa.array(hit)), [0])
        answers, known = _fast(numbers, default_region, retry=False)
        idx = maybe[hit][known]
        out = _put(out, idx, answers.filter(pa.array(known)))
        done[idx] = True

    # the rest, each distinct text once, by phonenumbers itself
    slow = np.flatnonzero(~done & given)
    rest = text.take(slow).to_pylist()
    answers = {value: e164(value, default_region) for value in set(rest)}
    return _put(out, slow, pa.array([answers[v] for v in rest], pa.large_string()))


def _fast(text: pa.Array, default_region: str, retry: bool) -> tuple[pa.Array, np.ndarray]:
    """The fast path's E.164 of each text (null where invalid), and where it could answer.
    A text without "+" that is invalid in the default region is read again, its digits as
    an international number (``e164``'s second try); without ``retry`` it is left
    unanswered, for the library (an extension's digits would count in that second try)."""
    out = pa.nulls(len(text), pa.large_string())
    digits, shaped, plus = _scan(text)
    done = np.zeros(len(text), dtype=bool)  # answered by the fast path (valid or not)

    # "+": the country code is written; without "+": read in the default region
    for mask, international in ((shaped & plus, True), (shaped & ~plus, False)):
        idx = np.flatnonzero(mask)
        part = digits.take(idx)
        result, known = _international(part) if international else _national(part, default_region)
        out = _put(out, idx, result)
        done[idx] = known
    # no "+" and invalid in the default region: the digits as an international number
    second = done & ~plus & ~np.asarray(pc.is_valid(out))
    if not retry:
        return out, done & ~second
    again = np.flatnonzero(second)
    stripped = pc.utf8_ltrim(digits.take(again), characters="0")
    result, known = _international(stripped)
    out = _put(out, again, result)
    done[again] = known
    return out, done


def _scan(text: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """The digits of each string, whether it has a shape the fast path reads (only digits,
    spaces, dots, dashes and parentheses after an optional leading "+", at most
    ``_MAX_SHAPED`` of them, and at least 3 digits: libphonenumber reads fewer only when they
    stand alone), and whether it starts with "+". One pass over the UTF-8 bytes with numpy."""
    text = text.fill_null("")
    offsets = np.frombuffer(text.buffers()[1], np.int64)[text.offset : text.offset + len(text) + 1]
    data = np.frombuffer(text.buffers()[2], np.uint8)[offsets[0] : offsets[-1]]
    offsets = offsets - offsets[0]
    is_digit = (data >= ord("0")) & (data <= ord("9"))
    counted = _running(is_digit)[offsets]  # digits before each start: the digits' offsets
    n_bytes = np.diff(offsets)
    plus = n_bytes > 0
    plus[plus] = data[offsets[:-1][plus]] == ord("+")
    odd = np.diff(_running(~_PUNCTUATION[data] & ~is_digit)[offsets])  # a leading "+" is one
    shaped = (odd == plus) & (n_bytes - plus <= _MAX_SHAPED) & (np.diff(counted) >= 3)
    digits = pa.LargeStringArray.from_buffers(
        len(text), pa.py_buffer(counted), pa.py_buffer(data[is_digit])
    )
    return digits, shaped, plus


def _running(mask: np.ndarray) -> np.ndarray:
    """How many of ``mask`` are true before each position, and in all (one more entry)."""
    total = np.zeros(len(mask) + 1, dtype=np.int64)
    np.cumsum(mask, out=total[1:])
    return total


def _put(out: pa.Array, idx: np.ndarray, values: pa.Array) -> pa.Array:
    """``out`` with ``values`` at the ascending positions ``idx``."""
    mask = np.zeros(len(out), dtype=bool)
    mask[idx] = True
    return pc.replace_with_mask(out, pa.array(mask), values)


# the fast path


@dataclass(frozen=True)
class _Desc:
    pattern: str
    lengths: tuple[int, ...]


@dataclass(frozen=True)
class _Region:
    code: str
    country_code: int
    general: _Desc
    local_lengths: tuple[int, ...]
    types: tuple[_Desc, ...]
    leading_digits: str | None
    national_prefix: str | None  # pattern matched at the start, None if the region has none
    modelled: bool  # False: a transform rule rewrites the national prefix (slow path)
    international_prefix: str | None


@cache
def _region(code: str) -> _Region:
    meta = PhoneMetadata.metadata_for_region(code, None)

    def desc(d) -> _Desc:
        return _Desc(d.national_number_pattern, tuple(d.possible_length or ()))

    prefix = meta.national_prefix_for_parsing or None
    return _Region(
        code=code,
        country_code=meta.country_code,
        general=desc(meta.general_desc),
        local_lengths=tuple(meta.general_desc.possible_length_local_only or ()),
        # libphonenumber looks at the mobile pattern only when it differs from fixed line
        # a type without a pattern matches nothing (every region has a general pattern)
        types=tuple(
            desc(getattr(meta, name))
            for name in _TYPES
            if getattr(meta, name) is not None and getattr(meta, name).national_number_pattern
            if not (name == "mobile" and meta.same_mobile_and_fixed_line_pattern)
        ),
        leading_digits=meta.leading_digits,
        national_prefix=prefix,
        modelled=not meta.national_prefix_transform_rule,
        international_prefix=meta.international_prefix,
    )


@cache
def _main_region(country_code: int) -> _Region | None:
    regions = COUNTRY_CODE_TO_REGION_CODE.get(country_code, ())
    if not regions or regions[0] == "001":  # non-geographic codes: slow path
        return None
    return _region(regions[0])


def _international(digits: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Digits after a "+": E.164 (or null) and whether the fast path could answer."""
    out = pa.nulls(len(digits), pa.large_string())
    known = np.zeros(len(digits), dtype=bool)
    # libphonenumber: too short after the "+" is an error (invalid). No country code starts
    # with 0: such digits, like unknown codes, are read again in the default region after
    # all ("+0044 ..." is a GB number in GB), which the slow path does
    invalid = _lengths(digits) <= _MIN_NSN
    known[invalid] = True
    code = np.zeros(len(digits), dtype=np.int64)
    for width in (1, 2, 3):  # the shortest known code wins, as in libphonenumber
        head = pc.utf8_slice_codeunits(digits, 0, width)
        ok = np.asarray(pc.is_in(head, value_set=_COUNTRY_CODES)) & ~invalid & (code == 0)
        if ok.any():
            code[ok] = pc.cast(head.filter(pa.array(ok)), pa.int64()).to_numpy()
    for cc in np.unique(code[code > 0]):
        region = _main_region(int(cc))
        if region is None or not region.modelled:
            continue
        idx = np.flatnonzero(code == cc)
        national = pc.utf8_slice_codeunits(digits.take(idx), len(str(cc)))
        out = _put(out, idx, _finish(national, region))
        known[idx] = True
    return out, known


def _national(digits: pa.Array, default_region: str) -> tuple[pa.Array, np.ndarray]:
    """Digits without "+", read in ``default_region`` (as ``phonenumbers.parse`` does)."""
    out = pa.nulls(len(digits), pa.large_string())
    known = np.zeros(len(digits), dtype=bool)
    region = _region(default_region.upper()) if _known_region(default_region) else None
    if region is None or not region.modelled or _main_region(region.country_code) != region:
        return out, known
    # an international dialling prefix ("011", "00") takes another route: slow path
    ok = np.flatnonzero(~_starts(digits, region.international_prefix))
    digits = digits.take(ok)
    cc = str(region.country_code)
    # the default region's country code written without "+" ("1 650 ..." in the US)
    with_code = np.asarray(pc.starts_with(digits, cc))
    if with_code.any():
        full = digits.filter(pa.array(with_code))
        rest = _strip_national_prefix(pc.utf8_slice_codeunits(full, len(cc)), region)
        drop = (~_matches(full, region.general) & _matches(rest, region.general)) | (
            _length_check(full, region) == "too long"
        )
        replace = np.zeros(len(digits), dtype=bool)
        replace[np.flatnonzero(with_code)[drop]] = True
        digits = pc.replace_with_mask(digits, pa.array(replace), rest.filter(pa.array(drop)))
    out = _put(out, ok, _finish(digits, region))
    known[ok] = True
    return out, known


def _known_region(code: str) -> bool:
    return PhoneMetadata.metadata_for_region(code.upper(), None) is not None


def _finish(national: pa.Array, region: _Region) -> pa.Array:
    """From the digits after the country code to E.164 (null if invalid): national prefix,
    then validity."""
    # libphonenumber: the national prefix goes if what is left has a possible length. (It
    # also rejects fewer than 2 digits or more than 17 as errors; no region has a possible
    # length outside 4..17, so validity rejects those here.)
    stripped = _strip_national_prefix(national, region)
    take = ~np.isin(_length_check(stripped, region), _KEEP_PREFIX)
    national = pc.if_else(pa.array(take), stripped, national)
    valid = _valid(national, region.country_code)
    code = pa.scalar(f"+{region.country_code}", pa.large_string())
    numbers = pc.binary_join_element_wise(code, national.filter(valid), _NOTHING)
    return _put(pa.nulls(len(national), pa.large_string()), np.flatnonzero(valid), numbers)


def _strip_national_prefix(national: pa.Array, region: _Region) -> pa.Array:
    """libphonenumber's national prefix stripping (regions without a transform rule)."""
    if region.national_prefix is None:
        return national
    matched = _starts(national, region.national_prefix)
    if not matched.any():
        return national
    # anchored at the start: replaced once at most
    rest = pc.replace_substring_regex(national, f"^(?:{region.national_prefix})", "")
    # a number that fits the region as it is, and would not without the prefix, keeps it
    keep = _matches(national, region.general) & ~_matches(rest, region.general)
    return pc.if_else(pa.array(matched & ~keep), rest, national)


def _length_check(national: np.ndarray, region: _Region) -> np.ndarray:
    """libphonenumber's ``_test_number_length`` for an unknown number type, as words."""
    lengths = region.general.lengths
    out = np.full(len(national), "possible", dtype=object)
    n = _lengths(national)
    out[~np.isin(n, lengths[1:])] = "invalid"
    out[n > lengths[-1]] = "too long"
    out[n < lengths[0]] = "too short"
    out[n == lengths[0]] = "possible"
    out[np.isin(n, region.local_lengths)] = "local only"
    return out


def _valid(national: pa.Array, country_code: int) -> np.ndarray:
    """``is_valid_number`` for +country_code: the owning region's patterns accept it."""
    regions = [_region(r) for r in COUNTRY_CODE_TO_REGION_CODE[country_code] if _known_region(r)]
    if len(regions) == 1:
        return _of_some_type(national, regions[0])
    valid = np.zeros(len(national), dtype=bool)
    open_ = np.ones(len(national), dtype=bool)  # not yet given a region
    for region in regions:
        idx = np.flatnonzero(open_)
        if idx.size == 0:
            break
        part = national.take(idx)
        if region.leading_digits is not None:
            owned = _starts(part, region.leading_digits)
            valid[idx[owned]] = _of_some_type(part.filter(pa.array(owned)), region)
        else:
            owned = _of_some_type(part, region)
            valid[idx[owned]] = True
        open_[idx[owned]] = False
    return valid


def _of_some_type(national: pa.Array, region: _Region) -> np.ndarray:
    """libphonenumber's number type is not UNKNOWN: fits the region and one of its types."""
    ok = _fits(national, region.general)
    any_type = np.zeros(len(national), dtype=bool)
    for desc in region.types:
        todo = ok & ~any_type
        if not todo.any():
            break
        any_type[todo] = _fits(national.filter(pa.array(todo)), desc)
    return ok & any_type


def _fits(national: pa.Array, desc: _Desc) -> np.ndarray:
    """The desc's possible lengths (if any) and its whole pattern."""
    ok = _matches(national, desc)
    if desc.lengths:
        ok &= np.isin(_lengths(national), desc.lengths)
    return ok


def _matches(national: pa.Array, desc: _Desc) -> np.ndarray:
    """The whole string matches the desc's national number pattern."""
    return np.asarray(pc.match_substring_regex(national, f"^(?:{desc.pattern})$"))


def _starts(national: pa.Array, pattern: str) -> np.ndarray:
    """A prefix of the string matches ``pattern`` (Python's ``re.match``)."""
    return np.asarray(pc.match_substring_regex(national, f"^(?:{pattern})"))


def _lengths(array: pa.Array) -> np.ndarray:
    return np.asarray(pc.utf8_length(array))
