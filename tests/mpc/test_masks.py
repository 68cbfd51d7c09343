"""Random masks and the comparison's view: structure, uniformity, checks, and what is opened."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import stats

from veil.errors import ConfigError, PartyFailed, ProtocolError
from veil.field import Field
from veil.mpc import Runtime, SecInt, concatenate, run_local
from veil.mpc.protocols import compare
from veil.mpc.protocols.masks import check_field, make_masks

P = (1 << 61) - 1


async def _open_masks(rt: Runtime, count: int, low_bits: int) -> dict[str, np.ndarray]:
    masks = await make_masks(rt, count, low_bits)
    assert masks.left is not None
    assert masks.right is not None
    opened = {}
    for name in ("r", "high", "left", "right"):
        value = getattr(masks, name)
        if isinstance(value, list):  # column blocks, one per dealer
            value = concatenate(value, axis=-1)
        clear = await value.open()
        opened[name] = np.where(clear < 0, clear + P, clear).astype(object)
    return opened


def _group_values(onehot: np.ndarray) -> np.ndarray:
    """Group values from entries 1..3 (entry 0 implied)."""
    return onehot[0] * 1 + onehot[1] * 2 + onehot[2] * 3


@pytest.mark.parametrize("low_bits", [32, 33, 1])
def test_a_mask_is_its_groups_xor_plus_its_high_part(low_bits: int) -> None:
    """r = high * 2**m + sum_j 4**j (left_j XOR right_j), every side one-hot."""
    opened = run_local(_open_masks, 3, args=(300, low_bits))[0]
    left, right = opened["left"], opened["right"]
    for side in (left, right):
        assert set(np.unique(side.astype(np.int64))) <= {0, 1}
        assert np.all(side.sum(axis=0) <= 1)
    groups = np.bitwise_xor(
        _group_values(left).astype(np.int64), _group_values(right).astype(np.int64)
    )
    weights = np.array([4**j for j in range(groups.shape[0])], dtype=object)[:, None]
    low = (groups.astype(object) * weights).sum(axis=0)
    assert np.all(low < 2**low_bits)
    np.testing.assert_array_equal(opened["r"], opened["high"] * 2**low_bits + low)


def test_mask_bits_are_uniform() -> None:
    """Each of the 61 bits of r is 1 about half the time (binomial test at 1e-6)."""
    opened = run_local(_open_masks, 3, args=(4000, 32))[0]
    r = opened["r"].astype(np.uint64)
    ones = ((r[None, :] >> np.arange(61, dtype=np.uint64)[:, None]) & np.uint64(1)).sum(axis=1)
    p_values = [stats.binomtest(int(k), r.size, 0.5).pvalue for k in ones]
    assert min(p_values) > 1e-6


def test_the_opened_masked_value_does_not_depend_on_the_input() -> None:
    """c = a + r mod p for x = INT32_MIN and x = INT32_MAX: same uniform law (chi-square, 1e-6)."""
    seen: list[np.ndarray] = []
    original = compare._open_masked

    async def recording(*args: Any, **kwargs: Any) -> Any:
        c, masks = await original(*args, **kwargs)
        seen.append(c.copy())
        return c, masks

    async def program(rt: Runtime, value: int) -> None:
        x = await rt.input([value] * 3000 if rt.party_id == 0 else None, sender=0, dtype=SecInt(32))
        await (x < 0).share()

    compare._open_masked = recording  # type: ignore[assignment]
    try:
        run_local(program, 3, args=(-(2**31),))
        low = seen[0]
        seen.clear()
        run_local(program, 3, args=(2**31 - 1,))
        high = seen[0]
    finally:
        compare._open_masked = original  # type: ignore[assignment]
    bins = np.linspace(0, P, 17)
    for sample in (low, high):
        counts, _ = np.histogram(sample.astype(np.float64), bins=bins)
        assert stats.chisquare(counts).pvalue > 1e-6
    table = np.array(
        [np.histogram(s.astype(np.float64), bins=bins)[0] for s in (low, high)], dtype=np.int64
    )
    assert stats.chi2_contingency(table).pvalue > 1e-6


def test_comparisons_work_when_the_suite_deals_the_hidden_side() -> None:
    """Without PRSS keys a non-dealer shares the hidden side (the generic path every suite has)."""

    async def program(rt: Runtime) -> list[bool]:
        rt.protocols.use_prss = False  # type: ignore[attr-defined]
        x = await rt.input([-5, 0, 7] if rt.party_id == 0 else None, sender=0, dtype=SecInt(32))
        return (await (x < 0).open()).tolist()

    assert run_local(program, 3) == [[True, False, False]] * 3


def _checked(rt: Runtime) -> None:
    rt.security = "checked"  # masks are verified in every suite but the passive one


def test_checked_masks_of_honest_dealers_pass_and_compare_correctly() -> None:
    """With the dealer check on, honest masks pass and comparisons are unchanged."""

    async def program(rt: Runtime) -> list[bool]:
        _checked(rt)
        x = await rt.input([-5, 0, 7] if rt.party_id == 0 else None, sender=0, dtype=SecInt(32))
        return (await (x <= 0).open()).tolist()

    assert run_local(program, 3) == [[True, True, False]] * 3


def test_a_dealer_who_shares_a_non_bit_is_caught_by_the_check() -> None:
    """Party 0 deals a 2 inside its one-hot vectors: the check opens non-zero and raises."""

    async def program(rt: Runtime) -> None:
        _checked(rt)
        suite = rt.protocols
        honest_input = suite.input

        def cheating_input(values: Any, sender: int) -> Any:
            if values is not None and rt.party_id == 0 and values.ndim == 2 and values.shape[0] > 3:
                values = values.copy()
                values[0, 0] = 2
            return honest_input(values, sender)

        suite.input = cheating_input  # type: ignore[method-assign]
        x = await rt.input([1, 2, 3] if rt.party_id == 0 else None, sender=0, dtype=SecInt(32))
        await (x < 2).open()

    with pytest.raises(PartyFailed) as caught:
        run_local(program, 3)
    assert isinstance(caught.value.__cause__, ProtocolError)
    assert "not binary" in str(caught.value.__cause__)


def test_fields_far_from_a_power_of_two_are_refused_with_the_reason() -> None:
    """GF(65521) leaves r 2**-12 away from uniform: refused at kappa = 40, accepted at 10."""
    with pytest.raises(ConfigError, match="power of two"):
        check_field(Field(65521))
    check_field(Field(65521), kappa=10)
    check_field(Field())


def test_prepared_masks_are_handed_out_in_order_and_must_fit() -> None:
    """take(k) splits the first k masks off across dealer blocks; a mismatched batch is refused."""

    async def program(rt: Runtime) -> tuple[list[int], list[bool], str]:
        masks = await compare.prepare(rt, 10, 32)
        first, rest = masks.take(4)
        sizes = [first.count, rest.count, sum(b.shape[-1] for b in first.left or [])]
        x = await rt.input(
            list(range(-2, 2)) if rt.party_id == 0 else None, sender=0, dtype=SecInt(32)
        )
        lt = await compare.compare(
            x, rt.field.array(np.zeros(4, dtype=np.int64)), "<", 32, masks=first
        )
        try:
            await compare.compare(
                x, rt.field.array(np.zeros(4, dtype=np.int64)), "<", 32, masks=rest
            )
        except ConfigError as error:
            message = str(error)
        else:
            message = "accepted"
        return sizes, (await lt.open()).astype(bool).tolist(), message

    sizes, lt, message = run_local(program, 3)[0]
    assert sizes == [4, 6, 4]
    assert lt == [True, True, False, False]
    assert "prepared masks do not fit" in message
