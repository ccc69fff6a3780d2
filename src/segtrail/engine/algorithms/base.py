"""The contract every clustering algorithm follows, and helpers they share.

An algorithm fits a float32 feature matrix and returns a ``FitResult``: labels ordered by
segment size (0 = largest, -1 = noise), a per-customer confidence, the parameters actually
used, and a fitted state made of numpy arrays and JSON scalars only (no pickles), from which
``assign`` places new customers.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from segtrail.engine.algorithms.params import Interval, Options, Param, Range, check_params
from segtrail.errors import SegtrailError

CHUNK_ROWS = 65_536  # rows per block when a step would otherwise build an n x d temporary
PLACE_BLOCK_ROWS = 50_000  # customers per block when a fit places every customer
# Up to this many rows, fits run on one thread: scikit-learn's OpenMP/BLAS threads cost more
# than they save on sample-sized problems (2-4x slower measured on the 2-core target when
# other work shares the machine).
ONE_THREAD_ROWS = 100_000


# Called by a sampled fit once its model is known, just before it places every customer
# (its longest step): ``before_placing(state, params)``, with the fitted state (which
# ``assign`` takes, in the fit's own segment numbering) and the model's parameters. It may
# return work that needs only the model, which the fit runs beside the placement (see
# ``place_in_blocks``): compute/pipeline.py returns the bootstrap refits.
BeforePlacing = Callable[[dict, dict], Callable[[], None] | None]


@dataclass
class FitResult:
    labels: np.ndarray  # int32, 0..k-1 ordered by size (0 = largest), noise = -1
    confidence: np.ndarray  # float32 per row; meaning depends on the algorithm (see each)
    params: dict  # every parameter actually used, JSON-serializable
    state: dict  # numpy arrays + JSON scalars: enough to assign new customers
    notes: list[str] = field(default_factory=list)  # plain sentences for the user


class Algorithm:
    """Base class. A subclass sets the class attributes below, declares its ``parameters``
    and implements ``fit`` and ``assign``.

    ``fit`` receives every declared parameter, checked and with defaults filled in: the check
    wraps each subclass's ``fit`` automatically (like scikit-learn's ``_fit_context``), so an
    algorithm cannot forget it and a caller cannot pass a parameter the fit never reads.
    """

    name: str = ""
    confidence_meaning: str = ""  # what ``FitResult.confidence`` measures, in plain words
    higher_confidence_is_better: bool = False
    parameters: tuple[Param, ...] = ()  # every parameter the fit reads, declared once

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "fit" in cls.__dict__:
            cls.fit = _checked(cls.__dict__["fit"])

    @property
    def takes_k(self) -> bool:
        """True when the number of segments is a parameter (chosen automatically when absent)."""
        return any(p.name == "k" for p in self.parameters)

    @property
    def model_params(self) -> tuple[str, ...]:
        """Parameters that define the model, so a refit (stability, re-run) reproduces it."""
        return tuple(p.name for p in self.parameters if p.model)

    def check(self, params: dict) -> dict:
        """``params`` checked against the declarations, defaults filled in (see params.py)."""
        return check_params(self.name, self.parameters, params)

    def fit(
        self,
        X: np.ndarray,
        params: dict,
        seed: int,
        before_placing: BeforePlacing | None = None,
    ) -> FitResult:
        """Fit ``X``. ``before_placing``: see ``BeforePlacing`` (algorithms that fit every
        row at once never call it)."""
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


def _checked(fit: Callable[..., FitResult]) -> Callable[..., FitResult]:
    takes_hook = "before_placing" in inspect.signature(fit).parameters

    @functools.wraps(fit)
    def checked_fit(
        self: Algorithm,
        X: np.ndarray,
        params: dict,
        seed: int,
        before_placing: BeforePlacing | None = None,
    ) -> FitResult:
        if before_placing is None or not takes_hook:  # a fit of every row never calls it
            return fit(self, X, self.check(params), seed)
        return fit(self, X, self.check(params), seed, before_placing)

    return checked_fit


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
    """The declared k (already checked: a whole number >= 2), if the data has that many rows."""
    k = int(params["k"])
    if k > n_rows:
        raise SegtrailError(f"k={k} is more than the {n_rows:,} customers to cluster")
    return k


def nearest_centre(X: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of and Euclidean distance to the nearest centre, chunked (no n x k x d temporary)."""
    from sklearn.metrics import pairwise_distances_argmin_min

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
    """The k to fit: ``params["k"]`` when a number, else chosen by ``kselect.choose_k``
    over ``params["k_range"]``.

    Returns (k, the selection report or None, notes).
    """
    if params["k"] != "auto":
        return require_k(params, len(X)), None, []
    from segtrail.engine.kselect import choose_k  # kselect imports the registry

    low, high = params["k_range"]
    selection = choose_k(X, name, (int(low), int(high)), seed)
    notes = [f"k={selection['chosen_k']} chosen automatically: {selection['rule']}"]
    return int(selection["chosen_k"]), selection, notes + selection["notes"]


