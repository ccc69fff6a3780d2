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

# Spark's own log lines would bury segtrail's one-line messages on stderr.
_LOG4J = """rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = spark: %p %c{1}: %m%n
"""


def is_connect(master: str) -> bool:
    return master.startswith("sc://")


def get_session(master: str) -> SparkSession:
    """The process's SparkSession for ``master`` (started on first use: a few seconds)."""
    warnings.filterwarnings("ignore", message=".*pandas >= 3.0.0.*")
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if is_connect(master):
        return SparkSession.builder.remote(master).getOrCreate()
    # The Python workers run this interpreter, so they import the same segtrail.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    log4j = Path(tempfile.gettempdir()) / "segtrail-spark-log4j2.properties"
    if not log4j.exists():
        log4j.write_text(_LOG4J)
    builder = (
        SparkSession.builder.master(master)
        .appName("segtrail")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", DRIVER_MEMORY)
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log4j}")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(ARROW_BATCH_ROWS))
        # a dataset object is one file; keep its row order in the assignments
        .config("spark.sql.files.openCostInBytes", str(4 << 20))
    )
    if master.startswith("local"):
        builder = builder.config("spark.sql.shuffle.partitions", str(LOCAL_SHUFFLE_PARTITIONS))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
