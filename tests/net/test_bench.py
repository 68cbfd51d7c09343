"""`veil bench net --json` runs two processes and reports the figures the runtime relies on."""

from __future__ import annotations

import json

import pytest

from veil.cli import exit_codes, main


@pytest.mark.timeout(120)
def test_bench_net_reports_throughput_and_latency(capsys: pytest.CaptureFixture[str]) -> None:
    """A tiny run exits 0 with MB/s, µs, per-run lists and the raw-TLS and memory references."""
    args = ["bench", "net", "--message-mb", "0.25", "--messages", "2", "--pings", "20"]
    assert main([*args, "--repeats", "2", "--json"]) == exit_codes.SUCCESS
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_version"] == 1
    assert doc["tls_version"] == "TLSv1.3"
    for key in ("throughput_mb_s", "exchange_mb_s", "round_trip_us", "raw_tls_throughput_mb_s"):
        assert doc[key] > 0
    assert len(doc["throughput_mb_s_runs"]) == 2
    assert doc["message_bytes"] == 1 << 18
    assert doc["memory_round_trip_us"] > 0
