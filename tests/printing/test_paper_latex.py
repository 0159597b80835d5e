"""Issue 8 item 1: LaTeX as a paper prints it, and ``str`` by the same rules where numpy syntax allows.

Pinned: the exact LaTeX of every expression of docs/identities.txt (Matrix Cookbook §2.1–2.7, Giles 2008, the ML
losses and layers) and of its derivative, and of the issue's own examples; all of it renders in KaTeX in strict
mode. The rules themselves are checked on every printed string (no ``\\operatorname{sum}``, no
``(\\cdots)^{\\circ -1} \\odot``, no bracketed numerator), and the reordering the printers do (numbers and scalar
factors to the front of a product) is checked in numbers: the printed text, evaluated by a hand-written numpy
namespace, and the printers' decomposition of a product, rebuilt, equal the expression as the independent
reference of tests/optable.py evaluates it, on seeded random expressions.
"""
from __future__ import annotations

import random
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy

import matderiv as md
from katex import katex_errors
from matderiv.app.derive import parse_with_seed
from matderiv.core.expr import ONE, Expr
from matderiv.printing.base import Chain, Hadamard, Product, split_product
from matderiv.printing.latex import LatexPrinter, latex_number
from optable import reference

ROOT = Path(__file__).resolve().parents[2]

# (expression in the text language, w.r.t., seed or None, LaTeX of the expression, LaTeX of the derivative)
PINNED = [
    ("det(X)", "X", None,
     r"\det\left(X\right)",
     r"\det\left(X\right) X^{-\top}"),
    ("logdet(X)", "X", None,
     r"\log\det\left(X\right)",
     r"X^{-\top}"),
    ("log(abs(det(X)))", "X", None,
     r"\log\left(\left|\det\left(X\right)\right|\right)",
     r"X^{-\top}"),
    ("det(A*X*B) where A: matrix(n, n), X: matrix(n, n), B: matrix(n, n)", "X", None,
     r"\det\left(A X B\right)",
     r"\det\left(A X B\right) X^{-\top}"),
    ("logdet(X'*X) where X: matrix(5, 3)", "X", None,
     r"\log\det\left(X^{\top} X\right)",
     r"2 X \left(X^{\top} X\right)^{-1}"),
    ("det(X'*A*X) where X: matrix(5, 3)", "X", None,
     r"\det\left(X^{\top} A X\right)",
     r"\det\left(X^{\top} A X\right) \left(A X \left(X^{\top} A X\right)^{-1} + A^{\top} X \left(X^{\top} A^{\top} X\right)^{-1}\right)"),
    ("det(X*X)", "X", None,
     r"\det\left(X^{2}\right)",
     r"2 \det\left(X^{2}\right) X^{-\top}"),
    ("a'*inv(X)*b", "X", None,
     r"a^{\top} X^{-1} b",
     r"-X^{-\top} a b^{\top} X^{-\top}"),
    ("det(inv(X))", "X", None,
     r"\det\left(X^{-1}\right)",
     r"-\det\left(X^{-1}\right) X^{-\top}"),
    ("tr(A*inv(X)*B)", "X", None,
     r"\operatorname{tr}\left(A X^{-1} B\right)",
     r"-X^{-\top} A^{\top} B^{\top} X^{-\top}"),
    ("tr(inv(X + A))", "X", None,
     r"\operatorname{tr}\left(\left(X + A\right)^{-1}\right)",
     r"-\left(A + X\right)^{-\top} \left(A + X\right)^{-\top}"),
    ("log(det(inv(X)))", "X", None,
     r"\log\left(\det\left(X^{-1}\right)\right)",
     r"-X^{-\top}"),
    ("a'*x", "x", None,
     r"a^{\top} x",
     r"a"),
    ("x'*a", "x", None,
     r"x^{\top} a",
     r"a"),
    ("a'*X*b", "X", None,
     r"a^{\top} X b",
     r"a b^{\top}"),
    ("a'*X'*b", "X", None,
     r"a^{\top} X^{\top} b",
     r"b a^{\top}"),
    ("a'*X*a", "X", None,
     r"a^{\top} X a",
     r"a a^{\top}"),
    ("x'*B*x", "x", None,
     r"x^{\top} B x",
     r"\left(B + B^{\top}\right) x"),
    ("x'*S*x where S: symmetric", "x", None,
     r"x^{\top} S x",
     r"2 S x"),
    ("b'*X'*X*c", "X", None,
     r"b^{\top} X^{\top} X c",
     r"X \left(b c^{\top} + c b^{\top}\right)"),
    ("(B*x + b)'*C*(D*x + d)", "x", None,
     r"\left(B x + b\right)^{\top} C \left(D x + d\right)",
     r"B^{\top} C \left(D x + d\right) + D^{\top} C^{\top} \left(B x + b\right)"),
    ("b'*X'*D*X*c", "X", None,
     r"b^{\top} X^{\top} D X c",
     r"D X c b^{\top} + D^{\top} X b c^{\top}"),
    ("(X*b + c)'*D*(X*b + c)", "X", None,
     r"\left(X b + c\right)^{\top} D \left(X b + c\right)",
     r"\left(D + D^{\top}\right) \left(X b + c\right) b^{\top}"),
    ("(x - A*s)'*W*(x - A*s) where W: symmetric", "s", None,
     r"\left(x - A s\right)^{\top} W \left(x - A s\right)",
     r"-2 A^{\top} W \left(x - A s\right)"),
    ("(x - A*s)'*W*(x - A*s) where W: symmetric", "A", None,
     r"\left(x - A s\right)^{\top} W \left(x - A s\right)",
     r"-2 W \left(x - A s\right) s^{\top}"),
    ("tr(X)", "X", None,
     r"\operatorname{tr}\left(X\right)",
     r"I"),
    ("tr(X*A)", "X", None,
     r"\operatorname{tr}\left(X A\right)",
     r"A^{\top}"),
    ("tr(A*X*B)", "X", None,
     r"\operatorname{tr}\left(A X B\right)",
     r"A^{\top} B^{\top}"),
    ("tr(A*X'*B)", "X", None,
     r"\operatorname{tr}\left(A X^{\top} B\right)",
     r"B A"),
    ("tr(X'*A)", "X", None,
     r"\operatorname{tr}\left(X^{\top} A\right)",
     r"A"),
    ("tr(kron(A, X))", "X", None,
     r"\operatorname{tr}\left(A \otimes X\right)",
     r"\operatorname{tr}\left(A\right) I"),
    ("tr(X*X)", "X", None,
     r"\operatorname{tr}\left(X^{2}\right)",
     r"2 X^{\top}"),
    ("tr(X*X*B)", "X", None,
     r"\operatorname{tr}\left(X^{2} B\right)",
     r"B^{\top} X^{\top} + X^{\top} B^{\top}"),
    ("tr(X'*B*X)", "X", None,
     r"\operatorname{tr}\left(X^{\top} B X\right)",
     r"\left(B + B^{\top}\right) X"),
    ("tr(X*B*X')", "X", None,
     r"\operatorname{tr}\left(X B X^{\top}\right)",
     r"X \left(B + B^{\top}\right)"),
    ("tr(A*X*B*X)", "X", None,
     r"\operatorname{tr}\left(A X B X\right)",
     r"A^{\top} X^{\top} B^{\top} + B^{\top} X^{\top} A^{\top}"),
    ("tr(X'*X)", "X", None,
     r"\operatorname{tr}\left(X^{\top} X\right)",
     r"2 X"),
    ("tr(B'*X'*C*X*B)", "X", None,
     r"\operatorname{tr}\left(B^{\top} X^{\top} C X B\right)",
     r"\left(C + C^{\top}\right) X B B^{\top}"),
    ("tr(A*X*B*X'*C)", "X", None,
     r"\operatorname{tr}\left(A X B X^{\top} C\right)",
     r"A^{\top} C^{\top} X B^{\top} + C A X B"),
    ("tr((A*X*B + C)*(A*X*B + C)')", "X", None,
     r"\operatorname{tr}\left(\left(A X B + C\right) \left(A X B + C\right)^{\top}\right)",
     r"2 A^{\top} \left(A X B + C\right) B^{\top}"),
    ("tr(X*X*X)", "X", None,
     r"\operatorname{tr}\left(X^{3}\right)",
     r"3 \left(X^{\top}\right)^{2}"),
    ("tr(exp(X))", "X", None,
     r"\operatorname{tr}\left(\exp\left(X\right)\right)",
     r"\exp\left(X\right) \odot I"),
    ("norm2(x - a)", "x", None,
     r"\left\|x - a\right\|",
     r"\frac{x - a}{\left\|x - a\right\|}"),
    ("norm2(x)^2", "x", None,
     r"\left\|x\right\|^{2}",
     r"2 x"),
    ("norm2(X)^2", "X", None,
     r"\left\|X\right\|_{F}^{2}",
     r"2 X"),
    ("norm2(A*X - B)^2", "X", None,
     r"\left\|A X - B\right\|_{F}^{2}",
     r"2 A^{\top} \left(A X - B\right)"),
    ("norm1(x)", "x", None,
     r"\left\|x\right\|_{1}",
     r"\operatorname{sign}\left(x\right)"),
    ("A*B", "A", "G",
     r"A B",
     r"G B^{\top}"),
    ("A*B", "B", "G",
     r"A B",
     r"A^{\top} G"),
    ("A + B", "A", "G",
     r"A + B",
     r"G"),
    ("A .* B", "A", "G",
     r"A \odot B",
     r"B \odot G"),
    ("A'", "A", "G",
     r"A^{\top}",
     r"G^{\top}"),
    ("inv(A)", "A", "G",
     r"A^{-1}",
     r"-A^{-\top} G A^{-\top}"),
    ("solve(A, B)", "A", "G",
     r"A^{-1} B",
     r"-A^{-\top} G \left(A^{-1} B\right)^{\top}"),
    ("solve(A, B)", "B", "G",
     r"A^{-1} B",
     r"A^{-\top} G"),
    ("det(A)", "A", "gamma",
     r"\det\left(A\right)",
     r"\gamma \det\left(A\right) A^{-\top}"),
    ("kron(A, B)", "A", "G",
     r"A \otimes B",
     r"\left[\operatorname{tr}\left(G_{ij}^{\top} B\right)\right]_{ij} \quad \text{where } G_{ij} \in \mathbb{R}^{k \times p} \text{ is the block } (i, j) \text{ of } G"),
    ("exp(A)", "A", "G",
     r"\exp\left(A\right)",
     r"G \odot \exp\left(A\right)"),
    ("norm2(X*w - y)^2", "w", None,
     r"\left\|X w - y\right\|^{2}",
     r"2 X^{\top} \left(X w - y\right)"),
    ("0.5*norm2(A*x - y)^2", "A", None,
     r"\frac{1}{2} \left\|A x - y\right\|^{2}",
     r"\left(A x - y\right) x^{\top}"),
    ("norm2(X*w - y)^2 + alpha*norm2(w)^2", "w", None,
     r"\left\|X w - y\right\|^{2} + \alpha \left\|w\right\|^{2}",
     r"2 \left(X^{\top} \left(X w - y\right) + \alpha w\right)"),
    ("(y - X*w)'*W*(y - X*w) where W: symmetric", "w", None,
     r"\left(y - X w\right)^{\top} W \left(y - X w\right)",
     r"-2 X^{\top} W \left(y - X w\right)"),
    ("sum(log(exp(-y .* (X*w)) + vector(1)))", "w", None,
     r"\mathbf{1}^{\top} \log\left(\exp\left(-y \odot \left(X w\right)\right) + \mathbf{1}\right)",
     r"-X^{\top} \left(y \odot \sigma\left(-y \odot \left(X w\right)\right)\right)"),
    ("sum(softplus(-y .* (X*w)))", "w", None,
     r"\mathbf{1}^{\top} \operatorname{softplus}\left(-y \odot \left(X w\right)\right)",
     r"-X^{\top} \left(y \odot \sigma\left(-y \odot \left(X w\right)\right)\right)"),
    ("logsumexp(W*x) - y'*W*x", "W", None,
     r"\operatorname{logsumexp}\left(W x\right) - y^{\top} W x",
     r"\left(\operatorname{softmax}\left(W x\right) - y\right) x^{\top}"),
    ("-y'*log(softmax(W*x))", "W", None,
     r"-y^{\top} \log\left(\operatorname{softmax}\left(W x\right)\right)",
     r"\left(\left(\mathbf{1}^{\top} y\right) \operatorname{softmax}\left(W x\right) - y\right) x^{\top}"),
    ("sum(relu(W*x + b))", "W", None,
     r"\mathbf{1}^{\top} \operatorname{relu}\left(W x + b\right)",
     r"\operatorname{step}\left(W x + b\right) x^{\top}"),
    ("sum(sigmoid(W*x + b))", "b", None,
     r"\mathbf{1}^{\top} \sigma\left(W x + b\right)",
     r"\sigma\left(W x + b\right) \odot \left(1 - \sigma\left(W x + b\right)\right)"),
    ("norm2(W2*tanh(W1*x + b1) - y)^2", "W1", None,
     r"\left\|W_{2} \tanh\left(W_{1} x + b_{1}\right) - y\right\|^{2}",
     r"2 \left(\left(W_{2}^{\top} \left(W_{2} \tanh\left(W_{1} x + b_{1}\right) - y\right)\right) \odot \left(1 - \tanh\left(W_{1} x + b_{1}\right)^{\circ 2}\right)\right) x^{\top}"),
    ("tanh(X*W' + vector(1)*b')", "W", "G",
     r"\tanh\left(X W^{\top} + \mathbf{1} b^{\top}\right)",
     r"\left(G \odot \left(1 - \tanh\left(X W^{\top} + \mathbf{1} b^{\top}\right)^{\circ 2}\right)\right)^{\top} X"),
    ("X*W' + vector(1)*b'", "b", "G",
     r"X W^{\top} + \mathbf{1} b^{\top}",
     r"G^{\top} \mathbf{1}"),
    ("logdet(S) + x'*inv(S)*x where S: symmetric", "S", None,
     r"\log\det\left(S\right) + x^{\top} S^{-1} x",
     r"S^{-1} - S^{-1} x x^{\top} S^{-1}"),
    ("0.5*x'*A*x", "x", None,
     r"\frac{1}{2} x^{\top} A x",
     r"\frac{1}{2} \left(A + A^{\top}\right) x"),
    ("(x'*y)/norm2(x)", "x", None,
     r"\frac{x^{\top} y}{\left\|x\right\|}",
     r"\frac{y}{\left\|x\right\|} - \frac{x^{\top} y}{\left\|x\right\|^{3}} x"),
    ("1e-5*sum(X)", "X", None,
     r"10^{-5} \mathbf{1}^{\top} X \mathbf{1}",
     r"10^{-5} \mathbf{1}\mathbf{1}^{\top}"),
    ("X*X*X", "X", "G",
     r"X^{3}",
     r"G \left(X^{\top}\right)^{2} + X^{\top} G X^{\top} + \left(X^{\top}\right)^{2} G"),
    ("x ./ y", "y", "g",
     r"x \oslash y",
     r"-g \odot x \oslash y^{\circ 2}"),
    ("exp(x) ./ (vector(1) + exp(x))", "x", "g",
     r"\exp\left(x\right) \oslash \left(\mathbf{1} + \exp\left(x\right)\right)",
     r"g \odot \sigma\left(x\right) \odot \left(1 - \sigma\left(x\right)\right)"),
    ("mean(X .* X)", "X", None,
     r"\frac{\mathbf{1}^{\top} \left(X \odot X\right) \mathbf{1}}{m n}",
     r"\frac{2}{m n} X"),
    ("x'*A*x/(x'*x)", "x", None,
     r"\frac{x^{\top} A x}{x^{\top} x}",
     r"\frac{\left(A + A^{\top}\right) x}{x^{\top} x} - \frac{2 x^{\top} A x}{\left(x^{\top} x\right)^{2}} x"),
    ("kron(A, B)", "B", "G",
     r"A \otimes B",
     r"\sum_{i,j} A_{ij} G_{ij} \quad \text{where } G_{ij} \in \mathbb{R}^{k \times p} \text{ is the block } (i, j) \text{ of } G"),
    ("norm2(A*X')^2", "X", None,
     r"\left\|A X^{\top}\right\|_{F}^{2}",
     r"2 X A^{\top} A"),
    ("lambda*x'*x", "x", None,
     r"\lambda x^{\top} x",
     r"2 \lambda x"),
    ("sum(X, 0)*y", "X", None,
     r"\mathbf{1}^{\top} X y",
     r"\mathbf{1} y^{\top}"),
    ("norm2(X*w - y)^2/dim(n) where X: matrix(n, d)", "w", None,
     r"\frac{\left\|X w - y\right\|^{2}}{n}",
     r"\frac{2}{n} X^{\top} \left(X w - y\right)"),
    ("1e-3*norm2(w)^2 + sum(softplus(-y .* (X*w)))", "w", None,
     r"10^{-3} \left\|w\right\|^{2} + \mathbf{1}^{\top} \operatorname{softplus}\left(-y \odot \left(X w\right)\right)",
     r"2 \cdot 10^{-3} w - X^{\top} \left(y \odot \sigma\left(-y \odot \left(X w\right)\right)\right)"),
]


