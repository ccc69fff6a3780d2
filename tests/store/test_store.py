"""The content-addressed object store: round trips, idempotence, atomic writes, verified
reads, the recent-reads cache and careful removal, on the local folder and through fsspec
(a real second folder via `file://`, and `memory://`)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import hypothesis.extra.numpy as hnp
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segtrail.errors import Damaged, SegtrailError
from segtrail.store.objects import (
    RECENT_READS,
    TMP_PREFIX,
    LocalObjectStore,
    ObjectStore,
    encode_table,
    object_name,
    open_object_store,
    sha256_file,
)
from segtrail.store.shared_objects import FsspecObjectStore

KINDS = ["local", "file-url", "memory"]


def _make_store(kind: str, folder: Path) -> ObjectStore:
    if kind == "local":
        return LocalObjectStore(folder)
    if kind == "file-url":
        return FsspecObjectStore(folder.resolve().as_uri())
    return FsspecObjectStore(f"memory://segtrail-test-{uuid.uuid4().hex}")


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    return _make_store(request.param, tmp_path / "objects")


def _raw(store: ObjectStore, digest: str) -> bytes:
    """The stored bytes, read past the store (no verification)."""
    with store._open(object_name(digest)) as f:
        return f.read()


def _overwrite(store: ObjectStore, digest: str, data: bytes) -> None:
    """Damage an object in place, as a failing disk or a careless hand would."""
    if isinstance(store, LocalObjectStore):
        store.path(digest).write_bytes(data)
    else:
        store.fs.pipe_file(store._full(object_name(digest)), data)


def _flip(store: ObjectStore, digest: str, at: int | None = None) -> None:
    data = bytearray(_raw(store, digest))
    data[len(data) // 2 if at is None else at] ^= 0x01
    _overwrite(store, digest, bytes(data))


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _no_temporaries(store: ObjectStore) -> None:
    assert store.temporaries() == []
    assert not [s for s in store._list() if s.name.split("/")[-1].startswith(".")]


# --- round trips ---------------------------------------------------------------------------


def test_put_and_read_table(store: ObjectStore) -> None:
    table = pa.table({"id": ["a", "b", None], "x": [1.5, None, -2.0], "n": [1, 2, 3]})
    digest, size = store.put_table(table)
    assert hashlib.sha256(_raw(store, digest)).hexdigest() == digest
    assert len(_raw(store, digest)) == size
    assert store.read_table(digest).equals(table)
    assert store.read_table(digest, columns=["x"]).column_names == ["x"]
    objects, temporaries = store.listing()
    assert list(objects) == [digest]
    assert objects[digest].name == f"{digest[:2]}/{digest}.parquet"
    assert objects[digest].size == size
    assert temporaries == []
    assert store.hash_of(digest) == digest
    _no_temporaries(store)


def test_local_layout_and_sha256_file(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    digest, _ = store.put_table(pa.table({"id": [1, 2, 3]}))
    path = store.path(digest)
    assert path == tmp_path / "objects" / digest[:2] / f"{digest}.parquet"
    assert sha256_file(path) == digest
    path.write_bytes(b"something else")
    assert sha256_file(path) == hashlib.sha256(b"something else").hexdigest()


def test_a_file_url_store_writes_into_that_folder(tmp_path: Path) -> None:
    """`file://` goes through fsspec but lands in a real folder with the same layout, so a
    local store over the same folder reads it (and the other way round)."""
    folder = tmp_path / "team" / "objects"
    shared = FsspecObjectStore(folder.as_uri())
    digest, size = shared.put_table(pa.table({"id": ["x", "y"]}))
    assert (folder / digest[:2] / f"{digest}.parquet").stat().st_size == size
    local = LocalObjectStore(folder)
    assert local.read_table(digest).column("id").to_pylist() == ["x", "y"]
    other, _ = local.put_bytes(b"from the local side")
    assert shared.read_bytes(other).to_pybytes() == b"from the local side"


def test_open_object_store_by_url(tmp_path: Path) -> None:
    default = open_object_store(None, tmp_path / "default")
    assert isinstance(default, LocalObjectStore)
    assert default.root == tmp_path / "default"
    assert isinstance(open_object_store(str(tmp_path / "plain"), tmp_path), LocalObjectStore)
    assert isinstance(open_object_store((tmp_path / "u").as_uri(), tmp_path), FsspecObjectStore)
    with pytest.raises(SegtrailError, match="nosuchscheme"):
        open_object_store("nosuchscheme://bucket/x", tmp_path)


def test_objects_get_the_mode_of_any_new_file(tmp_path: Path) -> None:
    """Not mkstemp's owner-only 0600: a teammate sharing the folder must read them."""
    store = LocalObjectStore(tmp_path / "objects")
    digest, _ = store.put_bytes(b"shared")
    plain = tmp_path / "plain"
    plain.write_bytes(b"x")
    assert store.path(digest).stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def test_put_is_idempotent(store: ObjectStore) -> None:
    table = pa.table({"id": list(range(100))})
    first = store.put_table(table)
    second = store.put_table(table)
    assert first == second
    assert store.put_bytes(_raw(store, first[0])) == first
    assert list(store.listing()[0]) == [first[0]]
    other = store.put_table(pa.table({"id": list(range(101))}))
    assert other[0] != first[0]
    assert sorted(store.listing()[0]) == sorted([first[0], other[0]])
    _no_temporaries(store)


