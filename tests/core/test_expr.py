"""Issue 2 items 1–2: symbols, dimensions, constants, shapes, free symbols, structural equality, numpy operators
and broadcasting, immutability."""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import sympy

import matderiv as md

n, m, k = (sympy.Symbol(s, integer=True, positive=True) for s in "nmk")
ONE = sympy.Integer(1)


# ---- symbols and dimensions -------------------------------------------------------------------------------------
@pytest.mark.parametrize("rows,cols,shape", [
    (2, 3, (2, 3)),
    ("n", "m", (n, m)),
    (sympy.Symbol("n"), 3, (n, 3)),  # a plain SymPy symbol becomes a positive-integer dimension
    (sympy.Symbol("n", integer=True, positive=True), "m", (n, m)),
    (sympy.Integer(4), np.int64(5), (4, 5)),
    (2 * sympy.Symbol("n"), 1, (2 * n, 1)),
])
def test_matrix_dimensions(rows: object, cols: object, shape: tuple) -> None:
    X = md.matrix("X", rows, cols)
    assert X.shape == shape
    assert all(isinstance(d, sympy.Expr) for d in X.shape)
    for d in X.shape:
        assert all(s.is_integer and s.is_positive for s in d.free_symbols)


def test_dimension_spellings_give_the_same_symbol() -> None:
    assert md.matrix("X", sympy.Symbol("n"), 3) == md.matrix("X", "n", 3)
    assert md.matrix("X", sympy.Integer(2), np.int64(3)) == md.matrix("X", 2, 3)


def test_vector_and_scalar() -> None:
    a, s = md.vector("a", "n"), md.scalar("s")
    assert a.shape == (n, ONE) and a.is_vector and not a.is_scalar
    assert s.shape == (ONE, ONE) and s.is_scalar and not s.is_vector
    assert a.name == "a" and a.is_symbol and s.name == "s"
    assert md.matrix("S", 3, 3, symmetric=True).shape == (3, 3)


def test_constants() -> None:
    X = md.matrix("X", "n", "m")
    assert md.eye(3).shape == (3, 3) and str(md.eye(3)) == "eye(3)"
    assert md.ones("n").shape == (n, ONE) and str(md.ones("n")) == "ones(n)"
    assert md.ones(2, 3).shape == (2, 3) and str(md.ones(2, 3)) == "ones(2, 3)"
    assert md.zeros(2, 3).shape == (2, 3) and str(md.zeros(2, 3)) == "zeros(2, 3)"
    assert md.ones_like(X) == md.ones("n", "m") and md.zeros_like(X) == md.zeros("n", "m")
    for c in (md.eye(3), md.ones(3), md.zeros(2, 3), md.ones_like(X)):
        assert c.free_symbols == frozenset() and c.is_constant


def test_python_numbers_are_scalars() -> None:
    X, s = md.matrix("X", "n", "m"), md.scalar("s")
    for e, text in [(2 * X, "2 * X"), (X / 2, "X / 2"), (X + 1, "X + 1"), (1 - X, "1 - X"), (s * 3, "3 * s"),
                    (0.5 * X, "0.5 * X"), (np.float64(2.0) * X, "2 * X"), (X * np.int64(3), "3 * X")]:
        assert isinstance(e, md.Expr) and str(e) == text
        assert e.shape == ((n, m) if e.free_symbols != {s} else (ONE, ONE))


def test_free_symbols() -> None:
    X, a, b = md.matrix("X", "n", "m"), md.vector("a", "n"), md.vector("b", "m")
    f = a.T @ X @ b + md.trace(md.eye(1))
    assert f.free_symbols == frozenset({a, X, b})
    assert X.free_symbols == frozenset({X})
    assert md.exp(X * 2).free_symbols == frozenset({X})


# ---- structural equality and immutability -------------------------------------------------------------------
def test_structural_equality_and_hash() -> None:
    def build() -> md.Expr:
        X, a, b = md.matrix("X", "n", "m"), md.vector("a", "n"), md.vector("b", "m")
        return md.logdet(md.eye("m") + X.T @ X) + a.T @ X @ b

    f, g = build(), build()
    assert f == g and hash(f) == hash(g)
    assert f is g  # interned: one object per structure, so equality never walks the tree
    assert {f: 1}[g] == 1
    assert md.matrix("X", 2, 3) != md.matrix("X", 3, 2)
    assert md.matrix("X", 2, 3) != md.matrix("Y", 2, 3)
    assert md.matrix("S", 2, 2, symmetric=True) != md.matrix("S", 2, 2)
    assert md.matrix("X", 2, 3) != "X" and md.scalar("s") != 1


def test_expressions_survive_pickle_and_copy() -> None:
    X = md.matrix("X", "n", "m")
    f = md.trace(X.T @ X) * 2
    assert pickle.loads(pickle.dumps(f)) == f
    assert copy.deepcopy(f) == f and copy.copy(f) == f


@pytest.mark.parametrize("attr", ["op", "args", "params", "shape", "name_of_nothing"])
def test_immutable(attr: str) -> None:
    X = md.matrix("X", 2, 3)
    with pytest.raises(AttributeError):
        setattr(X, attr, None)
    with pytest.raises(AttributeError):
        delattr(X, attr)
    assert X.op == "symbol" and X.shape == (2, 3)


