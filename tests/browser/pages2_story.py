"""A small planted workspace for the thread, campaign and security pages, built with the real
CLI on the live server's workspace (once per server: the result is kept beside it).

Customers sit in four tight blobs on two columns: x in {0, 10} and y in {0, 10}. So:
- p2mkt@1 (x only, k=2) has two segments, and p2mkt@2 (x and y, k=4) splits each in two:
  a strategy mapped on one p2mkt@1 segment must be reviewed after carrying (its audience split);
- p2prod@1 (y only, k=2) cuts across p2mkt@1: every p2mkt@1 segment lies half in each p2prod@1
  segment, and the p2prod@1 segment tagged fit=poor clashes with the p2mkt strategies;
- the campaign file gives the blob (x=0, y=0) a response of 45% when sent vs 10% held back,
  and every other blob 10% vs 10%: one segment of p2mkt@2 "helped", the others show no effect.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from browser.conftest import LiveServer

BLOB = 300  # customers per blob
STRATEGY = "p2-push"  # mapped on one p2mkt@1 segment: split by p2mkt@2
EVERYONE = "p2-mail"  # mapped on all: carried as is


@dataclass
class Story:
    folder: Path
    customers: Path
    sends: Path
    push_segment: int  # the p2mkt@1 segment STRATEGY targets (the x=0 half)
    helped_segment: int  # the p2mkt@2 segment of blob (x=0, y=0)
    poor_segment: int  # the p2prod@1 segment tagged fit=poor


def blobs(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for bx in (0.0, 10.0):
        for by in (0.0, 10.0):
            rows.append(
                pd.DataFrame(
                    {
                        "x": bx + rng.normal(0, 0.3, BLOB),
                        "y": by + rng.normal(0, 0.3, BLOB),
                    }
                )
            )
    frame = pd.concat(rows, ignore_index=True)
    frame.insert(0, "customer_id", [f"c{i:05d}" for i in range(len(frame))])
    frame["email"] = [f"Person.{i}@Example.com" for i in range(len(frame))]
    return frame


def sends(frame: pd.DataFrame, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    treated = rng.random(len(frame)) < 0.5
    hot = (frame["x"] < 5) & (frame["y"] < 5)
    rate = np.where(treated & hot, 0.45, 0.10)
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"],
            "group": np.where(treated, "treatment", "control"),
            "responded": (rng.random(len(frame)) < rate).astype(int),
        }
    )


def build(server: LiveServer) -> Story:
    """The story's workspace state, written through the Python API into the served workspace
    (the server reads the same history; a CLI process per step would cost ~3 s each here).
    Built once per server; read back afterwards."""
    from segtrail.services.workspace import Workspace

    folder = server.workspace.parent / "pages2-story"
    marker = folder / "story.json"
    if marker.exists():
        data = json.loads(marker.read_text())
        paths = ("folder", "customers", "sends")
        return Story(**{k: Path(v) if k in paths else v for k, v in data.items()})
    folder.mkdir(exist_ok=True)
    frame = blobs()
    customers = folder / "p2blobs.csv"
    frame.to_csv(customers, index=False)
    sends_file = folder / "p2sends.csv"
    sends(frame).to_csv(sends_file, index=False)
    with Workspace.open(server.workspace, author="setup") as ws:
        ws.ingest(customers, "customer_id", name="p2blobs")
        for lens, features, k, hypothesis in (
            ("p2mkt", ["x"], 2, "Left and right of the store: x decides"),
            ("p2mkt", ["x", "y"], 4, "Both x and y matter: four corners"),
            ("p2prod", ["y"], 2, "Product sees only y"),
        ):
            ws.segment("p2blobs", lens, hypothesis, features=features, algorithm="kmeans", k=k)
        ids = frame.set_index("customer_id")
        low_x = ids.index[ids["x"] < 5]
        hot = ids.index[(ids["x"] < 5) & (ids["y"] < 5)]
        high_y = ids.index[ids["y"] > 5]
        v1, v2, prod = (ws.assignments(v) for v in ("p2mkt@1", "p2mkt@2", "p2prod@1"))
        push_segment = int(v1[low_x].mode()[0])
        helped_segment = int(v2[hot].mode()[0])
        poor_segment = int(prod[high_y].mode()[0])
        ws.name("p2mkt@1", push_segment, "Left side")
        ws.tag("p2prod@1", poor_segment, "fit", "poor")
        ws.strategy_add(STRATEGY, "New in the app", ["push"])
        ws.strategy_add(EVERYONE, "Monthly letter", ["email"])
        ws.plan_map(STRATEGY, "p2mkt@1", [push_segment], rationale="the left side uses the app")
        ws.plan_map(EVERYONE, "p2mkt@1", "all")
    story = Story(folder, customers, sends_file, push_segment, helped_segment, poor_segment)
    marker.write_text(json.dumps(story.__dict__, default=str))
    return story


_STATES: dict[tuple[str, str], dict] = {}


def signed_in(browser, server: LiveServer, name: str, viewport: dict):
    """A page of a new browser context already signed in as `name`: the sign-in form is
    used once per user and server, then its cookies are reused (argon2 makes each sign-in
    cost about a second here)."""
    from browser.conftest import sign_in

    key = (server.url, name)
    if key not in _STATES:
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        sign_in(page, server, name)
        _STATES[key] = context.storage_state()
        context.close()
    context = browser.new_context(viewport=viewport, storage_state=_STATES[key])
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    return page
