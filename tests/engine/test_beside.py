"""base.beside: work on a second thread while the block runs, one BLAS/OpenMP thread for
both, and the process's thread limits as they were afterwards."""

from __future__ import annotations

import threading

import pytest
from threadpoolctl import threadpool_info

from segtrail.engine.algorithms.base import beside


def _limits() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info()]


def test_the_work_runs_on_another_thread_and_its_result_is_kept() -> None:
    here = threading.get_ident()
    with beside(lambda a, b: (threading.get_ident(), a + b), 2, 3) as future:
        inside = _limits()
    where, total = future.result()
    assert total == 5 and where != here
    assert all(n == 1 for n in inside)


def test_limits_are_restored_after_the_block() -> None:
    before = _limits()
    with beside(sum, [1, 2]) as future:
        pass
    assert future.result() == 3
    assert _limits() == before


def test_no_work_runs_the_block_alone() -> None:
    before = _limits()
    with beside(None, 1) as future:
        assert _limits() == before
    assert future is None


def test_a_failure_of_the_work_is_raised_by_its_result() -> None:
    def fail() -> None:
        raise ValueError("degenerate sample")

    with beside(fail) as future:
        pass
    with pytest.raises(ValueError, match="degenerate sample"):
        future.result()
