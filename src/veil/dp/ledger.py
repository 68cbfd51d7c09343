"""A durable privacy-budget ledger: SQLite in WAL mode, charged before anything is revealed.

Each dataset has a budget (ε, δ) for a privacy unit. A release goes through three steps:

1. **charge** — one ``BEGIN IMMEDIATE`` transaction reads what is spent, checks the charge fits
   (:func:`veil.dp.budget.can_afford`), records it with status ``charged`` and adds it to the
   spent total; it commits with ``synchronous=FULL`` before returning. Two processes racing for
   the last of a budget serialize on SQLite's write lock: the second sees the first's charge,
   so both cannot succeed;
2. **compute** — the mechanism runs and produces its noisy value;
3. **reveal** — the charge is marked ``revealed`` and the value returned.

A crash (or an exception) after step 1 leaves the charge in place: budget is lost, never privacy.
Nothing is ever refunded. A charge that does not fit raises :class:`~veil.errors.BudgetExhausted`
naming the dataset, the budget and what remains, and records nothing.

Amounts are stored as integers (nano-ε, atto-δ, :mod:`veil.dp.budget`): charges rounded up,
budgets rounded down, and a ``CHECK`` constraint in the schema refuses any row where spent exceeds
the budget, as a second line of defence.

Examples
--------
>>> from veil.dp import Count
>>> ledger = Ledger(":memory:")
>>> ledger.create_budget("survey", epsilon=1)
Budget(dataset='survey', epsilon=Fraction(1, 1), delta=Fraction(0, 1), ...)
>>> out = ledger.release("survey", Count(epsilon="0.25"), list(range(500)))
>>> out.details["remaining_epsilon"]
0.75
"""

from __future__ import annotations

import sqlite3
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from veil.dp import budget as B
from veil.dp._numbers import as_fraction, probability
from veil.dp.accountant import UNUSUAL_EPSILON, UnusualEpsilonWarning
from veil.dp.guarantee import Guarantee, PrivacyUnit, Release
from veil.dp.mechanisms import Mechanism
from veil.errors import BudgetExhausted, ConfigError, PrivacyError
from veil.field import Csprng

__all__ = ["Budget", "ChargeRecord", "Ledger"]

_SCHEMA_VERSION = "1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS budgets (
    dataset TEXT PRIMARY KEY,
    unit TEXT NOT NULL,
    epsilon_budget INTEGER NOT NULL CHECK (epsilon_budget >= 0),
    delta_budget INTEGER NOT NULL CHECK (delta_budget >= 0),
    epsilon_spent INTEGER NOT NULL DEFAULT 0 CHECK (epsilon_spent >= 0),
    delta_spent INTEGER NOT NULL DEFAULT 0 CHECK (delta_spent >= 0),
    created_at TEXT NOT NULL,
    CHECK (epsilon_spent <= epsilon_budget AND delta_spent <= delta_budget)
);
CREATE TABLE IF NOT EXISTS charges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset TEXT NOT NULL REFERENCES budgets(dataset),
    epsilon INTEGER NOT NULL CHECK (epsilon >= 0),
    delta INTEGER NOT NULL CHECK (delta >= 0),
    mechanism TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('charged', 'revealed', 'failed')),
    charged_at TEXT NOT NULL,
    finished_at TEXT,
    note TEXT
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _eps_units(value: Fraction) -> int:
    return B.units_up(value.numerator, value.denominator, B.EPSILON_UNITS)


def _delta_units(value: Fraction) -> int:
    return B.units_up(value.numerator, value.denominator, B.DELTA_UNITS)


@dataclass(frozen=True)
class Budget:
    """A dataset's budget and what has been spent of it (exact fractions).

    Attributes
    ----------
    dataset : str
    epsilon, delta : Fraction
        The allowance.
    epsilon_spent, delta_spent : Fraction
    unit : str
        The privacy unit every charge must be for.
    """

    dataset: str
    epsilon: Fraction
    delta: Fraction
    epsilon_spent: Fraction
    delta_spent: Fraction
    unit: str = field(repr=False)

    @property
    def remaining_epsilon(self) -> Fraction:
        """Epsilon left (never negative)."""
        return max(Fraction(0), self.epsilon - self.epsilon_spent)

    @property
    def remaining_delta(self) -> Fraction:
        """Delta left (never negative)."""
        return max(Fraction(0), self.delta - self.delta_spent)

    def split(self, queries: int) -> tuple[Fraction, Fraction]:
        """Return the (ε, δ) each of ``queries`` equal releases may use of what remains.

        Shares are rounded down to whole ledger units (1e-9 ε, 1e-18 δ), so ``queries`` charges
        of that size always fit (charges of an arbitrary 1/3 are rounded *up* and might not).
        """
        if isinstance(queries, bool) or not isinstance(queries, int) or queries < 1:
            raise ConfigError(f"queries must be an integer >= 1, got {queries!r}")
        eps_units = int(self.remaining_epsilon * B.EPSILON_UNITS) // queries
        delta_units = int(self.remaining_delta * B.DELTA_UNITS) // queries
        return Fraction(eps_units, B.EPSILON_UNITS), Fraction(delta_units, B.DELTA_UNITS)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary."""
        return {
            "dataset": self.dataset,
            "unit": self.unit,
            "epsilon": float(self.epsilon),
            "delta": float(self.delta),
            "epsilon_spent": float(self.epsilon_spent),
            "delta_spent": float(self.delta_spent),
            "remaining": {
                "epsilon": float(self.remaining_epsilon),
                "delta": float(self.remaining_delta),
            },
        }


@dataclass(frozen=True)
class ChargeRecord:
    """One row of a dataset's history."""

    id: int
    dataset: str
    epsilon: Fraction
    delta: Fraction
    mechanism: str
    status: str
    charged_at: str
    finished_at: str | None
    note: str | None


