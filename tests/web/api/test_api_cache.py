"""The stamped cache behind version reads: one computation per change however many readers
ask at once, a new stamp recomputes, a failure is not cached."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from segtrail.web.cache import StampedCache


def test_many_readers_after_a_change_compute_once():
    cache, calls = StampedCache(), []
    lock = threading.Lock()

    def compute():
        with lock:
            calls.append(1)
        time.sleep(0.2)  # long enough for every reader to arrive while it runs
        return {"n": len(calls)}

    with ThreadPoolExecutor(10) as pool:
        values = list(pool.map(lambda _: cache.get("v", 7, compute), range(10)))
    assert len(calls) == 1
    assert all(v is values[0] for v in values)
    assert cache.get("v", 7, compute) is values[0]  # a hit
    assert cache.get("v", 8, compute) == {"n": 2}  # the history moved on: recomputed


def test_a_failure_is_not_cached():
    cache = StampedCache()

    def broken():
        raise ValueError("no")

    with pytest.raises(ValueError):
        cache.get("v", 1, broken)
    assert cache.get("v", 1, lambda: "fine") == "fine"