def derive(text: str, wrt: str, seed: str | None) -> tuple[Expr, Expr]:
    f, s = parse_with_seed(text, seed) if seed else (md.parse(text), None)
    w = next(v for v in f.free_symbols if v.name == wrt)
    return f, (md.grad(f, w) if s is None else md.vjp(f, w, s))


@pytest.mark.parametrize("text,wrt,seed,f_tex,d_tex", PINNED, ids=[f"{r[0]} ; {r[1]}" for r in PINNED])
def test_pinned_latex(text: str, wrt: str, seed: str | None, f_tex: str, d_tex: str) -> None:
    f, d = derive(text, wrt, seed)
    assert md.latex(f) == f_tex
    assert md.latex(d) == d_tex
    assert_paper_rules(f_tex) and assert_paper_rules(d_tex)


def test_enough_pins_and_every_identity_row_is_pinned() -> None:
    from matderiv.app import table
    rows = {(r.expr, r.wrt, r.seed) for r in table.read_rows(str(ROOT / "docs" / "identities.txt"))
            if not isinstance(r, str)}
    assert len(PINNED) >= 80 and rows <= {r[:3] for r in PINNED}


# ---- the issue's examples, one by one --------------------------------------------------------------------------
X, A = md.matrix("X", "n", "n"), md.matrix("A", "n", "n")
x, y, a = md.vector("x", "n"), md.vector("y", "n"), md.vector("a", "n")
s, n = md.scalar("s"), md.dim("n")

