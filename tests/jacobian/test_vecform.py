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
