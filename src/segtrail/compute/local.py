"""The local engine: the whole table in memory, numpy / scikit-learn (the default)."""

from __future__ import annotations

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
from segtrail.compute.lookalike import rank_in_memory
from segtrail.compute.pipeline import compute
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
        frame = source.read(source.columns)
        out = compute(frame, kinds, id_column, request, progress)
        table = pa.table(
            {
                "customer_id": pa.array(frame[id_column].to_numpy()),
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
        return rank_in_memory(request, progress)
