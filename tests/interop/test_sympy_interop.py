"""Issue 3 items 8–9: ``md.from_sympy`` / ``md.to_sympy``, and every scalar-by-matrix derivative in SymPy's own
test file checked against ``md.grad``.

References are independent of matderiv: SymPy itself evaluates SymPy expressions (explicit matrices substituted,
then ``doit``), hand-written numpy gives the values of the round-trip cases, and the Matrix Cookbook (C ·) with
float64 central differences gives the derivatives SymPy gets wrong.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import operator
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest
import sympy
from sympy.matrices.expressions import (BlockMatrix, Determinant, DiagMatrix, DiagonalMatrix, DiagonalOf,
                                        HadamardPower, HadamardProduct, Identity, Inverse, KroneckerProduct, MatAdd,
                                        MatMul, MatPow, MatrixExpr, MatrixSymbol, OneMatrix, Trace, Transpose,
                                        ZeroMatrix)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

import matderiv as md
from conftest import assert_vjp, ev, well_conditioned
from matderiv.core.functions import sigmoid as sy_sigmoid, x as fx
from matderiv.ops import blockdot, diag_matrix, diagpart

K = 3  # the value of SymPy's dimension symbol k (and of k where SymPy's tests use it as a number)
k, n, m = sympy.symbols("k n m")
X, A, B, C = (MatrixSymbol(s, k, k) for s in "XABC")
x, y = MatrixSymbol("x", k, 1), MatrixSymbol("y", k, 1)
alpha = sympy.Symbol("alpha")
t = sympy.Symbol("t")
Array = np.ndarray


# ---- SymPy's own evaluation, the reference ------------------------------------------------------------------------
def _explicit(e: sympy.Basic, subs: dict[sympy.Basic, sympy.Basic]) -> sympy.Basic:
    """``e`` with ``subs`` done and evaluated bottom-up, each node as soon as its arguments are explicit
    (SymPy 1.14's ``doit`` leaves HadamardPower alone, and DiagonalOf/DiagonalMatrix of an explicit matrix
    have no shape)."""
    if e in subs:
        return subs[e]
    if isinstance(e, sympy.Lambda):
        return e.xreplace({s: v for s, v in subs.items() if isinstance(s, sympy.Symbol)})
    if not e.args or isinstance(e, sympy.MatrixBase):
        return e
    args = [_explicit(a, subs) for a in e.args]
    if isinstance(e, (DiagonalOf, DiagonalMatrix)):
        d = [args[0][i, i] for i in range(min(args[0].shape))]
        return sympy.ImmutableMatrix(d) if isinstance(e, DiagonalOf) else sympy.ImmutableMatrix(sympy.diag(*d))
    if isinstance(e, (sympy.Function, sympy.Pow)):  # a scalar function of a 1×1 matrix: of its entry
        args = [a[0, 0] if isinstance(a, sympy.MatrixBase) and a.shape == (1, 1) else a for a in args]
    e = e.func(*args)
    if isinstance(e, MatrixExpr) and not isinstance(e, sympy.MatrixBase):
        e = e.doit()
        return e if isinstance(e, sympy.MatrixBase) else e.as_explicit()
    return e.doit() if isinstance(e, sympy.Expr) else e


def sympy_value(e: sympy.Basic, values: dict[str, Array]) -> Array:
    """SymPy's value of ``e`` (2-D) with MatrixSymbols and Symbols replaced by ``values`` by name, k by K."""
    subs: dict[sympy.Basic, sympy.Basic] = {k: sympy.Integer(K)}
    for s in e.atoms(MatrixSymbol):
        subs[s] = sympy.ImmutableMatrix(values[s.name])
    for s in e.atoms(sympy.Symbol):
        if s.name in values and s != k and not isinstance(s, sympy.Dummy):
            subs[s] = sympy.Float(float(values[s.name][0, 0]))
    v = _explicit(e, subs)
    out = np.array(v.evalf() if getattr(v, "is_Matrix", False) else [[v.evalf()]], dtype=float)
    assert np.all(np.isfinite(out)), (e, out)
    return out


def make_values(seed: int = 0) -> dict[str, Array]:
    """Well-conditioned square matrices (positive determinant), positive vectors (so √(aᵀXb) is real), k = K."""
    rng = np.random.default_rng(seed)
    vals = {s: well_conditioned(rng, K) for s in "XABCD"}
    vals.update({s: rng.uniform(0.5, 1.5, (K, 1)) for s in "xyabcd"})
    vals.update(k=np.array([[float(K)]]), alpha=np.array([[0.7]]), mu=np.array([[1.3]]))
    return vals


