"""The segmentation commands as a user types them: segment, show, log, name, tag, adopt,
retire, revisit, export, assign. Output is checked through --json where there is one;
mistakes exit 2 with one line on stderr (no traceback) and leave .segtrail/ byte-for-byte
as it was.

The dataset's id column is called `client_ref` on purpose: exports and assignments still
name it `customer_id`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

import segtrail
from segtrail.engine.sample import generate_customers
from segtrail.services.workspace import Workspace

Runner = Callable[..., Any]
TreeHash = Callable[[Path], dict[str, str]]

AUTHOR = "tester"
N = 2_000
H = "Spend and app use split customers; we expect young app users and lapsed buyers."
FAST = (
    "--features",
    "age,annual_spend,app_sessions_per_month",
    "--algorithm",
    "kmeans",
    "--k",
    "3",
    "--quiet",
)
EXPORT_COLUMNS = ["customer_id", "segment", "segment_name", "distance_to_centre", "confidence"]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, databases) -> Path:
    """A workspace with dataset shop@1 (2,000 customers, id column `client_ref`) and
    base@1 (k=4); customers.csv and customers_v2.csv (a later export) next to it."""
    folder = tmp_path_factory.mktemp("cli")
    frame, _ = generate_customers(N, seed=7)
    frame.rename(columns={"customer_id": "client_ref"}).to_csv(
        folder / "customers.csv", index=False
    )
    later, _ = generate_customers(N + 250, seed=8)
    later.rename(columns={"customer_id": "client_ref"}).to_csv(
        folder / "customers_v2.csv", index=False
    )
    with Workspace.init(folder, author=AUTHOR, database_url=databases.new()) as ws:
        ws.ingest(folder / "customers.csv", "client_ref", name="shop")
        ws.segment("shop", "base", H, k=4)
    return folder


@pytest.fixture
def sh(cli: Runner, root: Path) -> Runner:
    """`segtrail ARGS...` run in the shared workspace."""
    return lambda *args: cli(*args, cwd=root)


def refused(result: Any, *words: str) -> None:
    """Exit 2 with exactly one line on stderr naming what is wrong, and no traceback."""
    assert result.code == 2, (result.code, result.out, result.err)
    assert result.err.startswith("error: "), result.err
    assert result.err.count("\n") == 1, result.err
    assert "Traceback" not in result.err
    for word in words:
        assert word in result.err, (word, result.err)


def ok(result: Any) -> Any:
    assert result.code == 0, (result.code, result.out, result.err)
    return result


def segment(sh: Runner, lens: str, *args: str, dataset: str = "shop") -> dict:
    """`segtrail segment ... --json` with the shared hypothesis; the new version as a dict."""
    return ok(sh("segment", "-d", dataset, "-l", lens, "-m", H, "--json", *args)).json()


def usable_columns(root: Path) -> list[str]:
    with Workspace.open(root) as ws:
        kinds = {c["name"]: c["kind"] for c in ws.dataset("shop@1")["columns"]}
    return [
        c for c, kind in kinds.items() if kind in ("numeric", "categorical", "boolean", "datetime")
    ]


# --- segment and show --------------------------------------------------------------------


def test_segment_auto_keeps_the_whole_k_curve(sh: Runner) -> None:
    v = segment(sh, "auto", "--k-range", "2..5")
    selection = v["metrics"]["k_selection"]
    assert [row["k"] for row in selection["curve"]] == [2, 3, 4, 5]
    # the default path on mixed data: the latent class model's curve, with split-half
    # stability per k and the runner-up
    assert v["algorithm"] == "lca" and v["parameters"]["chosen_by"]
    assert all(
        {"bic", "icl", "stability", "log_likelihood"} <= set(row) for row in selection["curve"]
    )
    assert selection["runner_up"] in {2, 3, 4, 5} - {selection["chosen_k"]}
    assert selection["chosen_k"] == v["k"] == v["parameters"]["k"]
    assert v["request"]["params"] == {"k_range": [2, 5]}  # what was asked; defaults in "parameters"
    shown = ok(sh("show", v["version"], "--json")).json()
    assert shown["metrics"] == v["metrics"]
    assert shown["k"] == v["k"]


def test_segment_k_4_records_everything(sh: Runner, root: Path) -> None:
    result = ok(
        sh(
            "segment",
            "-d",
            "shop",
            "-l",
            "four",
            "-m",
            H,
            "-a",
            "kmeans",
            "--k",
            "4",
            "--seed",
            "3",
        )
    )
    assert "four@1  (kmeans, k=4, dataset shop@1)" in result.out
    assert "segtrail adopt four@1" in result.out
    v = ok(sh("show", "four@1", "--json")).json()
    assert (v["version"], v["k"], v["seed"], v["dataset"]) == ("four@1", 4, 3, "shop@1")
    assert v["parameters"]["k"] == 4 and v["request"]["params"]["k"] == 4
    assert v["metrics"]["k_selection"] is None
    assert (v["hypothesis"], v["algorithm"], v["author"]) == (H, "kmeans", AUTHOR)
    assert v["segtrail_version"] == segtrail.__version__
    assert v["created_at"].endswith("Z")
    assert [f["column"] for f in v["features"]] == usable_columns(root)
    assert {"client_ref", "email"}.isdisjoint(f["column"] for f in v["features"])
    segments = v["segments"]
    assert [s["segment"] for s in segments] == [0, 1, 2, 3]
    counts = [s["size"] for s in segments]
    assert counts == sorted(counts, reverse=True) and sum(counts) == N
    assert set(v["metrics"]["stability"]["jaccard"]) == {"0", "1", "2", "3"}
    assert all(s["stability"] is not None and s["name"] for s in segments)
    assert v["metrics"]["quality"]["customers"] == N
    with Workspace.open(root) as ws:
        assert ws.objects.path(v["assignments"]).is_file()
        assert ws.objects.path(v["fitted_state"]).is_file()
    text = ok(sh("show", "four@1")).out
    assert "hypothesis: " + H in text
    assert "dataset: shop@1   parent: -   seed: 3" in text
    assert "k=4" in text and "silhouette" in text


def test_features_exclude_and_weights(sh: Runner, root: Path) -> None:
    features = "age, annual_spend,preferred_channel"
    v = segment(sh, "spec", "--k", "3", "--features", features, "--weights", "age=2.5")
    assert [(f["column"], f["weight"]) for f in v["features"]] == [
        ("age", 2.5),
        ("annual_spend", 1.0),
        ("preferred_channel", 1.0),
    ]
    v = segment(sh, "spec", "--k", "3", "--exclude", "region,signup_date")
    expected = [c for c in usable_columns(root) if c not in ("region", "signup_date")]
    assert [f["column"] for f in v["features"]] == expected


@pytest.mark.parametrize(
    ("option", "value"),
    [("--features", "age,nosuch"), ("--exclude", "nosuch"), ("--weights", "nosuch=2")],
)
def test_an_unknown_column_is_named(
    sh: Runner, root: Path, tree_hash: TreeHash, option: str, value: str
) -> None:
    before = tree_hash(root)
    result = sh("segment", "-d", "shop", "-l", "refused", "-m", H, option, value)
    refused(result, "unknown column 'nosuch'", f"in {option.lstrip('-')}")
    assert tree_hash(root) == before


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-d", "nosuch"], ["no dataset nosuch"]),
        (["-d", "shop@7"], ["no dataset shop@7"]),
        (["--features", "email"], ["'email' is text"]),
        (["--features", "client_ref"], ["'client_ref' is the customer id"]),
        (["--k", "1"], ["k must be 'auto' or a whole number >= 2 for kmeans, got 1"]),
        (["--k", "four"], ["k must be 'auto' or a whole number >= 2 for kmeans, got 'four'"]),
        (["--k", "2001"], ["k=2001", "2,000 customers"]),
        (["--k", "auto", "--k-range", "5..2"], ["k_range must be", "got [5, 2]"]),
        (["--k", "auto", "--k-range", "2-5"], ["invalid --k-range '2-5'"]),
        (["--k", "auto", "--k-range", "1..4"], ["k_range must be", "each >= 2", "got [1, 4]"]),
        (["-a", "nosuch"], ["unknown algorithm 'nosuch'", "kmeans"]),
        (["-a", "dbscan", "--k", "4"], ["dbscan finds the number of segments itself"]),
        (["--seed", "-1"], ["invalid seed -1"]),
        (["--weights", "age=heavy"], ["invalid --weights"]),
        (["--weights", "age"], ["invalid --weights 'age'"]),
        (["--weights", "age=-1"], ["negative"]),
        (["--parent", "nosuch@1"], ["no segmentation nosuch@1"]),
        (["--parent", "base@0"], ["invalid segmentation 'base@0'"]),
        (["-l", "two words"], ["invalid lens name 'two words'"]),
        (["-m", " "], ["a hypothesis is required", "(see --hypothesis)"]),
    ],
)
def test_bad_segment_input_is_refused(
    sh: Runner, root: Path, tree_hash: TreeHash, args: list[str], words: list[str]
) -> None:
    before = tree_hash(root)
    base = ["segment", "-d", "shop", "-l", "refused", "-m", H, "--features", "age,annual_spend"]
    # click keeps the last value of a repeated option, so `args` override the base ones
    refused(sh(*base, "--k", "3", *args), *words)
    assert tree_hash(root) == before


def test_versions_count_up_per_lens_and_default_to_the_newest_parent(sh: Runner) -> None:
    made = [
        segment(sh, "line", *FAST),
        segment(sh, "line", *FAST),
        segment(sh, "line", *FAST, "--parent", "line@1"),
        segment(sh, "line", *FAST),
        segment(sh, "line-b", *FAST),
    ]
    assert [(v["version"], v["number"], v["parent"]) for v in made] == [
        ("line@1", 1, None),
        ("line@2", 2, "line@1"),
        ("line@3", 3, "line@1"),
        ("line@4", 4, "line@3"),
        ("line-b@1", 1, None),
    ]
    assert ok(sh("show", "line@3", "--json")).json()["parent"] == "line@1"


# --- name, tag, adopt, retire ------------------------------------------------------------


def test_name_tag_adopt_retire_are_recorded(sh: Runner, root: Path, tree_hash: TreeHash) -> None:
    ok(sh("segment", "-d", "shop", "-l", "team", "-m", H, *FAST))
    ok(sh("segment", "-d", "shop", "-l", "team", "-m", H, *FAST, "--seed", "1"))
    auto_name = ok(sh("show", "team@1", "--json")).json()["segments"][0]["name"]

    result = ok(sh("name", "team@1", "0", "App natives"))
    assert f"team@1 segment 0: {auto_name!r} -> 'App natives'" in result.out
    ok(sh("name", "team@1", "0", "Young app natives", "--description", "under 30, on the app"))
    assert ok(sh("tag", "team@1", "1", "fit=poor")).out.strip() == "team@1 segment 1: fit=poor"
    ok(sh("tag", "team@1", "2", "fit=good"))
    assert ok(sh("tag", "team@1", "2", "fit=")).out.strip() == "team@1 segment 2: fit removed"

    v = ok(sh("show", "team@1", "--json")).json()
    first = v["segments"][0]
    assert (first["name"], first["description"]) == ("Young app natives", "under 30, on the app")
    assert [h["name"] for h in first["name_history"]] == [
        auto_name,
        "App natives",
        "Young app natives",
    ]
    assert [h["author"] for h in first["name_history"]] == [AUTHOR] * 3
    assert [s["tags"] for s in v["segments"]] == [{}, {"fit": "poor"}, {}]
    text = ok(sh("show", "team@1")).out
    assert "segment 0 names: " in text and "App natives (tester, " in text
    assert "[fit=poor]" in text

    # the lens name alone: newest while nothing is adopted, then the adopted version
    assert ok(sh("show", "team", "--json")).json()["version"] == "team@2"
    assert ok(sh("adopt", "team@1")).out.strip() == "team@1 adopted"
    assert ok(sh("show", "team", "--json")).json()["version"] == "team@1"
    assert ok(sh("adopt", "team@2")).out.strip() == "team@2 adopted; team@1 superseded"
    assert ok(sh("show", "team", "--json")).json()["version"] == "team@2"
    old = ok(sh("show", "team@1", "--json")).json()
    assert [h["status"] for h in old["status_history"]] == ["draft", "adopted", "superseded"]
    assert ok(sh("retire", "team@1")).out.strip() == "team@1 retired (was superseded)"
    assert ok(sh("show", "team@1", "--json")).json()["status"] == "retired"
    assert "status: draft (tester, " in ok(sh("show", "team@1")).out

    events = ok(sh("events", "--json", "--limit", "200")).json()
    actions = [(e["action"], e["subject"]) for e in reversed(events) if "team@" in e["subject"]]
    assert actions == [
        ("segment", "team@1"),
        ("segment", "team@2"),
        ("name", "team@1:0"),
        ("name", "team@1:0"),
        ("tag", "team@1:1"),
        ("tag", "team@1:2"),
        ("tag", "team@1:2"),
        ("adopt", "team@1"),
        ("adopt", "team@2"),
        ("retire", "team@1"),
    ]

    before = tree_hash(root)
    refused(sh("name", "team@1", "9", "Nobody"), "team@1 has no segment 9", "0, 1, 2")
    refused(sh("name", "team@7", "0", "Nobody"), "no segmentation team@7")
    refused(sh("tag", "team@1", "7", "fit=poor"), "no segment 7")
    refused(sh("tag", "team@1", "0", "fitpoor"), "invalid tag 'fitpoor'")
    refused(sh("adopt", "team@2"), "team@2 is already adopted")
    refused(sh("retire", "team@1"), "team@1 is already retired")
    refused(sh("adopt", "team@7"), "no segmentation team@7")
    refused(sh("retire", "nolens@1"), "no segmentation nolens@1")
    refused(sh("show", "team@7"), "no segmentation team@7")
    refused(sh("show", "nolens"), "no segmentation nolens")
    refused(sh("show", "team@x"), "invalid segmentation 'team@x'")
    assert tree_hash(root) == before


# --- revisit ------------------------------------------------------------------------------


def test_revisit_on_a_newer_dataset_version(sh: Runner, root: Path, tree_hash: TreeHash) -> None:
    ok(sh("ingest", root / "customers.csv", "--id", "client_ref", "--name", "rev"))
    features = "age,annual_spend,orders_per_year,preferred_channel"
    old = segment(
        sh,
        "rev",
        "--k",
        "4",
        "--seed",
        "5",
        "--features",
        features,
        "--weights",
        "age=2",
        dataset="rev",
    )
    ingested = ok(sh("ingest", root / "customers_v2.csv", "--id", "client_ref", "--name", "rev"))
    assert "rev@2" in ingested.out

    new = ok(sh("revisit", "rev@1", "--json")).json()
    assert (new["version"], new["parent"], new["dataset"]) == ("rev@2", "rev@1", "rev@2")
    for key in ("request", "seed", "algorithm", "k", "lens"):
        assert new[key] == old[key], key
    assert [(f["column"], f["weight"]) for f in new["features"]] == [
        (f["column"], f["weight"]) for f in old["features"]
    ]
    assert sum(s["size"] for s in new["segments"]) == N + 250
    text = ok(sh("revisit", "rev@1", "-d", "rev@1", "-m", "Same data again")).out
    assert text.startswith("rev@3  (revisit of rev@1 on rev@1, k=4)")
    assert ok(sh("show", "rev@3", "--json")).json()["hypothesis"] == "Same data again"
    log = {r["version"]: r["parent"] for r in ok(sh("log", "rev", "--json")).json()}
    assert log == {"rev@3": "rev@1", "rev@2": "rev@1", "rev@1": None}

    before = tree_hash(root)
    refused(sh("revisit", "rev@9"), "no segmentation rev@9")
    refused(sh("revisit", "rev@1", "-d", "nosuch"), "no dataset nosuch")
    assert tree_hash(root) == before


# --- export and assign --------------------------------------------------------------------


def read_output(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype={"customer_id": str})
    return pq.read_table(path).to_pandas()


@pytest.mark.parametrize("name", ["segments.csv", "segments.parquet"])
def test_export_writes_every_customer_once(
    sh: Runner, root: Path, tmp_path: Path, name: str
) -> None:
    out = tmp_path / name
    result = ok(sh("export", "base@1", "--out", out))
    assert result.out.strip() == f"wrote 2,000 customers of base@1 to {out}"
    frame = read_output(out)
    assert list(frame.columns) == EXPORT_COLUMNS  # `customer_id`, whatever the id column
    ids = pd.read_csv(root / "customers.csv", usecols=["client_ref"])["client_ref"]
    assert len(frame) == N and frame["customer_id"].is_unique
    assert set(frame["customer_id"]) == set(ids)
    shown = ok(sh("show", "base@1", "--json")).json()
    names = {s["segment"]: s["name"] for s in shown["segments"]}
    sizes = {s["segment"]: s["size"] for s in shown["segments"]}
    assert frame["segment"].value_counts().to_dict() == sizes
    assert (frame["segment_name"] == frame["segment"].map(names)).all()
    assert (frame["confidence"] >= 0).all()


def test_export_mistakes(sh: Runner, root: Path, tmp_path: Path) -> None:
    refused(sh("export", "base@1", "--out", tmp_path / "out.txt"), "out.txt", ".csv or .parquet")
    refused(sh("export", "base@1", "--out", tmp_path / "no" / "out.csv"), "does not exist")
    refused(sh("export", "base@9", "--out", tmp_path / "out.csv"), "no segmentation base@9")
    assert not list(tmp_path.iterdir())


def test_assign_new_customers(sh: Runner, root: Path, tmp_path: Path) -> None:
    ok(sh("export", "base@1", "--out", tmp_path / "export.csv"))
    exported = read_output(tmp_path / "export.csv").set_index("customer_id")
    frame = pd.read_csv(root / "customers.csv").sample(n=500, random_state=2)
    frame = frame[list(reversed(frame.columns))].assign(campaign="spring", score=1.5)
    frame.to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "new.parquet"
    result = ok(sh("assign", "base@1", tmp_path / "new.csv", "--out", out, "--json")).json()
    assert result["rows"] == 500 and sum(result["segments"].values()) == 500
    assigned = read_output(tmp_path / "new.parquet")
    assert list(assigned.columns) == EXPORT_COLUMNS
    assert list(assigned["customer_id"]) == list(frame["client_ref"])
    expected = exported.loc[assigned["customer_id"]]
    assert (assigned["segment"].to_numpy() == expected["segment"].to_numpy()).all()
    assert (assigned["segment_name"].to_numpy() == expected["segment_name"].to_numpy()).all()
    text = ok(sh("assign", "base@1", tmp_path / "new.csv", "--out", tmp_path / "again.csv")).out
    assert text.startswith("assigned 500 customers to base@1 (0: ")


def test_assign_mistakes_change_nothing(
    sh: Runner, root: Path, tmp_path: Path, tree_hash: TreeHash
) -> None:
    frame = pd.read_csv(root / "customers.csv")
    frame.drop(columns=["age"]).to_csv(tmp_path / "no_age.csv", index=False)
    frame.drop(columns=["client_ref"]).to_csv(tmp_path / "no_id.csv", index=False)
    before = tree_hash(root)
    refused(
        sh("assign", "base@1", tmp_path / "no_age.csv", "--out", tmp_path / "out.csv"),
        "no_age.csv",
        "missing feature column 'age'",
    )
    refused(
        sh("assign", "base@1", tmp_path / "no_id.csv", "--out", tmp_path / "out.csv"),
        "no_id.csv",
        "no id column 'client_ref'",
    )
    refused(
        sh("assign", "base@1", tmp_path / "absent.csv", "--out", tmp_path / "out.csv"),
        "absent.csv",
    )
    refused(sh("assign", "base@9", tmp_path / "no_age.csv", "--out", tmp_path / "out.csv"))
    assert not (tmp_path / "out.csv").exists()
    assert tree_hash(root) == before


# --- log ------------------------------------------------------------------------------------


def test_log_shows_the_tree_with_statuses(sh: Runner, root: Path) -> None:
    ok(sh("segment", "-d", "shop", "-l", "tree", "-m", "First guess", *FAST))
    ok(sh("segment", "-d", "shop", "-l", "tree", "-m", "Second guess", *FAST))
    ok(sh("segment", "-d", "shop", "-l", "tree", "-m", "Branch", *FAST, "--parent", "tree@1"))
    ok(sh("adopt", "tree@2"))
    rows = ok(sh("log", "tree", "--json")).json()
    assert [(r["version"], r["parent"], r["status"]) for r in rows] == [
        ("tree@3", "tree@1", "draft"),
        ("tree@2", "tree@1", "adopted"),
        ("tree@1", None, "draft"),
    ]
    assert all(r["author"] == AUTHOR and r["dataset"] == "shop@1" for r in rows)
    assert [r["hypothesis"] for r in rows] == ["Branch", "Second guess", "First guess"]
    lines = ok(sh("log", "tree")).out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("tree@1  ") and "[draft]" in lines[0] and "First guess" in lines[0]
    # both children hang under tree@1
    assert lines[1].startswith("├── tree@3") and "[draft]" in lines[1]
    assert lines[2].startswith("└── tree@2") and "[adopted]" in lines[2]
    assert "kmeans k=3" in lines[2] and AUTHOR in lines[2]
    everything = {r["version"] for r in ok(sh("log", "--json")).json()}
    assert {"base@1", "tree@1", "tree@2", "tree@3"} <= everything
    refused(sh("log", "nolens"), "no versions in lens 'nolens'")


def test_the_console_script_exits_2_with_one_line(run: Runner, root: Path) -> None:
    """The installed `segtrail`, in a subprocess: the exit code and stderr a shell sees."""
    result = run("segment", "-d", "nosuch", "-l", "x", "-m", H, cwd=root)
    refused(result, "no dataset nosuch")
    assert result.out == ""
