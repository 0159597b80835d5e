"""Issue 2 item 8: every mistake a user can make raises a ``md.MatderivError`` subclass naming the culprit."""
from __future__ import annotations

import re
from typing import Callable

import numpy as np
import pytest
import sympy

import matderiv as md

X = md.matrix("X", 2, 3)
A = md.matrix("A", 3, 3)
v = md.vector("v", 3)

# (id, call, error class, regexes the message must contain)
ERRORS: list[tuple[str, Callable[[], object], type[Exception], list[str]]] = [
    # shape mismatches name both operands and their shapes
    ("matmul", lambda: X @ md.matrix("Y", 2, 2), md.ShapeError, [r"'X' \(2×3\)", r"'Y' \(2×2\)"]),
    ("vector@vector", lambda: v @ md.vector("w", 3), md.ShapeError, [r"'v' \(3×1\)", r"'w' \(3×1\)"]),
    ("add", lambda: X + md.matrix("Y", 3, 2), md.ShapeError, [r"'X' \(2×3\)", r"'Y' \(3×2\)"]),
    ("add-symbolic", lambda: md.matrix("P", "n", "m") + md.matrix("Q", "m", "n"), md.ShapeError,
     [r"'P' \(n×m\)", r"'Q' \(m×n\)"]),
    ("broadcast-column", lambda: X - v, md.ShapeError, [r"'X' \(2×3\)", r"'-?v' \(3×1\)"]),
    ("hadamard", lambda: X * A, md.ShapeError, [r"'X' \(2×3\)", r"'A' \(3×3\)"]),
    ("solve", lambda: md.solve(A, X), md.ShapeError, [r"'A' \(3×3\)", r"'X' \(2×3\)"]),
    ("same-name-two-shapes", lambda: X + md.matrix("X", 3, 2).T, md.ShapeError, [r"'X'", "2×3", "3×2"]),
    ("grad-wrt-other-shape", lambda: md.grad(md.sum(X), md.matrix("X", 3, 3)), md.ShapeError,
     [r"'X' \(3×3\)", r"'X' \(2×3\)"]),
    ("vjp-seed-shape", lambda: md.vjp(X, X, md.ones(3, 2)), md.ShapeError, [r"\(3×2\)", r"'X' \(2×3\)"]),
    *[(f"{name}-not-square", (lambda f: lambda: f(X))(getattr(md, name)), md.ShapeError, [name, r"'X' \(2×3\)"])
      for name in ("trace", "det", "logdet", "inv")],
    ("diag", lambda: md.diag(X), md.ShapeError, [r"'X' \(2×3\)"]),
    ("softmax", lambda: md.softmax(X), md.ShapeError, [r"'X' \(2×3\)"]),
    ("exponent", lambda: X ** md.matrix("E", 2, 3), md.ShapeError, [r"'E' \(2×3\)"]),
    ("symmetric-not-square", lambda: md.matrix("S", 2, 3, symmetric=True), md.ShapeError, ["'S'", "2×3"]),
    ("dimension-0", lambda: md.matrix("Z", 0, 3), md.ShapeError, ["0"]),
    ("dimension-negative", lambda: md.ones(-2), md.ShapeError, ["-2"]),
    # derivatives
    ("grad-wrt-transpose", lambda: md.grad(md.sum(X), X.T), md.DerivativeError, [r"'X\.T'"]),
    ("grad-wrt-expression", lambda: md.grad(md.sum(X), X + 1), md.DerivativeError, [r"'X \+ 1'"]),
    ("grad-wrt-constant", lambda: md.grad(md.sum(X), md.ones(2, 3)), md.DerivativeError, [r"ones\(2, 3\)"]),
    ("grad-of-matrix", lambda: md.grad(A @ X.T, X), md.DerivativeError,
     [r"'A @ X\.T' \(3×2\)", "seed", re.escape("md.vjp(F, 'X', md.ones_like(F))")]),
    ("grad-of-matrix-by-name", lambda: md.grad(X, "X"), md.DerivativeError, [re.escape("md.vjp(F, 'X', ")]),
    ("latex-equation-of-matrix", lambda: md.latex_equation(X, X), md.DerivativeError, ["md.vjp"]),
    ("grad-wrt-unknown-name", lambda: md.grad(md.sum(X), "Y"), md.MatderivError, ["'Y'", "X"]),
    ("user-fn-not-differentiable", lambda: md.grad(md.sum(md.elementwise("g", lambda t: sympy.Function("h")(t))(X)),
                                                   X), md.DerivativeError, ["'g'"]),
    # names
    *[(f"name-{name!r}", (lambda nm: lambda: md.matrix(nm, 2, 2))(name), md.InvalidNameError, [re.escape(repr(name))])
      for name in ("1X", "a-b", "x y", "", "_hidden")],
    # a symbol may be called lambda or if (generated code renames it); dimension and function names may not
    ("dimension-keyword", lambda: md.vector("v", "if"), md.InvalidNameError, ["'if'", "keyword"]),
    ("function-keyword", lambda: md.elementwise("lambda", lambda t: t), md.InvalidNameError, ["'lambda'", "keyword"]),
    ("scalar-non-str", lambda: md.scalar(3), md.InvalidNameError, ["3"]),
    ("dimension-name", lambda: md.matrix("M", "n m", 2), md.InvalidNameError, ["'n m'"]),
    ("function-name", lambda: md.elementwise("my fn", lambda t: t), md.InvalidNameError, ["'my fn'"]),
    # non-expression arguments
    ("trace-of-str", lambda: md.trace("X"), md.ArgumentError, ["str", "'X'"]),
    ("add-str", lambda: X + "a", md.ArgumentError, ["'a'"]),
    ("mul-None", lambda: X * None, md.ArgumentError, ["None"]),
    ("add-list", lambda: [1, 2] + X, md.ArgumentError, [r"\[1, 2\]"]),
    ("add-ndarray", lambda: X + np.ones((2, 3)), md.ArgumentError, ["ndarray"]),
    ("kron-str", lambda: md.kron(X, "B"), md.ArgumentError, ["'B'"]),
    ("grad-of-str", lambda: md.grad("f", X), md.ArgumentError, ["'f'"]),
    ("grad-wrt-int", lambda: md.grad(md.sum(X), 3), md.ArgumentError, ["3"]),
    ("grad-wrt-None-in-list", lambda: md.grad(md.sum(X), [X, None]), md.ArgumentError, ["None"]),
    ("vjp-seed-str", lambda: md.vjp(X, X, "G"), md.ArgumentError, ["'G'"]),
    ("latex-of-str", lambda: md.latex("X"), md.ArgumentError, ["'X'"]),
    ("simplify-of-str", lambda: md.simplify("X"), md.ArgumentError, ["'X'"]),
    ("const-of-str", lambda: md.const("a"), md.ArgumentError, ["'a'"]),
    ("const-nan", lambda: X * float("nan"), md.ArgumentError, ["nan"]),
    ("const-inf", lambda: X + float("inf"), md.ArgumentError, ["inf"]),
    ("dimension-float", lambda: md.matrix("M", 2.5, 2), md.ArgumentError, ["2.5"]),
    ("dimension-bool", lambda: md.vector("w", True), md.ArgumentError, ["True"]),
    ("dimension-None", lambda: md.matrix("M", 2, None), md.ArgumentError, ["None"]),
    ("exponent-str", lambda: X ** "2", md.ArgumentError, ["'2'"]),
    ("unknown-function", lambda: md.apply("nosuch", X), md.ArgumentError, ["'nosuch'"]),
    ("elementwise-not-sympy", lambda: md.elementwise("f", 3), md.ArgumentError, ["'f'", "3"]),
    ("elementwise-two-symbols", lambda: md.elementwise("f", sympy.Symbol("x") * sympy.Symbol("y")), md.ArgumentError,
     ["'f'"]),
    ("elementwise-lambda-fails", lambda: md.elementwise("f", lambda t, u: t), md.ArgumentError, ["'f'"]),
    ("name-of-non-symbol", lambda: (X + 1).name, md.ArgumentError, [r"X \+ 1"]),
    # '@' with a plain number
    ("matmul-number", lambda: X @ 2, md.ArgumentError, ["'@'", "2", r"'\*'"]),
    ("rmatmul-number", lambda: 2.5 @ X, md.ArgumentError, ["'@'", "2.5"]),
]


