"""Turn a Nagini-proved file into the plain Python it proves: strip contracts, keep the code.

A proved file is ordinary Python plus contract statements (``Requires(...)``, ``Ensures(...)``,
``Invariant(...)``, ``Assert(...)``, ...), contract decorators (``@Pure``, ``@ContractOnly``, ...)
and ``from nagini_contracts.contracts import *``. None of these changes what the code computes, so
removing them gives the code that was proved. The test suite uses this module to

* run the proved scalar code as the reference the vectorized product code is compared with, and
* check that a proved copy of a product module is, statement for statement, the product's code.

It imports only the standard library, so the project's own virtual environment can use it.
"""

from __future__ import annotations

import ast
import types
from pathlib import Path

__all__ = [
    "CONTRACT_CALLS",
    "CONTRACT_DECORATORS",
    "function_bodies",
    "load_proved",
    "module_constants",
    "strip_contracts",
]

#: Statement-level contract calls (nagini_contracts.contracts) that are removed.
CONTRACT_CALLS = frozenset(
    {
        "Requires",
        "Ensures",
        "Exsures",
        "Invariant",
        "Decreases",
        "Assert",
        "Assume",
        "Fold",
        "Unfold",
    }
)
#: Decorators that only tell the verifier how to treat a function.
CONTRACT_DECORATORS = frozenset({"Pure", "ContractOnly", "Predicate", "Ghost", "Inline", "Opaque"})


def _is_contract_statement(node: ast.stmt) -> bool:
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").startswith("nagini_contracts")
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        func = node.value.func
        return isinstance(func, ast.Name) and func.id in CONTRACT_CALLS
    return False


class _Stripper(ast.NodeTransformer):
    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        for field in ("body", "orelse", "finalbody"):
            statements = getattr(node, field, None)
            if isinstance(statements, list) and statements and isinstance(statements[0], ast.stmt):
                kept = [s for s in statements if not _is_contract_statement(s)]
                # A block may not be empty: a function whose body was only contracts keeps `pass`.
                setattr(node, field, kept or [ast.Pass()])
        if isinstance(node, ast.FunctionDef):
            node.decorator_list = [
                d
                for d in node.decorator_list
                if not (isinstance(d, ast.Name) and d.id in CONTRACT_DECORATORS)
            ]
        return node


def strip_contracts(source: str) -> ast.Module:
    """Return the module AST of ``source`` without its Nagini contracts.

    Raises
    ------
    ValueError
        If a contract name is still referenced after stripping (e.g. ``Result()`` used in code):
        then the stripped code would not be the code that was proved.
    """
    tree = _Stripper().visit(ast.parse(source))
    leftover = sorted(
        {
            n.id
            for n in ast.walk(tree)
            if isinstance(n, ast.Name)
            and n.id in CONTRACT_CALLS | CONTRACT_DECORATORS | {"Result", "Old", "Implies"}
        }
    )
    if leftover:
        raise ValueError(f"contract names used outside contracts: {', '.join(leftover)}")
    return ast.fix_missing_locations(tree)


def load_proved(path: str | Path, name: str | None = None) -> types.ModuleType:
    """Execute the proved file at ``path`` without contracts and return it as a module."""
    path = Path(path)
    module = types.ModuleType(name or f"proved_{path.stem}")
    module.__file__ = str(path)
    code = compile(strip_contracts(path.read_text()), str(path), "exec")
    exec(code, module.__dict__)  # our own checked-in file: the point of the loader
    return module


def _without_docstring(fn: ast.FunctionDef) -> ast.FunctionDef:
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:] or [ast.Pass()]
    return ast.FunctionDef(
        name=fn.name,
        args=fn.args,
        body=body,
        decorator_list=fn.decorator_list,
        returns=fn.returns,
        type_comment=None,
        type_params=[],
    )


def function_bodies(tree: ast.Module) -> dict[str, str]:
    """Return ``{name: ast.dump(function without docstring)}`` for the top-level functions."""
    return {
        node.name: ast.dump(_without_docstring(node))
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
    }


def module_constants(tree: ast.Module) -> dict[str, str]:
    """Return ``{NAME: ast.dump(value)}`` for top-level ``NAME = value`` assignments of upper-case names."""
    out: dict[str, str] = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id.isupper()
        ):
            out[node.targets[0].id] = ast.dump(node.value)
    return out