VALUES = make_values()


def md_value(e: md.Expr, *extra: md.Expr) -> Array:
    """matderiv's value of ``e`` (2-D) with ``md.lambdify`` (via conftest.ev) at VALUES; ``extra`` symbols fix
    the dimensions of a constant ``e``."""
    syms = sorted(set(e.free_symbols).union(*(s.free_symbols for s in extra)), key=lambda s: s.name)
    return ev(e, {s: VALUES[s.name] for s in syms})  # type: ignore[return-value]


def close(a: Array, b: Array) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-9, atol=1e-12))


# ---- from_sympy: the node each SymPy class becomes -------------------------------------------------------------------
mX, mA, mB = (md.matrix(s, "k", "k") for s in "XAB")
mx, my = md.vector("x", "k"), md.vector("y", "k")
malpha, mk = md.scalar("alpha"), md.scalar("k")

FROM_CASES: list[tuple[str, Callable[[], sympy.Basic], Callable[[], md.Expr]]] = [
    ("MatrixSymbol", lambda: MatrixSymbol("W", n, m), lambda: md.matrix("W", "n", "m")),
    ("vector", lambda: x, lambda: mx),
    ("1x1 MatrixSymbol", lambda: MatrixSymbol("s", 1, 1), lambda: md.scalar("s")),
    ("Symbol", lambda: alpha, lambda: malpha),
    ("dimension expression", lambda: MatrixSymbol("W", 2 * n, 3),
     lambda: md.matrix("W", 2 * md.core.expr.dim_symbol("n"), 3)),
    ("Integer", lambda: sympy.Integer(3), lambda: md.const(3)),
    ("Rational", lambda: sympy.Rational(1, 2), lambda: md.const(0.5)),
    ("pi", lambda: sympy.pi, lambda: md.const(float(np.pi))),
    ("Identity", lambda: Identity(k), lambda: md.eye("k")),
    ("Identity(1)", lambda: Identity(1), lambda: md.const(1)),
    ("OneMatrix", lambda: OneMatrix(k, 1), lambda: md.ones("k")),
    ("ZeroMatrix", lambda: ZeroMatrix(k, k), lambda: md.zeros("k", "k")),
    ("Transpose", lambda: X.T, lambda: mX.T),
    ("Inverse", lambda: Inverse(X), lambda: md.inv(mX)),
    ("MatPow -1", lambda: X**-1, lambda: md.inv(mX)),
    ("MatPow 3", lambda: X**3, lambda: mX @ mX @ mX),
    ("MatPow -2", lambda: X**-2, lambda: md.inv(mX @ mX)),
    ("MatPow 0", lambda: MatPow(X, 0), lambda: md.eye("k")),
    ("MatPow of 1x1", lambda: (x.T * y)**sympy.S.Half, lambda: (mx.T @ my)**0.5),
    ("MatMul", lambda: A * X * B, lambda: mA @ mX @ mB),
    ("MatMul with coefficient", lambda: 2 * A * B, lambda: 2 * (mA @ mB)),
    ("MatMul with scalar factor", lambda: Trace(X) * x.T * y, lambda: md.trace(mX) * (mx.T @ my)),
    ("negation", lambda: -A, lambda: -mA),
    ("MatAdd", lambda: MatAdd(A, X), lambda: mA + mX),
    ("MatAdd with difference", lambda: MatAdd(A, -X), lambda: mA - mX),
    ("HadamardProduct", lambda: HadamardProduct(A, X), lambda: mA * mX),
    ("HadamardPower", lambda: HadamardPower(X, 2), lambda: mX**2),
    ("HadamardPower 1/2", lambda: HadamardPower(x, sympy.S.Half), lambda: mx**0.5),
    ("HadamardPower symbolic", lambda: HadamardPower(x, alpha), lambda: md.power(mx, malpha)),
    ("applyfunc sin", lambda: x.applyfunc(sympy.sin), lambda: md.sin(mx)),
    ("applyfunc Lambda exp", lambda: ElementwiseApplyFunction(sympy.Lambda(t, sympy.exp(t)), X), lambda: md.exp(mX)),
    ("applyfunc class", lambda: ElementwiseApplyFunction(sympy.tanh, X), lambda: md.tanh(mX)),
    ("applyfunc matderiv sigmoid", lambda: x.applyfunc(sy_sigmoid), lambda: md.sigmoid(mx)),
    ("applyfunc Abs", lambda: x.applyfunc(sympy.Abs), lambda: md.abs(mx)),
    ("applyfunc sqrt", lambda: x.applyfunc(sympy.sqrt), lambda: md.sqrt(mx)),
    ("applyfunc user Lambda", lambda: x.applyfunc(sympy.Lambda(t, sympy.tan(t)**2 + 1)),
     lambda: md.elementwise("f", sympy.tan(fx)**2 + 1)(mx)),
    ("applyfunc other SymPy function", lambda: x.applyfunc(sympy.asinh),
     lambda: md.elementwise("asinh", sympy.asinh)(mx)),
    ("two user Lambdas",
     lambda: HadamardProduct(x.applyfunc(sympy.Lambda(t, t**3 + t)), x.applyfunc(sympy.Lambda(t, t**5))),
     lambda: md.elementwise("f", fx**3 + fx)(mx) * md.elementwise("f2", fx**5)(mx)),
    ("applyfunc Lambda with a parameter", lambda: x.applyfunc(sympy.Lambda(t, alpha * t**2)),
     lambda: malpha * mx**2),
    ("KroneckerProduct", lambda: KroneckerProduct(A, X), lambda: md.kron(mA, mX)),
    ("KroneckerProduct of three", lambda: KroneckerProduct(A, X, B), lambda: md.kron(md.kron(mA, mX), mB)),
    ("DiagMatrix", lambda: DiagMatrix(x), lambda: md.diag(mx)),
    ("DiagMatrix of a row", lambda: DiagMatrix(x.T), lambda: md.diag(mx)),
    ("DiagonalOf", lambda: DiagonalOf(X), lambda: diagpart(mX)),
    ("DiagonalMatrix", lambda: DiagonalMatrix(X), lambda: diag_matrix(diagpart(mX))),
    ("Trace", lambda: Trace(X), lambda: md.trace(mX)),
    ("Determinant", lambda: Determinant(X), lambda: md.det(mX)),
    ("log Determinant", lambda: sympy.log(Determinant(X)), lambda: md.logdet(mX)),
    ("scalar Add", lambda: sympy.Add(Trace(X), 1, evaluate=False), lambda: md.trace(mX) + 1),
    ("scalar Mul", lambda: sympy.Mul(3, Trace(X), evaluate=False), lambda: 3 * md.trace(mX)),
    ("scalar Mul of matrix", lambda: sympy.Mul(alpha, X, evaluate=False), lambda: malpha * mX),
    ("scalar Pow", lambda: Trace(X)**2, lambda: md.trace(mX)**2),
    ("sqrt", lambda: sympy.sqrt(Trace(X)), lambda: md.sqrt(md.trace(mX))),
    ("scalar Pow symbolic", lambda: Trace(X)**alpha, lambda: md.power(md.trace(mX), malpha)),
    ("exp of Trace", lambda: sympy.exp(Trace(X)), lambda: md.exp(md.trace(mX))),
    ("sin of 1x1", lambda: sympy.sin(x.T * y), lambda: md.sin(mx.T @ my)),
    ("k as number and dimension", lambda: k * x.T * y, lambda: mk * (mx.T @ my)),
]


