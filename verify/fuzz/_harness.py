"""Shared set-up for the atheris fuzz targets in this folder.

Each target is run as ``python verify/fuzz/fuzz_<name>.py [libFuzzer flags]``. :func:`run` writes the
target's seed inputs into ``out/fuzz/corpus/<name>/`` (git-ignored; libFuzzer adds the inputs
that reach new code there) and starts atheris. A target fails on any exception that its parser
does not document (anything but the veil error it is meant to raise) and on any property
violation it asserts; libFuzzer then saves the input under ``out/fuzz/`` and exits non-zero.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[2]


def run(name: str, test_one_input: Callable[[bytes], None], seeds: Iterable[bytes]) -> None:
    """Seed the corpus of ``name`` and fuzz ``test_one_input`` with the command-line flags."""
    corpus = ROOT / "out" / "fuzz" / "corpus" / name
    corpus.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(seeds):
        (corpus / f"seed-{i}").write_bytes(seed)
    atheris.Setup([*sys.argv, str(corpus)], test_one_input)
    atheris.Fuzz()
