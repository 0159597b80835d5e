"""Issue 2 item 7: the mpmath code printer and the certificate ``md.check``.

The printer is checked against hand-written numpy (every op) and known values; the certificate must certify
correct derivatives to ≥ dps − 10 digits (mpmath) and ≥ 8 digits (float64), and must fail wrong candidates.
"""
from __future__ import annotations

import ast
import sys
from typing import Any, Callable

import mpmath
import numpy as np
import pytest
import sympy

import matderiv as md
from matderiv.core.expr import iter_nodes
from matderiv.core.expr import OPS
from matderiv.ops import blockdot, blocksum
from matderiv.codegen.mpmath import MpmathCodePrinter, mpmath_code, mpmath_function

a, b = md.vector("a", "n"), md.vector("b", "m")
X = md.matrix("X", "n", "m")
A, C = md.matrix("A", "n", "n"), md.matrix("C", "m", "m")
B = md.matrix("B", "m", "n")
x, y = md.vector("x", "n"), md.vector("y", "n")
w = md.vector("w", "m")
S = md.matrix("S", "n", "n", symmetric=True)
s = md.scalar("s")
G = md.matrix("G", "n", "m")

SEED_A = [1, 2, 3, 4]
SEED_X = [[1, 2, 3], [5, 6, 7], [8, 9, 10], [5, 4, 3]]
SEED_B = [2, 3, 4]


def _np(v: Any) -> np.ndarray:
    """An mpmath result (mpf or matrix) as a float64 2-D array."""
    if isinstance(v, mpmath.matrix):
        return np.array([[float(v[i, j]) for j in range(v.cols)] for i in range(v.rows)])
    return np.array([[float(v)]])


# ---- the mpmath printer --------------------------------------------------------------------------------------------
def test_every_op_has_an_mpmath_printer() -> None:
    """The printer calls each op's own mpmath= definition; only leaves and f(X) have printer methods."""
    missing = [name for name, op in OPS.items() if op.mpmath is None and not hasattr(MpmathCodePrinter, f"_print_{name}")]
    assert not missing


def test_seed_example_values_in_mpmath() -> None:
    f = a.T @ X @ b
    fn = mpmath_function([a, X, b], [f, md.grad(f, X), md.grad(f, a)])
    with mpmath.workdps(30):
        val, g_x, g_a = fn(SEED_A, SEED_X, SEED_B)
    assert val == 517  # 1·20 + 2·56 + 3·83 + 4·34
    assert _np(g_x).tolist() == [[2, 3, 4], [4, 6, 8], [6, 9, 12], [8, 12, 16]]
    assert _np(g_a)[:, 0].tolist() == [20, 56, 83, 34]


def test_mpmath_code_is_standalone() -> None:
    src = mpmath_code([md.logdet(A) + md.sum(md.sigmoid(A) * md.relu(A)), md.softmax(x)], [A, x], name="value")
    tree = ast.parse(src)
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [(type(n).__name__, [al.name for al in n.names]) for n in imports] == [("Import", ["mpmath"])]
    assert "matderiv" not in src and "numpy" not in src
    namespace: dict[str, Any] = {}
    exec(compile(src, "<test>", "exec"), namespace)
    with mpmath.workdps(40):
        v, sm = namespace["value"](np.eye(2) * 2, [0, 0])
    # log det 2I = 2 log 2; Σ σ(A) ⊙ relu(A) = 2·σ(2)·2 (relu(0) = 0 off the diagonal); softmax(0, 0) = (1/2, 1/2)
    with mpmath.workdps(40):
        expected = 2 * mpmath.log(2) + 2 * 2 / (1 + mpmath.exp(-2))
        assert abs(v - expected) < mpmath.mpf(10) ** -38
        assert all(abs(sm[i, 0] - mpmath.mpf(1) / 2) < mpmath.mpf(10) ** -38 for i in range(2))


def test_mpmath_code_renames_nothing_a_user_can_name() -> None:
    """Symbols called like the module or builtins the code uses still work (generated names start with '_')."""
    mp_, mx, fsym = md.vector("mpmath", "n"), md.vector("max", "n"), md.scalar("f")
    e = md.sum(md.relu(mp_) * mx) * fsym + md.sum(md.exp(mp_))
    fn = mpmath_function([mp_, mx, fsym], e)
    with mpmath.workdps(30):
        v = fn([1, -2], [3, 4], 2)
        assert abs(v - (6 + mpmath.e + mpmath.exp(-2))) < mpmath.mpf(10) ** -28


