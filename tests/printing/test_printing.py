"""Issue 2 item 5: ``str`` (one-line numpy-style text) and LaTeX (KaTeX/MathJax-safe), as exact strings."""
from __future__ import annotations

import re

import pytest

import matderiv as md

X, Y = md.matrix("X", "n", "n"), md.matrix("Y", "n", "n")
A, B = md.matrix("A", 2, 3), md.matrix("B", 3, 2)
a, b, s = md.vector("a", "n"), md.vector("b", "n"), md.scalar("s")

PRINTED = [
    # expression, str, LaTeX
    (X.T, "X.T", r"X^{\top}"),
    (md.inv(X), "inv(X)", r"X^{-1}"),
    (md.inv(X).T, "inv(X).T", r"X^{-\top}"),
    (md.inv(X.T), "inv(X.T)", r"X^{-\top}"),
    (md.trace(X), "trace(X)", r"\operatorname{tr}\left(X\right)"),
    (md.det(X), "det(X)", r"\det\left(X\right)"),
    (md.logdet(X), "logdet(X)", r"\log\det\left(X\right)"),
    (X * Y, "X * Y", r"X \odot Y"),
    (X / Y, "X / Y", r"X \oslash Y"),
    (md.kron(A, B), "kron(A, B)", r"A \otimes B"),
    (md.ones("n"), "ones(n)", r"\mathbf{1}"),
    (md.ones(1, "n"), "ones(n).T", r"\mathbf{1}^{\top}"),
    (md.ones("n", "n"), "ones(n, n)", r"\mathbf{1}\mathbf{1}^{\top}"),
    (md.eye("n"), "eye(n)", "I"),
    (md.zeros("n", "n"), "zeros(n, n)", "0"),
    (md.solve(X, b), "solve(X, b)", r"X^{-1} b"),
    (md.sum(X), "sum(X)", r"\mathbf{1}^{\top} X \mathbf{1}"),
    (md.norm2(a), "norm2(a)", r"\left\|a\right\|"),
    (md.norm2(X), "norm2(X)", r"\left\|X\right\|_{F}"),
    (md.diag(a), "diag(a)", r"\operatorname{diag}\left(a\right)"),
    (md.diag(X), "diag(X)", r"\operatorname{diag}\left(X\right)"),
    (md.logsumexp(a), "logsumexp(a)", r"\operatorname{logsumexp}\left(a\right)"),
    (md.softmax(a), "softmax(a)", r"\operatorname{softmax}\left(a\right)"),
    (md.exp(X), "exp(X)", r"\exp\left(X\right)"),
    (md.log(X), "log(X)", r"\log\left(X\right)"),
    (md.sin(X), "sin(X)", r"\sin\left(X\right)"),
    (md.cos(X), "cos(X)", r"\cos\left(X\right)"),
    (md.tan(X), "tan(X)", r"\tan\left(X\right)"),
    (md.tanh(X), "tanh(X)", r"\tanh\left(X\right)"),
    (md.sqrt(X), "sqrt(X)", r"\sqrt{X}"),
    (md.abs(X), "abs(X)", r"\left|X\right|"),
    (md.sign(X), "sign(X)", r"\operatorname{sign}\left(X\right)"),
    (md.relu(X), "relu(X)", r"\operatorname{relu}\left(X\right)"),
    (md.sigmoid(X), "sigmoid(X)", r"\sigma\left(X\right)"),
    (md.softplus(X), "softplus(X)", r"\operatorname{softplus}\left(X\right)"),
    (md.step(X), "step(X)", r"\operatorname{step}\left(X\right)"),
    (md.elementwise("my_fn", lambda t: t**3)(X), "my_fn(X)", r"\operatorname{my\_fn}\left(X\right)"),
    (X**2, "X**2", r"X^{\circ 2}"),
    (s**2, "s**2", r"s^{2}"),
    (s**0.5, "s**0.5", r"\sqrt{s}"),
    (1 / s, "1 / s", r"\frac{1}{s}"),
    (3.5 * X, "3.5 * X", r"\frac{7}{2} X"),
    (md.scalar("alpha") * md.matrix("W1", 2, 2), "alpha * W1", r"\alpha W_{1}"),
    (a.T @ X @ b, "a.T @ X @ b", r"a^{\top} X b"),
    (-(X @ Y), "-X @ Y", r"-X Y"),
    (2 * (X @ Y), "2 * X @ Y", r"2 X Y"),
    (X - 2 * Y, "X - 2 * Y", r"X - 2 Y"),
    (X + Y.T - md.eye("n"), "X + Y.T - eye(n)", r"X + Y^{\top} - I"),
    ((X + Y).T, "(X + Y).T", r"\left(X + Y\right)^{\top}"),
    ((X + Y) @ (X - Y), "(X + Y) @ (X - Y)", r"\left(X + Y\right) \left(X - Y\right)"),
    (X * (Y @ X), "X * (Y @ X)", r"X \odot \left(Y X\right)"),
    ((X * Y) @ X, "(X * Y) @ X", r"\left(X \odot Y\right) X"),
    (md.trace(X @ Y) * X, "trace(X @ Y) * X", r"\operatorname{tr}\left(X Y\right) X"),
    (md.inv(X @ Y), "inv(X @ Y)", r"\left(X Y\right)^{-1}"),
    (md.exp(-X), "exp(-X)", r"\exp\left(-X\right)"),
]