EXAMPLES = [
    # expression, str, LaTeX
    (0.5 * x.T @ A @ x, "0.5 * x.T @ A @ x", r"\frac{1}{2} x^{\top} A x"),  # was \left(0.5 x^{\top}\right) A x
    ((x.T @ y) / md.norm2(x), "x.T @ y / norm2(x)", r"\frac{x^{\top} y}{\left\|x\right\|}"),
    (1e-5 * md.sum(X), "1e-5 * sum(X)", r"10^{-5} \mathbf{1}^{\top} X \mathbf{1}"),
    (1.5e20 * x + md.const(Fraction(1, 3)) * y, "1.5e20 * x + y / 3", r"1.5 \cdot 10^{20} x + \frac{1}{3} y"),
    (X @ X @ X, "X @ X @ X", "X^{3}"),
    (md.grad(md.trace(X @ X @ X), X), "3 * X.T @ X.T", r"3 \left(X^{\top}\right)^{2}"),
    (2 * X / n, "2 * X / n", r"\frac{2}{n} X"),  # was 2 \cdot \frac{1}{n} X
    (x / y, "x / y", r"x \oslash y"),
    (md.exp(x) / (1 + md.exp(x)), "exp(x) / (1 + exp(x))", r"\exp\left(x\right) \oslash \left(1 + \exp\left(x\right)\right)"),
    (md.power(y, -1) * x, "x / y", r"x \oslash y"),  # the divisor first in the IR: still a quotient
    (md.mul(md.power(y, -1), 2), "2 / y", r"2 y^{\circ -1}"),
    (md.norm2(A @ X.T) ** 2, "norm2(A @ X.T)**2", r"\left\|A X^{\top}\right\|_{F}^{2}"),
    (md.sum(X, axis=0), "sum(X, axis=0)", r"\mathbf{1}^{\top} X"),
    (md.sum(X, axis=1), "sum(X, axis=1)", r"X \mathbf{1}"),
    (md.sum(X * A, axis=0), "sum(X * A, axis=0)", r"\mathbf{1}^{\top} \left(X \odot A\right)"),
    (md.sum(X.T, axis=1), "sum(X, axis=0).T", r"X^{\top} \mathbf{1}"),
    (md.sum(md.abs(x)), "sum(abs(x))", r"\left\|x\right\|_{1}"),
    (md.mean(X), "sum(X) / (n**2)", r"\frac{\mathbf{1}^{\top} X \mathbf{1}}{n^{2}}"),
    (X @ (s * A), "s * X @ A", r"s X A"),  # a scalar is never bracketed with a neighbour
    ((s * x.T) @ A @ (2 * x), "2 * s * x.T @ A @ x", r"2 s x^{\top} A x"),
    (X.T @ (-(y * md.sigmoid(x))), "-X.T @ (y * sigmoid(x))", r"-X^{\top} \left(y \odot \sigma\left(x\right)\right)"),
    (md.solve(X, 3 * x), "solve(X, 3 * x)", r"3 X^{-1} x"),
    (md.inv(X) @ md.inv(X), "inv(X) @ inv(X)", r"X^{-2}"),
    (md.trace(X) * md.inv(X).T, "trace(X) * inv(X).T", r"\operatorname{tr}\left(X\right) X^{-\top}"),
    (md.scalar("gamma") * md.det(X) * s, "gamma * s * det(X)", r"\gamma s \det\left(X\right)"),
    ((x.T @ y) * x, "(x.T @ y) * x", r"\left(x^{\top} y\right) x"),  # this bracket carries something
    (md.sqrt(s) ** -1 * x, "x / sqrt(s)", r"\frac{x}{\sqrt{s}}"),
    (md.abs(x) ** 1.5, "abs(x)**1.5", r"\left|x\right|^{\circ 3/2}"),
    (X - 0.5 * A, "X - 0.5 * A", r"X - \frac{1}{2} A"),
    (X + (-2) * (A @ X), "X - 2 * A @ X", r"X - 2 A X"),
]


