"""Per-customer costs on Spark local[2] at 1M x 23: MLlib's Gaussian mixture and bisecting
k-means beside k-means, and `segtrail lookalike` on both engines (the inputs of the README's
1B-customer plan)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from bench_spark import DRIVER_MEMORY, MASTER, big_parquet, timed
from common import BIN, DATA, Figure

ROWS = 1_000_000
MAX_ITER = 10  # every fit runs this many iterations (tol 0): cost per row per iteration

# One Spark session: the preprocessing of the bare MLlib pipeline (as bench_spark's
# BASELINE), its vectors cached and counted first, then each algorithm's fit timed alone.
FITS = """
import json, os, sys, time
from pyspark.ml import Pipeline
from pyspark.ml.clustering import BisectingKMeans, GaussianMixture, KMeans
from pyspark.ml.feature import OneHotEncoder, StandardScaler, StringIndexer, VectorAssembler
from pyspark.sql import SparkSession

path, master, memory, max_iter = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
spark = (
    SparkSession.builder.master(master)
    .config("spark.ui.enabled", "false")
    .config("spark.driver.memory", memory)
    .config("spark.sql.shuffle.partitions", "8")
    .getOrCreate()
)
df = spark.read.parquet(path)
num = [c for c in df.columns if c.startswith("x")]
cat = [c for c in df.columns if c.startswith("c") and c != "customer_id"]
stages = [
    StringIndexer(inputCols=cat, outputCols=[c + "_i" for c in cat]),
    OneHotEncoder(inputCols=[c + "_i" for c in cat], outputCols=[c + "_v" for c in cat]),
    VectorAssembler(inputCols=num + [c + "_v" for c in cat], outputCol="raw"),
    StandardScaler(inputCol="raw", outputCol="features", withMean=True, withStd=True),
]
vectors = Pipeline(stages=stages).fit(df).transform(df).select("features").cache()
rows = vectors.count()
width = len(vectors.first()["features"])
out = {"rows": rows, "width": width}
fitters = {
    "kmeans": KMeans(k=8, seed=0, maxIter=max_iter, tol=0.0, initMode="k-means||"),
    "bisecting": BisectingKMeans(k=8, seed=0, maxIter=max_iter),
    "gmm": GaussianMixture(k=8, seed=0, maxIter=max_iter, tol=0.0),
}
jvm = spark.sparkContext._gateway.proc.pid  # local mode: the tasks run in this JVM


def cpu_seconds():
    # utime + stime of the JVM (all its threads): core time, whatever else the machine runs
    fields = open(f"/proc/{jvm}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


for name, fitter in fitters.items():
    start, cpu = time.perf_counter(), cpu_seconds()
    model = fitter.fit(vectors)
    seconds = time.perf_counter() - start
    iterations = getattr(model.summary, "numIter", max_iter)
    out[name] = {"seconds": seconds, "cpu": cpu_seconds() - cpu, "iterations": iterations}
print(json.dumps(out))
spark.stop()
"""

NOTES = (
    "MLlib fits: one bare PySpark session in local[2] reads bench_spark.big_parquet(1) "
    "(1M customers, 20 numeric + 3 categorical columns: 35 features after one-hot), caches "
    "the scaled vectors, then times each fit alone with k=8 and a fixed number of "
    "iterations (tol 0), so the figures are per customer per iteration; the ratio is each "
    "algorithm against k-means in the same session, and the JVM's core time (utime + stime "
    "from /proc) per fit is given beside it: on a shared machine it is the steadier figure. "
    "Bisecting k-means runs its iterations "
    "per split level (k=8: three levels), so its per-iteration figure counts each level. "
    "Lookalike: `segtrail lookalike --seed-top x01:5 --size 5%` (knn) as a whole process on "
    "the same 1M pool, the Spark engine in local[2] against the local engine. The machine "
    "is shared (2 cores, other sessions' tests and benchmarks): the load average is noted "
    "with each run."
)


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f}"


def mllib_costs(path: str) -> list[Figure]:
    args = [sys.executable, "-c", FITS, path, MASTER, DRIVER_MEMORY, str(MAX_ITER)]
    before = load()
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    rows, kmeans = out["rows"], out["kmeans"]
    figures = []

    def per_iteration(fit: dict) -> str:
        return f"{fit['seconds'] / rows / max(fit['iterations'], 1) * 1e6:.2f} µs"

    for name in ("bisecting", "gmm"):
        fit = out[name]
        figures.append(
            Figure(
                f"MLlib {name} fit, 1M x 23 ({out['width']} features), k=8, local[2]",
                f"MLlib {name} ({fit['iterations']} iterations)",
                fit["seconds"],
                f"MLlib k-means ({kmeans['iterations']} iterations)",
                kmeans["seconds"],
                extra={
                    "core time": f"{fit['cpu']:.0f} s (k-means {kmeans['cpu']:.0f} s): "
                    f"{fit['cpu'] / rows * 1e6:.1f} µs per customer "
                    f"(k-means {kmeans['cpu'] / rows * 1e6:.1f} µs)",
                    "per customer": f"{fit['seconds'] / rows * 1e6:.1f} µs "
                    f"(k-means {kmeans['seconds'] / rows * 1e6:.1f} µs)",
                    "per customer per iteration": (
                        f"{per_iteration(fit)} (k-means {per_iteration(kmeans)})"
                    ),
                    "load": f"{before} before, {load()} after",
                },
            )
        )
    return figures


def lookalike_costs(path: str) -> Figure:
    segtrail = str(BIN / "segtrail")
    env = {"SEGTRAIL_SPARK_DRIVER_MEMORY": DRIVER_MEMORY, "SEGTRAIL_SPARK_MASTER": MASTER}
    with tempfile.TemporaryDirectory(dir=DATA) as tmp:
        ws = f"{tmp}/ws"
        subprocess.run([segtrail, "init", ws], check=True, stdout=subprocess.DEVNULL)
        ingest = [segtrail, "-w", ws, "ingest", path, "--id", "customer_id", "--name", "pool"]
        subprocess.run(ingest, check=True, stdout=subprocess.DEVNULL)
        base = [segtrail, "-w", ws, "lookalike", "--pool", "pool", "--seed-top", "x01:5"]
        base += ["--size", "5%", "-q"]
        before = load()
        local, local_memory = timed([*base, "--out", f"{tmp}/local.csv", "--engine", "local"])
        spark, spark_memory = timed([*base, "--out", f"{tmp}/spark.csv", "--engine", "spark"], env)
        after = load()
    return Figure(
        "lookalike 1M pool, knn, 5% seed and audience",
        "`segtrail lookalike --engine spark` (local[2], whole process)",
        spark,
        "the same command with --engine local",
        local,
        extra={
            "per customer": f"Spark {spark / ROWS * 1e6:.1f} µs, local {local / ROWS * 1e6:.1f} µs",
            "peak memory": f"Spark: segtrail driver {spark_memory.driver} MiB, Spark JVM "
            f"{spark_memory.jvm} MiB; local: {local_memory.driver} MiB",
            "load": f"{before} before, {after} after",
        },
    )


def run(repeats: int = 1) -> list[Figure]:
    path = big_parquet(1)
    figures = mllib_costs(path)
    for figure in figures:
        print(f"  {figure.line()}", flush=True)
    figures.append(lookalike_costs(path))
    return figures
