"""Fits by Spark MLlib on every customer, stored as the local algorithms' plain arrays.

MLlib has three of segtrail's algorithms with a given k: k-means (k-means|| starts),
bisecting k-means and the Gaussian mixture (full covariances). Each fit here returns a
``Model`` whose state is what the local algorithm's ``assign`` reads (centres; or weights,
means and precision Cholesky factors), so `assign`, `show` and the Spark assignment pass
work unchanged, and the segments are renumbered by size afterwards like any other state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from segtrail.compute.pipeline import Model
from segtrail.engine.algorithms import FitResult, get_algorithm
from segtrail.engine.algorithms.base import fmt_int
from segtrail.engine.algorithms.bisecting import nearest_leaves
from segtrail.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame

INIT_STEPS = 2  # k-means|| rounds (MLlib's default)
GMM_TOL = 1e-3  # change of the mean log-likelihood that ends EM (scikit-learn's tol)
GMM_MAX_ITER = 100  # MLlib's default


def mllib_fits(request: dict) -> bool:
    """True when MLlib fits this request on every customer: kmeans, bisecting, and gmm
    with full covariances (MLlib has no diagonal mixture), each with a given k."""
    params = request["params"]
    if not isinstance(params.get("k"), int):
        return False
    if request["algorithm"] == "gmm":
        return params.get("covariance_type", "full") == "full"
    return request["algorithm"] in ("kmeans", "bisecting")


def fit_mllib(table: DataFrame, sample: pd.DataFrame, prep, request: dict, n: int) -> Model:
    """The requested algorithm fitted by MLlib on every customer's features (the
    preprocessing was fitted on the driver's sample)."""
    algo = get_algorithm(request["algorithm"])
    params = algo.check(dict(request["params"]))
    k, seed = int(params["k"]), request["seed"]
    if k > n:
        raise InvalidInput(f"k={k} is more than the {fmt_int(n)} customers to cluster")
    vectors = feature_vectors(table, prep.fitted)
    fitter = {"kmeans": _kmeans, "bisecting": _bisecting, "gmm": _gmm}[algo.name]
    state, used = fitter(vectors, k, params, seed, prep.X)
    used["n_rows"] = n
    notes = [
        f"{algo.name} fitted by Spark MLlib on all {fmt_int(n)} customers ({used['init']}); "
        f"the preprocessing was fitted on a seeded sample of {fmt_int(len(sample))}"
    ]
    labels, confidence = algo.assign(state, prep.X)  # the sample; measure() redoes it
    result = FitResult(labels, confidence, used, state, notes)
    return Model(algo, result, prep.fitted, prep.X, prep.X, None)


def _kmeans(vectors: DataFrame, k: int, params: dict, seed: int, _X: np.ndarray):
    from pyspark.ml.clustering import KMeans

    max_iter = int(params["max_iter"])
    mllib = KMeans(
        k=k, seed=seed, maxIter=max_iter, initMode="k-means||", initSteps=INIT_STEPS
    ).fit(vectors)
    centres = np.asarray(mllib.clusterCenters(), dtype=np.float32)
    used = {
        "k": k,
        "max_iter": max_iter,
        "n_iter": int(mllib.summary.numIter),
        "inertia": float(mllib.summary.trainingCost),
        "init": f"k-means|| starts, {INIT_STEPS} rounds",
    }
    return {"centres": centres}, used


def _bisecting(vectors: DataFrame, k: int, params: dict, seed: int, X: np.ndarray):
    """MLlib splits every divisible leaf of a level at once, larger leaves first when that
    would pass k; the local algorithm splits the largest leaf one at a time. The leaves are
    stored as centres and customers go to the nearest one, as locally."""
    from pyspark.ml.clustering import BisectingKMeans

    max_iter = int(params["max_iter"])
    mllib = BisectingKMeans(k=k, seed=seed, maxIter=max_iter).fit(vectors)
    leaves = np.asarray(mllib.clusterCenters(), dtype=np.float32)
    # leaves nearest to no sampled customer are dropped, as in the local fit
    centres, _, _ = nearest_leaves(X, leaves)
    used = {
        "k": k,
        "n_init": int(params["n_init"]),
        "max_iter": max_iter,
        "inertia": float(mllib.summary.trainingCost),
        "init": "bisecting, larger leaves split first",
    }
    return {"centres": centres}, used


def _gmm(vectors: DataFrame, k: int, params: dict, seed: int, _X: np.ndarray):
    """MLlib's EM (random starts from a sample) with full covariances. MLlib has no variance
    floor, so ``reg_covar`` is added to each fitted covariance's diagonal, as scikit-learn
    adds it in every EM step: the stored mixture has the local model's form, and a segment
    whose one-hot column is constant still has an invertible covariance."""
    from pyspark.ml.clustering import GaussianMixture

    reg = float(params["reg_covar"])
    mllib = GaussianMixture(k=k, seed=seed, tol=GMM_TOL, maxIter=GMM_MAX_ITER).fit(vectors)
    weights = np.asarray(mllib.weights, dtype=np.float64)
    rows = mllib.gaussiansDF.collect()  # k means and k d x d covariances: small
    means = np.array([r["mean"].toArray() for r in rows], dtype=np.float64)
    covariances = np.array([r["cov"].toArray() for r in rows], dtype=np.float64)
    state = {
        "covariance_type": "full",
        "weights": weights / weights.sum(),
        "means": means,
        "precisions_cholesky": precisions_cholesky(covariances, reg),
    }
    summary = mllib.summary
    used = {
        "k": k,
        "covariance_type": "full",
        "reg_covar": reg,
        "n_init": int(params["n_init"]),
        "sample_size": int(params["sample_size"]),
        "log_likelihood": float(summary.logLikelihood),
        "n_iter": int(summary.numIter),
        "init": "EM from random starts",
    }
    return state, used


def precisions_cholesky(covariances: np.ndarray, reg: float) -> np.ndarray:
    """Per component, the Cholesky factor of the precision matrix of ``cov + reg * I``
    (scikit-learn's ``_compute_precision_cholesky`` for full covariances)."""
    from scipy.linalg import cholesky, solve_triangular

    d = covariances.shape[1]
    eye = np.eye(d)
    out = np.empty_like(covariances)
    for j, cov in enumerate(covariances):
        symmetric = (cov + cov.T) / 2 + reg * eye
        lower = cholesky(symmetric, lower=True)
        out[j] = solve_triangular(lower, eye, lower=True).T
    return out


def feature_vectors(table: DataFrame, fitted: dict) -> DataFrame:
    """One MLlib vector per customer: the fitted preprocessing applied in Arrow batches."""
    from pyspark.ml.functions import array_to_vector
    from pyspark.sql.types import ArrayType, FloatType, StructField, StructType

    from segtrail.compute.spark.columns import quoted
    from segtrail.engine.features import transform_features

    names = [c["column"] for c in fitted["columns"]]
    schema = StructType([StructField("features", ArrayType(FloatType(), False), False)])

    def batches(stream):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):  # Spark runs one task per core already
            for batch in stream:
                X = transform_features(batch.to_pandas(), fitted)
                width = X.shape[1]
                offsets = pa.array(np.arange(0, X.size + 1, width, dtype=np.int32))
                values = pa.array(X.ravel(), type=pa.float32())
                yield pa.RecordBatch.from_arrays(
                    [pa.ListArray.from_arrays(offsets, values)], names=["features"]
                )

    arrays = table.select(*[quoted(c) for c in names]).mapInArrow(batches, schema)
    return arrays.select(array_to_vector("features").alias("features"))