@pytest.mark.parametrize("e,text,tex", EXAMPLES, ids=[t for _, t, _ in EXAMPLES])
def test_issue_examples(e: Expr, text: str, tex: str) -> None:
    assert str(e) == text
    assert md.latex(e) == tex
    assert_paper_rules(tex)


def test_kronecker_vjps_print_as_sums_of_blocks_with_a_where_line() -> None:
    Am, Bm, G = md.matrix("A", 2, 3), md.matrix("B", 4, 5), md.matrix("G", 8, 15)
    F = md.kron(Am, Bm)
    dA, dB = md.vjp(F, [Am, Bm], G)
    where = r" \quad \text{where } G_{ij} \in \mathbb{R}^{4 \times 5} \text{ is the block } (i, j) \text{ of } G"
    assert md.latex(dA) == r"\left[\operatorname{tr}\left(G_{ij}^{\top} B\right)\right]_{ij}" + where
    assert md.latex(dB) == r"\sum_{i,j} A_{ij} G_{ij}" + where
    # the notation's meaning, in numbers: (dA)ᵢⱼ = tr(Gᵢⱼᵀ B), dB = Σᵢⱼ Aᵢⱼ Gᵢⱼ over the 4×5 blocks of G
    rng = np.random.default_rng(1)
    av, bv, gv = rng.standard_normal((2, 3)), rng.standard_normal((4, 5)), rng.standard_normal((8, 15))
    blocks = [[gv[4 * i:4 * i + 4, 5 * j:5 * j + 5] for j in range(3)] for i in range(2)]
    env = {"A": av, "B": bv, "G": gv}
    np.testing.assert_allclose(reference(dA, env, {}), [[np.trace(b.T @ bv) for b in row] for row in blocks])
    np.testing.assert_allclose(reference(dB, env, {}), sum(av[i, j] * blocks[i][j] for i in range(2) for j in range(3)))
    # index names avoid the expression's symbols
    i_, j_ = md.matrix("i", 2, 3), md.matrix("j", 4, 5)
    assert md.latex(md.vjp(md.kron(i_, j_), j_, G)).startswith(r"\sum_{k,l} i_{kl} G_{kl}")


