"""Lookalike scoring on Spark: the driver fits the model on the seed and a sample of the pool,
Spark scores every pool customer where the pool lives and keeps the best.

Steps (the driver never collects the pool; it receives counts, means, a sample of at most
``FIT_SAMPLE`` customers, the seed members the model is fitted on, and the audience):

1. Spark reads the pool's Parquet object and flags each customer: in the seed (a join with
   the segment's customers in the version's assignments object, or with the ids given, or
   the column's top share against a quantile Spark computes), in the dataset to exclude,
   in the workspace holdout, and its seeded id hash (``engine.lookalike.hash_key``), all in
   one pass of Arrow batches. A segment seed's customers outside the pool are read from
   their own dataset's object the same way.
2. One aggregation counts the seed, the candidates, the excluded and held-out customers,
   and the means and spreads the audience is compared on.
3. On the driver: the preprocessing is fitted on a seeded sample (all customers below
   ``FIT_SAMPLE``), and the model on the seed members first by id hash (and, for the
   classifier, the non-seed customers first by id hash as negatives): Spark sorts by the
   hash and hands over that many rows. The held-out recall is measured on the sample.
4. Spark scores every candidate with ``compute.lookalike.score_frame`` in Arrow batches and
   keeps the ``size`` best (score, then position in the pool's file: the local engine's
   tie-break), written as Parquet parts; the driver copies them, ranked, into one file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from segtrail.compute.base import LookalikeRanked, LookalikeRequest, Progress
from segtrail.compute.lookalike import (
    check_seed,
    feature_columns,
    fit_model,
    held_out,
    negatives_count,
    profiled_columns,
    quality_on,
    quality_report,
    score_frame,
    seed_count,
)
from segtrail.compute.spark.columns import quoted
from segtrail.engine.algorithms.base import fmt_int
from segtrail.engine.features import fit_features
from segtrail.engine.lookalike import TraitMeans, audience_size, hash_key
from segtrail.errors import InvalidInput

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

FIT_SAMPLE = 200_000  # customers on the driver: preprocessing and the recall estimate
# Up to this audience size Spark keeps the best with a bounded top-N per task; above it, a
# task's top-N would hold most of its rows, so the audience is cut at an approximate
# quantile of the scores and sorted across tasks instead (``_best``).
TOPK_DIRECT = 200_000
CUT_MARGIN = 0.01  # the quantile cut keeps this much more than the audience, for its error
EXACT_QUANTILE_ROWS = 2_000_000  # above this the top-share threshold is percentile_approx
QUANTILE_ACCURACY = 100_000

# Working columns (a prefix no dataset column is expected to carry)
ROW = "__segtrail_row"  # position in the object's file: the tie-break
SEED = "__segtrail_seed"
POOL = "__segtrail_in_pool"  # False for a segment seed's customers outside the pool
KEEP = "__segtrail_keep"  # False for pool customers of the dataset to exclude
HASH = "__segtrail_hash"
HELD = "__segtrail_held"
KEY = "__segtrail_key"  # the score as a double, NaN last
SCORE = "score"
JOIN = "__segtrail_id"


def rank_on_spark(
    spark: SparkSession, request: LookalikeRequest, scratch: Path, progress: Progress
) -> LookalikeRanked:
    from pyspark.sql import functions as F

    id_column, columns = request.id_column, feature_columns(request.spec)
    profiled = profiled_columns(request)
    progress(f"reading {request.pool.label} where it lives (Spark)", None)
    pool = spark.read.parquet(request.pool.location)
    pool = pool.select(*[quoted(c) for c in request.pool.columns])
    pool = pool.withColumn(ROW, F.monotonically_increasing_id())
    pool, info, members = _flag_seed(spark, pool, request)
    if request.exclude is not None:
        other = spark.read.parquet(request.exclude.location)
        ids = other.select(quoted(request.exclude.columns[0]).alias(JOIN))
        pool = _flag(pool, id_column, ids, "__segtrail_excluded")
        keep = ~F.col("__segtrail_excluded") | F.col(SEED)
        pool = pool.withColumn(KEEP, keep).drop("__segtrail_excluded")
    else:
        pool = pool.withColumn(KEEP, F.lit(True))
    pool = pool.withColumn(POOL, F.lit(True))
    wanted = [id_column, *columns, ROW, SEED, POOL, KEEP]
    rows = _annotate(pool.select(*[quoted(c) for c in wanted]), id_column, request)
    outside = request.seed.outside
    if outside is not None and members is not None:
        rows = rows.unionByName(_outside_rows(spark, outside, members, pool, request, columns))
    progress("counting the seed and the candidates (Spark)", None)
    stats = _stats(rows, profiled)
    in_pool = int(stats["in_pool"] or 0)
    if request.seed.kind == "top":  # the keys in the local engine's order
        info["seed_size"] = in_pool
    info["in_pool"] = in_pool
    if outside is not None and members is not None:
        info["outside_pool"] = int(stats["outside"] or 0)
    check_seed(info["in_pool"] + info.get("outside_pool", 0))
    candidates = int(stats["candidates"] or 0)
    size = audience_size(request.size, candidates)

    kept = rows.where(F.col(KEEP))
    n_kept = candidates + info["in_pool"] + info.get("outside_pool", 0)
    progress(f"sampling {fmt_int(min(n_kept, FIT_SAMPLE))} of {fmt_int(n_kept)} customers", None)
    sample = _driver_sample(kept, n_kept, request.random_seed)
    X_sample, fitted = fit_features(sample, request.spec)
    progress("fitting the lookalike model on the seed (driver)", None)
    order = [F.col(HASH), quoted(id_column).cast("string")]
    seed_rows = kept.where(F.col(SEED)).orderBy(*order).limit(seed_count(request)).toPandas()
    negatives = None
    if request.method == "classifier":
        others = kept.where(F.col(POOL) & ~F.col(SEED)).orderBy(*order)
        negatives = others.limit(negatives_count(len(seed_rows))).toPandas()
    model = fit_model(seed_rows, negatives, fitted, request)
    quality = quality_on(X_sample, sample[SEED].to_numpy(dtype=bool), request, size, candidates)

    progress(f"scoring {fmt_int(candidates)} customers and keeping {fmt_int(size)} (Spark)", None)
    eligible = kept.where(F.col(POOL) & ~F.col(SEED) & ~F.col(HELD))
    scored = _scored(eligible.select(quoted(id_column), ROW, *columns), id_column, model, fitted)
    scored = scored.select(
        quoted(id_column).alias("customer_id"),
        SCORE,
        KEY,
        ROW,
        *[_number(quoted(c)).alias(f"p{i}") for i, c in enumerate(profiled)],
    )
    parts = _best(spark, scored, size, candidates - int(stats["held"] or 0), scratch)
    out = scratch / "audience.parquet"
    written, audience_means = _merge_ranked(parts, out, size, len(profiled))
    traits = [
        TraitMeans(
            column,
            _float(stats[f"spread{i}"]),
            _mean(stats[f"seed{i}"]),
            audience_means[i],
            _mean(stats[f"pool{i}"]),
        )
        for i, column in enumerate(profiled)
    ]
    if candidates > len(sample) - int(sample[SEED].sum()):
        quality["note"] = (
            f"recall measured on a seeded sample of {fmt_int(len(sample))} customers, with the "
            "audience size scaled to the sample"
        )
    return LookalikeRanked(
        seed=info,
        size=size,
        excluded=int(stats["excluded"] or 0),
        held_out=int(stats["held"] or 0),
        quality=quality_report(quality, traits),
        model=model.summary(),
        file=out,
        rows=written,
        engine="spark",
    )


# --- the seed, exclusion and flags ----------------------------------------------------------


def _flag(frame: DataFrame, id_column: str, ids: DataFrame, flag: str) -> DataFrame:
    """``frame`` with a True/False column ``flag``: whether its id is among ``ids`` (one
    column named JOIN). Numbers on one side and text on the other are matched as text, as
    the local engine does."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import IntegralType

    left, right = quoted(id_column), F.col(JOIN)
    numeric = [isinstance(t, IntegralType) for t in (frame.schema[id_column].dataType,
                                                      ids.schema[JOIN].dataType)]  # fmt: skip
    if numeric[0] != numeric[1]:
        left, right = left.cast("string"), right.cast("string")
    flagged = ids.select(right.alias(JOIN)).distinct().withColumn(flag, F.lit(True))
    joined = frame.join(flagged, left == flagged[JOIN], "left").drop(JOIN)
    return joined.withColumn(flag, F.coalesce(F.col(flag), F.lit(False)))


