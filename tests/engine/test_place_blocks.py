"""base.place_in_blocks: a sampled fit's placement of every customer, in blocks on two
threads with other work beside it; and the hook through which a fit hands that work over."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from segtrail.engine.algorithms import get_algorithm
from segtrail.engine.algorithms.base import PLACE_BLOCK_ROWS, place_in_blocks


def _nearest_centre(state: dict, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A rule that places each row on its own: the nearest of the state's centres."""
    d = ((X[:, None, :] - state["centres"][None, :, :]) ** 2).sum(axis=2)
    return d.argmin(axis=1).astype(np.int32), d.min(axis=1).astype(np.float32)


def _rows(n: int, seed: int = 0) -> tuple[dict, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"centres": rng.normal(size=(5, 3))}, rng.normal(size=(n, 3)).astype(np.float32)


def test_blocks_give_what_one_call_on_every_row_gives() -> None:
    state, X = _rows(2 * PLACE_BLOCK_ROWS + 17)  # two full blocks and a short one
    labels, confidence = place_in_blocks(_nearest_centre, state, X)
    reference_labels, reference_confidence = _nearest_centre(state, X)
    np.testing.assert_array_equal(labels, reference_labels)
    np.testing.assert_array_equal(confidence, reference_confidence)


def test_the_work_beside_runs_on_another_thread_during_the_placement() -> None:
    state, X = _rows(3 * PLACE_BLOCK_ROWS)
    here, seen = threading.get_ident(), {}

    def work() -> None:
        seen["thread"] = threading.get_ident()
        seen["blas"] = [
            lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"
        ]

    before = threadpool_info()
    labels, _ = place_in_blocks(_nearest_centre, state, X, work)
    assert seen["thread"] != here
    assert seen["blas"] and all(n == 1 for n in seen["blas"])  # one BLAS thread beside
    assert threadpool_info() == before  # and the limits as they were afterwards
    np.testing.assert_array_equal(labels, _nearest_centre(state, X)[0])


def test_small_placements_run_beside_work_too() -> None:
    state, X = _rows(10)
    ran = []
    labels, _ = place_in_blocks(_nearest_centre, state, X, lambda: ran.append(True))
    assert ran == [True]
    np.testing.assert_array_equal(labels, _nearest_centre(state, X)[0])


def test_a_failure_beside_is_the_placements() -> None:
    state, X = _rows(PLACE_BLOCK_ROWS + 1)

    def fail() -> None:
        raise ValueError("degenerate resample")

    with pytest.raises(ValueError, match="degenerate resample"):
        place_in_blocks(_nearest_centre, state, X, fail)


def _blobs(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    return (centres[rng.integers(0, 3, n)] + rng.normal(size=(n, 2))).astype(np.float32)


@pytest.mark.parametrize(
    ("name", "params"),
    [("dbscan", {"sample_size": 600, "eps": 1.0}), ("hdbscan", {"sample_size": 600})],
)
def test_a_sampled_density_fit_hands_over_its_model_before_placing(name: str, params: dict) -> None:
    """The hook gets the fitted state and the model's parameters; the state's ``assign``
    labels every customer as the fit does, up to the fit's renumbering by segment size; the
    work it returns runs once, and the fit is the same as without a hook."""
    algo = get_algorithm(name)
    X = _blobs(3_000)
    calls = []

    def before_placing(state: dict, model: dict):
        calls.append((state, dict(model), algo.assign(state, X)[0]))
        return lambda: calls.append("work")

    hooked = algo.fit(X, params, 0, before_placing=before_placing)
    plain = algo.fit(X, params, 0)
    assert len(calls) == 2 and calls[1] == "work"
    _, model, early = calls[0]
    np.testing.assert_array_equal(hooked.labels, plain.labels)
    assert model == algo.refit_params(hooked.params) | {"sample_size": 600}
    pairs = {(int(a), int(b)) for a, b in zip(early, hooked.labels, strict=True)}
    assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})
    assert all((a == -1) == (b == -1) for a, b in pairs)


@pytest.mark.parametrize("name", ["dbscan", "hdbscan", "kmeans"])
def test_a_fit_of_every_customer_never_calls_the_hook(name: str) -> None:
    params = {"k": 3} if name == "kmeans" else {}
    get_algorithm(name).fit(_blobs(400), params, 0, before_placing=lambda *_: pytest.fail(name))
