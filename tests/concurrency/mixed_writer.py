"""One writer process of the mixed-writes test: a seeded sequence of team actions through the
Python API, recording which returned (done), which raised Conflict, and anything else.

Runs in a fresh process (multiprocessing "spawn"), so it must stay importable on its own.
"""

from __future__ import annotations

import random
import traceback
from pathlib import Path
from typing import Any

LENS = "team"
BASE = f"{LENS}@1"
SEGMENTS = 3
SHARED_CAMPAIGN = "shared-wave"
# Weights: labels and plan changes are the common team actions; a segmentation is the costly
# one (it clusters), so it is rarer.
ACTIONS = ("segment",) * 1 + ("name",) * 3 + ("tag",) * 3 + ("plan-map",) * 4 + ("campaign",) * 2


def plain(value: Any) -> Any:
    """Services return dicts today and frozen dataclasses with `to_dict()` later."""
    return value.to_dict() if hasattr(value, "to_dict") else value


def work(root: str, worker: int, ops: int, campaign_file: str) -> dict[str, list]:
    from threadpoolctl import threadpool_limits

    from segtrail.compute import pipeline
    from segtrail.errors import Conflict
    from segtrail.services.workspace import Workspace

    if hasattr(pipeline, "STABILITY_BOOTSTRAPS"):
        pipeline.STABILITY_BOOTSTRAPS = 2  # clustering quality is not under test here
    rng = random.Random(worker)
    done: list[tuple] = []
    conflicts: list[tuple] = []
    failures: list[tuple] = []
    with threadpool_limits(1), Workspace.open(Path(root), author=f"w{worker}") as ws:
        for j in range(ops):
            action = rng.choice(ACTIONS)
            segment = rng.randrange(SEGMENTS)
            try:
                if action == "segment":
                    result = plain(
                        ws.segment(
                            "tiny", LENS, f"w{worker} op {j}", k=2, features=["x", "y"], seed=j
                        )
                    )
                    done.append((action, j, result["version"]))
                elif action == "name":
                    name = f"w{worker}-{j}"
                    ws.name(BASE, segment, name)
                    done.append((action, j, segment, name))
                elif action == "tag":
                    ws.tag(BASE, segment, f"w{worker}", f"v{j}")
                    done.append((action, j, segment, f"w{worker}", f"v{j}"))
                elif action == "plan-map":
                    rationale = f"w{worker} op {j}"
                    result = plain(ws.plan_map(f"s{worker}", BASE, [segment], rationale=rationale))
                    done.append((action, j, result["revision"], segment, rationale))
                else:
                    shared = rng.random() < 0.25  # several writers race for one name
                    name = SHARED_CAMPAIGN if shared else f"c-w{worker}-{j}"
                    ws.campaign_import(Path(campaign_file), name, f"s{worker}")
                    done.append((action, j, name))
            except Conflict as e:
                conflicts.append((action, j, str(e)))
            except Exception:
                failures.append((action, j, traceback.format_exc()))
    return {"done": done, "conflicts": conflicts, "failures": failures}