def test_mpmath_code_precision_known_values() -> None:
    """‖(1, 1)‖ = √2 and det [[1,2,3],[5,6,7],[8,9,11]] = −4 to 60 digits."""
    v = md.vector("v", 2)
    fn = mpmath_function([v, A], [md.norm2(v), md.det(A)])
    with mpmath.workdps(60):
        r2, d = fn([1, 1], [[1, 2, 3], [5, 6, 7], [8, 9, 11]])
        assert abs(r2 - mpmath.sqrt(2)) < mpmath.mpf(10) ** -58
        assert abs(d + 4) < mpmath.mpf(10) ** -55


def _rng_values() -> dict[str, np.ndarray]:
    g = np.random.default_rng(7)
    n, m = 3, 2
    return {"A": 3 * np.eye(n) + g.standard_normal((n, n)), "C": 3 * np.eye(m) + g.standard_normal((m, m)),
            "X": g.standard_normal((n, m)), "B": g.standard_normal((m, n)), "x": g.uniform(0.5, 1.5, (n, 1)),
            "y": g.standard_normal((n, 1)), "w": g.standard_normal((m, 1)), "s": np.array([[0.7]]),
            "G": g.standard_normal((n * m, n * m))}


def _sig(t: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-t))


def _blocks(g: np.ndarray, r: int, c: int) -> Callable[[int, int], np.ndarray]:
    return lambda i, j: g[i * r:(i + 1) * r, j * c:(j + 1) * c]


K, A3, C2 = md.matrix("G", 6, 6), md.matrix("A", 3, 3), md.matrix("C", 2, 2)  # concrete sizes: 6 = 3·2
# (expression, hand-written numpy of the same value from the 2-D arrays)
OP_CASES: list[tuple[str, Callable[[], md.Expr], Callable[[dict[str, np.ndarray]], np.ndarray]]] = [
    ("add-broadcast", lambda: X + w.T + s + 1, lambda v: v["X"] + v["w"].T + v["s"] + 1),
    ("mul-div", lambda: X * X / (X * X + 1) * s * 0.25,
     lambda v: v["X"] ** 2 / (v["X"] ** 2 + 1) * v["s"] * 0.25),
    ("matmul", lambda: A @ X @ C, lambda v: v["A"] @ v["X"] @ v["C"]),
    ("power", lambda: x ** 3 + x ** -2 + x ** 0.5 + x ** 1.5, lambda v: v["x"] ** 3 + v["x"] ** -2.0
     + np.sqrt(v["x"]) + v["x"] ** 1.5),
    ("transpose", lambda: X.T @ A.T, lambda v: v["X"].T @ v["A"].T),
    ("trig", lambda: md.sin(X) + md.cos(X) * md.tan(X) - md.tanh(X),
     lambda v: np.sin(v["X"]) + np.cos(v["X"]) * np.tan(v["X"]) - np.tanh(v["X"])),
    ("exp-log-sqrt", lambda: md.exp(y) + md.log(x) + md.sqrt(x) + md.abs(y),
     lambda v: np.exp(v["y"]) + np.log(v["x"]) + np.sqrt(v["x"]) + np.abs(v["y"])),
    ("kinks", lambda: md.sign(y) + md.relu(y) + md.step(y) * 10,
     lambda v: np.sign(v["y"]) + np.maximum(v["y"], 0) + 10 * (v["y"] > 0)),
    ("sigmoid-softplus", lambda: md.sigmoid(X) + md.softplus(X), lambda v: _sig(v["X"]) + np.log1p(np.exp(v["X"]))),
    ("user", lambda: md.elementwise("sq_plus", lambda t: t ** 2 + 1)(X), lambda v: v["X"] ** 2 + 1),
    ("trace-det-logdet", lambda: md.trace(A) + md.det(A) * md.logdet(A),
     lambda v: np.trace(v["A"]) + np.linalg.det(v["A"]) * np.log(np.linalg.det(v["A"]))),
    ("inv", lambda: md.inv(A), lambda v: np.linalg.inv(v["A"])),
    ("solve", lambda: md.solve(A, X), lambda v: np.linalg.solve(v["A"], v["X"])),
    ("sum-norm", lambda: md.sum(X) * md.norm2(X) + md.norm2(x), lambda v: v["X"].sum() * np.linalg.norm(v["X"])
     + np.linalg.norm(v["x"])),
    ("diag", lambda: md.diag(x) @ A + md.diag(md.diag(A)), lambda v: np.diag(v["x"][:, 0]) @ v["A"]
     + np.diag(np.diag(v["A"]))),
    ("diagpart", lambda: md.diag(A), lambda v: np.diag(v["A"])[:, None]),
    ("kron", lambda: md.kron(A, C), lambda v: np.kron(v["A"], v["C"])),
    ("blockdot", lambda: blockdot(K, C2),  # out[i, j] = ⟨block (i, j) of G, C⟩
     lambda v: np.array([[np.sum(_blocks(v["G"], 2, 2)(i, j) * v["C"]) for j in range(3)] for i in range(3)])),
    ("blocksum", lambda: blocksum(K, A3),  # Σ A[i, j] · block (i, j) of G (blocks 2×2)
     lambda v: sum(v["A"][i, j] * _blocks(v["G"], 2, 2)(i, j) for i in range(3) for j in range(3))),
    ("logsumexp-softmax", lambda: md.softmax(y) * md.logsumexp(X),
     lambda v: np.exp(v["y"]) / np.exp(v["y"]).sum() * np.log(np.exp(v["X"]).sum())),
    ("constants", lambda: md.ones("n", "m") * 2 + md.zeros("n", "m") + md.eye("n") @ X - md.ones("n") @ w.T,
     lambda v: 2 + v["X"] - v["w"].T),
]


