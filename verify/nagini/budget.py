"""The ledger arithmetic of ``veil.dp.budget`` with its contracts, proved by Nagini.

Strip the contract lines (``verify/contracts.py``) and every function here is, statement for
statement, the product's ``src/veil/dp/budget.py``; ``tests/verify/test_proved_copies.py`` checks
that. Integers are mathematical (Viper ``Int``); so are Python's.
"""

from nagini_contracts.contracts import *

EPSILON_UNITS = 1_000_000_000
DELTA_UNITS = 1_000_000_000_000_000_000


@Pure
def can_afford(budget: int, spent: int, charge: int) -> bool:
    Ensures(Result() == (0 <= charge and 0 <= spent and spent + charge <= budget))
    return charge >= 0 and spent >= 0 and spent + charge <= budget


def spend(budget: int, spent: int, charge: int) -> int:
    Requires(0 <= spent and spent <= budget and 0 <= charge)
    # No overspend: the spent total stays within the budget and never decreases.
    Ensures(spent <= Result() and Result() <= budget)
    Ensures(Implies(can_afford(budget, spent, charge), Result() == spent + charge))
    Ensures(Implies(not can_afford(budget, spent, charge), Result() == spent))
    # Exact accounting: what is left shrinks by exactly the charge.
    Ensures(Implies(can_afford(budget, spent, charge),
                    remaining(budget, Result()) == remaining(budget, spent) - charge))
    Ensures(remaining(budget, Result()) >= 0)
    if can_afford(budget, spent, charge):
        return spent + charge
    return spent


@Pure
def remaining(budget: int, spent: int) -> int:
    Ensures(Result() >= 0)
    Ensures(Implies(spent <= budget, Result() == budget - spent))
    if spent >= budget:
        return 0
    return budget - spent


def compose(spent: int, charge: int) -> int:
    Requires(0 <= charge)
    # Composition only grows the spent budget.
    Ensures(Result() == spent + charge and Result() >= spent)
    return spent + charge


def units_up(numerator: int, denominator: int, scale: int) -> int:
    Requires(numerator >= 0 and denominator > 0 and scale > 0)
    # A charge rounded up never under-counts the exact loss, and over-counts by less than a unit.
    Ensures(Result() * denominator >= numerator * scale)
    Ensures((Result() - 1) * denominator < numerator * scale)
    Ensures(Result() >= 0)
    return -((-(numerator * scale)) // denominator)


def units_down(numerator: int, denominator: int, scale: int) -> int:
    Requires(numerator >= 0 and denominator > 0 and scale > 0)
    # A budget rounded down never grants more than the exact allowance.
    Ensures(Result() * denominator <= numerator * scale)
    Ensures(Result() >= 0)
    return (numerator * scale) // denominator