def test_same_name_other_shape_is_another_symbol() -> None:
    X23, X32 = md.matrix("X", 2, 3), md.matrix("X", 3, 2)
    assert X23 != X32  # each alone is fine
    assert (X23 @ md.matrix("W", 3, 3)).shape == (2, 3) and md.trace(X32 @ X32.T).is_scalar
    with pytest.raises(md.ShapeError, match=r"'X'.*2×3.*3×2"):
        X23 + X32.T
    with pytest.raises(md.ShapeError, match=r"'X'"):
        md.trace(X23 @ X23.T) + md.sum(X32)  # deep in two branches
    with pytest.raises(md.ShapeError, match=r"'S'.*symmetric"):
        md.matrix("S", 2, 2, symmetric=True) + md.matrix("S", 2, 2)


# ---- numpy operators -------------------------------------------------------------------------------------------------
def test_operators_follow_numpy() -> None:
    X, Y, W = md.matrix("X", "n", "m"), md.matrix("Y", "n", "m"), md.matrix("W", "m", "k")
    s = md.scalar("s")
    cases = [
        (X @ W, "X @ W", (n, k)), (X * Y, "X * Y", (n, m)), (X / Y, "X / Y", (n, m)), (X + Y, "X + Y", (n, m)),
        (X - Y, "X - Y", (n, m)), (-X, "-X", (n, m)), (X**2, "X**2", (n, m)), (X.T, "X.T", (m, n)),
        (s * X, "s * X", (n, m)), (X / s, "X / s", (n, m)), (+X, "X", (n, m)),
        (X**s, "exp(s * log(X))", (n, m)),  # a scalar expression as exponent
    ]
    for e, text, shape in cases:
        assert str(e) == text and e.shape == shape


def test_a_one_by_one_product_is_a_scalar() -> None:
    X, a, b = md.matrix("X", "n", "m"), md.vector("a", "n"), md.vector("b", "m")
    f = a.T @ X @ b
    assert f.is_scalar and f.shape == (1, 1)
    assert (f * X).shape == (n, m)  # and broadcasts like one


def test_dense_layer_broadcasting() -> None:
    X, W, b = md.matrix("X", "n", "m"), md.matrix("W", "k", "m"), md.vector("b", "k")
    Y = X @ W.T + b.T  # numpy broadcasts the row bᵀ over the n rows: explicitly 𝟏bᵀ
    assert Y.shape == (n, k)
    assert str(Y) == "X @ W.T + ones(n) @ b.T"
    assert md.latex(Y) == r"X W^{\top} + \mathbf{1} b^{\top}"
    v = md.vector("v", "n")
    assert (X + v).shape == (n, m) and str(X + v) == "X + v @ ones(m).T"  # a column over the columns
    assert (X * md.ones(1, "m")).shape == (n, m)


@pytest.mark.parametrize("build", [
    lambda X, v: X + md.vector("u", "m"),  # an m-column cannot broadcast over n rows
    lambda X, v: X @ v,
    lambda X, v: X * md.matrix("Y", "m", "n"),
    lambda X, v: md.ones(3) + md.ones(4),
])
def test_broadcasting_mismatch(build) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(md.ShapeError):
        build(md.matrix("X", "n", "m"), md.vector("v", "n"))


def test_numeric_broadcasting_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    X, W, b = md.matrix("X", 4, 3), md.matrix("W", 2, 3), md.vector("b", 2)
    Xv, Wv, bv = rng.standard_normal((4, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)
    out = md.lambdify([X, W, b], X @ W.T + b.T)(Xv, Wv, bv)
    np.testing.assert_allclose(out, Xv @ Wv.T + bv, rtol=1e-14)


def test_canonical_order_does_not_depend_on_printing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Terms and factors are ordered by structure (core.expr.sort_key): derivatives are the same expressions when
    every printer is replaced by one that prints nonsense."""
    import matderiv.printing.text as text_printer

    def derive(tag: str) -> list[md.Expr]:
        A, x, b = md.matrix(f"A{tag}", "n", "n"), md.vector(f"x{tag}", "n"), md.vector(f"b{tag}", "n")
        W, y = md.matrix(f"W{tag}", "m", "n"), md.vector(f"y{tag}", "m")
        fs = [x.T @ A @ x + b.T @ x, md.norm2(W @ x - y) ** 2, md.sum(md.log(1 + md.exp(-y * (W @ x)))),
              md.logdet(A + A.T) - md.trace(md.inv(A) @ b @ b.T)]
        return [md.grad(f, v) for f in fs for v in (x, A) if v in f.free_symbols]

    plain = derive("p")
    monkeypatch.setattr(md.Expr, "__str__", lambda e: "?")
    monkeypatch.setattr(text_printer, "text", lambda e: "?")
    scrambled = derive("p2")
    rename = {}
    for g, h in zip(plain, scrambled):
        assert g.op == h.op and len(g.free_symbols) == len(h.free_symbols)
        for s in h.free_symbols:
            rename[s] = md.symbol(s.name[:-2] + "p", *s.shape)
    monkeypatch.undo()
    from matderiv.core.expr import iter_nodes
    from matderiv.core.spec import rebuild

    def substitute(e: md.Expr) -> md.Expr:
        memo: dict[md.Expr, md.Expr] = {}
        for n in iter_nodes([e]):
            memo[n] = rename.get(n, n) if not n.args else rebuild(n, [memo[a] for a in n.args])
        return memo[e]
    assert [substitute(h) for h in scrambled] == plain