@pytest.mark.parametrize("case", OP_CASES, ids=[c[0] for c in OP_CASES])
def test_mpmath_printer_matches_handwritten_numpy(case: Any) -> None:
    _, build, ref = case
    e = build()
    vals = _rng_values()
    syms = sorted(e.free_symbols, key=lambda t: t.name)
    fn = mpmath_function(syms, e)
    with mpmath.workdps(30):
        got = _np(fn(*(vals[t.name] for t in syms)))
    want = np.atleast_2d(np.asarray(ref(vals), dtype=float))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_mpmath_code_errors() -> None:
    f = a.T @ X @ b
    with pytest.raises(md.ArgumentError, match="'b'"):
        mpmath_code(f, [a, X])
    with pytest.raises(md.ArgumentError, match="'q'"):
        mpmath_code(f, [a, X, b, "q"])
    with pytest.raises(md.InvalidNameError, match="1f"):
        mpmath_code(f, [a, X, b], name="1f")
    # a dimension no argument gives is a keyword, as in the numpy code (issue 6), unless dims= fixes it
    assert "def f(s, *, n):" in mpmath_code(md.sum(md.ones("n")) * s, [s])
    with pytest.raises(md.ArgumentError, match="dimension n"):
        mpmath_function([s], md.sum(md.ones("n")) * s)(2)
    assert mpmath_function([s], md.sum(md.ones("n")) * s)(2, n=3) == 6
    src = mpmath_code(md.sum(md.ones("n")) * s, [s], dims={"n": 5})
    namespace: dict[str, Any] = {}
    exec(src, namespace)
    assert namespace["f"](2) == 10


# ---- the certificate: correct derivatives certify -----------------------------------------------------------------
W1, b1 = md.matrix("W1", "h", "p"), md.vector("b1", "h")
W2, b2 = md.matrix("W2", "o", "h"), md.vector("b2", "o")
Xin = md.matrix("Xin", "n", "p")
MLP = md.sigmoid(md.relu(Xin @ W1.T + b1.T) @ W2.T + b2.T)
sq = md.elementwise("cube_half", lambda t: t ** 3 + t / 2)

