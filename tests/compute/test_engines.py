"""The engine seam: the same results contract from the local engine and from Spark.

The Spark tests run a real Spark in local[2] (one session for this file: starting it costs
seconds), on planted data of our own: three well-separated groups of customers of unequal
sizes, told apart by two numeric columns and one categorical column.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from segtrail.compute import pipeline
from segtrail.services.workspace import Workspace

MASTER = "local[2]"
SIZES = (520, 330, 150)  # planted groups, largest first


def planted(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    group = rng.permutation(np.repeat(np.arange(len(SIZES)), SIZES))
    centres = np.array([[20.0, 50.0], [45.0, 400.0], [70.0, 2500.0]])
    favourite = np.array(["north", "south", "online"])
    channel = np.where(rng.random(len(group)) < 0.85, favourite[group], "store")
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(len(group))],
            "age": centres[group, 0] + rng.normal(0, 3, len(group)),
            "spend": np.abs(centres[group, 1] * rng.lognormal(0, 0.15, len(group))),
            "channel": channel,
        }
    )
    return frame, group


# --- settings and the command line (no Spark) -----------------------------------------------


def test_the_command_line_starts_without_pyspark() -> None:
    code = "import sys, segtrail.cli; print('pyspark' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_config_engine_is_a_typed_workspace_default(workspace: Path, cli) -> None:
    assert cli("config", "engine", "--json").json() == {"engine": None}
    assert cli("config", "engine", "spark").code == 0
    assert cli("config", "--json").json()["engine"] == "spark"
    before = (workspace / ".segtrail" / "config.json").read_text()
    bad = cli("config", "engine", "dask")
    assert bad.code == 2 and "unknown engine 'dask'" in bad.err
    assert len(bad.err.strip().splitlines()) == 1
    unknown = cli("config", "colour", "blue")
    assert unknown.code == 2 and "unknown setting 'colour'" in unknown.err
    assert (workspace / ".segtrail" / "config.json").read_text() == before
    assert cli("config", "engine", "--unset").code == 0
    assert cli("config", "engine", "--json").json() == {"engine": None}
    events = cli("events", "--json").json()
    assert [e["action"] for e in events if e["action"] == "config"] == ["config", "config"]


def test_an_unknown_engine_is_refused_before_anything_runs(populated: Path, cli) -> None:
    result = cli("segment", "-d", "customers", "-l", "m", "-m", "h", "--engine", "dask")
    assert result.code == 2 and "unknown engine 'dask'" in result.err
    assert cli("log", "--json").json() == []


def test_spark_master_comes_from_flag_then_environment_then_setting(monkeypatch) -> None:
    from segtrail.compute import spark_master

    monkeypatch.delenv("SEGTRAIL_SPARK_MASTER", raising=False)
    assert spark_master() == "local[*]"
    assert spark_master(None, "spark://h:7077") == "spark://h:7077"
    monkeypatch.setenv("SEGTRAIL_SPARK_MASTER", "local[2]")
    assert spark_master(None, "spark://h:7077") == "local[2]"
    assert spark_master("sc://h", "spark://h:7077") == "sc://h"


def test_both_engines_offer_every_step_of_the_seam() -> None:
    """Every method of the Engine protocol (segment, diff, segments_of, lookalike) exists on
    both engines with the protocol's parameters (no Spark started)."""
    import inspect

    from segtrail.compute.base import Engine
    from segtrail.compute.local import LocalEngine
    from segtrail.compute.spark import SparkEngine

    steps = [n for n, _ in inspect.getmembers(Engine, inspect.isfunction) if not n.startswith("_")]
    assert {"segment", "diff", "segments_of", "lookalike"} <= set(steps)
    for engine in (LocalEngine, SparkEngine):
        for step in steps:
            wanted = inspect.signature(getattr(Engine, step)).parameters
            assert list(inspect.signature(getattr(engine, step)).parameters) == list(wanted)


# --- both engines, on a real Spark -----------------------------------------------------------


@pytest.fixture(scope="module")
def spark_session() -> Iterator[object]:
    """One local[2] session for the module (the engine finds it as the active session)."""
    from segtrail.compute.spark.session import get_session

    yield get_session(MASTER)


@pytest.fixture(scope="module")
def versions(tmp_path_factory, spark_session) -> Iterator[dict]:
    """One workspace with the planted dataset, segmented by each engine."""
    root = tmp_path_factory.mktemp("engines")
    frame, group = planted()
    frame.to_parquet(root / "customers.parquet")
    with pytest.MonkeyPatch.context() as m:
        m.setattr(pipeline, "STABILITY_BOOTSTRAPS", 3)
        ws = Workspace.init(root / "ws", author="test")
        ws.ingest(root / "customers.parquet", "customer_id", "customers")
        out = {"ws": ws, "group": group, "file": root / "customers.parquet"}
        for engine in ("local", "spark"):
            for lens in (f"{engine}", f"{engine}-again"):
                out[lens] = ws.segment(
                    "customers", lens, "three planted groups", algorithm="kmeans", k=3,
                    seed=7, engine=engine, spark_master=MASTER,
                )  # fmt: skip
        # the default path: on Spark the model is chosen and fitted on the driver's sample
        # (here every customer) and Spark assigns every customer
        for engine in ("local", "spark"):
            out[f"{engine}-default"] = ws.segment(
                "customers", f"{engine}-default", "let segtrail choose", engine=engine, seed=7
            )
        yield out


