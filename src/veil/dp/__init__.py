"""Differential privacy: exact noise, mechanisms that state their guarantee, composition, a ledger.

Every released number carries calibrated noise and an (ε, δ) charged to a budget. Noise is sampled
exactly on the integers from the CSPRNG (:mod:`veil.dp.samplers`), real numbers go through a
power-of-two grid, and mechanisms say what they cost before they run (:mod:`veil.dp.mechanisms`).
See ``docs/dp.md``.
"""

from veil.dp.accountant import Accountant, RenyiAccountant, advanced, parallel, sequential, zcdp
from veil.dp.guarantee import Guarantee, PrivacyUnit, Release
from veil.dp.mechanisms import GaussianMechanism, LaplaceMechanism, Mechanism, compose
from veil.dp.randomized_response import Estimate, KaryRandomizedResponse, RandomizedResponse
from veil.dp.releases import Count, GroupBy, Histogram, Mean, Quantiles, Sum, Variance
from veil.dp.selection import AboveThreshold, ExponentialMechanism, ReportNoisyMax
from veil.dp.sources import Table

__all__ = [
    "AboveThreshold",
    "Accountant",
    "Count",
    "Estimate",
    "ExponentialMechanism",
    "GaussianMechanism",
    "GroupBy",
    "Guarantee",
    "Histogram",
    "KaryRandomizedResponse",
    "LaplaceMechanism",
    "Mean",
    "Mechanism",
    "PrivacyUnit",
    "Quantiles",
    "RandomizedResponse",
    "Release",
    "RenyiAccountant",
    "ReportNoisyMax",
    "Sum",
    "Table",
    "Variance",
    "advanced",
    "compose",
    "parallel",
    "sequential",
    "zcdp",
]
