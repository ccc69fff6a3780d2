"""`segtrail campaign import / report / list` and `why` through the CLI.

Bad campaign files: exit code 2, one line on stderr naming the file, the row (and line) and
the column, and the workspace byte-for-byte as before. Good ones: unknown customers counted
and reported, per-segment statistics in `report --json` and in `why --json`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.stats import fisher_exact
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)
from threadpoolctl import threadpool_limits

from segtrail.compute import pipeline
from segtrail.services.workspace import Workspace

Runner = Callable[..., Any]
TreeHash = Callable[[Path], dict]
HEADER = "customer_id,group,responded"
REPORT_KEYS = {
    "segment",
    "name",
    "treatment_n",
    "treatment_responders",
    "control_n",
    "control_responders",
    "treatment_rate",
    "control_rate",
    "uplift",
    "uplift_ci",
    "p_value",
}


@pytest.fixture(autouse=True)
def _fast_segmentation(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Few stability bootstraps and one OpenMP thread: clustering is not under test here."""
    monkeypatch.setattr(pipeline, "STABILITY_BOOTSTRAPS", 3)
    with threadpool_limits(1):
        yield


@pytest.fixture
def ready(populated: Path, cli: Runner) -> Path:
    """The 60 customers C0000..C0059, marketing@1 (k=2 on age), product@1 (k=3 on spend),
    and strategy `spring` mapped onto every segment of marketing@1."""
    steps = [
        (
            "segment",
            "-d",
            "customers",
            "-l",
            "marketing",
            "-m",
            "age",
            "--k",
            "2",
            "--features",
            "age",
        ),
        (
            "segment",
            "-d",
            "customers",
            "-l",
            "product",
            "-m",
            "spend",
            "--k",
            "3",
            "--features",
            "spend",
        ),
        ("strategy", "add", "spring", "-m", "Spring offer", "-c", "email"),
        ("plan", "map", "spring", "marketing@1", "--all"),
    ]
    for args in steps:
        result = cli(*args)
        assert result.code == 0, result.err
    return populated


def _rows(*rows: str, header: str = HEADER) -> str:
    return header + "\n" + "\n".join(rows) + "\n"


GOOD = [f"C{i:04d},{'treatment' if i % 2 else 'control'},{i % 3 == 0:d}" for i in range(8)]


def _with(row: int, text: str, rows: list[str] | None = None) -> list[str]:
    """GOOD with data row `row` (1-based) replaced."""
    out = list(rows or GOOD)
    out[row - 1] = text
    return out


# (file content, fragments the one error line must contain)
BAD_FILES = {
    "duplicate customer": (
        _rows(*_with(4, "C0001,control,0")),
        ("customer_id", "'C0001'", "row 2 (line 3)", "row 4 (line 5)"),
    ),
    "empty customer id": (_rows(*_with(3, ",control,0")), ("customer_id", "row 3 (line 4)")),
    "bad group": (_rows(*_with(3, "C0002,treatmnt,1")), ("'group'", "row 3 (line 4)", "treatmnt")),
    "empty group": (_rows(*_with(5, "C0004,,1")), ("'group'", "row 5 (line 6)")),
    "responded 2": (_rows(*_with(6, "C0005,control,2")), ("'responded'", "row 6 (line 7)")),
    "responded yes": (_rows(*_with(1, "C0000,control,yes")), ("'responded'", "row 1 (line 2)")),
    "responded empty": (_rows(*_with(2, "C0001,control,")), ("'responded'", "row 2 (line 3)")),
    "opened maybe": (
        _rows(
            *[f"{r},{'maybe' if i == 6 else 1}" for i, r in enumerate(GOOD)],
            header=HEADER + ",opened",
        ),
        ("'opened'", "row 7 (line 8)", "maybe"),
    ),
    "negative revenue": (
        _rows(
            *[f"{r},{-5 if i == 2 else 10}" for i, r in enumerate(GOOD)], header=HEADER + ",revenue"
        ),
        ("'revenue'", "row 3 (line 4)"),
    ),
    "text revenue": (
        _rows(
            *[f"{r},{'lots' if i == 4 else 10}" for i, r in enumerate(GOOD)],
            header=HEADER + ",revenue",
        ),
        ("'revenue'", "row 5 (line 6)", "lots"),
    ),
    "missing responded": (
        _rows(*[r.rsplit(",", 1)[0] for r in GOOD], header="customer_id,group"),
        ("responded",),
    ),
    "missing group": (
        _rows(*[f"{r.split(',')[0]},1" for r in GOOD], header="customer_id,responded"),
        ("group",),
    ),
    "missing customer_id": (
        _rows(*[f"x{r}" for r in GOOD], header="id,group,responded"),
        ("customer_id",),
    ),
}


