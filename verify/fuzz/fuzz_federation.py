"""Fuzz the federation file loader: any file content gives a Federation or a ConfigError.

:meth:`veil.net.federation.Federation.load` reads untrusted text (a file someone sent you). On
every input it must return a validated federation or raise :class:`veil.errors.ConfigError`
naming the file; any other exception (a KeyError, a pydantic error, a crash in the certificate
checks) is a finding. The seeds are a real federation file (with real certificates, written
once per run) and mutations of it.
"""

from __future__ import annotations

import atheris

with atheris.instrument_imports(include=["veil"]):
    from veil.errors import ConfigError
    from veil.net.federation import Federation, create_federation

from _harness import ROOT, run

WORK = ROOT / "out" / "fuzz" / "federation"


def test_one_input(data: bytes) -> None:
    """Write ``data`` as the federation file next to real credentials and load it."""
    path = WORK / "federation.toml"
    path.write_bytes(data)
    try:
        federation = Federation.load(path)
    except ConfigError:
        return
    if federation.n_parties < 2 or 2 * federation.threshold >= federation.n_parties:
        raise AssertionError(f"loaded a federation that breaks its own rules: {federation}")


def seeds() -> list[bytes]:
    """A federation of three written by ``create_federation``, and two damaged copies."""
    WORK.mkdir(parents=True, exist_ok=True)
    create_federation(WORK, 3, base_port=47000, force=True)
    good = (WORK / "federation.toml").read_bytes()
    return [good, good.replace(b"threshold = 1", b"threshold = 2"), good[: len(good) // 2]]


if __name__ == "__main__":
    run("federation", test_one_input, seeds())
