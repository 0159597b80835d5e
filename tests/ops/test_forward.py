"""Issue 7 items 1–3 and 7: forward mode (md.jvp), differentials (md.differential), Hessian-vector products
(md.hvp) and higher-order derivatives.

References are hand-written: the Matrix Cookbook's differentials (d(X⁻¹) = −X⁻¹ dX X⁻¹ (40), d det X =
det X tr(X⁻¹dX) (42), d log det X = tr(X⁻¹dX) (43)), the textbook Hessians (A + Aᵀ, 2AᵀA, diag(p) − ppᵀ) in
numpy, float64 central differences of numpy functions written here, and — for orders above two — float64 and
mpmath (40 digits) central differences of the next lower derivative.
"""
from __future__ import annotations

import zlib
from typing import Callable

import mpmath
import numpy as np
import pytest

import matderiv as md
from conftest import assert_canonical, ev

N = 4
rng0 = np.random.default_rng(7)
X = md.matrix("X", "n", "n")
A = md.matrix("A", "n", "n")
V = md.matrix("V", "n", "n")
x, v, w, b, u = (md.vector(s, "n") for s in "xvwbu")


def _spd(rng: np.random.Generator) -> np.ndarray:
    c = rng.standard_normal((N, N))
    return c @ c.T / N + np.eye(N)


def _fd(f: Callable[[np.ndarray], np.ndarray], at: np.ndarray, d: np.ndarray, h: float = 1e-6) -> np.ndarray:
    return (np.asarray(f(at + h * d)) - np.asarray(f(at - h * d))) / (2 * h)


def _vals(rng: np.random.Generator) -> dict[md.Expr, np.ndarray]:
    return {X: 2 * np.eye(N) + 0.3 * rng.standard_normal((N, N)), A: rng.standard_normal((N, N)),
            V: rng.standard_normal((N, N)), x: rng.standard_normal((N, 1)), v: rng.standard_normal((N, 1)),
            w: rng.standard_normal((N, 1)), b: rng.standard_normal((N, 1)), u: rng.standard_normal((N, 1))}


def _env(e: md.Expr, vals: dict[md.Expr, np.ndarray]) -> dict[md.Expr, np.ndarray]:
    return {s: vals[s] for s in sorted(e.free_symbols, key=lambda s: s.name)}


def value(e: md.Expr, vals: dict[md.Expr, np.ndarray]) -> np.ndarray:
    return ev(e, _env(e, vals))


# ---- md.jvp ----------------------------------------------------------------------------------------------------
def test_jvp_textbook_forms() -> None:
    """The Cookbook's differentials (40), (42), (43), with the direction V in place of dX."""
    assert md.jvp(md.inv(X), X, V) == md.simplify(-(md.inv(X) @ V @ md.inv(X)))
    assert md.jvp(md.det(X), X, V) == md.simplify(md.det(X) * md.trace(md.inv(X) @ V))
    assert md.jvp(md.logdet(X), X, V) == md.simplify(md.trace(md.inv(X) @ V))
    assert md.jvp(A @ x, x, v) == A @ v