NUMBERS = [
    (2, "2"), (Fraction(1, 2), r"\frac{1}{2}"), (0.5, r"\frac{1}{2}"), (3.5, r"\frac{7}{2}"), (-0.25, r"-\frac{1}{4}"),
    (Fraction(1, 3), r"\frac{1}{3}"), (0.1, r"\frac{1}{10}"), (0.01, "10^{-2}"), (1e-5, "10^{-5}"),
    (2e-3, r"2 \cdot 10^{-3}"), (1.5e-7, r"1.5 \cdot 10^{-7}"), (1e-300, "10^{-300}"), (100000, "10^{5}"),
    (1500000, r"1.5 \cdot 10^{6}"), (12345678, "12345678"), (1000, "1000"), (123.456, "123.456"),
    (Fraction(3, 1024), r"\frac{3}{1024}"),
    # a float that is no short decimal prints as its shortest repr, never as a fraction of huge terms
    (0.1234567891234, "0.1234567891234"), (1 / 3.0, "0.3333333333333333"), (1.001, "1.001"),
    (0.0012345, r"1.2345 \cdot 10^{-3}"), (5e-324, r"5 \cdot 10^{-324}"),
    (1.7976931348623157e308, r"1.7976931348623157 \cdot 10^{308}"), (-2.2250738585072014e-308,
                                                                     r"-2.2250738585072014 \cdot 10^{-308}"),
    (10**600, "10^{600}"), (3 * 10**600, r"3 \cdot 10^{600}"), (Fraction(1, 10**400), "10^{-400}"),
    (Fraction(1, 3001), r"\frac{1}{3001}"), (Fraction(2000, 3), r"\frac{2000}{3}"),  # no finite decimal
]


