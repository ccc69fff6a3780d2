"""A full disk: one line, exit 2, nothing half-made. Runs on a small tmpfs, which needs
root (mount); elsewhere it is skipped with the reason."""

from __future__ import annotations

import base64
import os
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import Runner, hash_tree


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_ingest_on_a_full_disk(small_disk: Path, tmp_path: Path, run: Runner) -> None:
    assert run("init", small_disk / "ws").code == 0
    noise = base64.b64encode(random.Random(7).randbytes(60_000 * 48)).decode()
    rows = "\n".join(f"C{i:07d},{i % 90},{noise[i * 64 : i * 64 + 64]}" for i in range(60_000))
    big = tmp_path / "big.csv"
    big.write_text("customer_id,age,note\n" + rows + "\n")  # ~4.5 MB that does not compress
    before = hash_tree(small_disk / "ws")
    result = run("ingest", big, "--id", "customer_id", cwd=small_disk / "ws")
    assert result.code == 2, result.err
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    assert "Traceback" not in result.err and "space" in result.err
    assert hash_tree(small_disk / "ws") == before
    assert run("fsck", cwd=small_disk / "ws").code == 0