def test_a_second_put_marks_the_object_used_without_rewriting_it(tmp_path: Path) -> None:
    """Same file (inode), newer modification time: prune's grace period counts from it."""
    store = LocalObjectStore(tmp_path / "objects")
    digest, _ = store.put_bytes(b"payload")
    path = store.path(digest)
    os.utime(path, (1_000_000, 1_000_000))  # long ago
    inode = path.stat().st_ino
    assert store.put_bytes(b"payload")[0] == digest
    assert path.stat().st_ino == inode
    assert path.stat().st_mtime > 1_000_000


def test_put_bytes_names_objects_by_sha256(store: ObjectStore) -> None:
    data = b"any bytes at all"
    digest, size = store.put_bytes(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert size == len(data)
    assert _raw(store, digest) == data


# Changing this digest is a FORMAT CHANGE: every object written from then on gets a new
# address, so re-importing unchanged data makes a new dataset version instead of "unchanged"
# and identical objects are stored twice. Do it only on purpose, with a migration note in the
# README. Parquet's footer names the writing pyarrow release ("parquet-cpp-arrow version
# X.Y.Z"); that string is replaced before hashing here so that a pyarrow upgrade alone does
# not fail the test (it still changes addresses; see the release notes of such an upgrade).
PINNED_TABLE = pa.table(
    {
        "customer_id": pa.array(["C1", "C2", "C3"], pa.string()),
        "segment": pa.array([0, 1, 0], pa.int32()),
        "confidence": pa.array([0.5, 0.25, 1.0], pa.float32()),
    }
)
PINNED_DIGEST = "fb2a834d3e27fd49e67e03ae3c5e47fdfef89aa534034ed39f30f43e59596dfc"


def _normalized(data: bytes) -> bytes:
    created_by = f"parquet-cpp-arrow version {pa.__version__}".encode()
    assert data.count(created_by) == 1
    return data.replace(created_by, b"parquet-cpp-arrow version X")


def test_the_encoding_of_a_known_table_is_pinned(store: ObjectStore) -> None:
    digest, _ = store.put_table(PINNED_TABLE)
    data = _raw(store, digest)
    assert digest == hashlib.sha256(data).hexdigest()
    assert hashlib.sha256(_normalized(data)).hexdigest() == PINNED_DIGEST
    # The dictionary choice is part of the encoding too.
    plain = encode_table(PINNED_TABLE, dictionary=[]).to_pybytes()
    assert plain != data


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalObjectStore(tmp_path / "objects")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space"):
        store.put_bytes(b"payload")
    assert _files(store.root) == []
    assert store.fresh == {}


KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from segtrail.store.objects import LocalObjectStore

real_fsync = os.fsync
def die(fd):  # the bytes are written, not yet in place: the moment a crash tears things
    os.kill(os.getpid(), signal.SIGKILL)
os.fsync = die
LocalObjectStore(Path(sys.argv[1])).put_bytes(b"half-way" * 1000)
"""


def test_a_write_killed_midway_leaves_only_a_recognisable_temporary(tmp_path: Path) -> None:
    """The leftover put_bytes itself produces is named with the prefix fsck and prune
    recognise, and no object appears."""
    root = tmp_path / "objects"
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(root)], capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    store = LocalObjectStore(root)
    objects, temporaries = store.listing()
    assert objects == {}
    (leftover,) = temporaries
    assert leftover.name.startswith(f"{hashlib.sha256(b'half-way' * 1000).hexdigest()[:2]}/")
    assert leftover.name.split("/")[1].startswith(TMP_PREFIX)
    assert TMP_PREFIX == ".tmp-"  # older releases left such names too; fsck must know them
    assert (root / leftover.name).read_bytes() == b"half-way" * 1000
    assert store.remove_temporary(leftover)
    assert _files(root) == []


# --- verified reads ------------------------------------------------------------------------


def test_reading_a_missing_object_is_a_clear_error(store: ObjectStore) -> None:
    with pytest.raises(Damaged, match=r"object abababababab is missing.*segtrail fsck"):
        store.read_table("ab" * 32)


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_a_flipped_byte_is_never_served(store: ObjectStore, where: str) -> None:
    digest, size = store.put_table(pa.table({"id": [f"C{i}" for i in range(500)]}))
    _flip(store, digest, {"start": 0, "middle": size // 2, "end": size - 1}[where])
    for read in (store.read_table, store.read_bytes, store.read_arrays):
        with pytest.raises(Damaged) as caught:
            read(digest)
        message = str(caught.value)
        assert "\n" not in message
        assert f"object {digest[:12]} is damaged" in message
        assert "segtrail fsck" in message
    assert store.hash_of(digest) != digest  # fsck's streamed hash sees it too


def test_a_truncated_or_grown_object_is_damaged(store: ObjectStore) -> None:
    digest, _ = store.put_bytes(b"0123456789" * 100)
    _overwrite(store, digest, b"0123456789" * 99)
    with pytest.raises(Damaged):
        store.read_bytes(digest)
    _overwrite(store, digest, b"0123456789" * 100 + b"!")
    with pytest.raises(Damaged):
        store.read_bytes(digest)
    _overwrite(store, digest, b"0123456789" * 100)  # repaired: served again
    assert store.read_bytes(digest).to_pybytes() == b"0123456789" * 100


def test_the_damage_message_names_what_the_object_is(store: ObjectStore) -> None:
    digest, _ = store.put_table(pa.table({"customer_id": ["a"], "segment": [0]}))
    store.describe = {digest: "assignments"}.get
    _flip(store, digest)
    with pytest.raises(Damaged, match=rf"object {digest[:12]} \(a segmentation's assignments\)"):
        store.read_table(digest)

    def broken(_digest: str) -> str:
        raise RuntimeError("database gone")

    store.describe = broken  # naming is best effort: the damage is still reported
    with pytest.raises(Damaged, match=rf"object {digest[:12]} is damaged"):
        store.read_table(digest)


# --- the recent-reads cache ----------------------------------------------------------------


def _tables(n: int) -> list[pa.Table]:
    return [pa.table({"id": [f"T{i}"], "n": [i]}) for i in range(n)]


def test_a_repeated_read_is_served_from_memory(store: ObjectStore) -> None:
    digest, _ = store.put_table(_tables(1)[0])
    first = store.read_table(digest)
    _flip(store, digest)  # verified when read; a second read does not go back to the disk
    assert store.read_table(digest) is first
    with pytest.raises(Damaged):  # other columns are another read: verified from the disk
        store.read_table(digest, columns=["n"])


def test_the_cache_is_bounded_and_keeps_the_most_recently_used(store: ObjectStore) -> None:
    tables = _tables(RECENT_READS + 2)
    digests = [store.put_table(t)[0] for t in tables]
    for digest in digests[:RECENT_READS]:
        store.read_table(digest)
    store.read_table(digests[0])  # used again: now the most recent
    store.read_table(digests[RECENT_READS])  # evicts the least recently used: digests[1]
    for digest in digests:
        _flip(store, digest)
    kept = [0, *range(2, RECENT_READS + 1)]
    for i in kept:
        assert store.read_table(digests[i]).equals(tables[i]), i
    for i in (1, RECENT_READS + 1):  # evicted, and never read: both go to the (damaged) disk
        with pytest.raises(Damaged):
            store.read_table(digests[i])


def test_many_reads_keep_only_a_few_tables(store: ObjectStore) -> None:
    """Unbounded growth would keep every table a long command reads."""
    digests = [store.put_table(t)[0] for t in _tables(3 * RECENT_READS)]
    for digest in digests:
        store.read_table(digest)
    for digest in digests:
        _flip(store, digest)
    served = 0
    for digest in reversed(digests):  # newest first, so serving does not evict the rest
        try:
            store.read_table(digest)
            served += 1
        except Damaged:
            pass
    assert served == RECENT_READS


def test_a_damaged_read_is_not_cached(store: ObjectStore) -> None:
    table = _tables(1)[0]
    digest, _ = store.put_table(table)
    good = _raw(store, digest)
    _flip(store, digest)
    with pytest.raises(Damaged):
        store.read_table(digest)
    _overwrite(store, digest, good)
    assert store.read_table(digest).equals(table)


# --- careful removal -----------------------------------------------------------------------


def _modified(store: ObjectStore, digest: str) -> float:
    return store._stat(object_name(digest)).modified


def test_remove_unused_removes_only_what_no_record_uses(store: ObjectStore) -> None:
    unused, _ = store.put_bytes(b"unused")
    recorded, _ = store.put_bytes(b"recorded meanwhile")
    candidates = {d: _modified(store, d) for d in (unused, recorded)}
    asked: list[set[str]] = []

    def referenced(digests: object) -> set[str]:
        asked.append(set(digests))
        return {recorded}

    assert store.remove_unused(candidates, referenced) == [unused]
    assert asked == [{unused, recorded}]
    assert list(store.listing()[0]) == [recorded]
    assert store.read_bytes(recorded).to_pybytes() == b"recorded meanwhile"
    _no_temporaries(store)


def test_remove_unused_keeps_an_object_a_writer_used_after_it_was_judged(
    store: ObjectStore,
) -> None:
    digest, _ = store.put_bytes(b"found by another writer")
    judged = _modified(store, digest) - 10.0  # judged unused before the writer came
    assert store.remove_unused({digest: judged}, lambda digests: set()) == []
    assert store.read_bytes(digest).to_pybytes() == b"found by another writer"
    _no_temporaries(store)


def test_a_store_knows_which_objects_it_created(tmp_path: Path) -> None:
    """Only the writer that created an object may take it back after a failure; a second
    writer of the same bytes marks it used, so the first one's take-back keeps it."""
    first = LocalObjectStore(tmp_path / "objects")
    second = LocalObjectStore(tmp_path / "objects")
    digest, _ = first.put_bytes(b"same bytes")
    assert set(first.fresh) == {digest}
    os.utime(first.path(digest), (first.fresh[digest] - 5,) * 2)
    first.fresh[digest] -= 5
    assert second.put_bytes(b"same bytes")[0] == digest
    assert second.fresh == {}
    assert first.remove_unused(dict(first.fresh), lambda digests: set()) == []
    assert first.path(digest).is_file()
    alone, _ = first.put_bytes(b"nobody else")
    assert first.remove_unused({alone: first.fresh[alone]}, lambda digests: set()) == [alone]
    assert not first.path(alone).exists()
    assert alone not in first.fresh


def test_a_filesystem_without_hard_links_still_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalObjectStore(tmp_path / "objects")

    def no_links(src: str, dst: str) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    digest, _ = store.put_bytes(b"on a share without links")
    assert store.read_bytes(digest).to_pybytes() == b"on a share without links"
    assert store.fresh == {}  # who created it cannot be told: never taken back
    _no_temporaries(store)


# --- fitted state --------------------------------------------------------------------------

# Dtypes fitted state may hold, in both byte orders.
DTYPES = st.sampled_from(
    [
        np.dtype(t)
        for t in [
            "float32",
            "float64",
            ">f8",
            "int8",
            "int32",
            ">i4",
            "int64",
            "uint8",
            "uint16",
            "uint64",
            "bool",
            "complex128",
            "datetime64[ns]",
            "timedelta64[s]",
            "<U6",
            "S4",
        ]
    ]
)
ARRAYS = DTYPES.flatmap(
    lambda dtype: hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0))
)
NAMES = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=8)