def _flag_seed(
    spark: SparkSession, pool: DataFrame, request: LookalikeRequest
) -> tuple[DataFrame, dict, DataFrame | None]:
    """The pool with the SEED column, what to record of the seed, and (segment seeds) the
    segment's customers."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    seed = request.seed
    if seed.kind == "segment":
        labels = spark.read.parquet(seed.assignments.location)
        chosen = labels.where(F.col("segment").isin(*[int(s) for s in seed.segments]))
        members = chosen.select(F.col("customer_id").alias(JOIN))
        info = {"seed_size": members.count()}
        return _flag(pool, request.id_column, members, SEED), info, members
    if seed.kind == "ids":
        numbers = pd.api.types.is_integer_dtype(seed.ids.dtype)
        schema = StructType([StructField(JOIN, LongType() if numbers else StringType())])
        given = pd.DataFrame({JOIN: seed.ids.to_numpy()})
        ids = spark.createDataFrame(given, schema)
        return _flag(pool, request.id_column, ids, SEED), {}, None
    value = _number(quoted(seed.column))
    known = pool.agg(F.count(value).alias("n")).first()["n"]
    if not known:
        raise InvalidInput(f"the seed's column {seed.column!r} is not numeric")
    q = 1 - float(seed.share)
    if request.pool.rows <= EXACT_QUANTILE_ROWS:  # pandas' quantile: linear interpolation
        cut = pool.agg(F.percentile(value, q).alias("t")).first()["t"]
    else:
        cut = pool.agg(F.percentile_approx(value, q, QUANTILE_ACCURACY).alias("t")).first()["t"]
    flagged = pool.withColumn(SEED, F.coalesce(value >= F.lit(float(cut)), F.lit(False)))
    return flagged, {"threshold": float(cut)}, None


def _number(column: Column) -> Column:
    """The column as the local engine reads it with ``pd.to_numeric``: a double, NaN missing."""
    from pyspark.sql import functions as F

    x = column.cast("double")
    return F.when(F.isnan(x), None).otherwise(x)


def _annotate(frame: DataFrame, id_column: str, request: LookalikeRequest) -> DataFrame:
    """Adds each customer's seeded id hash (HASH) and whether the workspace holdout holds
    it (HELD), computed by the engine's own functions in Arrow batches of the id column
    alone (the other columns never travel to Python for this)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType, LongType, StructField, StructType

    schema = StructType([StructField(HASH, LongType()), StructField(HELD, BooleanType())])
    seed, holdout = request.random_seed, request.holdout

    @F.pandas_udf(schema)
    def hash_and_holdout(ids: pd.Series) -> pd.DataFrame:
        values = ids.to_numpy()
        return pd.DataFrame({HASH: hash_key(values, seed), HELD: held_out(values, holdout)})

    both = "__segtrail_annotations"
    frame = frame.withColumn(both, hash_and_holdout(quoted(id_column)))
    names = [quoted(c) for c in frame.columns if c != both]
    return frame.select(*names, F.col(f"{both}.{HASH}"), F.col(f"{both}.{HELD}"))


