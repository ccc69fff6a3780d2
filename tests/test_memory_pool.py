"""segtrail picks Arrow's allocator before Arrow is imported (see segtrail/__init__.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

POOL = "import segtrail, pyarrow; print(pyarrow.default_memory_pool().backend_name)"


def _pool(env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-c", POOL], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and not out.stderr, out.stderr  # no warning from Arrow
    return out.stdout.strip()


@pytest.mark.skipif(sys.platform != "linux", reason="jemalloc is chosen on Linux only")
def test_jemalloc_unless_the_user_chose() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    assert _pool(env) == "jemalloc"
    assert _pool({**env, "ARROW_DEFAULT_MEMORY_POOL": "system"}) == "system"
