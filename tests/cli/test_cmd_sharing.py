"""``veil bench sharing`` prints the timing keys as JSON and refuses bad parameters."""

from __future__ import annotations

import json

import pytest

from veil.cli import exit_codes, main


def test_bench_sharing_prints_every_timing_key(capsys: pytest.CaptureFixture[str]) -> None:
    """A small run exits 0 and its JSON holds the versioned document with positive timings."""
    code = main(
        ["bench", "sharing", "--size", "1000", "--parties", "4", "--repeats", "1", "--json"]
    )
    assert code == exit_codes.SUCCESS
    document = json.loads(capsys.readouterr().out)
    assert next(iter(document)) == "schema_version"
    for key in (
        "shamir_share_s",
        "shamir_reconstruct_s",
        "shamir_share_reconstruct_s",
        "shamir_robust_clean_s",
        "shamir_robust_one_cheater_s",
        "additive_share_reconstruct_s",
        "field_add_s",
        "field_mul_s",
        "field_batch_inv_s",
        "field_random_s",
    ):
        assert document[key] > 0, key
    assert (document["size"], document["n_parties"], document["threshold"]) == (1000, 4, 1)


def test_bench_sharing_refuses_a_threshold_of_n(capsys: pytest.CaptureFixture[str]) -> None:
    """``--threshold 3 --parties 3`` is an error naming the parameter, as JSON with --json."""
    code = main(["bench", "sharing", "--parties", "3", "--threshold", "3", "--json"])
    assert code == exit_codes.ERROR
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["field"] == "threshold"
    assert "0 <= t < n = 3, got 3" in error["message"]
