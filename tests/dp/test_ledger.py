"""The durable ledger: charge before release, refuse overspending, survive crashes and races."""

from __future__ import annotations

import multiprocessing as mp
import os
import sqlite3
from fractions import Fraction
from pathlib import Path

import pytest

from veil.dp import Count, Guarantee, PrivacyUnit, Sum
from veil.dp.accountant import UnusualEpsilonWarning
from veil.dp.ledger import Ledger
from veil.errors import BudgetExhausted, ConfigError, DataError, PrivacyError


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    """A fresh ledger file."""
    with Ledger(tmp_path / "ledger.db") as led:
        yield led


def test_a_release_is_charged_and_reports_what_remains(ledger: Ledger) -> None:
    """Releasing a count at eps 0.25 on a budget of 1 leaves 0.75, and the history says revealed."""
    ledger.create_budget("sales", epsilon=1)
    out = ledger.release("sales", Count(epsilon="0.25"), list(range(100)))
    assert out.details["remaining_epsilon"] == 0.75
    assert ledger.budget("sales").epsilon_spent == Fraction(1, 4)
    [record] = ledger.history("sales")
    assert record.status == "revealed"
    assert record.epsilon == Fraction(1, 4)


def test_an_exhausted_budget_is_refused_naming_dataset_budget_and_remaining(ledger) -> None:
    """The refusal says which dataset, its budget, and what is left; nothing is charged."""
    ledger.create_budget("sales", epsilon=1)
    ledger.charge("sales", Guarantee(Fraction(7, 10)), "first")
    with pytest.raises(BudgetExhausted) as info:
        ledger.charge("sales", Guarantee(Fraction(1, 2)), "second")
    message = str(info.value)
    assert "'sales'" in message
    assert "budget ε=1" in message
    assert "remaining ε=0.3" in message
    assert info.value.dataset == "sales"
    assert info.value.remaining == [0.3, 0.0]
    assert len(ledger.history("sales")) == 1


def test_shares_from_split_spend_the_budget_to_the_last_unit(ledger) -> None:
    """Three charges of split(3) fit; a fourth charge of one unit does not."""
    ledger.create_budget("d", epsilon=1)
    share, _ = ledger.budget("d").split(3)
    for _ in range(3):
        ledger.charge("d", Guarantee(share), "third")
    assert ledger.budget("d").remaining_epsilon == Fraction(1, 10**9)
    ledger.charge("d", Guarantee(Fraction(1, 10**9)), "last unit")
    with pytest.raises(BudgetExhausted):
        ledger.charge("d", Guarantee(Fraction(1, 10**9)), "one too many")


def test_charges_are_rounded_up_so_three_exact_thirds_do_not_fit(ledger) -> None:
    """1/3 is charged as 333333334 nano-epsilon: the third such charge is refused."""
    ledger.create_budget("d", epsilon=1)
    ledger.charge("d", Guarantee(Fraction(1, 3)), "a")
    ledger.charge("d", Guarantee(Fraction(1, 3)), "b")
    with pytest.raises(BudgetExhausted):
        ledger.charge("d", Guarantee(Fraction(1, 3)), "c")


def test_tiny_charges_are_rounded_up_never_free(ledger) -> None:
    """An epsilon of 1e-15 still costs one nano-epsilon unit."""
    ledger.create_budget("d", epsilon="1e-9")
    ledger.charge("d", Guarantee(Fraction(1, 10**15)), "tiny")
    with pytest.raises(BudgetExhausted):
        ledger.charge("d", Guarantee(Fraction(1, 10**15)), "tiny again")


def test_delta_is_budgeted_too(ledger) -> None:
    """A Gaussian release spends delta; a second one that overspends delta is refused."""
    ledger.create_budget("d", epsilon=10, delta="1e-6")
    ledger.charge("d", Guarantee(Fraction(1), Fraction(6, 10**7)), "gauss")
    with pytest.raises(BudgetExhausted, match="δ="):
        ledger.charge("d", Guarantee(Fraction(1), Fraction(6, 10**7)), "gauss")


def test_a_charge_for_another_privacy_unit_is_refused(ledger) -> None:
    """A budget for one row per person does not take releases bounded to five rows."""
    ledger.create_budget("d", epsilon=1)
    with pytest.raises(PrivacyError, match="budgeted for one person"):
        ledger.release("d", Count(1, max_contributions=5), [1, 2, 3])


def test_a_budget_cannot_be_created_twice(ledger) -> None:
    """Budgets never grow: creating one again is refused."""
    ledger.create_budget("d", epsilon=1)
    with pytest.raises(ConfigError, match="already has a budget"):
        ledger.create_budget("d", epsilon=5)


def test_an_unknown_dataset_lists_the_known_ones(ledger) -> None:
    """Charging a dataset without a budget names the ones that exist."""
    ledger.create_budget("alpha", epsilon=1)
    with pytest.raises(ConfigError, match=r"budgets exist for \['alpha'\]"):
        ledger.charge("beta", Guarantee(Fraction(1)), "x")


def test_an_unusual_budget_draws_a_warning(ledger) -> None:
    """A budget with epsilon above 10 warns."""
    with pytest.warns(UnusualEpsilonWarning):
        ledger.create_budget("d", epsilon=100)


