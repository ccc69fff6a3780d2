"""Writing a file so that readers see the old content or the whole new one, never half:
used for data objects, exports and reports alike."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()


def atomic_write(path: Path, data: bytes | memoryview, *, prefix: str | None = None) -> None:
    """Write a file so that readers see the old content or the whole new one, never half:
    a temporary file in the same folder, flushed to disk, then renamed into place."""
    fd, tmp = tempfile.mkstemp(prefix=prefix or f".{path.name}.", dir=path.parent)
    try:
        # mkstemp makes the file owner-only (0600); give it the mode of any new file, so a
        # teammate sharing the folder can read it.
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
