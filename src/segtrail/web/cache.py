"""A small cache of what version pages read most: `show(LENS@N)`, and the API's rendered JSON
of it, keyed by the newest event's id.

Every change to a workspace records an event in the same transaction as the change (names,
tags, statuses, plans, new versions...), so the id of the newest event stamps the whole
history: while it is the same, `show` would answer the same. The stamp is read *before*
the value is computed, so a value is never filed under a stamp older than what it shows.
A lookup costs one indexed query instead of the dozen `show` makes; with many readers and a
few writers most reads are hits (measured in bench/bench_server_load.py). Entries also
expire after `max_age` seconds, so even a change that somehow recorded no event is seen.

On PostgreSQL event ids are taken in commit order (store/metadata.py `record_event`), so no
event can commit later under a smaller id than the stamp a page was cached under. Each
server process (`segtrail serve --workers N`) keeps its own caches; the stamp is read from
the database, so a change made through any process is seen by every process's next read."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from segtrail.services.workspace import Workspace


def history_stamp(ws: Workspace) -> int:
    """The id of the newest event (0 for an empty history): exact on SQLite and PostgreSQL,
    since event ids are taken in commit order (store/metadata.py `record_event`)."""
    return ws.meta.events.newest_id()


class _Flight:
    """One computation of one (key, stamp) that other requests wait for."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.failed = False


class StampedCache:
    """Values by key, valid while the history's stamp is the one they were computed under.

    Single flight: when a change makes the entry stale and twenty readers ask at once, one
    of them computes the new value and the others wait for it, instead of twenty computing
    the same thing (on a busy server that stampede is what makes reads slow)."""

    def __init__(self, size: int = 128, max_age: float = 30.0) -> None:
        self._items: OrderedDict[Hashable, tuple[int, float, Any]] = OrderedDict()
        self._flights: dict[tuple[Hashable, int], _Flight] = {}
        self._lock = threading.Lock()
        self.size = size
        self.max_age = max_age
        self.hits = 0
        self.misses = 0

    def last(self, key: Hashable) -> tuple[int, Any] | None:
        """The newest (stamp, value) kept for `key`, whatever its stamp: what a computation
        may start from instead of from nothing (the caller checks what changed since)."""
        with self._lock:
            item = self._items.get(key)
            return None if item is None else (item[0], item[2])

    def get(self, key: Hashable, stamp: int, compute: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            item = self._items.get(key)
            if item is not None and item[0] == stamp and now - item[1] < self.max_age:
                self._items.move_to_end(key)
                self.hits += 1
                return item[2]
            self.misses += 1
            flight = self._flights.get((key, stamp))
            leader = flight is None
            if leader:
                flight = self._flights[(key, stamp)] = _Flight()
        if not leader:
            flight.done.wait()
            if not flight.failed:
                return flight.value
            return compute()  # the leader failed: this request finds its own error
        try:
            value = compute()  # outside the lock: other keys stay served meanwhile
        except BaseException:
            flight.failed = True
            raise
        else:
            flight.value = value
            with self._lock:
                self._items[key] = (stamp, now, value)
                self._items.move_to_end(key)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
            return value
        finally:
            with self._lock:
                self._flights.pop((key, stamp), None)
            flight.done.set()


class VersionCache(StampedCache):
    def show(self, ws: Workspace, ref: str) -> Any:
        """`ws.show(ref)`, cached under the history's stamp (the result is immutable)."""
        return self.get(("show", ref), history_stamp(ws), lambda: ws.show(ref))
