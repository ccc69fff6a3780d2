"""Latent class analysis: a finite mixture for mixed data (numeric and categorical columns).

The model (as in Latent GOLD, poLCA or StepMix): each customer belongs to one of ``k``
latent classes; within a class the columns are independent ("local independence"), a
numeric column is Gaussian with the class's own mean and variance, and a categorical column
has the class's own level probabilities. A missing value contributes nothing to the
likelihood (the usual "missing at random" treatment of these tools), so missing values are
never imputed.

Input: a float32 matrix in which a numeric column holds standardized values and a
categorical column holds level codes 0..L-1; NaN marks a missing value in either. Which
column is which comes from ``levels`` (a list with one entry per column: 0 for numeric, L
for a categorical column with L levels); without it every column is numeric.
``features.model_matrix`` builds this matrix from a customer table. Per-column
``feature_weights`` (default 1) multiply each column's log-likelihood: 0 leaves a column out
of the segments (how pure-noise columns are down-weighted).

Fit: EM from ``n_init`` starts (k-means++ partitions of an imputed, one-hot view of the
data), each run ``SCREEN_ITER`` iterations; the best start runs to convergence. Above
``sample_size`` customers EM runs on a seeded sample and every customer is then assigned
with the fitted model. Variances have a floor (``var_floor``, in standardized units) and
level probabilities a small pseudo-count, so no class collapses onto one value.

Why our own EM rather than StepMix: StepMix 3.0 (PyPI) installs here and fits the same
model, and its ``get_parameters()`` gives plain arrays (weights, means, covariances, level
probabilities) that could be stored without pickles. Measured on 16 data sets of the
benchmark family (1,000-3,000 rows, same starts budget), it reached the same ARI but took
1-80 s per fit against 0.2-1 s here, and on a Poisson count column it collapsed a class onto
one value (zero variance, ARI 0): it has no variance floor for discrete columns. The k sweep
also needs seeded starts shared across k (splits of the k-1 solution) and per-column
weights, which StepMix does not offer. The EM here is vectorized numpy (matrix products, no
per-row loops).

Correlated numeric columns (``numeric_covariance``, set by the default path, not a CLI
option): "independent" is the model above; "full" replaces the numeric columns' Gaussians
by one multivariate Gaussian per class with its own covariance matrix, "tied" by one
covariance matrix shared by every class (the linear discriminant's model). A row's density
uses the sub-matrix of its observed columns (missing values still left out); the M-step
takes covariances over the rows where both columns are observed (pairwise: close to, not
exactly, the missing-data EM step), adds the variance floor to the diagonal and keeps every
eigenvalue above the smallest floor. Numeric columns with a weight share one weight here
(the default path offers the variants only then).

Many numeric columns (``numeric_projection`` "pca", set by the default path above
``MAX_COVARIANCE_COLUMNS`` numeric columns, not a CLI option): the numeric columns with a
weight are replaced by their principal components with more than one column's variance
(see ``fit_projection``), and the
model above (any covariance variant) is fitted on those components beside the categorical
columns. The projection is fitted on the fit sample and stored in the state, so ``assign``
projects new rows the same way.

State (plain arrays): ``weights`` (k), ``means``/``variances`` (k x numeric columns),
``covariances`` (k x numeric x numeric, only for "full" and "tied"),
``log_probs`` (k x all categorical levels, blocks in column order), ``levels`` and
``feature_weights`` (of the matrix the model sees: with a projection, the components first,
then the columns not projected), and with a projection ``projection_columns`` (the input's
projected columns), ``projection_mean`` and ``projection`` (columns x components).
Confidence: the posterior probability of the assigned class.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from segtrail.engine.algorithms.base import (
    CHUNK_ROWS,
    Algorithm,
    FitResult,
    K,
    fmt_int,
    k_range,
    order_by_size,
    require_k,
    sample_rows,
    sample_size,
)
from segtrail.engine.algorithms.params import Interval, Numbers, Options, Param
from segtrail.errors import SegtrailError

SAMPLE_SIZE = 50_000
START_SAMPLE = 5_000  # rows on which the starts (and the k-1 splits) are searched
N_INIT = 4
SCREEN_ITER = 10
MAX_ITER = 300
TOL = 1e-6  # relative change of the log-likelihood per row
VAR_FLOOR = 0.01  # in standardized units: a class cannot be narrower than 0.1 sd
SPACING_FACTOR = 0.25  # variance floor of a discrete column: (gap between values / 2)^2
DISTINCT_SHARE = 0.2  # more distinct values than this share of rows: continuous, no gap floor
PSEUDO_COUNT = 0.1  # added to every level count of every class (and spread on missing)
NUMERIC_COVARIANCE = ("independent", "full", "tied")
NUMERIC_PROJECTION = ("none", "pca")
MAX_COMPONENTS = 16  # at most: the covariance variants stay affordable (see engine.choice)
MIN_COMPONENTS = 2


class LCA(Algorithm):
    name = "lca"
    confidence_meaning = "probability of belonging to the segment (higher = surer)"
    higher_confidence_is_better = True
    parameters = (
        K,
        k_range((2, 12)),
        Param(
            "n_init",
            (Interval(int, 1, None, closed="left"),),
            N_INIT,
            "random starts of the mixture's EM; the best likelihood is kept",
        ),
        sample_size(SAMPLE_SIZE),
        Param(
            "var_floor",
            (Interval(float, 0, None, closed="neither"),),
            VAR_FLOOR,
            "smallest spread of a numeric column within a segment (standardized units)",
        ),
        Param(
            "levels",
            (Numbers(int, 0),),
            None,
            "per column: 0 numeric, else its number of categories",
            option=False,
        ),
        Param(
            "feature_weights",
            (Numbers(float, 0),),
            None,
            "per column: how much it counts in the likelihood",
            option=False,
        ),
        Param(
            "numeric_covariance",
            (Options(NUMERIC_COVARIANCE),),
            "independent",
            "numeric columns within a segment: 'independent' (local independence), 'full' "
            "(a covariance matrix per segment: columns that move together) or 'tied' (one "
            "covariance matrix shared by every segment)",
            option=False,
        ),
        Param(
            "numeric_projection",
            (Options(NUMERIC_PROJECTION),),
            "none",
            "numeric columns: 'none' (as they are) or 'pca' (their principal components "
            f"that carry more than one column's variance, at most {MAX_COMPONENTS})",
            option=False,
        ),
    )

    def fit(self, X: np.ndarray, params: dict, seed: int) -> FitResult:
        # One thread: the matrices are skinny (rows x a few dozen columns), and BLAS threads
        # on a busy 2-core machine made the E-step on 1M rows ~10x slower (measured).
        with threadpool_limits(limits=1):
            return self._fit(X, params, seed)

    def _fit(self, X: np.ndarray, params: dict, seed: int) -> FitResult:
        X = as_model_matrix(X)
        n = len(X)
        levels, weights = layout(params, X.shape[1])
        check_codes(X, levels)
        notes: list[str] = []
        selection = None
        if params.get("k") in (None, "auto"):
            from segtrail.engine.kselect import DEFAULT_K_RANGE, choose_k

            low, high = params.get("k_range") or DEFAULT_K_RANGE
            selection = choose_k(X, self.name, (int(low), int(high)), seed, params=params)
            k = int(selection["chosen_k"])
            notes.append(f"k={k} chosen automatically: {selection['rule']}")
            notes += selection["notes"]
        else:
            k = require_k(params, n)
        n_init = int(params.get("n_init", N_INIT))
        size = int(params.get("sample_size") or SAMPLE_SIZE)
        var_floor = float(params.get("var_floor", VAR_FLOOR))
        if not var_floor > 0:
            raise SegtrailError(f"var_floor must be a positive number, got {var_floor}")
        idx = sample_rows(n, size, seed)
        projection = None
        model_levels, model_weights, fit_X = levels, weights, X[idx]
        if params.get("numeric_projection") == "pca":
            projection = fit_projection(fit_X, levels, weights)
            fit_X, model_levels, model_weights = apply_projection(
                fit_X, projection, levels, weights
            )
            notes.append(projection_note(projection))
        data = Data(fit_X, model_levels, model_weights)
        covariance = str(params.get("numeric_covariance") or "independent")
        data.covariance = covariance
        model = fit_fixed_k(data, k, n_init, seed, var_floor)
        state = model.state()
        if projection is not None:
            state |= projection_state(projection)
        raw, confidence = self.assign(state, X)
        labels, mapping = order_by_size(raw)
        order = [old for old, _ in sorted(mapping.items(), key=lambda item: item[1])]
        state = reorder(state, order)
        if len(order) < k or order != list(range(k)):
            labels, confidence = self.assign(state, X)
        if len(idx) < n:
            notes.append(
                f"latent class model fitted on a sample of {fmt_int(len(idx))} customers; "
                f"all {fmt_int(n)} assigned to their most likely class"
            )
        if not model.converged:
            notes.append(f"EM did not converge in {MAX_ITER} iterations; the result may shift")
        used = {
            "k": k,
            "k_range": list(params["k_range"]),
            "levels": [int(v) for v in levels],
            "feature_weights": [float(w) for w in weights],
            "n_init": n_init,
            "sample_size": size,
            "var_floor": var_floor,
            "numeric_covariance": covariance,
            "numeric_projection": "pca" if projection is not None else "none",
            "fit_rows": len(idx),
            "n_rows": n,
            "log_likelihood_fit_rows": float(model.loglik),
            "bic_fit_rows": float(model.bic(len(idx))),
        }
        if projection is not None:
            used["projection_components"] = int(projection["components"].shape[1])
            used["projection_variance"] = float(projection["explained"])
        if selection is not None:
            used["k_selection"] = selection
        return FitResult(labels, confidence, used, state, notes)

    def sweep(self, X: np.ndarray, ks, params: dict, seed: int) -> dict[int, dict]:
        """Fit every k; each entry has labels, log-likelihood, BIC, ICL and the posterior."""
        X, levels, weights = projected(as_model_matrix(X), params)
        data = Data(X, levels, weights)
        data.shared_variance = bool(params.get("shared_variance", False))
        data.covariance = str(params.get("numeric_covariance") or "independent")
        var_floor = float(params.get("var_floor", VAR_FLOOR))
        n_init = int(params.get("sweep_n_init", 3))
        out = {}
        with threadpool_limits(limits=1):
            models = grow(data, max(ks), n_init, seed, var_floor)
            for k in ks:
                model = models[k]
                resp = model.posterior(data)
                entropy = float(-(resp * np.log(np.maximum(resp, 1e-300))).sum())
                bic = model.bic(len(X))
                out[k] = {
                    "labels": order_by_size(np.argmax(resp, axis=1))[0],
                    "log_likelihood": float(model.loglik),
                    "bic": float(bic),
                    "icl": float(bic + 2 * entropy),
                    "n_params": int(model.n_params()),
                    "model": model,
                }
        return out

    def assign(self, state: dict, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with threadpool_limits(limits=1):
            return self._assign(state, X)

    def _assign(self, state: dict, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = as_model_matrix(X)
        levels = np.asarray(state["levels"], dtype=np.int64)
        weights = np.asarray(state["feature_weights"], dtype=np.float64)
        if "projection" in state:
            X = project_rows(X, state)
        check_codes(X, levels)
        model = Model.from_state(state)
        labels = np.empty(len(X), dtype=np.int32)
        confidence = np.empty(len(X), dtype=np.float32)
        for start in range(0, len(X), CHUNK_ROWS):
            part = Data(X[start : start + CHUNK_ROWS], levels, weights)
            post = model.posterior(part)
            labels[start : start + len(post)] = np.argmax(post, axis=1)
            confidence[start : start + len(post)] = post.max(axis=1)
        return labels, confidence


# ----------------------------------------------------------------------------- data


def as_model_matrix(X: np.ndarray) -> np.ndarray:
    """2-D, non-empty float32; NaN (missing) allowed, infinities not."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise SegtrailError(f"feature matrix must be 2-D and non-empty, got shape {X.shape}")
    if np.isinf(X).any():
        raise SegtrailError("feature matrix has infinite values")
    return X


