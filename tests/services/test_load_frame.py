"""Reading a dataset for `segment`: the customer ids stay Arrow-backed (only carried
through to the assignments), every other column reads as before, in the dataset's order."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from segtrail.services.datasets import load_frame, resolve_dataset
from segtrail.services.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path, database_url: str | None):
    frame = pd.DataFrame(
        {
            "spend": [float(i % 7) for i in range(60)],
            "customer_id": [f"c{i:03d}" for i in range(60)],
            "region": ["north", "south", "east"] * 20,
        }
    )
    frame.to_csv(tmp_path / "c.csv", index=False)
    workspace = Workspace.init(tmp_path / "ws", author="tester", database_url=database_url)
    workspace.ingest(tmp_path / "c.csv", "customer_id", name="c")
    yield workspace, frame
    workspace.close()


def test_kept_columns_stay_arrow_in_their_place(ws) -> None:
    workspace, _ = ws
    row = resolve_dataset(workspace, "c")
    plain = load_frame(workspace, row)
    kept = load_frame(workspace, row, keep_arrow=("customer_id",))
    assert list(kept.columns) == list(plain.columns)
    assert isinstance(kept["customer_id"].dtype, pd.ArrowDtype)
    assert kept["customer_id"].tolist() == plain["customer_id"].tolist()
    pd.testing.assert_frame_equal(
        kept.drop(columns="customer_id"), plain.drop(columns="customer_id")
    )


def test_segment_writes_every_customer_id_back(ws) -> None:
    workspace, frame = ws
    version = workspace.segment("c", "ids", "spend splits them", k=2, algorithm="kmeans")
    assignments = workspace.assignments(version["version"])
    assert sorted(assignments.index) == sorted(frame["customer_id"])
