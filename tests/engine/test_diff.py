import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from segtrail.engine.diff import (
    FATES,
    Overlap,
    _align_arrow,
    contingency,
    diff_assignments,
    diff_table,
    scores,
)
from segtrail.errors import InputError

LABELS = st.integers(-1, 4)


@st.composite
def assignments(draw, ids=st.integers(0, 40), labels=LABELS, as_str=False) -> pd.Series:
    """Customer id -> label; two draws overlap on part of their customers."""
    drawn = draw(st.dictionaries(ids, labels, max_size=40))
    index = [f"c{i}" for i in drawn] if as_str else list(drawn)
    return pd.Series(list(drawn.values()), index=pd.Index(index), dtype="int64")


def series(labels: list[int], start: int = 0) -> pd.Series:
    return pd.Series(labels, index=[f"c{i}" for i in range(start, start + len(labels))])


def fates(d: dict) -> dict[int, str]:
    return {s["segment"]: s["fate"] for s in d["segments_a"]}


# contingency and scores


@settings(deadline=None)  # correctness against a reference, not speed
@given(st.lists(st.tuples(LABELS, st.integers(-1, 6)), min_size=1, max_size=60))
def test_contingency_matches_crosstab(pairs):
    """Reference: pandas.crosstab of the same pairs."""
    a, b = (np.array(x) for x in zip(*pairs, strict=True))
    table, a_values, b_values = contingency(a, b)
    expected = pd.crosstab(a, b)
    assert a_values.tolist() == expected.index.tolist()
    assert b_values.tolist() == expected.columns.tolist()
    np.testing.assert_array_equal(table, expected.to_numpy())


def test_contingency_with_a_huge_label_range():
    a = np.array([0, 10**12, 10**12, -5])
    b = np.array([1, 1, 2, 1])
    table, a_values, b_values = contingency(a, b)
    assert a_values.tolist() == [-5, 0, 10**12]
    assert b_values.tolist() == [1, 2]
    assert table.tolist() == [[1, 0], [1, 0], [1, 1]]


def test_contingency_of_a_huge_range_below_zero():
    """The range, not the largest label, decides: a dense count over 10**12 slots would
    not fit in memory."""
    table, a_values, _ = contingency(np.array([-(10**12), 0, 0]), np.array([1, 1, 2]))
    assert a_values.tolist() == [-(10**12), 0]
    assert table.tolist() == [[1, 0], [1, 1]]


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "uint8"])
def test_contingency_of_small_integer_dtypes(dtype):
    """Labels stored compactly (int8 from a Parquet file) span their whole range.
    Reference: pandas.crosstab."""
    info = np.iinfo(dtype)
    a = np.array([info.min, info.max, 0, info.max], dtype=dtype)
    b = np.array([1, 1, 2, 2], dtype=dtype)
    table, a_values, b_values = contingency(a, b)
    expected = pd.crosstab(a.astype(np.int64), b.astype(np.int64))
    assert a_values.tolist() == expected.index.tolist()
    assert b_values.tolist() == expected.columns.tolist()
    assert a_values.dtype == b_values.dtype == table.dtype == np.int64
    np.testing.assert_array_equal(table, expected.to_numpy())


def test_contingency_rejects_unaligned_arrays():
    with pytest.raises(
        InputError, match=r"^contingency needs two aligned 1-d label arrays of the same length$"
    ):
        contingency(np.array([0, 1]), np.array([0]))
    with pytest.raises(InputError, match="two aligned 1-d label arrays"):
        contingency(np.zeros((2, 2)), np.zeros((2, 2)))


@settings(deadline=None)  # correctness against a reference, not speed
@given(st.lists(st.tuples(LABELS, st.integers(0, 6)), min_size=1, max_size=60))
def test_scores_match_scikit_learn(pairs):
    """Reference: scikit-learn's adjusted_rand_score and normalized_mutual_info_score on
    the labels themselves."""
    a, b = (np.array(x) for x in zip(*pairs, strict=True))
    ari, nmi = scores(contingency(a, b)[0])
    assert ari == pytest.approx(adjusted_rand_score(a, b), abs=1e-12)
    assert nmi == pytest.approx(normalized_mutual_info_score(a, b), abs=1e-12)


