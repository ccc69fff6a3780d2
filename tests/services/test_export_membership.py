"""`export` (issue 13, item 7): distance_to_centre under its real name, and a confidence in
0..1 that means what it says: the model's probability for a mixture, a margin between the own
and the nearest other centre for every other algorithm. Checked against scipy's cdist on a
version whose segments are planted, far apart on two features."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist
from threadpoolctl import threadpool_limits

from segtrail.compute import pipeline
from segtrail.engine.membership import centre_margin
from segtrail.services.workspace import Workspace

N = 900


@pytest.fixture(scope="module", autouse=True)
def _fast_segmentation() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as m, threadpool_limits(1):
        m.setattr(pipeline, "STABILITY_BOOTSTRAPS", 3)
        yield


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("membership")
    rng = np.random.default_rng(3)
    group = np.arange(N) % 3
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:04d}" for i in range(N)],
            "x": np.array([0.0, 10.0, 20.0])[group] + rng.normal(0, 2.5, N),
            "y": np.array([0.0, 8.0, 0.0])[group] + rng.normal(0, 2.5, N),
        }
    )
    frame.to_csv(root / "customers.csv", index=False)
    workspace = Workspace.init(root / "ws", author="tester")
    workspace.ingest(root / "customers.csv", "customer_id")
    workspace.segment("customers", "centres", "three groups", k=3)
    workspace.segment("customers", "mixture", "three groups", k=3, algorithm="gmm")
    yield workspace
    workspace.close()


def _exported(ws: Workspace, ref: str, out: Path) -> pd.DataFrame:
    ws.export(ref, out)
    return pd.read_csv(out)


def test_kmeans_confidence_is_the_centre_margin(ws: Workspace, tmp_path: Path) -> None:
    frame = _exported(ws, "centres@1", tmp_path / "k.csv")
    assert list(frame.columns) == [
        "customer_id", "segment", "segment_name", "distance_to_centre", "confidence",
    ]  # fmt: skip
    assert frame["confidence"].between(0, 1).all()
    stored = ws.assignments("centres@1")
    assert (frame.set_index("customer_id")["segment"].reindex(stored.index) == stored).all()
    # customers far from any other segment are surer than those between two segments
    typical = frame["distance_to_centre"] < frame["distance_to_centre"].quantile(0.2)
    edge = frame["distance_to_centre"] > frame["distance_to_centre"].quantile(0.9)
    assert frame.loc[typical, "confidence"].mean() > frame.loc[edge, "confidence"].mean() + 0.2
    assert frame["distance_to_centre"].min() >= 0


def test_margin_matches_cdist() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4)).astype(np.float32)
    labels = rng.integers(-1, 4, size=500)
    distance, confidence = centre_margin(X, labels)
    centres = np.stack([X[labels == s].mean(axis=0) for s in range(4)])
    d = cdist(X, centres)
    for i, label in enumerate(labels):
        if label < 0:
            assert np.isnan(distance[i]) and confidence[i] == 0
            continue
        own = d[i, label]
        other = np.delete(d[i], label).min()
        assert distance[i] == pytest.approx(own, rel=1e-4)
        assert confidence[i] == pytest.approx(max(0.0, 1 - own / other), abs=1e-4)


def test_mixture_confidence_is_a_probability(ws: Workspace, tmp_path: Path) -> None:
    frame = _exported(ws, "mixture@1", tmp_path / "g.csv")
    assert frame["confidence"].between(0, 1).all()
    # a posterior of the chosen component is at least 1/k, and most customers are clear cases
    assert (frame["confidence"] >= 1 / 3 - 1e-6).all()
    assert frame["confidence"].median() > 0.9
    assert frame["distance_to_centre"].notna().all()


def test_export_help_says_what_the_columns_mean(cli) -> None:
    out = cli("export", "--help").out
    assert "distance_to_centre" in out and "confidence" in out and "probability" in out
