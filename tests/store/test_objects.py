"""The object store's less travelled paths: streamed writes, leftovers and their names,
large objects read in chunks, removal racing a writer, the encoding options and the
workspace's choice of store. (test_store.py holds the round trips, verified reads, the
recent-reads cache and fitted state.)

References are independent of the store: `hashlib.sha256` over the bytes on disk, pyarrow's
own Parquet metadata, and the file system as `pathlib` sees it."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segtrail.atomic import FILE_MODE
from segtrail.errors import Damaged, SegtrailError
from segtrail.store.objects import (
    CHUNK,
    KINDS,
    RECENT_READS,
    LocalObjectStore,
    ObjectStore,
    check_objects_url,
    digest_of,
    encode_table,
    is_temporary,
    mark_used,
    object_name,
    open_object_store,
    sha256_file,
    sha256_stream,
)
from segtrail.store.shared_objects import FsspecObjectStore

KINDS_OF_STORE = ["local", "file-url", "memory"]


@pytest.fixture(params=KINDS_OF_STORE)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalObjectStore(tmp_path / "objects")
    if request.param == "file-url":
        return FsspecObjectStore((tmp_path / "objects").resolve().as_uri())
    return FsspecObjectStore(f"memory://segtrail-objects-{uuid.uuid4().hex}")


def _raw(store: ObjectStore, digest: str) -> bytes:
    with store._open(object_name(digest)) as f:
        return f.read()


def _overwrite(store: ObjectStore, digest: str, data: bytes) -> None:
    if isinstance(store, LocalObjectStore):
        store.path(digest).write_bytes(data)
    else:
        store.fs.pipe_file(store._full(object_name(digest)), data)


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _table(n: int = 20) -> pa.Table:
    return pa.table(
        {"customer_id": [f"C{i}" for i in range(n)], "spend": [i * 1.5 for i in range(n)]}
    )


# --- streamed writes -----------------------------------------------------------------------


def test_put_stream_stores_what_was_written_under_its_sha256(store: ObjectStore) -> None:
    table = _table()
    digest, size = store.put_stream(lambda f: pq.write_table(table, f))
    data = _raw(store, digest)
    assert digest == hashlib.sha256(data).hexdigest()
    assert size == len(data)
    assert store.read_table(digest).equals(table)
    assert store.temporaries() == []


def test_put_stream_and_put_bytes_of_the_same_bytes_agree(store: ObjectStore) -> None:
    payload = b"streamed in three parts"

    def write(f) -> None:
        for part in (payload[:8], payload[8:16], payload[16:]):
            f.write(part)

    streamed = store.put_stream(write)
    assert streamed == (hashlib.sha256(payload).hexdigest(), len(payload))
    assert store.put_bytes(payload) == streamed
    assert list(store.listing()[0]) == [streamed[0]]


def test_the_stream_writer_counts_and_cannot_seek(tmp_path: Path) -> None:
    """Parquet writers ask the file where they are (tell) and whether they may seek back:
    the store's writer only appends, and says so."""
    store = LocalObjectStore(tmp_path / "objects")
    seen: list[tuple[int, bool, bool, bool]] = []

    def write(f) -> None:
        f.write(b"abc")
        f.write(b"de")
        f.flush()
        seen.append((f.tell(), f.writable(), f.seekable(), f.closed))
        f.close()
        seen.append((f.tell(), f.writable(), f.seekable(), f.closed))

    assert store.put_stream(write)[1] == 5
    assert seen == [(5, True, False, False), (5, True, False, True)]
    assert store.read_bytes(hashlib.sha256(b"abcde").hexdigest()).to_pybytes() == b"abcde"


def test_a_local_stream_records_that_this_store_created_it(tmp_path: Path) -> None:
    first = LocalObjectStore(tmp_path / "objects")
    second = LocalObjectStore(tmp_path / "objects")
    digest, _ = first.put_stream(lambda f: f.write(b"made once"))
    assert set(first.fresh) == {digest}
    assert first.fresh[digest] == first.path(digest).stat().st_mtime
    path = first.path(digest)
    os.utime(path, (1_000_000, 1_000_000))
    assert second.put_stream(lambda f: f.write(b"made once"))[0] == digest
    assert second.fresh == {}  # found, not created: never taken back by the second writer
    assert path.stat().st_mtime > 1_000_000  # but marked used
    assert _files(first.root) == [object_name(digest)]