def test_scores_single_partitions_and_no_customers():
    assert scores(np.array([[5]])) == (1.0, 1.0)
    assert scores(np.array([[3, 2]])) == (0.0, 0.0)
    assert scores(np.zeros((2, 2), dtype=int)) == (None, None)
    # independent partitions: no mutual information (scikit-learn gives 0.0 too)
    assert scores(np.array([[1, 1], [1, 1]]))[1] == 0.0
    assert scores(np.array([[2, 2], [1, 1]]))[1] == 0.0


# invariants of diff_assignments


@settings(max_examples=150, deadline=None)
@given(assignments(), st.randoms(use_true_random=False))
def test_diff_with_itself_is_the_identity(a, rnd):
    """Reference: the identity: every customer stays where it was, so every segment is kept
    by its own label (ARI and NMI 1), whatever the row order."""
    order = list(range(len(a)))
    rnd.shuffle(order)
    d = diff_assignments(a, a.iloc[order])  # same customers, another row order
    assert d["common_customers"] == len(a)
    assert d["only_in_a"] == d["only_in_b"] == 0
    assert all(t["from"] == t["to"] for t in d["transitions"])
    if len(a):
        assert d["ari"] == 1.0
        assert d["nmi"] == pytest.approx(1.0)
    for seg in d["segments_a"]:
        if seg["segment"] == -1:
            assert seg["fate"] == "noise"
        else:
            assert seg["fate"] == "kept"
            assert (seg["best_match"], seg["jaccard"]) == (seg["segment"], 1.0)
    assert all(s["origin"] in {"inherited", "noise"} for s in d["segments_b"])


@settings(max_examples=150, deadline=None)
@given(assignments(), assignments(), st.booleans())
def test_counts_add_up(a, b, as_str):
    """Reference: Python sets of the customer ids and pandas.crosstab of the common ones."""
    if as_str:
        a.index, b.index = a.index.map(str), b.index.map(str)
    d = diff_assignments(a, b)
    common = set(a.index) & set(b.index)
    assert d["common_customers"] == len(common)
    assert d["only_in_a"] == len(set(a.index) - common)
    assert d["only_in_b"] == len(set(b.index) - common)
    assert sum(t["customers"] for t in d["transitions"]) == len(common)
    cells = [(t["from"], t["to"]) for t in d["transitions"]]
    assert cells == sorted(set(cells))
    assert all(t["customers"] > 0 for t in d["transitions"])
    expected = pd.crosstab(a[list(common)], b[list(common)]).stack()
    assert {c: t["customers"] for c, t in zip(cells, d["transitions"], strict=True)} == {
        k: v for k, v in expected.items() if v
    }
    assert [s["size"] for s in d["segments_a"]] == a.value_counts().sort_index().tolist()
    assert [s["size"] for s in d["segments_b"]] == b.value_counts().sort_index().tolist()
    assert sum(s["common"] for s in d["segments_a"]) == len(common)
    json.dumps(d)  # JSON-serializable, no numpy scalars


@settings(max_examples=150, deadline=None)
@given(assignments(), assignments())
def test_diff_b_a_is_the_transpose_of_diff_a_b(a, b):
    """Reference: symmetry: the same customers counted from the other side (transitions
    transposed, ARI, NMI and Jaccard unchanged)."""
    ab, ba = diff_assignments(a, b), diff_assignments(b, a)
    assert ab["common_customers"] == ba["common_customers"]
    assert (ab["only_in_a"], ab["only_in_b"]) == (ba["only_in_b"], ba["only_in_a"])
    assert ab["ari"] == ba["ari"]
    assert ab["nmi"] == ba["nmi"]
    swapped = sorted((t["to"], t["from"], t["customers"]) for t in ba["transitions"])
    assert [(t["from"], t["to"], t["customers"]) for t in ab["transitions"]] == swapped
    # Jaccard and best matches read the same from both sides
    match_a = [(s["segment"], s["best_match"], s["jaccard"]) for s in ab["segments_a"]]
    match_b = [(s["segment"], s["best_match"], s["jaccard"]) for s in ba["segments_b"]]
    assert match_a == match_b