@pytest.mark.parametrize("build, expected", [c[1:] for c in FROM_CASES], ids=[c[0] for c in FROM_CASES])
def test_from_sympy_builds_the_matderiv_node(build: Callable[[], sympy.Basic], expected: Callable[[], md.Expr]) -> None:
    assert md.from_sympy(build()) == expected()


def test_from_sympy_symmetric_names() -> None:
    S = MatrixSymbol("S", k, k)
    assert md.from_sympy(S * X, symmetric={"S"}) == md.matrix("S", "k", "k", symmetric=True) @ mX


def test_from_sympy_python_numbers() -> None:
    assert md.from_sympy(2) == md.const(2) and md.from_sympy(0.25) == md.const(0.25)


# the conversions whose meaning is not a one-to-one op: SymPy's value and matderiv's agree
NUMERIC_FROM = [
    ("MatPow -2", X**-2), ("DiagMatrix of a row", DiagMatrix(x.T)), ("DiagonalMatrix", DiagonalMatrix(X)),
    ("KroneckerProduct", KroneckerProduct(A, X)),
    ("Lambda with a parameter", x.applyfunc(sympy.Lambda(t, alpha * t**2))),
    ("HadamardPower symbolic", HadamardPower(x, alpha)),
    ("user Lambda", X.applyfunc(sympy.Lambda(t, sympy.tan(t)**2 + 1))),
    ("MatMul with scalar factor", sympy.exp(Trace(X)) * A * x), ("log det", sympy.log(Determinant(X))),
    ("scalar of 1x1", sympy.sin(x.T * y) * Trace(X)**alpha + 1),
]


