import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segtrail.engine.carry import carry_plan
from segtrail.engine.diff import diff_assignments
from segtrail.errors import InputError

FATES = {"kept", "split", "merged", "shrunk", "vanished", "all"}


@st.composite
def assignments(draw, max_id: int = 40) -> pd.Series:
    drawn = draw(st.dictionaries(st.integers(0, max_id), st.integers(-1, 4), max_size=40))
    return pd.Series(list(drawn.values()), index=list(drawn), dtype="int64")


@st.composite
def plans(draw, a: pd.Series) -> list[dict]:
    """Plan entries on the labels of ``a``: one or several segments, "all", or none."""
    labels = sorted(set(a.tolist()))
    targets = st.just("all")
    if labels:
        targets = targets | st.lists(st.sampled_from(labels), min_size=1, unique=True)
    chosen = draw(st.lists(targets | st.just([]), max_size=6))
    statuses = st.sampled_from(["active", "paused", "not-viable"])
    return [
        {"strategy": f"s{n}", "segments": t, "status": draw(statuses), "rationale": f"why {n}"}
        for n, t in enumerate(chosen)
    ]


def customers(s: pd.Series, segments) -> set:
    return set(s.index) if segments == "all" else set(s.index[s.isin(segments)])


def carry(a: pd.Series, b: pd.Series, entries: list[dict], min_jaccard: float = 0.5):
    return carry_plan(diff_assignments(a, b, min_jaccard), entries, a, b, min_jaccard)


def entry(segments, strategy: str = "s", status: str = "active") -> dict:
    return {"strategy": strategy, "segments": segments, "status": status, "rationale": "r"}


def series(labels: list[int], start: int = 0) -> pd.Series:
    return pd.Series(labels, index=[f"c{i}" for i in range(start, start + len(labels))])


# properties


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_permuted_labels_carry_every_strategy_to_the_same_customers(data):
    """Reference: the customers of each strategy's old segments (sets), found again under the
    new labels."""
    a = data.draw(assignments())
    new_label = data.draw(st.permutations(range(10, 15)))
    order = data.draw(st.permutations(range(len(a))))
    b = a.map(lambda x: -1 if x == -1 else new_label[x]).iloc[list(order)]
    entries = data.draw(plans(a))
    out = carry(a, b, entries)
    assert len(out) == len(entries)
    for old, new in zip(entries, out, strict=True):
        assert customers(b, new["new_segments"]) == customers(a, old["segments"])
        assert new["carried_audience"] == new["old_audience"] == new["new_audience"]
        if old["segments"] == []:
            assert (new["fate"], new["status"]) == ("vanished", "needs-review")
        else:
            assert new["fate"] in {"kept", "all"}
            assert new["status"] == old["status"]


@settings(max_examples=150, deadline=None)
@given(assignments())
def test_carrying_onto_the_same_version_keeps_everything(a):
    """Reference: the identity: the same segments, all kept."""
    entries = [entry([s], f"s{s}") for s in sorted(set(a.tolist()))] + [entry("all", "all")]
    out = carry(a, a, entries)
    assert [e["new_segments"] for e in out] == [e["segments"] for e in entries]
    assert {e["fate"] for e in out} <= {"kept", "all"}
    assert all(e["retained_share"] == (1.0 if len(a) else None) for e in out)


@settings(max_examples=150, deadline=None)
@given(st.data(), st.sampled_from([0.3, 0.5, 0.8]))
def test_every_entry_is_carried_with_consistent_counts(data, min_jaccard):
    """Reference: Python sets of the customers of the old and new segments."""
    a, b = data.draw(assignments()), data.draw(assignments())
    entries = data.draw(plans(a))
    d = diff_assignments(a, b, min_jaccard)
    out = carry_plan(d, entries, a, b, min_jaccard)
    assert [(e["strategy"], e["old_segments"], e["rationale"]) for e in out] == [
        (e["strategy"], e["segments"], e["rationale"]) for e in entries
    ]
    common = set(a.index) & set(b.index)
    fate_of = {s["segment"]: s for s in d["segments_a"]}
    for old, new in zip(entries, out, strict=True):
        assert new["fate"] in FATES
        old_set, new_set = customers(a, old["segments"]), customers(b, new["new_segments"])
        assert new["old_audience"] == len(old_set)
        assert new["new_audience"] == len(new_set)
        assert new["carried_audience"] == len(old_set & new_set & common)
        if old_set & common:
            assert new["retained_share"] == len(old_set & new_set) / len(old_set & common)
        if new["fate"] == "vanished":
            assert new["new_segments"] == [] and new["status"] == "needs-review"
        elif new["fate"] != "all":
            assert new["new_segments"] and new["carried_audience"] > 0
            assert new["new_segments"] == sorted(new["new_segments"])
        if new["fate"] in {"split", "merged"}:
            assert new["status"] == "needs-review"
        if new["fate"] in {"kept", "shrunk"}:
            assert new["status"] == old["status"]
        segments = old["segments"]
        if segments != "all" and len(segments) == 1 and segments[0] != -1:
            seg = fate_of[segments[0]]  # one segment: its fate and targets in the diff
            assert new["fate"] == seg["fate"]
            assert new["new_segments"] == sorted(t["segment"] for t in seg["targets"])


