"""Shared by the report tests: one workspace with two versions, a plan and a campaign, and
the two reports drawn from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segtrail.report.bundle import plotly_js
from segtrail.services.workspace import Workspace

HYPOTHESIS = "hypothesis text <script>alert('x')</script> & more"
TRICKY_NAME = "App natives </script><b>"
N = 300


@pytest.fixture(scope="module")
def plotlyjs() -> str:
    return plotly_js()


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory, databases) -> Workspace:
    return build_workspace(tmp_path_factory.mktemp("reports"), databases.new())


def build_workspace(
    root: Path, database_url: str | None, names: dict[int, str] | None = None
) -> Workspace:
    """Two versions of the marketing lens on 300 customers in three planted groups, a plan
    with two strategies, a renamed and a tagged segment, and one campaign; `names` renames
    segments of marketing@1 (after segment 0 gets TRICKY_NAME)."""
    rng = np.random.default_rng(0)
    group = np.repeat([0, 1, 2], N // 3)
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:04d}" for i in range(N)],
            "age": rng.normal(np.array([25, 45, 65])[group], 3).round(),
            "spend": rng.normal(np.array([100, 500, 250])[group], 20).round(2),
            "visits": rng.poisson(np.array([20, 5, 1])[group]),
            "channel": np.array(["TikTok", "Email", "Phone"])[group],
        }
    )
    frame.to_csv(root / "customers.csv", index=False)
    workspace = Workspace.init(root / "ws", author="tester", database_url=database_url)
    workspace.ingest(root / "customers.csv", "customer_id")
    v1 = workspace.segment("customers", "marketing", HYPOTHESIS, k="auto", k_range=(2, 5))
    workspace.name(v1["version"], 0, TRICKY_NAME, "heavy app users")
    workspace.tag(v1["version"], 1, "fit", "poor")
    for label, name in (names or {}).items():
        workspace.name(v1["version"], label, name)
    workspace.strategy_add("tiktok-push", "Try the app", ["tiktok"], offer="10% off")
    workspace.strategy_add("win-back", "We miss you", ["email"])
    workspace.plan_map("tiktok-push", v1["version"], [0], rationale="young & app heavy")
    workspace.plan_map("win-back", v1["version"], "all")
    campaign = pd.DataFrame(
        {
            "customer_id": frame["customer_id"],
            "group": np.where(rng.random(N) < 0.7, "treatment", "control"),
            "responded": (rng.random(N) < 0.2).astype(int),
        }
    )
    campaign.to_csv(root / "spring.csv", index=False)
    workspace.campaign_import(root / "spring.csv", "spring-wave", "tiktok-push")
    workspace.segment(
        "customers", "marketing", "Age alone <i>explains</i> it", k=2, features=["age"]
    )
    return workspace


@pytest.fixture(scope="module")
def version_report(ws: Workspace) -> tuple[dict, str]:
    out = ws.root.parent / "version.html"
    result = ws.report("marketing@1", out)
    return result, out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def diff_report(ws: Workspace) -> tuple[dict, str]:
    out = ws.root.parent / "diff.html"
    result = ws.report("marketing@1", out, diff="marketing@2")
    return result, out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def backend() -> str:
    """Reports are read-only pages over the same services on both backends; their fixtures
    are requested by name below (getfixturevalue), which a parametrized backend does not
    allow, so these tests use SQLite."""
    return "sqlite"
