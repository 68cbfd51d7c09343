"""Constrained learners: constraints met on training data, pipelines, pandas, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from veil.analytics.fairness import (
    BoundedGroupLoss,
    DemographicParity,
    EqualizedOdds,
    EqualOpportunity,
    ExponentiatedGradient,
    ThresholdOptimizer,
    demographic_parity_difference,
    equal_opportunity_difference,
    equalized_odds_difference,
    metrics_by_group,
)
from veil.analytics.fairness.metrics import confusion_by_group, disparity
from veil.errors import ConfigError, DataError, NotFittedError

NUMERIC = ["duration", "credit_amount", "age", "job"]


@pytest.fixture(scope="module")
def credit() -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """German credit: the data (with ``young``: age < 25), label, and the age group."""
    from veil import datasets

    df = datasets.load("german_credit")
    df["young"] = np.where(df["age"] < 25, "under 25", "25 and over")
    return df, df["risk"], df["young"]


def _pipeline() -> object:
    pre = ColumnTransformer(
        [("num", StandardScaler(), NUMERIC),
         ("cat", OneHotEncoder(handle_unknown="ignore"), ["checking_account", "saving_accounts"])]
    )  # fmt: skip
    return make_pipeline(pre, LogisticRegression(max_iter=500))


def _mixture_disparity(model, X, y, s, name: str) -> float:
    """Expected disparity of a randomized classifier, from its predict_proba (no coin flips)."""
    p = model.predict_proba(X)[:, 1]
    codes = np.unique(s, return_inverse=True)[1]
    n_groups = int(codes.max()) + 1
    yy = np.asarray(y)
    t = np.zeros((n_groups, 2, 2))
    for label in (0, 1):
        for pred, weight in ((1, p), (0, 1 - p)):
            m = yy == label
            t[:, label, pred] = np.bincount(codes[m], weights=weight[m], minlength=n_groups)
    return float(disparity(t, name, method="to_overall"))


@pytest.mark.parametrize(
    ("constraint", "name"),
    [
        (DemographicParity(difference_bound=0.02), "demographic_parity"),
        (EqualizedOdds(difference_bound=0.02), "equalized_odds"),
        (EqualOpportunity(difference_bound=0.02), "equal_opportunity"),
    ],
)
def test_exponentiated_gradient_meets_the_constraint_on_training_data(credit, constraint, name):
    """The mixture's expected gap to the overall rate is within tolerance (+ the oracle's slack)."""
    df, y, s = credit
    X = df[NUMERIC]
    base = make_pipeline(StandardScaler(), LogisticRegression())
    unconstrained = _mixture_disparity(base.fit(X, y), X, y, s, name)
    eg = ExponentiatedGradient(base, constraint=constraint).fit(X, y, sensitive_features=s)
    assert _mixture_disparity(eg, X, y, s, name) <= 0.02 + 0.01
    assert np.isclose(eg.weights_.sum(), 1.0)
    assert unconstrained > 0.03  # the constraint had work to do


def _biased(n: int = 20_000) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Public simulated data where the label depends on the group through the features."""
    rng = np.random.default_rng(11)
    group = rng.choice(["a", "b"], n, p=[0.3, 0.7])
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["f0", "f1", "f2", "f3"])
    X["f0"] += np.where(group == "b", 0.8, 0.0)
    y = (X["f0"] + X["f1"] + rng.logistic(size=n) * 0.8 > 0.5).astype(int).to_numpy()
    return X, y, group


@pytest.mark.parametrize("constraint", [DemographicParity(0.01), EqualizedOdds(0.01)])
def test_the_subsample_phase_finds_the_multipliers_and_the_full_phase_meets_the_bound(
    constraint,
):
    """On 20,000 rows the first rounds use 1/8 of them; the final mixture meets the bound."""
    X, y, group = _biased()
    eg = ExponentiatedGradient(LogisticRegression(), constraint=constraint)
    eg.fit(X, y, sensitive_features=group)
    phases = eg.history_.groupby("phase")["rows"].first()
    assert set(phases.index) == {"subsample", "full"}
    assert 2400 <= phases["subsample"] <= 2600
    assert phases["full"] == 20_000
    assert (eg.history_["phase"] == "full").sum() <= 5
    assert _mixture_disparity(eg, X, y, group, constraint.disparity) <= 0.01 + 0.002
    assert _mixture_disparity(LogisticRegression().fit(X, y), X, y, group,
                              constraint.disparity) > 0.05  # fmt: skip