@pytest.mark.parametrize("case", ["inv", "det", "logdet", "solve", "chol", "softmax", "sigmoid", "norm", "lse"])
def test_jvp_against_numpy_differences(case: str) -> None:
    """md.jvp against float64 central differences of the function written in numpy."""
    rng = np.random.default_rng(zlib.crc32(case.encode()))
    vals = _vals(rng)
    sm = lambda z: np.exp(z) / np.exp(z).sum()  # noqa: E731
    cases: dict[str, tuple[md.Expr, md.Expr, md.Expr, Callable[[np.ndarray], np.ndarray]]] = {
        "inv": (md.inv(X), X, V, np.linalg.inv),
        "det": (md.det(X), X, V, lambda m: np.linalg.det(m)),
        "logdet": (md.logdet(X), X, V, lambda m: np.log(np.linalg.det(m))),
        "solve": (md.solve(X, A), X, V, lambda m: np.linalg.solve(m, vals[A])),
        "chol": (md.cholesky(X), X, V, lambda m: np.linalg.cholesky((m + m.T) / 2)),
        "softmax": (md.softmax(A @ x), x, v, lambda z: sm(vals[A] @ z)),
        "sigmoid": (md.sigmoid(A @ x), x, v, lambda z: 1 / (1 + np.exp(-(vals[A] @ z)))),
        "norm": (md.norm2(A @ x - b), x, v, lambda z: np.linalg.norm(vals[A] @ z - vals[b])),
        "lse": (md.logsumexp(X), X, V, lambda m: np.log(np.exp(m).sum())),
    }
    F, S, D, f = cases[case]
    if case == "chol":
        vals[X] = _spd(rng)
    got = value(md.jvp(F, S, D), vals)
    want = _fd(f, vals[S], vals[D]).reshape(np.shape(got))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_jvp_of_several_variables_and_directions_that_are_expressions() -> None:
    """d(AX)[dA = V, dX = VᵀV] = V X + A VᵀV; a direction may be any expression of the symbol's shape free of
    the moved symbols."""
    F = A @ X
    got = md.jvp(F, {A: V, "X": V.T @ V})
    vals = _vals(np.random.default_rng(3))
    want = vals[V] @ vals[X] + vals[A] @ (vals[V].T @ vals[V])
    np.testing.assert_allclose(value(got, vals), want, rtol=1e-12)
    assert md.jvp(F, {A: V}) == V @ X


def test_jvp_errors_name_the_culprit() -> None:
    with pytest.raises(md.ShapeError, match="'v' .*n×1.* 'X'"):
        md.jvp(md.det(X), X, v)
    with pytest.raises(md.ArgumentError, match="needs a direction"):
        md.jvp(md.det(X), X)
    with pytest.raises(md.ArgumentError, match="no symbol named 'Y'"):
        md.jvp(md.det(X), "Y", V)
    with pytest.raises(md.ArgumentError, match="no third argument"):
        md.jvp(md.det(X), {X: V}, V)
    S = md.matrix("S", "n", "n", symmetric=True)
    with pytest.raises(md.DerivativeError, match="symmetric"):
        md.jvp(md.logdet(S), S, V)
    assert md.jvp(md.logdet(S), S, (V + V.T) / 2) == md.simplify(md.trace(md.inv(S) @ (V + V.T)) / 2)


def test_jvp_of_a_broadcast_scalar_has_the_full_shape() -> None:
    """d(s + X)[t] = t 𝟏𝟏ᵀ (n×m), not the 1×1 t: a scalar's tangent spreads where the scalar was broadcast."""
    s, t, Y = md.scalar("s"), md.scalar("t"), md.matrix("Y", "n", "m")
    assert md.jvp(s + Y, s, t) == md.simplify(t * md.ones("n", "m"))
    assert md.jvp(md.exp(s) + Y, s, t).shape == Y.shape


def test_jvp_of_a_constant_direction_is_zero() -> None:
    assert md.jvp(md.det(A), X, V) == md.zeros(1, 1)
    assert md.jvp(A @ x, X, V) == md.zeros("n", 1)


# ---- md.differential -----------------------------------------------------------------------------------------
def test_differential_textbook_forms() -> None:
    dX, dx = md.matrix("dX", "n", "n"), md.vector("dx", "n")
    a = md.vector("a", "n")
    assert md.differential(md.inv(X), X) == md.simplify(-(md.inv(X) @ dX @ md.inv(X)))
    assert md.differential(md.det(X), X) == md.simplify(md.det(X) * md.trace(md.inv(X) @ dX))
    assert md.differential(md.logdet(X), X) == md.trace(md.inv(X) @ dX)
    assert md.differential(x.T @ A @ x, x) == md.simplify(x.T @ (A + A.T) @ dx)
    assert md.differential(a.T @ X @ b, X) == a.T @ dX @ b  # tr(b aᵀ dX) rotated (C 16)
    assert md.differential(X @ X, X) == md.simplify(X @ dX + dX @ X)
    assert str(md.differential(md.inv(X), X)) == "-inv(X) @ dX @ inv(X)"


