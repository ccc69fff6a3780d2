"""faiss as the density methods use it: ``from segtrail.engine.algorithms.faiss_import import
faiss``. Two settings of the library, each made once, at import:

- **Its own OpenBLAS on this processor's kernels.** faiss's wheels bundle an OpenBLAS
  (0.3.15 in faiss-cpu 1.x) that does not recognise recent processors (the Sapphire Rapids
  Xeons of our machines) and then falls back to its oldest kernels (Prescott, SSE3); the
  index's cell search is a matrix product in that library, about twice as slow there.
  ``OPENBLAS_CORETYPE``, OpenBLAS's documented override, is read once, when the library
  loads. It is set only around faiss's import, only when the user has not set it, and only
  to kernels whose instructions the processor reports (Linux's /proc/cpuinfo); otherwise
  OpenBLAS detects as it always does. numpy's and SciPy's own OpenBLAS are newer, already
  loaded and not affected.
- **No Python interrupt check inside a search.** faiss's Python module installs a callback
  that a search calls every few hundred queries to look for Ctrl-C; it takes the GIL each
  time. While the bootstrap refits (Python) ran beside the placement, each block of 50,000
  customers waited for the GIL about half its time (0.75 s a block instead of 0.35, measured
  on the bench's 1M); without the check, 0.17 s. The check never served there anyway:
  Python handles signals on the main thread only, and a fit's blocks are searched on others.
  A search on the main thread (placing new customers: `segtrail assign`) is not interrupted
  by Ctrl-C any more; it is handled when the search returns, a few seconds for a million.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from types import ModuleType

# OpenBLAS's kernel sets for x86-64, best first, with the instructions each needs
KERNELS = (
    ("SkylakeX", {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}),
    ("Haswell", {"avx2", "fma"}),
)


def kernels_for(flags: set[str]) -> str | None:
    """The best OpenBLAS kernel set a processor with these instruction flags can run."""
    for name, needs in KERNELS:
        if needs <= flags:
            return name
    return None


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The instruction flags of the first processor in ``cpuinfo`` (empty where there is no
    such file, e.g. macOS, or no x86 flags line, e.g. ARM)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


@contextlib.contextmanager
def openblas_kernels(environ: MutableMapping[str, str], flags: set[str]) -> Iterator[None]:
    """``OPENBLAS_CORETYPE`` in ``environ`` set to the kernels for ``flags`` while the block
    runs, then removed; nothing is changed when the user set it or no kernel set fits."""
    chosen = None if "OPENBLAS_CORETYPE" in environ else kernels_for(flags)
    if chosen is not None:
        environ["OPENBLAS_CORETYPE"] = chosen
    try:
        yield
    finally:
        if chosen is not None:
            del environ["OPENBLAS_CORETYPE"]


def _import_faiss() -> ModuleType:
    with openblas_kernels(os.environ, cpu_flags()):  # only faiss's library loads meanwhile
        import faiss
    faiss.InterruptCallback.clear_instance()
    return faiss


faiss = _import_faiss()
