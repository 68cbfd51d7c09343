"""The ledger's integer arithmetic: no overspend, composition only grows, safe rounding."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import assume, given
from hypothesis import strategies as st

from veil.dp import budget as B

amounts = st.integers(min_value=0, max_value=10**19)


@given(amounts, amounts, amounts)
def test_a_spend_never_makes_the_remaining_budget_negative(budget, spent, charge) -> None:
    """For spent <= budget, any charge leaves spent <= new spent <= budget."""
    assume(spent <= budget)
    after = B.spend(budget, spent, charge)
    assert spent <= after <= budget
    assert B.remaining(budget, after) >= 0


@given(amounts, amounts, amounts)
def test_an_affordable_charge_is_subtracted_exactly(budget, spent, charge) -> None:
    """When the charge fits, the remaining budget drops by exactly the charge."""
    assume(spent <= budget)
    if B.can_afford(budget, spent, charge):
        assert (
            B.remaining(budget, B.spend(budget, spent, charge))
            == B.remaining(budget, spent) - charge
        )
    else:
        assert B.spend(budget, spent, charge) == spent


@given(st.integers(), amounts)
def test_composition_only_grows_the_spent_budget(spent, charge) -> None:
    """Adding a non-negative charge never lowers the total."""
    assert B.compose(spent, charge) >= spent


@given(st.integers(), st.integers(), st.integers())
def test_negative_amounts_are_never_affordable(budget, spent, charge) -> None:
    """A negative charge (a refund) or a negative spent total is refused."""
    if charge < 0 or spent < 0:
        assert not B.can_afford(budget, spent, charge)


@given(st.fractions(min_value=0, max_value=100))
def test_charges_round_up_and_budgets_round_down(value: Fraction) -> None:
    """units_up never undercharges; units_down never over-allows; they differ by at most one."""
    up = B.units_up(value.numerator, value.denominator, B.EPSILON_UNITS)
    down = B.units_down(value.numerator, value.denominator, B.EPSILON_UNITS)
    assert Fraction(up, B.EPSILON_UNITS) >= value >= Fraction(down, B.EPSILON_UNITS)
    assert up - down in (0, 1)


def test_remaining_is_zero_when_overspent_by_someone_else() -> None:
    """A spent total above the budget (never written by veil) still reads as nothing left."""
    assert B.remaining(10, 12) == 0
