"""The default path's rules, one at a time, on small model matrices (fast: a few hundred
rows, k up to 4). tests/engine/test_choice.py runs the whole path on planted data."""

from __future__ import annotations

import numpy as np
import pytest

from segtrail.engine.algorithms import get_algorithm
from segtrail.engine.choice import (
    MAX_COVARIANCE_COLUMNS,
    PROJECTION_KMEANS,
    PROJECTION_REASON,
    choose_default,
    compare_covariances,
    compare_numeric,
    covariance_candidates,
    default_fit,
    wants_projection,
)
from segtrail.engine.kmixture import RULE, mixture_sweep
from segtrail.errors import SegtrailError

N = 200


def two_groups(n: int = N, seed: int = 0) -> tuple[np.ndarray, np.random.Generator]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2, n), rng


def mixed(noise_columns: int = 1, seed: int = 0) -> tuple[np.ndarray, list[int], list[str]]:
    """Two numeric columns and a yes/no column that follow two segments, then uniform noise."""
    y, rng = two_groups(seed=seed)
    cols = [y * 4 + rng.normal(size=N), y * 4 + rng.normal(size=N)]
    cols.append(np.where(rng.random(N) < 0.9, y, 1 - y))
    cols += [rng.uniform(size=N) for _ in range(noise_columns)]
    names = ["a", "b", "member"] + [f"noise{i}" for i in range(noise_columns)]
    return np.column_stack(cols).astype(np.float32), [0, 0, 2] + [0] * noise_columns, names


def blobs(spreads: tuple[float, float], n: int = N, seed: int = 1) -> np.ndarray:
    """Two numeric columns, two segments with the given spread each."""
    y, rng = two_groups(n, seed)
    spread = np.asarray(spreads)[y][:, None]
    return (y[:, None] * 6.0 + rng.normal(size=(n, 2)) * spread).astype(np.float32)


def layout(levels: list[int], weights: list[float], **extra) -> dict:
    return {"levels": levels, "feature_weights": weights, **extra}


def decide(M, levels, names, k="auto", weights=None, k_range=(2, 3)) -> dict:
    weights = [1.0] * len(levels) if weights is None else weights
    return choose_default(M, levels, weights, names, k, k_range, 0)


WORDS = {
    "independent": "each segment's own spread per column (columns independent within it)",
    "full": "a covariance matrix of the numeric columns per segment",
    "tied": "one covariance matrix of the numeric columns shared by all segments",
    "shared": "one spread per column shared by all segments",
}


def lowest_bics(M: np.ndarray, base: dict, k_range: tuple[int, int]) -> dict[str, float]:
    """Reference: each variant's own sweep, its lowest BIC (in the order the reasons list)."""
    variants = {
        "independent": base,
        "full": {**base, "numeric_covariance": "full"},
        "tied": {**base, "numeric_covariance": "tied"},
        "shared": {**base, "shared_variance": True},
    }
    return {
        name: min(r["bic"] for r in mixture_sweep(M, k_range, 0, v, split_half=False)[0]["curve"])
        for name, v in variants.items()
    }


def listed(best: dict[str, float]) -> str:
    return ", ".join(f"{WORDS[name]} {value:,.0f}" for name, value in best.items())


# ----------------------------------------------------------------------------- told k


def test_a_told_k_above_the_number_of_customers_is_refused() -> None:
    M, levels, names = mixed()
    with pytest.raises(SegtrailError, match=r"^k=201 is more than the 200 customers to cluster$"):
        decide(M, levels, names, k=201)


# ----------------------------------------------------------------------------- noise


def test_a_column_that_moves_with_nothing_gets_weight_zero_and_a_note() -> None:
    M, levels, names = mixed(noise_columns=1)
    decision = decide(M, levels, names)
    assert decision["noise"] == ["noise0"]
    assert decision["weights"] == [1.0, 1.0, 1.0, 0.0]
    assert decision["params"]["feature_weights"] == [1.0, 1.0, 1.0, 0.0]
    assert decision["notes"][1] == (
        "pure-noise columns left out of the segments (weight 0): noise0; each is independent "
        "of every other column, so it carries no segment structure"
    )