@pytest.mark.parametrize("e", [c[1] for c in NUMERIC_FROM], ids=[c[0] for c in NUMERIC_FROM])
def test_from_sympy_keeps_the_value(e: sympy.Basic) -> None:
    assert close(md_value(md.from_sympy(e)), sympy_value(e, VALUES))


FROM_ERRORS: list[tuple[Callable[[], object], str]] = [
    (lambda: X[0, 1], "MatrixElement"),
    (lambda: BlockMatrix([[A, X]]), "BlockMatrix"),
    (lambda: sympy.ImmutableMatrix([[1, 2]]), "ImmutableDenseMatrix"),
    (lambda: MatPow(X, sympy.S.Half), "MatPow"),
    (lambda: MatPow(X, n), "MatPow"),
    (lambda: sympy.Function("f")(Trace(X)), "undefined function f"),
    (lambda: X.applyfunc(sympy.Function("g")), "undefined function g"),
    (lambda: sympy.atan2(Trace(X), 1), "atan2"),
    (lambda: sympy.exp(X), "matrix function"),
    (lambda: sympy.Max(Trace(X), 0), "Max"),
    (lambda: sympy.I * X, "not a finite real number"),
    (lambda: MatrixSymbol("_hidden", k, k), "'_hidden'"),
    (lambda: "X.T*X", "str"),
]


@pytest.mark.parametrize("build, culprit", FROM_ERRORS, ids=[c[1] for c in FROM_ERRORS])
def test_from_sympy_refuses_what_it_cannot_represent(build: Callable[[], object], culprit: str) -> None:
    with pytest.raises(md.MatderivError, match=culprit.replace("(", r"\(")):
        md.from_sympy(build())


# ---- to_sympy -------------------------------------------------------------------------------------------------------
def test_to_sympy_forms() -> None:
    sk = sympy.Symbol("k")
    Xs, xs, ys = MatrixSymbol("X", sk, sk), MatrixSymbol("x", sk, 1), MatrixSymbol("y", sk, 1)
    assert md.to_sympy(mx.T @ mX @ mx) == MatMul(xs.T, Xs, xs)
    assert md.to_sympy(malpha * mX) == MatMul(alpha, Xs)
    assert md.to_sympy(md.logdet(mX)) == sympy.log(Determinant(Xs))
    assert md.to_sympy(md.solve(mX, mx)) == MatMul(Inverse(Xs), xs)
    assert md.to_sympy(md.norm2(mX)) == sympy.sqrt(Trace(MatMul(Transpose(Xs), Xs)))
    assert md.to_sympy(md.sum(mx)) == MatMul(OneMatrix(1, sk), xs)
    assert md.to_sympy(md.trace(mX) + 1) == Trace(Xs) + 1
    assert md.to_sympy(md.mul(mx.T @ my, mx)) == MatMul(xs, MatMul(xs.T, ys))  # a 1×1 factor joins a column's chain
    assert md.to_sympy(md.mul(mx.T @ my, mX)) == MatMul(Trace(MatMul(xs.T, ys)), Xs)
    assert md.to_sympy(md.scalar("s") + mx.T @ my) == MatAdd(MatMul(sympy.Symbol("s"), OneMatrix(1, 1)),
                                                             MatMul(xs.T, ys))
    assert md.to_sympy(md.const(0.5) * mX) == MatMul(sympy.Rational(1, 2), Xs)
    assert md.to_sympy(md.const(0.1) * mX) == MatMul(sympy.Rational(1, 10), Xs)  # numbers are the decimals written
    assert md.to_sympy(md.const(0.123456789) * mX) == MatMul(sympy.Rational(123456789, 10**9), Xs)


