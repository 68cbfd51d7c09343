"""Hypothesis strategies for the network layer, in one place."""

from __future__ import annotations

from hypothesis import strategies as st

from veil.net.framing import KIND_CLOSE, KIND_DATA, MAC_BYTES, MAX_TAG_BYTES

party_ids = st.integers(min_value=0, max_value=2**16 - 1)
sessions = st.integers(min_value=0, max_value=2**64 - 1)
sequences = st.integers(min_value=0, max_value=2**64 - 1)
kinds = st.sampled_from([KIND_DATA, KIND_CLOSE])
raw_tags = st.binary(max_size=MAX_TAG_BYTES)
payloads = st.binary(max_size=2048)
macs = st.binary(min_size=MAC_BYTES, max_size=MAC_BYTES)
#: Round tags as the runtime writes them: short text, possibly non-ASCII.
tags = st.text(max_size=40)
keys = st.binary(min_size=32, max_size=32)


@st.composite
def frame_fields(draw: st.DrawFn) -> tuple[int, int, int, int, int, bytes, bytes, bytes]:
    """Draw the arguments of ``frame``: kind, sender, receiver, session, sequence, tag, payload, mac."""
    return (
        draw(kinds),
        draw(party_ids),
        draw(party_ids),
        draw(sessions),
        draw(sequences),
        draw(raw_tags),
        draw(payloads),
        draw(macs),
    )


@st.composite
def messages(draw: st.DrawFn, max_count: int = 6) -> list[tuple[str, bytes]]:
    """Draw a short list of ``(tag, payload)`` messages."""
    return draw(st.lists(st.tuples(tags, payloads), min_size=1, max_size=max_count))


@st.composite
def chunkings(draw: st.DrawFn, total: int) -> list[int]:
    """Draw cut points splitting a stream of ``total`` bytes into chunks."""
    cuts = draw(st.lists(st.integers(min_value=0, max_value=total), max_size=8))
    return sorted(set(cuts))
