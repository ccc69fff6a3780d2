"""Bootstrap refits run beside a sampled density fit's placement of every customer
(pipeline.EarlyStability): the version records what refits after the fit record."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from segtrail.compute import pipeline
from segtrail.engine.stability import bootstrap_stability, relabelled


def customers(n: int = 3_000) -> tuple[pd.DataFrame, dict[str, str]]:
    # uneven blobs, so that ordering segments by size renumbers them
    sizes = [n // 10, n // 2, n - n // 10 - n // 2]
    X, _ = make_blobs(sizes, n_features=3, cluster_std=0.6, random_state=5)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame.insert(0, "customer_id", [f"C{i}" for i in range(n)])
    return frame, {"customer_id": "id", "a": "numeric", "b": "numeric", "c": "numeric"}


def request(algorithm: str) -> dict:
    return {
        "features": None,
        "exclude": None,
        "weights": None,
        "algorithm": algorithm,
        "params": {"sample_size": 800},
        "seed": 0,
    }


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    late = pipeline.stability_of

    def counted(*args: object) -> dict:
        calls.append(1)
        return late(*args)

    monkeypatch.setattr(pipeline, "stability_of", counted)
    return calls


def _serial(monkeypatch: pytest.MonkeyPatch, frame: pd.DataFrame, kinds: dict, name: str) -> dict:
    """The reference: the same run with the refits after the fit (no hook given)."""
    with monkeypatch.context() as m:
        m.setattr(pipeline.EarlyStability, "hook", lambda self, algo, X: None)
        return pipeline.compute(frame, kinds, "customer_id", request(name))


@pytest.mark.parametrize("name", ["dbscan", "hdbscan"])
def test_refits_beside_the_placement_record_what_refits_after_the_fit_record(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame, kinds = customers()
    monkeypatch.setattr(pipeline, "PARALLEL_ABOVE", 1_000)  # the bench's path, at test size
    calls = _counting(monkeypatch)
    early = pipeline.compute(frame, kinds, "customer_id", request(name))
    assert calls == []  # measured beside the placement, not after the fit
    late = _serial(monkeypatch, frame, kinds, name)
    assert calls == [1]
    np.testing.assert_array_equal(early["labels"], late["labels"])
    # the same figures under the same segment numbers, in the same order
    assert json.dumps(early["stability"]) == json.dumps(late["stability"])
    assert early["profiles"] == late["profiles"] and early["quality"] == late["quality"]
    assert early["notes"] == late["notes"]


def test_a_placement_that_labels_the_stability_rows_otherwise_is_measured_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame, kinds = customers()
    monkeypatch.setattr(pipeline, "PARALLEL_ABOVE", 1_000)
    monkeypatch.setattr(pipeline, "same_segments", lambda old, new: None)
    calls = _counting(monkeypatch)
    out = pipeline.compute(frame, kinds, "customer_id", request("dbscan"))
    assert calls == [1]
    late = _serial(monkeypatch, frame, kinds, "dbscan")
    assert json.dumps(out["stability"]) == json.dumps(late["stability"])


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ([0, 1, 1, -1, 2], [2, 0, 0, -1, 1], {0: 2, 1: 0, -1: -1, 2: 1}),
        ([0, 0, 1], [1, 1, 0], {0: 1, 1: 0}),
        ([0, 1], [0, 0], None),  # two segments became one
        ([0, 0], [0, 1], None),  # one segment split
        ([0, -1], [0, 1], None),  # noise became a segment
        ([0, 1], [0, -1], None),  # a segment became noise
    ],
)
def test_same_segments(old: list[int], new: list[int], expected: dict | None) -> None:
    assert pipeline.same_segments(np.array(old), np.array(new)) == expected


def test_relabelled_gives_what_the_bootstrap_measures_under_the_other_numbering() -> None:
    X, labels = make_blobs([300, 150, 50], n_features=2, cluster_std=0.5, random_state=1)
    X = X.astype(np.float32)

    def refit(X_sub: np.ndarray, seed: int) -> np.ndarray:
        from sklearn.cluster import KMeans

        return KMeans(3, n_init=1, random_state=seed).fit(X_sub).labels_

    renumber = {0: 2, 1: 0, 2: 1}
    measured = bootstrap_stability(X, labels, refit, n_boot=4, sample_size=400, seed=3)
    other = bootstrap_stability(
        X, np.vectorize(renumber.get)(labels), refit, n_boot=4, sample_size=400, seed=3
    )
    assert json.dumps(relabelled(measured, renumber)) == json.dumps(other)
