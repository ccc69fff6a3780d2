"""The local engine: the whole table in memory, numpy / scikit-learn (the default)."""

from __future__ import annotations

import importlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from segtrail.compute.base import (
    AssignmentsSource,
    DatasetSource,
    LookalikeRanked,
    LookalikeRequest,
    Progress,
    Segmented,
)

if TYPE_CHECKING:
    import pandas as pd

    from segtrail.compute.pipeline import Prepared


class LocalEngine:
    name = "local"

    def segment(
        self,
        source: DatasetSource,
        kinds: dict[str, str],
        id_column: str,
        request: dict,
        scratch: Path,
        progress: Progress,
    ) -> Segmented:
        # The dataset is read and its features prepared on a second thread while this one
        # imports what the fit and the measures need (scikit-learn, which imports SciPy's
        # stats, and faiss: seconds of a run's start-up). Arrow's decoding and numpy's
        # kernels release the GIL, so the two mostly overlap. The read starts before
        # anything else is imported, pandas and the pipeline included (this module imports
        # neither): until then the second core has nothing to do.
        def read_and_prepare() -> tuple[pd.DataFrame, Prepared]:
            frame = source.read(source.columns)
            from segtrail.compute.pipeline import prepare  # no scikit-learn

            return frame, prepare(frame, kinds, id_column, request)

        progress("preparing features", None)
        with ThreadPoolExecutor(1) as pool:
            preparing = pool.submit(read_and_prepare)
            from segtrail.compute.pipeline import compute

            import_for_fit(request["algorithm"])
            frame, prep = preparing.result()
        out = compute(frame, kinds, id_column, request, progress, prep)
        table = pa.table(
            {
                "customer_id": _arrow(frame[id_column]),
                "segment": pa.array(out.pop("labels").astype(np.int32)),
                "confidence": pa.array(np.asarray(out.pop("confidence"), dtype=np.float32)),
            }
        )
        return Segmented(record=out, table=table, engine=self.name)

    def diff(self, a: AssignmentsSource, b: AssignmentsSource, min_jaccard: float) -> dict:
        from segtrail.engine.diff import diff_assignments  # pandas: not before a read starts

        return diff_assignments(a.read(), b.read(), min_jaccard)

    def segments_of(
        self, assignments: AssignmentsSource, customers: pd.Series
    ) -> tuple[pd.Series, list[int]]:
        # every customer's label in memory; the campaign's counts look its customers up
        import pandas as pd

        labels = assignments.read()
        return labels, sorted(int(x) for x in pd.unique(labels.dropna().to_numpy()))

    def lookalike(
        self, request: LookalikeRequest, scratch: Path, progress: Progress
    ) -> LookalikeRanked:
        # imported here: it pulls in the design and lookalike models (statsmodels, scikit-learn's
        # ensembles), which `segment` never uses
        from segtrail.compute.lookalike import rank_in_memory

        return rank_in_memory(request, progress)


# What each fit and the quality measures import when they run (engine/quality.py's
# scikit-learn metrics, the algorithms' own imports), by algorithm (None: segtrail chooses).
# Imported beside the reading by ``import_for_fit``; a name left out only costs its import
# on the critical path.
MEASURES = ("segtrail.engine.quality",)
FIT_IMPORTS: dict[str | None, tuple[str, ...]] = {
    None: ("segtrail.engine.choice", "segtrail.engine.kselect", "sklearn.cluster"),
    "kmeans": ("sklearn.cluster",),
    "bisecting": ("sklearn.cluster",),
    "lca": ("sklearn.cluster",),
    "gmm": ("sklearn.cluster", "sklearn.mixture"),
    "dbscan": ("sklearn.cluster", "sklearn.neighbors", "segtrail.engine.algorithms.faiss_import"),
    "hdbscan": ("sklearn.cluster", "sklearn.neighbors", "segtrail.engine.algorithms.faiss_import"),
    "agglomerative": ("scipy.cluster.hierarchy",),
}


def import_for_fit(algorithm: str | None) -> None:
    """Import the modules ``algorithm``'s fit and the quality measures will import."""
    for name in (*MEASURES, *FIT_IMPORTS.get(algorithm, ())):
        importlib.import_module(name)


def _arrow(column: pd.Series) -> pa.Array | pa.ChunkedArray:
    """A column as Arrow: an Arrow-backed one as it is (no copy), others converted."""
    import pandas as pd

    if isinstance(column.dtype, pd.ArrowDtype):
        return pa.array(column.array)  # the Arrow data itself, through __arrow_array__
    return pa.array(column.to_numpy())
