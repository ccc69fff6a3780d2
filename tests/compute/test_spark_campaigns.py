"""A campaign's per-segment report is the same whichever engine looks its customers up.

With the workspace's engine set to Spark, the campaign's customers are joined to the
version's assignments in Spark (the driver gets one label per campaign customer, not the
whole assignments table). The report must equal the local engine's, cell for cell,
including segments no campaign customer is in and customers the version does not know.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segtrail.compute import pipeline
from segtrail.services.workspace import Workspace

pytestmark = pytest.mark.spark

MASTER = "local[2]"
SIZES = (300, 200, 120, 80)


@pytest.mark.parametrize("ids", ["numbers", "text"])
def test_campaign_report_is_the_same_on_both_engines(tmp_path, monkeypatch, ids: str) -> None:
    from segtrail.compute.spark.session import get_session

    get_session(MASTER)
    monkeypatch.setattr(pipeline, "STABILITY_BOOTSTRAPS", 2)
    rng = np.random.default_rng(4)
    group = np.repeat(np.arange(len(SIZES)), SIZES)
    customer = np.arange(5_000, 5_000 + len(group))
    customer_id = customer if ids == "numbers" else np.array([f"K{i}" for i in customer])
    pd.DataFrame(
        {"customer_id": customer_id, "x": group * 50.0 + rng.normal(0, 1, len(group))}
    ).to_csv(tmp_path / "customers.csv", index=False)
    ws = Workspace.init(tmp_path / "ws", author="test")
    ws.ingest(tmp_path / "customers.csv", "customer_id")
    ws.segment("customers", "marketing", "four groups on x", k=4, features=["x"], seed=1)
    ws.strategy_add("spring", "Spring offer", ["email"])
    ws.plan_map("spring", "marketing@1", "all")
    # the campaign reaches three of the four groups, plus customers nobody segmented
    sent = np.flatnonzero(group != 2)[::2]
    unknown = [99_001, 99_002] if ids == "numbers" else ["Z1", "Z2"]
    campaign = pd.DataFrame(
        {
            "customer_id": [*customer_id[sent], *unknown],
            "group": rng.choice(["treatment", "control"], size=len(sent) + 2),
            "responded": rng.integers(0, 2, size=len(sent) + 2),
            "revenue": np.round(rng.gamma(2.0, 20.0, size=len(sent) + 2), 2),
        }
    )
    campaign.to_csv(tmp_path / "campaign.csv", index=False)
    ws.campaign_import(tmp_path / "campaign.csv", "spring-1", "spring")

    local = ws.campaign_report("spring-1")
    ws.set_setting("engine", "spark")
    ws.set_setting("spark_master", MASTER)
    spark = ws.campaign_report("spring-1")

    assert spark.details == local.details
    segments = spark.details["segments"]
    assert [s["segment"] for s in segments] == [0, 1, 2, 3, None]  # every segment listed
    assert spark.details["unmatched"] == 2
    counted = [s["treatment_n"] + s["control_n"] for s in segments]
    assert sum(counted) == len(campaign) and 0 in counted  # one segment got nothing