@settings(max_examples=40, deadline=None)
@given(arrays=st.dictionaries(NAMES, ARRAYS, min_size=1, max_size=4), fortran=st.booleans())
def test_arrays_round_trip(arrays: dict[str, np.ndarray], fortran: bool, tmp_path_factory) -> None:
    """Reference: the arrays put in (their dtype, shape and C-order bytes)."""
    store = LocalObjectStore(tmp_path_factory.mktemp("objects"))
    if fortran:  # non-contiguous inputs must come back with the same values
        arrays = {k: np.asfortranarray(v) for k, v in arrays.items()}
    digest, _ = store.put_arrays(arrays)
    back = store.read_arrays(digest)
    assert back.keys() == arrays.keys()
    for name, array in arrays.items():
        assert back[name].dtype == array.dtype
        assert back[name].shape == array.shape
        # Bytes, not ==: NaN and NaT must come back too.
        assert np.ascontiguousarray(back[name]).tobytes() == np.ascontiguousarray(array).tobytes()
        assert back[name].flags.writeable
    assert store.put_arrays(arrays)[0] == digest  # same arrays, same object
    _no_temporaries(store)


def test_put_arrays_refuses_object_dtype(tmp_path: Path) -> None:
    """Object arrays would store memory addresses (or need pickles): refuse them."""
    store = LocalObjectStore(tmp_path / "objects")
    with pytest.raises(SegtrailError, match="object"):
        store.put_arrays({"labels": np.array(["a", None], dtype=object)})
    with pytest.raises(SegtrailError):
        store.put_arrays({"record": np.zeros(2, dtype=[("a", "i4"), ("b", "f8")])})
    assert _files(store.root) == []


