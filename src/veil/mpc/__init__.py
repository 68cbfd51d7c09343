"""Secure multiparty computation: the runtime, its protocols, and secret-shared arrays.

See docs/mpc.md. The public surface is :class:`Runtime`, :class:`SecretArray`,
:class:`RuntimeStats` and the launchers :func:`run_local` (one process, in-memory channels) and
:func:`run_parties` (one process per party over mutually authenticated TLS on loopback).
"""

from veil.mpc._engine import RuntimeStats
from veil.mpc.array import SecretArray
from veil.mpc.launcher import PartyResult, run_local, run_parties
from veil.mpc.runtime import Runtime

__all__ = ["PartyResult", "Runtime", "RuntimeStats", "SecretArray", "run_local", "run_parties"]