# hand-made cases


def test_split_merge_and_vanish():
    a = series([0] * 10 + [1] * 6 + [2] * 4 + [3] * 10 + [4] * 5)
    b = series(
        [10] * 6 + [11] * 4  # 0 splits 6/4
        + [12] * 10  # 1 and 2 merge
        + [10, 11, 12, 13] + [-1] * 6  # 3 scatters: 10% at most in any segment
        + [13] * 5  # 4 is kept in 13
    )  # fmt: skip
    entries = [
        entry([0], "split"),
        entry([1], "kept", "paused"),
        entry([2], "merged"),
        entry([3], "vanished"),
        entry([1, 2], "both"),
        entry("all", "everyone"),
    ]
    out = {e["strategy"]: e for e in carry(a, b, entries)}
    assert list(out) == [e["strategy"] for e in entries]

    split = out["split"]
    assert (split["fate"], split["new_segments"], split["status"]) == (
        "split",
        [10, 11],
        "needs-review",
    )
    assert split["explanation"] == "audience split across segments 10 and 11 (6 and 4 customers)"
    assert (split["carried_audience"], split["new_audience"]) == (10, 7 + 5)

    # 1 (6 customers) is kept in 12 (Jaccard 0.6) while 2 (4 customers) merged into it
    assert (out["kept"]["fate"], out["kept"]["new_segments"], out["kept"]["status"]) == (
        "kept",
        [12],
        "paused",
    )
    merged = out["merged"]
    assert (merged["fate"], merged["new_segments"], merged["status"]) == (
        "merged",
        [12],
        "needs-review",
    )
    assert merged["explanation"] == (
        "audience merged into segment 12 together with 7 customers from outside it "
        "(4 customers from the old audience)"
    )

    vanished = out["vanished"]
    assert (vanished["fate"], vanished["new_segments"], vanished["status"]) == (
        "vanished",
        [],
        "needs-review",
    )
    assert vanished["old_audience"] == 10 and vanished["carried_audience"] == 0
    assert vanished["retained_share"] == 0.0
    assert vanished["explanation"] == (
        "audience vanished: its 10 customers scattered and no new segment holds a substantial "
        "share of them"
    )

    both = out["both"]  # the two merged segments together land in 12
    assert (both["fate"], both["new_segments"], both["carried_audience"]) == ("merged", [12], 10)

    assert (out["everyone"]["fate"], out["everyone"]["new_segments"]) == ("all", "all")
    assert out["everyone"]["status"] == "active"


def test_shrunk_audience_keeps_its_status():
    a = series([0] * 10 + [1] * 10)
    b = series([5] * 4 + [-1] * 6 + [6] * 10)
    (out,) = carry(a, b, [entry([0], status="paused")])
    assert (out["fate"], out["new_segments"], out["status"]) == ("shrunk", [5], "paused")
    assert out["retained_share"] == 0.4
    assert out["explanation"] == "audience shrank: only 40% of it (4 customers) is in segment 5"


def test_audience_gone_from_the_new_dataset():
    a = series([0] * 3 + [1] * 3)
    b = series([7] * 3, start=3)
    out = carry(a, b, [entry([0]), entry([1])])
    assert out[0]["fate"] == "vanished" and out[0]["retained_share"] is None
    assert out[0]["explanation"] == (
        "audience vanished: none of its customers are in the new version"
    )
    assert out[1]["fate"] == "kept" and out[1]["new_segments"] == [7]
    assert out[1]["explanation"] == (
        "audience kept as segment 7 (3 customers, 100% of the old audience)"
    )


def test_noise_is_only_proposed_to_an_audience_of_noise():
    a = series([0] * 4 + [-1] * 4)
    b = series([0] * 4 + [-1] * 4)
    out = carry(a, b, [entry([0]), entry([-1]), entry([0, -1])])
    assert [e["new_segments"] for e in out] == [[0], [-1], [-1, 0]]


def test_an_empty_entry_is_carried_as_vanished():
    (out,) = carry(series([0, 1]), series([0, 1]), [entry([])])
    assert (out["fate"], out["new_segments"], out["status"]) == ("vanished", [], "needs-review")
    assert out["old_audience"] == 0 and out["retained_share"] is None


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (entry([9]), "does not have"),
        (entry(["0"]), "bad segment label"),
        (entry("some"), "list of labels or .all."),
        ({"segments": [0]}, "needs a 'strategy'"),
    ],
)
def test_bad_entries(bad, message):
    with pytest.raises(InputError, match=message):
        carry(series([0, 1]), series([0, 1]), [bad])


