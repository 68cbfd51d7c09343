"""``veil demo dp-sum``: a private total across organizations, with the noise made inside the MPC.

Several organizations (the parties) each hold records of amounts — say, losses from a data breach,
one record per affected customer. They want the total. The exact total is dangerous: if one
organization's loss is in the news, the total tells everyone how little the others lost. So the
total is released with differential privacy, and the noise is generated *inside* the computation:

1. each party clamps its records to ``[0, bound]`` and adds them up locally (sums decompose);
2. the parties secret-share their local sums and add the shares: the exact total now exists only
   in shares, which no party (nor any ``t`` of them together) can read;
3. each party samples its own share of noise (:mod:`veil.dp.distributed`) and secret-shares it;
   the noise shares are added to the total, still in shares;
4. only the noisy total is opened.

The privacy unit is one customer record (sensitivity ``bound``); the guarantee holds even against
``t`` colluding parties that know their own noise. The records are public simulated data, so the
demo can also print the exact total for comparison — a real run has no way to.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from veil.dp.distributed import Distributed, DistributedGaussian, DistributedLaplace, private_sum
from veil.errors import ConfigError

__all__ = ["demo_records", "dp_sum_program", "run_dp_sum"]


def demo_records(party: int, n_records: int = 2000) -> np.ndarray:
    """Return party ``party``'s simulated records: amounts in whole dollars (public test data)."""
    gen = np.random.default_rng(1000 + party)
    return np.round(gen.lognormal(mean=6.0, sigma=1.0, size=n_records)).astype(np.int64)


async def dp_sum_program(
    rt: Any, mechanism: Distributed, bound: int, n_records: int
) -> dict[str, Any]:
    """Run one party's part: clamp and sum its records locally, then the noisy total in MPC."""
    records = demo_records(rt.party_id, n_records)
    local = int(np.clip(records, 0, bound).sum())
    noisy = await private_sum(rt, np.array([local]), mechanism)
    return {
        "party": rt.party_id,
        "noisy_total": int(noisy[0]),
        "records": int(records.size),
        "bytes_sent": rt.stats.bytes_sent,
        "rounds": rt.stats.rounds,
    }


def run_dp_sum(
    *,
    n_parties: int = 4,
    threshold: int | None = None,
    epsilon: object = 1,
    delta: object = "1e-6",
    noise: str = "gaussian",
    bound: int = 5000,
    n_records: int = 2000,
    processes: bool = True,
) -> dict[str, Any]:
    """Run the demo and return the noisy total, the exact one (demo only) and the guarantee.

    With ``processes=True`` each party is its own process with its own key and certificate, over
    mutually authenticated TLS on loopback; otherwise all parties share one event loop.
    """
    t = (n_parties - 1) // 2 if threshold is None else threshold
    mechanism: Distributed
    if noise == "gaussian":
        mechanism = DistributedGaussian.calibrate(
            epsilon, delta, bound, n_parties=n_parties, threshold=t
        )
    elif noise == "laplace":
        mechanism = DistributedLaplace.calibrate(epsilon, bound, n_parties=n_parties, threshold=t)
    else:
        raise ConfigError(f"noise must be 'gaussian' or 'laplace', got {noise!r}", field="noise")
    args = (mechanism, bound, n_records)
    if processes:
        from veil.mpc.processes import run_parties

        values = [r.value for r in run_parties(dp_sum_program, n_parties, t, args=args)]
    else:
        from veil.mpc.launcher import run_local

        values = run_local(dp_sum_program, n_parties, t, args=args)
    totals = {v["noisy_total"] for v in values}
    if len(totals) != 1:
        raise ConfigError(f"the parties opened different totals: {sorted(totals)}")
    exact = sum(int(np.clip(demo_records(i, n_records), 0, bound).sum()) for i in range(n_parties))
    g = mechanism.guarantee
    return {
        "noisy_total": totals.pop(),
        "exact_total_demo_only": exact,
        "epsilon": float(g.epsilon),
        "delta": float(g.delta),
        "rho": None if g.rho is None else float(g.rho),
        "mechanism": mechanism.describe(),
        "noise_std": float(np.sqrt(mechanism.total_variance)),
        "n_parties": n_parties,
        "threshold": t,
        "bound": bound,
        "sensitivity": float(Fraction(bound)),
        "parties": values,
    }
