"""Private model inference: a client's features, a model owner's weights, a helper; only the client
learns the prediction.

Three roles, honest majority (``t = 1`` of 3 parties): the *client* shares its feature vector, the
*owner* shares the model's weights, the *helper* only holds shares. Everything is fixed point
(:func:`~veil.mpc.SecFxp`, 16 fractional bits by default). The prediction is opened to the client
alone; the owner and the helper learn nothing (they see only uniformly random shares and masked
values). What is public: the model's architecture (:class:`ModelSpec`: layer sizes, activation,
output link), as every party runs the same program.

Models
------
- linear regression: ``y = x . w + b`` (one inner product, one truncation);
- logistic regression: ``sigmoid(x . w + b)``;
- a small multi-layer perceptron: ``ReLU(x W1 + b1) ... W_k + b_k``, optionally with a sigmoid
  output; ``ReLU(h) = h [h >= 0]`` is one comparison and one multiplication.

The sigmoid
-----------
:func:`secure_sigmoid` evaluates a piecewise polynomial: on each of the eight intervals between
``-16, -8, -4, -2, 0, 2, 4, 8, 16`` a degree-4 polynomial in the interval's local variable
``t = (x - centre) / half_width`` (in ``[-1, 1]``, so fixed point keeps its precision), and the
constants 0 and 1 beyond ``±16``. The nine comparisons with the breakpoints run in one depth and
pick the piece with one inner product. Approximation error at most ``5.0e-5`` in exact arithmetic;
measured in MPC with 16 fractional bits over ``[-20, 20)`` in steps of ``1/64``, the maximum absolute
error is ``5.8e-5`` (:data:`SIGMOID_MAX_ERROR` bounds it by ``1e-4``; the test re-measures it).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from veil.errors import ConfigError
from veil.mpc import Runtime, SecFxp, SecretArray, stack, where
from veil.mpc.types import FixedType

__all__ = [
    "SIGMOID_BREAKS",
    "SIGMOID_MAX_ERROR",
    "ModelSpec",
    "inference_program",
    "plain_predict",
    "private_predict",
    "secure_sigmoid",
]

#: Breakpoints of the piecewise sigmoid; beyond the outer ones it is 0 or 1.
SIGMOID_BREAKS = (-16.0, -8.0, -4.0, -2.0, 0.0, 2.0, 4.0, 8.0, 16.0)
#: Bound on |secure_sigmoid(x) - sigmoid(x)| with 16 fractional bits (measured: 5.8e-5 over
#: [-20, 20) in steps of 1/64; tests/analytics/apps/test_inference.py re-measures it).
SIGMOID_MAX_ERROR = 1e-4
_DEGREE = 4


def _sigmoid(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)))


def _piece_coefficients() -> npt.NDArray[np.float64]:
    """Least-squares (Chebyshev nodes) degree-4 fits of the sigmoid in each interval's ``t``."""
    rows = []
    nodes = np.cos(np.pi * (np.arange(400) + 0.5) / 400)
    basis = np.stack([nodes**k for k in range(_DEGREE + 1)], axis=1)
    for low, high in pairwise(SIGMOID_BREAKS):
        centre, half = (low + high) / 2, (high - low) / 2
        coefficients, *_ = np.linalg.lstsq(basis, _sigmoid(centre + half * nodes), rcond=None)
        rows.append(coefficients)
    return np.array(rows)


_COEFFICIENTS = _piece_coefficients()
_CENTRES = np.array([(a + b) / 2 for a, b in pairwise(SIGMOID_BREAKS)])
_INVERSE_HALF_WIDTHS = np.array([2.0 / (b - a) for a, b in pairwise(SIGMOID_BREAKS)])


