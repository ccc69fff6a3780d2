"""The algorithm contract's shared helpers (engine/algorithms/base.py), on small arrays:
each checked against a plain numpy computation written here, so they are fast enough to be
this module's own tests in mutation runs (tests/engine/test_algorithms.py fits every
algorithm and covers the contract end to end)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_info, threadpool_limits

from segtrail.engine.algorithms import base
from segtrail.engine.algorithms.base import (
    ONE_THREAD_ROWS,
    Algorithm,
    FitResult,
    K,
    as_matrix,
    centroids,
    distance_to_own,
    elbow_strength,
    fmt_int,
    k_range,
    nearest_centre,
    one_thread,
    order_by_size,
    quiet_convergence,
    require_k,
    resolve_k,
    sample_rows,
    sample_size,
)
from segtrail.engine.algorithms.params import Interval, Param
from segtrail.errors import InvalidInput, SegtrailError


def halves() -> type[Algorithm]:
    """A toy algorithm: cut the first column at ``cut``; k halves the cut's effect. Defined
    when a test runs, so the base class's wrapping of ``fit`` is what the test sees."""

    class Halves(Algorithm):
        name = "halves"
        parameters = (
            K,
            k_range((2, 5)),
            Param("cut", (Interval(float, None, None),), 0.0, "where to cut"),
            Param("verbose", (Interval(int, 0, None),), 0, "chattiness", model=False),
        )

        def fit(self, X: np.ndarray, params: dict, seed: int) -> FitResult:
            labels = (X[:, 0] > params["cut"]).astype(np.int32) * (params["k"] - 1)
            return FitResult(labels, np.zeros(len(X), np.float32), dict(params), {"seed": seed})

    return Halves


def plain() -> type[Algorithm]:
    class Plain(Algorithm):
        name = "plain"

    return Plain


def threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info()}


# ----------------------------------------------------------------------------- the contract


def test_fit_receives_the_checked_parameters_with_defaults() -> None:
    Halves = halves()
    X = np.array([[-1.0], [2.0], [3.0]], dtype=np.float32)
    result = Halves().fit(X, {"k": 3}, 7)
    assert result.params == {"k": 3, "k_range": [2, 5], "cut": 0.0, "verbose": 0}
    assert result.labels.tolist() == [0, 2, 2] and result.state == {"seed": 7}
    assert Halves().fit(X, {"k": 2, "cut": 2}, 0).params["cut"] == 2.0  # normalized to float
    with pytest.raises(InvalidInput, match=r"^halves does not take eps \(it takes: k, k_range"):
        Halves().fit(X, {"eps": 1}, 0)
    with pytest.raises(InvalidInput, match=r"^k must be 'auto' or a whole number >= 2 for halves"):
        Halves().fit(X, {"k": 1}, 0)
    assert Halves.fit.__name__ == "fit"  # the check keeps the fit's name (tracebacks, docs)


def test_a_subclass_without_its_own_fit_is_not_wrapped_again() -> None:
    Halves, Plain = halves(), plain()

    class Finer(Halves):
        name = "finer"

    X = np.array([[-1.0], [2.0]], dtype=np.float32)
    assert Finer().fit(X, {"k": 2}, 0).labels.tolist() == [0, 1]
    with pytest.raises(NotImplementedError):
        Plain().fit(X, {}, 0)
    with pytest.raises(NotImplementedError):
        Plain().assign({}, X)


def test_declarations_tell_k_and_the_model_parameters() -> None:
    Halves, Plain = halves(), plain()
    assert Halves().takes_k and not Plain().takes_k
    assert Halves().model_params == ("k", "cut")  # k_range and verbose do not pin the model
    assert Plain().model_params == ()
    used = {"k": 4, "k_range": [2, 5], "cut": 1.5, "verbose": 2, "n_rows": 10}
    assert Halves().refit_params(used) == {"k": 4, "cut": 1.5}
    assert Halves().refit_params({"cut": 1.5}) == {"cut": 1.5}  # absent ones are left out
    assert Halves().check({"cut": 1}) == {"k": "auto", "k_range": [2, 5], "cut": 1.0, "verbose": 0}


