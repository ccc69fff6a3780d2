"""`segtrail init --objects URL`: data objects on shared storage (a second real folder via
`file://`, a plain folder, `memory://` through the Python API), with the metadata in a
database two teammates' workspaces share."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from fsspec.implementations.memory import MemoryFileSystem
from tests.conftest import hash_tree

from segtrail.errors import SegtrailError
from segtrail.services.workspace import Workspace
from segtrail.store import shared_objects
from segtrail.store.objects import REFRESH_AFTER_SECONDS, LocalObjectStore, object_name
from segtrail.store.shared_objects import FsspecObjectStore, _modified

Runner = Callable[..., object]


def _objects_in(folder: Path) -> list[Path]:
    return sorted(folder.glob("??/*.parquet"))


@pytest.fixture
def team(tmp_path: Path) -> Path:
    """A folder standing for the team's shared mount."""
    folder = tmp_path / "mnt" / "team"
    folder.mkdir(parents=True)
    return folder


def test_init_with_a_file_url_keeps_objects_there(
    tmp_path: Path, team: Path, cli: Runner, customers_csv: Path
) -> None:
    url = (team / "objects").as_uri()
    ws = tmp_path / "alice"
    assert cli("init", ws, "--objects", url).code == 0
    config = json.loads((ws / ".segtrail" / "config.json").read_text())
    assert config["objects_url"] == url
    assert not (ws / ".segtrail" / "objects").exists()
    steps = [
        ("ingest", customers_csv, "--id", "customer_id", "--name", "customers"),
        ("segment", "-d", "customers", "-l", "marketing", "-m", "age", "--k", "2"),
    ]
    for args in steps:
        result = cli(*args, cwd=ws)
        assert result.code == 0, result.err
    assert len(_objects_in(team / "objects")) == 3  # dataset, assignments, fitted state
    out = tmp_path / "segments.csv"
    assert cli("export", "marketing@1", "--out", out, cwd=ws).code == 0
    assert len(pd.read_csv(out)) == 60
    fsck = cli("fsck", "--json", cwd=ws).json()
    assert fsck["clean"] and fsck["objects"] == 3

    # Damage in the shared folder is caught on read and by fsck, as in a local one.
    dataset = json.loads(cli("dataset", "show", "customers", "--json", cwd=ws).out)["object"]
    path = team / "objects" / dataset[:2] / f"{dataset}.parquet"
    data = bytearray(path.read_bytes())
    data[100] ^= 0x20
    path.write_bytes(bytes(data))
    before = hash_tree(ws)
    result = cli("dataset", "show", "customers", "--rows", "2", "--json", cwd=ws)
    assert result.code == 2
    assert f"object {dataset[:12]} (a dataset) is damaged" in result.err
    assert hash_tree(ws) == before
    fsck = cli("fsck", "--json", cwd=ws)
    assert fsck.code == 2
    assert any(dataset[:12] in p for p in fsck.json()["problems"])


def test_two_teammates_share_metadata_and_objects(
    tmp_path: Path, team: Path, cli: Runner, customers_csv: Path
) -> None:
    """Alice segments; Bob, in his own workspace folder pointing at the same database and
    the same objects, exports her version: the metadata names objects he can read."""
    database = f"sqlite:///{team / 'segtrail.db'}"
    url = (team / "objects").as_uri()
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    for ws in (alice, bob):
        result = cli("init", ws, "--database-url", database, "--objects", url)
        assert result.code == 0, result.err
    for args in (
        ("ingest", customers_csv, "--id", "customer_id", "--name", "customers"),
        ("segment", "-d", "customers", "-l", "marketing", "-m", "age", "--k", "2"),
    ):
        assert cli(*args, cwd=alice, env={"SEGTRAIL_AUTHOR": "alice"}).code == 0
    out = tmp_path / "bob.csv"
    result = cli("export", "marketing@1", "--out", out, cwd=bob, env={"SEGTRAIL_AUTHOR": "bob"})
    assert result.code == 0, result.err
    assert len(pd.read_csv(out)) == 60
    assert cli("fsck", cwd=bob).code == 0
    assert not (bob / ".segtrail" / "objects").exists()


def test_a_plain_folder_is_a_local_store(tmp_path: Path, cli: Runner, customers_csv: Path):
    folder = tmp_path / "elsewhere"
    assert cli("init", tmp_path / "ws", "--objects", folder).code == 0
    ws = Workspace.open(tmp_path / "ws")
    assert isinstance(ws.objects, LocalObjectStore)
    assert ws.objects.root == folder.resolve()
    ws.close()
    assert cli("ingest", customers_csv, "--id", "customer_id", cwd=tmp_path / "ws").code == 0
    assert len(_objects_in(folder)) == 1


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("nosuchscheme://x/y", "nosuchscheme"),
        ("s3://some-bucket/objects", "s3fs"),  # the backend is not installed here
    ],
)
def test_init_refuses_an_unusable_objects_url(
    tmp_path: Path, cli: Runner, url: str, fragment: str
) -> None:
    result = cli("init", tmp_path / "ws", "--objects", url)
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1
    assert "--objects" in result.err or "objects URL" in result.err
    assert fragment in result.err
    assert not (tmp_path / "ws" / ".segtrail").exists()