def _outside_rows(
    spark: SparkSession,
    outside,
    members: DataFrame,
    pool: DataFrame,
    request: LookalikeRequest,
    columns: list[str],
) -> DataFrame:
    """The segment's customers in the seed's own dataset that are not in the (kept) pool,
    as seed rows under the pool's id column name."""
    from pyspark.sql import functions as F

    id_column = request.id_column
    rows = spark.read.parquet(outside.location)
    rows = rows.select(
        quoted(outside.columns[0]).alias(id_column), *[quoted(c) for c in columns]
    ).withColumn(ROW, F.monotonically_increasing_id())
    rows = _flag(rows, id_column, members, "__segtrail_member")
    kept_ids = pool.where(F.col(KEEP)).select(quoted(id_column).alias(JOIN))
    rows = _flag(rows, id_column, kept_ids, "__segtrail_in_pool_too")
    rows = rows.where(F.col("__segtrail_member") & ~F.col("__segtrail_in_pool_too"))
    rows = rows.select(quoted(id_column), *[quoted(c) for c in columns], ROW)
    rows = rows.withColumn(SEED, F.lit(True)).withColumn(POOL, F.lit(False))
    rows = rows.withColumn(KEEP, F.lit(True))
    return _annotate(rows, id_column, request)


# --- counts and means -----------------------------------------------------------------------


