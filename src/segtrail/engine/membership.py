"""How firmly each customer belongs to its segment, as two honest numbers for exports.

``distance_to_centre``: Euclidean distance (in the scaled feature space) to the mean of the
customer's own segment; smaller = more typical. ``confidence`` in 0..1: for mixture models the
posterior probability of the segment (given by the model); for every other algorithm a margin
score from the nearest other centre, ``1 - d_own / d_other``: 1 at the own centre, 0 half-way
between two centres (or nearer another one), so it reads "how clearly this customer is on its
segment's side". Noise (label -1) has no centre: NaN distance, confidence 0.
"""

from __future__ import annotations

import numpy as np

from segtrail.engine.algorithms.base import CHUNK_ROWS, centroids


def segment_centres(X: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean of each segment 0..max label (noise ignored), float32, shape (k, d)."""
    labels = np.asarray(labels, dtype=np.int64)
    k = int(labels.max()) + 1 if (labels >= 0).any() else 0
    return centroids(np.asarray(X, dtype=np.float32), labels, k).astype(np.float32)


def centre_margin(
    X: np.ndarray, labels: np.ndarray, centres: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(distance_to_centre, margin confidence) per row, both float32. ``centres`` default to
    the segments' means in ``X``; pass the training centres when ``X`` holds new customers."""
    X = np.asarray(X, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    if centres is None:
        centres = segment_centres(X, labels)
    k = len(centres)
    distance = np.full(len(X), np.nan, dtype=np.float32)
    confidence = np.zeros(len(X), dtype=np.float32)
    if k == 0:
        return distance, confidence
    for start in range(0, len(X), CHUNK_ROWS):
        part, own = X[start : start + CHUNK_ROWS], labels[start : start + CHUNK_ROWS]
        # all row-to-centre distances of the block (n x k); |x-c|^2 = |x|^2 - 2x.c + |c|^2
        # avoids an n x k x d temporary
        sq = (
            np.einsum("ij,ij->i", part, part)[:, None]
            - 2 * part @ centres.T
            + np.einsum("ij,ij->i", centres, centres)[None, :]
        )
        d = np.sqrt(np.maximum(sq, 0))
        valid = own >= 0
        rows = np.flatnonzero(valid)
        d_own = d[rows, own[rows]]
        distance[start + rows] = d_own
        if k < 2:
            confidence[start + rows] = 1.0
            continue
        others = d[rows].copy()
        others[np.arange(len(rows)), own[rows]] = np.inf
        d_other = others.min(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            margin = np.where(d_other > 0, 1 - d_own / d_other, 0.0)
        confidence[start + rows] = np.clip(margin, 0, 1)
    return distance, confidence