def layout(params: dict, n_columns: int) -> tuple[np.ndarray, np.ndarray]:
    levels = params.get("levels")
    levels = np.zeros(n_columns, np.int64) if levels is None else np.asarray(levels, np.int64)
    weights = params.get("feature_weights")
    weights = np.ones(n_columns) if weights is None else np.asarray(weights, dtype=np.float64)
    if levels.shape != (n_columns,) or weights.shape != (n_columns,):
        raise SegtrailError(f"levels and feature_weights need one entry per column ({n_columns})")
    if ((levels != 0) & (levels < 2)).any() or (weights < 0).any() or not weights.any():
        raise SegtrailError("levels must be 0 or >= 2 and feature_weights >= 0, not all 0")
    return levels, weights


def projected(X: np.ndarray, params: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The matrix, levels and weights the model sees for these rows and parameters: as
    given, or with a "pca" ``numeric_projection`` the components fitted on these rows (the
    k sweep and the split-half fits use this on their sample)."""
    levels, weights = layout(params, X.shape[1])
    if params.get("numeric_projection") != "pca":
        return X, levels, weights
    return apply_projection(X, fit_projection(X, levels, weights), levels, weights)


def fit_projection(X: np.ndarray, levels: np.ndarray, weights: np.ndarray) -> dict:
    """Principal components of the numeric columns with a weight (on these rows, missing
    values at the column's mean): those whose variance is above one column's (Kaiser's
    rule: the columns are standardized, so above 1), between ``MIN_COMPONENTS`` and
    ``MAX_COMPONENTS``.

    Why: with many numeric columns that move together (30 measurements of one cell, 64
    pixels), a model of independent columns counts the same signal many times and needs
    extra segments to mimic the correlation, and a covariance matrix over all of them has
    too many parameters for the sweep sample. The leading components carry the shared
    signal in a few uncorrelated columns, on which the covariance variants are affordable.
    Why Kaiser's rule rather than a share of the variance (say 90%): a component with less
    variance than a single column is mostly that column's own noise, and a share counts
    noise too: on a planted table of 60 columns (tests/planted.py ``many_correlated``: five
    traits, each read by 12 columns with 10-45% noise) 90% kept 14 components, 9 of them
    noise, and BIC then preferred k-means' model at k=2 (ARI 0.32); this rule kept the 5
    trait components and found the 4 segments (ARI 0.92). What it cannot see: segments
    apart only along a direction of small variance (the known limit of clustering on
    principal components).
    The components are not whitened: they keep the spread of the standardized columns, so
    the k-means++ starts weigh a direction by how much the customers vary along it, and the
    model fits its own variances anyway."""
    columns = np.flatnonzero((levels == 0) & (weights > 0))
    if len(columns) < MIN_COMPONENTS:
        raise SegtrailError("a projection needs at least two numeric columns with a weight")
    x = X[:, columns].astype(np.float64)
    observed = ~np.isnan(x)
    mean = np.where(observed, x, 0.0).sum(axis=0) / np.maximum(observed.sum(axis=0), 1)
    x = np.where(observed, x, mean) - mean
    values, vectors = np.linalg.eigh(x.T @ x / max(len(x) - 1, 1))
    order = np.argsort(values)[::-1]
    values, vectors = np.maximum(values[order], 0.0), vectors[:, order]
    # "one column's variance": the mean variance (1 on standardized columns)
    p = int((values > values.mean()).sum())
    p = min(max(p, MIN_COMPONENTS), MAX_COMPONENTS, len(columns))
    # a component's sign is arbitrary: make its largest loading positive (reproducible)
    signs = np.sign(vectors[np.abs(vectors).argmax(axis=0), np.arange(len(columns))])
    vectors = vectors * np.where(signs == 0, 1.0, signs)
    return {
        "columns": columns,
        "mean": mean,
        "components": vectors[:, :p],
        "explained": float(values[:p].sum() / max(values.sum(), 1e-300)),
        "weight": float(weights[columns].max()),
    }


def apply_projection(
    X: np.ndarray, projection: dict, levels: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(matrix, levels, weights): the components first, then every column not projected."""
    rest = np.setdiff1d(np.arange(X.shape[1]), projection["columns"])
    p = projection["components"].shape[1]
    Z = project_rows(X, projection_state(projection))
    levels = np.concatenate([np.zeros(p, np.int64), levels[rest]])
    weights = np.concatenate([np.full(p, projection["weight"]), weights[rest]])
    return Z, levels, weights


def projection_state(projection: dict) -> dict:
    return {
        "projection_columns": np.asarray(projection["columns"], np.int64),
        "projection_mean": np.asarray(projection["mean"], np.float64),
        "projection": np.asarray(projection["components"], np.float64),
    }


def project_rows(X: np.ndarray, state: dict) -> np.ndarray:
    """Rows of the input matrix as the model sees them: the components of the projected
    columns (a missing value at the column's mean), then the other columns as they are."""
    columns = np.asarray(state["projection_columns"], np.int64)
    mean = np.asarray(state["projection_mean"], np.float64)
    x = X[:, columns].astype(np.float64)
    x = np.where(np.isnan(x), mean, x) - mean
    rest = np.setdiff1d(np.arange(X.shape[1]), columns)
    Z = x @ np.asarray(state["projection"], np.float64)
    return np.ascontiguousarray(np.hstack([Z, X[:, rest]]), dtype=np.float32)


def projection_note(projection: dict) -> str:
    g, p = projection["components"].shape
    return (
        f"{g} numeric columns replaced by their {p} leading principal components "
        f"({projection['explained']:.0%} of their variance; a missing value counts as the "
        "column's mean there)"
    )


def check_codes(X: np.ndarray, levels: np.ndarray) -> None:
    cat = levels > 0
    if not cat.any():
        return
    codes = X[:, cat]
    ok = np.isnan(codes) | ((codes >= 0) & (codes < levels[cat]) & (codes == np.round(codes)))
    if not ok.all():
        raise SegtrailError("a categorical column holds a value that is not one of its levels")


class Data:
    """The matrices EM multiplies: numeric values and masks, and one-hot levels."""

    def __init__(self, X: np.ndarray, levels: np.ndarray, weights: np.ndarray) -> None:
        num = levels == 0
        self.n = len(X)
        self.levels = levels
        self.feature_weights = weights
        self.shared_variance = False  # True: the k-means-like model (see ``m_step``)
        # "full" / "tied": covariance matrices over the numeric columns (see ``m_step``)
        self.covariance = "independent"
        self.num_weights = weights[num]
        x = X[:, num].astype(np.float64)
        self.mask = ~np.isnan(x)
        self.x = np.where(self.mask, x, 0.0)
        self.x2 = self.x * self.x
        self.m = self.mask.astype(np.float64)
        self._distinct: list[np.ndarray] | None = None
        self._patterns: list[tuple[np.ndarray, np.ndarray]] | None = None
        cat = np.flatnonzero(levels > 0)
        self.blocks = [(int(levels[j]), float(weights[j])) for j in cat]
        width = int(levels[cat].sum())
        self.onehot = np.zeros((self.n, width))
        offset = 0
        for j in cat:
            codes = X[:, j]
            rows = np.flatnonzero(~np.isnan(codes))
            self.onehot[rows, offset + codes[rows].astype(np.int64)] = 1.0
            offset += int(levels[j])
        self.level_weights = np.concatenate(
            [np.full(L, w) for L, w in self.blocks] or [np.zeros(0)]
        )

    @property
    def distinct(self) -> list[np.ndarray]:
        """Distinct values of each numeric column (computed when EM first needs them:
        assigning customers does not)."""
        if self._distinct is None:
            self._distinct = [
                distinct_values(self.x[self.mask[:, j], j]) for j in range(self.x.shape[1])
            ]
        return self._distinct

    @classmethod
    def subset(cls, data: Data, rows: np.ndarray) -> Data:
        out = cls.__new__(cls)
        out.__dict__.update(data.__dict__)
        out._distinct = None
        out._patterns = None
        out.n = len(rows)
        for key in ("mask", "x", "x2", "m", "onehot"):
            setattr(out, key, getattr(data, key)[rows])
        return out

    def patterns(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(observed numeric columns, rows) per pattern of missing values among the numeric
        columns with a weight: the full-covariance density of a row uses the sub-matrix of
        its observed columns (missing values are left out, as in the independent model).
        Computed once per Data (EM asks every iteration)."""
        if getattr(self, "_patterns", None) is None:
            self._patterns = self._find_patterns()
        return self._patterns

    def _find_patterns(self) -> list[tuple[np.ndarray, np.ndarray]]:
        active = self.num_weights > 0
        observed = self.mask & active[None, :]
        keys, inverse = np.unique(observed, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        return [
            (np.flatnonzero(key), np.flatnonzero(inverse == i))
            for i, key in enumerate(keys)
            if key.any()
        ]

    def dense_view(self) -> np.ndarray:
        """Imputed numeric (0 = the mean) beside one-hot levels: for k-means++ starts."""
        return np.hstack([self.x * (self.num_weights > 0), self.onehot * 0.7])


def distinct_values(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of a discrete column (counts, rounded amounts), or an
    empty array when nearly every value is distinct (a continuous column)."""
    distinct = np.unique(values)
    if len(distinct) < 2 or len(distinct) > DISTINCT_SHARE * len(values):
        return np.zeros(0)
    return distinct


def discrete_floor(distinct: list[np.ndarray], means: np.ndarray, var_floor: float) -> np.ndarray:
    """Variance floor per class and numeric column. On a discrete column a class must not be
    narrower than the gap between the values around its mean (x ``SPACING_FACTOR``):
    otherwise a class can sit on one value (zero visits, say) and the likelihood grows
    without telling segments apart, so BIC asks for ever more classes. The gap is local:
    counts near 0 are far apart after log1p, large counts close together."""
    floor = np.full(means.shape, var_floor)
    for j, values in enumerate(distinct):
        if len(values) < 2:
            continue
        at = np.clip(np.searchsorted(values, means[:, j]), 1, len(values) - 1)
        gap = values[at] - values[at - 1]
        floor[:, j] = np.maximum(var_floor, SPACING_FACTOR * gap**2)
    return floor


# ----------------------------------------------------------------------------- model


class Model:
    def __init__(self, weights, means, variances, log_probs, levels, feature_weights) -> None:
        self.weights = weights
        self.means = means
        self.variances = variances
        self.log_probs = log_probs
        self.levels = np.asarray(levels, dtype=np.int64)
        self.feature_weights = np.asarray(feature_weights, dtype=np.float64)
        self.loglik = -np.inf
        self.converged = False
        self.shared_variance = False
        # k x g x g over the numeric columns (those without a weight are ignored), or None:
        # columns independent within a class
        self.covariances: np.ndarray | None = None
        self.tied = False  # the same covariance matrix for every class (parameters once)

    @classmethod
    def from_state(cls, state: dict) -> Model:
        model = cls(
            np.asarray(state["weights"], np.float64),
            np.asarray(state["means"], np.float64),
            np.asarray(state["variances"], np.float64),
            np.asarray(state["log_probs"], np.float64),
            state["levels"],
            state["feature_weights"],
        )
        if state.get("covariances") is not None:
            model.covariances = np.asarray(state["covariances"], np.float64)
        return model

    def state(self) -> dict:
        out = {
            "weights": self.weights.copy(),
            "means": self.means.copy(),
            "variances": self.variances.copy(),
            "log_probs": self.log_probs.copy(),
            "levels": self.levels.copy(),
            "feature_weights": self.feature_weights.copy(),
        }
        if self.covariances is not None:
            out["covariances"] = self.covariances.copy()
        return out

    def joint(self, data: Data) -> np.ndarray:
        """Weighted log p(x, class) per row and class (n x k)."""
        out = np.log(np.maximum(self.weights, 1e-300))[None, :].repeat(data.n, axis=0)
        if self.covariances is not None:
            out -= 0.5 * self._full_quad(data)
        elif data.x.shape[1]:
            w = data.num_weights[None, :]
            inv = w / self.variances  # k x g
            const = w * (np.log(2 * np.pi * self.variances) + self.means**2 / self.variances)
            quad = data.x2 @ inv.T - 2 * data.x @ (inv * self.means).T + data.m @ const.T
            out -= 0.5 * quad
        if data.onehot.shape[1]:
            out += data.onehot @ (self.log_probs * data.level_weights[None, :]).T
        return out

    def _full_quad(self, data: Data) -> np.ndarray:
        """-2 log N(observed numeric values) per row and class, pattern by pattern of
        missing values (every class at once: batched Cholesky factors), times the (common)
        weight of the numeric columns."""
        quad = np.zeros((data.n, len(self.weights)))
        weight = float(data.num_weights[data.num_weights > 0].max(initial=0.0))
        for cols, rows in data.patterns():
            chol = np.linalg.cholesky(self.covariances[:, cols][:, :, cols])  # k x o x o
            inv = np.linalg.inv(chol)
            diff = data.x[np.ix_(rows, cols)][None, :, :] - self.means[:, None, cols]
            z = np.matmul(diff, np.transpose(inv, (0, 2, 1)))  # k x rows x o
            log_det = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
            quad[rows] = ((z * z).sum(axis=2) + log_det[:, None]).T + len(cols) * np.log(2 * np.pi)
        return weight * quad

    def posterior(self, data: Data) -> np.ndarray:
        return normalize(self.joint(data))[0]

    def n_params(self) -> int:
        k = len(self.weights)
        active = self.feature_weights > 0
        num = int(((self.levels == 0) & active).sum())
        cat = int((self.levels[(self.levels > 0) & active] - 1).sum())
        spreads = num if self.shared_variance else k * num
        if self.covariances is not None:
            spreads = (1 if self.tied else k) * num * (num + 1) // 2
        return (k - 1) + k * (num + cat) + spreads

    def bic(self, n: int) -> float:
        return -2 * self.loglik + self.n_params() * np.log(n)


def m_step(data: Data, resp: np.ndarray, var_floor: float) -> Model:
    nk = resp.sum(axis=0) + 1e-10
    weights = nk / nk.sum()
    if data.x.shape[1]:
        denom = resp.T @ data.m + 1e-10
        means = (resp.T @ data.x) / denom
        floor = discrete_floor(data.distinct, means, var_floor)
        variances = np.maximum((resp.T @ data.x2) / denom - means**2, 0.0) + floor
        empty = denom < 1e-6  # a class with no observed value of a column: neutral values
        means[empty], variances[empty] = 0.0, 1.0
        if data.shared_variance:  # one spread per column for every class (k-means' model)
            pooled = (denom * variances).sum(axis=0) / denom.sum(axis=0)
            variances = np.broadcast_to(pooled, variances.shape).copy()
    else:
        means = variances = np.zeros((len(nk), 0))
    counts = resp.T @ data.onehot
    log_probs = np.zeros_like(counts)
    offset = 0
    for L, _ in data.blocks:
        block = counts[:, offset : offset + L] + PSEUDO_COUNT
        log_probs[:, offset : offset + L] = np.log(block / block.sum(axis=1, keepdims=True))
        offset += L
    model = Model(weights, means, variances, log_probs, data.levels, data.feature_weights)
    model.shared_variance = data.shared_variance
    if data.covariance != "independent" and data.x.shape[1]:
        model.covariances = full_covariances(data, resp, means, variances - floor, floor)
        if data.covariance == "tied":  # one matrix for all: the pooled within-class one
            pooled = np.einsum("k,kij->ij", weights, model.covariances)
            model.covariances = np.broadcast_to(pooled, model.covariances.shape).copy()
        model.tied = data.covariance == "tied"
        model.variances = np.einsum("kii->ki", model.covariances).copy()
    return model


def full_covariances(
    data: Data, resp: np.ndarray, means: np.ndarray, raw_var: np.ndarray, floor: np.ndarray
) -> np.ndarray:
    """Per class, the weighted covariance of the numeric columns over the rows where both
    columns are observed (pairwise: an approximation of the exact missing-data M-step, which
    would need each row's conditional expectations), the variance floor added on the
    diagonal and eigenvalues kept at or above the smallest floor, so every matrix stays
    positive definite. Columns without a weight get the identity (they are left out of the
    density anyway)."""
    k, g = means.shape
    active = data.num_weights > 0
    out = np.empty((k, g, g))
    for c in range(k):
        r = resp[:, c][:, None]
        dev = (data.x - means[c]) * data.m
        pair = (data.m * r).T @ data.m + 1e-10
        cov = (dev * r).T @ dev / pair
        cov[np.diag_indices(g)] = raw_var[c] + floor[c]
        vals, vecs = np.linalg.eigh(cov)
        cov = (vecs * np.maximum(vals, floor[c].min())) @ vecs.T
        cov[~active, :] = 0.0
        cov[:, ~active] = 0.0
        cov[~active, ~active] = 1.0
        out[c] = cov
    return out


def run_em(data: Data, resp: np.ndarray, var_floor: float, max_iter: int) -> Model:
    model = m_step(data, resp, var_floor)
    previous = -np.inf
    for _ in range(max_iter):
        resp, model.loglik = normalize(model.joint(data))
        if model.loglik - previous < TOL * max(data.n, abs(model.loglik)):
            model.converged = True
            return model
        previous = model.loglik
        model = m_step(data, resp, var_floor)
    model.loglik = normalize(model.joint(data))[1]
    return model


def normalize(joint: np.ndarray) -> tuple[np.ndarray, float]:
    """Posterior probabilities from log p(x, class), and the log-likelihood (a lean
    logsumexp: scipy's costs more than the whole E-step on sample-sized data)."""
    top = joint.max(axis=1, keepdims=True)
    post = np.exp(joint - top)
    total = post.sum(axis=1, keepdims=True)
    post /= total
    return post, float((np.log(total) + top).sum())


def starts(data: Data, k: int, n_init: int, seed: int) -> list[np.ndarray]:
    """Hard responsibilities, one set per start: every row goes to the nearest of k seeds
    picked by k-means++ on the dense view (EM does the refining; full k-means runs per start
    cost more than the EM itself)."""
    dense = data.dense_view()
    sq = np.einsum("ij,ij->i", dense, dense)
    out = []
    for i in range(n_init):
        centres, _ = _kmeans_plusplus()(dense, k, random_state=seed + i)
        dist = sq[:, None] - 2 * dense @ centres.T + np.einsum("ij,ij->i", centres, centres)
        resp = np.zeros((data.n, k))
        resp[np.arange(data.n), np.argmin(dist, axis=1)] = 1.0
        out.append(resp)
    return out


def fit_em(
    data: Data, k: int, n_init: int, seed: int, var_floor: float, previous: Model | None = None
) -> Model:
    """The best of ``n_init`` k-means++ starts and, given the k-1 solution, of its k-1
    splits (each class in turn cut in two), each screened ``SCREEN_ITER`` iterations, then
    run to convergence."""
    if k > data.n:
        raise SegtrailError(f"k={k} is more than the {data.n:,} customers to fit")
    candidates = starts(data, k, n_init, seed)
    if previous is not None:
        candidates += split_starts(data, previous, seed)
    screened = [run_em(data, r, var_floor, SCREEN_ITER) for r in candidates]
    best = max(screened, key=lambda m: m.loglik)
    if best.converged:
        return best
    return run_em(data, best.posterior(data), var_floor, MAX_ITER)


def fit_fixed_k(data: Data, k: int, n_init: int, seed: int, var_floor: float) -> Model:
    """``grow`` up to k on at most ``START_SAMPLE`` of the rows, then EM on all of them from
    that model."""
    if k > data.n:
        raise SegtrailError(f"k={k} is more than the {data.n:,} customers to fit")
    if data.n <= START_SAMPLE:
        return grow(data, k, n_init, seed, var_floor)[k]
    rows = sample_rows(data.n, START_SAMPLE, seed)
    small = Data.subset(data, rows)
    start = grow(small, k, n_init, seed, var_floor)[k]
    return run_em(data, start.posterior(data), var_floor, MAX_ITER)


def grow(data: Data, k_max: int, n_init: int, seed: int, var_floor: float) -> dict[int, Model]:
    """Models for k = 1..k_max, each k also started from splits of the k-1 model. Splits
    find what random starts miss: two close segments beside a wide one (random starts
    tend to cut the wide one in two and leave the close pair merged)."""
    models: dict[int, Model] = {}
    previous = None
    for k in range(1, k_max + 1):
        previous = fit_em(data, k, n_init if k > 1 else 1, seed, var_floor, previous)
        models[k] = previous
    return models


def split_starts(data: Data, model: Model, seed: int) -> list[np.ndarray]:
    """Hard responsibilities for k+1 classes: one per class of ``model``, its rows cut in
    two by a 2-means++ on the dense view."""
    labels = np.argmax(model.posterior(data), axis=1)
    k = len(model.weights)
    dense = data.dense_view()
    out = []
    for c in range(k):
        rows = np.flatnonzero(labels == c)
        if len(rows) < 4:
            continue
        part = dense[rows]
        centres, _ = _kmeans_plusplus()(part, 2, random_state=seed + c)
        side = np.argmin(((part[:, None, :] - centres[None]) ** 2).sum(axis=-1), axis=1)
        new = labels.copy()
        new[rows[side == 1]] = k
        resp = np.zeros((data.n, k + 1))
        resp[np.arange(data.n), new] = 1.0
        out.append(resp)
    return out


def reorder(state: dict, order: list[int]) -> dict:
    """Classes renumbered by size; classes nobody is assigned to are dropped."""
    out = dict(state)
    for key in ("weights", "means", "variances", "log_probs", "covariances"):
        if key in state:
            out[key] = state[key][order]
    out["weights"] = out["weights"] / out["weights"].sum()
    return out


def _kmeans_plusplus():
    # imported when a fit runs: reading the declarations (the CLI's --help) must not load
    # scikit-learn
    from sklearn.cluster import kmeans_plusplus

    return kmeans_plusplus