def test_a_stream_repairs_a_damaged_copy(store: ObjectStore) -> None:
    table = _table()
    digest, size = store.put_table(table)
    good = _raw(store, digest)
    _overwrite(store, digest, good[:-5] + b"XXXXX")
    assert store.put_stream(lambda f: f.write(good)) == (digest, size)
    assert _raw(store, digest) == good
    assert store.read_table(digest).equals(table)
    assert store.temporaries() == []


def test_a_failing_stream_stores_nothing(store: ObjectStore, tmp_path: Path) -> None:
    def write(f) -> None:
        f.write(b"half of it")
        raise RuntimeError("the source went away")

    with pytest.raises(RuntimeError, match="went away"):
        store.put_stream(write)
    assert store.listing() == ({}, [])
    assert store.fresh == {}


def test_a_local_stream_on_a_filesystem_without_hard_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalObjectStore(tmp_path / "objects")

    def no_links(src: str, dst: str) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    digest, _ = store.put_stream(lambda f: f.write(b"no links here"))
    assert store.read_bytes(digest).to_pybytes() == b"no links here"
    assert store.fresh == {}
    assert _files(store.root) == [object_name(digest)]


KILLED_STREAM = """
import os, signal, sys
from pathlib import Path
from segtrail.store.objects import LocalObjectStore

def die(fd):  # the bytes are written, not yet in place
    os.kill(os.getpid(), signal.SIGKILL)
os.fsync = die
LocalObjectStore(Path(sys.argv[1])).put_stream(lambda f: f.write(b"streamed" * 100))
"""


def test_a_stream_killed_midway_leaves_a_temporary_fsck_recognises(tmp_path: Path) -> None:
    root = tmp_path / "objects"
    proc = subprocess.run([sys.executable, "-c", KILLED_STREAM, str(root)], capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    store = LocalObjectStore(root)
    objects, (leftover,) = store.listing()
    assert objects == {}
    folder, base = leftover.name.split("/")
    assert folder == "tm"
    assert base.startswith(".tmp-")
    assert leftover.size == 800
    assert store.remove_temporary(leftover)
    assert _files(root) == []


# --- temporaries and their names -----------------------------------------------------------


def test_a_replaced_copy_leaves_no_temporary_even_when_the_rename_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Repairing a damaged object writes a temporary first: it carries the prefix fsck
    recognises, and it is removed when the move fails."""
    store = LocalObjectStore(tmp_path / "objects")
    digest, _ = store.put_bytes(b"good bytes")
    store.path(digest).write_bytes(b"bad bytes!")
    seen: list[str] = []

    def failing_replace(src: str, dst: str) -> None:
        seen.append(Path(src).name)
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="Input/output"):
        store.put_bytes(b"good bytes")
    (name,) = seen
    assert name.startswith(".tmp-")
    assert store.temporaries() == []


def test_a_leftover_of_put_bytes_is_named_so_that_fsck_finds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write interrupted after its bytes reached the disk (here: the link fails with an
    unexpected error and the clean-up is skipped) leaves a file whose name listing() reports
    as a temporary; the object itself does not appear."""
    store = LocalObjectStore(tmp_path / "objects")
    real_unlink = Path.unlink

    def crash_before_cleanup(src: str, dst: str) -> None:
        monkeypatch.setattr(Path, "unlink", lambda self, missing_ok=False: None)
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "link", crash_before_cleanup)
    with pytest.raises(KeyboardInterrupt):
        store.put_bytes(b"interrupted")
    monkeypatch.setattr(Path, "unlink", real_unlink)
    objects, temporaries = store.listing()
    assert objects == {}
    (leftover,) = temporaries
    digest = hashlib.sha256(b"interrupted").hexdigest()
    assert leftover.name.startswith(f"{digest[:2]}/.tmp-")
    assert leftover.size == len(b"interrupted")
    assert store.remove_temporary(leftover)
    assert not store.remove_temporary(leftover)  # gone already: nothing to remove
    assert store.temporaries() == []


