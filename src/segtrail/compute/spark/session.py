"""One SparkSession per process, configured for segtrail.

Local mode (``local[*]``, ``local[2]``): Spark runs inside one JVM on this machine and its
Python workers are this interpreter (so they import this segtrail). On a cluster
(``spark://``, ``yarn``, ``k8s://``) or through Spark Connect (``sc://``) segtrail must be
installed on the executors, and the workspace's objects must be on storage they can read.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Memory of the driver JVM, which in local mode also runs the tasks. Above this the
# tasks spill to disk rather than grow: the goal is a driver under 2 GB at 20M customers.
DRIVER_MEMORY = os.environ.get("SEGTRAIL_SPARK_DRIVER_MEMORY", "1536m")
ARROW_BATCH_ROWS = 65_536  # rows per Arrow batch between the JVM and the Python workers
LOCAL_SHUFFLE_PARTITIONS = 8  # aggregations here are small (segment x value counts)

# The JVM's own output (start-up banners, log lines) goes to this file, not to the user's
# terminal, where it would bury segtrail's one-line messages; errors still reach Python as
# exceptions.
LOG_FILE = Path(tempfile.gettempdir()) / "segtrail-spark.log"


_SESSION: SparkSession | None = None  # one per process: starting one costs seconds


def is_connect(master: str) -> bool:
    return master.startswith("sc://")


def get_session(master: str) -> SparkSession:
    """The process's SparkSession for ``master`` (started on first use: a few seconds)."""
    # PySpark's notes about pandas versions are not the user's business
    warnings.filterwarnings("ignore", module=r"pyspark(\..*)?")
    warnings.filterwarnings("ignore", message=".*pandas >= 3.0.0.*")

    global _SESSION
    if _SESSION is None:
        _SESSION = _start(master)
    return _SESSION


def _start(master: str) -> SparkSession:
    from pyspark.sql import SparkSession

    if is_connect(master):
        return SparkSession.builder.remote(master).getOrCreate()
    # The Python workers run this interpreter, so they import the same segtrail.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    conf = (
        SparkConf()
        .setMaster(master)
        .setAppName("segtrail")
        .set("spark.ui.enabled", "false")
        .set("spark.ui.showConsoleProgress", "false")
        .set("spark.driver.memory", DRIVER_MEMORY)
        .set("spark.sql.session.timeZone", "UTC")
        .set("spark.sql.execution.arrow.pyspark.enabled", "true")
        .set("spark.sql.execution.arrow.maxRecordsPerBatch", str(ARROW_BATCH_ROWS))
    )
    if master.startswith("local"):
        conf = conf.set("spark.sql.shuffle.partitions", str(LOCAL_SHUFFLE_PARTITIONS))
    with LOG_FILE.open("ab") as log:  # the JVM keeps its own copy of the descriptor
        gateway = launch_gateway(conf, popen_kwargs={"stdout": log, "stderr": log})
    context = SparkContext(conf=conf, gateway=gateway)
    context.setLogLevel("ERROR")
    return SparkSession(context)
