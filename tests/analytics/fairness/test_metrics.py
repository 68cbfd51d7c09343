"""Group metrics: agreement with fairlearn on the shipped data, and the edge cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from veil.analytics import fairness as vf
from veil.analytics.fairness.metrics import confusion_by_group, group_median, rates
from veil.errors import ConfigError, DataError

fm = pytest.importorskip("fairlearn.metrics")

NAMED = [
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
]


@pytest.mark.parametrize(
    ("data", "groupings"),
    [("adult_test", [["sex", "race"]]), ("german", [["sex"], ["sex", "young"]])],
)
def test_disparities_equal_fairlearns_on_the_shipped_data(
    request: pytest.FixtureRequest, data: str, groupings: list[list[str]]
) -> None:
    """Every named disparity, both methods, equals fairlearn's to 1e-9 (one attribute and two).

    Adult's test split by sex and race has ten groups, two of them tiny; German credit covers
    the two-group case.
    """
    df = request.getfixturevalue(data)
    for cols in groupings:
        for name in NAMED:
            for method in ("between_groups", "to_overall"):
                kw = {"sensitive_features": df[cols], "method": method}
                ours = getattr(vf, name)(df["y"], df["pred"], **kw)
                ref = getattr(fm, name)(df["y"], df["pred"], **kw)
                assert abs(ours - ref) <= 1e-9, (name, method, cols, ours, ref)


def test_weighted_disparities_equal_fairlearns(adult_test: pd.DataFrame) -> None:
    """With sample weights (Adult's fnlwgt) every named disparity still equals fairlearn's."""
    kw = {"sensitive_features": adult_test[["sex", "race"]], "sample_weight": adult_test["fnlwgt"]}
    for name in NAMED:
        ours = getattr(vf, name)(adult_test["y"], adult_test["pred"], **kw)
        ref = getattr(fm, name)(adult_test["y"], adult_test["pred"], **kw)
        assert abs(ours - ref) <= 1e-9, (name, ours, ref)


def test_rates_by_group_equal_fairlearns_metric_frame(adult_test: pd.DataFrame) -> None:
    """Selection rate, TPR, FPR, FNR, precision and error rate per group equal MetricFrame's."""
    from sklearn.metrics import precision_score

    df = adult_test
    funcs = {
        "selection_rate": fm.selection_rate,
        "tpr": fm.true_positive_rate,
        "fpr": fm.false_positive_rate,
        "fnr": fm.false_negative_rate,
        "tnr": fm.true_negative_rate,
        "precision": precision_score,
        "error_rate": lambda y, p: float(np.mean(y != p)),
        "count": fm.count,
    }
    mf = fm.MetricFrame(
        metrics=funcs, y_true=df["y"], y_pred=df["pred"], sensitive_features=df[["race", "sex"]]
    )
    ours = vf.metrics_by_group(df["y"], df["pred"], sensitive_features=df[["race", "sex"]])
    ref = mf.by_group.reset_index()
    assert list(ours["race"]) == list(ref["race"])
    assert list(ours["sex"]) == list(ref["sex"])
    for col in funcs:
        np.testing.assert_allclose(ours[col].to_numpy(float), ref[col].to_numpy(float), atol=1e-9)


def test_string_labels_need_a_positive_label(adult: pd.DataFrame) -> None:
    """Labels that are not 0/1 raise a ConfigError that names pos_label, and work with it."""
    y = adult["income"]
    with pytest.raises(ConfigError, match="pos_label"):
        vf.demographic_parity_difference(y, y, sensitive_features=adult["sex"])
    got = vf.demographic_parity_difference(y, y, sensitive_features=adult["sex"], pos_label=">50K")
    ref = fm.demographic_parity_difference(adult["y"], adult["y"], sensitive_features=adult["sex"])
    assert abs(got - ref) <= 1e-12


def test_a_misspelt_positive_label_is_refused(adult: pd.DataFrame) -> None:
    """A pos_label that occurs nowhere in a two-valued column is an error, not all-negatives."""
    with pytest.raises(ConfigError, match=r"pos_label='>50K\.' does not occur"):
        vf.metrics_by_group(
            adult["income"], adult["income"], sensitive_features=adult["sex"], pos_label=">50K."
        )


def test_inputs_of_different_lengths_are_refused() -> None:
    """A length mismatch names the input and both lengths."""
    with pytest.raises(DataError, match="y_true has 3 rows but the other inputs have 2"):
        vf.metrics_by_group([1, 0, 1], [1, 0], sensitive_features=["a", "b"])


def test_a_rate_with_no_denominator_is_nan_and_left_out_of_the_gap() -> None:
    """A group without positives has no TPR; the equal opportunity gap uses the other groups."""
    y = np.array([0, 0, 1, 1, 1, 0])
    p = np.array([1, 0, 1, 0, 1, 0])
    g = np.array(["a", "a", "b", "b", "c", "c"])
    frame = vf.metrics_by_group(y, p, sensitive_features=g)
    assert np.isnan(frame.loc[0, "tpr"])
    assert vf.equal_opportunity_difference(y, p, sensitive_features=g) == pytest.approx(0.5)


def test_rates_accept_leading_axes(rng: np.random.Generator) -> None:
    """Rates of a stack of tables equal the rates of each table (the bootstrap relies on it)."""
    tables = rng.integers(1, 50, size=(7, 3, 2, 2)).astype(float)
    stacked = rates(tables)
    for i in range(7):
        single = rates(tables[i])
        for key, value in single.items():
            np.testing.assert_array_equal(stacked[key][i], value)


def test_confusion_table_counts_every_row_once(rng: np.random.Generator) -> None:
    """The per-group confusion table sums to the number of rows and to the group sizes."""
    codes = rng.integers(0, 4, 500)
    t = confusion_by_group(rng.integers(0, 2, 500), rng.integers(0, 2, 500), codes, 4)
    assert t.sum() == 500
    np.testing.assert_array_equal(t.sum(axis=(1, 2)), np.bincount(codes, minlength=4))


def test_group_median_equals_numpy_median_with_and_without_repeats(
    rng: np.random.Generator,
) -> None:
    """The vectorized median equals numpy's per group, also with integer repeat weights."""
    for _ in range(100):
        n = int(rng.integers(1, 25))
        v = rng.integers(0, 6, n).astype(float)
        c = rng.integers(0, 3, n)
        reps = rng.integers(0, 3, n).astype(float)
        plain = group_median(v, c, 3)
        weighted = group_median(v, c, 3, reps)
        for g in range(3):
            expanded = np.repeat(v[c == g], reps[c == g].astype(int))
            if (c == g).any():
                assert plain[g] == np.median(v[c == g])
            if expanded.size:
                assert weighted[g] == np.median(expanded)
            else:
                assert np.isnan(weighted[g])


def test_unknown_method_is_refused_with_the_allowed_values() -> None:
    """An unknown comparison method lists the allowed ones."""
    with pytest.raises(ConfigError, match="between_groups"):
        vf.demographic_parity_difference([1, 0], [1, 0], sensitive_features=["a", "b"], method="x")