def test_the_default_sweep_fits_every_k() -> None:
    X = np.array([[-1.0], [2.0], [3.0]], dtype=np.float32)
    fits = halves()().sweep(X, [2, 3, 5], {"cut": 2.5}, 0)
    assert sorted(fits) == [2, 3, 5]
    assert {k: fit["labels"].tolist() for k, fit in fits.items()} == {
        2: [0, 0, 1],
        3: [0, 0, 2],
        5: [0, 0, 4],
    }


def test_the_default_sweep_passes_the_seed() -> None:
    class Lottery(Algorithm):
        name = "lottery"
        parameters = (K,)

        def fit(self, X: np.ndarray, params: dict, seed: int) -> FitResult:
            labels = np.random.default_rng(seed).integers(0, params["k"], len(X)).astype(np.int32)
            return FitResult(labels, np.zeros(len(X), np.float32), params, {})

    X = np.zeros((50, 1), dtype=np.float32)
    fits = Lottery().sweep(X, [3], {}, 11)
    assert np.array_equal(fits[3]["labels"], np.random.default_rng(11).integers(0, 3, 50))


def test_fit_result_notes_start_empty_and_apart() -> None:
    a = FitResult(np.zeros(1, np.int32), np.zeros(1, np.float32), {}, {})
    b = FitResult(np.zeros(1, np.int32), np.zeros(1, np.float32), {}, {})
    a.notes.append("x")
    assert b.notes == []


def test_shared_declarations() -> None:
    assert K.name == "k" and K.default == "auto" and K.model
    assert K.describe() == "'auto' or a whole number >= 2"
    ks = k_range((3, 9))
    assert ks.name == "k_range" and ks.default == [3, 9] and not ks.model
    assert ks.describe() == "two whole numbers low <= high, each >= 2"
    assert not ks.accepts[0].accepts([2.5, 4]) and ks.accepts[0].accepts([2, 2])
    assert ks.help == "the k searched when k is 'auto', LOW..HIGH"
    size = sample_size(500)
    assert size.name == "sample_size" and size.default == 500 and size.model
    assert size.describe() == "a whole number >= 2"
    assert size.help.startswith("above this many customers, fit a seeded sample")
    assert K.help == "number of segments, or 'auto' to choose it over k_range"


# ----------------------------------------------------------------------------- ordering


def test_order_by_size_largest_first_ties_by_first_row_noise_kept() -> None:
    labels = np.array([7, 3, 3, -1, 7, 5, 5, 5, 0, -1])
    new, mapping = order_by_size(labels)
    assert new.dtype == np.int32
    # 5 has three rows; 7 and 3 two each (7 appears first); 0 one row
    assert new.tolist() == [1, 2, 2, -1, 1, 0, 0, 0, 3, -1]
    assert mapping == {5: 0, 7: 1, 3: 2, 0: 3}
    assert all(isinstance(k, int) and isinstance(v, int) for k, v in mapping.items())


def test_order_by_size_segment_zero_is_kept_and_all_noise_stays_noise() -> None:
    new, mapping = order_by_size([0, 1, 1])
    assert new.tolist() == [1, 0, 0] and mapping == {1: 0, 0: 1}
    new, mapping = order_by_size(np.array([-1, -1, -1]))
    assert new.tolist() == [-1, -1, -1] and new.dtype == np.int32 and mapping == {}


# ----------------------------------------------------------------------------- inputs


def test_as_matrix_gives_float32_c_contiguous() -> None:
    raw = np.arange(12, dtype=np.float64).reshape(3, 4)[:, ::2]  # not contiguous
    X = as_matrix(raw)
    assert X.dtype == np.float32 and X.flags["C_CONTIGUOUS"]
    assert X.tolist() == [[0, 2], [4, 6], [8, 10]]
    assert as_matrix([[1, 2]]).shape == (1, 2)  # one row is enough


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (3,), (2, 2, 2)])
def test_as_matrix_refuses_other_shapes(shape: tuple) -> None:
    with pytest.raises(SegtrailError) as caught:
        as_matrix(np.zeros(shape))
    assert str(caught.value) == f"feature matrix must be 2-D and non-empty, got shape {shape}"


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_as_matrix_refuses_missing_and_infinite_values(bad: float) -> None:
    with pytest.raises(SegtrailError) as caught:
        as_matrix(np.array([[1.0, 2.0], [3.0, bad]]))
    assert str(caught.value) == "feature matrix has missing or infinite values"


