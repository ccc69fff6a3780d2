"""`segtrail segment --engine spark` at 3M x 23 against a bare PySpark MLlib script run beside
it in the same local[2] setting, and at 20M x 23 with the driver's peak memory."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from common import BIN, DATA, Figure

MASTER = "local[2]"
DRIVER_MEMORY = "1536m"  # the same for the baseline and segtrail (SEGTRAIL_SPARK_DRIVER_MEMORY)
NUMERIC, CATEGORICAL = 20, 3

BASELINE = """
import sys
from pyspark.ml import Pipeline
from pyspark.ml.clustering import KMeans
from pyspark.ml.feature import OneHotEncoder, StandardScaler, StringIndexer, VectorAssembler
from pyspark.sql import SparkSession

spark = (
    SparkSession.builder.master(sys.argv[3])
    .config("spark.ui.enabled", "false")
    .config("spark.driver.memory", sys.argv[4])
    .config("spark.sql.shuffle.partitions", "8")
    .getOrCreate()
)
df = spark.read.parquet(sys.argv[1])
num = [c for c in df.columns if c.startswith("x")]
cat = [c for c in df.columns if c.startswith("c") and c != "customer_id"]
stages = [
    StringIndexer(inputCols=cat, outputCols=[c + "_i" for c in cat]),
    OneHotEncoder(inputCols=[c + "_i" for c in cat], outputCols=[c + "_v" for c in cat]),
    VectorAssembler(inputCols=num + [c + "_v" for c in cat], outputCol="raw"),
    StandardScaler(inputCol="raw", outputCol="features", withMean=True, withStd=True),
    KMeans(k=8, seed=0, maxIter=300, initMode="k-means||"),
]
model = Pipeline(stages=stages).fit(df)
labels = model.transform(df).select("customer_id", "prediction")
labels.write.mode("overwrite").parquet(sys.argv[2])
spark.stop()
"""

NOTES = (
    "Both sides run Spark in local[2] with the same driver memory on the same machine, one "
    "after the other. The machine has 2 cores shared with about five other sessions running "
    "tests and benchmarks, so absolute seconds are noisy; the ratio is what to compare. "
    "The segtrail run also fits its preprocessing (log1p of skewed columns, rare-level "
    "grouping) on a 200,000-customer sample, measures quality, a 20-fold bootstrap stability "
    "and profiles on that sample, counts every segment in Spark, and records the version "
    "(assignments copied into the content-addressed store, fitted state, metadata). "
    "Peak memory is read from /proc every 0.2 s: the Python driver process, and the Spark "
    "JVM (which in local mode runs the tasks too)."
)


def big_parquet(millions: int) -> str:
    """`millions` x 1M customers (20 numeric + 3 categorical), one million at a time, one
    row group per million: eight planted groups with the same centres throughout."""
    path = DATA / f"spark_customers_{millions}M_{NUMERIC}_{CATEGORICAL}.parquet"
    if path.exists():
        return str(path)
    DATA.mkdir(parents=True, exist_ok=True)
    centres = np.random.default_rng(0).normal(0, 3, size=(8, NUMERIC))
    levels = np.array(["north", "south", "east", "west", "online", "store"])
    partial = path.with_suffix(".partial")
    writer = None
    for part in range(millions):
        rng = np.random.default_rng(part + 1)
        rows = 1_000_000
        group = rng.integers(0, 8, rows)
        ids = np.char.add("C", (np.arange(rows) + part * rows).astype(str))
        columns = {"customer_id": pa.array(ids)}
        for j in range(NUMERIC):
            values = centres[group, j] + rng.normal(0, 1, rows)
            if j % 4 == 0:  # money-like skewed columns
                values = np.round(np.exp(values / 2) * 50, 2)
            columns[f"x{j:02d}"] = pa.array(values)
        for j in range(CATEGORICAL):
            pick = (group + rng.integers(0, 2, rows) + j) % len(levels)
            columns[f"c{j}"] = pa.array(levels[pick])
        table = pa.table(columns)
        if writer is None:
            writer = pq.ParquetWriter(partial, table.schema, compression="snappy")
        writer.write_table(table)
    writer.close()
    partial.rename(path)
    return str(path)


class PeakMemory:
    """Peak RSS (MiB) of a process and, separately, of its Java descendants (the JVM)."""

    def __init__(self, pid: int) -> None:
        # driver: the command's own process; python: it and Spark's Python workers
        self.pid, self.driver, self.python, self.jvm = pid, 0, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            python = jvm = 0
            for pid in _tree(self.pid):
                rss, name = _rss_mib(pid)
                if name == "java":
                    jvm += rss
                else:
                    python += rss
            self.python, self.jvm = max(self.python, python), max(self.jvm, jvm)
            self.driver = max(self.driver, _rss_mib(self.pid)[0])
            time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _rss_mib(pid: int) -> tuple[int, str]:
    try:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0, ""
    fields = dict(line.split(":", 1) for line in status if ":" in line)
    rss = int(fields.get("VmRSS", "0 kB").split()[0]) // 1024
    return rss, fields.get("Name", "").strip()


def timed(args: list[str], env: dict | None = None) -> tuple[float, PeakMemory]:
    start = time.perf_counter()
    proc = subprocess.Popen(args, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL)
    memory = PeakMemory(proc.pid)
    code = proc.wait()
    memory.stop()
    if code != 0:
        raise RuntimeError(f"benchmark command failed: {' '.join(map(str, args))}")
    return time.perf_counter() - start, memory


def run(repeats: int = 1, big_millions: int | None = None) -> list[Figure]:
    big_millions = big_millions or int(os.environ.get("SEGTRAIL_BENCH_SPARK_MILLIONS", "20"))
    env = {"SEGTRAIL_SPARK_DRIVER_MEMORY": DRIVER_MEMORY, "SEGTRAIL_SPARK_MASTER": MASTER}
    segtrail = str(BIN / "segtrail")
    figures = []
    with tempfile.TemporaryDirectory(dir=DATA) as tmp:
        ws = f"{tmp}/ws"
        subprocess.run([segtrail, "init", ws], check=True, stdout=subprocess.DEVNULL)

        def ingest(path: str, name: str) -> None:
            args = [segtrail, "-w", ws, "ingest", path, "--id", "customer_id", "--name", name]
            subprocess.run(args, check=True, stdout=subprocess.DEVNULL)

        path = big_parquet(3)
        ingest(path, "m3")
        base = [segtrail, "-w", ws, "segment", "-l", "bench", "-m", "bench", "-q"]
        spark = ["--engine", "spark", "--algorithm", "kmeans", "--k", "8"]
        bare, ours, ours_memory = [], [], None
        for _ in range(repeats):
            seconds, _memory = timed(
                [sys.executable, "-c", BASELINE, path, f"{tmp}/labels", MASTER, DRIVER_MEMORY]
            )
            bare.append(seconds)
            seconds, ours_memory = timed([*base, "-d", "m3", *spark], env)
            ours.append(seconds)
        figures.append(
            Figure(
                "segment 3M x 23, k=8, Spark local[2]",
                "`segtrail segment --engine spark --algorithm kmeans --k 8` (whole process)",
                min(ours),
                "bare PySpark MLlib script (read Parquet, StringIndexer + OneHotEncoder, "
                "StandardScaler, KMeans k-means|| maxIter 300, write labels)",
                min(bare),
                goal=1.3,
                extra={
                    "peak memory": f"Python driver {ours_memory.python} MiB, "
                    f"Spark JVM {ours_memory.jvm} MiB",
                    "per customer": f"{min(ours) / 3e6 * 1e6:.1f} µs",
                },
            )
        )
        print(f"  {figures[-1].line()}", flush=True)
        path = big_parquet(big_millions)
        ingest(path, "big")
        seconds, memory = timed([*base, "-d", "big", *spark], env)
        rows = big_millions * 1e6
        figures.append(
            Figure(
                f"segment {big_millions}M x 23, k=8, Spark local[2]",
                f"`segtrail segment --engine spark` on {big_millions}M customers",
                seconds,
                "the same command on 3M customers",
                min(ours),
                extra={
                    "completes": "yes",
                    "peak memory": f"segtrail driver process {memory.driver} MiB (goal < 2048: "
                    f"{'met' if memory.driver < 2048 else 'NOT met'}), with Spark's Python "
                    f"workers {memory.python} MiB, Spark JVM {memory.jvm} MiB (driver memory "
                    f"{DRIVER_MEMORY})",
                    "per customer": f"{seconds / rows * 1e6:.1f} µs",
                },
            )
        )
    return figures
