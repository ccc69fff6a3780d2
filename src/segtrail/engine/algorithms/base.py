"""The contract every clustering algorithm follows, and helpers they share.

An algorithm fits a float32 feature matrix and returns a ``FitResult``: labels ordered by
segment size (0 = largest, -1 = noise), a per-customer confidence, the parameters actually
used, and a fitted state made of numpy arrays and JSON scalars only (no pickles), from which
``assign`` places new customers.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import pairwise_distances_argmin_min
from threadpoolctl import threadpool_limits

from segtrail.errors import SegtrailError

CHUNK_ROWS = 65_536  # rows per block when a step would otherwise build an n x d temporary
# Up to this many rows, fits run on one thread: scikit-learn's OpenMP/BLAS threads cost more
# than they save on sample-sized problems (2-4x slower measured on the 2-core target when
# other work shares the machine).
ONE_THREAD_ROWS = 100_000


@dataclass
class FitResult:
    labels: np.ndarray  # int32, 0..k-1 ordered by size (0 = largest), noise = -1
    confidence: np.ndarray  # float32 per row; meaning depends on the algorithm (see each)
    params: dict  # every parameter actually used, JSON-serializable
    state: dict  # numpy arrays + JSON scalars: enough to assign new customers
    notes: list[str] = field(default_factory=list)  # plain sentences for the user


class Algorithm:
    """Base class; subclasses set the class attributes below and implement fit/assign."""

    name: str = ""
    takes_k: bool = False  # True when the number of segments is a parameter (auto when absent)
    confidence_meaning: str = ""  # what ``FitResult.confidence`` measures, in plain words
    higher_confidence_is_better: bool = False
    # parameters that define the model, so a refit (stability, re-run) reproduces it
    model_params: tuple[str, ...] = ()

    def fit(self, X: np.ndarray, params: dict, seed: int) -> FitResult:
        raise NotImplementedError

    def assign(self, state: dict, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Labels (int32) and confidence (float32) for new customers."""
        raise NotImplementedError

    def sweep(self, X: np.ndarray, ks: Iterable[int], params: dict, seed: int) -> dict[int, dict]:
        """Fit every k in ``ks`` (for choosing k). Returns {k: {"labels": ..., extras}}.

        The default fits one by one; an algorithm that can share work across k overrides it.
        """
        out = {}
        for k in ks:
            out[k] = {"labels": self.fit(X, {**params, "k": k}, seed).labels}
        return out

    def refit_params(self, used: dict) -> dict:
        """The subset of ``FitResult.params`` that pins the model for a refit."""
        return {key: used[key] for key in self.model_params if key in used}


def order_by_size(labels: np.ndarray) -> tuple[np.ndarray, dict[int, int]]:
    """Relabel so segment 0 is the largest; -1 (noise) stays -1.

    Ties in size go to the segment whose first row comes first, which does not depend on the
    arbitrary numbering the algorithm produced. Returns (new labels, {old: new}).
    """
    labels = np.asarray(labels)
    valid = labels >= 0
    if not valid.any():
        return np.full(labels.shape, -1, dtype=np.int32), {}
    uniq, first, counts = np.unique(labels[valid], return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))  # by size descending, then first appearance
    mapping = {int(uniq[j]): i for i, j in enumerate(order)}
    lookup = np.full(int(uniq.max()) + 1, -1, dtype=np.int32)
    lookup[uniq[order]] = np.arange(len(uniq), dtype=np.int32)
    out = np.full(labels.shape, -1, dtype=np.int32)
    out[valid] = lookup[labels[valid]]
    return out, mapping


def as_matrix(X: Any) -> np.ndarray:
    """Validate a feature matrix: 2-D, finite, at least one row; float32, C-contiguous."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise SegtrailError(f"feature matrix must be 2-D and non-empty, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise SegtrailError("feature matrix has missing or infinite values")
    return X


def require_k(params: dict, n_rows: int) -> int:
    k = params.get("k")
    if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1:
        raise SegtrailError(f"k must be a whole number >= 1, got {k!r}")
    if k > n_rows:
        raise SegtrailError(f"k={k} is more than the {n_rows:,} customers to cluster")
    return int(k)


def nearest_centre(X: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of and Euclidean distance to the nearest centre, chunked (no n x k x d temporary)."""
    labels = np.empty(len(X), dtype=np.int32)
    dist = np.empty(len(X), dtype=np.float32)
    centres = np.ascontiguousarray(centres, dtype=np.float32)
    for start in range(0, len(X), CHUNK_ROWS):
        part = X[start : start + CHUNK_ROWS]
        idx, d = pairwise_distances_argmin_min(part, centres)
        labels[start : start + len(part)] = idx
        dist[start : start + len(part)] = d
    return labels, dist


def distance_to_own(X: np.ndarray, centres: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Euclidean distance of each row to the centre of its own label (chunked)."""
    out = np.empty(len(X), dtype=np.float32)
    for start in range(0, len(X), CHUNK_ROWS):
        part = X[start : start + CHUNK_ROWS]
        diff = part - centres[labels[start : start + len(part)]]
        out[start : start + len(part)] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


def centroids(X: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Mean of each label 0..k-1 (rows with label -1 ignored), float32."""
    valid = labels >= 0
    rows, lab = X[valid], labels[valid]
    # one bincount per feature column: far faster than np.add.at on large inputs
    sums = np.stack(
        [np.bincount(lab, weights=rows[:, j], minlength=k) for j in range(X.shape[1])], axis=1
    )
    counts = np.bincount(lab, minlength=k).astype(np.float64)
    return (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)


def sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded sample of ``size`` rows out of ``n`` (all rows if n <= size)."""
    if n <= size:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=size, replace=False))


def fmt_int(n: int) -> str:
    return f"{n:,}"


def resolve_k(
    name: str, X: np.ndarray, params: dict, seed: int
) -> tuple[int, dict | None, list[str]]:
    """The k to fit: ``params["k"]`` when given, else chosen by ``kselect.choose_k``.

    Returns (k, the selection report or None, notes). ``params["k_range"]`` bounds the search
    (default 2..12).
    """
    if params.get("k") not in (None, "auto"):
        return require_k(params, len(X)), None, []
    from segtrail.engine.kselect import DEFAULT_K_RANGE, choose_k  # kselect imports the registry

    low, high = params.get("k_range") or DEFAULT_K_RANGE
    selection = choose_k(X, name, (int(low), int(high)), seed)
    notes = [f"k={selection['chosen_k']} chosen automatically: {selection['rule']}"]
    return int(selection["chosen_k"]), selection, notes + selection["notes"]


def elbow_strength(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """How far each point lies below the chord from the first to the last point, with both
    axes rescaled to 0..1; the knee of a convex curve is the largest. Points above get 0."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    x = (x - x[0]) / (x[-1] - x[0]) if x[-1] != x[0] else np.zeros_like(x)
    span = y.max() - y.min()
    y = (y - y.min()) / span if span > 0 else np.zeros_like(y)
    chord = y[0] + (y[-1] - y[0]) * x
    return np.maximum(chord - y, 0.0) / np.hypot(1.0, y[-1] - y[0])


def one_thread(n_rows: int = 0) -> threadpool_limits | contextlib.nullcontext:
    """Context for a fit on ``n_rows`` rows: one thread when small (see ONE_THREAD_ROWS)."""
    if n_rows <= ONE_THREAD_ROWS:
        return threadpool_limits(limits=1)
    return contextlib.nullcontext()


@contextlib.contextmanager
def quiet_convergence() -> Iterator[None]:
    """Silence scikit-learn's ConvergenceWarning; callers report such cases in their notes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield
