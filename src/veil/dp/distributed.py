"""Noise generated inside the MPC: no party ever sees the exact result, and no coalition of t can
remove the noise.

Construction (distributed discrete Gaussian)
--------------------------------------------
Each of the n parties samples its own noise share Zᵢ ~ N_Z(0, s²)^d exactly (discrete Gaussian,
[CKS20] Algorithm 3, from its own CSPRNG), secret-shares it into the computation, and the parties
add every share to the secret-shared result before opening it:

    released = f(D) + Z₁ + … + Zₙ.

Up to t parties may be corrupt and know (or even choose) their own shares; what protects the data
is the sum of the h ≥ n − t honest shares, which the corrupt parties never see. The share scale s
is calibrated for h = n − t honest parties: by Kairouz, Liu & Steinke (ICML 2021), *The Distributed
Discrete Gaussian Mechanism*, Proposition 14, the sum of h independent N_Z(0, s²)^d (s ≥ 1/2)
shifted by Δ ∈ ℤ^d has Rényi divergence at every order α at most α/2 · (‖Δ‖₂/(√h·s) + τ√d)²,
τ = 10 Σ_{k=1}^{h−1} exp(−2π²s²·k/(k+1)); that is ρ-zCDP with ρ = ½(‖Δ‖₂/(√h·s) + τ√d)², which
converts to (ε, δ) by [CKS20] Corollary 13. More honest parties only add independent noise
(post-processing), and whatever the corrupt parties add is independent of the honest shares, so:

**Guarantee.** For any coalition of at most t parties, even knowing their own noise shares and
deviating in what they add, the opened value is (ε, δ)-DP (and ρ-zCDP) with respect to the
privacy unit of Δ. The total noise variance is about n·s² ≈ n/(n − t)·σ² for the central σ².

Construction (distributed discrete Laplace, pure ε)
---------------------------------------------------
With ``noise="laplace"`` every party adds a full discrete Laplace share of scale Δ₁/ε; any single
honest share already gives ε-DP, and the others are post-processing. Exact and pure, but the
variance is n times that of central noise. (Splitting a Laplace into fractional Pólya shares, as
Balle et al. 2020 do, needs negative-binomial draws with non-integer shape, which cannot be
sampled exactly at the noise scales used here; we do not approximate.)

Use :func:`add_noise` inside a program run by :class:`veil.mpc.Runtime`, or :func:`private_sum`
for the common case. :class:`DistributedGaussian` and :class:`DistributedLaplace` hold the
calibration and are pure (testable without parties).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from veil.dp import samplers
from veil.dp._numbers import positive_fraction, probability
from veil.dp.calibration import round_sigma2_up_until, smallest_passing, zcdp_delta
from veil.dp.guarantee import Guarantee, PrivacyUnit, fraction_at_least
from veil.dp.mechanisms import simplify_scale_up
from veil.errors import ConfigError
from veil.field import Csprng

__all__ = [
    "DistributedGaussian",
    "DistributedLaplace",
    "add_noise",
    "kls_rho",
    "private_sum",
]


def kls_tau(sigma2_share: float, honest: int) -> float:
    """Return τ = 10 Σ_{k=1}^{h−1} exp(−2π²s²·k/(k+1)) of [KLS21] Proposition 14."""
    return 10 * sum(
        math.exp(-2 * math.pi**2 * sigma2_share * k / (k + 1)) for k in range(1, honest)
    )


def kls_rho(sigma2_share: float, honest: int, l2_sensitivity: float, dimension: int) -> float:
    """Return the zCDP ρ of the sum of ``honest`` N_Z(0, s²)^d shares ([KLS21] Prop. 14).

    ρ = ½ (Δ/(√h·s) + τ√d)²; requires s ≥ 1/2.
    """
    if sigma2_share < 0.25:
        raise ConfigError(
            f"each noise share needs s >= 1/2 for the bound used, got s^2 = {sigma2_share}"
        )
    tau = kls_tau(sigma2_share, honest)
    term = l2_sensitivity / math.sqrt(honest * sigma2_share) + tau * math.sqrt(dimension)
    return term * term / 2


def _check_parties(n_parties: int, threshold: int) -> int:
    if isinstance(n_parties, bool) or not isinstance(n_parties, int) or n_parties < 1:
        raise ConfigError(f"n_parties must be an integer >= 1, got {n_parties!r}")
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int)
        or not 0 <= threshold < n_parties
    ):
        raise ConfigError(
            f"threshold must be in [0, n_parties) = [0, {n_parties}), got {threshold!r}",
            hint="at least one party must be honest for its noise to protect the data",
            field="threshold",
        )
    return n_parties - threshold


@dataclass(frozen=True)
class DistributedGaussian:
    """Discrete Gaussian noise split across parties, private against ``threshold`` corrupt ones.

    Build it with :meth:`calibrate`.

    Attributes
    ----------
    n_parties, threshold : int
        n and t: the noise of any n − t parties suffices.
    sigma2_share : Fraction
        s², each party's discrete Gaussian parameter (integer units).
    guarantee : Guarantee
        (ε, δ) and ρ of the opened value.
    l2_sensitivity : Fraction
    dimension : int
    """

    n_parties: int
    threshold: int
    sigma2_share: Fraction
    guarantee: Guarantee
    l2_sensitivity: Fraction
    dimension: int
    unit: PrivacyUnit = field(default_factory=PrivacyUnit)

    @classmethod
    def calibrate(
        cls,
        epsilon: object,
        delta: object,
        l2_sensitivity: object,
        *,
        n_parties: int,
        threshold: int,
        dimension: int = 1,
        unit: PrivacyUnit | None = None,
    ) -> DistributedGaussian:
        """Return the smallest share scale giving (ε, δ)-DP from any n − t honest shares."""
        eps = positive_fraction(epsilon, "epsilon")
        dlt = probability(delta, "delta", open_interval=True)
        sens = positive_fraction(l2_sensitivity, "l2_sensitivity")
        honest = _check_parties(n_parties, threshold)
        if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 1:
            raise ConfigError(f"dimension must be an integer >= 1, got {dimension!r}")

        def ok(s2: float) -> bool:
            rho = kls_rho(s2, honest, float(sens), dimension)
            return zcdp_delta(rho, float(eps)) <= float(dlt)

        best = smallest_passing(ok, 0.25, max(0.25, float(sens) ** 2))
        s2 = round_sigma2_up_until(ok, Fraction(best))
        rho = fraction_at_least(kls_rho(float(s2), honest, float(sens), dimension))
        guarantee = Guarantee(eps, dlt, rho, unit or PrivacyUnit())
        return cls(n_parties, threshold, s2, guarantee, sens, dimension, unit or PrivacyUnit())

    @property
    def total_variance(self) -> float:
        """Approximate variance of the opened noise when every party is honest (n·s²)."""
        return self.n_parties * float(self.sigma2_share)

    def noise_share(self, size: int, *, rng: Csprng | None = None) -> npt.NDArray[np.int64]:
        """Return this party's noise share: ``size`` draws of N_Z(0, s²)."""
        return samplers.discrete_gaussian(self.sigma2_share, size, rng=rng)

    def describe(self) -> str:
        """One line: the construction and its guarantee."""
        return (
            f"distributed discrete Gaussian: each of {self.n_parties} parties adds N_Z(0, "
            f"{float(self.sigma2_share):.6g}); any {self.n_parties - self.threshold} honest "
            f"give {self.guarantee}"
        )