def test_listing_tells_objects_temporaries_and_strangers_apart(store: ObjectStore) -> None:
    digest, size = store.put_bytes(b"an object")
    for name in ("zz/.tmp-b", "ab/.tmp-a", f"{digest[:2]}/.{digest}.parquet", "ab/notes.txt"):
        store._replace(name, memoryview(b"x"))
    objects, temporaries = store.listing()
    assert list(objects) == [digest]
    assert objects[digest].size == size
    assert [t.name for t in temporaries] == ["ab/.tmp-a", "zz/.tmp-b"]  # sorted by name
    assert store.temporaries() == temporaries


def test_names_of_objects_and_temporaries() -> None:
    digest = hashlib.sha256(b"x").hexdigest()
    assert object_name(digest) == f"{digest[:2]}/{digest}.parquet"
    assert digest_of(object_name(digest)) == digest
    assert digest_of(f"{digest}.parquet") == digest
    assert digest_of(f"objects/{digest[:2]}/{digest}.parquet") == digest  # the last part counts
    assert is_temporary("objects/ab/.tmp-123")
    assert digest_of(f"ab/.{digest}.parquet") is None
    assert digest_of(f"ab/{digest}.txt") is None
    assert is_temporary("ab/.tmp-123")
    assert is_temporary(".tmp-123")
    assert not is_temporary("ab/tmp-123")
    assert not is_temporary(".tmp-/abc")


def test_an_empty_or_absent_store_lists_nothing(tmp_path: Path) -> None:
    assert LocalObjectStore(tmp_path / "never-made").listing() == ({}, [])
    assert FsspecObjectStore((tmp_path / "never-made").as_uri()).listing() == ({}, [])


# --- large objects and the chunked read ----------------------------------------------------