CERTIFY: dict[str, tuple[md.Expr, Any, md.Expr | None]] = {
    "aXb": (a.T @ X @ b, [a, X, b], None),
    "xAx": (x.T @ A @ x, [A, x], None),
    "xSx-symmetric": (x.T @ S @ x, [S, x], None),
    "logdet": (md.logdet(A), A, None),
    "det": (md.det(A), A, None),
    "trAXB": (md.trace(B @ A @ B.T @ C), [A, B, C], None),
    "least-squares": (md.norm2(X @ w - a) ** 2, [X, w, a], None),
    "logistic": (md.sum(md.log(1 + md.exp(-y * (X @ w)))), [X, w], None),
    "softplus": (md.sum(md.softplus(-y * (X @ w))), [X, w], None),
    "inv": (md.sum(md.inv(A) * A), A, None),
    "solve": (a.T @ md.solve(A, X) @ b, [A, X], None),
    "kron": (md.sum(md.kron(A, C) * md.kron(A.T, C.T)), [A, C], None),
    "diag": (x.T @ md.diag(y) @ A @ md.diag(md.diag(A)) @ x, [x, y, A], None),
    "logsumexp": (md.logsumexp(X @ w) + md.logsumexp(X), [X, w], None),
    "softmax": (y.T @ md.log(md.softmax(A @ x)), [A, x], None),
    "trig": (md.sum(md.sin(X) * md.cos(X) + md.tan(X) + md.tanh(X)), X, None),
    "sqrt-abs": (md.sum(md.sqrt(X * X + 1) + md.sqrt(md.abs(X))), X, None),
    "sign-step-relu": (md.sum(md.sign(X) * X + md.step(X) * X * X + md.relu(X) ** 3), X, None),
    "sigmoid": (md.sum(md.sigmoid(X @ C)), [X, C], None),
    "powers": (md.sum(X ** 3 + X ** -2 + md.abs(X) ** 0.5 + md.exp(X) ** 1.5), X, None),
    "norm2-scalar": (md.norm2(X) + md.norm2(a) * s + s * s / md.sum(md.exp(X)), [X, a, s], None),
    "user-function": (md.sum(sq(X)), X, None),
    "row-broadcast": (md.sum(md.tanh(X @ C + w.T)), [X, C, w], None),
    "log-power": (md.sum(md.log(X) + X ** (1 / 3)), X, None),
    "vjp-AX": (A @ X, [A, X], md.ones_like(A @ X)),
    "vjp-symbol-seed": (md.exp(X) @ C, [X, C], G),
    "relu-network": (MLP, [Xin, W1, b1, W2, b2], md.ones_like(MLP)),
}


@pytest.mark.parametrize("name", list(CERTIFY))
def test_correct_derivatives_certify(name: str) -> None:
    f, wrt, seed = CERTIFY[name]
    r = md.check(f, wrt, dps=30, seed=seed)
    assert r.ok, str(r)
    assert r.numpy_error is None
    assert all(d >= 20 for d in r.digits_mpmath.values()), r.digits_mpmath
    assert all(d is not None and d >= 8 for d in r.digits_numpy.values()), r.digits_numpy
    assert str(r).count("certified: ") == len(r.wrt) and "FAILED" not in str(r)


@pytest.mark.parametrize("name", ["logdet", "solve", "relu-network"])
def test_certify_at_50_digits(name: str) -> None:
    f, wrt, seed = CERTIFY[name]
    r = md.check(f, wrt, dps=50, seed=seed, rng=3)
    assert r.ok and r.dps == 50 and r.rng == 3, str(r)
    assert all(d >= 40 for d in r.digits_mpmath.values())


def test_seed_example_at_given_values() -> None:
    f = a.T @ X @ b
    r = md.check(f, X, at={a: SEED_A, X: SEED_X, b: SEED_B}, dps=50)
    assert r.ok and bool(r)
    assert r.dims == {"n": 4, "m": 3}
    assert r.digits_mpmath == {"X": 50.0} and r.digits_numpy["X"] >= 14  # type: ignore[operator]
    text = str(r)
    assert text.startswith("certified: d/dX (a.T @ X @ b) = a @ b.T  — 50 digits (mpmath, dps=50), ")
    assert "digits (numpy float64)" in text and text.endswith("; n=4, m=3; rng=0")
    np.testing.assert_array_equal(r.values["X"], np.array(SEED_X, dtype=float))
    # a hand-written candidate: the seed's gradient a bᵀ, given as numbers-free formula
    assert md.check(f, X, at={a: SEED_A, X: SEED_X, b: SEED_B}, grad=a @ b.T, dps=30).ok


def test_names_for_wrt_and_at_keys() -> None:
    f = a.T @ X @ b
    r = md.check(f, ["a", "b"], at={"a": np.array(SEED_A), "X": np.array(SEED_X), "b": np.array(SEED_B)[:, None]},
                 dps=30)
    assert r.ok and [t.name for t in r.wrt] == ["a", "b"]
    assert str(r.formulas[0]) == "X @ b" and str(r.formulas[1]) == "X.T @ a"
    assert md.check(f, "X", at={"n": 2, "m": 5}, dps=30).dims == {"n": 2, "m": 5}  # sizes only: random values