def approximate_sigmoid(x: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The plaintext piecewise polynomial that :func:`secure_sigmoid` evaluates (exact arithmetic)."""
    values = np.asarray(x, dtype=np.float64)
    clipped = np.clip(values, SIGMOID_BREAKS[0], SIGMOID_BREAKS[-1])
    piece = np.clip(np.searchsorted(SIGMOID_BREAKS, clipped, side="right") - 1, 0, 7)
    t = (clipped - _CENTRES[piece]) * _INVERSE_HALF_WIDTHS[piece]
    result = sum(_COEFFICIENTS[piece, k] * t**k for k in range(_DEGREE + 1))
    return np.where(
        values < SIGMOID_BREAKS[0], 0.0, np.where(values >= SIGMOID_BREAKS[-1], 1.0, result)
    )


def secure_sigmoid(x: SecretArray) -> SecretArray:
    """Return the piecewise-polynomial sigmoid of a fixed-point SecretArray (see the module docstring)."""
    dtype = x.dtype
    if not isinstance(dtype, FixedType):
        raise ConfigError(
            f"the sigmoid needs a fixed-point SecretArray, got {dtype}", field="dtype"
        )
    shape = x.shape
    flat = x.reshape(-1)
    count = flat.shape[0]
    low, high = SIGMOID_BREAKS[0], SIGMOID_BREAKS[-1]
    breaks = np.array(SIGMOID_BREAKS)[:, None]
    above = stack([flat] * len(SIGMOID_BREAKS)) >= np.broadcast_to(breaks, (len(breaks), count))
    # clamp to [low, high] so that no piece overflows, with the comparisons already made
    clamped = flat + ~above[0] * (low - flat) + above[-1] * (high - flat)
    t = (stack([clamped] * 8) - _CENTRES[:, None]) * _INVERSE_HALF_WIDTHS[:, None]  # (8, count)
    t2 = t * t
    powers = stack([t, t2, t2 * t, t2 * t2])  # (4, 8, count)
    weights = np.broadcast_to(_COEFFICIENTS[:, 1:].T[:, :, None], powers.shape)
    pieces = powers.vecdot(weights, axis=0) + _COEFFICIENTS[:, 0][:, None]  # one truncation each
    onehot = above[:-1] - above[1:]  # (8, count) integers: x in [break_i, break_i+1)
    value = onehot.vecdot(pieces, axis=0) + above[-1].astype(dtype)  # integer weights: exact
    return value.reshape(shape)


@dataclass(frozen=True)
class ModelSpec:
    """The public architecture of a model: every party must pass the same spec.

    Attributes
    ----------
    layer_sizes : tuple of int
        ``(n_features, hidden_1, ..., n_outputs)``; two entries for a linear model.
    output : {"identity", "sigmoid"}
        The link applied to the last layer (``"sigmoid"`` for logistic regression).
    activation : {"relu"}
        The hidden layers' activation.
    """

    layer_sizes: tuple[int, ...]
    output: Literal["identity", "sigmoid"] = "identity"
    activation: Literal["relu"] = "relu"

    def __post_init__(self) -> None:
        if len(self.layer_sizes) < 2 or any(int(k) < 1 for k in self.layer_sizes):
            raise ConfigError(
                f"layer_sizes must list at least two positive sizes, got {self.layer_sizes}",
                field="layer_sizes",
            )
        if self.output not in ("identity", "sigmoid"):
            raise ConfigError(f"output must be 'identity' or 'sigmoid', got {self.output!r}")
        if self.activation != "relu":
            raise ConfigError(f"activation must be 'relu', got {self.activation!r}")


@dataclass(frozen=True)
class Model:
    """Weights and biases, one pair per layer, held by the model owner only."""

    weights: list[npt.NDArray[np.float64]] = field(default_factory=list)
    biases: list[npt.NDArray[np.float64]] = field(default_factory=list)

    def check(self, spec: ModelSpec) -> None:
        """Raise :class:`ConfigError` unless the shapes match ``spec``."""
        sizes = spec.layer_sizes
        if len(self.weights) != len(sizes) - 1 or len(self.biases) != len(sizes) - 1:
            raise ConfigError(
                f"the model has {len(self.weights)} layers, the spec {len(sizes) - 1}",
                field="model",
            )
        for k, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            if np.shape(w) != (sizes[k], sizes[k + 1]) or np.shape(b) != (sizes[k + 1],):
                raise ConfigError(
                    f"layer {k}: weights {np.shape(w)} and bias {np.shape(b)}, expected "
                    f"{(sizes[k], sizes[k + 1])} and {(sizes[k + 1],)}",
                    field="model",
                )


async def private_predict(
    rt: Runtime,
    spec: ModelSpec,
    *,
    features: object = None,
    model: Model | None = None,
    client: int = 0,
    owner: int = 1,
    dtype: FixedType | None = None,
) -> npt.NDArray[np.float64] | None:
    """Evaluate the owner's model on the client's features; only the client learns the result.

    Parameters
    ----------
    spec : ModelSpec
        The public architecture, the same at every party.
    features : array_like, shape (n_features,) or (n_rows, n_features)
        At the client only (``None`` elsewhere).
    model : Model
        At the owner only (``None`` elsewhere).
    client, owner : int
        The two parties' numbers (distinct); every other party helps.
    dtype : FixedType, default=SecFxp(16, 16)

    Returns
    -------
    ndarray of float64 or None
        The predictions (shape ``(n_outputs,)`` or ``(n_rows, n_outputs)``) at the client, ``None``
        at every other party.
    """
    kind = dtype if dtype is not None else SecFxp(16, 16)
    if client == owner:
        raise ConfigError("the client and the owner must be different parties", field="owner")
    if rt.party_id == owner:
        if model is None:
            raise ConfigError("the owner must pass its model", field="model")
        model.check(spec)
    x = await rt.input(
        np.atleast_2d(np.asarray(features, dtype=np.float64)) if rt.party_id == client else None,
        sender=client,
        dtype=kind,
    )
    if x.shape[1] != spec.layer_sizes[0]:
        raise ConfigError(
            f"the client has {x.shape[1]} features, the model expects {spec.layer_sizes[0]}",
            field="features",
        )
    mine = rt.party_id == owner and model is not None
    parameters = await asyncio.gather(
        *(
            rt.input(getattr(model, name)[k] if mine else None, sender=owner, dtype=kind)
            for k in range(len(spec.layer_sizes) - 1)
            for name in ("weights", "biases")
        )
    )
    h = x
    for k, (w, b) in enumerate(zip(parameters[0::2], parameters[1::2], strict=True)):
        h = h @ w + b  # one truncation per output
        if k < len(spec.layer_sizes) - 2:
            h = where(h >= 0, h, 0)  # ReLU
    if spec.output == "sigmoid":
        h = secure_sigmoid(h)
    opened = await h.open(to=client)
    if opened is None:
        return None
    result = np.asarray(opened, dtype=np.float64)
    return result[0] if np.ndim(np.asarray(features)) == 1 else result


def plain_predict(
    spec: ModelSpec, features: object, model: Model, *, exact: bool = True
) -> npt.NDArray[np.float64]:
    """The plaintext prediction (exact sigmoid, or the piecewise approximation with ``exact=False``)."""
    model.check(spec)
    x = np.asarray(features, dtype=np.float64)
    h = np.atleast_2d(x)
    for k, (w, b) in enumerate(zip(model.weights, model.biases, strict=True)):
        h = h @ w + b
        if k < len(model.weights) - 1:
            h = np.maximum(h, 0.0)
    if spec.output == "sigmoid":
        h = _sigmoid(h) if exact else approximate_sigmoid(h)
    return h[0] if x.ndim == 1 else h


async def inference_program(
    rt: Runtime, spec: ModelSpec, features: Any, model: Model
) -> list[float] | None:
    """Demo program: party 0 is the client, party 1 the owner, party 2 the helper."""
    result = await private_predict(
        rt,
        spec,
        features=features if rt.party_id == 0 else None,
        model=model if rt.party_id == 1 else None,
    )
    return None if result is None else np.asarray(result).tolist()
