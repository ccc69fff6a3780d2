"""Segment recovery on labelled real data sets shipped in packages (scikit-learn's iris,
wine, breast cancer and digits): the default path against standard scaling + k-means at the
true k, run beside it."""

from __future__ import annotations

import sys
import tempfile
import time

import numpy as np
import pandas as pd
from common import Figure
from sklearn import datasets
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from segtrail.services.workspace import Workspace

NOTES = (
    "Real data break what the planted family assumes (columns independent within a segment; "
    "see the family section): here columns are strongly correlated and the labels are "
    "classes, not clusters, so neither side need reach a high ARI. None of these data sets "
    "was looked at while tuning the default path. The default path is `segtrail segment` "
    "with no --algorithm and no --k (it chooses the model and k over 2..12); the baseline is "
    "what an analyst writes first: StandardScaler + KMeans(n_init=10) told the true k. "
    "Seconds are whole calls in one process (the default path also measures quality, "
    "stability and profiles, and records the version). All four data sets are numeric: no "
    "labelled mixed-type data set ships inside the installed packages (scikit-learn, "
    "statsmodels), and the run has no network. Above 16 numeric columns (breast cancer 30, "
    "digits 64) the default path fits on the principal components with more than one "
    "column's variance (engine.choice, lca.fit_projection); that path was built and judged "
    "on planted tables (tests/planted.py many_correlated, 30 and 60 columns) and leaves the "
    "family's cells (at most 7 numeric columns) unchanged; these four sets were only run "
    "afterwards. The model column says which variant BIC chose (lca full / tied / "
    "independent, or kmeans) and, with a projection, on how many components."
)

LOADERS = {
    "iris (150 x 4, 3 classes)": datasets.load_iris,
    "wine (178 x 13, 3 classes)": datasets.load_wine,
    "breast cancer (569 x 30, 2 classes)": datasets.load_breast_cancer,
    "digits (1,797 x 64, 10 classes)": datasets.load_digits,
}


def _frame(loader) -> tuple[pd.DataFrame, np.ndarray]:
    bunch = loader()
    X = np.asarray(bunch.data, dtype=float)
    columns = [f"f{i}_{str(n).replace(' ', '_')}" for i, n in enumerate(bunch.feature_names)]
    frame = pd.DataFrame(X, columns=columns)
    frame.insert(0, "id", [f"c{i}" for i in range(len(frame))])
    return frame, np.asarray(bunch.target)


def run() -> list[Figure]:
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, loader) in enumerate(LOADERS.items()):
            frame, truth = _frame(loader)
            true_k = len(np.unique(truth))
            with Workspace.init(f"{tmp}/ws{i}", author="bench") as ws:
                ws.ingest(frame, "id", name=f"real{i}")
                start = time.perf_counter()
                version = ws.segment(f"real{i}", "real", "labelled real data", algorithm=None)
                seconds = time.perf_counter() - start
                labels = ws.assignments(version["version"]).reindex(frame["id"]).to_numpy()
                shown = ws.show(version["version"])
            model = _model_words(shown.parameters)
            _print_curve(name, shown.metrics.get("k_selection"))
            start = time.perf_counter()
            scaled = StandardScaler().fit_transform(frame.drop(columns="id"))
            baseline = KMeans(true_k, n_init=10, random_state=0).fit_predict(scaled)
            baseline_seconds = time.perf_counter() - start
            figures.append(
                Figure(
                    name,
                    f"default path ({model}, k={version['k']})",
                    seconds,
                    "scaled k-means at the true k",
                    baseline_seconds,
                    extra={
                        "ARI default path": f"{adjusted_rand_score(truth, labels):.3f}",
                        "ARI k-means true k": f"{adjusted_rand_score(truth, baseline):.3f}",
                        "k chosen / true": f"{version['k']} / {true_k}",
                    },
                )
            )
    return figures


def _model_words(params: dict) -> str:
    """The chosen model in a few words: algorithm, covariance variant, projection."""
    if "numeric_covariance" in params:
        words = [f"lca {params['numeric_covariance']}"]
    else:
        words = ["kmeans"]
    if params.get("numeric_projection") == "pca":
        words.append(
            f"on {params['projection_components']} principal components "
            f"({params['projection_variance']:.0%} of the variance)"
        )
    return " ".join(words)


def _print_curve(name: str, selection: dict | None) -> None:
    """The k curve (BIC, split-half stability) on stderr: to read why a k was chosen."""
    if not selection:
        return
    rows = [
        f"{r['k']}: {r.get('bic', float('nan')):,.0f} / {r.get('stability', float('nan')):.2f}"
        for r in selection["curve"]
    ]
    print(f"{name} k: BIC / stability  " + "; ".join(rows), file=sys.stderr, flush=True)