def test_seed_example_vjp_with_a_random_symbol_seed() -> None:
    """F = A X at the seed's A, X; the seed G (a symbol only of the seed) is drawn at random."""
    A2, X23, G23 = md.matrix("A", 2, 2), md.matrix("X", 2, 3), md.matrix("G", 2, 3)
    r = md.check(A2 @ X23, X23, at={"A": [[1, 2], [3, 4]], "X": [[1, 2, 3], [4, 5, 6]]}, seed=G23, dps=30)
    assert r.ok and str(r.formulas[0]) == "A.T @ G"
    assert r.values["G"].shape == (2, 3) and len(np.unique(r.values["G"])) == 6


# ---- the certificate: wrong formulas fail ------------------------------------------------------------------------
Xsq = md.matrix("X", "n", "n")
av, bv = md.vector("a", "n"), md.vector("b", "n")
WRONG: dict[str, tuple[md.Expr, md.Expr, md.Expr]] = {
    "b a^T instead of a b^T": (av.T @ Xsq @ bv, Xsq, bv @ av.T),
    "sign error": (av.T @ Xsq @ bv, Xsq, -(av @ bv.T)),
    "missing transpose in log det": (md.logdet(A), A, md.inv(A)),
    "missing transpose in x^T A x": (x.T @ A @ x, x, 2 * A @ x),
    "missing factor 2": (md.norm2(A @ x - y) ** 2, x, A.T @ (A @ x - y)),
    "sigmoid' wrong": (md.sum(md.sigmoid(x)), x, md.sigmoid(x) * md.sigmoid(x)),
}


@pytest.mark.parametrize("name", list(WRONG))
def test_wrong_candidates_fail(name: str) -> None:
    f, wrt, g = WRONG[name]
    r = md.check(f, wrt, grad=g, dps=30)
    assert not r.ok and not bool(r)
    assert max(r.digits_mpmath.values()) < 3 and max(r.digits_numpy.values()) < 3  # type: ignore[type-var]
    assert str(r).startswith("FAILED: ") and "needs ≥ 20" in str(r) and "needs ≥ 8" in str(r)


def test_wrong_candidate_fails_at_the_seed_values() -> None:
    r = md.check(a.T @ X @ b, X, at={"a": SEED_A, "X": SEED_X, "b": SEED_B}, grad=(a @ b.T) * 2, dps=30)
    assert not r.ok and r.digits_mpmath["X"] < 1


# ---- the random point -----------------------------------------------------------------------------------------------
def test_random_point_is_generic_and_in_the_domain() -> None:
    r = md.check(md.logdet(A) + md.sum(md.log(X)) + x.T @ md.solve(A, x), [A, X, x], dps=30)
    assert r.ok, str(r)
    va, vx = r.values["A"], r.values["X"]
    assert len(set(r.dims.values())) == len(r.dims)  # distinct sizes, so a transposition shows
    assert not np.allclose(va, va.T)  # not symmetric
    assert np.linalg.det(va) > 0 and np.linalg.cond(va) < 1e4
    assert (vx > 0).all()
    rs = md.check(x.T @ S @ x, S, dps=30)
    np.testing.assert_array_equal(rs.values["S"], rs.values["S"].T)


def test_random_point_avoids_kinks_and_tan_poles() -> None:
    f = md.sum(md.relu(X @ C + w.T)) + md.sum(md.tan(X @ w)) + md.norm2(a)
    r = md.check(f, [X, C, w, a], dps=30)
    assert r.ok, str(r)
    v = r.values
    pre = v["X"] @ v["C"] + v["w"].T
    assert np.abs(pre).min() > 1e-3
    assert np.abs(v["X"] @ v["w"]).max() < 1
    assert np.linalg.norm(v["a"]) > 1e-3