@pytest.mark.parametrize("v,tex", NUMBERS, ids=[t for _, t in NUMBERS])
def test_numbers(v: Any, tex: str) -> None:
    q = md.const(v).params[0]
    assert latex_number(q) == tex
    assert Fraction(q) == Fraction(repr(v)) if isinstance(v, float) else Fraction(v)


def test_numbers_beyond_a_float_print_exactly() -> None:
    """Issue 8 review: 1e300·1e300 is the exact 10⁶⁰⁰ (no float, no OverflowError), in LaTeX, str and the command."""
    xv = md.vector("x", "n")
    e = md.parse("x*1e300*1e300")
    assert [a.params[0] for a in e.args[1:]] == [10**300, 10**300]
    assert md.latex(e) == "10^{600} x" and str(e) == "1e600 * x"
    assert md.latex(md.parse("0.1234567891234*x")) == "0.1234567891234 x"
    assert md.latex(md.const(1 / 3.0) * xv) == "0.3333333333333333 x"
    assert md.latex(md.parse("(1/3.0)*x")) == r"\frac{1}{3} x"  # the language's 1/3.0 is the exact third
    assert str(md.const(1.7976931348623157e308) * xv) == "1.7976931348623157e308 * x"
    assert str(md.const(5e-324) * xv) == "5e-324 * x" and str(md.const(Fraction(-1, 3)) * xv) == "-x / 3"


def test_the_command_prints_numbers_beyond_a_float(capsys: pytest.CaptureFixture[str]) -> None:
    from matderiv.app.cli import main
    assert main(["grad", "1e300*1e300*x'*x", "--no-check"]) == 0
    out = capsys.readouterr().out
    assert r"= 2 \cdot 10^{600} x" in out and "return 2e600 * x" in out
    assert "input   1e300*1e300*x'*x" in out
    assert f"df/dx   {2 * 10**600}*x" in out  # the text language writes what it reads back: an exact integer


def test_equal_scalar_factors_are_a_power() -> None:
    """Issue 8 review F: s/(t t) = s/t², s s x = s² x, t t² = t³, (xᵀx)(xᵀx) = (xᵀx)² (scalars commute)."""
    sv, tv, uv, xv = md.scalar("s"), md.scalar("t"), md.scalar("u"), md.vector("x", "n")
    assert md.latex(sv / (tv * tv)) == r"\frac{s}{t^{2}}" and str(sv / (tv * tv)) == "s / t**2"
    assert md.latex(sv / tv / tv) == r"\frac{s}{t^{2}}" and md.latex(sv / (tv * uv)) == r"\frac{s}{t u}"
    assert md.latex(sv * sv * xv) == "s^{2} x" and str(sv * sv * xv) == "s**2 * x"
    assert md.latex(sv * tv ** 2 * tv) == "s t^{3}"
    assert md.latex((xv.T @ xv) * (xv.T @ xv) * xv) == r"\left(x^{\top} x\right)^{2} x"
    assert md.latex_differential(sv * sv * xv, "s") == \
        r"\mathrm{d}\left(s^{2} x\right) = 2 \left(\mathrm{d}s\right) s x"


# ---- the rules, on every printed string --------------------------------------------------------------------------
def _groups_after(s: str, i: int) -> list[str]:
    """The brace groups {…}{…} that start at s[i]."""
    out = []
    while i < len(s) and s[i] == "{":
        depth, j = 0, i
        while True:
            depth += {"{": 1, "}": -1}.get(s[j], 0)
            if depth == 0:
                break
            j += 1
        out.append(s[i + 1:j])
        i = j + 1
    return out