def _check_refused(result: Any, fragments: tuple[str, ...]) -> None:
    assert result.code == 2, (result.code, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_campaign_file_is_refused_and_changes_nothing(
    ready: Path, cli: Runner, tree_hash: TreeHash, tmp_path: Path, case: str
) -> None:
    content, fragments = BAD_FILES[case]
    path = tmp_path / "bad-wave.csv"
    path.write_text(content)
    before = tree_hash(ready)
    result = cli("campaign", "import", path, "--name", "wave", "--strategy", "spring")
    _check_refused(result, ("bad-wave.csv", *fragments))
    assert tree_hash(ready) == before
    assert cli("campaign", "list", "--json").json() == []


def test_duplicate_message_names_rows_of_the_same_customer(
    ready: Path, cli: Runner, tmp_path: Path
) -> None:
    """Two different customers repeated, interleaved: the rows named belong to one customer."""
    path = tmp_path / "twice.csv"
    rows = ["C0001,control,0", "C0002,control,0", "C0003,control,1", "C0002,treatment,1"]
    path.write_text(_rows(*rows, "C0001,treatment,0"))
    result = cli("campaign", "import", path, "--name", "wave", "--strategy", "spring")
    _check_refused(result, ("twice.csv", "customer_id"))
    match = re.search(r"'(C\d+)' at row (\d+) \(line \d+\) and row (\d+)", result.err)
    assert match, result.err
    value, first, second = match.group(1), int(match.group(2)), int(match.group(3))
    ids = [r.split(",")[0] for r in [*rows, "C0001,treatment,0"]]
    assert ids[first - 1] == ids[second - 1] == value


def test_parquet_errors_name_the_row_without_a_line(
    ready: Path, cli: Runner, tree_hash: TreeHash, tmp_path: Path
) -> None:
    table = pa.table(
        {
            "customer_id": ["C0001", "C0002", "C0003"],
            "group": ["control", "treatment", "test"],
            "responded": [0, 1, 1],
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    path = tmp_path / "wave.parquet"
    path.write_bytes(sink.getvalue())
    before = tree_hash(ready)
    result = cli("campaign", "import", path, "--name", "wave", "--strategy", "spring")
    _check_refused(result, ("wave.parquet", "row 3", "'group'", "test"))
    assert "line" not in result.err
    assert tree_hash(ready) == before


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--name", "wave", "--strategy", "nobody"), "nobody"),
        (("--name", "bad name!", "--strategy", "spring"), "bad name!"),
    ],
)
def test_bad_usage_changes_nothing(
    ready: Path, cli: Runner, tree_hash: TreeHash, tmp_path: Path, args: tuple, fragment: str
) -> None:
    path = tmp_path / "wave.csv"
    path.write_text(_rows(*GOOD))
    before = tree_hash(ready)
    _check_refused(cli("campaign", "import", path, *args), (fragment,))
    assert tree_hash(ready) == before


def test_real_console_script_refuses_a_bad_file(
    ready: Path, run: Runner, tree_hash: TreeHash, tmp_path: Path
) -> None:
    path = tmp_path / "bad-wave.csv"
    path.write_text(_rows(*_with(3, "C0002,treatmnt,1")))
    before = tree_hash(ready)
    result = run("campaign", "import", path, "--name", "wave", "--strategy", "spring")
    _check_refused(result, ("bad-wave.csv", "'group'", "row 3 (line 4)"))
    assert tree_hash(ready) == before


def test_unknown_customers_are_counted_and_reported(
    ready: Path, cli: Runner, tmp_path: Path
) -> None:
    path = tmp_path / "wave.csv"
    unknown = ["Z001,treatment,1", "Z002,treatment,0", "Z003,control,1"]
    path.write_text(_rows(*GOOD, *unknown))
    result = cli("campaign", "import", path, "--name", "wave", "--strategy", "spring")
    assert result.code == 0, result.err
    assert "3 customers are not in marketing@1" in result.out
    listed = cli("campaign", "list", "--json").json()
    assert [(c["campaign"], c["rows"], c["unknown_customers"]) for c in listed] == [
        ("wave", len(GOOD) + 3, 3)
    ]
    assert "wave" in cli("campaign", "list").out
    report = cli("campaign", "report", "wave", "--json").json()
    outside = [s for s in report["segments"] if s["segment"] is None]
    assert len(outside) == 1 and outside[0]["name"] == "not in this version"
    assert (outside[0]["treatment_n"], outside[0]["treatment_responders"]) == (2, 1)
    assert (outside[0]["control_n"], outside[0]["control_responders"]) == (1, 1)
    assert report["overall"]["treatment_n"] + report["overall"]["control_n"] == len(GOOD) + 3


def test_import_json_and_optional_columns(ready: Path, cli: Runner, tmp_path: Path) -> None:
    path = tmp_path / "wave.csv"
    rows = [
        f"{r},{i * 1.5},{i % 2},{'true' if i % 4 == 0 else 'false'}" for i, r in enumerate(GOOD)
    ]
    path.write_text(_rows(*rows, header=HEADER + ",revenue,opened,clicked"))
    result = cli("campaign", "import", path, "--name", "wave", "--strategy", "spring", "--json")
    assert result.code == 0, result.err
    imported = result.json()
    assert imported["unknown_customers"] == 0
    assert imported["columns"] == [
        "customer_id",
        "group",
        "responded",
        "revenue",
        "opened",
        "clicked",
    ]
    overall = cli("campaign", "report", "wave", "--json").json()["overall"]
    treated = [i for i in range(len(GOOD)) if i % 2]
    assert overall["revenue_per_customer_treatment"] == pytest.approx(
        sum(i * 1.5 for i in treated) / len(treated)
    )
    assert overall["treatment_click_rate"] == sum(i % 4 == 0 for i in treated) / len(treated)


def _campaign_with_effects(ws: Workspace, path: Path) -> dict[int, tuple[int, int, int, int]]:
    """A campaign where treatment helps in segment a, hurts in segment b (marketing@1), and
    the expected (tn, tk, cn, ck) per segment."""
    labels = ws.assignments("marketing@1").sort_index()
    a, b = sorted(labels.unique())
    rows, cells = [], {}
    for label, (treated_respond, control_respond) in ((a, (1, 0)), (b, (0, 1))):
        members = list(labels.index[labels.to_numpy() == label])
        half = len(members) // 2
        for i, cid in enumerate(members):
            treated = i < half
            rows.append(f"{cid},{'treatment' if treated else 'control'},")
            rows[-1] += str(treated_respond if treated else control_respond)
        tn, cn = half, len(members) - half
        cells[int(label)] = (tn, tn * treated_respond, cn, cn * control_respond)
    path.write_text(_rows(*rows))
    return cells


def test_report_json_per_segment(ready: Path, cli: Runner, tmp_path: Path) -> None:
    with Workspace.open(ready) as ws:
        cells = _campaign_with_effects(ws, tmp_path / "wave.csv")
    result = cli(
        "campaign", "import", tmp_path / "wave.csv", "--name", "wave", "--strategy", "spring"
    )
    assert result.code == 0, result.err
    report = cli("campaign", "report", "wave", "--json").json()
    assert report["by"] == "marketing@1"  # the mapped version, by default
    assert report["campaign"] == "wave" and report["strategy"] == "spring"
    assert {s["segment"] for s in report["segments"]} == set(cells)
    for entry in report["segments"]:
        assert set(entry) >= REPORT_KEYS
        tn, tk, cn, ck = cells[entry["segment"]]
        assert (entry["treatment_n"], entry["treatment_responders"]) == (tn, tk)
        assert (entry["control_n"], entry["control_responders"]) == (cn, ck)
        assert entry["treatment_rate"] == tk / tn and entry["control_rate"] == ck / cn
        assert entry["treatment_rate_ci"] == pytest.approx(
            list(proportion_confint(tk, tn, method="wilson"))
        )
        low, high = confint_proportions_2indep(tk, tn, ck, cn, method="newcomb")
        assert entry["uplift_ci"] == pytest.approx([low, high])
        yes = tk + ck
        if min(tn, cn) * min(yes, tn + cn - yes) / (tn + cn) < 5:
            assert entry["test"] == "Fisher exact"
            p = fisher_exact([[tk, tn - tk], [ck, cn - ck]])[1]
        else:
            assert entry["test"] == "two-proportion z"
            p = proportions_ztest([tk, ck], [tn, cn])[1]
        assert entry["p_value"] == pytest.approx(p)
        assert entry["flag"] == ("helps" if tk else "hurts")
    assert isinstance(report["segments"][0]["name"], str)

    human = cli("campaign", "report", "wave")
    assert human.code == 0, human.err
    assert "marketing@1" in human.out and "helps" in human.out and "HURTS" in human.out


def test_report_by_another_version(ready: Path, cli: Runner, tmp_path: Path) -> None:
    path = tmp_path / "wave.csv"
    path.write_text(_rows(*GOOD))
    assert cli("campaign", "import", path, "--name", "wave", "--strategy", "spring").code == 0
    report = cli("campaign", "report", "wave", "--by", "product@1", "--json").json()
    assert report["by"] == "product@1"
    with Workspace.open(ready) as ws:
        labels = ws.assignments("product@1")
    frame = pd.read_csv(path)
    frame["segment"] = frame["customer_id"].map(labels)
    got = {s["segment"]: s for s in report["segments"]}
    assert set(got) == set(labels.unique())
    for label, entry in got.items():
        part = frame[frame["segment"] == label]
        assert entry["treatment_n"] == int((part["group"] == "treatment").sum())
        assert entry["control_responders"] == int(
            part.loc[part["group"] == "control", "responded"].sum()
        )
    for args in (("report", "nope"), ("report", "wave", "--by", "product@9")):
        _check_refused(cli("campaign", *args), (args[-1],))


def test_why_includes_campaign_results(ready: Path, cli: Runner, tmp_path: Path) -> None:
    with Workspace.open(ready) as ws:
        _campaign_with_effects(ws, tmp_path / "wave.csv")
    result = cli(
        "campaign", "import", tmp_path / "wave.csv", "--name", "wave", "--strategy", "spring"
    )
    assert result.code == 0, result.err
    report = cli("campaign", "report", "wave", "--json").json()
    why = cli("why", "spring", "--json").json()
    assert [c["campaign"] for c in why["campaigns"]] == ["wave"]
    assert why["campaigns"][0]["by"] == "marketing@1"
    assert why["campaigns"][0]["segments"] == report["segments"]
    assert why["campaigns"][0]["overall"] == report["overall"]
    human = cli("why", "spring")
    assert human.code == 0, human.err
    assert "campaign wave (by marketing@1)" in human.out
    assert "helps" in human.out and "hurts" in human.out


@pytest.mark.parametrize("width", [60, 100, 160])
def test_report_fits_the_width_and_says_what_columns_mean(
    ready: Path, cli: Runner, tmp_path: Path, width: int
) -> None:
    """Issue 13 item 6: numbers are never cut, plain headers with a legend, 'p < 0.001'."""
    with Workspace.open(ready) as ws:
        _campaign_with_effects(ws, tmp_path / "wave.csv")
    args = ("campaign", "import", tmp_path / "wave.csv", "--name", "wave", "--strategy", "spring")
    assert cli(*args).code == 0
    report = cli("campaign", "report", "wave", "--json").json()
    human = cli("campaign", "report", "wave", env={"COLUMNS": str(width)})
    assert human.code == 0, human.err
    lines = human.out.splitlines()
    table = lines[1 : next(i for i, x in enumerate(lines) if x.startswith("sent / held back"))]
    assert all(len(line.rstrip()) <= width for line in table), [len(x) for x in table]
    assert "…" not in human.out and "e+" not in human.out and "e-0" not in human.out
    assert "sent / held back:" in human.out and "uplift:" in human.out  # the legend
    # every count is there whole, whatever was left out to fit
    for s in [*report["segments"], report["overall"]]:
        if s["treatment_n"]:
            assert f"{s['treatment_n']:,}" in human.out
    if width >= 160:
        assert "response" in human.out and "left out" not in human.out
    else:
        assert "left out to fit the width" in human.out
    p = report["overall"]["p_value"]
    if p is not None and p < 0.001:
        assert "< 0.001" in human.out


# Revenue as spreadsheets and CRMs export it, with the amount each cell means (a blank cell,
# spaces included, is no revenue: 0 in every per-customer figure).
REVENUE_AS_TEXT = [
    ("$1,234.00", 1234.0),
    ("1,234", 1234.0),
    ("12 €", 12.0),
    ("", 0.0),
    ("   ", 0.0),
    ("0.5", 0.5),
    ("$ 7", 7.0),
    ("1e3", 1000.0),
    ("£2,000.25", 2000.25),
    ("+3", 3.0),
    ("€1,000,000", 1_000_000.0),
    ("15", 15.0),
]


def test_revenue_written_as_amounts_gives_the_totals_per_segment_and_strategy(
    ready: Path, cli: Runner, tmp_path: Path
) -> None:
    """'$1,234.00' is 1234 dollars, not a missing value: per segment, overall, in the
    strategy's view (`why`) and in the printed report."""
    ids = [f"C{i:04d}" for i in range(len(REVENUE_AS_TEXT))]
    frame = pd.DataFrame(
        {
            "customer_id": ids,
            "group": ["treatment" if i % 3 else "control" for i in range(len(ids))],
            "responded": [int(amount > 0) for _, amount in REVENUE_AS_TEXT],
            "revenue": [text for text, _ in REVENUE_AS_TEXT],
        }
    )
    path = tmp_path / "wave.csv"
    frame.to_csv(path, index=False)  # quotes the amounts holding a comma
    result = cli("campaign", "import", path, "--name", "wave", "--strategy", "spring")
    assert result.code == 0, result.err
    with Workspace.open(ready) as ws:
        labels = ws.assignments("marketing@1")
    frame["amount"] = [amount for _, amount in REVENUE_AS_TEXT]
    frame["segment"] = frame["customer_id"].map(labels)
    report = cli("campaign", "report", "wave", "--json").json()
    for entry in report["segments"]:
        part = frame[frame["segment"] == entry["segment"]]
        for group in ("treatment", "control"):
            amounts = part.loc[part["group"] == group, "amount"]
            expected = amounts.mean() if len(amounts) else None
            assert entry[f"revenue_per_customer_{group}"] == pytest.approx(expected)
    overall = report["overall"]
    treated = frame.loc[frame["group"] == "treatment", "amount"]
    assert overall["revenue_per_customer_treatment"] == pytest.approx(treated.sum() / len(treated))
    arms = {a["arm"]: a for a in overall["arms"]}
    assert arms["control"]["revenue_mean"] == pytest.approx(
        frame.loc[frame["group"] == "control", "amount"].mean()
    )
    why = cli("why", "spring", "--json").json()
    assert why["campaigns"][0]["segments"] == report["segments"]
    assert why["campaigns"][0]["overall"] == overall
    human = cli("campaign", "report", "wave", env={"COLUMNS": "200"})
    assert human.code == 0, human.err
    assert f"{treated.mean():,.2f}" in human.out


def test_revenue_that_is_not_a_number_refuses_the_file(
    ready: Path, cli: Runner, tree_hash: TreeHash, tmp_path: Path
) -> None:
    """Not read as missing (the campaign's revenue would be understated without a word):
    the file is refused, naming how many values, a few of them and where the first is."""
    # "n/a" is one of the readers' missing markers, as a blank cell is: no revenue
    revenue = ["10", "soon", "$1,234.00", "tbd", "n/a", "soon", "1.234,5", ""]
    frame = pd.DataFrame([r.split(",") for r in GOOD], columns=HEADER.split(","))
    frame["revenue"] = revenue
    path = tmp_path / "bad-wave.csv"
    frame.to_csv(path, index=False)
    before = tree_hash(ready)
    result = cli("campaign", "import", path, "--name", "wave", "--strategy", "spring")
    _check_refused(result, ())
    assert result.err.strip() == (
        "error: bad-wave.csv: column 'revenue': 4 values are not numbers "
        "(e.g. 'soon', 'tbd', '1.234,5'), first at row 2 (line 3); write amounts as 1234.5 "
        "or $1,234.50, or leave the cell blank"
    )
    assert tree_hash(ready) == before
    assert cli("campaign", "list", "--json").json() == []
    frame.loc[frame["revenue"].isin(["soon", "tbd", "1.234,5"]), "revenue"] = ""
    frame.to_csv(path, index=False)  # blank cells instead: an ordinary campaign
    result = cli("campaign", "import", path, "--name", "wave", "--strategy", "spring")
    assert result.code == 0, result.err
    overall = cli("campaign", "report", "wave", "--json").json()["overall"]
    # control: rows 1, 3, 5, 7 ("10", "$1,234.00", "n/a", blank); treatment: 10 to 0 (blank)
    assert overall["revenue_per_customer_control"] == pytest.approx((10 + 1234) / 4)
    assert overall["revenue_per_customer_treatment"] == 0.0