def test_to_sympy_uses_given_symbols() -> None:
    kk = sympy.Symbol("k", integer=True, positive=True)
    Xs = MatrixSymbol("X", kk, kk)
    assert md.to_sympy(mX.T @ mA, symbols=[Xs]) == MatMul(Transpose(Xs), MatrixSymbol("A", kk, kk))
    pos = sympy.Symbol("alpha", positive=True)
    assert md.to_sympy(malpha * mk, symbols=[pos]) == pos * sympy.Symbol("k")


# exact round trips: from_sympy(to_sympy(e)) == e
EXACT = [
    mX, mx, malpha, md.ones("k"), md.ones("k", "k"), md.zeros("k", "k"), md.eye("k"), mA + mX, mA - mX, mA * mX,
    2 * mX, malpha * mX, -mX, mx.T @ mX @ mx, mX.T, md.inv(mX), md.trace(mX), md.det(mX), md.logdet(mX), mX**2,
    mX**0.5, mX**-1.5, md.exp(mX), md.log(mX), md.sin(mX), md.cos(mX), md.tan(mX), md.tanh(mX), md.sqrt(mX), md.abs(mX),
    md.sign(mX), md.relu(mX), md.sigmoid(mX), md.softplus(mX), md.step(mX), md.exp(md.trace(mX)), md.kron(mA, mX),
    md.diag(mx), md.diag(mX), md.trace(mA @ md.inv(mX) @ mB), md.sin(mx.T @ my), malpha * md.logdet(mX @ mX.T),
    (mx.T @ my)**2, md.exp(mX) @ mx,
]


@pytest.mark.parametrize("e", EXACT, ids=[str(e) for e in EXACT])
def test_round_trip_exact(e: md.Expr) -> None:
    assert md.from_sympy(md.to_sympy(e)) == e


inv, tr = np.linalg.inv, np.trace


@dataclass
class Numeric:
    id: str
    e: md.Expr
    ref: Callable[[dict[str, Array]], Array | float]  # hand-written numpy, values by name (2-D)


def _sm(v: Array) -> Array:
    ex = np.exp(v - v.max())
    return ex / ex.sum()


NUMERIC = [
    Numeric("sum matrix", md.sum(mX), lambda v: v["X"].sum()),
    Numeric("sum vector", md.sum(mx), lambda v: v["x"].sum()),
    Numeric("norm2 vector", md.norm2(mx), lambda v: np.linalg.norm(v["x"])),
    Numeric("norm2 matrix", md.norm2(mX), lambda v: np.linalg.norm(v["X"], "fro")),
    Numeric("solve matrix", md.solve(mA, mX), lambda v: np.linalg.solve(v["A"], v["X"])),
    Numeric("solve vector", md.solve(mA, mx), lambda v: np.linalg.solve(v["A"], v["x"])),
    Numeric("logsumexp vector", md.logsumexp(mx), lambda v: np.log(np.exp(v["x"]).sum())),
    Numeric("logsumexp matrix", md.logsumexp(mX), lambda v: np.log(np.exp(v["X"]).sum())),
    Numeric("softmax", md.softmax(mx), lambda v: _sm(v["x"])),
    Numeric("scalar plus 1", md.trace(mX) + 1, lambda v: tr(v["X"]) + 1),
    Numeric("1x1 plus number", mx.T @ mA @ mx + 1, lambda v: v["x"].T @ v["A"] @ v["x"] + 1),
    Numeric("matrix plus scalar", mX + malpha, lambda v: v["X"] + v["alpha"]),
    Numeric("matrix plus 1x1", mX + mx.T @ my, lambda v: v["X"] + v["x"].T @ v["y"]),
    Numeric("1x1 scales matrix", (mx.T @ my) * mX, lambda v: (v["x"].T @ v["y"]) * v["X"]),
    Numeric("1x1 scales column", (mx.T @ my) * mx, lambda v: (v["x"].T @ v["y"]) * v["x"]),
    Numeric("1x1 scales row", (mx.T @ my) * mx.T, lambda v: (v["x"].T @ v["y"]) * v["x"].T),
    Numeric("1x1 scales scaled row", (mx.T @ my) * (md.trace(mX) @ mx.T),
            lambda v: (v["x"].T @ v["y"]) * tr(v["X"]) * v["x"].T),
    Numeric("1x1 scales product", (mx.T @ my) * (mX @ mA), lambda v: (v["x"].T @ v["y"]) * v["X"] @ v["A"]),
    Numeric("1x1 times 1x1", (mx.T @ my) * (mx.T @ mx), lambda v: (v["x"].T @ v["y"]) * (v["x"].T @ v["x"])),
    Numeric("user function", md.elementwise("f", lambda s: sympy.tan(s)**2 + 1)(mX), lambda v: np.tan(v["X"])**2 + 1),
    Numeric("power of trace", md.trace(mX)**3, lambda v: tr(v["X"])**3),
    Numeric("sqrt of trace", md.sqrt(md.trace(mX)), lambda v: np.sqrt(tr(v["X"]))),
    Numeric("transpose of 1x1", (mx.T @ my).T * md.trace(mX), lambda v: (v["x"].T @ v["y"]) * tr(v["X"])),
    Numeric("scalar product reordered", md.trace(mX) * md.det(mA), lambda v: tr(v["X"]) * np.linalg.det(v["A"])),
    Numeric("log of det", md.log(md.det(mX @ mX.T)), lambda v: np.log(np.linalg.det(v["X"] @ v["X"].T))),
    Numeric("inverse of scalar", md.inv(md.trace(mX)), lambda v: 1 / tr(v["X"])),
    Numeric("kron with scalar", md.kron(malpha, mX), lambda v: v["alpha"] * v["X"]),
    Numeric("ones row", md.ones(1, "k") @ mX, lambda v: np.ones((1, K)) @ v["X"]),
    Numeric("broadcast row", mX + md.ones("k") @ mx.T, lambda v: v["X"] + v["x"].T),
    Numeric("gradient", md.grad(md.logdet(mX) + mx.T @ md.inv(mX) @ my, mX),
            lambda v: inv(v["X"]).T - inv(v["X"]).T @ v["x"] @ v["y"].T @ inv(v["X"]).T),
]