def _wholly_bracketed(g: str) -> bool:
    if not (g.startswith(r"\left(") and g.endswith(r"\right)")):
        return False
    depth = 0
    for m in re.finditer(r"\\left|\\right", g):
        depth += 1 if m.group() == r"\left" else -1
        if depth == 0 and m.end() + 1 < len(g):
            return False  # \left(a\right) \left(b\right): two groups
    return True


def assert_paper_rules(tex: str) -> bool:
    assert r"\operatorname{sum}" not in tex and "blocksum" not in tex and "blockdot" not in tex, tex
    assert not re.search(r"\^\{\\circ -1\} \\odot", tex), tex  # quotients as ⊘ or fractions
    assert r"\cdot \frac" not in tex and r"1 \cdot 10" not in tex and r"\left(-1\right)" not in tex, tex
    for m in re.finditer(r"\\frac", tex):
        for g in _groups_after(tex, m.end()):
            assert not _wholly_bracketed(g), tex  # \frac{\left(x^{\top} y\right)}{…}
    assert r"\right)^{\circ 2}" not in tex or r"\right\|\right)" not in tex, tex  # (‖x‖)^2
    return True


# ---- the printers' reordering keeps the value ---------------------------------------------------------------------
SIZES = {"n": 3, "m": 2}
N, M = sympy.Symbol("n", integer=True, positive=True), sympy.Symbol("m", integer=True, positive=True)
LEAVES = {(N, N): ["A", "S"], (N, M): ["B"], (M, N): ["C"], (N, ONE): ["x", "z"], (M, ONE): ["v"],
          (ONE, N): ["r"], (ONE, ONE): ["s", "t"], (M, M): ["D"]}
FACTORS = [2, -1, Fraction(1, 2), Fraction(-1, 3), Fraction(1, 100000), Fraction(3, 2), -3]


def random_expr(rng: random.Random, shape: tuple[Any, Any], depth: int) -> Expr:
    """A random expression of ``shape`` rich in products with numbers and scalars inside them."""
    r, c = shape
    if depth == 0 or rng.random() < 0.15:
        name = rng.choice(LEAVES[shape]) if shape in LEAVES else None
        if name is None:
            return md.ones(r, c) if rng.random() < 0.5 else md.symbol("K", r, c)
        return md.symbol(name, r, c, symmetric=name == "S")
    sub = lambda shp: random_expr(rng, shp, depth - 1)  # noqa: E731
    kinds = ["scale", "scale", "mul", "smul", "matmul", "matmul", "div", "add", "neg", "T", "apply", "pow"]
    if shape == (ONE, ONE):
        kinds += ["sum", "norm", "trace", "quad"]
    if r == c and r != ONE:
        kinds += ["solve", "inv"]
    kind = rng.choice(kinds)
    if kind == "scale":
        return md.mul(rng.choice(FACTORS), sub(shape)) if rng.random() < 0.5 else md.mul(sub(shape), rng.choice(FACTORS))
    if kind == "mul":
        return sub(shape) * sub(shape)
    if kind == "smul":
        return sub((ONE, ONE)) * sub(shape)
    if kind == "matmul":
        k = rng.choice([N, M, ONE])
        return sub((r, k)) @ sub((k, c))
    if kind == "div":
        full = rng.random() < 0.5
        d = md.exp(sub(shape if full else (ONE, ONE)))  # a positive divisor
        return md.const(rng.choice([2, 3])) * d ** -1 if full and rng.random() < 0.3 else sub(shape) / d
    if kind == "add":
        return sub(shape) + sub(shape) if rng.random() < 0.5 else sub(shape) - sub(shape)
    if kind == "neg":
        return -sub(shape)
    if kind == "T":
        return sub((c, r)).T
    if kind == "apply":
        return md.apply(rng.choice(["sin", "tanh", "sigmoid"]), sub(shape))
    if kind == "pow":
        return sub(shape) ** rng.choice([2, 3])
    if kind == "sum":
        return md.sum(sub(rng.choice([(N, M), (N, ONE), (ONE, N)])))
    if kind == "norm":
        return md.norm2(sub((N, ONE)))
    if kind == "trace":
        return md.trace(sub((N, N)))
    if kind == "quad":
        return sub((N, ONE)).T @ sub((N, N)) @ sub((N, ONE))
    name = "A" if r == N else "D"  # well-conditioned leaves (see values)
    if kind == "solve":
        return md.solve(md.symbol(name, r, r), sub(shape))
    return md.inv(md.symbol(name, r, r))


def values(e: Expr, rng: np.random.Generator) -> dict[str, np.ndarray]:
    out = {}
    for v in e.free_symbols:
        shape = tuple(SIZES[str(d)] if not d.is_Integer else int(d) for d in v.shape)
        val = rng.uniform(0.2, 0.8, shape)
        if v.name in ("A", "D"):
            val = 2 * np.eye(shape[0]) + 0.2 * val  # well conditioned
        if v.name == "S":
            val = (val + val.T) / 2
        out[v.name] = val
    return out


