"""Splitting and checking secrets: pure, vectorized maths over GF(p), no I/O.

- :mod:`veil.sharing.additive` — n-of-n additive sharing.
- :mod:`veil.sharing.shamir` — (t, n) Shamir sharing, Lagrange reconstruction, Berlekamp–Welch
  error correction naming wrong shares.
- :mod:`veil.sharing.checking` — Rabin–Ben-Or information checking (LC and cut-and-choose).
- :mod:`veil.sharing.vss` — degree check, weak and verifiable secret sharing verdicts.
"""
