"""faiss as the density methods import it (engine/algorithms/faiss_import.py): its bundled
OpenBLAS on the processor's own kernels (the choice from instruction flags, and the library
as really loaded, in fresh processes), and searches that never take the GIL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from segtrail.engine.algorithms.faiss_import import cpu_flags, kernels_for, openblas_kernels

AVX512 = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}

# What a fresh process reports after importing segtrail's faiss: the architecture of the
# OpenBLAS that faiss loaded (threadpoolctl reads it from the library itself) and whether
# OPENBLAS_CORETYPE is still set.
PROBE = """
import json, os
from segtrail.engine.algorithms.faiss_import import faiss
from threadpoolctl import threadpool_info
ours = [i["architecture"] for i in threadpool_info()
        if "faiss" in i["filepath"] and i["internal_api"] == "openblas"]
print(json.dumps({"arch": ours,
                  "env": os.environ.get("OPENBLAS_CORETYPE")}))
"""


def probe(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    clean["PYTHONPATH"] = os.pathsep.join(sys.path)  # this segtrail (a mutation run's too)
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=clean | env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_best_kernels_the_flags_allow() -> None:
    assert kernels_for(AVX512 | {"avx2", "fma", "sse3"}) == "SkylakeX"
    assert kernels_for(AVX512) == "SkylakeX"  # what a kernel set needs is enough
    assert kernels_for({"avx2", "fma"}) == "Haswell"
    assert kernels_for({"avx2", "fma", "avx512f"}) == "Haswell"  # AVX-512 only in part
    assert kernels_for({"avx2", "sse4_2"}) is None  # AVX2 without FMA: OpenBLAS detects
    assert kernels_for(set()) is None


def test_flags_are_read_from_the_first_processor(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(
        "processor\t: 0\nmodel name\t: Xeon\nflags\t\t: fpu sse avx2 fma\n\n"
        "processor\t: 1\nflags\t\t: fpu\n"
    )
    assert cpu_flags(info) == {"fpu", "sse", "avx2", "fma"}
    (tmp_path / "arm").write_text("processor\t: 0\nFeatures\t: fp asimd\n")
    assert cpu_flags(tmp_path / "arm") == set()
    assert cpu_flags(tmp_path / "missing") == set()
    # bytes that are not UTF-8 (a vendor string, say) do not hide the flags
    (tmp_path / "odd").write_bytes(b"model name\t: X\xff\xfe\nflags\t\t: avx2 fma\n")
    assert cpu_flags(tmp_path / "odd") == {"avx2", "fma"}


def test_the_variable_is_set_only_around_the_block_and_only_when_unset() -> None:
    environ = {"PATH": "/bin"}
    with openblas_kernels(environ, AVX512):
        assert environ == {"PATH": "/bin", "OPENBLAS_CORETYPE": "SkylakeX"}
    assert environ == {"PATH": "/bin"}
    with openblas_kernels(environ, {"sse2"}):  # no kernel set fits: OpenBLAS detects
        assert environ == {"PATH": "/bin"}
    users = {"OPENBLAS_CORETYPE": "Zen"}
    with openblas_kernels(users, AVX512):
        assert users == {"OPENBLAS_CORETYPE": "Zen"}
    assert users == {"OPENBLAS_CORETYPE": "Zen"}


def test_the_variable_is_removed_when_the_import_fails() -> None:
    environ: dict[str, str] = {}
    with pytest.raises(ImportError), openblas_kernels(environ, {"avx2", "fma"}):
        assert environ == {"OPENBLAS_CORETYPE": "Haswell"}
        raise ImportError("no faiss")
    assert environ == {}


def test_importing_again_leaves_the_environment_as_found(monkeypatch) -> None:
    """The import's steps, run again in this process (faiss is loaded already: only the
    environment handling and the interrupt setting run): nothing is left behind."""
    from segtrail.engine.algorithms import faiss_import

    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    before = dict(os.environ)
    assert faiss_import._import_faiss() is faiss_import.faiss
    assert dict(os.environ) == before


def test_faiss_openblas_runs_the_kernels_of_this_processor() -> None:
    """On this machine: the kernels the processor's flags allow (the bundled OpenBLAS on its
    own picks its oldest, Prescott, on these Xeons), and the variable is gone afterwards."""
    expected = kernels_for(cpu_flags())
    if expected is None:
        pytest.skip("no AVX2/FMA reported here: OpenBLAS's own detection is kept")
    seen = probe()
    assert seen == {"arch": [expected], "env": None}


def test_a_users_setting_wins() -> None:
    seen = probe(OPENBLAS_CORETYPE="Sandybridge")
    assert seen == {"arch": ["Sandybridge"], "env": "Sandybridge"}


def test_a_search_runs_while_another_thread_holds_the_gil() -> None:
    """faiss's Python interrupt check took the GIL inside a search, so a search waited for
    Python code running on another thread. Here this thread holds the GIL (a sleep inside a
    ctypes call that keeps it) for twice a search's time, once the search has started: the
    search must be done by then, not go on for most of its time after the GIL is free (as it
    did with the check: 1.4 of 2.6 s measured)."""
    import ctypes
    import threading
    import time

    import numpy as np

    from segtrail.engine.algorithms.faiss_import import faiss

    rng = np.random.default_rng(0)
    points = rng.normal(size=(10_000, 16)).astype(np.float32)
    queries = rng.normal(size=(60_000, 16)).astype(np.float32)
    quantizer = faiss.IndexFlatL2(16)
    quantizer.add(points[:100])
    index = faiss.IndexIVFFlat(quantizer, 16, 100)  # an inverted file checks, as nearest's
    index.is_trained = True
    index.add(points)
    index.nprobe = 8
    started = time.perf_counter()
    index.search(queries, 1)
    alone = time.perf_counter() - started

    worker = threading.Thread(target=index.search, args=(queries, 1))
    worker.start()
    time.sleep(0.05)  # the GIL is free: the worker enters the search
    ctypes.PyDLL(None).usleep(int(2 * alone * 1e6))  # PyDLL: the call keeps the GIL
    released = time.perf_counter()
    worker.join()
    assert time.perf_counter() - released < alone / 2, "the search waited for the GIL"