def test_a_failing_mechanism_keeps_its_charge(ledger) -> None:
    """If the release raises after the charge, the budget stays spent and the charge is 'failed'."""
    ledger.create_budget("d", epsilon=1)
    with pytest.raises(DataError):
        ledger.release("d", Sum(0.5, bounds=(0, 1), column="nope"), {"x": [1.0]})
    assert ledger.budget("d").epsilon_spent == Fraction(1, 2)
    assert ledger.history("d")[0].status == "failed"


def test_the_ledger_uses_write_ahead_logging_and_survives_reopening(tmp_path) -> None:
    """journal_mode is WAL; a second connection sees the committed spending."""
    path = tmp_path / "l.db"
    with Ledger(path) as led:
        led.create_budget("d", epsilon=1)
        led.charge("d", Guarantee(Fraction(2, 5)), "x")
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    with Ledger(path) as again:
        assert again.budget("d").epsilon_spent == Fraction(2, 5)


def test_the_schema_refuses_an_overspent_row_even_if_written_by_hand(tmp_path) -> None:
    """A CHECK constraint stops spent > budget at the database level."""
    path = tmp_path / "l.db"
    with Ledger(path) as led:
        led.create_budget("d", epsilon=1)
    con = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError):
        con.execute("UPDATE budgets SET epsilon_spent = epsilon_budget + 1")
    con.close()


def _race(path: str, dataset: str, epsilon: str, barrier, results) -> None:
    with Ledger(path) as led:
        barrier.wait()
        try:
            led.charge(dataset, Guarantee(Fraction(epsilon)), f"pid {os.getpid()}")
            results.put("ok")
        except BudgetExhausted:
            results.put("refused")


@pytest.mark.parametrize("round_", range(3))
def test_two_processes_racing_for_the_last_of_a_budget_cannot_both_succeed(
    tmp_path, round_
) -> None:
    """Two real processes each charge 0.6 of a budget of 1 at the same moment: one wins."""
    path = str(tmp_path / "race.db")
    with Ledger(path) as led:
        led.create_budget("d", epsilon=1)
    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(path, "d", "0.6", barrier, results)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    outcomes = sorted(results.get(timeout=5) for _ in procs)
    assert outcomes == ["ok", "refused"]
    with Ledger(path) as led:
        assert led.budget("d").epsilon_spent == Fraction(3, 5)


def _many(path: str, barrier, results) -> None:
    with Ledger(path) as led:
        barrier.wait()
        wins = 0
        for _ in range(6):
            try:
                led.charge("d", Guarantee(Fraction(1, 10)), "small")
                wins += 1
            except BudgetExhausted:
                pass
        results.put(wins)


def test_many_processes_never_overspend(tmp_path) -> None:
    """Four processes try 24 charges of 0.1 against a budget of 1: exactly 10 succeed."""
    path = str(tmp_path / "many.db")
    with Ledger(path) as led:
        led.create_budget("d", epsilon=1)
    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_many, args=(path, barrier, results)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    assert sum(results.get(timeout=5) for _ in procs) == 10
    with Ledger(path) as led:
        assert led.budget("d").epsilon_spent == 1
        assert len(led.history("d")) == 10


def _crash_after_charge(path: str) -> None:
    led = Ledger(path)
    led.charge("d", Guarantee(Fraction(1, 2)), "about to crash")
    os._exit(7)  # the process dies between charge and reveal: no cleanup, no finally


def test_a_crash_between_charge_and_reveal_loses_budget_not_privacy(tmp_path) -> None:
    """After a process dies mid-release, its charge is spent and stays 'charged' (never refunded)."""
    path = str(tmp_path / "crash.db")
    with Ledger(path) as led:
        led.create_budget("d", epsilon=1)
    proc = mp.get_context("fork").Process(target=_crash_after_charge, args=(path,))
    proc.start()
    proc.join(timeout=60)
    assert proc.exitcode == 7
    with Ledger(path) as led:
        assert led.budget("d").epsilon_spent == Fraction(1, 2)
        [record] = led.history("d")
        assert record.status == "charged"
        assert record.finished_at is None


def test_budget_split_divides_what_remains(ledger) -> None:
    """split(n) gives each of n equal queries its share of the remaining budget."""
    ledger.create_budget("d", epsilon=1, delta="1e-6", unit=PrivacyUnit())
    ledger.charge("d", Guarantee(Fraction(1, 2)), "x")
    eps, delta = ledger.budget("d").split(4)
    assert eps == Fraction(1, 8)
    assert delta == Fraction(1, 4 * 10**6)
    assert ledger.budget("d").split(3)[0] == Fraction(166_666_666, 10**9)


def test_threads_sharing_one_ledger_never_overspend(ledger) -> None:
    """Eight threads charging 0.1 each against a budget of 0.5 through one Ledger: five succeed."""
    import threading

    ledger.create_budget("d", epsilon="0.5")
    outcomes: list[bool] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        try:
            ledger.charge("d", Guarantee(Fraction(1, 10)), "thread")
            outcomes.append(True)
        except BudgetExhausted:
            outcomes.append(False)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count(True) == 5
    assert ledger.budget("d").remaining_epsilon == 0