@pytest.mark.parametrize("case", NUMERIC, ids=[c.id for c in NUMERIC])
def test_round_trip_numeric(case: Numeric) -> None:
    """SymPy's value of to_sympy(e) and matderiv's value of from_sympy(to_sympy(e)) equal hand-written numpy's."""
    ref = np.atleast_2d(np.asarray(case.ref(VALUES), dtype=float))
    s = md.to_sympy(case.e)
    assert close(sympy_value(s, VALUES), ref), s
    assert close(md_value(md.from_sympy(s)), ref), md.from_sympy(s)


def test_to_sympy_refuses_ops_without_a_sympy_form() -> None:
    with pytest.raises(md.MatderivError, match="blockdot"):
        md.to_sympy(blockdot(md.matrix("G", 6, 6), md.matrix("Q", 2, 3)))
    with pytest.raises(md.MatderivError, match="to_sympy needs a matderiv expression"):
        md.to_sympy(X)  # type: ignore[arg-type]


# ---- SymPy's test file ----------------------------------------------------------------------------------------------
SYMPY_TESTS = "sympy.matrices.expressions.tests.test_derivatives"


class _Unknown(Exception):
    """A name or construct the reader below does not evaluate."""


_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Pow: operator.pow, ast.MatMult: operator.matmul}
_UNOPS: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}


def _evaluate(node: ast.AST, env: dict[str, Any]) -> Any:
    """The value of a SymPy test expression, read from its syntax tree: names, attributes, calls, arithmetic,
    tuples, subscripts and one-argument lambdas (no eval/exec)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env or env[node.id] is _Unknown:
            raise _Unknown(node.id)
        return env[node.id]
    if isinstance(node, ast.Attribute):
        return getattr(_evaluate(node.value, env), node.attr)
    if isinstance(node, ast.Call):
        return _evaluate(node.func, env)(*[_evaluate(a, env) for a in node.args],
                                         **{kw.arg: _evaluate(kw.value, env) for kw in node.keywords if kw.arg})
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _BINOPS[type(node.op)](_evaluate(node.left, env), _evaluate(node.right, env))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNOPS:
        return _UNOPS[type(node.op)](_evaluate(node.operand, env))
    if isinstance(node, ast.Tuple):
        return tuple(_evaluate(e, env) for e in node.elts)
    if isinstance(node, ast.Subscript):
        return _evaluate(node.value, env)[_evaluate(node.slice, env)]
    if isinstance(node, ast.Lambda) and len(node.args.args) == 1:
        arg = node.args.args[0].arg
        return lambda v: _evaluate(node.body, {**env, arg: v})
    raise _Unknown(type(node).__name__)


def _diff_call(node: ast.AST) -> tuple[ast.AST, ast.AST] | None:
    """(expr, var) of ``expr.diff(var)`` or ``expr.diff(var).doit()``."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "doit"
            and not node.args):
        node = node.func.value
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "diff"
            and len(node.args) == 1):
        return node.func.value, node.args[0]
    return None


