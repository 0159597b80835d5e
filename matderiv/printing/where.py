"""Long formulas with their repeated parts named: ``(W₂ᵀ(t₁ ⊙ (1 − t₁))) ⊙ step(t₀) xᵀ where t₀ = W₁x + b₁, …``.

A subexpression is named when it is used more than once (a transpose of it counts as a use) and its text has at
least :data:`MIN_TEXT` characters — the display counterpart of the common subexpressions that generated code
computes once, as MatrixCalculus.org prints its results.
"""
from __future__ import annotations

from typing import Sequence

from ..core.expr import Expr, iter_nodes
from ..core.spec import rebuild
from ..ops.base import symbol

_ATOMS = ("symbol", "const", "ones", "zeros", "eye", "transpose")
MIN_TEXT = 10  # shorter parts (X @ b) read better inline than as a name


def name_shared(exprs: Sequence[Expr], prefix: str = "t") -> tuple[list[Expr], list[tuple[Expr, Expr]]]:
    """``(exprs with the shared parts replaced by new symbols, [(symbol, its definition), ...])``, definitions in
    dependency order (each uses only the names before it). The names ``t0, t1, ...`` avoid the exprs' symbols."""
    order = iter_nodes(exprs)
    uses: dict[Expr, int] = {}
    for node in order:
        if node.op == "transpose":
            continue  # its use is counted where it is used, as a use of what it transposes
        for a in node.args:
            target = a.args[0] if a.op == "transpose" else a
            uses[target] = uses.get(target, 0) + 1
    taken = {s.name for e in exprs for s in e.free_symbols}
    taken |= {n.replace("_", "") for n in taken}  # t_0 prints as t0 does in LaTeX
    replaced: dict[Expr, Expr] = {}
    definitions: list[tuple[Expr, Expr]] = []
    for node in order:
        new = rebuild(node, [replaced[a] for a in node.args]) if node.args else node
        if uses.get(node, 0) > 1 and node.op not in _ATOMS and len(str(node)) >= MIN_TEXT:
            k = len(definitions)
            while f"{prefix}{k}" in taken:
                k += 1
            name = symbol(f"{prefix}{k}", *node.shape)
            taken.add(name.name)
            definitions.append((name, new))
            new = name
        replaced[node] = new
    return [replaced[e] for e in exprs], definitions