def test_an_object_larger_than_a_chunk_is_read_and_verified_whole(store: ObjectStore) -> None:
    payload = bytes(range(256)) * ((2 * CHUNK + 1000) // 256)
    digest, size = store.put_bytes(payload)
    assert size == len(payload) > 2 * CHUNK
    assert store.read_bytes(digest).to_pybytes() == payload
    assert store.hash_of(digest) == digest
    damaged = bytearray(payload)
    damaged[CHUNK + 7] ^= 0xFF  # in the second chunk
    _overwrite(store, digest, bytes(damaged))
    with pytest.raises(Damaged, match="is damaged"):
        store.read_bytes(digest)
    assert store.hash_of(digest) == hashlib.sha256(damaged).hexdigest()


def test_sha256_of_files_and_streams_matches_hashlib(tmp_path: Path) -> None:
    for size in (0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 3):
        data = os.urandom(size)
        path = tmp_path / f"f{size}"
        path.write_bytes(data)
        expected = hashlib.sha256(data).hexdigest()
        assert sha256_file(path) == expected, size
        assert sha256_file(str(path)) == expected, size
        with path.open("rb") as f:
            assert sha256_stream(f) == expected, size


def test_bytes_that_are_not_a_table_are_refused_as_such(store: ObjectStore) -> None:
    digest, _ = store.put_bytes(b"not parquet at all")
    with pytest.raises(SegtrailError, match=rf"object {digest[:12]} cannot be read as a table"):
        store.read_table(digest)
    with pytest.raises(SegtrailError, match="cannot be read as a table") as caught:
        store.read_table(digest)  # not cached as anything
    assert not isinstance(caught.value, Damaged)  # the bytes are intact: not damage


def test_a_missing_object_message_names_the_store_and_the_kind(store: ObjectStore) -> None:
    digest = "cd" * 32
    store.describe = {digest: "campaign"}.get
    with pytest.raises(Damaged) as caught:
        store.read_bytes(digest)
    assert str(caught.value) == (
        f"object {digest[:12]} (a campaign) is missing from the object store ({store.url}); "
        "run `segtrail fsck`"
    )


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_of_object_is_named_in_the_damage_message(tmp_path: Path, kind: str) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    digest, _ = store.put_bytes(b"some object")
    store.path(digest).write_bytes(b"some objecT")
    store.describe = {digest: kind}.get
    with pytest.raises(Damaged) as caught:
        store.read_bytes(digest)
    assert str(caught.value) == (
        f"object {digest[:12]} ({KINDS[kind]}) is damaged: its content no longer matches its "
        "hash; nothing was done. Run `segtrail fsck`"
    )
    store.describe = {digest: "something new"}.get  # a kind this release does not know
    with pytest.raises(Damaged, match=rf"object {digest[:12]} \(something new\) is damaged"):
        store.read_bytes(digest)


# --- the recent-reads cache, counted -------------------------------------------------------


class _CountingStore(LocalObjectStore):
    """Counts the files opened for reading: a cache hit opens none."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.opened: list[str] = []

    def _open(self, name: str):
        self.opened.append(name)
        return super()._open(name)


def test_a_cache_hit_does_not_touch_the_disk(tmp_path: Path) -> None:
    store = _CountingStore(tmp_path / "objects")
    digest, _ = store.put_table(_table())
    first = store.read_table(digest)
    second = store.read_table(digest)
    assert second.equals(first)
    assert store.opened == [object_name(digest)]
    store.read_table(digest, columns=["spend"])  # other columns: another object read
    store.read_table(digest, columns=["spend"])
    assert store.opened == [object_name(digest)] * 2


def test_the_cache_keeps_exactly_the_last_few_tables(tmp_path: Path) -> None:
    store = _CountingStore(tmp_path / "objects")
    digests = [store.put_table(_table(n))[0] for n in range(1, RECENT_READS + 3)]
    for digest in digests:
        store.read_table(digest)
    assert len(store.opened) == len(digests)
    store.opened.clear()
    for digest in reversed(digests):  # the newest RECENT_READS come from memory
        store.read_table(digest)
    assert store.opened == [object_name(d) for d in digests[:2]][::-1]
    assert RECENT_READS == 4


# --- careful removal racing a writer -------------------------------------------------------


def _modified(store: ObjectStore, digest: str) -> float:
    stat = store._stat(object_name(digest))
    assert stat is not None
    return stat.modified


def test_a_failing_reference_check_puts_everything_back(store: ObjectStore) -> None:
    digests = [store.put_bytes(f"object {i}".encode())[0] for i in range(3)]
    candidates = {d: _modified(store, d) for d in digests}

    def broken(_digests) -> set[str]:
        raise RuntimeError("the database is locked")

    with pytest.raises(RuntimeError, match="locked"):
        store.remove_unused(candidates, broken)
    assert sorted(store.listing()[0]) == sorted(digests)
    assert store.temporaries() == []
    for i, digest in enumerate(digests):
        assert store.read_bytes(digest).to_pybytes() == f"object {i}".encode()


def test_an_object_written_again_while_set_aside_is_kept_once(store: ObjectStore) -> None:
    digest, _ = store.put_bytes(b"written again meanwhile")
    judged = _modified(store, digest)

    def a_writer_comes(digests) -> set[str]:
        assert store.listing()[0] == {}  # set aside: a writer finds nothing
        store.put_bytes(b"written again meanwhile")
        return {digest}  # and records it

    assert store.remove_unused({digest: judged}, a_writer_comes) == []
    objects, temporaries = store.listing()
    assert list(objects) == [digest]
    assert temporaries == []
    assert store.read_bytes(digest).to_pybytes() == b"written again meanwhile"


def test_candidates_already_gone_are_skipped(store: ObjectStore) -> None:
    asked: list[set[str]] = []
    assert store.remove_unused({"ef" * 32: 0.0}, lambda d: asked.append(set(d)) or set()) == []
    assert asked == []  # nothing set aside: the metadata is not asked
    real, _ = store.put_bytes(b"really there")
    gone = "00" * 32  # sorts first: the removal goes on past it
    candidates = {gone: 0.0, real: _modified(store, real)}
    assert store.remove_unused(candidates, lambda d: asked.append(set(d)) or set()) == [real]
    assert asked == [{real}]


def test_a_bucket_skips_a_candidate_used_since_it_was_judged() -> None:
    """Where a move resets the time (buckets), an object marked used after it was judged is
    left alone before it is moved; an untouched one is removed."""
    store = FsspecObjectStore(f"memory://segtrail-objects-{uuid.uuid4().hex}")
    assert not store.rename_keeps_time
    used, unused = sorted(store.put_bytes(d)[0] for d in (b"one", b"two"))  # used sorts first
    candidates = {used: _modified(store, used) - 100.0, unused: _modified(store, unused)}
    asked: list[set[str]] = []
    removed = store.remove_unused(candidates, lambda d: asked.append(set(d)) or set())
    assert removed == [unused]
    assert asked == [{unused}]
    assert list(store.listing()[0]) == [used]
    assert store.temporaries() == []


def test_removal_forgets_what_this_store_created(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    kept, _ = store.put_bytes(b"kept")
    gone, _ = store.put_bytes(b"gone")
    assert store.remove_unused(dict(store.fresh), lambda d: {kept}) == [gone]
    assert set(store.fresh) == {kept}


# --- primitives whose contract the writers rely on -----------------------------------------


def test_creating_an_object_that_is_already_there_says_so(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    data = memoryview(b"same bytes")
    name = object_name(hashlib.sha256(data).hexdigest())
    created = store._create(name, data)
    assert created == (store.root / name).stat().st_mtime
    os.utime(store.root / name, (1_000_000, 1_000_000))
    assert store._create(name, data) is None  # a second writer: not its creation
    assert (store.root / name).stat().st_mtime > 1_000_000  # marked used instead
    assert _files(store.root) == [name]


def test_marking_a_missing_file_used_says_it_is_missing(tmp_path: Path) -> None:
    assert mark_used(tmp_path / "absent") is False
    present = tmp_path / "present"
    present.write_bytes(b"")
    os.utime(present, (1_000_000, 1_000_000))
    assert mark_used(present) is True
    assert present.stat().st_mtime > 1_000_000


def test_a_new_object_gets_the_mode_of_a_new_file(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    digest, _ = store.put_bytes(b"shared with the team")
    streamed, _ = store.put_stream(lambda f: f.write(b"streamed for the team"))
    # The mode a plain new file gets here (the umask's), not mkstemp's owner-only 0600.
    plain = tmp_path / "plain"
    plain.write_bytes(b"x")
    for d in (digest, streamed):
        assert store.path(d).stat().st_mode & 0o777 == plain.stat().st_mode & 0o777 == FILE_MODE


# --- encoding ------------------------------------------------------------------------------


def test_tables_are_snappy_compressed_and_dictionary_encoded_only_where_asked() -> None:
    table = pa.table({"region": ["north", "south"] * 50, "spend": [float(i) for i in range(100)]})
    everything = pq.ParquetFile(pa.BufferReader(encode_table(table))).metadata.row_group(0)
    only_region = pq.ParquetFile(
        pa.BufferReader(encode_table(table, dictionary=["region"]))
    ).metadata.row_group(0)
    for group in (everything, only_region):
        for i in range(group.num_columns):
            assert group.column(i).compression == "SNAPPY"

    def dictionary_encoded(group, i: int) -> bool:
        return group.column(i).has_dictionary_page

    assert dictionary_encoded(everything, 0) and dictionary_encoded(everything, 1)
    assert dictionary_encoded(only_region, 0) and not dictionary_encoded(only_region, 1)


def test_put_table_passes_the_dictionary_choice_on(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    table = pa.table({"region": ["north", "south"] * 50, "spend": [float(i) for i in range(100)]})
    digest, _ = store.put_table(table, dictionary=["region"])
    assert _raw(store, digest) == encode_table(table, dictionary=["region"]).to_pybytes()
    assert store.put_table(table)[0] != digest


# --- which store a workspace opens ---------------------------------------------------------


def test_open_object_store_by_config(tmp_path: Path) -> None:
    default = open_object_store(None, tmp_path / "default")
    assert isinstance(default, LocalObjectStore) and default.root == tmp_path / "default"
    empty = open_object_store("", tmp_path / "default")
    assert isinstance(empty, LocalObjectStore) and empty.root == tmp_path / "default"
    plain = open_object_store(str(tmp_path / "team"), tmp_path / "default")
    assert isinstance(plain, LocalObjectStore) and plain.root == tmp_path / "team"
    assert plain.url == str(tmp_path / "team")
    url = open_object_store((tmp_path / "team").as_uri(), tmp_path / "default")
    assert isinstance(url, FsspecObjectStore)


def test_check_objects_url_makes_a_plain_folder_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert check_objects_url("team/objects") == str(tmp_path / "team" / "objects")
    assert (tmp_path / "team" / "objects").is_dir()
    assert check_objects_url(str(tmp_path / "team" / "objects")) == str(
        tmp_path / "team" / "objects"
    )
    assert check_objects_url("~/") == str(Path.home())  # a home-relative path is expanded
    url = (tmp_path / "bucketish").as_uri()
    assert check_objects_url(url) == url


def test_check_objects_url_refuses_a_folder_that_cannot_be_made(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    with pytest.raises(SegtrailError) as caught:
        check_objects_url(str(blocker / "objects"))
    assert (
        str(caught.value) == f"cannot use --objects {str(blocker / 'objects')!r}: Not a directory"
    )


def test_objects_that_share_a_folder(store: ObjectStore) -> None:
    """Digests with the same first two characters live in one folder: the second write
    finds the folder there."""
    first = b"payload 0"
    prefix = hashlib.sha256(first).hexdigest()[:2]
    second = next(
        data
        for i in range(1, 10_000)
        if hashlib.sha256(data := f"payload {i}".encode()).hexdigest()[:2] == prefix
    )
    third = next(
        data
        for i in range(10_000, 20_000)
        if hashlib.sha256(data := f"payload {i}".encode()).hexdigest()[:2] == prefix
    )
    digests = [store.put_bytes(first)[0], store.put_bytes(second)[0]]
    digests.append(store.put_stream(lambda f: f.write(third))[0])  # a new one, streamed
    assert store.put_stream(lambda f: f.write(second))[0] == digests[1]
    assert sorted(store.listing()[0]) == sorted(digests)
    assert [store.read_bytes(d).to_pybytes() for d in digests] == [first, second, third]


def test_the_primitives_describe_the_files(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    digest, size = store.put_bytes(b"described")
    name = object_name(digest)
    stat = store._stat(name)
    assert stat is not None
    assert (stat.name, stat.size) == (name, size)
    assert stat.modified == store.path(digest).stat().st_mtime
    assert store._size(name) == size
    (listed,) = store._list()
    assert listed == stat
    assert store.location(digest) == str(tmp_path / "objects" / digest[:2] / f"{digest}.parquet")


def test_a_file_removed_while_listing_is_skipped(tmp_path: Path) -> None:
    """A prune may remove a file between the listing and its stat (here: a dangling link,
    which stat cannot follow); the files after it are still listed."""
    store = LocalObjectStore(tmp_path / "objects")
    digest, _ = store.put_bytes(b"listed after the gone one")
    (store.root / "00").mkdir()
    (store.root / "00" / ".tmp-gone").symlink_to(tmp_path / "nowhere")
    objects, temporaries = store.listing()
    assert list(objects) == [digest]
    assert temporaries == []


def test_an_object_removed_while_a_writer_checks_it_is_written_again(tmp_path: Path) -> None:
    """A writer finds the object, and a prune removes it before the writer's check reads
    it: the writer puts its bytes back instead of trusting a file that is gone."""

    class RemovedUnderfoot(LocalObjectStore):
        def hash_of(self, digest: str) -> str:
            self.path(digest).unlink()
            return super().hash_of(digest)

    LocalObjectStore(tmp_path / "objects").put_bytes(b"removed underfoot")
    store = RemovedUnderfoot(tmp_path / "objects")
    digest, _ = store.put_bytes(b"removed underfoot")
    assert store.path(digest).read_bytes() == b"removed underfoot"


class _MisreportedSize(FsspecObjectStore):
    """A bucket whose listed size is off by `delta` from what a read returns (an object
    rewritten between the two requests)."""

    def __init__(self, delta: int) -> None:
        super().__init__(f"memory://segtrail-objects-{uuid.uuid4().hex}")
        self.delta = delta

    def _size(self, name: str) -> int:
        return super()._size(name) + self.delta


def test_an_object_shorter_than_its_size_is_damaged() -> None:
    store = _MisreportedSize(+10)
    digest, _ = store.put_bytes(b"0123456789" * 10)
    with pytest.raises(Damaged, match=rf"object {digest[:12]} is damaged"):
        store.read_bytes(digest)


def test_an_object_that_grew_after_its_size_was_taken_is_damaged() -> None:
    """The read takes the announced size, and one byte more to notice growth: the first
    bytes alone would hash right."""
    store = _MisreportedSize(0)
    digest, _ = store.put_bytes(b"0123456789" * 10)
    store.fs.pipe_file(store._full(object_name(digest)), b"0123456789" * 10 + b"!")
    store.delta = -1
    with pytest.raises(Damaged, match=rf"object {digest[:12]} is damaged"):
        store.read_bytes(digest)


def test_a_refused_object_dtype_is_named_by_its_digest(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    table = pa.table(
        {
            "name": ["evil"],
            "dtype": ["|O"],
            "shape": pa.array([[1]], pa.list_(pa.int64())),
            "data": pa.array([b"\x00" * 8], pa.large_binary()),
        }
    )
    digest, _ = store.put_table(table)
    with pytest.raises(SegtrailError) as caught:
        store.read_arrays(digest)
    assert str(caught.value) == f"object {digest[:12]}: refusing an object-dtype array"


# Changing this digest is a FORMAT CHANGE of fitted state (see PINNED_DIGEST in
# test_store.py): every segmentation's fitted-state object would get a new address.
PINNED_ARRAYS_DIGEST = "89590f9591c33fbeeb98a9bf77d157315723ab225845a0d13918585c057f114c"


def _normalized(data: bytes) -> bytes:
    created_by = f"parquet-cpp-arrow version {pa.__version__}".encode()
    assert data.count(created_by) == 1
    return data.replace(created_by, b"parquet-cpp-arrow version X")


def test_the_encoding_of_known_fitted_state_is_pinned(tmp_path: Path) -> None:
    """Reference: the digest this release writes for a fixed set of arrays (names, dtypes,
    shapes and bytes stored as string, string, list<int64> and large_binary columns)."""

    store = LocalObjectStore(tmp_path / "objects")
    arrays = {
        "centers": np.asfortranarray(np.arange(6, dtype="<f8").reshape(2, 3)),
        "k": np.array(3, dtype="<i8"),  # 0-d: shape []
        "labels": np.array([0, 1, 1], dtype="<i4"),
    }
    digest, _ = store.put_arrays(arrays)
    data = store.path(digest).read_bytes()
    assert hashlib.sha256(_normalized(data)).hexdigest() == PINNED_ARRAYS_DIGEST
    only_0d, _ = store.put_arrays({"k": np.array(3, dtype="<i8")})
    shape = pq.read_table(store.path(only_0d)).schema.field("shape").type
    assert shape == pa.list_(pa.int64())


def test_a_leftover_of_put_stream_is_named_so_that_fsck_finds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process (a subprocess would import the package unmutated): the streamed bytes wait
    in root/tm under the temporary prefix until they are linked into place."""
    store = LocalObjectStore(tmp_path / "objects")
    real_unlink = Path.unlink

    def crash_before_cleanup(src: str, dst: str) -> None:
        monkeypatch.setattr(Path, "unlink", lambda self, missing_ok=False: None)
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "link", crash_before_cleanup)
    with pytest.raises(KeyboardInterrupt):
        store.put_stream(lambda f: f.write(b"streamed, then interrupted"))
    monkeypatch.setattr(Path, "unlink", real_unlink)
    objects, (leftover,) = store.listing()
    assert objects == {}
    folder, base = leftover.name.split("/")
    assert (folder, base[:5]) == ("tm", ".tmp-")
    assert (store.root / leftover.name).read_bytes() == b"streamed, then interrupted"


