"""The runtime of one party: its identity, its channels, its rounds, and the secure operations.

A program runs the same code at every party inside ``async with Runtime(...) as rt:``. The block
ends in a barrier, so no party closes its channels while another still needs them.

Example
-------
Three parties in one process, over in-memory channels:

>>> from veil.mpc import run_local
>>> async def program(rt):
...     a = await rt.input([1, 2, 3] if rt.party_id == 0 else None, sender=0)
...     b = await rt.input([4, 5, 6] if rt.party_id == 1 else None, sender=1)
...     return int(await (a * b).sum().open())
>>> run_local(program, n_parties=3)
[32, 32, 32]
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from veil.errors import ConfigError
from veil.field import Field, FieldArray, default_field
from veil.mpc._engine import RoundEngine, RuntimeStats
from veil.mpc.array import SecretArray, as_field_array
from veil.mpc.protocols import SUITES, ProtocolSuite
from veil.mpc.protocols import active as _active  # noqa: F401  (registers "active")
from veil.mpc.protocols import passive as _passive  # noqa: F401  (registers "passive")
from veil.mpc.types import SecretType
from veil.net.broadcast import SigningKeys
from veil.net.channels import Channel, Timeouts

__all__ = ["Runtime"]


class Runtime:
    """One party's view of a secure computation among ``n_parties`` parties.

    Parameters
    ----------
    party_id : int
        This party, in ``[0, n_parties)``; it holds Shamir shares at ``x = party_id + 1``.
    n_parties : int
        Number of parties, at least 3.
    threshold : int or None
        ``t``, the number of colluding parties tolerated: ``1 <= t < n/2``. ``None`` takes the
        largest, ``(n - 1) // 2``.
    channels : mapping of int to Channel
        A channel to every other party, keyed by party number (TLS in deployments,
        :func:`veil.net.channels.memory_mesh` in tests).
    field : Field, default=default_field()
        The field of the shares, GF(2**61 - 1) by default; its prime must exceed ``n_parties``.
    security : {"passive", "active"}, default="passive"
        The protocol suite: ``"passive"`` is secure against ``t`` parties that follow the protocol
        and pool what they see; ``"active"`` against ``t`` parties that deviate arbitrarily: the
        honest parties output the correct result or all stop with
        :class:`~veil.errors.CheaterDetected` naming a cheater (see docs/active-security.md).
    timeouts : Timeouts, default=Timeouts()
        ``recv_seconds`` bounds the wait for every message: a silent or crashed peer raises
        :class:`~veil.errors.PeerTimeout` or :class:`~veil.errors.ChannelClosed` naming it.
    signing : SigningKeys, optional
        Active mode: this party's signing key, every party's verification key and the run id
        (:mod:`veil.net.broadcast`); the launchers supply them. Without them the active suite
        makes fresh keys at start-up and checks that every party saw the same ones.

    Attributes
    ----------
    stats : RuntimeStats
        Rounds, messages and payload bytes sent and received so far.

    Raises
    ------
    ConfigError
        A parameter is out of range (message names it, the value and the allowed range).
    """

    def __init__(
        self,
        party_id: int,
        n_parties: int,
        threshold: int | None,
        channels: Mapping[int, Channel],
        *,
        field: Field | None = None,
        security: str = "passive",
        timeouts: Timeouts | None = None,
        signing: SigningKeys | None = None,
    ) -> None:
        if not isinstance(n_parties, int) or n_parties < 3:
            raise ConfigError(
                f"n_parties must be an integer >= 3, got {n_parties!r}",
                field="n_parties",
                hint="honest-majority MPC needs at least 3 parties",
            )
        if not isinstance(party_id, int) or not 0 <= party_id < n_parties:
            raise ConfigError(
                f"party_id must be in [0, {n_parties}), got {party_id!r}", field="party_id"
            )
        if threshold is None:
            threshold = (n_parties - 1) // 2
        if security not in SUITES:
            raise ConfigError(
                f"security must be one of {sorted(SUITES)}, got {security!r}",
                field="security",
                hint="use 'passive' (semi-honest parties) or 'active' (cheaters named)",
            )
        suite_type = SUITES[security]
        suite_type.check_parameters(n_parties, threshold)
        self.field = field if field is not None else default_field()
        if self.field.p <= n_parties:
            raise ConfigError(
                f"the field's prime {self.field.p} must exceed n_parties={n_parties}",
                field="field",
            )
        expected = set(range(n_parties)) - {party_id}
        if set(channels) != expected:
            raise ConfigError(
                f"party {party_id} needs channels to parties {sorted(expected)}, "
                f"got {sorted(channels)}",
                field="channels",
            )
        for peer, channel in channels.items():
            if getattr(channel, "peer", peer) != peer:
                raise ConfigError(
                    f"channels[{peer}] talks to party {channel.peer}", field="channels"
                )
        self.party_id = party_id
        self.n_parties = n_parties
        self.threshold = threshold
        self.security = security
        self.timeouts = timeouts if timeouts is not None else Timeouts()
        if signing is not None and (signing.party_id != party_id or signing.n_parties != n_parties):
            raise ConfigError(
                f"signing keys are for party {signing.party_id} of {signing.n_parties}, not "
                f"party {party_id} of {n_parties}",
                field="signing",
            )
        self.signing = signing
        self._engine = RoundEngine(party_id, channels, self.timeouts, tolerant=suite_type.tolerant)
        self._labels = 0
        self.protocols: ProtocolSuite = suite_type(self)

    def __repr__(self) -> str:
        return (
            f"Runtime(party_id={self.party_id}, n_parties={self.n_parties}, "
            f"threshold={self.threshold}, security={self.security!r})"
        )

    @property
    def stats(self) -> RuntimeStats:
        """Traffic counters of this party so far (payload bytes; see :class:`RuntimeStats`)."""
        return self._engine.stats

    # ----- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> Runtime:
        self._engine.start()
        try:
            await self.protocols.setup()
        except BaseException:
            self._engine.abort()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None or self._engine.broken is not None:
            self._engine.abort()
            return
        try:
            await self.barrier()
        finally:
            await self._engine.aclose()

    async def barrier(self) -> None:
        """Wait until every party reaches this point (one round of empty messages)."""
        peers = [j for j in range(self.n_parties) if j != self.party_id]
        empty = np.empty(0, dtype=np.uint64)
        await self.exchange("barrier", dict.fromkeys(peers, empty), peers, lambda _: None)

    # ----- building blocks for protocols ------------------------------------------------------

    def next_label(self) -> int:
        """Return the next operation number (labels keyed randomness; the same at every party)."""
        self._labels += 1
        return self._labels

    def exchange(
        self,
        kind: str,
        outgoing: Mapping[int, FieldArray],
        recv_from: Iterable[int],
        finish: Callable[[dict[int, FieldArray]], Any],
    ) -> asyncio.Future[Any]:
        """Send ``outgoing[peer]`` to each peer and receive from ``recv_from`` in the next round.

        Exchanges issued while the program runs are batched into one round (one message per peer,
        tagged ``"<kind>#<round>"``). ``finish(received)`` turns the arrived words (``received[peer]``,
        1-D ``uint64``) into the result of the returned future.
        """
        return self._engine.submit(kind, outgoing, recv_from, finish)

    def secret(
        self, share: FieldArray | Awaitable[FieldArray], shape: tuple[int, ...]
    ) -> SecretArray:
        """Wrap this party's share (or an awaitable of it) of a degree-``t`` sharing."""
        return SecretArray._make(self, share, shape)

    # ----- the secure operations --------------------------------------------------------------

    async def input(
        self, values: object, *, sender: int, dtype: SecretType | None = None
    ) -> SecretArray:
        """Share ``sender``'s array among all parties; every party calls this.

        Parameters
        ----------
        values : array_like, or None
            The sender's values (any shape); every other party passes ``None``. Without a
            ``dtype``, integers (negative ones allowed, reduced modulo ``p``).
        sender : int
            The party whose values are shared.
        dtype : SecretType, optional
            The secure type (``SecInt(bits)``, ``SecFxp(...)``, ``secbool``), the same at every
            party. The sender encodes its values and refuses any outside the type's range before
            anything is sent.

        Returns
        -------
        SecretArray
            The shared values, with the sender's shape (the shape is public) and ``dtype``.

        Raises
        ------
        EncodingError
            At the sender, if a value is out of range: the message names its flat position.
        """
        self._check_party(sender, "sender")
        if dtype is not None and not isinstance(dtype, SecretType):
            raise ConfigError(
                f"dtype must be a secure type such as SecInt(32) or SecFxp(), got {dtype!r}",
                field="dtype",
            )
        if self.party_id == sender:
            if dtype is not None:
                array = dtype.encode(self.field, values)
            else:
                array = as_field_array(self.field, values, "values")
        elif values is not None:
            raise ConfigError(
                f"party {self.party_id} passed values to input(sender={sender}); only the sender "
                "has values",
                field="values",
                hint=f"pass None at every party except {sender}",
            )
        else:
            array = None
        share = await self.protocols.input(array, sender)
        return SecretArray._make(self, share, share.shape, dtype)

    async def input_all(
        self, values: object, *, dtype: SecretType | None = None
    ) -> list[SecretArray]:
        """Share one array from every party at once (one round); returns them by party number."""
        return list(
            await asyncio.gather(
                *(
                    self.input(values if i == self.party_id else None, sender=i, dtype=dtype)
                    for i in range(self.n_parties)
                )
            )
        )

    def constant(self, values: object, *, dtype: SecretType | None = None) -> SecretArray:
        """Return public ``values`` as a SecretArray (every party passes the same values).

        Each party's share is the encoded value itself, a degree-0 sharing: nothing is hidden and
        nothing is sent. Useful to start a computation that mixes public and secret data.
        """
        array = (
            dtype.encode(self.field, values)
            if dtype is not None
            else as_field_array(self.field, values, "values")
        )
        # through the suite, so that suites whose shares carry more (active tags) add it
        share = self.protocols.apply(lambda public: public, [array], [False])
        return SecretArray._make(self, share, array.shape, dtype)

    def random(self, shape: int | tuple[int, ...]) -> SecretArray:
        """Return uniformly random field elements that no party knows (pseudo-random sharing)."""
        shape_t = (shape,) if isinstance(shape, int) else tuple(shape)
        share = self.protocols.random(shape_t)
        return SecretArray._make(self, share, shape_t)

    async def open(self, x: SecretArray) -> npt.NDArray[np.int64]:
        """Reveal ``x`` to every party; returns integers in ``(-p/2, p/2]`` (see :meth:`SecretArray.open`)."""
        opened = await x.open()
        assert opened is not None  # every party learns a value opened to all
        return opened

    async def open_to(self, x: SecretArray, party: int) -> npt.NDArray[np.int64] | None:
        """Reveal ``x`` to ``party`` only; it gets the integers, every other party ``None``."""
        self._check_party(party, "party")
        return await x.open(to=party)

    def _check_party(self, party: object, name: str) -> None:
        if not isinstance(party, int | np.integer) or not 0 <= int(party) < self.n_parties:
            raise ConfigError(
                f"{name} must be a party number in [0, {self.n_parties}), got {party!r}",
                field=name,
            )
