"""Generated code reuses work (issue 8, item 4): where an inverse is computed anyway, products with it use it;
a matrix that several solves use is factorised once; the GP gradient ½(K⁻ᵀ − K⁻ᵀyyᵀK⁻ᵀ) computes one inverse.

Values are compared with hand-written numpy (np.linalg.inv / np.linalg.solve), the structure of the source by
counting its calls.
"""
from __future__ import annotations

import numpy as np
import pytest

import matderiv as md
from matderiv.codegen.numpy import NumPyPrinter

n = "n"
A, B, C = md.matrix("A", n, n), md.matrix("B", n, n), md.matrix("C", n, n)
K, S = md.matrix("K", n, n), md.matrix("K", n, n, symmetric=True)
b, c, y = md.vector("b", n), md.vector("c", n), md.vector("y", n)
N = 6
RNG = np.random.default_rng(8)
Av = 3 * np.eye(N) + RNG.standard_normal((N, N))
Bv, Cv = RNG.standard_normal((N, N)), RNG.standard_normal((N, N))
bv, cv, yv = RNG.standard_normal(N), RNG.standard_normal(N), RNG.standard_normal(N)
Sv = Av @ Av.T + N * np.eye(N)


class NumPyOnly(NumPyPrinter):
    lu_module = None


def _gp(K_: md.Expr) -> md.Expr:
    """The GP negative log marginal likelihood's gradient w.r.t. K: ∂(½ log det K + ½ yᵀK⁻¹y)/∂K."""
    return md.grad(md.logdet(K_) / 2 + y.T @ md.inv(K_) @ y / 2, K_)


@pytest.mark.parametrize("sym", [False, True], ids=["K", "K symmetric"])
def test_gp_gradient_computes_one_inverse(sym: bool) -> None:
    Kx, Kv = (S, Sv) if sym else (K, Av)
    g = _gp(Kx)
    src = md.numpy_code(g, [Kx, y])
    assert src.count("np.linalg.inv(") == 1
    assert "solve" not in src and "lu_factor" not in src
    Ki = np.linalg.inv(Kv)
    want = 0.5 * (Ki.T - Ki.T @ np.outer(yv, yv) @ Ki.T)  # ½(K⁻ᵀ − K⁻ᵀyyᵀK⁻ᵀ)
    np.testing.assert_allclose(md.lambdify([Kx, y], g)(Kv, yv), want, rtol=1e-11, atol=1e-13)


def test_products_with_an_inverse_computed_anyway() -> None:
    outs = [md.inv(A), md.inv(A) @ B, C @ md.inv(A), md.inv(A).T @ b]
    src = md.numpy_code(outs, [A, B, C, b])
    assert src.count("np.linalg.inv(") == 1 and "solve" not in src
    Ai = np.linalg.inv(Av)
    got = md.lambdify([A, B, C, b], outs)(Av, Bv, Cv, bv)
    for g, w in zip(got, [Ai, Ai @ Bv, Cv @ Ai, Ai.T @ bv]):
        np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-13)


CASES = {
    # two orientations: A⁻¹b and A⁻ᵀc
    "A and A.T": ([md.solve(A, b), md.solve(A.T, c)], [A, b, c],
                  lambda: [np.linalg.solve(Av, bv), np.linalg.solve(Av.T, cv)]),
    # one solve's result is another's right-hand side, and a row times A⁻¹: ∂‖A⁻¹b‖²/∂A = −2A⁻ᵀA⁻¹b (A⁻¹b)ᵀ
    "dependent": ([md.grad(md.norm2(md.solve(A, b)) ** 2, A)], [A, b],
                  lambda: [-2 * np.outer(np.linalg.solve(Av.T, np.linalg.solve(Av, bv)), np.linalg.solve(Av, bv))]),
    # the VJP of aᵀA⁻¹c: −A⁻ᵀbcᵀA⁻ᵀ, a row solve (bᵀA⁻¹) and a column solve
    "row and column": ([md.grad(b.T @ md.inv(A) @ c, A)], [A, b, c],
                       lambda: [-np.outer(np.linalg.solve(Av.T, bv), np.linalg.solve(Av, cv))]),
    # matrix right-hand sides on both sides: A⁻¹B and C A⁻¹
    "matrices": ([md.inv(A) @ B, C @ md.inv(A)], [A, B, C],
                 lambda: [np.linalg.solve(Av, Bv), np.linalg.solve(Av.T, Cv.T).T]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_matrix_is_factorised_once(name: str) -> None:
    outs, args, want = CASES[name]
    src = md.numpy_code(outs, args)
    if NumPyPrinter.can_factorise():
        assert src.count("lu_factor(") == 1 and "np.linalg.solve" not in src and "np.linalg.inv" not in src
    values = [np.asarray(v) for v in ({"A": Av, "B": Bv, "C": Cv, "b": bv, "c": cv}[a.name] for a in args)]
    for printer in (NumPyPrinter, NumPyOnly):
        got = md.lambdify(args, outs, printer=printer)(*values)
        for g, w in zip(got, want()):
            np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-13)
    assert "scipy" not in md.numpy_code(outs, args, printer=NumPyOnly)


def test_one_solve_is_not_factorised_apart() -> None:
    src = md.numpy_code(md.solve(A, b), [A, b])
    assert "lu_factor" not in src and src.count("np.linalg.solve(") == 1
