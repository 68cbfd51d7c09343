"""CausalResult: intervals, summaries, JSON and plots."""

from __future__ import annotations

import json
import math

import matplotlib
import pytest

from veil.analytics.causal import DID
from veil.errors import ConfigError, EstimationError

matplotlib.use("Agg")


def test_the_interval_is_att_plus_minus_z_se(block_panel) -> None:
    """ci(0.05) is att ± 1.95996·se; conf_int is the same function."""
    result = DID(se="regression").fit(block_panel).result_
    _, high = result.ci(0.05)
    assert high - result.att == pytest.approx(1.959964 * result.se, rel=1e-6)
    assert result.conf_int(0.1) == result.ci(0.1)
    assert result.estimate == result.att


def test_an_interval_without_se_says_how_to_get_one(block_panel) -> None:
    """Asking for a CI without a variance method names se= as the fix."""
    result = DID().fit(block_panel).result_
    assert math.isnan(result.se)
    with pytest.raises(EstimationError, match="se='placebo'"):
        result.ci()


def test_alpha_outside_zero_one_is_refused(block_panel) -> None:
    """alpha=1.5 is a ConfigError naming alpha."""
    result = DID(se="regression").fit(block_panel).result_
    with pytest.raises(ConfigError, match="alpha must be in"):
        result.ci(1.5)


def test_to_dict_is_json_ready(block_panel) -> None:
    """to_dict serialises with json.dumps and holds one entry per treated cell."""
    d = DID(se="regression").fit(block_panel).result_.to_dict()
    text = json.dumps(d)
    assert json.loads(text)["n_treated_cells"] == 12
    assert len(d["effects"]) == 12
    assert d["ci_low"] < d["att"] < d["ci_high"]


def test_the_summary_mentions_estimate_se_and_interval(block_panel) -> None:
    """summary() is text with the ATT, SE method and CI."""
    text = DID(se="regression").fit(block_panel).result_.summary()
    assert "ATT" in text
    assert "SE (regression)" in text
    assert "95% CI" in text


def test_effects_by_time_average_over_treated_units(block_panel) -> None:
    """Per-period effects are the mean over the three treated units."""
    result = DID().fit(block_panel).result_
    by_time = result.effects_by_time
    assert list(by_time.index) == list(block_panel.times[8:])
    assert (by_time["n_cells"] == 3).all()
    assert by_time["effect"].mean() == pytest.approx(result.att)


def test_plot_draws_two_panels(block_panel, tmp_path) -> None:
    """plot() returns a figure with observed vs counterfactual and effects, and saves."""
    fig = DID().fit(block_panel).result_.plot()
    assert len(fig.axes) == 2
    assert len(fig.axes[0].lines) >= 2
    fig.savefig(tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 0