@pytest.mark.parametrize("e,text,latex", PRINTED, ids=[t for _, t, _ in PRINTED])
def test_text_and_latex(e: md.Expr, text: str, latex: str) -> None:
    assert str(e) == text and repr(e) == text
    assert md.latex(e) == latex
    assert_katex_safe(latex)


# Control sequences that KaTeX and MathJax both render.
KATEX = {r"\top", r"\left", r"\right", r"\operatorname", r"\det", r"\log", r"\exp", r"\sin", r"\cos", r"\tan",
         r"\tanh", r"\sqrt", r"\odot", r"\oslash", r"\otimes", r"\mathbf", r"\sigma", r"\frac", r"\partial",
         r"\langle", r"\rangle", r"\cdot", r"\circ", r"\alpha", r"\|", r"\_", r"\displaystyle"}


def assert_katex_safe(latex: str) -> None:
    """Balanced braces and \\left/\\right pairs, and only control sequences KaTeX and MathJax know."""
    depth = 0
    for ch in re.sub(r"\\[{}]", "", latex):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0, latex
    assert depth == 0, latex
    assert latex.count(r"\left") == latex.count(r"\right"), latex
    assert set(re.findall(r"\\[a-zA-Z]+|\\\||\\_", latex)) <= KATEX, latex


def test_repr_latex_for_notebooks() -> None:
    Xm, av, bv = md.matrix("X", "n", "m"), md.vector("a", "n"), md.vector("b", "m")
    assert (av.T @ Xm @ bv)._repr_latex_() == r"$\displaystyle a^{\top} X b$"
    assert md.grad(av.T @ Xm @ bv, Xm)._repr_latex_() == r"$\displaystyle a b^{\top}$"


def test_latex_equation() -> None:
    Xm, av, bv = md.matrix("X", "n", "m"), md.vector("a", "n"), md.vector("b", "m")
    f = av.T @ Xm @ bv
    assert md.latex_equation(f, Xm) == r"\frac{\partial}{\partial X} \left( a^{\top} X b \right) = a b^{\top}"
    assert md.latex_equation(f, "a") == r"\frac{\partial}{\partial a} \left( a^{\top} X b \right) = X b"
    assert md.latex_equation(md.logdet(X), X) == \
        r"\frac{\partial}{\partial X} \left( \log\det\left(X\right) \right) = X^{-\top}"
    Am, Xs, G = md.matrix("A", 2, 2), md.matrix("X", 2, 3), md.matrix("G", 2, 3)
    eq = md.latex_equation(Am @ Xs, Xs, seed=G)
    assert eq == r"\frac{\partial}{\partial X} \left( \left\langle G, A X \right\rangle \right) = A^{\top} G"
    assert_katex_safe(eq)


