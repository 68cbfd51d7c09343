"""Prove the vectorized GF(p) kernels of ``src/veil/field.py`` correct for every input, with z3.

The proof reads the kernels' own source. Each kernel is a straight line of numpy calls of the form
``np.<ufunc>(x, y, out=z)`` on ``uint64`` arrays; :func:`run_kernel` executes those statements on
symbolic integers under a model of ``uint64`` arithmetic:

* ``add``, ``subtract``, ``multiply``, ``left_shift`` wrap modulo ``2**64`` (numpy's unsigned
  semantics), ``right_shift`` is floor division by a power of two, ``bitwise_and`` with a mask
  ``2**k - 1`` is reduction modulo ``2**k``, ``minimum`` and ``remainder`` are what they say.

Elementwise, every lane computes the same function, so one symbolic lane covers every array.
What is proved is a statement about that model of numpy's ``uint64`` ufuncs, not about numpy's C
code; the differential tests in ``tests/verify/`` compare the real arrays with the proved scalar
reference.

Multiplication by a non-constant is the one non-linear step. For the Mersenne kernel the proof is
split into lemmas (z3 gives up on the one-shot statement): each product's bounds from the bounds
of its factors, the schoolbook identity ``a*b = hi*2**64 + mid*2**32 + lo``, and the kernel's
reduction with the products as bounded unknowns and an explicit quotient as the witness.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable

import numpy as np
import z3
from _prove import Claim, main

import veil.field as vf

W = 2**64
P61 = vf.MERSENNE61


def _const(name: str) -> int:
    value = getattr(vf, name)
    assert isinstance(value, np.uint64), f"{name} is not a uint64 constant"
    return int(value)


def _mask_bits(mask: int) -> int:
    bits = mask.bit_length()
    if mask != (1 << bits) - 1:
        raise ValueError(f"bitwise_and with {mask:#x}: only masks 2**k - 1 are modelled")
    return bits


def run_kernel(
    kernel: Callable[..., None],
    env: dict[str, z3.ArithRef],
    product: Callable[[z3.ArithRef, z3.ArithRef, int], z3.ArithRef] | None = None,
) -> tuple[z3.ArithRef, list[z3.ArithRef]]:
    """Execute ``kernel``'s statements symbolically; return ``out`` and each statement's result.

    ``env`` maps the kernel's parameter names to symbolic uint64 values. ``product(x, y, k)``, if
    given, replaces ``multiply`` of two non-constants (statement ``k``) by a bounded unknown.
    A statement that calls another function of ``veil.field`` (``_fold_into(out, out, t)``) runs
    that function's statements with its parameters bound *by reference* to the caller's arrays,
    as numpy's ``out=`` arguments are (so aliasing, like ``x`` and ``out`` being one array, is
    modelled).
    """
    fn = _function_ast(kernel)
    params = [a.arg for a in fn.args.args]
    # Arrays the caller did not give (``out``, scratch) start as zeros; they are written first.
    storage = {name: env.get(name, z3.IntVal(0)) for name in params}
    trace: list[z3.ArithRef] = []
    _execute(fn, storage, {name: name for name in params}, product, trace)
    return storage["out"], trace


def _function_ast(fn: Callable[..., None]) -> ast.FunctionDef:
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]
    assert isinstance(tree, ast.FunctionDef)
    return tree


def _execute(
    fn: ast.FunctionDef,
    storage: dict[str, z3.ArithRef],
    alias: dict[str, str],
    product: Callable[[z3.ArithRef, z3.ArithRef, int], z3.ArithRef] | None,
    trace: list[z3.ArithRef],
) -> None:
    def value(node: ast.expr) -> z3.ArithRef | int:
        if isinstance(node, ast.Name):
            return storage[alias[node.id]] if node.id in alias else _const(node.id)
        raise ValueError(f"unsupported operand {ast.dump(node)}")

    for stmt in fn.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # docstring
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and not call.keywords
            and all(isinstance(a, ast.Name) and a.id in alias for a in call.args)
        ):
            callee = _function_ast(getattr(vf, call.func.id))
            params = [a.arg for a in callee.args.args]
            if len(params) != len(call.args):
                raise ValueError(f"line {stmt.lineno}: {call.func.id} called with wrong arity")
            refs = {q: alias[a.id] for q, a in zip(params, call.args, strict=True)}  # type: ignore[union-attr]
            _execute(callee, storage, refs, product, trace)
            continue
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name)
            and call.func.value.id == "np"
            and len(call.args) == 2
            and [k.arg for k in call.keywords] == ["out"]
            and isinstance(call.keywords[0].value, ast.Name)
        ):
            raise ValueError(f"line {stmt.lineno}: not of the form np.<op>(x, y, out=z)")
        op = call.func.attr
        x, y = value(call.args[0]), value(call.args[1])
        if op == "add":
            r = (x + y) % W
        elif op == "subtract":
            r = (x - y) % W
        elif op == "multiply":
            both_symbolic = not isinstance(x, int) and not isinstance(y, int)
            r = product(x, y, len(trace)) if product and both_symbolic else (x * y) % W
        elif op == "remainder":
            r = x % y
        elif op == "minimum":
            r = z3.If(x < y, x, y)
        elif op == "right_shift" and isinstance(y, int):
            r = x / 2**y
        elif op == "left_shift" and isinstance(y, int):
            r = (x * 2**y) % W
        elif op == "bitwise_and" and isinstance(y, int):
            r = x % 2 ** _mask_bits(y)
        else:
            raise ValueError(f"line {stmt.lineno}: np.{op} is not modelled")
        target = alias[call.keywords[0].value.id]
        storage[target] = r if not isinstance(r, int) else z3.IntVal(r)
        trace.append(storage[target])


def _uint64(*names: str) -> tuple[list[z3.ArithRef], list[z3.BoolRef]]:
    xs = [z3.Int(n) for n in names]
    return xs, [z3.And(0 <= x, x < W) for x in xs]


def _claims() -> list[Claim]:
    claims: list[Claim] = []
    (a, b, p), _ = _uint64("a", "b", "p")
    prime_range = [2 < p, p < 2**63]
    elements = [0 <= a, a < p, 0 <= b, b < p]
    t = z3.Int("t")

    out, _ = run_kernel(vf._add_kernel, {"a": a, "b": b, "p": p, "t": t})
    claims.append(
        Claim(
            "_add_kernel: a + b mod p, any 2 < p < 2**63",
            out == (a + b) % p,
            (*prime_range, *elements),
        )
    )
    out, _ = run_kernel(vf._sub_kernel, {"a": a, "b": b, "p": p, "t": t})
    claims.append(
        Claim(
            "_sub_kernel: a - b mod p, any 2 < p < 2**63",
            out == (a - b) % p,
            (*prime_range, *elements),
        )
    )
    out, _ = run_kernel(vf._sub_kernel, {"a": z3.IntVal(0), "b": a, "p": p, "t": t})
    claims.append(
        Claim("neg (_sub_kernel from 0): -a mod p", out == (-a) % p, (*prime_range, 0 <= a, a < p))
    )

    # p < 2**32: the product of two elements fits in 64 bits, so nothing wraps.
    small = [2 < p, p < 2**32, *elements]
    out, _ = run_kernel(
        vf._mul_small_prime_kernel, {"a": a, "b": b, "p": p}, product=lambda x, y, k: x * y
    )
    claims.append(
        Claim(
            "_mul_small_prime_kernel: no wrap-around (a*b < 2**64) when p < 2**32",
            a * b < W,
            tuple(small),
        )
    )
    claims.append(
        Claim(
            "_mul_small_prime_kernel: a * b mod p when p < 2**32", out == (a * b) % p, tuple(small)
        )
    )

    # Mersenne prime, multiplication by a public constant c in [0, 8]: one claim per constant.
    x = z3.Int("x")
    for c in range(9):
        out, _ = run_kernel(vf._mul_tiny_kernel, {"a": x, "c": z3.IntVal(c), "p": p, "t": t})
        claims.append(
            Claim(f"_mul_tiny_kernel: x * {c} mod 2**61-1", out == (x * c) % P61, (0 <= x, x < P61))
        )

    word = z3.Int("w")
    out, _ = run_kernel(vf._fold_kernel, {"x": word, "_": z3.IntVal(0), "p": p, "t": t})
    claims.append(
        Claim("_fold_kernel: any uint64 word mod 2**61-1", out == word % P61, (0 <= word, word < W))
    )

    claims.extend(_mersenne_claims())
    return claims


def _mersenne_claims() -> list[Claim]:
    """Lemmas that together prove ``_mul_mersenne61_kernel(a, b) == a * b mod (2**61 - 1)``."""
    a, b = z3.Ints("a b")
    dom = (0 <= a, a < P61, 0 <= b, b < P61)
    products: dict[int, tuple[z3.ArithRef, z3.ArithRef, z3.ArithRef]] = {}

    def product(x: z3.ArithRef, y: z3.ArithRef, k: int) -> z3.ArithRef:
        m = z3.Int(f"m{k}")
        products[k] = (m, x, y)
        return m

    zero = z3.IntVal(0)
    out, trace = run_kernel(
        vf._mul_mersenne61_kernel,
        {"a": a, "b": b, "p": z3.IntVal(P61), "t1": zero, "t2": zero, "t3": zero, "t4": zero},
        product=product,
    )
    claims: list[Claim] = []
    # Lemma 1 (non-linear, per product): the factors' bounds bound the product below 2**64, so
    # numpy's multiply did not wrap and m_k = x * y exactly; record the bound for lemma 3.
    bounds = []
    for k, (m, x, y) in sorted(products.items()):
        bx, by = _upper_bound(x, dom), _upper_bound(y, dom)
        claims.append(
            Claim(
                f"_mul_mersenne61_kernel: product #{k} x*y <= {bx}*{by} < 2**64",
                z3.And(0 <= x * y, x * y <= bx * by, bx * by < W),
                dom,
            )
        )
        bounds += [0 <= m, m <= bx * by]
    # Lemma 2 (polynomial identity): a*b = hi*2**64 + (a1*b0 + a0*b1)*2**32 + lo.
    (hi, a1, b1), (c1, _, b0), (c2, a0, _), (lo, _, _) = (products[k] for k in sorted(products))
    assert len(products) == 4, "the Mersenne kernel is expected to form four partial products"
    schoolbook = a * b == (a1 * b1) * 2**64 + ((a1 * b0) + (a0 * b1)) * 2**32 + a0 * b0
    claims.append(
        Claim(
            "_mul_mersenne61_kernel: a*b = a1 b1 2^64 + (a1 b0 + a0 b1) 2^32 + a0 b0",
            schoolbook,
            dom,
        )
    )
    # Lemma 3 (linear once products are unknowns): out = ab - k*p with 0 <= out < p, where
    # ab = hi*2^64 + mid*2^32 + lo (lemma 2) and k is the quotient the kernel's folds imply:
    # 8*hi + (mid >> 29) + (lo >> 61) + (s >> 61) + [s' >= p] (trace indices: see the kernel).
    ab = z3.Int("ab")
    mid, s, s2 = trace[7], trace[18], trace[21]
    quotient = 8 * hi + mid / 2**29 + lo / 2**61 + s / 2**61 + z3.If(s2 >= P61, 1, 0)
    claims.append(
        Claim(
            "_mul_mersenne61_kernel: out = a*b - q*p with 0 <= out < p (so out = a*b mod p)",
            z3.And(ab == quotient * P61 + out, 0 <= out, out < P61),
            (*dom, *bounds, ab == hi * 2**64 + (c1 + c2) * 2**32 + lo),
        )
    )
    n, q, r = z3.Ints("n q r")
    claims.append(
        Claim(
            "remainder is unique: n = q*p + r, 0 <= r < p  =>  n mod p = r",
            n % P61 == r,
            (n == q * P61 + r, 0 <= r, r < P61),
        )
    )
    return claims


def _upper_bound(term: z3.ArithRef, premises: tuple[z3.BoolRef, ...]) -> int:
    """Return the maximum of ``term`` under ``premises`` (a linear term: z3.Optimize is exact)."""
    opt = z3.Optimize()
    opt.add(*premises)
    handle = opt.maximize(term)
    if opt.check() != z3.sat:
        raise RuntimeError("premises are unsatisfiable")
    return int(str(opt.upper(handle)))


if __name__ == "__main__":
    raise SystemExit(
        main("GF(p) kernels of src/veil/field.py (z3, model of uint64 ufuncs)", _claims())
    )
