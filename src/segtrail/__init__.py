"""segtrail: segment customers and keep the thread from every tactic to its hypothesis."""

# The single source of the version (pyproject.toml reads it from here); a literal, because
# importlib.metadata costs 30 ms at every command's start.
__version__ = "0.1.0"

import os as _os
import sys as _sys

# Arrow's default allocator, mimalloc, asks the kernel for huge pages; where transparent huge
# pages are given on request ("madvise", most Linux distributions' default), each fresh 2 MB
# page then costs a fault that zeroes and compacts memory. Measured on 1M x 23: reading the
# dataset into pandas 1.8 s (1.6 s of it in the kernel) against 0.9 s with jemalloc, and
# `segment --algorithm dbscan` 17.5 against 14.4 CPU seconds. Set before Arrow is imported
# (it reads the variable once); a pool the user chose wins; other systems keep Arrow's default
# (their wheels may lack jemalloc, and Arrow would warn).
if _sys.platform == "linux":
    _os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")

__all__ = ["Workspace", "__version__"]


def __getattr__(name: str):
    # Lazy import keeps `import segtrail` cheap for the CLI's start-up.
    if name == "Workspace":
        from segtrail.services.workspace import Workspace

        return Workspace
    raise AttributeError(name)