def _labels(ws: Workspace, ref: str) -> pd.Series:
    return ws.assignments(ref)


@pytest.mark.spark
@pytest.mark.parametrize("engine", ["local", "spark"])
def test_labels_are_numbered_by_size(versions: dict, engine: str) -> None:
    labels = _labels(versions["ws"], f"{engine}@1")
    counts = np.bincount(labels.to_numpy())
    assert list(counts) == sorted(counts, reverse=True)
    assert list(counts) == list(SIZES)  # the planted groups, found whole
    shown = [s["size"] for s in versions[engine]["segments"]]
    assert shown == list(counts)


@pytest.mark.spark
@pytest.mark.parametrize("engine", ["local", "spark"])
def test_the_same_seed_gives_the_same_labels(versions: dict, engine: str) -> None:
    ws = versions["ws"]
    first, again = _labels(ws, f"{engine}@1"), _labels(ws, f"{engine}-again@1")
    assert first.index.equals(again.index)
    assert np.array_equal(first.to_numpy(), again.to_numpy())


@pytest.mark.spark
@pytest.mark.parametrize("ref", ["local@1", "spark@1", "spark-default@1"])
def test_assign_reproduces_the_training_labels(versions: dict, ref: str, tmp_path: Path) -> None:
    ws = versions["ws"]
    out = tmp_path / "assigned.parquet"
    ws.assign(ref, versions["file"], out)
    assigned = pd.read_parquet(out).set_index("customer_id")["segment"]
    trained = _labels(ws, ref)
    assert np.array_equal(assigned.loc[trained.index].to_numpy(), trained.to_numpy())


@pytest.mark.spark
def test_the_engines_agree_on_planted_data(versions: dict) -> None:
    ws, group = versions["ws"], versions["group"]
    local, spark = _labels(ws, "local@1"), _labels(ws, "spark@1")
    assert local.index.equals(spark.index)  # customer order kept
    assert adjusted_rand_score(local.to_numpy(), spark.to_numpy()) >= 0.95
    assert adjusted_rand_score(group, spark.to_numpy()) >= 0.95
    # the default path chooses the same model on both engines
    assert versions["spark-default"]["algorithm"] == versions["local-default"]["algorithm"]
    assert versions["spark-default"]["k"] == versions["local-default"]["k"]
    local_default, spark_default = _labels(ws, "local-default@1"), _labels(ws, "spark-default@1")
    assert adjusted_rand_score(local_default.to_numpy(), spark_default.to_numpy()) >= 0.95


@pytest.mark.spark
def test_a_spark_version_records_the_same_kind_of_history(versions: dict) -> None:
    local, spark = versions["local"], versions["spark"]
    assert spark["algorithm"] == local["algorithm"] == "kmeans" and spark["k"] == local["k"] == 3
    # engine-neutral spec: the same columns and transforms, fitted by the same code
    assert [f["transform"] for f in spark["features"]] == [
        f["transform"] for f in local["features"]
    ]
    assert spark["metrics"]["quality"]["customers"] == sum(SIZES)
    assert spark["profiles"]["n"] == sum(SIZES)
    assert any("Spark MLlib" in note for note in spark["notes"])
    row = versions["ws"].meta.segmentations.get("spark", 1)
    assert row["params"]["engine"] == "spark"
    assert versions["ws"].meta.segmentations.get("local", 1)["params"]["engine"] == "local"


@pytest.mark.spark
def test_segment_on_spark_from_the_command_line_then_show_and_diff(
    versions: dict, spark_session, cli, tmp_path: Path
) -> None:
    root = tmp_path / "cli-ws"
    assert cli("init", root).code == 0
    assert cli("ingest", versions["file"], "--id", "customer_id", "--name", "c", cwd=root).code == 0
    assert cli("config", "engine", "spark", cwd=root).code == 0  # the workspace default
    made = cli(
        "segment", "-d", "c", "-l", "mkt", "-m", "planted", "--algorithm", "kmeans", "--k", "3",
        "--spark-master", MASTER, "--json", cwd=root,
    )  # fmt: skip
    assert made.code == 0, made.err
    version = json.loads(made.out)
    assert version["version"] == "mkt@1" and version["k"] == 3
    again = cli(
        "segment", "-d", "c", "-l", "mkt", "-m", "the same on one machine", "--algorithm",
        "kmeans", "--k", "3", "--engine", "local", "--json", cwd=root,
    )  # fmt: skip
    assert again.code == 0, again.err
    shown = cli("show", "mkt@1", "--json", cwd=root)
    assert shown.code == 0 and [s["size"] for s in shown.json()["segments"]] == list(SIZES)
    diff = cli("diff", "mkt@1", "mkt@2", "--json", cwd=root).json()  # on Spark (the default)
    assert diff["ari"] >= 0.95
    assert [s["fate"] for s in diff["segments_a"]] == ["kept"] * 3
    # the contingency table counted by Spark gives the local engine's diff exactly
    local = cli("diff", "mkt@1", "mkt@2", "--engine", "local", "--json", cwd=root).json()
    assert diff == local
    fsck = cli("fsck", cwd=root)
    assert fsck.code == 0, fsck.out + fsck.err
    assert not list((root / ".segtrail").glob("spark-*"))  # the scratch folder is gone
