"""Imports flow one way: core ← ops ← simplify ← ad ← jacobian ← printing ← {lang, interop, codegen} ← check ← {api, testing} ← app.

Every ``import`` in matderiv/ (module level or inside a function) is read with ``ast``; a module may import
modules of its own layer or of a lower one, and the three sibling layers (lang, interop, codegen) not each other.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "matderiv"
RANK = {"core": 0, "ops": 1, "simplify": 2, "ad": 3, "jacobian": 3.5, "printing": 4, "lang": 5, "interop": 5, "codegen": 5,
        "check": 6, "api": 7, "testing": 7, "app": 8, "__init__": 9, "__main__": 10}


def _module(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


def _layer(module: str) -> str:
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import of a matderiv module in the file."""
    here = _module(path)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "matderiv"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "matderiv":
                continue
            if node.module is None or mod.count(".") == 0:  # from . import x, y: the submodules x, y
                out += [(node.lineno, f"{mod}.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, mod))
    return out


FILES = sorted(PKG.rglob("*.py"))


def test_every_module_has_a_layer() -> None:
    assert {_layer(_module(p)) for p in FILES} <= set(RANK)


def test_no_import_cycles_inside_a_layer() -> None:
    """Within a layer too, modules import one way (Tarjan's strongly connected components of the import graph)."""
    modules = {_module(p): p for p in FILES}
    graph = {m: {t for _, t in _imports(p) if t in modules and t != m} for m, p in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for m in graph:
        if m not in index:
            visit(m)
    assert cycles == []


@pytest.mark.parametrize("path", FILES, ids=[_module(p) for p in FILES])
def test_imports_flow_one_way(path: Path) -> None:
    me = _layer(_module(path))
    for line, target in _imports(path):
        other = _layer(target)
        assert other in RANK, f"{path.name}:{line} imports {target}, which is no module of a layer"
        assert target != "matderiv" and not (other == "__init__" and me != "__main__"), \
            f"{path.name}:{line} imports the package facade {target}; import the submodule"
        assert RANK[other] <= RANK[me], f"{_module(path)}:{line} ({me}) imports {target} ({other}), a higher layer"
        if RANK[other] == RANK[me] and other != me:
            raise AssertionError(f"{_module(path)}:{line}: the sibling layers {me} and {other} do not import each other")


def test_the_walk_resolves_relative_and_local_imports() -> None:
    """``from ..core.spec import`` at module level and ``from .elementwise import add`` inside a function."""
    found = {t for _, t in _imports(PKG / "ops" / "linalg.py")}
    assert {"matderiv.core.spec", "matderiv.ops.elementwise"} <= found
    assert "matderiv.printing.latex" in {t for _, t in _imports(PKG / "printing" / "__init__.py")}
