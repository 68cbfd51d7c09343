"""Fixtures for the DP tests: reproducible CSPRNG streams (tests only)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from veil.field import Csprng


@pytest.fixture
def seeded() -> Callable[[str], Csprng]:
    """Return a factory of seeded streams, one per label (a seeded stream is predictable)."""

    def make(label: str) -> Csprng:
        return Csprng(seed=label.encode().ljust(32, b"\0")[:32])

    return make