def test_identities_print_katex_safe() -> None:
    A2, x, bp = md.matrix("A", "p", "n"), md.vector("x", "n"), md.vector("b", "p")
    for f, w in [(md.norm2(A2 @ x - bp) ** 2, x), (md.det(X), X), (md.trace(md.inv(X)), X),
                 (md.sum(md.softplus(-b * (X @ a))), a)]:
        assert_katex_safe(md.latex_equation(f, w))


def test_ones_matrix_inside_a_product() -> None:
    Am, Xs = md.matrix("A", 2, 2), md.matrix("X", 2, 3)
    F = Am @ Xs
    assert md.latex(md.vjp(F, Xs, md.ones_like(F))) == r"A^{\top} \mathbf{1}\mathbf{1}^{\top}"


def test_fractions() -> None:
    assert md.latex(s / (s + 1)) == r"\frac{s}{s + 1}"
    assert md.latex(X / 2) in (r"\frac{X}{2}", r"\frac{1}{2} X", r"0.5 X")


def test_str_is_python_with_the_same_meaning() -> None:
    # a negated product is parenthesised where Python would bind it otherwise: A @ -A * B is (A @ -A) * B
    A, B = md.matrix("A", 3, 3), md.matrix("B", 3, 3)
    xv, sv = md.vector("x", 3), md.scalar("s")
    names = {"A": A, "B": B, "x": xv, "s": sv, "inv": md.inv}
    for e in [A @ (-(A * B)), xv.T @ (-xv / sv), A @ (-2 * B), md.mul(-1, -1, xv), sv * (-1), A.T.T]:
        assert md.simplify(eval(str(e), names)) == md.simplify(e), str(e)  # test-side eval of our own output
    assert str(A @ (-(A * B))) == "-A @ (A * B)"  # the sign leads the product


def test_latex_never_stacks_superscripts_or_juxtaposes_numbers() -> None:
    A, sv = md.matrix("A", 3, 3), md.scalar("s")
    assert md.latex(A.T.T) == r"\left(A^{\top}\right)^{\top}"
    assert md.latex(md.inv(A) ** 2) == r"\left(A^{-1}\right)^{\circ 2}"
    assert md.latex(sv * (-1)) == "-s"  # numbers lead a product
    assert md.latex(md.const(3) * md.const(2) * sv) == "6 s"
    assert md.latex(A @ (-(A * A.T))) == r"-A \left(A \odot A^{\top}\right)"  # the sign leads


def test_text_and_latex_share_the_product_parts() -> None:
    """Issue 8 review D: ⊙-products and product cores are printed by one method with each printer's tokens, and the
    cache of which nested products open belongs to a printer (cleared with its memo), not to the module."""
    from matderiv.printing import base
    from matderiv.printing.latex import LatexPrinter
    from matderiv.printing.text import TextPrinter
    for name in ("_core", "_hadamard"):
        assert getattr(TextPrinter, name) is getattr(base.Printer, name) is getattr(LatexPrinter, name)
    assert not [k for k, v in vars(base).items() if isinstance(v, dict) and k.startswith("_") and k[1] != "_"]
    xv, yv, zv = md.vector("x", 3), md.vector("y", 3), md.vector("z", 3)
    e = md.matrix("A", 3, 3) @ md.mul(xv, yv, md.power(zv, -1))
    for printer, want in ((TextPrinter(), "A @ (x * y / z)"), (LatexPrinter(), r"A \left(x \odot y \oslash z\right)")):
        assert printer.doprint(e) == want
        assert printer._opened and printer._memo
        printer.clear_if_large(0)
        assert not printer._opened and not printer._memo
    assert str(md.power(zv, -1) * md.power(yv, -2)) == "1 / z / y**2"
    assert md.latex(md.power(zv, -1) * md.power(yv, -2)) == r"z^{\circ -1} \oslash y^{\circ 2}"
