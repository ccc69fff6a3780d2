"""Where compute runs: the local engine (numpy / scikit-learn on one machine) or Apache Spark.

This layer sits between the services and the pure engine: it imports ``segtrail.engine``
and never the store. Spark is imported only when the Spark engine is asked for, so the
command line starts without it.
"""

from __future__ import annotations

import os

from segtrail.compute.base import AssignmentsSource, DatasetSource, Engine, Segmented
from segtrail.errors import InvalidInput

ENGINES = ("local", "spark")
DEFAULT_ENGINE = "local"
DEFAULT_SPARK_MASTER = "local[*]"
SPARK_MASTER_ENV = "SEGTRAIL_SPARK_MASTER"


def check_engine(name: str) -> str:
    if name not in ENGINES:
        raise InvalidInput(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}")
    return name


def spark_master(explicit: str | None = None, configured: str | None = None) -> str:
    """--spark-master, then $SEGTRAIL_SPARK_MASTER, then the workspace's setting, then
    local[*] (every core of this machine)."""
    master = explicit or os.environ.get(SPARK_MASTER_ENV) or configured or DEFAULT_SPARK_MASTER
    if not master.strip():
        raise InvalidInput("the Spark master is empty; give local[*], spark://HOST:PORT or sc://")
    return master.strip()


def get_engine(name: str, master: str | None = None) -> Engine:
    """The engine called ``name`` (``master`` is where Spark runs; ignored by local)."""
    check_engine(name)
    if name == "spark":
        from segtrail.compute.spark import SparkEngine

        return SparkEngine(master or DEFAULT_SPARK_MASTER)
    from segtrail.compute.local import LocalEngine

    return LocalEngine()


__all__ = [
    "DEFAULT_ENGINE",
    "ENGINES",
    "AssignmentsSource",
    "DatasetSource",
    "Engine",
    "Segmented",
    "check_engine",
    "get_engine",
    "spark_master",
]
