"""Regression tests for what fuzzing found (verify/fuzz/); each names the target that found it."""

from __future__ import annotations

from pathlib import Path

import pytest

from veil.errors import ConfigError
from veil.net.federation import Federation


def test_a_federation_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    """fuzz_federation: a non-UTF-8 byte raised UnicodeDecodeError instead of ConfigError."""
    path = tmp_path / "federation.toml"
    path.write_bytes(b'name = "veil"\n\xae\n')
    with pytest.raises(ConfigError, match="not UTF-8") as caught:
        Federation.load(path)
    assert caught.value.path == str(path.resolve())