@settings(max_examples=150, deadline=None)
@given(assignments(), assignments(), st.sampled_from([0.3, 0.5, 0.8]))
def test_fates_are_well_defined(a, b, min_jaccard):
    """Reference: the module docstring's rules, checked fate by fate from the counts."""
    d = diff_assignments(a, b, min_jaccard)
    by_b = {s["segment"]: s for s in d["segments_b"]}
    for seg in d["segments_a"]:
        if seg["segment"] == -1:
            assert seg["fate"] == "noise"
            continue
        assert seg["fate"] in FATES
        assert (seg["fate"] == "vanished") == (seg["targets"] == [])
        shares = [t["share_of_a"] for t in seg["targets"]]
        if seg["fate"] == "kept":
            best = by_b[seg["best_match"]]
            assert seg["jaccard"] >= min_jaccard and best["best_match"] == seg["segment"]
        if seg["fate"] == "split":
            assert sum(s >= 0.2 for s in shares) >= 2
        for t in seg["targets"]:  # a target lists the A segment among its sources
            assert seg["segment"] in [s["segment"] for s in by_b[t["segment"]]["sources"]]
    for seg in d["segments_b"]:
        expected = "noise" if seg["segment"] == -1 else "inherited" if seg["sources"] else "new"
        assert seg["origin"] == expected


# hand-made cases


def test_split_merge_vanish_kept_and_shrunk():
    a = series([0] * 10 + [1] * 5 + [2] * 5 + [3] * 10 + [4] * 10 + [5] * 8 + [-1] * 5)
    b = series(
        [10] * 6 + [11] * 4  # 0 splits 6/4
        + [12] * 10  # 1 and 2 merge
        + [10, 11, 12, 13, 14, 15, -1, -1, -1, -1]  # 3 scatters: 10% at most anywhere
        + [14] * 4 + [-1] * 6  # 4 keeps 40% in 14, loses the rest to noise
        + [15] * 8  # 5 is kept (15 also gets one customer of 3)
        + [13] * 5  # A's noise becomes a new segment 13
    )  # fmt: skip
    d = diff_assignments(a, b)
    assert fates(d) == {
        -1: "noise",
        0: "split",
        1: "merged",
        2: "merged",
        3: "vanished",
        4: "shrunk",
        5: "kept",
    }
    seg0 = d["segments_a"][1]
    assert [(t["segment"], t["customers"]) for t in seg0["targets"]] == [(10, 6), (11, 4)]
    assert [t["share_of_a"] for t in seg0["targets"]] == [0.6, 0.4]
    origin = {
        s["segment"]: (s["origin"], [x["segment"] for x in s["sources"]]) for s in d["segments_b"]
    }
    assert origin == {
        -1: ("noise", []),
        10: ("inherited", [0]),
        11: ("inherited", [0]),
        12: ("inherited", [1, 2]),
        13: ("new", []),
        14: ("inherited", [4]),
        15: ("inherited", [5]),
    }
    # a stricter threshold no longer calls 5 kept (Jaccard 8/9) but shrunk
    assert fates(diff_assignments(a, b, min_jaccard=0.9))[5] == "shrunk"


def test_kept_despite_absorbing_a_smaller_segment_which_is_merged():
    a = series([0] * 6 + [1] * 4)
    b = series([7] * 10)
    d = diff_assignments(a, b)
    assert fates(d) == {0: "kept", 1: "merged"}
    assert d["segments_b"][0]["best_match"] == 0