def test_half_of_the_columns_may_be_noise_but_not_more() -> None:
    M, levels, names = mixed(noise_columns=3)
    # 3 of 6 columns: dropped
    decision = decide(M, levels, names)
    assert decision["noise"] == ["noise0", "noise1", "noise2"]
    assert "(weight 0): noise0, noise1, noise2; each is" in decision["notes"][1]
    # 3 of 5 columns with a weight (the user set b to 0): no structure to speak of, all kept
    decision = decide(M, levels, names, weights=[1.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    assert decision["noise"] == []
    assert decision["weights"] == [1.0, 0.0, 1.0, 1.0, 1.0, 1.0]
    assert not any("pure-noise" in note for note in decision["notes"])


def test_a_column_weighted_zero_by_the_user_is_not_called_noise() -> None:
    M, levels, names = mixed(noise_columns=1)
    decision = decide(M, levels, names, weights=[1.0, 1.0, 1.0, 0.0])
    assert decision["noise"] == []
    assert decision["weights"] == [1.0, 1.0, 1.0, 0.0]


# ----------------------------------------------------------------------------- mixed data


def test_mixed_data_goes_to_the_class_model_with_its_reasons() -> None:
    M, levels, names = mixed(noise_columns=0)
    steps = []
    decision = choose_default(
        M, levels, [1.0] * 3, names, "auto", (2, 3), 0, lambda text, done: steps.append(text)
    )
    assert "trying k = 2..3 (latent class model)" in steps
    assert decision["algorithm"] == "lca"
    assert decision["notes"][0] == (
        "latent class model chosen (no --algorithm given): the data has categorical or "
        "yes/no columns (member), which it models by each segment's level shares rather "
        "than by distances between 0/1 columns; missing values are left out, not imputed"
    )
    selection = decision["selection"]
    chosen = selection["chosen_k"]
    assert decision["params"]["k"] == chosen == 2
    assert decision["params"]["levels"] == [0, 0, 2]
    assert decision["params"]["feature_weights"] == [1.0, 1.0, 1.0]
    assert f"k={chosen} chosen automatically: {RULE}" in decision["notes"]
    assert all("stability" in row for row in selection["curve"])  # split-half per k
    assert [row["k"] for row in selection["curve"]] == [2, 3][: len(selection["curve"])]


def test_many_categorical_columns_are_named_six_at_most() -> None:
    y, rng = two_groups()
    cols = [np.where(rng.random(N) < 0.9, y, 1 - y) for _ in range(7)]
    M = np.column_stack(cols).astype(np.float32)
    names = [f"c{i}" for i in range(7)]
    words = decide(M, [2] * 7, names, k=2)["notes"][0]
    assert "columns (c0, c1, c2, c3, c4, c5, ...), which" in words
    words = decide(M[:, :6], [2] * 6, names[:6], k=2)["notes"][0]
    assert "columns (c0, c1, c2, c3, c4, c5), which" in words


def test_told_k_compares_the_variants_at_that_k_only() -> None:
    M, levels, names = mixed(noise_columns=0)
    decision = decide(M, levels, names, k=3)
    assert decision["selection"] is None and decision["params"]["k"] == 3
    assert not any("chosen automatically" in note for note in decision["notes"])
    at_three = compare_covariances(M, layout(levels, [1.0] * 3), (3, 3), 0, None)[2]
    assert decision["notes"][-1] == at_three and at_three.startswith("model: ")


def test_a_close_runner_up_is_named() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, N)
    M = np.column_stack(
        [y * 1.5 + rng.normal(size=N), np.where(rng.random(N) < 0.6, y % 2, rng.integers(0, 2, N))]
    ).astype(np.float32)
    decision = decide(M, [0, 2], ["x", "m"])
    selection = decision["selection"]
    assert (selection["chosen_k"], selection["runner_up"], selection["runner_up_close"]) == (
        2,
        3,
        True,
    )
    assert decision["notes"][-1] == "k=3 is a close runner-up; both are plausible"


def test_covariance_variants_are_compared_by_their_lowest_bic() -> None:
    M, levels, _ = mixed(noise_columns=0)
    base = layout(levels, [1.0, 1.0, 1.0])
    steps = []
    selection, chosen, reason = compare_covariances(
        M, base, (2, 3), 0, lambda text, done: steps.append((text, done))
    )
    best = lowest_bics(M, base, (2, 3))
    del best["shared"]  # not a variant of mixed data
    winner = min(best, key=best.get)
    assert winner != "independent"  # the two numeric columns share a segment's spread
    assert chosen == {**base, "numeric_covariance": winner}
    assert min(row["bic"] for row in selection["curve"]) == pytest.approx(best[winner])
    # a covariance variant is swept up to the plain model's lowest-BIC k only
    plain = mixture_sweep(M, (2, 3), 0, base, split_half=False)[0]["curve"]
    top = min(plain, key=lambda row: (row["bic"], row["k"]))["k"]
    assert [row["k"] for row in selection["curve"]] == list(range(2, top + 1))
    assert all("stability" in row for row in selection["curve"])
    assert reason == f"model: {WORDS[winner]} (lowest BIC of the variants: {listed(best)})"
    assert ("trying k = 2..3 (latent class model)", 0.0) in steps


def test_one_variant_at_a_told_k_fits_nothing() -> None:
    M, levels, _ = mixed(noise_columns=0)
    base = layout(levels, [1.0, 2.0, 1.0])  # two weights: no common covariance to fit
    assert compare_covariances(M, base, (3, 3), 0, None) == (None, base, "")
    # a k range: the one variant is swept, and nothing is said about variants
    selection, chosen, reason = compare_covariances(M, base, (2, 3), 0, None)
    assert chosen == base and reason == ""
    assert [row["k"] for row in selection["curve"]] == [2, 3]


# ----------------------------------------------------------------------------- all numeric


def test_round_blobs_of_one_spread_go_to_kmeans() -> None:
    M = blobs((1.0, 1.0))
    base = layout([0, 0], [1.0, 1.0])
    steps = []
    algorithm, selection, reason = compare_numeric(
        M, base, "auto", (2, 3), 0, lambda text, done: steps.append((text, done))
    )
    best = lowest_bics(M, base, (2, 3))
    assert algorithm == "kmeans" and best["shared"] <= min(best.values())
    assert reason == (
        "k-means chosen (no --algorithm given): every feature is numeric, and one spread "
        "per column shared by all segments (the model k-means assumes) fits as well as "
        f"the latent class model's variants (BIC: {listed(best)})"
    )
    assert selection["layout"] == base  # the class model's layout, without the shared spread
    assert all("stability" in row for row in selection["curve"])  # automatic k: split-half
    assert ("trying k = 2..3 (latent class model)", 0.0) in steps
    decision = decide(M, [0, 0], ["x", "y"])
    assert decision["algorithm"] == "kmeans"
    assert decision["params"] == {"k": 2}  # k-means takes no class-model layout
    runner_up = decision["selection"]["runner_up"]
    assert runner_up is not None and not decision["selection"]["runner_up_close"]
    assert not any("runner-up" in note for note in decision["notes"])  # not a close one
    assert decision["notes"][0] == reason
    assert decision["notes"][1].startswith("k=2 chosen automatically")


def test_segments_of_different_spreads_go_to_the_class_model() -> None:
    M = blobs((0.3, 2.5))
    base = layout([0, 0], [1.0, 1.0])
    algorithm, selection, reason = compare_numeric(M, base, 2, (2, 3), 0, None)
    best = lowest_bics(M, base, (2, 2))
    winner = min((n for n in best if n != "shared"), key=best.get)
    assert algorithm == "lca" and winner == "independent"  # the columns are independent
    assert reason == (
        "latent class model chosen (no --algorithm given): every feature is numeric, and "
        f"{WORDS[winner]} fits better than the one shared spread k-means assumes "
        f"(BIC: {listed(best)}); missing values are left out, not imputed"
    )
    assert [row["k"] for row in selection["curve"]] == [2]  # told k: that k only
    assert "stability" not in selection["curve"][0]  # and no split-half
    assert selection["layout"] == base
    decision = decide(M, [0, 0], ["x", "y"])
    assert decision["algorithm"] == "lca" and decision["params"]["k"] == 2
    assert decision["params"] == {"k": 2, **base}
    assert "layout" not in decision["selection"]  # it went into the parameters
    assert decision["notes"][0].startswith("latent class model chosen (no --algorithm given)")


def test_names_and_levels_must_match() -> None:
    M, levels, names = mixed(noise_columns=0)
    with pytest.raises(ValueError, match="zip"):
        decide(M, levels, names[:2])
    with pytest.raises(ValueError, match="zip"):
        decide(M, levels, names, weights=[1.0, 1.0])


def test_told_k_for_all_numeric_data() -> None:
    M = blobs((1.0, 1.0))
    steps = []
    decision = choose_default(
        M, [0, 0], [1.0, 1.0], ["x", "y"], 3, (2, 3), 0, lambda text, done: steps.append(text)
    )
    assert decision["params"] == {"k": 3} and decision["algorithm"] == "kmeans"
    assert not any("chosen automatically" in note for note in decision["notes"])
    assert (
        decision["notes"][0]
        == compare_numeric(M, layout([0, 0], [1.0, 1.0]), 3, (2, 3), 0, None)[2]
    )
    assert "trying k = 3..3 (latent class model)" in steps


# ----------------------------------------------------------------------------- many columns


def test_projection_wanted_for_many_numeric_columns_of_one_weight() -> None:
    many = MAX_COVARIANCE_COLUMNS + 1
    assert wants_projection(layout([0] * many, [1.0] * many))
    assert not wants_projection(layout([0] * (many - 1), [1.0] * (many - 1)))
    assert not wants_projection(layout([0] * many, [1.0] * (many - 1) + [2.0]))
    assert not wants_projection(layout([0] * many, [1.0] * (many - 1) + [0.0]))  # 16 count
    assert not wants_projection(layout([0] * (many - 1) + [3], [1.0] * many))  # 16 numeric


def test_covariance_candidates() -> None:
    def names(levels, weights, **extra):
        return sorted(covariance_candidates(layout(levels, weights, **extra)))

    assert names([0, 0, 2], [1.0, 1.0, 1.0]) == ["full", "independent", "tied"]
    assert names([0, 2], [1.0, 1.0]) == ["independent"]  # one numeric column
    assert names([0, 0], [1.0, 2.0]) == ["independent"]  # two weights: no common matrix
    assert names([0, 0, 0], [1.0, 1.0, 0.0]) == ["full", "independent", "tied"]
    assert names([2, 2], [1.0, 1.0]) == ["independent"]
    most = [0] * MAX_COVARIANCE_COLUMNS
    assert names(most, [1.0] * len(most)) == ["full", "independent", "tied"]
    many = MAX_COVARIANCE_COLUMNS + 1
    assert names([0] * many, [1.0] * many) == ["independent"]
    assert names([0] * many, [1.0] * many, numeric_projection="pca") == [
        "full",
        "independent",
        "tied",
    ]
    base = layout([0, 0], [1.0, 1.0])
    out = covariance_candidates(base)
    assert out["independent"] == base
    assert out["full"] == {**base, "numeric_covariance": "full"}
    assert out["tied"] == {**base, "numeric_covariance": "tied"}


def test_many_numeric_columns_are_compared_on_their_components() -> None:
    y, rng = two_groups(seed=4)
    many = MAX_COVARIANCE_COLUMNS + 1
    M = (y[:, None] * 3.0 + rng.normal(size=(N, many))).astype(np.float32)
    decision = decide(M, [0] * many, [f"x{i}" for i in range(many)], k=2)
    # the variants were compared on the components
    projected = layout([0] * many, [1.0] * many, numeric_projection="pca")
    assert decision["notes"][0] == compare_numeric(M, projected, 2, (2, 3), 0, None)[2]
    if decision["algorithm"] == "kmeans":
        assert PROJECTION_KMEANS in decision["notes"]
        assert PROJECTION_REASON not in decision["notes"]
    else:
        assert PROJECTION_REASON in decision["notes"]
        assert decision["params"]["numeric_projection"] == "pca"


# ----------------------------------------------------------------------------- default_fit


def test_default_fit_runs_the_chosen_model_and_leads_with_the_reasons() -> None:
    M, levels, names = mixed(noise_columns=1)
    steps = []
    result, decision = default_fit(
        M, levels, [1.0] * 4, names, 2, (2, 3), 0,
        progress=lambda text, fraction: steps.append((text, fraction)),
        extra_params={"k": 9, "sample_size": 100},
    )  # fmt: skip
    assert decision["matrix"] is M
    assert decision["selection"] is None  # told k: no k selection
    assert result.params["k"] == 2  # the decision's k wins over the extra parameters
    assert result.params["sample_size"] == 100
    assert result.notes == decision["notes"] + [  # the decision's, then the fit's own
        f"latent class model fitted on a sample of 100 customers; all {N} assigned to their "
        "most likely class"
    ]
    assert ("fitting lca with k=2", None) in steps
    assert ("trying k = 2..2 (latent class model)", 0.0) in steps  # the variants compared
    assert result.labels.shape == (N,)


def test_default_fit_gives_kmeans_its_own_matrix_with_the_noise_weights() -> None:
    M = np.column_stack([blobs((1.0, 1.0)), np.random.default_rng(9).uniform(size=N)])
    M = M.astype(np.float32)
    seen = []

    def kmeans_matrix(weights: list[float]) -> np.ndarray:
        seen.append(weights)
        return M * np.asarray(weights, dtype=np.float32)

    result, decision = default_fit(
        M, [0, 0, 0], [1.0] * 3, ["x", "y", "z"], "auto", (2, 3), 0, kmeans_matrix=kmeans_matrix
    )
    assert decision["algorithm"] == "kmeans" and decision["noise"] == ["z"]
    assert seen == [[1.0, 1.0, 0.0]]
    assert (decision["matrix"][:, 2] == 0).all()
    expected = get_algorithm("kmeans").fit(decision["matrix"], {"k": 2}, 0)
    assert np.array_equal(result.labels, expected.labels)
    assert result.notes == decision["notes"] + expected.notes
    with pytest.raises(ValueError, match=r"^k-means was chosen but no kmeans_matrix was given$"):
        default_fit(M, [0, 0, 0], [1.0] * 3, ["x", "y", "z"], "auto", (2, 3), 0)