def test_without_subsampling_every_round_uses_all_rows():
    """subsample=None plays the whole game on the full data (same bound met)."""
    X, y, group = _biased(8000)
    eg = ExponentiatedGradient(LogisticRegression(), constraint=DemographicParity(0.01),
                               subsample=None).fit(X, y, sensitive_features=group)  # fmt: skip
    assert set(eg.history_["phase"]) == {"full"}
    assert _mixture_disparity(eg, X, y, group, "demographic_parity") <= 0.012


def test_a_pipeline_with_a_column_transformer_gets_the_weights_on_its_last_step(credit):
    """Pipelines (pandas in, ColumnTransformer inside) fit without a sample_weight error."""
    df, y, _s = credit
    eg = ExponentiatedGradient(_pipeline(), constraint=DemographicParity(difference_bound=0.02))
    eg.fit(df, y, sensitive_features="young")
    assert eg.predict(df, random_state=0).shape == (1000,)
    assert set(np.unique(eg.predict_deterministic(df))) <= {0, 1}


def test_any_estimator_with_sample_weight_works(credit):
    """A decision tree (no warm start) is a valid oracle."""
    df, y, s = credit
    eg = ExponentiatedGradient(
        DecisionTreeClassifier(max_depth=3, random_state=0),
        constraint=DemographicParity(difference_bound=0.03),
        max_iter=15,
    ).fit(df[NUMERIC], y, sensitive_features=s)
    assert eg.n_oracle_calls_ <= 15
    assert _mixture_disparity(eg, df[NUMERIC], y, s, "demographic_parity") <= 0.06


def test_bounded_group_loss_caps_every_groups_error(credit):
    """A bound below the unconstrained worst group error is met by the mixture (plus slack)."""
    df, y, s = credit
    X = df[NUMERIC]
    base = make_pipeline(StandardScaler(), LogisticRegression())
    before = pd.Series(base.fit(X, y).predict(X) != y).groupby(s.to_numpy()).mean()
    assert before.max() > 0.345
    eg = ExponentiatedGradient(base, constraint=BoundedGroupLoss(upper_bound=0.335))
    p = eg.fit(X, y, sensitive_features=s).predict_proba(X)[:, 1]
    err = np.where(y == 1, 1 - p, p)
    per_group = pd.Series(err).groupby(s.to_numpy()).mean()
    assert (per_group <= 0.335 + 0.005).all()


def test_string_labels_come_back_as_given(credit):
    """Predictions are in the user's label space."""
    df, y, s = credit
    labels = np.where(y == 1, "good", "bad")
    eg = ExponentiatedGradient(
        make_pipeline(StandardScaler(), LogisticRegression()), constraint=DemographicParity()
    ).fit(df[NUMERIC], labels, sensitive_features=s)
    assert set(np.unique(eg.predict(df[NUMERIC], random_state=1))) <= {"bad", "good"}


def test_an_estimator_without_sample_weight_is_refused():
    """The error names the estimator and what is missing."""

    class NoWeights:
        def fit(self, X, y):
            return self

        def get_params(self, deep=True):
            return {}

    with pytest.raises(ConfigError, match="NoWeights does not accept fit"):
        ExponentiatedGradient(NoWeights(), constraint=DemographicParity()).fit(
            np.zeros((4, 1)), [0, 1, 0, 1], sensitive_features=["a", "a", "b", "b"]
        )


def test_predict_before_fit_says_call_fit():
    """Unfitted use raises NotFittedError telling the user to call fit."""
    with pytest.raises(NotFittedError, match="call fit"):
        ExponentiatedGradient(LogisticRegression(), constraint=DemographicParity()).predict(
            np.zeros((2, 1))
        )


