"""Shared fixtures: the Prop 99 panel and small simulated panels with known effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from veil import datasets
from veil.analytics.causal import PanelData


@pytest.fixture(scope="session")
def prop99() -> PanelData:
    """California Proposition 99: 39 states × 1970–2000, California treated from 1989."""
    return PanelData.from_long(
        datasets.load("prop99"),
        unit="State",
        time="Year",
        outcome="PacksPerCapita",
        treatment="treated",
    )


def simulate_panel(
    *,
    n: int = 20,
    t: int = 12,
    treated: int = 3,
    t0: int = 8,
    effect: float = 2.0,
    noise: float = 0.1,
    seed: int = 0,
) -> PanelData:
    """Return a two-way fixed effects panel with a block of treated cells and a constant effect."""
    rng = np.random.default_rng(seed)
    alpha = rng.normal(0, 1, size=(n, 1))
    beta = np.cumsum(rng.normal(0, 0.5, size=(1, t)), axis=1)
    W = np.zeros((n, t), dtype=int)
    W[n - treated :, t0:] = 1
    Y = alpha + beta + noise * rng.normal(size=(n, t)) + effect * W
    return PanelData(Y=Y, W=W, units=[f"u{i}" for i in range(n)], times=list(range(2000, 2000 + t)))


@pytest.fixture
def make_panel():
    """Return :func:`simulate_panel`, the simulated-panel factory."""
    return simulate_panel


@pytest.fixture
def block_panel() -> PanelData:
    """A 20 × 12 block design: 3 treated units from period 8, effect 2."""
    return simulate_panel()


@pytest.fixture
def long_df(block_panel: PanelData) -> pd.DataFrame:
    """The block panel as long data with columns unit, time, y, w."""
    return block_panel.to_long().rename(columns={"outcome": "y", "treatment": "w"})