def test_a_memory_store_through_the_python_api(tmp_path: Path, customers_csv: Path) -> None:
    url = f"memory://segtrail-{uuid.uuid4().hex}"
    ws = Workspace.init(tmp_path / "ws", objects_url=url, author="tester")
    assert isinstance(ws.objects, FsspecObjectStore)
    info = ws.ingest(customers_csv, "customer_id")
    assert ws.fsck()["clean"]
    assert len(ws.dataset_frame(info["dataset"])) == 60
    assert list(ws.objects.listing()[0]) == [info["object"]]
    ws.close()


# --- the fsspec store's primitives, as the local store's are tested in test_objects.py ----


@pytest.mark.parametrize("where", ["file", "memory"])
def test_the_fsspec_primitives_describe_the_files(tmp_path: Path, where: str) -> None:
    url = (
        (tmp_path / "objects").as_uri()
        if where == "file"
        else f"memory://segtrail-objects-{uuid.uuid4().hex}"
    )
    store = FsspecObjectStore(url)
    digest, size = store.put_bytes(b"described")
    name = object_name(digest)
    stat = store._stat(name)
    assert stat is not None
    assert (stat.name, stat.size) == (name, size) and size == len(b"described")
    assert stat.modified > 0
    assert store._size(name) == size
    (listed,) = store._list()
    assert (listed.name, listed.size) == (name, size)
    assert store._stat("ab/missing.parquet") is None
    empty, _ = store.put_bytes(b"")
    assert store._stat(object_name(empty)).size == 0
    for primitive in (store._delete, lambda n: store._rename(n, "ab/other.parquet")):
        with pytest.raises(FileNotFoundError, match=r"^ab/missing\.parquet$"):
            primitive("ab/missing.parquet")


def test_the_location_of_an_object_on_a_mount_is_its_path(tmp_path: Path) -> None:
    store = FsspecObjectStore((tmp_path / "objects").as_uri())
    digest, _ = store.put_bytes(b"here")
    location = store.location(digest)
    assert location == str(tmp_path / "objects" / digest[:2] / f"{digest}.parquet")
    assert Path(location).read_bytes() == b"here"


@pytest.mark.parametrize("end", ["", "-X", " "])
def test_the_location_of_an_object_in_a_bucket_is_a_url(end: str) -> None:
    import fsspec

    root = f"segtrail-objects-{uuid.uuid4().hex}{end}"  # a name may end in any character
    store = FsspecObjectStore(f"memory://{root}")
    digest, _ = store.put_bytes(b"there")
    location = store.location(digest)
    assert location == f"memory:///{root}/{digest[:2]}/{digest}.parquet"
    with fsspec.open(location, "rb") as f:  # what a reader given the location opens
        assert f.read() == b"there"
    assert list(store.listing()[0]) == [digest]


@pytest.mark.parametrize(
    ("info", "seconds"),
    [
        ({"mtime": 1700000000.5}, 1700000000.5),  # a local or mounted folder
        ({"LastModified": datetime(2024, 1, 2, tzinfo=UTC)}, 1704153600.0),  # S3
        ({"last_modified": "2024-01-02T00:00:00Z"}, 1704153600.0),  # Azure, as text
        ({"updated": "2024-01-02T00:00:00+00:00"}, 1704153600.0),  # Google Cloud Storage
        ({"modified": 1704153600}, 1704153600.0),
        ({"created": datetime(2024, 1, 2, tzinfo=UTC)}, 1704153600.0),  # memory://
        ({"mtime": None, "created": 5.0}, 5.0),  # the first key with a value counts
        ({"mtime": "not a time", "created": 7}, 7.0),  # unreadable: the next one
        ({"mtime": 3, "created": 9}, 3.0),
        ({}, 0.0),
    ],
)
def test_a_files_time_whatever_the_backend_calls_it(info: dict, seconds: float) -> None:
    got = _modified(info)
    assert got == seconds and isinstance(got, float)


# --- a bucket marks an object used by writing it again, at most once an hour --------------


def _bucket() -> FsspecObjectStore:
    return FsspecObjectStore(f"memory://segtrail-objects-{uuid.uuid4().hex}")


