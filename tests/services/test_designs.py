"""Campaign designs and the global holdout, end to end through the CLI: exact shares per
segment, the same seed giving the same file, the holdout kept out of designs and exports,
results files checked against their design, and the holdout as the long-run control.

Four planted groups of customers, far apart on one feature, so k-means with k=4 finds them
exactly; the strategy `spring` targets three of them.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from segtrail.compute import pipeline
from segtrail.engine.design import holdout_mask, largest_remainder, segment_power
from segtrail.errors import KINDS
from segtrail.services.workspace import Workspace

GROUP_SIZES = (1480, 900, 400, 220)
Runner = Callable[..., Any]


@pytest.fixture(scope="module", autouse=True)
def _fast_segmentation() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as m, threadpool_limits(1):
        m.setattr(pipeline, "STABILITY_BOOTSTRAPS", 3)
        yield


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """marketing@1 (the four planted groups) with `spring` mapped to three of them, the
    largest named VIP; marketing@2 (k=2) made later and not mapped."""
    root = tmp_path_factory.mktemp("designs")
    rng = np.random.default_rng(0)
    group = np.repeat(np.arange(len(GROUP_SIZES)), GROUP_SIZES)
    frame = pd.DataFrame(
        {
            "customer_id": [f"K{i:05d}" for i in range(len(group))],
            "x": np.array([0.0, 100.0, 200.0, 300.0])[group] + rng.normal(0, 1, len(group)),
            "email": [f"k{i}@example.com" for i in range(len(group))],
        }
    )
    frame.to_csv(root / "customers.csv", index=False)
    with Workspace.init(root / "ws", author="tester") as ws:
        ws.ingest(root / "customers.csv", "customer_id")
        ws.segment("customers", "marketing", "four groups on x", k=4, features=["x"])
        ws.name("marketing@1", 0, "VIP")
        ws.strategy_add("spring", "Spring offer", ["email"])
        ws.plan_map("spring", "marketing@1", [0, 1, 3])
        ws.segment("customers", "marketing", "two halves", k=2, features=["x"])
    return root / "ws"


@pytest.fixture
def ws_dir(base: Path, tmp_path: Path) -> Path:
    target = tmp_path / "ws"
    shutil.copytree(base, target)
    return target


def labels_of(ws_dir: Path, ref: str = "marketing@1") -> pd.Series:
    with Workspace.open(ws_dir) as ws:
        return ws.assignments(ref)


def design(cli: Runner, ws_dir: Path, name: str, *args: str) -> dict:
    r = cli("-w", ws_dir, "campaign", "design", name, "--strategy", "spring", *args, "--json")
    assert r.code == 0, r.err
    return r.json()


def test_design_is_exact_per_segment_and_recorded(cli: Runner, ws_dir: Path) -> None:
    out = ws_dir / "spring.csv"
    r = design(cli, ws_dir, "spring-q1", "--control-share", "0.1", "--seed", "7", "--out", str(out))
    labels = labels_of(ws_dir)
    written = pd.read_csv(out, dtype={"customer_id": str})
    assert list(written.columns) == ["customer_id", "segment", "segment_name", "group"]
    # the audience is exactly the customers of the mapped segments
    expected = set(labels.index[labels.isin([0, 1, 3])])
    assert set(written["customer_id"]) == expected and written["customer_id"].is_unique
    assert (written["segment"] == labels.reindex(written["customer_id"]).to_numpy()).all()
    for label in (0, 1, 3):
        n = int((labels == label).sum())
        counts = written[written["segment"] == label]["group"].value_counts()
        control, treatment = largest_remainder(n, [0.1, 0.9])
        assert (counts.get("control", 0), counts.get("treatment", 0)) == (control, treatment)
    assert r["version"] == "marketing@1" and r["seed"] == 7 and r["customers"] == len(expected)
    vip = next(s for s in r["segments"] if s["segment"] == 0)
    assert vip["name"] == "VIP" and vip["customers"] == 1480 and vip["control"] == 148

    shown = cli("-w", ws_dir, "campaign", "designs", "spring-q1", "--json").json()
    assert shown["version"] == "marketing@1" and shown["seed"] == 7
    assert shown["groups"] == [
        {"group": "control", "share": 0.1},
        {"group": "treatment", "share": 0.9},
    ]
    assert shown["segments"] == r["segments"]
    listed = cli("-w", ws_dir, "campaign", "designs", "--json").json()
    assert [d["design"] for d in listed] == ["spring-q1"]
    events = cli("-w", ws_dir, "events", "--json").json()
    assert any(e["action"] == "campaign-design" and e["subject"] == "spring-q1" for e in events)
    assert cli("-w", ws_dir, "fsck", "--json").json()["clean"]


def test_same_seed_same_assignment(cli: Runner, ws_dir: Path) -> None:
    files = []
    for name, seed in (("a", "11"), ("b", "11"), ("c", "12")):
        out = ws_dir / f"{name}.csv"
        design(cli, ws_dir, name, "--arms", "short,long", "--seed", seed, "--out", str(out))
        files.append(pd.read_csv(out, dtype={"customer_id": str}).set_index("customer_id"))
    assert files[0].equals(files[1])
    assert not files[0]["group"].equals(files[2]["group"].reindex(files[0].index))
    assert set(files[0]["group"]) == {"control", "short", "long"}


def test_power_report_and_plain_words_flag(cli: Runner, ws_dir: Path) -> None:
    args = ["--baseline-rate", "0.05", "--mde", "0.01", "--seed", "1", "--dry-run"]
    r = design(cli, ws_dir, "spring-q1", *args)
    for s in r["segments"]:
        expected = segment_power(s["groups"], 0.05, 0.05, 0.8, mde=0.01)
        assert s["mde"] == pytest.approx(expected.mde) and s["too_small"] == expected.too_small
    vip = next(s for s in r["segments"] if s["segment"] == 0)
    assert vip["too_small"] and 0.06 < vip["mde"] < 0.08
    text = cli("-w", ws_dir, "campaign", "design", "spring-q1", "--strategy", "spring", *args)
    assert text.code == 0, text.err
    assert "VIP: 1,480 customers, control 148: can only detect uplifts of 7.1 points or more" in (
        text.out
    )
    assert "dry run" in text.out
    assert not (ws_dir / "spring-q1.csv").exists()
    assert cli("-w", ws_dir, "campaign", "designs", "--json").json() == []  # nothing recorded


def test_default_version_is_the_adopted_mapped_one(cli: Runner, ws_dir: Path) -> None:
    with Workspace.open(ws_dir) as ws:
        ws.plan_map("spring", "marketing@2", [1])
    # newest mapped version when none is adopted
    assert design(cli, ws_dir, "x", "--dry-run")["version"] == "marketing@2"
    with Workspace.open(ws_dir) as ws:
        ws.adopt("marketing@1")
    assert design(cli, ws_dir, "x", "--dry-run")["version"] == "marketing@1"
    assert design(cli, ws_dir, "x", "--by", "marketing@2", "--dry-run")["customers"] == int(
        (labels_of(ws_dir, "marketing@2") == 1).sum()
    )


def test_holdout_never_in_a_design_or_an_export(
    cli: Runner, ws_dir: Path, tree_hash: Callable
) -> None:
    created = cli("-w", ws_dir, "holdout", "create", "--share", "0.05", "--seed", "3", "--json")
    assert created.code == 0, created.err
    ids = labels_of(ws_dir).index
    held = set(ids[holdout_mask(ids, 0.05, 3)])
    assert created.json()["datasets"]["customers@1"]["held_out"] == len(held) > 50

    out = ws_dir / "d.csv"
    r = design(cli, ws_dir, "spring-q1", "--seed", "1", "--out", str(out))
    written = set(pd.read_csv(out, dtype={"customer_id": str})["customer_id"])
    assert not written & held
    in_audience = {i for i in held if labels_of(ws_dir).get(i) in (0, 1, 3)}
    assert r["held_out"] == len(in_audience) > 0

    export = ws_dir / "vip.csv"
    e = cli("-w", ws_dir, "audience", "export", "marketing@1:0", "--out", str(export), "--json")
    assert e.code == 0, e.err
    exported = set(pd.read_csv(export, dtype=str)["customer_id"])
    vip = set(ids[labels_of(ws_dir).to_numpy() == 0])
    assert exported == vip - held and e.json()["provenance"]["holdout_left_out"] == len(vip & held)
    kept = cli(
        "-w", ws_dir, "audience", "export", "marketing@1:0", "--out", str(export),
        "--include-holdout",
    )  # fmt: skip
    assert kept.code == 0, kept.err
    assert set(pd.read_csv(export, dtype=str)["customer_id"]) == vip

    # a lookalike audience never picks the holdout either, in its file or its export
    look = ws_dir / "look.csv"
    la = cli("-w", ws_dir, "lookalike", "--pool", "customers", "--seed", "marketing@1:3",
             "--size", "1500", "--name", "near", "--out", look)  # fmt: skip
    assert la.code == 0, la.err
    chosen = set(pd.read_csv(look, dtype={"customer_id": str})["customer_id"])
    assert len(chosen) == 1500 and not chosen & held
    e = cli("-w", ws_dir, "audience", "export", "near", "--out", ws_dir / "near.csv")
    assert (
        e.code == 0 and not set(pd.read_csv(ws_dir / "near.csv", dtype=str)["customer_id"]) & held
    )

    # the holdout is stable: shown again, and not silently replaced
    assert cli("-w", ws_dir, "holdout", "show", "--json").json()["seed"] == 3
    before = tree_hash(ws_dir)
    again = cli("-w", ws_dir, "holdout", "create", "--share", "0.1")
    assert again.code == KINDS["conflict"].exit_code and len(again.err.strip().splitlines()) == 1
    assert "--replace" in again.err and tree_hash(ws_dir) == before


def _results(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    out = frame[["customer_id", "group"]].copy()
    out["responded"] = (rng.random(len(out)) < 0.1).astype(int)
    return out


def test_import_checks_results_against_the_design(
    cli: Runner, ws_dir: Path, tree_hash: Callable
) -> None:
    out = ws_dir / "d.csv"
    design(cli, ws_dir, "spring-q1", "--seed", "2", "--out", str(out))
    designed = pd.read_csv(out, dtype={"customer_id": str})
    rng = np.random.default_rng(0)

    clean = _results(designed, rng)
    clean.to_csv(ws_dir / "clean.csv", index=False)
    r = cli("-w", ws_dir, "campaign", "import", ws_dir / "clean.csv", "--name", "spring-q1",
            "--strategy", "spring", "--json")  # fmt: skip
    assert r.code == 0, r.err
    check = r.json()["design_check"]
    assert check["clean"] and check["matched"] == len(designed)

    messy = _results(designed, rng).iloc[3:].copy()  # 3 designed customers missing
    flip = messy.index[:4]  # 4 in the other group
    messy.loc[flip, "group"] = messy.loc[flip, "group"].map(
        {"control": "treatment", "treatment": "control"}
    )
    labels = labels_of(ws_dir)
    outsiders = labels.index[labels == 2][:2]  # 2 customers the design did not include
    extra = pd.DataFrame({"customer_id": outsiders, "group": "treatment", "responded": 0})
    pd.concat([messy, extra]).to_csv(ws_dir / "messy.csv", index=False)
    with Workspace.open(ws_dir) as ws:
        # a second design under another name, to import the messy file against
        ws.campaign_design("spring-q2", "spring", seed=2, out=ws_dir / "d2.csv")
        ws.strategy_add("autumn", "Autumn offer", ["email"])
    before = tree_hash(ws_dir)
    wrong = cli("-w", ws_dir, "campaign", "import", ws_dir / "messy.csv", "--name", "spring-q2",
                "--strategy", "autumn")  # fmt: skip
    assert wrong.code == 2 and "designed for strategy spring, not autumn" in wrong.err
    assert tree_hash(ws_dir) == before
    text = cli("-w", ws_dir, "campaign", "import", ws_dir / "messy.csv", "--name", "spring-q2",
               "--strategy", "spring")  # fmt: skip
    assert text.code == 0, text.err
    assert "2 customers were not in the design" in text.out
    assert "4 customers are in another group than designed" in text.out
    assert "3 designed customers are missing" in text.out
    report = cli("-w", ws_dir, "campaign", "report", "spring-q2", "--json").json()
    check = report["design_check"]
    assert (check["unknown"], check["wrong_group"], check["missing"]) == (2, 4, 3)
    assert sorted(check["examples"]["unknown"]) == sorted(outsiders)
    assert report["design"]["design"] == "spring-q2" and report["by"] == "marketing@1"


def test_report_against_the_holdout(cli: Runner, ws_dir: Path) -> None:
    assert cli("-w", ws_dir, "holdout", "create", "--share", "0.2", "--seed", "5").code == 0
    out = ws_dir / "d.csv"
    design(cli, ws_dir, "spring-q1", "--seed", "4", "--out", str(out))
    designed = pd.read_csv(out, dtype={"customer_id": str})
    labels = labels_of(ws_dir)
    held = labels.index[holdout_mask(labels.index, 0.2, 5) & labels.isin([0, 1, 3]).to_numpy()]
    rng = np.random.default_rng(1)
    results = pd.concat(
        [
            _results(designed, rng),
            pd.DataFrame({"customer_id": held, "group": "holdout", "responded": 0}),
        ]
    )
    results.loc[results["group"] == "treatment", "responded"] = 1
    results.to_csv(ws_dir / "r.csv", index=False)
    imported = cli("-w", ws_dir, "campaign", "import", ws_dir / "r.csv", "--name", "spring-q1",
                   "--strategy", "spring", "--json")  # fmt: skip
    assert imported.code == 0, imported.err
    assert imported.json()["design_check"]["clean"]
    assert imported.json()["design_check"]["holdout_rows"] == len(held)

    own = cli("-w", ws_dir, "campaign", "report", "spring-q1", "--json").json()
    assert own["overall"]["control_n"] == int((designed["group"] == "control").sum())
    assert own["holdout"] == {"holdout_rows_left_out": len(held)}
    long_run = cli("-w", ws_dir, "campaign", "report", "spring-q1", "--vs-holdout", "--json")
    assert long_run.code == 0, long_run.err
    lr = long_run.json()
    assert lr["overall"]["control_n"] == len(held) and lr["overall"]["control_rate"] == 0
    assert lr["overall"]["treatment_n"] == int((designed["group"] == "treatment").sum())
    assert lr["holdout"]["campaign_control_left_out"] == int((designed["group"] == "control").sum())
    assert lr["control_kind"] == "holdout"
    text = cli("-w", ws_dir, "campaign", "report", "spring-q1", "--vs-holdout")
    assert f"control: {len(held):,} holdout customers" in text.out


def test_baseline_from_a_past_campaign(cli: Runner, ws_dir: Path) -> None:
    labels = labels_of(ws_dir)
    # a past campaign whose control responded at 20% in VIP (segment 0), 2% elsewhere
    ids = labels.index.to_numpy()
    rate = np.where(labels.to_numpy() == 0, 0.2, 0.02)
    past = pd.DataFrame(
        {
            "customer_id": ids,
            "group": "control",
            "responded": (np.arange(len(ids)) % 100 < rate * 100).astype(int),
        }
    )
    past.to_csv(ws_dir / "past.csv", index=False)
    assert cli("-w", ws_dir, "campaign", "import", ws_dir / "past.csv", "--name", "past",
               "--strategy", "spring").code == 0  # fmt: skip
    r = design(cli, ws_dir, "next", "--baseline-from", "past", "--dry-run")
    by = {s["segment"]: s for s in r["segments"]}
    expected = past["responded"].groupby(labels.to_numpy()).mean()
    for label in (0, 1, 3):
        assert by[label]["baseline"] == pytest.approx(expected[label], abs=1e-12)
        assert "this segment" in by[label]["baseline_source"]
    assert 0.19 < by[0]["baseline"] < 0.21 and by[1]["baseline"] < 0.03


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--control-share", "1.5"], "--control-share"),
        (["--arms", "a,control"], "'control' is not an arm"),
        (["--arms", "a,A"], "names an arm twice"),
        (["--baseline-rate", "0.1", "--baseline-from", "x"], "not both"),
        (["--baseline-from", "nope", "--dry-run"], "no campaign 'nope'"),
        (["--by", "marketing@2", "--dry-run"], "spring is not mapped on marketing@2"),
        (["--seed", "-1", "--dry-run"], "--seed"),
        (["--out", "no/such/folder/x.csv"], "does not exist"),
        (["--out", "x.txt"], ".csv or .parquet"),
        ([], "--out"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_recorded(
    cli: Runner, ws_dir: Path, args: list[str], words: str, tree_hash: Callable
) -> None:
    before = tree_hash(ws_dir)
    r = cli("-w", ws_dir, "campaign", "design", "c1", "--strategy", "spring", *args)
    assert r.code == 2, (r.code, r.err)
    assert len(r.err.strip().splitlines()) == 1 and words in r.err
    assert tree_hash(ws_dir) == before


def test_name_taken_and_unmapped_strategy(cli: Runner, ws_dir: Path, tree_hash: Callable) -> None:
    design(cli, ws_dir, "c1", "--out", str(ws_dir / "c1.csv"))
    before = tree_hash(ws_dir)
    again = cli("-w", ws_dir, "campaign", "design", "c1", "--strategy", "spring", "--out",
                ws_dir / "c1b.csv")  # fmt: skip
    assert again.code == KINDS["conflict"].exit_code and "already designed" in again.err
    with Workspace.open(ws_dir) as ws:
        ws.strategy_add("lonely", "Nobody", ["email"])
    before = tree_hash(ws_dir)
    r = cli("-w", ws_dir, "campaign", "design", "c2", "--strategy", "lonely", "--dry-run")
    assert r.code == 2 and "not mapped" in r.err and tree_hash(ws_dir) == before
    none = cli("-w", ws_dir, "holdout", "show", "--json")
    assert none.code == 2 and "no holdout" in none.err


def test_version_report_shows_the_design_next_to_the_results(cli: Runner, ws_dir: Path) -> None:
    out = ws_dir / "d.csv"
    design(cli, ws_dir, "spring-q1", "--seed", "2", "--mde", "0.05", "--out", str(out))
    design(cli, ws_dir, "spring-q2", "--seed", "3", "--out", str(ws_dir / "d2.csv"))
    designed = pd.read_csv(out, dtype={"customer_id": str})
    _results(designed, np.random.default_rng(0)).iloc[1:].to_csv(ws_dir / "r.csv", index=False)
    r = cli("-w", ws_dir, "campaign", "import", ws_dir / "r.csv", "--name", "spring-q1",
            "--strategy", "spring")  # fmt: skip
    assert r.code == 0, r.err
    with Workspace.open(ws_dir) as ws:
        ws.report("marketing@1", ws_dir / "report.html")
    page = (ws_dir / "report.html").read_text()
    first = page.index("<h3>spring-q1")
    assert "Designed before sending by tester" in page[first:]
    assert "1 designed customers missing" in page[first:]  # the row left out above
    vip = next(s for s in cli("-w", ws_dir, "campaign", "designs", "spring-q1", "--json").json()[
        "segments"] if s["segment"] == 0)  # fmt: skip
    assert f"{vip['mde'] * 100:.1f} points or more" in page[first:]
    pending = page.index("<h3>spring-q2")
    assert "(no results imported yet)" in page[pending:]