def test_a_segment_gone_from_the_new_dataset_vanishes():
    a = series([0] * 5 + [1] * 5)
    b = series([3] * 5 + [4] * 7, start=5)  # customers c0..c4 are gone
    d = diff_assignments(a, b)
    assert (d["common_customers"], d["only_in_a"], d["only_in_b"]) == (5, 5, 7)
    assert fates(d) == {0: "vanished", 1: "kept"}
    assert d["segments_a"][0] == {
        "segment": 0,
        "size": 5,
        "common": 0,
        "best_match": None,
        "jaccard": None,
        "fate": "vanished",
        "targets": [],
    }
    assert [s["origin"] for s in d["segments_b"]] == ["inherited", "new"]


def test_no_common_customers():
    d = diff_assignments(series([0, 1]), series([0, 1], start=2))
    assert (d["ari"], d["nmi"], d["transitions"]) == (None, None, [])
    assert set(fates(d).values()) == {"vanished"}


def test_mixed_id_types_and_string_storages():
    a = pd.Series([0, 1, 1], index=pd.Index([1, "x", 2.5], dtype=object))
    b = pd.Series([3, 4], index=pd.Index(["x", 1], dtype=object))
    d = diff_assignments(a, b)  # pyarrow cannot type these ids: pandas joins them
    assert [(t["from"], t["to"]) for t in d["transitions"]] == [(0, 4), (1, 3)]
    a = pd.Series([0, 1, 2], index=pd.Index(["x", "y", "z"]))
    b = pd.Series([5, 6, 7], index=pd.Index(["z", "y", "q"], dtype=object))
    d = diff_assignments(a, b)
    assert [(t["from"], t["to"]) for t in d["transitions"]] == [(1, 6), (2, 5)]
    assert (d["only_in_a"], d["only_in_b"]) == (1, 1)


def test_numeric_ids_match_string_ids():
    a = pd.Series([0, 0, 1], index=[1, 2, 3])
    b = pd.Series([5, 5, 6], index=pd.Index(["1", "2", "3"]))
    d = diff_assignments(a, b)
    assert d["common_customers"] == 3 and d["ari"] == 1.0


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        (pd.Series([0, 1], index=["x", "x"]), series([0, 1]), "more than once"),
        (series([0.0, np.nan]), series([0, 1]), "without a segment"),
        (series(["a", "b"]), series([0, 1]), "integer"),
        (series([0.5, 1.0]), series([0, 1]), "integer"),
        ([0, 1], series([0, 1]), "Series"),
    ],
)
def test_bad_input(a, b, message):
    with pytest.raises(InputError, match=message):
        diff_assignments(a, b)


@pytest.mark.parametrize("min_jaccard", [0.0, -0.1, 1.5])
def test_min_jaccard_out_of_range(min_jaccard):
    with pytest.raises(InputError, match="min_jaccard"):
        diff_assignments(series([0]), series([0]), min_jaccard)


# the documented 20% boundaries, at exactly 20% and either side


@pytest.mark.parametrize(("to_other", "fate"), [(19, "kept"), (20, "split"), (21, "split")])
def test_a_share_of_exactly_twenty_percent_is_substantial(to_other, fate):
    """Segment 0 (100 customers) sends ``to_other`` of them to segment 6, the rest to 5.

    Reference: the module's rule 1 and 3 as documented (another B segment taking >= 20% of
    it stops "kept"; two B segments each taking >= 20% make a split)."""
    a = series([0] * 100 + [1] * 50)
    b = series([5] * (100 - to_other) + [6] * to_other + [6] * 50)
    d = diff_assignments(a, b)
    assert fates(d)[0] == fate
    targets = [t["segment"] for t in d["segments_a"][0]["targets"]]
    assert targets == ([5] if to_other < 20 else [5, 6])


@pytest.mark.parametrize(("outside", "fate"), [(9, "shrunk"), (10, "merged"), (11, "merged")])
def test_merged_needs_twenty_percent_from_outside(outside, fate):
    """Segment 0 (40 customers) goes whole into segment 5, which also takes ``outside``
    customers of segment 1 (10 of 50 is exactly 20%). min_jaccard 0.9 rules out "kept".

    Reference: rule 4 as documented (the B segment gets >= 20% of its own customers from
    outside), else rule 5."""
    a = series([0] * 40 + [1] * outside)
    b = series([5] * (40 + outside))
    assert fates(diff_assignments(a, b, min_jaccard=0.9))[0] == fate


