"""Prove the contracts that the Nagini codec proof trusts, on the product's own source, with z3.

``verify/nagini/codec.py`` marks ``encode_u16``, ``encode_u32``, ``encode_u64`` and
``encode_header`` ``@ContractOnly``: Nagini has no model of ``bytes([...])``. This script runs
those functions from ``src/veil/net/codec.py`` itself on symbolic integers: the module's source
is executed with ``bytes`` bound to a model that keeps the list of byte terms (concatenation,
indexing and ``len`` behave as on ``bytes``). For every input in the preconditions z3 proves
each contract: the length, that decoding (the product's ``decode_*``, run on the same model)
gives the value back, and that every element passed to ``bytes([...])`` lies in ``[0, 256)``, so
the real ``bytes`` call cannot raise. A proof about this model of ``bytes``, not about CPython.

Python ``int`` is modelled by 256-bit bitvectors (z3 turns division and remainder by powers of
256 into bit slicing, which integer arithmetic would make slow). A claim checks that every
intermediate value stays below 2**120; the only operations are ``+``, ``-``, ``//``, ``%`` and
``*`` by a constant at most 2**64, so no operation can wrap around 2**256, and the bitvector
results are the integer results.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import z3
from _prove import Claim, main

SOURCE = Path(__file__).resolve().parents[2] / "src" / "veil" / "net" / "codec.py"
Term = z3.BitVecRef


WIDTH = 256
BOUND = 2**120
#: Every intermediate value computed: each must be proved below BOUND (so nothing wrapped).
INTERMEDIATES: list[z3.BitVecRef] = []


def _bv(x: object) -> z3.BitVecRef:
    if isinstance(x, Sym):
        return x.e
    if isinstance(x, z3.BitVecRef):
        return x
    if isinstance(x, int):
        return z3.BitVecVal(x, WIDTH)
    raise TypeError(f"unexpected operand {x!r}")


class Sym:
    """A symbolic non-negative Python ``int``, as a 256-bit bitvector."""

    def __init__(self, e: z3.BitVecRef) -> None:
        self.e = e
        INTERMEDIATES.append(e)

    def __add__(self, o: object) -> Sym:
        return Sym(self.e + _bv(o))

    __radd__ = __add__

    def __sub__(self, o: object) -> Sym:
        return Sym(self.e - _bv(o))

    def __rsub__(self, o: object) -> Sym:
        return Sym(_bv(o) - self.e)

    def __mul__(self, o: object) -> Sym:
        if not isinstance(o, int) or not 0 <= o <= 2**64:
            raise TypeError("only multiplication by a constant in [0, 2**64] is modelled")
        return Sym(self.e * _bv(o))

    __rmul__ = __mul__

    def __floordiv__(self, o: object) -> Sym:
        return Sym(z3.UDiv(self.e, _bv(o)))

    def __mod__(self, o: object) -> Sym:
        return Sym(z3.URem(self.e, _bv(o)))


#: Every element ever passed to the model of ``bytes([...])``: each must be proved in [0, 256).
BYTE_ELEMENTS: list[Term] = []


class SymBytes:
    """The model of ``bytes``: a list of integer terms."""

    def __init__(self, items: Iterable[object]) -> None:
        self.items = [_bv(i) for i in items]

    def __add__(self, other: SymBytes) -> SymBytes:
        return SymBytes(self.items + other.items)

    def __getitem__(self, index: int) -> Sym:
        return Sym(self.items[index])

    def __len__(self) -> int:
        return len(self.items)


def _bytes_model(items: Iterable[object]) -> SymBytes:
    out = SymBytes(items)
    BYTE_ELEMENTS.extend(out.items)
    return out


def _codec() -> dict[str, object]:
    namespace: dict[str, object] = {"bytes": _bytes_model, "__name__": "codec_model"}
    exec(compile(SOURCE.read_text(), str(SOURCE), "exec"), namespace)
    return namespace


def _in_range(premises: tuple[z3.BoolRef, ...], name: str) -> list[Claim]:
    elements = list(BYTE_ELEMENTS)
    BYTE_ELEMENTS.clear()
    ok = z3.And(*[z3.ULT(e, 256) for e in elements])
    small = z3.And(*[z3.ULT(e, BOUND) for e in INTERMEDIATES])
    INTERMEDIATES.clear()
    return [
        Claim(f"{name}: every element given to bytes([...]) is in [0, 256)", ok, premises),
        Claim(
            f"{name}: every intermediate value is below 2**120 (no wrap-around)", small, premises
        ),
    ]


def _value(x: Sym | int) -> Term:
    return _bv(x)


def _ints(names: str) -> list[z3.BitVecRef]:
    return [z3.BitVec(n, WIDTH) for n in names.split()]


def _claims() -> list[Claim]:
    c = _codec()
    claims: list[Claim] = []
    (v,) = _ints("value")
    for bits, name in ((16, "u16"), (32, "u32"), (64, "u64")):
        pre = (z3.ULT(v, 2**bits),)
        out = c[f"encode_{name}"](Sym(v))  # type: ignore[operator]
        width = bits // 8
        claims.append(Claim(f"len(encode_{name}(v)) == {width}", z3.BoolVal(len(out) == width)))
        decoded = _value(c[f"decode_{name}"](out, 0))  # type: ignore[operator]
        claims.append(Claim(f"decode_{name}(encode_{name}(v), 0) == v", decoded == v, pre))
        claims += _in_range(pre, f"encode_{name}")
    kind, sender, receiver, session, sequence, tag_length, payload_length = _ints(
        "kind sender receiver session sequence tag_length payload_length"
    )
    INTERMEDIATES.clear()
    u = z3.ULT
    size = c["frame_size"](Sym(tag_length), Sym(payload_length))  # type: ignore[operator]
    pre = (
        z3.Or(kind == c["KIND_DATA"], kind == c["KIND_CLOSE"]),
        u(sender, 2**16),
        u(receiver, 2**16),
        u(session, 2**64),
        u(sequence, 2**64),
        z3.ULE(tag_length, c["MAX_TAG_BYTES"]),
        u(payload_length, 2**33),  # implied by the next line; keeps the sum below 2**256
        z3.ULE(_value(size), c["MAX_FRAME_BYTES_LIMIT"]),
    )
    header = c["encode_header"](  # type: ignore[operator]
        *(Sym(x) for x in (kind, sender, receiver, session, sequence, tag_length, payload_length))
    )
    claims.append(
        Claim(
            "len(encode_header(...)) == HEADER_BYTES", z3.BoolVal(len(header) == c["HEADER_BYTES"])
        )
    )
    fields = z3.And(
        _value(c["decode_u32"](header, 0)) == _value(size) - c["LENGTH_BYTES"],  # type: ignore[operator]
        _value(header[4]) == c["VERSION"],
        _value(header[5]) == kind,
        _value(c["decode_u16"](header, 6)) == sender,  # type: ignore[operator]
        _value(c["decode_u16"](header, 8)) == receiver,  # type: ignore[operator]
        _value(c["decode_u64"](header, 10)) == session,  # type: ignore[operator]
        _value(c["decode_u64"](header, 18)) == sequence,  # type: ignore[operator]
        _value(header[26]) == tag_length,
    )
    claims.append(Claim("encode_header: every field decodes to the value encoded", fields, pre))
    claims += _in_range(pre, "encode_header")
    return claims


if __name__ == "__main__":
    raise SystemExit(
        main("trusted codec contracts, on src/veil/net/codec.py (z3, model of bytes)", _claims())
    )
