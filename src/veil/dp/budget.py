"""The ledger's arithmetic on privacy budgets, in integer units, as small functions to verify.

Budgets and charges are non-negative integers: epsilon in nano-units (1 unit = 1e-9) and delta
in atto-units (1 unit = 1e-18). Charges are rounded *up* to whole units and budgets *down*, so
the integer bookkeeping never lets more privacy loss through than the exact fractions would.

Every function here is pure, takes and returns ``int``/``bool`` only, and uses only integer
comparisons, addition, subtraction, multiplication and floor division — the subset the Nagini
verifier (Viper) handles — so that these properties can be machine-checked:

* **no overspend**: for ``0 <= spent <= budget`` and ``charge >= 0``,
  ``spent <= spend(budget, spent, charge) <= budget``, hence
  ``remaining(budget, spend(budget, spent, charge)) >= 0``;
* **composition only grows**: ``compose(spent, charge) >= spent`` for ``charge >= 0``;
* **exact accounting**: when ``can_afford(budget, spent, charge)``,
  ``remaining(budget, spend(...)) == remaining(budget, spent) - charge``;
* **safe rounding**: ``units_up(n, d, s) * d >= n * s`` and ``units_down(n, d, s) * d <= n * s``.

The preconditions and postconditions of each function are stated in its docstring.
"""

__all__ = [
    "DELTA_UNITS",
    "EPSILON_UNITS",
    "can_afford",
    "compose",
    "remaining",
    "spend",
    "units_down",
    "units_up",
]

#: Units per 1.0 of epsilon (nano-epsilon).
EPSILON_UNITS = 1_000_000_000
#: Units per 1.0 of delta (atto-delta); a delta budget of 1 is 10**18 < 2**63.
DELTA_UNITS = 1_000_000_000_000_000_000


def can_afford(budget: int, spent: int, charge: int) -> bool:
    """Return whether ``charge`` fits in what is left of ``budget`` after ``spent``.

    Pre: none (any integers). Post: the result is True exactly when ``0 <= charge``,
    ``0 <= spent`` and ``spent + charge <= budget``.
    """
    return charge >= 0 and spent >= 0 and spent + charge <= budget


def spend(budget: int, spent: int, charge: int) -> int:
    """Return the spent total after charging ``charge``, or ``spent`` unchanged if it does not fit.

    Pre: ``0 <= spent <= budget``, ``0 <= charge``.
    Post: ``spent <= result <= budget``; ``result == spent + charge`` if
    ``can_afford(budget, spent, charge)``, else ``result == spent``.
    """
    if can_afford(budget, spent, charge):
        return spent + charge
    return spent


def remaining(budget: int, spent: int) -> int:
    """Return how much of ``budget`` is left after ``spent`` (never negative).

    Pre: none. Post: ``result >= 0``; ``result == budget - spent`` when ``spent <= budget``.
    """
    if spent >= budget:
        return 0
    return budget - spent


def compose(spent: int, charge: int) -> int:
    """Return the total loss after adding ``charge`` to ``spent`` (sequential composition).

    Pre: ``0 <= charge``. Post: ``result == spent + charge`` and ``result >= spent``.
    """
    return spent + charge


def units_up(numerator: int, denominator: int, scale: int) -> int:
    """Return ``ceil(numerator * scale / denominator)``: a charge rounded up to whole units.

    Pre: ``numerator >= 0``, ``denominator > 0``, ``scale > 0``.
    Post: ``result * denominator >= numerator * scale`` and
    ``(result - 1) * denominator < numerator * scale``; ``result >= 0``.
    """
    return -((-(numerator * scale)) // denominator)


def units_down(numerator: int, denominator: int, scale: int) -> int:
    """Return ``floor(numerator * scale / denominator)``: a budget rounded down to whole units.

    Pre: ``numerator >= 0``, ``denominator > 0``, ``scale > 0``.
    Post: ``result * denominator <= numerator * scale`` and ``result >= 0``.
    """
    return (numerator * scale) // denominator
