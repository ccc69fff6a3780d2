"""Checks shared by the algorithms' own tests (tests/engine/test_algo_*.py): the declared
parameters as the CLI options show them, and a fit that chooses k itself."""

from __future__ import annotations

import builtins
import threading
from types import ModuleType

import numpy as np
import pytest

from planted import small_blobs
from segtrail.engine.algorithms.base import Algorithm, FitResult


def declared(algo: Algorithm) -> dict[str, tuple]:
    """{name: (default, accepted values in words, help, pins the model)}."""
    return {p.name: (p.default, p.describe(), p.help, p.model) for p in algo.parameters}


def k_and_range(low: int, high: int) -> dict[str, tuple]:
    """The declarations of k and k_range (shared by the algorithms that take k)."""
    return {
        "k": (
            "auto",
            "'auto' or a whole number >= 2",
            "number of segments, or 'auto' to choose it over k_range",
            True,
        ),
        "k_range": (
            [low, high],
            "two whole numbers low <= high, each >= 2",
            "the k searched when k is 'auto', LOW..HIGH",
            False,
        ),
    }


def fit_auto_k(algo: Algorithm, k_range: list[int]) -> FitResult:
    """A fit with k left to the algorithm over ``k_range`` on four planted groups: the range
    and the selection are recorded, and the first note says which k was chosen and why."""
    X, _ = small_blobs((40, 30, 20, 20))
    result = algo.fit(X, {"k_range": k_range}, 0)
    k = result.params["k"]
    assert result.params["k_range"] == k_range
    assert result.params["k_selection"]["chosen_k"] == k
    assert result.notes[0] == f"k={k} chosen automatically: {result.params['k_selection']['rule']}"
    return result


def hdbscan_reference(
    X: np.ndarray, min_cluster_size: int, min_samples: int, method: str = "eom"
) -> np.ndarray:
    """scikit-learn's HDBSCAN labels of ``X`` (the reference of the density tests)."""
    from sklearn.cluster import HDBSCAN

    model = HDBSCAN(
        min_cluster_size=min_cluster_size,
        min_samples=min_samples,
        cluster_selection_method=method,
        copy=True,
    )
    return model.fit(X.astype(np.float64)).labels_


def assert_same_segments(ours: np.ndarray, reference: np.ndarray) -> None:
    """The same customers are noise and the same customers share a segment (the segments'
    numbering aside)."""
    from sklearn.metrics import adjusted_rand_score

    assert np.array_equal(ours < 0, reference < 0)
    assert adjusted_rand_score(ours, reference) == 1.0


def hide_private_hdbscan(monkeypatch: pytest.MonkeyPatch) -> None:
    """Imports of scikit-learn's private HDBSCAN steps fail (as if scikit-learn moved them)
    until ``monkeypatch.undo()``. The public estimator is imported first (its package
    imports the private steps), so a test run alone sees it as a whole run does."""
    import sklearn.cluster  # noqa: F401

    real_import = builtins.__import__

    def no_private(name: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name.startswith("sklearn.cluster._hdbscan"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_private)


def record_cells(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType
) -> list[tuple[int, np.ndarray]]:
    """Each computation of index cells by ``module``'s fit: the thread it ran on (to compare
    with ``threading.get_ident()``) and its customers."""
    calls = []
    make = module.cell_centres

    def recorded(points: np.ndarray, seed: int, queries: int) -> np.ndarray:
        calls.append((threading.get_ident(), np.array(points), seed))
        return make(points, seed, queries)

    monkeypatch.setattr(module, "cell_centres", recorded)
    return calls
