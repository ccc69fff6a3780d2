"""Registry of clustering algorithms. Adding one: a module with an ``Algorithm`` subclass
that declares its ``parameters`` (params.py), and one line in ``REGISTRY`` below. The CLI's
algorithm options and the parameter checks follow from the declarations."""

from __future__ import annotations

from segtrail.engine.algorithms.agglomerative import Agglomerative
from segtrail.engine.algorithms.base import Algorithm, FitResult, order_by_size
from segtrail.engine.algorithms.bisecting import Bisecting
from segtrail.engine.algorithms.dbscan import DBSCAN
from segtrail.engine.algorithms.gmm import GMM
from segtrail.engine.algorithms.hdbscan import HDBSCAN
from segtrail.engine.algorithms.kmeans import KMeans
from segtrail.engine.algorithms.lca import LCA
from segtrail.engine.algorithms.params import Param
from segtrail.errors import InvalidInput

REGISTRY: dict[str, Algorithm] = {
    "kmeans": KMeans(),
    "dbscan": DBSCAN(),
    "hdbscan": HDBSCAN(),
    "gmm": GMM(),
    "agglomerative": Agglomerative(),
    "lca": LCA(),
    "bisecting": Bisecting(),
}
DEFAULT_ALGORITHM = "kmeans"


def get_algorithm(name: str) -> Algorithm:
    """The registered algorithm called ``name``; unknown names raise SegtrailError."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise InvalidInput(
            f"unknown algorithm '{name}'; choose one of: {', '.join(REGISTRY)}"
        ) from None


def declared_parameters() -> dict[str, list[tuple[str, Param]]]:
    """Every declared parameter name, in registry order, with the algorithms that take it
    and their declaration: {"min_samples": [("dbscan", Param), ("hdbscan", Param)], ...}."""
    out: dict[str, list[tuple[str, Param]]] = {}
    for name, algorithm in REGISTRY.items():
        for param in algorithm.parameters:
            if param.option:  # the others come from the data, not from the user
                out.setdefault(param.name, []).append((name, param))
    return out


__all__ = [
    "DEFAULT_ALGORITHM",
    "REGISTRY",
    "Algorithm",
    "FitResult",
    "Param",
    "declared_parameters",
    "get_algorithm",
    "order_by_size",
]
