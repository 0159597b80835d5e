"""md.jacobian and md.hessian against hand-derived textbook forms (Magnus & Neudecker; Matrix Cookbook) written in
numpy by hand, and against float64 central differences of hand-written numpy functions. Jacobians are in
numerator layout with column-major vec: vec(dF) = J vec(dX)."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pytest

import matderiv as md
from conftest import assert_canonical, ev
from optable import commutation

Array = np.ndarray
RNG = np.random.default_rng(7)


def vec(a: Array) -> Array:
    return np.asarray(a, dtype=float).reshape(np.shape(a)[0], -1).ravel(order="F") if np.ndim(a) else np.array([a])


def fd_jacobian(F: Callable[[Array], Array], x: Array, h: float = 1e-6) -> Array:
    """Central differences, one column per entry of vec(x)."""
    cols = []
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = h
        d = e.reshape(x.shape, order="F")
        cols.append((vec(F(x + d)) - vec(F(x - d))) / (2 * h))
    return np.stack(cols, axis=1)


def sig(t: Array) -> Array:
    return 1 / (1 + np.exp(-t))


def check(J: md.Expr, env: dict, want: Array, F: Callable[[Array], Array], x0: Array, tol: float = 1e-6) -> None:
    got = ev(J, env)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10 * max(1.0, np.abs(want).max()))
    fd = fd_jacobian(F, x0)
    np.testing.assert_allclose(got, fd, rtol=tol, atol=tol * max(1.0, np.abs(fd).max()))


n, m, N, d = 4, 3, 7, 3
x, A, b, B = md.vector("x", "n"), md.matrix("A", "n", "n"), md.vector("b", "m"), md.matrix("B", "m", "n")
xv, Av, bv, Bv = RNG.standard_normal((n, 1)), RNG.standard_normal((n, n)), RNG.standard_normal((m, 1)), \
    RNG.standard_normal((m, n))


# ---- Hessians of a vector x ----------------------------------------------------------------------------------
def test_hessian_quadratic_form() -> None:
    H = md.hessian(x.T @ A @ x, x)
    assert H == md.simplify(A + A.T)
    grad = lambda v: (Av + Av.T) @ v
    check(H, {A: Av}, Av + Av.T, grad, xv)


def test_hessian_least_squares() -> None:
    H = md.hessian(md.norm2(B @ x - b) ** 2, x)
    assert str(H) == "2 * B.T @ B"
    check(H, {B: Bv}, 2 * Bv.T @ Bv, lambda v: 2 * Bv.T @ (Bv @ v - bv), xv)


def test_hessian_logistic_keeps_y_squared() -> None:
    """Σ log(1 + exp(−y⊙Xw)) → Xᵀ diag(y⊙y⊙σ(y⊙Xw)⊙(1 − σ(y⊙Xw))) X (σ(u)σ(−u) in σ′'s canonical form);
    labels not ±1, so y⊙y matters."""
    X, w, y = md.matrix("X", "N", "d"), md.vector("w", "d"), md.vector("y", "N")
    f = md.sum(md.log(1 + md.exp(-y * (X @ w))))
    H = md.hessian(f, w)
    assert_canonical(H)
    assert str(H) == "X.T @ diag(sigmoid(y * (X @ w)) * y**2 * (1 - sigmoid(y * (X @ w)))) @ X"
    Xv, wv, yv = RNG.standard_normal((N, d)), RNG.standard_normal((d, 1)), RNG.uniform(0.5, 2, (N, 1))
    z = yv * (Xv @ wv)
    want = Xv.T @ np.diag((yv * yv * sig(z) * sig(-z))[:, 0]) @ Xv
    grad = lambda v: -Xv.T @ (yv * sig(-yv * (Xv @ v)))
    check(H, {X: Xv, y: yv, w: wv}, want, grad, wv)
    code = md.numpy_code(H, [X, y, w])
    assert "np.diag" not in code and "[:, None] * X" in code, code  # never an N×N diagonal matrix: diag(v) X is v[:, None] * X


def test_hessian_logsumexp() -> None:
    H = md.hessian(md.logsumexp(x), x)
    assert str(H) == "diag(softmax(x)) - softmax(x) @ softmax(x).T"
    p = np.exp(xv) / np.exp(xv).sum()
    check(H, {x: xv}, np.diag(p[:, 0]) - p @ p.T, lambda v: np.exp(v) / np.exp(v).sum(), xv)


def test_hessian_logdet_weighted_gram() -> None:
    """log det(Aᵀ diag(x) A) → −P⊙P, P = A(Aᵀ diag(x) A)⁻¹Aᵀ."""
    C, z = md.matrix("C", "n", "k"), md.vector("z", "n")
    H = md.hessian(md.logdet(C.T @ md.diag(z) @ C), z)
    P = md.simplify(C @ md.inv(C.T @ md.diag(z) @ C) @ C.T)
    assert H == md.simplify(-(P * P))
    Cv, zv = RNG.standard_normal((n, 2)), RNG.uniform(0.5, 2, (n, 1))
    Pv = Cv @ np.linalg.inv(Cv.T @ np.diag(zv[:, 0]) @ Cv) @ Cv.T
    grad = lambda v: np.diag(Cv @ np.linalg.inv(Cv.T @ np.diag(v[:, 0]) @ Cv) @ Cv.T)[:, None]
    check(H, {C: Cv, z: zv}, -Pv * Pv, grad, zv)


# ---- Jacobians of vector functions of a vector ----------------------------------------------------------------
def test_jacobian_linear() -> None:
    J = md.jacobian(B @ x, x)
    assert J == B
    check(J, {B: Bv}, Bv, lambda v: Bv @ v, xv)


def test_jacobian_softmax() -> None:
    J = md.jacobian(md.softmax(x), x)
    s = np.exp(xv) / np.exp(xv).sum()
    check(J, {x: xv}, np.diag(s[:, 0]) - s @ s.T, lambda v: np.exp(v) / np.exp(v).sum(), xv)
    assert str(J) == "diag(softmax(x)) - softmax(x) @ softmax(x).T"


def test_jacobian_cubic() -> None:
    J = md.jacobian(x * (x.T @ x), x)
    assert J == md.simplify((x.T @ x) * md.eye("n") + 2 * x @ x.T)
    check(J, {x: xv}, (xv.T @ xv).item() * np.eye(n) + 2 * xv @ xv.T, lambda v: v * (v.T @ v).item(), xv)


def test_jacobian_sigmoid_layer() -> None:
    W = md.matrix("W", "m", "n")
    J = md.jacobian(md.sigmoid(W @ x), x)
    assert str(J) == "diag(sigmoid(W @ x) * (1 - sigmoid(W @ x))) @ W"
    Wv = RNG.standard_normal((m, n))
    s = sig(Wv @ xv)
    check(J, {W: Wv, x: xv}, np.diag((s * (1 - s))[:, 0]) @ Wv, lambda v: sig(Wv @ v), xv)


def test_jacobian_of_scalar_is_the_transposed_gradient() -> None:
    J = md.jacobian(x.T @ A @ x, x)
    assert J.shape == (1, x.shape[0])
    check(J, {A: Av, x: xv}, xv.T @ (Av + Av.T), lambda v: v.T @ Av @ v, xv)


# ---- vec form: matrix by matrix ----------------------------------------------------------------------------------
Y = md.matrix("Y", "n", "n")
Yv = 2 * np.eye(n) + 0.3 * RNG.standard_normal((n, n))
P, Q = md.matrix("P", "m", "n"), md.matrix("Q", "n", "k")
Pv, Qv = RNG.standard_normal((m, n)), RNG.standard_normal((n, 2))


def test_vec_AXB() -> None:
    J = md.jacobian(P @ Y @ Q, Y)
    assert J == md.kron(Q.T, P)
    check(J, {P: Pv, Q: Qv}, np.kron(Qv.T, Pv), lambda v: Pv @ v @ Qv, Yv)


def test_vec_inverse() -> None:
    J = md.jacobian(md.inv(Y), Y)
    assert J == md.simplify(-md.kron(md.inv(Y).T, md.inv(Y)))
    Yi = np.linalg.inv(Yv)
    check(J, {Y: Yv}, -np.kron(Yi.T, Yi), np.linalg.inv, Yv)


def test_vec_transpose_is_the_commutation_matrix() -> None:
    Z = md.matrix("Z", "m", "n")
    J = md.jacobian(Z.T, Z)
    assert J == md.commutation("m", "n")  # vec(Zᵀ) = K_{m,n} vec Z for an m×n Z
    Zv = RNG.standard_normal((m, n))
    check(J, {Z: Zv}, commutation(m, n), lambda v: v.T, Zv)
    assert md.latex(J) == "K_{m,n}"


def test_vec_square() -> None:
    J = md.jacobian(Y @ Y, Y)
    I = md.eye("n")
    assert J == md.simplify(md.kron(I, Y) + md.kron(Y.T, I))
    check(J, {Y: Yv}, np.kron(np.eye(n), Yv) + np.kron(Yv.T, np.eye(n)), lambda v: v @ v, Yv)
    assert r"\otimes" in md.latex(J)


def test_vec_identity_and_rectangular() -> None:
    Z = md.matrix("Z", "m", "n")
    assert md.jacobian(Z, Z) == md.eye(Z.shape[0] * Z.shape[1])
    Zv = RNG.standard_normal((m, n))
    J = md.jacobian(md.sin(Z) * P, Z)
    check(J, {Z: Zv, P: Pv}, np.diag(vec(np.cos(Zv) * Pv)), lambda v: np.sin(v) * Pv, Zv)


def test_matrix_hessian_logdet() -> None:
    """∂²/∂X² log det X in vec form: vec d(X⁻ᵀ) = −K (X⁻ᵀ ⊗ X⁻¹) vec dX = −(X⁻¹ ⊗ X⁻ᵀ) K vec dX (C 57, 59)."""
    H = md.hessian(md.logdet(Y), Y)
    Yi = np.linalg.inv(Yv)
    check(H, {Y: Yv}, -np.kron(Yi, Yi.T) @ commutation(n, n), lambda v: np.linalg.inv(v).T, Yv)


def test_matrix_hessian_trace_quadratic() -> None:
    """tr(Xᵀ A X) → I ⊗ (A + Aᵀ) (gradient (A + Aᵀ) X)."""
    H = md.hessian(md.trace(Y.T @ A @ Y), Y)
    assert H == md.simplify(md.kron(md.eye("n"), A + A.T))
    check(H, {A: Av}, np.kron(np.eye(n), Av + Av.T), lambda v: (Av + Av.T) @ v, Yv)
    H2 = md.hessian(md.trace(Y @ Y), Y)
    assert H2 == md.simplify(2 * md.commutation("n", "n"))
    check(H2, {Y: Yv}, 2 * commutation(n, n), lambda v: 2 * v.T, Yv)


def test_mixed_vector_of_matrix_and_matrix_of_vector() -> None:
    Z = md.matrix("Z", "m", "n")
    J = md.jacobian(Z @ x, Z)  # vec(dZ x) = (xᵀ ⊗ I) vec dZ
    Zv = RNG.standard_normal((m, n))
    check(J, {x: xv, Z: Zv}, np.kron(xv.T, np.eye(m)), lambda v: v @ xv, Zv)
    J2 = md.jacobian(x @ b.T, x)  # vec(x bᵀ) = (b ⊗ I) x
    check(J2, {b: bv, x: xv}, np.kron(bv, np.eye(n)), lambda v: v @ bv.T, xv)


# ---- errors ---------------------------------------------------------------------------------------------------------
def test_hessian_of_a_non_scalar_names_jacobian() -> None:
    with pytest.raises(md.DerivativeError, match="md.jacobian"):
        md.hessian(A @ x, x)


def test_no_read_off_rule_raises_naming_the_part() -> None:
    """The message names the smallest part of the user's expression and what is missing, never the internal seed."""
    import re
    U, X = md.matrix("U", "n", "n"), md.matrix("X", "n", "n")
    cases = [(md.kron(X, A), X, "the vec form of its derivative is a Kronecker product's"),
             (md.exp(md.kron(X, A)) + md.kron(U, U), X, "of its part kron(X, A) is a Kronecker product's")]
    for F, v, part in cases:
        with pytest.raises(md.DerivativeError) as info:
            md.jacobian(F, v)
        msg = str(info.value)
        assert part in msg and msg.startswith(f"cannot write the Jacobian of {F} with respect to {v.name}"), msg
        assert not re.search(r"\bU1?\b", msg.replace(str(F), "")) and "seed" not in msg, msg
    with pytest.raises(md.DerivativeError, match=r"the Hessian of sum\(kron\(X, X\)\) \(the Jacobian of its "
                                                 r"gradient .*'blocksum'"):
        md.hessian(md.sum(md.kron(X, X)), X)


def _jac_fd(fn, at: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """The numerator-layout Jacobian of vec fn by float64 central differences, column by column (column-major)."""
    cols = []
    for k in range(at.size):
        d = np.zeros(at.size)
        d[k] = h
        dd = d.reshape(at.shape, order="F")
        cols.append((np.ravel(fn(at + dd), order="F") - np.ravel(fn(at - dd), order="F")) / (2 * h))
    return np.array(cols).T


def test_diagonal_and_mask_read_offs() -> None:
    """diag(x): J[i + i n, i] = 1; diag(X): J[i, i + i n] = 1 (the selection matrix, by its definition);
    A diag(x) B: column k is vec(A eₖ eₖᵀ B) (vec(A diag(u) B) = (Bᵀ ⊗ A) Sᵀ u); diag(A X A) = S (Aᵀ ⊗ A) vec X;
    the Cholesky factor of XXᵀ + I and log det of it against float64 differences."""
    X, Bm = md.matrix("X", "n", "n"), md.matrix("B", "n", "m")
    n, m = 4, 3
    rng = np.random.default_rng(9)
    a_, b_, x_, X_ = rng.standard_normal((n, n)), rng.standard_normal((n, m)), rng.standard_normal(n), \
        rng.standard_normal((n, n))
    e_ = np.eye(n)
    want_dx = np.zeros((n * n, n))
    want_dX = np.zeros((n, n * n))
    for i in range(n):
        want_dx[i + i * n, i] = want_dX[i, i + i * n] = 1.0
    K = np.column_stack([np.ravel(np.outer(a_[:, k], b_[k, :]), order="F") for k in range(n)])
    cases = [(md.diag(x), x, {"x": x_}, want_dx), (md.diag(X), X, {"X": X_}, want_dX),
             (A @ md.diag(x) @ Bm, x, {"A": a_, "B": b_, "x": x_}, K),
             (md.diag(A @ X @ A), X, {"A": a_, "X": X_}, _jac_fd(lambda z: np.diag(a_ @ z @ a_), X_)),
             (md.cholesky(X @ X.T + md.eye("n")), X, {"X": X_},
              _jac_fd(lambda z: np.linalg.cholesky(z @ z.T + e_), X_))]
    for F, v, env, want in cases:
        J = md.jacobian(F, v)
        syms = sorted(J.free_symbols, key=lambda s: s.name)
        fn = md.lambdify(syms, J)  # the constant S of diag(X) has no symbols: its size n as a keyword
        got = fn(*(env[s.name] for s in syms), **{d: {"n": n, "m": m}[d] for d in fn.dims})
        np.testing.assert_allclose(np.asarray(got).reshape(want.shape), want, rtol=1e-6, atol=1e-8)
        assert md.check_jacobian(F, v, dps=30).ok


def test_unknown_symbol() -> None:
    with pytest.raises(md.ArgumentError, match="'q'"):
        md.jacobian(A @ x, "q")


def test_one_minus_sigmoid_of_a_negation() -> None:
    """1 − σ(−u) = σ(u) (σ(u) + σ(−u) = 1), and σ(u)(1 − σ(u)) is left as the textbook writes it."""
    u = md.vector("u", "n")
    assert md.simplify(1 - md.sigmoid(-u)) == md.sigmoid(u)
    assert md.simplify(1 - md.sigmoid(-2 * u)) == md.sigmoid(2 * u)
    assert "1 - sigmoid(u)" in str(md.simplify(md.sigmoid(u) * (1 - md.sigmoid(u))))
    uv = RNG.standard_normal((n, 1))
    np.testing.assert_allclose(ev(md.simplify(3 - md.sigmoid(-u)), {u: uv}), 3 - sig(-uv), rtol=1e-14)
