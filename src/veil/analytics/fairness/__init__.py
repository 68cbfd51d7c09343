"""Fairness of classifiers' outputs: group metrics, audits with intervals and DP, fair learning.

Plain mode (one party's data). See ``docs/fairness.md``.
"""

from veil.analytics.fairness.audit import AuditResult, GroupingAudit, audit
from veil.analytics.fairness.constraints import (
    BoundedGroupLoss,
    DemographicParity,
    EqualizedOdds,
    EqualOpportunity,
    ErrorRateParity,
    make_constraint,
)
from veil.analytics.fairness.frontier import Frontier, fairness_frontier
from veil.analytics.fairness.metrics import (
    DISPARITIES,
    RATES,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equal_opportunity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    metrics_by_group,
    predictive_parity_difference,
    predictive_parity_ratio,
)
from veil.analytics.fairness.noise import CountMechanism, DiscreteLaplaceCounts, count_mechanism
from veil.analytics.fairness.paygap import PayGapResult, pay_gap
from veil.analytics.fairness.postprocess import ThresholdOptimizer
from veil.analytics.fairness.reductions import ExponentiatedGradient, MixtureClassifier
from veil.analytics.fairness.subgroup import Subgroup, SubgroupFairClassifier, find_subgroup

__all__ = [
    "DISPARITIES",
    "RATES",
    "AuditResult",
    "BoundedGroupLoss",
    "CountMechanism",
    "DemographicParity",
    "DiscreteLaplaceCounts",
    "EqualOpportunity",
    "EqualizedOdds",
    "ErrorRateParity",
    "ExponentiatedGradient",
    "Frontier",
    "GroupingAudit",
    "MixtureClassifier",
    "PayGapResult",
    "Subgroup",
    "SubgroupFairClassifier",
    "ThresholdOptimizer",
    "audit",
    "count_mechanism",
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "fairness_frontier",
    "find_subgroup",
    "make_constraint",
    "metrics_by_group",
    "pay_gap",
    "predictive_parity_difference",
    "predictive_parity_ratio",
]
