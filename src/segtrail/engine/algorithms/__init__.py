"""Registry of clustering algorithms. Adding one: a module with an ``Algorithm`` subclass
and one line in ``REGISTRY`` below."""

from __future__ import annotations

from segtrail.engine.algorithms.agglomerative import Agglomerative
from segtrail.engine.algorithms.base import Algorithm, FitResult, order_by_size
from segtrail.engine.algorithms.dbscan import DBSCAN
from segtrail.engine.algorithms.gmm import GMM
from segtrail.engine.algorithms.hdbscan import HDBSCAN
from segtrail.engine.algorithms.kmeans import KMeans
from segtrail.engine.algorithms.lca import LCA
from segtrail.errors import SegtrailError

REGISTRY: dict[str, Algorithm] = {
    "kmeans": KMeans(),
    "dbscan": DBSCAN(),
    "hdbscan": HDBSCAN(),
    "gmm": GMM(),
    "agglomerative": Agglomerative(),
    "lca": LCA(),
}
DEFAULT_ALGORITHM = "kmeans"


def get_algorithm(name: str) -> Algorithm:
    """The registered algorithm called ``name``; unknown names raise SegtrailError."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise SegtrailError(
            f"unknown algorithm '{name}'; choose one of: {', '.join(REGISTRY)}"
        ) from None


__all__ = [
    "DEFAULT_ALGORITHM",
    "REGISTRY",
    "Algorithm",
    "FitResult",
    "get_algorithm",
    "order_by_size",
]