@dataclass
class Pair:
    """One asserted derivative ``expr.diff(var) == expected`` (or ``.dummy_eq(expected)``) of SymPy's tests."""
    test: str
    line: int
    expr: Any
    var: Any
    expected: Any

    @property
    def kind(self) -> str:
        if not isinstance(self.var, MatrixSymbol):
            return "by " + type(self.var).__name__  # by a scalar Symbol or by a MatrixElement X[i, j]
        if getattr(self.expr, "is_Matrix", False) and self.expr.shape != (1, 1):
            return "matrix-valued"
        return "scalar-by-matrix"


def sympy_test_pairs() -> tuple[list[Pair], list[tuple[int, str]]]:
    """Every derivative asserted in SymPy's test file, walking each test's statements in order with the module's
    names plus the test's assignments; ``deriv = expr.diff(A)`` followed by ``assert deriv == …`` counts too."""
    module = importlib.import_module(SYMPY_TESTS)
    source = inspect.getsource(module)
    pairs: list[Pair] = []
    unread: list[tuple[int, str]] = []
    for fn in ast.parse(source).body:
        if not (isinstance(fn, ast.FunctionDef) and fn.name.startswith("test_")):
            continue
        env: dict[str, Any] = dict(vars(module))
        derivs: dict[str, tuple[ast.AST, ast.AST]] = {}
        for st in fn.body:
            if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name):
                name = st.targets[0].id
                call = _diff_call(st.value)
                if call is not None:
                    derivs[name] = call
                try:
                    env[name] = _evaluate(st.value, env)
                except Exception:
                    env[name] = _Unknown
                continue
            if not isinstance(st, ast.Assert):
                continue
            test, found = st.test, None
            if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
                call = _diff_call(test.left)
                if call is None and isinstance(test.left, ast.Name):
                    call = derivs.get(test.left.id)
                if call is not None:
                    found = (*call, test.comparators[0])
            elif isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute) and test.func.attr == "dummy_eq":
                call = _diff_call(test.func.value)
                if call is not None:
                    found = (*call, test.args[0])
            if found is None:
                continue
            try:
                e, v, r = (_evaluate(node, env) for node in found)
            except Exception:
                unread.append((st.lineno, ast.get_source_segment(source, st) or ""))
                continue
            pairs.append(Pair(fn.name, st.lineno, e, v, r))
    return pairs, unread


PAIRS, UNREAD = sympy_test_pairs()
SCALAR_BY_MATRIX = [p for p in PAIRS if p.kind == "scalar-by-matrix"]


SYMPY_114 = sympy.__version__.startswith("1.14.")  # the SymPy whose test file and wrong answers are pinned here


@pytest.mark.skipif(not SYMPY_114, reason="the counts are those of SymPy 1.14's test file")
def test_sympy_test_file_census() -> None:
    """SymPy 1.14's test_derivatives.py asserts 105 derivatives `expr.diff(v) == expected`:
    63 scalar-by-matrix ones (a scalar or 1×1 expr, v a MatrixSymbol), all checked below, and 42 excluded:
    17 by a scalar Symbol i (d/di of a matrix or scalar: not a gradient), 8 by a matrix entry x[m, 0], X[m, n]
    (index notation: v a MatrixElement), 17 matrix-valued (A.diff(A) and the like as 4-D arrays, and
    vector-by-vector Jacobians such as d(x x^T x)/dx: md.grad takes scalars only). No assertion is left unread
    and none is excluded for an unsupported node."""
    kinds: dict[str, int] = {}
    for p in PAIRS:
        kinds[p.kind] = kinds.get(p.kind, 0) + 1
    assert not UNREAD, UNREAD
    assert len(PAIRS) == 105
    assert kinds == {"scalar-by-matrix": 63, "by Symbol": 17, "by MatrixElement": 8, "matrix-valued": 17}


