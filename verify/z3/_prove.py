"""Run a list of z3 claims and report each as proved, refuted (with a counterexample) or unknown.

A claim is proved when z3 finds its negation unsatisfiable. Every script in this folder builds a
list of :class:`Claim` and calls :func:`main`; the process exits 0 only if every claim is proved.
With ``--json`` it prints one JSON document (used by ``verify/run.py``).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import z3

__all__ = ["Claim", "check", "main"]


@dataclass(frozen=True)
class Claim:
    """One statement to prove: ``premises`` imply ``conclusion`` for all values of the variables."""

    name: str
    conclusion: z3.BoolRef
    premises: tuple[z3.BoolRef, ...] = ()


def check(claim: Claim, timeout_seconds: float) -> dict[str, object]:
    """Return ``{"name", "status", "seconds"[, "counterexample"]}`` for one claim."""
    solver = z3.Solver()
    solver.set("timeout", int(timeout_seconds * 1000))
    solver.add(*claim.premises)
    solver.add(z3.Not(claim.conclusion))
    start = time.perf_counter()
    result = solver.check()
    out: dict[str, object] = {"name": claim.name, "seconds": round(time.perf_counter() - start, 3)}
    if result == z3.unsat:
        out["status"] = "proved"
    elif result == z3.sat:
        out["status"] = "refuted"
        model = solver.model()
        out["counterexample"] = {str(d): str(model[d]) for d in model.decls() if d.arity() == 0}
    else:
        out["status"] = "unknown"
        out["reason"] = solver.reason_unknown()
    return out


def main(title: str, claims: Sequence[Claim], timeout_seconds: float = 60.0) -> int:
    """Check every claim, print a report (JSON with ``--json``), return 0 iff all are proved."""
    results = [check(c, timeout_seconds) for c in claims]
    ok = all(r["status"] == "proved" for r in results)
    if "--json" in sys.argv[1:]:
        print(json.dumps({"title": title, "ok": ok, "claims": results}))
    else:
        print(title)
        for r in results:
            extra = f"  counterexample: {r['counterexample']}" if "counterexample" in r else ""
            print(f"  {r['status']:8} {r['seconds']:7.3f} s  {r['name']}{extra}")
    return 0 if ok else 1