@pytest.mark.parametrize("part", [2, 3])
def test_a_segment_made_half_of_another_is_its_target_at_exactly_min_jaccard(part):
    """Segment 0 (20 customers) sends 18 to segment 5 and 2 to segment 6, which also takes
    ``part`` customers of segment 1: 6 is made 2/4 = exactly 50% of 0 (a target at
    min_jaccard 0.5), or 2/5 = 40% (not one; 2 of 20 is no substantial share either).

    Reference: the module docstring's definition of targets (part from ``i`` >= min_jaccard)."""
    a = series([0] * 20 + [1] * (part + 10))
    b = series([5] * 18 + [6] * 2 + [6] * part + [7] * 10)
    targets = [t["segment"] for t in diff_assignments(a, b)["segments_a"][0]["targets"]]
    assert targets == ([5, 6] if part == 2 else [5])


def test_a_segment_of_one_customer_from_a_big_one_is_its_target():
    """Segment 6 holds one customer, from segment 0 (10 customers): 1 of 10 is no
    substantial share, but 6 is made wholly of 0, so it is a target and inherited from 0."""
    a = series([0] * 10)
    b = series([5] * 9 + [6])
    d = diff_assignments(a, b)
    assert [t["segment"] for t in d["segments_a"][0]["targets"]] == [5, 6]
    assert [(s["segment"], s["origin"]) for s in d["segments_b"]] == [
        (5, "inherited"),
        (6, "inherited"),
    ]


@pytest.mark.parametrize(("main", "fate"), [(4, "shrunk"), (5, "merged"), (6, "merged")])
def test_merged_needs_half_of_the_segment_in_one_place(main, fate):
    """Segment 0 (10 customers) sends ``main`` of them into segment 5, which gets 10 more
    from segment 1 (too big to be kept: Jaccard <= 6/20); the rest of 0 scatter one by one
    into segments made mostly of segment 2 (10% each: no target). 5 of 10 is exactly the
    documented MAIN share (50%).

    Reference: rule 4 (a B segment takes >= 50% of it and gets >= 20% from outside)."""
    scattered = 10 - main
    a = series([0] * 10 + [1] * 10 + [2] * (9 * scattered))
    b = series(
        [5] * main + list(range(10, 10 + scattered))  # segment 0
        + [5] * 10  # segment 1
        + [j for j in range(10, 10 + scattered) for _ in range(9)]  # segment 2
    )  # fmt: skip
    d = diff_assignments(a, b)
    assert fates(d)[0] == fate
    assert [t["segment"] for t in d["segments_a"][1]["targets"]] == [5]


@pytest.mark.parametrize(("others", "fate"), [(4, "kept"), (5, "merged")])
def test_kept_at_exactly_min_jaccard(others, fate):
    """Segment 0 (4 customers) goes whole into segment 5, which also takes ``others``
    customers of segment 1 (12 customers, the rest in segment 6): Jaccard 4/8 = exactly
    0.5 keeps it; 4/9 does not (then 5 is a bigger segment 0 went into).

    Reference: rule 1 (best match with Jaccard >= min_jaccard, mutual)."""
    a = series([0] * 4 + [1] * 12)
    b = series([5] * 4 + [5] * others + [6] * (12 - others))
    d = diff_assignments(a, b, min_jaccard=0.5)
    assert fates(d)[0] == fate
    assert d["segments_a"][0]["jaccard"] == 4 / (4 + others)


def test_duplicate_string_ids_name_their_side():
    once = pd.Series([0, 1], index=["x", "y"])
    twice = pd.Series([0, 1], index=["x", "x"])
    with pytest.raises(InputError, match="assignments A list some customer ids more than once"):
        diff_assignments(twice, once)
    with pytest.raises(InputError, match="assignments B list some customer ids more than once"):
        diff_assignments(once, twice)