class Ledger:
    """Budgets per dataset in a SQLite file, shared safely by threads and processes.

    Parameters
    ----------
    path : str or Path
        The database file (created if missing); ``":memory:"`` for a throwaway ledger.
    timeout_seconds : float, default=30
        How long a charge waits for another process's transaction to finish.
    """

    def __init__(self, path: str | Path, *, timeout_seconds: float = 30.0) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            parent = Path(self.path).parent
            if not parent.is_dir():
                raise ConfigError(
                    f"the ledger's directory {str(parent)!r} does not exist", path=self.path
                )
        self._lock = threading.RLock()  # one connection, shared by this object's threads
        self._con = sqlite3.connect(
            self.path, timeout=timeout_seconds, isolation_level=None, check_same_thread=False
        )
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=FULL")
        self._con.execute("PRAGMA foreign_keys=ON")
        with self._write():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._con.execute(statement)
            self._con.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                (_SCHEMA_VERSION,),
            )

    def close(self) -> None:
        """Close the database connection."""
        self._con.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            return self._con.execute(sql, params).fetchall()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """Run a block in a ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back on error."""
        with self._lock:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                yield self._con
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")

    # ----- budgets ---------------------------------------------------------------------------

    def create_budget(
        self,
        dataset: str,
        epsilon: object,
        delta: object = 0,
        unit: PrivacyUnit | None = None,
    ) -> Budget:
        """Create the budget of ``dataset``; refuses if it already exists (budgets never grow).

        Raises
        ------
        ConfigError
            If the dataset already has a budget, or the amounts are invalid.
        """
        if not isinstance(dataset, str) or not dataset:
            raise ConfigError(f"dataset must be a non-empty name, got {dataset!r}")
        eps = as_fraction(epsilon, "epsilon")
        if eps < 0:
            raise ConfigError(f"epsilon must be >= 0, got {epsilon!r}", field="epsilon")
        dlt = probability(delta, "delta")
        if eps > UNUSUAL_EPSILON:
            warnings.warn(
                f"a budget of epsilon={float(eps):g} for {dataset!r} gives little privacy",
                UnusualEpsilonWarning,
                stacklevel=2,
            )
        unit_text = str(unit or PrivacyUnit())
        with self._write() as con:
            exists = con.execute("SELECT 1 FROM budgets WHERE dataset = ?", (dataset,)).fetchone()
            if exists:
                raise ConfigError(
                    f"dataset {dataset!r} already has a budget in {self.path}",
                    hint="budgets cannot be raised or reset; use a new dataset name",
                    field="dataset",
                )
            con.execute(
                "INSERT INTO budgets(dataset, unit, epsilon_budget, delta_budget, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    dataset,
                    unit_text,
                    B.units_down(eps.numerator, eps.denominator, B.EPSILON_UNITS),
                    B.units_down(dlt.numerator, dlt.denominator, B.DELTA_UNITS),
                    _now(),
                ),
            )
        return self.budget(dataset)

    def budget(self, dataset: str) -> Budget:
        """Return the budget of ``dataset`` and what is spent.

        Raises
        ------
        ConfigError
            If the dataset has no budget (the message lists the ones that do).
        """
        rows = self._read(
            "SELECT epsilon_budget, delta_budget, epsilon_spent, delta_spent, unit "
            "FROM budgets WHERE dataset = ?",
            (dataset,),
        )
        row = rows[0] if rows else None
        if row is None:
            known = self.datasets()
            raise ConfigError(
                f"dataset {dataset!r} has no budget in {self.path}; budgets exist for {known}",
                hint="create one first (Ledger.create_budget or `veil dp budget --epsilon ...`)",
                field="dataset",
            )
        eb, db, es, ds, unit = row
        return Budget(
            dataset,
            Fraction(eb, B.EPSILON_UNITS),
            Fraction(db, B.DELTA_UNITS),
            Fraction(es, B.EPSILON_UNITS),
            Fraction(ds, B.DELTA_UNITS),
            unit,
        )

    def datasets(self) -> list[str]:
        """Return the names of the datasets with a budget."""
        return [r[0] for r in self._read("SELECT dataset FROM budgets ORDER BY 1")]

    # ----- charging --------------------------------------------------------------------------

    def charge(self, dataset: str, guarantee: Guarantee, mechanism: str) -> int:
        """Durably charge ``guarantee`` to ``dataset`` before a release; return the charge id.

        Raises
        ------
        BudgetExhausted
            If the charge does not fit; nothing is recorded.
        PrivacyError
            If the guarantee is for another privacy unit than the budget.
        """
        eps, dlt = _eps_units(guarantee.epsilon), _delta_units(guarantee.delta)
        with self._write() as con:
            row = con.execute(
                "SELECT epsilon_budget, delta_budget, epsilon_spent, delta_spent, unit "
                "FROM budgets WHERE dataset = ?",
                (dataset,),
            ).fetchone()
            if row is None:
                self.budget(dataset)  # raises the helpful error
            eb, db, es, ds, unit = row  # (executescript is avoided: it would commit early)
            if unit != str(guarantee.unit):
                raise PrivacyError(
                    f"dataset {dataset!r} is budgeted for {unit}; this release protects "
                    f"{guarantee.unit}",
                    hint="bound contributions the same way for every release on a dataset",
                    field="dataset",
                )
            if not (B.can_afford(eb, es, eps) and B.can_afford(db, ds, dlt)):
                raise BudgetExhausted(
                    f"dataset {dataset!r}: charging ε={float(guarantee.epsilon):g}, "
                    f"δ={float(guarantee.delta):g} would exceed its budget "
                    f"ε={eb / B.EPSILON_UNITS:g}, δ={db / B.DELTA_UNITS:g}; remaining "
                    f"ε={B.remaining(eb, es) / B.EPSILON_UNITS:g}, "
                    f"δ={B.remaining(db, ds) / B.DELTA_UNITS:g}",
                    hint="release less, with a smaller epsilon, or on a new dataset budget",
                    dataset=dataset,
                    budget=[eb / B.EPSILON_UNITS, db / B.DELTA_UNITS],
                    remaining=[
                        B.remaining(eb, es) / B.EPSILON_UNITS,
                        B.remaining(db, ds) / B.DELTA_UNITS,
                    ],
                )
            con.execute(
                "UPDATE budgets SET epsilon_spent = ?, delta_spent = ? WHERE dataset = ?",
                (B.spend(eb, es, eps), B.spend(db, ds, dlt), dataset),
            )
            cur = con.execute(
                "INSERT INTO charges(dataset, epsilon, delta, mechanism, status, charged_at) "
                "VALUES (?, ?, ?, ?, 'charged', ?)",
                (dataset, eps, dlt, mechanism, _now()),
            )
            charge_id = cur.lastrowid
        assert charge_id is not None
        return int(charge_id)

    def finish(self, charge_id: int, *, revealed: bool, note: str | None = None) -> None:
        """Mark a charge ``revealed`` (or ``failed``); the budget stays spent either way."""
        with self._write() as con:
            con.execute(
                "UPDATE charges SET status = ?, finished_at = ?, note = ? WHERE id = ?",
                ("revealed" if revealed else "failed", _now(), note, charge_id),
            )

    def release(
        self, dataset: str, mechanism: Mechanism, data: Any, *, rng: Csprng | None = None
    ) -> Release:
        """Charge ``mechanism.guarantee`` to ``dataset``, then release on ``data``.

        The returned release's details add ``dataset``, ``charge_id``, ``remaining_epsilon`` and
        ``remaining_delta``. If the mechanism raises, the charge is kept (marked ``failed``).
        """
        charge_id = self.charge(dataset, mechanism.guarantee, mechanism.description)
        try:
            out = mechanism.release(data, rng=rng)
        except Exception as exc:
            self.finish(charge_id, revealed=False, note=f"{type(exc).__name__}: {exc}")
            raise
        self.finish(charge_id, revealed=True)
        left = self.budget(dataset)
        details = {
            **out.details,
            "dataset": dataset,
            "charge_id": charge_id,
            "remaining_epsilon": float(left.remaining_epsilon),
            "remaining_delta": float(left.remaining_delta),
        }
        return replace(out, details=details)

    def history(self, dataset: str) -> list[ChargeRecord]:
        """Return every charge made to ``dataset``, oldest first."""
        rows = self._read(
            "SELECT id, dataset, epsilon, delta, mechanism, status, charged_at, finished_at, note "
            "FROM charges WHERE dataset = ? ORDER BY id",
            (dataset,),
        )
        return [
            ChargeRecord(
                r[0],
                r[1],
                Fraction(r[2], B.EPSILON_UNITS),
                Fraction(r[3], B.DELTA_UNITS),
                r[4],
                r[5],
                r[6],
                r[7],
                r[8],
            )
            for r in rows
        ]
