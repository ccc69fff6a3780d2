"""base.place_in_blocks: a sampled fit's placement of every customer, in blocks on two
threads with other work beside it; and the hook through which a fit hands that work over."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from segtrail.engine.algorithms import base, get_algorithm
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


def _kinds() -> dict[str, set[int]]:
    kinds: dict[str, set[int]] = {}
    for pool in threadpool_info():
        kinds.setdefault(pool["user_api"], set()).add(pool["num_threads"])
    return kinds


def test_one_block_with_nothing_beside_is_placed_here_with_the_callers_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(base, "PLACE_BLOCK_ROWS", 10)
    state, X = _rows(10)
    seen = []

    def assign(state: dict, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        seen.append((threading.get_ident(), _kinds()["blas"]))
        return _nearest_centre(state, X)

    with threadpool_limits(limits=2):
        place_in_blocks(assign, state, X)
    assert seen == [(threading.get_ident(), {2})]


def test_blocks_are_placed_on_two_threads_with_one_blas_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(base, "PLACE_BLOCK_ROWS", 10)
    state, X = _rows(8 * 10 + 3)
    seen, lock, second = [], threading.Lock(), threading.Event()

    def assign(state: dict, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with lock:
            seen.append((threading.get_ident(), frozenset(_kinds()["blas"])))
            first = len(seen) == 1
            if len({where for where, _ in seen}) == 2:
                second.set()
        if first:  # the first block waits until another thread takes a block
            second.wait(5)
        time.sleep(0.005)  # each block takes a while: a pool of more threads would use them
        return _nearest_centre(state, X)

    with threadpool_limits(limits=2):
        labels, _ = place_in_blocks(assign, state, X)
        assert _kinds()["blas"] == {2}  # as they were, once placed
    assert len(seen) == 9 and len({where for where, _ in seen}) == 2
    assert {blas for _, blas in seen} == {frozenset({1})}
    np.testing.assert_array_equal(labels, _nearest_centre(state, X)[0])


def openmp_threads_of_a_placement() -> list[set[int]]:
    """The OpenMP threads each block of a placement (with work beside it) may use."""
    import sklearn.cluster  # noqa: F401  (scikit-learn's OpenMP library)

    seen = []

    def assign(state: dict, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        seen.append({p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"})
        return np.zeros(len(X), np.int32), np.zeros(len(X), np.float32)

    place_in_blocks(assign, {}, np.zeros((10, 2), np.float32), lambda: None)
    return seen


_OPENMP_BESIDE = """
from test_place_blocks import openmp_threads_of_a_placement
print(openmp_threads_of_a_placement())
"""


def test_each_placing_thread_runs_one_openmp_thread() -> None:
    """Here, and in a fresh process with two OpenMP threads by default (OpenMP's default is
    read when its library loads: mutation runs set OMP_NUM_THREADS=1 for this process)."""
    assert openmp_threads_of_a_placement() == [{1}]
    env = {**os.environ, "OMP_NUM_THREADS": "2", "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", _OPENMP_BESIDE], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[{1}]"
