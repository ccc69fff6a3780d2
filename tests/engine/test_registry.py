"""The algorithm registry (engine/algorithms/__init__.py): every algorithm found by the name
it records in a version, unknown names refused in one line, and the CLI's parameter table
built from the declarations (only what a user may type, each with the algorithms taking it)."""

from __future__ import annotations

import pytest

from segtrail.engine.algorithms import (
    DEFAULT_ALGORITHM,
    REGISTRY,
    declared_parameters,
    get_algorithm,
)
from segtrail.errors import InvalidInput

NAMES = ["kmeans", "dbscan", "hdbscan", "gmm", "agglomerative", "lca", "bisecting"]


def test_every_algorithm_is_registered_under_its_own_name() -> None:
    assert list(REGISTRY) == NAMES
    for name in NAMES:
        assert get_algorithm(name).name == name
        assert get_algorithm(name) is REGISTRY[name]
    assert DEFAULT_ALGORITHM == "kmeans"


def test_an_unknown_algorithm_is_refused_with_the_choices() -> None:
    with pytest.raises(InvalidInput) as caught:
        get_algorithm("KMeans")
    assert str(caught.value) == (
        "unknown algorithm 'KMeans'; choose one of: kmeans, dbscan, hdbscan, gmm, "
        "agglomerative, lca, bisecting"
    )


def test_declared_parameters_follow_the_declarations() -> None:
    # an independent walk over the declarations: every parameter a user may give, with the
    # algorithms declaring it, in registry order
    expected: dict[str, list[str]] = {}
    for name in NAMES:
        for param in REGISTRY[name].parameters:
            if param.option:
                expected.setdefault(param.name, []).append(name)
    got = declared_parameters()
    assert {p: [a for a, _ in pairs] for p, pairs in got.items()} == expected
    assert list(got) == list(expected)  # first declared first
    for p, pairs in got.items():
        for algorithm, param in pairs:
            assert param.name == p and param in REGISTRY[algorithm].parameters
    # parameters segtrail passes from the data are not offered
    assert any(not p.option for a in REGISTRY.values() for p in a.parameters)
    assert all(param.option for pairs in got.values() for _, param in pairs)
    assert "min_samples" in got and [a for a, _ in got["min_samples"]][:2] == ["dbscan", "hdbscan"]
