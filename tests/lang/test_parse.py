"""The text language: md.parse and md.to_text.

Numbers are checked against hand-written numpy (the function of each MatrixCalculus.org example, float64 central
differences) through a small numpy interpreter of the IR written here, independent of matderiv's code generator.
The round trip md.parse(md.to_text(e)) == e is a hypothesis property over random well-shaped expressions.
"""
from __future__ import annotations

from fractions import Fraction

from typing import Any, Callable

import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import matderiv as md
from conftest import reference
from matderiv import ops
from matderiv.core.expr import ONE, Expr, as_dim

# ---- values of the IR, by the independent numpy interpreter of tests/conftest.py ------------------------------------
SIZES = {"n": 5, "m": 3, "k": 4, "p": 2, "q": 3}


def size(d: sympy.Expr) -> int:
    return int(sympy.sympify(d).subs({sympy.Symbol(k, integer=True, positive=True): v for k, v in SIZES.items()}))


def evaluate(e: Expr, vals: dict[str, np.ndarray]) -> np.ndarray:
    """The value of ``e`` (2-D) with symbols from ``vals``: the shared interpreter of tests/conftest.py."""
    return reference(e, vals, SIZES)


def values_for(e: Expr, rng: np.random.Generator, square_ok: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Random values; the symbols in ``square_ok`` get 2I + 0.3·noise (invertible, positive determinant)."""
    out = {}
    for s in sorted(e.free_symbols, key=lambda s: s.name):
        shape = tuple(size(d) for d in s.shape)
        if s.name in square_ok:
            out[s.name] = 2 * np.eye(shape[0]) + 0.3 * rng.standard_normal(shape)
        else:
            out[s.name] = rng.standard_normal(shape)
    return out


H = 1e-5
RTOL = 1e-7


def assert_gradient(f: Callable[[dict[str, np.ndarray]], float], vals: dict[str, np.ndarray], name: str,
                    g: np.ndarray, rng: np.random.Generator) -> None:
    """⟨G, D⟩ equals the float64 central difference of the hand-written f along random unit directions D."""
    assert g.shape == vals[name].shape
    for _ in range(3):
        d = rng.standard_normal(g.shape)
        d /= np.linalg.norm(d)
        plus, minus = dict(vals), dict(vals)
        plus[name], minus[name] = vals[name] + H * d, vals[name] - H * d
        fd = (float(f(plus)) - float(f(minus))) / (2 * H)
        an = float(np.sum(g * d))
        assert abs(fd - an) <= RTOL * max(1.0, abs(an), float(np.linalg.norm(g))), (name, an, fd)


# ---- MatrixCalculus.org's documented examples ----------------------------------------------------------------------
def _f(expr: Callable[..., Any]) -> Callable[[dict[str, np.ndarray]], float]:
    names = expr.__code__.co_varnames[:expr.__code__.co_argcount]
    return lambda v: float(np.asarray(expr(*(v[k] for k in names))).reshape(()))


EXAMPLES: list[tuple[str, Callable[[dict[str, np.ndarray]], float], tuple[str, ...]]] = [
    ("x'*A*x", _f(lambda x, A: x.T @ A @ x), ()),
    ("0.5*x'*A*x", _f(lambda x, A: 0.5 * x.T @ A @ x), ()),
    ("norm2(A*x-y)^2", _f(lambda A, x, y: np.linalg.norm(A @ x - y) ** 2), ()),
    ("sum(log(exp(-y.*(X*w)) + vector(1)))", _f(lambda y, X, w: np.sum(np.log(np.exp(-y * (X @ w)) + 1))), ()),
    ("tr(A*X'*B*X*C)", _f(lambda A, X, B, C: np.trace(A @ X.T @ B @ X @ C)), ()),
    ("log(det(inv(X)))", _f(lambda X: np.log(np.linalg.det(np.linalg.inv(X)))), ("X",)),
    ("exp(x)'*A*exp(x)", _f(lambda x, A: np.exp(x).T @ A @ np.exp(x)), ()),
    ("logdet(X'*X)", _f(lambda X: np.log(np.linalg.det(X.T @ X))), ()),
    ("sum(relu(W*x + b))", _f(lambda W, x, b: np.sum(np.maximum(W @ x + b, 0))), ()),
    ("a'*inv(X)*b", _f(lambda a, X, b: a.T @ np.linalg.inv(X) @ b), ("X",)),
]


@pytest.mark.parametrize("text,f,square", EXAMPLES, ids=[t for t, _, _ in EXAMPLES])
def test_matrixcalculus_examples_parse_and_differentiate(text: str, f: Callable, square: tuple[str, ...]) -> None:
    rng = np.random.default_rng(7)
    e = md.parse(text)
    assert e.is_scalar
    vals = values_for(e, rng, square)
    if "relu" in text:  # keep W x + b away from the kink
        pre = vals["W"] @ vals["x"] + vals["b"]
        vals["b"] = vals["b"] + np.sign(pre) * 0.5
    assert np.isclose(evaluate(e, vals)[0, 0], f(vals), rtol=1e-12, atol=1e-12)
    for s in sorted(e.free_symbols, key=lambda s: s.name):
        g = md.grad(e, s.name)  # names work where a symbol is expected
        assert g.shape == s.shape
        assert_gradient(f, vals, s.name, evaluate(g, vals), rng)
        assert md.parse(md.to_text(g)) == g  # every derivative prints back to itself
    assert md.parse(md.to_text(e)) == e


@pytest.mark.parametrize("text", [t for t, _, _ in EXAMPLES])
def test_matrixcalculus_examples_certify(text: str) -> None:
    e = md.parse(text)
    dims = {str(d): SIZES[str(d)] for s in e.free_symbols for d in s.shape if d.is_Symbol}  # logdet(X'X): n ≥ m
    for s in sorted(e.free_symbols, key=lambda s: s.name):
        report = md.check(e, s.name, at=dims, dps=30)
        assert report.ok, str(report)


def test_examples_give_textbook_gradients() -> None:
    """Matrix Cookbook (C 81) d/dx xᵀAx = (A + Aᵀ)x and d/dA xᵀAx = xxᵀ; (C 70) d/dX aᵀXb = abᵀ."""
    e = md.parse("x'*A*x")
    A = next(s for s in e.free_symbols if s.name == "A")
    vals = {"x": np.arange(1.0, 6.0)[:, None], "A": np.arange(25.0).reshape(5, 5)}
    assert np.allclose(evaluate(md.grad(e, "x"), vals), (vals["A"] + vals["A"].T) @ vals["x"], rtol=1e-14)
    assert np.allclose(evaluate(md.grad(e, A), vals), vals["x"] @ vals["x"].T, rtol=1e-14)
    e = md.parse("a'*X*b")
    vals = {"a": np.array([[1.0], [2], [3], [4], [5]]), "X": np.ones((5, 3)), "b": np.array([[2.0], [3], [4]])}
    assert np.array_equal(evaluate(md.grad(e, "X"), vals), vals["a"] @ vals["b"].T)


# ---- the language: parsing, precedence and inference ------------------------------------------------------------
def shapes(e: Expr) -> dict[str, tuple[str, str]]:
    return {s.name: (str(s.shape[0]), str(s.shape[1])) for s in e.free_symbols}


def test_dimensions_are_inferred_and_named_in_order_of_appearance() -> None:
    assert shapes(md.parse("a'*X*b")) == {"a": ("n", "1"), "X": ("n", "m"), "b": ("m", "1")}
    assert shapes(md.parse("tr(A*X'*B*X*C)")) == {"A": ("n", "m"), "X": ("k", "m"), "B": ("k", "k"),
                                                  "C": ("m", "n")}
    # names that are symbols are skipped; declared dimension names are not reused
    assert shapes(md.parse("n'*X*b")) == {"n": ("m", "1"), "X": ("m", "k"), "b": ("k", "1")}
    assert shapes(md.parse("x'*A*y where x: vector(n)")) == {"x": ("n", "1"), "A": ("n", "m"), "y": ("m", "1")}
    assert shapes(md.parse("x'*A*y where A: matrix(m, 3)")) == {"x": ("m", "1"), "A": ("m", "3"), "y": ("3", "1")}


def test_polymorphic_constants_take_the_shape_they_must_have() -> None:
    n, m = as_dim("n"), as_dim("m")
    y = md.vector("y", n)
    X, w = md.matrix("X", n, m), md.vector("w", m)
    assert md.parse("y + vector(1)") == y + md.ones(n)
    assert md.parse("sum(log(exp(-y.*(X*w)) + vector(1)))") == md.sum(md.log(md.exp(-y * (X @ w)) + md.ones(n)))
    assert md.parse("X + matrix(0)") == X + md.zeros(n, m)
    assert md.parse("X + matrix(2)") == X + 2 * md.ones(n, m)
    assert md.parse("X*eye") == X @ md.eye(m)
    assert md.parse("x'*eye*x") == md.vector("x", n).T @ md.eye(n) @ md.vector("x", n)
    assert md.parse("sum(vector(1))") == md.sum(md.ones(n))
    # explicit sizes (an extension: MatrixCalculus.org always infers them)
    assert md.parse("vector(1, 3)'*x") == md.ones(3).T @ md.vector("x", 3)
    assert md.parse("matrix(0, 1, n)") == md.zeros(1, n)
    assert md.parse("eye(2*k)") == md.eye(2 * as_dim("k"))


def test_types_from_names_where_clause_and_keywords() -> None:
    n = as_dim("n")
    A, x = md.matrix("A", n, n), md.vector("x", n)
    assert md.parse("x'*A*x") == x.T @ A @ x
    S = md.matrix("A", n, n, symmetric=True)
    assert md.parse("x'*A*x where A: symmetric") == x.T @ S @ x
    assert md.parse("x'*A*x where A: symmetric matrix") == x.T @ S @ x
    assert md.parse("x'*A*x", A="symmetric") == x.T @ S @ x
    assert md.parse("x'*A*x", x="vector(3)") == md.vector("x", 3).T @ md.matrix("A", 3, 3) @ md.vector("x", 3)
    assert md.parse("x'*A*x", A=md.matrix("A", 2, 2)) == md.parse("x'*A*x where A: matrix(2, 2)")
    assert md.parse("x'*A*x where x: vector(n), A: matrix(n)") == x.T @ A @ x
    # Greek names are scalars, lower-case names vectors, upper-case ones matrices
    for name in ("alpha", "lambda_", "sigma2", "beta_hat", "\u03b1"):
        assert md.parse(f"{name}*x").args[0] == md.scalar(name)
    # lambda keeps its name (a symbol may be called like a Python keyword), printed λ
    assert md.parse("lambda*x").args[0] == md.scalar("lambda")
    assert md.parse("lambda*x where lambda: scalar") == md.parse("lambda*x")
    assert md.parse("lambda_*x").args[0] == md.scalar("lambda_")  # another name
    assert md.latex(md.parse("lambda*x")) == r"\lambda x"
    assert md.parse("alphas").shape == (n, ONE)
    s = md.scalar("s")
    assert md.parse("s*X where s: scalar") == s * md.matrix("X", n, as_dim("m"))
    assert md.parse("u'*Q*v where u, v: vector(3), Q: matrix") == (
        md.vector("u", 3).T @ md.matrix("Q", 3, 3) @ md.vector("v", 3))
    assert md.parse("x where x: vector(n*p)").shape == (n * as_dim("p"), ONE)


def test_star_is_the_matrix_product_unless_a_side_is_1x1() -> None:
    n, m = as_dim("n"), as_dim("m")
    x, y, z, A = md.vector("x", n), md.vector("y", n), md.vector("z", m), md.matrix("A", n, n)
    assert md.parse("x'*y*z") == (x.T @ y) * z           # a 1×1 product scales (z keeps its own size)
    ym = md.vector("y", m)
    assert md.parse("x*y'*y") == x @ ym.T @ ym           # an outer product, then a matrix product
    assert md.parse("2*x") == md.mul(2, x)
    assert md.parse("x'*A*x*0.5") == (x.T @ A @ x) * 0.5
    assert md.parse("0.5*x'*A*x") == (0.5 * x.T) @ A @ x
    assert md.parse("X/2") == md.matrix("X", n, m) / 2
    assert md.parse("x'*y @ z'") == md.matmul(x.T, y, z.T)  # '@' is always the matrix product
    assert md.parse("x @ s where s: scalar") == md.matmul(x, md.scalar("s"))


def test_powers() -> None:
    n = as_dim("n")
    X, x = md.matrix("X", n, n), md.vector("x", n)
    assert md.parse("X^3") == X @ X @ X
    assert md.parse("X^-1") == md.inv(X)
    assert md.parse("X^-2") == md.inv(X) @ md.inv(X)
    assert md.parse("X^0") == md.eye(n)
    assert md.parse("norm2(x)^2") == md.norm2(x) ** 2
    assert md.parse("x.^2") == x ** 2
    assert md.parse("x.^-0.5") == x ** -0.5
    assert md.parse("X.^2").shape == (n, as_dim("m"))  # elementwise: no squareness needed
    alpha = md.scalar("alpha")
    assert md.parse("x.^alpha") == md.power(x, alpha)


def test_precedence_follows_matlab() -> None:
    n = as_dim("n")
    x, y, z = (md.vector(c, n) for c in "xyz")
    assert md.parse("-x.^2") == -(x ** 2)                # unary minus binds looser than powers
    assert md.parse("-2^2") == -(md.const(2) ** 2)
    assert md.parse("-2*x") == md.mul(-2, x)             # the number −2
    assert md.parse("x - 2") == md.add(x, -2)
    assert md.parse("x.^2'") == (x ** 2).T               # ' and ^ apply left to right
    assert md.parse("x'.^2") == x.T ** 2
    assert md.parse("A*B'") == md.matrix("A", n, as_dim("m")) @ md.matrix("B", as_dim("k"), as_dim("m")).T
    assert md.parse("x - y - z") == x - y - z
    assert md.parse("x + y .* z") == x + y * z
    assert md.parse("x ./ y.^2") == x / y ** 2
    assert md.parse("(x + y)'*z") == (x + y).T @ z
    assert md.parse("2^-1") == md.const(2) ** -1
    assert md.parse("x*-2") == md.mul(x, -2)
    assert md.parse("x .' * y") == x.T @ y
    assert md.parse("1e-3*x + .5*y") == md.mul(1e-3, x) + md.mul(0.5, y)


def test_functions() -> None:
    n = as_dim("n")
    X, x, A = md.matrix("X", n, n), md.vector("x", n), md.matrix("A", n, n)
    m = as_dim("m")
    assert md.parse("diag(x)") == md.diag(x)
    assert md.parse("diag(X)") == md.diag(X)
    assert md.parse("solve(A, x)") == md.solve(A, x)
    assert md.parse("norm1(x)") == md.norm1(x)
    assert md.parse("kron(A, B)") == md.kron(md.matrix("A", n, m), md.matrix("B", as_dim("k"), as_dim("p")))
    for f in ("exp", "log", "sin", "cos", "tan", "tanh", "sqrt", "abs", "sign", "relu", "sigmoid", "softplus"):
        assert md.parse(f"{f}(x)") == getattr(md, f)(x)
    for f in ("logsumexp", "softmax", "sum", "norm2"):
        assert md.parse(f"{f}(x)") == getattr(md, f)(x)
    for f, g in (("tr", md.trace), ("det", md.det), ("logdet", md.logdet), ("inv", md.inv)):
        assert md.parse(f"{f}(X)") == g(X)
    # a user's elementwise function, given as a keyword argument
    t = sympy.Symbol("t")
    cube = md.parse("f(x)", f=t ** 3)
    assert cube.op == "apply" and cube.params[0].body == md.core.functions.x ** 3


def test_names_work_as_symbols_after_parsing() -> None:
    e = md.parse("a'*X*b")
    assert sorted(s.name for s in e.free_symbols) == ["X", "a", "b"]
    a, b = md.vector("a", "n"), md.vector("b", "m")
    assert md.grad(e, "X") == a @ b.T


# ---- errors ----------------------------------------------------------------------------------------------------------
def caret_column(message: str) -> int:
    """The 1-based column the caret line points at (the caret line is indented by two spaces)."""
    line = message.splitlines()[-1]
    assert line.strip() == "^"
    return len(line) - len(line.lstrip(" ")) - 1


@pytest.mark.parametrize("text,column,words", [
    ("x + ", 5, "operand is missing"),
    ("2x", 2, "missing operator"),
    ("(x + y", 1, "not closed"),
    ("x)", 2, "unmatched"),
    ("x # y", 3, "unexpected character"),
    ("foo(x) + y", 1, "unknown function 'foo'"),
    ("x + _y", 5, "not a valid identifier"),
    ("_secret + x", 1, "not a valid identifier"),
    ("__import__(x)", 1, "unknown function"),
    ("x'*A*x where A: matrx", 17, "expected a type"),
    ("x where y: vector", 9, "not used"),
    ("x where x: vector, x: vector", 20, "declared twice"),
    ("inv(A, B)", 1, "takes 1 argument"),
    ("exp + x", 1, "needs an argument"),
    ("x ** 2", 3, "'**'"),
    ("vector(x)", 8, "needs a number"),
    ("x where x: vector(0)", 19, "positive"),
    ("", 0, "empty"),
])
def test_parse_errors_point_at_the_column(text: str, column: int, words: str) -> None:
    with pytest.raises(md.ParseError) as info:
        md.parse(text)
    exc = info.value
    assert words in str(exc)
    if column:
        assert exc.column == column
        assert f"(column {column})" in str(exc)
        assert caret_column(str(exc)) == column


def test_unknown_function_lists_the_known_ones() -> None:
    with pytest.raises(md.ParseError) as info:
        md.parse("x + arcsin(x)")
    assert info.value.column == 5
    for f in ("tr", "logdet", "softmax", "kron", "relu", "vector(c)"):
        assert f in str(info.value)


@pytest.mark.parametrize("text,column,words", [
    ("x*y", 2, "inner product"),
    ("A*x + y'", 5, "cannot add 'A*x' (n×1) and 'y'' (1×k)"),
    ("x^2", 2, "'.^'"),
    ("X^0.5", 2, "whole-number exponent"),
    ("softmax(X)", 1, "needs a vector"),
    ("tr(x)", 1, "square"),
    ("x/y", 2, "'./'"),
    ("x + y where x: vector(n), y: vector(m)", 3, "cannot add"),
    ("a'*X*b where a: vector(3), X: matrix(4, 3)", 3, "cannot multiply"),
    ("S where S: symmetric(2, 3)", 12, "square"),
    ("x'*y^alpha'", 5, "exponent"),
])
def test_shape_errors_point_at_the_column(text: str, column: int, words: str) -> None:
    with pytest.raises(md.ShapeError) as info:
        md.parse(text)
    msg = str(info.value)
    assert words in msg
    assert f"(column {column})" in msg
    assert caret_column(msg) == column
    assert info.value.column == column  # type: ignore[attr-defined]


def test_errors_on_a_later_line_name_the_line() -> None:
    with pytest.raises(md.ShapeError) as info:
        md.parse("sum(x)*\n  (A*y + z')")
    assert "line 2" in str(info.value) and info.value.column == 8  # type: ignore[attr-defined]


def test_language_doc_shows_the_errors_the_command_prints(capsys: pytest.CaptureFixture[str]) -> None:
    """docs/language.md's examples of errors a default may have caused are what ``matderiv grad`` prints."""
    from pathlib import Path

    from matderiv.app.cli import main
    doc = (Path(__file__).resolve().parents[2] / "docs" / "language.md").read_text()
    for text in ("x*y", "alpha*K"):
        assert main(["grad", text]) == 2
        err = capsys.readouterr().err.rstrip("\n")
        assert f'$ matderiv grad "{text}"\n{err}\n' in doc, err


def test_keyword_arguments_are_checked() -> None:
    with pytest.raises(md.ArgumentError, match="does not use"):
        md.parse("x", y="vector")
    with pytest.raises(md.ParseError, match="expected a type"):
        md.parse("x", x="vectr")
    with pytest.raises(md.ArgumentError):
        md.parse("x", x=3)
    with pytest.raises(md.ArgumentError):
        md.parse("x", x=md.vector("y", 3))
    with pytest.raises(md.ParseError, match="declared"):
        md.parse("x where x: vector(2)", x="vector(3)")
    with pytest.raises(md.ArgumentError):
        md.parse(3)  # type: ignore[arg-type]


def test_never_evaluates_text(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("eval/exec called")
    monkeypatch.setattr(builtins, "eval", refuse)
    monkeypatch.setattr(builtins, "exec", refuse)
    assert md.parse("a'*X*b").is_scalar
    for text in ("__import__('os').system('true')", "exec(x)", "x.__class__", "open(f)"):
        with pytest.raises(md.ParseError):
            md.parse(text)


def test_deep_nesting_is_refused_cleanly() -> None:
    with pytest.raises(md.ParseError, match="nested too deeply"):
        md.parse("(" * 500 + "x" + ")" * 500)
    assert md.parse("(" * 60 + "x" + ")" * 60) == md.vector("x", "n")
    long_sum = " + ".join(f"x{i}" for i in range(2000))  # long chains are not recursive
    assert len(md.parse(long_sum).args) == 2000


# ---- to_text ---------------------------------------------------------------------------------------------------------
def roundtrip(e: Expr) -> str:
    text = md.to_text(e)
    back = md.parse(text)
    assert back == e, f"{text!r} parses to {back}, not {e}"
    return text


def test_to_text_prints_the_language() -> None:
    n, m = as_dim("n"), as_dim("m")
    a, X, b = md.vector("a", n), md.matrix("X", n, m), md.vector("b", m)
    assert roundtrip(a.T @ X @ b) == "a'*X*b"
    assert roundtrip(md.grad(a.T @ X @ b, X)) == "a*b'"
    A, x, y = md.matrix("A", n, m), md.vector("x", m), md.vector("y", n)
    assert roundtrip(md.norm2(A @ x - y) ** 2) == "norm2(A*x - y)^2"
    # declarations appear only when defaults and inference would not reproduce the symbols
    a2, b2 = md.vector("a", m), md.vector("b", n)
    assert roundtrip(a2.T @ md.matrix("X", m, n) @ b2) == "a'*X*b where a: vector(m), X: matrix(m, n), b: vector(n)"
    assert roundtrip(md.matrix("S", n, n, symmetric=True) @ a) == "S*a where S: symmetric"
    assert roundtrip(md.scalar("s") * a) == "s*a where s: scalar"
    assert roundtrip(md.matrix("X", 3, 4) @ md.vector("v", 4)) == "X*v where X: matrix(3, 4), v: vector(4)"
    assert roundtrip(md.scalar("alpha") * a) == "alpha*a"


@pytest.mark.parametrize("build", [
    lambda n, m: md.vector("x", n) + 1,
    lambda n, m: md.mul(-2, md.vector("x", n)) + md.add(md.const(-3), md.scalar("t")),
    lambda n, m: md.mul(-1, md.const(2)),
    lambda n, m: md.add(md.vector("x", n), md.mul(-1, md.const(2))),
    lambda n, m: -(-md.vector("x", n)),
    lambda n, m: md.mul(1e-3, md.vector("x", n)) + md.mul(-1.5e20, md.vector("y", n)),
    lambda n, m: md.vector("x", n) @ md.vector("y", m).T + md.ones(n, m) + md.zeros(n, m),
    lambda n, m: md.matrix("X", n, m) + md.vector("b", m).T,  # broadcast: 1 bᵀ
    lambda n, m: md.matrix("X", n, m) * md.vector("c", n),  # broadcast: c 1ᵀ
    lambda n, m: md.ones(1, n) @ md.matrix("X", n, m) + md.zeros(1, m),
    lambda n, m: md.eye(n) @ md.matrix("X", n, m) @ md.eye(m) + md.eye(n) @ md.ones(n, m),
    lambda n, m: md.vector("x", n) @ md.scalar("s"),  # a matrix product with a 1×1 factor prints '@'
    lambda n, m: md.matmul(md.scalar("s"), md.scalar("t")),
    lambda n, m: md.matmul(md.vector("a", n).T, md.vector("b", n), md.vector("c", m).T),
    lambda n, m: md.vector("eye", n) + md.eye(n) @ md.vector("x", n),  # a symbol named like a constant
    lambda n, m: md.scalar("exp") * md.exp(md.vector("where", n)),  # ... or like a function or 'where'
    lambda n, m: md.matrix("alpha", n, m) + md.scalar("A"),  # names against their defaults
    lambda n, m: md.vector("n", m) + md.vector("m", m),  # symbols named like dimensions
    lambda n, m: md.scalar("s", ) ** -1 * md.vector("x", n) ** 2.5 / md.vector("y", n),
    lambda n, m: md.transpose(md.const(-2)) + md.transpose(md.transpose(md.scalar("s"))),
    lambda n, m: md.kron(md.matrix("A", n, m), md.matrix("B", 2, 3)),
    lambda n, m: md.vjp(md.kron(md.matrix("A", n, m), md.matrix("B", 2, 3)), "A",
                        md.matrix("G", 2 * n, 3 * m)),
    lambda n, m: md.vjp(md.kron(md.matrix("A", n, m), md.matrix("B", 2, 3)), "B",
                        md.matrix("G", 2 * n, 3 * m)),
    lambda n, m: md.matrix("X", n * m, n ** 2 + 1) @ md.vector("v", n ** 2 + 1),
    lambda n, m: md.matrix("R", 1, m) @ md.vector("x", m),
    lambda n, m: md.matrix("S", 1, 1, symmetric=True) * md.vector("x", n),
    lambda n, m: md.inv(md.matrix("X", n, n)) @ md.solve(md.matrix("X", n, n), md.matrix("B", n, m)),
    lambda n, m: md.diag(md.vector("v", n)) + md.diag(md.diag(md.matrix("X", n, n))),
    lambda n, m: md.softmax(md.vector("v", n)) * md.logsumexp(md.matrix("X", n, m)),
    lambda n, m: md.step(md.vector("x", n)) + md.sign(md.vector("x", n)),
    lambda n, m: md.power(md.const(-2), 0.5) + md.const(2) ** -1,
    lambda n, m: md.mul(md.vector("x", n), md.vector("y", n)) * -1,
    lambda n, m: md.add(md.vector("x", n), md.mul(-1, md.vector("y", n), md.vector("z", n))),
    lambda n, m: md.add(md.vector("x", n), md.mul(-1, md.matrix("A", n, n) @ md.vector("z", n))),
    lambda n, m: md.mul(-1, md.matrix("A", n, n) @ md.vector("z", n), md.vector("x", n)),
    # numbers: beyond a float (an exact integer), more digits than a float holds (a fraction), a float's repr
    lambda n, m: md.mul(10**600, md.vector("x", n)) + md.mul(-3 * 10**400, md.vector("y", n)),
    lambda n, m: md.mul(Fraction(12345678901234567891, 10**20), md.vector("x", n)),
    lambda n, m: md.mul(1.7976931348623157e308, md.vector("x", n)) + md.mul(5e-324, md.vector("y", n)),
    lambda n, m: md.mul(0.1234567891234, md.vector("x", n)) - md.mul(1 / 3.0, md.vector("y", n)),
])
def test_to_text_round_trips_targeted_expressions(build: Callable[[Any, Any], Expr]) -> None:
    roundtrip(build(as_dim("n"), as_dim("m")))


def test_to_text_of_derivatives_round_trips() -> None:
    n, m = as_dim("n"), as_dim("m")
    X, W, b = md.matrix("X", n, m), md.matrix("W", 3, m), md.vector("b", 3)
    Y = md.sigmoid(X @ W.T + b.T)
    for w in ("X", "W", "b"):
        roundtrip(md.vjp(Y, w, md.matrix("G", n, 3)))
    f = md.sum(md.log(md.exp(-md.vector("y", n) * (X @ md.vector("w", m))) + md.ones(n)))
    roundtrip(md.grad(f, "w"))
    S = md.matrix("S", n, n, symmetric=True)
    x = md.vector("x", n)
    roundtrip(md.grad(x.T @ S @ x + md.logdet(S), "S"))


# ---- lambda: MatrixCalculus.org's example lambda*x'*x ------------------------------------------------------------------
def test_lambda_keeps_its_name() -> None:
    f = md.parse("lambda*x'*x")
    lam, x = md.scalar("lambda"), md.vector("x", "n")
    assert f == (lam * x.T) @ x
    assert {s.name for s in f.free_symbols} == {"lambda", "x"}
    assert md.grad(f, "lambda") == x.T @ x
    g = md.grad(f, "x")
    assert md.to_text(g) == "2*lambda*x"
    assert md.latex(f) == r"\lambda x^{\top} x"
    assert md.latex(g) == r"2 \lambda x"
    assert md.to_text(f) == "lambda*x'*x" and md.parse(md.to_text(f)) == f
    fn = md.lambdify(["lambda", "x"], g)  # by name; the generated parameter is renamed (lambda is a keyword)
    np.testing.assert_allclose(fn(2.0, [1.0, 2.0, 3.0]), [4.0, 8.0, 12.0])  # 2λx
    value = md.lambdify(["lambda", "x"], f)
    assert value(2.0, [1.0, 2.0, 3.0]) == pytest.approx(28.0)  # λ xᵀx


def test_lambda_is_certified_by_name() -> None:
    f = md.parse("lambda*x'*x")
    report = md.check(f, "x", at={"lambda": 2.0, "x": [1.0, 2.0, 3.0]})
    assert report.ok
    assert md.check(f, ["lambda", "x"]).ok


def test_user_functions_are_the_exception() -> None:
    t = sympy.Symbol("t")
    cube = md.elementwise("cube", t ** 3)
    e = cube(md.vector("x", "n"))
    text = md.to_text(e)
    assert text == "cube(x)"
    with pytest.raises(md.ParseError, match="unknown function 'cube'"):
        md.parse(text)
    assert md.parse(text, cube=t ** 3) == e  # ... unless the function is given again


# ---- the round-trip property over random well-shaped expressions -----------------------------------------------------
N, M = as_dim("n"), as_dim("m")
DIMS = [N, M, ONE, sympy.Integer(2), sympy.Integer(3)]
# a few fixed names with a fixed shape (so one name never has two shapes), chosen against the defaults
FIXED: dict[str, tuple[tuple[sympy.Expr, sympy.Expr], bool]] = {
    "eye": ((N, ONE), False), "exp": ((ONE, ONE), False), "where": ((N, M), False), "vector": ((M, ONE), False),
    "s": ((ONE, ONE), False), "alpha": ((ONE, ONE), False), "S": ((N, N), True), "n": ((M, ONE), False),
    "beta": ((N, ONE), False), "T": ((ONE, M), False), "sym1": ((ONE, ONE), True),
}
NUMBERS = st.sampled_from([0, 1, 2, -1, -3, 0.5, -2.5, 1e-3, 1.5e20, 7])


def code(d: sympy.Expr) -> str:
    return str(d)


def symbols_of(shape: tuple[sympy.Expr, sympy.Expr]) -> list[Expr]:
    out = [md.symbol(name, *shp, symmetric=sym) for name, (shp, sym) in FIXED.items() if shp == shape]
    for prefix in ("A", "x", "gamma"):
        out.append(md.symbol(f"{prefix}_{code(shape[0])}_{code(shape[1])}", *shape))
    if shape[0] == shape[1]:
        out.append(md.symbol(f"Sym_{code(shape[0])}", *shape, symmetric=True))
    return out


@st.composite
def exprs(draw: st.DrawFn, shape: tuple[sympy.Expr, sympy.Expr], depth: int) -> Expr:
    r, c = shape
    scalar = shape == (ONE, ONE)
    kinds = ["symbol"] + (["number"] if scalar else ["ones", "zeros"]) + (["eye"] if r == c and not scalar else [])
    if depth > 0:
        kinds += ["add", "sub", "mul", "scale", "div", "neg", "matmul", "matmul", "T", "power", "apply"]
        if r != ONE and c != ONE:
            kinds += ["broadcast"]
        if scalar:
            kinds += ["reduce", "kron"]
        if r == c:
            kinds += ["inv", "mpow"]
        kinds += ["solve"]
        if r == c and r != ONE:
            kinds += ["diag"]
        if c == ONE and r != ONE:
            kinds += ["diagpart", "softmax"]
    kind = draw(st.sampled_from(kinds))
    sub = lambda shp: exprs(shp, depth - 1)  # noqa: E731
    if kind == "symbol":
        return draw(st.sampled_from(symbols_of(shape)))
    if kind == "number":
        return md.const(draw(NUMBERS))
    if kind == "ones":
        return md.ones(r, c)
    if kind == "zeros":
        return md.zeros(r, c)
    if kind == "eye":
        return md.eye(r)
    if kind in ("add", "sub", "mul", "div"):
        a = draw(sub(shape))
        b = draw(sub(shape if draw(st.booleans()) else (ONE, ONE)))
        if draw(st.booleans()):
            a, b = b, a
        return {"add": ops.add, "sub": lambda x, y: x - y, "mul": ops.mul, "div": ops.divide}[kind](a, b)
    if kind == "scale":
        return md.mul(draw(NUMBERS), draw(sub(shape)))
    if kind == "neg":
        return -draw(sub(shape))
    if kind == "matmul":
        k = draw(st.sampled_from(DIMS))
        return draw(sub((r, k))) @ draw(sub((k, c)))
    if kind == "T":
        return draw(sub((c, r))).T
    if kind == "power":
        return draw(sub(shape)) ** draw(st.sampled_from([2, 3, -1, 0.5, -2]))
    if kind == "apply":
        return md.apply(draw(st.sampled_from(sorted(md.core.functions.NAMED))), draw(sub(shape)))
    if kind == "broadcast":
        a, b = draw(sub((r, ONE))), draw(sub((ONE, c)))
        return (ops.add if draw(st.booleans()) else ops.mul)(a, b)
    if kind == "reduce":
        k, j = draw(st.sampled_from(DIMS)), draw(st.sampled_from(DIMS))
        f = draw(st.sampled_from(["trace", "det", "logdet", "sum", "norm2", "norm1", "logsumexp"]))
        if f in ("trace", "det", "logdet"):
            return getattr(md, f)(draw(sub((k, k))))
        return getattr(md, f)(draw(sub((k, j))))
    if kind == "kron":
        return md.sum(md.kron(draw(sub((N, 2))), draw(sub((M, ONE)))))
    if kind == "inv":
        return md.inv(draw(sub(shape)))
    if kind == "mpow":
        x = draw(sub(shape))
        return x @ x
    if kind == "solve":
        return md.solve(draw(sub((r, r))), draw(sub(shape)))
    if kind == "diag":
        return md.diag(draw(sub((r, ONE))))
    if kind == "diagpart":
        return md.diag(draw(sub((r, r))))
    if kind == "softmax":
        return md.softmax(draw(sub(shape)))
    raise AssertionError(kind)  # pragma: no cover


SHAPES = st.sampled_from([(N, ONE), (N, M), (ONE, ONE), (ONE, M), (N, N), (sympy.Integer(2), ONE)])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SHAPES.flatmap(lambda shp: exprs(shp, 3)))
def test_round_trip_property(e: Expr) -> None:
    roundtrip(e)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exprs((ONE, ONE), 2))
def test_round_trip_property_of_simplified_expressions(e: Expr) -> None:
    roundtrip(md.simplify(e))


def test_to_text_refuses_non_expressions() -> None:
    with pytest.raises(md.ArgumentError):
        md.to_text("x")  # type: ignore[arg-type]


def test_where_clause_is_minimal_and_matches_the_declarations() -> None:
    e = md.parse("x'*A*y where A: matrix(3, m), x: vector(3)")
    assert roundtrip(e) == "x'*A*y where x: vector(3), A: matrix(3, m), y: vector(m)"