def test_string_ids_of_two_storages_are_joined_by_pyarrow():
    """The fast path itself (a failure there would fall back to pandas, silently slower):
    Python strings on one side, Arrow's large strings on the other. Reference: the positions
    worked out by hand."""
    ia = pd.Index(["c1", "c2", "c3", "c4"], dtype=object)
    ib = pd.Index(["c4", "c9", "c2"], dtype=pd.ArrowDtype(pa.large_string()))
    pos_a, pos_b = _align_arrow(ia, ib)
    assert pos_a.tolist() == [3, 1] and pos_b.tolist() == [0, 2]
    pos_a, pos_b = _align_arrow(ib, ia)
    assert pos_a.tolist() == [2, 0] and pos_b.tolist() == [1, 3]


@pytest.mark.parametrize("flip", [False, True])
def test_numbers_and_strings_are_compared_as_strings(flip):
    """7 is "7", not "007" (the module docstring: numbers are compared as strings)."""
    numbers = pd.Series([0, 1], index=[7, 8])
    strings = pd.Series([2, 3], index=["007", "8"])
    a, b = (strings, numbers) if flip else (numbers, strings)
    d = diff_assignments(a, b)
    assert d["common_customers"] == 1
    assert [(t["from"], t["to"]) for t in d["transitions"]] == ([(3, 1)] if flip else [(1, 3)])


@pytest.mark.parametrize("flip", [False, True])
def test_integer_and_float_ids_are_the_same_numbers(flip):
    """Ids read as integers in one file and as floats in another (1 and 1.0) match."""
    ints = pd.Series([0, 1], index=[1, 2])
    floats = pd.Series([5, 6], index=[1.0, 2.0])
    a, b = (floats, ints) if flip else (ints, floats)
    d = diff_assignments(a, b)
    assert (d["common_customers"], d["only_in_a"], d["only_in_b"]) == (2, 0, 0)


def test_targets_of_a_segment_without_common_customers_is_an_empty_mask():
    ov = Overlap(np.array([[0, 0], [3, 1]]), np.array([0, 1]), np.array([5, 6]), 0.5)
    mask = ov.targets(ov.table[0])
    assert mask.dtype == bool and mask.tolist() == [False, False]
    # a mask combines with others by `&`, as carry-forward does
    assert (mask & ov.targets(ov.table[1])).tolist() == [False, False]


def test_an_empty_segmentation():
    """No customers on one side: nothing in common, every B segment is new."""
    empty = pd.Series([], dtype="int64")
    d = diff_assignments(empty, series([0, 1, 1]))
    assert (d["common_customers"], d["only_in_a"], d["only_in_b"]) == (0, 0, 3)
    assert (d["ari"], d["nmi"], d["transitions"], d["segments_a"]) == (None, None, [], [])
    assert [(s["segment"], s["size"], s["origin"]) for s in d["segments_b"]] == [
        (0, 1, "new"),
        (1, 2, "new"),
    ]
    table, a_values, b_values = contingency(np.array([], dtype=int), np.array([], dtype=int))
    assert table.shape == (0, 0) and a_values.size == 0 and b_values.size == 0
    assert json.loads(json.dumps(diff_assignments(empty, empty)))["segments_b"] == []


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        (series(["a"]), series([0]), "assignments A must hold integer segment labels, not str"),
        (series([0]), series(["a"]), "assignments B must hold integer segment labels, not str"),
        (series([0.5]), series([0]), "assignments A must hold integer segment labels"),
        (series([0]), series([0.0, np.nan]), "assignments B have customers without a segment"),
        (series([0.0, np.nan]), series([0]), "assignments A have customers without a segment"),
        ([0], series([0]), "assignments A must be a pandas Series indexed by customer id"),
        (series([0]), [0], "assignments B must be a pandas Series indexed by customer id"),
        (pd.Series([0, 1], index=[1, 1]), pd.Series([0, 1], index=[1, 2]), "A list some"),
        (pd.Series([0, 1], index=[1, 2]), pd.Series([0, 1], index=[2, 2]), "B list some"),
        (pd.Series([0, 1], index=[1.0, np.nan]), pd.Series([0], index=[1.0]), "without an id"),
        (pd.Series([0], index=[1]), pd.Series([0, 1], index=[1.0, np.nan]), "without an id"),
    ],
)
def test_bad_input_names_the_side_at_fault(a, b, message):
    with pytest.raises(InputError, match=message):
        diff_assignments(a, b)