def _stats(rows: DataFrame, profiled: list[str]):
    """One pass: the counts, and per compared column the seed's mean, the rest of the pool's
    mean and its population standard deviation (``np.nanstd``)."""
    from pyspark.sql import functions as F

    pool, seed, keep, held = F.col(POOL), F.col(SEED), F.col(KEEP), F.col(HELD)
    rest = pool & keep & ~seed

    def count(condition: Column, name: str) -> Column:
        return F.sum(F.when(condition, 1).otherwise(0)).alias(name)

    aggregates = [
        count(pool & ~keep, "excluded"),
        count(pool & keep & seed, "in_pool"),
        count(~pool, "outside"),
        count(rest, "candidates"),
        count(rest & held, "held"),
    ]
    for i, column in enumerate(profiled):
        value = _number(quoted(column))
        aggregates += [
            F.avg(F.when(seed & keep, value)).alias(f"seed{i}"),
            F.avg(F.when(rest, value)).alias(f"pool{i}"),
            F.stddev_pop(F.when(rest, value)).alias(f"spread{i}"),
        ]
    return rows.agg(*aggregates).first()


def _best(spark: SparkSession, scored: DataFrame, size: int, eligible: int, scratch: Path):
    """Parquet parts holding the ``size`` best rows first (by score, then position in the
    pool's file), in order part after part: the driver reads the first ``size`` rows.

    A small audience is Spark's top-N (each task keeps its best ``size``). A large one is
    cut at an approximate quantile of the scores (rank error ``eligible / 10,000``, covered
    by ``CUT_MARGIN``), and the rows above the cut sorted across tasks; should the cut keep
    too few, every eligible row is sorted."""
    from pyspark.sql import functions as F

    order = [F.desc(KEY), F.asc(ROW)]
    parts = scratch / "audience-parts"
    if size <= TOPK_DIRECT or size >= eligible:
        scored.orderBy(*order).limit(size).write.mode("overwrite").parquet(str(parts))
        return sorted(parts.glob("part-*.parquet"))
    every = scratch / "scored"  # scored once, then cut and sorted from the written scores
    scored.write.mode("overwrite").parquet(str(every))
    scored = spark.read.parquet(str(every))
    q = max(0.0, 1 - size * (1 + CUT_MARGIN) / eligible)
    cut = scored.agg(F.percentile_approx(KEY, q, 10_000).alias("cut")).first()["cut"]
    chosen = scored.where(F.col(KEY) >= F.lit(cut))
    if chosen.count() < size:
        chosen = scored
    chosen.orderBy(*order).write.mode("overwrite").parquet(str(parts))
    return sorted(parts.glob("part-*.parquet"))


