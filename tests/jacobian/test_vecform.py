"""vec, unvec and the commutation matrix against their definitions in numpy (column-major vec; K vec A = vec Aᵀ),
and the reshape identities (P ⊗ Q) vec V = vec(Q V Pᵀ) (Cookbook 520), K vec A = vec(Aᵀ)."""
from __future__ import annotations

import numpy as np
import pytest

import matderiv as md
from conftest import ev

RNG = np.random.default_rng(11)


def test_vec_unvec_and_K_values() -> None:
    X = md.matrix("X", "n", "m")
    Xv = RNG.standard_normal((3, 4))
    vx, back, kx = ev([md.vec(X), md.unvec(2 * md.vec(X), "n", "m"), md.commutation("n", "m") @ md.vec(X)],
                      {X: Xv})
    np.testing.assert_array_equal(vx[:, 0], np.concatenate([Xv[:, j] for j in range(4)]))
    np.testing.assert_array_equal(back, 2 * Xv)
    np.testing.assert_array_equal(kx[:, 0], np.concatenate([Xv.T[:, j] for j in range(3)]))


def test_small_cases() -> None:
    x = md.vector("x", "n")
    assert md.vec(x) == x and md.vec(x.T) == x
    assert md.commutation(1, "n") == md.eye("n")
    assert md.simplify(md.commutation("n", "m").T) == md.commutation("m", "n")
    assert md.simplify(md.unvec(md.vec(md.matrix("X", "n", "m")), "n", "m")) == md.matrix("X", "n", "m")
    with pytest.raises(md.ShapeError):
        md.unvec(x, "n", "m")


def test_kronecker_times_vec_is_a_reshape() -> None:
    P, Q, V, Z = md.matrix("P", 3, 2), md.matrix("Q", 4, 5), md.matrix("V", 5, 2), md.matrix("Z", 3, 4)
    e = md.simplify(md.kron(P, Q) @ md.vec(V))
    assert e == md.vec(Q @ V @ P.T)
    e2 = md.simplify(md.commutation(3, 4) @ md.vec(Z))
    assert e2 == md.vec(Z.T)
    p, q, v, z = (RNG.standard_normal(s) for s in ((3, 2), (4, 5), (5, 2), (3, 4)))
    a, b = ev([e, e2], {P: p, Q: q, V: v, Z: z})
    np.testing.assert_allclose(a[:, 0], np.kron(p, q) @ v.ravel(order="F"), rtol=1e-12)
    np.testing.assert_array_equal(b[:, 0], z.T.ravel(order="F"))
    assert "kron" not in md.numpy_code(e, [P, Q, V])


def test_no_sympy_form() -> None:
    with pytest.raises(md.ArgumentError, match="commutation"):
        md.to_sympy(md.commutation("n", "m"))


def _K(m: int, n: int) -> np.ndarray:
    """K_{m,n} from its definition K vec(A) = vec(Aᵀ), A m×n: entry (j + i n, i + j m) is 1."""
    K = np.zeros((m * n, m * n))
    for i in range(m):
        for j in range(n):
            K[j + i * n, i + j * m] = 1.0
    return K


def test_products_with_K_are_gathers() -> None:
    """K M, M K, Kᵀ M, M Kᵀ, K v and rᵀ K are emitted as index gathers (no (mn)×(mn) identity, no matmul with it),
    with the values of the dense K of the definition."""
    rng = np.random.default_rng(3)
    m, n = 2, 3
    P, Q = md.matrix("P", 6, 4), md.matrix("Q", 4, 6)
    v, r = md.vector("v", 6), md.matrix("r", 1, 6)
    Pv, Qv, vv, rv = (rng.standard_normal(s) for s in ((6, 4), (4, 6), (6,), (6,)))
    K = md.commutation(m, n)
    cases = [(K @ P, _K(m, n) @ Pv), (Q @ K, Qv @ _K(m, n)), (K.T @ P, _K(m, n).T @ Pv), (Q @ K.T, Qv @ _K(m, n).T),
             (K @ v, _K(m, n) @ vv), (r @ K, rv @ _K(m, n)), (Q @ K @ P, Qv @ _K(m, n) @ Pv)]
    for e, ref in cases:
        syms = sorted(e.free_symbols, key=lambda s: s.name)
        fn = md.lambdify(syms, e)
        assert "eye(" not in fn.source and ".reshape(" in fn.source.splitlines()[-1], fn.source
        vals = {"P": Pv, "Q": Qv, "v": vv, "r": rv}
        got = np.asarray(fn(*(vals[s.name] for s in syms)))
        np.testing.assert_allclose(got.reshape(ref.shape), ref, rtol=0, atol=1e-14)


def test_logdet_hessian_code_has_no_dense_K() -> None:
    """md.hessian(log det X, X) = −(X⁻¹ ⊗ X⁻ᵀ) K (d X⁻ᵀ = −X⁻ᵀ dXᵀ X⁻ᵀ, C 520): no np.eye(n * n) in the code,
    values against numpy's kron and the dense K at n = 4 and 7."""
    X = md.matrix("X", "n", "n")
    fn = md.lambdify([X], md.hessian(md.logdet(X), X))
    assert "eye(n * n)" not in fn.source and "kron" in fn.source
    rng = np.random.default_rng(0)
    for n in (4, 7):
        Xv = rng.standard_normal((n, n)) + n * np.eye(n)
        Xi = np.linalg.inv(Xv)
        np.testing.assert_allclose(fn(Xv), -np.kron(Xi, Xi.T) @ _K(n, n), rtol=1e-12, atol=1e-12)
