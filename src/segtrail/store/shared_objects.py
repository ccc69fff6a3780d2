"""Objects on shared storage through fsspec: a team's mount (`file:///mnt/team/objects`), a
bucket (`s3://bucket/prefix` once the matching fsspec backend, e.g. s3fs, is installed), or
`memory://` in tests. Same layout and names as the local folder.

Atomic writes: where the filesystem can rename (a folder, a mount, SFTP) the bytes go to a
`.tmp-` name and are moved into place. Object stores (buckets) make a single upload visible
whole or not at all, and their "rename" is a copy, so there the object is written directly.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from segtrail.errors import SegtrailError
from segtrail.store.objects import (
    REFRESH_AFTER_SECONDS,
    TMP_PREFIX,
    ObjectStore,
    StoredFile,
    mark_used,
    object_name,
)

# Protocols whose single write is atomic and whose rename is a copy: write in place.
OBJECT_STORE_PROTOCOLS = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "memory", "oss"}


class FsspecObjectStore(ObjectStore):
    def __init__(self, url: str) -> None:
        super().__init__()
        import fsspec
        from fsspec.core import url_to_fs

        self.url = url
        try:
            self.fs, root = url_to_fs(url)
        except (ImportError, ValueError) as e:  # unknown scheme, backend not installed
            raise SegtrailError(f"cannot use objects URL {url!r}: {e}") from None
        self.root = root.rstrip("/")
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        self.write_in_place = bool(OBJECT_STORE_PROTOCOLS & set(protocols))
        self.rename_keeps_time = not self.write_in_place
        self._local = isinstance(self.fs, fsspec.implementations.local.LocalFileSystem)

    def check(self) -> None:
        """Make sure the root exists and can be listed (before a workspace is created)."""
        try:
            self.fs.makedirs(self.root, exist_ok=True)
            self.fs.ls(self.root)
        except (OSError, ValueError, NotImplementedError) as e:
            raise SegtrailError(f"cannot use --objects {self.url!r}: {e}") from None

    def _full(self, name: str) -> str:
        return f"{self.root}/{name}"

    def location(self, digest: str) -> str:
        full = self._full(object_name(digest))
        if self._local:
            return full
        protocol = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
        return f"{protocol}://{full}"

    def _create(self, name: str, data: memoryview) -> float | None:
        target = self._full(name)
        parent = target.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        if self.write_in_place:
            self.fs.pipe_file(target, bytes(data))
            return None  # a bucket cannot say whether another writer made it first
        tmp = f"{parent}/{TMP_PREFIX}{uuid.uuid4().hex}"
        try:
            with self.fs.open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                with contextlib.suppress(AttributeError, OSError, ValueError, TypeError):
                    os.fsync(f.fileno())  # a real file under a mount: make it durable
            self.fs.mv(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                self.fs.rm_file(tmp)
            raise
        return None  # a move replaces silently: whether another writer came first is unknown

    def _replace(self, name: str, data: memoryview) -> None:
        self._create(name, data)  # a move or an upload replaces what is there

    def _refresh(self, name: str) -> bool:
        target = self._full(name)
        if self._local:  # a mounted folder: mark it used, as the local store does
            return mark_used(Path(self.fs._strip_protocol(target)))
        stat = self._stat(name)
        if stat is None:
            return False
        if time.time() - stat.modified > REFRESH_AFTER_SECONDS:
            # A bucket has no "touch": rewrite the same bytes so its time says "in use".
            data = self.fs.cat_file(target)
            self._create(name, memoryview(data))
        return True

    def _open(self, name: str) -> BinaryIO:
        return self.fs.open(self._full(name), "rb")

    def _size(self, name: str) -> int:
        return int(self.fs.size(self._full(name)))

    def _list(self) -> list[StoredFile]:
        if not self.fs.exists(self.root):
            return []
        found = self.fs.find(self.root, detail=True)
        out = []
        prefix = self.fs._strip_protocol(self.root).rstrip("/") + "/"
        for path, info in sorted(found.items()):
            relative = self.fs._strip_protocol(path).removeprefix(prefix)
            if relative.count("/") != 1 or info.get("type") == "directory":
                continue
            out.append(StoredFile(relative, int(info.get("size") or 0), _modified(info)))
        return out

    def _stat(self, name: str) -> StoredFile | None:
        try:
            info = self.fs.info(self._full(name))
        except FileNotFoundError:
            return None
        return StoredFile(name, int(info.get("size") or 0), _modified(info))

    def _rename(self, name: str, new_name: str) -> None:
        if not self.fs.exists(self._full(name)):
            raise FileNotFoundError(name)
        self.fs.mv(self._full(name), self._full(new_name))

    def _delete(self, name: str) -> None:
        if not self.fs.exists(self._full(name)):
            raise FileNotFoundError(name)
        self.fs.rm_file(self._full(name))


def _modified(info: dict[str, Any]) -> float:
    """A file's modification time from an fsspec info dict, whatever the backend calls it."""
    for key in ("mtime", "LastModified", "last_modified", "updated", "modified", "created"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, int | float):
            return float(value)
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    return 0.0