# Declarations shared by several algorithms (each algorithm lists the ones it reads).
K = Param(
    "k",
    (Options(("auto",)), Interval(int, 2, None, closed="left")),
    "auto",
    "number of segments, or 'auto' to choose it over k_range",
)


def k_range(default: tuple[int, int]) -> Param:
    """The k searched when k is 'auto'; not a model parameter (a refit uses the k chosen)."""
    return Param(
        "k_range",
        (Range(Interval(int, 2, None, closed="left")),),
        list(default),
        "the k searched when k is 'auto', LOW..HIGH",
        model=False,
    )


def sample_size(default: int) -> Param:
    """Above this many customers the algorithm fits a seeded sample and assigns the rest."""
    return Param(
        "sample_size",
        (Interval(int, 2, None, closed="left"),),
        default,
        "above this many customers, fit a seeded sample of this size and assign the rest",
    )


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


_controller: tuple[int, ThreadpoolController] | None = None


def limit_threads(limits: int | None = 1, user_api: str | None = None) -> Any:
    """threadpoolctl's ``threadpool_limits(limits, user_api)``: set on return, and the
    counts found restored when used as a context and left. Through one controller, kept
    while no module is imported (only an import loads a new BLAS or OpenMP library): making
    one lists the loaded libraries, 3 ms that a bootstrap of small refits paid 40 times."""
    global _controller
    loaded = len(sys.modules)
    if _controller is None or _controller[0] != loaded:
        _controller = (loaded, ThreadpoolController())
    return _controller[1].limit(limits=limits, user_api=user_api)


def one_thread(n_rows: int = 0) -> Any:
    """Context for a fit on ``n_rows`` rows: one thread when small (see ONE_THREAD_ROWS)."""
    if n_rows <= ONE_THREAD_ROWS:
        return limit_threads(1)
    return contextlib.nullcontext()


@contextlib.contextmanager
def beside(work: Callable[..., Any] | None, *args: Any) -> Iterator[Future | None]:
    """Run ``work(*args)`` on a second thread while the ``with`` block runs on this one;
    yields its future (None when ``work`` is None), whose ``result()`` is ready after the
    block. Both sides run on one BLAS/OpenMP thread (sample-sized fits: see one_thread),
    set once around both, since threadpoolctl's limits are process-wide: nested limits
    entered and left on two threads could restore each other's values out of order."""
    if work is None:
        yield None
        return
    with limit_threads(1), ThreadPoolExecutor(1) as pool:
        future = pool.submit(work, *args)
        try:
            yield future
        finally:
            future.exception()  # wait for it before the limits are lifted


def place_in_blocks(
    assign: Callable[[dict, np.ndarray], tuple[np.ndarray, np.ndarray]],
    state: dict,
    X: np.ndarray,
    alongside: Callable[[], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``assign(state, X)`` in blocks of PLACE_BLOCK_ROWS rows on two threads, each on one
    BLAS/OpenMP thread, with ``alongside`` (work that needs one core for a while) run first
    on one of them: when it ends, that thread takes blocks too, so the two cores stay busy.
    (A search spread over both cores by OpenMP stalls when a third thread takes one of
    them.) ``assign`` must place each row on its own, as the density methods' rule does:
    the result is then the same as one call on every row."""
    if alongside is None and len(X) <= PLACE_BLOCK_ROWS:
        return assign(state, X)
    starts = range(0, len(X), PLACE_BLOCK_ROWS)
    # OpenMP's limit is per thread: each worker sets its own; BLAS's is set once, here.
    with (
        limit_threads(1, "blas"),
        ThreadPoolExecutor(2, initializer=limit_threads, initargs=(1, "openmp")) as pool,
    ):
        side = pool.submit(alongside) if alongside is not None else None
        blocks = [pool.submit(assign, state, X[s : s + PLACE_BLOCK_ROWS]) for s in starts]
        placed = [block.result() for block in blocks]
        if side is not None:
            side.result()  # its error, if any, is the fit's
    labels = np.concatenate([p[0] for p in placed])
    return labels, np.concatenate([p[1] for p in placed])


@contextlib.contextmanager
def quiet_convergence() -> Iterator[None]:
    """Silence scikit-learn's ConvergenceWarning; callers report such cases in their notes."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield
