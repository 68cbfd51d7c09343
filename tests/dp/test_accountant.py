"""Composition: sequential, parallel, advanced, zCDP/Renyi, and the in-memory accountant."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.dp import Accountant, Guarantee, PrivacyUnit, RenyiAccountant
from veil.dp.accountant import UnusualEpsilonWarning, advanced, parallel, sequential, zcdp
from veil.errors import BudgetExhausted, ConfigError, PrivacyError

fractions = st.builds(Fraction, st.integers(0, 10_000), st.integers(1, 1000))
deltas = st.builds(Fraction, st.integers(0, 10), st.integers(1000, 10**6))
guarantees = st.builds(Guarantee, fractions, deltas)


@given(st.lists(guarantees, min_size=1, max_size=6))
def test_sequential_composition_adds_epsilons_and_deltas_exactly(parts: list[Guarantee]) -> None:
    """The composed epsilon and delta are the exact sums."""
    total = sequential(*parts)
    assert total.epsilon == sum(g.epsilon for g in parts)
    assert total.delta == sum(g.delta for g in parts)


@given(guarantees, guarantees, guarantees)
def test_sequential_composition_does_not_depend_on_grouping_or_order(a, b, c) -> None:
    """Composition is associative and commutative."""
    assert sequential(sequential(a, b), c) == sequential(a, sequential(b, c))
    assert sequential(a, b) == sequential(b, a)


@given(st.lists(guarantees, min_size=1, max_size=6))
def test_composition_never_costs_less_than_any_part(parts: list[Guarantee]) -> None:
    """Sequential >= parallel >= each part, in epsilon and in delta."""
    seq, par = sequential(*parts), parallel(*parts)
    for g in parts:
        assert par.epsilon >= g.epsilon
        assert par.delta >= g.delta
    assert seq.epsilon >= par.epsilon


def test_rho_is_summed_only_when_every_part_has_one() -> None:
    """zCDP parameters add; a pure-DP part without rho drops rho from the total."""
    a = Guarantee(Fraction(1), Fraction(1, 10**6), Fraction(1, 10))
    b = Guarantee(Fraction(1), Fraction(1, 10**6), Fraction(2, 10))
    assert sequential(a, b).rho == Fraction(3, 10)
    assert sequential(a, Guarantee(Fraction(1))).rho is None


def test_parallel_composition_costs_the_most_expensive_partition() -> None:
    """Disjoint partitions cost the maximum epsilon."""
    g = parallel(Guarantee(Fraction(1, 2)), Guarantee(Fraction(1)), Guarantee(Fraction(1, 4)))
    assert g.epsilon == 1


def test_advanced_composition_matches_dwork_rothblum_vadhan() -> None:
    """k = 100 runs of eps = 0.1 cost sqrt(2k ln(1/d')) eps + k eps (e^eps - 1) < k eps."""
    g = advanced(Guarantee(Fraction(1, 10), Fraction(1, 10**7)), 100, "1e-6")
    expected = math.sqrt(200 * math.log(1e6)) * 0.1 + 100 * 0.1 * math.expm1(0.1)
    assert float(g.epsilon) == pytest.approx(expected, rel=1e-9)
    assert float(g.epsilon) >= expected
    assert g.delta == Fraction(100, 10**7) + Fraction(1, 10**6)
    assert g.epsilon < 10


def test_advanced_composition_falls_back_to_basic_when_basic_is_better() -> None:
    """For few runs of a large epsilon basic composition is smaller and is returned."""
    g = advanced(Guarantee(Fraction(2)), 3, "1e-6")
    assert g.epsilon == 6
    assert g.delta == 0


def test_zcdp_composition_of_gaussians_beats_adding_epsilons() -> None:
    """100 releases at rho = 0.01 convert to far less than 100 times each one's epsilon."""
    total = zcdp([Fraction(1, 100)] * 100, "1e-6")
    one = zcdp([Fraction(1, 100)], "1e-8")
    assert total.rho == 1
    assert float(total.epsilon) < 100 * float(one.epsilon) / 5
    assert float(total.epsilon) <= 1 + 2 * math.sqrt(math.log(1e6))  # Bun & Steinke's bound


def test_the_renyi_accountant_agrees_with_direct_zcdp_conversion() -> None:
    """On Gaussian releases alone the Renyi grid gives nearly the exact zCDP conversion."""
    acc = RenyiAccountant()
    for _ in range(50):
        acc.add_zcdp(0.02)
    assert acc.epsilon(1e-6) == pytest.approx(float(zcdp([1], "1e-6").epsilon), rel=0.02)


def test_the_renyi_accountant_charges_pure_releases_alone_by_basic_composition() -> None:
    """Pure releases only: the epsilon is their sum (never more than the conversion)."""
    acc = RenyiAccountant()
    acc.add_pure(0.5)
    acc.add_pure(0.25)
    assert acc.epsilon(1e-6) == pytest.approx(0.75)


def test_the_renyi_accountant_mixes_pure_and_gaussian_releases() -> None:
    """A pure release on top of Gaussians costs at most its epsilon more."""
    acc = RenyiAccountant()
    acc.add_zcdp(0.1)
    before = acc.epsilon(1e-6)
    acc.add_pure(0.1)
    assert before < acc.epsilon(1e-6) <= before + 0.1 + 1e-9


def test_the_accountant_charges_until_the_budget_is_spent_then_refuses() -> None:
    """Charges accumulate exactly; the one that would overspend raises and records nothing."""
    acc = Accountant(epsilon_budget=1)
    acc.charge(Guarantee(Fraction(1, 2)))
    acc.charge(Guarantee(Fraction(1, 2)))
    assert acc.remaining_epsilon == 0
    with pytest.raises(BudgetExhausted, match=r"remaining ε=0"):
        acc.charge(Guarantee(Fraction(1, 10**9)))
    assert len(acc.charges) == 2


def test_the_accountant_refuses_a_charge_for_another_privacy_unit() -> None:
    """Budgets are per unit: a charge for five rows per person does not fit a one-row budget."""
    acc = Accountant(epsilon_budget=1)
    with pytest.raises(PrivacyError, match="protects one person"):
        acc.charge(Guarantee(Fraction(1, 2), unit=PrivacyUnit(max_contributions=5)))


def test_the_accountant_warns_on_an_unusually_large_budget() -> None:
    """An epsilon budget above 10 draws a warning."""
    with pytest.warns(UnusualEpsilonWarning):
        Accountant(epsilon_budget=50)


def test_advanced_composition_needs_a_positive_run_count() -> None:
    """k must be an integer >= 1."""
    with pytest.raises(ConfigError, match="k must be"):
        advanced(Guarantee(Fraction(1)), 0, "1e-6")