def test_read_arrays_refuses_object_dtype(tmp_path: Path) -> None:
    """A crafted object (not written by put_arrays) naming an object dtype is refused."""
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
    with pytest.raises(SegtrailError, match="object-dtype"):
        store.read_arrays(digest)


def test_objects_are_plain_parquet(tmp_path: Path) -> None:
    """Fitted state is an inspectable Parquet table, readable without segtrail."""
    store = LocalObjectStore(tmp_path / "objects")
    digest, _ = store.put_arrays({"centers": np.eye(3, dtype=np.float32)})
    table = pq.read_table(store.path(digest))
    assert table.column_names == ["name", "dtype", "shape", "data"]
    assert table["shape"].to_pylist() == [[3, 3]]


def test_marking_used_always_moves_the_time_forward(tmp_path: Path) -> None:
    """Even when the stored time is already at (or past) now, as on a filesystem that keeps
    whole seconds: otherwise a take-back could not tell that another writer came."""
    store = LocalObjectStore(tmp_path / "objects")
    digest, _ = store.put_bytes(b"payload")
    path = store.path(digest)
    ahead = path.stat().st_mtime_ns + 10**9
    os.utime(path, ns=(ahead, ahead))
    store.put_bytes(b"payload")
    assert path.stat().st_mtime_ns > ahead


def test_putting_the_bytes_of_a_damaged_object_repairs_it(store: ObjectStore) -> None:
    """A new record must not point at damaged bytes: re-putting them replaces the copy."""
    table = pa.table({"id": [f"C{i}" for i in range(50)]})
    digest, _ = store.put_table(table)
    _flip(store, digest)
    assert store.put_table(table)[0] == digest
    assert store.read_table(digest).equals(table)
    _overwrite(store, digest, _raw(store, digest)[:-3])  # truncated: repaired as well
    store.put_table(table)
    assert store.hash_of(digest) == digest
    _no_temporaries(store)
