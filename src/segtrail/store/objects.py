"""Immutable, content-addressed data objects (Parquet files named by their SHA-256).

`ObjectStore` is the interface the services use; it holds everything that does not depend on
where the bytes live: encoding, hashing, verified reads, the recent-reads cache, fitted-state
arrays and the careful removal of unused objects. Two places implement its few file
primitives: `LocalObjectStore` (a folder on this machine, the default `.segtrail/objects`) and
`FsspecObjectStore` (store/shared_objects.py: any fsspec URL, a team's shared mount or bucket).

Writes are atomic: the bytes go to a temporary name (`.tmp-...`, which fsck recognises) and
are moved into place, so a reader sees the whole object or nothing. Content addressing makes
concurrent writers of the same object harmless: they write the same bytes.

Every read re-hashes the bytes it parses (once, while reading them) and raises `Damaged` when
they no longer match the name, so a corrupted object is never served as data.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from segtrail.atomic import FILE_MODE, atomic_write
from segtrail.errors import Damaged, SegtrailError

# Arrow is imported by the methods that encode or decode tables: every command opens the
# object store, and read commands that only look at metadata (`show`, `log`) never need it.
if TYPE_CHECKING:
    import pyarrow as pa

SUFFIX = ".parquet"
TMP_PREFIX = ".tmp-"  # every temporary name starts with it; fsck and prune rely on that
RECENT_READS = 4  # Arrow tables kept by ObjectStore.read_table (immutable, so safe)
CHUNK = 1 << 22  # bytes hashed per step while reading: stays in the CPU cache
# Writers that find an object already there mark it as just used, so `fsck --prune` (which
# keeps anything used within its grace period) never removes an object a running command is
# about to record. Where marking costs a rewrite (buckets), it is done at most this often.
REFRESH_AFTER_SECONDS = 3600.0
MARK_STEP_NS = 2_000_000_000  # FAT keeps modification times in 2-second steps
KINDS = {  # what the metadata calls an object -> how a message names it
    "dataset": "a dataset",
    "assignments": "a segmentation's assignments",
    "fitted-state": "a segmentation's fitted state",
    "campaign": "a campaign",
    "audience": "a lookalike audience",
}


@dataclass(frozen=True)
class StoredFile:
    """One file of the store: `name` relative to its root ("ab/abcd....parquet")."""

    name: str
    size: int
    modified: float  # POSIX seconds


def object_name(digest: str) -> str:
    return f"{digest[:2]}/{digest}{SUFFIX}"


def digest_of(name: str) -> str | None:
    """The digest an object file is named by, or None for anything else (temporaries)."""
    base = name.rsplit("/", 1)[-1]
    if not base.endswith(SUFFIX) or base.startswith("."):
        return None
    return base.removesuffix(SUFFIX)


def is_temporary(name: str) -> bool:
    return name.rsplit("/", 1)[-1].startswith(TMP_PREFIX)


class ObjectStore(ABC):
    """Content-addressed objects. Subclasses implement the file primitives below."""

    url: str
    rename_keeps_time = True  # False where a move is a copy (buckets): a new timestamp

    def __init__(self) -> None:
        self._recent: dict[tuple[str, tuple[str, ...] | None], pa.Table] = {}
        # Objects this store created itself (not found already there), with their
        # modification time: what a failing command may take back (`discard`).
        self.fresh: dict[str, float] = {}
        # Optional: digest -> what the metadata says the object is ("assignments"), used
        # only to name a damaged object in its error message.
        self.describe: Callable[[str], str | None] | None = None

    # --- primitives ----------------------------------------------------------------------

    @abstractmethod
    def _create(self, name: str, data: memoryview) -> float | None:
        """Atomically make `name` hold `data`. Returns its modification time when this call
        created it, None when it was already there (or when that cannot be told)."""

    @abstractmethod
    def _replace(self, name: str, data: memoryview) -> None:
        """Atomically overwrite `name` with `data` (whether or not it exists)."""

    @abstractmethod
    def _refresh(self, name: str) -> bool:
        """Mark an existing file as just used; False when it does not exist."""

    @abstractmethod
    def _open(self, name: str) -> BinaryIO:
        """Open for reading; FileNotFoundError when missing."""

    @abstractmethod
    def _size(self, name: str) -> int:
        """The size in bytes; FileNotFoundError when missing."""

    @abstractmethod
    def _list(self) -> list[StoredFile]:
        """Every file under the root (objects and temporaries)."""

    @abstractmethod
    def _stat(self, name: str) -> StoredFile | None: ...

    @abstractmethod
    def _rename(self, name: str, new_name: str) -> None: ...

    @abstractmethod
    def _delete(self, name: str) -> None: ...

    # --- writing -------------------------------------------------------------------------

    def put_table(self, table: pa.Table, *, dictionary: list[str] | None = None) -> tuple[str, int]:
        """Store a table; returns (sha256, size in bytes). Idempotent for identical bytes."""
        return self.put_bytes(encode_table(table, dictionary))

    def put_bytes(self, data: bytes | pa.Buffer) -> tuple[str, int]:
        view = memoryview(data)
        digest = hashlib.sha256(view).hexdigest()
        name = object_name(digest)
        if self._refresh(name):
            if not self._intact(digest, len(view)):
                # A damaged copy (a failing disk) would make the new record point at bad
                # bytes: the caller holds the right ones, so they replace it.
                self._replace(name, view)
            return digest, len(view)
        created = self._create(name, view)
        if created is not None:
            self.fresh[digest] = created
        return digest, len(view)

    def put_stream(self, write: Callable[[BinaryIO], None]) -> tuple[str, int]:
        """Store what `write(file)` writes (ingest streams a dataset this way). Here the
        bytes are spooled to a local temporary file and stored whole: a shared store uploads
        whole objects anyway. `LocalObjectStore` moves the file into place instead.
        Returns (sha256, size in bytes)."""
        with tempfile.TemporaryFile() as spool:
            write(_HashingWriter(spool))
            spool.seek(0)
            return self.put_bytes(spool.read())

    def _intact(self, digest: str, size: int) -> bool:
        stat = self._stat(object_name(digest))
        try:
            return stat is not None and stat.size == size and self.hash_of(digest) == digest
        except FileNotFoundError:
            return False

    def put_arrays(self, arrays: dict[str, np.ndarray]) -> tuple[str, int]:
        """Store named numpy arrays (fitted state) as a plain Parquet table: name, dtype,
        shape, raw bytes. Safe to load: no pickles, nothing executes."""
        names = sorted(arrays)
        # asarray, not ascontiguousarray: the latter turns a 0-d array into shape (1,).
        values = [np.asarray(arrays[n], order="C") for n in names]
        for name, value in zip(names, values, strict=True):
            # Object arrays would store memory addresses; a structured dtype's fields would
            # not survive `dtype.str`. Neither is needed for fitted state.
            if value.dtype.hasobject or np.dtype(value.dtype.str) != value.dtype:
                raise SegtrailError(f"array {name!r}: cannot store dtype {value.dtype} safely")
        import pyarrow as pa

        table = pa.table(
            {
                "name": pa.array(names, pa.string()),
                "dtype": pa.array([v.dtype.str for v in values], pa.string()),
                "shape": pa.array([list(v.shape) for v in values], pa.list_(pa.int64())),
                "data": pa.array([v.tobytes() for v in values], pa.large_binary()),
            }
        )
        return self.put_table(table)

    # --- reading -------------------------------------------------------------------------

    def read_bytes(self, digest: str) -> pa.Buffer:
        """The object's bytes, read once and hashed while reading; `Damaged` when they do
        not match the name."""
        name = object_name(digest)
        try:
            with self._open(name) as f:
                try:
                    size = os.fstat(f.fileno()).st_size
                except (OSError, AttributeError, ValueError):  # not a real file (a bucket)
                    size = self._size(name)
                buffer = bytearray(size)
                view = memoryview(buffer)
                hasher = hashlib.sha256()
                filled = 0
                while filled < size:
                    n = f.readinto(view[filled : filled + CHUNK])
                    if not n:
                        break
                    hasher.update(view[filled : filled + n])
                    filled += n
                extra = f.read(1)  # grew since fstat: hash it too, so the mismatch shows
                if extra:
                    hasher.update(extra)
        except FileNotFoundError:
            raise Damaged(
                f"object {digest[:12]}{self._what(digest)} is missing from the object store "
                f"({self.url}); run `segtrail fsck`"
            ) from None
        if filled < size or extra or hasher.hexdigest() != digest:
            raise self._damaged(digest)
        import pyarrow as pa

        return pa.py_buffer(buffer)

    def read_table(self, digest: str, columns: list[str] | None = None) -> pa.Table:
        """Read an object (or some of its columns), verified. Objects never change, so the
        last few reads are kept: a command that looks at one version several times (why,
        report, compare) decodes and verifies its assignments once."""
        key = (digest, tuple(columns) if columns is not None else None)
        if key in self._recent:
            self._recent[key] = self._recent.pop(key)  # most recently used goes last
            return self._recent[key]
        import pyarrow as pa
        import pyarrow.parquet as pq

        buffer = self.read_bytes(digest)
        try:
            table = pq.read_table(pa.BufferReader(buffer), columns=columns)
        except (pa.ArrowInvalid, OSError) as e:
            # The bytes match their hash, so the object was written this way: not damage
            # on disk but an object that is not a table of these columns.
            raise SegtrailError(f"object {digest[:12]} cannot be read as a table: {e}") from None
        self._recent[key] = table
        if len(self._recent) > RECENT_READS:
            self._recent.pop(next(iter(self._recent)))  # the least recently used
        return table

    def read_arrays(self, digest: str) -> dict[str, np.ndarray]:
        table = self.read_table(digest).to_pydict()
        out = {}
        for name, dtype, shape, data in zip(
            table["name"], table["dtype"], table["shape"], table["data"], strict=True
        ):
            if np.dtype(dtype).hasobject:
                raise SegtrailError(f"object {digest[:12]}: refusing an object-dtype array")
            out[name] = np.frombuffer(data, dtype=np.dtype(dtype)).reshape(shape).copy()
        return out

    def location(self, digest: str) -> str:
        """Where a reader outside segtrail (Spark) finds the object's Parquet file: a local
        path, or a URL of the store's scheme. Such a reader does not verify the hash; `fsck`
        does."""
        raise NotImplementedError

    def hash_of(self, digest: str) -> str:
        """Re-hash a stored object, streamed (for fsck: nothing is kept in memory)."""
        with self._open(object_name(digest)) as f:
            return sha256_stream(f)

    # --- listing and removal -------------------------------------------------------------

    def listing(self) -> tuple[dict[str, StoredFile], list[StoredFile]]:
        """(objects by digest, stray temporaries), from one listing of the store."""
        objects: dict[str, StoredFile] = {}
        temporaries: list[StoredFile] = []
        for stored in self._list():
            digest = digest_of(stored.name)
            if digest is not None:
                objects[digest] = stored
            elif is_temporary(stored.name):
                temporaries.append(stored)
        return objects, sorted(temporaries, key=lambda s: s.name)

    def temporaries(self) -> list[StoredFile]:
        return self.listing()[1]

    def remove_unused(
        self,
        candidates: dict[str, float],
        referenced: Callable[[Iterable[str]], set[str]],
    ) -> list[str]:
        """Remove objects no record uses. `candidates` maps each digest to the modification
        time it had when judged unused; `referenced(digests)` asks the metadata, afresh,
        which of them a record now uses. Returns the digests removed.

        Safe against a writer running meanwhile: each candidate is first moved aside (so a
        writer arriving now finds nothing and writes it anew); then one that a writer marked
        as used since it was judged (a newer modification time) or that a record now uses is
        moved back, and the rest are deleted."""
        aside: dict[str, str] = {}
        for digest in sorted(candidates):
            if not self.rename_keeps_time:  # judge "touched" now: the move will reset it
                stat = self._stat(object_name(digest))
                if stat is None or stat.modified > candidates[digest]:
                    continue
            tombstone = f"{digest[:2]}/{TMP_PREFIX}removing-{digest}"
            try:
                self._rename(object_name(digest), tombstone)
            except FileNotFoundError:
                continue
            aside[digest] = tombstone
        if not aside:
            return []
        try:
            now_used = referenced(aside)
        except BaseException:
            for digest, tombstone in aside.items():
                self._restore(digest, tombstone)
            raise
        removed = []
        for digest, tombstone in aside.items():
            stat = self._stat(tombstone)
            touched = stat is None or (
                self.rename_keeps_time and stat.modified > candidates[digest]
            )
            if digest in now_used or touched:
                self._restore(digest, tombstone)
            else:
                self._delete(tombstone)
                removed.append(digest)
                self.fresh.pop(digest, None)
        return removed

    def remove_temporary(self, stored: StoredFile) -> bool:
        try:
            self._delete(stored.name)
        except FileNotFoundError:
            return False
        return True

    def _restore(self, digest: str, tombstone: str) -> None:
        name = object_name(digest)
        if self._stat(name) is not None:  # a writer made it again meanwhile: same bytes
            self._delete(tombstone)
        else:
            self._rename(tombstone, name)

    # --- messages ------------------------------------------------------------------------

    def _what(self, digest: str) -> str:
        kind = None
        if self.describe is not None:
            try:
                kind = self.describe(digest)
            except Exception:  # naming is a courtesy; never hide the real error behind it
                kind = None
        return f" ({KINDS.get(kind, kind)})" if kind else ""

    def _damaged(self, digest: str) -> Damaged:
        return Damaged(
            f"object {digest[:12]}{self._what(digest)} is damaged: its content no longer "
            "matches its hash; nothing was done. Run `segtrail fsck`"
        )


class LocalObjectStore(ObjectStore):
    """Objects in a folder on this machine: `root/ab/abcd....parquet`."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = Path(root)
        self.url = str(self.root)

    def path(self, digest: str) -> Path:
        return self.root / object_name(digest)

    def location(self, digest: str) -> str:
        return str(self.path(digest))

    def _create(self, name: str, data: memoryview) -> float | None:
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=target.parent)
        try:
            # mkstemp makes the file owner-only (0600); give it the mode of any new file,
            # so a teammate sharing the folder can read it.
            os.fchmod(fd, FILE_MODE)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
                # Taken before the object is visible: a writer that finds it later marks it
                # used with a newer time, which is how a take-back (`remove_unused`) sees it.
                written = os.fstat(f.fileno()).st_mtime
            try:
                # A hard link, not a rename: it fails when the object is already there, so
                # exactly one writer creates it and knows it did (see `fresh`), as git does.
                os.link(tmp, target)
                created: float | None = written
            except FileExistsError:
                self._refresh(name)
                created = None
            except OSError:  # a filesystem without hard links: rename, creator unknown
                os.replace(tmp, target)
                created = None
        finally:
            Path(tmp).unlink(missing_ok=True)
        _fsync_dir(target.parent)
        return created

    def put_stream(self, write: Callable[[BinaryIO], None]) -> tuple[str, int]:
        """Store what `write(file)` writes without holding it in memory: the bytes go to a
        temporary file and are hashed as they pass; then the file is linked into place under
        its content address (see `_create`). If `write` raises, nothing is stored."""
        # A two-letter folder that is never a digest prefix: fsck and prune see leftovers
        # there, and no object listing does.
        folder = self.root / "tm"
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=folder)
        try:
            os.fchmod(fd, FILE_MODE)
            with os.fdopen(fd, "wb") as f:
                hashing = _HashingWriter(f)
                write(hashing)
                f.flush()
                os.fsync(f.fileno())
                written = os.fstat(f.fileno()).st_mtime
            digest, size = hashing.digest.hexdigest(), hashing.size
            name = object_name(digest)
            target = self.root / name
            if self._refresh(name):
                if not self._intact(digest, size):
                    os.replace(tmp, target)  # a damaged copy: the fresh bytes replace it
                return digest, size
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(tmp, target)
                self.fresh[digest] = written
            except FileExistsError:
                self._refresh(name)
            except OSError:  # a filesystem without hard links
                os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
        _fsync_dir(target.parent)
        return digest, size

    def _replace(self, name: str, data: memoryview) -> None:
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, data, prefix=TMP_PREFIX)
        _fsync_dir(target.parent)

    def _refresh(self, name: str) -> bool:
        return mark_used(self.root / name)

    def _open(self, name: str) -> BinaryIO:
        return (self.root / name).open("rb")

    def _size(self, name: str) -> int:
        return (self.root / name).stat().st_size

    def _list(self) -> list[StoredFile]:
        if not self.root.is_dir():
            return []
        out = []
        for path in sorted(self.root.glob("??/*")):
            try:
                stat = path.stat()
            except FileNotFoundError:  # moved or removed since the listing (a prune)
                continue
            out.append(StoredFile(f"{path.parent.name}/{path.name}", stat.st_size, stat.st_mtime))
        return out

    def _stat(self, name: str) -> StoredFile | None:
        try:
            stat = (self.root / name).stat()
        except FileNotFoundError:
            return None
        return StoredFile(name, stat.st_size, stat.st_mtime)

    def _rename(self, name: str, new_name: str) -> None:
        os.rename(self.root / name, self.root / new_name)

    def _delete(self, name: str) -> None:
        (self.root / name).unlink()