def test_a_sensitive_column_name_needs_a_dataframe():
    """Naming a column of a numpy X is a DataError that says what to pass instead."""
    with pytest.raises(DataError, match="names a column, but X is not a DataFrame"):
        ExponentiatedGradient(LogisticRegression(), constraint=DemographicParity()).fit(
            np.zeros((4, 1)), [0, 1, 0, 1], sensitive_features="sex"
        )


@pytest.mark.parametrize(
    ("constraint", "metric"),
    [
        ("demographic_parity", demographic_parity_difference),
        ("equal_opportunity", equal_opportunity_difference),
        ("equalized_odds", equalized_odds_difference),
    ],
)
def test_group_thresholds_equalize_the_rates_on_training_data(credit, constraint, metric):
    """Post-processing reaches (in expectation) near-zero disparity on the training data."""
    df, y, s = credit
    X = df[NUMERIC]
    to = ThresholdOptimizer(make_pipeline(StandardScaler(), LogisticRegression()),
                            constraint=constraint).fit(X, y, sensitive_features=s)  # fmt: skip
    p = to.predict_proba(X, sensitive_features=s)[:, 1]
    assert _mixture_disparity_p(p, y, s, constraint) <= 0.01
    hard = to.predict(X, sensitive_features=s, random_state=0)
    assert metric(y, hard, sensitive_features=s) < 0.15  # coin flips add sampling noise


def _mixture_disparity_p(p, y, s, name):
    codes = np.unique(s, return_inverse=True)[1]
    yy = np.asarray(y)
    t = np.zeros((2, 2, 2))
    for label in (0, 1):
        m = yy == label
        t[:, label, 1] = np.bincount(codes[m], weights=p[m], minlength=2)
        t[:, label, 0] = np.bincount(codes[m], weights=1 - p[m], minlength=2)
    return float(disparity(t, name))


def test_a_tolerance_lets_thresholds_keep_more_accuracy(credit):
    """A looser tolerance never lowers training accuracy (expected, from predict_proba)."""
    df, y, s = credit
    X = df[NUMERIC]
    acc = []
    for tol in (0.0, 0.05, 0.2):
        to = ThresholdOptimizer(make_pipeline(StandardScaler(), LogisticRegression()),
                                tolerance=tol).fit(X, y, sensitive_features=s)  # fmt: skip
        p = to.predict_proba(X, sensitive_features=s)[:, 1]
        acc.append(float(np.mean(np.where(y == 1, p, 1 - p))))
    assert acc[0] <= acc[1] + 1e-9 <= acc[2] + 2e-9


def test_thresholds_refuse_a_group_unseen_in_fit(credit):
    """Predicting for a group that had no thresholds fitted names it."""
    df, y, s = credit
    to = ThresholdOptimizer(LogisticRegression()).fit(df[NUMERIC], y, sensitive_features=s)
    with pytest.raises(DataError, match="not seen in fit"):
        to.predict(df[NUMERIC].head(3), sensitive_features=["other"] * 3)


def test_thresholds_with_slack_on_equalized_odds_are_refused():
    """Equalized-odds thresholds only support tolerance 0, and the hint says what to use."""
    with pytest.raises(ConfigError, match="ExponentiatedGradient"):
        ThresholdOptimizer(LogisticRegression(), constraint="equalized_odds", tolerance=0.1).fit(
            np.zeros((4, 1)), [0, 1, 0, 1], sensitive_features=["a", "a", "b", "b"]
        )


def test_metrics_by_group_agree_with_confusion_tables(credit):
    """Sanity: the helper used by these tests agrees with metrics_by_group on hard labels."""
    df, y, s = credit
    pred = (df["duration"] < 20).astype(int).to_numpy()
    codes = np.unique(s, return_inverse=True)[1]
    t = confusion_by_group(y.to_numpy(), pred, codes, 2)
    assert _mixture_disparity_p(pred.astype(float), y, s, "demographic_parity") == pytest.approx(
        float(disparity(t, "demographic_parity"))
    )
    frame = metrics_by_group(y, pred, sensitive_features=s)
    assert frame["count"].sum() == 1000