@dataclass(frozen=True)
class DistributedLaplace:
    """Pure ε-DP: every party adds a full discrete Laplace share of scale Δ₁/ε.

    Any one honest party's share suffices, so it tolerates t = n − 1 corrupt parties; the price is
    n times the variance of central Laplace noise.
    """

    n_parties: int
    threshold: int
    scale: Fraction
    guarantee: Guarantee
    l1_sensitivity: Fraction
    unit: PrivacyUnit = field(default_factory=PrivacyUnit)

    @classmethod
    def calibrate(
        cls,
        epsilon: object,
        l1_sensitivity: object,
        *,
        n_parties: int,
        threshold: int,
        unit: PrivacyUnit | None = None,
    ) -> DistributedLaplace:
        """Return the calibration: scale Δ₁/ε per share."""
        eps = positive_fraction(epsilon, "epsilon")
        sens = positive_fraction(l1_sensitivity, "l1_sensitivity")
        _check_parties(n_parties, threshold)
        guarantee = Guarantee(eps, Fraction(0), None, unit or PrivacyUnit())
        scale = simplify_scale_up(sens / eps)
        return cls(n_parties, threshold, scale, guarantee, sens, unit or PrivacyUnit())

    @property
    def total_variance(self) -> float:
        """Variance of the opened noise when every party is honest."""
        q = math.exp(-1 / float(self.scale))
        return self.n_parties * 2 * q / (1 - q) ** 2

    def noise_share(self, size: int, *, rng: Csprng | None = None) -> npt.NDArray[np.int64]:
        """Return this party's noise share: ``size`` discrete Laplace draws."""
        return samplers.discrete_laplace(self.scale, size, rng=rng)

    def describe(self) -> str:
        """One line: the construction and its guarantee."""
        return (
            f"distributed discrete Laplace: each of {self.n_parties} parties adds scale "
            f"{float(self.scale):.6g}; any one honest gives {self.guarantee}"
        )


Distributed = DistributedGaussian | DistributedLaplace


async def add_noise(
    rt: Any, secret: Any, mechanism: Distributed, *, rng: Csprng | None = None
) -> Any:
    """Return ``secret + Σᵢ Zᵢ``: every party secret-shares its own noise, the shares are added.

    Every party calls it (it is one round of inputs). ``secret`` is a
    :class:`veil.mpc.SecretArray` of integers; no party learns any share but its own, and the sum
    is only ever held in shares. Open the result to release it.
    """
    if rt.n_parties != mechanism.n_parties:
        raise ConfigError(
            f"the mechanism was calibrated for {mechanism.n_parties} parties, the runtime has "
            f"{rt.n_parties}",
            field="n_parties",
        )
    if rt.threshold > mechanism.threshold:
        raise ConfigError(
            f"the runtime tolerates t = {rt.threshold} corrupt parties but the noise was "
            f"calibrated for t = {mechanism.threshold}",
            hint="calibrate with threshold=rt.threshold",
            field="threshold",
        )
    size = int(np.prod(secret.shape)) if secret.shape else 1
    mine = mechanism.noise_share(size, rng=rng).reshape(secret.shape)
    shares = await rt.input_all(mine)
    total = secret
    for share in shares:
        total = total + share
    return total


async def private_sum(
    rt: Any, values: Any, mechanism: Distributed, *, rng: Csprng | None = None
) -> npt.NDArray[np.int64]:
    """Return the noisy sum over parties of each party's integer vector ``values``, opened to all.

    ``values`` are this party's own (already clamped, integer) contributions, the same shape at
    every party. The exact sum exists only in shares; noise from every party is added before
    opening (see :func:`add_noise`).
    """
    shared = await rt.input_all(np.asarray(values, dtype=np.int64))
    total = shared[0]
    for part in shared[1:]:
        total = total + part
    noisy = await add_noise(rt, total, mechanism, rng=rng)
    opened = await noisy.open()
    out: npt.NDArray[np.int64] = np.asarray(opened, dtype=np.int64)
    return out
