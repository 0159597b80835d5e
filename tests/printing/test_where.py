"""Naming the repeated parts of long formulas for display (matderiv.printing.where)."""
from __future__ import annotations

import matderiv as md
from matderiv.core.expr import Expr
from matderiv.core.spec import rebuild
from matderiv.printing.where import name_shared


def expand(e: Expr, defs: dict[Expr, Expr]) -> Expr:
    """``e`` with every name replaced by its definition (recursively)."""
    if e in defs:
        return expand(defs[e], defs)
    return rebuild(e, [expand(a, defs) for a in e.args]) if e.args else e


def test_repeated_parts_of_a_network_gradient_are_named() -> None:
    f = md.parse("sum(sigmoid(W2*relu(W1*x + b1) + b2))")
    g = md.grad(f, "W1")
    (short,), defs = name_shared([g])
    assert [(str(n), str(d)) for n, d in defs] == [
        ("t0", "W1 @ x + b1"), ("t1", "sigmoid(W2 @ relu(t0) + b2)")]
    assert str(short) == "((W2.T @ (t1 * (1 - t1))) * step(t0)) @ x.T"
    assert expand(short, dict(defs)) == g  # naming changes the display, never the formula


def test_names_avoid_the_expression_symbols_and_short_parts_stay_inline() -> None:
    t0, X, b = md.vector("t0", "n"), md.matrix("X", "n", "m"), md.vector("b", "m")
    e = md.exp(md.tanh(X @ b + t0)) * md.tanh(X @ b + t0)  # tanh(Xb + t0) twice; X @ b is short
    (short,), defs = name_shared([e])
    assert [str(n) for n, _ in defs] == ["t1"] and str(defs[0][1]) == "tanh(X @ b + t0)"
    assert str(short) == "exp(t1) * t1"
    assert name_shared([X @ b + X @ b])[1] == []  # nothing long enough to name


def test_latex_where_form() -> None:
    g = md.grad(md.parse("sum(sigmoid(W2*relu(W1*x + b1) + b2))"), "W1")
    assert md.latex(g, where=True) == (
        r"\left(\left(W_{2}^{\top} \left(t_{1} \odot \left(1 - t_{1}\right)\right)\right) \odot "
        r"\operatorname{step}\left(t_{0}\right)\right) x^{\top} \quad \text{where } t_{0} = W_{1} x + b_{1}, "
        r"t_{1} = \sigma\left(W_{2} \operatorname{relu}\left(t_{0}\right) + b_{2}\right)")
    assert md.latex(md.parse("a'*X*b"), where=True) == r"a^{\top} X b"  # nothing repeated: the plain form


def test_a_part_used_once_through_a_transpose_is_not_named() -> None:
    X, a = md.matrix("X", "n", "n"), md.vector("a", "n")
    assert name_shared([md.exp(X @ a + a).T @ a])[1] == []