def _set_time(store: FsspecObjectStore, digest: str, seconds: float) -> None:
    """Set a memory:// object's time (what a bucket reports as its last write)."""
    path = store.fs._strip_protocol(store._full(object_name(digest)))
    store.fs.store[path].created = datetime.fromtimestamp(seconds, UTC)


def test_a_bucket_rewrites_an_object_found_old(monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer that finds an object last written over an hour ago writes the same bytes
    again, so its time says "in use" and `fsck --prune` keeps it."""
    store = _bucket()
    digest, _ = store.put_bytes(b"used again")
    now = float(int(time.time()))  # a whole second: the times compared are exact
    monkeypatch.setattr(shared_objects.time, "time", lambda: now)
    _set_time(store, digest, now - REFRESH_AFTER_SECONDS - 1)
    assert store.put_bytes(b"used again") == (digest, len(b"used again"))
    monkeypatch.undo()
    stat = store._stat(object_name(digest))
    assert stat is not None and stat.modified >= now - 60  # written again just now
    assert store.read_bytes(digest).to_pybytes() == b"used again"
    assert store.temporaries() == []


@pytest.mark.parametrize("age", [0.0, 60.0, REFRESH_AFTER_SECONDS])
def test_a_bucket_leaves_a_recent_object_alone(monkeypatch: pytest.MonkeyPatch, age: float):
    """Within the hour a rewrite would cost an upload for nothing: the object stays as is."""
    store = _bucket()
    digest, _ = store.put_bytes(b"used recently")
    now = float(int(time.time()))
    monkeypatch.setattr(shared_objects.time, "time", lambda: now)
    _set_time(store, digest, now - age)
    assert store.put_bytes(b"used recently") == (digest, len(b"used recently"))
    assert store._stat(object_name(digest)).modified == now - age  # type: ignore[union-attr]


@pytest.mark.parametrize("where", ["file", "memory", "memory, a name ending in X"])
def test_files_outside_the_two_letter_folders_are_not_listed(tmp_path: Path, where: str):
    """Only `xx/<name>` files are the store's: a stray file at the root, a folder nested in
    a two-letter folder and what it holds are not listed (nor removed by prune)."""
    url = {
        "file": (tmp_path / "objects").as_uri(),
        "memory": f"memory://segtrail-objects-{uuid.uuid4().hex}/",
        "memory, a name ending in X": f"memory://segtrail-objects-{uuid.uuid4().hex}-X",
    }[where]
    store = FsspecObjectStore(url)
    assert store.url == url
    digest, size = store.put_bytes(b"listed")
    prefix = digest[:2]
    assert prefix != "00"
    store.fs.pipe_file(store._full("README"), b"not an object")
    for folder in (prefix, "00"):  # "00" sorts before any other folder
        store.fs.makedirs(store._full(f"{folder}/nested"), exist_ok=True)
        store.fs.pipe_file(store._full(f"{folder}/nested/deeper.parquet"), b"nested")
        store.fs.makedirs(store._full(f"{folder}/empty-folder"), exist_ok=True)
    empty, _ = store.put_bytes(b"")
    listed = store._list()
    assert sorted((f.name, f.size) for f in listed) == sorted(
        [(object_name(digest), size), (object_name(empty), 0)]
    )
    for found in listed:
        assert found.modified == store._stat(found.name).modified > 0  # type: ignore[union-attr]
    assert sorted(store.listing()[0]) == sorted([digest, empty])


# --- a filesystem that can rename but gives no OS file, under two names (as SFTP or a
# --- bucket backend with aliases would); it lists folders among files, as some backends do


class _TwoNames(MemoryFileSystem):
    protocol = ("segtrail-two", "segtrail-two-alias")
    fail_moves = False
    fail_removals = False

    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        for name in cls.protocol:
            path = path.removeprefix(f"{name}://")
        return MemoryFileSystem._strip_protocol(path)

    def find(self, path, maxdepth=None, withdirs=False, detail=False, **kwargs):
        return super().find(path, maxdepth=maxdepth, withdirs=True, detail=detail, **kwargs)

    def mv(self, path1, path2, **kwargs):
        if self.fail_moves:
            raise OSError("the connection dropped")
        return super().mv(path1, path2, **kwargs)

    def rm_file(self, path):
        if self.fail_removals:
            raise OSError("still no connection")
        return super().rm_file(path)


@pytest.fixture
def two_names() -> Iterator[FsspecObjectStore]:
    import fsspec

    fsspec.register_implementation("segtrail-two", _TwoNames, clobber=True)
    store = FsspecObjectStore(f"segtrail-two://segtrail-objects-{uuid.uuid4().hex}")
    yield store
    _TwoNames.fail_moves = _TwoNames.fail_removals = False


def test_a_renaming_filesystem_without_os_files_writes_through_a_temporary(
    two_names: FsspecObjectStore,
) -> None:
    store = two_names
    assert not store.write_in_place  # it can rename: written to a temporary, then moved
    digest, size = store.put_bytes(b"over the wire")  # no file descriptor to fsync
    assert store.read_bytes(digest).to_pybytes() == b"over the wire"
    assert store.temporaries() == []
    # its location is a URL under its first name, which fsspec opens
    assert store.location(digest) == f"segtrail-two://{store.root}/{object_name(digest)}"
    store.fs.makedirs(store._full(f"{digest[:2]}/folder"), exist_ok=True)
    assert [(f.name, f.size) for f in store._list()] == [(object_name(digest), size)]


def test_a_failed_move_leaves_no_temporary_and_says_why(two_names: FsspecObjectStore) -> None:
    store = two_names
    _TwoNames.fail_moves = True
    with pytest.raises(OSError, match=r"^the connection dropped$"):
        store.put_bytes(b"never arrives")
    assert store.temporaries() == [] and store._list() == []


def test_a_root_that_cannot_be_made_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_bytes(b"")
    url = (tmp_path / "a-file" / "objects").as_uri()
    with pytest.raises(SegtrailError) as caught:
        FsspecObjectStore(url).check()
    message = str(caught.value)
    assert message.startswith(f"cannot use --objects {url!r}: ") and "\n" not in message


def test_a_failed_clean_up_does_not_hide_why_the_write_failed(
    two_names: FsspecObjectStore,
) -> None:
    _TwoNames.fail_moves = _TwoNames.fail_removals = True
    with pytest.raises(OSError, match=r"^the connection dropped$"):
        two_names.put_bytes(b"never arrives")
    _TwoNames.fail_removals = False
    (leftover,) = two_names.temporaries()  # left for fsck, under the name it recognises
    assert leftover.name.startswith(f"{hashlib.sha256(b'never arrives').hexdigest()[:2]}/.tmp-")


def test_a_write_to_a_mount_is_synced_before_it_is_moved_into_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FsspecObjectStore((tmp_path / "objects").as_uri())
    target = store.root + "/" + object_name(hashlib.sha256(b"durable").hexdigest())
    synced: list[tuple[str, bool]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append((os.readlink(f"/proc/self/fd/{fd}"), os.path.exists(target)))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    store.put_bytes(b"durable")
    ((path, placed),) = [s for s in synced if ".tmp-" in s[0]]
    assert Path(path).parent == Path(target).parent and not placed
    assert Path(target).read_bytes() == b"durable"


def test_a_mount_that_refuses_fsync_still_takes_the_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some network and FUSE mounts answer fsync with EINVAL: the bytes are written anyway."""

    def refused(fd: int) -> None:
        raise OSError(errno.EINVAL, "Invalid argument")

    store = FsspecObjectStore((tmp_path / "objects").as_uri())
    monkeypatch.setattr(os, "fsync", refused)
    digest, _ = store.put_bytes(b"on a fuse mount")
    monkeypatch.undo()
    assert store.read_bytes(digest).to_pybytes() == b"on a fuse mount"
    assert store.temporaries() == []


class _TwoNamedBucket(_TwoNames):
    """A bucket backend known under two names, as s3fs is (s3, s3a)."""

    protocol = ("segtrail-bucket", "s3a")


def test_a_bucket_known_under_two_names_is_written_in_place() -> None:
    import fsspec

    fsspec.register_implementation("segtrail-bucket", _TwoNamedBucket, clobber=True)
    store = FsspecObjectStore(f"segtrail-bucket://segtrail-objects-{uuid.uuid4().hex}")
    _TwoNamedBucket.fail_moves = True  # a bucket's move is a copy: never used to write
    try:
        digest, _ = store.put_bytes(b"uploaded whole")
    finally:
        _TwoNamedBucket.fail_moves = False
    assert store.read_bytes(digest).to_pybytes() == b"uploaded whole"
    assert store.location(digest).startswith("segtrail-bucket:///segtrail-objects-")


def test_a_mount_keeps_an_object_marked_used_just_before_it_is_set_aside(
    tmp_path: Path,
) -> None:
    """On a mount a move keeps the file's time: a writer that marks the object used after
    it was judged, even at the last moment before the move, has it kept."""

    class LastMoment(FsspecObjectStore):
        def _rename(self, name: str, new_name: str) -> None:
            if ".tmp-removing-" in new_name:
                self._refresh(name)  # a writer found it, just now
            super()._rename(name, new_name)

    store = LastMoment((tmp_path / "objects").as_uri())
    digest, _ = store.put_bytes(b"found at the last moment")
    judged = store._stat(object_name(digest)).modified  # type: ignore[union-attr]
    assert store.remove_unused({digest: judged}, lambda _d: set()) == []
    assert store.read_bytes(digest).to_pybytes() == b"found at the last moment"
