"""Secure summary statistics equal numpy's on the union of every party's values."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from apps_helpers import run_each

from veil.analytics.apps.stats import STATISTICS, Summary, plain_summary, secure_summary
from veil.errors import ConfigError, PartyFailed

ULP = 2.0**-16


def secure(values: list[Any], **kwargs: Any) -> list[Summary | None]:
    return run_each(secure_summary, values, **kwargs)


@pytest.mark.parametrize("sizes", [(5, 4, 6), (1, 0, 2), (3, 3, 0)])
def test_every_statistic_matches_numpy(sizes: tuple[int, ...]) -> None:
    """Odd and even counts, parties without values, negative values."""
    gen = np.random.default_rng(sum(sizes))
    values = [np.round(gen.normal(10, 30, k), 3) for k in sizes]
    every = np.concatenate(values)
    got = secure(values)[0]
    assert got is not None
    want = plain_summary(every)
    assert got.count == want.count
    assert abs(got.mean - want.mean) <= 1e-4  # type: ignore[operator]
    assert abs(got.variance - want.variance) <= 1e-3 * max(1.0, want.variance)  # type: ignore[operator]
    for name in ("min", "max", "median"):
        assert abs(getattr(got, name) - getattr(want, name)) <= ULP, name


def test_ties_and_extreme_values_of_the_type() -> None:
    """Repeated values and the range limits of SecFxp(16, 16)."""
    values = [np.array([-65536.0, 3.0]), np.array([3.0, 3.0]), np.array([65535.5])]
    got = secure(values)[0]
    assert got is not None
    assert (got.min, got.max, got.median) == (-65536.0, 65535.5, 3.0)


def test_a_subset_of_statistics_and_recipients() -> None:
    """Only the median, to party 2."""
    got = secure([[1.0, 5.0], [2.0], [9.0]], statistics=("median",), recipients=[2])
    assert got[0] is None
    assert got[1] is None
    assert got[2] is not None
    assert got[2].to_dict() == {"median": 3.5}


def test_unknown_statistics_and_empty_data_are_config_errors() -> None:
    """'mode' is not offered; no values anywhere is refused."""
    with pytest.raises(ConfigError, match="statistics"):
        plain_summary([1.0], statistics=("mode",))
    with pytest.raises(PartyFailed, match="no party has any values"):
        secure([[], [], []])
    assert set(STATISTICS) >= {"mean", "variance", "min", "max", "median"}
