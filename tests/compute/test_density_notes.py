"""What a density method's version records about its shortcuts: the held-out agreement of
sample-fit + assign, and the fewer bootstrap resamples of HDBSCAN."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from segtrail.compute import pipeline
from segtrail.engine.algorithms import hdbscan as hdbscan_module


def customers(n: int = 1_500) -> tuple[pd.DataFrame, dict[str, str]]:
    X, _ = make_blobs(n, n_features=3, centers=3, cluster_std=0.6, random_state=2)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame.insert(0, "customer_id", [f"C{i}" for i in range(n)])
    return frame, {"customer_id": "id", "a": "numeric", "b": "numeric", "c": "numeric"}


def request(algorithm: str, params: dict) -> dict:
    return {
        "features": None,
        "exclude": None,
        "weights": None,
        "algorithm": algorithm,
        "params": params,
        "seed": 0,
    }


@pytest.mark.parametrize("name", ["dbscan", "hdbscan"])
def test_a_sampled_density_fit_records_its_held_out_agreement(name: str) -> None:
    frame, kinds = customers()
    out = pipeline.compute(frame, kinds, "customer_id", request(name, {"sample_size": 600}))
    ari = out["used"]["holdout_ari"]
    assert 0.9 < ari <= 1.0
    held = round(0.2 * 600)
    note = f"adjusted Rand index {ari:.2f} between the segments of {held} held-out"
    assert any(note in n for n in out["notes"])


def test_hdbscan_stability_draws_fewer_resamples_and_says_why() -> None:
    frame, kinds = customers(800)
    out = pipeline.compute(frame, kinds, "customer_id", request("hdbscan", {}))
    fewer = hdbscan_module.STABILITY_BOOTSTRAPS
    assert fewer < pipeline.STABILITY_BOOTSTRAPS
    assert out["stability"]["n_boot"] == fewer
    assert (
        f"{fewer} resamples rather than the usual {pipeline.STABILITY_BOOTSTRAPS}"
        in (out["stability"]["note"])
    )
    assert out["stability"]["note"] in out["notes"]
    assert min(out["stability"]["jaccard"].values()) > 0.9
    kmeans = pipeline.compute(frame, kinds, "customer_id", request("kmeans", {"k": 3}))
    assert kmeans["stability"]["n_boot"] == pipeline.STABILITY_BOOTSTRAPS
    assert "rather than" not in kmeans["stability"]["note"]