def test_min_jaccard_of_one_keeps_only_identical_segments():
    """1 is allowed (the range is (0, 1]); whole floats are integer labels."""
    d = diff_assignments(series([0.0, 0.0, 1.0, 1.0]), series([5, 5, 6, 7]), min_jaccard=1.0)
    assert fates(d) == {0: "kept", 1: "split"}
    with pytest.raises(InputError, match=r"min_jaccard must be in \(0, 1\], got 1.5"):
        diff_assignments(series([0]), series([0]), 1.5)


@pytest.mark.parametrize("flip", [False, True])
def test_float_ids_read_as_strings_the_same_way_from_either_side(flip):
    """1.0 reads "1.0" (as pandas prints it), whichever side holds the numbers, so that
    diff(B, A) is the transpose of diff(A, B)."""
    strings = pd.Series([0, 1], index=["1", "2.0"])
    floats = pd.Series([5, 6], index=[1.0, 2.0])
    a, b = (floats, strings) if flip else (strings, floats)
    d = diff_assignments(a, b)
    assert [(t["from"], t["to"]) for t in d["transitions"]] == ([(6, 1)] if flip else [(1, 6)])


def test_one_customer_of_five_is_a_substantial_share():
    """Small counts: 1 of 5 is exactly 20%, so segment 0 splits instead of being kept."""
    d = diff_assignments(series([0] * 5), series([5] * 4 + [6]))
    assert fates(d) == {0: "split"}


def test_a_segment_of_one_customer_that_went_into_a_big_one_merged():
    """Its single common customer is 100% of it (>= 50%), and the B segment gets 9 of its
    10 customers from outside: merged, not shrunk."""
    d = diff_assignments(series([0] + [1] * 9), series([5] * 10))
    assert fates(d) == {0: "merged", 1: "kept"}


def test_the_noise_row_has_a_fate_of_its_own_and_no_targets():
    d = diff_assignments(series([-1, -1, 0, 0]), series([3, 3, 3, 3]))
    assert d["segments_a"][0] == {
        "segment": -1,
        "size": 2,
        "common": 2,
        "best_match": None,
        "jaccard": None,
        "fate": "noise",
        "targets": [],
    }
    ov = Overlap(np.array([[2, 0], [0, 2]]), np.array([-1, 0]), np.array([3, 4]), 0.5)
    assert [ov.fate(0), ov.fate(1)] == ["noise", "kept"]  # carry-forward asks Overlap


def test_targets_and_sources_come_largest_first():
    """Segment 0 sends 4 customers to 5 and 6 to 6; segment 6 gets 6 from 0 and 9 from 1:
    the lists put the larger part first, whatever the labels."""
    a = series([0] * 10 + [1] * 9)
    b = series([5] * 4 + [6] * 6 + [6] * 9)
    d = diff_assignments(a, b)
    assert [(t["segment"], t["customers"]) for t in d["segments_a"][0]["targets"]] == [
        (6, 6),
        (5, 4),
    ]
    assert d["segments_b"][1] == {
        "segment": 6,
        "size": 15,
        "common": 15,
        "origin": "inherited",
        "sources": [
            {"segment": 1, "customers": 9, "share_of_b": 9 / 15},
            {"segment": 0, "customers": 6, "share_of_b": 6 / 15},
        ],
        "best_match": 1,
        "jaccard": 9 / 15,
    }


# diff_table: the same result from counts made elsewhere (Spark)


