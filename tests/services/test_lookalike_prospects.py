"""Lookalikes for prospects (issue 13, item 1): the seed is a segment of the customers, the
pool another dataset with the same columns, and existing customers are left out.

Planted data: the sample generator's customers split in two files. `customers.csv` is
clustered; `prospects.csv` holds other people (new ids) plus some existing customers. The
prospects of the planted "VIP" group must be found from the customers' VIP segment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from segtrail.compute import pipeline
from segtrail.engine.sample import SEGMENTS, generate_customers
from segtrail.services.workspace import Workspace

Runner = Callable[..., Any]
N_CUSTOMERS = 5_000
N_PROSPECTS = 5_000
N_BOTH = 300  # existing customers that are also on the prospects list
LONG_HYPOTHESIS = (
    "The planted segments: young app users, older email readers, bargain hunters, loyal high "
    "spenders, lapsed customers and a few VIPs"
)
VIP = int(np.argmin([share for _, share in SEGMENTS]))


@pytest.fixture(scope="module", autouse=True)
def _fast_segmentation() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as m, threadpool_limits(1):
        m.setattr(pipeline, "STABILITY_BOOTSTRAPS", 3)
        yield


class Planted:
    def __init__(self, root: Path, vip: int, customers: pd.DataFrame, prospects: pd.DataFrame,
                 prospect_vips: set[str]) -> None:  # fmt: skip
        self.root, self.vip, self.customers, self.prospects = root, vip, customers, prospects
        self.prospect_vips = prospect_vips


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Planted:
    folder = tmp_path_factory.mktemp("prospects")
    frame, groups = generate_customers(N_CUSTOMERS + N_PROSPECTS, seed=5)
    customers = frame.iloc[:N_CUSTOMERS].copy()
    fresh = frame.iloc[N_CUSTOMERS:].copy()
    fresh["customer_id"] = [f"P{i:06d}" for i in range(len(fresh))]
    prospects = pd.concat([fresh, customers.iloc[:N_BOTH]], ignore_index=True)
    customers.to_csv(folder / "customers.csv", index=False)
    prospects.to_csv(folder / "prospects.csv", index=False)
    ws = Workspace.init(folder / "ws", author="tester")
    ws.ingest(folder / "customers.csv", "customer_id")
    ws.ingest(folder / "prospects.csv", "customer_id")
    ws.segment("customers", "marketing", LONG_HYPOTHESIS, k=len(SEGMENTS))
    labels = ws.assignments("marketing@1").reindex(customers["customer_id"]).to_numpy()
    vip = int(pd.Series(labels[groups[:N_CUSTOMERS] == VIP]).value_counts().index[0])
    ws.close()
    vips = set(fresh["customer_id"][groups[N_CUSTOMERS:] == VIP])
    return Planted(folder / "ws", vip, customers, prospects, vips)


def _run(cli: Runner, planted: Planted, *args: Any) -> Any:
    return cli("-w", planted.root, "lookalike", *args)


def test_a_customer_segment_ranks_prospects(cli: Runner, planted: Planted, tmp_path: Path) -> None:
    out = tmp_path / "prospects.csv"
    size = len(planted.prospect_vips)
    result = _run(
        cli, planted, "--pool", "prospects", "--seed", f"marketing@1:{planted.vip}",
        "--exclude", "customers", "--size", str(size), "--out", out, "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    r = result.json()
    audience = pd.read_csv(out, dtype={"customer_id": str})
    ids = set(audience["customer_id"])
    # existing customers never reach the prospects' audience, seed or not
    assert not ids & set(planted.customers["customer_id"])
    in_pool_seed = r["seed"]["in_pool"]
    assert r["params"]["excluded"] + in_pool_seed == N_BOTH
    assert r["seed"]["outside_pool"] + in_pool_seed == r["seed"]["seed_size"]
    found = len(ids & planted.prospect_vips) / len(planted.prospect_vips)
    assert found >= 0.8, f"only {found:.0%} of the planted VIP prospects found"
    assert r["method"] == "knn"  # the default: best on held-out members
    assert not r["warnings"]


def test_quality_is_measured_on_the_pool_it_claims(
    cli: Runner, planted: Planted, tmp_path: Path
) -> None:
    size = 200
    result = _run(
        cli, planted, "--pool", "prospects", "--seed", f"marketing@1:{planted.vip}",
        "--exclude", "customers", "--size", str(size), "--out", tmp_path / "a.csv", "--json",
    )  # fmt: skip
    r = result.json()
    q = r["quality"]
    seed_size = r["seed"]["seed_size"]
    # the candidates are the pool's non-seed rows left after --exclude, plus the hidden part
    pool_left = len(planted.prospects) - N_BOTH
    assert q["hidden"] == round(0.3 * seed_size)
    assert q["candidates"] == pool_left + q["hidden"]
    assert q["recall"] == pytest.approx(q["recovered"] / q["hidden"])
    assert q["precision"] == pytest.approx(q["recovered"] / size)
    assert q["lift_over_random"] == pytest.approx(q["recall"] / (size / q["candidates"]))
    human = _run(
        cli, planted, "--pool", "prospects", "--seed", f"marketing@1:{planted.vip}",
        "--size", str(size), "--out", tmp_path / "b.csv",
    )  # fmt: skip
    assert human.code == 0, human.err
    assert "candidates" in human.out and "score:" in human.out


def test_warns_when_the_audience_looks_like_the_pool(
    cli: Runner, planted: Planted, tmp_path: Path
) -> None:
    """A seed whose like is absent from the pool: the audience resembles the pool."""
    no_vips = planted.prospects[~planted.prospects["customer_id"].isin(planted.prospect_vips)]
    no_vips = no_vips[~no_vips["customer_id"].isin(planted.customers["customer_id"])]
    path = tmp_path / "plain.csv"
    no_vips.to_csv(path, index=False)
    assert cli("-w", planted.root, "ingest", path, "--id", "customer_id").code == 0
    result = _run(
        cli, planted, "--pool", "plain", "--seed", f"marketing@1:{planted.vip}", "--size", "40%",
        "--out", tmp_path / "c.csv",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "warning: the audience looks more like the pool than like the seed" in result.err


def test_seed_without_the_pool_columns_is_refused(
    cli: Runner, planted: Planted, tree_hash: Callable[[Path], dict], tmp_path: Path
) -> None:
    """The seed's dataset must have the features the pool is ranked on."""
    path = tmp_path / "thin.csv"
    planted.customers[["customer_id", "age"]].to_csv(path, index=False)
    ws = Workspace.open(planted.root)
    ws.ingest(path, "customer_id")
    ws.segment("thin", "ages", "age alone", k=2)
    ws.close()
    before = tree_hash(planted.root)
    result = _run(
        cli, planted, "--pool", "prospects", "--seed", "ages@1:0",
        "--features", "age,tenure_months", "--out", tmp_path / "d.csv",
    )  # fmt: skip
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert "tenure_months" in result.err and "thin@1" in result.err
    assert tree_hash(planted.root) == before


def test_audience_list_and_log_are_readable(cli: Runner, planted: Planted, tmp_path: Path) -> None:
    """Issue 13 item 6: `audience list` printed a raw dict; `log` cut hypotheses silently."""
    made = _run(
        cli, planted, "--pool", "prospects", "--seed", f"marketing@1:{planted.vip}",
        "--size", "50", "--name", "readable", "--out", tmp_path / "r.csv",
    )  # fmt: skip
    assert made.code == 0, made.err
    listed = cli("-w", planted.root, "audience", "list")
    assert listed.code == 0, listed.err
    assert "{" not in listed.out and "held-out recall" in listed.out
    line = next(x for x in listed.out.splitlines() if x.strip().startswith("readable"))
    assert f"marketing@1:{planted.vip}" in line and "%" in line
    log = cli("-w", planted.root, "log")
    shown = next(x for x in log.out.splitlines() if "marketing@1" in x)
    assert shown.rstrip().endswith("…") and LONG_HYPOTHESIS[:40] in shown