@pytest.mark.parametrize("pair", SCALAR_BY_MATRIX, ids=[f"{p.test}:{p.line}" for p in SCALAR_BY_MATRIX])
def test_sympy_derivative_pairs(pair: Pair) -> None:
    """md.grad(from_sympy(expr), var) equals SymPy's expected derivative, both evaluated at the same values."""
    f, var = md.from_sympy(pair.expr), md.from_sympy(pair.var)
    got = md_value(md.grad(f, var), f, var)
    want = sympy_value(pair.expected, VALUES)
    assert want.shape == ((K, 1) if var.is_vector else (K, K))  # SymPy lays a gradient out like the variable
    assert close(got, want), (pair.line, got, want)


# ---- where SymPy's derivative is wrong and matderiv's right --------------------------------------------------------
@dataclass
class Wrong:
    id: str
    expr: sympy.Expr
    f: Callable[[Array], float]  # hand-written numpy
    grad: Callable[[Array], Array]  # hand-derived (Matrix Cookbook)


WRONG = [
    Wrong("log det X", sympy.log(Determinant(X)), lambda v: np.log(np.linalg.det(v)), lambda v: inv(v).T),  # (C 57)
    Wrong("log det XXᵀ", sympy.log(Determinant(X * X.T)), lambda v: np.log(np.linalg.det(v @ v.T)),
          lambda v: 2 * inv(v).T),  # 2 (XXᵀ)⁻¹X = 2X^{−T} (C 51)
    Wrong("tr X + 1", Trace(X) + 1, lambda v: tr(v) + 1, lambda v: np.eye(K)),  # (C 99)
    Wrong("2 tr X + 3", 2 * Trace(X) + 3, lambda v: 2 * tr(v) + 3, lambda v: 2 * np.eye(K)),
    Wrong("tr X + tr X²", Trace(X) + Trace(X**2), lambda v: tr(v) + tr(v @ v),
          lambda v: np.eye(K) + 2 * v.T),  # (C 99, 106)
    Wrong("tr(X)² + tr X", Trace(X)**2 + Trace(X), lambda v: tr(v)**2 + tr(v), lambda v: (2 * tr(v) + 1) * np.eye(K)),
    Wrong("exp tr X", sympy.exp(Trace(X)), lambda v: np.exp(tr(v)), lambda v: np.exp(tr(v)) * np.eye(K)),
    Wrong("sin tr X", sympy.sin(Trace(X)), lambda v: np.sin(tr(v)), lambda v: np.cos(tr(v)) * np.eye(K)),
    Wrong("log tr XXᵀ", sympy.log(Trace(X * X.T)), lambda v: np.log(tr(v @ v.T)), lambda v: 2 * v / tr(v @ v.T)),
]


@pytest.mark.parametrize("case", WRONG, ids=[c.id for c in WRONG])
def test_sympy_returns_zero_where_matderiv_is_right(case: Wrong) -> None:
    if SYMPY_114:
        assert case.expr.diff(X) == ZeroMatrix(k, k)  # SymPy 1.14's answer
    v = VALUES["X"]
    assert_vjp(case.f, [v], {0: case.grad(v)})  # the hand-derived gradient agrees with float64 differences
    f = md.from_sympy(case.expr)
    got = md_value(md.grad(f, "X"), f)
    assert close(got, case.grad(v))


def test_sympy_leaves_det_underived_where_matderiv_is_right() -> None:
    if SYMPY_114:
        assert isinstance(Determinant(X).diff(X), sympy.Derivative)  # SymPy 1.14 cannot differentiate det X
    v = VALUES["X"]
    grad = np.linalg.det(v) * inv(v).T  # (C 49)
    assert_vjp(lambda w: np.linalg.det(w), [v], {0: grad})
    assert close(md_value(md.grad(md.from_sympy(Determinant(X)), "X")), grad)


def test_sympy_fails_where_matderiv_is_right() -> None:
    a, b = MatrixSymbol("a", k, 1), MatrixSymbol("b", k, 1)
    e = sympy.sqrt(a.T * X * b) * Trace(X)
    if SYMPY_114:
        with pytest.raises(ValueError, match="different ranks"):  # SymPy 1.14
            e.diff(X)
    va, vb, v = VALUES["a"], VALUES["b"], VALUES["X"]

    def f(w: Array) -> float:
        return (np.sqrt(va.T @ w @ vb) * tr(w)).item()

    s = np.sqrt(va.T @ v @ vb).item()
    grad = s * np.eye(K) + tr(v) * (va @ vb.T) / (2 * s)  # product rule with (C 70) and (C 99)
    assert_vjp(f, [v], {0: grad})
    f_md = md.from_sympy(e)
    assert close(md_value(md.grad(f_md, "X"), f_md), grad)
