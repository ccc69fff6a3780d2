"""The layers of the architecture, checked on the source: imports point down.

    interfaces  cli/, web/, report/ (and the Python API, services/workspace.py)
    services    services/
    compute     compute/ (local or Spark)
    engine      engine/        store   store/

The engine never touches the store and the store never imports the engine; only the store
speaks SQL (SQLAlchemy), so concurrency and conflicts are settled in one place.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "segtrail"

# package -> the segtrail packages its modules may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "engine": {"errors"},
    # where compute runs (local or Spark): the pure engine plus I/O of its own (Spark reads
    # the Parquet object whose location the service passes); never the store
    "compute": {"errors", "engine"},
    "store": {"errors"},
    "readers": {"errors", "engine"},
    "stream_ingest": {"errors", "engine", "readers"},  # the readers' batch-by-batch ingest
    "services": {"errors", "engine", "compute", "store", "readers", "stream_ingest"},
    "report": {"errors", "engine", "services", "readers"},
    # `segtrail serve` starts the web server: the one command that imports the web layer
    "cli": {"errors", "engine", "services", "report", "readers", "web"},
    "web": {"errors", "engine", "services", "report", "readers"},
}
# The Python API facade is an interface that lives beside the services it calls.
FACADES = {"services/workspace.py": {"report"}}
SQL_PACKAGES = ("sqlalchemy", "alembic", "psycopg", "psycopg2")
# Who may speak SQL: the metadata store, and the reader of a user's SQL source.
SQL_SPEAKERS = {"store"}
# Top-level modules that every layer may use: they import nothing of ours.
NEUTRAL = {"errors", "atomic"}


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def _package(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_down(path: Path) -> None:
    package = _package(path)
    if package not in ALLOWED:
        # errors.py, atomic.py, __init__.py: used by everyone, they import nothing of ours
        # (segtrail/__init__.py's lazy Workspace attribute aside)
        assert package in NEUTRAL | {"__init__"}, f"{path.relative_to(SRC)}: which layer?"
        return
    allowed = ALLOWED[package] | NEUTRAL | {package}
    allowed |= FACADES.get(str(path.relative_to(SRC)), set())
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] == "segtrail" and len(parts) > 1:
            assert parts[1] in allowed or parts[1] == "__init__", (
                f"{path.relative_to(SRC)} imports {name}: {package} may only import "
                f"{sorted(allowed)}"
            )
        if parts[0] in SQL_PACKAGES:
            assert package in SQL_SPEAKERS, (
                f"{path.relative_to(SRC)} imports {name}: only store/ speaks SQL "
                "(the metadata database, and a user's database read by store/sql_source.py)"
            )


def test_the_checker_sees_imports() -> None:
    """The test above would pass vacuously if `_imports` found nothing."""
    store_imports = _imports(SRC / "store" / "metadata.py")
    assert "sqlalchemy" in store_imports
    services_imports = _imports(SRC / "services" / "segmentations.py")
    assert any(n.startswith("segtrail.engine") for n in services_imports)
    assert any(n.startswith("segtrail.store") for n in services_imports)
