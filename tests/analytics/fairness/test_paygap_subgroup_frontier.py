"""Pay gaps, rich subgroup fairness and the accuracy–fairness frontier."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from veil.analytics.fairness import (
    SubgroupFairClassifier,
    fairness_frontier,
    find_subgroup,
    pay_gap,
)
from veil.errors import ConfigError


def _workforce(rng: np.random.Generator, n: int = 3000, within: float = 0.05) -> pd.DataFrame:
    """Simulated public data: women concentrated in lower-paid jobs, paid `within` less inside."""
    job = rng.choice(["eng", "ops", "admin"], n, p=[0.3, 0.3, 0.4])
    female = rng.random(n) < np.where(job == "eng", 0.2, 0.6)
    base = pd.Series(job).map({"eng": 100.0, "ops": 60.0, "admin": 45.0}).to_numpy()
    pay = base * (1 - within * female) * rng.lognormal(0, 0.15, n)
    return pd.DataFrame({"pay": pay, "gender": np.where(female, "F", "M"), "job": job})


def test_the_adjusted_gap_recovers_the_within_job_gap(rng: np.random.Generator) -> None:
    """With a 5% within-job gap and occupational sorting, raw >> adjusted ≈ 5% (CI covers it)."""
    df = _workforce(rng)
    r = pay_gap(df["pay"], df["gender"], categories=df["job"], n_bootstrap=300, random_state=1)
    assert r.reference == "M"
    assert r.gap("F", "mean", "raw") > 0.15
    g = r.gaps.set_index(["statistic", "kind"]).loc[("mean", "adjusted")]
    assert g["relative_low"] <= 0.05 <= g["relative_high"]
    assert r.gap("F", "median", "adjusted") == pytest.approx(0.05, abs=0.03)


def test_raw_gaps_equal_pandas_group_means_and_medians(rng: np.random.Generator) -> None:
    """Raw gaps are the difference of pandas' group means and medians."""
    df = _workforce(rng, n=501)
    r = pay_gap(df["pay"], df["gender"], n_bootstrap=0)
    means, medians = df.groupby("gender")["pay"].mean(), df.groupby("gender")["pay"].median()
    rows = r.gaps.set_index("statistic")
    assert rows.loc["mean", "gap"] == pytest.approx(means["M"] - means["F"], rel=1e-12)
    assert rows.loc["median", "gap"] == pytest.approx(medians["M"] - medians["F"], rel=1e-12)


def test_categories_without_both_groups_are_reported(rng: np.random.Generator) -> None:
    """A category with only one group is left out of the adjusted gap and named."""
    df = _workforce(rng, n=400)
    df.loc[df["job"] == "admin", "gender"] = "F"
    r = pay_gap(df["pay"], df["gender"], categories=df["job"], n_bootstrap=0, reference="M")
    assert r.dropped_categories == ["admin"]


def test_an_unknown_reference_group_lists_the_values() -> None:
    """A reference that is not a group value is a ConfigError listing the values."""
    with pytest.raises(ConfigError, match=r"reference 'x' is not a value of group"):
        pay_gap([1.0, 2.0], ["a", "b"], reference="x", n_bootstrap=0)


def test_the_auditor_finds_a_planted_intersectional_subgroup(rng: np.random.Generator) -> None:
    """A classifier that favours one intersection is caught: the subgroup is that intersection."""
    n = 4000
    prot = pd.DataFrame({"sex": rng.choice(["f", "m"], n), "race": rng.choice(["a", "b"], n)})
    planted = (prot["sex"] == "f") & (prot["race"] == "b")
    pred = (rng.random(n) < np.where(planted, 0.7, 0.4)).astype(int)
    sg = find_subgroup(pred, prot)
    inside = sg.contains(prot)
    assert (inside == planted).mean() > 0.95
    assert sg.rate > sg.overall
    assert sg.disparity == pytest.approx(planted.mean() * abs(sg.rate - sg.overall))


def test_marginal_audits_miss_what_the_subgroup_audit_finds(rng: np.random.Generator) -> None:
    """Parity by sex and by race alone can hold while an intersection is treated differently."""
    n = 8000
    prot = pd.DataFrame({"sex": rng.choice(["f", "m"], n), "race": rng.choice(["a", "b"], n)})
    xor = (prot["sex"] == "f") ^ (prot["race"] == "b")
    pred = (rng.random(n) < np.where(xor, 0.6, 0.4)).astype(int)
    by_sex = pd.Series(pred).groupby(prot["sex"]).mean()
    assert abs(by_sex["f"] - by_sex["m"]) < 0.04
    prot["cell"] = prot["sex"] + prot["race"]
    sg = find_subgroup(pred, prot[["cell"]])
    assert sg.disparity > 0.04


@pytest.mark.slow
def test_the_subgroup_fair_learner_lowers_the_worst_subgroup_disparity(german) -> None:
    """Fictitious play cuts the worst subgroup disparity the auditor can find."""
    X = german[["duration", "credit_amount", "age", "job"]]
    prot = german[["sex", "age", "housing"]]
    base = make_pipeline(StandardScaler(), LogisticRegression())
    before = find_subgroup(base.fit(X, german["y"]).predict(X), prot).disparity
    m = SubgroupFairClassifier(base, gamma=0.005, max_iter=25).fit(X, german["y"], protected=prot)
    after = find_subgroup(m.predict_proba(X)[:, 1], prot).disparity
    assert after <= 0.7 * before


@pytest.mark.slow
def test_the_frontier_trades_accuracy_for_parity(german) -> None:
    """Looser tolerances give larger disparity and no less accuracy (up to oracle noise)."""
    X = german[["duration", "credit_amount", "age", "job"]]
    f = fairness_frontier(
        make_pipeline(StandardScaler(), LogisticRegression()), X, german["y"],
        sensitive_features=german["young"], tolerances=(0.005, 0.05, 0.2),
    )  # fmt: skip
    p = f.points
    assert list(p["tolerance"]) == [0.005, 0.05, 0.2]
    assert p["disparity"].iloc[0] < p["disparity"].iloc[-1]
    assert p["accuracy"].iloc[0] <= p["accuracy"].iloc[-1] + 0.005
    assert f.plot() is not None
