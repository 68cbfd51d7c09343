"""Shared fixtures: the shipped data sets with a simple, deterministic rule as the 'model'."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from veil import datasets


def _adult(name: str) -> pd.DataFrame:
    df = datasets.load(name).dropna().reset_index(drop=True)
    df["y"] = df["income"].str.startswith(">50K").astype(int)
    df["pred"] = ((df["education_num"] > 12) | (df["capital_gain"] > 5000)).astype(int)
    return df


@pytest.fixture(scope="session")
def adult() -> pd.DataFrame:
    """UCI Adult training split, complete cases, with label ``y`` and rule prediction ``pred``."""
    return _adult("adult")


@pytest.fixture(scope="session")
def adult_test() -> pd.DataFrame:
    """UCI Adult test split, complete cases, with ``y`` and ``pred``."""
    return _adult("adult_test")


@pytest.fixture(scope="session")
def german() -> pd.DataFrame:
    """German credit with ``y`` (good risk), ``pred`` (a rule) and ``young`` (age < 25)."""
    df = datasets.load("german_credit")
    df["y"] = df["risk"]
    df["pred"] = ((df["duration"] <= 24) & (df["checking_account"] != "little")).astype(int)
    df["young"] = np.where(df["age"] < 25, "under 25", "25 and over")
    return df


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator for public test data and bootstrap seeds."""
    return np.random.default_rng(20240611)