def test_differential_equals_the_directional_derivative() -> None:
    """dF with dX = V is the float64 central difference of F along V (numpy written here)."""
    rng = np.random.default_rng(11)
    vals = _vals(rng)
    dX = md.matrix("dX", "n", "n")
    cases = [(md.inv(X) @ A, lambda m: np.linalg.inv(m) @ vals[A]),
             (md.trace(X @ A @ X.T), lambda m: np.trace(m @ vals[A] @ m.T)),
             (md.det(X) * md.logdet(X), lambda m: np.linalg.det(m) * np.log(np.linalg.det(m))),
             (md.sum(md.exp(X) * A), lambda m: (np.exp(m) * vals[A]).sum())]
    for F, f in cases:
        d = md.differential(F, X)
        assert dX in d.free_symbols
        got = value(d, vals | {dX: vals[V]})
        np.testing.assert_allclose(got, _fd(f, vals[X], vals[V]).reshape(np.shape(got)), rtol=1e-6, atol=1e-8)


def test_total_differential_and_symmetric_variables() -> None:
    dA, dX = md.matrix("dA", "n", "n"), md.matrix("dX", "n", "n")
    assert md.differential(A @ X, [A, X]) == md.simplify(dA @ X + A @ dX)
    S = md.matrix("S", "n", "n", symmetric=True)
    dS = md.differential(md.logdet(S), S)
    (sym,) = [s for s in dS.free_symbols if s.name == "dS"]
    assert sym.symmetric


def test_differential_name_clash_is_an_error() -> None:
    dX = md.matrix("dX", "n", "n")
    with pytest.raises(md.ArgumentError, match="'dX'"):
        md.differential(md.trace(X @ dX), X)


# ---- md.hvp --------------------------------------------------------------------------------------------------
def test_hvp_textbook_forms() -> None:
    """xᵀAx → (A + Aᵀ)v; ‖Ax − b‖² → 2AᵀAv; logsumexp → p ⊙ v − p(pᵀv) (written p ⊙ (v − pᵀv))."""
    assert md.hvp(x.T @ A @ x, x, v) == md.simplify((A + A.T) @ v)
    assert md.hvp(md.norm2(A @ x - b) ** 2, x, v) == md.simplify(2 * A.T @ A @ v)
    p = md.softmax(x)
    assert md.hvp(md.logsumexp(x), x, v) == md.simplify(p * (v - p.T @ v))
    for h in (md.hvp(x.T @ A @ x, x, v), md.hvp(md.logsumexp(x), x, v)):
        assert_canonical(h)


def test_hvp_against_the_textbook_hessians() -> None:
    """Numbers: H v with H written in numpy (A + Aᵀ, 2AᵀA, diag(p) − ppᵀ, the logistic loss's
    Xᵀ diag(σ(y⊙Xw) ⊙ σ(−y⊙Xw)) X, log det's −X⁻ᵀVᵀX⁻ᵀ)."""
    rng = np.random.default_rng(5)
    vals = _vals(rng)
    a_, x_, v_, b_ = vals[A], vals[x], vals[v], vals[b]
    p_ = np.exp(x_) / np.exp(x_).sum()
    Z, y = md.matrix("Z", "m", "n"), md.vector("y", "m")
    z_, y_ = rng.standard_normal((7, N)), rng.choice([-1.0, 1.0], (7, 1))
    sig = lambda t: 1 / (1 + np.exp(-t))  # noqa: E731
    r = sig(y_ * (z_ @ x_)) * sig(-y_ * (z_ @ x_))
    xi = np.linalg.inv(vals[X])
    cases = [
        (md.hvp(x.T @ A @ x, x, v), (a_ + a_.T) @ v_),
        (md.hvp(md.norm2(A @ x - b) ** 2, x, v), 2 * a_.T @ a_ @ v_),
        (md.hvp(md.logsumexp(x), x, v), (np.diag(p_[:, 0]) - p_ @ p_.T) @ v_),
        (md.hvp(md.sum(md.log(1 + md.exp(-y * (Z @ x)))), x, v), z_.T @ (r * (z_ @ v_))),
        (md.hvp(md.logdet(X), X, V), -xi.T @ vals[V].T @ xi.T),
    ]
    for h, want in cases:
        got = value(h, vals | {Z: z_, y: y_})
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_hvp_errors() -> None:
    with pytest.raises(md.DerivativeError, match="needs a scalar"):
        md.hvp(A @ x, x, v)
    with pytest.raises(md.ShapeError):
        md.hvp(x.T @ A @ x, x, V)
    with pytest.raises(md.DerivativeError, match="depends on 'x'"):
        md.hvp(x.T @ A @ x, x, A @ x)
    with pytest.raises(md.ArgumentError, match="one variable"):
        md.hvp(x.T @ A @ x, {x: v, A: V})
    with pytest.raises(md.ArgumentError, match="md.hvp.*no third argument"):
        md.hvp(x.T @ A @ x, {x: v}, v)