def test_require_k_allows_as_many_segments_as_rows() -> None:
    assert require_k({"k": 5}, 5) == 5
    assert require_k({"k": np.int64(3)}, 10) == 3 and isinstance(require_k({"k": 3.0}, 9), int)
    with pytest.raises(SegtrailError) as caught:
        require_k({"k": 1500}, 1499)
    assert str(caught.value) == "k=1500 is more than the 1,499 customers to cluster"


def test_fmt_int_groups_thousands() -> None:
    assert fmt_int(1234567) == "1,234,567" and fmt_int(12) == "12"


# ----------------------------------------------------------------------------- geometry


def random_data(n: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    centres = rng.normal(size=(k, 3)).astype(np.float32)
    return X, centres


def exact_distances(X: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return np.sqrt(((X[:, None, :].astype(np.float64) - centres[None, :, :]) ** 2).sum(axis=2))


@pytest.mark.parametrize("chunk", [7, 10, 65_536])
def test_nearest_centre_matches_exact_search_across_chunks(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base, "CHUNK_ROWS", chunk)
    X, centres = random_data(30, 4)
    labels, dist = nearest_centre(X, centres.astype(np.float64))
    exact = exact_distances(X, centres)
    assert labels.dtype == np.int32 and dist.dtype == np.float32
    assert labels.tolist() == exact.argmin(axis=1).tolist()
    assert np.allclose(dist, exact.min(axis=1), atol=1e-5)


@pytest.mark.parametrize("chunk", [7, 10, 65_536])
def test_distance_to_own_matches_exact_distances_across_chunks(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base, "CHUNK_ROWS", chunk)
    X, centres = random_data(30, 4, seed=1)
    labels = np.arange(30) % 4
    out = distance_to_own(X, centres, labels)
    assert out.dtype == np.float32
    assert np.allclose(out, exact_distances(X, centres)[np.arange(30), labels], atol=1e-5)


def test_nearest_centre_reads_centres_in_single_precision() -> None:
    """A state's centres stored as float64 (or read back so) place customers exactly as their
    float32 values do."""
    X, centres = random_data(500, 5, seed=2)
    wide = centres.astype(np.float64) + 1e-9 * np.arange(1, 16).reshape(5, 3)
    labels, dist = nearest_centre(X, wide)
    same_labels, same_dist = nearest_centre(X, wide.astype(np.float32))
    assert np.array_equal(labels, same_labels) and np.array_equal(dist, same_dist)


def test_geometry_on_a_table_larger_than_one_chunk() -> None:
    n = base.CHUNK_ROWS * 2 + 5
    X = np.zeros((n, 2), dtype=np.float32)
    X[:, 0] = np.arange(n) % 7
    centres = np.array([[0, 0], [10, 0]], dtype=np.float32)
    labels = (np.arange(n) % 2).astype(np.int32)
    assert np.array_equal(distance_to_own(X, centres, labels), np.abs(X[:, 0] - 10 * labels))
    nearest, dist = nearest_centre(X, centres)
    assert np.array_equal(nearest, (X[:, 0] > 5).astype(np.int32))
    assert np.array_equal(dist, np.minimum(X[:, 0], 10 - X[:, 0]))


def test_centroids_are_the_means_ignoring_noise_and_zero_for_empty_segments() -> None:
    X = np.array([[0, 0], [2, 4], [10, 10], [4, 8], [99, 99]], dtype=np.float32)
    labels = np.array([0, 0, 1, 0, -1])
    out = centroids(X, labels, 3)
    assert out.dtype == np.float32
    assert out.tolist() == [[2, 4], [10, 10], [0, 0]]


# ----------------------------------------------------------------------------- samples


def test_sample_rows_all_rows_up_to_the_size() -> None:
    assert sample_rows(5, 5, 0).tolist() == [0, 1, 2, 3, 4]
    assert sample_rows(3, 10, 0).tolist() == [0, 1, 2]


def test_sample_rows_is_a_seeded_sorted_sample_without_repeats() -> None:
    a = sample_rows(1000, 50, 3)
    assert len(a) == len(set(a.tolist())) == 50 and (np.diff(a) > 0).all()
    assert a.min() >= 0 and a.max() < 1000
    assert np.array_equal(a, sample_rows(1000, 50, 3))
    assert not np.array_equal(a, sample_rows(1000, 50, 4))
    expected = np.sort(np.random.default_rng(3).choice(1000, size=50, replace=False))
    assert np.array_equal(a, expected)  # numpy's seeded generator: reproducible across runs
    assert len(sample_rows(6, 5, 0)) == 5


# ----------------------------------------------------------------------------- choosing k


def test_resolve_k_takes_a_given_k() -> None:
    X = np.zeros((4, 2), dtype=np.float32)
    assert resolve_k("kmeans", X, {"k": 3, "k_range": [2, 3]}, 0) == (3, None, [])
    with pytest.raises(SegtrailError, match="k=5 is more than the 4 customers"):
        resolve_k("kmeans", X, {"k": 5, "k_range": [2, 3]}, 0)


def test_resolve_k_auto_chooses_over_the_range_and_says_so() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [9, 0], [0, 9]], dtype=np.float32)
    X = (centres.repeat(20, axis=0) + rng.normal(0, 0.3, (60, 2))).astype(np.float32)
    k, selection, notes = resolve_k("kmeans", X, {"k": "auto", "k_range": [2, 5]}, 0)
    assert k == 3 and selection["chosen_k"] == 3
    assert [row["k"] for row in selection["curve"]] == [2, 3, 4, 5]
    assert notes[0] == f"k=3 chosen automatically: {selection['rule']}"
    assert notes[1:] == selection["notes"]
    # a narrower range is searched as given
    k, selection, _ = resolve_k("kmeans", X, {"k": "auto", "k_range": [4, 5]}, 0)
    assert [row["k"] for row in selection["curve"]] == [4, 5] and k in (4, 5)


