"""The history's stamp (the newest event id, web/cache.py) is exact: once a reader has seen
stamp S, no event with an id up to S commits later. On PostgreSQL a sequence hands out ids
before commit, so without care two real concurrent transactions commit ids out of order and
a page cached under the newer id misses the older one for good; `record_event` takes the ids
in commit order. Checked with two real transactions on each backend, the first still open
while the second tries to record its event and commit."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from segtrail.services.workspace import Workspace
from segtrail.web.cache import VersionCache, history_stamp


def test_no_event_commits_later_under_an_id_below_a_stamp_seen(tmp_path: Path, database_url):
    with Workspace.init(tmp_path / "ws", author="setup", database_url=database_url) as ws:
        meta = ws.meta
        first_recorded, first_may_commit = threading.Event(), threading.Event()
        ids: dict[str, int] = {}

        def first(connection) -> None:
            ids["first"] = meta.record_event(connection, "a", "test", "first", {})
            first_recorded.set()
            assert first_may_commit.wait(60)

        def second(connection) -> None:
            ids["second"] = meta.record_event(connection, "b", "test", "second", {})

        seen: list[tuple[int, set[int]]] = []

        def look() -> None:
            stamp = history_stamp(ws)  # read first, as the caches do
            seen.append((stamp, {e["id"] for e in ws.events()}))

        look()
        one = threading.Thread(target=meta.write, args=(first,))
        one.start()
        assert first_recorded.wait(60)
        two = threading.Thread(target=meta.write, args=(second,))
        two.start()
        for _ in range(20):  # the second transaction would commit here, were it let
            look()
            time.sleep(0.05)
        first_may_commit.set()
        one.join(60)
        two.join(60)
        look()
        final = {e["id"] for e in ws.events()}
    assert ids["first"] < ids["second"]
    assert seen[-1][0] == ids["second"] == max(final)
    for stamp, visible in seen:
        # everything that ever commits with an id up to a stamp seen was visible with it
        assert {i for i in final if i <= stamp} <= visible, (stamp, visible, ids)


def test_a_cached_version_is_read_again_after_a_change_through_another_process(
    tmp_path: Path, database_url
):
    """Two server processes keep their own caches; the stamp comes from the database, so a
    name written through one is shown by the other's next read."""
    from tests.web.api.conftest import customers_csv

    root = tmp_path / "ws"
    with Workspace.init(root, author="setup", database_url=database_url) as ws:
        ws.ingest(customers_csv(tmp_path / "c.csv", rows=60), "customer_id", "customers")
        ws.segment("customers", "sales", "two groups", exclude=["channel"], algorithm="kmeans", k=2)
    cache = VersionCache()
    with Workspace.open(root, author="reader") as reader, Workspace.open(root, author="w") as other:
        assert cache.show(reader, "sales@1")["segments"][0]["name"] != "Regulars"
        assert cache.show(reader, "sales@1") is cache.show(reader, "sales@1")  # a hit
        other.name("sales@1", 0, "Regulars")
        assert cache.show(reader, "sales@1")["segments"][0]["name"] == "Regulars"