def test_hvp_and_jvp_take_a_dict() -> None:
    """md.hvp(f, {x: v}) = md.hvp(f, x, v): (A + Aᵀ)v for xᵀAx (C 81), in numbers."""
    vals = _vals(np.random.default_rng(8))
    want = (vals[A] + vals[A].T) @ vals[v]
    np.testing.assert_allclose(value(md.hvp(x.T @ A @ x, {x: v}), vals), want, rtol=1e-12)
    np.testing.assert_allclose(value(md.hvp(x.T @ A @ x, {"x": v}), vals), want, rtol=1e-12)


def test_a_direction_depending_on_the_variable_is_refused() -> None:
    """As md.vjp refuses a seed depending on the variable: X + tV needs V fixed."""
    for call in (lambda: md.jvp(A @ x, x, x * x), lambda: md.jvp(A @ x, {x: 2 * x}),
                 lambda: md.jvp(A @ x, {x: v, A: md.diag(x) @ V})):
        with pytest.raises(md.DerivativeError, match="depends on 'x'"):
            call()
    assert md.jvp(A @ x, x, A @ v) == md.simplify(A @ A @ v)  # other symbols are fine


# ---- higher order ----------------------------------------------------------------------------------------------
F_MLP = md.sum(md.tanh(A @ md.tanh(A.T @ x + b))) + md.logsumexp(A @ x) * md.norm2(x) ** 2
F_MAT = md.logdet(X @ X.T + md.eye("n")) + md.trace(md.inv(X) @ A) ** 2


def _mp(a: np.ndarray) -> mpmath.matrix:
    return mpmath.matrix(a.tolist())


def _mp_vals(v_: object) -> np.ndarray:
    m = v_ if isinstance(v_, mpmath.matrix) else mpmath.matrix([[v_]])
    return np.array([[m[i, j] for j in range(m.cols)] for i in range(m.rows)], dtype=object)


def _certify(higher: md.Expr, lower: md.Expr, wrt: md.Expr, d: md.Expr, vals: dict[md.Expr, np.ndarray]) -> None:
    """higher = d(lower)[d] at vals: float64 central differences (h = 1e-6, rtol 1e-6) and mpmath central
    differences at 40 digits (h = 1e-15, error ~1e-30: agreement to 25 digits)."""
    syms = sorted(higher.free_symbols | lower.free_symbols | {wrt, d}, key=lambda s: s.name)
    env = {s: vals[s] for s in syms}
    got = np.asarray(ev(higher, env))

    def low(at: np.ndarray) -> np.ndarray:
        return np.asarray(ev(lower, env | {wrt: at}))
    np.testing.assert_allclose(got, _fd(low, vals[wrt], vals[d]).reshape(got.shape), rtol=1e-6, atol=1e-7)
    with mpmath.workdps(40):
        h = mpmath.mpf(10) ** -15
        lo = md.mpmath_function(syms, lower)
        hi = md.mpmath_function(syms, higher)
        args = [_mp(vals[s]) for s in syms]
        k = syms.index(wrt)
        dd = _mp(vals[d])
        plus = _mp_vals(lo(*args[:k], args[k] + h * dd, *args[k + 1:]))
        minus = _mp_vals(lo(*args[:k], args[k] - h * dd, *args[k + 1:]))
        exact = _mp_vals(hi(*args))
        fd = (plus - minus) / (2 * h)
        scale = max(mpmath.mpf(1), *(abs(e) for e in exact.flat))
        assert max(abs(e) for e in (exact - fd).flat) <= mpmath.mpf(10) ** -25 * scale


