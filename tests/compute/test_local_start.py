"""The local engine's start: the dataset is read and its features prepared on a second
thread while the fit's and the measures' imports run beside; the results are those of the
pipeline run in one go, and a density run never imports the mixture model."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segtrail.compute import local, pipeline
from segtrail.compute.base import DatasetSource
from segtrail.engine.algorithms import REGISTRY


def customers(n: int = 600) -> tuple[pd.DataFrame, dict[str, str]]:
    rng = np.random.default_rng(3)
    centres = np.array([[0.0, 0.0], [6.0, 6.0], [0.0, 8.0]])
    X = centres[rng.integers(0, 3, n)] + rng.normal(size=(n, 2))
    frame = pd.DataFrame(X, columns=["spend", "visits"])
    frame["channel"] = rng.choice(["web", "app", "shop"], n)
    frame.insert(0, "customer_id", [f"C{i}" for i in range(n)])
    kinds = {"customer_id": "id", "spend": "numeric", "visits": "numeric"}
    return frame, {**kinds, "channel": "categorical"}


def request(algorithm: str | None, params: dict) -> dict:
    """What `segment` asks of an engine: every column, no weights, seed 0."""
    return {**dict.fromkeys(("features", "exclude", "weights")), "seed": 0} | {
        "algorithm": algorithm,
        "params": params,
    }


def source(frame: pd.DataFrame) -> DatasetSource:
    return DatasetSource("shop@1", "unused", len(frame), list(frame.columns), frame.__getitem__)


@pytest.mark.parametrize(
    ("algorithm", "params"), [("kmeans", {"k": 3}), ("dbscan", {}), (None, {"k": 3})]
)
def test_features_prepared_beside_the_imports_give_the_same_version(algorithm, params):
    frame, kinds = customers()
    ask = request(algorithm, params)
    messages: list[str] = []
    done = local.LocalEngine().segment(
        source(frame), kinds, "customer_id", ask, Path("."), lambda m, _f=None: messages.append(m)
    )
    alone = pipeline.compute(frame, kinds, "customer_id", ask)
    assert done.table.column("segment").to_pylist() == alone["labels"].tolist()
    assert done.table.column("customer_id").to_pylist() == frame["customer_id"].tolist()
    for key in ("quality", "stability", "profiles", "notes", "used", "features", "k"):
        assert done.record[key] == alone[key], key
    assert messages[0] == "preparing features" and messages.count("preparing features") == 1


def test_a_bad_column_is_refused_as_before():
    frame, kinds = customers()
    ask = {**request("kmeans", {"k": 3}), "features": ["nowhere"]}
    with pytest.raises(Exception) as alone:
        pipeline.compute(frame, kinds, "customer_id", ask)
    with pytest.raises(type(alone.value), match=str(alone.value)):
        local.LocalEngine().segment(
            source(frame), kinds, "customer_id", ask, Path("."), pipeline.noop
        )


def test_every_module_imported_ahead_exists_for_a_known_algorithm():
    assert set(local.FIT_IMPORTS) <= {None, *REGISTRY}
    for name in {*local.MEASURES, *(n for names in local.FIT_IMPORTS.values() for n in names)}:
        assert importlib.util.find_spec(name) is not None, name


def run_python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_the_pipeline_imports_no_scikit_learn():
    code = (
        "import sys, segtrail.compute.pipeline\n"
        "heavy = ('sklearn', 'scipy', 'faiss', 'segtrail.engine.kmixture')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    assert run_python(code) == "[]"


def test_the_local_engine_imports_no_pandas_before_its_read_starts():
    """`segment` starts reading the dataset on a second thread before pandas (a third of a
    second) and the pipeline are imported: the engine's module imports neither."""
    code = "import sys, segtrail.compute.local\nprint('pandas' in sys.modules)"
    assert run_python(code) == "False"


def test_a_density_run_imports_ahead_but_never_the_mixture_model():
    code = (
        "import sys\n"
        "import numpy as np, pandas as pd\n"
        "from segtrail.compute.base import DatasetSource\n"
        "from segtrail.compute.local import LocalEngine\n"
        "X = np.random.default_rng(0).normal(size=(300, 2))\n"
        "frame = pd.DataFrame({'customer_id': [f'C{i}' for i in range(300)],"
        " 'a': X[:, 0], 'b': X[:, 1]})\n"
        "kinds = {'customer_id': 'id', 'a': 'numeric', 'b': 'numeric'}\n"
        "ask = {'features': None, 'exclude': None, 'weights': None, 'algorithm': 'dbscan',"
        " 'params': {}, 'seed': 0}\n"
        "src = DatasetSource('t@1', '', 300, list(frame.columns), frame.__getitem__)\n"
        "LocalEngine().segment(src, kinds, 'customer_id', ask, None, lambda *a: None)\n"
        "names = ('faiss', 'sklearn.cluster', 'segtrail.engine.kmixture',"
        " 'segtrail.engine.choice')\n"
        "print([m in sys.modules for m in names])"
    )
    assert run_python(code) == "[True, True, False, False]"