@pytest.mark.parametrize("call,cls,patterns", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_error(call: Callable[[], object], cls: type[Exception], patterns: list[str]) -> None:
    with pytest.raises(cls) as info:
        call()
    assert isinstance(info.value, md.MatderivError)
    for p in patterns:
        assert re.search(p, str(info.value)), f"{p!r} not in {str(info.value)!r}"


def test_error_classes() -> None:
    for cls in (md.ShapeError, md.DerivativeError, md.ArgumentError, md.InvalidNameError, md.ParseError,
                md.CheckError):
        assert issubclass(cls, md.MatderivError)


def test_lambdify_missing_a_value() -> None:
    Xm, a, weights = md.matrix("X", 2, 3), md.vector("a", 2), md.vector("weights", 3)
    with pytest.raises(md.MatderivError, match="weights"):
        md.lambdify([a, Xm], a.T @ Xm @ weights)


def test_check_missing_a_value() -> None:
    Xm, a, weights = md.matrix("X", 2, 3), md.vector("a", 2), md.vector("weights", 3)
    at = {a: np.ones(2), Xm: np.ones((2, 3))}
    with pytest.raises(md.MatderivError, match="weights"):
        md.check(a.T @ Xm @ weights, Xm, at=at)


def test_grad_of_a_matrix_by_a_non_symbol_says_a_seed_is_needed() -> None:
    X, Y = md.matrix("X", 2, 2), md.matrix("Y", 2, 2)
    with pytest.raises(md.DerivativeError, match=r"md\.vjp\(F, 'X', md\.ones_like\(F\)\)"):
        md.grad(X @ X, X @ Y)


def test_division_by_the_number_zero() -> None:
    with pytest.raises(md.ParseError, match=r"division by zero(.|\n)*column 2"):
        md.parse("1/0*x'*x")


def test_review_findings_raise_clear_errors() -> None:
    A = md.matrix("A", 2, 2)
    with pytest.raises(md.DerivativeError, match="the seed A depends on 'A'"):
        md.vjp(md.exp(A), A, A)  # a seed is held constant, as in F.backward(seed)
    with pytest.raises(md.ArgumentError, match="'exp' is a built-in function"):
        md.elementwise("exp", lambda u: u ** 2)  # would print as exp and parse back as the built-in
    with pytest.raises(md.ShapeError, match="not positive"):
        md.matrix("P", -sympy.Symbol("k"), 2)
    X = md.matrix("X", "n", "m")
    with pytest.raises(md.ArgumentError, match="uses 'Q', which the expression does not"):
        md.check(md.sum(X), X, grad=md.matrix("Q", "n", "m"))
    long = md.matrix("X", 3, 3)
    for _ in range(6):
        long = long @ long + long
    with pytest.raises(md.ShapeError) as info:
        long @ md.vector("v", 4)
    assert len(str(info.value)) < 400 and " … " in str(info.value)  # a long operand is named, cut in the middle
