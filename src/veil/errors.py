"""Errors raised by veil, one tree, each class with the situation that raises it.

Every error carries a stable kebab-case ``code`` (for ``--json`` output and docs), a ``hint`` saying
what to do, and structured fields (``party``, ``step``, ``path``, ``field``) where they apply.
Leaves also subclass the matching builtin, so ``except ValueError`` keeps working.

::

    VeilError
    ├── ConfigError (ValueError)            a parameter, file or field is invalid
    │   ├── FieldError                      a value is not a valid element / the prime is unusable
    │   ├── EncodingError                   a number is out of the range its encoding allows
    │   └── DataError                       input data is malformed (missing column, bad rows)
    │       └── PanelDataError              a panel is unbalanced, duplicated or has bad treatment
    ├── SharingError (ValueError)           shares are inconsistent or too few to reconstruct
    │   └── DecodingError                   more errors than error correction can fix
    ├── NetworkError (ConnectionError)      moving bytes between parties failed
    │   ├── FramingError                    a frame is truncated, tampered, replayed or reordered
    │   ├── PeerTimeout (TimeoutError)      a peer did not answer within the deadline
    │   ├── PeerUnreachable                 a peer could not be connected to
    │   ├── PeerAuthenticationError         a peer presented the wrong certificate
    │   └── ChannelClosed                   the channel was closed (by us, the peer, or an error)
    ├── ProtocolError (RuntimeError)        a party deviated from the protocol
    │   └── CheaterDetected                 a deviation was proven and its author is named
    ├── PartyFailed (RuntimeError)          a party's process or program crashed; ``party`` names it
    ├── PrivacyError (ValueError)           a DP request cannot be honoured safely
    │   └── BudgetExhausted                 the ledger refuses: the budget would be overspent
    ├── NotFittedError (ValueError, AttributeError)  an estimator is used before ``fit``
    └── EstimationError (RuntimeError)      an estimator cannot produce an estimate on this input
"""

from __future__ import annotations

__all__ = [
    "BudgetExhausted",
    "ChannelClosed",
    "CheaterDetected",
    "ConfigError",
    "DataError",
    "DecodingError",
    "EncodingError",
    "EstimationError",
    "FieldError",
    "FramingError",
    "NetworkError",
    "NotFittedError",
    "PanelDataError",
    "PartyFailed",
    "PeerAuthenticationError",
    "PeerTimeout",
    "PeerUnreachable",
    "PrivacyError",
    "ProtocolError",
    "SharingError",
    "VeilError",
]


class VeilError(Exception):
    """Base of every error veil raises on purpose.

    Parameters
    ----------
    message : str
        What went wrong: names the input, shows the value received and what was expected.
    hint : str, optional
        What to do about it.
    **fields
        Structured context (``party``, ``step``, ``path``, ``field`` ...), kept as attributes.
    """

    code: str = "veil-error"

    def __init__(self, message: str, *, hint: str | None = None, **fields: object) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.fields: dict[str, object] = dict(fields)
        for key, value in fields.items():
            setattr(self, key, value)

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} (hint: {self.hint})"
        return self.message

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready description: ``code``, ``message``, ``hint`` and the fields."""
        out: dict[str, object] = {"code": self.code, "message": self.message, "hint": self.hint}
        out.update({k: _jsonable(v) for k, v in self.fields.items()})
        return out


def _jsonable(value: object) -> object:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


class ConfigError(VeilError, ValueError):
    """Raised when a parameter, file or field is invalid; names it, the value and the fix."""

    code = "invalid-config"


class FieldError(ConfigError):
    """Raised when a value is not an element of the field, or a prime is unusable."""

    code = "field-error"


class EncodingError(ConfigError):
    """Raised when a number falls outside the range its encoding allows (never wraps silently)."""

    code = "out-of-range"


class DataError(ConfigError):
    """Raised when input data is malformed: a missing column, bad rows, wrong types."""

    code = "bad-data"


class PanelDataError(DataError):
    """Raised when a panel is unbalanced, has duplicated cells or an unusable treatment pattern."""

    code = "bad-panel"


class SharingError(VeilError, ValueError):
    """Raised when shares are inconsistent, malformed or too few to reconstruct."""

    code = "sharing-error"


class DecodingError(SharingError):
    """Raised when shares hold more errors than error-correcting reconstruction can fix."""

    code = "too-many-errors"


class NetworkError(VeilError, ConnectionError):
    """Raised when moving bytes between parties fails; ``party`` names the peer."""

    code = "network-error"


class FramingError(NetworkError):
    """Raised when a frame is truncated, tampered with, replayed or out of order."""

    code = "bad-frame"


class PeerTimeout(NetworkError, TimeoutError):
    """Raised when a peer does not answer within the configured deadline."""

    code = "peer-timeout"


class PeerUnreachable(NetworkError):
    """Raised when a peer cannot be connected to before the connect deadline."""

    code = "peer-unreachable"


class PeerAuthenticationError(NetworkError):
    """Raised when a peer presents a certificate that is not the one the federation names."""

    code = "peer-authentication"


class ChannelClosed(NetworkError):
    """Raised when using a channel that was closed, by us, by the peer, or after an error."""

    code = "channel-closed"


class ProtocolError(VeilError, RuntimeError):
    """Raised when a party deviates from the protocol (wrong message, wrong shape, wrong round)."""

    code = "protocol-error"


class CheaterDetected(ProtocolError):
    """Raised when a deviation is proven and its author identified; ``party`` and ``step`` say who and where."""

    code = "cheater-detected"


class PartyFailed(VeilError, RuntimeError):
    """Raised by a launcher when a party's process or program failed; ``party`` names it."""

    code = "party-failed"


class PrivacyError(VeilError, ValueError):
    """Raised when a differential-privacy request cannot be honoured safely (e.g. unbounded sensitivity)."""

    code = "privacy-error"


class BudgetExhausted(PrivacyError):
    """Raised when the ledger refuses a charge: the dataset's budget would be overspent."""

    code = "budget-exhausted"


class NotFittedError(VeilError, ValueError, AttributeError):
    """Raised when an estimator is used before ``fit``."""

    code = "not-fitted"


class EstimationError(VeilError, RuntimeError):
    """Raised when an estimator cannot produce an estimate on this input."""

    code = "estimation-failed"
