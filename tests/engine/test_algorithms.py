"""The algorithm registry: one contract, size-ordered labels, safe state, deterministic fits."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture

from segtrail.engine.algorithms import REGISTRY, get_algorithm, order_by_size
from segtrail.engine.algorithms import kmeans as kmeans_module
from segtrail.engine.algorithms.base import as_matrix, elbow_strength
from segtrail.engine.algorithms.gmm import log_gaussian
from segtrail.errors import SegtrailError

ALL = sorted(REGISTRY)


def blobs(n: int = 600, k: int = 3, seed: int = 0, d: int = 4) -> tuple[np.ndarray, np.ndarray]:
    # unequal sizes, well apart
    weights = np.linspace(1.0, 2.0, k)
    sizes = np.floor(n * weights / weights.sum()).astype(int)
    sizes[-1] += n - sizes.sum()
    X, y = make_blobs(sizes.tolist(), n_features=d, cluster_std=0.6, center_box=(-12, 12),
                      random_state=seed)  # fmt: skip
    return X.astype(np.float32), y


def params_for(name: str, k: int = 3) -> dict:
    return {"k": k} if REGISTRY[name].takes_k else {}


def is_json_scalar(v: object) -> bool:
    return v is None or isinstance(v, bool | int | float | str)


# ----------------------------------------------------------------------------- helpers


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-1, 6), min_size=1, max_size=80))
def test_order_by_size_puts_the_largest_first(raw: list[int]) -> None:
    labels = np.array(raw)
    new, mapping = order_by_size(labels)
    assert new.dtype == np.int32
    assert ((new == -1) == (labels == -1)).all()  # noise stays noise
    counts = np.bincount(new[new >= 0]) if (new >= 0).any() else np.array([], int)
    assert (np.diff(counts) <= 0).all() and (counts > 0).all()
    for old, target in mapping.items():
        assert (new[labels == old] == target).all()
    # ties: the segment whose first row comes first gets the lower number
    firsts = {s: int(np.flatnonzero(new == s)[0]) for s in range(len(counts))}
    for a in range(len(counts) - 1):
        if counts[a] == counts[a + 1]:
            assert firsts[a] < firsts[a + 1]


def test_order_by_size_does_not_depend_on_the_algorithms_numbering() -> None:
    a = np.array([5, 5, 1, 1, 2, 2, 2])
    b = np.array([0, 0, 9, 9, 3, 3, 3])  # same partition, other numbers
    assert order_by_size(a)[0].tolist() == order_by_size(b)[0].tolist() == [1, 1, 2, 2, 0, 0, 0]


def test_unknown_algorithm_lists_the_names() -> None:
    with pytest.raises(SegtrailError) as caught:
        get_algorithm("kmedoids")
    assert "unknown algorithm 'kmedoids'" in str(caught.value)
    for name in ("kmeans", "dbscan", "hdbscan", "gmm", "agglomerative"):
        assert name in str(caught.value)


def test_bad_matrices_and_k_are_refused() -> None:
    with pytest.raises(SegtrailError, match="missing or infinite"):
        as_matrix(np.array([[1.0, np.nan]]))
    with pytest.raises(SegtrailError, match="2-D and non-empty"):
        as_matrix(np.zeros((0, 3)))
    X, _ = blobs(20)
    with pytest.raises(SegtrailError, match="k=50 is more than the 20 customers"):
        get_algorithm("kmeans").fit(X, {"k": 50}, 0)
    with pytest.raises(SegtrailError, match="k must be a whole number"):
        get_algorithm("kmeans").fit(X, {"k": 2.5}, 0)


def test_elbow_strength_finds_the_bend() -> None:
    y = np.array([100.0, 40.0, 12.0, 10.0, 9.0, 8.5])
    strength = elbow_strength(np.arange(len(y)), y)
    assert int(np.argmax(strength)) == 2 and strength[0] == strength[-1] == 0


# ----------------------------------------------------------------------------- the contract


@pytest.mark.parametrize("name", ALL)
def test_contract_on_separated_blobs(name: str) -> None:
    X, truth = blobs()
    algo = get_algorithm(name)
    result = algo.fit(X, params_for(name), seed=3)
    labels = result.labels
    assert labels.dtype == np.int32 and labels.shape == (len(X),)
    assert result.confidence.dtype == np.float32 and result.confidence.shape == (len(X),)
    segments = np.unique(labels[labels >= 0])
    assert segments.tolist() == list(range(len(segments)))
    counts = np.bincount(labels[labels >= 0])
    assert (np.diff(counts) <= 0).all()
    assert adjusted_rand_score(truth, labels) > 0.95
    # parameters: JSON; state: numpy arrays and JSON scalars only (no pickles)
    json.dumps(result.params)
    for value in result.state.values():
        assert (isinstance(value, np.ndarray) and value.dtype != object) or is_json_scalar(value)
    assert all(isinstance(note, str) for note in result.notes)
    # the stored state places the same customers in the same segments
    again, confidence = algo.assign(result.state, X)
    agreement = (again == labels).mean()
    assert agreement == 1.0 if name != "agglomerative" else agreement > 0.99
    assert again.dtype == np.int32 and confidence.dtype == np.float32
    assert algo.confidence_meaning


@pytest.mark.parametrize("name", ALL)
def test_state_survives_a_json_and_bytes_round_trip(name: str) -> None:
    X, _ = blobs(300)
    algo = get_algorithm(name)
    result = algo.fit(X, params_for(name), seed=0)
    stored = {
        key: (np.frombuffer(v.tobytes(), v.dtype).reshape(v.shape) if isinstance(v, np.ndarray)
              else json.loads(json.dumps(v)))
        for key, v in result.state.items()
    }  # fmt: skip
    new = X[:50] + np.float32(0.01)
    assert np.array_equal(algo.assign(stored, new)[0], algo.assign(result.state, new)[0])


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), data_seed=st.integers(0, 1000))
def test_same_data_params_and_seed_give_identical_labels(
    name: str, seed: int, data_seed: int
) -> None:
    X, _ = blobs(240, k=4, seed=data_seed)
    algo = get_algorithm(name)
    first = algo.fit(X, params_for(name, 4), seed)
    second = algo.fit(X.copy(), params_for(name, 4), seed)
    assert np.array_equal(first.labels, second.labels)
    assert np.array_equal(first.confidence, second.confidence, equal_nan=True)


def test_refit_params_pin_the_model() -> None:
    X, _ = blobs(300)
    for name in ALL:
        algo = get_algorithm(name)
        used = algo.fit(X, params_for(name), 0).params
        pinned = algo.refit_params(used)
        assert set(pinned) <= set(algo.model_params)
        if algo.takes_k:
            assert pinned["k"] == used["k"]
        json.dumps(pinned)
    assert "eps" in get_algorithm("dbscan").refit_params(
        get_algorithm("dbscan").fit(X, {}, 0).params
    )


# ----------------------------------------------------------------------------- per algorithm


def test_kmeans_auto_k_records_the_selection() -> None:
    X, _ = blobs(900, k=4)
    result = get_algorithm("kmeans").fit(X, {"k": "auto", "k_range": [2, 8]}, 0)
    assert result.params["k"] == 4
    selection = result.params["k_selection"]
    assert selection["chosen_k"] == 4 and [r["k"] for r in selection["curve"]] == list(range(2, 9))
    assert any("chosen automatically" in note for note in result.notes)
    json.dumps(result.params)


def test_kmeans_large_data_starts_on_a_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kmeans_module, "SAMPLE_STARTS_ABOVE", 500)
    monkeypatch.setattr(kmeans_module, "START_SAMPLE", 200)
    X, truth = blobs(1200, k=3)
    result = get_algorithm("kmeans").fit(X, {"k": 3}, 0)
    assert result.params["start_sample"] == 200
    assert any("sample of 200 customers" in note and "all 1,200" in note for note in result.notes)
    assert adjusted_rand_score(truth, result.labels) > 0.99
    centres = result.state["centres"]
    dist = np.linalg.norm(X - centres[result.labels], axis=1)
    assert np.allclose(result.confidence, dist, atol=1e-4)


def test_dbscan_auto_eps_sample_and_noise() -> None:
    X, truth = blobs(900)
    outliers = np.full((5, X.shape[1]), 60.0, dtype=np.float32)  # far from everything
    data = np.vstack([X, outliers])
    result = get_algorithm("dbscan").fit(data, {"sample_size": 400}, 0)
    assert result.params["eps"] > 0 and result.params["fit_rows"] == 400
    assert any("knee" in note for note in result.notes)
    assert any("sample of 400 customers" in note for note in result.notes)
    assert (result.labels[-5:] == -1).all()
    assert np.isnan(result.confidence[-5:]).all()
    assert adjusted_rand_score(truth, result.labels[:-5]) > 0.95


def test_dbscan_tiny_eps_makes_everything_noise() -> None:
    X, _ = blobs(200)
    result = get_algorithm("dbscan").fit(X, {"eps": 1e-4}, 0)
    assert (result.labels == -1).all()
    assert any("every customer is noise" in note for note in result.notes)


def test_hdbscan_samples_and_assigns_the_rest() -> None:
    X, truth = blobs(1500)
    result = get_algorithm("hdbscan").fit(X, {"sample_size": 500}, 1)
    assert result.params["fit_rows"] == 500
    assert result.params["min_cluster_size"] == 5  # 1% of 500, floored at 5
    assert any("sample of 500 customers" in note for note in result.notes)
    assert adjusted_rand_score(truth, result.labels) > 0.95
    assert (result.labels == -1).mean() < 0.05


def test_gmm_assign_matches_scikit_learn_and_gives_probabilities() -> None:
    X, truth = blobs(600)
    for cov in ("full", "diag"):
        result = get_algorithm("gmm").fit(X, {"k": 3, "covariance_type": cov}, 0)
        state = result.state
        reference = GaussianMixture(3, covariance_type=cov)
        reference.weights_ = state["weights"]
        reference.means_ = state["means"]
        reference.precisions_cholesky_ = state["precisions_cholesky"]
        reference.covariance_type = cov
        ours = log_gaussian(X.astype(np.float64), state)
        theirs = reference._estimate_log_prob(X.astype(np.float64))
        assert np.allclose(ours, theirs)
        assert ((result.confidence > 0) & (result.confidence <= 1)).all()
        assert adjusted_rand_score(truth, result.labels) > 0.95


def test_gmm_chooses_k_by_bic() -> None:
    X, _ = blobs(600, k=4)
    result = get_algorithm("gmm").fit(X, {"k_range": [2, 6]}, 0)
    curve = result.params["k_selection"]["curve"]
    best = min(curve, key=lambda r: r["bic"])["k"]
    assert result.params["k"] == best == 4
    assert "BIC" in result.params["k_selection"]["rule"]


def test_agglomerative_refuses_large_tables_and_suggests_kmeans() -> None:
    X, _ = blobs(300)
    with pytest.raises(SegtrailError) as caught:
        get_algorithm("agglomerative").fit(X, {"k": 3, "max_rows": 100}, 0)
    assert "limited to 100 customers" in str(caught.value) and "kmeans" in str(caught.value)


def test_agglomerative_sweep_cuts_one_tree() -> None:
    X, _ = blobs(300)
    fits = get_algorithm("agglomerative").sweep(X, [2, 3, 4], {}, 0)
    for k in (2, 3, 4):
        assert len(np.unique(fits[k]["labels"])) == k
    # nested: every k=4 segment lies inside one k=3 segment
    pairs = {(a, b) for a, b in zip(fits[4]["labels"], fits[3]["labels"], strict=True)}
    assert len({a for a, _ in pairs}) == len(pairs)


@pytest.mark.parametrize("name", ["kmeans", "gmm", "agglomerative"])
def test_fewer_distinct_customers_than_k_gives_compact_labels(name: str) -> None:
    X = np.repeat(np.array([[0, 0], [5, 5], [9, 0]], dtype=np.float32), [30, 20, 10], axis=0)
    result = get_algorithm(name).fit(X, {"k": 5}, 0)
    assert sorted(np.unique(result.labels).tolist()) == [0, 1, 2]
    assert np.bincount(result.labels).tolist() == [30, 20, 10]