def _mean(value) -> float | None:
    return None if value is None else float(value)


def _float(value) -> float:
    return np.nan if value is None else float(value)


# --- the sample and the scoring -------------------------------------------------------------


def _driver_sample(kept: DataFrame, n: int, seed: int) -> pd.DataFrame:
    """A seeded sample of at most FIT_SAMPLE customers (all of them below it), the pool's in
    file order first, then the seed's customers outside the pool: the order the local engine
    holds them in."""
    from segtrail.compute.spark import SAMPLE_MARGIN

    if n > FIT_SAMPLE:
        fraction = min(1.0, SAMPLE_MARGIN * FIT_SAMPLE / n)
        kept = kept.sample(withReplacement=False, fraction=fraction, seed=seed).limit(FIT_SAMPLE)
    frame = kept.toPandas()
    frame = frame.sort_values([POOL, ROW], ascending=[False, True], kind="stable")
    return frame.reset_index(drop=True)


def _scored(frame: DataFrame, id_column: str, model, fitted: dict) -> DataFrame:
    """Every row of ``frame`` with its similarity to the seed (SCORE) and the sort key."""
    from pyspark.sql.types import DoubleType, FloatType, StructField, StructType

    schema = StructType(
        [*frame.schema.fields, StructField(SCORE, FloatType()), StructField(KEY, DoubleType())]
    )
    names = [f.name for f in schema.fields]

    def batches(stream):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):  # Spark runs one task per core already
            for batch in stream:
                scores = score_frame(model, fitted, batch.to_pandas(), id_column)
                key = scores.astype(np.float64)
                key[np.isnan(key)] = -np.inf  # unscorable rows go last, as locally
                arrays = [*batch.columns, pa.array(scores), pa.array(key)]
                yield pa.RecordBatch.from_arrays(arrays, names=names)

    return frame.mapInArrow(batches, schema)


def _merge_ranked(parts: list[Path], out: Path, size: int, n_profiled: int) -> tuple[int, list]:
    """The first ``size`` rows of the parts (Spark's sorted order, part after part) as one
    Parquet file of customer_id, score and rank, and the audience's mean of each compared
    column (p0, p1, ...; missing values left out, as ``np.nanmean``). Each part is re-sorted
    on the key it is already sorted on, so a writer that reordered rows within a part would
    change nothing. The driver holds one part at a time."""
    writer, rank = None, 0
    sums, counts = np.zeros(n_profiled), np.zeros(n_profiled, dtype=np.int64)
    try:
        for part in parts:
            if rank >= size:
                break
            table = pq.read_table(part).replace_schema_metadata(None)
            order = pc.sort_indices(table, sort_keys=[(KEY, "descending"), (ROW, "ascending")])
            table = table.take(order).slice(0, size - rank)
            for i in range(n_profiled):
                values = table.column(f"p{i}").to_numpy(zero_copy_only=False).astype(np.float64)
                known = ~np.isnan(values)
                sums[i] += values[known].sum()
                counts[i] += int(known.sum())
            ranks = pa.array(np.arange(rank + 1, rank + 1 + len(table), dtype=np.int64))
            rank += len(table)
            ranked = pa.table(
                {
                    "customer_id": table.column("customer_id"),
                    "score": table.column(SCORE),
                    "rank": ranks,
                }
            )
            if writer is None:
                writer = pq.ParquetWriter(str(out), ranked.schema, compression="snappy")
            writer.write_table(ranked)
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise InvalidInput("Spark wrote no audience")
    means = [float(sums[i] / counts[i]) if counts[i] else None for i in range(n_profiled)]
    return rank, means
