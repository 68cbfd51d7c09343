"""Fairness of classifiers' outputs: group metrics, audits with intervals and DP, fair learning.

Plain mode (one party's data). See ``docs/fairness.md``.
"""

from veil.analytics.fairness.audit import AuditResult, GroupingAudit, audit
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

__all__ = [
    "DISPARITIES",
    "RATES",
    "AuditResult",
    "CountMechanism",
    "DiscreteLaplaceCounts",
    "GroupingAudit",
    "audit",
    "count_mechanism",
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "metrics_by_group",
    "predictive_parity_difference",
    "predictive_parity_ratio",
]