def test_elbow_strength_against_a_direct_computation() -> None:
    x = np.array([2.0, 3.0, 4.0, 6.0])
    y = np.array([50.0, 20.0, 15.0, 10.0])
    # rescaled: x' = (0, 1/4, 1/2, 1), y' = (1, 1/4, 1/8, 0); chord y = 1 - x'
    xs, ys = (x - 2) / 4, (y - 10) / 40
    expected = np.maximum((1 - xs) - ys, 0) / np.hypot(1.0, -1.0)
    assert np.allclose(elbow_strength(x, y), expected)
    assert int(np.argmax(elbow_strength(x, y))) == 1


def test_elbow_strength_of_small_and_single_precision_curves() -> None:
    y = np.array([0.5, 0.1, 0.05, 0.0])  # a span below 1 is rescaled like any other
    expected = np.maximum((1 - np.arange(4) / 3) - y / 0.5, 0) / np.hypot(1.0, -1.0)
    assert np.allclose(elbow_strength(np.arange(4), y), expected)
    # k-distance curves come as float32: the strength is worked out in double precision
    y32 = np.array([9.7, 3.1, 1.3, 1.1, 0.9], dtype=np.float32)
    x32 = np.arange(5, dtype=np.float32) / np.float32(3)
    ours = elbow_strength(x32, y32)
    assert ours.dtype == np.float64
    assert np.array_equal(ours, elbow_strength(x32.astype(np.float64), y32.astype(np.float64)))


def test_elbow_strength_rescales_x_by_its_first_and_last_values() -> None:
    # a repeated first or last x: the rescaling uses the first and the last x only
    first_twice = elbow_strength([0, 0, 2], [1.0, 0.0, 0.0])
    assert np.allclose(first_twice, np.array([0.0, 1.0, 0.0]) / np.hypot(1, -1))
    assert np.allclose(elbow_strength([0, 2, 2], [1.0, 0.0, 0.0]), [0.0, 0.0, 0.0])