def test_a_stream_of_an_intact_object_only_marks_it_used(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    digest, _ = store.put_bytes(b"already there")
    path = store.path(digest)
    os.utime(path, (1_000_000, 1_000_000))
    inode = path.stat().st_ino
    assert store.put_stream(lambda f: f.write(b"already there"))[0] == digest
    assert path.stat().st_ino == inode  # not rewritten
    assert path.stat().st_mtime > 1_000_000


def test_a_stream_that_loses_the_race_to_another_writer_marks_its_object_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer links the same object between this stream's check and its link: the
    stream does not count it as its own, and marks it used."""
    store = LocalObjectStore(tmp_path / "objects")
    other = LocalObjectStore(tmp_path / "objects")
    real_link = os.link

    def another_writer_first(src: str, dst: str) -> None:
        monkeypatch.setattr(os, "link", real_link)
        digest, _ = other.put_bytes(b"raced")
        os.utime(other.path(digest), (1_000_000, 1_000_000))
        real_link(src, dst)  # FileExistsError now

    monkeypatch.setattr(os, "link", another_writer_first)
    digest, _ = store.put_stream(lambda f: f.write(b"raced"))
    assert store.fresh == {}
    assert set(other.fresh) == {digest}
    assert store.path(digest).stat().st_mtime > 1_000_000
    assert _files(store.root) == [object_name(digest)]
