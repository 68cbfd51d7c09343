"""The proved copies of product modules are the product's code, contracts aside."""

from __future__ import annotations

import ast
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COPIES = [
    ("verify/nagini/codec.py", "src/veil/net/codec.py"),
    ("verify/nagini/budget.py", "src/veil/dp/budget.py"),
]
#: Functions that exist only in a proved file, as specifications (never called by product code).
SPEC_ONLY = {"well_formed"}


@pytest.mark.parametrize(("proved", "product"), COPIES)
def test_every_product_function_is_proved_verbatim(
    contracts: types.ModuleType, proved: str, product: str
) -> None:
    """Each function of the product module equals the proved one once contracts are stripped."""
    proved_fns = contracts.function_bodies(contracts.strip_contracts((ROOT / proved).read_text()))
    product_fns = contracts.function_bodies(ast.parse((ROOT / product).read_text()))
    assert set(product_fns) <= set(proved_fns), f"not proved: {set(product_fns) - set(proved_fns)}"
    assert set(proved_fns) - set(product_fns) <= SPEC_ONLY
    for name, body in product_fns.items():
        assert proved_fns[name] == body, f"{product}:{name} differs from {proved}:{name}"


@pytest.mark.parametrize(("proved", "product"), COPIES)
def test_every_product_constant_is_proved_verbatim(
    contracts: types.ModuleType, proved: str, product: str
) -> None:
    """The integer constants the proofs rely on have the product's values."""
    proved_consts = contracts.module_constants(
        contracts.strip_contracts((ROOT / proved).read_text())
    )
    product_consts = contracts.module_constants(ast.parse((ROOT / product).read_text()))
    product_consts.pop("PROBLEMS", None)  # message texts, not used by any proved function
    assert proved_consts == product_consts


def test_stripping_removes_contracts_and_keeps_code(contracts: types.ModuleType) -> None:
    """Contract statements and decorators go; the code and its behaviour stay."""
    source = (
        "from nagini_contracts.contracts import *\n"
        "@Pure\n"
        "def f(a: int) -> int:\n"
        "    Requires(a > 0)\n"
        "    Ensures(Result() > a)\n"
        "    while a < 10:\n"
        "        Invariant(a > 0)\n"
        "        a = a + 1\n"
        "    return a + 1\n"
    )
    tree = contracts.strip_contracts(source)
    text = ast.unparse(tree)
    for contract in ("Requires", "Ensures", "Invariant", "@Pure", "nagini_contracts"):
        assert contract not in text
    namespace: dict[str, object] = {}
    exec(compile(tree, "<test>", "exec"), namespace)
    f = namespace["f"]
    assert callable(f)
    assert f(3) == 11


def test_stripping_refuses_contract_names_used_as_code(contracts: types.ModuleType) -> None:
    """A contract helper used in code (not a contract) is reported, not silently kept."""
    with pytest.raises(ValueError, match="Result"):
        contracts.strip_contracts("def f() -> int:\n    x = Result()\n    return x\n")


def test_a_changed_product_function_is_detected(contracts: types.ModuleType) -> None:
    """The comparison sees a one-character change in a function body."""
    original = (ROOT / "src/veil/dp/budget.py").read_text()
    changed = original.replace(
        "return spent + charge\n    return spent", "return spent + charge\n    return spent + 0"
    )
    assert changed != original
    assert (
        contracts.function_bodies(ast.parse(original))["spend"]
        != contracts.function_bodies(ast.parse(changed))["spend"]
    )