def test_elbow_strength_points_above_the_chord_and_flat_curves() -> None:
    concave = elbow_strength([0, 1, 2], [0.0, 9.0, 10.0])  # above the chord: no elbow
    assert concave.tolist() == [0.0, 0.0, 0.0]
    assert elbow_strength([0, 1, 2], [5.0, 5.0, 5.0]).tolist() == [0.0, 0.0, 0.0]
    # one repeated x: every point at x' = 0, so the chord is y'[0] everywhere
    same_x = elbow_strength([3, 3, 3], [4.0, 0.0, 2.0])
    assert same_x.dtype == np.float64
    assert np.allclose(same_x, np.array([0.0, 1.0, 0.5]) / np.hypot(1.0, -0.5))
    rising = elbow_strength(np.array([1, 2, 3]), np.array([0, 1, 4]))  # ints are fine
    assert np.allclose(rising, np.array([0.0, 0.25, 0.0]) / np.hypot(1.0, 1.0))


def test_the_hook_reaches_only_the_fits_that_take_it() -> None:
    """A fit declaring ``before_placing`` gets the caller's hook (None when none is given);
    a fit of every row at once, which has no such parameter, is called without it."""
    Halves = halves()

    class Hooked(Halves):
        name = "hooked"

        def fit(self, X: np.ndarray, params: dict, seed: int, before_placing=None) -> FitResult:
            result = Halves.fit(self, X, params, seed)
            result.notes.append(before_placing)
            return result

    def hook(state: dict, params: dict) -> None:
        return None

    X = np.array([[-1.0], [2.0]], dtype=np.float32)
    assert Hooked().fit(X, {"k": 2}, 0, before_placing=hook).notes == [hook]
    assert Hooked().fit(X, {"k": 2}, 0).notes == [None]
    assert Halves().fit(X, {"k": 2}, 0, before_placing=hook).labels.tolist() == [0, 1]


# ----------------------------------------------------------------------------- runtime context


def test_one_thread_for_small_fits_only() -> None:
    # two threads outside, whatever the environment says (OMP_NUM_THREADS=1 in mutation runs)
    with threadpool_limits(limits=2):
        with one_thread(ONE_THREAD_ROWS):
            assert threads() == {1}
        with one_thread():
            assert threads() == {1}
        assert threads() == {2}
        with one_thread(ONE_THREAD_ROWS + 1):
            assert threads() == {2}


def test_limit_threads_sets_one_thread_by_default_and_restores_on_leaving() -> None:
    with threadpool_limits(limits=2):
        with base.limit_threads():
            assert threads() == {1}
        assert threads() == {2}


_ONE_KIND = """
import sklearn.cluster  # loads scikit-learn's OpenMP library
from threadpoolctl import threadpool_info, threadpool_limits
from segtrail.engine.algorithms.base import limit_threads

with threadpool_limits(limits=2):
    with limit_threads(1, "blas"):
        print(sorted({(p["user_api"], p["num_threads"]) for p in threadpool_info()}))
"""


def test_limit_threads_of_one_kind_leaves_the_others() -> None:
    """In a fresh process without faiss: faiss's own OpenBLAS is built on OpenMP, and its
    thread count is OpenMP's (setting one sets the other), so wherever faiss is loaded a BLAS
    limit is an OpenMP limit too. place_in_blocks sets both to one anyway."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", _ONE_KIND], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[('blas', 1), ('openmp', 2)]"


_LOADED_LATER = """
import sys
from threadpoolctl import threadpool_info
from segtrail.engine.algorithms.base import limit_threads

with limit_threads(1):  # before scikit-learn (and its OpenMP library) is imported
    pass
assert not any(pool["user_api"] == "openmp" for pool in threadpool_info())
import sklearn.cluster
with limit_threads(1):
    print(sorted({pool["user_api"]: pool["num_threads"] for pool in threadpool_info()}.items()))
"""


def test_limit_threads_reaches_a_library_loaded_after_its_first_use() -> None:
    """In a fresh process (an OpenMP library cannot be unloaded from this one): the second
    limit covers the OpenMP library that importing scikit-learn loaded since the first; as
    it does here, where scikit-learn was loaded before."""
    import sklearn.cluster  # noqa: F401

    with threadpool_limits(limits=2), base.limit_threads(1):
        assert threads() == {1}
    import os
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "2", "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", _LOADED_LATER], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[('blas', 1), ('openmp', 1)]"


def test_quiet_convergence_silences_only_convergence_warnings() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with quiet_convergence():
            warnings.warn("did not converge", ConvergenceWarning, stacklevel=1)
            warnings.warn("something else", UserWarning, stacklevel=1)
        warnings.warn("after", ConvergenceWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["something else", "after"]
