"""The Spark engine: every pass over every customer runs in Spark; the driver sees samples
and aggregates only.

Steps of `segment` (the driver never collects the customer table):

1. Spark reads the dataset's Parquet object where it lives and draws a seeded sample of at
   most ``FIT_SAMPLE`` customers for the driver.
2. The preprocessing is fitted on that sample by the same code as the local engine
   (``engine.features``): the spec and fitted state are engine-neutral and stored once.
3. The model: k-means, bisecting k-means and the Gaussian mixture (full covariances) with a
   given k are fitted by MLlib on every customer (``mllib.py``), and stored as the plain
   arrays the local algorithms' ``assign`` reads. Every other case (automatic k, the default
   path, lca, gmm with diagonal covariances, dbscan, hdbscan, agglomerative) is fitted on the
   sample on the driver, as the local engine fits it.
4. Spark assigns every customer with the algorithm's own ``assign`` (the fitted
   preprocessing and the stored state, in pandas batches on the executors) and writes the
   assignments as Parquet; a Spark aggregation counts each segment.
5. Profiles and sizes are Spark aggregations over every customer (``profiles.py``: the
   profiled columns ride along with the assignments, so no join), turned into the local
   engine's profile by its own code. Quality, stability and feature contributions are
   measured on the sample by the local engine's code.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from segtrail.compute.base import (
    AssignmentsSource,
    DatasetSource,
    LookalikeRanked,
    LookalikeRequest,
    Progress,
    Segmented,
)
from segtrail.compute.pipeline import (
    Model,
    assign_input,
    fit,
    k_note,
    prepare,
    stability_of,
    used_params,
    with_contributions,
)
from segtrail.compute.spark.columns import quoted
from segtrail.compute.spark.mllib import fit_mllib, mllib_fits
from segtrail.engine.algorithms import get_algorithm
from segtrail.engine.algorithms.base import fmt_int
from segtrail.engine.diff import check_min_jaccard, diff_table
from segtrail.engine.features import describe_spec
from segtrail.engine.kinds import FEATURE_KINDS
from segtrail.engine.quality import quality_metrics
from segtrail.errors import InvalidInput

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

FIT_SAMPLE = 200_000  # customers on the driver: preprocessing, sample fits, metrics
SAMPLE_MARGIN = 1.2  # Bernoulli sampling draws about this many times what is kept
ASSIGNMENTS = "assignments.parquet"
ASSIGNMENT_COLUMNS = ("customer_id", "segment", "confidence")


class SparkEngine:
    name = "spark"

    def __init__(self, master: str) -> None:
        self.master = master

    def segment(
        self,
        source: DatasetSource,
        kinds: dict[str, str],
        id_column: str,
        request: dict,
        scratch: Path,
        progress: Progress,
    ) -> Segmented:
        from segtrail.compute.spark.session import get_session

        progress(f"starting Spark ({self.master})", None)
        spark = get_session(self.master)
        table = spark.read.parquet(source.location).select(*[quoted(c) for c in source.columns])
        n, seed = source.rows, request["seed"]
        progress(f"sampling {fmt_int(min(n, FIT_SAMPLE))} of {fmt_int(n)} customers", None)
        sample = driver_sample(table, n, FIT_SAMPLE, seed)
        progress("preparing features (fitted on the sample)", None)
        prep = prepare(sample, kinds, id_column, request)
        if mllib_fits(request):
            progress(f"clustering {fmt_int(n)} customers with MLlib {request['algorithm']}", None)
            model = fit_mllib(table, sample, prep, request, n)
        else:
            model = fit(sample, prep, request, progress)
            model.result.notes.insert(
                0,
                f"{model.algo.name} fitted on a seeded sample of {fmt_int(len(sample))} "
                f"customers on the Spark driver; Spark assigned all {fmt_int(n)}",
            )
        progress(f"assigning {fmt_int(n)} customers (Spark)", None)
        parts = scratch / "parts"
        profiled = profile_columns(kinds, source.columns, id_column)
        assign_all(table, id_column, model, parts, profiled)
        counts = segment_counts(spark, parts)
        # Segments are numbered by size over every customer. Centres and mixture components
        # can be renumbered, so `assign` still reproduces the recorded labels; other states
        # are kept as fitted (numbered by size on the sample) and the notes say so.
        order = size_order(counts, components(model.result.state))
        renumber = order if components(model.result.state) else None
        if renumber is not None:
            model.result.state = renumbered_state(model.result.state, renumber)
            counts = {renumber.get(s, s): c for s, c in counts.items()}
        elif any(renumber_needed(order)):
            model.result.notes.append(
                "segments are numbered by size on the fitted sample; over every customer "
                "two of them swap places"
            )
        out = scratch / ASSIGNMENTS
        merge_parts(sorted(parts.glob("part-*.parquet")), out, renumber)
        progress(f"profiling {fmt_int(n)} customers (Spark)", None)
        profiles = profile_all(spark, parts, profiled, kinds, renumber, n)
        progress("measuring quality and stability on the sample", None)
        record = measure(sample, model, counts, profiles, n, request, prep.spec)
        return Segmented(record=record, file=out, engine=self.name)

    def diff(self, a: AssignmentsSource, b: AssignmentsSource, min_jaccard: float) -> dict:
        """The contingency table of the common customers and each version's segment sizes
        are Spark aggregations (a join on customer id); the driver gets counts only."""
        from segtrail.compute.spark.session import get_session

        check_min_jaccard(min_jaccard)
        spark = get_session(self.master)
        side_a = _labels_of(spark, a.location, "a")
        side_b = _labels_of(spark, b.location, "b")
        numeric = [dict(side.dtypes)["id"] != "string" for side in (side_a, side_b)]
        if numeric[0] != numeric[1]:  # numbers on one side, strings on the other
            side_a = side_a.withColumn("id", side_a["id"].cast("string"))
            side_b = side_b.withColumn("id", side_b["id"].cast("string"))
        size_a = {int(r["a"]): int(r["count"]) for r in side_a.groupBy("a").count().collect()}
        size_b = {int(r["b"]): int(r["count"]) for r in side_b.groupBy("b").count().collect()}
        cells = side_a.join(side_b, "id").groupBy("a", "b").count().collect()
        a_values, b_values = np.array(sorted(size_a)), np.array(sorted(size_b))
        row = {v: i for i, v in enumerate(a_values)}
        col = {v: j for j, v in enumerate(b_values)}
        table = np.zeros((len(a_values), len(b_values)), dtype=np.int64)
        for r in cells:
            table[row[int(r["a"])], col[int(r["b"])]] = int(r["count"])
        return diff_table(
            table,
            a_values,
            b_values,
            np.array([size_a[v] for v in a_values]),
            np.array([size_b[v] for v in b_values]),
            min_jaccard,
        )

    def segments_of(
        self, assignments: AssignmentsSource, customers: pd.Series
    ) -> tuple[pd.Series, list[int]]:
        """A Spark join of the customers with the version's assignments: the driver gets
        one label per given customer the version knows, and the segment labels (an
        aggregation), never the whole assignments table."""
        from pyspark.sql.types import LongType, StringType, StructField, StructType

        from segtrail.compute.spark.session import get_session

        spark = get_session(self.master)
        known = _labels_of(spark, assignments.location, "segment")
        numbers = pd.api.types.is_integer_dtype(customers.dtype)
        if numbers != (dict(known.dtypes)["id"] != "string"):  # as the local lookup does
            known = known.withColumn("id", known["id"].cast("string"))
            customers, numbers = customers.astype(str), False
        schema = StructType([StructField("id", LongType() if numbers else StringType())])
        wanted = spark.createDataFrame(pd.DataFrame({"id": customers.to_numpy()}), schema)
        matched = known.join(wanted.distinct(), "id").toPandas()
        labels = sorted(int(r["segment"]) for r in known.select("segment").distinct().collect())
        index = pd.Index(matched["id"].to_numpy(), name="customer_id")
        return pd.Series(matched["segment"].to_numpy(), index=index, name="segment"), labels

    def lookalike(
        self, request: LookalikeRequest, scratch: Path, progress: Progress
    ) -> LookalikeRanked:
        """Spark scores every pool customer where the pool lives and keeps the best; the
        driver fits the model on the seed and a sample (``lookalike.py``)."""
        from segtrail.compute.spark.lookalike import rank_on_spark
        from segtrail.compute.spark.session import get_session

        progress(f"starting Spark ({self.master})", None)
        return rank_on_spark(get_session(self.master), request, scratch, progress)


def _labels_of(spark, location: str, name: str) -> DataFrame:
    frame = spark.read.parquet(location)
    return frame.select(frame["customer_id"].alias("id"), frame["segment"].alias(name))


# --- the sample ----------------------------------------------------------------------------


def driver_sample(table: DataFrame, n: int, size: int, seed: int) -> pd.DataFrame:
    """A seeded sample of at most ``size`` customers, in table order (all when n <= size)."""
    if n > size:
        fraction = min(1.0, SAMPLE_MARGIN * size / n)
        table = table.sample(withReplacement=False, fraction=fraction, seed=seed).limit(size)
    frame = table.toPandas()
    if frame.empty:
        raise InvalidInput("the dataset has no customers to segment")
    return frame


# --- assigning every customer --------------------------------------------------------------


def assign_all(table: DataFrame, id_column: str, model: Model, out: Path, keep: list[str]) -> None:
    """Spark writes (customer_id, segment, confidence) of every customer, in table order,
    as Parquet part files under ``out``; the algorithm's ``assign`` does the work. The
    columns in ``keep`` ride along unchanged (as p0, p1, ...: no name can clash) for the
    profiles, so they are aggregated without a join."""
    from pyspark.sql.types import FloatType, IntegerType, StructField, StructType

    algorithm, fitted, state = model.algo.name, model.fitted, model.result.state
    schema = StructType(
        [
            StructField("customer_id", table.schema[id_column].dataType, True),
            StructField("segment", IntegerType(), False),
            StructField("confidence", FloatType(), True),
            *[StructField(f"p{i}", table.schema[c].dataType, True) for i, c in enumerate(keep)],
        ]
    )
    names = [f.name for f in schema.fields]

    def batches(stream):
        from threadpoolctl import threadpool_limits

        algo = get_algorithm(algorithm)
        with threadpool_limits(limits=1):  # Spark runs one task per core already
            for batch in stream:
                frame = batch.to_pandas()
                labels, confidence = algo.assign(state, assign_input(frame, fitted))
                arrays = [
                    batch.column(id_column),
                    pa.array(np.asarray(labels, dtype=np.int32)),
                    pa.array(np.asarray(confidence, dtype=np.float32)),
                    *[batch.column(c) for c in keep],
                ]
                yield pa.RecordBatch.from_arrays(arrays, names=names)

    table.mapInArrow(batches, schema).write.mode("overwrite").parquet(str(out))


def segment_counts(spark, parts: Path) -> dict[int, int]:
    """Customers per segment label (-1 for noise): a Spark aggregation over the written
    assignments."""
    rows = spark.read.parquet(str(parts)).groupBy("segment").count().collect()
    return {int(r["segment"]): int(r["count"]) for r in rows}


def components(state: dict) -> int:
    """How many segments a fitted state places customers in, when its parts can be
    renumbered (centres, or mixture components); 0 when they cannot."""
    if "centres" in state:
        return len(state["centres"])
    if {"weights", "means", "precisions_cholesky"} <= set(state):
        return len(state["weights"])
    return 0


def size_order(counts: dict[int, int], n_labels: int = 0) -> dict[int, int]:
    """{label: label by size} (0 = largest; ties keep the lower label); -1 stays -1.

    Labels 0..n_labels-1 that no customer got come last, so the mapping renumbers every
    component of a state."""
    every = set(counts) | set(range(n_labels))
    labels = sorted((s for s in every if s >= 0), key=lambda s: (-counts.get(s, 0), s))
    return {old: new for new, old in enumerate(labels)} | ({-1: -1} if -1 in counts else {})


def renumber_needed(order: dict[int, int]) -> list[bool]:
    return [old != new for old, new in order.items()]


def renumbered_state(state: dict, order: dict[int, int]) -> dict:
    """The state with its centres or mixture components in the new label order."""
    position = [old for old, _ in sorted(order.items(), key=lambda item: item[1]) if old >= 0]
    keys = ("centres",) if "centres" in state else ("weights", "means", "precisions_cholesky")
    return {**state, **{key: np.asarray(state[key])[position] for key in keys}}


def merge_parts(parts: list[Path], out: Path, renumber: dict[int, int] | None) -> None:
    """One Parquet file of the assignments, part by part (the driver holds one part)."""
    lookup = None
    if renumber:
        top = max(max(renumber), 0)
        lookup = np.arange(-1, top + 1, dtype=np.int32)  # index label + 1
        for old, new in renumber.items():
            lookup[old + 1] = new
    writer = None
    try:
        for part in parts:
            table = pq.read_table(part, columns=list(ASSIGNMENT_COLUMNS))
            table = table.replace_schema_metadata(None)
            if lookup is not None:
                segment = table.column("segment").to_numpy()
                table = table.set_column(1, "segment", pa.array(lookup[segment + 1]))
            if writer is None:
                writer = pq.ParquetWriter(str(out), table.schema, compression="snappy")
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise InvalidInput("Spark wrote no assignments")


# --- profiles over every customer -----------------------------------------------------------


def profile_columns(kinds: dict[str, str], columns: list[str], id_column: str) -> list[str]:
    """The columns profiled: those of a feature kind, in the dataset's order of kinds (as
    ``pipeline.profiles_of``: the order breaks ties between equally strong traits)."""
    read = set(columns) - {id_column}
    return [c for c, kind in kinds.items() if kind in FEATURE_KINDS and c in read]


def profile_all(
    spark,
    parts: Path,
    profiled: list[str],
    kinds: dict[str, str],
    renumber: dict[int, int] | None,
    n: int,
) -> dict:
    """``engine.profiles`` of every customer, aggregated by Spark over the written parts
    (segments renumbered by size as in the stored assignments)."""
    from pyspark.sql import functions as F

    from segtrail.compute.spark.profiles import spark_profiles

    frame = spark.read.parquet(str(parts))
    if renumber:
        pairs = [F.lit(x) for old, new in renumber.items() for x in (old, new)]
        frame = frame.withColumn("segment", F.create_map(*pairs)[F.col("segment")])
    columns = [(c, f"p{i}", kinds[c]) for i, c in enumerate(profiled)]
    return spark_profiles(frame, columns, n)


# --- metrics on the sample -----------------------------------------------------------------


def measure(
    sample: pd.DataFrame,
    model: Model,
    counts: dict[int, int],
    profiles: dict,
    n: int,
    request: dict,
    spec: dict,
) -> dict:
    """The local engine's metrics on the driver sample; sizes and profiles (counted by
    Spark) from every customer."""
    seed = request["seed"]
    # the sample's labels as the stored state assigns them (what Spark wrote for them)
    labels, confidence = model.algo.assign(model.result.state, assign_input(sample, model.fitted))
    labels = np.asarray(labels, dtype=np.int32)
    model.result.labels, model.result.confidence = labels, confidence
    used, selection = used_params(model)
    quality = quality_metrics(model.X, labels, seed)
    noise = counts.get(-1, 0)
    quality |= {"customers": n, "unassigned": noise, "unassigned_share": noise / n if n else 0.0}
    stability = stability_of(model, labels, seed)
    k = max((s for s in counts if s >= 0), default=-1) + 1
    notes = list(model.result.notes) + k_note(used, k)
    notes.append(
        f"quality and stability measured on a seeded sample of {fmt_int(len(sample))} "
        f"customers; segment sizes and profiles count all {fmt_int(n)} (medians "
        "approximate: Spark's percentile_approx)"
    )
    return {
        "state": model.result.state,
        "notes": notes + quality.pop("notes", []) + [stability.get("note", "")],
        "used": used,
        "selection": selection,
        "quality": quality,
        "stability": stability,
        "profiles": profiles,
        "spec": spec,
        "fitted": model.fitted,
        "features": with_contributions(
            describe_spec(model.fitted), sample, model.fitted, labels, used
        ),
        "k": k,
        "algorithm": model.algo.name,
        "confidence_meaning": model.algo.confidence_meaning,
    }