def test_a_diff_of_other_assignments_is_refused():
    a, b = series([0, 1]), series([0, 1])
    d = diff_assignments(a, series([0, 1, 1]))
    with pytest.raises(InputError, match="does not belong"):
        carry_plan(d, [entry([0])], a, b)
    with pytest.raises(InputError, match="not a segmentation diff"):
        carry_plan({}, [entry([0])], a, b)


def test_numpy_integer_labels_are_accepted():
    (out,) = carry(series([0, 1]), series([3, 4]), [entry([np.int64(1)])])
    assert out["new_segments"] == [4] and out["old_segments"] == [1]


@pytest.mark.parametrize("min_jaccard", [0.0, -0.1, 1.5])
def test_min_jaccard_outside_zero_to_one_is_refused(min_jaccard):
    a, b = series([0, 1, 1]), series([5, 6, 6])
    with pytest.raises(InputError, match=r"min_jaccard must be in \(0, 1\]"):
        carry_plan(diff_assignments(a, b), [entry([0])], a, b, min_jaccard)


def test_min_jaccard_of_one_is_accepted():
    a, b = series([0, 1, 1]), series([5, 6, 6])
    (out,) = carry_plan(diff_assignments(a, b, 1.0), [entry([0])], a, b, 1.0)
    assert out["new_segments"] == [5]


def test_audiences_carried_onto_noise_are_explained_as_noise():
    a = series([0] * 4 + [-1] * 4)
    b = series([0] * 4 + [-1] * 4)
    noise, both = carry(a, b, [entry([-1]), entry([0, -1])])
    assert noise["explanation"] == "audience kept as noise (4 customers, 100% of the old audience)"
    assert both["explanation"] == (
        "audience kept as segments noise and 0 (4 and 4 customers, 100% of the old audience)"
    )


def test_an_empty_entry_is_explained():
    (out,) = carry(series([0, 1]), series([0, 1]), [entry([])])
    assert out["explanation"] == "audience vanished: the entry targeted no segment"


def test_a_single_customer_is_counted_in_the_singular():
    (out,) = carry(series([0, 1, 1]), series([5, 6, 6]), [entry([0])])
    assert out["explanation"] == "audience kept as segment 5 (1 customer, 100% of the old audience)"


def test_a_split_in_three_lists_every_part():
    a = series([0] * 10)
    b = series([10] * 4 + [11] * 3 + [12] * 3)
    (out,) = carry(a, b, [entry([0])])
    assert out["explanation"] == (
        "audience split across segments 10, 11 and 12 (4, 3 and 3 customers)"
    )


def test_entries_without_status_or_rationale_are_active_with_no_rationale():
    a, b = series([0, 0, 1]), series([5, 5, 6])
    entries = [{"strategy": "s", "segments": [0]}, {"strategy": "t", "segments": "all"}]
    for out in carry(a, b, entries):
        assert (out["status"], out["rationale"]) == ("active", "")


def test_bad_entries_are_named_by_their_place_in_the_plan_and_their_strategy():
    a, b = series([0, 1]), series([0, 1])
    good = entry([0], "first")
    for bad, message in (
        (entry([9], "second"), "plan entry 2 (second) targets segment 9, which the old version "
         "does not have"),
        (entry(["0"], "second"), "plan entry 2 (second): bad segment label '0'"),
        (entry("some", "second"), "plan entry 2 (second): segments must be a list of labels or "
         "'all'"),
        ({"segments": [0]}, "plan entry 2 needs a 'strategy' and its 'segments'"),
    ):  # fmt: skip
        with pytest.raises(InputError) as caught:
            carry(a, b, [good, bad])
        assert str(caught.value) == message


def test_a_diff_of_other_assignments_says_what_it_counts():
    other_a, other_b = series([0] * 4), series([0] * 3, start=2)  # 2 common, 2 + 1 apart
    a, b = series([0, 1]), series([0, 1])
    with pytest.raises(InputError) as caught:
        carry_plan(diff_assignments(other_a, other_b), [entry([0])], a, b)
    assert str(caught.value) == (
        "the diff does not belong to these assignments: it counts 4 and 3 customers, the "
        "assignments have 2 and 2"
    )


def test_an_entry_on_all_customers_is_explained_with_the_new_count():
    a, b = series([0] * 1500), series([1] * 1000 + [2] * 234, start=300)
    (out,) = carry(a, b, [entry("all")])
    assert out["explanation"] == "targets all customers (1,234 in the new version)"
    assert (out["old_audience"], out["carried_audience"], out["new_audience"]) == (1500, 1200, 1234)
