"""Secure multiparty computation: the runtime, its protocols, and secret-shared arrays.

See docs/mpc.md and docs/secure-numbers.md. The public surface is :class:`Runtime`,
:class:`SecretArray` with its secure types (:func:`SecInt`, :func:`SecFxp`, :data:`secbool`), the
numpy-like functions (:func:`where`, :func:`minimum`, :func:`maximum`, :func:`amax`, :func:`amin`,
:func:`argmax`, :func:`argmin`, :func:`concatenate`, :func:`stack`, :func:`reciprocal`,
:func:`sqrt`), :class:`RuntimeStats` and the launchers :func:`run_local` (one process, in-memory
channels) and :func:`run_parties` (one process per party over mutually authenticated TLS on
loopback).
"""

from veil.mpc._engine import RuntimeStats
from veil.mpc.array import SecretArray, concatenate, stack
from veil.mpc.functions import amax, amin, argmax, argmin, maximum, minimum, where
from veil.mpc.launcher import PartyResult, run_local, run_parties
from veil.mpc.protocols.fixedpoint import reciprocal, sqrt
from veil.mpc.runtime import Runtime
from veil.mpc.types import SecFxp, SecInt, secbool

__all__ = [
    "PartyResult",
    "Runtime",
    "RuntimeStats",
    "SecFxp",
    "SecInt",
    "SecretArray",
    "amax",
    "amin",
    "argmax",
    "argmin",
    "concatenate",
    "maximum",
    "minimum",
    "reciprocal",
    "run_local",
    "run_parties",
    "secbool",
    "sqrt",
    "stack",
    "where",
]
