"""Audits: groupings, intervals, suppression, the DP switch and the JSON document."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from veil.analytics.fairness import audit, demographic_parity_difference
from veil.errors import ConfigError, PrivacyError


def test_an_audit_reports_each_attribute_and_their_intersection(german: pd.DataFrame) -> None:
    """Two attributes give three groupings, the intersection last and primary."""
    r = audit(
        german["y"],
        german["pred"],
        sensitive_features=german[["sex", "young"]],
        n_bootstrap=50,
        random_state=0,
    )
    assert list(r.groupings) == ["sex", "young", "sex & young"]
    assert r.primary.name == "sex & young"
    assert len(r.primary.metrics) == 4


def test_audit_disparity_equals_the_metric_function(german: pd.DataFrame) -> None:
    """The audit's demographic parity difference is the metric function's (no suppression)."""
    r = audit(german["y"], german["pred"], sensitive_features=german["sex"], n_bootstrap=0)
    ref = demographic_parity_difference(
        german["y"], german["pred"], sensitive_features=german["sex"]
    )
    assert r.disparity("demographic_parity") == pytest.approx(ref, abs=1e-12)


def test_intervals_cover_the_point_estimate_and_are_reproducible(german: pd.DataFrame) -> None:
    """Percentile intervals bracket the estimate, and a seed reproduces them exactly."""
    kw = {"sensitive_features": german["sex"], "n_bootstrap": 300, "random_state": 7}
    a = audit(german["y"], german["pred"], **kw)
    b = audit(german["y"], german["pred"], **kw)
    m = a.primary.metrics
    assert (m["selection_rate_low"] <= m["selection_rate"]).all()
    assert (m["selection_rate"] <= m["selection_rate_high"]).all()
    pd.testing.assert_frame_equal(a.primary.metrics, b.primary.metrics)


def test_the_table_bootstrap_matches_the_row_bootstrap_in_spread(german: pd.DataFrame) -> None:
    """Multinomial resampling of the table gives the same interval width as resampling rows."""
    y, p, s = german["y"], german["pred"], german["sex"]
    fast = audit(y, p, sensitive_features=s, n_bootstrap=2000, random_state=1).primary.metrics
    # weights of 1.0 force the row-resampling path
    rows = audit(
        y, p, sensitive_features=s, n_bootstrap=2000, random_state=2, sample_weight=np.ones(len(y))
    ).primary.metrics
    width_fast = fast["tpr_high"] - fast["tpr_low"]
    width_rows = rows["tpr_high"] - rows["tpr_low"]
    np.testing.assert_allclose(width_fast, width_rows, rtol=0.15)


def test_small_groups_are_suppressed_flagged_and_left_out(adult: pd.DataFrame) -> None:
    """Groups below min_group_size have no figures, a flag, and do not drive the disparity."""
    r = audit(
        adult["y"],
        adult["pred"],
        sensitive_features=adult[["sex", "race"]],
        min_group_size=150,
        n_bootstrap=0,
    )
    m = r.primary.metrics.set_index("key")
    assert m.loc["Female & Other", "suppressed"]
    assert np.isnan(m.loc["Female & Other", "selection_rate"])
    assert any("Female & Other" in f and "suppressed" in f for f in r.flags)
    kept = m[~m["suppressed"]]["selection_rate"]
    assert r.disparity("demographic_parity") == pytest.approx(kept.max() - kept.min())


def test_calibration_and_outcome_tables_appear_when_asked(german: pd.DataFrame) -> None:
    """A score adds calibration by bin; an outcome adds mean and median per group."""
    score = np.clip(german["duration"] / 72, 0, 1)
    r = audit(
        german["y"],
        german["pred"],
        sensitive_features=german["sex"],
        score=score,
        outcome=german["credit_amount"],
        n_bootstrap=100,
        n_bins=5,
        random_state=0,
    )
    cal = r.primary.calibration
    assert cal is not None
    assert len(cal) == 2 * 5
    assert cal.groupby("key")["count"].sum().sum() == len(german)
    out = r.primary.outcome.set_index("key")
    female = german.loc[german["sex"] == "female", "credit_amount"]
    assert out.loc["female", "median"] == np.median(female)
    assert out.loc["female", "mean_low"] <= female.mean() <= out.loc["female", "mean_high"]


def test_epsilon_is_a_switch_that_noises_counts_and_states_its_split(german: pd.DataFrame) -> None:
    """With epsilon the counts change, the split is reported, and the outcome is withheld."""
    score = np.clip(german["duration"] / 72, 0, 1)
    r = audit(
        german["y"],
        german["pred"],
        sensitive_features=german[["sex", "young"]],
        score=score,
        outcome=german["credit_amount"],
        epsilon=1.0,
        n_bootstrap=100,
        random_state=0,
    )
    assert r.privacy is not None
    assert r.privacy["epsilon"] == 1.0
    assert sum(r.privacy["split"].values()) == pytest.approx(1.0)
    assert r.primary.outcome is None
    assert any("withheld" in f for f in r.flags)
    # marginals are sums of the noisy intersection table: no extra epsilon is spent on them
    sex = r.groupings["sex"].metrics.set_index("key")["count"]
    inter = r.primary.metrics
    assert abs(int(sex["female"]) - int(inter[inter["sex"] == "female"]["count"].sum())) <= 2


def test_epsilon_refuses_weights_and_non_positive_values(german: pd.DataFrame) -> None:
    """Weights and a non-positive epsilon are refused before anything is released."""
    y, p, s = german["y"], german["pred"], german["sex"]
    with pytest.raises(PrivacyError, match="sample weights"):
        audit(y, p, sensitive_features=s, epsilon=1.0, sample_weight=np.ones(len(y)))
    with pytest.raises(PrivacyError, match="epsilon must be a finite number > 0; got 0"):
        audit(y, p, sensitive_features=s, epsilon=0)


def test_bad_parameters_name_the_parameter_and_the_value(german: pd.DataFrame) -> None:
    """An out-of-range parameter says which, what it got and what is allowed."""
    with pytest.raises(
        ConfigError, match=r"'confidence' parameter of audit must be a float in \(0, 1\); got 1.5"
    ):
        audit(german["y"], german["pred"], sensitive_features=german["sex"], confidence=1.5)


def test_the_json_document_has_the_promised_keys_and_no_nan(adult: pd.DataFrame) -> None:
    """to_dict has groups with the CLI keys, the three differences, and serializes strictly."""
    r = audit(
        adult["y"],
        adult["pred"],
        sensitive_features=adult[["sex", "race"]],
        min_group_size=150,
        n_bootstrap=20,
        random_state=0,
    )
    doc = r.to_dict()
    json.dumps(doc, allow_nan=False)
    for key in (
        "demographic_parity_difference",
        "equalized_odds_difference",
        "equal_opportunity_difference",
    ):
        assert isinstance(doc[key], float)
    entry = doc["groups"]["Male & White"]
    assert {"count", "selection_rate", "tpr", "fpr", "fnr", "precision", "error_rate"} <= set(entry)
    assert doc["groups"]["Female & Other"]["selection_rate"] is None


def test_the_html_report_embeds_a_plot_per_grouping(german: pd.DataFrame, tmp_path) -> None:
    """The HTML report is one file with a PNG image for each grouping."""
    r = audit(
        german["y"],
        german["pred"],
        sensitive_features=german[["sex", "young"]],
        n_bootstrap=50,
        random_state=0,
    )
    page = r.to_html(str(tmp_path / "audit.html"))
    assert page.count("data:image/png;base64,") == 3
    assert (tmp_path / "audit.html").read_text(encoding="utf-8") == page