def test_seed_network_certifies_at_an_unsaturated_point() -> None:
    """The seed's Linear(15,30)–ReLU–Linear(30,15)–ReLU–Linear(15,1)–Sigmoid on a 10×15 input, all VJPs."""
    Xn = md.matrix("X", 10, 15)
    V1, c1 = md.matrix("W1", 30, 15), md.vector("b1", 30)
    V2, c2 = md.matrix("W2", 15, 30), md.vector("b2", 15)
    V3, c3 = md.matrix("W3", 1, 15), md.scalar("b3")
    Y = md.sigmoid(md.relu(md.relu(Xn @ V1.T + c1.T) @ V2.T + c2.T) @ V3.T + c3)
    r = md.check(Y, [Xn, V1, c1, V2, c2, V3, c3], seed=md.ones_like(Y), dps=30)
    assert r.ok and len(r.wrt) == 7, str(r)
    assert min(r.digits_numpy.values()) >= 12  # type: ignore[type-var]
    v = r.values
    z1 = v["X"] @ v["W1"].T + v["b1"].T
    z2 = np.maximum(z1, 0) @ v["W2"].T + v["b2"].T
    z3 = np.maximum(z2, 0) @ v["W3"].T + v["b3"]
    assert np.abs(z1).min() > 1e-3 and np.abs(z2).min() > 1e-3  # away from the ReLU kinks
    assert np.abs(z3).max() <= 10  # the sigmoid is not saturated


def test_rng_is_reproducible() -> None:
    f = md.sum(md.sigmoid(X @ w))
    r1, r2, r3 = md.check(f, X, dps=30, rng=5), md.check(f, X, dps=30, rng=5), md.check(f, X, dps=30, rng=6)
    np.testing.assert_array_equal(r1.values["X"], r2.values["X"])
    assert r1.digits_mpmath == r2.digits_mpmath and r1.rng == 5
    assert not np.array_equal(r1.values["X"], r3.values["X"])


# ---- errors ------------------------------------------------------------------------------------------------
F = a.T @ X @ b
ERRORS: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("non-scalar without seed", lambda: md.check(A @ X, X), md.DerivativeError, "seed=md.ones_like"),
    ("seed of the wrong shape", lambda: md.check(A @ X, X, seed=md.ones_like(A)), md.DerivativeError, "seed"),
    ("seed depends on wrt", lambda: md.check(A @ X, [X, G], seed=G), md.ArgumentError, "'G'"),
    ("unknown wrt name", lambda: md.check(F, "q"), md.ArgumentError, "'q'"),
    ("wrt not a symbol", lambda: md.check(F, X.T), md.DerivativeError, "X.T"),
    ("unknown at name", lambda: md.check(F, X, at={"q": 1}), md.ArgumentError, "'q'"),
    ("at misses a value", lambda: md.check(F, X, at={"a": SEED_A, "X": SEED_X}), md.ArgumentError, "'b' (m×1)"),
    ("size against value", lambda: md.check(F, X, at={"a": SEED_A, "X": SEED_X, "b": SEED_B, "n": 5}),
     md.ShapeError, "dimension n is 5 from at['n'] but 4 from the value of 'a'"),
    ("bad size", lambda: md.check(F, X, at={"n": 0}), md.ArgumentError, "'n'"),
    ("at value of the wrong shape", lambda: md.check(F, X, at={"a": [[1, 2], [3, 4]]}), md.ShapeError, "'a'"),
    ("inconsistent sizes", lambda: md.check(F, X, at={"a": [1, 2], "X": np.ones((3, 3))}), md.ShapeError,
     "dimension n"),
    ("value not numbers", lambda: md.check(F, X, at={"a": ["1", 2, 3]}), md.ArgumentError, "'a'"),
    ("non-finite value", lambda: md.check(F, X, at={"a": [np.nan, 2, 3]}), md.ArgumentError, "'a'"),
    ("at key with another shape", lambda: md.check(F, X, at={md.matrix("X", 2, 2): np.eye(2)}), md.ShapeError,
     "'X'"),
    ("symmetric symbol, non-symmetric value", lambda: md.check(x.T @ S @ x, S, at={"S": [[1, 2], [3, 4]]}),
     md.ArgumentError, "'S'"),
    ("candidate of the wrong shape", lambda: md.check(F, X, grad=b @ a.T), md.ShapeError, "b @ a.T"),
    ("one candidate for two variables", lambda: md.check(F, [X, a], grad=a @ b.T), md.ArgumentError, "2 variable"),
    ("no valid random point", lambda: md.check(md.logdet(-(A @ A.T)), A, dps=30), md.CheckError, "logdet"),
    ("given values outside the domain", lambda: md.check(md.sum(md.log(x)), x, at={"x": [1, -2, 3]}),
     md.CheckError, "log(x)"),
    ("given value at a kink", lambda: md.check(md.sum(md.relu(x)), x, at={"x": [1, 0, 3]}), md.CheckError,
     "relu(x)"),
    ("singular given matrix", lambda: md.check(md.logdet(A), A, at={"A": [[1, 2], [2, 4]]}), md.CheckError,
     "logdet(A)"),
    ("dps too small", lambda: md.check(F, X, dps=5), md.ArgumentError, "dps"),
    ("negative rng", lambda: md.check(F, X, rng=-1), md.ArgumentError, "rng"),
    ("not an expression", lambda: md.check("a'Xb", X), md.ArgumentError, "str"),
]