def test_diff_table_from_counts_written_by_hand():
    """A: segment 0 has 5 customers (4 common), segment 1 has 3 (all common); B: segment 7
    has 6 (4 from 0, 1 from 1, 1 only in B), noise has 2 (from 1). Expected values worked
    out by hand from the module's rules."""
    d = diff_table(
        np.array([[0, 4], [2, 1]]),
        np.array([0, 1]),
        np.array([-1, 7]),
        size_a=np.array([5, 3]),
        size_b=np.array([2, 6]),
    )
    assert (d["common_customers"], d["only_in_a"], d["only_in_b"]) == (7, 1, 1)
    a, b = [0] * 4 + [1] * 3, [7] * 4 + [-1, -1, 7]  # the common customers, as labels
    assert d["ari"] == pytest.approx(adjusted_rand_score(a, b), abs=1e-12)
    assert d["nmi"] == pytest.approx(normalized_mutual_info_score(a, b), abs=1e-12)
    assert d["min_jaccard"] == 0.5
    assert d["transitions"] == [
        {"from": 0, "to": 7, "customers": 4},
        {"from": 1, "to": -1, "customers": 2},
        {"from": 1, "to": 7, "customers": 1},
    ]
    assert [(s["segment"], s["size"], s["common"]) for s in d["segments_a"]] == [
        (0, 5, 4),
        (1, 3, 3),
    ]
    assert [(s["segment"], s["size"], s["common"]) for s in d["segments_b"]] == [
        (-1, 2, 2),
        (7, 6, 5),
    ]
    # Jaccard of (0, 7): 4 / (4 + 5 - 4) = 0.8, mutual best match, nothing else takes 20%
    assert d["segments_a"][0]["fate"] == "kept"
    assert d["segments_a"][0]["jaccard"] == 0.8
    # 1 sends 1 of its 3 common customers to 7 (33%, a target) and 2 to noise: shrunk
    assert d["segments_a"][1]["fate"] == "shrunk"
    assert d["segments_b"][1]["sources"] == [
        {"segment": 0, "customers": 4, "share_of_b": 0.8},
        {"segment": 1, "customers": 1, "share_of_b": 0.2},
    ]


def test_diff_table_agrees_with_diff_assignments_on_the_customers():
    """Reference: diff_assignments on the customers themselves (it counts the table from
    the labels, here diff_table is handed counts made with pandas.crosstab)."""
    a = series([0] * 6 + [1] * 4 + [-1] * 2 + [2] * 3)
    b = series([4] * 5 + [5] * 3 + [-1] * 4 + [6] * 5, start=2)
    common = a.index.intersection(b.index)
    counts = pd.crosstab(a[common], b[common]).reindex(
        index=sorted(set(a)), columns=sorted(set(b)), fill_value=0
    )
    sizes_a, sizes_b = a.value_counts().sort_index(), b.value_counts().sort_index()
    from_counts = diff_table(
        counts.to_numpy(), counts.index.to_numpy(), counts.columns.to_numpy(),
        sizes_a.to_numpy(), sizes_b.to_numpy(), 0.3,
    )  # fmt: skip
    assert from_counts == diff_assignments(a, b, 0.3)
    assert (from_counts["only_in_a"], from_counts["only_in_b"]) == (2, 4)


@pytest.mark.parametrize(
    ("table", "size_a", "size_b"),
    [
        ([[1, 2]], [3, 0], [1, 2]),  # one A label, two sizes
        ([[1, 2]], [3], [1, 2, 0]),
        ([[1], [2]], [1, 2], [3]),  # table transposed
    ],
)
def test_diff_table_refuses_counts_that_do_not_match_the_labels(table, size_a, size_b):
    with pytest.raises(InputError, match=r"^the contingency table does not match the label lists$"):
        diff_table(np.array(table), np.array([0]), np.array([0, 1]), size_a, size_b)


def test_diff_table_checks_min_jaccard():
    with pytest.raises(InputError, match="min_jaccard must be in"):
        diff_table(np.array([[1]]), np.array([0]), np.array([0]), [1], [1], 0.0)


def test_customers_without_an_id_are_refused():
    a = pd.Series([0, 1], index=pd.Index([1.0, np.nan]))
    with pytest.raises(InputError, match=r"^assignments have customers without an id$"):
        diff_assignments(a, pd.Series([0, 1], index=pd.Index([1.0, 2.0])))