def _blocks(g: np.ndarray, p: int, q: int) -> list[list[np.ndarray]]:
    return [[g[i:i + p, j:j + q] for j in range(0, g.shape[1], q)] for i in range(0, g.shape[0], p)]


def numpy_namespace(env: dict[str, np.ndarray]) -> dict[str, Any]:
    """What the names of ``str`` output mean, written by hand in numpy on 2-D arrays (vectors are columns)."""
    def keep(a: np.ndarray, axis: int | None, f: Any) -> np.ndarray:
        return np.array([[f(a)]]) if axis is None else f(a, axis=axis, keepdims=True)

    def lse(a: np.ndarray, axis: int | None = None) -> np.ndarray:
        return keep(a, axis, lambda v, **k: np.log(np.exp(v).sum(**k)))

    ns: dict[str, Any] = {
        "ones": lambda r, c=1: np.ones((r, c)), "zeros": lambda r, c=1: np.zeros((r, c)), "eye": np.eye,
        "sum": lambda a, axis=None: keep(a, axis, np.sum), "trace": lambda a: np.array([[np.trace(a)]]),
        "det": lambda a: np.array([[np.linalg.det(a)]]), "inv": np.linalg.inv, "solve": np.linalg.solve,
        "norm2": lambda a: np.array([[np.sqrt((a ** 2).sum())]]), "logsumexp": lse,
        "softmax": lambda a, axis=None: np.exp(a - lse(a, axis)), "exp": np.exp, "log": np.log, "sin": np.sin,
        "cos": np.cos, "tanh": np.tanh, "sqrt": np.sqrt, "abs": np.abs, "sign": np.sign,
        "sigmoid": lambda a: 1 / (1 + np.exp(-a)),
        "kron": np.kron, "blocksum": lambda g, a: sum(a[i, j] * b for i, row in enumerate(_blocks(
            g, g.shape[0] // a.shape[0], g.shape[1] // a.shape[1])) for j, b in enumerate(row)),
    }
    return {**ns, **SIZES, **env}


def rebuilt(p: Product) -> Expr:
    """The value a :class:`Product` stands for, as an expression: c · Π scalars / Π den · core."""
    def core(c: Any) -> Expr:
        if isinstance(c, Chain):
            return md.matmul(*map(core, c.factors))
        if isinstance(c, Hadamard):
            return md.mul(*map(core, c.factors), *[md.power(b, -q) for b, q in c.divisors])
        return c
    parts: list[Any] = [md.const(p.coeff)] + [core(f) for f in p.scalars] + [md.power(b, -q) for b, q in p.den]
    if p.core is not None:
        parts.append(core(p.core))
    return md.mul(*parts)


def _close(got: np.ndarray, want: np.ndarray, what: str) -> None:
    """Equal to rounding, where the reference is finite; overflowing where it overflows."""
    finite = np.isfinite(want)
    scale = 1 + float(np.abs(want[finite]).max(initial=0))
    assert got.shape == want.shape and np.array_equal(np.isfinite(got), finite), what
    assert np.allclose(got[finite], want[finite], rtol=1e-9, atol=1e-9 * scale), what


def _case(k: int) -> Expr:
    rng = random.Random(k)
    return random_expr(rng, rng.choice([(N, N), (N, M), (N, ONE), (ONE, ONE), (ONE, N)]), 4)


CASES = [_case(k) for k in range(200)]


@pytest.mark.parametrize("k", range(len(CASES)))
def test_printed_text_and_the_latex_decomposition_keep_the_value(k: int) -> None:
    rng = np.random.default_rng(k)
    for e in (CASES[k], md.simplify(CASES[k])):
        env = values(e, rng)
        want = reference(e, env, SIZES)
        text = str(e)
        got = np.asarray(eval(text, {"__builtins__": {}}, numpy_namespace(env)), dtype=float)  # our own output
        _close(np.broadcast_to(got, want.shape) if got.size == 1 else got, want, f"{text}")
        printer = LatexPrinter()
        for node in [e] + list(e.args):
            if node.op in ("mul", "matmul", "solve", "sum"):
                p = split_product(node, printer.chain_of, exact=True)
                _close(reference(rebuilt(p), env, SIZES), reference(node, env, SIZES), f"{node} as {p}")
        assert_paper_rules(md.latex(e))


# ---- every pinned string renders in KaTeX (strict) -----------------------------------------------------------------


def test_every_pinned_formula_renders_in_katex_strict() -> None:
    strings = [t for r in PINNED for t in r[3:]] + [t for _, _, t in EXAMPLES]
    strings += [md.latex(e) for e in CASES[:100]]
    strings += [t for _, t in NUMBERS]
    strings += [md.latex_equation(*derive(r[0], r[1], r[2])[:1], r[1], seed=parse_with_seed(r[0], r[2])[1])
                for r in PINNED if r[2]]
    assert katex_errors(strings) == []