@pytest.mark.parametrize("case", ERRORS, ids=[c[0] for c in ERRORS])
def test_errors_name_the_culprit(case: Any) -> None:
    _, call, exc, fragment = case
    with pytest.raises(exc) as info:
        call()
    assert isinstance(info.value, md.MatderivError)
    assert fragment in str(info.value)


def test_user_function_with_rational_coefficient() -> None:
    third = md.elementwise("cube_third", lambda t: t ** 3 + t / 3)
    assert md.check(md.sum(third(X)), X, dps=30).ok


def test_default_sizes_are_reordered_when_they_make_the_domain_empty() -> None:
    # X n×m with the first default sizes n=3 < m=4 makes XᵀX singular; the certificate must try n > m instead.
    Xw = md.matrix("X", "n", "m")
    report = md.check(md.logdet(Xw.T @ Xw), Xw, dps=30)
    assert report.ok and report.dims["n"] > report.dims["m"]
    # a wrong candidate (the gradient of log det X for a square X) still fails there
    assert not md.check(md.logdet(Xw.T @ Xw), Xw, dps=30, grad=Xw @ md.inv(Xw.T @ Xw)).ok


def test_irrational_constants_of_derivatives_stay_exact() -> None:
    # d/dt (π t) = π: kept inside a SymPy body, so it certifies to dps digits (a float π gives 16)
    x = md.vector("x", 3)
    h = md.elementwise("h", lambda t: sympy.pi * t + sympy.sin(t))
    g = md.grad(md.sum(h(x)), x)
    assert str(g) == "cos(x) + h_prime_part(x)"  # π: a part of h′, named so
    assert md.check(md.sum(h(x)), x, dps=50).ok
    np.testing.assert_allclose(md.lambdify([x], g)([0.1, 0.2, 0.3]), np.pi + np.cos([0.1, 0.2, 0.3]), rtol=1e-15)


def test_distinct_unknown_parts_of_a_derivative_get_distinct_names(monkeypatch: pytest.MonkeyPatch) -> None:
    # d/dt erf(t)Γ(t) = (2/√π) e^{−t²} Γ(t) + erf(t) Γ(t) ψ(t): erf and Γ keep their names, the rest are numbered
    x = md.vector("x", 2)
    f = md.elementwise("f", lambda t: sympy.erf(t) * sympy.gamma(t))
    g = md.grad(md.sum(f(x)), x)
    fns = {n.params[0] for n in iter_nodes([g]) if n.op == "apply"}
    assert len({fn.name for fn in fns}) == len(fns)  # one name per function
    assert {"erf", "gamma"} <= {fn.name for fn in fns}
    assert md.check(md.sum(f(x)), x, dps=30).ok  # numpy writes erf, Γ and ψ with scipy.special (issue 6)
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.special", None)
    report = md.check(md.sum(f(x)), x, dps=30)  # without scipy numpy has no ψ: mpmath alone certifies, and says so
    assert report.ok and not report.numpy_written and "no numpy code" in str(report)


def test_decimal_constants_are_exact() -> None:
    # 0.1 is the decimal 1/10, so (0.1x)² has the gradient 0.02x exactly (a float product gives 0.020000000000000004
    # and a false failure at ~16 digits)
    x = md.vector("x", 3)
    g = md.grad(md.sum((0.1 * x) ** 2), x)
    assert str(g) == "0.02 * x"
    assert md.check(md.sum((0.1 * x) ** 2), x, dps=50).ok
    assert md.check(md.parse("sum((0.3*x - 0.7).^3)/0.9"), "x", dps=50).ok


def test_dimensions_of_size_one() -> None:
    # a vector of one entry is still a vector (1-D) for the generated code
    xv = md.vector("x", "n")
    assert md.check(md.sum(md.exp(xv)), xv, at={"n": 1}, dps=30).ok
    av, Xm, bv = md.vector("a", "n"), md.matrix("X", "n", "m"), md.vector("b", "m")
    assert md.check(av.T @ Xm @ bv, Xm, at={"m": 1}, dps=30).ok
