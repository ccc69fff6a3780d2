"""The local engine: the whole table in memory, numpy / scikit-learn (the default)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from segtrail.compute.base import (
    AssignmentsSource,
    DatasetSource,
    LookalikeRanked,
    LookalikeRequest,
    Progress,
    Segmented,
)
from segtrail.engine.diff import diff_assignments


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
        # The dataset is read (Arrow decodes without the GIL) while this thread imports the
        # pipeline, whose scikit-learn import is about a second of a density run's start-up.
        with ThreadPoolExecutor(1) as pool:
            reading = pool.submit(source.read, source.columns)
            from segtrail.compute.pipeline import compute

            frame = reading.result()
        out = compute(frame, kinds, id_column, request, progress)
        table = pa.table(
            {
                "customer_id": _arrow(frame[id_column]),
                "segment": pa.array(out.pop("labels").astype(np.int32)),
                "confidence": pa.array(np.asarray(out.pop("confidence"), dtype=np.float32)),
            }
        )
        return Segmented(record=out, table=table, engine=self.name)

    def diff(self, a: AssignmentsSource, b: AssignmentsSource, min_jaccard: float) -> dict:
        return diff_assignments(a.read(), b.read(), min_jaccard)

    def segments_of(
        self, assignments: AssignmentsSource, customers: pd.Series
    ) -> tuple[pd.Series, list[int]]:
        # every customer's label in memory; the campaign's counts look its customers up
        labels = assignments.read()
        return labels, sorted(int(x) for x in pd.unique(labels.dropna().to_numpy()))

    def lookalike(
        self, request: LookalikeRequest, scratch: Path, progress: Progress
    ) -> LookalikeRanked:
        # imported here: it pulls in the design and lookalike models (statsmodels, scikit-learn's
        # ensembles), which `segment` never uses
        from segtrail.compute.lookalike import rank_in_memory

        return rank_in_memory(request, progress)


def _arrow(column: pd.Series) -> pa.Array | pa.ChunkedArray:
    """A column as Arrow: an Arrow-backed one as it is (no copy), others converted."""
    if isinstance(column.dtype, pd.ArrowDtype):
        return pa.array(column.array)  # the Arrow data itself, through __arrow_array__
    return pa.array(column.to_numpy())
