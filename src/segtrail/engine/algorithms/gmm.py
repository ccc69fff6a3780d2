"""Gaussian mixture (scikit-learn ``GaussianMixture``): soft segments with membership odds.

- ``k``: number of components; when not given it is chosen by the lowest BIC over
  ``k_range`` (default 2..10) through ``kselect.choose_k``, on a sample.
- ``covariance_type``: "full" (default: one covariance matrix per segment, so correlated
  columns such as spend and orders are modelled) or "diag" (faster on many features).
- ``reg_covar`` (default 0.1, in standardized units): a variance floor added to every
  covariance diagonal. One-hot columns are 0/1, and without a floor a component can
  collapse onto one category level, which also makes BIC reward ever more components.
- Starts from k-means centres (``n_init`` k-means++ starts), which avoids most poor EM
  optima. Above ``sample_size`` customers (default ``SAMPLE_SIZE``) EM runs on a seeded
  sample; every customer is then assigned with the fitted mixture.

Assigning uses the stored weights, means and Cholesky factors of the precision matrices
(computed here with numpy; no pickled model): the segment is the component with the highest
posterior probability. Confidence: that probability (higher = surer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from segtrail.engine.algorithms.base import (
    CHUNK_ROWS,
    Algorithm,
    FitResult,
    K,
    as_matrix,
    fmt_int,
    k_range,
    one_thread,
    order_by_size,
    quiet_convergence,
    resolve_k,
    sample_rows,
    sample_size,
)
from segtrail.engine.algorithms.params import Interval, Options, Param
from segtrail.errors import SegtrailError

if TYPE_CHECKING:
    from sklearn.mixture import GaussianMixture

DEFAULT_K_RANGE = (2, 10)
SAMPLE_SIZE = 100_000
REG_COVAR = 0.1
N_INIT = 3
SWEEP_N_INIT = 2
MAX_ITER = 200
COVARIANCE_TYPES = ("full", "diag")


class GMM(Algorithm):
    name = "gmm"
    confidence_meaning = "probability of belonging to the segment (higher = surer)"
    higher_confidence_is_better = True
    parameters = (
        K,
        k_range(DEFAULT_K_RANGE),
        Param(
            "covariance_type",
            (Options(COVARIANCE_TYPES),),
            "full",
            "'full' models correlated columns per segment; 'diag' is faster on many features",
        ),
        Param(
            "reg_covar",
            (Interval(float, 0, None, closed="neither"),),
            REG_COVAR,
            "variance floor added to every covariance, in standardized units",
        ),
        Param(
            "n_init",
            (Interval(int, 1, None, closed="left"),),
            N_INIT,
            "k-means++ starts; the best is kept",
        ),
        sample_size(SAMPLE_SIZE),
    )

    def fit(self, X: np.ndarray, params: dict, seed: int) -> FitResult:
        X = as_matrix(X)
        n = len(X)
        k, selection, notes = resolve_k(self.name, X, params, seed)
        cov, reg = params["covariance_type"], params["reg_covar"]
        n_init, size = params["n_init"], params["sample_size"]
        idx = sample_rows(n, size, seed)
        model = _fit_mixture(X[idx], k, cov, reg, n_init, seed)
        state = {
            "covariance_type": cov,
            "weights": model.weights_.astype(np.float64),
            "means": model.means_.astype(np.float64),
            "precisions_cholesky": model.precisions_cholesky_.astype(np.float64),
        }
        raw, confidence = self.assign(state, X)
        labels, mapping = order_by_size(raw)
        order = [old for old, _ in sorted(mapping.items(), key=lambda item: item[1])]
        for key in ("weights", "means", "precisions_cholesky"):
            state[key] = state[key][order]  # components nobody is assigned to are dropped
        if len(order) < k:  # the stored mixture changed: confidences must come from it
            state["weights"] = state["weights"] / state["weights"].sum()
            labels, confidence = self.assign(state, X)
        if len(idx) < n:
            notes.append(
                f"Gaussian mixture fitted on a sample of {fmt_int(len(idx))} customers; "
                f"all {fmt_int(n)} assigned to their most likely component"
            )
        if not model.converged_:
            notes.append(f"EM did not converge in {MAX_ITER} iterations; the result may shift")
        used = {
            "k": k,
            "covariance_type": cov,
            "reg_covar": reg,
            "n_init": n_init,
            "sample_size": size,
            "fit_rows": len(idx),
            "n_rows": n,
            "bic_fit_rows": float(model.bic(X[idx].astype(np.float64))),
        }
        if selection is not None:
            used["k_range"] = params["k_range"]
            used["k_selection"] = selection
            top = params["k_range"][1]
            if k == int(top):
                notes.append(
                    f"BIC was still falling at k={k}, the top of the range: the mixture keeps "
                    "finding structure (common with one-hot columns); consider fixing k"
                )
        return FitResult(labels, confidence, used, state, notes)

    def sweep(self, X: np.ndarray, ks, params: dict, seed: int) -> dict[int, dict]:
        X = as_matrix(X)
        params = self.check(params)  # kselect's sweep passes none: the declared defaults
        cov, reg = params["covariance_type"], params["reg_covar"]
        out = {}
        for k in ks:
            model = _fit_mixture(X, k, cov, reg, SWEEP_N_INIT, seed)
            raw = model.predict(X.astype(np.float64))
            out[k] = {
                "labels": order_by_size(raw)[0],
                "bic": float(model.bic(X.astype(np.float64))),
            }
        return out

    def assign(self, state: dict, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from scipy.special import logsumexp

        X = as_matrix(X)
        labels = np.empty(len(X), dtype=np.int32)
        confidence = np.empty(len(X), dtype=np.float32)
        for start in range(0, len(X), CHUNK_ROWS):
            part = X[start : start + CHUNK_ROWS].astype(np.float64)
            logp = log_gaussian(part, state) + np.log(state["weights"])
            post = np.exp(logp - logsumexp(logp, axis=1, keepdims=True))
            labels[start : start + len(part)] = np.argmax(post, axis=1)
            confidence[start : start + len(part)] = post.max(axis=1)
        return labels, confidence


def log_gaussian(X: np.ndarray, state: dict) -> np.ndarray:
    """log N(x | mean_j, cov_j) for every row and component, from precision Cholesky factors
    (the same computation as scikit-learn's ``_estimate_log_gaussian_prob``)."""
    means, prec = state["means"], state["precisions_cholesky"]
    n, d = X.shape
    out = np.empty((n, len(means)))
    for j in range(len(means)):
        if state["covariance_type"] == "full":
            y = X @ prec[j] - means[j] @ prec[j]
            log_det = np.log(np.diag(prec[j])).sum()
        else:  # diag: prec[j] holds 1 / sd per feature
            y = (X - means[j]) * prec[j]
            log_det = np.log(prec[j]).sum()
        out[:, j] = -0.5 * (d * np.log(2 * np.pi) + np.einsum("ij,ij->i", y, y)) + log_det
    return out


def _fit_mixture(
    X: np.ndarray, k: int, cov: str, reg: float, n_init: int, seed: int
) -> GaussianMixture:
    from sklearn.cluster import KMeans as SkKMeans
    from sklearn.mixture import GaussianMixture

    if k > len(X):
        raise SegtrailError(f"k={k} is more than the {len(X):,} customers to fit")
    with one_thread(len(X)), quiet_convergence():
        starts = SkKMeans(k, n_init=n_init, random_state=seed).fit(X)
    model = GaussianMixture(
        k,
        covariance_type=cov,
        reg_covar=reg,
        max_iter=MAX_ITER,
        means_init=starts.cluster_centers_.astype(np.float64),
        random_state=seed,
    )
    with one_thread(len(X)), quiet_convergence():  # non-convergence is in the notes
        return model.fit(X.astype(np.float64))