def mark_used(path: Path) -> bool:
    """Set a file's modification time to now, and always later than it was: filesystems
    that keep whole seconds (or two) would otherwise hide a mark made within the same second
    as the write. False when the file does not exist."""
    try:
        before = path.stat().st_mtime_ns
        stamp = max(time.time_ns(), before + MARK_STEP_NS)
        os.utime(path, ns=(stamp, stamp))
    except FileNotFoundError:
        return False
    return True


class _HashingWriter:
    """A write-only file that hashes and counts the bytes on their way to `file`."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.digest = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.file.write(data)

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.file.flush()

    def close(self) -> None:  # the store closes the real file after `write` returns
        self.closed = True


def open_object_store(url: str | None, default_root: Path) -> ObjectStore:
    """The store a workspace's config names: a URL with a scheme goes through fsspec
    (`file:///mnt/team/objects`, `s3://bucket/prefix`, `memory://...`); a plain path, or
    nothing (the workspace's own `.segtrail/objects`), is a local folder."""
    if not url:
        return LocalObjectStore(default_root)
    if "://" in url:
        from segtrail.store.shared_objects import FsspecObjectStore

        return FsspecObjectStore(url)
    return LocalObjectStore(Path(url))


def check_objects_url(url: str) -> str:
    """Refuse an objects URL that cannot be used (unknown scheme, backend not installed,
    folder cannot be made) before a workspace is created; returns it normalised (a plain
    path made absolute)."""
    if "://" not in url:
        path = Path(url).expanduser().resolve()
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise SegtrailError(f"cannot use --objects {url!r}: {e.strerror or e}") from None
        return str(path)
    from segtrail.store.shared_objects import FsspecObjectStore

    FsspecObjectStore(url).check()
    return url


def encode_table(table: pa.Table, dictionary: list[str] | None = None) -> pa.Buffer:
    """Parquet bytes of a table (snappy). `dictionary` names the columns worth dictionary
    encoding (categories); by default Arrow tries it on every column, which costs a third of
    the write on wide numeric tables and gains nothing there."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(
        table, sink, compression="snappy", use_dictionary=True if dictionary is None else dictionary
    )
    return sink.getvalue()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_stream(f: BinaryIO) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: f.read(CHUNK), b""):
        digest.update(block)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    with Path(path).open("rb") as f:
        return sha256_stream(f)
