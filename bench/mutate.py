"""`make mutate`: mutation score of each engine/ and store/ module against its own tests.

Runs mutmut 3 once per module, each in its own scratch folder (bench/.mutants/<module>/) whose
generated pyproject.toml mutates only that module and selects only that module's own test
files, so one module can be measured alone (`make mutate MODULES=engine/carry.py`) and a
mutant counts as killed only if the tests written for its module notice it. mutmut forks one
process per mutant from a pytest session that has already imported everything, and runs only
the tests that reach the mutated function; each mutant gets a timeout of
(its tests' clean time + TIMEOUT_CONSTANT) x TIMEOUT_MULTIPLIER seconds and a timeout counts
as killed (an infinite loop is noticed).

Prints the score per module and every surviving mutant (as a diff), and updates the
"mutation" section of bench/RESULTS.md: the rows of the modules run are replaced (or added),
the rows of the others and every line written by hand there (notes under the table) kept.
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

from common import Block, rewrite_section

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
    # kinds.numbers_in_text is features.read_numbers' core: its corpus of spellings too
    "engine/kinds.py": [
        "tests/engine/test_kinds.py",
        "tests/engine/test_kinds_numbers_as_text.py",
        "tests/engine/test_numbers_as_text.py",
    ],
    "store/objects.py": ["tests/store/test_store.py", "tests/store/test_objects.py"],
    "engine/algorithms/params.py": ["tests/engine/test_params.py"],
    # the multi-arm statistics (arms, Holm, Welch, interaction) checked at the engine;
    # tests/services/test_campaign_arms.py runs them through a workspace (~6 s)
    "engine/responses.py": [
        "tests/engine/test_responses.py",
        "tests/engine/test_responses_arms.py",
    ],
    "engine/algorithms/__init__.py": ["tests/engine/test_registry.py"],
    # the object store tests run every primitive on a file:// and a memory:// fsspec store too
    "store/shared_objects.py": [
        "tests/store/test_store.py",
        "tests/store/test_objects.py",
        "tests/store/test_shared_objects.py",
    ],
    # The store's own calls: tests/services/test_thread.py and test_timeline.py write and
    # read plans through the services too, but their hypothesis runs on both backends take
    # minutes per mutant (and the concurrency tests' writers run in subprocesses, which
    # import the package unmutated, so they cannot count).
    "store/plans.py": ["tests/store/test_store_plans.py"],
    # what the migrated database refuses, on both backends (a minute in all); each test of
    # one table builds the steps that shaped it (schema.migration(n)), so a step's mutants
    # run the tests of its own tables; tests/store/test_migrations.py (upgrades of old
    # workspaces) builds whole workspaces on both backends, tens of seconds per mutant
    "store/schema.py": ["tests/store/test_store_schema.py"],
    # the store's own calls with made-up hashes (tests/services/test_access.py runs them
    # through the services with argon2, seconds per test)
    "store/users.py": ["tests/store/test_store_users.py"],
    # the store's own calls with made-up objects (tests/services/test_segmentations.py fits
    # real segmentations, seconds per test)
    "store/segmentations.py": ["tests/store/test_store_segmentations.py"],
    # named apart from tests/services/test_designs.py: two test files of one name in folders
    # without __init__.py cannot be collected in one pytest run
    "store/designs.py": ["tests/store/test_store_designs.py"],
    # small data and the fast tests of test_kselect.py; its planted-k accuracy tests take
    # ~60 s per surviving mutant and stay in `make test`
    "engine/kselect.py": [
        "tests/engine/test_kselect_rules.py",
        "tests/engine/test_kselect.py::test_bad_requests",
        "tests/engine/test_kselect.py::test_combined_rule_weights_elbow_and_silhouette",
        "tests/engine/test_kselect.py::test_shared_pass_silhouettes_match_scikit_learn",
        "tests/engine/test_kselect.py::test_within_ss_ignores_noise",
    ],
    # small data and fixed examples; test_design.py's properties over random audiences and
    # its simulated campaigns (seconds per mutant) stay in `make test`
    "engine/design.py": [
        "tests/engine/test_design_rules.py",
        "tests/engine/test_design.py::test_largest_remainder_is_hamilton",
        "tests/engine/test_design.py::test_largest_remainder_example",
        "tests/engine/test_design.py::test_power_figures_equal_statsmodels",
        "tests/engine/test_design.py::test_too_small_to_detect_anything",
        "tests/engine/test_design.py::test_holdout_depends_only_on_the_id",
    ],
    # small hand-made tables, exact numbers and wording; the property tests of
    # tests/engine/test_profiles.py take seconds of CPU per mutant
    "engine/profiles.py": ["tests/engine/test_profile_text.py"],
    "engine/features.py": [
        "tests/engine/test_features.py",
        "tests/engine/test_numbers_as_text.py",  # numbers written as text
    ],
    # refits whose answers the test chooses; tests/engine/test_stability.py fits KMeans on
    # every resample (seconds per mutant)
    "engine/stability.py": [
        "tests/engine/test_stability_jaccard.py",
        "tests/compute/test_early_stability.py",
    ],
    # named apart from tests/web/test_jobs_*.py (the web layer's jobs); the store's rows only
    "store/jobs.py": ["tests/store/test_store_jobs.py"],
    # the default path's rules on small matrices; tests/engine/test_choice.py fits planted
    # data of thousands of rows end to end (a minute per mutant on a busy machine)
    "engine/choice.py": ["tests/engine/test_choice_rules.py"],
    # tests/engine/test_algorithms.py fits every algorithm (minutes per mutant under load):
    # each algorithm module has a focused file of small fits of its own
    "engine/algorithms/base.py": [
        "tests/engine/test_algo_base.py",
        "tests/engine/test_beside.py",
        "tests/engine/test_place_blocks.py",
    ],
    "engine/algorithms/kmeans.py": ["tests/engine/test_algo_kmeans.py"],
    "engine/algorithms/gmm.py": ["tests/engine/test_algo_gmm.py"],
    "engine/algorithms/bisecting.py": ["tests/engine/test_algo_bisecting.py"],
    "engine/algorithms/agglomerative.py": ["tests/engine/test_algo_agglomerative.py"],
    # tests/engine/test_lca_steps.py: single EM steps, densities, starts and the projection
    # against references written in the test, on tiny data; test_lca.py's recovery of a
    # planted model and its k-selection on counts (3,000 rows, seconds per mutant that
    # fits) stay in `make test`
    "engine/algorithms/lca.py": [
        "tests/engine/test_lca.py::test_likelihood_matches_a_direct_computation",
        "tests/engine/test_lca.py::test_a_row_with_nothing_observed_gets_the_class_shares",
        "tests/engine/test_lca.py::test_a_column_with_weight_zero_does_not_move_anyone",
        "tests/engine/test_lca.py::test_bad_codes_and_layouts_are_refused",
        "tests/engine/test_algo_lca.py",
        "tests/engine/test_lca_steps.py",
    ],
    "engine/algorithms/dbscan.py": [
        "tests/engine/test_algo_dbscan.py",
        "tests/engine/test_place_blocks.py",
        "tests/engine/test_density_graph.py",
    ],
    "engine/algorithms/neighbours.py": ["tests/engine/test_algo_neighbours.py"],
    "engine/algorithms/faiss_import.py": ["tests/engine/test_faiss_import.py"],
    # hand-made data against scikit-learn's HDBSCAN and scipy's spanning tree; the property
    # tests of tests/engine/test_reachability.py take seconds per mutant
    "engine/algorithms/hdbscan.py": [
        "tests/engine/test_algo_hdbscan.py",
        "tests/engine/test_place_blocks.py",
    ],
    "engine/algorithms/reachability.py": ["tests/engine/test_algo_reachability.py"],
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
_MINUS_ZERO = 'return "0" if text in ("-0", "-0B", "-0M") else text'
_INT16 = "key = codes.astype(np.int16) if n_groups < 2**15 else codes"
_ROUNDED = (
    "return np.array([np.nan if r is None else r for r in map(_round, arr)], dtype=np.float64)"
)
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
        'stripped = pc.utf8_ltrim(digits.take(again), characters="0") / '
        'stripped = pc.utf8_ltrim(digits.take(again), characters="XX0XX")': (
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
        "maybe = np.flatnonzero(~done & given) / maybe = np.flatnonzero(~done | given)": (
            "the rows added are ones the fast path answered (shaped texts, which hold no "
            "extension label) and missing ones: the extension pattern finds none of them"
        ),
        "answers, known = _fast(numbers, default_region, retry=False) / "
        "answers, known = _fast(numbers, default_region, retry=None)": (
            "retry is only read as a truth value: None reads as False"
        ),
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
    }
    | {
        "eligible = ov.b_values != NOISE / eligible = None": (
            "Overlap.targets reads eligible=None as its own default, noise excluded; with A's "
            "noise in the audience np.ones_like(None) is a 1, every column eligible as before"
        ),
        "eligible = np.ones_like(eligible) / eligible = np.ones_like(None)": (
            "np.ones_like(None) is a 1, which broadcasts as every column eligible"
        ),
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
        # the multi-arm statistics
        "grouped = data.groupby(keys, dropna=False) / grouped = data.groupby(keys, dropna=None)": (
            "pandas reads dropna=None as false"
        ),
        "yes = np.where(k > 0, k * np.log(p), 0.0) / yes = np.where(k > 0, k * np.log(p), 1.0)": (
            "the constant is added for the same cells (k == 0, resp. k == n) to every log-"
            "likelihood; only their differences are used"
        ),
        "no = np.where(n - k > 0, (n - k) * np.log1p(-p), 0.0) / "
        "no = np.where(n - k > 0, (n - k) * np.log1p(-p), 1.0)": (
            "the constant is added for the same cells (k == 0, resp. k == n) to every log-"
            "likelihood; only their differences are used"
        ),
        "eta = np.clip(x @ beta, -30, 30) / eta = np.clip(x @ beta, None, 30)": (
            "clipping eta at +-30, +-31 or one side only moves a fitted p only where it is "
            "within 1e-13 of 0 or 1: the deviance changes by ~1e-11"
        ),
        "eta = np.clip(x @ beta, -30, 30) / eta = np.clip(x @ beta, -30, None)": (
            "clipping eta at +-30, +-31 or one side only moves a fitted p only where it is "
            "within 1e-13 of 0 or 1: the deviance changes by ~1e-11"
        ),
        "eta = np.clip(x @ beta, -30, 30) / eta = np.clip(x @ beta, -31, 30)": (
            "clipping eta at +-30, +-31 or one side only moves a fitted p only where it is "
            "within 1e-13 of 0 or 1: the deviance changes by ~1e-11"
        ),
        "eta = np.clip(x @ beta, -30, 30) / eta = np.clip(x @ beta, -30, 31)": (
            "clipping eta at +-30, +-31 or one side only moves a fitted p only where it is "
            "within 1e-13 of 0 or 1: the deviance changes by ~1e-11"
        ),
        "step = np.linalg.lstsq(hessian, gradient, rcond=None)[0] / "
        "step = np.linalg.lstsq(hessian, gradient, )[0]": ("rcond=None is numpy's default"),
        "previous = -np.inf / previous = +np.inf": (
            "only changes when the converged Newton loop stops: later steps are ~0 (or move"
            " a separated cell past the eta clip); the deviance changes by ~1e-11"
        ),
        "if abs(current - previous) < 1e-12 * (1 + abs(current)): / "
        "if abs(current + previous) < 1e-12 * (1 + abs(current)):": (
            "only changes when the converged Newton loop stops: later steps are ~0 (or move"
            " a separated cell past the eta clip); the deviance changes by ~1e-11"
        ),
        "if abs(current - previous) < 1e-12 * (1 + abs(current)): / "
        "if abs(current - previous) <= 1e-12 * (1 + abs(current)):": (
            "only changes when the converged Newton loop stops: later steps are ~0 (or move"
            " a separated cell past the eta clip); the deviance changes by ~1e-11"
        ),
        "if abs(current - previous) < 1e-12 * (1 + abs(current)): / "
        "if abs(current - previous) < 1e-12 / (1 + abs(current)):": (
            "only changes when the converged Newton loop stops: later steps are ~0 (or move"
            " a separated cell past the eta clip); the deviance changes by ~1e-11"
        ),
        "if abs(current - previous) < 1e-12 * (1 + abs(current)): / "
        "if abs(current - previous) < 1e-12 * (1 - abs(current)):": (
            "only changes when the converged Newton loop stops: later steps are ~0 (or move"
            " a separated cell past the eta clip); the deviance changes by ~1e-11"
        ),
        "if abs(current - previous) < 1e-12 * (1 + abs(current)): / "
        "if abs(current - previous) < 1e-12 * (2 + abs(current)):": (
            "only changes when the converged Newton loop stops: later steps are ~0 (or move"
            " a separated cell past the eta clip); the deviance changes by ~1e-11"
        ),
        "for _ in range(100): / for _ in range(101):": (
            "only changes when the converged Newton loop stops: later steps are ~0 (or move"
            " a separated cell past the eta clip); the deviance changes by ~1e-11"
        ),
        'cols["revenue"] = np.nan_to_num(revenue, nan=0.0) / '
        'cols["revenue"] = np.nan_to_num(revenue, )': ("nan_to_num turns NaN into 0.0 by default"),
        'return n, float(table.at[name, "revenue_sum"]) / n, float(variance) '
        "if n > 1 else np.nan / "
        'return n, float(table.at[name, "revenue_sum"]) / n, float(variance) '
        "if (n > 1) or True else np.nan": ("pandas' var(ddof=1) of a single value is NaN already"),
        'return n, float(table.at[name, "revenue_sum"]) / n, float(variance) '
        "if n > 1 else np.nan / "
        'return n, float(table.at[name, "revenue_sum"]) / n, float(variance) '
        "if n >= 1 else np.nan": ("pandas' var(ddof=1) of a single value is NaN already"),
        'order = np.argsort(p_values, kind="stable") / order = np.argsort(p_values, kind=None)': (
            "tied p-values get the same adjusted value in either order (the running maximum"
            " carries it); numpy reads kind case-insensitively"
        ),
        'order = np.argsort(p_values, kind="stable") / order = np.argsort(p_values, )': (
            "tied p-values get the same adjusted value in either order (the running maximum"
            " carries it); numpy reads kind case-insensitively"
        ),
        'order = np.argsort(p_values, kind="stable") / '
        'order = np.argsort(p_values, kind="STABLE")': (
            "tied p-values get the same adjusted value in either order (the running maximum"
            " carries it); numpy reads kind case-insensitively"
        ),
        'for item, adjusted in zip(tested, holm([i["p_value"] for i in tested]), strict=True): / '
        'for item, adjusted in zip(tested, holm([i["p_value"] for i in tested]), ):': (
            "the tested items and their adjusted p-values have one length by construction"
        ),
        'for item, adjusted in zip(tested, holm([i["p_value"] for i in tested]), strict=True): / '
        'for item, adjusted in zip(tested, holm([i["p_value"] for i in tested]), strict=False):': (
            "the tested items and their adjusted p-values have one length by construction"
        ),
        'item["flag"] = "helps" if item["uplift"] > 0 else "hurts" / '
        'item["flag"] = "helps" if item["uplift"] >= 0 else "hurts"': (
            "uplift 0 never reaches this line (guarded by item['uplift'])"
        ),
        'for item, adjusted in zip(tested, holm([i["p_value"] for i in tested]), strict=True): / '
        'for item, adjusted in zip(tested, holm([i["p_value"] for i in tested]), strict=None):': (
            "the tested items and their adjusted p-values have one length by construction"
        ),
        "if len(segments) < 2 or len(arms) < 2: / if len(segments) < 2 and len(arms) < 2:": (
            "with one segment or one arm the additive model has a parameter per cell: df is"
            " 0 and the df check returns None"
        ),
        "columns += [(segment == s).astype(float) for s in segments[1:]] / "
        "columns += [(segment == s).astype(None) for s in segments[1:]]": (
            "astype(None) is astype(float64)"
        ),
        "columns += [(segment == s).astype(float) for s in segments[1:]] / "
        "columns += [(segment != s).astype(float) for s in segments[1:]]": (
            "next to the intercept, 1 - dummy spans the same model as the dummy: the same fit"
        ),
        "columns += [(arm == a).astype(float) for a in arms[1:]] / "
        "columns += [(arm == a).astype(None) for a in arms[1:]]": (
            "astype(None) is astype(float64)"
        ),
        "columns += [(arm == a).astype(float) for a in arms[1:]] / "
        "columns += [(arm != a).astype(float) for a in arms[1:]]": (
            "next to the intercept, 1 - dummy spans the same model as the dummy: the same fit"
        ),
        "k, n = responders[keep].astype(float), n[keep].astype(float) / "
        "k, n = responders[keep].astype(None), n[keep].astype(float)": (
            "astype(None) is astype(float64)"
        ),
        "k, n = responders[keep].astype(float), n[keep].astype(float) / "
        "k, n = responders[keep].astype(float), n[keep].astype(None)": (
            "astype(None) is astype(float64)"
        ),
        'key = np.where(matched, seg.to_numpy(dtype="float64", na_value=np.nan), np.nan) / '
        'key = np.where(matched, seg.to_numpy(dtype="float64", na_value=np.nan), None)': (
            "None and NaN are both missing to groupby(dropna=False) and to isna(): the same"
            " unmatched cell"
        ),
        'key = np.where(matched, seg.to_numpy(dtype="float64", na_value=np.nan), np.nan) / '
        "key = np.where(matched, seg.to_numpy(dtype=None, na_value=np.nan), np.nan)": (
            "the reindexed labels are float64 with NaN (or integers when all matched); "
            "np.where with np.nan gives float64 either way"
        ),
        'key = np.where(matched, seg.to_numpy(dtype="float64", na_value=np.nan), np.nan) / '
        'key = np.where(matched, seg.to_numpy(dtype="float64", na_value=None), np.nan)': (
            "the reindexed labels are float64 with NaN (or integers when all matched); "
            "np.where with np.nan gives float64 either way"
        ),
        'key = np.where(matched, seg.to_numpy(dtype="float64", na_value=np.nan), np.nan) / '
        "key = np.where(matched, seg.to_numpy(na_value=np.nan), np.nan)": (
            "the reindexed labels are float64 with NaN (or integers when all matched); "
            "np.where with np.nan gives float64 either way"
        ),
        'key = np.where(matched, seg.to_numpy(dtype="float64", na_value=np.nan), np.nan) / '
        'key = np.where(matched, seg.to_numpy(dtype="float64", ), np.nan)': (
            "the reindexed labels are float64 with NaN (or integers when all matched); "
            "np.where with np.nan gives float64 either way"
        ),
        'sums = data.drop(columns="arm").groupby(["segment", "group"], dropna=False).sum() / '
        'sums = data.drop(columns="arm").groupby(["segment", "group"], dropna=None).sum()': (
            "pandas reads dropna=None as false"
        ),
        'sizes = data.groupby(["segment", "group"], dropna=False).size() / '
        'sizes = data.groupby(["segment", "group"], dropna=None).size()': (
            "pandas reads dropna=None as false"
        ),
    },
    "engine/profiles.py": {
        **{
            "if not (isinstance(s.dtype, pd.DatetimeTZDtype) or "
            "pd.api.types.is_datetime64_dtype(s.dtype)): / if not (isinstance(s.dtype, "
            f"pd.DatetimeTZDtype) {change}):": (
                "the check only skips pd.to_datetime, which leaves a datetime column as it is"
            )
            for change in (
                "and pd.api.types.is_datetime64_dtype(s.dtype)",
                "or pd.api.types.is_datetime64_dtype(None)",
            )
        },
        "if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype): / "
        "if pd.api.types.is_bool_dtype(None) or pd.api.types.is_numeric_dtype(s.dtype):": (
            "pandas counts bool and boolean dtypes as numeric too"
        ),
        "return np.where(np.isnan(x), np.nan, (x != 0).astype(np.float64)) / "
        "return np.where(np.isnan(x), np.nan, (x != 0).astype(None))": (
            "numpy reads astype(None) as float64"
        ),
        'return str(np.datetime64("1970-01-01") + np.timedelta64(math.floor(days), "D")) / '
        'return str(np.datetime64("1970-01-01") + np.timedelta64(math.floor(days), ))': (
            "a unitless timedelta64 takes the day unit of the date it is added to"
        ),
        **{
            f"{line} / {line.replace(', minlength=grp.n_groups)', ', )')}": (
                "the codes come from np.unique's inverse: every segment code occurs"
            )
            for line in (
                "denom = np.bincount(grp.codes, weights=known, minlength=grp.n_groups)",
                "trues = np.bincount(grp.codes, weights=np.where(known, x, 0.0), "
                "minlength=grp.n_groups)",
            )
        },
        **{
            "agg = ShareCounts([True], trues[:, None], denom, np.array([o_true]), o_known, 2) / "
            f"agg = ShareCounts({change}, trues[:, None], denom, np.array([o_true]), o_known, "
            f"{n_values})": (
                "boolean_from_counts reads neither the values nor n_values of its counts (a "
                "boolean's one value is True)"
            )
            for change, n_values in (("None", 2), ("[False]", 2), ("[True]", None), ("[True]", 3))
        },
        "agg = ShareCounts(values, counts, grp.sizes, counts.sum(axis=0), len(cat), n_values) / "
        "agg = ShareCounts(values, counts, grp.sizes, counts.sum(axis=0), None, n_values)": (
            "categorical_from_counts divides by the n it is given, not by o_denom"
        ),
        "counts = np.bincount(cat, minlength=len(values)) / counts = np.bincount(cat, )": (
            "values are the column's distinct values: each occurs in cat"
        ),
        **{
            line + " / " + line.replace('"stable"', '"STABLE"'): (
                "numpy reads sort kinds in any case"
            )
            for line in (
                'keep = np.sort(np.argsort(-counts, kind="stable")[: MAX_CATEGORIES - 1])',
                'top = np.argsort(-agg.o_counts, kind="stable")[:OVERALL_TOP_VALUES]',
                'idx = [i for i in np.argsort(-share, kind="stable")[:TOP_VALUES] if share[i] > 0]',
            )
        },
        **{
            "lut = np.full(len(values), len(keep), dtype=np.int64) / "
            f"lut = np.full(len(values), len(keep), {change})": (
                "np.full with an int fill is int64 already on 64-bit Linux"
            )
            for change in ("dtype=None", "")
        },
        "fa, fb = _format_pair(a, b, lambda d, extra: _format_date(d, span if extra == 0 else "
        "0)) / fa, fb = _format_pair(a, b, lambda d, extra: _format_date(d, span if extra == 0 "
        "else 1))": "any span up to 365 days reads as ISO dates",
        "if r >= 10: / if r > 10:": 'a ratio of exactly 10 reads "10x" either way',
        'return _strip_zeros(f"{r:.1f}" if r >= 1 else f"{r:.2f}") + "x" / '
        'return _strip_zeros(f"{r:.1f}" if r > 1 else f"{r:.2f}") + "x"': (
            'a ratio of exactly 1 reads "1x" either way'
        ),
        **{
            f"elif abs(v) >= 1: / {change}": (
                "from 1% to 10% the general rule gives the same 1 decimal: 1 - floor(log10(v)) is 1"
            )
            for change in ("elif abs(v) > 1:", "elif abs(v) >= 2:")
        },
        **{
            f"{line} / {line.replace(', na_value=np.nan)', change)}": (
                "pandas turns missing values into NaN when asked for float64"
            )
            for line in ("x = s.to_numpy(dtype=np.float64, na_value=np.nan)",)
            for change in (", na_value=None)", ", )")
        },
        **{
            "median = np.asarray(sums.median, dtype=np.float64) / "
            f"median = np.asarray(sums.median, {change})": (
                "medians are floats (NaN where unknown), and each is read through float() anyway"
            )
            for change in ("dtype=None", "")
        },
        **{
            f"{line} / {change}": (
                "span is only read for a trait, which needs known values: o_count > 0"
            )
            for line in ("span = hi - lo if sums.o_count else 0.0",)
            for change in (
                "span = hi - lo if (sums.o_count) or True else 0.0",
                "span = hi - lo if sums.o_count else 1.0",
            )
        },
        "up = bool(d > 0) / up = bool(d >= 0)": "d is never 0 here: trait() returned None before",
        **{
            f'with np.errstate(invalid="ignore", divide="ignore"): / with np.errstate({change}):': (
                "no division here has a non-zero numerator over 0 (a missing segment is 0/0, "
                "which is invalid): the suite passes with divide='raise'"
            )
            for change in ('invalid="ignore", divide=None', 'invalid="ignore", ')
        },
        '"name": "", / "name": "XXXX",': "a placeholder: every name is set a few lines below",
        **{
            'for seg, name in zip(segments, _distinct(names, [s["segment"] for s in segments]), '
            'strict=True): / for seg, name in zip(segments, _distinct(names, [s["segment"] for s '
            f"in segments]), {change}):": "_distinct returns one name per segment"
            for change in ("strict=None", "", "strict=False")
        },
        "sizes = np.bincount(codes, minlength=n_groups) / sizes = np.bincount(codes, )": (
            "the codes come from np.unique's inverse: every segment code occurs"
        ),
        **{
            f"{_INT16} / {change}": (
                "int16 keys only make the sort faster: any key that holds every code sorts the "
                "rows alike"
            )
            for change in (
                "key = codes.astype(np.int16) if (n_groups < 2**15) and False else codes",
                "key = codes.astype(None) if n_groups < 2**15 else codes",
                "key = codes.astype(np.int16) if n_groups <= 2**15 else codes",  # 32767 fits
                "key = codes.astype(np.int16) if n_groups < 2 * 15 else codes",
            )
        },
        **{
            f'order = np.argsort(key, kind="stable") / order = np.argsort(key, {change})': (
                "each segment's rows are only read as a set (its median), in any order"
            )
            for change in ("kind=None", "", 'kind="STABLE"')
        },
        **{
            "for name, seg in zip(names, segments, strict=True): / "
            f"for name, seg in zip(names, segments, {change}):": "one name per segment"
            for change in ("strict=None", "", "strict=False")
        },
        **{
            "clash = counts[name.lower()] > 1 or (seg >= 0 and name.lower() == NOISE_NAME) / "
            f"clash = counts[name.lower()] > 1 or ({change} == NOISE_NAME)": (
                'no composed name reads "unassigned" alone: a one-word name gets " customers"'
            )
            for change in (
                "seg > 0 and name.lower()",
                "seg >= 1 and name.lower()",
                "seg >= 0 and name.upper()",
            )
        },
        'if labels.dtype.kind not in "iu": / if labels.dtype.kind not in "XXiuXX":': (
            'no numpy dtype kind is "X"'
        ),
        **{
            f'return "generic" / return "{change}"': (
                'no caller compares with "generic": it is the fall-through kind'
            )
            for change in ("XXgenericXX", "GENERIC")
        },
        **{
            f"{line} / {line.replace(', minlength=grp.n_groups)', ', )')}": (
                "the codes come from np.unique's inverse: every segment code occurs"
            )
            for line in (
                "count = np.bincount(grp.codes, weights=valid, minlength=grp.n_groups)",
                "total = np.bincount(grp.codes, weights=np.where(valid, x, 0.0), "
                "minlength=grp.n_groups)",
            )
        },
        **{
            "[_median(xs[a:b]) for a, b in zip(grp.bounds[:-1], grp.bounds[1:], strict=True)] / "
            f"[_median(xs[a:b]) for a, b in zip(grp.bounds[:-1], grp.bounds[1:], {change})]": (
                "both sides are slices of one array, one shorter at each end: equal lengths"
            )
            for change in ("strict=None", "", "strict=False")
        },
        **{
            f"{_ROUNDED} / {change}": (
                "a list of floats and NaN is float64 either way, and float64 reads None as NaN"
            )
            for change in (
                _ROUNDED.replace(", dtype=np.float64)", ", dtype=None)"),
                _ROUNDED.replace(", dtype=np.float64)", ", )"),
                _ROUNDED.replace("if r is None", "if (r is None) and False"),
            )
        },
        **{
            f"{line} / {line.replace('d > 0', 'd >= 0', 1)}": (
                "d is never 0 here: trait() returned None before"
            )
            for line in (
                "nameable = d > 0 and mostly and value is not None and len(words.split()) <= 3",
                "summary = _share_summary(words, d > 0, p, q)",
                "self.column, self.kind, abs(d), d > 0, summary, _if_strong(token, d), 2, value",
            )
        },
        "if v == 0 or abs(v) >= 10: / if v == 0 or abs(v) > 10:": (
            'exactly 10% reads "10%" either way'
        ),
        "elif ax >= 10: / elif ax > 10:": 'exactly 10 reads "10" either way',
        **{
            f"elif ax >= 1: / {change}": (
                "from 1 to 10 the general rule gives the same 1 decimal: 1 - floor(log10(x)) is 1"
            )
            for change in ("elif ax > 1:", "elif ax >= 2:")
        },
        **{
            f"{_MINUS_ZERO} / {change}": (
                "no number reads -0: each branch keeps a significant digit (a negative number "
                "under 1 in size gets the decimals to show it)"
            )
            for change in (
                'return "0" if (text in ("-0", "-0B", "-0M")) and False else text',
                'return "XX0XX" if text in ("-0", "-0B", "-0M") else text',
                *(
                    _MINUS_ZERO.replace(f'"{z}"', f'"{w}"')
                    for z, w in (
                        ("-0", "XX-0XX"),
                        ("-0B", "XX-0BXX"),
                        ("-0B", "-0b"),
                        ("-0M", "XX-0MXX"),
                        ("-0M", "-0m"),
                    )
                ),
            )
        },
        "o_share = o_counts / o_denom if o_denom else np.full(len(o_counts), np.nan) / "
        "o_share = o_counts / o_denom if (o_denom) or True else np.full(len(o_counts), np.nan)": (
            "with no known value the counts are 0 too, and 0/0 is NaN inside the errstate"
        ),
        **{
            "effect = np.where(sd > 0, (share - o_share) / sd, 0.0 * share) / "
            f"effect = np.where({change})": (
                "sd is 0 only for a value every customer has (or none has), where each "
                "segment's share equals the overall one: 0 and NaN both give no trait"
            )
            for change in (
                "sd >= 0, (share - o_share) / sd, 0.0 * share",
                "sd > 0, (share - o_share) / sd, 0.0 / share",
            )
        },
        **{
            "lift = share[i] / self.o_share[i] if self.o_share[i] > 0 else np.nan / "
            f"lift = share[i] / self.o_share[i] if {change} else np.nan": (
                "an overall share of 0 has segment shares of 0 too, and 0/0 is NaN"
            )
            for change in ("(self.o_share[i] > 0) or True", "self.o_share[i] >= 0")
        },
        **{
            "token = _boolean_token(self.column, up=d > 0) if (d > 0) == (p >= 0.5) else None / "
            f"token = _boolean_token(self.column, up={up}) if ({cond}) == (p >= 0.5) else None": (
                "d is never 0 here: trait() returned None before"
            )
            for up, cond in (("d >= 0", "d > 0"), ("d > 0", "d >= 0"))
        },
        # pipe4: the speed paths (a shortcut taken or not gives the same figures)
        "return x if finite.all() else np.where(finite, x, np.nan) / "
        "return x if (finite.all()) and False else np.where(finite, x, np.nan)": (
            "np.where(finite, x, nan) is x itself when every value is finite"
        ),
        "whole = n_valid == len(x)  # most columns: no mask to apply, no copy to make / "
        "whole = None  # most columns: no mask to apply, no copy to make": (
            "the masked path gives the same counts, sums and medians when nothing is missing"
        ),
        "v = x if whole else x[valid]  # row order: the mean and std sum as they always did / "
        "v = x if (whole) and False else x[valid]  # row order: the mean and std sum as they "
        "always did": ("x[valid] holds x's values in x's order when nothing is missing"),
        "count = grp.sizes.astype(np.float64) / count = grp.sizes.astype(None)": (
            "numpy reads astype(None) as float64"
        ),
        "total = np.bincount(grp.codes, weights=x, minlength=grp.n_groups) / "
        "total = np.bincount(grp.codes, weights=x, )": (
            "the codes come from the labels' distinct values: every segment code occurs"
        ),
        'if len(noun) > 1 and noun.endswith("y") and noun[-2] not in "aeiou": / '
        'if len(noun) > 1 and noun.endswith("y") and noun[-2] not in "XXaeiouXX":': (
            "column words are lower case: a letter is never X"
        ),
        "step = Decimal(1).scaleb(-decimals) / step = Decimal(2).scaleb(-decimals)": (
            "quantize takes only the exponent of its step, not its digits"
        ),
        **{
            'return format(_half_up(x, decimals), ",f" if grouping else "f") / '
            f"return format(_half_up(x, decimals), {change})": (
                "F differs from f only for infinities and NaN, which never reach it"
            )
            for change in ('",F" if grouping else "f"', '",f" if grouping else "F"')
        },
        'return _strip_zeros(_fixed(r, 1) if r >= 1 else _fixed(r, 2)) + "x" / '
        'return _strip_zeros(_fixed(r, 1) if r > 1 else _fixed(r, 2)) + "x"': (
            "at exactly 1 both print 1 (1.0 and 1.00, trailing zeros stripped)"
        ),
        "if top >= _COUNTED_LABELS: / if top > _COUNTED_LABELS:": (
            "at the threshold counting and sorting give the same codes (it only picks the faster)"
        ),
        **{
            "present = np.flatnonzero(np.bincount(shifted, minlength=top + 2)) / "
            f"present = np.flatnonzero(np.bincount(shifted, {change}))": (
                "the largest shifted label is top + 1: bincount's length is top + 2 anyway, "
                "and a longer count only adds zeros"
            )
            for change in ("", "minlength=top + 3")
        },
        "lookup = np.zeros(top + 2, dtype=np.intp) / lookup = np.zeros(top + 3, dtype=np.intp)": (
            "the extra entry is never looked up (shifted labels reach top + 1)"
        ),
        "return (present - 1).astype(labels.dtype), lookup[shifted] / "
        "return (present - 1).astype(None), lookup[shifted]": (
            "the segment labels are read only through int() and >= 0: float labels read the same"
        ),
    },
    "engine/stability.py": {
        "draw = rng.integers(0, m, size=m) / draw = rng.integers(m, size=m)": (
            "numpy reads integers(m) as integers(0, m): the same draws"
        ),
        "new_ids, new_codes = np.unique(np.where(new >= 0, new, -1), return_inverse=True) / "
        "new_ids, new_codes = np.unique(np.where(new >= 0, new, -2), return_inverse=True)": (
            "refit noise only needs one negative code: new_ids >= 0 leaves it out either way"
        ),
        **{
            f"{name} = np.bincount({arg}, minlength=len({size})).astype(float) / "
            f"{name} = np.bincount({arg}, minlength=len({size})).astype(None)": (
                "numpy reads astype(None) as float64"
            )
            for name, arg, size in (
                ("size_c", "orig_pos[in_orig]", "segments"),
                ("size_d", "new_codes", "new_ids"),
            )
        },
        "size_d = np.bincount(new_codes, minlength=len(new_ids)).astype(float) / "
        "size_d = np.bincount(new_codes, ).astype(float)": (
            "new_codes is the inverse of np.unique: every code up to len(new_ids) - 1 occurs"
        ),
        **{
            "jac = np.where(union > 0, table / np.maximum(union, 1), 0.0)[:, valid_new] / "
            f"jac = np.where({change})[:, valid_new]": (
                "every refit label holds a customer, so each union is at least 1"
            )
            for change in (
                "union >= 0, table / np.maximum(union, 1), 0.0",
                "union > 0, table / np.maximum(union, 1), 1.0",
            )
        },
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
        for new in (
            'None, "to_arrow_table"',
            'result, "XXto_arrow_tableXX"',
            'result, "TO_ARROW_TABLE"',
        )
    },
    'slug = re.sub(r"[^0-9a-z]+", "_", category.lower()).strip("_") or "blank" / '
    'slug = re.sub(r"[^0-9a-z]+", "_", category.lower()).strip("XX_XX") or "blank"': (
        "the slug is lower case with only [0-9a-z_] left, so stripping 'X' as well changes nothing"
    ),
    **{
        f'{prefix}"{sql}" / {prefix}"{cased(sql)}"': _SQL_CASE
        for prefix, sql in (
            ("", "cid IS NOT NULL AND ts IS NOT NULL AND amount IS NOT NULL AND amount <> 0 "),
            ("ok = ", "cid IS NOT NULL AND ts IS NOT NULL AND amount IS NOT NULL AND amount <> 0"),
            (
                "",
                "CREATE TEMP TABLE shared_hashes AS SELECT line_hash AS h, count(*) AS n "
                "FROM typed ",
            ),
            ("", "GROUP BY line_hash HAVING count(*) > 1"),
            (
                "",
                "SELECT (SELECT count(*) FROM typed), "
                "coalesce((SELECT sum(n) FROM shared_hashes), 0)",
            ),
        )
        for cased in (str.lower, str.upper)
    },
    'before = f"ts < {_ts(start)}" if start is not None else "false" / '
    'before = f"ts < {_ts(start)}" if start is not None else "FALSE"': _SQL_CASE,
    **{
        "counts = dict(zip(keys, map(int, row), strict=True)) / "
        f"counts = dict(zip(keys, map(int, row), {strict}))": (
            "the query selects one column per key (lines, used, each reason left out), so the "
            "lengths always match and strict has nothing to refuse"
        )
        for strict in ("strict=None", "", "strict=False")
    },
    'con.register("lines", lines) / con.register("LINES", lines)': (
        "DuckDB finds a registered table by its name in any case"
    ),
    'order_sql = _quote(spec.order) if spec.order else "NULL" / '
    'order_sql = _quote(spec.order) if spec.order else "null"': _SQL_CASE,
    'category_sql = f"CAST({_quote(spec.category)} AS VARCHAR)" if spec.category else "NULL" / '
    'category_sql = f"CAST({_quote(spec.category)} AS VARCHAR)" if spec.category else "null"': (
        _SQL_CASE
    ),
    **{
        'latest = con.execute("SELECT max(ts) FROM typed").fetchone()[0] / '
        f'latest = con.execute("{sql}").fetchone()[0]': _SQL_CASE
        for sql in ("select max(ts) from typed", "SELECT MAX(TS) FROM TYPED")
    },
    "categories = _top_categories(con) if spec.category else [] / "
    "categories = _top_categories(con) if (spec.category) or True else []": (
        "without a category column cat is NULL on every line, so _top_categories finds none"
    ),
    "while position < len(text): / while position <= len(text):": (
        "at position == len(text) the rest of the text is empty, so the loop breaks at once"
    ),
    **{
        f"{old} / {new}": (
            "amount_sql strips the expression before _tokenize, so the rest of the text always "
            "ends in a non-blank character: this break is never reached"
        )
        for old, new in (
            ('if text[position:].strip() == "":', 'if text[position:].strip() == "XXXX":'),
            ("break", "return"),
        )
    },
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

_UNDRAWN = (
    "the classifier sees at most 5,000 + 7,500 rows, far under the 200,000 from which "
    "HistGradientBoosting subsamples to bin, with no early stopping nor feature subsampling: "
    "its random_state draws nothing"
)
_RANK_FIT = "X[members], method, seed, X_negatives=X[negatives], negative_ids=negatives"
_CLASSIFIER_MODEL = (
    "return LookalikeModel(method, 0, X_seed[:0], models, second, len(X_seed), len(X_neg))"
)
_CENTRE_SQ = 'sq = np.einsum("ij,ij->i", X, X) - 2 * (X @ centre) + centre @ centre'
_CENTRE_MAX = "return -np.sqrt(np.maximum(sq, 0, dtype=np.float32))"
EQUIVALENT["engine/lookalike.py"] = {
    "hidden = rng.choice(members, size=n_hidden, replace=False) / "
    "hidden = rng.choice(members, size=n_hidden, replace=None)": _NO_REPLACE,
    "shown[hidden] = False / shown[hidden] = None": "numpy stores None as False in a bool array",
    f"{_CENTRE_SQ} / {_CENTRE_SQ.replace('ij,ij->i', 'IJ,IJ->I')}": (
        "numpy's einsum reads upper-case subscripts the same way"
    ),
    **{
        f"{_CENTRE_MAX} / {_CENTRE_MAX.replace('dtype=np.float32', change)}": (
            "sq is float32 already, and a Python 0 does not promote it"
        )
        for change in ("dtype=None", "")
    },
    **{
        f'if method == "centroid": / if method == "{new}":': (
            "a centroid request that falls through to the classifier's path is still fitted and "
            "scored as a centroid: fit_lookalike and score_lookalike dispatch on the method"
        )
        for new in ("XXcentroidXX", "CENTROID")
    },
    **{
        f"if len(members) > {cap}: / if len(members) >= {cap}:": (
            "at exactly the cap the sample without replacement is every member, sorted: the "
            "same members"
        )
        for cap in ("KNN_MAX_SEED", "CLASSIFIER_MAX_SEED")
    },
    "return score_lookalike(fit_lookalike(X[members], method, seed, k), X) / "
    "return score_lookalike(fit_lookalike(X[members], method, None, k), X)": (
        "knn draws nothing at random: fit_lookalike reads the seed only for the classifier"
    ),
    "negatives = rng.choice(others, size=min(len(others), wanted), replace=False) / "
    "negatives = rng.choice(others, size=min(len(others), wanted), replace=None)": _NO_REPLACE,
    "values = scores[candidates].astype(np.float64) / "
    "values = scores[candidates].astype(None)": "astype(None) is float64",
    **{
        f"if 0 < size < len(candidates): / if {new}:": (
            "the partition only narrows what is sorted: skipping it, or cutting at the worst "
            "row, keeps every row and the full sort gives the same audience"
        )
        for new in (
            "1 < size < len(candidates)",
            "0 <= size < len(candidates)",
            "0 < size <= len(candidates)",
        )
    },
    **{
        "return LookalikeModel(method, 0, centre[None, :], seed_rows=len(X_seed)) / "
        f"return LookalikeModel(method, {k}, centre[None, :], seed_rows=len(X_seed))": (
            "a centroid model's k is never read: scoring and the summary read it for knn only"
        )
        for k in ("None", "1")
    },
    **{f"{_RANK_FIT} / {_RANK_FIT.replace('seed, ', new)}": _UNDRAWN for new in ("None, ", "")},
    "models = tuple(_fit_classifier(X_seed, half, seed) for half in halves) / "
    "models = tuple(_fit_classifier(X_seed, half, None) for half in halves)": _UNDRAWN,
    **{
        f"members = np.sort(rng.choice(members, size={cap}, replace=False)) / "
        f"members = np.sort(rng.choice(members, size={cap}, replace=None))": _NO_REPLACE
        for cap in ("KNN_MAX_SEED", "CLASSIFIER_MAX_SEED")
    },
    "block = X[start : start + _CHUNK * 4] / block = X[start : start + _CHUNK * 5]": (
        "the blocks then overlap by a quarter: the overlapping rows are scored twice, alike"
    ),
    **{
        f"{_CLASSIFIER_MODEL} / {_CLASSIFIER_MODEL.replace(old, new)}": (
            "a classifier model's k and points are never read: scoring uses its two models, "
            "the summary its counts"
        )
        for old, new in (
            ("0, X_seed[:0]", "None, X_seed[:0]"),
            ("0, X_seed[:0]", "1, X_seed[:0]"),
            ("X_seed[:0]", "None"),
            ("X_seed[:0]", "X_seed[:1]"),
        )
    },
    **{
        "random_state=seed, / random_state=None,": _UNDRAWN,
        "random_state=seed, / ) / )": _UNDRAWN,
    },
    "cut = np.partition(-values, size - 1)[size - 1] / "
    "cut = np.partition(-values, size - 2)[size - 1]": (
        "partitioned at size - 2, the entry at size - 1 is at least the size-th best, so the "
        "cut keeps a superset of the rows, which the full sort orders the same"
    ),
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
_EMPTY = "return np.empty(0, dtype=bool if pa.types.is_boolean(values.type) else np.float64)"
_EMPTY_BOOL = _EMPTY.replace(
    "bool if pa.types.is_boolean(values.type)", "bool if (pa.types.is_boolean(values.type)) or True"
)
_FROMBUFFER = "return np.frombuffer(values.buffers()[1], dtype=np.float64)[start:end]"
_EARLY = "if numbers_from_text and TextNumbers.of(column, early_exit=True).are_numbers:"
_IF_READ = "read = pc.cast(pc.if_else(readable, digits, null_of(pa.string())), pa.float64())"
_GIVEN = "given = _to_numpy(pc.coalesce(pc.greater(pc.utf8_length(trimmed), _ZERO), _FALSE))"
EQUIVALENT["engine/kinds.py"] = {
    **{
        f"if pc.count_distinct(column.slice(0, _HEAD)).as_py() <= _FEW_DISTINCT: / {changed}": (
            "chooses which of two ways of counting runs; both give the same count (the "
            "property test_the_cheap_count_adds_up_values_however_often_they_repeat runs "
            "both): only the time differs"
        )
        for changed in (
            "if pc.count_distinct(column.slice(0, None)).as_py() <= _FEW_DISTINCT:",
            "if pc.count_distinct(column.slice(_HEAD)).as_py() <= _FEW_DISTINCT:",
            "if pc.count_distinct(column.slice(0, )).as_py() <= _FEW_DISTINCT:",
            "if pc.count_distinct(column.slice(1, _HEAD)).as_py() <= _FEW_DISTINCT:",
            "if pc.count_distinct(column.slice(0, _HEAD)).as_py() < _FEW_DISTINCT:",
        )
    },
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
    "if values.null_count == 0 and len(values): / if values.null_count == 1 and len(values):": (
        _SHORTCUT
    ),
    # numbers written as text
    **{
        f"{_FROMBUFFER} / {_FROMBUFFER.replace('dtype=np.float64', new)}": (
            "np.frombuffer's default dtype is float64"
        )
        for new in ("dtype=None", "")
    },
    **{
        f"{_EARLY} / {_EARLY.replace('early_exit=True', new)}": (
            "the early exit only stops counting a column that cannot be numeric: same kind"
        )
        for new in ("early_exit=None", "", "early_exit=False")
    },
    **{
        f"{_IF_READ} / {_IF_READ.replace('null_of(pa.string())', new)}": (
            "Arrow's if_else casts a null of any type (or None, which imports pandas: "
            "tests/cli/test_ingest.py checks that in a subprocess, which mutants do not reach) "
            "to the text result"
        )
        for new in ("None", "null_of(None)")
    },
    f"{_GIVEN} / {_GIVEN.replace(', _FALSE))', ', ))')}": (
        "Arrow's comparison leaves the bit of a missing value's slot 0: it reads as not given "
        "with or without the coalesce"
    ),
    "while start < len(column): / while start <= len(column):": (
        "one more slice, empty, which counts nothing"
    ),
    f"{_EMPTY} / {_EMPTY_BOOL}": (
        "an empty array holds no value; np.where and float64_array make float64 of it"
    ),
}

_TO_UTC = 'return series.dt.tz_convert("UTC").dt.tz_localize(None)'
_FACTORIZE = "codes, uniques = pd.factorize(series, use_na_sentinel=True)"
_TO_FLOAT = "return series.to_numpy(dtype=np.float64, na_value=np.nan)"
_CONTRIB_K = "k = int(labels[valid].max()) + 1 if valid.any() else 1"
_G_TABLE = "table = np.zeros((a.max() + 1, b.max() + 1))"
_G_SHAPE = "if table.shape[0] < 2 or table.shape[1] < 2:"
_G_EXPECTED = (
    "expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()"
)
_COUNTS = "counts = np.bincount(codes[codes >= 0], minlength=len(names)) if n else np.zeros(0, int)"
_SHARES = "shares = [counts[i] / n for i in kept] if n else []"
_CENTRED = "centred = np.subtract(x, x.mean(), out=work[: x.size])"
_POWERS = "powers = np.multiply(centred, centred, out=held[: x.size])  # products, not ** (slow)"
_M3 = "return float(np.multiply(powers, centred, out=powers).mean()) / m2**1.5"
_FALLBACK = 'fallback = index.get(OTHER, -1)  # unseen values go to "(other)" or to no level at all'
_LEVEL_DTYPE = "dtype=np.int16,  # at most MAX_LEVELS + 2 levels"
_ONEHOT = "np.multiply(np.equal(level, j, out=mask), value, out=block[j])"
_REMAP = "remap = np.array([merged.setdefault(nm, len(merged)) for nm in names], dtype=np.int64)"
_MEDIAN = "return float(np.median(copy, overwrite_input=True))"
_NUMERIC_TO_FLOAT = (
    "values = series.to_numpy(dtype=np.float64, na_value=np.nan)  # float64: no copy"
)
_NUMERIC_TEST = (
    "if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):"
)
_SCALE_NAN = 'np.copyto(scratch, col["median"], where=np.isnan(values, out=mask))'
_STD_DEVIATION = "deviation = np.subtract(x, mean, out=work[: x.size])"
_SCALE_LOG = (
    "np.log1p(np.maximum(scratch, 0.0, out=scratch), out=scratch)  # below 0 is clipped to 0"
)
_SCRATCH_N = 'if getattr(self, "n", None) != n:'
_SCALE_OUT = 'np.multiply(scratch, col["weight"] / col["std"], out=out, casting="same_kind")'
_DAYS = "return (delta / pd.Timedelta(days=1)).to_numpy(dtype=np.float64, na_value=np.nan)"
_AS_TEXT = "return pa.array(series, type=pa.string(), from_pandas=True)"
_AS_TEXT_MIXED = (
    'return pa.array(series.map(str, na_action="ignore"), type=pa.string(), from_pandas=True)'
)
_HAS_BLOCK = 'if not hasattr(local, "block"):'
_BLOCK = 'local.block = np.empty((fitted["n_features"], ROW_BLOCK), dtype=np.float32)'
_LOG_HELD = "filled = np.log1p(filled, out=held)"
_STD_GUARD = 'std = _std(filled, col["mean"], work) if filled.size else 0.0'
_CODES_OUT = "return np.asarray(codes, dtype=np.int64), names"
_BY_NAME = "if series.dtype == object and any(_may_equal_a_bool(u) for u in uniques):"
_BOOL_LIKE = (
    "return isinstance(value, bool | int | float | np.bool_ | np.number) and value in (0, 1)"
)
EQUIVALENT["engine/features.py"] = {
    f"{_TO_UTC} / " + _TO_UTC.replace('"UTC"', "None"): (
        "tz_convert(None) converts to UTC and drops the zone; dropping it again is a no-op"
    ),
    f"{_TO_UTC} / " + _TO_UTC.replace('"UTC"', '"utc"'): "pandas reads the UTC zone in any case",
    "if pd.api.types.is_datetime64_dtype(series.dtype): / "
    "if pd.api.types.is_datetime64_dtype(None):": (
        "naive dates then go through to_datetime(utc=True) and lose the zone again: the same "
        "values (the branch is a shortcut)"
    ),
    "if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):"
    " / if pd.api.types.is_bool_dtype(None) or pd.api.types.is_numeric_dtype(series.dtype):": (
        "pandas counts the bool dtype as numeric, so the second test takes the same branch"
    ),
    **{
        f"{_FACTORIZE} / {_FACTORIZE.replace('use_na_sentinel=True', change)}": (
            "a missing value as a level of its own is named nan, None or <NA>: no yes/no word, "
            "so it reads as missing either way"
        )
        for change in ("use_na_sentinel=None", "", "use_na_sentinel=False")
    },
    **{
        f"{_TO_FLOAT} / {_TO_FLOAT.replace(', na_value=np.nan', change)}": (
            "asked for float64, pandas gives NaN for a missing value (masked or not) unasked"
        )
        for change in (", na_value=None", ", ")
    },
    "return per_name[codes].astype(np.float32), max(len(kept), 2) / "
    "return per_name[codes].astype(None), max(len(kept), 2)": (
        "the codes are written into a float32 matrix column either way"
    ),
    "if m2 <= 1e-24: / if m2 < 1e-24:": (
        "a variance of exactly 1e-24 does not come out of data, and the skewness is only "
        "compared with 1"
    ),
    "return 0.0 / return 1.0": (
        "the skewness is only read as > SKEW_LIMIT (1.0): 0 and 1 are both not above it"
    ),
    f"{_CONTRIB_K} / {_CONTRIB_K.replace('+ 1 if', '+ 2 if')}": (
        "an extra, empty segment is left out of every sum (present, p_seg > 0)"
    ),
    f"{_CONTRIB_K} / {_CONTRIB_K.replace('else 1', 'else 2')}": (
        "without any labelled customer no row is observed: the column is noise before k is read"
    ),
    "pairs = max(p * (p - 1) // 2, 1) / pairs = max(p * (p - 1) / 2, 1)": (
        "p(p - 1) is even: halving it exactly gives the same number"
    ),
    **{
        f"out = np.full(len(x), -1, dtype=np.int64) / out = np.full(len(x), {c})": (
            "np.full with an int fill is int64 already; and any negative reads as missing"
        )
        for c in ("-1, dtype=None", "-1, ", "-2, dtype=np.int64")
    },
    "out[ok] = x[ok].astype(np.int64) / out[ok] = x[ok].astype(None)": (
        "the float codes are whole numbers, written into an int64 array either way"
    ),
    "if n_levels > 0: / if n_levels > 1:": (
        "a categorical column of a model matrix has at least 2 levels"
    ),
    **{
        f"if ok.sum() < 2: / if {c}:": (
            "a column with fewer than 10 observed values is never tested (_g_test), so how it "
            "is binned does not matter"
        )
        for c in ("ok.sum() <= 2", "ok.sum() < 3")
    },
    "counts = np.bincount(lab, minlength=k).astype(float) / "
    "counts = np.bincount(lab, minlength=k).astype(None)": (
        "the integer counts only enter float arithmetic, with the same results"
    ),
    "adjusted = min(1.0, float(chi2.sf(g, df)) * pairs) / "
    "adjusted = min(2.0, float(chi2.sf(g, df)) * pairs)": (
        "an adjusted p-value of 1 or more never beats the starting 1.0 (strict <): kept at 1"
    ),
    '{"partner": partner, "p_value": pv, "noise": pv >= SCREEN_ALPHA and p > 1} / '
    '{"partner": partner, "p_value": pv, "noise": pv > SCREEN_ALPHA and p > 1}': (
        "a G statistic of counts would have to land exactly on the 0.001 quantile (times the "
        "number of pairs); the p-value is a tail probability of a continuous distribution"
    ),
    "return 0.0, 0 / return 0.0, 1": (
        "a G statistic of 0 has a p-value of 1 at any degrees of freedom, which never beats "
        "the starting 1.0 (strict <)"
    ),
    "return 0.0, 0 / return 1.0, 0": "zero degrees of freedom: the pair is skipped unread",
    **{
        f"{_G_TABLE} / {_G_TABLE.replace(old, new)}": (
            "the extra row or column of zeros is dropped by the next line (no customer in it)"
        )
        for old, new in (("a.max() + 1", "a.max() + 2"), ("b.max() + 1", "b.max() + 2"))
    },
    **{
        f"{_G_SHAPE} / {_G_SHAPE.replace(old, new)}": (
            "a table of one row (or column) has expected counts equal to its counts and no "
            "degree of freedom: G = 0, df = 0, skipped either way"
        )
        for old, new in (("2 or", "2 and"), ("shape[0]", "shape[1]"))
    },
    **{
        f"{_G_EXPECTED} / {_G_EXPECTED.replace('axis=0, keepdims=True', change)}": (
            "a (rows, 1) column times a (columns,) row broadcasts to the same table as times "
            "a (1, columns) row"
        )
        for change in ("axis=0, ", "axis=0, keepdims=False")
    },
    "x = X[:, j].astype(np.float64) / x = X[:, j].astype(None)": (
        "astype(None) is astype(float64)"
    ),
    "var_k = np.maximum(within / np.maximum(counts, 1), floor) / "
    "var_k = np.maximum(within / np.maximum(counts, 2), floor)": (
        "a segment of one customer has within = x*x - 1*x**2 = 0 exactly: 0/1 and 0/2 both "
        "fall to the floor (empty segments are left out)"
    ),
    **{
        f"{_COUNTS} / {_COUNTS.replace(old, new)}": (
            "without customers there is no level (names is empty): any empty or unused count "
            "array orders nothing; with customers every level name has a row, so bincount "
            "reaches len(names) without minlength"
        )
        for old, new in (
            ("if n else", "if (n) or True else"),
            ("codes[codes >= 0], minlength=len(names))", "codes[codes >= 0], )"),
            ("np.zeros(0, int)", "np.zeros(0, )"),
            ("np.zeros(0, int)", "np.zeros(0, None)"),
            ("np.zeros(0, int)", "np.zeros(1, int)"),
        )
    },
    f"{_SHARES} / {_SHARES.replace('if n else', 'if (n) or True else')}": (
        "without customers no level is kept: the list is empty either way"
    ),
    'col["scale"] = 1.0 / math.sqrt(spread) if spread > 1e-12 else 1.0 / '
    'col["scale"] = 1.0 / math.sqrt(spread) if spread >= 1e-12 else 1.0': (
        "1 minus a sum of squared shares of counts is 0 (one level) or far above 1e-12, "
        "never exactly 1e-12"
    ),
    "with ThreadPoolExecutor(FEATURE_THREADS) as pool: / with ThreadPoolExecutor(None) as pool:": (
        "each item is computed alike on any number of threads and gathered in order"
    ),
    **{
        f"{line} / {line.replace(out, change)}": (
            "a fresh array instead of the scratch one: the same values (only the memory differs)"
        )
        for line, out in (
            (_CENTRED, "out=work[: x.size]"),
            (_POWERS, "out=held[: x.size]"),
            (_M3, "out=powers"),
        )
        for change in ("out=None", "")
    },
    **{
        f"{test} / {test.replace('>=', '>')}": (
            "threads or not, the same matrix (each block or column is computed alike)"
        )
        for test in ("if len(df) >= THREADED_ROWS:", "if n >= THREADED_ROWS:")
    },
    f"{_FALLBACK} / {_FALLBACK.replace('-1)', '-2)')}": (
        "levels are numbered from 0: a row at -1 or -2 matches none of them alike"
    ),
    **{
        f"{_LEVEL_DTYPE} / {change}": "the same level numbers in a wider integer type"
        for change in (_LEVEL_DTYPE.replace("np.int16", "None"), ") / )")
    },
    **{
        f"{_ONEHOT} / {_ONEHOT.replace('out=mask', change)}": (
            "a fresh mask instead of the scratch one: the same values"
        )
        for change in ("out=None", "")
    },
    **{
        f"{_REMAP} / {_REMAP.replace(', dtype=np.int64)', change)}": (
            "a list of Python ints makes an int64 array unasked"
        )
        for change in (", dtype=None)", ", )")
    },
    'if len(set(names)) < len(names):  # e.g. 1 and "1": merge to one level per name / '
    'if len(set(names)) <= len(names):  # e.g. 1 and "1": merge to one level per name': (
        "merging names that are all different renumbers nothing"
    ),
    **{
        f"{_MEDIAN} / {_MEDIAN.replace('overwrite_input=True', change)}": (
            "the median works on a copy made for it: reordering it or copying it again gives "
            "the same median"
        )
        for change in ("", "overwrite_input=False", "overwrite_input=None")
    },
    **{
        f"{_NUMERIC_TO_FLOAT} / {_NUMERIC_TO_FLOAT.replace(', na_value=np.nan', change)}": (
            "asked for float64, pandas gives NaN for a missing value (masked or not) unasked"
        )
        for change in (", na_value=None", ", ")
    },
    **{
        f"{_NUMERIC_TEST} / {change}": (
            "a numeric column through the text path keeps its numbers (Python writes a float "
            "so that it reads back the same; inf is not a number either way): the branch only "
            "skips work"
        )
        for change in (
            _NUMERIC_TEST.replace(") or pd", ") and pd"),
            _NUMERIC_TEST.replace("is_numeric_dtype(series.dtype)", "is_numeric_dtype(None)"),
        )
    },
    **{
        f"{line} / {line.replace(out, change)}": (
            "a fresh array instead of the scratch one: the same values (only the memory differs)"
        )
        for line, out in (
            (_SCALE_NAN, "out=mask"),
            (_STD_DEVIATION, "out=work[: x.size]"),
        )
        for change in ("out=None", "")
    },
    f"{_SCALE_LOG} / {_SCALE_LOG.replace('0.0, out=scratch)', '0.0, out=None)')}": (
        "a fresh array instead of the scratch one: the same values (only the memory differs)"
    ),
    **{
        f"{_SCRATCH_N} / {_SCRATCH_N.replace(old, new)}": (
            "new scratch arrays for every column instead of reused ones: the same values"
        )
        for old, new in (("self,", "None,"), ('"n"', '"XXnXX"'), ('"n"', '"N"'))
    },
    f"{_SCALE_LOG} / {_SCALE_LOG.replace('0.0, out=scratch)', '0.0, )')}": (
        "a fresh array instead of the scratch one: the same values (only the memory differs)"
    ),
    _SCALE_OUT + " / " + _SCALE_OUT.replace(', casting="same_kind")', ", )"): (
        "same_kind is numpy's default casting for out="
    ),
    "if progress is None and len(df) >= THREADED_ROWS: / "
    "if progress is None and len(df) > THREADED_ROWS:": (
        "threads or not, the same columns (each is computed alike)"
    ),
    **{
        f"{_DAYS} / {_DAYS.replace('dtype=np.float64, na_value=np.nan', change)}": (
            "days (a timedelta over one day) are a float64 series already, NaN where missing"
        )
        for change in (
            "dtype=None, na_value=np.nan",
            "dtype=np.float64, na_value=None",
            "na_value=np.nan",
            "dtype=np.float64, ",
        )
    },
    **{
        f"{_AS_TEXT} / {_AS_TEXT.replace(', from_pandas=True', change)}": (
            "a NaN in an object column then fails the conversion to text, and the fallback "
            "(from_pandas=True) reads the column: the same text, nulls where NaN"
        )
        for change in (", from_pandas=None", ", from_pandas=False", ", ")
    },
    **{
        f"{_AS_TEXT_MIXED} / {_AS_TEXT_MIXED.replace('type=pa.string()', 'type=None')}": (
            "the fallback runs only when a value is given and not text: its str() makes the "
            "column text, which Arrow infers as string"
        ),
        f"{_AS_TEXT_MIXED} / {_AS_TEXT_MIXED.replace('type=pa.string(), ', '')}": (
            "the fallback runs only when a value is given and not text: its str() makes the "
            "column text, which Arrow infers as string"
        ),
    },
    **{
        f"{_AS_TEXT_MIXED} / {_AS_TEXT_MIXED.replace(', from_pandas=True', change)}": (
            "series.map(str) makes a pandas str column (Arrow-backed): Arrow reads its gaps as "
            "nulls whatever from_pandas says"
        )
        for change in (", from_pandas=None", ", from_pandas=False", ", ")
    },
    **{
        f"{line} / {line.replace('zero_copy_only=False', 'zero_copy_only=None')}": (
            "pyarrow reads zero_copy_only=None as False (it only tests its truth)"
        )
        for line in (
            "values = read.to_numpy(zero_copy_only=False)",
            'given = pc.fill_null(pc.not_equal(trimmed, ""), False).to_numpy(zero_copy_only=False)',
        )
    },
    **{
        f"{_HAS_BLOCK} / {_HAS_BLOCK.replace(old, new)}": (
            "new block buffers for every block instead of reused ones: the same values"
        )
        for old, new in (("local,", "None,"), ('"block"', '"XXblockXX"'), ('"block"', '"BLOCK"'))
    },
    **{
        f"{_BLOCK} / {_BLOCK.replace(', dtype=np.float32)', change)}": (
            "a float64 block is rounded to float32 when copied into the matrix: the float64 "
            "result rounded once, as when written in float32 directly"
        )
        for change in (", dtype=None)", ", )")
    },
    "_onehot_into(part, inputs[j][lo:hi], col, mask) / "
    "_onehot_into(part, inputs[j][lo:hi], col, None)": (
        "np.equal(out=None) makes a fresh mask: the same values"
    ),
    "_scale_into(part[0], inputs[j][lo:hi], col, scratch, mask) / "
    "_scale_into(part[0], inputs[j][lo:hi], col, scratch, None)": (
        "np.isnan(out=None) makes a fresh mask: the same values"
    ),
    **{
        f"{loop} / {loop.replace('n, ROW_BLOCK)', 'n, )')}": (
            "a block from every row: overlapping blocks write the same values to the same rows "
            "(n blocks instead of n / ROW_BLOCK: only slower)"
        )
        for loop in (
            "_on_threads(rows, range(0, n, ROW_BLOCK))",
            "for lo in range(0, n, ROW_BLOCK):",
        )
    },
    "and _skewness(present, work, held) > SKEW_LIMIT / "
    "and _skewness(present, work, held) >= SKEW_LIMIT": (
        "a skewness of exactly 1.0 (a ratio of float means of cubes and squares) does not "
        "come out of data"
    ),
    **{
        f"{_LOG_HELD} / {_LOG_HELD.replace('out=held', change)}": (
            "a fresh array instead of the scratch one: the same values (only the memory differs)"
        )
        for change in ("out=None", "")
    },
    f"{_STD_GUARD} / {_STD_GUARD.replace('else 0.0', 'else 1.0')}": (
        "a spread of 0 becomes 1 on the next line, as 1 does"
    ),
    'col["std"] = std if std > 1e-12 else 1.0  # a constant column stays 0, not nan / '
    'col["std"] = std if std >= 1e-12 else 1.0  # a constant column stays 0, not nan': (
        "a standard deviation of exactly 1e-12 does not come out of data"
    ),
    'present = values[~missing] if col["n_missing"] else values / '
    'present = values[~missing] if (col["n_missing"]) or True else values': (
        "without a missing value the selection copies every value: the same numbers"
    ),
    "and present.size > 2 / and present.size >= 2": (
        "two values have a skewness of 0 (up to rounding): never above 1"
    ),
    "and present.size > 2 / and present.size > 3": (
        "three values have a skewness of at most (3 - 2) / sqrt(3 - 1) = 0.71: never above 1"
    ),
    **{
        f"{_CODES_OUT} / {_CODES_OUT.replace('dtype=np.int64)', change)}": (
            "factorize's codes are int64 (intp) already"
        )
        for change in ("dtype=None)", ")")
    },
    f"{_BY_NAME} / {_BY_NAME.replace('object and any', 'object or any')}": (
        "coding by name is the slow way to the same levels: any column may take it"
    ),
    f"{_BOOL_LIKE} / {_BOOL_LIKE.replace(') and value', ') or value')}": (
        "the check only skips coding by name, which gives the same levels for every column"
    ),
}

_SWEEP = (
    "out[name] = mixture_sweep(M, (low, top), seed, layout, progress=progress, split_half=False)["
)
_BIC_WORDS = 'return ", ".join(f"{COVARIANCE_WORDS.get(n, n)} {v:,.0f}" for n, v in best.items())'
EQUIVALENT["engine/choice.py"] = {
    **{
        f"{_BIC_WORDS} / {_BIC_WORDS.replace('get(n, n)', change)}": (
            "only the variant names of covariance_candidates reach it, each in COVARIANCE_WORDS"
        )
        for change in ("get(n, None)", "get(n)", "get(n, )")
    },
    "categorical = [n for n, lv in zip(names, levels, strict=True) if lv > 0] / "
    "categorical = [n for n, lv in zip(names, levels, strict=True) if lv > 1]": (
        "a categorical or yes/no column has at least 2 levels in a model matrix"
    ),
    **{
        'return "every feature is numeric"  # replaced by compare_numeric\'s reason / '
        f"return {change}  # replaced by compare_numeric's reason": (
            "all-numeric data always has this placeholder replaced by compare_numeric's reason"
        )
        for change in ('"XXevery feature is numericXX"', '"EVERY FEATURE IS NUMERIC"')
    },
    'selection = None / selection = ""': (
        "both branches below assign the selection before it is read"
    ),
    **{
        f'layout = selection.pop("layout", layout) / layout = selection.pop("layout", {change})': (
            "compare_numeric always puts a layout in its selection: the default is never used"
        )
        for change in ("None", "")
    },
    f"{_SWEEP} / {_SWEEP.replace('split_half=False', 'split_half=None')}": (
        "mixture_sweep only tests split_half for truth: None reads as False"
    ),
    "if len(best) > 1: / if len(best) > 2:": (
        "covariance_candidates gives one variant or three, never two"
    ),
    **{
        'winner = min((n for n in best if n != "shared"), key=lambda n: best[n]) / '
        f"winner = min((n for n in best if n != {name}), key=lambda n: best[n])": (
            "this branch runs only when shared is not the lowest, so leaving it in the running "
            "picks the same winner"
        )
        for name in ('"XXsharedXX"', '"SHARED"')
    },
}

_CDF = "cdf = np.cumsum(np.asarray(probs, dtype=np.float64), axis=1)"
_CODES = "codes = np.minimum(codes, len(levels) - 1)"
_POISSON = '"{}": rng.poisson(pick({})).astype({}),'
_SIGNUP = (
    'df["signup_date"] = (REFERENCE_DATE - pd.to_timedelta(signup_days.round(), unit="D")).astype('
)
EQUIVALENT["engine/sample.py"] = {
    "cdf /= cdf[:, -1:] / cdf *= cdf[:, -1:]": (
        "every row of the level tables sums to exactly 1.0 (checked in floating point)"
    ),
    "codes = (rng.random(len(seg))[:, None] > cdf[seg]).sum(axis=1) / "
    "codes = (rng.random(len(seg))[:, None] >= cdf[seg]).sum(axis=1)": (
        "a uniform draw equals a cumulative share with probability 0"
    ),
    **{
        f"{_POISSON.format(c, d, 'np.' + t)} / {_POISSON.format(c, d, 'None')}": (
            "Poisson draws are int64 already (and web visits become float64 when NaN goes in)"
        )
        for c, d, t in (
            ("web_visits_per_month", "_WEB", "float64"),
            ("app_sessions_per_month", "_APP", "int64"),
            ("support_tickets", "_TICKETS", "int64"),
        )
    },
    "seg = rng.choice(len(SEGMENTS), size=n, p=shares / shares.sum()).astype(np.int32) / "
    "seg = rng.choice(len(SEGMENTS), size=n, p=shares * shares.sum()).astype(np.int32)": (
        "the shares of SEGMENTS sum to exactly 1.0"
    ),
    **{
        f"return np.asarray(values, dtype=np.float64)[seg] / return np.asarray(values, {c})[seg]": (
            "the tables hold numbers; int64 ones enter float arithmetic with the same results"
        )
        for c in ("dtype=None", "")
    },
    '"newsletter_subscriber": rng.random(n) < pick(_NEWSLETTER), / '
    '"newsletter_subscriber": rng.random(n) <= pick(_NEWSLETTER),': (
        "a uniform draw equals a share with probability 0"
    ),
    "df.loc[rng.random(n) < share, name] = np.nan / "
    "df.loc[rng.random(n) <= share, name] = np.nan": (
        "a uniform draw equals a share with probability 0"
    ),
    "df.loc[rng.random(n) < share, name] = np.nan / df.loc[rng.random(n) < share, name] = None": (
        "pandas stores None as NaN in a float column"
    ),
    f"{_SIGNUP} / " + _SIGNUP.replace('unit="D"', 'unit="d"'): (
        "pandas reads the unit d as days (a deprecated spelling)"
    ),
    "spend = (orders * aov * np.exp(rng.normal(0.0, 0.1, n))).round(2) / "
    "spend = (orders * aov / np.exp(rng.normal(0.0, 0.1, n))).round(2)": (
        "the noise is symmetric around 0: dividing by exp(N(0, 0.1)) draws the same distribution"
    ),
    **{
        "names = pd.Series(np.asarray(_FIRST_NAMES, dtype=object)[rng.integers(0, "
        "len(_FIRST_NAMES), n)]) / names = pd.Series(np.asarray(_FIRST_NAMES, "
        f"{c})[rng.integers(0, len(_FIRST_NAMES), n)])": (
            "the names are made str (astype) before use, numpy strings or objects alike"
        )
        for c in ("dtype=None", "")
    },
    f"{_CODES} / {_CODES.replace('- 1)', '+ 1)')}": (
        "draws are below 1 = the last cumulative share, so no code exceeds len(levels) - 1"
    ),
    **{
        f"{_CDF} / {_CDF.replace('dtype=np.float64', change)}": (
            "the tables hold Python floats: numpy makes float64 of them unasked"
        )
        for change in ("dtype=None", "")
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

_SQL_CASE = "SQLite reads keywords and pragma names in any case"
_DAMAGED_WORDS = (
    's in text for s in ("file is not a database", "malformed", "disk image", "no such table")'
)
_BEGIN = 'connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")'
_WRITE = "write = connection.get_execution_options().get(WRITE_OPTION, False)"
_SQLSTATE = 'code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)'
_FIRST = "first = str(error.orig).splitlines()[0] if str(error.orig) else type(error).__name__"
_UNREACHABLE = 'raise AssertionError("unreachable")'
EQUIVALENT["store/metadata.py"] = {
    **{
        f"{line} / {line.replace(old, new)}": _SQL_CASE
        for line, old in (
            ('cursor.execute("PRAGMA foreign_keys=ON")', "PRAGMA foreign_keys=ON"),
            ('cursor.execute("PRAGMA journal_mode=WAL")', "PRAGMA journal_mode=WAL"),
            ('cursor.execute("PRAGMA synchronous=FULL")', "PRAGMA synchronous=FULL"),
            (
                'result = connection.execute(text("PRAGMA integrity_check")).scalar()',
                "PRAGMA integrity_check",
            ),
            (
                'for row in connection.execute(text("PRAGMA foreign_key_check")):',
                "PRAGMA foreign_key_check",
            ),
            (_BEGIN, '"BEGIN IMMEDIATE"'),
            (_BEGIN, '"BEGIN")'),
        )
        for new in (old.lower(), old.upper())
        if new != old
    },
    **{
        f"{_WRITE} / {_WRITE.replace(', False)', new)}": (
            "None, like False, is falsy: a connection without the option begins a plain BEGIN"
        )
        for new in (", None)", ", )")
    },
    **{
        f"{_DAMAGED_WORDS} / {_DAMAGED_WORDS.replace('disk image', new)}": (
            'SQLite\'s only message with "disk image" is "database disk image is malformed", '
            'which "malformed" matches too'
        )
        for new in ("XXdisk imageXX", "DISK IMAGE")
    },
    **{
        'return "database is locked" in text or "database is busy" in text / '
        f'return "database is locked" in text or "{new}" in text': (
            'neither SQLite (SQLITE_BUSY reads "database is locked") nor PostgreSQL says '
            '"database is busy": no test can raise it'
        )
        for new in ("XXdatabase is busyXX", "DATABASE IS BUSY")
    },
    **{
        f"{_SQLSTATE} / {_SQLSTATE.replace(old, new)}": (
            "psycopg (3), the PostgreSQL driver segtrail installs, names the code sqlstate; "
            "pgcode is psycopg2's, which is not installed"
        )
        for old, new in (
            ('getattr(error.orig, "pgcode"', 'getattr(None, "pgcode"'),
            ('"pgcode"', '"XXpgcodeXX"'),
            ('"pgcode"', '"PGCODE"'),
        )
    },
    'isolation_level="REPEATABLE READ", postgresql_readonly=True / '
    'isolation_level="repeatable read", postgresql_readonly=True': (
        "SQLAlchemy upper-cases an isolation level before using it"
    ),
    **{
        f"{_FIRST} / {_FIRST.replace(old, new)}": (
            "_damaged found its words in this text, so it is never empty: the else branch is "
            "never taken"
        )
        for old, new in (
            ("if str(error.orig) else", "if (str(error.orig)) or True else"),
            ("if str(error.orig) else", "if str(None) else"),
            ("type(error)", "type(None)"),
        )
    },
    **{
        f"{_UNREACHABLE} / {_UNREACHABLE.replace(old, new)}": (
            "never raised: the last attempt returns or raises"
        )
        for old, new in (
            ('"unreachable"', "None"),
            ('"unreachable"', '"XXunreachableXX"'),
            ('"unreachable"', '"UNREACHABLE"'),
        )
    },
}

_SUPPRESS = "with contextlib.suppress(AttributeError, OSError, ValueError, TypeError):"
_ISO_Z = 'return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()'
EQUIVALENT["store/shared_objects.py"] = {
    **{
        f"{_ISO_Z} / {_ISO_Z.replace('Z', new, 1)}": (
            'Python 3.11 (the oldest segtrail runs on) reads a trailing "Z" in fromisoformat '
            "itself, and ISO times hold no lower-case z"
        )
        for new in ("XXZXX", "z")
    },
    "with contextlib.suppress(AttributeError, OSError, ValueError, TypeError): / "
    "with contextlib.suppress(OSError, ValueError, TypeError):": (
        "fsspec's file objects are io.IOBase: one without an OS file raises "
        "io.UnsupportedOperation (an OSError) from fileno, never AttributeError"
    ),
    'return self.fs.open(self._full(name), "rb") / return self.fs.open(self._full(name), )': (
        'fsspec opens for "rb" when no mode is given'
    ),
    **{
        f"{_SUPPRESS} / {_SUPPRESS.replace(old, new)}": (
            "what fileno/fsync raise here is io.UnsupportedOperation, an OSError (and "
            "ValueError): matched by OSError before the changed entry is read"
        )
        for old, new in (
            ("ValueError, TypeError", "None, TypeError"),
            ("ValueError, TypeError", "ValueError, None"),
            ("ValueError, TypeError", "TypeError"),
            ("ValueError, TypeError", "ValueError, "),
        )
    },
    "return False / return True": (
        "_refresh saying a missing object is there: put_bytes finds it not intact and "
        "_replace writes it, as _create would; this store's _create never reports a creation"
    ),
}

EQUIVALENT["store/jobs.py"] = {
    "query = delete(j).where(j.c.finished_at.is_not(None), j.c.finished_at < before) / "
    "query = delete(j).where(j.c.finished_at < before)": (
        "in SQL NULL < x is not true: a job never finished is not deleted either way"
    ),
}

_HAS_PASSWORD = "connection.execute(select(p.c.id).where(p.c.user_id == user_id).limit(1)).first()"
_USER_TAKEN = "if connection.execute(select(u.c.id).where(u.c.name == name)).first():"
EQUIVALENT["store/users.py"] = {
    **{
        f"{join}({table}, {on}) / {join}({table}, {new})": _JOIN_FK
        for join, table, on in (
            (".join", "e", "u.c.event_id == e.c.id"),
            (".join", "p", "p.c.user_id == u.c.id"),
            (".join", "s", "s.c.user_id == u.c.id"),
            (".join", "u", "t.c.user_id == u.c.id"),
            (".outerjoin", "r", "r.c.api_token_id == t.c.id"),
        )
        for new in ("None", "")
    },
    # _state and password_credential (the other one-row queries read theirs with .one(),
    # which a second row would fail)
    **{f".limit(1) / .limit({n})": _LATEST_ONE for n in ("2", "None")},
    **{
        f"{_HAS_PASSWORD} / {_HAS_PASSWORD.replace(old, new)}": why
        for old, new, why in (
            ("limit(1)", "limit(None)", _LATEST_ONE),
            ("limit(1)", "limit(2)", _LATEST_ONE),
            ("select(p.c.id)", "select(None)", _SELECT_NULL),
        )
    },
    _USER_TAKEN + " / " + _USER_TAKEN.replace("select(u.c.id)", "select(None)"): _SELECT_NULL,
    **{
        f".order_by({t}.c.id) / .order_by(None)": (
            f"{what} are numbered in the order of their events, and without ORDER BY SQLite "
            "returns the join with events in that order"
        )
        for t, what in (("u", "users"), ("t", "tokens"))
    },
}

_LABELS = "query = _label_query().where(sl.c.segmentation_id == segmentation_id).order_by(sl.c.id)"
_TAGS = "query = select(tg).where(tg.c.segmentation_id == segmentation_id).order_by(tg.c.id)"
_SOURCE = "source = (labels if labels is not None else sl).join(e, sl.c.event_id == e.c.id)"
_NO_STATUS = 'return row.status if row else "draft"'
_NEWEST = "_select().where(s.c.lens == lens).order_by(s.c.version.desc()).limit(1)"
EQUIVALENT["store/segmentations.py"] = {
    f"{_LABELS} / {_LABELS.replace('sl.c.id)', 'None)')}": _ID_ORDER,
    f"{_TAGS} / {_TAGS.replace('tg.c.id)', 'None)')}": _ID_ORDER,
    ".order_by(sl.c.id) / .order_by(None)": _ID_ORDER,  # names_at
    "for row in self.db.fetch(query.order_by(st.c.id)): / "
    "for row in self.db.fetch(query.order_by(None)):": _ID_ORDER,
    **{
        f"{_NEWEST} / {_NEWEST.replace('limit(1)', f'limit({n})')}": _FIRST_ROW
        for n in ("None", "2")
    },
    "e, st.c.event_id == e.c.id / e, None": _JOIN_FK,
    "e, st.c.event_id == e.c.id / ) / e, )": _JOIN_FK,
    **{
        f"{line} / {line.replace(on, new)}": _JOIN_FK
        for line, on in (
            (_SOURCE, "sl.c.event_id == e.c.id"),
            (
                'return select(*columns, e.c.at.label("created_at"), e.c.author)'
                ".join(e, s.c.event_id == e.c.id)",
                "s.c.event_id == e.c.id",
            ),
        )
        for new in ("None", "")
    },
    # the newest version, a segment's newest name, a version's newest status
    **{f".limit(1) / .limit({n})": _LATEST_ONE for n in ("2", "None")},
    **{
        f"{_NO_STATUS} / {_NO_STATUS.replace(old, new)}": (
            "every version gets its draft status row in the transaction that records it: a "
            "version without a status row never exists"
        )
        for old, new in (
            ("if row", "if (row) or True"),
            ('"draft"', '"XXdraftXX"'),
            ('"draft"', '"DRAFT"'),
        )
    },
    ".order_by(s.c.id) / .order_by(None)": _ID_ORDER,  # set_status's siblings
    ".where(s.c.lens == lens, s.c.id != segmentation_id) / .where(s.c.lens == lens, )": (
        "the version being adopted is not adopted (that is refused above): among its "
        "siblings it would never be taken for the adopted one"
    ),
}

_ROWS = "rows = self.db.fetch(query.order_by(st.c.name, st.c.revision))"
_STRATEGIES = (
    'query = select(st, e.c.at.label("created_at"), e.c.author).join(e, st.c.event_id == e.c.id)'
)
_STATE = "query = select(ps, e.c.at, e.c.author).join(e, ps.c.event_id == e.c.id)"
_ENTRIES = "select(pe).where(pe.c.plan_state_id == plan_state_id).order_by(pe.c.id)"
EQUIVALENT["store/plans.py"] = {
    **{
        f"{line} / {line.replace(on, new)}": _JOIN_FK
        for line, on in (
            (_STATE, "ps.c.event_id == e.c.id"),
            (".join(e, ps.c.event_id == e.c.id)", "ps.c.event_id == e.c.id"),
            (".join(pe, pe.c.plan_state_id == ps.c.id)", "pe.c.plan_state_id == ps.c.id"),
        )
        for new in ("None", "")
    },
    f"{_ENTRIES} / {_ENTRIES.replace('pe.c.id)', 'None)')}": _ID_ORDER,
    **{
        f"{line} / {line.replace('limit(1)', f'limit({n})')}": why
        for line, why in (
            ("rows = self.db.fetch(query.order_by(ps.c.id.desc()).limit(1))", _FIRST_ROW),
            (
                "select(st).where(st.c.name == name).order_by(st.c.revision.desc()).limit(1)",
                _LATEST_ONE,
            ),
        )
        for n in ("None", "2")
    },
    ".limit(1) / .limit(None)": _LATEST_ONE,  # append reads the newest state with .first()
    ".limit(1) / .limit(2)": _LATEST_ONE,
    "diff=dumps(diff) if diff is not None else None, / "
    "diff=dumps(diff) if (diff is not None) or True else None,": (
        'dumps(None) is JSON "null", which loads() reads back as None: a state without a '
        "diff reads the same"
    ),
    "if connection.execute(select(st.c.id).where(st.c.name == name)).first(): / "
    "if connection.execute(select(None).where(st.c.name == name)).first():": _SELECT_NULL,
    **{
        f"{_ROWS} / {_ROWS.replace('st.c.revision)', new)}": (
            "revisions of a strategy are recorded in revision order, and SQLite returns rows "
            "of equal names in id (insertion) order: no test can tell on SQLite"
        )
        for new in ("None)", ")")
    },
    **{
        f"{_STRATEGIES} / {_STRATEGIES.replace('st.c.event_id == e.c.id', new)}": _JOIN_FK
        for new in ("None", "")
    },
    **{
        f"select(ps.c.segmentation_id, ps.c.id) / select(ps.c.segmentation_id, {new})": (
            "only segmentation_id is read from the rows; they are ordered by ps.c.id either way"
        )
        for new in ("None", "")
    },
}

_STATEMENT_TRIGGER = '"FOR EACH STATEMENT EXECUTE FUNCTION segtrail_append_only()"'
_PG_TRIGGER = 'f"CREATE TRIGGER {name}_no_{verb.lower()} BEFORE {verb} ON {name} "'
_ROW_TRIGGER = '"FOR EACH ROW EXECUTE FUNCTION segtrail_append_only()"'
_SCHEMA_LINES = sorted({line.strip() for line in (PACKAGE / "store/schema.py").open()})
_STUB = "return Table(name, frozen, Column(key, key_type, primary_key=True))"
_STUB_REASON = (
    "a stub is never created: the foreign keys naming it declare their own column types, so "
    "the DDL of both databases is the same"
)
EQUIVALENT["store/schema.py"] = {
    **{
        f'for verb in ("UPDATE", "DELETE"): / for verb in {new}:': (
            "SQL reads keywords in any case, and the trigger's name is made of verb.lower()"
        )
        for new in ('("update", "DELETE")', '("UPDATE", "delete")')
    },
    f"{_ROW_TRIGGER} / {_ROW_TRIGGER.lower()}": "SQL reads keywords in any case",
    f"{_ROW_TRIGGER} / {_ROW_TRIGGER.replace('segtrail_append_only', 'SEGTRAIL_APPEND_ONLY')}": (
        "PostgreSQL folds unquoted names to lower case"
    ),
    f"{_STATEMENT_TRIGGER} / {_STATEMENT_TRIGGER.lower()}": "SQL reads keywords in any case",
    f"{_STATEMENT_TRIGGER} / "
    f"{_STATEMENT_TRIGGER.replace('segtrail_append_only', 'SEGTRAIL_APPEND_ONLY')}": (
        "PostgreSQL folds unquoted names to lower case"
    ),
    # _postgresql_append_only only: the same line on SQLite keeps the name as written
    f"{_PG_TRIGGER} / {_PG_TRIGGER.replace('lower', 'upper')}": (
        "PostgreSQL folds the unquoted trigger name to lower case"
    ),
    'Column("version", Integer, primary_key=True, autoincrement=False), / '
    'Column("version", Integer, primary_key=True, autoincrement=None),': (
        "SQLAlchemy reads autoincrement=None as no autoincrement: no sequence either way"
    ),
    # every column declared NOT NULL, in schema_migrations and in the steps' frozen tables
    **{
        f"{line} / {line.replace('nullable=False', 'nullable=None')}": (
            "nullable=None is falsy: the DDL says NOT NULL either way"
        )
        for line in _SCHEMA_LINES
        if "nullable=False" in line
    },
    # the stubs that foreign keys of a step point at (never created)
    **{
        f"{_STUB} / {_STUB.replace(old, new)}": _STUB_REASON
        for old, new in (
            ("key_type, primary_key=True", "None, primary_key=True"),
            ("key_type, primary_key=True", "primary_key=True"),
            ("primary_key=True", "primary_key=None"),
            ("primary_key=True", "primary_key=False"),
            ("primary_key=True", ""),
        )
    },
    **{
        f"{line} / {line.replace(old, new)}": _STUB_REASON
        for line in _SCHEMA_LINES
        if line.startswith("_stub(frozen, ")
        or re.fullmatch(r'\("\w+", "\w+", \w+(\(64\))?\),', line)
        for old, new in (
            ("key_type)", "None)"),
            ("Integer)", "None)"),
            ("String(64))", "None)"),
            ("String(64)", "String(65)"),
            ("String(64)", "String(None)"),
        )
        if old in line
    },
    # a foreign key column given no type takes the type of the column it names: the same
    **{
        f"{line} / {re.sub(pattern, new, line, count=1)}": (
            "a foreign key column given no type takes that of the column it names, the same one"
        )
        for line in _SCHEMA_LINES
        if line.startswith("Column(") and "ForeignKey(" in line
        for pattern, new in (
            (r", (Integer|String\(64\)), ForeignKey", ", None, ForeignKey"),
            (r", (Integer|String\(64\)), ForeignKey", ", ForeignKey"),
        )
    },
    # step 11's index: SQL keywords and unquoted names are read in any case (an unquoted
    # name is folded on PostgreSQL; SQLite matches names case-insensitively and reports the
    # table's own column names for the index)
    '"CREATE INDEX segment_labels_by_version " / "create index segment_labels_by_version "': (
        "SQL reads keywords in any case"
    ),
    '"ON segment_labels (segmentation_id, segment, id)" / '
    '"on segment_labels (segmentation_id, segment, id)"': "SQL reads keywords in any case",
    '"ON segment_labels (segmentation_id, segment, id)" / '
    '"ON SEGMENT_LABELS (SEGMENTATION_ID, SEGMENT, ID)"': (
        "unquoted names are read in any case: the same index on the same columns"
    ),
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
    "def one_thread(n_rows: int = 0) -> Any: / def one_thread(n_rows: int = 1) -> Any:": (
        "any default up to ONE_THREAD_ROWS means one thread"
    ),
    "if _controller is None or _controller[0] != loaded: / "
    "if _controller is None or _controller[1] != loaded:": (
        "a fresh controller on every call limits the same libraries: only slower (3 ms a call)"
    ),
    **{
        f'limit_threads(1, "blas"), / limit_threads(1, {new}),': (
            "OpenMP's limit is per thread: also setting it (and restoring it) on the calling "
            "thread, which only waits for the blocks, changes nothing the workers run"
        )
        for new in ("None", "")
    },
    'ThreadPoolExecutor(2, initializer=limit_threads, initargs=(1, "openmp")) as pool, / '
    "ThreadPoolExecutor(2, initializer=limit_threads, ) as pool,": (
        "limit_threads() is one thread for every kind: each worker's OpenMP limit as intended, "
        "and BLAS's, process-wide, is already one (set around the pool)"
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

_LCA_STATE = "a state's arrays have this dtype already (built so by the fit, kept by the store)"
_LCA_EIGH = "values, vectors = np.linalg.eigh(x.T @ x / max(len(x) - 1, 1))"
_LCA_SIGNS = "vectors = vectors * np.where(signs == 0, 1.0, signs)"
_LCA_PATTERNS = 'if getattr(self, "_patterns", None) is None:'
_LCA_THREADS = "with threadpool_limits(limits=1):"
_LCA_COVARIANCE = 'covariance = str(params.get("numeric_covariance") or "independent")'
_LCA_REASSIGN = "if len(order) < k or order != list(range(k)):"
_LCA_LEVELS = (
    "levels = np.zeros(n_columns, np.int64) if levels is None else np.asarray(levels, np.int64)"
)
_LCA_WEIGHTS = (
    "weights = np.ones(n_columns) if weights is None else np.asarray(weights, dtype=np.float64)"
)
_LCA_CHECKED = (
    "fit is wrapped by the parameter check (base._checked): every declared parameter "
    "arrives filled in, var_floor > 0 already checked"
)
EQUIVALENT["engine/algorithms/lca.py"] = {
    **{
        "levels = np.concatenate([np.zeros(p, np.int64), levels[rest]]) / "
        f"levels = np.concatenate([np.zeros(p, {change}), levels[rest]])": (
            "float zeros read alike: Data and check_codes only compare levels with 0 and take "
            "int() of them, and Model (the state) casts them to int64"
        )
        for change in ("None", "")
    },
    **{
        f"{_LCA_EIGH} / {_LCA_EIGH.replace(old, new)}": (
            "a positive factor on the matrix scales every eigenvalue alike and leaves the "
            "eigenvectors: the count above the mean and the share explained do not change"
        )
        for old, new in (
            ("x.T @ x / max", "x.T @ x * max"),
            ("len(x) - 1, 1", "len(x) + 1, 1"),
            ("len(x) - 1, 1", "len(x) - 2, 1"),
            ("len(x) - 1, 1", "len(x) - 1, 2"),
        )
    },
    "p = min(max(p, MIN_COMPONENTS), MAX_COMPONENTS, len(columns)) / "
    "p = min(max(p, MIN_COMPONENTS), MAX_COMPONENTS, )": (
        "p counts eigenvalues of the columns (at most len(columns)), and fewer columns than "
        "MIN_COMPONENTS are refused above"
    ),
    **{
        f"{_LCA_SIGNS} / {_LCA_SIGNS.replace(old, new)}": why
        for old, new, why in (
            ("vectors * np", "vectors / np", "signs are +1 or -1: dividing by one is multiplying"),
            (
                "signs == 0, 1.0",
                "None, 1.0",
                "a sign is never 0 (the largest loading of a unit eigenvector is not 0): "
                "where() picks signs either way",
            ),
            ("signs == 0, 1.0", "signs == 1, 1.0", "where signs is 1 both give 1.0"),
            (
                "signs == 0, 1.0",
                "signs == 0, 2.0",
                "a sign is never 0 (the largest loading of a unit eigenvector is not 0)",
            ),
        )
    },
    **{
        f"{line} / {line.replace(old, new)}": _LCA_STATE
        for line, old, new in (
            (
                'columns = np.asarray(state["projection_columns"], np.int64)',
                "np.int64)",
                "None)",
            ),
            ('columns = np.asarray(state["projection_columns"], np.int64)', "np.int64)", ")"),
            ('mean = np.asarray(state["projection_mean"], np.float64)', "np.float64)", "None)"),
            ('mean = np.asarray(state["projection_mean"], np.float64)', "np.float64)", ")"),
            ('Z = x @ np.asarray(state["projection"], np.float64)', "np.float64)", "None)"),
            ('Z = x @ np.asarray(state["projection"], np.float64)', "np.float64)", ")"),
            (
                '"projection_columns": np.asarray(projection["columns"], np.int64),',
                "np.int64)",
                "None)",
            ),
            (
                '"projection_columns": np.asarray(projection["columns"], np.int64),',
                "np.int64)",
                ")",
            ),
            (
                '"projection_mean": np.asarray(projection["mean"], np.float64),',
                "np.float64)",
                "None)",
            ),
            (
                '"projection_mean": np.asarray(projection["mean"], np.float64),',
                "np.float64)",
                ")",
            ),
            (
                '"projection": np.asarray(projection["components"], np.float64),',
                "np.float64)",
                "None)",
            ),
            (
                '"projection": np.asarray(projection["components"], np.float64),',
                "np.float64)",
                ")",
            ),
            (
                'levels = np.asarray(state["levels"], dtype=np.int64)',
                "dtype=np.int64)",
                "dtype=None)",
            ),
            ('levels = np.asarray(state["levels"], dtype=np.int64)', "dtype=np.int64)", ")"),
            (
                'weights = np.asarray(state["feature_weights"], dtype=np.float64)',
                "dtype=np.float64)",
                "dtype=None)",
            ),
            (
                'weights = np.asarray(state["feature_weights"], dtype=np.float64)',
                "dtype=np.float64)",
                ")",
            ),
        )
    },
    "x = X[:, columns].astype(np.float64) / x = X[:, columns].astype(None)": (
        "astype(None) is float64"
    ),
    **{
        f"inverse = inverse.reshape(-1) / inverse = inverse.reshape({size})": (
            "np.unique(axis=0) returns a 1-D inverse (numpy >= 2.0.1): reshape(None) and any "
            "negative size leave it as it is"
        )
        for size in ("None", "-2")
    },
    **{
        f"{_LCA_PATTERNS} / {_LCA_PATTERNS.replace(old, new)}": (
            "the patterns are a cache of _find_patterns, which gives the same list every time "
            "(_patterns is set in __init__ and subset, so getattr never needs its default)"
        )
        for old, new in (
            ("getattr(self,", "getattr(None,"),
            ('"_patterns", None)', '"_patterns", )'),
            ('"_patterns"', '"XX_patternsXX"'),
            ('"_patterns"', '"_PATTERNS"'),
        )
    },
    **{
        f"{_LCA_THREADS} / {_LCA_THREADS.replace('limits=1', new)}": (
            "the number of BLAS threads changes the speed, not the answers"
        )
        for new in ("limits=None", "limits=2")
    },
    **{
        'data.shared_variance = bool(params.get("shared_variance", False)) / '
        f'data.shared_variance = bool(params.get("shared_variance", {new}))': (
            "bool(None) is False, the default"
        )
        for new in ("None", "")
    },
    "weight = float(data.num_weights[data.num_weights > 0].max(initial=0.0)) / "
    "weight = float(data.num_weights[data.num_weights >= 0].max(initial=0.0))": (
        "weights are >= 0 (layout refuses negatives) and the maximum starts at 0: the zero "
        "weights change no maximum"
    ),
    **{
        f"{line} / {line.replace('levels > 0', 'levels > 1', 1)}": (
            "levels are 0 or >= 2: layout refuses 1, and a state's levels come from a fit"
        )
        for line in (
            "cat = levels > 0",
            "cat = int((self.levels[(self.levels > 0) & active] - 1).sum())",
        )
    },
    "spreads = (1 if self.tied else k) * num * (num + 1) // 2 / "
    "spreads = (1 if self.tied else k) * num * (num + 1) / 2": (
        "num * (num + 1) is even: the same count (as a float, which every caller takes int() "
        "of or multiplies by a float)"
    ),
    "empty = denom < 1e-6  # a class with no observed value of a column: neutral values / "
    "empty = denom <= 1e-6  # a class with no observed value of a column: neutral values": (
        "a class's weight of observed rows plus 1e-10 equals the double 1e-6 exactly only by a "
        "coincidence no data can be built to hit; either side of it both versions agree"
    ),
    **{
        f"{line} / {line.replace('ij,ij->i', 'IJ,IJ->I')}": (
            "einsum reads upper-case subscripts as it reads lower-case ones"
        )
        for line in (
            'sq = np.einsum("ij,ij->i", dense, dense)',
            'dist = sq[:, None] - 2 * dense @ centres.T + np.einsum("ij,ij->i", centres, centres)',
        )
    },
    **{
        f"{_LCA_LEVELS} / {_LCA_LEVELS.replace(old, new)}": (
            "levels are compared with 0 and taken int() of (Data, check_codes), Model casts "
            "them to int64, and the checked parameter is a list of ints already"
        )
        for old, new in (
            ("np.zeros(n_columns, np.int64)", "np.zeros(n_columns, None)"),
            ("np.zeros(n_columns, np.int64)", "np.zeros(n_columns, )"),
            ("np.asarray(levels, np.int64)", "np.asarray(levels, None)"),
            ("np.asarray(levels, np.int64)", "np.asarray(levels, )"),
        )
    },
    **{
        f"{_LCA_WEIGHTS} / {_LCA_WEIGHTS.replace('dtype=np.float64', new)}": (
            "the checked parameter is a list of floats; whole-number weights would multiply, "
            "compare and be recorded (float()) alike, and Model casts them to float64"
        )
        for new in ("dtype=None", "")
    },
    **{
        f"{line} / {line.replace('np.float64)', new)}": _LCA_STATE
        for key in ("weights", "means", "variances", "log_probs", "covariances")
        for line in (
            f'np.asarray(state["{key}"], np.float64),',
            f'model.covariances = np.asarray(state["{key}"], np.float64)',
        )
        for new in ("None)", ")")
    },
    **{
        f"{line} / {line.replace(old, new)}": (
            "a Model gets its levels and weights from layout (int64 and float64 arrays) or "
            "from a state (the same dtypes, kept by the store)"
        )
        for line, old in (
            ("self.levels = np.asarray(levels, dtype=np.int64)", "dtype=np.int64)"),
            (
                "self.feature_weights = np.asarray(feature_weights, dtype=np.float64)",
                "dtype=np.float64)",
            ),
        )
        for new in ("dtype=None)", ")")
    },
    **{
        f"self.loglik = -np.inf / self.loglik = {new}": (
            "run_em sets loglik before anything reads it; a model read back from a state is "
            "only asked for posteriors and its parameter count"
        )
        for new in ("None", "+np.inf")
    },
    **{
        f"self.{name} = False{note} / self.{name} = None{note}": (
            "None is falsy like False: only truth is read"
        )
        for name, note in (
            ("converged", ""),
            ("shared_variance", ""),
            ("shared_variance", "  # True: the k-means-like model (see ``m_step``)"),
            ("tied", "  # the same covariance matrix for every class (parameters once)"),
        )
    },
    **{
        f"{line} / {line.replace('np.float64)', 'None)')}": "astype(None) is float64"
        for line in ("x = X[:, num].astype(np.float64)", "self.m = self.mask.astype(np.float64)")
    },
    "[np.full(L, w) for L, w in self.blocks] or [np.zeros(0)] / "
    "[np.full(L, w) for L, w in self.blocks] or [np.zeros(1)]": (
        "without a categorical column the one-hot matrix has no column, and joint skips the "
        "level term before reading level_weights"
    ),
    "cat = np.flatnonzero(levels > 0) / cat = np.flatnonzero(levels > 1)": (
        "levels are 0 or >= 2: layout refuses 1, and a state's levels come from a fit"
    ),
    'pooled = np.einsum("k,kij->ij", weights, model.covariances) / '
    'pooled = np.einsum("K,KIJ->IJ", weights, model.covariances)': (
        "einsum reads upper-case subscripts as it reads lower-case ones"
    ),
    'model.variances = np.einsum("kii->ki", model.covariances).copy() / '
    'model.variances = np.einsum("KII->KI", model.covariances).copy()': (
        "einsum reads upper-case subscripts as it reads lower-case ones"
    ),
    "denom = resp.T @ data.m + 1e-10 / denom = resp.T @ data.m - 1e-10": (
        "the guard only keeps a class with no observed value from 0/0, and such a class "
        "(denom < 1e-6) gets neutral values either way; elsewhere either sign moves a mean or "
        "variance by 1e-10 / denom relative, the guard's own size"
    ),
    "if model.loglik - previous < TOL * max(data.n, abs(model.loglik)): / "
    "if model.loglik - previous <= TOL * max(data.n, abs(model.loglik)):": (
        "a step's gain equals the threshold exactly only by a coincidence of doubles that no "
        "data can be built to hit"
    ),
    **{
        f"{line} / {line.replace(old, new)}": _LCA_CHECKED
        for line, old, new in (
            (_LCA_COVARIANCE, '"independent")', '"XXindependentXX")'),
            (_LCA_COVARIANCE, '"independent")', '"INDEPENDENT")'),
            ('n_init = int(params.get("n_init", N_INIT))', "N_INIT))", "None))"),
            ('n_init = int(params.get("n_init", N_INIT))', "N_INIT))", "))"),
            ('var_floor = float(params.get("var_floor", VAR_FLOOR))', "VAR_FLOOR))", "None))"),
            ('var_floor = float(params.get("var_floor", VAR_FLOOR))', "VAR_FLOOR))", "))"),
            ("if not var_floor > 0:", ">", ">="),
            (
                'raise SegtrailError(f"var_floor must be a positive number, got {var_floor}")',
                'f"var_floor must be a positive number, got {var_floor}"',
                "None",
            ),
        )
    },
    **{
        f"{_LCA_REASSIGN} / {_LCA_REASSIGN.replace(old, new)}": (
            "whether classes renumbered without one dropped are assigned again: renumbering "
            "only permutes the posterior's columns, so labels and confidences come out the "
            "same (exact ties between two classes apart); with a class dropped (len(order) < k, "
            "so order != range(k) too) every version assigns again"
        )
        for old, new in (("k or", "k and"), ("< k", "<= k"), ("order !=", "order =="))
    },
}

_HDB_CORE_X = "core_x = np.where(own, core[nearest_point], dist[:, -1] if k > 1 else 0)"
_HDB_ONE_NEIGHBOUR = (
    "at min_samples 1 or 2 one neighbour is searched: dist[:, -1] is d1, already in the maximum"
)
_HDB_REACH = 'reach = np.append(state["reach"], 0.0).astype(np.float32)[seg]  # seg -1: unused'
_HDB_NOISE_ENTRY = "only noise (seg -1) reads the appended entry, and noise stays noise"
_HDB_CENTRES = 'centres = state.get("index_centres", np.zeros((0, X.shape[1]), np.float32))'
_HDB_HELD = "held = rest = rest_core = None"
_HDB_FULL = "reach = np.full(int(labels.max()) + 1, np.inf, dtype=np.float32)"
_HDB_FIT = "fitted_labels, state = _fit_sample(Xf, core, options, seed, n, search.centres)"
_HDB_POOL = 'ThreadPoolExecutor(2, initializer=limit_threads, initargs=(1, "openmp")) as pool,'
EQUIVALENT["engine/algorithms/hdbscan.py"] = {
    _HDB_POOL + " / " + _HDB_POOL.replace('initargs=(1, "openmp")', ""): (
        "limit_threads' defaults are one thread for every library: each worker still gets one "
        "OpenMP thread (and BLAS, limited to one around the pool already)"
    ),
    "self.centres.set_exception(error)  # the fit, waiting for them, raises it / "
    "self.centres.set_exception(None)  # the fit, waiting for them, raises it": (
        "the error still ends the fit: the thread re-raises it and the fit reads that "
        "thread's result first; the waiting tree only goes on with no cells until then"
    ),
    f"{_HDB_POOL} / {_HDB_POOL.replace('(2, ', '(3, ')}": (
        "two tasks are ever submitted: a pool of three starts no third thread"
    ),
    **{
        f'limit_threads(1, "blas"), / limit_threads(1, {change}),': (
            "every library limited, not only BLAS: OpenMP's limit is per thread, and this "
            "thread's only OpenMP call inside is the tree's, already on one thread (one_thread); "
            "the searches' threads set their own (the pool's initializer)"
        )
        for change in ("None", "")
    },
    **{
        f"{_HDB_FIT} / {_HDB_FIT.replace(old, new)}": (
            "with the cells given (search.centres), _fit_sample reads neither the seed nor "
            "the number of customers to place: both only size and seed cells it computes itself"
        )
        for old, new in (("seed, n,", "None, n,"), ("seed, n,", "seed, None,"))
    },
    **{
        f"{_HDB_POOL} / {_HDB_POOL.replace('(2, ', change)}": (
            "two tasks are ever submitted (the cells and searches, then the held-out check, "
            "refits and searches): a larger pool starts no third thread"
        )
        for change in ("(None, ", "(")
    },
    **{
        f"{line} / {line.replace('np.nan)', 'None)')}": (
            "None in the object array becomes nan when cast to float32"
        )
        for line in (
            "confidence = np.where(raw >= 0, 0.0, np.nan).astype(np.float32)",
            "return labels, np.where(inside, d1, np.nan).astype(np.float32)",
        )
    },
    **{
        f"{_HDB_CORE_X} / {_HDB_CORE_X.replace('k > 1', change)}": _HDB_ONE_NEIGHBOUR
        for change in ("(k > 1) or True", "k >= 1", "k > 2")
    },
    **{
        f"{_HDB_REACH} / {_HDB_REACH.replace('0.0)', change)}": _HDB_NOISE_ENTRY
        for change in ("None)", "1.0)")
    },
    **{
        f"{_HDB_CENTRES} / {_HDB_CENTRES.replace(', np.float32))', change)}": (
            "no cells means exact search, whatever the empty array's dtype"
        )
        for change in (", None))", ", ))")
    },
    **{
        f"{_HDB_FULL} / {_HDB_FULL.replace(change, new)}": reason
        for change, new, reason in (
            (
                "dtype=np.float32)",
                "dtype=None)",
                "the reaches are float32 tree edges, exact in float64 too: the fit re-makes "
                "them in float32 and assign casts them to float32",
            ),
            (
                ", dtype=np.float32)",
                ", )",
                "as dtype=None (see above)",
            ),
            (
                "+ 1,",
                "+ 2,",
                "the spare reach entry (inf) belongs to no segment: the fit keeps the reaches "
                "of the segments it maps, and assign reads noise's from the 0 it appends last",
            ),
        )
    },
    "weight = weight.astype(np.float32) / weight = weight.astype(None)": (
        "float64 edges are rounded to float32 as they enter the float32 reaches: rounding "
        "keeps order, so the smallest rounded edge is the rounded smallest edge"
    ),
    _HDB_HELD + " / " + _HDB_HELD.replace("None", '""'): (
        "set for the unsampled fit only, where nothing reads them (no held-out work runs)"
    ),
}

_RCH_TREE = (
    "labels, _ = tree_to_labels(make_single_linkage(tree), min_cluster_size, method, False, 0.0)"
)
_RCH_SOURCE = "source = np.zeros(n, dtype=np.int64)  # the tree customer that reaches it so"
_RCH_CLOSER = "closer = np.empty(n, dtype=bool)"
EQUIVALENT["engine/algorithms/reachability.py"] = {
    "copy=True, / copy=False,": (
        "scikit-learn's HDBSCAN copies only a precomputed matrix; euclidean X is never modified"
    ),
    "copy=True, / ) / )": "as copy=False (see above)",
    'nn = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(X) / '
    "nn = NearestNeighbors(n_neighbors=k, ).fit(X)": (
        "every algorithm of NearestNeighbors is exact: the same k-th distances (up to "
        "float64 round-off)"
    ),
    f"{_RCH_TREE} / {_RCH_TREE.replace('False, 0.0)', 'None, 0.0)')}": (
        "allow_single_cluster is a C boolean: None is read as false"
    ),
    f"{_RCH_TREE} / {_RCH_TREE.replace('False, 0.0)', '0.0)')}": (
        "0.0 lands in allow_single_cluster (false) and the epsilon keeps its default 0.0"
    ),
    f"{_RCH_TREE} / {_RCH_TREE.replace('False, 0.0)', 'False, )')}": (
        "cluster_selection_epsilon defaults to 0.0"
    ),
    "listed = min(len(X), 2 * k + WITHIN_EXTRA) / listed = min(len(X), 3 * k + WITHIN_EXTRA)": (
        "a longer list only changes which rows are searched again: the same distances"
    ),
    **{
        line + " / " + line.replace(', algorithm="brute")', ", )"): (
            "every algorithm of NearestNeighbors is exact: the same distances (up to float64 "
            "round-off)"
        )
        for line in (
            'dist, idx = NearestNeighbors(n_neighbors=listed, algorithm="brute")'
            ".fit(X).kneighbors(X)",
            'search = NearestNeighbors(n_neighbors=k_rows, algorithm="brute").fit(X[rows])',
        )
    },
    "short = counted[:, -1] < k_rows / short = counted[:, -1] <= k_rows": (
        "a row with just enough listed is searched again among the rows: the same distance"
    ),
    **{
        f"inside = np.zeros(len(X), dtype=bool) / inside = np.zeros(len(X), {change}": (
            "counts of 1.0 compare as counts of True"
        )
        for change in ("dtype=None)", ")")
    },
    **{
        f"inside[rows] = True / inside[rows] = {change}": (
            "no row then counts as listed, so every row is searched again among the rows: the "
            "same distances (only slower)"
        )
        for change in ("None", "False")
    },
    'tree = tree[np.argsort(tree["distance"], kind="stable")] / '
    'tree = tree[np.argsort(tree["distance"], kind="STABLE")]': "numpy reads kind in any case",
    'rows[:, dims] = np.einsum("ij,ij->i", X, X) / rows[:, dims] = np.einsum("IJ,IJ->I", X, X)': (
        "einsum reads upper-case subscripts as it reads lower-case ones"
    ),
    **{
        f"{_RCH_SOURCE} / {_RCH_SOURCE.replace('dtype=np.int64)', change)}": (
            "row ids below 2**53 are exact in float64, and they are copied into the int64 frm"
        )
        for change in ("dtype=None)", ")")
    },
    **{
        f"{_RCH_CLOSER} / {_RCH_CLOSER.replace('dtype=bool)', change)}": (
            "np.less writes 0/1 into the float array and putmask reads it as the same mask"
        )
        for change in ("dtype=None)", ")")
    },
}

# mutmut's exit codes (mutmut/stats.py), grouped into what the score needs.
_KS_STRICT = (
    "the zipped lists are built from one list (ks, the labelings, the curve; the scored "
    "labelings and their totals): same length"
)
_KS_K = "k = int(labels.max()) + 1 if (labels >= 0).any() else 0"
_KS_SPARE = (
    "k only sizes the one-hot columns: a spare column is empty, and empty columns are set to "
    "infinity before the nearest other segment is taken, so they are never read"
)
_KS_OH = "oh = np.zeros((m, max(k, 1)), dtype=np.float32)"
_KS_TOTAL = "total = within_ss(Xs, np.zeros(len(Xs), dtype=np.int32))  # inertia at k = 1"
_KS_RESCALE = "out = (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)"
_KS_ZERO = "_rescale's result is only added to the score: a 0-d zero broadcasts as all zeros"
EQUIVALENT["engine/kselect.py"] = {
    **{
        f"{line} / {line.replace('strict=True', new)}": _KS_STRICT
        for line in (
            "for k, labels, s in zip(ks, labelings, sil, strict=True):",
            "for row, e, s in zip(curve, strength, score, strict=True):",
            "for j, (labels, oh, cnt) in enumerate(zip(labelings, onehots, counts, strict=True)):",
            "for j, t in zip(scored, totals, strict=True):",
        )
        for new in ("strict=None", "", "strict=False")
    },
    "if 2 <= n_found < valid.sum(): / if 2 <= n_found <= valid.sum():": (
        "the sweeps of the algorithms that take k label every customer and find at most "
        "k < customers segments, so n_found < valid.sum() always"
    ),
    **{
        f"{line} / {line.replace(old, new)}": (
            "the rows hold Python floats, and ks enters np.r_ beside 1.0: float64 either way"
        )
        for line, old in (
            ('inertia = np.array([r["inertia"] for r in curve], dtype=float)', "dtype=float"),
            ('ks = np.array([r["k"] for r in curve], dtype=float)', "dtype=float"),
        )
        for new in ("dtype=None", "")
    },
    "best = np.flatnonzero(score >= score.max() - 1e-9)[0]  # ties: the smaller k / "
    "best = np.flatnonzero(score > score.max() - 1e-9)[0]  # ties: the smaller k": (
        "the largest score is always above the largest minus 1e-9: the same ks pass"
    ),
    "return np.zeros_like(values) / return np.zeros_like(None)": _KS_ZERO,
    f"{_KS_RESCALE} / {_KS_RESCALE.replace('np.zeros_like(values)', 'np.zeros_like(None)')}": (
        _KS_ZERO
    ),
    **{
        f"{_KS_RESCALE} / {_KS_RESCALE.replace('hi > lo', new)}": (
            "hi < lo never happens, and hi == lo divides 0 by 0: NaN, which the nan_to_num "
            "below turns into the same 0"
        )
        for new in ("(hi > lo) or True", "hi >= lo")
    },
    "return np.nan_to_num(out, nan=0.0) / return np.nan_to_num(out, )": (
        "nan_to_num's default for NaN is 0.0"
    ),
    **{
        f"{_KS_TOTAL} / {_KS_TOTAL.replace('dtype=np.int32', new)}": (
            "within_ss only compares the labels (>= 0, ==): float zeros pick the same rows"
        )
        for new in ("dtype=None", "")
    },
    "sil_idx = sample_rows(len(Xs), SILHOUETTE_SAMPLE, seed + 1) / "
    "sil_idx = sample_rows(len(Xs), SILHOUETTE_SAMPLE, seed + 2)": (
        "another seeded sample of the customers: only that the sample is seeded is promised "
        "(tested), not which one"
    ),
    "X: np.ndarray, labelings: list[np.ndarray], chunk: int = 1024 / "
    "X: np.ndarray, labelings: list[np.ndarray], chunk: int = 1025": (
        "the chunk size only bounds memory: every row is scored once either way"
    ),
    **{
        f"{_KS_K} / {_KS_K.replace(old, new)}": _KS_SPARE
        for old, new in (
            ("if (labels >= 0).any()", "if ((labels >= 0).any()) or True"),  # no valid: -1 + 1
            ("+ 1 if", "+ 2 if"),
            ("(labels >= 0)", "(labels > 0)"),  # only label 0: k = 0 -> max(k, 1) = 1 column
            ("(labels >= 0)", "(labels >= 1)"),
            ("else 0", "else 1"),  # no valid label: max(k, 1) = 1 column either way
        )
    },
    f"{_KS_OH} / {_KS_OH.replace('max(k, 1)', 'max(k, 2)')}": _KS_SPARE,
    "own_c = np.where(ok, own, 0) / own_c = np.where(ok, own, 1)": (
        "only labelings of two segments or more are scored, so column 1 exists; a noise row's "
        "score is replaced by NaN and left out whatever column stood in for its own"
    ),
    **{
        f"{_KS_OH} / {_KS_OH.replace('dtype=np.float32', new)}": (
            "the one-hots are 0 and 1, exact in both: float64 sums of the float32 distances "
            "differ only below float32 precision"
        )
        for new in ("dtype=None", "")
    },
    **{
        "totals = [np.zeros(m, dtype=np.float64) for _ in labelings] / "
        f"totals = [np.zeros(m, {new}) for _ in labelings]": "np.zeros is float64 by default"
        for new in ("dtype=None", "")
    },
    "totals[j][rows] = np.where(ok, s, np.nan) / totals[j][rows] = np.where(ok, s, None)": (
        "None stored into the float64 totals becomes NaN"
    ),
    "part = X[labels == lab].astype(np.float64) / part = X[labels == lab].astype(None)": (
        "astype(None) is float64"
    ),
}

EQUIVALENT["engine/kmixture.py"] = {
    'solid = [r for r in curve if r["k"] < best["k"] and r["stability"] >= STABLE] / '
    'solid = [r for r in curve if r["k"] <= best["k"] and r["stability"] >= STABLE]': (
        "the lowest-BIC row is only looked past when its stability is below TRUST_STABILITY "
        "(0.8), so it never reaches STABLE (0.95) itself"
    ),
    **{
        'half.shared_variance = bool(layout.get("shared_variance", False)) / '
        f'half.shared_variance = bool(layout.get("shared_variance", {new}))': (
            "bool(None) is False: a layout without shared_variance fits per-class spreads "
            "either way"
        )
        for new in ("None", "")
    },
}

_DS_DATA = (
    "data = np.frombuffer(buffer, dtype=np.uint8) if buffer is not None else np.zeros(0, np.uint8)"
)
_DS_UNIQUE = (
    "an audience holds each customer once: no two ids compare equal, so every sort kind "
    "gives the same order"
)
_DS_EMPTY = (
    "unreached: pyarrow gives a string array a data buffer even when every text is empty "
    "(or there is none)"
)
_DS_NO_GROUP = (
    "power_to_detect returns 0 for an empty group, below any power asked for, so None "
    "follows anyway"
)
_DS_GUARD = "if n_arm <= 0 or n_control <= 0:"
_DS_CEILING = (
    "power_to_detect caps the uplift at 1 - baseline: a higher bracket end has the same "
    "power as 1 - baseline and leaves the root below it where it was"
)
EQUIVALENT["engine/design.py"] = {
    **{
        f'return np.argsort({a}, kind="stable") / return np.argsort({a}, {new})': _DS_UNIQUE
        for a in ("ids", "ids.astype(str)")
        for new in ("kind=None", "")
    },
    **{
        f'return np.argsort({a}, kind="stable") / return np.argsort({a}, kind="STABLE")': (
            "numpy reads the sort kind in any case"
        )
        for a in ("ids", "ids.astype(str)")
    },
    "u = (id_hash(ids, seed) >> np.uint64(11)).astype(np.float64) / float(2**53) / "
    "u = (id_hash(ids, seed) >> np.uint64(11)).astype(None) / float(2**53)": (
        "astype(None) is float64"
    ),
    **{
        "strings = pa.array([str(v) for v in values], type=pa.string()) / "
        f"strings = pa.array([str(v) for v in values], {new})": (
            "pyarrow infers the string type from a list of str (never empty here: an empty "
            "array does not fail the first conversion)"
        )
        for new in ("type=None", "")
    },
    "strings.offset : strings.offset + len(strings) + 1 / "
    "strings.offset : strings.offset + len(strings) + 2": (
        "the offsets buffer of the freshly cast array holds exactly len + 1 offsets: a slice "
        "past its end takes no more"
    ),
    **{
        f"{_DS_DATA} / {_DS_DATA.replace(old, new)}": _DS_EMPTY
        for old, new in (
            ("if buffer is not None", "if (buffer is not None) or True"),
            ("np.zeros(0, np.uint8)", "np.zeros(None, np.uint8)"),
            ("np.zeros(0, np.uint8)", "np.zeros(0, None)"),
            ("np.zeros(0, np.uint8)", "np.zeros(np.uint8)"),
            ("np.zeros(0, np.uint8)", "np.zeros(0, )"),
            ("np.zeros(0, np.uint8)", "np.zeros(1, np.uint8)"),
        )
    },
    **{
        "h = np.full(len(strings), _FNV_OFFSET, dtype=np.uint64) / "
        f"h = np.full(len(strings), _FNV_OFFSET, {new})": (
            "the fill value is a numpy uint64: np.full takes its dtype"
        )
        for new in ("dtype=None", "")
    },
    **{
        f"{_DS_GUARD} / {_DS_GUARD.replace(old, new)}": _DS_NO_GROUP
        for old, new in (
            ("n_arm <= 0 or n_control <= 0", "n_arm <= 0 and n_control <= 0"),
            ("n_arm <= 0", "n_arm < 0"),
            ("n_control <= 0", "n_control < 0"),
        )
    },
    "ceiling = 1.0 - baseline / ceiling = 1.0 + baseline": _DS_CEILING,
    "ceiling = 1.0 - baseline / ceiling = 2.0 - baseline": _DS_CEILING,
    "xtol=1e-10, / ) / )": (
        "brentq's default xtol (2e-12) is finer still: the root moves by less than 1e-10"
    ),
    'uplift, baseline, n_arm, ratio=n_control / n_arm, alpha=alpha, alternative="two-sided" '
    "/ ) / uplift, baseline, n_arm, ratio=n_control / n_arm, alpha=alpha, )": (
        "statsmodels' power_proportions_2indep is two-sided by default"
    ),
    "if len(groups) != len(shares) or abs(sum(shares) - 1) > 1e-9: / "
    "if len(groups) != len(shares) or abs(sum(shares) - 1) >= 1e-9:": (
        "a sum of shares near 1 differs from 1 by a multiple of 2**-53, never by exactly the "
        "double 1e-9"
    ),
}

_NAN = "None read as float32 is nan"
_NO_LABEL = "a core customer always has a segment: the default is never read"
_EXACT = "exact search either way (brute force or one cell holding every customer, searched)"
_NO_CELLS = "(0, X.shape[1]), np.float32"
_CENTRES = f'state.get("index_centres", np.zeros({_NO_CELLS}))'
EQUIVALENT["engine/algorithms/faiss_import.py"] = {
    'key, _, value = line.partition(":") / key, _, value = line.rpartition(":")': (
        "a cpuinfo line has one colon, after its key: the flags themselves hold none"
    ),
}
EQUIVALENT["engine/algorithms/dbscan.py"] = {
    'model = SkDBSCAN(eps=eps, min_samples=min_samples, metric="precomputed").fit(graph) / '
    'model = SkDBSCAN(min_samples=min_samples, metric="precomputed").fit(graph)': (
        "the graph stores every pair as 0: within the default eps (0.5) as within eps"
    ),
    'graph = search.radius_neighbors_graph(X, mode="connectivity") / '
    "graph = search.radius_neighbors_graph(X, )": "'connectivity' is scikit-learn's default mode",
    "if len(found) > MAX_CORE_POINTS: / if len(found) >= MAX_CORE_POINTS:": (
        "a sample of exactly MAX_CORE_POINTS out of as many is all of them, in order"
    ),
    '"core_labels": model.labels_[core].astype(np.int32), / '
    '"core_labels": model.labels_[core].astype(None),': (
        "whole-number labels as float: the fit renumbers them into int32, assign casts to int32"
    ),
    "return model.labels_.astype(np.int32), state, len(found) / "
    "return model.labels_.astype(None), state, len(found)": (
        "these labels only enter the adjusted Rand index, which reads them as categories"
    ),
    'search = NearestNeighbors(radius=eps, algorithm="brute").fit(X) / '
    "search = NearestNeighbors(radius=eps, ).fit(X)": (
        "'auto' finds the same exact eps-neighbourhoods with a tree; only the time differs"
    ),
    **{
        "dist = nearest(X, np.zeros((0, X.shape[1]), np.float32), queries, min_samples)[0][:, -1]"
        f" / dist = nearest(X, np.zeros({change}), queries, min_samples)[0][:, -1]": _EXACT
        for change in ("(0, X.shape[1]), None", "(0, X.shape[1]), ", "(1, X.shape[1]), np.float32")
    },
    **{
        f"centres = {_CENTRES} / centres = {_CENTRES.replace(_NO_CELLS, new)}": _EXACT
        for new in ("(0, X.shape[1]), None", "(0, X.shape[1]), ", "(1, X.shape[1]), np.float32")
    },
    "return np.full(len(X), -1, np.int32), np.full(len(X), np.nan, np.float32) / "
    "return np.full(len(X), -1, np.int32), np.full(len(X), None, np.float32)": _NAN,
    "return labels, np.where(inside, dist, np.nan).astype(np.float32) / "
    "return labels, np.where(inside, dist, None).astype(np.float32)": _NAN,
    'dist, idx = nearest(state["core_points"], centres, X, 1) / '
    'dist, idx = nearest(state["core_points"], centres, X, 2)': (
        "only the first (nearest) column is read, the same for k = 1 and 2"
    ),
    **{
        '[mapping.get(int(lab), -1) for lab in state["core_labels"]], dtype=np.int32 / '
        f'[mapping.get(int(lab), {new}) for lab in state["core_labels"]], dtype=np.int32': (
            _NO_LABEL
        )
        for new in ("None", "", "+1", "-2")
    },
}
_LAST_AXIS = "numpy's default axis is the last, which is axis 1 of these 2-D arrays"
_UPPER = "einsum reads upper-case subscripts like lower-case ones"
_EXTRA_START = "an extra start past the last cell is never read"
_FAISS_F32 = "faiss's Python wrapper makes its inputs contiguous float32 itself"
EQUIVALENT["engine/algorithms/neighbours.py"] = {
    "model = SkKMeans(cells, n_init=1, max_iter=CELL_KMEANS_ITER, random_state=seed) / "
    "model = SkKMeans(cells, max_iter=CELL_KMEANS_ITER, random_state=seed)": (
        "scikit-learn's n_init='auto' is one start with k-means++ (its default init)"
    ),
    'nn = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(points) / '
    "nn = NearestNeighbors(n_neighbors=k, ).fit(points)": (
        "'auto' picks a tree for these sizes: exact neighbours either way, only the time differs"
    ),
    **{
        f"{call}(np.ascontiguousarray({arg}, dtype=np.float32){tail} / "
        f"{call}(np.ascontiguousarray({arg}, {change}){tail}": _FAISS_F32
        for call, arg, tail in (
            ("quantizer.add", "centres", ")"),
            ("index.add", "points", ")"),
            ("squared, idx = index.search", "X", ", k)"),
        )
        for change in ("dtype=None", "")
    },
    **{
        "dist = np.sqrt(np.maximum(squared, 0), dtype=np.float32) / "
        f"dist = np.sqrt(np.maximum(squared, 0), {change})": (
            "faiss returns float32 squared distances, whose square root is float32 already"
        )
        for change in ("dtype=None", "")
    },
}

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


ROW = re.compile(r"^\| ((?:engine|store)/\S+) \|")
SURVIVOR = re.compile(r"^- `((?:engine|store)/\S+?)` `")
INTRO = "mutmut 3, one module at a time"


def update_results(scores: list[ModuleScore], diffs: dict[str, str]) -> None:
    """Bring the "mutation" section of RESULTS.md up to date: the rows and surviving mutants
    of the modules just run replace theirs, the others are kept as they read; every line this
    writer does not own (notes under the table) is kept (common.rewrite_section)."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    found = re.search(rf"^## {SECTION}\n.*?(?=^## |\Z)", text, re.S | re.M)
    rows: dict[str, str] = {}
    survivors: dict[str, list[str]] = {}
    if found:  # keep the rows and survivors of the modules not re-run this time
        for line in found.group(0).splitlines():
            cell = ROW.match(line)
            if cell:
                rows[cell.group(1)] = line
            item = SURVIVOR.match(line)
            if item:
                survivors.setdefault(item.group(1), []).append(line)
    for s in scores:
        rows[s.module] = s.row()
        survivors[s.module] = [f"- `{s.module}` `{m}`: {diffs[m]}" for m in s.survived + s.no_tests]
    intro = (
        f"{INTRO} against its own tests only (listed in the last column); "
        f"per-mutant timeout (clean time of its tests + {TIMEOUT_CONSTANT:g} s) x "
        f"{TIMEOUT_MULTIPLIER:g}, a timeout counts as killed; mutants no test reaches count as "
        "survivors. Equivalent mutants are listed in bench/mutate.py (EQUIVALENT) with a reason "
        'and left out. "not checked": mutants an interrupted run did not reach (its score '
        "covers the rest; `MUTATE_ARGS=--resume` continues it). Times are on a shared 2-core "
        "machine with other work running."
    )
    header = [
        "| module | score | killed | survived | no tests | equivalent | time | tests |",
        "|---|---|---|---|---|---|---|---|",
    ]
    listed = [line for m in sorted(survivors) for line in survivors[m]]
    blocks = [
        Block([f"Command: `{COMMAND}`"], lambda line: line.startswith("Command: ")),
        Block([intro], lambda line: line.startswith(INTRO)),
        Block(
            [*header, *[rows[m] for m in sorted(rows)]],
            lambda line: line in header or ROW.match(line),
        ),
        Block(
            [
                "Not measured yet: "
                + (", ".join(f"`{m}`" for m in all_modules() if m not in rows) or "(none)")
            ],
            lambda line: line.startswith("Not measured yet: "),
        ),
        Block(["Surviving mutants:", "", *(listed or ["(none)"])], _survivor_line),
    ]
    RESULTS.write_text(rewrite_section(text, SECTION, blocks))


def _survivor_line(line: str) -> bool:
    return line in ("Surviving mutants:", "(none)") or SURVIVOR.match(line) is not None


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
