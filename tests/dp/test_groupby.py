"""Group-by releases: public keys, private keys with partition selection, contribution bounds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from veil.dp import GroupBy
from veil.errors import ConfigError

HUGE = 10**12


@pytest.fixture
def frame() -> pd.DataFrame:
    """Three big groups, one tiny group, and people with several rows."""
    keys = ["a"] * 5000 + ["b"] * 3000 + ["c"] * 2000 + ["rare"]
    return pd.DataFrame(
        {"k": keys, "v": np.linspace(0, 10, len(keys)), "p": np.arange(len(keys)) // 3}
    )


def test_public_keys_are_all_released_even_when_empty(frame) -> None:
    """Every public key appears, with a noisy count (a key with no rows included)."""
    out = GroupBy(HUGE, by="k", keys=["a", "b", "c", "zzz"]).release(frame).value
    assert out["k"].tolist() == ["a", "b", "c", "zzz"]
    assert out["count"].tolist() == [5000, 3000, 2000, 0]


def test_grouped_sums_and_means_clamp_each_value(frame) -> None:
    """Sums are of clamped values; mean is sum over count."""
    gb = GroupBy(
        HUGE, by="k", keys=["a", "b"], aggregates=["sum", "mean"], column="v", bounds=(0, 5)
    )
    out = gb.release(frame).value
    expected = frame.assign(v=frame.v.clip(0, 5)).groupby("k").v.agg(["sum", "mean"])
    np.testing.assert_allclose(out["sum"], expected.loc[["a", "b"], "sum"], rtol=1e-6)
    np.testing.assert_allclose(out["mean"], expected.loc[["a", "b"], "mean"], rtol=1e-6)
    assert gb.guarantee.epsilon == HUGE


def test_private_keys_hide_a_group_made_by_one_person(frame, seeded) -> None:
    """The 'rare' group (one row) stays hidden; the big groups are released."""
    gb = GroupBy(1, by="k", keys=None, delta=1e-6)
    for i in range(20):
        out = gb.release(frame, rng=seeded(f"private{i}")).value
        assert set(out["k"]) == {"a", "b", "c"}
    assert gb.threshold is not None
    assert gb.threshold > 10


def test_private_keys_state_their_delta(frame) -> None:
    """Partition selection costs delta; the guarantee says so."""
    g = GroupBy(1, by="k", keys=None, delta="1e-7").guarantee
    assert float(g.delta) == pytest.approx(1e-7)


def test_private_keys_without_delta_are_refused_with_a_hint() -> None:
    """keys=None needs delta; the hint offers public keys instead."""
    with pytest.raises(ConfigError, match="need delta") as info:
        GroupBy(1, by="k")
    assert "keys=" in (info.value.hint or "")


def test_bounding_partitions_per_person_limits_how_many_groups_each_person_touches(seeded) -> None:
    """With max_partitions=1 a person spread over four groups counts in only one."""
    frame = pd.DataFrame({"k": ["a", "b", "c", "d"] * 50, "p": np.repeat(np.arange(50), 4)})
    gb = GroupBy(HUGE, by="k", keys=["a", "b", "c", "d"], person="p", max_partitions=1)
    out = gb.release(frame, rng=seeded("bound")).value
    assert out["count"].sum() == 50


def test_the_sensitivity_grows_with_partitions_and_rows_per_person() -> None:
    """The count noise scale is max_partitions * max_contributions / epsilon."""
    gb = GroupBy(1, by="k", keys=["a"], person="p", max_partitions=3, max_contributions=2)
    assert "scale 6" in gb.description


def test_an_unknown_aggregate_is_refused() -> None:
    """Only count, sum and mean are offered."""
    with pytest.raises(ConfigError, match="aggregates must be among"):
        GroupBy(1, by="k", keys=["a"], aggregates=["median"])
