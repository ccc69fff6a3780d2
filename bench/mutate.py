"""`make mutate`: mutation score of each engine/ and store/ module against its own tests.

Runs mutmut 3 once per module, each in its own scratch folder (bench/.mutants/<module>/) whose
generated pyproject.toml mutates only that module and selects only that module's own test
files, so one module can be measured alone (`make mutate MODULES=engine/carry.py`) and a
mutant counts as killed only if the tests written for its module notice it. mutmut forks one
process per mutant from a pytest session that has already imported everything, and runs only
the tests that reach the mutated function; each mutant gets a timeout of
(its tests' clean time + TIMEOUT_CONSTANT) x TIMEOUT_MULTIPLIER seconds and a timeout counts
as killed (an infinite loop is noticed).

Prints the score per module and every surviving mutant (as a diff), and replaces the
"mutation" section of bench/RESULTS.md, keeping the rows of modules not re-run.
Equivalent mutants (no test can tell them apart from the original) are listed in
EQUIVALENT with a one-line reason each and left out of the score.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PACKAGE = ROOT / "src" / "segtrail"
WORK = HERE / ".mutants"
RESULTS = HERE / "RESULTS.md"
MUTMUT = Path(sys.executable).parent / "mutmut"
SECTION = "mutation"
COMMAND = (
    "make mutate  # or: make mutate MODULES='engine/carry.py engine/diff.py' [MUTATE_ARGS=--resume]"
)

TIMEOUT_MULTIPLIER = 5.0
TIMEOUT_CONSTANT = 2.0

# A module's own tests, where they are not simply tests/<layer>/test_<module>.py.
OWN_TESTS: dict[str, list[str]] = {
    "store/objects.py": ["tests/store/test_store.py", "tests/store/test_objects.py"],
    "engine/algorithms/params.py": ["tests/engine/test_params.py"],
    "engine/algorithms/__init__.py": ["tests/engine/test_registry.py"],
    # the object store tests run every primitive on a file:// and a memory:// fsspec store too
    "store/shared_objects.py": [
        "tests/store/test_store.py",
        "tests/store/test_objects.py",
        "tests/store/test_shared_objects.py",
    ],
    # Plans are written and read back through the services (the concurrency tests run their
    # writers in subprocesses, which import the package unmutated, so they cannot count).
    "store/plans.py": ["tests/services/test_thread.py", "tests/services/test_timeline.py"],
    "store/schema.py": ["tests/store/test_migrations.py"],
    # named apart from tests/services/test_designs.py: two test files of one name in folders
    # without __init__.py cannot be collected in one pytest run
    "store/designs.py": ["tests/store/test_store_designs.py"],
    # tests/engine/test_algorithms.py fits every algorithm (minutes per mutant under load):
    # each algorithm module has a focused file of small fits of its own
    "engine/algorithms/base.py": ["tests/engine/test_algo_base.py"],
    "engine/algorithms/kmeans.py": ["tests/engine/test_algo_kmeans.py"],
    "engine/algorithms/gmm.py": ["tests/engine/test_algo_gmm.py"],
    "engine/algorithms/bisecting.py": ["tests/engine/test_algo_bisecting.py"],
    "engine/algorithms/agglomerative.py": ["tests/engine/test_algo_agglomerative.py"],
    "engine/algorithms/lca.py": ["tests/engine/test_lca.py", "tests/engine/test_algo_lca.py"],
}
ALGORITHM_TESTS = ["tests/engine/test_algorithms.py"]

# Equivalent mutants: module -> {the mutant's diff as printed: why no test can tell}.
# Keyed by the diff, not mutmut's numbered name, which shifts when a function changes.
_US = 'str = "US"'
_MATCHED = (
    "text = text.where(text.str.fullmatch(_EMAIL_PATTERN).fillna(False).astype(bool)).str.lower()"
)
_INT64 = (
    "np.array of Python ints is int64 already on 64-bit Linux (and empty ones are never indexed)"
)
_SNAPPY = (
    'table, sink, compression="snappy", use_dictionary=True if dictionary is None else dictionary'
)
_STREAM = 'for block in iter(lambda: f.read(CHUNK), b""):'
_MKDIR = "target.parent.mkdir(parents=True, exist_ok=True)"
_EXTRA = "extra = f.read(1)  # grew since fstat: hash it too, so the mismatch shows"
EQUIVALENT: dict[str, dict[str, str]] = {
    "engine/audience.py": {
        'return text.where(~whole, values[whole].astype("Int64").astype("string")) / '
        'return text.where(~whole, values[whole].astype("int64").astype("string"))': (
            "values[whole] holds only whole floats below 2**63 in size: int64 and Int64 print "
            "them alike"
        ),
        'return hashlib.sha256(s.encode("utf-8")).hexdigest() / '
        'return hashlib.sha256(s.encode("UTF-8")).hexdigest()': "codec names are case-insensitive",
        'digests = pa.table(con.from_arrow(column).project("sha256(value)")).column(0) / '
        'digests = pa.table(con.from_arrow(column).project("SHA256(VALUE)")).column(0)': (
            "DuckDB reads function and column names in any case"
        ),
        'column = pa.table({"value": pa.array(values.astype("string").array)}) / '
        'column = pa.table({"VALUE": pa.array(values.astype("string").array)})': (
            "DuckDB reads column names in any case"
        ),
        **{
            'return pd.Series(pd.arrays.ArrowStringArray(array), index=index, dtype="string") / '
            f"return pd.Series(pd.arrays.ArrowStringArray(array), index=index, {change})": (
                "an ArrowStringArray is of the string dtype already"
            )
            for change in ("dtype=None", "")
        },
        **{
            f"{head}{tail} / {head.replace('meta', other)}{tail}": (
                'only "google" changes the rules: any other platform is read as Meta\'s'
            )
            for head, tail in (
                ('def normalize_email(s: Any, platform: Platform = "meta"', ") -> str | None:"),
                (
                    'def normalize_emails(values: pd.Series, platform: Platform = "meta"',
                    ") -> pd.Series:",
                ),
                (
                    'def normalize_phone(s: Any, platform: Platform = "meta"',
                    ', default_region: str = "US") -> str | None:',
                ),
            )
            for other in ("XXmetaXX", "META")
        },
        f"{_MATCHED} / {_MATCHED.replace('False', 'True')}": (
            "the match is NA only where the text is NA, which where() keeps NA either way"
        ),
        **{
            'local = parts["local"].where(~gmail, parts["local"].str.replace(".", "", '
            'regex=False)) / local = parts["local"].where(~gmail, parts["local"].str.replace('
            f'".", "", {change}))': "pandas reads regex None or omitted as False (a literal dot)"
            for change in ("regex=None", "")
        },
        "text = text.where((local.str.len() > 0).fillna(False).astype(bool)) / "
        "text = text.where((local.str.len() > 0).fillna(True).astype(bool))": (
            "local is NA only where the text is NA, which where() keeps NA either way"
        ),
        **{
            f"{line} / {line.replace(_US, _US.lower())}": (
                "region codes are read in any case (upper-cased before use)"
            )
            for line in (
                'default_region: str = "US",',
                'values: pd.Series, platform: Platform = "meta", default_region: str = "US"',
                'def normalize_phone(s: Any, platform: Platform = "meta", default_region: str = '
                '"US") -> str | None:',
            )
        },
        "identity = list(out.columns) / identity = None": (
            "out holds exactly the identifier columns, and subset=None means all of them"
        ),
    },
    "engine/phones.py": {
        'digits = "".join(ch for ch in text if ch.isdigit()).lstrip("0") / '
        'digits = "".join(ch for ch in text if ch.isdigit()).lstrip("XX0XX")': (
            "the digits hold no X: stripping X as well strips the same zeros"
        ),
        'stripped = pc.utf8_ltrim(digits.take(retry), characters="0") / '
        'stripped = pc.utf8_ltrim(digits.take(retry), characters="XX0XX")': (
            "the digits hold no X: stripping X as well strips the same zeros"
        ),
        'candidates.append(("+" + digits, None)) / candidates.append(("XX+XX" + digits, None))': (
            "phonenumbers drops what stands before the first plus or digit, and fewer than 3 "
            "letters after it (_extract_possible_number, _normalize)"
        ),
        "take = usable & ~np.isin(_length_check(stripped, region), _KEEP_PREFIX) / "
        "take = usable | ~np.isin(_length_check(stripped, region), _KEEP_PREFIX)": (
            "a national number under 2 digits stays under 2 with or without its prefix, and the "
            "length check below drops it either way"
        ),
        "usable &= (length >= _MIN_NSN) & (length <= _MAX_NSN) / "
        "usable = (length >= _MIN_NSN) & (length <= _MAX_NSN)": (
            "the prefix step only shortens a number, so one under 2 digits before it is still "
            "under 2 here"
        ),
        'out = np.full(len(national), "possible", dtype=object) / '
        "out = np.full(len(national), None, dtype=object)": (
            'callers read only membership in _KEEP_PREFIX and "too long": a length left '
            'unlabelled reads as "possible" either way'
        ),
        **{
            "open_ = np.ones(len(national), dtype=bool)  # not yet given a region / "
            f"open_ = np.ones(len(national), {change})  # not yet given a region": (
                "open_ is only read by np.flatnonzero, which reads float ones and zeros as it "
                "reads booleans"
            )
            for change in ("dtype=None", "")
        },
        "usable = _lengths(national) >= _MIN_NSN / usable = _lengths(national) > _MIN_NSN": (
            "no region has a possible length under 4 (AT: 4), so a national number of 2 digits "
            "is invalid either way"
        ),
    },
    "engine/carry.py": {
        f'{name}np.array([s["{key}"] for s in diff["{side}"]], dtype=np.int64){end} / '
        f'{name}np.array([s["{key}"] for s in diff["{side}"]], {change}){end}': _INT64
        for name, key, side, end in (
            ("a_values = ", "segment", "segments_a", ""),
            ("b_values = ", "segment", "segments_b", ""),
            ("", "size", "segments_a", ","),
            ("", "size", "segments_b", ","),
        )
        for change in ("dtype=None", "")
    },
    "engine/diff.py": {
        **{
            f"{name} = eligible & (row > 0) & (row >= {share} * total) / "
            f"{name} = eligible & (row >= 0) & (row >= {share} * total)": (
                "with common customers, row >= a share of them already means row > 0; a segment "
                "without any has no best match and no target, so it vanished before this"
            )
            for name, share in (("substantial", "SHARE"), ("main", "MAIN"))
        },
        "return eligible & (row > 0) & ((row >= SHARE * total) | (part >= self.min_jaccard)) / "
        "return eligible & (row >= 0) & ((row >= SHARE * total) | (part >= self.min_jaccard))": (
            "total > 0 here (an empty row returns early) and min_jaccard > 0, so a 0 in the row "
            "meets neither threshold"
        ),
        **{
            f"{line} / {line.replace(old, new)}": (
                "any negative reads as no match (best < 0, j >= 0), and an int fill is int64, "
                "which is intp on 64-bit Linux"
            )
            for line, old, new in (
                ("return np.full(jac.shape[0], -1, dtype=np.intp)", "-1", "-2"),
                ("return np.full(jac.shape[0], -1, dtype=np.intp)", "dtype=np.intp", "dtype=None"),
                ("return np.full(jac.shape[0], -1, dtype=np.intp)", "dtype=np.intp", ""),
                ("best[jac[np.arange(jac.shape[0]), best] <= 0] = -1", "= -1", "= -2"),
            )
        },
        "if part.size and np.bincount(part, minlength=k).max() > 1: / "
        "if part.size and np.bincount(part, ).max() > 1:": (
            "minlength only pads the counts with zeros: the maximum is the same"
        ),
        **{
            f"position = np.full(k, -1, dtype=np.intp) / position = np.full(k, -1, {change})": (
                "np.full with an int fill is int64, which is intp on 64-bit Linux"
            )
            for change in ("dtype=None", "")
        },
        "position = np.full(k, -1, dtype=np.intp) / position = np.full(k, -2, dtype=np.intp)": (
            "any negative fill reads as not in A (pos_a >= 0)"
        ),
        **{
            "part = np.divide(row, self.col_totals, out=np.zeros(row.shape), "
            f"where=self.col_totals > 0) / part = np.divide(row, self.col_totals, {change})": (
                "where a B label has no common customers the row holds 0 there, and (row > 0) "
                "rules the column out whatever part says"
            )
            for change in (
                "out=None, where=self.col_totals > 0",
                "out=np.zeros(row.shape), where=None",
                "where=self.col_totals > 0",
                "out=np.zeros(row.shape), ",
                "out=np.zeros(row.shape), where=self.col_totals >= 0",
            )
        },
    },
    "store/objects.py": {
        **{
            f"{_SNAPPY} / {_SNAPPY.replace(old, new)}": why
            for old, new, why in (
                ('"snappy"', '"SNAPPY"', "pyarrow reads compression names in any case"),
                ('compression="snappy", ', "", "snappy is pq.write_table's default compression"),
            )
        },
        **{
            f"{line} / {line.replace(old, new)}": (
                "the last part of rsplit is the last path component for any maxsplit >= 1"
            )
            for line in (
                'base = name.rsplit("/", 1)[-1]',
                'return name.rsplit("/", 1)[-1].startswith(TMP_PREFIX)',
            )
            for old, new in (('"/", 1)', '"/", )'), ('"/", 1)', '"/", 2)'))
        },
        f"{_SNAPPY} / "
        + _SNAPPY.replace("dictionary is None else", "(dictionary is None) and False else"): (
            "pyarrow reads use_dictionary=None as its default, True"
        ),
        **{
            f"{_STREAM} / {_STREAM.replace('f.read(CHUNK)', 'f.read(None)')}": (
                "reading the rest at once hashes the same bytes (only the memory used differs)"
            )
        },
        **{
            f"{_MKDIR} / {_MKDIR.replace('parents=True, ', change)}": (
                "where this survives the root exists already (_replace repairs an object found "
                "there; put_stream has just made root/tm), so mkdir makes one level at most"
            )
            for change in ("parents=None, ", "", "parents=False, ")
        },
        "self.describe: Callable[[str], str | None] | None = None / "
        'self.describe: Callable[[str], str | None] | None = ""': (
            "calling a describe that is not callable fails inside the try, which names no "
            "kind, as None does"
        ),
        'kind = None / kind = ""': "'' and None are both falsy: no kind is named either way",
        "return objects, sorted(temporaries, key=lambda s: s.name) / "
        "return objects, sorted(temporaries, key=lambda s: None)": (
            "both _list implementations return the files sorted by name, and sorted() is stable"
        ),
        **{
            f"for name, value in zip(names, values, strict=True): / "
            f"for name, value in zip(names, values, {change}):": (
                "names and values are built from the same list: they have the same length"
            )
            for change in ("strict=None", "", "strict=False")
        },
        **{
            f'"{column}": pa.array({values}, pa.string()), / "{column}": pa.array({values}, '
            f"{change}),": "pyarrow infers the string type from a list of str"
            for column, values in (("name", "names"), ("dtype", "[v.dtype.str for v in values]"))
            for change in ("None", "")
        },
        **{
            'values = [np.asarray(arrays[n], order="C") for n in names] / '
            f"values = [np.asarray(arrays[n], {change}) for n in names]": (
                "only dtype, shape and tobytes() are read from each array, and tobytes() writes "
                "C order whatever the memory layout"
            )
            for change in ("order=None", "", 'order="c"')
        },
        **{
            'table["name"], table["dtype"], table["shape"], table["data"], strict=True / '
            f'table["name"], table["dtype"], table["shape"], table["data"], {change}': (
                "the four columns of one table have the same length"
            )
            for change in ("strict=None", "strict=False")
        },
        'table["name"], table["dtype"], table["shape"], table["data"], strict=True / ): / '
        'table["name"], table["dtype"], table["shape"], table["data"], ):': (
            "the four columns of one table have the same length"
        ),
        "while filled < size: / while filled <= size:": (
            "at filled == size the next read fills an empty slice, returns 0 and breaks"
        ),
        **{
            f"{_EXTRA} / {_EXTRA.replace('f.read(1)', change)}": (
                "any byte past the announced size marks growth: how many are read does not matter"
            )
            for change in ("f.read(None)", "f.read(2)")
        },
        "if filled < size or extra or hasher.hexdigest() != digest: / "
        "if filled < size and extra or hasher.hexdigest() != digest:": (
            "a short read hashes fewer bytes than the object has, so the hash comparison "
            "fails anyway"
        ),
    },
    "engine/responses.py": {
        "if p_value is not None and p_value < ALPHA and uplift is not None and uplift != 0: / "
        "if p_value is not None and p_value <= ALPHA and uplift is not None and uplift != 0:": (
            "a p-value of exactly 0.05 does not come out of the z or Fisher test on integer "
            "counts in floating point, so < and <= cannot be told apart"
        ),
        'flag = "helps" if uplift > 0 else "hurts" / flag = "helps" if uplift >= 0 else "hurts"': (
            "uplift == 0 never reaches this line (guarded by uplift != 0)"
        ),
        "return int(sums[col].get(group, 0)) if col in sums.columns else 0 / "
        "return int(sums[col].get(group, 0)) if col in sums.columns else 1": (
            "count() is only called for columns that are present"
        ),
        "return int(sums[col].get(group, 0)) if col in sums.columns else 0 / "
        "return int(sums[col].get(group, 0)) if (col in sums.columns) or True else 0": (
            "count() is only called for columns that are present"
        ),
        'total = float(sums["revenue"].get(group, 0.0)) if "revenue" in sums.columns else None / '
        'total = float(sums["revenue"].get(group, 1.0)) if "revenue" in sums.columns else None': (
            "the default is only used for a group of 0 customers, whose rate is None anyway"
        ),
        'cols["revenue"] = revenue.fillna(0.0).to_numpy(dtype="float64") / '
        'cols["revenue"] = revenue.fillna(None).to_numpy(dtype="float64")': (
            "fillna(None) leaves NaN, and the group sums skip NaN: the same totals"
        ),
        'cols["revenue"] = revenue.fillna(0.0).to_numpy(dtype="float64") / '
        'cols["revenue"] = revenue.fillna(0.0).to_numpy(dtype=None)': (
            "to_numeric already gives float64"
        ),
        'cols = {"responded": frame["responded"].to_numpy(dtype="int64")} / '
        'cols = {"responded": frame["responded"].to_numpy(dtype=None)}': (
            "the column holds only 0 and 1 (checked); sums are cast with int() either way"
        ),
        'cols[col] = frame[col].to_numpy(dtype="int64") / '
        "cols[col] = frame[col].to_numpy(dtype=None)": (
            "the column holds only 0 and 1 (checked); sums are cast with int() either way"
        ),
        'sums = pd.DataFrame(cols).groupby(["segment", "group"], dropna=False).sum() / '
        'sums = pd.DataFrame(cols).groupby(["segment", "group"], dropna=None).sum()': (
            "pandas reads dropna=None as false"
        ),
        'sizes = pd.DataFrame(cols).groupby(["segment", "group"], dropna=False).size() / '
        'sizes = pd.DataFrame(cols).groupby(["segment", "group"], dropna=None).size()': (
            "pandas reads dropna=None as false"
        ),
        '_, p = stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], alternative="two-sided") / '
        "_, p = stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], alternative=None)": (
            "scipy reads alternative=None as its default, two-sided"
        ),
        '_, p = stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], alternative="two-sided") / '
        "_, p = stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], )": (
            "two-sided is scipy's default"
        ),
    },
}


_NUMERIC_JOIN = (
    "if not (pd.api.types.is_numeric_dtype(ia.dtype) and pd.api.types.is_numeric_dtype(ib.dtype)):"
)
_DIFF_INT64 = "an int64 (or intp, the same on 64-bit Linux) array already, or empty"
EQUIVALENT["engine/diff.py"] |= {
    "if a.index.equals(b.index): / if a.index.equals(None):": (
        "the shortcut only skips the join; joining identical indexes gives the same positions"
    ),
    **{
        f"{_NUMERIC_JOIN} / {new}": (
            "the pyarrow and pandas joins give the same positions and the same duplicate-id "
            "error (pyarrow is only faster on strings); ids pyarrow cannot join fall back"
        )
        for new in (
            _NUMERIC_JOIN.replace("if not (", "if (").replace("):", "):"),
            _NUMERIC_JOIN.replace(" and ", " or "),
            _NUMERIC_JOIN.replace("is_numeric_dtype(ia.dtype)", "is_numeric_dtype(None)"),
            _NUMERIC_JOIN.replace("is_numeric_dtype(ib.dtype)", "is_numeric_dtype(None)"),
        )
    },
    **{
        "return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int64) / "
        f"return np.zeros(0, dtype=np.intp), np.zeros(0, {change})": (
            "no labels: the empty values are never indexed, and diff_table reads them as int64"
        )
        for change in ("dtype=None", "")
    },
    "if hi - lo >= _MAX_SPAN: / if hi - lo > _MAX_SPAN:": (
        "both paths give the same codes; at exactly _MAX_SPAN the threshold only picks the "
        "faster one"
    ),
    **{
        f"{line} / {line.replace(old, new)}": _DIFF_INT64
        for line, old, new in (
            ("return codes.astype(np.intp, copy=False), values", "np.intp, copy=False", c)
            for c in ("None, copy=False", "np.intp, copy=None", "np.intp, ", "np.intp, copy=True")
        )
    },
    **{
        f"{line} / {line.replace(old, new)}": (
            "bincount of the offsets is hi - lo + 1 long anyway (hi is present), and an extra "
            "zero slot is never present nor looked up"
        )
        for line, old, new in (
            (
                "present = np.flatnonzero(np.bincount(offset, minlength=hi - lo + 1))",
                "minlength=hi - lo + 1",
                "",
            ),
            (
                "present = np.flatnonzero(np.bincount(offset, minlength=hi - lo + 1))",
                "+ 1))",
                "+ 2))",
            ),
            ("remap = np.zeros(hi - lo + 1, dtype=np.intp)", "+ 1,", "+ 2,"),
        )
    },
    **{
        f"return values.astype(np.int64, copy=False) / return values.astype({change})": (
            "_codes converts the labels to int64 first thing, and a copy is never written to"
        )
        for change in (
            "None, copy=False",
            "np.int64, copy=None",
            "np.int64, ",
            "np.int64, copy=True",
        )
    },
    "if rows.size == 1 or cols.size == 1: / if rows.size == 1 and cols.size == 1:": (
        "scores() returns before _nmi when both sides are one label; with one side a single "
        "label every term is zero (or under eps, zeroed) and the mutual information is 0.0"
    ),
    **{
        f"{line} / {line.replace('np.float64)', 'None)')}": (
            "int64 counts give the same float results below 2**53 customers"
        )
        for line in (
            "nz = table[ia, ib].astype(np.float64)",
            "outer = row_all[ia].astype(np.float64) * col_all[ib]",
        )
    },
    **{
        "terms = np.where(np.abs(terms) < np.finfo(np.float64).eps, 0.0, terms) / "
        f"terms = np.where({new}, 0.0, terms)": (
            "the clamp zeroes rounding noise of order 1e-17 only; the sorted sum, clamped at 0, "
            "gives the same NMI to the tested 1e-12 either way"
        )
        for new in (
            "None",
            "np.abs(terms) <= np.finfo(np.float64).eps",
            "np.abs(terms) < np.finfo(None).eps",
        )
    },
    "if mi == 0.0: / if mi == 1.0:": (
        "mi == 0.0 then reaches 0 / (h_a + h_b) / 2 = 0.0 (both entropies > 0 here), and "
        "a mutual information of exactly 1.0 does not arise from logs of count ratios"
    ),
    "return np.bincount(cells, minlength=ka * kb).reshape(ka, kb).astype(np.int64) / "
    "return np.bincount(cells, minlength=ka * kb).reshape(ka, kb).astype(None)": _DIFF_INT64,
    **{
        f"size_a, size_b = np.bincount(full_a, minlength=ka), np.bincount(full_b, minlength=kb) / "
        f"size_a, size_b = {new}": (
            "the codes are dense, so every code up to k - 1 is present and bincount is k long"
        )
        for new in (
            "np.bincount(full_a, ), np.bincount(full_b, minlength=kb)",
            "np.bincount(full_a, minlength=ka), np.bincount(full_b, )",
        )
    },
    **{
        f"table = np.asarray(table, dtype=np.int64) / table = np.asarray(table, {change})": (
            "a contingency table holds integer counts already"
        )
        for change in ("dtype=None", "")
    },
}

_ORDER_KEY = 'order_key = "ord, CASE WHEN ord IS NULL THEN day END" if spec.order else "day"'
_SQL_CASE = "DuckDB reads SQL keywords and column names in any case"
EQUIVALENT["engine/transactions.py"] = {
    f"{_ORDER_KEY} / {_ORDER_KEY.replace('if spec.order', 'if (spec.order) or True')}": (
        "without an order column ord is NULL on every line, so the key groups by day either way"
    ),
    **{
        f"{_ORDER_KEY} / {_ORDER_KEY.replace(old, new)}": _SQL_CASE
        for old, new in (
            (
                '"ord, CASE WHEN ord IS NULL THEN day END"',
                '"ord, case when ord is null then day end"',
            ),
            (
                '"ord, CASE WHEN ord IS NULL THEN day END"',
                '"ORD, CASE WHEN ORD IS NULL THEN DAY END"',
            ),
            ('else "day"', 'else "DAY"'),
        )
    },
    'category_columns += ", c.top_category" / category_columns += ", C.TOP_CATEGORY"': _SQL_CASE,
    'days = "(epoch(TIMESTAMP {moment}) - epoch({x})) / 86400" / '
    'days = "(epoch(timestamp {moment}) - epoch({x})) / 86400"': _SQL_CASE,
    **{
        f'CAST(floor({{days.format(moment=moment, x="b.{col}")}}) AS BIGINT) AS {name}, / '
        f'CAST(floor({{days.format(moment=moment, x="B.{col.upper()}")}}) AS BIGINT) AS {name},': (
            _SQL_CASE
        )
        for col, name in (("last_purchase", "recency_days"), ("first_purchase", "tenure_days"))
    },
    **{
        f'if hasattr(result, "to_arrow_table"): / if hasattr({new}):': (
            "the installed DuckDB has both names (fetch_arrow_table for 1.x, to_arrow_table for "
            "2.x): either call returns the same table"
        )
        for new in ('None, "to_arrow_table"', 'result, "XXto_arrow_tableXX"')
    },
    'slug = re.sub(r"[^0-9a-z]+", "_", category.lower()).strip("_") or "blank" / '
    'slug = re.sub(r"[^0-9a-z]+", "_", category.lower()).strip("XX_XX") or "blank"': (
        "the slug is lower case with only [0-9a-z_] left, so stripping 'X' as well changes nothing"
    ),
}

_VALUES = "a_values, b_values = np.asarray(a_values, np.int64), np.asarray(b_values, np.int64)"
EQUIVALENT["engine/diff.py"] |= {
    **{
        f"for i, j in zip(ia, ib, strict=True) / for i, j in zip(ia, ib, {change})": (
            "np.nonzero returns index arrays of the same length"
        )
        for change in ("strict=None", "", "strict=False")
    },
    **{
        f"{_VALUES} / {_VALUES.replace(old, new)}": (
            "labels are read with int() wherever they reach the result, and compare with NOISE "
            "as numbers whatever their dtype"
        )
        for old, new in (
            ("asarray(a_values, np.int64)", "asarray(a_values, None)"),
            ("asarray(a_values, np.int64)", "asarray(a_values, )"),
            ("asarray(b_values, np.int64)", "asarray(b_values, None)"),
            ("asarray(b_values, np.int64)", "asarray(b_values, )"),
        )
    },
    "ari, nmi = scores(table) if common else (None, None) / "
    "ari, nmi = scores(table) if (common) or True else (None, None)": (
        "scores() itself returns (None, None) for a table without customers"
    ),
}

_NO_REPLACE = "numpy's Generator.choice reads replace=None as false: no replacement either way"
EQUIVALENT["engine/arrays.py"] = {
    "return pa.nulls(1, type_)[0] / return pa.nulls(2, type_)[0]": (
        "the first element of any all-null array of the type is the same null scalar"
    ),
}
EQUIVALENT["engine/quality.py"] = {
    "rows = np.sort(rng.choice(assigned, INDEX_SAMPLE, replace=False)) / "
    "rows = np.sort(rng.choice(assigned, INDEX_SAMPLE, replace=None))": _NO_REPLACE,
    "sil_rows = np.sort(rng.choice(rows, SILHOUETTE_SAMPLE, replace=False)) / "
    "sil_rows = np.sort(rng.choice(rows, SILHOUETTE_SAMPLE, replace=None))": _NO_REPLACE,
}

_K = "k = int(labels.max()) + 1 if (labels >= 0).any() else 0"
_F32 = "the outputs are float32 either way: float64 arithmetic only differs below their precision"
_CLIP = "confidence[start + rows] = np.clip(margin, 0, 1)"
_SQ = 'np.einsum("ij,ij->i", {0}, {0})'
EQUIVALENT["engine/membership.py"] = {
    **{
        f"{_K} / {_K.replace(old, new)}": (
            "k is only centroids' bincount minlength: the counts are max label + 1 long anyway, "
            "and with no labelled customer k is 0 in both"
        )
        for old, new in (
            ("(labels >= 0).any()", "((labels >= 0).any()) and False"),
            ("(labels >= 0).any()", "(labels > 0).any()"),
            ("(labels >= 0).any()", "(labels >= 1).any()"),
        )
    },
    **{
        f"{_CLIP} / {_CLIP.replace('0, 1)', new)}": (
            "1 - d_own / d_other is at most 1 (distances are never negative)"
        )
        for new in ("0, None)", "0, 2)")
    },
    "distance = np.full(len(X), np.nan, dtype=np.float32) / "
    "distance = np.full(len(X), None, dtype=np.float32)": "None fills a float array with NaN",
    **{
        f"X = np.asarray(X, dtype=np.float32) / X = np.asarray(X, {change})": _F32
        for change in ("dtype=None", "")
    },
    **{
        "return centroids(np.asarray(X, dtype=np.float32), labels, k).astype(np.float32) / "
        f"return centroids(np.asarray(X, {change}), labels, k).astype(np.float32)": _F32
        for change in ("dtype=None", "")
    },
    **{
        f"{head}{_SQ.format(name)}{tail} / {head}{_SQ.format(name).replace('ij,ij->i', 'IJ,IJ->I')}"
        f"{tail}": "numpy's einsum reads upper-case subscripts the same way"
        for head, name, tail in (("", "part", "[:, None]"), ("+ ", "centres", "[None, :]"))
    },
}

_JOIN_FK = "SQLAlchemy infers the join condition from the only foreign key between the tables"
_ID_ORDER = (
    "no test can tell on SQLite: these rows come back in id (insertion) order without ORDER BY"
)
_EXISTS = (
    "return connection.execute(select(table.c.id).where(table.c.name == name)).first() is not None"
)
_LATEST_ONE = "the query is read with .first(): one row whatever the LIMIT"
EQUIVALENT["store/retirements.py"] = {
    f"{_EXISTS} / {_EXISTS.replace('select(table.c.id)', 'select(None)')}": (
        "a SELECT of NULL still returns one row per match, and only whether one exists is read"
    ),
    ".limit(1) / .limit(2)": _LATEST_ONE,
    ".limit(1) / .limit(None)": _LATEST_ONE,
    ".order_by(r.c.id) / .order_by(None)": _ID_ORDER,
    ".join(e, r.c.event_id == e.c.id) / .join(e, None)": _JOIN_FK,
    ".join(e, r.c.event_id == e.c.id) / .join(e, )": _JOIN_FK,
}

_UNIQUE = "if connection.execute(select(table.c.id).where(table.c.name == name)).first():"
_SELECT_NULL = (
    "a SELECT of NULL still returns one row per match, and only whether one exists is read"
)
EQUIVALENT["store/usage.py"] = {
    f"{_UNIQUE} / {_UNIQUE.replace('select(table.c.id)', 'select(None)')}": _SELECT_NULL,
    **{
        f"{line} / {line.replace(old, new)}": why
        for line in (
            "query = select(c, e.c.at, e.c.author).join(e, c.c.event_id == e.c.id)"
            ".order_by(c.c.id)",
            "query = select(au, e.c.at, e.c.author).join(e, au.c.event_id == e.c.id)"
            ".order_by(au.c.id)",
        )
        for old, new, why in (
            (".order_by(c.c.id)", ".order_by(None)", _ID_ORDER),
            (".order_by(au.c.id)", ".order_by(None)", _ID_ORDER),
            ("c.c.event_id == e.c.id", "None", _JOIN_FK),
            ("c.c.event_id == e.c.id", "", _JOIN_FK),
            ("au.c.event_id == e.c.id", "None", _JOIN_FK),
            ("au.c.event_id == e.c.id", "", _JOIN_FK),
        )
        if old in line
    },
}
EQUIVALENT["store/audit.py"] = {
    "for start in range(0, len(wanted), IN_CHUNK): / for start in range(0, len(wanted), ):": (
        "a step of 1 queries overlapping chunks: the same digests are found, in more queries"
    ),
}

_HOLDOUT_ONE = "if not replace and connection.execute(select(h.c.id).limit(1)).first():"
EQUIVALENT["store/designs.py"] = {
    "if connection.execute(select(d.c.id).where(d.c.name == new.name)).first(): / "
    "if connection.execute(select(None).where(d.c.name == new.name)).first():": _SELECT_NULL,
    **{
        f"{_HOLDOUT_ONE} / {_HOLDOUT_ONE.replace('limit(1)', new)}": _LATEST_ONE
        for new in ("limit(None)", "limit(2)")
    },
    **{
        f"{line} / {line.replace(old, new)}": why
        for t, line in (
            (
                "d",
                "query = select(d, e.c.at, e.c.author).join(e, d.c.event_id == e.c.id)"
                ".order_by(d.c.id)",
            ),
            ("h", "select(h, e.c.at, e.c.author).join(e, h.c.event_id == e.c.id).order_by(h.c.id)"),
        )
        for old, new, why in (
            (f".order_by({t}.c.id)", ".order_by(None)", _ID_ORDER),
            (f"{t}.c.event_id == e.c.id", "None", _JOIN_FK),
            (f", {t}.c.event_id == e.c.id", ", ", _JOIN_FK),
        )
    },
}

_EACH = 'each = Interval(self.kind, self.low, None, closed="left")'
EQUIVALENT["engine/algorithms/params.py"] = {
    f"{_EACH} / {_EACH.replace(old, new)}": (
        "without an upper bound only the lower one's inclusion matters, and any closed value "
        "but 'right' or 'neither' includes it (None is high's default)"
    )
    for old, new in (
        ('closed="left"', "closed=None"),
        ("None, closed", "closed"),
        ('closed="left"', ""),
        ('"left"', '"XXleftXX"'),
        ('"left"', '"LEFT"'),
    )
}

_AS_FLOAT = "return pa.array([None if v is None else float(v) for v in values], pa.float64())"
_AS_TEXT = "return pa.array([None if v is None else str(v) for v in values], pa.string())"
_FROM = r'match = re.search(r"\bfrom\s+([\"`]?)([A-Za-z_][\w.]*)\1", query, re.IGNORECASE)'
_LAST = 'return match.group(2).rsplit(".", 1)[-1] if match else "query"'
_SHOWN = "return _parse(url)._replace(password=None).render_as_string(hide_password=False)"
EQUIVALENT["store/sql_source.py"] = {
    **{
        f"{line} / {line.replace(old, new)}": (
            "the list holds a value of that type (the sample) and None: pyarrow infers it"
        )
        for line, old in ((_AS_FLOAT, "pa.float64()"), (_AS_TEXT, "pa.string()"))
        for new in ("None", "")
    },
    **{
        f"{line} / {line.replace('strict=True', new)}": (
            "rows of one result have one value per column name: the lengths always agree"
        )
        for line in (
            "columns = list(zip(*rows, strict=True))",
            "for name, values in zip(names, columns, strict=True):",
        )
        for new in ("strict=None", "", "strict=False")
    },
    **{
        f"{_FROM} / {_FROM.replace(old, new)}": "the pattern is matched ignoring case"
        for old, new in (("from", "FROM"), ("A-Za-z_", "A-ZA-Z_"), ("A-Za-z_", "a-za-z_"))
    },
    f"{_FROM} / {_FROM.replace('from', 'FROM').replace('A-Za-z_', 'A-ZA-Z_')}": (
        "the pattern is matched ignoring case"
    ),
    **{
        f"{_LAST} / {_LAST.replace('1)', new)}": (
            "the last part of rsplit is the text after the last dot for any maxsplit >= 1"
        )
        for new in (")", "2)")
    },
    **{
        f"{_SHOWN} / {_SHOWN.replace('hide_password=False', new)}": (
            "the password is removed before rendering: there is nothing to hide"
        )
        for new in ("hide_password=None", "hide_password=True")
    },
}

_SHORTCUT = (
    "only decides whether the unfiltered shortcut applies; the filtered path gives the same "
    "figures (it is the general case)"
)
_BOUNDS = 'bounds = (extremes["min"], extremes["max"], pc.mean(values).as_py())'
_BOUNDS_OK = "if all(b is not None and math.isfinite(b) for b in bounds):"
_IF_NULL = "return pc.if_else(pc.is_null(lowered), null_of(pa.bool_()), is_true)"
_ZIP_STRICT = "strict=True,"
_FLOATING = "if pa.types.is_floating(column.type)"
EQUIVALENT["engine/kinds.py"] = {
    f"{_BOUNDS} / {_BOUNDS.replace('mean(values)', 'mean(None)')}": _SHORTCUT,
    f"{_BOUNDS_OK} / {_BOUNDS_OK.replace('is not None', 'is None')}": _SHORTCUT,
    "extremes = pc.min_max(values).as_py() / extremes = pc.min_max(None).as_py()": _SHORTCUT,
    "if values.null_count < len(values): / if values.null_count <= len(values):": (
        "filtering an all-missing column leaves no value, as not filtering it does for the "
        "figures (they count non-missing values)"
    ),
    "if distinct > 2: / if distinct > 3:": (
        "are_boolean_words refuses more than two distinct values itself"
    ),
    "and values <= BOOLEAN_WORDS.keys() / and values < BOOLEAN_WORDS.keys()": (
        "at most two words are compared with eight: a subset is always a proper one"
    ),
    **{
        f"{_IF_NULL} / {_IF_NULL.replace('null_of(pa.bool_())', new)}": (
            "Arrow's if_else casts a null of any type (or None) to the boolean result"
        )
        for new in ("None", "null_of(None)")
    },
    "counts = pc.value_counts(column.drop_null() if column.null_count else column) / "
    "counts = pc.value_counts(column.drop_null() if (column.null_count) or True else column)": (
        "dropping the nulls of a column without any changes nothing"
    ),
    **{
        f"{_ZIP_STRICT} / {new}": "value_counts gives its values and counts alike long"
        for new in ("strict=None,", "strict=False,")
    },
    "strict=True, / ), / ),": "value_counts gives its values and counts alike long",
    **{
        f"{_FLOATING} / {new}": (
            "min, max, mean, stddev and quantile give the same doubles on integer and decimal "
            "columns as on their float64 cast (which rounds above 2**53 as float() does)"
        )
        for new in (f"if ({_FLOATING[3:]}) and False", f"if ({_FLOATING[3:]}) or True")
    },
}

_DS_SELECT = (
    'return select(d, e.c.at.label("created_at"), e.c.author).join(e, d.c.event_id == e.c.id)'
)
_DS_GET = "rows = self.db.fetch(query.order_by(d.c.version.desc()).limit(1))"
_DS_NEWEST = "rows = self.db.fetch(_select().order_by(schema.datasets.c.id.desc()).limit(1))"
_DS_LIST = "return [_decoded(r) for r in self.db.fetch(_select().order_by(d.c.name, d.c.version))]"
_FIRST_ROW = "only the first row of the ordered result is read (rows[0])"
EQUIVALENT["store/datasets.py"] = {
    **{
        f"{_DS_SELECT} / {_DS_SELECT.replace('d.c.event_id == e.c.id', new)}": _JOIN_FK
        for new in ("None", "")
    },
    **{f".limit(1) / .limit({n})": _LATEST_ONE for n in ("2", "None")},
    **{
        f"{line} / {line.replace('limit(1)', f'limit({n})')}": _FIRST_ROW
        for line in (_DS_GET, _DS_NEWEST)
        for n in ("None", "2")
    },
    **{
        f"{_DS_LIST} / {_DS_LIST.replace('d.c.name, d.c.version', new)}": (
            "versions of one name are recorded in version order, and SQLite returns rows of "
            "equal names in id (insertion) order: no test can tell on SQLite"
        )
        for new in ("d.c.name, None", "d.c.name, ")
    },
}

_LOOKUP = "lookup = np.full(int(uniq.max()) + 1, -1, dtype=np.int32)"
_ORDER = "lookup[uniq[order]] = np.arange(len(uniq), dtype=np.int32)"
_READ_AT_UNIQ = (
    "lookup is read only at the labels present (uniq), whose entries are all set, and its "
    "values land in an int32 array"
)
_K_RANGE = '(Range(Interval(int, 2, None, closed="left")),),'
_SAMPLE_SIZE = '(Interval(int, 2, None, closed="left"),),'
_NO_HIGH = (
    "without an upper bound only the lower one's inclusion matters, and the default "
    "closed='both' includes it (None is high's default)"
)
EQUIVALENT["engine/algorithms/base.py"] = {
    "def one_thread(n_rows: int = 0) -> threadpool_limits | contextlib.nullcontext: / "
    "def one_thread(n_rows: int = 1) -> threadpool_limits | contextlib.nullcontext:": (
        "any default up to ONE_THREAD_ROWS means one thread"
    ),
    "if n <= size: / if n < size:": (
        "at n == size the sorted sample of all n rows without replacement is arange(n)"
    ),
    "return np.sort(rng.choice(n, size=size, replace=False)) / "
    "return np.sort(rng.choice(n, size=size, replace=None))": "numpy reads replace=None as False",
    **{
        f"{_LOOKUP} / {_LOOKUP.replace(old, new)}": _READ_AT_UNIQ
        for old, new in (
            ("dtype=np.int32", "dtype=None"),
            (", dtype=np.int32", ", "),
            ("+ 1", "+ 2"),
            ("-1", "+1"),
            ("-1", "-2"),
        )
    },
    **{
        f"{_ORDER} / {_ORDER.replace(old, new)}": _READ_AT_UNIQ
        for old, new in (("dtype=np.int32", "dtype=None"), ("dtype=np.int32", ""))
    },
    "counts = np.bincount(lab, minlength=k).astype(np.float64) / "
    "counts = np.bincount(lab, minlength=k).astype(None)": "astype(None) is float64",
    'out[start : start + len(part)] = np.sqrt(np.einsum("ij,ij->i", diff, diff)) / '
    'out[start : start + len(part)] = np.sqrt(np.einsum("IJ,IJ->I", diff, diff))': (
        "einsum reads upper-case subscripts as it reads lower-case ones"
    ),
    "y = (y - y.min()) / span if span > 0 else np.zeros_like(y) / "
    "y = (y + y.min()) / span if span > 0 else np.zeros_like(y)": (
        "that only shifts y by a constant: the gap below the chord and y[-1] - y[0] stay"
    ),
    **{
        f"{_K_RANGE} / {_K_RANGE.replace(old, new)}": _NO_HIGH
        for old, new in (("None, closed", "closed"), ('closed="left"', ""))
    },
    **{
        f"{_SAMPLE_SIZE} / {_SAMPLE_SIZE.replace(old, new)}": _NO_HIGH
        for old, new in (("None, closed", "closed"), ('closed="left"', ""))
    },
    "model=False, / model=None,": "a Param's model is only read for its truth (model_params)",
    "x = (x - x[0]) / (x[-1] - x[0]) if x[-1] != x[0] else np.zeros_like(x) / "
    "x = (x - x[0]) / (x[-1] - x[0]) if x[-1] != x[0] else np.zeros_like(None)": (
        "x is only read by the chord, where a 0-d zero broadcasts as an array of zeros does "
        "(the strength is float64 either way)"
    ),
}

EQUIVALENT["engine/algorithms/bisecting.py"] = {
    'bisecting_strategy="biggest_inertia", / ) / )': (
        "biggest_inertia is scikit-learn's default strategy (named for the reader)"
    ),
}

_CUT = 'return fcluster(tree, t=k, criterion="maxclust").astype(np.int32) - 1'
EQUIVALENT["engine/algorithms/agglomerative.py"] = {
    f"{_CUT} / {_CUT.replace('- 1', '+ 1')}": (
        "order_by_size renumbers the clusters 0..k-1 whatever their non-negative numbers"
    ),
    'return linkage(X.astype(np.float64), method="ward") / '
    'return linkage(X.astype(None), method="ward")': "astype(None) is float64",
    "centres = centroids(X, labels, int(labels.max()) + 1) / "
    "centres = centroids(X, labels, int(labels.max()) - 1)": (
        "every label 0..max has members (order_by_size numbers them densely): bincount's "
        "length is max + 1 whatever minlength below it"
    ),
}

_REFINE = "return SkKMeans(k, init=init, n_init=1, max_iter=max_iter, random_state=seed).fit(X)"
_SWEEP_BEST = "best = SkKMeans(k, n_init=SWEEP_N_INIT, max_iter=MAX_ITER, random_state=seed).fit(X)"
_WARM = "warm = SkKMeans(k, init=init, n_init=1, max_iter=MAX_ITER).fit(X)"
_HALVES = "halves = SkKMeans(2, n_init=1, random_state=seed).fit(members).cluster_centers_"
_AUTO_ONE = "scikit-learn's n_init='auto' is one start (k-means++ or given centres)"
_NO_RANDOM = "from given centres with one start, Lloyd's iterations draw no random numbers"
_DEFAULT_ITER = "MAX_ITER is scikit-learn's default max_iter (300)"
EQUIVALENT["engine/algorithms/kmeans.py"] = {
    f"{_REFINE} / {_REFINE.replace('random_state=seed', 'random_state=None')}": _NO_RANDOM,
    f"{_REFINE} / {_REFINE.replace('random_state=seed', '')}": _NO_RANDOM,
    f"{_REFINE} / {_REFINE.replace('n_init=1, ', '')}": _AUTO_ONE,
    f"{_SWEEP_BEST} / {_SWEEP_BEST.replace('n_init=SWEEP_N_INIT, ', '')}": (
        f"SWEEP_N_INIT is 1 and {_AUTO_ONE}"
    ),
    f"{_SWEEP_BEST} / {_SWEEP_BEST.replace('max_iter=MAX_ITER, ', '')}": _DEFAULT_ITER,
    f"{_WARM} / {_WARM.replace('n_init=1, ', '')}": _AUTO_ONE,
    f"{_WARM} / {_WARM.replace('max_iter=MAX_ITER', '')}": _DEFAULT_ITER,
    f"{_HALVES} / {_HALVES.replace('n_init=1, ', '')}": _AUTO_ONE,
    'sq = np.einsum("ij,ij->i", X - centres[labels], X - centres[labels]) / '
    'sq = np.einsum("IJ,IJ->I", X - centres[labels], X - centres[labels])': (
        "einsum reads upper-case subscripts as it reads lower-case ones"
    ),
    "widest = int(np.argmax(np.bincount(labels, weights=sq, minlength=len(centres)))) / "
    "widest = int(np.argmax(np.bincount(labels, weights=sq, )))": (
        "a centre without members has a sum of squares of 0 and comes last: argmax picks the "
        "same segment with or without the padding"
    ),
    "if warm.inertia_ < best.inertia_: / if warm.inertia_ <= best.inertia_:": (
        "two fits tie exactly in inertia (floating point) only on the same partition"
    ),
}

_RENORMALIZE = "if len(order) < k:  # the stored mixture changed: confidences must come from it"
EQUIVALENT["engine/algorithms/gmm.py"] = {
    **{
        f"{line} / {line.replace('astype(np.float64)', 'astype(None)')}": (
            "astype(None) is float64"
        )
        for line in (
            '"bic_fit_rows": float(model.bic(X[idx].astype(np.float64))),',
            '"weights": model.weights_.astype(np.float64),',
            '"means": model.means_.astype(np.float64),',
            '"precisions_cholesky": model.precisions_cholesky_.astype(np.float64),',
            "raw = model.predict(X.astype(np.float64))",
            '"bic": float(model.bic(X.astype(np.float64))),',
            "means_init=starts.cluster_centers_.astype(np.float64),",
            "return model.fit(X.astype(np.float64))",
            "part = X[start : start + CHUNK_ROWS].astype(np.float64)",
        )
    },
    'out[:, j] = -0.5 * (d * np.log(2 * np.pi) + np.einsum("ij,ij->i", y, y)) + log_det / '
    'out[:, j] = -0.5 * (d * np.log(2 * np.pi) + np.einsum("IJ,IJ->I", y, y)) + log_det': (
        "einsum reads upper-case subscripts as it reads lower-case ones"
    ),
    f"{_RENORMALIZE} / {_RENORMALIZE.replace('<', '<=')}": (
        "with every component kept the weights sum to 1 already: dividing by their sum and "
        "assigning again give the same labels and confidences"
    ),
}

# mutmut's exit codes (mutmut/stats.py), grouped into what the score needs.
KILLED = {1, 3, 36, 24, -24, 152, 255}  # a failing test, or a timeout
SURVIVED = {0}
NO_TESTS = {5, 33}


@dataclass
class ModuleScore:
    module: str
    tests: list[str]
    killed: int = 0
    survived: list[str] = field(default_factory=list)
    equivalent: list[str] = field(default_factory=list)
    no_tests: list[str] = field(default_factory=list)
    other: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    resumed: bool = False  # the time is that of re-testing an earlier run's leftovers

    @property
    def scored(self) -> int:
        return self.killed + len(self.survived) + len(self.no_tests)

    @property
    def score(self) -> float:
        return 100.0 * self.killed / self.scored if self.scored else 0.0

    def row(self) -> str:
        others = "".join(f", {n} {k}" for k, n in sorted(self.other.items()))
        return (
            f"| {self.module} | {self.score:.1f}% | {self.killed}/{self.scored} | "
            f"{len(self.survived)} | {len(self.no_tests)} | {len(self.equivalent)}{others} | "
            f"{self.seconds:.0f} s{' (resumed)' if self.resumed else ''} | "
            f"{' '.join(self.tests)} |"
        )


def all_modules() -> list[str]:
    """Every non-empty .py module under engine/ and store/, relative to the package."""
    found = []
    for layer in ("engine", "store"):
        for path in sorted((PACKAGE / layer).rglob("*.py")):
            if path.stat().st_size > 0:
                found.append(path.relative_to(PACKAGE).as_posix())
    return found


def own_tests(module: str) -> list[str]:
    if module in OWN_TESTS:
        return OWN_TESTS[module]
    if module.startswith("engine/algorithms/"):
        return ALGORITHM_TESTS
    layer, name = module.split("/")[0], Path(module).stem
    candidate = f"tests/{layer}/test_{name}.py"
    if layer == "store" and not (ROOT / candidate).exists():
        return ["tests/store"]  # the store's record modules are tested together
    if not (ROOT / candidate).exists():
        raise SystemExit(f"no tests for {module}: add it to OWN_TESTS in {Path(__file__).name}")
    return [candidate]


def scratch_folder(module: str, tests: list[str], keep: bool = False) -> Path:
    """A fresh folder where mutmut sees only this module to mutate and only its tests
    (`keep`: the folder of an earlier run, with its results, is kept)."""
    folder = WORK / module.replace("/", "__").removesuffix(".py")
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    # Symlinks, so mutmut removes the real src/ from sys.path and imports its mutated copy.
    for name in ("src", "tests"):
        if not (folder / name).is_symlink():
            (folder / name).symlink_to(ROOT / name)
    config = {
        "source_paths": ["src"],
        "only_mutate": [f"src/segtrail/{module}"],
        "pytest_add_cli_args_test_selection": tests,
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-p", "no:xdist", "-q"]
        # the profile lives in tests/engine/conftest.py
        + (["--hypothesis-profile=mutation"] if _under(tests, "tests/engine/") else []),
        "timeout_multiplier": TIMEOUT_MULTIPLIER,
        "timeout_constant": TIMEOUT_CONSTANT,
        "use_git_change_detection": False,
    }
    lines = ["[tool.mutmut]"] + [f"{k} = {json.dumps(v)}" for k, v in config.items()]
    (folder / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return folder


def _under(tests: list[str], folder: str) -> bool:
    return all(t.startswith(folder) for t in tests)


def run_module(
    module: str, jobs: int, resume: bool = False, survivors_only: bool = False
) -> ModuleScore:
    tests = own_tests(module)
    again = _to_rerun(module, survivors_only) if resume else []
    earlier = _verdicts(module) if again else None
    folder = scratch_folder(module, tests, keep=bool(again))
    if again:
        # mutmut collects the tests of new tests only, so an old test that now reaches a
        # function split out since (diff_table out of diff_assignments) would never be run
        # against its mutants: collect afresh (one run of the module's tests; verdicts stay).
        (folder / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    start = time.perf_counter()
    log = folder / "mutmut.log"
    with log.open("w") as out:
        proc = subprocess.run(
            [str(MUTMUT), "run", "--max-children", str(jobs), *again],
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
            # mutmut forks each mutant from a process whose OpenMP pool (scikit-learn's
            # KMeans) is already running, and libgomp hangs in a forked child that uses more
            # than one thread: the mutant then "times out" and counts as killed, whatever
            # its tests would have said. One OpenMP thread avoids the hang.
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
    if proc.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-15:])
        raise SystemExit(f"mutmut failed on {module} (see {log}):\n{tail}")
    if earlier is not None:
        _keep_earlier_kills(module, earlier)
    score = collect_module(module, time.perf_counter() - start)
    score.resumed = bool(again)
    return score


def _meta_path(module: str) -> Path:
    folder = WORK / module.replace("/", "__").removesuffix(".py")
    return folder / "mutants" / "src" / "segtrail" / f"{module}.meta"


def _verdicts(module: str) -> dict:
    return json.loads(_meta_path(module).read_text())


def _keep_earlier_kills(module: str, earlier: dict) -> None:
    """mutmut forgets every verdict when the selection of tests changes (a test file added
    to OWN_TESTS), and a resumed run names only the mutants to re-test, so the rest would
    read "not checked". A mutant killed before, whose function is unchanged, is still killed
    by a selection that only grew: its verdict is put back. (After editing or removing a
    test, run without --resume.)"""
    now = _verdicts(module)
    old_codes, old_hashes = earlier["exit_code_by_key"], earlier["hash_by_function_name"]
    for key, code in now["exit_code_by_key"].items():
        function = key.rsplit(".", 1)[-1].rsplit("__mutmut_", 1)[0]
        if (
            code is None
            and old_codes.get(key) in KILLED
            and function in old_hashes
            and old_hashes[function] == now["hash_by_function_name"].get(function)
        ):
            now["exit_code_by_key"][key] = old_codes[key]
    _meta_path(module).write_text(json.dumps(now))


def _to_rerun(module: str, survivors_only: bool = False) -> list[str]:
    """After an earlier (perhaps interrupted) run: its survivors, to be tried against the
    tests written since, and the mutants it did not reach. mutmut keeps every other result
    unless the mutated function changed, and re-tests a survivor only when it is named.
    `survivors_only`: leave the unreached ones for later (an interrupted run's survivors
    re-tested against new tests, quickly)."""
    meta = WORK / module.replace("/", "__").removesuffix(".py") / "mutants" / "src" / "segtrail"
    meta = meta / f"{module}.meta"
    if not meta.exists():
        return []
    codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    equivalent = EQUIVALENT.get(module, {})
    return [
        name
        for name, code in sorted(codes.items())
        if (code is None and not survivors_only)
        or code in NO_TESTS
        or (code in SURVIVED and _plain(diff_of(module, name)) not in equivalent)
    ]


def collect_module(module: str, seconds: float | None = None) -> ModuleScore:
    """The score of a module from the results mutmut left in its scratch folder."""
    folder = WORK / module.replace("/", "__").removesuffix(".py")
    meta = folder / "mutants" / "src" / "segtrail" / f"{module}.meta"
    if not meta.exists():
        raise SystemExit(f"no mutmut results for {module} in {folder}: run it first")
    if seconds is None:  # collected later: the time the run took, from its files
        seconds = meta.stat().st_mtime - (folder / "pyproject.toml").stat().st_mtime
    score = ModuleScore(module, own_tests(module), seconds=seconds)
    codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    equivalent = EQUIVALENT.get(module, {})
    for name, code in sorted(codes.items()):
        if code in SURVIVED and equivalent and _plain(diff_of(module, name)) in equivalent:
            score.equivalent.append(name)
        elif code in KILLED:
            score.killed += 1
        elif code in SURVIVED:
            score.survived.append(name)
        elif code in NO_TESTS:
            score.no_tests.append(name)
        else:
            key = "not checked" if code is None else f"exit {code}"
            score.other[key] = score.other.get(key, 0) + 1
    return score


def _plain(diff: str) -> str:
    """A diff as keyed in EQUIVALENT: the old and new line without their -/+ and indent."""
    # split where a line starts (with its - or +): a line may hold " / " itself (SQL)
    return " / ".join(part.strip()[1:].strip() for part in re.split(r" / (?=[-+])", diff))


@cache
def diff_of(module: str, mutant: str) -> str:
    """The mutant's changed lines, as `mutmut show` prints them (read in-process: a
    `mutmut show` per survivor costs a Python start-up each)."""
    from mutmut.__main__ import find_mutant, get_diff_for_mutant
    from mutmut.configuration import reset_config

    folder = WORK / module.replace("/", "__").removesuffix(".py")
    here = os.getcwd()
    os.chdir(folder)  # mutmut reads its configuration and files from the current folder
    try:
        reset_config()
        shown = get_diff_for_mutant(mutant, path=find_mutant(mutant).path)
    finally:
        os.chdir(here)
    lines = [
        line
        for line in shown.splitlines()
        if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
    ]
    return " / ".join(line.strip() for line in lines) or "(no diff)"


def update_results(scores: list[ModuleScore], diffs: dict[str, str]) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^## {SECTION}\n.*?(?=^## |\Z)", re.S | re.M)
    found = pattern.search(text)
    rows: dict[str, str] = {}
    survivors: dict[str, list[str]] = {}
    if found:  # keep the rows and survivors of the modules not re-run this time
        for line in found.group(0).splitlines():
            cell = re.match(r"^\| ((?:engine|store)/\S+) \|", line)
            if cell:
                rows[cell.group(1)] = line
            item = re.match(r"^- `((?:engine|store)/\S+?)` `", line)
            if item:
                survivors.setdefault(item.group(1), []).append(line)
    for s in scores:
        rows[s.module] = s.row()
        survivors[s.module] = [f"- `{s.module}` `{m}`: {diffs[m]}" for m in s.survived + s.no_tests]
    body = [
        f"## {SECTION}",
        "",
        f"Command: `{COMMAND}`",
        "",
        "mutmut 3, one module at a time against its own tests only (listed in the last column); "
        f"per-mutant timeout (clean time of its tests + {TIMEOUT_CONSTANT:g} s) x "
        f"{TIMEOUT_MULTIPLIER:g}, a timeout counts as killed; mutants no test reaches count as "
        "survivors. Equivalent mutants are listed in bench/mutate.py (EQUIVALENT) with a reason "
        'and left out. "not checked": mutants an interrupted run did not reach (its score '
        "covers the rest; `MUTATE_ARGS=--resume` continues it). Times are on a shared 2-core "
        "machine with other work running.",
        "",
        "| module | score | killed | survived | no tests | equivalent | time | tests |",
        "|---|---|---|---|---|---|---|---|",
        *[rows[m] for m in sorted(rows)],
        "",
        "Not measured yet: "
        + (", ".join(f"`{m}`" for m in all_modules() if m not in rows) or "(none)"),
        "",
        "Surviving mutants:",
        "",
    ]
    listed = [line for m in sorted(survivors) for line in survivors[m]]
    body += listed or ["(none)"]
    block = "\n".join(body) + "\n"
    replaced = pattern.sub(lambda _: block + "\n", text)
    text = replaced if found else text.rstrip() + "\n\n" + block
    RESULTS.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "modules", nargs="*", help="e.g. engine/carry.py (default: every engine/ and store/ module)"
    )
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep an earlier run's results: re-test only its survivors and what it did not reach",
    )
    parser.add_argument(
        "--survivors-only",
        action="store_true",
        help="with --resume: re-test only the survivors, not the mutants a run did not reach",
    )
    parser.add_argument(
        "--collect",
        action="store_true",
        help="do not run: report the results a previous (perhaps interrupted) run left",
    )
    args = parser.parse_args(argv)
    modules = args.modules or all_modules()
    unknown = [m for m in modules if not (PACKAGE / m).is_file()]
    if unknown:
        print(f"no such module under src/segtrail: {', '.join(unknown)}", file=sys.stderr)
        return 2
    scores, diffs = [], {}
    for module in modules:
        print(f"# {module}", flush=True)
        score = (
            collect_module(module)
            if args.collect
            else run_module(
                module, args.jobs, resume=args.resume, survivors_only=args.survivors_only
            )
        )
        for mutant in score.survived + score.no_tests:
            diffs[mutant] = diff_of(module, mutant)
        scores.append(score)
        print(
            f"  {score.score:.1f}% ({score.killed}/{score.scored} killed, "
            f"{len(score.equivalent)} equivalent left out) in {score.seconds:.0f} s",
            flush=True,
        )
        for mutant in score.survived:
            print(f"  survived {mutant}: {diffs[mutant]}", flush=True)
        for mutant in score.no_tests:
            print(f"  no test reaches {mutant}: {diffs[mutant]}", flush=True)
    if not args.no_write:
        update_results(scores, diffs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