def test_grad_of_a_gradient() -> None:
    """md.grad(uᵀ∇f, x) = H u (H symmetric), certified as the directional derivative of ∇f along u; for
    logsumexp against the hand form (diag(p) − ppᵀ)u, p = softmax(x), and for xᵀAx against (A + Aᵀ)u."""
    vals = _vals(np.random.default_rng(21))
    g = md.grad(F_MLP, x)
    hu = md.grad(u.T @ g, x)
    _certify(hu, g, x, u, vals)
    x_, u_, a_ = vals[x], vals[u], vals[A]
    p_ = np.exp(x_) / np.exp(x_).sum()
    hand = {md.logsumexp(x): (np.diag(p_[:, 0]) - p_ @ p_.T) @ u_, x.T @ A @ x: (a_ + a_.T) @ u_}
    for f, want in hand.items():
        np.testing.assert_allclose(value(md.grad(u.T @ md.grad(f, x), x), vals), want, rtol=1e-12, atol=1e-14)


def test_symmetric_second_order() -> None:
    """For symmetric S and a symmetric direction V (hand-derived): tr(SAS) = tr(AS²) has ∇ = sym(AᵀS + SAᵀ) and
    the HVP ½(AᵀV + VAᵀ + VA + AV); log det S has ∇ = S⁻¹ and the HVP −S⁻¹VS⁻¹ (C 59); md.jvp of the gradient
    is the same; each against float64 central differences of the numpy gradient along V too."""
    S, Vs = md.symmetric("S", "n"), md.symmetric("V", "n")
    rng = np.random.default_rng(31)
    s_, a_ = _spd(rng), rng.standard_normal((N, N))
    c = rng.standard_normal((N, N))
    v_ = (c + c.T) / 2
    si = np.linalg.inv(s_)
    sym = lambda m: (m + m.T) / 2  # noqa: E731
    cases = [(md.trace(S @ A @ S), sym(a_.T @ v_ + v_ @ a_.T), lambda s: sym(a_.T @ s + s @ a_.T)),
             (md.logdet(S), -si @ v_ @ si, lambda s: np.linalg.inv(s))]
    env = {S: s_, A: a_, Vs: v_}
    for f, want, grad_np in cases:
        for h in (md.hvp(f, S, Vs), md.hvp(f, {S: Vs}), md.jvp(md.grad(f, S), S, Vs)):
            got = np.asarray(ev(h, {k: env[k] for k in sorted(h.free_symbols, key=lambda s: s.name)}))
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(got, _fd(grad_np, s_, v_), rtol=1e-6, atol=1e-8)
    with pytest.raises(md.DerivativeError, match="symmetric"):
        md.hvp(md.logdet(S), S, V)


def test_hvp_of_vector_and_matrix_functions_certify() -> None:
    vals = _vals(np.random.default_rng(22))
    _certify(md.hvp(F_MLP, x, v), md.grad(F_MLP, x), x, v, vals)
    _certify(md.hvp(F_MAT, X, V), md.grad(F_MAT, X), X, V, vals)


def test_third_order_directional_derivatives() -> None:
    """D³f[v, w] = d(∇²f[v])[w]: the JVP of an HVP, against differences of the HVP; symmetric in v, w."""
    vals = _vals(np.random.default_rng(23))
    h = md.hvp(F_MLP, x, v)
    third = md.jvp(h, x, w)
    _certify(third, h, x, w, vals)
    swapped = md.jvp(md.hvp(F_MLP, x, w), x, v)
    np.testing.assert_allclose(value(third, vals), value(swapped, vals), rtol=1e-9, atol=1e-12)
    W = md.matrix("W", "n", "n")
    hm = md.hvp(F_MAT, X, V)
    _certify(md.jvp(hm, X, W), hm, X, W, vals | {W: np.random.default_rng(2).standard_normal((N, N))})


def test_hvp_of_an_hvp() -> None:
    """The HVP of the scalar uᵀ∇²f[v] along w, against differences of its gradient: a fourth derivative."""
    vals = _vals(np.random.default_rng(24))
    s = u.T @ md.hvp(F_MLP, x, v)
    _certify(md.hvp(s, x, w), md.grad(s, x), x, w, vals)
